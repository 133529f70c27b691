/* The field table (see fdict.h): chained hashing with incremental rehash.
 *
 * Node layout, one allocation: next pointer, then
 *     varint klen | key bytes | varint vlen | payload bytes
 * (LEB128 varints: one byte for lengths below 128). A field "field:123456" with a
 * 10-byte value is 8 + 1 + 12 + 1 + 10 = 32 bytes, one 32-byte allocator class. The key
 * comes first so a lookup compares without decoding the payload length, and replacing
 * the payload keeps the node's prefix (realloc, no move of the key). No hash is stored:
 * a rehash recomputes it (XXH3 on a short key costs less than 8 bytes per node).
 *
 * Two tables, as the keyspace's dict (store/dict.h). Invariants while rehashing
 * (tab[1] != NULL):
 *   - buckets tab[0][0 .. rehash_idx) are empty: their nodes are in tab[1];
 *   - new nodes go to tab[1], so a key is in tab[0][h & mask[0]] or tab[1][h & mask[1]];
 *   - no second resize starts until this one has finished.
 * Nodes never move during a rehash (only links change), so node pointers survive it.
 *
 * Resizes: grow to double when count exceeds the buckets (load 1); shrink when the load
 * falls below 1/8, to the smallest power of two >= count but never by more than a factor
 * SHRINK_MAX_FACTOR at once (a further shrink follows when it ends). The cap bounds the
 * load of the new table when inserts arrive during a shrink: the shrink ends after at
 * most size0/8 bucket moves plus size0/10 steps over empty buckets, so even if every one
 * of those operations inserted, the new table (>= size0/16) holds a load of a few.
 * Each find / set / add / delete moves one bucket (visiting at most 10 empty ones), so
 * no operation pays a whole resize. Iterators pause the steps and resize starts. */
#include "store/fdict.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/log.h"
#include "store/dict.h"
#include "store/entry.h"

#define FD_MIN_SIZE 4u
#define SHRINK_MAX_FACTOR 16u
#define EMPTY_VISITS 10u
/* A size hint only presizes the table; the table grows on its own past it. A client
 * number may reach here, so the presize is capped. */
#define FD_MAX_PRESIZE ((size_t)1 << 20)

struct fnode {
    struct fnode *next;
    unsigned char b[];
};

struct fdict {
    struct fnode **tab[2];
    size_t mask[2];    /* size - 1; mask[1] is 0 when not rehashing */
    size_t count;      /* nodes in both tables */
    size_t rehash_idx; /* next bucket of tab[0] to move */
    size_t node_mem;   /* allocator bytes of all nodes (size-class estimate) */
    uint64_t seed;
    unsigned paused;   /* live iterators: no rehash step or resize start while > 0 */
};

/* ---- Node encoding ---- */

