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
