/* Bounded lock-free single-producer/single-consumer ring of pointers.
 *
 * head is written only by the consumer, tail only by the producer; each sits on its
 * own cache line, next to the other side's private cached copy of the opposite index,
 * so a push or pop touches the shared line of the other side only when its cache says
 * the ring is full (producer) or empty (consumer). Capacity is a power of two; indices
 * grow without wrapping (64-bit) and are masked on access.
 *
 * Memory order: push writes the slot, then publishes tail with release; pop reads tail
 * with acquire before reading the slot, and publishes head with release after reading
 * it, so the producer may reuse the slot once it observes head (acquire). */
#ifndef COREKV_RT_RING_H
#define COREKV_RT_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_CACHE_LINE 64

struct ring {
    alignas(RING_CACHE_LINE) _Atomic uint64_t head; /* consumer */
    uint64_t tail_cache;                            /* consumer's copy of tail */
    alignas(RING_CACHE_LINE) _Atomic uint64_t tail; /* producer */
    uint64_t head_cache;                            /* producer's copy of head */
    alignas(RING_CACHE_LINE) uint64_t mask;
    void **slots;
};

/* capacity is rounded up to a power of two, at least 2. NULL on allocation failure. */
struct ring *ring_new(size_t capacity);
/* Frees the ring; items still queued are the caller's to drain first. */
void ring_free(struct ring *r);

/* Producer side. False when full (the item is not taken). */
static inline bool ring_push(struct ring *r, void *item)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - r->head_cache > r->mask) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (t - r->head_cache > r->mask)
            return false;
    }
    r->slots[t & r->mask] = item;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return true;
}

/* Consumer side. NULL when empty (items are never NULL). */
static inline void *ring_pop(struct ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h == r->tail_cache) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h == r->tail_cache)
            return NULL;
    }
    void *item = r->slots[h & r->mask];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return item;
}

/* Consumer side: true when nothing is queued. */
static inline bool ring_empty(struct ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_relaxed) ==
           atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif
