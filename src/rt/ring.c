#include "rt/ring.h"

#include <stdlib.h>

struct ring *ring_new(size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity)
        cap <<= 1;
    struct ring *r = aligned_alloc(RING_CACHE_LINE, sizeof *r);
    if (!r)
        return NULL;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = 0;
    r->head_cache = 0;
    r->mask = cap - 1;
    return r;
}

void ring_free(struct ring *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}
