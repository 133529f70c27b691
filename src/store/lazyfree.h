/* Internal to store/: freeing huge values on the background thread (persist/bio.h), so a
 * DEL, an overwrite, an expiry or a FLUSHALL of one never stalls its shard (Redis's
 * lazyfree, with UNLINK semantics for every deletion).
 *
 * A value handed over is no longer reachable from any shard: the caller has unlinked it
 * (or dropped the last reference to its block). The background thread only frees memory;
 * it touches nothing a shard owns. */
#ifndef COREKV_STORE_LAZYFREE_H
#define COREKV_STORE_LAZYFREE_H

#include <stddef.h>

#include "store/store.h"

/* Aggregates whose free touches at least this many allocations (quicklist nodes, table
 * elements, skiplist nodes; store_obj_free_effort) go to the background. Measured here
 * (Release, jemalloc, a set in a hash table, 301 runs each, median): freeing 1024
 * members takes 14 us, 2048 28 us, 4096 58 us, 8192 118 us. Handing one over costs
 * 0.1 us at best, but on this busy 2-core machine its median is 20-80 us: the woken
 * background thread preempts the shard's. From 4096 on the handover is cheaper even
 * then (a median of 36 us), and no single free stalls a shard for more than about
 * 60 us. (Redis's LAZYFREE_THRESHOLD is 64, with its own cost model.) */
#define LAZYFREE_MIN_EFFORT 4096u

/* Blocks (big strings) of at least this many bytes of capacity are freed in the
 * background when their last reference goes. Measured here with jemalloc: a free of
 * 6-7 MiB costs 0.5-1.5 us, of 8 MiB 470 us, 16 MiB about 1 ms, 64 MiB 4.5 ms and
 * 256 MiB 15 ms: from 8 MiB (jemalloc's oversize_threshold) the pages go back to the
 * kernel at once, in the freeing thread. */
#define LAZYFREE_MIN_BLOCK ((size_t)8 << 20)

/* Install the block release hook (idempotent; store_new calls it). */
void lazyfree_init(void);
/* Free an aggregate object of type t in the background. */
void lazyfree_obj(enum val_type t, unsigned enc, void *obj);

#endif
