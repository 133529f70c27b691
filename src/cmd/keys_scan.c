/* The whole-keyspace commands: KEYS, SCAN, RANDOMKEY.
 *
 * Each fans out to the shards (or to the one shard a pattern pins) and reduces on the
 * origin. SCAN's cursor names its shard: cursor = (local << 6) | shard, where local is
 * that shard's own store_scan cursor. A full iteration walks shard 0 to N-1, each once
 * from local cursor 0 until it returns 0, so Redis's SCAN guarantees hold per shard and
 * hence for the keyspace. */
#include "cmd/keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "base/clock.h"
#include "base/glob.h"
#include "base/numfmt.h"
#include "cmd/typed.h"

#define SCAN_SHARD_BITS 6 /* RT_MAX_SHARDS == 64 */
#define SCAN_SHARD_MASK ((1u << SCAN_SHARD_BITS) - 1)

static bool pattern_is_literal(const rt_str *p)
{
    for (size_t i = 0; i < p->len; i++)
        if (p->ptr[i] == '*' || p->ptr[i] == '?' || p->ptr[i] == '[' || p->ptr[i] == '\\')
            return false;
    return true;
}

/* ---- KEYS ---- */

struct keys_ctx {
    const rt_str *pat;
    bool all;
    int64_t n;
    struct buf *out;
};

static void keys_visit(struct entry *e, void *arg)
{
    struct keys_ctx *k = arg;
    size_t klen;
    const char *key = entry_key(e, &klen);
    if (k->all || glob_match(k->pat->ptr, k->pat->len, key, klen, false)) {
        resp_bulk(k->out, key, klen);
        k->n++;
    }
}

/* This shard's keys matching argv[1] (also the part each shard runs for KEYS). */
void keys_keys_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *pat = &call->argv[1];
    if (pattern_is_literal(pat)) {
        /* Only the key spelled by the pattern can match. */
        size_t klen;
        struct entry *e = store_find(cs->store, pat->ptr, pat->len, false);
        if (!e) {
            resp_array(call->out, 0);
            return;
        }
        const char *key = entry_key(e, &klen);
        resp_array(call->out, 1);
        resp_bulk(call->out, key, klen);
        return;
    }
    struct buf tmp = {0};
    struct keys_ctx k = {.pat = pat, .all = scan_match_all(pat), .out = &tmp};
    /* Nothing changes the store during the walk, so no key is seen twice. */
    uint64_t cursor = 0;
    do
        cursor = store_scan(cs->store, cursor, UINT32_MAX, keys_visit, &k);
    while (cursor);
    resp_array(call->out, k.n);
    buf_append(call->out, tmp.data, tmp.len);
    buf_free(&tmp);
}

/* Finish with a part's error reply when it is one. */
static bool pass_error(struct rt_txn *t, rt_str r)
{
    if (r.len && r.ptr[0] == '-') {
        rt_txn_finish(t, r.ptr, r.len);
        return true;
    }
    if (!r.len) {
        txn_finish_error(t, "ERR internal error");
        return true;
    }
    return false;
}

void keys_keys_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    if (phase == 0) {
        rt_str part[2] = {{"keys", 4}, argv[1]};
        unsigned shard, n = rt_nshards(rt_txn_shard(t));
        if (keys_pattern_shard(rt_txn_shard(t), argv[1].ptr, argv[1].len, &shard)) {
            rt_txn_part(t, shard, 2, part);
        } else {
            for (unsigned i = 0; i < n; i++)
                rt_txn_part(t, i, 2, part);
        }
        return;
    }
    /* Concatenate the parts' arrays under one header. */
    unsigned nres = rt_txn_nresults(t);
    int64_t total = 0;
    for (unsigned i = 0; i < nres; i++) {
        rt_str r = rt_txn_result(t, i);
        if (pass_error(t, r))
            return;
        size_t pos = 0;
        struct resp_val v;
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY) {
            txn_finish_error(t, "ERR internal error");
            return;
        }
        total += v.n;
    }
    struct buf *b = rt_txn_scratch(t);
    resp_array(b, total);
    for (unsigned i = 0; i < nres; i++) {
        rt_str r = rt_txn_result(t, i);
        size_t pos = 0;
        struct resp_val v;
        resp_read(r.ptr, r.len, &pos, &v);
        buf_append(b, r.ptr + pos, r.len - pos);
    }
    rt_txn_finish(t, b->data, b->len);
}

/* ---- SCAN ---- */

