/* ZPOPMIN ZPOPMAX ZMPOP ZRANGESTORE ZRANDMEMBER, and the parts of their multi-shard
 * steps (see zsets.h).
 *
 * ZMPOP across shards: phase 0 probes every key's type (in order, each on its owner),
 * phase 1 pops from the first key that exists (or replies WRONGTYPE if that key is not
 * a zset, as Redis checks keys in order and stops at the first existing one), phase 2
 * shapes the reply. ZRANGESTORE across shards: phase 0 reads the range on the source's
 * shard, phase 1 stores it on the destination's. The runtime holds every key locked
 * meanwhile, so nothing changes between the phases. */
#include "cmd/zsets.h"

#include <stdlib.h>

#include "base/hash.h"
#include "base/numfmt.h"
#include "cmd/blocking.h"

/* ---- Popping ---- */

/* Pop up to count members from the min (or max) end of the zset at key; write them as
 * the reply's elements: nested [member, score] pairs or flat. Returns how many. */
size_t zsets_pop_members(struct cmd_shard *cs, const rt_str *key, struct entry *e,
                         struct zs *z, bool max, int64_t count, struct buf *out, int proto,
                         bool nested, bool header)
{
    size_t len = zs_len(z);
    size_t n = (uint64_t)count > len ? len : (size_t)count;
    if (header)
        resp_array(out, (int64_t)(nested ? n : 2 * n));
    struct zs_iter it;
    zs_iter_rank(&it, z, 0, max);
    const char *m;
    size_t ml;
    double sc;
    for (size_t i = 0; i < n && zs_iter_next(&it, &m, &ml, &sc); i++) {
        if (nested)
            resp_array(out, 2);
        resp_bulk(out, m, ml);
        resp_double(out, sc, proto);
    }
    if (n) {
        zs_delete_rank(z, max ? len - n : 0, max ? len - 1 : n - 1);
        zcmd_written(cs, key, e, z, max ? "zpopmax" : "zpopmin");
    }
    return n;
}

static void zpop_generic(struct rt_call *call, bool max)
{
    if (call->argc > 3) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    int64_t count = -1;
    /* Redis's getPositiveLongFromObjectOrReply with its message: the same error for
     * a non-integer and for a negative count. */
    if (call->argc == 3 && !arg_count(call, &call->argv[2], &count))
        return;
    bool nested = call->proto > 2 && count != -1;
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], true, &e, &z);
    if (r < 0)
        return;
    if (r == 0 || count == 0) {
        resp_array(call->out, 0);
        return;
    }
    zsets_pop_members(cmd_shard(call), &call->argv[1], e, &z, max, count == -1 ? 1 : count,
                      call->out, call->proto, nested, true);
}

void zpopmin_exec(struct rt_call *call) { zpop_generic(call, false); }
void zpopmax_exec(struct rt_call *call) { zpop_generic(call, true); }

/* ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: NULL or the error to reply. */
static const char *zmpop_parse(const rt_str *argv, int argc, int64_t *numkeys, bool *max,
                               int64_t *count)
{
    if (!str_to_i64(argv[1].ptr, argv[1].len, numkeys) || *numkeys < 1)
        return "ERR numkeys should be greater than 0";
    if (*numkeys >= argc - 2)
        return ERR_SYNTAX;
    const rt_str *w = &argv[2 + *numkeys];
    if (arg_is(w, "min"))
        *max = false;
    else if (arg_is(w, "max"))
        *max = true;
    else
        return ERR_SYNTAX;
    *count = -1;
    for (int j = 3 + (int)*numkeys; j < argc; j++) {
        if (*count == -1 && arg_is(&argv[j], "count") && argc - 1 - j > 0) {
            j++;
            if (!str_to_i64(argv[j].ptr, argv[j].len, count) || *count < 1)
                return "ERR count should be greater than 0";
        } else {
            return ERR_SYNTAX;
        }
    }
    if (*count == -1)
        *count = 1;
    return NULL;
}

const char *zsets_mpop_parse(const rt_str *argv, int argc, int64_t *numkeys, bool *max,
                             int64_t *count)
{
    return zmpop_parse(argv, argc, numkeys, max, count);
}