static size_t varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static unsigned char *varint_put(unsigned char *p, size_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* Only ever decodes what varint_put wrote. */
static const unsigned char *varint_get(const unsigned char *p, size_t *v)
{
    size_t r = *p & 0x7f;
    unsigned shift = 7;
    while (*p++ & 0x80) {
        r |= (size_t)(*p & 0x7f) << shift;
        shift += 7;
    }
    *v = r;
    return p;
}

static size_t node_size(size_t klen, size_t vlen)
{
    /* Bulk strings are at most 512 MiB; this only rules out a wrapping sum. */
    if (klen > SIZE_MAX / 4 || vlen > SIZE_MAX / 4) {
        log_msg(LOG_WARNING, "store: field too large");
        abort();
    }
    return sizeof(struct fnode) + varint_len(klen) + klen + varint_len(vlen) + vlen;
}

/* The allocator's size class for a request of n bytes (jemalloc's classes: 8, then
 * multiples of 16 up to 128, then four classes per doubling). An estimate for fd_mem. */
static size_t alloc_class(size_t n)
{
    if (n <= 8)
        return 8;
    if (n <= 128)
        return (n + 15) & ~(size_t)15;
    unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
    size_t step = (size_t)1 << (k - 2);
    return (n + step - 1) & ~(step - 1);
}

/* Write the value part (varint vlen, bytes) at p. */
static void put_val(unsigned char *p, const char *val, size_t vlen)
{
    p = varint_put(p, vlen);
    if (vlen)
        memcpy(p, val, vlen);
}

static struct fnode *node_new(const char *key, size_t klen, const char *val, size_t vlen,
                              size_t *size)
{
    *size = node_size(klen, vlen);
    struct fnode *n = store_xmalloc(*size);
    n->next = NULL;
    unsigned char *p = varint_put(n->b, klen);
    if (klen)
        memcpy(p, key, klen);
    put_val(p + klen, val, vlen);
    return n;
}

const char *fn_key(const struct fnode *n, size_t *klen)
{
    return (const char *)varint_get(n->b, klen);
}

const char *fn_val(const struct fnode *n, size_t *vlen)
{
    size_t klen;
    const unsigned char *p = varint_get(n->b, &klen);
    return (const char *)varint_get(p + klen, vlen);
}

static size_t node_bytes(const struct fnode *n)
{
    size_t klen, vlen;
    fn_key(n, &klen);
    fn_val(n, &vlen);
    return node_size(klen, vlen);
}

static bool node_key_eq(const struct fnode *n, const char *key, size_t klen)
{
    size_t nk;
    const unsigned char *p = varint_get(n->b, &nk);
    return nk == klen && (klen == 0 || memcmp(p, key, klen) == 0);
}

static uint64_t node_hash(const struct fdict *d, const struct fnode *n)
{
    size_t klen;
    const char *k = fn_key(n, &klen);
    return hash_bytes(k, klen, d->seed);
}

/* ---- Table ---- */

static bool rehashing(const struct fdict *d) { return d->tab[1] != NULL; }

static size_t table_size_for(size_t n)
{
    size_t s = FD_MIN_SIZE;
    while (s < n) {
        if (s > SIZE_MAX / 2 / sizeof(struct fnode *)) {
            log_msg(LOG_WARNING, "store: field table size overflow");
            abort();
        }
        s <<= 1;
    }
    return s;
}

/* A seed per table (so the bucket order of one table says nothing about another's), drawn
 * from a per-thread generator seeded once from the kernel: a table costs no syscall. */
static uint64_t next_seed(void)
{
    static _Thread_local uint64_t state;
    if (state == 0) {
        state = hash_random_seed();
        if (state == 0)
            state = 0x9E3779B97F4A7C15ULL;
    }
    return store_rand(&state);
}

struct fdict *fd_new(size_t size_hint)
{
    struct fdict *d = store_xmalloc(sizeof *d);
    size_t size = table_size_for(size_hint < FD_MAX_PRESIZE ? size_hint : FD_MAX_PRESIZE);
    d->tab[0] = store_xcalloc(size, sizeof(struct fnode *));
    d->tab[1] = NULL;
    d->mask[0] = size - 1;
    d->mask[1] = 0;
    d->count = 0;
    d->rehash_idx = 0;
    d->node_mem = 0;
    d->seed = next_seed();
    d->paused = 0;
    return d;
}

void fd_free(struct fdict *d)
{
    if (!d)
        return;
    for (int t = 0; t < 2; t++) {
        if (!d->tab[t])
            continue;
        for (size_t b = 0; b <= d->mask[t]; b++) {
            struct fnode *n = d->tab[t][b];
            while (n) {
                struct fnode *next = n->next;
                free(n);
                n = next;
            }
        }
        free(d->tab[t]);
    }
    free(d);
}

size_t fd_count(const struct fdict *d) { return d->count; }

size_t fd_buckets(const struct fdict *d)
{
    return d->mask[0] + 1 + (rehashing(d) ? d->mask[1] + 1 : 0);
}

bool fd_rehashing(const struct fdict *d) { return rehashing(d); }

size_t fd_mem(const struct fdict *d)
{
    size_t m = alloc_class(sizeof *d) + alloc_class((d->mask[0] + 1) * sizeof(struct fnode *));
    if (rehashing(d))
        m += alloc_class((d->mask[1] + 1) * sizeof(struct fnode *));
    return m + d->node_mem;
}

static void start_resize(struct fdict *d, size_t size)
{
    if (size == d->mask[0] + 1)
        return;
    d->tab[1] = store_xcalloc(size, sizeof(struct fnode *));
    d->mask[1] = size - 1;
    d->rehash_idx = 0;
}

static void check_resize(struct fdict *d)
{
    if (rehashing(d) || d->paused)
        return;
    size_t size = d->mask[0] + 1;
    if (d->count > size) {
        start_resize(d, table_size_for(d->count));
    } else if (size > FD_MIN_SIZE && d->count < size / 8) {
        size_t target = table_size_for(d->count);
        if (target < size / SHRINK_MAX_FACTOR)
            target = size / SHRINK_MAX_FACTOR;
        start_resize(d, target);
    }
}

/* Move up to n non-empty buckets of tab[0] to tab[1], visiting at most EMPTY_VISITS*n
 * empty ones; ends the rehash when tab[0] is empty. */
static void rehash(struct fdict *d, size_t n)
{
    size_t size0 = d->mask[0] + 1;
    size_t empty_visits = n * EMPTY_VISITS;
    struct fnode **t0 = d->tab[0], **t1 = d->tab[1];
    while (n-- && d->rehash_idx < size0) {
        while (!t0[d->rehash_idx]) {
            if (++d->rehash_idx == size0)
                goto done;
            if (--empty_visits == 0)
                return;
        }
        struct fnode *e = t0[d->rehash_idx];
        while (e) {
            struct fnode *next = e->next;
            size_t b = node_hash(d, e) & d->mask[1];
            e->next = t1[b];
            t1[b] = e;
            e = next;
        }
        t0[d->rehash_idx++] = NULL;
    }
    if (d->rehash_idx < size0)
        return;
done:
    free(t0);
    d->tab[0] = t1;
    d->mask[0] = d->mask[1];
    d->tab[1] = NULL;
    d->mask[1] = 0;
    d->rehash_idx = 0;
    /* The count may have moved far while this resize ran, or a capped shrink may have
     * more to go. */
    check_resize(d);
}

static void step(struct fdict *d)
{
    if (rehashing(d) && !d->paused)
        rehash(d, 1);
}

/* The link that points to key's node (a bucket head or a predecessor's next), or NULL. */
static struct fnode **find_link(struct fdict *d, const char *key, size_t klen, uint64_t h)
{
    size_t b = h & d->mask[0];
    if (!rehashing(d) || b >= d->rehash_idx) {
        for (struct fnode **pp = &d->tab[0][b]; *pp; pp = &(*pp)->next)
            if (node_key_eq(*pp, key, klen))
                return pp;
        if (!rehashing(d))
            return NULL;
    }
    for (struct fnode **pp = &d->tab[1][h & d->mask[1]]; *pp; pp = &(*pp)->next)
        if (node_key_eq(*pp, key, klen))
            return pp;
    return NULL;
}

struct fnode *fd_find(struct fdict *d, const char *key, size_t klen)
{
    if (d->count == 0)
        return NULL;
    step(d);
    struct fnode **pp = find_link(d, key, klen, hash_bytes(key, klen, d->seed));
    return pp ? *pp : NULL;
}

static struct fnode *link_new(struct fdict *d, uint64_t h, const char *key, size_t klen,
                              const char *val, size_t vlen)
{
    size_t size;
    struct fnode *n = node_new(key, klen, val, vlen, &size);
    int t = rehashing(d);
    struct fnode **head = &d->tab[t][h & d->mask[t]];
    n->next = *head;
    *head = n;
    d->count++;
    d->node_mem += alloc_class(size);
    if (!t && d->count > d->mask[0] + 1)
        check_resize(d);
    return n;
}

/* Replace the payload of *pp's node. The key prefix is kept, so a realloc carries it;
 * the node may move, and the link is updated. */
static struct fnode *replace_val(struct fdict *d, struct fnode **pp, const char *val, size_t vlen)
{
    struct fnode *n = *pp;
    size_t klen, old_vlen;
    const unsigned char *k = (const unsigned char *)fn_key(n, &klen);
    fn_val(n, &old_vlen);
    size_t old_size = node_size(klen, old_vlen), size = node_size(klen, vlen);
    size_t voff = (size_t)(k - (const unsigned char *)n) + klen;
    if (size != old_size) {
        uintptr_t lo = (uintptr_t)n, v = (uintptr_t)val;
        if (vlen && v >= lo && v < lo + old_size) {
            /* val lies inside this node (a caller copying part of a node onto itself):
             * a realloc could free it before it is read, so build a fresh node. */
            size_t new_size;
            struct fnode *f = node_new((const char *)k, klen, val, vlen, &new_size);
            f->next = n->next;
            *pp = f;
            free(n);
            d->node_mem += alloc_class(new_size);
            d->node_mem -= alloc_class(old_size);
            return f;
        }
        n = store_xrealloc(n, size);
        *pp = n;
        d->node_mem += alloc_class(size);
        d->node_mem -= alloc_class(old_size);
    }
    unsigned char *p = (unsigned char *)n + voff;
    p = varint_put(p, vlen);
    if (vlen)
        memmove(p, val, vlen); /* same size: val may be the old payload itself */
    return n;
}

struct fnode *fd_put(struct fdict *d, const char *key, size_t klen, const char *val,
                     size_t vlen, bool *created)
{
    step(d);
    uint64_t h = hash_bytes(key, klen, d->seed);
    struct fnode **pp = d->count ? find_link(d, key, klen, h) : NULL;
    if (pp) {
        *created = false;
        return replace_val(d, pp, val, vlen);
    }
    *created = true;
    return link_new(d, h, key, klen, val, vlen);
}

struct fnode *fd_add(struct fdict *d, const char *key, size_t klen, const char *val,
                     size_t vlen)
{
    step(d);
    uint64_t h = hash_bytes(key, klen, d->seed);
    if (d->count && find_link(d, key, klen, h))
        return NULL;
    return link_new(d, h, key, klen, val, vlen);
}

bool fd_delete(struct fdict *d, const char *key, size_t klen)
{
    if (d->count == 0)
        return false;
    step(d);
    struct fnode **pp = find_link(d, key, klen, hash_bytes(key, klen, d->seed));
    if (!pp)
        return false;
    struct fnode *n = *pp;
    *pp = n->next;
    d->count--;
    d->node_mem -= alloc_class(node_bytes(n));
    free(n);
    check_resize(d);
    return true;
}

/* ---- Random ---- */

struct fnode *fd_random(struct fdict *d, uint64_t *rng)
{
    if (d->count == 0)
        return NULL;
    step(d);
    /* Positions [rehash_idx, size0) of tab[0], then all of tab[1]; positions below
     * rehash_idx are empty by the rehash invariant. */
    size_t size0 = d->mask[0] + 1;
    size_t lo = rehashing(d) ? d->rehash_idx : 0;
    size_t span = size0 - lo + (rehashing(d) ? d->mask[1] + 1 : 0);
    struct fnode *head = NULL;
    /* Random probes; the load is normally >= 1/8, so this rarely takes more than a few.
     * A table emptied by a burst of deletes (during a rehash, or with an iterator live)
     * falls back to a walk, bounded by the buckets. */
    for (int tries = 0; tries < 64 && !head; tries++) {
        size_t i = lo + (size_t)(store_rand(rng) % span);
        head = i < size0 ? d->tab[0][i] : d->tab[1][i - size0];
    }
    if (!head) {
        size_t start = (size_t)(store_rand(rng) % span);
        for (size_t k = 0; k < span && !head; k++) {
            size_t i = lo + (start + k) % span;
            head = i < size0 ? d->tab[0][i] : d->tab[1][i - size0];
        }
    }
    size_t len = 0;
    for (struct fnode *n = head; n; n = n->next)
        len++;
    size_t k = (size_t)(store_rand(rng) % len);
    while (k--)
        head = head->next;
    return head;
}

/* ---- Iteration ---- */

void fd_iter_init(struct fd_iter *it, struct fdict *d)
{
    it->d = d;
    it->table = 0;
    it->bucket = 0; /* the next bucket to load */
    it->next = NULL;
    d->paused++;
}

struct fnode *fd_iter_next(struct fd_iter *it)
{
    struct fdict *d = it->d;
    while (!it->next) {
        if (it->bucket > d->mask[it->table]) {
            if (it->table == 1 || !rehashing(d))
                return NULL;
            it->table = 1;
            it->bucket = 0;
        }
        it->next = d->tab[it->table][it->bucket++];
    }
    /* Read the successor now: the caller may delete the node it is given. */
    struct fnode *n = it->next;
    it->next = n->next;
    return n;
}

void fd_iter_done(struct fd_iter *it)
{
    struct fdict *d = it->d;
    if (!d)
        return;
    d->paused--;
    it->d = NULL;
    check_resize(d); /* deletes while paused may have left the load below 1/8 */
}

/* ---- Scan ---- */

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
    return (v >> 32) | (v << 32);
}

