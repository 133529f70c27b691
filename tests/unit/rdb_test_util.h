/* Shared by test_rdb.c and test_rdb_redis.c: building stores of every type and encoding,
 * whole RDB images of a store, and a canonical text description of a key in the format
 * of tests/unit/data/redis7_all_types.txt:
 *
 *   key x<hex key> <type> <encoding> <expire ms or -1> <count> <items...>
 *
 * where byte strings are 'x' + hex, hash pairs and set members are sorted (bytes, a
 * shorter prefix first, as Python sorts bytes), list and sorted-set items in order,
 * scores as double_to_str writes them.
 *
 * Include it after <cmocka.h>: tu_assert_same_keys asserts. */
#ifndef COREKV_TESTS_RDB_TEST_UTIL_H
#define COREKV_TESTS_RDB_TEST_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <corekv/buf.h>

#include "base/numfmt.h"
#include "persist/rdb.h"
#include "store/entry.h"
#include "store/hash.h"
#include "store/list.h"
#include "store/object.h"
#include "store/rdb_obj.h"
#include "store/set.h"
#include "store/store.h"
#include "store/zset.h"

/* ---- Building keys ---- */

static inline void tu_set_str(struct store *s, const char *k, const char *v, int64_t ttl)
{
    store_set_str(s, k, strlen(k), v, strlen(v), ttl, false);
}

static inline struct entry *tu_list(struct store *s, const char *k, size_t klen)
{
    store_delete(s, k, klen);
    return list_create(s, k, klen);
}

static inline void tu_push(struct entry *e, const char *v, size_t len)
{
    list_grow(e, len, 1);
    list_push(e, LIST_TAIL, v, len);
}

static inline void tu_hash(struct store *s, const char *k, int n, const char *ffmt,
                           const char *vfmt)
{
    struct hash_val h = hash_new();
    char f[128], v[256];
    for (int i = 0; i < n; i++) {
        int fl = snprintf(f, sizeof f, ffmt, i);
        int vl = snprintf(v, sizeof v, vfmt, i);
        hash_set(&h, f, (size_t)fl, v, (size_t)vl);
    }
    store_set_obj(s, k, strlen(k), VT_HASH, h.enc, h.o);
}

/* A set of n members formatted from fmt with i (a "%d" fmt gives integers). */
static inline void tu_set(struct store *s, const char *k, int n, const char *fmt, long long mul)
{
    char m[128];
    int ml = snprintf(m, sizeof m, fmt, 0LL);
    struct set_val sv = set_new_for(m, (size_t)ml, (size_t)n);
    for (int i = 0; i < n; i++) {
        ml = snprintf(m, sizeof m, fmt, (long long)i * mul);
        set_add(&sv, m, (size_t)ml);
    }
    store_set_obj(s, k, strlen(k), VT_SET, sv.enc, sv.o);
}

static inline void tu_zset(struct store *s, const char *k, int n, const char *fmt,
                           const double *scores)
{
    struct zs z = zs_create((size_t)n, 0);
    char m[256];
    for (int i = 0; i < n; i++) {
        int ml = snprintf(m, sizeof m, fmt, i);
        zs_add(&z, m, (size_t)ml, scores ? scores[i] : i * 1.5, 0, NULL);
    }
    zs_store(s, k, strlen(k), &z);
}

