/* Quicklist: a chain of listpack nodes (see quicklist.h). The node-filling rules follow
 * Redis 7.2's quicklist.c, so the shape of a chain (and with it the moment a list
 * converts back to a listpack) matches Redis's for the same commands. */
#include "store/quicklist.h"

#include <stdlib.h>

#include "store/entry.h"
#include "store/listpack.h"

/* A node of a positive fill still stays below this size (Redis's SIZE_SAFETY_LIMIT). */
#define SIZE_SAFETY_LIMIT 8192u
/* Bytes an element may add beyond its length when estimating room (Redis's
 * SIZE_ESTIMATE_OVERHEAD): an overestimate keeps nodes a little under the limit. */
#define SIZE_ESTIMATE_OVERHEAD 8u
/* One listpack header and terminator, saved when two nodes merge. */
#define LP_OVERHEAD 7u
#define FILL_MAX 32767

static const size_t node_size_levels[] = {4096, 8192, 16384, 32768, 65536};

void ql_node_limit(int fill, size_t *sz, size_t *count)
{
    *sz = SIZE_MAX;
    *count = SIZE_MAX;
    if (fill >= 0) {
        *count = fill == 0 ? 1 : (size_t)fill;
    } else {
        size_t level = (size_t)(-(int64_t)fill) - 1;
        size_t nlevels = sizeof node_size_levels / sizeof node_size_levels[0];
        if (level >= nlevels)
            level = nlevels - 1;
        *sz = node_size_levels[level];
    }
}

bool ql_exceeds_limit(int fill, size_t new_sz, size_t new_count)
{
    size_t sz, count;
    ql_node_limit(fill, &sz, &count);
    if (sz != SIZE_MAX)
        return new_sz > sz;
    if (new_sz > SIZE_SAFETY_LIMIT)
        return true;
    return new_count > count;
}

/* ---- Nodes ---- */

static struct ql_node *node_new(unsigned char *lp, uint32_t count)
{
    struct ql_node *n = store_xmalloc(sizeof *n);
    n->prev = n->next = NULL;
    n->lp = lp;
    n->count = count;
    return n;
}

static struct ql_node *node_single(const char *s, size_t len)
{
    return node_new(lp_append(lp_new(len + 16), s, len), 1);
}

/* Link n next to old (after it or before it); old NULL: n is the first node. */
static void link_node(struct quicklist *ql, struct ql_node *old, struct ql_node *n, bool after)
{
    if (!old) {
        n->prev = n->next = NULL;
        ql->head = ql->tail = n;
    } else if (after) {
        n->prev = old;
        n->next = old->next;
        if (old->next)
            old->next->prev = n;
        old->next = n;
        if (ql->tail == old)
            ql->tail = n;
    } else {
        n->next = old;
        n->prev = old->prev;
        if (old->prev)
            old->prev->next = n;
        old->prev = n;
        if (ql->head == old)
            ql->head = n;
    }
    ql->len++;
}

/* Unlink and free n with its elements (subtracted from the count). */
static void unlink_free(struct quicklist *ql, struct ql_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->len--;
    ql->count -= n->count;
    lp_free(n->lp);
    free(n);
}

/* Redis's isLargeElement: such an element always gets a node of its own. */
static bool large_element(size_t sz) { return sz >= ((size_t)1 << 30); }

static bool allow_insert(const struct quicklist *ql, const struct ql_node *n, size_t sz)
{
    if (!n || large_element(sz))
        return false;
    return !ql_exceeds_limit(ql->fill, lp_bytes(n->lp) + sz + SIZE_ESTIMATE_OVERHEAD,
                             (size_t)n->count + 1);
}

static bool allow_merge(const struct quicklist *ql, const struct ql_node *a,
                        const struct ql_node *b)
{
    if (!a || !b)
        return false;
    return !ql_exceeds_limit(ql->fill, lp_bytes(a->lp) + lp_bytes(b->lp) - LP_OVERHEAD,
                             (size_t)a->count + b->count);
}

/* Move every element of `from` to the tail (or head) of `to`, preserving order. */
static void move_elements(struct ql_node *to, struct ql_node *from, bool to_tail)
{
    char buf[LP_INTBUF];
    size_t len;
    if (to_tail) {
        for (unsigned char *p = lp_first(from->lp); p; p = lp_next(from->lp, p)) {
            const unsigned char *s = lp_get_str(p, &len, buf);
            to->lp = lp_append(to->lp, (const char *)s, len);
        }
    } else {
        for (unsigned char *p = lp_last(from->lp); p; p = lp_prev(from->lp, p)) {
            const unsigned char *s = lp_get_str(p, &len, buf);
            to->lp = lp_prepend(to->lp, (const char *)s, len);
        }
    }
    to->count += from->count;
}

/* Merge a with b (a left of b): the smaller node's elements move into the bigger one
 * (as Redis's lpMerge keeps the bigger listpack) and the emptied node is freed.
 * Returns the node kept. */
