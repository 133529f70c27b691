/* Internal to store/: the layout of an entry and of string values.
 *
 * An entry is one allocation:
 *
 *   offset  0  next      chain pointer of its hash bucket
 *           8  expire    absolute Unix ms; ENT_NO_EXPIRE (INT64_MAX) when the key has no TTL
 *          16  atime     the store's access clock at the last access (ms, modulo 2^32)
 *          20  ttl_pos   index in the store's TTL array (meaningful only with a TTL)
 *          24  klen      key length, or ENT_KLEN_LONG: the length is a uint32 at data[0]
 *          25  tag       top 8 bits of the key's hash: most mismatches fail on it
 *          26  meta      value type (bits 0-2), encoding (bits 3-5: enum str_enc for
 *                        strings, enum obj_enc for aggregates) and the snapshot mark
 *                        (bit 6, ENT_SNAP_BIT: see snapshot.c)
 *          27  vlen      length of the value area when it is variable (embstr, int)
 *          28  data      [uint32 klen if long] key bytes, then the value area
 *
 * The value area follows the key without alignment (it is read with memcpy):
 *   SE_EMBSTR  vlen bytes (vlen <= ENT_EMBSTR_MAX)
 *   SE_INT     the int64 in vlen (1..8) bytes, little-endian, sign-extended on read, so a
 *              small number costs as little as its decimal form would
 *   SE_RAW     a struct rt_block * (8 bytes, base/block.h): the entry owns one reference;
 *              a client's output may hold more while it writes the bytes (GET of a big
 *              value), so the bytes change only through store_str_resize, which copies
 *              a shared block first (copy-on-write)
 *   aggregates  a pointer to the type's object (8 bytes, see object.h)
 *
 * A key of 13 bytes with a 3-byte value takes 28 + 13 + 3 = 44 bytes: one allocation of
 * jemalloc's 48-byte class. Expiry is checked with one compare (`expire < now`) thanks to
 * the INT64_MAX sentinel; the store API's STORE_NO_TTL is translated at the boundary.
 * The full hash is not kept: a rehash recomputes it from the key, which is cheaper than
 * 8 more bytes on every key. */
#ifndef COREKV_STORE_ENTRY_H
#define COREKV_STORE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/block.h"
#include "store/store.h"

#define ENT_NO_EXPIRE INT64_MAX
#define ENT_KLEN_LONG 255u
#define ENT_EMBSTR_MAX 44u
/* Redis's tryObjectEncoding tries integers only for strings of at most 20 bytes. */
#define ENT_INT_MAX_DIGITS 20u

struct entry {
    struct entry *next;
    int64_t expire;
    uint32_t atime;
    uint32_t ttl_pos;
    uint8_t klen;
    uint8_t tag;
    uint8_t meta;
    uint8_t vlen;
    char data[];
};

#define ENT_HDR offsetof(struct entry, data)
_Static_assert(offsetof(struct entry, data) == 28, "entry header must stay 28 bytes");

static inline uint8_t ent_tag(uint64_t h) { return (uint8_t)(h >> 56); }

static inline enum val_type ent_type(const struct entry *e) { return (enum val_type)(e->meta & 7u); }
static inline enum str_enc ent_enc(const struct entry *e) { return (enum str_enc)((e->meta >> 3) & 7u); }
/* The snapshot mark: whether the entry has been passed to the running snapshot. Its
 * meaning flips at each snapshot (struct store's snap_mark), see snapshot.c. */
#define ENT_SNAP_BIT 0x40u
/* enc: an enum str_enc for strings, an enum obj_enc for aggregates. The snapshot mark is
 * kept: changing a value's type or encoding does not make it a new entry. */
static inline void ent_set_meta(struct entry *e, enum val_type t, unsigned enc)
{
    e->meta = (uint8_t)((e->meta & ENT_SNAP_BIT) | (unsigned)t | ((unsigned)enc << 3));
}

static inline size_t ent_klen(const struct entry *e)
{
    if (e->klen != ENT_KLEN_LONG)
        return e->klen;
    uint32_t n;
    memcpy(&n, e->data, sizeof n);
    return n;
}

