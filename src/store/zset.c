/* Sorted sets (see zset.h): the two encodings behind one interface, conversion, and the
 * object contract (free, dump, restore, len, each).
 *
 * Listpack layout: member, score, member, score ... ascending by (score, member). A
 * position `p` below is always a member element; its score is the next element. */
#include "store/zset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "store/entry.h"
#include "store/zskiplist.h"

#define ZSL(z) ((struct zsl *)(z)->obj)
#define ZLP(z) ((unsigned char *)(z)->obj)

struct zs zs_of(const struct entry *e)
{
    struct zs z = {entry_obj(e), entry_obj_enc(e)};
    return z;
}

void zs_put(struct entry *e, const struct zs *z) { entry_set_obj(e, z->enc, z->obj); }

/* ---- Listpack helpers ---- */

static double lp_score(const unsigned char *p)
{
    struct lp_val v;
    lp_get(p, &v);
    if (!v.s)
        return (double)v.i;
    double d = 0;
    /* Scores are written by this file ("%.17g" text): always parse. */
    (void)str_to_double((const char *)v.s, v.len, &d);
    return d;
}

static const char *lp_member(const unsigned char *p, size_t *len, char buf[LP_INTBUF])
{
    return (const char *)lp_get_str(p, len, buf);
}

static int score_text(char *buf, size_t cap, double score)
{
    /* Redis 7.0's listpack keeps -0 as 0 (a skiplist keeps -0): so does this one. */
    if (score == 0)
        score = 0;
    return double_to_str(buf, cap, score);
}

/* The member element of m, or NULL. */
static unsigned char *lp_find_member(unsigned char *lp, const char *m, size_t len)
{
    unsigned char *p = lp_first(lp);
    return p ? lp_find(lp, p, m, len, 1) : NULL;
}

/* Insert (m, score) at its place. */
static unsigned char *lp_insert_sorted(unsigned char *lp, const char *m, size_t len, double score)
{
    char sb[64];
    int sl = score_text(sb, sizeof sb, score);
    char ib[LP_INTBUF];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        size_t ml;
        const char *pm = lp_member(p, &ml, ib);
        if (zsl_cmp(lp_score(lp_next(lp, p)), pm, ml, score, m, len) > 0) {
            lp = lp_insert(lp, &p, LP_BEFORE, m, len);
            return lp_insert(lp, &p, LP_AFTER, sb, (size_t)sl);
        }
    }
    lp = lp_append(lp, m, len);
    return lp_append(lp, sb, (size_t)sl);
}

static unsigned char *lp_delete_pair(unsigned char *lp, unsigned char **p)
{
    lp = lp_delete(lp, p);
    return lp_delete(lp, p);
}

/* ---- Creation and conversion ---- */

static bool fits_listpack(size_t n, size_t maxlen)
{
    return n <= (size_t)obj_limit(LIM_ZSET_LP_ENTRIES) &&
           maxlen <= (size_t)obj_limit(LIM_ZSET_LP_VALUE) && obj_limit(LIM_ZSET_LP_ENTRIES) > 0;
}

struct zs zs_create(size_t n, size_t maxlen)
{
    struct zs z;
    if (fits_listpack(n, maxlen)) {
        z.enc = OBJ_LISTPACK;
        z.obj = lp_new(0);
    } else {
        z.enc = OBJ_SKIPLIST;
        z.obj = zsl_new(n < ((size_t)1 << 26) ? n : ((size_t)1 << 26));
    }
    return z;
}

static void to_skiplist(struct zs *z)
{
    if (z->enc != OBJ_LISTPACK)
        return;
    unsigned char *lp = ZLP(z);
    struct zsl *sl = zsl_new(lp_count(lp) / 2 + 1);
    char ib[LP_INTBUF];
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        size_t ml;
        const char *m = lp_member(p, &ml, ib);
        zsl_insert(sl, lp_score(lp_next(lp, p)), m, ml);
    }
    lp_free(lp);
    z->obj = sl;
    z->enc = OBJ_SKIPLIST;
}