static struct ql_node *merge(struct quicklist *ql, struct ql_node *a, struct ql_node *b)
{
    struct ql_node *keep, *drop;
    if (lp_bytes(a->lp) >= lp_bytes(b->lp)) {
        move_elements(a, b, true);
        keep = a;
        drop = b;
    } else {
        move_elements(b, a, false);
        keep = b;
        drop = a;
    }
    ql->count += drop->count; /* unlink_free subtracts what moved, not what was lost */
    unlink_free(ql, drop);
    return keep;
}

/* Redis's _quicklistMergeNodes: try (prev_prev, prev), (next, next_next), (prev,
 * center), (center, next). */
static void merge_around(struct quicklist *ql, struct ql_node *center)
{
    struct ql_node *prev = center->prev, *next = center->next;
    struct ql_node *prev_prev = prev ? prev->prev : NULL;
    struct ql_node *next_next = next ? next->next : NULL;
    if (allow_merge(ql, prev, prev_prev))
        merge(ql, prev_prev, prev);
    if (allow_merge(ql, next, next_next))
        merge(ql, next, next_next);
    struct ql_node *target = center;
    if (allow_merge(ql, center, center->prev))
        target = merge(ql, center->prev, center);
    if (allow_merge(ql, target, target->next))
        merge(ql, target, target->next);
}

/* Redis's _quicklistSplitNode. after: n keeps [0, offset], the new node gets the rest;
 * else the new node gets [0, offset) and n keeps [offset, end]. */
static struct ql_node *split_node(struct ql_node *n, size_t offset, bool after)
{
    size_t first = after ? offset + 1 : 0;
    size_t take = after ? n->count - offset - 1 : offset;
    unsigned char *lp = lp_new(lp_bytes(n->lp) / 2 + 16);
    char buf[LP_INTBUF];
    size_t len;
    unsigned char *p = lp_seek(n->lp, (long)first);
    for (size_t i = 0; i < take && p; i++, p = lp_next(n->lp, p)) {
        const unsigned char *s = lp_get_str(p, &len, buf);
        lp = lp_append(lp, (const char *)s, len);
    }
    n->lp = lp_delete_range(n->lp, (long)first, take);
    n->count -= (uint32_t)take;
    return node_new(lp, (uint32_t)take);
}

/* ---- The chain ---- */

struct quicklist *ql_new(int fill)
{
    struct quicklist *ql = store_xcalloc(1, sizeof *ql);
    ql->fill = fill > FILL_MAX ? FILL_MAX : fill < -5 ? -5 : fill;
    return ql;
}

void ql_free(struct quicklist *ql)
{
    if (!ql)
        return;
    struct ql_node *n = ql->head;
    while (n) {
        struct ql_node *next = n->next;
        lp_free(n->lp);
        free(n);
        n = next;
    }
    free(ql);
}

void ql_append_lp(struct quicklist *ql, unsigned char *lp)
{
    size_t count = lp_count(lp);
    link_node(ql, ql->tail, node_new(lp, (uint32_t)count), true);
    ql->count += count;
}

unsigned char *ql_release_single(struct quicklist *ql)
{
    unsigned char *lp = ql->head->lp;
    free(ql->head);
    free(ql);
    return lp;
}

void ql_push(struct quicklist *ql, bool head, const char *s, size_t len)
{
    struct ql_node *end = head ? ql->head : ql->tail;
    if (allow_insert(ql, end, len)) {
        end->lp = head ? lp_prepend(end->lp, s, len) : lp_append(end->lp, s, len);
        end->count++;
    } else {
        link_node(ql, end, node_single(s, len), !head);
    }
    ql->count++;
}

/* ---- Positions ---- */

static void pos_at(struct ql_pos *pos, struct ql_node *n, bool first)
{
    pos->node = n;
    if (!n)
        return;
    pos->p = first ? lp_first(n->lp) : lp_last(n->lp);
    pos->offset = first ? 0 : n->count - 1;
}

bool ql_seek(const struct quicklist *ql, int64_t index, struct ql_pos *pos)
{
    uint64_t abs;
    if (index >= 0)
        abs = (uint64_t)index;
    else if ((uint64_t)(-(index + 1)) < ql->count)
        abs = ql->count - 1 - (uint64_t)(-(index + 1));
    else
        abs = UINT64_MAX;
    pos->node = NULL;
    if (abs >= ql->count)
        return false;
    struct ql_node *n;
    size_t offset;
    if (abs <= (ql->count - 1) / 2) {
        uint64_t left = abs;
        for (n = ql->head; left >= n->count; n = n->next)
            left -= n->count;
        offset = (size_t)left;
    } else {
        uint64_t left = ql->count - 1 - abs; /* counted from the tail */
        for (n = ql->tail; left >= n->count; n = n->prev)
            left -= n->count;
        offset = n->count - 1 - (size_t)left;
    }
    pos->node = n;
    pos->offset = offset;
    pos->p = lp_seek(n->lp, (long)offset);
    return true;
}

