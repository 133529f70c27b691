/* The hash type (see hash.h): listpack and hashtable encodings, Redis 7.0's conversions,
 * iteration, scan, random picks, and the object contract of object.h.
 *
 * Listpack invariant: an even number of elements, field then value; no field repeats.
 * Dump payload (both encodings): varint pair count, then count times (varint length,
 * field bytes, varint length, value bytes), in iteration order. Restore trusts nothing:
 * counts are checked against the bytes present and no field may repeat. */
#include "store/hash.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

/* Up to this many pairs a restore checks a listpack for repeated fields by search;
 * past it, by a scratch table (the search is quadratic). */
#define RESTORE_SCAN_MAX 128u

/* Whether n passes a threshold (a negative setting counts as 0). */
static bool over_limit(size_t n, enum obj_limit_id id)
{
    int64_t l = obj_limit(id);
    return l < 0 || (uint64_t)n > (uint64_t)l;
}

struct hash_val hash_of(const struct entry *e)
{
    return (struct hash_val){entry_obj(e), entry_obj_enc(e)};
}

void hash_put(struct entry *e, const struct hash_val *h) { entry_set_obj(e, h->enc, h->o); }

/* ---- Creating and releasing ---- */

struct hash_val hash_new(void) { return (struct hash_val){lp_new(0), OBJ_LISTPACK}; }

void hash_free(struct hash_val *h)
{
    if (h->enc == OBJ_LISTPACK)
        lp_free(h->o);
    else
        fd_free(h->o);
    h->o = NULL;
}

size_t hash_len(const struct hash_val *h)
{
    if (h->enc == OBJ_LISTPACK)
        return lp_count(h->o) / 2;
    return fd_count(h->o);
}

size_t hash_mem(const struct hash_val *h)
{
    if (h->enc == OBJ_LISTPACK)
        return lp_bytes(h->o);
    return fd_mem(h->o);
}

/* ---- Conversion ---- */

static void elem_str(const unsigned char *p, struct hash_str *out)
{
    size_t len;
    out->s = (const char *)lp_get_str(p, &len, out->buf);
    out->len = len;
}

void hash_to_table(struct hash_val *h)
{
    if (h->enc != OBJ_LISTPACK)
        return;
    unsigned char *lp = h->o;
    struct fdict *d = fd_new(lp_count(lp) / 2);
    struct hash_str f, v;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        elem_str(p, &f);
        elem_str(lp_next(lp, p), &v);
        if (!fd_add(d, f.s, f.len, v.s, v.len))
            abort(); /* a repeated field: the listpack invariant is broken */
    }
    lp_free(lp);
    *h = (struct hash_val){d, OBJ_HASHTABLE};
}

void hash_prepare(struct hash_val *h, size_t maxlen, size_t sum)
{
    if (h->enc != OBJ_LISTPACK)
        return;
    if (over_limit(maxlen, LIM_HASH_LP_VALUE) || sum > LP_MAX_SAFETY_SIZE ||
        lp_bytes(h->o) + sum > LP_MAX_SAFETY_SIZE)
        hash_to_table(h);
}

/* ---- Changing ---- */

static unsigned char *lp_field(unsigned char *lp, const char *f, size_t flen)
{
    return lp_find(lp, lp_first(lp), f, flen, 1);
}

bool hash_set(struct hash_val *h, const char *f, size_t flen, const char *v, size_t vlen)
{
    /* As hashTypeSet: HINCRBY* reach here without hash_prepare. */
    if (h->enc == OBJ_LISTPACK &&
        (over_limit(flen, LIM_HASH_LP_VALUE) || over_limit(vlen, LIM_HASH_LP_VALUE)))
        hash_to_table(h);
    if (h->enc == OBJ_HASHTABLE) {
        bool created;
        fd_put(h->o, f, flen, v, vlen, &created);
        return created;
    }
    unsigned char *lp = h->o;
    unsigned char *p = lp_field(lp, f, flen);
    bool created = p == NULL;
    if (p) {
        unsigned char *vp = lp_next(lp, p);
        lp = lp_replace(lp, &vp, v, vlen);
    } else {
        lp = lp_append(lp, f, flen);
        lp = lp_append(lp, v, vlen);
    }
    h->o = lp;
    if (over_limit(lp_count(lp) / 2, LIM_HASH_LP_ENTRIES))
        hash_to_table(h);
    return created;
}

