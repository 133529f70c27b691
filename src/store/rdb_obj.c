/* Writing entries as RDB records (see rdb_obj.h). Encodings map to Redis 7.0's types:
 *
 *   string                 STRING (INT forms for integers, LZF when it pays)
 *   list   listpack        QUICKLIST_2 with one packed node (Redis 7.0 has no listpack
 *          quicklist       lists: its small lists are one-node quicklists, the same bytes)
 *   hash   listpack        HASH_LISTPACK, the listpack's bytes
 *          hashtable       HASH: count, field, value...
 *   set    intset          SET_INTSET, the intset's bytes
 *          listpack        SET: count, member... (version 10 has no set listpack)
 *          hashtable       SET
 *   zset   listpack        ZSET_LISTPACK, the listpack's bytes
 *          skiplist        ZSET_2: count, then member + binary score from the greatest
 *                          down (as Redis, so a loader inserts each at the head)
 *
 * corekv's listpacks and intsets are Redis's formats byte for byte, so blobs are written
 * as they are. */
#include "store/rdb_obj.h"

#include <time.h>

#include "persist/rdb.h"
#include "store/entry.h"
#include "store/intset.h"
#include "store/listpack.h"
#include "store/object.h"
#include "store/quicklist.h"
#include "store/zskiplist.h"

void store_rdb_put_header(struct buf *out, const struct rdb_header_info *h)
{
    rdb_put_magic(out);
    rdb_put_aux(out, "redis-ver", RDB_REDIS_VER, sizeof RDB_REDIS_VER - 1);
    rdb_put_aux_int(out, "redis-bits", (int64_t)sizeof(void *) * 8);
    rdb_put_aux_int(out, "ctime", h->ctime ? h->ctime : (int64_t)time(NULL));
    rdb_put_aux_int(out, "used-mem", (int64_t)h->used_mem);
    rdb_put_aux_int(out, "aof-base", h->aof_base ? 1 : 0);
    if (h->nshards > 0) {
        rdb_put_aux_int(out, "corekv-shard", h->shard);
        rdb_put_aux_int(out, "corekv-shards", h->nshards);
    }
    if (h->keys > 0) {
        rdb_put_selectdb(out, 0);
        rdb_put_resizedb(out, h->keys, h->expires);
    }
}

void store_rdb_put_footer(struct buf *out) { rdb_put_eof(out); }

static unsigned char type_of(const struct entry *e)
{
    enum obj_enc enc = entry_obj_enc(e);
    switch (ent_type(e)) {
    case VT_STRING: return RDB_TYPE_STRING;
    case VT_LIST: return RDB_TYPE_LIST_QUICKLIST_2;
    case VT_HASH: return enc == OBJ_LISTPACK ? RDB_TYPE_HASH_LISTPACK : RDB_TYPE_HASH;
    case VT_SET: return enc == OBJ_INTSET ? RDB_TYPE_SET_INTSET : RDB_TYPE_SET;
    case VT_ZSET: return enc == OBJ_LISTPACK ? RDB_TYPE_ZSET_LISTPACK : RDB_TYPE_ZSET_2;
    }
    return RDB_TYPE_STRING;
}

struct elem_out {
    struct buf *out;
    bool compress;
    bool pairs; /* hashes: a value follows each field */
};

/* obj_elem_fn: a member (sets) or a field and its value (hashes). */
static bool put_elem(void *arg, const char *s, size_t len, const char *val, size_t vlen,
                     double score)
{
    (void)score;
    struct elem_out *eo = arg;
    rdb_put_string(eo->out, s, len, eo->compress);
    if (eo->pairs)
        rdb_put_string(eo->out, vlen ? val : "", vlen, eo->compress);
    return true;
}

static void put_lp(struct buf *out, const unsigned char *lp, bool compress)
{
    rdb_put_string(out, lp, lp_bytes(lp), compress);
}

static void put_list(struct buf *out, const void *obj, enum obj_enc enc, bool compress)
{
    if (enc == OBJ_LISTPACK) {
        rdb_put_len(out, 1);
        rdb_put_len(out, RDB_QL_PACKED);
        put_lp(out, obj, compress);
        return;
    }
    const struct quicklist *ql = obj;
    rdb_put_len(out, ql->len);
    for (const struct ql_node *n = ql->head; n; n = n->next) {
        rdb_put_len(out, RDB_QL_PACKED);
        put_lp(out, n->lp, compress);
    }
}

static void put_skiplist(struct buf *out, const struct zsl *z, bool compress)
{
    rdb_put_len(out, z->length);
    for (const struct zsl_node *n = z->tail; n; n = n->backward) {
        rdb_put_string(out, zsl_member(n), n->len, compress);
        rdb_put_double(out, n->score);
    }
}

static void put_string_value(struct buf *out, const struct entry *e, bool compress)
{
    int64_t v;
    if (entry_str_enc(e) == SE_INT && entry_str_int(e, &v)) {
        rdb_put_int(out, v);
        return;
    }
    char tmp[24];
    size_t len;
    const char *s = entry_str(e, tmp, &len);
    rdb_put_string(out, s, len, compress);
}

void store_rdb_put_entry(const struct entry *e, struct buf *out, bool compress)
{
    if (ent_has_ttl(e)) {
        buf_putc(out, (char)RDB_OP_EXPIRETIME_MS);
        rdb_put_ms(out, e->expire);
    }
    buf_putc(out, (char)type_of(e));
    rdb_put_string(out, ent_key(e), ent_klen(e), compress);
    if (ent_type(e) == VT_STRING) {
        put_string_value(out, e, compress);
        return;
    }
    const void *obj = entry_obj(e);
    enum obj_enc enc = entry_obj_enc(e);
    struct elem_out eo = {out, compress, ent_type(e) == VT_HASH};
    switch (ent_type(e)) {
    case VT_LIST:
        put_list(out, obj, enc, compress);
        break;
    case VT_HASH:
        if (enc == OBJ_LISTPACK) {
            put_lp(out, obj, compress);
        } else {
            rdb_put_len(out, hash_obj_len(obj, enc));
            hash_obj_each(obj, enc, put_elem, &eo);
        }
        break;
    case VT_SET:
        if (enc == OBJ_INTSET) {
            rdb_put_string(out, obj, intset_bytes(obj), compress);
        } else {
            rdb_put_len(out, set_obj_len(obj, enc));
            set_obj_each(obj, enc, put_elem, &eo);
        }
        break;
    case VT_ZSET:
        if (enc == OBJ_LISTPACK)
            put_lp(out, obj, compress);
        else
            put_skiplist(out, obj, compress);
        break;
    case VT_STRING:
        break;
    }
}