void zs_to_skiplist(struct zs *z) { to_skiplist(z); }

void zs_free(struct zs *z)
{
    if (!z->obj)
        return;
    if (z->enc == OBJ_LISTPACK)
        lp_free(ZLP(z));
    else
        zsl_free(ZSL(z));
    z->obj = NULL;
}

size_t zs_len(const struct zs *z)
{
    return z->enc == OBJ_LISTPACK ? lp_count(ZLP(z)) / 2 : ZSL(z)->length;
}

size_t zs_mem(const struct zs *z)
{
    return z->enc == OBJ_LISTPACK ? lp_bytes(ZLP(z)) : zsl_mem(ZSL(z));
}

/* ---- Single members ---- */

enum zs_add_res zs_add(struct zs *z, const char *m, size_t len, double score, unsigned flags,
                       double *newscore)
{
    bool nx = flags & ZS_NX, xx = flags & ZS_XX, gt = flags & ZS_GT, lt = flags & ZS_LT;
    double cur = 0;
    unsigned char *p = NULL;
    struct zsl_node *n = NULL;
    bool exists;
    if (z->enc == OBJ_LISTPACK) {
        p = lp_find_member(ZLP(z), m, len);
        exists = p != NULL;
        if (exists)
            cur = lp_score(lp_next(ZLP(z), p));
    } else {
        n = zsl_find(ZSL(z), m, len);
        exists = n != NULL;
        if (exists)
            cur = n->score;
    }
    if (exists) {
        if (nx)
            return ZS_NOP;
        if (flags & ZS_INCR) {
            score += cur;
            if (isnan(score))
                return ZS_NAN;
        }
        if ((lt && score >= cur) || (gt && score <= cur))
            return ZS_NOP;
        if (newscore)
            *newscore = score;
        if (score == cur)
            return ZS_SAME;
        if (z->enc == OBJ_LISTPACK) {
            z->obj = lp_delete_pair(ZLP(z), &p);
            z->obj = lp_insert_sorted(ZLP(z), m, len, score);
        } else {
            zsl_update(ZSL(z), n, score);
        }
        return ZS_UPDATED;
    }
    if (xx)
        return ZS_NOP;
    if (z->enc == OBJ_LISTPACK) {
        if (zs_len(z) + 1 > (size_t)obj_limit(LIM_ZSET_LP_ENTRIES) ||
            len > (size_t)obj_limit(LIM_ZSET_LP_VALUE))
            to_skiplist(z);
        else
            z->obj = lp_insert_sorted(ZLP(z), m, len, score);
    }
    if (z->enc == OBJ_SKIPLIST)
        zsl_insert(ZSL(z), score, m, len);
    if (newscore)
        *newscore = score;
    return ZS_ADDED;
}

bool zs_delete(struct zs *z, const char *m, size_t len)
{
    if (z->enc == OBJ_LISTPACK) {
        unsigned char *p = lp_find_member(ZLP(z), m, len);
        if (!p)
            return false;
        z->obj = lp_delete_pair(ZLP(z), &p);
        return true;
    }
    struct zsl_node *n = zsl_find(ZSL(z), m, len);
    if (!n)
        return false;
    zsl_delete(ZSL(z), n);
    return true;
}

bool zs_score(const struct zs *z, const char *m, size_t len, double *score)
{
    if (z->enc == OBJ_LISTPACK) {
        unsigned char *p = lp_find_member(ZLP(z), m, len);
        if (!p)
            return false;
        *score = lp_score(lp_next(ZLP(z), p));
        return true;
    }
    struct zsl_node *n = zsl_find(ZSL(z), m, len);
    if (!n)
        return false;
    *score = n->score;
    return true;
}