/* Across phases: where the scan is, and the keys gathered so far. A shard that
 * finishes its table before COUNT keys were gathered hands over to the next shard in
 * the same call, so a small keyspace still comes back in one reply as with Redis. The
 * keys buffer is the state's only allocation: every finish below frees it. */
struct scan_state {
    unsigned shard;
    bool pinned;
    struct scan_opts o;
    uint64_t nkeys;
    struct buf keys;
};

static void scan_queue(struct rt_txn *t, struct scan_state *st, uint64_t local)
{
    char lbuf[24];
    int llen = snprintf(lbuf, sizeof lbuf, "%" PRIu64, local);
    rt_str part[8] = {{"__scan", 6}, {lbuf, (size_t)llen}};
    int n = 2;
    if (st->o.match) {
        part[n++] = (rt_str){"MATCH", 5};
        part[n++] = *st->o.match;
    }
    if (st->o.count) {
        part[n++] = (rt_str){"COUNT", 5};
        part[n++] = *st->o.count;
    }
    if (st->o.type) {
        part[n++] = (rt_str){"TYPE", 4};
        part[n++] = *st->o.type;
    }
    rt_txn_part(t, st->shard, n, part);
}

static void scan_fail(struct rt_txn *t, struct scan_state *st, rt_str r)
{
    buf_free(&st->keys);
    if (!pass_error(t, r))
        txn_finish_error(t, "ERR internal error");
}

void keys_scan_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    unsigned nshards = rt_nshards(sh);
    struct scan_state *st = rt_txn_state(t, sizeof *st);

    if (phase == 0) {
        uint64_t cursor;
        if (!scan_cursor_parse(&argv[1], &cursor)) {
            txn_finish_error(t, ERR_INVALID_CURSOR);
            return;
        }
        /* The options point into the command's own arguments, which live as long as
         * the transaction. */
        const char *err = scan_opts_parse(argv, argc, 2, true, &st->o);
        if (err) {
            txn_finish_error(t, err);
            return;
        }
        st->shard = (unsigned)(cursor & SCAN_SHARD_MASK);
        if (st->shard >= nshards) {
            txn_finish_error(t, ERR_INVALID_CURSOR);
            return;
        }
        /* A pattern whose matches all live on one shard scans only that shard. */
        unsigned pin;
        const rt_str *m = st->o.match;
        if (m && !scan_match_all(m) && keys_pattern_shard(sh, m->ptr, m->len, &pin)) {
            if (cursor == 0)
                st->shard = pin;
            st->pinned = st->shard == pin;
        }
        scan_queue(t, st, cursor >> SCAN_SHARD_BITS);
        return;
    }

    rt_str r = rt_txn_result(t, 0);
    size_t pos = 0;
    struct resp_val arr, cur, keys;
    uint64_t local;
    if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n != 2 ||
        !resp_read(r.ptr, r.len, &pos, &cur) || cur.type != RESP_BULK || cur.n < 0 ||
        !str_to_u64(cur.str, cur.len, &local) || local >> (64 - SCAN_SHARD_BITS)) {
        /* A local cursor needing more than 58 bits would take a table of 2^58 buckets. */
        scan_fail(t, st, r);
        return;
    }
    if (!resp_read(r.ptr, r.len, &pos, &keys) || keys.type != RESP_ARRAY || keys.n < 0) {
        scan_fail(t, st, r);
        return;
    }
    st->nkeys += (uint64_t)keys.n;
    buf_append(&st->keys, r.ptr + pos, r.len - pos);

    bool last = st->pinned || st->shard + 1 >= nshards;
    if (local == 0 && !last && st->nkeys < (uint64_t)st->o.count_v) {
        st->shard++;
        scan_queue(t, st, 0);
        return;
    }
    uint64_t next;
    if (local)
        next = (local << SCAN_SHARD_BITS) | st->shard;
    else
        next = last ? 0 : st->shard + 1;
    struct buf *b = rt_txn_scratch(t);
    scan_reply(b, next, (int64_t)st->nkeys, &st->keys);
    buf_free(&st->keys);
    rt_txn_finish(t, b->data, b->len);
}

struct iscan_ctx {
    struct store *store;
    const rt_str *match, *type;
    size_t type_len;
    uint64_t seen;
    int64_t n;
    struct buf *out;
};

