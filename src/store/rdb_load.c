/* Loading an RDB image into a store (see rdb_obj.h): the opcode loop, the aux fields
 * corekv reads, expiry at load, and the checksum. Values are built by rdb_build.c. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/numfmt.h"
#include "persist/rdb.h"
#include "store/entry.h"
#include "store/object.h"
#include "store/rdb_build.h"
#include "store/rdb_obj.h"

/* Empty collections skipped are logged by name up to this many times per load. */
#define EMPTY_LOG_MAX 10

struct load {
    struct store *s;
    struct rdb_reader *r;
    int version;
    int64_t now_ms;
    int64_t expire; /* of the next record; -1: none (Redis's sentinel too) */
    uint64_t empty;
    struct rdb_load_info *info;
};

static bool str_is(const struct rdb_str *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->len == n && memcmp(s->s, lit, n) == 0;
}

/* corekv-shard / corekv-shards: a count in decimal. */
static bool aux_count(struct rdb_reader *r, size_t at, const struct rdb_str *v,
                      const char *name, int *out)
{
    int64_t x;
    if (!str_to_i64(v->s, v->len, &x) || x < 0 || x > 1 << 20)
        return rdb_fail(r, at, "bad %s aux value", name);
    *out = (int)x;
    return true;
}

/* AUX: fields corekv does not know are skipped, as the format requires. */
static bool read_aux(struct load *L, size_t at)
{
    struct rdb_str k, v;
    if (!rdb_read_string(L->r, &k))
        return false;
    if (!rdb_read_string(L->r, &v)) {
        rdb_str_free(&k);
        return false;
    }
    bool ok = true;
    int64_t x;
    if (str_is(&k, "corekv-shard"))
        ok = aux_count(L->r, at, &v, "corekv-shard", &L->info->shard);
    else if (str_is(&k, "corekv-shards"))
        ok = aux_count(L->r, at, &v, "corekv-shards", &L->info->nshards);
    else if (str_is(&k, "aof-base"))
        L->info->aof_base = str_to_i64(v.s, v.len, &x) && x != 0;
    rdb_str_free(&k);
    rdb_str_free(&v);
    return ok;
}

/* Store a built value under key (or drop it: expired, or an empty collection). */
static void put_value(struct load *L, const struct rdb_str *key, struct rdb_value *v)
{
    if (v->type != VT_STRING && !v->obj) {
        if (L->empty++ < EMPTY_LOG_MAX)
            log_msg(LOG_WARNING, "RDB load: skipping an empty collection (key '%.*s')",
                    (int)(key->len > 64 ? 64 : key->len), key->s);
        return;
    }
    if (L->expire != -1 && L->now_ms > 0 && L->expire < L->now_ms) {
        L->info->expired++;
        return;
    }
    int64_t ttl = L->expire == -1 ? STORE_NO_TTL : L->expire;
    if (v->type == VT_STRING) {
        store_set_str(L->s, key->s, key->len, v->str.s, v->str.len, ttl, false);
    } else {
        struct entry *e = store_set_obj(L->s, key->s, key->len, v->type, v->enc, v->obj);
        v->obj = NULL;
        if (ttl != STORE_NO_TTL)
            store_set_expire(L->s, e, ttl);
    }
    L->info->loaded++;
}

/* A record: key and value of the given type (its byte at `at`). */
static bool read_record(struct load *L, unsigned type, size_t at)
{
    if (!rdb_type_supported(type))
        return rdb_fail(L->r, at, "unsupported RDB type %u", type);
    struct rdb_str key;
    if (!rdb_read_string(L->r, &key))
        return false;
    struct rdb_value v;
    if (!rdb_build_value(L->r, type, &v)) {
        rdb_str_free(&key);
        return false;
    }
    put_value(L, &key, &v);
    rdb_value_free(&v);
    rdb_str_free(&key);
    L->expire = -1;
    return true;
}

/* After the EOF opcode (the byte before `end`): the checksum of every byte before it,
 * from version 5 on; zero means the writer had checksums off. */
static bool read_checksum(struct load *L, size_t end)
{
    if (L->version < 5)
        return true;
    const unsigned char *p;
    if (!rdb_read_raw(L->r, 8, &p))
        return false;
    uint64_t stored = 0;
    for (int i = 0; i < 8; i++)
        stored |= (uint64_t)p[i] << (8 * i);
    if (stored == 0)
        return true;
    uint64_t crc = rdb_crc64(0, L->r->p, end);
    if (crc != stored)
        return rdb_fail(L->r, end, "RDB checksum mismatch (file has %016llx, data gives %016llx)",
                        (unsigned long long)stored, (unsigned long long)crc);
    return true;
}

static bool load_body(struct load *L)
{
    struct rdb_reader *r = L->r;
    for (;;) {
        size_t at = r->pos;
        uint8_t op;
        uint64_t a, b;
        int32_t secs;
        if (!rdb_read_u8(r, &op))
            return false;
        switch (op) {
        case RDB_OP_EOF:
            return read_checksum(L, r->pos);
        case RDB_OP_EXPIRETIME_MS:
            if (!rdb_read_ms(r, &L->expire))
                return false;
            break;
        case RDB_OP_EXPIRETIME:
            if (!rdb_read_secs(r, &secs))
                return false;
            L->expire = (int64_t)secs * 1000;
            break;
        case RDB_OP_FREQ:
            if (!rdb_read_u8(r, &op))
                return false;
            break;
        case RDB_OP_IDLE:
            if (!rdb_read_len(r, &a))
                return false;
            break;
        case RDB_OP_SELECTDB:
            if (!rdb_read_len(r, &a))
                return false;
            if (a != 0)
                return rdb_fail(r, at, "keys of database %llu (corekv has only database 0)",
                                (unsigned long long)a);
            break;
        case RDB_OP_RESIZEDB:
            if (!rdb_read_len(r, &a) || !rdb_read_len(r, &b))
                return false;
            break;
        case RDB_OP_AUX:
            if (!read_aux(L, at))
                return false;
            break;
        case RDB_OP_MODULE_AUX:
            return rdb_fail(r, at, "unsupported RDB opcode %u (module data)", op);
        case RDB_OP_FUNCTION:
        case RDB_OP_FUNCTION2:
            return rdb_fail(r, at, "unsupported RDB opcode %u (functions)", op);
        default:
            if (!read_record(L, op, at))
                return false;
            break;
        }
    }
}

bool store_rdb_load(struct store *s, const char *p, size_t n, int64_t now_ms,
                    struct rdb_load_info *info, char *err, size_t errlen)
{
    struct rdb_load_info li = {.shard = -1, .nshards = -1};
    struct rdb_reader r;
    rdb_reader_init(&r, p, n);
    struct load L = {.s = s, .r = &r, .now_ms = now_ms, .expire = -1, .info = &li};
    bool ok = rdb_read_magic(&r, &L.version) && load_body(&L);
    if (L.empty)
        log_msg(LOG_WARNING, "RDB load: %llu empty collections skipped",
                (unsigned long long)L.empty);
    if (info)
        *info = li;
    if (!ok)
        rdb_error(&r, err, errlen);
    return ok;
}