void zmpop_exec(struct rt_call *call)
{
    int64_t numkeys, count;
    bool max;
    const char *err = zmpop_parse(call->argv, call->argc, &numkeys, &max, &count);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    for (int64_t i = 0; i < numkeys; i++) {
        const rt_str *key = &call->argv[2 + i];
        struct entry *e;
        struct zs z;
        int r = zcmd_lookup(call, key, true, &e, &z);
        if (r < 0)
            return;
        if (r == 0)
            continue;
        resp_array(call->out, 2);
        resp_bulk(call->out, key->ptr, key->len);
        zsets_pop_members(cmd_shard(call), key, e, &z, max, count, call->out, call->proto, true,
                          true);
        return;
    }
    resp_null_array(call->out, call->proto);
}

struct zmpop_state {
    int64_t numkeys, count;
    int64_t key; /* the argument index of the key popped from */
    bool max;
};

static void finish_buf(struct rt_txn *t, struct buf *b) { rt_txn_finish(t, b->data, b->len); }

/* Re-shape a part's flat [member, score-text ...] array as n [member, score] pairs in
 * the client's protocol. False when the reply is malformed. */
static bool reshape_pairs(rt_str r, struct buf *out, int proto)
{
    size_t pos = 0;
    struct resp_val arr, m, s;
    if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n < 0 || arr.n % 2)
        return false;
    resp_array(out, arr.n / 2);
    for (int64_t i = 0; i < arr.n / 2; i++) {
        double d;
        if (!resp_read(r.ptr, r.len, &pos, &m) || m.type != RESP_BULK ||
            !resp_read(r.ptr, r.len, &pos, &s) || s.type != RESP_BULK ||
            !str_to_double(s.str, s.len, &d))
            return false;
        resp_array(out, 2);
        resp_bulk(out, m.str, m.len);
        resp_double(out, d, proto);
    }
    return true;
}

void zmpop_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct zmpop_state *st = rt_txn_state(t, sizeof *st);
    struct rt_shard *sh = rt_txn_shard(t);
    if (phase == 0) {
        const char *err = zmpop_parse(argv, argc, &st->numkeys, &st->max, &st->count);
        if (err) {
            txn_finish_error(t, err);
            return;
        }
        for (int64_t i = 0; i < st->numkeys; i++) {
            const rt_str *k = &argv[2 + i];
            rt_str part[2] = {{"__zprobe", 8}, *k};
            rt_txn_part(t, rt_key_shard(sh, k->ptr, k->len), 2, part);
        }
        return;
    }
    if (phase == 1) {
        for (int64_t i = 0; i < st->numkeys; i++) {
            rt_str r = rt_txn_result(t, (unsigned)i);
            size_t pos = 0;
            struct resp_val v;
            if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_INT) {
                txn_finish_bad(t, r);
                return;
            }
            if (v.n == 0)
                continue;
            if (v.n != 1) {
                txn_finish_error(t, ERR_WRONGTYPE);
                return;
            }
            const rt_str *k = &argv[2 + i];
            char cb[NUMFMT_I64_MAX];
            int cl = i64_to_str(cb, st->count);
            rt_str part[4] = {{"__zpop", 6}, *k, {st->max ? "MAX" : "MIN", 3}, {cb, (size_t)cl}};
            rt_txn_part(t, rt_key_shard(sh, k->ptr, k->len), 4, part);
            st->key = 2 + i;
            return;
        }
        struct buf *b = rt_txn_scratch(t);
        resp_null_array(b, rt_txn_proto(t));
        finish_buf(t, b);
        return;
    }
    rt_str r = rt_txn_result(t, 0);
    struct buf *b = rt_txn_scratch(t);
    resp_array(b, 2);
    resp_bulk(b, argv[st->key].ptr, argv[st->key].len);
    if (!reshape_pairs(r, b, rt_txn_proto(t))) {
        txn_finish_bad(t, r);
        return;
    }
    finish_buf(t, b);
}

/* __zprobe key */
void zprobe_exec(struct rt_call *call)
{
    struct entry *e = store_find(cmd_shard(call)->store, call->argv[1].ptr, call->argv[1].len, true);
    resp_int(call->out, !e ? 0 : entry_type(e) == VT_ZSET ? 1 : 2);
}

/* __zpop key MIN|MAX count: flat RESP2 pairs. */
void zpop_part_exec(struct rt_call *call)
{
    int64_t count;
    bool max = arg_is(&call->argv[2], "max");
    if (!arg_count(call, &call->argv[3], &count))
        return;
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], true, &e, &z);
    if (r < 0)
        return;
    if (r == 0) {
        resp_array(call->out, 0);
        return;
    }
    zsets_pop_members(cmd_shard(call), &call->argv[1], e, &z, max, count, call->out, 2, false,
                      true);
}

