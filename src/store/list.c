/* The list type over its two encodings (see list.h), and its part of the object
 * contract of object.h: free, dump, restore, length, walk.
 *
 * Read-only walks treat a listpack as a quicklist of one node (a view on the stack), so
 * LINDEX, LRANGE and LPOS have one implementation; edits go to each encoding's own
 * calls. */
#include "store/list.h"

#include <limits.h>
#include <stdlib.h>

#include "store/entry.h"
#include "store/listpack.h"
#include "store/quicklist.h"

/* list-max-listpack-size, as an int (the setting is an int in Redis). */
static int cur_fill(void)
{
    int64_t v = obj_limit(LIM_LIST_LP_SIZE);
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

static bool is_lp(const struct entry *e) { return entry_obj_enc(e) == OBJ_LISTPACK; }

static void emit(const unsigned char *p, list_elem_fn fn, void *arg)
{
    char buf[LP_INTBUF];
    size_t len;
    const unsigned char *s = lp_get_str(p, &len, buf);
    fn(arg, (const char *)s, len);
}

/* A read-only quicklist view of either encoding. */
struct view {
    struct quicklist q;
    struct ql_node n;
};

static const struct quicklist *as_ql(const void *obj, enum obj_enc enc, struct view *v)
{
    if (enc == OBJ_QUICKLIST)
        return obj;
    unsigned char *lp = (unsigned char *)obj;
    v->n = (struct ql_node){.lp = lp, .count = (uint32_t)lp_count(lp)};
    v->q = (struct quicklist){.head = &v->n, .tail = &v->n, .count = v->n.count, .len = 1};
    if (!v->n.count)
        v->q.head = v->q.tail = NULL, v->q.len = 0;
    return &v->q;
}

static const struct quicklist *view_of(const struct entry *e, struct view *v)
{
    return as_ql(entry_obj(e), entry_obj_enc(e), v);
}

/* ---- Encodings ---- */

struct entry *list_create(struct store *s, const char *key, size_t klen)
{
    return store_set_obj(s, key, klen, VT_LIST, OBJ_LISTPACK, lp_new(0));
}

size_t list_len(const struct entry *e)
{
    if (is_lp(e))
        return lp_count(entry_obj(e));
    return ((const struct quicklist *)entry_obj(e))->count;
}

void list_grow(struct entry *e, size_t add_bytes, size_t add_count)
{
    if (!is_lp(e))
        return;
    unsigned char *lp = entry_obj(e);
    int fill = cur_fill();
    size_t n = lp_count(lp);
    if (!ql_exceeds_limit(fill, lp_bytes(lp) + add_bytes, n + add_count))
        return;
    struct quicklist *ql = ql_new(fill);
    if (n)
        ql_append_lp(ql, lp);
    else
        lp_free(lp);
    entry_set_obj(e, OBJ_QUICKLIST, ql);
}

void list_shrink(struct entry *e)
{
    if (is_lp(e))
        return;
    struct quicklist *ql = entry_obj(e);
    if (ql->len != 1)
        return;
    size_t sz, count;
    ql_node_limit(cur_fill(), &sz, &count);
    if (lp_bytes(ql->head->lp) > sz / 2 || ql->count > count / 2)
        return;
    entry_set_obj(e, OBJ_LISTPACK, ql_release_single(ql));
}

/* ---- Ends ---- */

void list_push(struct entry *e, enum list_end where, const char *s, size_t len)
{
    if (is_lp(e)) {
        unsigned char *lp = entry_obj(e);
        lp = where == LIST_HEAD ? lp_prepend(lp, s, len) : lp_append(lp, s, len);
        entry_set_obj(e, OBJ_LISTPACK, lp);
    } else {
        ql_push(entry_obj(e), where == LIST_HEAD, s, len);
    }
}

size_t list_pop(struct entry *e, enum list_end where, size_t n, list_elem_fn fn, void *arg)
{
    size_t len = list_len(e);
    if (n > len)
        n = len;
    if (!n)
        return 0;
    bool head = where == LIST_HEAD;
    list_range(e, head ? 0 : len - 1, n, !head, fn, arg);
    int64_t start = head ? 0 : -(int64_t)n;
    if (is_lp(e))
        entry_set_obj(e, OBJ_LISTPACK, lp_delete_range(entry_obj(e), (long)start, n));
    else
        ql_del_range(entry_obj(e), start, n);
    if (n < len)
        list_shrink(e);
    return n;
}

bool list_peek(const struct entry *e, enum list_end where, list_elem_fn fn, void *arg)
{
    return list_index(e, where == LIST_HEAD ? 0 : -1, fn, arg);
}

/* ---- Positions ---- */

bool list_index(const struct entry *e, int64_t index, list_elem_fn fn, void *arg)
{
    struct view v;
    struct ql_pos pos;
    if (!ql_seek(view_of(e, &v), index, &pos))
        return false;
    emit(pos.p, fn, arg);
    return true;
}

bool list_set(struct entry *e, int64_t index, const char *s, size_t len)
{
    list_grow(e, len, 1);
    if (is_lp(e)) {
        unsigned char *lp = entry_obj(e);
        unsigned char *p = lp_seek(lp, (long)index);
        if (!p)
            return false;
        entry_set_obj(e, OBJ_LISTPACK, lp_replace(lp, &p, s, len));
    } else {
        struct quicklist *ql = entry_obj(e);
        struct ql_pos pos;
        if (!ql_seek(ql, index, &pos))
            return false;
        ql_replace(ql, &pos, s, len);
    }
    list_shrink(e);
    return true;
}

void list_range(const struct entry *e, size_t from, size_t n, bool reverse, list_elem_fn fn,
                void *arg)
{
    struct view v;
    struct ql_pos pos;
    if (!n || !ql_seek(view_of(e, &v), (int64_t)from, &pos))
        return;
    for (;;) {
        emit(pos.p, fn, arg);
        if (!--n || !(reverse ? ql_prev(&pos) : ql_next(&pos)))
            return;
    }
}

/* ---- Searches and edits ---- */

bool list_insert(struct entry *e, bool after, const char *pivot, size_t plen, const char *s,
                 size_t len)
{
    list_grow(e, len, 1);
    if (is_lp(e)) {
        unsigned char *lp = entry_obj(e);
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
            if (lp_eq(p, pivot, plen)) {
                lp = lp_insert(lp, &p, after ? LP_AFTER : LP_BEFORE, s, len);
                entry_set_obj(e, OBJ_LISTPACK, lp);
                return true;
            }
        }
        return false;
    }
    struct quicklist *ql = entry_obj(e);
    struct ql_pos pos;
    for (bool ok = ql_seek(ql, 0, &pos); ok; ok = ql_next(&pos)) {
        if (lp_eq(pos.p, pivot, plen)) {
            ql_insert(ql, &pos, after, s, len);
            return true;
        }
    }
    return false;
}