/* Increment the cursor in reversed bit order over the bits of mask: the high bits of a
 * bucket index change fastest, so the buckets that one bucket of a smaller table splits
 * into (same low bits) are visited consecutively. That is why a cursor stays valid when
 * the table grows or shrinks between two calls. */
static uint64_t next_cursor(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

static void emit_chain(const struct fnode *n, void (*fn)(const struct fnode *n, void *arg),
                       void *arg)
{
    for (; n; n = n->next)
        fn(n, arg);
}

uint64_t fd_scan(struct fdict *d, uint64_t v, void (*fn)(const struct fnode *n, void *arg),
                 void *arg)
{
    if (d->count == 0)
        return 0;
    if (!rehashing(d)) {
        emit_chain(d->tab[0][v & d->mask[0]], fn, arg);
        return next_cursor(v, d->mask[0]);
    }
    int small = d->mask[0] > d->mask[1];
    struct fnode **ts = d->tab[small], **tl = d->tab[!small];
    uint64_t ms = d->mask[small], ml = d->mask[!small];
    emit_chain(ts[v & ms], fn, arg);
    /* Then every bucket of the larger table that the smaller table's bucket expands to. */
    do {
        emit_chain(tl[v & ml], fn, arg);
        v = next_cursor(v, ml);
    } while (v & (ms ^ ml));
    return v;
}