static void iscan_visit(struct entry *e, void *arg)
{
    struct iscan_ctx *c = arg;
    size_t klen;
    const char *key = entry_key(e, &klen);
    c->seen++;
    if (c->match && !glob_match(c->match->ptr, c->match->len, key, klen, false))
        return;
    if (c->type) {
        /* Redis looks the key up to learn its type: a read that counts as a hit. */
        store_count_lookup(c->store, key, klen, true);
        const char *tn = keys_type_name(entry_type(e));
        if (strlen(tn) != c->type_len || strncasecmp(tn, c->type->ptr, c->type_len) != 0)
            return;
    }
    resp_bulk(c->out, key, klen);
    c->n++;
}

/* __scan local_cursor [MATCH p] [COUNT n] [TYPE t]: one step of this shard's SCAN. As
 * Redis, visit buckets until COUNT keys were seen (before filtering) or 10 * COUNT
 * buckets were visited, or the table is done. */
void keys_iscan_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    uint64_t cursor;
    if (!str_to_u64(call->argv[1].ptr, call->argv[1].len, &cursor)) {
        resp_error(call->out, ERR_INVALID_CURSOR);
        return;
    }
    struct scan_opts o = {0};
    const char *err = scan_opts_parse(call->argv, call->argc, 2, true, &o);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    struct buf tmp = {0};
    struct iscan_ctx c = {.store = cs->store, .type = o.type, .out = &tmp};
    if (o.match && !scan_match_all(o.match))
        c.match = o.match;
    if (o.type)
        c.type_len = keys_cstrlen(o.type);
    uint64_t count = (uint64_t)o.count_v;
    uint64_t budget = count > UINT64_MAX / 10 ? UINT64_MAX : count * 10;
    do
        cursor = store_scan(cs->store, cursor, 1, iscan_visit, &c);
    while (cursor && budget-- && c.seen < count);

    scan_reply(call->out, cursor, c.n, &tmp);
    buf_free(&tmp);
}

/* ---- RANDOMKEY ---- */

/* __randomkey: *2 [:keys held here, a random key | nil]. */
void keys_irandomkey_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    struct entry *e = store_random(cs->store);
    resp_array(call->out, 2);
    resp_int(call->out, (int64_t)store_count(cs->store));
    if (!e) {
        resp_null(call->out, call->proto);
        return;
    }
    size_t klen;
    const char *key = entry_key(e, &klen);
    resp_bulk(call->out, key, klen);
}

static uint64_t rand_next(void)
{
    static _Thread_local uint64_t state;
    if (!state)
        state = clock_mono_ns() ^ (uint64_t)(uintptr_t)&state ^ 0x9e3779b97f4a7c15u;
    /* splitmix64 */
    uint64_t z = (state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Each shard offers one random key; one offer is chosen with probability proportional
 * to its shard's size, so every key is about equally likely. */
void keys_randomkey_step(struct rt_txn *t, unsigned phase)
{
    if (phase == 0) {
        unsigned n = rt_nshards(rt_txn_shard(t));
        rt_str part[1] = {{"__randomkey", 11}};
        for (unsigned i = 0; i < n; i++)
            rt_txn_part(t, i, 1, part);
        return;
    }
    unsigned nres = rt_txn_nresults(t);
    struct offer {
        const char *key;
        size_t len;
        uint64_t weight;
    } offers[RT_MAX_SHARDS];
    unsigned noffers = 0;
    uint64_t total = 0;
    for (unsigned i = 0; i < nres && i < RT_MAX_SHARDS; i++) {
        rt_str r = rt_txn_result(t, i);
        if (pass_error(t, r))
            return;
        size_t pos = 0;
        struct resp_val arr, size, key;
        if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n != 2 ||
            !resp_read(r.ptr, r.len, &pos, &size) || size.type != RESP_INT ||
            !resp_read(r.ptr, r.len, &pos, &key) || key.type != RESP_BULK) {
            txn_finish_error(t, "ERR internal error");
            return;
        }
        if (key.n < 0)
            continue;
        uint64_t w = size.n > 0 ? (uint64_t)size.n : 1;
        offers[noffers++] = (struct offer){key.str, key.len, w};
        total += w;
    }
    struct buf *b = rt_txn_scratch(t);
    if (!noffers) {
        resp_null(b, rt_txn_proto(t));
    } else {
        uint64_t pick = rand_next() % total;
        unsigned i = 0;
        while (pick >= offers[i].weight)
            pick -= offers[i++].weight;
        resp_bulk(b, offers[i].key, offers[i].len);
    }
    rt_txn_finish(t, b->data, b->len);
}