/* ---- ZRANGESTORE ---- */

struct collect_ctx {
    struct zs z;
    struct buf *out; /* or: flat pairs for a part's reply */
};

static void collect_one(void *arg, const char *m, size_t len, double score)
{
    struct collect_ctx *c = arg;
    if (c->out) {
        resp_bulk(c->out, m, len);
        zcmd_score_bulk(c->out, score);
    } else {
        zs_add(&c->z, m, len, score, 0, NULL);
    }
}

/* Store the built result as dst and reply its size, as Redis's zrangeResultFinalizeStore. */
static void store_result(struct rt_call *call, const rt_str *dst, struct zs *z)
{
    struct cmd_shard *cs = cmd_shard(call);
    size_t n = zs_len(z);
    enum zs_store_res res = zs_store(cs->store, dst->ptr, dst->len, z);
    resp_int(call->out, (int64_t)n);
    if (res == ZS_STORED)
        cmd_key_written(cs, dst->ptr, dst->len, "zrangestore");
    else if (res == ZS_STORE_DELETED)
        cmd_key_written(cs, dst->ptr, dst->len, "del");
}

void zrangestore_exec(struct rt_call *call)
{
    struct zrange_spec sp;
    const char *err = zrange_parse(call->argv, call->argc, 2, true, ZR_AUTO, ZR_DIR_AUTO, &sp);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    struct entry *e;
    struct zs src;
    int r = zcmd_lookup(call, &call->argv[2], false, &e, &src);
    if (r < 0)
        return;
    struct collect_ctx c = {.z = zs_create(0, 0)};
    if (r)
        zrange_walk(&src, &sp, collect_one, &c);
    store_result(call, &call->argv[1], &c.z);
}

/* __zrangeget src min max [options]: the source's side, flat RESP2 pairs. */
void zrangeget_exec(struct rt_call *call)
{
    struct zrange_spec sp;
    const char *err = zrange_parse(call->argv, call->argc, 1, true, ZR_AUTO, ZR_DIR_AUTO, &sp);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    struct entry *e;
    struct zs src;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &src);
    if (r < 0)
        return;
    struct buf items = {0};
    struct collect_ctx c = {.out = &items};
    size_t n = r ? zrange_walk(&src, &sp, collect_one, &c) : 0;
    resp_array(call->out, (int64_t)(2 * n));
    buf_append(call->out, items.data, items.len);
    buf_free(&items);
}

/* __zstore dst [member score ...] */
void zstore_exec(struct rt_call *call)
{
    int pairs = (call->argc - 2) / 2;
    if ((call->argc - 2) % 2) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    size_t maxlen = 0;
    for (int i = 0; i < pairs; i++)
        if (call->argv[2 + 2 * i].len > maxlen)
            maxlen = call->argv[2 + 2 * i].len;
    struct zs z = zs_create((size_t)pairs, maxlen);
    for (int i = 0; i < pairs; i++) {
        const rt_str *m = &call->argv[2 + 2 * i], *s = &call->argv[3 + 2 * i];
        double d;
        if (!str_to_double(s->ptr, s->len, &d)) {
            zs_free(&z);
            resp_error(call->out, ERR_NOT_FLOAT);
            return;
        }
        zs_add(&z, m->ptr, m->len, d, 0, NULL);
    }
    store_result(call, &call->argv[1], &z);
}

void zrangestore_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    if (phase == 0) {
        struct zrange_spec sp;
        const char *err = zrange_parse(argv, argc, 2, true, ZR_AUTO, ZR_DIR_AUTO, &sp);
        if (err) {
            txn_finish_error(t, err);
            return;
        }
        rt_str *part = malloc((size_t)argc * sizeof *part);
        if (!part)
            abort();
        part[0] = (rt_str){"__zrangeget", 11};
        for (int i = 2; i < argc; i++)
            part[i - 1] = argv[i];
        rt_txn_part(t, rt_key_shard(sh, argv[2].ptr, argv[2].len), argc - 1, part);
        free(part);
        return;
    }
    rt_str r = rt_txn_result(t, 0);
    if (phase == 1) {
        size_t pos = 0;
        struct resp_val arr, v;
        if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n < 0) {
            txn_finish_bad(t, r);
            return;
        }
        rt_str *part = malloc(((size_t)arr.n + 2) * sizeof *part);
        if (!part)
            abort();
        part[0] = (rt_str){"__zstore", 8};
        part[1] = argv[1];
        for (int64_t i = 0; i < arr.n; i++) {
            if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_BULK) {
                free(part);
                txn_finish_bad(t, r);
                return;
            }
            part[2 + i] = (rt_str){v.str, v.len};
        }
        rt_txn_part(t, rt_key_shard(sh, argv[1].ptr, argv[1].len), (int)arr.n + 2, part);
        free(part);
        return;
    }
    if (r.len && r.ptr[0] == ':')
        rt_txn_finish(t, r.ptr, r.len);
    else
        txn_finish_bad(t, r);
}

