/* The keyspace API: lookups with lazy expiry, writes, deletes, rename, random, scan,
 * restore and statistics, on top of dict.c (table), entry.c (values) and expire.c (TTLs). */
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/internal.h"
#include "store/lazyfree.h"
#include "store/object.h"

struct store *store_new(uint64_t seed)
{
    struct store *s = store_xcalloc(1, sizeof *s);
    store_dict_init(&s->d, seed);
    s->now = clock_unix_ms();
    /* The sampling generator is derived from the seed but must differ from it and be
     * non-zero (xorshift's fixed point). */
    s->rng = (seed ^ 0x9E3779B97F4A7C15ULL) | 1;
    lazyfree_init();
    return s;
}

static void free_entry(struct entry *e, void *arg)
{
    (void)arg;
    store_ent_free_value(e);
    free(e);
}

void store_free(struct store *s)
{
    if (!s)
        return;
    store_snap_free(s);
    store_dict_clear(&s->d, free_entry, NULL);
    store_dict_destroy(&s->d);
    store_ttl_clear(s);
    free(s);
}

void store_flush(struct store *s)
{
    if (!store_snap_flush(s))
        store_dict_clear(&s->d, free_entry, NULL);
    store_ttl_clear(s);
}

void store_set_now(struct store *s, int64_t unix_ms)
{
    /* The access clock only moves forward, so idle times never go negative when the wall
     * clock steps back. Unsigned arithmetic: the difference wraps modulo 2^32 by design. */
    if (unix_ms > s->now)
        s->clock += (uint32_t)((uint64_t)unix_ms - (uint64_t)s->now);
    s->now = unix_ms;
}

int64_t store_now(const struct store *s) { return s->now; }

void store_set_expire_hook(struct store *s, void (*fn)(void *arg, const struct entry *e), void *arg)
{
    s->expire_hook = fn;
    s->expire_hook_arg = arg;
}

void store_set_new_hook(struct store *s, void (*fn)(void *arg, const char *key, size_t klen),
                        void *arg)
{
    s->new_hook = fn;
    s->new_hook_arg = arg;
}

int64_t entry_idle_ms(const struct store *s, const struct entry *e)
{
    return (int64_t)(uint32_t)(s->clock - e->atime);
}

/* ---- Internal deletion ---- */

void store_unlink_free(struct store *s, struct entry **pp)
{
    struct entry *e = *pp;
    snap_before_change(s, e);
    dict_unlink(&s->d, pp);
    if (ent_has_ttl(e))
        store_ttl_del(s, e);
    free_entry(e, NULL);
}

void store_expire_at(struct store *s, struct entry **pp)
{
    snap_before_change(s, *pp);
    if (s->expire_hook)
        s->expire_hook(s->expire_hook_arg, *pp);
    s->expired_keys++;
    store_unlink_free(s, pp);
}

/* ---- Lookup ---- */

struct entry *store_find(struct store *s, const char *key, size_t klen, bool touch)
{
    dict_step(&s->d);
    struct entry **pp = dict_find(&s->d, key, klen, dict_hash(&s->d, key, klen));
    if (!pp)
        return NULL;
    struct entry *e = *pp;
    if (ent_expired(s, e)) {
        store_expire_at(s, pp);
        store_dict_check_resize(&s->d);
        return NULL;
    }
    /* Whoever looks an entry up may change its value in place afterwards. */
    snap_before_change(s, e);
    if (touch)
        e->atime = s->clock;
    return e;
}

/* ---- Writes ---- */

/* An expired entry met here is reaped. */
struct entry *store_prepare(struct store *s, const char *key, size_t klen, size_t area,
                            bool *existed)
{
    dict_step(&s->d);
    uint64_t h = dict_hash(&s->d, key, klen);
    struct entry **pp = dict_find(&s->d, key, klen, h);
    if (pp && ent_expired(s, *pp)) {
        store_expire_at(s, pp);
        pp = NULL;
    }
    struct entry *e;
    if (pp) {
        e = *pp;
        snap_before_change(s, e);
        size_t old_area = ent_varea(e);
        store_ent_free_value(e);
        if (store_ent_size(ent_klen(e), old_area) != store_ent_size(ent_klen(e), area)) {
            /* pp points into the table or a predecessor, never into e: it survives. */
            e = store_ent_realloc(e, area);
            *pp = e;
            ttl_moved(s, e);
        }
        *existed = true;
    } else {
        e = store_ent_alloc(key, klen, ent_tag(h), area);
        e->meta = snap_new_meta(s);
        store_dict_add(&s->d, e, h);
        *existed = false;
        if (s->new_hook)
            s->new_hook(s->new_hook_arg, key, klen);
    }
    e->atime = s->clock;
    return e;
}

static struct entry *put_strval(struct store *s, const char *key, size_t klen,
                                const struct strval *v, int64_t ttl, bool keep_ttl)
{
    bool existed;
    struct entry *e = store_prepare(s, key, klen, store_strval_area(v), &existed);
    store_strval_put(e, v);
    if (!(keep_ttl && existed))
        store_set_expire(s, e, ttl);
    return e;
}

