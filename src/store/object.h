/* Aggregate values: lists, sets, sorted sets and hashes.
 *
 * An entry of an aggregate type holds one pointer in its value area: the type's object
 * in its current encoding (a listpack, an intset, a quicklist, a field table, a zset).
 * The encoding is kept in the entry's meta bits, not in a wrapper, so a small hash costs
 * its entry plus its listpack and nothing else.
 *
 * Ownership: the entry owns the object. store_delete / overwrite / flush free it through
 * the type's *_obj_free. A command that changes an object in a way that moves it (a
 * listpack grows, an encoding converts) stores the new pointer with entry_set_obj.
 * A command that empties a collection deletes the key (store_delete_entry): Redis never
 * keeps an empty aggregate.
 *
 * Encoding thresholds (hash-max-listpack-entries and friends) are process-wide settings
 * read with obj_limit(): CONFIG SET on any shard changes them for every shard (relaxed
 * atomics: a shard sees the new value at its next read). */
#ifndef COREKV_STORE_OBJECT_H
#define COREKV_STORE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>

#include "store/store.h"

/* Encodings of aggregate values, with Redis's OBJECT ENCODING names. */
enum obj_enc {
    OBJ_LISTPACK = 0, /* "listpack": lists, hashes, sets, sorted sets while small */
    OBJ_INTSET,       /* "intset": small sets of integers */
    OBJ_HASHTABLE,    /* "hashtable": big hashes and sets (struct fdict) */
    OBJ_QUICKLIST,    /* "quicklist": big lists (a chain of listpacks) */
    OBJ_SKIPLIST,     /* "skiplist": big sorted sets (skiplist + member index) */
};

const char *obj_enc_name(enum obj_enc enc);

/* The object of an aggregate entry and its encoding. */
void *entry_obj(const struct entry *e);
enum obj_enc entry_obj_enc(const struct entry *e);
/* Store a new object pointer and/or encoding in e (its type stays). The old object is
 * not freed: the caller has released or converted it. */
void entry_set_obj(struct entry *e, enum obj_enc enc, void *obj);

/* Set key to a new aggregate value of type t (not VT_STRING), replacing any value of any
 * type and dropping any TTL (as Redis's SINTERSTORE, ZUNIONSTORE, SORT ... STORE).
 * The store takes ownership of obj. Returns the entry. */
struct entry *store_set_obj(struct store *s, const char *key, size_t klen, enum val_type t,
                            enum obj_enc enc, void *obj);

/* ---- Encoding thresholds ---- */
enum obj_limit_id {
    LIM_HASH_LP_ENTRIES,   /* hash-max-listpack-entries   512 (redis.conf suggests 128) */
    LIM_HASH_LP_VALUE,     /* hash-max-listpack-value      64 */
    LIM_SET_INTSET_ENTRIES, /* set-max-intset-entries     512 */
    LIM_SET_LP_ENTRIES,    /* set-max-listpack-entries    128 */
    LIM_SET_LP_VALUE,      /* set-max-listpack-value       64 */
    LIM_ZSET_LP_ENTRIES,   /* zset-max-listpack-entries   128 */
    LIM_ZSET_LP_VALUE,     /* zset-max-listpack-value      64 */
    LIM_LIST_LP_SIZE,      /* list-max-listpack-size       -2 (negative: -1..-5 = 4..64 KiB
                              per node; positive: entries per node) */
    LIM_LIST_COMPRESS_DEPTH, /* list-compress-depth         0 (accepted, not applied) */
    LIM_COUNT
};
int64_t obj_limit(enum obj_limit_id id);
void obj_limit_set(enum obj_limit_id id, int64_t v);

/* ---- What each aggregate type implements (store/list.c, hash.c, set.c, zset.c) ----
 *
 * *_obj_free releases the object in encoding enc.
 * *_obj_dump appends the payload of the dump format (store.h entry_dump) after the
 *   type and encoding bytes that entry_dump writes: enough to rebuild the same
 *   contents in the same encoding.
 * *_obj_restore rebuilds an object from such a payload (exactly len bytes), returning
 *   NULL when the bytes are malformed (never crashing on any input); *enc receives its
 *   encoding, normally the dumped one.
 * *_obj_len is the element count (LLEN, HLEN, SCARD, ZCARD).
 * *_obj_each calls fn for every element until fn returns false: list elements head to
 *   tail; set members in any order; sorted-set members by ascending (score, member) with
 *   their score; hash fields with their values (val/vlen; NULL/0 for the others).
 *   The object must not change during the walk. (SORT, the snapshot writer.) */
typedef bool (*obj_elem_fn)(void *arg, const char *s, size_t len, const char *val,
                            size_t vlen, double score);
size_t list_obj_len(const void *obj, enum obj_enc enc);
void list_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg);
size_t hash_obj_len(const void *obj, enum obj_enc enc);
void hash_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg);
size_t set_obj_len(const void *obj, enum obj_enc enc);
void set_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg);
size_t zset_obj_len(const void *obj, enum obj_enc enc);
void zset_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg);

void list_obj_free(void *obj, enum obj_enc enc);
void list_obj_dump(const void *obj, enum obj_enc enc, struct buf *out);
void *list_obj_restore(const char *p, size_t len, enum obj_enc *enc);
void hash_obj_free(void *obj, enum obj_enc enc);
void hash_obj_dump(const void *obj, enum obj_enc enc, struct buf *out);
void *hash_obj_restore(const char *p, size_t len, enum obj_enc *enc);
void set_obj_free(void *obj, enum obj_enc enc);
void set_obj_dump(const void *obj, enum obj_enc enc, struct buf *out);
void *set_obj_restore(const char *p, size_t len, enum obj_enc *enc);
void zset_obj_free(void *obj, enum obj_enc enc);
void zset_obj_dump(const void *obj, enum obj_enc enc, struct buf *out);
void *zset_obj_restore(const char *p, size_t len, enum obj_enc *enc);

/* LEB128 varints for dump payloads. get advances *p; false if truncated or too long. */
void store_put_varint(struct buf *out, uint64_t v);
bool store_get_varint(const char **p, const char *end, uint64_t *v);
/* A length-prefixed byte string (varint length, bytes); get checks it fits. */
void store_put_bytes(struct buf *out, const char *p, size_t len);
bool store_get_bytes(const char **p, const char *end, const char **s, size_t *len);

#endif
