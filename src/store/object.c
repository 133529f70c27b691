/* Aggregate values on entries: the object pointer and encoding, the type dispatch for
 * free / dump / restore, the encoding thresholds, and the varints of dump payloads. */
#include "store/object.h"

#include <stdatomic.h>

#include "store/entry.h"
#include "store/internal.h"
#include "store/lazyfree.h"
#include "store/quicklist.h"

const char *obj_enc_name(enum obj_enc enc)
{
    switch (enc) {
    case OBJ_LISTPACK: return "listpack";
    case OBJ_INTSET: return "intset";
    case OBJ_HASHTABLE: return "hashtable";
    case OBJ_QUICKLIST: return "quicklist";
    case OBJ_SKIPLIST: return "skiplist";
    }
    return "unknown";
}

void *entry_obj(const struct entry *e) { return ent_ptr(e); }

enum obj_enc entry_obj_enc(const struct entry *e) { return (enum obj_enc)ent_enc(e); }

void entry_set_obj(struct entry *e, enum obj_enc enc, void *obj)
{
    ent_set_meta(e, ent_type(e), enc);
    ent_set_ptr(e, obj);
}

struct entry *store_set_obj(struct store *s, const char *key, size_t klen, enum val_type t,
                            enum obj_enc enc, void *obj)
{
    bool existed;
    struct entry *e = store_prepare(s, key, klen, sizeof obj, &existed);
    ent_set_meta(e, t, enc);
    e->vlen = 0;
    ent_set_ptr(e, obj);
    store_set_expire(s, e, STORE_NO_TTL);
    return e;
}

/* ---- Type dispatch ---- */

void store_obj_free_now(enum val_type t, unsigned enc, void *o)
{
    switch (t) {
    case VT_LIST: list_obj_free(o, (enum obj_enc)enc); return;
    case VT_HASH: hash_obj_free(o, (enum obj_enc)enc); return;
    case VT_SET: set_obj_free(o, (enum obj_enc)enc); return;
    case VT_ZSET: zset_obj_free(o, (enum obj_enc)enc); return;
    case VT_STRING: return;
    }
}

size_t store_obj_free_effort(enum val_type t, unsigned enc, const void *o)
{
    switch ((enum obj_enc)enc) {
    case OBJ_LISTPACK:
    case OBJ_INTSET:
        return 1;
    case OBJ_QUICKLIST:
        return ((const struct quicklist *)o)->len;
    case OBJ_HASHTABLE:
    case OBJ_SKIPLIST:
        break;
    }
    switch (t) {
    case VT_HASH: return hash_obj_len(o, (enum obj_enc)enc);
    case VT_SET: return set_obj_len(o, (enum obj_enc)enc);
    case VT_ZSET: return zset_obj_len(o, (enum obj_enc)enc);
    default: return 1;
    }
}

void store_obj_free(struct entry *e)
{
    void *o = ent_ptr(e);
    enum val_type t = ent_type(e);
    unsigned enc = ent_enc(e);
    if (store_obj_free_effort(t, enc, o) >= LAZYFREE_MIN_EFFORT)
        lazyfree_obj(t, enc, o);
    else
        store_obj_free_now(t, enc, o);
}

void store_obj_dump(const struct entry *e, struct buf *out)
{
    char hdr[2] = {(char)ent_type(e), (char)ent_enc(e)};
    buf_append(out, hdr, sizeof hdr);
    const void *o = ent_ptr(e);
    enum obj_enc enc = entry_obj_enc(e);
    switch (ent_type(e)) {
    case VT_LIST: list_obj_dump(o, enc, out); return;
    case VT_HASH: hash_obj_dump(o, enc, out); return;
    case VT_SET: set_obj_dump(o, enc, out); return;
    case VT_ZSET: zset_obj_dump(o, enc, out); return;
    case VT_STRING: return;
    }
}

void *store_obj_restore(const char *dump, size_t len, enum val_type *t, unsigned *enc)
{
    if (len < 2 || (unsigned char)dump[1] > OBJ_SKIPLIST)
        return NULL;
    enum obj_enc e = (enum obj_enc)(unsigned char)dump[1];
    const char *p = dump + 2;
    size_t n = len - 2;
    void *o;
    switch ((unsigned char)dump[0]) {
    case VT_LIST: *t = VT_LIST; o = list_obj_restore(p, n, &e); break;
    case VT_HASH: *t = VT_HASH; o = hash_obj_restore(p, n, &e); break;
    case VT_SET: *t = VT_SET; o = set_obj_restore(p, n, &e); break;
    case VT_ZSET: *t = VT_ZSET; o = zset_obj_restore(p, n, &e); break;
    default: return NULL;
    }
    *enc = e;
    return o;
}

/* ---- Thresholds ---- */

static _Atomic int64_t limits[LIM_COUNT] = {
    [LIM_HASH_LP_ENTRIES] = 512, [LIM_HASH_LP_VALUE] = 64, [LIM_SET_INTSET_ENTRIES] = 512,
    [LIM_SET_LP_ENTRIES] = 128,  [LIM_SET_LP_VALUE] = 64,  [LIM_ZSET_LP_ENTRIES] = 128,
    [LIM_ZSET_LP_VALUE] = 64,    [LIM_LIST_LP_SIZE] = -2,  [LIM_LIST_COMPRESS_DEPTH] = 0,
};

int64_t obj_limit(enum obj_limit_id id)
{
    return atomic_load_explicit(&limits[id], memory_order_relaxed);
}

void obj_limit_set(enum obj_limit_id id, int64_t v)
{
    atomic_store_explicit(&limits[id], v, memory_order_relaxed);
}

/* ---- Varints ---- */

void store_put_varint(struct buf *out, uint64_t v)
{
    char b[10];
    size_t n = 0;
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        b[n++] = (char)(v ? c | 0x80 : c);
    } while (v);
    buf_append(out, b, n);
}

bool store_get_varint(const char **p, const char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return false;
        unsigned c = (unsigned char)*(*p)++;
        if (shift == 63 && c > 1)
            return false;
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

void store_put_bytes(struct buf *out, const char *p, size_t len)
{
    store_put_varint(out, len);
    buf_append(out, p, len);
}

bool store_get_bytes(const char **p, const char *end, const char **s, size_t *len)
{
    uint64_t n;
    if (!store_get_varint(p, end, &n) || n > (uint64_t)(end - *p))
        return false;
    *s = *p;
    *len = (size_t)n;
    *p += n;
    return true;
}
