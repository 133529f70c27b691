/* Values from RDB records (see rdb_build.h), for every type Redis 7.0 and 7.2 write and
 * the old plain LIST and ZSET.
 *
 * Trust: a listpack or intset blob becomes a value only after lp_validate /
 * intset_validate and the type's own rules (even pair counts, no repeated field or
 * member, parseable and ordered scores), because the type modules trust their
 * encodings without checks. An element count read from the file is checked against the
 * bytes left (every element takes at least one byte) before it sizes anything.
 *
 * Encodings after loading follow Redis's loader with corekv's thresholds: a listpack
 * over its entries limit is converted; a HASH, SET or ZSET record is built as the type's
 * own add operations would build it (so a big record with few small elements ends as a
 * listpack); a list ends as a listpack when it fits one node. */
#include "store/rdb_build.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "store/entry.h"
#include "store/fdict.h"
#include "store/hash.h"
#include "store/intset.h"
#include "store/listpack.h"
#include "store/quicklist.h"
#include "store/set.h"
#include "store/zset.h"
#include "store/zskiplist.h"

/* Up to this many candidates a repeat is searched for directly; past it, with a table. */
#define DUP_SCAN_MAX 16u

bool rdb_type_supported(unsigned type)
{
    switch (type) {
    case RDB_TYPE_STRING:
    case RDB_TYPE_LIST:
    case RDB_TYPE_SET:
    case RDB_TYPE_ZSET:
    case RDB_TYPE_HASH:
    case RDB_TYPE_ZSET_2:
    case RDB_TYPE_SET_INTSET:
    case RDB_TYPE_HASH_LISTPACK:
    case RDB_TYPE_ZSET_LISTPACK:
    case RDB_TYPE_LIST_QUICKLIST_2:
    case RDB_TYPE_SET_LISTPACK:
        return true;
    default:
        return false;
    }
}

/* A threshold as a count (a negative setting counts as 0). */
static size_t limit(enum obj_limit_id id)
{
    int64_t v = obj_limit(id);
    return v < 0 ? 0 : (uint64_t)v > SIZE_MAX ? SIZE_MAX : (size_t)v;
}

static int list_fill(void)
{
    int64_t v = obj_limit(LIM_LIST_LP_SIZE);
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

/* A count of elements that each take at least `min_bytes`: it must fit what is left. */
static bool read_count(struct rdb_reader *r, size_t min_bytes, uint64_t *n)
{
    size_t at = r->pos;
    if (!rdb_read_len(r, n))
        return false;
    if (*n > rdb_left(r) / min_bytes)
        return rdb_fail(r, at, "element count %llu exceeds the data left",
                        (unsigned long long)*n);
    return true;
}

/* A listpack blob in an allocation the store owns: the decompressed buffer itself when
 * it was LZF (b gives it up), else a copy out of the image. */
static unsigned char *take_blob(struct rdb_str *b)
{
    if (b->heap && b->s == b->heap) {
        unsigned char *p = (unsigned char *)b->heap;
        b->heap = NULL;
        return p;
    }
    unsigned char *p = store_xmalloc(b->len);
    memcpy(p, b->s, b->len);
    return p;
}

/* Whether the elements 0, step, 2*step ... of a valid listpack repeat, compared by
 * their bytes (an integer by its decimal form, as lp_find compares). */
static bool lp_repeats(const unsigned char *lp, size_t count, unsigned step)
{
    size_t n = (count + step - 1) / step;
    if (n < 2)
        return false;
    unsigned char *l = (unsigned char *)lp;
    char buf[LP_INTBUF];
    size_t len;
    if (n <= DUP_SCAN_MAX) {
        for (unsigned char *p = lp_first(l); p;) {
            const unsigned char *s = lp_get_str(p, &len, buf);
            unsigned char *q = p;
            for (unsigned i = 0; i < step && q; i++)
                q = lp_next(l, q);
            if (q && lp_find(l, q, (const char *)s, len, step - 1))
                return true;
            p = q;
        }
        return false;
    }
    struct fdict *seen = fd_new(n);
    bool dup = false;
    unsigned left = 0;
    for (unsigned char *p = lp_first(l); p && !dup; p = lp_next(l, p)) {
        if (left) {
            left--;
            continue;
        }
        const unsigned char *s = lp_get_str(p, &len, buf);
        dup = fd_add(seen, (const char *)s, len, "", 0) == NULL;
        left = step - 1;
    }
    fd_free(seen);
    return dup;
}

/* A listpack blob of `step`-element groups (pairs for hashes and sorted sets), no
 * group's first element repeated; count receives its elements. */
static bool read_listpack(struct rdb_reader *r, struct rdb_str *b, size_t *count,
                          unsigned step, const char *what, const char *noun)
{
    size_t at = r->pos;
    if (!rdb_read_string(r, b))
        return false;
    if (!lp_validate((const unsigned char *)b->s, b->len, count)) {
        rdb_str_free(b);
        return rdb_fail(r, at, "invalid listpack in %s", what);
    }
    if (*count % step) {
        rdb_str_free(b);
        return rdb_fail(r, at, "%s listpack with an odd number of elements", what);
    }
    if (lp_repeats((const unsigned char *)b->s, *count, step)) {
        rdb_str_free(b);
        return rdb_fail(r, at, "%s listpack with a repeated %s", what, noun);
    }
    return true;
}

/* ---- Lists ---- */

/* Add a listpack node (validated, non-empty) at the tail: as it is when it fits a node,
 * else element by element, so that no node is bigger than the fill allows. */
static void list_add_node(struct quicklist *ql, struct rdb_str *b, size_t count)
{
    if (count == 1 || !ql_exceeds_limit(ql->fill, b->len, count)) {
        ql_append_lp(ql, take_blob(b));
        return;
    }
    unsigned char *lp = (unsigned char *)b->s;
    char buf[LP_INTBUF];
    size_t len;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        const unsigned char *s = lp_get_str(p, &len, buf);
        ql_push(ql, false, (const char *)s, len);
    }
}

