/* MGET, MSET, MSETNX: exec for keys that all live on one shard, step for keys spread
 * over several (split over owners with split.c, then reduced on the origin). */
#include <stdint.h>

#include "cmd/split.h"
#include "cmd/strings_impl.h"

static const char internal_error[] = "-ERR internal error\r\n";

/* ---- MGET ---- */

void str_mget(struct rt_call *call)
{
    struct store *s = cmd_shard(call)->store;
    resp_array(call->out, call->argc - 1);
    for (int j = 1; j < call->argc; j++) {
        const rt_str *k = &call->argv[j];
        struct entry *e = store_find(s, k->ptr, k->len, true);
        store_count_lookup(s, k->ptr, k->len, e != NULL);
        if (e && entry_type(e) == VT_STRING)
            str_reply_entry(call, e);
        else
            resp_null(call->out, call->proto);
    }
}

/* Phase 0 sends each owner "mget" with its keys; phase 1 walks the parts' arrays in
 * request order (map[g]: the part holding key g) and copies each value's bytes, the
 * nils rewritten in the client's protocol. */
void str_mget_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    rt_txn_argv(t, &argc);
    size_t nkeys = (size_t)argc - 1;
    unsigned *map = rt_txn_state(t, nkeys * sizeof *map);
    if (phase == 0) {
        split_keys(t, "mget", 1, 1, map);
        return;
    }
    unsigned nparts = rt_txn_nresults(t);
    rt_str res[RT_MAX_SHARDS];
    size_t pos[RT_MAX_SHARDS];
    if (nparts > RT_MAX_SHARDS)
        goto internal;
    for (unsigned i = 0; i < nparts; i++) {
        res[i] = rt_txn_result(t, i);
        if (res[i].len && res[i].ptr[0] == '-') {
            rt_txn_finish(t, res[i].ptr, res[i].len);
            return;
        }
        struct resp_val v;
        pos[i] = 0;
        if (!resp_read(res[i].ptr, res[i].len, &pos[i], &v) || v.type != RESP_ARRAY)
            goto internal;
    }
    struct buf *out = rt_txn_scratch(t);
    int proto = rt_txn_proto(t);
    resp_array(out, (int64_t)nkeys);
    for (size_t g = 0; g < nkeys; g++) {
        unsigned p = map[g];
        if (p >= nparts)
            goto internal;
        size_t at = pos[p];
        struct resp_val v;
        if (!resp_read(res[p].ptr, res[p].len, &pos[p], &v))
            goto internal;
        const char *b = res[p].ptr + at;
        if (v.type == RESP_NULL || (v.type == RESP_BULK && b[1] == '-'))
            resp_null(out, proto);
        else if (v.type == RESP_BULK)
            buf_append(out, b, pos[p] - at);
        else
            goto internal;
    }
    rt_txn_finish(t, out->data, out->len);
    return;
internal:
    rt_txn_finish(t, internal_error, sizeof internal_error - 1);
}

/* ---- MSET / MSETNX ---- */

/* Keys and values come in pairs; Redis answers an odd count with the arity error. */
static bool pairs_ok(int argc) { return argc % 2 == 1; }

static void arity_error(struct buf *out, const char *name)
{
    resp_errorf(out, "ERR wrong number of arguments for '%s' command", name);
}

static void set_pairs(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *argv = call->argv;
    for (int j = 1; j < call->argc; j += 2) {
        store_set_str(cs->store, argv[j].ptr, argv[j].len, argv[j + 1].ptr, argv[j + 1].len,
                      STORE_NO_TTL, false);
        cmd_key_written(cs, argv[j].ptr, argv[j].len, "set");
    }
}

void str_mset(struct rt_call *call)
{
    if (!pairs_ok(call->argc)) {
        arity_error(call->out, "mset");
        return;
    }
    set_pairs(call);
    resp_ok(call->out);
}

static void step_arity_error(struct rt_txn *t, const char *name)
{
    struct buf *out = rt_txn_scratch(t);
    arity_error(out, name);
    rt_txn_finish(t, out->data, out->len);
}

void str_mset_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    rt_txn_argv(t, &argc);
    if (phase == 0) {
        if (!pairs_ok(argc))
            step_arity_error(t, "mset");
        else
            split_keys(t, "mset", 1, 2, NULL);
        return;
    }
    if (split_all_ok(t))
        rt_txn_finish(t, "+OK\r\n", 5);
}

/* MSETNX: nothing is set when any key exists. A key given twice is set to its last
 * value (the pairs are applied in order). */
void str_msetnx(struct rt_call *call)
{
    if (!pairs_ok(call->argc)) {
        arity_error(call->out, "msetnx");
        return;
    }
    struct store *s = cmd_shard(call)->store;
    for (int j = 1; j < call->argc; j += 2) {
        if (store_find(s, call->argv[j].ptr, call->argv[j].len, true)) {
            resp_int(call->out, 0);
            return;
        }
    }
    set_pairs(call);
    resp_int(call->out, 1);
}

/* Across shards: phase 0 asks every owner how many of its keys exist; only when none
 * does, phase 1 sends the pairs as "mset" parts; phase 2 confirms. Nothing changes
 * before every check passed. */
void str_msetnx_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    rt_txn_argv(t, &argc);
    int64_t existing;
    switch (phase) {
    case 0:
        if (!pairs_ok(argc))
            step_arity_error(t, "msetnx");
        else
            split_keys_view(t, "__count_existing", 1, 2, 1, NULL);
        return;
    case 1:
        if (!split_sum(t, &existing))
            return;
        if (existing > 0)
            rt_txn_finish(t, ":0\r\n", 4);
        else
            split_keys(t, "mset", 1, 2, NULL);
        return;
    default:
        if (split_all_ok(t))
            rt_txn_finish(t, ":1\r\n", 4);
        return;
    }
}

/* __count_existing key [key ...]: how many of the (local) keys exist, any type. A
 * write-side lookup, as MSETNX's: no keyspace hit/miss counting. */
void str_count_existing(struct rt_call *call)
{
    struct store *s = cmd_shard(call)->store;
    int64_t n = 0;
    for (int j = 1; j < call->argc; j++)
        if (store_find(s, call->argv[j].ptr, call->argv[j].len, true))
            n++;
    resp_int(call->out, n);
}
