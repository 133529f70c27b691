/* Moving values between keys: RENAME, RENAMENX, COPY, and the parts that carry a value
 * from one shard to another.
 *
 * Both keys on one shard: exec does it in place (store_rename, or dump + restore for
 * COPY). Keys on two shards: the step first reads (the source's dump and TTL, and
 * whether the destination exists), decides, and only then writes: the destination is
 * restored, and once that succeeded the source is deleted (RENAME). Nothing changes
 * until every check has passed, and the source is never lost. */
#include "cmd/keys.h"

#include <limits.h>

#include "base/numfmt.h"
#include "cmd/effect.h"
#include "cmd/typed.h"

static bool same_key(const rt_str *a, const rt_str *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* ---- RENAME / RENAMENX, one shard ---- */

static void rename_exec(struct rt_call *call, bool nx)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *src = &call->argv[1], *dst = &call->argv[2];
    bool same = same_key(src, dst);
    /* The destination is looked up first: a lookup may delete an expired key, which
     * would invalidate an entry pointer taken before it. */
    bool dst_exists = !same && nx && store_find(cs->store, dst->ptr, dst->len, true);
    struct entry *e = store_find(cs->store, src->ptr, src->len, true);
    if (!e) {
        resp_error(call->out, ERR_NO_KEY);
        return;
    }
    if (same) {
        /* Redis: a rename onto itself changes nothing but still needs the key. */
        if (nx)
            resp_int(call->out, 0);
        else
            resp_ok(call->out);
        return;
    }
    if (dst_exists) {
        resp_int(call->out, 0);
        return;
    }
    store_rename(cs->store, e, dst->ptr, dst->len);
    cmd_key_written(cs, src->ptr, src->len, "rename_from");
    cmd_key_written(cs, dst->ptr, dst->len, "rename_to");
    if (nx)
        resp_int(call->out, 1);
    else
        resp_ok(call->out);
}

void keys_rename_exec(struct rt_call *call) { rename_exec(call, false); }
void keys_renamenx_exec(struct rt_call *call) { rename_exec(call, true); }

/* ---- COPY, one shard ---- */

/* COPY's options: REPLACE, DB n. Only database 0 exists, so any other valid index is
 * out of range, as in a Redis configured with one database. */