bool hash_delete(struct hash_val *h, const char *f, size_t flen)
{
    if (h->enc == OBJ_HASHTABLE)
        return fd_delete(h->o, f, flen);
    unsigned char *lp = h->o;
    unsigned char *p = lp_field(lp, f, flen);
    if (!p)
        return false;
    lp = lp_delete(lp, &p); /* the field; p now at its value */
    lp = lp_delete(lp, &p);
    h->o = lp;
    return true;
}

/* ---- Reading ---- */

bool hash_get(struct hash_val *h, const char *f, size_t flen, struct hash_str *v)
{
    if (h->enc == OBJ_HASHTABLE) {
        struct fnode *n = fd_find(h->o, f, flen);
        if (n && v)
            v->s = fn_val(n, &v->len);
        return n != NULL;
    }
    unsigned char *lp = h->o;
    unsigned char *p = lp_field(lp, f, flen);
    if (p && v)
        elem_str(lp_next(lp, p), v);
    return p != NULL;
}

void hash_iter_init(struct hash_iter *it, struct hash_val *h)
{
    it->h = h;
    it->p = NULL;
    if (h->enc == OBJ_LISTPACK)
        it->p = lp_first(h->o);
    else
        fd_iter_init(&it->fi, h->o);
}

bool hash_iter_next(struct hash_iter *it, struct hash_str *f, struct hash_str *v)
{
    if (it->h->enc == OBJ_HASHTABLE) {
        struct fnode *n = fd_iter_next(&it->fi);
        if (!n)
            return false;
        if (f)
            f->s = fn_key(n, &f->len);
        if (v)
            v->s = fn_val(n, &v->len);
        return true;
    }
    if (!it->p)
        return false;
    unsigned char *lp = it->h->o, *vp = lp_next(lp, it->p);
    if (f)
        elem_str(it->p, f);
    if (v)
        elem_str(vp, v);
    it->p = lp_next(lp, vp);
    return true;
}

void hash_iter_done(struct hash_iter *it)
{
    if (it->h->enc == OBJ_HASHTABLE)
        fd_iter_done(&it->fi);
}

struct scan_ctx {
    hash_pair_fn fn;
    void *arg;
};

static void scan_node(const struct fnode *n, void *arg)
{
    struct scan_ctx *c = arg;
    size_t fl, vl;
    const char *f = fn_key(n, &fl), *v = fn_val(n, &vl);
    c->fn(c->arg, f, fl, v, vl);
}

uint64_t hash_scan(struct hash_val *h, uint64_t cursor, hash_pair_fn fn, void *arg)
{
    if (h->enc == OBJ_HASHTABLE) {
        struct scan_ctx c = {fn, arg};
        return fd_scan(h->o, cursor, scan_node, &c);
    }
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(&it, h);
    while (hash_iter_next(&it, &f, &v))
        fn(arg, f.s, f.len, v.s, v.len);
    return 0;
}

/* ---- Randomness ---- */

static _Thread_local uint64_t rng_state;

static uint64_t *rng(void)
{
    if (!rng_state)
        rng_state = hash_random_seed() | 1;
    return &rng_state;
}

uint64_t hash_rand(void)
{
    uint64_t *x = rng();
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

size_t hash_refs(struct hash_val *h, hash_ref *refs)
{
    size_t n = 0;
    if (h->enc == OBJ_LISTPACK) {
        unsigned char *lp = h->o;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p)))
            refs[n++] = p;
        return n;
    }
    struct fd_iter it;
    struct fnode *node;
    fd_iter_init(&it, h->o);
    while ((node = fd_iter_next(&it)))
        refs[n++] = node;
    fd_iter_done(&it);
    return n;
}

hash_ref hash_random(struct hash_val *h)
{
    if (h->enc == OBJ_HASHTABLE)
        return fd_random(h->o, rng());
    size_t n = lp_count(h->o) / 2;
    return lp_seek(h->o, (long)(2 * (hash_rand() % n)));
}

