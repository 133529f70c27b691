/* The per-shard WATCH table and its internal commands (see watch.h).
 *
 * A chained hash table on a seeded hash: the entries hold their key, so a lookup costs
 * one hash and a walk of a short chain. The bucket array doubles past one entry per
 * bucket, halves below one per eight, and is freed when the last key is unwatched, so
 * a shard nobody watches on keeps nothing and the hook's check stays one branch. */
#include "cmd/watch.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/numfmt.h"

struct watch_entry {
    struct watch_entry *next;
    uint64_t hash;
    uint64_t version; /* changes since the entry was created; never wraps in practice */
    size_t refs;      /* versions held by clients */
    size_t len;
    char key[];
};

#define MIN_BUCKETS 16

struct watch_table *watch_table_new(uint64_t seed)
{
    struct watch_table *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->seed = seed;
    return w;
}

void watch_table_free(struct watch_table *w)
{
    if (!w)
        return;
    if (w->buckets) {
        for (size_t b = 0; b <= w->mask; b++) {
            for (struct watch_entry *e = w->buckets[b], *next; e; e = next) {
                next = e->next;
                free(e);
            }
        }
    }
    free(w->buckets);
    free(w);
}

static void resize(struct watch_table *w, size_t nbuckets)
{
    struct watch_entry **nb = calloc(nbuckets, sizeof *nb);
    if (!nb)
        abort();
    if (w->buckets) {
        for (size_t b = 0; b <= w->mask; b++) {
            for (struct watch_entry *e = w->buckets[b], *next; e; e = next) {
                next = e->next;
                size_t i = e->hash & (nbuckets - 1);
                e->next = nb[i];
                nb[i] = e;
            }
        }
    }
    free(w->buckets);
    w->buckets = nb;
    w->mask = nbuckets - 1;
}

/* The link that points at key's entry (or at the NULL ending its chain). Needs buckets. */
static struct watch_entry **find_link(struct watch_table *w, uint64_t h, const char *key,
                                      size_t len)
{
    struct watch_entry **link = &w->buckets[h & w->mask];
    for (; *link; link = &(*link)->next) {
        struct watch_entry *e = *link;
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            break;
    }
    return link;
}

static struct watch_entry *find(struct watch_table *w, const char *key, size_t len)
{
    if (!w->count)
        return NULL;
    return *find_link(w, hash_bytes(key, len, w->seed), key, len);
}

/* refs++ on key's entry (created at version 0); returns its version. */
static uint64_t watch_ref(struct watch_table *w, const char *key, size_t len)
{
    if (!w->buckets)
        resize(w, MIN_BUCKETS);
    uint64_t h = hash_bytes(key, len, w->seed);
    struct watch_entry **link = find_link(w, h, key, len);
    if (*link) {
        (*link)->refs++;
        return (*link)->version;
    }
    struct watch_entry *e = malloc(sizeof *e + len);
    if (!e)
        abort();
    *e = (struct watch_entry){.hash = h, .refs = 1, .len = len};
    memcpy(e->key, key, len);
    *link = e;
    if (++w->count > w->mask + 1)
        resize(w, (w->mask + 1) * 2);
    return 0;
}

/* refs-- on key's entry, removing it at 0. An unknown key is ignored: the origin only
 * unrefs what it was given a version for, so that would be a bookkeeping bug, and it
 * must not take another client's ref. */
static void watch_unref(struct watch_table *w, const char *key, size_t len)
{
    if (!w->count)
        return;
    struct watch_entry **link = find_link(w, hash_bytes(key, len, w->seed), key, len);
    struct watch_entry *e = *link;
    if (!e || --e->refs)
        return;
    *link = e->next;
    free(e);
    if (--w->count == 0) {
        free(w->buckets);
        w->buckets = NULL;
        w->mask = 0;
    } else if (w->mask + 1 > MIN_BUCKETS && w->count * 8 < w->mask + 1) {
        resize(w, (w->mask + 1) / 2);
    }
}

void watch_touch_key(struct watch_table *w, const char *key, size_t len)
{
    struct watch_entry *e = find(w, key, len);
    if (e)
        e->version++;
}

void watch_touch_all(struct cmd_shard *cs)
{
    struct watch_table *w = cs->watches;
    if (!w->count)
        return;
    /* store_find may delete an expired key, and the hook then bumps it: that changes
     * versions only, never the table's shape, so the walk stays valid. */
    for (size_t b = 0; b <= w->mask; b++)
        for (struct watch_entry *e = w->buckets[b]; e; e = e->next)
            if (store_find(cs->store, e->key, e->len, false))
                e->version++;
}

/* The lookup that expires a logically expired key now (bumping its version through the
 * hook). No hit/miss counting and no access time: WATCH reads nothing. */
static void expire_if_needed(struct cmd_shard *cs, const rt_str *k)
{
    store_find(cs->store, k->ptr, k->len, false);
}

void watch_iwatch_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    resp_array(call->out, call->argc - 1);
    for (int i = 1; i < call->argc; i++) {
        const rt_str *k = &call->argv[i];
        expire_if_needed(cs, k);
        resp_int(call->out, (int64_t)watch_ref(cs->watches, k->ptr, k->len));
    }
}

void watch_iunwatch_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    for (int i = 1; i < call->argc; i++)
        watch_unref(cs->watches, call->argv[i].ptr, call->argv[i].len);
    resp_ok(call->out);
}

void watch_icheck_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    bool changed = false;
    for (int i = 1; i + 1 < call->argc; i += 2) {
        const rt_str *k = &call->argv[i], *v = &call->argv[i + 1];
        expire_if_needed(cs, k);
        struct watch_entry *e = find(cs->watches, k->ptr, k->len);
        uint64_t held;
        if (!e || !str_to_u64(v->ptr, v->len, &held) || e->version != held)
            changed = true;
        watch_unref(cs->watches, k->ptr, k->len);
    }
    resp_int(call->out, changed);
}