static inline const char *ent_key(const struct entry *e)
{
    return e->data + (e->klen == ENT_KLEN_LONG ? sizeof(uint32_t) : 0);
}

/* Bytes the key occupies in data[] (its length prefix included). */
static inline size_t ent_key_space(size_t klen)
{
    return klen < ENT_KLEN_LONG ? klen : klen + sizeof(uint32_t);
}

/* Size of the value area: variable for embedded strings and integers, a pointer otherwise. */
static inline size_t ent_varea(const struct entry *e)
{
    if (ent_type(e) == VT_STRING && ent_enc(e) != SE_RAW)
        return e->vlen;
    return sizeof(void *);
}

static inline char *ent_val(struct entry *e) { return (char *)ent_key(e) + ent_klen(e); }
static inline const char *ent_cval(const struct entry *e) { return ent_key(e) + ent_klen(e); }

static inline void *ent_ptr(const struct entry *e)
{
    void *p;
    memcpy(&p, ent_cval(e), sizeof p);
    return p;
}
static inline void ent_set_ptr(struct entry *e, void *p) { memcpy(ent_val(e), &p, sizeof p); }

static inline bool ent_key_eq(const struct entry *e, uint8_t tag, const char *key, size_t klen)
{
    if (e->tag != tag)
        return false;
    if (klen < ENT_KLEN_LONG)
        return e->klen == klen && (klen == 0 || memcmp(e->data, key, klen) == 0);
    return e->klen == ENT_KLEN_LONG && ent_klen(e) == klen &&
           memcmp(e->data + sizeof(uint32_t), key, klen) == 0;
}

static inline bool ent_has_ttl(const struct entry *e) { return e->expire != ENT_NO_EXPIRE; }

/* ---- entry.c ---- */

/* Bytes allocated for an entry (never less than sizeof(struct entry)). */
size_t store_ent_size(size_t klen, size_t varea);
/* Allocate an entry for key with a value area of `varea` bytes (contents unset), no TTL,
 * next == NULL. Aborts on allocation failure. */
struct entry *store_ent_alloc(const char *key, size_t klen, uint8_t tag, size_t varea);
/* Resize e's value area to varea bytes (the area's contents up to the shorter size are
 * kept). May move the entry: the caller relinks it. */
struct entry *store_ent_realloc(struct entry *e, size_t varea);
/* Release what the value owns outside the entry (its reference to a raw string's block,
 * an aggregate's object). A huge value is freed on the background thread (lazyfree.c). */
void store_ent_free_value(struct entry *e);

/* A string value about to be stored. */
struct strval {
    enum str_enc enc;
    int64_t i;         /* SE_INT */
    const char *p;     /* SE_EMBSTR / SE_RAW: bytes to copy */
    size_t len;
};
/* Choose the encoding Redis's tryObjectEncoding would: int, else embstr, else raw. */
void store_strval_classify(struct strval *v, const char *p, size_t len);
/* Size of the value area v needs. */
size_t store_strval_area(const struct strval *v);
/* Write v into e's value area (which must be store_strval_area(v) bytes) and set meta. */
void store_strval_put(struct entry *e, const struct strval *v);

/* Parse a string dump (see entry_dump); false if malformed or not a string. v->p points
 * into the dump. */
bool store_dump_parse(const char *dump, size_t len, struct strval *v);

/* ---- object.c ---- */
/* Free an aggregate's object (on the background thread when it is huge); free one of
 * type t now, on this thread; the allocations freeing it touches (1 for a compact
 * encoding), as Redis's lazyfreeGetFreeEffort. Append an aggregate's dump (type and
 * encoding bytes, then the type's payload); rebuild one (NULL if malformed). */
void store_obj_free(struct entry *e);
void store_obj_free_now(enum val_type t, unsigned enc, void *obj);
size_t store_obj_free_effort(enum val_type t, unsigned enc, const void *obj);
void store_obj_dump(const struct entry *e, struct buf *out);
void *store_obj_restore(const char *dump, size_t len, enum val_type *t, unsigned *enc);

void *store_xmalloc(size_t n);
void *store_xrealloc(void *p, size_t n);
void *store_xcalloc(size_t n, size_t size);

#endif
