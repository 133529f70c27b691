/* Internal to store/: the chained hash table of entries, with incremental rehash.
 *
 * Two tables, as Redis's dict. Normally only tab[0] exists. A resize allocates tab[1] at
 * the new size (double on growth, the smallest power of two >= count on shrink) and from
 * then on every operation moves buckets from tab[0] to tab[1], in index order; when
 * tab[0] is empty it is freed and tab[1] takes its place.
 *
 * Invariants while rehashing (tab[1] != NULL):
 *   - buckets tab[0][0 .. rehash_idx) are empty: their entries are in tab[1];
 *   - new entries go to tab[1], so a key is in tab[0][h & mask[0]] or tab[1][h & mask[1]];
 *   - no second resize starts until this one has finished.
 * Entries never move in memory during a rehash (only their links change), so entry
 * pointers survive rehash steps; slot pointers (struct entry **) do not.
 *
 * The table only links entries; it never frees them. */
#ifndef COREKV_STORE_DICT_H
#define COREKV_STORE_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"
#include "store/entry.h"

#define DICT_MIN_SIZE 4u

struct dict {
    struct entry **tab[2];
    size_t mask[2];      /* size - 1; mask[1] is 0 when not rehashing */
    size_t count;        /* entries in both tables */
    size_t rehash_idx;   /* next bucket of tab[0] to move */
    uint64_t seed;
};

static inline bool dict_rehashing(const struct dict *d) { return d->tab[1] != NULL; }

static inline uint64_t dict_hash(const struct dict *d, const char *key, size_t klen)
{
    return hash_bytes(key, klen, d->seed);
}

void store_dict_init(struct dict *d, uint64_t seed);
/* Call fn on every entry (which may free it), then reset to an empty minimum-size table. */
void store_dict_clear(struct dict *d, void (*fn)(struct entry *e, void *arg), void *arg);
/* Free the tables (entries must have been released with store_dict_clear). */
void store_dict_destroy(struct dict *d);

/* Move up to n non-empty buckets to the new table (visiting at most 10*n empty ones).
 * Returns true while a rehash is still in progress. */
bool store_dict_rehash(struct dict *d, size_t n);

/* One bucket's worth of rehash, as done by each lookup, insert and delete. */
static inline void dict_step(struct dict *d)
{
    if (dict_rehashing(d))
        store_dict_rehash(d, 1);
}

/* The link that points to key's entry (a bucket head or a predecessor's next), or NULL. */
static inline struct entry **dict_find(struct dict *d, const char *key, size_t klen, uint64_t h)
{
    uint8_t tag = ent_tag(h);
    size_t b = h & d->mask[0];
    if (!dict_rehashing(d) || b >= d->rehash_idx) {
        for (struct entry **pp = &d->tab[0][b]; *pp; pp = &(*pp)->next)
            if (ent_key_eq(*pp, tag, key, klen))
                return pp;
        if (!dict_rehashing(d))
            return NULL;
    }
    for (struct entry **pp = &d->tab[1][h & d->mask[1]]; *pp; pp = &(*pp)->next)
        if (ent_key_eq(*pp, tag, key, klen))
            return pp;
    return NULL;
}

/* The link that points to e (which must be in the table). */
struct entry **store_dict_slot_of(struct dict *d, const struct entry *e);

/* Link e (whose key must be absent) with hash h. Starts a growth when the table is full;
 * does no rehash step itself. */
void store_dict_add(struct dict *d, struct entry *e, uint64_t h);

/* Unlink the entry *pp points to (it is not freed). Starts no resize. */
static inline void dict_unlink(struct dict *d, struct entry **pp)
{
    *pp = (*pp)->next;
    d->count--;
}

/* Start a growth or shrink if the load is outside [1/8, 1] (and no rehash is running). */
void store_dict_check_resize(struct dict *d);

/* One step of Redis's reverse-binary cursor scan: calls visit on the head link of every
 * bucket that cursor v covers (in the smaller table and its expansions in the larger
 * one) and returns the next cursor, 0 after the last. visit may unlink entries of the
 * bucket it is given, but must not insert, resize or rehash. */
uint64_t store_dict_scan(struct dict *d, uint64_t v, void (*visit)(struct entry **head, void *arg),
                         void *arg);

/* Warm the caches for the n (at most DICT_SCAN_PREFETCH_MAX) scan steps from cursor v
 * on: the bucket heads, then the first entry of each chain. Issued together, the misses
 * overlap instead of costing one memory latency per bucket, as the reverse-binary order
 * would. Returns the cursor after those steps (0 past the end, and v unchanged while
 * rehashing, when nothing is prefetched). No effect on contents. */
#define DICT_SCAN_PREFETCH_MAX 16u
uint64_t store_dict_scan_prefetch(const struct dict *d, uint64_t v, unsigned n);

/* The link of a random entry (a random non-empty bucket, then a random entry of its
 * chain), or NULL when the table is empty. *rng is the caller's generator state. */
struct entry **store_dict_random(struct dict *d, uint64_t *rng);

size_t store_dict_buckets(const struct dict *d);

/* xorshift64*: cheap, good enough for sampling; the state must not be 0. */
static inline uint64_t store_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
