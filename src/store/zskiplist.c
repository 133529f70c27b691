/* The skiplist and member index of big sorted sets (see zskiplist.h). The list part
 * follows Redis's t_zset.c algorithms (random level p = 1/4, spans for ranks); the
 * index is this file's own intrusive chained table. */
#include "store/zskiplist.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "store/entry.h"

/* ---- Ordering and bounds ---- */

static int mem_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return la < lb ? -1 : la > lb ? 1 : 0;
}

int zsl_cmp(double s1, const char *m1, size_t l1, double s2, const char *m2, size_t l2)
{
    if (s1 < s2)
        return -1;
    if (s1 > s2)
        return 1;
    return mem_cmp(m1, l1, m2, l2);
}

bool zsl_lex_gte_min(const char *m, size_t len, const struct zs_lexrange *r)
{
    if (r->minkind == ZLEX_NEG)
        return true;
    if (r->minkind == ZLEX_POS)
        return false;
    int c = mem_cmp(m, len, r->min, r->minlen);
    return r->minex ? c > 0 : c >= 0;
}

bool zsl_lex_lte_max(const char *m, size_t len, const struct zs_lexrange *r)
{
    if (r->maxkind == ZLEX_POS)
        return true;
    if (r->maxkind == ZLEX_NEG)
        return false;
    int c = mem_cmp(m, len, r->max, r->maxlen);
    return r->maxex ? c < 0 : c <= 0;
}

/* ---- Nodes ---- */

static struct zsl_node *node_new(int level, double score, const char *m, size_t len)
{
    struct zsl_node *n = store_xmalloc(sizeof *n + (size_t)level * sizeof(struct zsl_level) + len);
    n->score = score;
    n->backward = NULL;
    n->hnext = NULL;
    n->len = (uint32_t)len;
    n->level = (uint8_t)level;
    if (len)
        memcpy((char *)&n->lv[level], m, len);
    return n;
}

static int random_level(void)
{
    /* xorshift64 per thread; each shard is one thread. Seeded from the address of the
     * state so threads differ; the level distribution, not secrecy, is what matters. */
    static _Thread_local uint64_t x;
    if (!x)
        x = (uint64_t)(uintptr_t)&x * 0x9E3779B97F4A7C15ull | 1;
    int level = 1;
    for (;;) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* Two bits at a time: each level continues with probability 1/4. */
        for (int i = 0; i < 32 && level < ZSL_MAXLEVEL; i++) {
            if ((x >> (2 * i) & 3) != 0)
                return level;
            level++;
        }
        if (level >= ZSL_MAXLEVEL)
            return ZSL_MAXLEVEL;
    }
}

/* ---- Index ---- */

static uint64_t index_seed(void)
{
    static _Atomic uint64_t seed;
    uint64_t s = atomic_load_explicit(&seed, memory_order_relaxed);
    if (!s) {
        uint64_t fresh = hash_random_seed() | 1;
        uint64_t zero = 0;
        /* Racing first callers agree on one value; any would do, each table keeps its own. */
        if (atomic_compare_exchange_strong(&seed, &zero, fresh))
            s = fresh;
        else
            s = zero;
    }
    return s;
}

static inline uint64_t node_hash(const struct zsl *z, const char *m, size_t len)
{
    return hash_bytes(m, len, z->seed);
}

static inline bool rehashing(const struct zsl *z) { return z->rehash != SIZE_MAX; }

static void rehash_step(struct zsl *z, size_t buckets)
{
    size_t empty_budget = buckets * 10;
    while (buckets && z->rehash < z->size[0]) {
        struct zsl_node *n = z->t[0][z->rehash];
        if (!n && empty_budget--) {
            z->rehash++;
            continue;
        }
        if (!n)
            return;
        while (n) {
            struct zsl_node *next = n->hnext;
            size_t b = node_hash(z, zsl_member(n), n->len) & (z->size[1] - 1);
            n->hnext = z->t[1][b];
            z->t[1][b] = n;
            z->used[0]--;
            z->used[1]++;
            n = next;
        }
        z->t[0][z->rehash++] = NULL;
        buckets--;
    }
    if (z->rehash >= z->size[0]) {
        free(z->t[0]);
        z->t[0] = z->t[1];
        z->size[0] = z->size[1];
        z->used[0] = z->used[1];
        z->t[1] = NULL;
        z->size[1] = z->used[1] = 0;
        z->rehash = SIZE_MAX;
    }
}