/* A list ends as a listpack when it is one node within the node limits (Redis 7.2's
 * listTypeTryConversion after loading). */
static void list_finish(struct quicklist *ql, struct rdb_value *v)
{
    v->type = VT_LIST;
    if (ql->count == 0) {
        ql_free(ql);
        return;
    }
    size_t sz, cnt;
    ql_node_limit(ql->fill, &sz, &cnt);
    if (ql->len == 1 && lp_bytes(ql->head->lp) <= sz && ql->count <= cnt) {
        v->enc = OBJ_LISTPACK;
        v->obj = ql_release_single(ql);
        return;
    }
    v->enc = OBJ_QUICKLIST;
    v->obj = ql;
}

static bool build_quicklist(struct rdb_reader *r, struct rdb_value *v)
{
    uint64_t nodes;
    if (!read_count(r, 2, &nodes))
        return false;
    struct quicklist *ql = ql_new(list_fill());
    for (uint64_t i = 0; i < nodes; i++) {
        size_t at = r->pos;
        uint64_t container;
        struct rdb_str b;
        if (!rdb_read_len(r, &container))
            goto bad;
        if (container != RDB_QL_PACKED && container != RDB_QL_PLAIN) {
            rdb_fail(r, at, "bad quicklist node container %llu", (unsigned long long)container);
            goto bad;
        }
        at = r->pos;
        if (!rdb_read_string(r, &b))
            goto bad;
        if (b.len == 0) {
            rdb_fail(r, at, "empty quicklist node");
            goto bad;
        }
        if (container == RDB_QL_PLAIN) {
            ql_push(ql, false, b.s, b.len);
        } else {
            size_t count;
            if (!lp_validate((const unsigned char *)b.s, b.len, &count)) {
                rdb_str_free(&b);
                rdb_fail(r, at, "invalid listpack in list");
                goto bad;
            }
            if (count) /* an empty node is skipped, as Redis does */
                list_add_node(ql, &b, count);
        }
        rdb_str_free(&b);
    }
    list_finish(ql, v);
    return true;
bad:
    ql_free(ql);
    return false;
}

static bool build_plain_list(struct rdb_reader *r, struct rdb_value *v)
{
    uint64_t n;
    if (!read_count(r, 1, &n))
        return false;
    struct quicklist *ql = ql_new(list_fill());
    for (uint64_t i = 0; i < n; i++) {
        struct rdb_str e;
        if (!rdb_read_string(r, &e)) {
            ql_free(ql);
            return false;
        }
        ql_push(ql, false, e.s, e.len);
        rdb_str_free(&e);
    }
    list_finish(ql, v);
    return true;
}

/* ---- Hashes ---- */

static bool build_hash_listpack(struct rdb_reader *r, struct rdb_value *v)
{
    struct rdb_str b;
    size_t count;
    if (!read_listpack(r, &b, &count, 2, "hash", "field"))
        return false;
    v->type = VT_HASH;
    if (count) {
        struct hash_val h = {take_blob(&b), OBJ_LISTPACK};
        if (count / 2 > limit(LIM_HASH_LP_ENTRIES))
            hash_to_table(&h);
        v->obj = h.o;
        v->enc = h.enc;
    }
    rdb_str_free(&b);
    return true;
}

