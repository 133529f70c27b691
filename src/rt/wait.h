/* Blocking commands (wait.c, the origin's side; wait_keys.c, the owner's side): the
 * state both sides share within the runtime. */
#ifndef COREKV_RT_WAIT_H
#define COREKV_RT_WAIT_H

#include "rt/internal.h"

struct waiter {
    struct waiter *next;
    uint16_t origin;
    uint8_t kind;
    bool signalled;
    uint32_t slot, gen;
    uint64_t id;
};

enum wkey_where { WK_NONE, WK_READY, WK_PARKED };

/* A key of this shard with waiters. */
struct wkey {
    struct wkey *hnext;
    uint64_t hash;
    struct waiter *head, *tail;
    bool signalled; /* one waiter was signalled and its cancel has not arrived */
    uint8_t where;  /* enum wkey_where: queued to be checked, or parked behind a lock */
    size_t len;
    char key[];
};

struct wake_ref {
    uint32_t slot;
    uint64_t id;
};

struct wait_state {
    uint64_t seed;
    struct wkey **buckets;
    size_t nbuckets, nkeys;
    struct wkey **ready; /* keys to check, in the order they were written */
    size_t nready, ready_cap;
    struct wkey **parked; /* ready keys behind a lock */
    size_t nparked, parked_cap;
    struct wake_ref *wakes; /* woken local transactions whose step is due */
    size_t nwakes, wakes_cap;
    struct rt_txn **heap; /* waiting transactions with a deadline, earliest first */
    size_t nheap, heap_cap;
    bool running;
};

void *wait_xrealloc(void *p, size_t n);

#define GROW(arr, n, cap)                                                   \
    do {                                                                    \
        if ((n) == (cap)) {                                                 \
            (cap) = (cap) ? (cap) * 2 : 16;                                 \
            (arr) = wait_xrealloc((arr), (cap) * sizeof *(arr));            \
        }                                                                   \
    } while (0)

/* wait.c: stop a waiting transaction of this shard and queue its step. */
void wait_wake_txn(struct rt_shard *sh, struct rt_txn *t, enum rt_wake why, const char *key,
                   size_t len, unsigned shard);

/* wait_keys.c: the owner's registry of waiters per key. */
void waiters_add(struct rt_shard *sh, unsigned origin, uint32_t slot, uint64_t id, uint32_t gen,
                 const rt_str *kinds, const rt_str *keys, int nkeys);
void waiters_remove(struct rt_shard *sh, unsigned origin, uint32_t slot, uint64_t id,
                    const rt_str *keys, int nkeys);
/* Signal the first servable waiter of each ready key that has none signalled. */
void waiters_check_ready(struct rt_shard *sh);
/* Keys parked behind a lock that is gone: ready again. */
void waiters_unpark(struct rt_shard *sh);
void waiters_free_all(struct wait_state *ws);

#endif