struct entry *store_set_str(struct store *s, const char *key, size_t klen, const char *val,
                            size_t vlen, int64_t ttl, bool keep_ttl)
{
    struct strval v;
    store_strval_classify(&v, val, vlen);
    return put_strval(s, key, klen, &v, ttl, keep_ttl);
}

struct entry *store_set_int(struct store *s, const char *key, size_t klen, int64_t val)
{
    struct strval v = {.enc = SE_INT, .i = val};
    return put_strval(s, key, klen, &v, STORE_NO_TTL, true);
}

bool store_restore(struct store *s, const char *key, size_t klen, const char *dump, size_t len,
                   int64_t ttl)
{
    if (len && dump[0] != (char)VT_STRING) {
        enum val_type t;
        unsigned enc;
        void *obj = store_obj_restore(dump, len, &t, &enc);
        if (!obj)
            return false;
        store_delete(s, key, klen); /* a restored key is always added (see store.h) */
        struct entry *e = store_set_obj(s, key, klen, t, (enum obj_enc)enc, obj);
        store_set_expire(s, e, ttl);
        return true;
    }
    struct strval v;
    if (!store_dump_parse(dump, len, &v))
        return false;
    store_delete(s, key, klen);
    put_strval(s, key, klen, &v, ttl, false);
    return true;
}

/* Capacity for a raw string growing to n bytes: doubling below 1 MiB, then 1 MiB steps,
 * as Redis's sdsMakeRoomFor, so repeated APPENDs are amortized O(1) per byte. */
static size_t raw_grow_cap(size_t n)
{
    const size_t step = 1024 * 1024;
    if (n > SIZE_MAX / 4) {
        log_msg(LOG_WARNING, "store: string of %zu bytes is too long", n);
        abort();
    }
    return n < step ? n * 2 : n + step;
}

char *store_str_resize(struct store *s, struct entry **ep, size_t newlen)
{
    struct entry *e = *ep;
    snap_before_change(s, e);
    struct rt_block *b;
    if (ent_enc(e) == SE_RAW) {
        b = ent_ptr(e);
        if (block_shared(b)) {
            /* A reply still references these bytes (its write is in flight): change a
             * copy, and the reply keeps the old block. */
            b = block_unshare(b, newlen > b->len ? raw_grow_cap(newlen) : b->len);
        } else if (newlen > b->cap) {
            b = block_reserve(b, raw_grow_cap(newlen));
        }
        ent_set_ptr(e, b);
    } else {
        /* Convert to raw, sized exactly: most strings are converted once (one APPEND or
         * SETRANGE) and growth after that is amortized by raw_grow_cap. */
        char tmp[24];
        size_t len;
        const char *p = entry_str(e, tmp, &len);
        b = block_alloc(newlen);
        b->len = len < newlen ? len : newlen;
        if (b->len)
            memcpy(b->data, p, b->len);
        if (store_ent_size(ent_klen(e), ent_varea(e)) != store_ent_size(ent_klen(e), sizeof b)) {
            struct entry **pp = store_dict_slot_of(&s->d, e);
            e = store_ent_realloc(e, sizeof b);
            *pp = e;
            ttl_moved(s, e);
        }
        ent_set_meta(e, VT_STRING, SE_RAW);
        e->vlen = 0;
        ent_set_ptr(e, b);
        *ep = e;
    }
    if (newlen > b->len)
        memset(b->data + b->len, 0, newlen - b->len);
    b->len = newlen;
    return b->data;
}

/* ---- Keys ---- */

bool store_delete(struct store *s, const char *key, size_t klen)
{
    dict_step(&s->d);
    struct entry **pp = dict_find(&s->d, key, klen, dict_hash(&s->d, key, klen));
    if (!pp)
        return false;
    bool live = !ent_expired(s, *pp);
    if (live)
        store_unlink_free(s, pp);
    else
        store_expire_at(s, pp);
    store_dict_check_resize(&s->d);
    return live;
}

void store_delete_entry(struct store *s, struct entry *e)
{
    dict_step(&s->d);
    store_unlink_free(s, store_dict_slot_of(&s->d, e));
    store_dict_check_resize(&s->d);
}

size_t store_count(const struct store *s) { return s->d.count; }

