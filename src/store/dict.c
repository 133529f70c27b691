/* The chained hash table with incremental rehash (see dict.h for the invariants). */
#include "store/dict.h"

#include <stdlib.h>

#include "base/log.h"

static struct entry **alloc_table(size_t size)
{
    return store_xcalloc(size, sizeof(struct entry *));
}

void store_dict_init(struct dict *d, uint64_t seed)
{
    d->tab[0] = alloc_table(DICT_MIN_SIZE);
    d->tab[1] = NULL;
    d->mask[0] = DICT_MIN_SIZE - 1;
    d->mask[1] = 0;
    d->count = 0;
    d->rehash_idx = 0;
    d->seed = seed;
}

void store_dict_destroy(struct dict *d)
{
    free(d->tab[0]);
    free(d->tab[1]);
    d->tab[0] = d->tab[1] = NULL;
    d->count = 0;
}

void store_dict_clear(struct dict *d, void (*fn)(struct entry *e, void *arg), void *arg)
{
    for (int t = 0; t < 2; t++) {
        if (!d->tab[t])
            continue;
        for (size_t b = 0; b <= d->mask[t]; b++) {
            struct entry *e = d->tab[t][b];
            while (e) {
                struct entry *next = e->next;
                fn(e, arg);
                e = next;
            }
        }
    }
    uint64_t seed = d->seed;
    store_dict_destroy(d);
    store_dict_init(d, seed);
}

size_t store_dict_buckets(const struct dict *d)
{
    return d->mask[0] + 1 + (dict_rehashing(d) ? d->mask[1] + 1 : 0);
}

static void start_resize(struct dict *d, size_t size)
{
    if (size == d->mask[0] + 1)
        return;
    d->tab[1] = alloc_table(size);
    d->mask[1] = size - 1;
    d->rehash_idx = 0;
}

/* Smallest power of two >= n, at least DICT_MIN_SIZE. */
static size_t table_size_for(size_t n)
{
    size_t s = DICT_MIN_SIZE;
    while (s < n) {
        if (s > SIZE_MAX / 2) {
            log_msg(LOG_WARNING, "store: hash table size overflow");
            abort();
        }
        s <<= 1;
    }
    return s;
}

void store_dict_check_resize(struct dict *d)
{
    if (dict_rehashing(d))
        return;
    size_t size = d->mask[0] + 1;
    if (d->count > size)
        start_resize(d, table_size_for(d->count));
    else if (size > DICT_MIN_SIZE && d->count < size / 8)
        start_resize(d, table_size_for(d->count));
}

bool store_dict_rehash(struct dict *d, size_t n)
{
    if (!dict_rehashing(d))
        return false;
    size_t size0 = d->mask[0] + 1;
    size_t empty_visits = n * 10;
    struct entry **t0 = d->tab[0], **t1 = d->tab[1];
    while (n-- && d->rehash_idx < size0) {
        while (!t0[d->rehash_idx]) {
            if (++d->rehash_idx == size0)
                goto done;
            if (--empty_visits == 0)
                return true;
        }
        struct entry *e = t0[d->rehash_idx];
        while (e) {
            struct entry *next = e->next;
            size_t b = dict_hash(d, ent_key(e), ent_klen(e)) & d->mask[1];
            e->next = t1[b];
            t1[b] = e;
            e = next;
        }
        t0[d->rehash_idx++] = NULL;
    }
    if (d->rehash_idx < size0)
        return true;
done:
    free(t0);
    d->tab[0] = t1;
    d->mask[0] = d->mask[1];
    d->tab[1] = NULL;
    d->mask[1] = 0;
    d->rehash_idx = 0;
    /* The count may have moved far while this resize ran (e.g. inserts during a shrink). */
    store_dict_check_resize(d);
    return dict_rehashing(d);
}