int64_t zs_rank(const struct zs *z, const char *m, size_t len, bool rev, double *score)
{
    size_t total = zs_len(z), rank;
    double sc;
    if (z->enc == OBJ_LISTPACK) {
        unsigned char *lp = ZLP(z);
        char ib[LP_INTBUF];
        rank = 0;
        unsigned char *p = lp_first(lp);
        for (; p; p = lp_next(lp, lp_next(lp, p)), rank++) {
            size_t ml;
            const char *pm = lp_member(p, &ml, ib);
            if (ml == len && (len == 0 || memcmp(pm, m, len) == 0))
                break;
        }
        if (!p)
            return -1;
        sc = lp_score(lp_next(lp, p));
    } else {
        struct zsl_node *n = zsl_find(ZSL(z), m, len);
        if (!n)
            return -1;
        rank = zsl_rank(ZSL(z), n) - 1;
        sc = n->score;
    }
    if (score)
        *score = sc;
    return (int64_t)(rev ? total - 1 - rank : rank);
}

/* An interval that is empty by its bounds alone (Redis checks this before walking). */
static bool range_empty(const struct zs_range *r)
{
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

static bool lex_empty(const struct zs_lexrange *r)
{
    if (r->minkind == ZLEX_POS || r->maxkind == ZLEX_NEG)
        return true;
    if (r->minkind != ZLEX_VAL || r->maxkind != ZLEX_VAL)
        return false;
    size_t n = r->minlen < r->maxlen ? r->minlen : r->maxlen;
    int c = n ? memcmp(r->min, r->max, n) : 0;
    if (!c)
        c = r->minlen < r->maxlen ? -1 : r->minlen > r->maxlen;
    return c > 0 || (c == 0 && (r->minex || r->maxex));
}

/* ---- Iteration ---- */

enum { IT_ALL, IT_SCORE, IT_LEX };

void zs_iter_rank(struct zs_iter *it, const struct zs *z, size_t start, bool rev)
{
    memset(it, 0, sizeof *it);
    it->z = z;
    it->rev = rev;
    it->kind = IT_ALL;
    size_t len = zs_len(z);
    if (start >= len)
        return;
    if (z->enc == OBJ_LISTPACK)
        it->pos = lp_seek(ZLP(z), rev ? -2 - 2 * (long)start : 2 * (long)start);
    else
        it->pos = zsl_at(ZSL(z), rev ? len - start : start + 1);
}

/* Whether the member at the iterator's position is still inside its interval. */
static bool iter_inside(const struct zs_iter *it, const char *m, size_t len, double score)
{
    switch (it->kind) {
    case IT_SCORE:
        return it->rev ? zsl_gte_min(score, &it->r) : zsl_lte_max(score, &it->r);
    case IT_LEX:
        return it->rev ? zsl_lex_gte_min(m, len, &it->lr) : zsl_lex_lte_max(m, len, &it->lr);
    default:
        return true;
    }
}

/* Whether a member is past the start of the interval in the walk's direction. */
static bool iter_started(const struct zs_iter *it, const char *m, size_t len, double score)
{
    if (it->kind == IT_SCORE)
        return it->rev ? zsl_lte_max(score, &it->r) : zsl_gte_min(score, &it->r);
    return it->rev ? zsl_lex_lte_max(m, len, &it->lr) : zsl_lex_gte_min(m, len, &it->lr);
}

static void iter_seek(struct zs_iter *it)
{
    const struct zs *z = it->z;
    if (z->enc == OBJ_SKIPLIST) {
        struct zsl *sl = ZSL(z);
        if (it->kind == IT_SCORE)
            it->pos = it->rev ? zsl_last_in(sl, &it->r) : zsl_first_in(sl, &it->r);
        else
            it->pos = it->rev ? zsl_last_in_lex(sl, &it->lr) : zsl_first_in_lex(sl, &it->lr);
        return;
    }
    unsigned char *lp = ZLP(z);
    unsigned char *p = it->rev ? lp_seek(lp, -2) : lp_first(lp);
    while (p) {
        size_t ml;
        const char *m = lp_member(p, &ml, it->buf);
        double sc = lp_score(lp_next(lp, p));
        if (iter_started(it, m, ml, sc)) {
            it->pos = iter_inside(it, m, ml, sc) ? p : NULL;
            return;
        }
        if (it->rev) {
            p = lp_prev(lp, p);
            p = p ? lp_prev(lp, p) : NULL;
        } else {
            p = lp_next(lp, lp_next(lp, p));
        }
    }
    it->pos = NULL;
}

void zs_iter_range(struct zs_iter *it, const struct zs *z, const struct zs_range *r, bool rev)
{
    memset(it, 0, sizeof *it);
    it->z = z;
    it->rev = rev;
    it->kind = IT_SCORE;
    it->r = *r;
    if (!range_empty(r))
        iter_seek(it);
}

void zs_iter_lex(struct zs_iter *it, const struct zs *z, const struct zs_lexrange *r, bool rev)
{
    memset(it, 0, sizeof *it);
    it->z = z;
    it->rev = rev;
    it->kind = IT_LEX;
    it->lr = *r;
    if (!lex_empty(r))
        iter_seek(it);
}

bool zs_iter_next(struct zs_iter *it, const char **m, size_t *len, double *score)
{
    if (!it->pos)
        return false;
    if (it->z->enc == OBJ_LISTPACK) {
        unsigned char *lp = ZLP(it->z), *p = it->pos;
        *m = lp_member(p, len, it->buf);
        *score = lp_score(lp_next(lp, p));
        if (!iter_inside(it, *m, *len, *score)) {
            it->pos = NULL;
            return false;
        }
        if (it->rev) {
            p = lp_prev(lp, p);
            it->pos = p ? lp_prev(lp, p) : NULL;
        } else {
            it->pos = lp_next(lp, lp_next(lp, p));
        }
        return true;
    }
    struct zsl_node *n = it->pos;
    *m = zsl_member(n);
    *len = n->len;
    *score = n->score;
    if (!iter_inside(it, *m, *len, *score)) {
        it->pos = NULL;
        return false;
    }
    it->pos = it->rev ? n->backward : n->lv[0].fwd;
    return true;
}

void zs_at(const struct zs *z, size_t rank, const char **m, size_t *len, double *score,
           char buf[LP_INTBUF])
{
    if (z->enc == OBJ_LISTPACK) {
        unsigned char *lp = ZLP(z);
        unsigned char *p = lp_seek(lp, 2 * (long)rank);
        *m = lp_member(p, len, buf);
        *score = lp_score(lp_next(lp, p));
        return;
    }
    struct zsl_node *n = zsl_at(ZSL(z), rank + 1);
    *m = zsl_member(n);
    *len = n->len;
    *score = n->score;
}

/* ---- Counting and removing intervals ---- */

/* 0-based ascending ranks [*first, *last] of an interval's members; false when empty. */
static bool interval_ranks(const struct zs *z, const struct zs_range *r,
                           const struct zs_lexrange *lr, size_t *first, size_t *last)
{
    if (z->enc == OBJ_SKIPLIST) {
        struct zsl *sl = ZSL(z);
        struct zsl_node *a, *b;
        if (r) {
            if (range_empty(r))
                return false;
            a = zsl_first_in(sl, r);
            b = a ? zsl_last_in(sl, r) : NULL;
        } else {
            if (lex_empty(lr))
                return false;
            a = zsl_first_in_lex(sl, lr);
            b = a ? zsl_last_in_lex(sl, lr) : NULL;
        }
        if (!a || !b)
            return false;
        *first = zsl_rank(sl, a) - 1;
        *last = zsl_rank(sl, b) - 1;
        return *first <= *last;
    }
    struct zs_iter it;
    if (r)
        zs_iter_range(&it, z, r, false);
    else
        zs_iter_lex(&it, z, lr, false);
    if (!it.pos)
        return false;
    unsigned char *lp = ZLP(z);
    size_t rank = 0;
    for (unsigned char *p = lp_first(lp); p != it.pos; p = lp_next(lp, lp_next(lp, p)))
        rank++;
    const char *m;
    size_t ml;
    double sc;
    size_t n = 0;
    while (zs_iter_next(&it, &m, &ml, &sc))
        n++;
    *first = rank;
    *last = rank + n - 1;
    return true;
}

size_t zs_count_range(const struct zs *z, const struct zs_range *r)
{
    size_t a, b;
    return interval_ranks(z, r, NULL, &a, &b) ? b - a + 1 : 0;
}

size_t zs_count_lex(const struct zs *z, const struct zs_lexrange *r)
{
    size_t a, b;
    return interval_ranks(z, NULL, r, &a, &b) ? b - a + 1 : 0;
}

size_t zs_delete_rank(struct zs *z, size_t start, size_t end)
{
    if (z->enc == OBJ_LISTPACK) {
        z->obj = lp_delete_range(ZLP(z), 2 * (long)start, 2 * (end - start + 1));
        return end - start + 1;
    }
    return zsl_delete_ranks(ZSL(z), start + 1, end + 1);
}

size_t zs_delete_range(struct zs *z, const struct zs_range *r)
{
    size_t a, b;
    return interval_ranks(z, r, NULL, &a, &b) ? zs_delete_rank(z, a, b) : 0;
}

size_t zs_delete_lex(struct zs *z, const struct zs_lexrange *r)
{
    size_t a, b;
    return interval_ranks(z, NULL, r, &a, &b) ? zs_delete_rank(z, a, b) : 0;
}

/* ---- Scan ---- */

struct scan_ctx {
    void (*fn)(void *arg, const char *m, size_t len, double score);
    void *arg;
};

static void scan_node(const struct zsl_node *n, void *arg)
{
    struct scan_ctx *c = arg;
    c->fn(c->arg, zsl_member(n), n->len, n->score);
}

uint64_t zs_scan(const struct zs *z, uint64_t cursor,
                 void (*fn)(void *arg, const char *m, size_t len, double score), void *arg)
{
    if (z->enc == OBJ_SKIPLIST) {
        struct scan_ctx c = {fn, arg};
        return zsl_scan(ZSL(z), cursor, scan_node, &c);
    }
    struct zs_iter it;
    zs_iter_rank(&it, z, 0, false);
    const char *m;
    size_t ml;
    double sc;
    while (zs_iter_next(&it, &m, &ml, &sc))
        fn(arg, m, ml, sc);
    return 0;
}

/* ---- Stored results ---- */

void zs_shrink(struct zs *z)
{
    if (z->enc != OBJ_SKIPLIST)
        return;
    struct zsl *sl = ZSL(z);
    size_t maxlen = 0;
    if (!fits_listpack(sl->length, 0))
        return;
    for (struct zsl_node *n = sl->header->lv[0].fwd; n; n = n->lv[0].fwd)
        if (n->len > maxlen)
            maxlen = n->len;
    if (!fits_listpack(sl->length, maxlen))
        return;
    unsigned char *lp = lp_new(0);
    char sb[64];
    for (struct zsl_node *n = sl->header->lv[0].fwd; n; n = n->lv[0].fwd) {
        lp = lp_append(lp, zsl_member(n), n->len);
        lp = lp_append(lp, sb, (size_t)score_text(sb, sizeof sb, n->score));
    }
    zsl_free(sl);
    z->obj = lp;
    z->enc = OBJ_LISTPACK;
}

enum zs_store_res zs_store(struct store *s, const char *key, size_t klen, struct zs *z)
{
    if (zs_len(z) == 0) {
        zs_free(z);
        return store_delete(s, key, klen) ? ZS_STORE_DELETED : ZS_STORE_EMPTY;
    }
    zs_shrink(z);
    store_set_obj(s, key, klen, VT_ZSET, z->enc, z->obj);
    z->obj = NULL;
    return ZS_STORED;
}
