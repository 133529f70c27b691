/* Sorted sets: the value of a VT_ZSET entry, in one of two encodings.
 *
 *   OBJ_LISTPACK  a listpack of (member, score) pairs sorted by (score, member); used
 *                 while the set has at most zset-max-listpack-entries members, each at
 *                 most zset-max-listpack-value bytes. Scores are stored as Redis does:
 *                 the "%.17g" text (an integer element when that text is one).
 *   OBJ_SKIPLIST  a struct zsl (store/zskiplist.h): Redis's skiplist with spans (O(log n)
 *                 rank) whose nodes hold the member bytes, plus a chained hash index of
 *                 node pointers by member (the bytes are never stored twice).
 *
 * Order: ascending score, then member bytes by memcmp, a shorter member first when one
 * is a prefix of the other (Redis's sdscmp). Scores are never NaN; -inf and +inf are
 * allowed. An encoding only ever converts listpack -> skiplist while the value lives;
 * zs_shrink converts back for a freshly built result (ZRANGESTORE, ZUNIONSTORE...).
 *
 * Everything here works on a struct zs: the object pointer and its encoding, as held
 * in the entry (entry_obj / entry_obj_enc). A call that may change the object (add,
 * delete, ...) may move it or change its encoding: after it, store the new pair back
 * with entry_set_obj(e, z.enc, z.obj). zs_of / zs_put do exactly that.
 *
 * Member bytes returned by lookups and iterators stay valid until the set changes;
 * for a listpack member stored as an integer they point into the caller's or the
 * iterator's small buffer. */
#ifndef COREKV_STORE_ZSET_H
#define COREKV_STORE_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/listpack.h"
#include "store/object.h"
#include "store/store.h"

struct zs {
    void *obj;          /* unsigned char * listpack, or struct zsl * */
    enum obj_enc enc;   /* OBJ_LISTPACK or OBJ_SKIPLIST */
};

/* The zset of a VT_ZSET entry, and storing a (possibly moved) one back into it. */
struct zs zs_of(const struct entry *e);
void zs_put(struct entry *e, const struct zs *z);

/* ---- Creation, size, release ---- */

/* An empty set sized for about n members whose longest is maxlen bytes: a listpack when
 * n <= zset-max-listpack-entries and maxlen <= zset-max-listpack-value (and the entries
 * limit is not 0), else a skiplist (as Redis's zsetTypeCreate). */
struct zs zs_create(size_t n, size_t maxlen);
void zs_free(struct zs *z);
/* Convert to the skiplist encoding (no-op when already), as Redis's SORT does to any
 * sorted set it reads. */
void zs_to_skiplist(struct zs *z);
size_t zs_len(const struct zs *z);
/* Bytes allocated (MEMORY USAGE, benchmarks). */
size_t zs_mem(const struct zs *z);

/* ---- Single members ---- */

/* Flags of zs_add (ZADD's options). */
enum {
    ZS_NX = 1u << 0,    /* only add new members */
    ZS_XX = 1u << 1,    /* only update existing members */
    ZS_GT = 1u << 2,    /* update only when the new score is greater */
    ZS_LT = 1u << 3,    /* update only when the new score is less */
    ZS_INCR = 1u << 4,  /* score is an increment of the current score (0 when new) */
};
/* What zs_add did. */
enum zs_add_res {
    ZS_NAN = -1,        /* INCR produced NaN (+inf + -inf): nothing changed */
    ZS_NOP = 0,         /* refused: NX on an existing member, XX on an absent one,
                           GT/LT against the current score */
    ZS_ADDED = 1,       /* a new member */
    ZS_UPDATED = 2,     /* an existing member got a different score */
    ZS_SAME = 3,        /* accepted, but the member already had exactly that score */
};
/* Add member m with score (never NaN), or update it, per flags. *newscore (may be
 * NULL) receives the member's score for ZS_ADDED, ZS_UPDATED and ZS_SAME (INCR's
 * reply); it is left alone for ZS_NOP. Converts the listpack to a skiplist
 * past the thresholds. O(log n) on a skiplist. */
enum zs_add_res zs_add(struct zs *z, const char *m, size_t len, double score, unsigned flags,
                       double *newscore);
/* Remove member m; false when absent. The caller deletes the key when zs_len is 0. */
bool zs_delete(struct zs *z, const char *m, size_t len);
/* The score of member m; false when absent. O(1) expected on a skiplist. */
bool zs_score(const struct zs *z, const char *m, size_t len, double *score);
/* The 0-based rank of m in ascending order (descending when rev), and its score
 * (may be NULL); -1 when absent. O(log n) on a skiplist. */
int64_t zs_rank(const struct zs *z, const char *m, size_t len, bool rev, double *score);

