/* A hash table of byte-string keys with a byte-string payload, for the "hashtable"
 * encodings of hashes (field -> value) and sets (member, empty payload).
 *
 * Chained buckets; each node is one allocation holding its next pointer, both lengths,
 * the key bytes and the payload bytes (no separate key or value objects). Keys are
 * hashed with a per-table seed. The table grows and shrinks by incremental rehash, as
 * the keyspace's dict: every insert / delete / lookup moves a bucket, so no single call
 * pays for a whole resize of a big collection.
 *
 * Node pointers stay valid until the node is deleted or its payload replaced (fd_put
 * may reallocate the node). Allocation failure aborts. */
#ifndef COREKV_STORE_FDICT_H
#define COREKV_STORE_FDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fdict;
struct fnode;

struct fdict *fd_new(size_t size_hint);
void fd_free(struct fdict *d);
size_t fd_count(const struct fdict *d);
/* Bytes allocated by the table and its nodes (for MEMORY USAGE and the benchmarks). */
size_t fd_mem(const struct fdict *d);
/* Buckets of both tables, and whether an incremental resize is in progress (statistics,
 * DEBUG HTSTATS-like output, tests). */
size_t fd_buckets(const struct fdict *d);
bool fd_rehashing(const struct fdict *d);

struct fnode *fd_find(struct fdict *d, const char *key, size_t klen);
/* Insert key with payload val, or replace the payload of an existing key. *created says
 * which. Returns the node. (Named fd_put, not fd_set: <sys/select.h>, which <stdlib.h>
 * pulls in under _GNU_SOURCE, owns the name fd_set.) */
struct fnode *fd_put(struct fdict *d, const char *key, size_t klen, const char *val,
                     size_t vlen, bool *created);
/* Insert key only if absent (payload val); returns NULL when it existed. */
struct fnode *fd_add(struct fdict *d, const char *key, size_t klen, const char *val,
                     size_t vlen);
bool fd_delete(struct fdict *d, const char *key, size_t klen);

const char *fn_key(const struct fnode *n, size_t *klen);
const char *fn_val(const struct fnode *n, size_t *vlen);

/* A random node (a random non-empty bucket, then a random node of its chain), NULL when
 * empty. *rng: the caller's xorshift state (never 0). */
struct fnode *fd_random(struct fdict *d, uint64_t *rng);

/* Iteration over every node. The table must not change while an iterator is in use
 * (rehash steps are paused by it). */
struct fd_iter {
    struct fdict *d;
    size_t table, bucket;
    struct fnode *next;
};
void fd_iter_init(struct fd_iter *it, struct fdict *d);
struct fnode *fd_iter_next(struct fd_iter *it);
void fd_iter_done(struct fd_iter *it);

/* Redis's reverse-binary cursor scan (HSCAN, SSCAN): every key present for the whole
 * scan is returned at least once across resizes. Calls fn for the nodes of the buckets
 * covered by cursor v; returns the next cursor, 0 when done. fn must not change d. */
uint64_t fd_scan(struct fdict *d, uint64_t v, void (*fn)(const struct fnode *n, void *arg),
                 void *arg);

#endif
