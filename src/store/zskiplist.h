/* The "skiplist" encoding of sorted sets: Redis's skiplist (p = 1/4, at most 32 levels,
 * spans on every link so a rank costs O(log n)) and a member index.
 *
 * Memory: a member's bytes live once, at the end of its node. The index is a chained
 * hash table whose chain link (hnext) is a field of the node itself, so indexing a
 * member costs one bucket pointer and nothing else. The index grows and shrinks by
 * incremental rehash (a bucket or so moved per operation), so no single call on a big
 * set pays for a whole resize.
 *
 * Internal to store/ (zset.c and the unit tests); commands use store/zset.h. */
#ifndef COREKV_STORE_ZSKIPLIST_H
#define COREKV_STORE_ZSKIPLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/zset.h"

#define ZSL_MAXLEVEL 32

struct zsl_node;
struct zsl_level {
    struct zsl_node *fwd;
    size_t span; /* nodes crossed by following fwd (1 for the next node) */
};
struct zsl_node {
    double score;
    struct zsl_node *backward; /* level-0 predecessor; NULL for the first node */
    struct zsl_node *hnext;    /* next node in the same index bucket */
    uint32_t len;              /* member bytes, stored right after lv[level] */
    uint8_t level;             /* 1..ZSL_MAXLEVEL */
    struct zsl_level lv[];
};

static inline const char *zsl_member(const struct zsl_node *n)
{
    return (const char *)&n->lv[n->level];
}

struct zsl {
    struct zsl_node *header; /* ZSL_MAXLEVEL levels, no member */
    struct zsl_node *tail;
    size_t length;
    int level;
    /* Index: t[0] (and t[1] while rehashing into it), power-of-two sizes. */
    struct zsl_node **t[2];
    size_t size[2], used[2];
    size_t rehash; /* next bucket of t[0] to move; SIZE_MAX when not rehashing */
    uint64_t seed;
};

struct zsl *zsl_new(size_t hint);
void zsl_free(struct zsl *z);
size_t zsl_mem(const struct zsl *z);

/* Order of (score, member) pairs: <0, 0, >0. */
int zsl_cmp(double s1, const char *m1, size_t l1, double s2, const char *m2, size_t l2);
/* Lex bounds: whether m is above the minimum / below the maximum of r. */
bool zsl_lex_gte_min(const char *m, size_t len, const struct zs_lexrange *r);
bool zsl_lex_lte_max(const char *m, size_t len, const struct zs_lexrange *r);
static inline bool zsl_gte_min(double v, const struct zs_range *r)
{
    return r->minex ? v > r->min : v >= r->min;
}
static inline bool zsl_lte_max(double v, const struct zs_range *r)
{
    return r->maxex ? v < r->max : v <= r->max;
}

/* The node of member m, or NULL. */
struct zsl_node *zsl_find(struct zsl *z, const char *m, size_t len);
/* Insert member m (which must be absent) with score. */
struct zsl_node *zsl_insert(struct zsl *z, double score, const char *m, size_t len);
/* Unlink n from the list and the index, and free it. */
void zsl_delete(struct zsl *z, struct zsl_node *n);
/* Give n a new score, moving it if its position changes (the node stays the same). */
void zsl_update(struct zsl *z, struct zsl_node *n, double score);
/* 1-based rank of n. */
size_t zsl_rank(const struct zsl *z, const struct zsl_node *n);
/* The node at 1-based rank, or NULL when out of range. */
struct zsl_node *zsl_at(const struct zsl *z, size_t rank);

/* First / last node inside an interval, or NULL. */
struct zsl_node *zsl_first_in(const struct zsl *z, const struct zs_range *r);
struct zsl_node *zsl_last_in(const struct zsl *z, const struct zs_range *r);
struct zsl_node *zsl_first_in_lex(const struct zsl *z, const struct zs_lexrange *r);
struct zsl_node *zsl_last_in_lex(const struct zsl *z, const struct zs_lexrange *r);

/* Delete the nodes of 1-based ranks start..end (inclusive); returns how many. */
size_t zsl_delete_ranks(struct zsl *z, size_t start, size_t end);

/* Redis's reverse-binary cursor scan of the index: fn for each node of the bucket(s)
 * cursor v covers; returns the next cursor, 0 when done. */
uint64_t zsl_scan(const struct zsl *z, uint64_t v, void (*fn)(const struct zsl_node *n, void *arg),
                  void *arg);

#endif