/* Every type in every encoding, at corekv's default thresholds; TTLs on some. */
static inline void tu_fill_all(struct store *s, int64_t ttl_base)
{
    tu_set_str(s, "s:int", "12345", STORE_NO_TTL);
    tu_set_str(s, "s:i64max", "9223372036854775807", STORE_NO_TTL);
    tu_set_str(s, "s:i64min", "-9223372036854775808", ttl_base);
    tu_set_str(s, "s:emb", "hello", STORE_NO_TTL);
    tu_set_str(s, "s:empty", "", STORE_NO_TTL);
    tu_set_str(s, "s:nonint", "007", STORE_NO_TTL);
    char big[3000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + (i * 7 % 26));
    store_set_str(s, "s:raw", 5, big, sizeof big, STORE_NO_TTL, false);
    for (size_t i = 0; i < 200; i++)
        big[i] = (char)((i * 131 + 7) & 0xff); /* little to compress */
    store_set_str(s, "s:rawbin", 8, big, 200, ttl_base + 1, false);
    store_set_str(s, "bin\0key\xff", 8, "\0\1\2", 3, STORE_NO_TTL, false);
    char lk[300];
    memset(lk, 'K', sizeof lk);
    store_set_str(s, lk, sizeof lk, "long key", 8, STORE_NO_TTL, false);
    store_set_str(s, "777", 3, "an integer key", 14, STORE_NO_TTL, false);

    struct entry *e = tu_list(s, "l:small", 7);
    const char *items[] = {"a", "1", "-5", "", "12345678901234567890", "x y z"};
    for (size_t i = 0; i < 6; i++)
        tu_push(e, items[i], strlen(items[i]));
    store_set_expire(s, e, ttl_base + 2);
    e = tu_list(s, "l:big", 5);
    char el[64];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(el, sizeof el, "element-%06d-padding-padding", i);
        tu_push(e, el, (size_t)n);
    }
    e = tu_list(s, "l:huge", 6);
    tu_push(e, "a", 1);
    tu_push(e, big, 3000);
    tu_push(e, big, 3000);
    tu_push(e, big, 3000);
    tu_push(e, "z", 1);

    tu_hash(s, "h:lp", 5, "f%d", "%d");
    tu_hash(s, "h:table", 700, "field-%d", "value-%d");
    struct entry *he = store_find(s, "h:table", 7, false);
    struct hash_val hv = hash_of(he);
    hash_set(&hv, "emptyvalue", 10, "", 0);
    hash_set(&hv, "", 0, "empty field", 11);
    hash_put(he, &hv);
    tu_hash(s, "h:longval", 2, "f%d",
            "%d-vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
    e = store_find(s, "h:lp", 4, false);
    store_set_expire(s, e, ttl_base + 3);

    tu_set(s, "set:intset", 10, "%lld", 3);
    tu_set(s, "set:int64", 5, "%lld", 1LL << 40);
    tu_set(s, "set:lp", 20, "m%lld", 1);
    tu_set(s, "set:table", 300, "member-%lld", 1);
    tu_set(s, "set:bigints", 600, "%lld", 1);
    struct entry *se = store_find(s, "set:table", 9, false);
    struct set_val sv = {entry_obj(se), entry_obj_enc(se)};
    set_add(&sv, "", 0);
    entry_set_obj(se, sv.enc, sv.o);

    const double sc[] = {1, -0.0, INFINITY, -INFINITY, 1e-300, 0.1, 2.5, 1e300};
    tu_zset(s, "z:lp", 8, "m%d", sc);
    tu_zset(s, "z:skip", 300, "member%d", NULL);
    tu_zset(s, "z:longm", 2,
            "%d-mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm", NULL);
    e = store_find(s, "z:skip", 6, false);
    store_set_expire(s, e, ttl_base + 4);
}

/* ---- Whole images ---- */

struct tu_img {
    struct buf *out;
    bool compress;
};

static inline void tu_put_cb(struct entry *e, void *arg)
{
    struct tu_img *t = arg;
    store_rdb_put_entry(e, t->out, t->compress);
}

/* Header (h may be NULL), every key of s, footer, checksum. */
static inline void tu_image(struct store *s, struct buf *out, bool compress, bool checksum,
                            const struct rdb_header_info *h)
{
    struct rdb_header_info hi = {.ctime = 1700000000};
    if (h)
        hi = *h;
    hi.keys = store_count(s);
    hi.expires = store_expires_count(s);
    store_rdb_put_header(out, &hi);
    struct tu_img t = {out, compress};
    uint64_t cur = 0;
    do
        cur = store_scan(s, cur, 16, tu_put_cb, &t);
    while (cur);
    store_rdb_put_footer(out);
    rdb_put_checksum(out, checksum);
}

/* ---- Canonical descriptions ---- */

struct tu_item {
    char *s;
    size_t len;
    char *extra; /* hash value (hex line piece), sorted along */
};

struct tu_items {
    struct tu_item *v;
    size_t n, cap;
};

static inline void tu_hex(struct buf *b, const char *s, size_t len)
{
    static const char d[] = "0123456789abcdef";
    buf_putc(b, 'x');
    for (size_t i = 0; i < len; i++) {
        buf_putc(b, d[(unsigned char)s[i] >> 4]);
        buf_putc(b, d[(unsigned char)s[i] & 15]);
    }
}

static inline char *tu_dup(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    memcpy(d, s, len);
    d[len] = 0;
    return d;
}

static inline bool tu_collect(void *arg, const char *s, size_t len, const char *val, size_t vlen,
                              double score)
{
    (void)score;
    struct tu_items *it = arg;
    if (it->n == it->cap) {
        it->cap = it->cap ? it->cap * 2 : 16;
        it->v = realloc(it->v, it->cap * sizeof *it->v);
    }
    struct tu_item *x = &it->v[it->n++];
    x->s = tu_dup(s, len);
    x->len = len;
    x->extra = NULL;
    if (val) {
        struct buf b = {0};
        tu_hex(&b, val, vlen);
        buf_putc(&b, 0);
        x->extra = b.data;
    }
    return true;
}