static void start_resize(struct zsl *z, size_t want)
{
    size_t size = 4;
    while (size < want)
        size <<= 1;
    if (size == z->size[0])
        return;
    z->t[1] = store_xcalloc(size, sizeof *z->t[1]);
    z->size[1] = size;
    z->used[1] = 0;
    z->rehash = 0;
}

static void index_add(struct zsl *z, struct zsl_node *n)
{
    int t = 0;
    if (rehashing(z)) {
        rehash_step(z, 1);
        t = rehashing(z) ? 1 : 0;
    }
    size_t b = node_hash(z, zsl_member(n), n->len) & (z->size[t] - 1);
    n->hnext = z->t[t][b];
    z->t[t][b] = n;
    z->used[t]++;
    if (!rehashing(z) && z->used[0] > z->size[0])
        start_resize(z, z->used[0] * 2);
}

static void index_del(struct zsl *z, struct zsl_node *n)
{
    uint64_t h = node_hash(z, zsl_member(n), n->len);
    for (int t = 0; t < 2; t++) {
        if (!z->size[t])
            continue;
        struct zsl_node **pp = &z->t[t][h & (z->size[t] - 1)];
        while (*pp && *pp != n)
            pp = &(*pp)->hnext;
        if (*pp) {
            *pp = n->hnext;
            z->used[t]--;
            break;
        }
    }
    if (rehashing(z))
        rehash_step(z, 1);
    else if (z->size[0] > 16 && z->used[0] * 10 < z->size[0])
        start_resize(z, z->used[0] > 2 ? z->used[0] : 2);
}

struct zsl_node *zsl_find(struct zsl *z, const char *m, size_t len)
{
    if (rehashing(z))
        rehash_step(z, 1);
    uint64_t h = node_hash(z, m, len);
    for (int t = 0; t < 2; t++) {
        if (!z->size[t])
            continue;
        for (struct zsl_node *n = z->t[t][h & (z->size[t] - 1)]; n; n = n->hnext)
            if (n->len == len && (len == 0 || memcmp(zsl_member(n), m, len) == 0))
                return n;
    }
    return NULL;
}

/* ---- The list ---- */

struct zsl *zsl_new(size_t hint)
{
    struct zsl *z = store_xcalloc(1, sizeof *z);
    z->header = node_new(ZSL_MAXLEVEL, 0, NULL, 0);
    for (int i = 0; i < ZSL_MAXLEVEL; i++) {
        z->header->lv[i].fwd = NULL;
        z->header->lv[i].span = 0;
    }
    z->level = 1;
    z->seed = index_seed();
    size_t size = 4;
    while (size < hint && size < ((size_t)1 << 40))
        size <<= 1;
    z->t[0] = store_xcalloc(size, sizeof *z->t[0]);
    z->size[0] = size;
    z->rehash = SIZE_MAX;
    return z;
}

void zsl_free(struct zsl *z)
{
    struct zsl_node *n = z->header->lv[0].fwd;
    while (n) {
        struct zsl_node *next = n->lv[0].fwd;
        free(n);
        n = next;
    }
    free(z->header);
    free(z->t[0]);
    free(z->t[1]);
    free(z);
}

size_t zsl_mem(const struct zsl *z)
{
    size_t m = sizeof *z + sizeof *z->header + ZSL_MAXLEVEL * sizeof(struct zsl_level);
    m += (z->size[0] + z->size[1]) * sizeof(struct zsl_node *);
    for (const struct zsl_node *n = z->header->lv[0].fwd; n; n = n->lv[0].fwd)
        m += sizeof *n + n->level * sizeof(struct zsl_level) + n->len;
    return m;
}