void hash_ref_get(const struct hash_val *h, hash_ref r, struct hash_str *f, struct hash_str *v)
{
    if (h->enc == OBJ_HASHTABLE) {
        if (f)
            f->s = fn_key(r, &f->len);
        if (v)
            v->s = fn_val(r, &v->len);
        return;
    }
    unsigned char *p = (unsigned char *)r;
    if (f)
        elem_str(p, f);
    if (v)
        elem_str(lp_next(h->o, p), v);
}

/* ---- The object contract (object.h) ---- */

void hash_obj_free(void *obj, enum obj_enc enc)
{
    struct hash_val h = {obj, enc};
    hash_free(&h);
}

size_t hash_obj_len(const void *obj, enum obj_enc enc)
{
    struct hash_val h = {(void *)obj, enc};
    return hash_len(&h);
}

void hash_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg)
{
    struct hash_val h = {(void *)obj, enc};
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(&it, &h);
    while (hash_iter_next(&it, &f, &v))
        if (!fn(arg, f.s, f.len, v.s, v.len, 0))
            break;
    hash_iter_done(&it);
}

void hash_obj_dump(const void *obj, enum obj_enc enc, struct buf *out)
{
    struct hash_val h = {(void *)obj, enc};
    store_put_varint(out, hash_len(&h));
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(&it, &h);
    while (hash_iter_next(&it, &f, &v)) {
        store_put_bytes(out, f.s, f.len);
        store_put_bytes(out, v.s, v.len);
    }
    hash_iter_done(&it);
}

/* One pass over the pairs of a payload: false when malformed. Reports the longest field
 * or value and the sum of their lengths. */
static bool restore_scan(const char *p, const char *end, uint64_t count, size_t *maxlen,
                         size_t *sum)
{
    *maxlen = *sum = 0;
    for (uint64_t i = 0; i < 2 * count; i++) {
        const char *s;
        size_t len;
        if (!store_get_bytes(&p, end, &s, &len))
            return false;
        if (len > *maxlen)
            *maxlen = len;
        *sum += len;
    }
    return p == end;
}

/* A listpack of the pairs (already scanned well-formed), or NULL when a field repeats. */
static unsigned char *restore_listpack(const char *p, const char *end, uint64_t count)
{
    unsigned char *lp = lp_new(0);
    struct fdict *seen = count > RESTORE_SCAN_MAX ? fd_new((size_t)count) : NULL;
    for (uint64_t i = 0; i < count; i++) {
        const char *f, *v;
        size_t fl, vl;
        store_get_bytes(&p, end, &f, &fl);
        store_get_bytes(&p, end, &v, &vl);
        bool dup = seen ? fd_add(seen, f, fl, "", 0) == NULL : lp_field(lp, f, fl) != NULL;
        if (dup) {
            lp_free(lp);
            lp = NULL;
            break;
        }
        lp = lp_append(lp, f, fl);
        lp = lp_append(lp, v, vl);
    }
    if (seen)
        fd_free(seen);
    return lp;
}

static struct fdict *restore_table(const char *p, const char *end, uint64_t count)
{
    struct fdict *d = fd_new((size_t)count);
    for (uint64_t i = 0; i < count; i++) {
        const char *f, *v;
        size_t fl, vl;
        store_get_bytes(&p, end, &f, &fl);
        store_get_bytes(&p, end, &v, &vl);
        if (!fd_add(d, f, fl, v, vl)) {
            fd_free(d);
            return NULL;
        }
    }
    return d;
}

void *hash_obj_restore(const char *p, size_t len, enum obj_enc *enc)
{
    const char *end = p + len;
    uint64_t count;
    size_t maxlen, sum;
    /* Every pair takes at least 2 bytes; an empty hash never exists. */
    if (!store_get_varint(&p, end, &count) || count == 0 || count > len / 2 ||
        (*enc != OBJ_LISTPACK && *enc != OBJ_HASHTABLE) ||
        !restore_scan(p, end, count, &maxlen, &sum))
        return NULL;
    /* A listpack stays one while it fits the thresholds (as Redis's RDB loading). */
    if (*enc == OBJ_LISTPACK && !over_limit((size_t)count, LIM_HASH_LP_ENTRIES) &&
        !over_limit(maxlen, LIM_HASH_LP_VALUE) && sum < LP_MAX_SAFETY_SIZE / 2)
        return restore_listpack(p, end, count);
    *enc = OBJ_HASHTABLE;
    return restore_table(p, end, count);
}