size_t list_rem(struct entry *e, int64_t count, const char *s, size_t len)
{
    bool back = count < 0;
    uint64_t limit = back ? 0 - (uint64_t)count : (uint64_t)count;
    size_t removed = 0;
    if (is_lp(e)) {
        unsigned char *lp = entry_obj(e);
        unsigned char *p = back ? lp_last(lp) : lp_first(lp);
        while (p) {
            if (!lp_eq(p, s, len)) {
                p = back ? lp_prev(lp, p) : lp_next(lp, p);
                continue;
            }
            lp = lp_delete(lp, &p); /* p: the follower toward the tail, or NULL */
            removed++;
            if (removed == limit)
                break;
            if (back)
                p = p ? lp_prev(lp, p) : lp_last(lp);
        }
        entry_set_obj(e, OBJ_LISTPACK, lp);
    } else {
        struct quicklist *ql = entry_obj(e);
        struct ql_pos pos;
        bool ok = ql_seek(ql, back ? -1 : 0, &pos);
        while (ok) {
            if (!lp_eq(pos.p, s, len)) {
                ok = back ? ql_prev(&pos) : ql_next(&pos);
                continue;
            }
            ql_delete(ql, &pos, !back);
            removed++;
            if (removed == limit)
                break;
            ok = pos.node != NULL;
        }
    }
    if (removed && list_len(e))
        list_shrink(e);
    return removed;
}

void list_trim(struct entry *e, size_t ltrim, size_t rtrim)
{
    if (is_lp(e)) {
        unsigned char *lp = entry_obj(e);
        if (ltrim)
            lp = lp_delete_range(lp, 0, ltrim);
        if (rtrim)
            lp = lp_delete_range(lp, -(long)rtrim, rtrim);
        entry_set_obj(e, OBJ_LISTPACK, lp);
    } else {
        struct quicklist *ql = entry_obj(e);
        ql_del_range(ql, 0, ltrim);
        ql_del_range(ql, -(int64_t)rtrim, rtrim);
    }
    if (list_len(e))
        list_shrink(e);
}