/* Link node n (level set, score/member set) at its place. */
static void link_node(struct zsl *z, struct zsl_node *n)
{
    struct zsl_node *update[ZSL_MAXLEVEL];
    size_t rank[ZSL_MAXLEVEL];
    struct zsl_node *x = z->header;
    const char *m = zsl_member(n);
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (x->lv[i].fwd &&
               zsl_cmp(x->lv[i].fwd->score, zsl_member(x->lv[i].fwd), x->lv[i].fwd->len,
                       n->score, m, n->len) < 0) {
            rank[i] += x->lv[i].span;
            x = x->lv[i].fwd;
        }
        update[i] = x;
    }
    int level = n->level;
    if (level > z->level) {
        for (int i = z->level; i < level; i++) {
            rank[i] = 0;
            update[i] = z->header;
            update[i]->lv[i].span = z->length;
        }
        z->level = level;
    }
    for (int i = 0; i < level; i++) {
        n->lv[i].fwd = update[i]->lv[i].fwd;
        update[i]->lv[i].fwd = n;
        n->lv[i].span = update[i]->lv[i].span - (rank[0] - rank[i]);
        update[i]->lv[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = level; i < z->level; i++)
        update[i]->lv[i].span++;
    n->backward = update[0] == z->header ? NULL : update[0];
    if (n->lv[0].fwd)
        n->lv[0].fwd->backward = n;
    else
        z->tail = n;
    z->length++;
}

/* Unlink x given the predecessors at each level. */
static void unlink_node(struct zsl *z, struct zsl_node *x, struct zsl_node **update)
{
    for (int i = 0; i < z->level; i++) {
        if (update[i]->lv[i].fwd == x) {
            update[i]->lv[i].span += x->lv[i].span - 1;
            update[i]->lv[i].fwd = x->lv[i].fwd;
        } else {
            update[i]->lv[i].span -= 1;
        }
    }
    if (x->lv[0].fwd)
        x->lv[0].fwd->backward = x->backward;
    else
        z->tail = x->backward;
    while (z->level > 1 && z->header->lv[z->level - 1].fwd == NULL)
        z->level--;
    z->length--;
}

/* Predecessors of n at each level. */
static void find_update(const struct zsl *z, const struct zsl_node *n, struct zsl_node **update)
{
    struct zsl_node *x = z->header;
    const char *m = zsl_member(n);
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->lv[i].fwd && x->lv[i].fwd != n &&
               zsl_cmp(x->lv[i].fwd->score, zsl_member(x->lv[i].fwd), x->lv[i].fwd->len,
                       n->score, m, n->len) < 0)
            x = x->lv[i].fwd;
        update[i] = x;
    }
}

struct zsl_node *zsl_insert(struct zsl *z, double score, const char *m, size_t len)
{
    struct zsl_node *n = node_new(random_level(), score, m, len);
    link_node(z, n);
    index_add(z, n);
    return n;
}

void zsl_delete(struct zsl *z, struct zsl_node *n)
{
    struct zsl_node *update[ZSL_MAXLEVEL];
    find_update(z, n, update);
    unlink_node(z, n, update);
    index_del(z, n);
    free(n);
}

void zsl_update(struct zsl *z, struct zsl_node *n, double score)
{
    /* Same place in the order: change the score in place (Redis's fast path). */
    struct zsl_node *next = n->lv[0].fwd;
    if ((n->backward == NULL || n->backward->score < score) &&
        (next == NULL || next->score > score)) {
        n->score = score;
        return;
    }
    struct zsl_node *update[ZSL_MAXLEVEL];
    find_update(z, n, update);
    unlink_node(z, n, update);
    n->score = score;
    link_node(z, n); /* same node, same level: the index needs no change */
}

size_t zsl_rank(const struct zsl *z, const struct zsl_node *n)
{
    const struct zsl_node *x = z->header;
    size_t rank = 0;
    const char *m = zsl_member(n);
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->lv[i].fwd &&
               zsl_cmp(x->lv[i].fwd->score, zsl_member(x->lv[i].fwd), x->lv[i].fwd->len,
                       n->score, m, n->len) <= 0) {
            rank += x->lv[i].span;
            x = x->lv[i].fwd;
        }
        if (x == n)
            return rank;
    }
    return 0;
}

