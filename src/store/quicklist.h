/* Quicklist: a doubly linked chain of listpack nodes, the encoding of big lists
 * (OBJECT ENCODING "quicklist"), following Redis 7.2's quicklist.c in how nodes fill,
 * split and merge, so a list converts back to a single listpack when Redis's would.
 *
 * Node size: `fill` is list-max-listpack-size as it was when the quicklist was made
 * (as Redis keeps it): negative -1..-5 limits each node's listpack to 4/8/16/32/64 KiB,
 * positive limits its entry count (and, for safety, its size to 8 KiB unless a single
 * element is bigger). Every node holds at least one element: a node that empties is
 * unlinked at once, so `len` nodes hold `count` elements and count >= len.
 *
 * Positions (struct ql_pos) name one element: its node, its listpack position and its
 * offset within the node. A change to the quicklist invalidates every position except
 * the one a call updates. No compression (list-compress-depth is accepted, not applied),
 * no "plain" nodes: an element of any size lives in a listpack node of its own. */
#ifndef COREKV_STORE_QUICKLIST_H
#define COREKV_STORE_QUICKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ql_node {
    struct ql_node *prev, *next;
    unsigned char *lp;
    uint32_t count; /* elements in lp, >= 1 */
};

struct quicklist {
    struct ql_node *head, *tail;
    size_t count; /* elements in all nodes */
    size_t len;   /* nodes */
    int fill;     /* list-max-listpack-size, clamped to -5 .. 32767 */
};

struct ql_pos {
    struct ql_node *node; /* NULL: no element (past either end) */
    unsigned char *p;
    size_t offset; /* index of p within node */
};

/* Redis's quicklistNodeLimit: the byte and entry limits of one node for a fill value
 * (SIZE_MAX / SIZE_MAX when that dimension is unlimited). */
void ql_node_limit(int fill, size_t *sz, size_t *count);
/* Redis's quicklistNodeExceedsLimit: whether a listpack of new_sz bytes and new_count
 * elements is too big for one node. */
bool ql_exceeds_limit(int fill, size_t new_sz, size_t new_count);

struct quicklist *ql_new(int fill);
void ql_free(struct quicklist *ql);
/* Append a whole non-empty listpack as the new tail node; the quicklist owns it. */
void ql_append_lp(struct quicklist *ql, unsigned char *lp);
/* The listpack of the only node, detached; the quicklist is freed. ql->len must be 1. */
unsigned char *ql_release_single(struct quicklist *ql);

/* Add s[0..len) at the head or the tail: into the end node while it has room, else in
 * a new node. O(1) amortised (bounded by a node's size). */
void ql_push(struct quicklist *ql, bool head, const char *s, size_t len);

/* Position of the element at index (negative: from the tail), walking nodes by their
 * counts from the nearer end. False when out of range. */
bool ql_seek(const struct quicklist *ql, int64_t index, struct ql_pos *pos);
/* Step to the next (toward the tail) / previous element; false (pos->node NULL) past
 * the end. */
bool ql_next(struct ql_pos *pos);
bool ql_prev(struct ql_pos *pos);

/* Replace the element at pos with s (Redis's quicklistReplaceEntry: in place when the
 * node has room, else in a node of its own, merging neighbours after). pos becomes
 * invalid. */
void ql_replace(struct quicklist *ql, struct ql_pos *pos, const char *s, size_t len);
/* Insert s before or after the element at pos (Redis's _quicklistInsert: into the node
 * if it has room, else at the edge of a neighbour, else a new node or a split). pos
 * becomes invalid. */
void ql_insert(struct quicklist *ql, struct ql_pos *pos, bool after, const char *s,
               size_t len);
/* Delete the element at pos; pos then names the element that followed it in the
 * direction of iteration (toward the tail when forward), or none. Emptied nodes are
 * unlinked; nothing is merged (as Redis). */
void ql_delete(struct quicklist *ql, struct ql_pos *pos, bool forward);
/* Delete count elements from index start (negative from the tail), clamped at the end.
 * Whole nodes in the range are freed without visiting their elements. */
void ql_del_range(struct quicklist *ql, int64_t start, size_t count);

#endif