static bool build_hash(struct rdb_reader *r, struct rdb_value *v)
{
    uint64_t n;
    if (!read_count(r, 2, &n))
        return false;
    v->type = VT_HASH;
    if (n == 0)
        return true;
    struct hash_val h = n > limit(LIM_HASH_LP_ENTRIES)
                            ? (struct hash_val){fd_new((size_t)n), OBJ_HASHTABLE}
                            : hash_new();
    for (uint64_t i = 0; i < n; i++) {
        size_t at = r->pos;
        struct rdb_str f, val;
        if (!rdb_read_string(r, &f))
            goto bad;
        if (!rdb_read_string(r, &val)) {
            rdb_str_free(&f);
            goto bad;
        }
        /* hash_set converts as Redis's loader does (a long field or value, too many). */
        bool added = hash_set(&h, f.s, f.len, val.s, val.len);
        rdb_str_free(&f);
        rdb_str_free(&val);
        if (!added) {
            rdb_fail(r, at, "hash with a repeated field");
            goto bad;
        }
    }
    v->obj = h.o;
    v->enc = h.enc;
    return true;
bad:
    hash_free(&h);
    return false;
}

/* ---- Sets ---- */

static bool build_set_listpack(struct rdb_reader *r, struct rdb_value *v)
{
    struct rdb_str b;
    size_t count;
    if (!read_listpack(r, &b, &count, 1, "set", "member"))
        return false;
    v->type = VT_SET;
    if (count) {
        struct set_val s = {take_blob(&b), OBJ_LISTPACK};
        if (count > limit(LIM_SET_LP_ENTRIES))
            set_convert(&s, OBJ_HASHTABLE);
        v->obj = s.o;
        v->enc = s.enc;
    }
    rdb_str_free(&b);
    return true;
}

static bool build_intset(struct rdb_reader *r, struct rdb_value *v)
{
    size_t at = r->pos;
    struct rdb_str b;
    if (!rdb_read_string(r, &b))
        return false;
    if (!intset_validate((const unsigned char *)b.s, b.len)) {
        rdb_str_free(&b);
        return rdb_fail(r, at, "invalid intset");
    }
    struct set_val s = {intset_from((const unsigned char *)b.s, b.len), OBJ_INTSET};
    rdb_str_free(&b);
    if (intset_len(s.o) > limit(LIM_SET_INTSET_ENTRIES))
        set_convert(&s, OBJ_HASHTABLE);
    v->type = VT_SET;
    v->obj = s.o;
    v->enc = s.enc;
    return true;
}

static bool build_set(struct rdb_reader *r, struct rdb_value *v)
{
    uint64_t n;
    if (!read_count(r, 1, &n))
        return false;
    v->type = VT_SET;
    if (n == 0)
        return true;
    /* As Redis: an intset unless there are too many members for one; set_add then
     * converts as members come (a string member, a long one, too many). */
    struct set_val s = set_new(n > limit(LIM_SET_INTSET_ENTRIES) ? OBJ_HASHTABLE : OBJ_INTSET,
                               (size_t)n);
    for (uint64_t i = 0; i < n; i++) {
        size_t at = r->pos;
        struct rdb_str m;
        if (!rdb_read_string(r, &m))
            goto bad;
        bool added = set_add(&s, m.s, m.len);
        rdb_str_free(&m);
        if (!added) {
            rdb_fail(r, at, "set with a repeated member");
            goto bad;
        }
    }
    v->obj = s.o;
    v->enc = s.enc;
    return true;
bad:
    set_free(&s);
    return false;
}

/* ---- Sorted sets ---- */

/* A listpack score element: an integer, or text that parses as a double. */
static bool lp_score_of(const unsigned char *p, double *d)
{
    struct lp_val lv;
    lp_get(p, &lv);
    if (!lv.s) {
        *d = (double)lv.i;
        return true;
    }
    return str_to_double((const char *)lv.s, lv.len, d) && !isnan(*d);
}

/* Scores parse, and pairs ascend strictly by (score, member): the order the zset code
 * relies on. */