struct zsl_node *zsl_at(const struct zsl *z, size_t rank)
{
    if (rank == 0 || rank > z->length)
        return NULL;
    struct zsl_node *x = z->header;
    size_t traversed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->lv[i].fwd && traversed + x->lv[i].span <= rank) {
            traversed += x->lv[i].span;
            x = x->lv[i].fwd;
        }
        if (traversed == rank)
            return x;
    }
    return NULL;
}

/* ---- Intervals ---- */

struct zsl_node *zsl_first_in(const struct zsl *z, const struct zs_range *r)
{
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->lv[i].fwd && !zsl_gte_min(x->lv[i].fwd->score, r))
            x = x->lv[i].fwd;
    x = x->lv[0].fwd;
    return x && zsl_lte_max(x->score, r) ? x : NULL;
}

struct zsl_node *zsl_last_in(const struct zsl *z, const struct zs_range *r)
{
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->lv[i].fwd && zsl_lte_max(x->lv[i].fwd->score, r))
            x = x->lv[i].fwd;
    return x != z->header && zsl_gte_min(x->score, r) ? x : NULL;
}

struct zsl_node *zsl_first_in_lex(const struct zsl *z, const struct zs_lexrange *r)
{
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->lv[i].fwd && !zsl_lex_gte_min(zsl_member(x->lv[i].fwd), x->lv[i].fwd->len, r))
            x = x->lv[i].fwd;
    x = x->lv[0].fwd;
    return x && zsl_lex_lte_max(zsl_member(x), x->len, r) ? x : NULL;
}

struct zsl_node *zsl_last_in_lex(const struct zsl *z, const struct zs_lexrange *r)
{
    struct zsl_node *x = z->header;
    for (int i = z->level - 1; i >= 0; i--)
        while (x->lv[i].fwd && zsl_lex_lte_max(zsl_member(x->lv[i].fwd), x->lv[i].fwd->len, r))
            x = x->lv[i].fwd;
    return x != z->header && zsl_lex_gte_min(zsl_member(x), x->len, r) ? x : NULL;
}

size_t zsl_delete_ranks(struct zsl *z, size_t start, size_t end)
{
    struct zsl_node *update[ZSL_MAXLEVEL];
    struct zsl_node *x = z->header;
    size_t traversed = 0, removed = 0;
    for (int i = z->level - 1; i >= 0; i--) {
        while (x->lv[i].fwd && traversed + x->lv[i].span < start) {
            traversed += x->lv[i].span;
            x = x->lv[i].fwd;
        }
        update[i] = x;
    }
    traversed++;
    x = x->lv[0].fwd;
    while (x && traversed <= end) {
        struct zsl_node *next = x->lv[0].fwd;
        unlink_node(z, x, update);
        index_del(z, x);
        free(x);
        removed++;
        traversed++;
        x = next;
    }
    return removed;
}

/* ---- Scan ---- */

static uint64_t rev_bits(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) | ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

static void scan_bucket(struct zsl_node *n, void (*fn)(const struct zsl_node *, void *), void *arg)
{
    for (; n; n = n->hnext)
        fn(n, arg);
}

uint64_t zsl_scan(const struct zsl *z, uint64_t v, void (*fn)(const struct zsl_node *n, void *arg),
                  void *arg)
{
    if (!rehashing(z)) {
        uint64_t m0 = z->size[0] - 1;
        scan_bucket(z->t[0][v & m0], fn, arg);
        v |= ~m0;
        v = rev_bits(rev_bits(v) + 1);
        return v;
    }
    /* Both tables: the small one's bucket, then every bucket of the large one that
     * expands it (as Redis's dictScan). Buckets of t[0] before `rehash` are empty. */
    int small = z->size[0] <= z->size[1] ? 0 : 1, large = 1 - small;
    uint64_t m0 = z->size[small] - 1, m1 = z->size[large] - 1;
    scan_bucket(z->t[small][v & m0], fn, arg);
    do {
        scan_bucket(z->t[large][v & m1], fn, arg);
        v |= ~m1;
        v = rev_bits(rev_bits(v) + 1);
    } while (v & (m0 ^ m1));
    return v;
}
