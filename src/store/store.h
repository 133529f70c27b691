/* One shard's keyspace: a hash table of entries, with expiry.
 *
 * The table is keyed by a seeded hash and grows (and shrinks) by incremental rehash:
 * every operation moves a few buckets, the tick moves more, so no single operation
 * pays for a whole resize. An entry holds its key, its value, its TTL and its access
 * time in one allocation; small strings are embedded, integers are stored as integers.
 *
 * Lifetime rule: an entry pointer is valid until the next call that changes the store
 * (set, delete, resize of a string, expiry). Lookups may delete an expired key.
 *
 * Time: TTLs are absolute Unix milliseconds. The store keeps a cached "now", refreshed
 * by store_set_now (once per batch of commands): a key expires at most one batch late,
 * never early. */
#ifndef COREKV_STORE_STORE_H
#define COREKV_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>

struct store;
struct entry;
struct rt_block;

enum val_type { VT_STRING = 0, VT_LIST, VT_SET, VT_ZSET, VT_HASH };

/* How a string is held. */
enum str_enc {
    SE_INT,    /* an int64 (the value is its canonical decimal form) */
    SE_EMBSTR, /* short bytes inside the entry (Redis "embstr": at most 44 bytes) */
    SE_RAW,    /* anything else (Redis "raw"), in a refcounted block (base/block.h) */
};

#define STORE_NO_TTL (-1)

struct store *store_new(uint64_t seed);
void store_free(struct store *s);

void store_set_now(struct store *s, int64_t unix_ms);
int64_t store_now(const struct store *s);

/* ---- Lookup ---- */
/* The live entry for key, or NULL (an expired key is deleted on the way). Marks the
 * entry accessed (for OBJECT IDLETIME) unless `touch` is false. */
struct entry *store_find(struct store *s, const char *key, size_t klen, bool touch);
const char *entry_key(const struct entry *e, size_t *klen);
enum val_type entry_type(const struct entry *e);
/* Absolute expiry in Unix ms, or STORE_NO_TTL. */
int64_t entry_expire(const struct entry *e);
/* Milliseconds since last access. */
int64_t entry_idle_ms(const struct store *s, const struct entry *e);

/* ---- Strings ---- */
enum str_enc entry_str_enc(const struct entry *e);
/* The bytes of a string value; integers are formatted into tmp. */
const char *entry_str(const struct entry *e, char tmp[24], size_t *len);
/* True with *v set when the value is an integer, or bytes that parse strictly as one. */
bool entry_str_int(const struct entry *e, int64_t *v);
size_t entry_str_len(const struct entry *e);
/* The block holding an SE_RAW string, NULL for other encodings. A reply may take a
 * reference to send it without a copy (rt_reply_block); the bytes then stay as they are
 * for that reader whatever happens to the key afterwards (store_str_resize copies a
 * shared block before changing it). */
struct rt_block *entry_str_block(const struct entry *e);

/* Set key to a string, replacing any value of any type. The value is stored as an
 * integer when it is canonical decimal (as Redis's tryObjectEncoding), embedded when
 * short, separately otherwise. ttl: absolute ms or STORE_NO_TTL. keep_ttl keeps an
 * existing TTL instead. Returns the entry. */
struct entry *store_set_str(struct store *s, const char *key, size_t klen, const char *val,
                            size_t vlen, int64_t ttl, bool keep_ttl);
/* Set key to an integer value (INCR and friends), keeping any TTL. */
struct entry *store_set_int(struct store *s, const char *key, size_t klen, int64_t v);
/* Make the string of e exactly newlen bytes long (zero-filling growth) and writable,
 * converting it to SE_RAW; returns the writable bytes, valid until the next change to
 * the store. *e is updated (it may move). A block that a reply still references is
 * copied first: nobody sees the bytes change under them. */
char *store_str_resize(struct store *s, struct entry **e, size_t newlen);

/* ---- Keys ---- */
/* Delete key; true if it existed (and was live). */
bool store_delete(struct store *s, const char *key, size_t klen);
void store_delete_entry(struct store *s, struct entry *e);
/* Set or clear (STORE_NO_TTL) the expiry of e. */
void store_set_expire(struct store *s, struct entry *e, int64_t unix_ms);
size_t store_count(const struct store *s);         /* keys, expired-but-unreaped included */
size_t store_expires_count(const struct store *s); /* keys with a TTL */
void store_flush(struct store *s);
/* A uniformly-ish random live key, or NULL when empty. */
struct entry *store_random(struct store *s);
/* Rename within this store: moves value and TTL to dst (replacing dst). src must exist. */
void store_rename(struct store *s, struct entry *src, const char *dst, size_t dlen);

/* Redis-style SCAN: visits every key present for the whole scan at least once, across
 * resizes. Returns the next cursor; 0 when done. Calls fn for each live entry of the
 * buckets visited; `count` is a hint of how many buckets' worth to visit. */