static inline int tu_item_cmp(const void *a, const void *b)
{
    const struct tu_item *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->s, y->s, n) : 0;
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

struct tu_zitems {
    struct buf *b;
    size_t n;
};

static inline bool tu_zcollect(void *arg, const char *s, size_t len, const char *val,
                               size_t vlen, double score)
{
    (void)val;
    (void)vlen;
    struct tu_zitems *z = arg;
    char d[64];
    buf_putc(z->b, ' ');
    tu_hex(z->b, s, len);
    int n = double_to_str(d, sizeof d, score);
    buf_putc(z->b, ' ');
    buf_append(z->b, d, (size_t)n);
    z->n++;
    return true;
}

static inline const char *tu_type_name(enum val_type t)
{
    static const char *names[] = {"string", "list", "set", "zset", "hash"};
    return names[t];
}

static inline const char *tu_enc_name(const struct entry *e)
{
    if (entry_type(e) == VT_STRING) {
        static const char *names[] = {"int", "embstr", "raw"};
        return names[entry_str_enc(e)];
    }
    return obj_enc_name(entry_obj_enc(e));
}

/* The description of e (NUL-terminated in out). */
static inline void tu_describe(const struct entry *e, struct buf *out)
{
    size_t klen;
    const char *k = entry_key(e, &klen);
    buf_puts(out, "key ");
    tu_hex(out, k, klen);
    int64_t exp = entry_expire(e);
    buf_printf(out, " %s %s %lld ", tu_type_name(entry_type(e)), tu_enc_name(e),
               (long long)(exp == STORE_NO_TTL ? -1 : exp));
    enum val_type t = entry_type(e);
    if (t == VT_STRING) {
        char tmp[24];
        size_t len;
        const char *v = entry_str(e, tmp, &len);
        buf_puts(out, "1 ");
        tu_hex(out, v, len);
        buf_putc(out, 0);
        return;
    }
    const void *o = entry_obj(e);
    enum obj_enc enc = entry_obj_enc(e);
    if (t == VT_ZSET) {
        struct buf items = {0};
        struct tu_zitems z = {&items, 0};
        zset_obj_each(o, enc, tu_zcollect, &z);
        buf_printf(out, "%zu", z.n);
        buf_append(out, items.data, items.len);
        buf_putc(out, 0);
        buf_free(&items);
        return;
    }
    struct tu_items it = {0};
    if (t == VT_LIST)
        list_obj_each(o, enc, tu_collect, &it);
    else if (t == VT_HASH)
        hash_obj_each(o, enc, tu_collect, &it);
    else
        set_obj_each(o, enc, tu_collect, &it);
    if (t != VT_LIST)
        qsort(it.v, it.n, sizeof *it.v, tu_item_cmp);
    buf_printf(out, "%zu", it.n);
    for (size_t i = 0; i < it.n; i++) {
        buf_putc(out, ' ');
        tu_hex(out, it.v[i].s, it.v[i].len);
        if (it.v[i].extra) {
            buf_putc(out, ' ');
            buf_puts(out, it.v[i].extra);
        }
        free(it.v[i].s);
        free(it.v[i].extra);
    }
    free(it.v);
    buf_putc(out, 0);
}

/* Descriptions of every key of s, sorted, one per line (NUL-terminated). */
struct tu_lines {
    char **v;
    size_t n, cap;
};

static inline void tu_line_cb(struct entry *e, void *arg)
{
    struct tu_lines *l = arg;
    struct buf b = {0};
    tu_describe(e, &b);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = b.data;
}

static inline int tu_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline void tu_all_lines(struct store *s, struct tu_lines *l)
{
    uint64_t cur = 0;
    do
        cur = store_scan(s, cur, 16, tu_line_cb, l);
    while (cur);
    qsort(l->v, l->n, sizeof *l->v, tu_str_cmp);
}

static inline void tu_lines_free(struct tu_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* s and t hold the same keys, with the same contents, encodings and TTLs. */
static inline void tu_assert_same_keys(struct store *s, struct store *t)
{
    struct tu_lines ls = {0}, lt = {0};
    tu_all_lines(s, &ls);
    tu_all_lines(t, &lt);
    assert_int_equal(ls.n, lt.n);
    for (size_t i = 0; i < ls.n; i++)
        assert_string_equal(ls.v[i], lt.v[i]);
    tu_lines_free(&ls);
    tu_lines_free(&lt);
}

#endif
