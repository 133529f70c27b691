/* The hash type: the value of a VT_HASH entry in one of Redis 7's two encodings, and the
 * operations the hash commands build on.
 *
 *   OBJ_LISTPACK   a listpack of field, value, field, value ... in insertion order (a
 *                  replaced value keeps its place), while the hash has at most
 *                  hash-max-listpack-entries fields and every field and value is at most
 *                  hash-max-listpack-value bytes. Canonical integers are stored as
 *                  integers by the listpack.
 *   OBJ_HASHTABLE  struct fdict (store/fdict.h): field -> value, each pair one node.
 *                  Nothing is added per field on top of the node.
 *
 * Conversions follow Redis 7.0's t_hash.c: hash_prepare converts before a write whose
 * arguments are too long (hashTypeTryConversion), hash_set converts before storing a too
 * long field or value and after passing the entries limit (hashTypeSet). A hashtable
 * never converts back.
 *
 * A struct hash_val is a copy of what an entry holds (entry_obj / entry_obj_enc). Calls
 * that change a hash may move its listpack or replace it by a hashtable: the caller
 * writes the new pair back with hash_put (or hands it to store_set_obj for a new key).
 * A hash is never left empty in the keyspace: a command that empties one deletes the key.
 *
 * Bytes returned by lookups and iterators stay valid until the hash changes; a listpack
 * integer is formatted into the struct hash_str's own buffer, so a hash_str must not be
 * copied while its s is in use. */
#ifndef COREKV_STORE_HASH_H
#define COREKV_STORE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/fdict.h"
#include "store/listpack.h"
#include "store/object.h"
#include "store/store.h"

struct hash_val {
    void *o;          /* unsigned char * listpack, or struct fdict * */
    enum obj_enc enc; /* OBJ_LISTPACK or OBJ_HASHTABLE */
};

/* A field or value as bytes. */
struct hash_str {
    const char *s;
    size_t len;
    char buf[LP_INTBUF];
};

/* The hash of a VT_HASH entry, and storing a (possibly moved) one back into it. */
struct hash_val hash_of(const struct entry *e);
void hash_put(struct entry *e, const struct hash_val *h);

/* ---- Creating and releasing ---- */
/* An empty hash: a listpack, as Redis's createHashObject. */
struct hash_val hash_new(void);
void hash_free(struct hash_val *h);
size_t hash_len(const struct hash_val *h);
/* Bytes allocated (MEMORY USAGE-style estimate, benchmarks). */
size_t hash_mem(const struct hash_val *h);

/* ---- Changing ---- */
/* Redis's hashTypeTryConversion, before a write of arguments whose longest is maxlen
 * bytes and whose lengths sum to sum: a listpack becomes a hashtable when maxlen passes
 * hash-max-listpack-value or the listpack would pass its safe size. */
void hash_prepare(struct hash_val *h, size_t maxlen, size_t sum);
/* Set field f to value v; true when f was new. Converts as Redis's hashTypeSet. */
bool hash_set(struct hash_val *h, const char *f, size_t flen, const char *v, size_t vlen);
/* Remove field f; true when it was there. */
bool hash_delete(struct hash_val *h, const char *f, size_t flen);
/* Convert a listpack to a hashtable (no-op on a hashtable). */
void hash_to_table(struct hash_val *h);

/* ---- Reading ---- */
/* The value of field f into *v (may be NULL: existence only); false when absent. A
 * hashtable lookup may move a rehash step, hence the non-const hash. */
bool hash_get(struct hash_val *h, const char *f, size_t flen, struct hash_str *v);

/* Every field in the encoding's order: listpack insertion order, hashtable bucket order.
 * The hash must not change during the walk. */
struct hash_iter {
    struct hash_val *h;
    unsigned char *p;  /* listpack: the next field, NULL at the end */
    struct fd_iter fi; /* hashtable */
};
void hash_iter_init(struct hash_iter *it, struct hash_val *h);
/* The next field and its value (either out-pointer may be NULL); false at the end. */
bool hash_iter_next(struct hash_iter *it, struct hash_str *f, struct hash_str *v);
void hash_iter_done(struct hash_iter *it);

/* HSCAN: fn for each pair the cursor covers; returns the next cursor, 0 when done. A
 * listpack is visited whole at once (cursor 0 back), as Redis does. */
typedef void (*hash_pair_fn)(void *arg, const char *f, size_t flen, const char *v,
                             size_t vlen);
uint64_t hash_scan(struct hash_val *h, uint64_t cursor, hash_pair_fn fn, void *arg);

/* ---- Randomness (HRANDFIELD) ----
 *
 * A hash_ref names one pair of an unchanging hash (a listpack element or a table node),
 * so a command can pick many pairs at random positions without walking the listpack
 * again for each. */
typedef const void *hash_ref;
/* Fill refs[0 .. hash_len) with every pair, in iteration order; returns the count. */
size_t hash_refs(struct hash_val *h, hash_ref *refs);
/* A random pair of a non-empty hash (a hashtable: a random bucket, then a random node
 * of its chain; a listpack: uniform). */
hash_ref hash_random(struct hash_val *h);
/* The field and value (either may be NULL) of a ref. */
void hash_ref_get(const struct hash_val *h, hash_ref r, struct hash_str *f, struct hash_str *v);
/* This thread's random generator (xorshift64, never 0). */
uint64_t hash_rand(void);

#endif