static const char *copy_opts(const rt_str *argv, int argc, bool *replace)
{
    *replace = false;
    for (int j = 3; j < argc; j++) {
        if (arg_is(&argv[j], "replace")) {
            *replace = true;
        } else if (arg_is(&argv[j], "db") && argc - j - 1 >= 1) {
            int64_t db;
            if (!str_to_i64(argv[j + 1].ptr, argv[j + 1].len, &db))
                return ERR_NOT_INT;
            if (db < INT_MIN || db > INT_MAX)
                return "ERR value is out of range, value must between -2147483648 and "
                       "2147483647";
            if (db != 0)
                return "ERR DB index is out of range";
            j++;
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

#define ERR_SAME_OBJECT "ERR source and destination objects are the same"

void keys_copy_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *src = &call->argv[1], *dst = &call->argv[2];
    bool replace;
    const char *err = copy_opts(call->argv, call->argc, &replace);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    if (same_key(src, dst)) {
        resp_error(call->out, ERR_SAME_OBJECT);
        return;
    }
    bool dst_exists = store_find(cs->store, dst->ptr, dst->len, true) != NULL;
    struct entry *e = store_find(cs->store, src->ptr, src->len, true);
    store_count_lookup(cs->store, src->ptr, src->len, e != NULL); /* the source is a read in Redis */
    if (!e || (dst_exists && !replace)) {
        resp_int(call->out, 0);
        return;
    }
    struct buf dump = {0};
    entry_dump(e, &dump);
    int64_t ttl = entry_expire(e);
    bool ok = store_restore(cs->store, dst->ptr, dst->len, dump.data, dump.len, ttl);
    buf_free(&dump);
    if (!ok) {
        resp_error(call->out, "ERR internal error");
        return;
    }
    cmd_key_written(cs, dst->ptr, dst->len, "copy_to");
    resp_int(call->out, 1);
}

/* ---- Parts ---- */

/* __dump key [READ] */
void keys_idump_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    bool read = call->argc > 2 && arg_is(&call->argv[2], "read");
    if (call->argc > 3 || (call->argc == 3 && !read)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct entry *e = store_find(cs->store, k->ptr, k->len, true);
    if (read)
        store_count_lookup(cs->store, k->ptr, k->len, e != NULL);
    resp_array(call->out, 2);
    if (!e) {
        resp_null(call->out, 2);
        resp_int(call->out, -1);
        return;
    }
    struct buf dump = {0};
    entry_dump(e, &dump);
    resp_bulk(call->out, dump.data, dump.len);
    buf_free(&dump);
    resp_int(call->out, entry_expire(e));
}

/* __exists key: a write-style lookup (no hit/miss statistics). */
void keys_iexists_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    resp_int(call->out, store_find(cs->store, k->ptr, k->len, true) != NULL);
}

/* The keyspace events a part may be asked to emit (cmd_key_written takes a C string
 * that outlives the call). */
static const char *event_name(const rt_str *a)
{
    static const char *const known[] = {"rename_from", "rename_to", "copy_to", "restore", "del"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (arg_is(a, known[i]))
            return known[i];
    return NULL;
}

/* __restore key abs_expire_ms dump [event] */
void keys_irestore_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1], *d = &call->argv[3];
    const char *event = "restore";
    if (call->argc > 5 || (call->argc == 5 && !(event = event_name(&call->argv[4])))) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    int64_t ttl;
    if (!str_to_i64(call->argv[2].ptr, call->argv[2].len, &ttl) ||
        (ttl < 0 && ttl != STORE_NO_TTL)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    if (ttl != STORE_NO_TTL && ttl <= store_now(cs->store)) {
        /* The deadline passed while the value travelled: it arrives already expired,
         * so the destination ends up absent (it is still replaced). Logged as the DEL it
         * is: replay's stopped clock would restore the value. */
        if (store_delete(cs->store, k->ptr, k->len)) {
            cmd_key_written(cs, k->ptr, k->len, event);
            effect_log_key(cs, "DEL", k);
        }
        resp_ok(call->out);
        return;
    }
    if (!store_restore(cs->store, k->ptr, k->len, d->ptr, d->len, ttl)) {
        resp_error(call->out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    cmd_key_written(cs, k->ptr, k->len, event);
    resp_ok(call->out);
}

/* __del key event */
void keys_idel_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    const char *event = event_name(&call->argv[2]);
    if (!event) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    bool deleted = store_delete(cs->store, k->ptr, k->len);
    if (deleted)
        cmd_key_written(cs, k->ptr, k->len, event);
    resp_int(call->out, deleted);
}

/* ---- Across two shards ---- */

enum move_kind { MOVE_RENAME, MOVE_RENAMENX, MOVE_COPY };

struct move_state {
    unsigned src_shard, dst_shard;
    bool replace;
};

/* Reads a __dump reply: *2 [dump | nil, ttl]. */
static bool read_dump(rt_str r, struct resp_val *dump, int64_t *ttl)
{
    size_t pos = 0;
    struct resp_val arr, t;
    if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n != 2 ||
        !resp_read(r.ptr, r.len, &pos, dump) || dump->type != RESP_BULK ||
        !resp_read(r.ptr, r.len, &pos, &t) || t.type != RESP_INT)
        return false;
    *ttl = t.n;
    return true;
}

static bool read_int(rt_str r, int64_t *v)
{
    size_t pos = 0;
    struct resp_val x;
    if (!resp_read(r.ptr, r.len, &pos, &x) || x.type != RESP_INT)
        return false;
    *v = x.n;
    return true;
}

/* A part's reply that is not what the protocol promises: pass an error on, or fail. */
static void finish_bad_reply(struct rt_txn *t, rt_str r)
{
    if (r.len && r.ptr[0] == '-')
        rt_txn_finish(t, r.ptr, r.len);
    else
        txn_finish_error(t, "ERR internal error");
}

static void finish_int(struct rt_txn *t, int64_t v)
{
    struct buf *b = rt_txn_scratch(t);
    resp_int(b, v);
    rt_txn_finish(t, b->data, b->len);
}

/* Phases: 0 read the source (and whether the destination exists), 1 decide and restore
 * the destination, 2 delete the source (RENAME), last: reply. */
static void move_step(struct rt_txn *t, unsigned phase, enum move_kind kind)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct move_state *st = rt_txn_state(t, sizeof *st);
    const rt_str *src = &argv[1], *dst = &argv[2];
    bool is_copy = kind == MOVE_COPY;

    switch (phase) {
    case 0: {
        if (is_copy) {
            const char *err = copy_opts(argv, argc, &st->replace);
            if (!err && same_key(src, dst))
                err = ERR_SAME_OBJECT;
            if (err) {
                txn_finish_error(t, err);
                return;
            }
        }
        struct rt_shard *sh = rt_txn_shard(t);
        st->src_shard = rt_key_shard(sh, src->ptr, src->len);
        st->dst_shard = rt_key_shard(sh, dst->ptr, dst->len);
        rt_str dump[3] = {{"__dump", 6}, *src, {"READ", 4}};
        rt_txn_part(t, st->src_shard, is_copy ? 3 : 2, dump);
        if (kind == MOVE_RENAMENX || (is_copy && !st->replace)) {
            rt_str ex[2] = {{"__exists", 8}, *dst};
            rt_txn_part(t, st->dst_shard, 2, ex);
        }
        return;
    }
    case 1: {
        rt_str r = rt_txn_result(t, 0);
        struct resp_val dump;
        int64_t ttl, exists = 0;
        if (!read_dump(r, &dump, &ttl)) {
            finish_bad_reply(t, r);
            return;
        }
        if (rt_txn_nresults(t) > 1 && !read_int(rt_txn_result(t, 1), &exists)) {
            finish_bad_reply(t, rt_txn_result(t, 1));
            return;
        }
        if (dump.n < 0) {
            if (is_copy)
                finish_int(t, 0);
            else
                txn_finish_error(t, ERR_NO_KEY);
            return;
        }
        if (exists) {
            finish_int(t, 0);
            return;
        }
        char tbuf[NUMFMT_I64_MAX];
        int tlen = i64_to_str(tbuf, ttl);
        rt_str restore[5] = {{"__restore", 9}, *dst, {tbuf, (size_t)tlen}, {dump.str, dump.len},
                             {is_copy ? "copy_to" : "rename_to", is_copy ? 7u : 9u}};
        rt_txn_part(t, st->dst_shard, 5, restore);
        return;
    }
    case 2: {
        rt_str r = rt_txn_result(t, 0);
        if (r.len < 3 || memcmp(r.ptr, "+OK", 3) != 0) {
            finish_bad_reply(t, r);
            return;
        }
        if (is_copy) {
            finish_int(t, 1);
            return;
        }
        rt_str del[3] = {{"__del", 5}, *src, {"rename_from", 11}};
        rt_txn_part(t, st->src_shard, 3, del);
        return;
    }
    default: {
        rt_str r = rt_txn_result(t, 0);
        int64_t n;
        if (!read_int(r, &n)) {
            finish_bad_reply(t, r);
            return;
        }
        if (kind == MOVE_RENAMENX) {
            finish_int(t, 1);
        } else {
            struct buf *b = rt_txn_scratch(t);
            resp_ok(b);
            rt_txn_finish(t, b->data, b->len);
        }
        return;
    }
    }
}

void keys_rename_step(struct rt_txn *t, unsigned phase) { move_step(t, phase, MOVE_RENAME); }
void keys_renamenx_step(struct rt_txn *t, unsigned phase) { move_step(t, phase, MOVE_RENAMENX); }
void keys_copy_step(struct rt_txn *t, unsigned phase) { move_step(t, phase, MOVE_COPY); }