/* ---- ZRANDMEMBER ---- */

static uint64_t rnd(void)
{
    static _Thread_local uint64_t x;
    if (!x)
        x = hash_random_seed() | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* A negative count repeats members and sizes the reply alone: bounded here (Redis has
 * no bound but the client's output limit). */
#define ZRAND_MAX_REPEAT ((uint64_t)1 << 24)

static void zrand_emit_rank(struct buf *out, int proto, bool ws, const struct zs *z, size_t rank)
{
    const char *m;
    size_t ml;
    double sc;
    char ib[LP_INTBUF];
    zs_at(z, rank, &m, &ml, &sc, ib);
    zcmd_emit(out, proto, ws, m, ml, sc);
}

static void zrandmember_count(struct rt_call *call, int64_t l, bool ws)
{
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &z);
    if (r < 0)
        return;
    if (r == 0 || l == 0) {
        resp_array(call->out, 0);
        return;
    }
    bool uniq = l > 0;
    uint64_t count = uniq ? (uint64_t)l : (uint64_t)-l;
    size_t size = zs_len(&z);
    if (!uniq || count == 1) {
        if (count > ZRAND_MAX_REPEAT) {
            resp_error(call->out, "ERR value is out of range");
            return;
        }
        zcmd_emit_header(call->out, call->proto, ws, count);
        for (uint64_t i = 0; i < count; i++)
            zrand_emit_rank(call->out, call->proto, ws, &z, rnd() % size);
        return;
    }
    if (count >= size) {
        zcmd_emit_header(call->out, call->proto, ws, size);
        struct zs_iter it;
        zs_iter_rank(&it, &z, 0, false);
        const char *m;
        size_t ml;
        double sc;
        while (zs_iter_next(&it, &m, &ml, &sc))
            zcmd_emit(call->out, call->proto, ws, m, ml, sc);
        return;
    }
    /* count distinct ranks by Floyd's algorithm; a small open-addressing set of ranks
     * (count < size, so its size is bounded by the set's). */
    size_t cap = 16;
    while (cap < 2 * count)
        cap <<= 1;
    uint64_t *set = calloc(cap, sizeof *set); /* rank + 1; 0 is empty */
    uint64_t *order = malloc(count * sizeof *order);
    if (!set || !order)
        abort();
    size_t n = 0;
    for (uint64_t j = size - count; j < size; j++) {
        uint64_t t = rnd() % (j + 1), pick = t;
        for (int pass = 0; pass < 2; pass++) {
            size_t h = (size_t)(pick * 0x9E3779B97F4A7C15ull) & (cap - 1);
            while (set[h] && set[h] != pick + 1)
                h = (h + 1) & (cap - 1);
            if (!set[h]) {
                set[h] = pick + 1;
                order[n++] = pick;
                break;
            }
            pick = j; /* t was taken: j cannot have been (ranks so far are < j) */
        }
    }
    zcmd_emit_header(call->out, call->proto, ws, n);
    for (size_t i = 0; i < n; i++)
        zrand_emit_rank(call->out, call->proto, ws, &z, order[i]);
    free(set);
    free(order);
}

void zrandmember_exec(struct rt_call *call)
{
    if (call->argc >= 3) {
        int64_t l;
        bool ws;
        if (!arg_rand_count(call, "withscores", &l, &ws))
            return;
        zrandmember_count(call, l, ws);
        return;
    }
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &z);
    if (r < 0)
        return;
    if (r == 0) {
        resp_null(call->out, call->proto);
        return;
    }
    zrand_emit_rank(call->out, call->proto, false, &z, rnd() % zs_len(&z));
}