uint64_t store_scan(struct store *s, uint64_t cursor, unsigned count,
                    void (*fn)(struct entry *e, void *arg), void *arg);

/* ---- Serialized values (moving a value between shards: RENAME, COPY) ---- */
/* Append a self-describing encoding of e's value (not its key or TTL). */
void entry_dump(const struct entry *e, struct buf *out);
/* Create/replace key from a dump; false if the bytes are not a valid dump. A replaced
 * key is deleted and the key added anew, as Redis's dbDelete + dbAdd (the new-key hook
 * fires even when it existed). */
bool store_restore(struct store *s, const char *key, size_t klen, const char *dump,
                   size_t len, int64_t ttl);

/* ---- Housekeeping ---- */
/* Huge values (aggregates of thousands of allocations, blocks of 8 MiB and more) are
 * freed on the background thread (store/lazyfree.h). Wait until every one handed over
 * so far is freed (tests; shutdown). */
void store_lazyfree_drain(void);
/* Values handed over and not yet freed, and freed so far, process-wide (Redis's INFO
 * lazyfree_pending_objects and lazyfreed_objects). */
void store_lazyfree_stats(uint64_t *pending, uint64_t *freed);
/* Active expiry, as Redis's activeExpireCycle: sample keys with a TTL, delete the
 * expired, repeat while more than a quarter of a sample was expired, within
 * `budget_us`. Finds TTL keys without scanning the whole table. Returns keys deleted. */
size_t store_expire_cycle(struct store *s, uint64_t budget_us);
/* Spend about budget_us on incremental rehashing (called from the tick). */
void store_rehash_step(struct store *s, uint64_t budget_us);

struct store_stats {
    uint64_t expired_keys;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    size_t table_buckets;   /* both tables while rehashing */
    bool rehashing;
};
void store_stats(const struct store *s, struct store_stats *out);
/* Warm the caches for a lookup of key: stage 0 prefetches its bucket, stage 1 the
 * first entry of that bucket (once stage 0 had time to land). No effect on contents. */
void store_prefetch(struct store *s, const char *key, size_t klen, int stage);

/* Count a hit or miss of a read command's lookup of key (as Redis's keyspace_hits and
 * _misses); a miss calls the miss hook unless key is NULL (Redis's LOOKUP_NONOTIFY). */
void store_count_lookup(struct store *s, const char *key, size_t klen, bool hit);
/* Called on a read lookup that missed: Redis's "keymiss" notification. */
void store_set_miss_hook(struct store *s, void (*fn)(void *arg, const char *key, size_t klen),
                         void *arg);

/* Called just before a key is deleted because its TTL passed (lazily in a lookup, write,
 * scan or random pick, or by store_expire_cycle), with the entry still intact: the place
 * for WATCH versions, "expired" notifications and logging (DESIGN.md section 8). The
 * callback must not change the store. NULL disables it. */
void store_set_expire_hook(struct store *s, void (*fn)(void *arg, const struct entry *e),
                           void *arg);

/* Called when a key is added to the keyspace (a write to a missing or expired key, the
 * destination of a rename), before the value is in place: Redis's dbAdd, which fires the
 * "new" notification. The callback must not change the store. NULL disables it. */
void store_set_new_hook(struct store *s, void (*fn)(void *arg, const char *key, size_t klen),
                        void *arg);

/* ---- Point-in-time snapshot (DESIGN.md section 10) ----
 * store_snapshot_begin starts a snapshot of the keyspace as it is now. From then on,
 * fn is called exactly once for every key that existed at begin (expired-but-present
 * ones included, as they are in the table), with the entry as it was at begin:
 * either by store_snapshot_step as the walk reaches it, or earlier, just before
 * anything changes or deletes it (a write, an expiry, a rename, a flush...). Keys
 * created after begin are never passed. fn must not change the store.
 * Beginning while a snapshot runs aborts that one first. Begin between commands: a
 * value changed after begin must have been looked up after begin (an entry pointer
 * taken before and used to change a value after escapes the snapshot). No value is
 * copied; a flush during a snapshot hands the old table over to the walk, which frees
 * it as it goes (its memory is held until then, as a forked child would hold it). */
void store_snapshot_begin(struct store *s, void (*fn)(void *arg, const struct entry *e),
                          void *arg);
/* Walk on: pass up to `budget` more entries (or visit that many buckets' worth);
 * true when every key of the snapshot has been passed (the snapshot is then over
 * and fn will not be called again). True as well when no snapshot runs. */
bool store_snapshot_step(struct store *s, size_t budget);
bool store_snapshot_active(const struct store *s);
/* Stop without finishing (fn is not called again). The walk's bookkeeping finishes in
 * the background (store_rehash_step) or, at the latest, at the next begin. */
void store_snapshot_abort(struct store *s);
/* Keys and keys with a TTL at begin (for RDB's RESIZEDB), valid while active; 0 and 0
 * when no snapshot runs. */
void store_snapshot_counts(const struct store *s, uint64_t *keys, uint64_t *expires);

#endif