void store_rename(struct store *s, struct entry *src, const char *dst, size_t dlen)
{
    size_t sklen;
    const char *skey = entry_key(src, &sklen);
    if (sklen == dlen && (dlen == 0 || memcmp(skey, dst, dlen) == 0))
        return;
    snap_before_change(s, src); /* src's entry is freed below, not through unlink_free */
    uint64_t h = dict_hash(&s->d, dst, dlen);
    struct entry **pp = dict_find(&s->d, dst, dlen, h);
    if (pp) {
        if (ent_expired(s, *pp))
            store_expire_at(s, pp);
        else
            store_unlink_free(s, pp);
    }
    /* A new entry (the key length changes the layout), taking over src's value area as
     * is: the embedded bytes, the integer, or the pointer to the raw buffer. */
    size_t area = ent_varea(src);
    struct entry *n = store_ent_alloc(dst, dlen, ent_tag(h), area);
    memcpy(ent_val(n), ent_cval(src), area);
    n->meta = (uint8_t)((src->meta & ~ENT_SNAP_BIT) | snap_new_meta(s));
    n->vlen = src->vlen;
    n->atime = src->atime;
    int64_t expire = src->expire;

    dict_unlink(&s->d, store_dict_slot_of(&s->d, src));
    if (ent_has_ttl(src))
        store_ttl_del(s, src);
    free(src); /* not its value: n owns it now */

    store_dict_add(&s->d, n, h);
    if (s->new_hook)
        s->new_hook(s->new_hook_arg, dst, dlen);
    if (expire != ENT_NO_EXPIRE) {
        store_ttl_add(s, n);
        n->expire = expire;
    }
    store_dict_check_resize(&s->d);
}

struct entry *store_random(struct store *s)
{
    /* Expired keys met on the way are reaped. After many in a row (a keyspace that is
     * mostly expired) fall back to one bounded walk of the table. */
    for (int tries = 0; tries < 100; tries++) {
        struct entry **pp = store_dict_random(&s->d, &s->rng);
        if (!pp)
            return NULL;
        if (!ent_expired(s, *pp)) {
            snap_before_change(s, *pp);
            return *pp;
        }
        store_expire_at(s, pp);
    }
    struct entry *found = NULL;
    for (int t = 0; t < 2 && !found; t++) {
        if (!s->d.tab[t])
            continue;
        for (size_t b = 0; b <= s->d.mask[t] && !found; b++) {
            struct entry **pp = &s->d.tab[t][b];
            while (*pp && !found) {
                if (ent_expired(s, *pp))
                    store_expire_at(s, pp);
                else
                    found = *pp;
            }
        }
    }
    store_dict_check_resize(&s->d);
    if (found)
        snap_before_change(s, found);
    return found;
}

struct scan_ctx {
    struct store *s;
    void (*fn)(struct entry *e, void *arg);
    void *arg;
};

static void scan_visit(struct entry **pp, void *arg)
{
    struct scan_ctx *c = arg;
    while (*pp) {
        struct entry *e = *pp;
        if (ent_expired(c->s, e)) {
            store_expire_at(c->s, pp); /* *pp is now the next entry */
            continue;
        }
        snap_before_change(c->s, e);
        c->fn(e, c->arg);
        pp = &e->next;
    }
}

uint64_t store_scan(struct store *s, uint64_t cursor, unsigned count,
                    void (*fn)(struct entry *e, void *arg), void *arg)
{
    /* `count` cursor steps (each one bucket of the smaller table and its expansions in the
     * larger); the caller decides, as Redis's SCAN does, how many keys are enough. The
     * callback must not change the store: no rehash step or resize happens during a call,
     * which is what keeps the cursor arithmetic valid. Expired keys met are reaped. */
    struct scan_ctx c = {.s = s, .fn = fn, .arg = arg};
    unsigned steps = count ? count : 1;
    do
        cursor = store_dict_scan(&s->d, cursor, scan_visit, &c);
    while (cursor && --steps);
    return cursor;
}

/* ---- Housekeeping ---- */

void store_rehash_step(struct store *s, uint64_t budget_us)
{
    /* An aborted snapshot's walk finishes here (see snapshot.c). */
    if (s->snap && !s->snap_fn)
        store_snap_drain(s, budget_us);
    /* Deletes by expiry do not start a shrink themselves; the tick does. */
    store_dict_check_resize(&s->d);
    if (!dict_rehashing(&s->d))
        return;
    uint64_t start = clock_mono_us();
    while (store_dict_rehash(&s->d, 100) && clock_mono_us() - start < budget_us) {
    }
}

void store_stats(const struct store *s, struct store_stats *out)
{
    out->expired_keys = s->expired_keys;
    out->keyspace_hits = s->hits;
    out->keyspace_misses = s->misses;
    out->table_buckets = store_dict_buckets(&s->d);
    out->rehashing = dict_rehashing(&s->d);
}

void store_prefetch(struct store *s, const char *key, size_t klen, int stage)
{
    struct dict *d = &s->d;
    uint64_t h = dict_hash(d, key, klen);
    /* While rehashing, the key may be in either table: warm the newer one. */
    int t = dict_rehashing(d) ? 1 : 0;
    struct entry **slot = &d->tab[t][h & d->mask[t]];
    if (stage == 0)
        __builtin_prefetch(slot);
    else if (*slot)
        __builtin_prefetch(*slot);
}

void store_count_lookup(struct store *s, const char *key, size_t klen, bool hit)
{
    if (hit) {
        s->hits++;
        return;
    }
    s->misses++;
    if (key && s->miss_hook)
        s->miss_hook(s->miss_hook_arg, key, klen);
}

void store_set_miss_hook(struct store *s, void (*fn)(void *arg, const char *key, size_t klen),
                         void *arg)
{
    s->miss_hook = fn;
    s->miss_hook_arg = arg;
}
