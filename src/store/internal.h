/* Internal to store/: the store object and what its files share. */
#ifndef COREKV_STORE_INTERNAL_H
#define COREKV_STORE_INTERNAL_H

#include "store/dict.h"
#include "store/entry.h"
#include "store/store.h"

struct store {
    struct dict d;
    int64_t now;          /* cached Unix ms (store_set_now) */
    uint32_t clock;       /* access clock: ms, advanced by forward moves of `now` only,
                             modulo 2^32; entry atime is a reading of it */
    /* Snapshots (snapshot.c). snap_mark is the value of ENT_SNAP_BIT that means "passed
     * to the current snapshot"; it flips at each begin. snap_fn is the running
     * snapshot's callback, NULL when none runs: the one field the hot paths test, kept
     * next to the fields every lookup reads. snap holds the walk while a snapshot runs
     * or an aborted one's walk finishes fixing the marks. */
    uint8_t snap_mark;
    void (*snap_fn)(void *arg, const struct entry *e);
    void *snap_arg;
    struct store_snap *snap;
    /* Every entry with a TTL, densely, in no order; entry->ttl_pos is its index. */
    struct entry **ttl;
    size_t ttl_len, ttl_cap;
    uint64_t rng;
    uint64_t expired_keys, hits, misses;
    void (*expire_hook)(void *arg, const struct entry *e);
    void *expire_hook_arg;
    void (*new_hook)(void *arg, const char *key, size_t klen);
    void *new_hook_arg;
    void (*miss_hook)(void *arg, const char *key, size_t klen);
    void *miss_hook_arg;
};

static inline bool ent_expired(const struct store *s, const struct entry *e)
{
    /* Redis: a key is expired once now is past its deadline; ENT_NO_EXPIRE never is. */
    return e->expire < s->now;
}

/* snapshot.c: pass e to the running snapshot (which has not had it yet). */
void store_snap_pass(struct store *s, struct entry *e);

/* Call before anything hands out, changes or deletes an existing entry: a snapshot
 * that has not had e yet gets it now, as it is. One predictable branch when no
 * snapshot runs. */
static inline void snap_before_change(struct store *s, struct entry *e)
{
    if (__builtin_expect(s->snap_fn != NULL, 0) && (e->meta & ENT_SNAP_BIT) != s->snap_mark)
        store_snap_pass(s, e);
}

/* The meta bits of an entry being created: marked as passed, since a key created after
 * a snapshot began is not part of it (and, with none running, the mark every entry
 * carries between snapshots). */
static inline uint8_t snap_new_meta(const struct store *s) { return s->snap_mark; }

/* snapshot.c: store_flush's part. True when the snapshot took the table over (it still
 * has entries to pass and frees them as it walks) and s->d is a fresh empty table;
 * false when the caller frees the entries itself. */
bool store_snap_flush(struct store *s);
/* snapshot.c: the tick's share: move an aborted snapshot's mark fixing on. */
void store_snap_drain(struct store *s, uint64_t budget_us);
/* snapshot.c: release any snapshot state (store_free). */
void store_snap_free(struct store *s);

/* expire.c: the TTL array. */
void store_ttl_add(struct store *s, struct entry *e);
void store_ttl_del(struct store *s, struct entry *e);
/* e moved in memory (realloc): point its TTL slot at the new address. */
static inline void ttl_moved(struct store *s, struct entry *e)
{
    if (ent_has_ttl(e))
        s->ttl[e->ttl_pos] = e;
}
void store_ttl_clear(struct store *s);

/* store.c: the entry for key, ready to receive a value whose area is `area` bytes: the
 * live entry (its old value released, resized if needed) or a new one linked into the
 * table; *existed tells which. An expired entry counts as absent. */
struct entry *store_prepare(struct store *s, const char *key, size_t klen, size_t area,
                            bool *existed);
/* store.c: unlink the entry *pp points to and free it (value and TTL slot included). */
void store_unlink_free(struct store *s, struct entry **pp);
/* Delete the expired entry *pp: call the hook, count it, unlink and free. Starts no resize. */
void store_expire_at(struct store *s, struct entry **pp);

#endif