/* ---- Ranges ---- */

/* A score interval: [min, max], either end exclusive ("(1.5"). */
struct zs_range {
    double min, max;
    bool minex, maxex;
};
/* A lexicographic interval: a bound is "-" (below everything), "+" (above everything),
 * or bytes, inclusive ("[a") or exclusive ("(a"). Bytes point into the arguments. */
enum { ZLEX_VAL = 0, ZLEX_NEG = 1, ZLEX_POS = 2 };
struct zs_lexrange {
    const char *min, *max;
    size_t minlen, maxlen;
    uint8_t minkind, maxkind; /* ZLEX_* */
    bool minex, maxex;
};
/* Parse Redis's bound syntax; false when malformed (Redis replies "ERR min or max is
 * not a float" / "ERR min or max not valid string range item"). */
bool zs_parse_range(const char *min, size_t minlen, const char *max, size_t maxlen,
                    struct zs_range *r);
bool zs_parse_lexrange(const char *min, size_t minlen, const char *max, size_t maxlen,
                       struct zs_lexrange *r);

/* Members in an interval: O(log n) on a skiplist. */
size_t zs_count_range(const struct zs *z, const struct zs_range *r);
size_t zs_count_lex(const struct zs *z, const struct zs_lexrange *r);

/* Removals; each returns how many members it removed. Ranks are 0-based and inclusive,
 * already clamped by the caller to 0 <= start <= end < len. */
size_t zs_delete_rank(struct zs *z, size_t start, size_t end);
size_t zs_delete_range(struct zs *z, const struct zs_range *r);
size_t zs_delete_lex(struct zs *z, const struct zs_lexrange *r);

/* ---- Ordered iteration ----
 *
 * An iterator walks in ascending order (descending when rev), from a start position,
 * and stops at the end of the set or of its interval. The set must not change while
 * the iterator is in use. Typical use:
 *
 *     struct zs_iter it;
 *     zs_iter_rank(&it, &z, 0, false);
 *     const char *m; size_t len; double sc;
 *     while (zs_iter_next(&it, &m, &len, &sc)) ...
 */
struct zs_iter {
    const struct zs *z;
    bool rev;
    uint8_t kind;               /* internal: none, score or lex interval */
    void *pos;                  /* internal: listpack element or skiplist node; NULL at end */
    struct zs_range r;
    struct zs_lexrange lr;
    char buf[LP_INTBUF];        /* a listpack integer member, formatted */
};
/* Start at rank `start` counted in the walk's direction (0 = first; past the end: an
 * empty walk). O(log n) on a skiplist. */
void zs_iter_rank(struct zs_iter *it, const struct zs *z, size_t start, bool rev);
/* Start at the first member inside r in the walk's direction (rev: the greatest), and
 * end after the last one inside. r is copied. */
void zs_iter_range(struct zs_iter *it, const struct zs *z, const struct zs_range *r, bool rev);
void zs_iter_lex(struct zs_iter *it, const struct zs *z, const struct zs_lexrange *r, bool rev);
/* The next member; false at the end. */
bool zs_iter_next(struct zs_iter *it, const char **m, size_t *len, double *score);

/* ZSCAN: fn for the members the cursor covers; returns the next cursor. A listpack
 * is visited whole at once (cursor 0 back), as Redis does. */
uint64_t zs_scan(const struct zs *z, uint64_t cursor,
                 void (*fn)(void *arg, const char *m, size_t len, double score), void *arg);

/* The member at 0-based ascending rank (rank < zs_len); buf holds a listpack integer
 * member. O(log n) on a skiplist, O(rank) on a listpack. */
void zs_at(const struct zs *z, size_t rank, const char **m, size_t *len, double *score,
           char buf[LP_INTBUF]);

/* ---- Results stored as keys (ZRANGESTORE, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE) ----
 *
 * Build the result with zs_create(n, maxlen) + zs_add, then zs_store it. */

/* Convert a skiplist back to a listpack when it is small enough for one (members and
 * longest member within the thresholds), as Redis's zsetConvertToListpackIfNeeded. */
void zs_shrink(struct zs *z);
enum zs_store_res {
    ZS_STORED = 1,        /* key now holds the result: notify "<command>" */
    ZS_STORE_EMPTY = 0,   /* empty result, key did not exist: nothing to notify */
    ZS_STORE_DELETED = -1 /* empty result, the old key was deleted: notify "del" */
};
/* Store z as key (replacing any value of any type and its TTL; zs_shrink applied) or,
 * when z is empty, delete key. Takes ownership of z's object in every case. The caller
 * calls cmd_key_written per the result. */
enum zs_store_res zs_store(struct store *s, const char *key, size_t klen, struct zs *z);

#endif