void list_find(const struct entry *e, const char *s, size_t len, bool from_tail,
               size_t maxlen, bool (*fn)(void *arg, size_t index), void *arg)
{
    struct view v;
    const struct quicklist *ql = view_of(e, &v);
    size_t llen = ql->count;
    struct ql_pos pos;
    bool ok = ql_seek(ql, from_tail ? -1 : 0, &pos);
    for (size_t i = 0; ok && (maxlen == 0 || i < maxlen); i++) {
        if (lp_eq(pos.p, s, len) && !fn(arg, from_tail ? llen - 1 - i : i))
            return;
        ok = from_tail ? ql_prev(&pos) : ql_next(&pos);
    }
}

/* ---- The object contract ---- */

void list_obj_free(void *obj, enum obj_enc enc)
{
    if (enc == OBJ_QUICKLIST)
        ql_free(obj);
    else
        lp_free(obj);
}

size_t list_obj_len(const void *obj, enum obj_enc enc)
{
    if (enc == OBJ_QUICKLIST)
        return ((const struct quicklist *)obj)->count;
    return lp_count(obj);
}

void list_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg)
{
    struct view v;
    struct ql_pos pos;
    char buf[LP_INTBUF];
    size_t len;
    for (bool ok = ql_seek(as_ql(obj, enc, &v), 0, &pos); ok; ok = ql_next(&pos)) {
        const unsigned char *s = lp_get_str(pos.p, &len, buf);
        if (!fn(arg, (const char *)s, len, NULL, 0, 0))
            return;
    }
}

/* Dump payload: a listpack is <count> <element>...; a quicklist is <nodes>, then per
 * node <count> <element>... (so its node layout comes back as it was). Counts are
 * varints, elements length-prefixed bytes (integers in decimal: a listpack stores
 * canonical decimals as integers again). */
static void dump_lp(const unsigned char *lp, struct buf *out)
{
    unsigned char *l = (unsigned char *)lp;
    char buf[LP_INTBUF];
    size_t len;
    store_put_varint(out, lp_count(l));
    for (unsigned char *p = lp_first(l); p; p = lp_next(l, p)) {
        const unsigned char *s = lp_get_str(p, &len, buf);
        store_put_bytes(out, (const char *)s, len);
    }
}

void list_obj_dump(const void *obj, enum obj_enc enc, struct buf *out)
{
    if (enc != OBJ_QUICKLIST) {
        dump_lp(obj, out);
        return;
    }
    const struct quicklist *ql = obj;
    store_put_varint(out, ql->len);
    for (const struct ql_node *n = ql->head; n; n = n->next)
        dump_lp(n->lp, out);
}

/* One listpack of at least one element; NULL when malformed. Every element takes at
 * least one byte, so a count larger than the bytes left is malformed before any
 * allocation is sized from it. */
static unsigned char *restore_lp(const char **p, const char *end)
{
    uint64_t count;
    if (!store_get_varint(p, end, &count) || count == 0 || count > (uint64_t)(end - *p) ||
        count > UINT32_MAX)
        return NULL;
    unsigned char *lp = lp_new(0);
    for (uint64_t i = 0; i < count; i++) {
        const char *s;
        size_t len;
        if (!store_get_bytes(p, end, &s, &len)) {
            lp_free(lp);
            return NULL;
        }
        lp = lp_append(lp, s, len);
    }
    return lp;
}

void *list_obj_restore(const char *p, size_t len, enum obj_enc *enc)
{
    const char *end = p + len;
    if (*enc == OBJ_LISTPACK) {
        unsigned char *lp = restore_lp(&p, end);
        if (lp && p != end) {
            lp_free(lp);
            return NULL;
        }
        return lp;
    }
    if (*enc != OBJ_QUICKLIST)
        return NULL;
    uint64_t nodes;
    if (!store_get_varint(&p, end, &nodes) || nodes == 0 || nodes > (uint64_t)(end - p))
        return NULL;
    struct quicklist *ql = ql_new(cur_fill());
    for (uint64_t i = 0; i < nodes; i++) {
        unsigned char *lp = restore_lp(&p, end);
        if (!lp) {
            ql_free(ql);
            return NULL;
        }
        ql_append_lp(ql, lp);
    }
    if (p != end) {
        ql_free(ql);
        return NULL;
    }
    return ql;
}
