/* Intent locks of one shard (DESIGN.md section 7): the table a shard consults to hold
 * back commands on keys that a multi-shard transaction has locked, and the queue of
 * lock requests waiting for their keys.
 *
 * A request belongs to one transaction (its owner, named by the origin shard and the
 * transaction's slot and id there) and covers either a set of keys, each shared or
 * exclusive, or the whole shard. It is granted all at once or not at all. Compatible:
 * shared with shared on the same key; everything else on a common key conflicts, and a
 * whole-shard request conflicts with every other request.
 *
 * Fairness: requests are granted in arrival order among those that conflict. A new
 * request is granted at once only if it is compatible with every granted request and
 * with every queued one (a queued exclusive request on a key blocks later requests on
 * it; a queued shared request blocks later exclusive ones; a queued whole-shard request
 * blocks everything). After releases, lockmgr_grant_waiting walks the queue in order
 * with the same rule, each queued request standing in the way of later ones it
 * conflicts with. Deadlock freedom across shards comes from the origins acquiring
 * shards in ascending order; within a shard a request never holds part of its keys.
 *
 * Single-threaded: one shard's thread only. Not on the hot path: a shard with no lock
 * granted answers lockmgr_conflicts after one branch (lockmgr_any). */
#ifndef COREKV_RT_LOCK_H
#define COREKV_RT_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/rt.h>

struct lock_owner {
    uint32_t origin; /* shard id of the transaction's origin */
    uint32_t slot;   /* the transaction's slot there */
    uint64_t id;     /* its id there (never reused) */
};

enum lock_result { LOCK_GRANTED, LOCK_QUEUED, LOCK_DENIED };

struct lockmgr;

struct lockmgr *lockmgr_new(void);
/* Frees every request and lock, granted or queued. */
void lockmgr_free(struct lockmgr *m);

/* Request locks for `o`. whole: the whole shard (nkeys must be 0). Otherwise nkeys
 * keys, keys[i] exclusive when exclusive[i] (the same key may appear twice: it is
 * locked once, exclusive if any occurrence is). Keys are copied.
 * try: granted now, or LOCK_DENIED and nothing is remembered. Otherwise granted now
 * or LOCK_QUEUED (granted later by lockmgr_grant_waiting). An owner has at most one
 * request per shard; a second one while the first is known is a caller bug. */
enum lock_result lockmgr_acquire(struct lockmgr *m, struct lock_owner o, bool whole,
                                 size_t nkeys, const rt_str *keys, const bool *exclusive,
                                 bool try);

/* Drop o's request, granted or still queued. Returns false if o has none here. After
 * releases, call lockmgr_grant_waiting. */
bool lockmgr_release(struct lockmgr *m, struct lock_owner o);

/* Grant, in queue order, every queued request that may go now; fn is called for each
 * one granted (in grant order). fn must not call back into m. */
void lockmgr_grant_waiting(struct lockmgr *m, void (*fn)(void *arg, struct lock_owner o),
                           void *arg);

/* Whether o's request here is granted. */
bool lockmgr_holds(const struct lockmgr *m, struct lock_owner o);
/* True when some lock is granted on this shard (the one-branch fast-path check). */
bool lockmgr_any(const struct lockmgr *m);
/* Whether a command touching `key` (write: changing it) must wait for a granted lock:
 * the key is locked exclusive, or shared and write is true, or the whole shard is
 * locked. Queued requests do not count. */
bool lockmgr_conflicts(const struct lockmgr *m, const char *key, size_t len, bool write);
/* Whether the whole shard is locked (a command touching any key must wait). */
bool lockmgr_whole(const struct lockmgr *m);
/* Granted and queued requests, for INFO and tests. */
size_t lockmgr_granted(const struct lockmgr *m);
size_t lockmgr_queued(const struct lockmgr *m);

#endif