bool ql_next(struct ql_pos *pos)
{
    unsigned char *p = lp_next(pos->node->lp, pos->p);
    if (p) {
        pos->p = p;
        pos->offset++;
        return true;
    }
    pos_at(pos, pos->node->next, true);
    return pos->node != NULL;
}

bool ql_prev(struct ql_pos *pos)
{
    unsigned char *p = lp_prev(pos->node->lp, pos->p);
    if (p) {
        pos->p = p;
        pos->offset--;
        return true;
    }
    pos_at(pos, pos->node->prev, false);
    return pos->node != NULL;
}

/* ---- Edits ---- */

void ql_insert(struct quicklist *ql, struct ql_pos *pos, bool after, const char *s, size_t len)
{
    struct ql_node *n = pos->node;
    bool full = !allow_insert(ql, n, len);
    bool at_tail = after && pos->offset == n->count - 1;
    bool at_head = !after && pos->offset == 0;
    bool avail_next = at_tail && allow_insert(ql, n->next, len);
    bool avail_prev = at_head && allow_insert(ql, n->prev, len);

    if (large_element(len)) {
        if (at_tail || at_head) {
            link_node(ql, n, node_single(s, len), after);
        } else {
            struct ql_node *rest = split_node(n, pos->offset, after);
            struct ql_node *mid = node_single(s, len);
            link_node(ql, n, mid, after);
            link_node(ql, mid, rest, after);
        }
    } else if (!full) {
        unsigned char *p = pos->p;
        n->lp = lp_insert(n->lp, &p, after ? LP_AFTER : LP_BEFORE, s, len);
        n->count++;
    } else if (at_tail && avail_next) {
        n->next->lp = lp_prepend(n->next->lp, s, len);
        n->next->count++;
    } else if (at_head && avail_prev) {
        n->prev->lp = lp_append(n->prev->lp, s, len);
        n->prev->count++;
    } else if (at_tail || at_head) {
        link_node(ql, n, node_single(s, len), after);
    } else {
        struct ql_node *nn = split_node(n, pos->offset, after);
        nn->lp = after ? lp_prepend(nn->lp, s, len) : lp_append(nn->lp, s, len);
        nn->count++;
        link_node(ql, n, nn, after);
        ql->count++;
        merge_around(ql, n);
        pos->node = NULL;
        return;
    }
    ql->count++;
    pos->node = NULL;
}

void ql_replace(struct quicklist *ql, struct ql_pos *pos, const char *s, size_t len)
{
    struct ql_node *n = pos->node;
    if (!large_element(len)) {
        unsigned char *p = pos->p;
        n->lp = lp_replace(n->lp, &p, s, len);
        pos->node = NULL;
        return;
    }
    /* Redis: insert the big element after the old one (in a node of its own), then
     * delete the old one. */
    struct ql_pos at = *pos;
    ql_insert(ql, &at, true, s, len);
    if (n->count == 1) {
        unlink_free(ql, n);
    } else {
        unsigned char *p = lp_last(n->lp);
        n->lp = lp_delete(n->lp, &p);
        n->count--;
        ql->count--;
    }
    pos->node = NULL;
}

void ql_delete(struct quicklist *ql, struct ql_pos *pos, bool forward)
{
    struct ql_node *n = pos->node;
    if (n->count == 1) {
        struct ql_node *to = forward ? n->next : n->prev;
        unlink_free(ql, n);
        pos_at(pos, to, forward);
        return;
    }
    unsigned char *p = pos->p;
    n->lp = lp_delete(n->lp, &p);
    n->count--;
    ql->count--;
    if (forward) {
        if (p)
            pos->p = p; /* the same offset now names the follower */
        else
            pos_at(pos, n->next, true);
    } else if (pos->offset == 0) {
        pos_at(pos, n->prev, false);
    } else {
        pos->offset--;
        pos->p = p ? lp_prev(n->lp, p) : lp_last(n->lp);
    }
}

void ql_del_range(struct quicklist *ql, int64_t start, size_t count)
{
    struct ql_pos pos;
    if (!count || !ql_seek(ql, start, &pos))
        return;
    /* Clamp to the elements from start to the tail. */
    size_t abs = start >= 0 ? (size_t)start : ql->count - (size_t)(-(start + 1)) - 1;
    size_t left = ql->count - abs < count ? ql->count - abs : count;
    struct ql_node *n = pos.node;
    size_t offset = pos.offset;
    while (left && n) {
        struct ql_node *next = n->next;
        if (offset == 0 && left >= n->count) {
            left -= n->count;
            unlink_free(ql, n);
        } else {
            size_t del = n->count - offset < left ? n->count - offset : left;
            n->lp = lp_delete_range(n->lp, (long)offset, del);
            n->count -= (uint32_t)del;
            ql->count -= del;
            left -= del;
        }
        n = next;
        offset = 0;
    }
}