struct entry **store_dict_slot_of(struct dict *d, const struct entry *e)
{
    uint64_t h = dict_hash(d, ent_key(e), ent_klen(e));
    size_t b = h & d->mask[0];
    if (!dict_rehashing(d) || b >= d->rehash_idx)
        for (struct entry **pp = &d->tab[0][b]; *pp; pp = &(*pp)->next)
            if (*pp == e)
                return pp;
    if (dict_rehashing(d))
        for (struct entry **pp = &d->tab[1][h & d->mask[1]]; *pp; pp = &(*pp)->next)
            if (*pp == e)
                return pp;
    log_msg(LOG_WARNING, "store: entry not found in its table");
    abort();
}

void store_dict_add(struct dict *d, struct entry *e, uint64_t h)
{
    int t = dict_rehashing(d);
    struct entry **head = &d->tab[t][h & d->mask[t]];
    e->next = *head;
    *head = e;
    d->count++;
    if (!t && d->count > d->mask[0] + 1)
        store_dict_check_resize(d);
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
 * bucket index change fastest, so the buckets a smaller table's bucket splits into (which
 * differ only in high bits) are visited consecutively. That is why a cursor stays valid
 * when the table doubles or halves between two calls. */
static uint64_t next_cursor(uint64_t v, uint64_t mask)
{
    v |= ~mask;
    v = rev64(v);
    v++;
    return rev64(v);
}

uint64_t store_dict_scan(struct dict *d, uint64_t v, void (*visit)(struct entry **head, void *arg),
                         void *arg)
{
    if (!dict_rehashing(d)) {
        visit(&d->tab[0][v & d->mask[0]], arg);
        return next_cursor(v, d->mask[0]);
    }
    int small = d->mask[0] > d->mask[1];
    struct entry **ts = d->tab[small], **tl = d->tab[!small];
    uint64_t ms = d->mask[small], ml = d->mask[!small];
    visit(&ts[v & ms], arg);
    /* Then every bucket of the larger table that the smaller table's bucket expands to. */
    do {
        visit(&tl[v & ml], arg);
        v = next_cursor(v, ml);
    } while (v & (ms ^ ml));
    return v;
}

uint64_t store_dict_scan_prefetch(const struct dict *d, uint64_t v, unsigned n)
{
    if (dict_rehashing(d))
        return v;
    struct entry *const *heads[DICT_SCAN_PREFETCH_MAX];
    unsigned k = 0;
    if (n > DICT_SCAN_PREFETCH_MAX)
        n = DICT_SCAN_PREFETCH_MAX;
    while (k < n) {
        heads[k] = &d->tab[0][v & d->mask[0]];
        __builtin_prefetch(heads[k++]);
        v = next_cursor(v, d->mask[0]);
        if (v == 0)
            break;
    }
    for (unsigned i = 0; i < k; i++)
        if (*heads[i])
            __builtin_prefetch(*heads[i]);
    return v;
}

/* ---- Random ---- */

struct entry **store_dict_random(struct dict *d, uint64_t *rng)
{
    if (d->count == 0)
        return NULL;
    /* Positions [rehash_idx, size0) of tab[0], then all of tab[1]; positions below
     * rehash_idx are empty by the rehash invariant. */
    size_t size0 = d->mask[0] + 1;
    size_t lo = dict_rehashing(d) ? d->rehash_idx : 0;
    size_t span = size0 - lo + (dict_rehashing(d) ? d->mask[1] + 1 : 0);
    struct entry **head = NULL;
    /* Random probes; the load is normally >= 1/8, so this rarely takes more than a few.
     * A table emptied by a burst of deletes falls back to a bounded linear walk. */
    for (int tries = 0; tries < 64 && !head; tries++) {
        size_t i = lo + (size_t)(store_rand(rng) % span);
        struct entry **h = i < size0 ? &d->tab[0][i] : &d->tab[1][i - size0];
        if (*h)
            head = h;
    }
    if (!head) {
        size_t start = (size_t)(store_rand(rng) % span);
        for (size_t k = 0; k < span && !head; k++) {
            size_t i = lo + (start + k) % span;
            struct entry **h = i < size0 ? &d->tab[0][i] : &d->tab[1][i - size0];
            if (*h)
                head = h;
        }
    }
    size_t len = 0;
    for (struct entry *e = *head; e; e = e->next)
        len++;
    size_t k = (size_t)(store_rand(rng) % len);
    while (k--)
        head = &(*head)->next;
    return head;
}