static bool zset_lp_ordered(const unsigned char *lp)
{
    unsigned char *l = (unsigned char *)lp;
    char bufs[2][LP_INTBUF];
    const char *pm = NULL;
    size_t pl = 0;
    double ps = 0;
    int k = 0;
    for (unsigned char *p = lp_first(l); p; p = lp_next(l, lp_next(l, p)), k ^= 1) {
        size_t ml;
        const char *m = (const char *)lp_get_str(p, &ml, bufs[k]);
        double sc;
        if (!lp_score_of(lp_next(l, p), &sc))
            return false;
        if (pm && zsl_cmp(ps, pm, pl, sc, m, ml) >= 0)
            return false;
        pm = m;
        pl = ml;
        ps = sc;
    }
    return true;
}

static bool build_zset_listpack(struct rdb_reader *r, struct rdb_value *v)
{
    size_t at = r->pos;
    struct rdb_str b;
    size_t count;
    if (!read_listpack(r, &b, &count, 2, "zset", "member"))
        return false;
    if (!zset_lp_ordered((const unsigned char *)b.s)) {
        rdb_str_free(&b);
        return rdb_fail(r, at, "zset listpack with a bad score or out of order");
    }
    v->type = VT_ZSET;
    if (count) {
        struct zs z = {take_blob(&b), OBJ_LISTPACK};
        if (count / 2 > limit(LIM_ZSET_LP_ENTRIES))
            zs_to_skiplist(&z);
        v->obj = z.obj;
        v->enc = z.enc;
    }
    rdb_str_free(&b);
    return true;
}

/* ZSET_2 (binary scores) and the old ZSET (text scores). */
static bool build_zset(struct rdb_reader *r, struct rdb_value *v, bool binary)
{
    uint64_t n;
    if (!read_count(r, binary ? 9 : 2, &n))
        return false;
    v->type = VT_ZSET;
    if (n == 0)
        return true;
    struct zsl *sl = zsl_new((size_t)n);
    for (uint64_t i = 0; i < n; i++) {
        size_t at = r->pos;
        struct rdb_str m;
        double sc;
        if (!rdb_read_string(r, &m))
            goto bad;
        bool ok = binary ? rdb_read_double(r, &sc) : rdb_read_text_double(r, &sc);
        if (ok && isnan(sc))
            ok = rdb_fail(r, at, "zset with a NaN score");
        if (ok && zsl_find(sl, m.s, m.len))
            ok = rdb_fail(r, at, "zset with a repeated member");
        if (ok)
            zsl_insert(sl, sc, m.s, m.len);
        rdb_str_free(&m);
        if (!ok)
            goto bad;
    }
    /* Redis converts after loading: a listpack when it is small enough for one. */
    struct zs z = {sl, OBJ_SKIPLIST};
    zs_shrink(&z);
    v->obj = z.obj;
    v->enc = z.enc;
    return true;
bad:
    zsl_free(sl);
    return false;
}

/* ---- Dispatch ---- */

bool rdb_build_value(struct rdb_reader *r, unsigned type, struct rdb_value *v)
{
    v->obj = NULL;
    v->enc = OBJ_LISTPACK;
    v->str.heap = NULL;
    switch (type) {
    case RDB_TYPE_STRING:
        v->type = VT_STRING;
        return rdb_read_string(r, &v->str);
    case RDB_TYPE_LIST: return build_plain_list(r, v);
    case RDB_TYPE_LIST_QUICKLIST_2: return build_quicklist(r, v);
    case RDB_TYPE_HASH: return build_hash(r, v);
    case RDB_TYPE_HASH_LISTPACK: return build_hash_listpack(r, v);
    case RDB_TYPE_SET: return build_set(r, v);
    case RDB_TYPE_SET_INTSET: return build_intset(r, v);
    case RDB_TYPE_SET_LISTPACK: return build_set_listpack(r, v);
    case RDB_TYPE_ZSET: return build_zset(r, v, false);
    case RDB_TYPE_ZSET_2: return build_zset(r, v, true);
    case RDB_TYPE_ZSET_LISTPACK: return build_zset_listpack(r, v);
    default: return rdb_fail(r, r->pos, "unsupported RDB type %u", type);
    }
}

void rdb_value_free(struct rdb_value *v)
{
    rdb_str_free(&v->str);
    if (!v->obj)
        return;
    switch (v->type) {
    case VT_LIST: list_obj_free(v->obj, v->enc); break;
    case VT_HASH: hash_obj_free(v->obj, v->enc); break;
    case VT_SET: set_obj_free(v->obj, v->enc); break;
    case VT_ZSET: zset_obj_free(v->obj, v->enc); break;
    case VT_STRING: break;
    }
    v->obj = NULL;
}
