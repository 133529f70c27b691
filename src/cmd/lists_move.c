/* The list commands whose keys may live on several shards: LMOVE, RPOPLPUSH, LMPOP.
 *
 * All keys on one shard: exec runs there, as Redis's t_list.c does it. Keys on several
 * shards: a step runs under exclusive intent locks on every key (the runtime takes them
 * before phase 0), so the checks of one phase still hold in the next:
 *   LMOVE / RPOPLPUSH  phase 0 asks both owners for their key's type (and the source's
 *                      element at its end); phase 1 decides with Redis's order of checks
 *                      (no source: nil, whatever the destination; then WRONGTYPE of the
 *                      source, then of the destination) and only then pushes onto the
 *                      destination; phase 2 pops the source; phase 3 replies.
 *   LMPOP              phase 0 asks every key's type; phase 1 picks the first key in
 *                      argument order that is a list (WRONGTYPE if a key of another type
 *                      comes first) and pops there; phase 2 replies.
 * Nothing changes before every check has passed.
 *
 * Internal commands (parts of these steps; the blocking variants can reuse them):
 *   __ltype key LEFT|RIGHT        -> *2 [:0 none | :1 list | :2 other type,
 *                                      the list's element at that end | nil]
 *   __lpop key LEFT|RIGHT count   -> *n [elements popped], with Redis's pop events
 *   __lpush key LEFT|RIGHT value  -> :length, creating the list if needed */
#include "cmd/lists.h"

#include <limits.h>

#include "base/numfmt.h"
#include "cmd/blocking.h"

enum { TYPE_NONE = 0, TYPE_LIST = 1, TYPE_OTHER = 2 };

static void copy_elem(void *out, const char *s, size_t len) { buf_append(out, s, len); }

static void drop_elem(void *arg, const char *s, size_t len)
{
    (void)arg;
    (void)s;
    (void)len;
}

bool list_parse_end(const rt_str *a, enum list_end *where)
{
    if (arg_is(a, "left"))
        *where = LIST_HEAD;
    else if (arg_is(a, "right"))
        *where = LIST_TAIL;
    else
        return false;
    return true;
}

static rt_str end_word(enum list_end where)
{
    return where == LIST_HEAD ? (rt_str){"LEFT", 4} : (rt_str){"RIGHT", 5};
}

/* The pop event, and the key deleted with its "del" event when left empty. */
static void popped(struct cmd_shard *cs, const rt_str *k, struct entry *e, enum list_end where)
{
    cmd_key_written(cs, k->ptr, k->len, where == LIST_HEAD ? "lpop" : "rpop");
    if (list_len(e) == 0) {
        store_delete_entry(cs->store, e);
        cmd_key_written(cs, k->ptr, k->len, "del");
    }
}

/* Push s onto key (an absent key or a list), creating it when absent. */
static void push_one(struct cmd_shard *cs, const rt_str *k, struct entry *e,
                     enum list_end where, const char *s, size_t len)
{
    if (!e)
        e = list_create(cs->store, k->ptr, k->len);
    list_grow(e, len, 1);
    list_push(e, where, s, len);
    cmd_key_written(cs, k->ptr, k->len, where == LIST_HEAD ? "lpush" : "rpush");
}

/* Reads a __ltype reply: its type code, and the element (str NULL when nil). */
static bool read_type(rt_str r, int64_t *type, struct resp_val *elem)
{
    size_t pos = 0;
    struct resp_val arr, ty;
    if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n != 2 ||
        !resp_read(r.ptr, r.len, &pos, &ty) || ty.type != RESP_INT ||
        !resp_read(r.ptr, r.len, &pos, elem))
        return false;
    *type = ty.n;
    if (elem->type != RESP_BULK && elem->type != RESP_NULL)
        return false;
    if (elem->type == RESP_NULL || elem->n < 0)
        elem->str = NULL;
    return true;
}

/* ---- LMOVE / RPOPLPUSH ---- */

/* Redis's lmoveGenericCommand: the source first (nil when absent, whatever the
 * destination), then the destination's type; the element is pushed before it is
 * popped, which gives the same result when source and destination are one key (the
 * pushed element is the popped one) and keeps the entry alive throughout. */
void lists_lmove_generic(struct rt_call *call, enum list_end from, enum list_end to)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *src = &call->argv[1], *dst = &call->argv[2];
    /* The destination is looked up first: a lookup may delete an expired key, and the
     * source's entry must stay valid once taken. */
    struct entry *d = store_find(cs->store, dst->ptr, dst->len, true);
    struct entry *e;
    int r = key_typed(call, src, VT_LIST, true, &e);
    if (r < 0)
        return;
    if (!e) {
        resp_null(call->out, call->proto);
        return;
    }
    if (d && entry_type(d) != VT_LIST) {
        resp_error(call->out, ERR_WRONGTYPE);
        return;
    }
    struct buf val = {0};
    list_peek(e, from, copy_elem, &val);
    push_one(cs, dst, d, to, val.data, val.len);
    list_pop(e, from, 1, drop_elem, NULL);
    popped(cs, src, e, from);
    resp_bulk(call->out, val.data, val.len);
    buf_free(&val);
}

void lists_lmove_exec(struct rt_call *call)
{
    enum list_end from, to;
    if (!list_parse_end(&call->argv[3], &from) || !list_parse_end(&call->argv[4], &to)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    lists_lmove_generic(call, from, to);
}

void lists_rpoplpush_exec(struct rt_call *call)
{
    lists_lmove_generic(call, LIST_TAIL, LIST_HEAD);
}

struct move_state {
    enum list_end from, to;
    unsigned src_shard, dst_shard;
};

static void move_step(struct rt_txn *t, unsigned phase, bool lmove)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct move_state *st = rt_txn_state(t, sizeof *st);
    const rt_str *src = &argv[1], *dst = &argv[2];
    switch (phase) {
    case 0: {
        st->from = LIST_TAIL;
        st->to = LIST_HEAD;
        if (lmove && (!list_parse_end(&argv[3], &st->from) || !list_parse_end(&argv[4], &st->to))) {
            txn_finish_error(t, ERR_SYNTAX);
            return;
        }
        struct rt_shard *sh = rt_txn_shard(t);
        st->src_shard = rt_key_shard(sh, src->ptr, src->len);
        st->dst_shard = rt_key_shard(sh, dst->ptr, dst->len);
        rt_str a[3] = {{"__ltype", 7}, *src, end_word(st->from)};
        rt_txn_part(t, st->src_shard, 3, a);
        a[1] = *dst;
        rt_txn_part(t, st->dst_shard, 3, a);
        return;
    }
    case 1: {
        int64_t stype, dtype;
        struct resp_val elem, delem;
        rt_str rs = rt_txn_result(t, 0), rd = rt_txn_result(t, 1);
        if (!read_type(rs, &stype, &elem)) {
            txn_finish_bad(t, rs);
            return;
        }
        if (!read_type(rd, &dtype, &delem)) {
            txn_finish_bad(t, rd);
            return;
        }
        if (stype == TYPE_NONE) {
            struct buf *b = rt_txn_scratch(t);
            resp_null(b, rt_txn_proto(t));
            rt_txn_finish(t, b->data, b->len);
            return;
        }
        if (stype != TYPE_LIST || dtype == TYPE_OTHER || !elem.str) {
            txn_finish_error(t, ERR_WRONGTYPE);
            return;
        }
        rt_str push[4] = {{"__lpush", 7}, *dst, end_word(st->to), {elem.str, elem.len}};
        rt_txn_part(t, st->dst_shard, 4, push);
        return;
    }
    case 2: {
        /* The pop follows the push's reply, which the destination's shard sends only once
         * the push is in its log: a crash between the two leaves the element in both
         * lists, never in neither (it was acknowledged to whoever pushed it). */
        rt_str rp = rt_txn_result(t, 0);
        size_t pos = 0;
        struct resp_val v;
        if (!resp_read(rp.ptr, rp.len, &pos, &v) || v.type != RESP_INT) {
            txn_finish_bad(t, rp);
            return;
        }
        rt_str pop[4] = {{"__lpop", 6}, *src, end_word(st->from), {"1", 1}};
        rt_txn_part(t, st->src_shard, 4, pop);
        return;
    }
    default: {
        rt_str ro = rt_txn_result(t, 0);
        size_t pos = 0;
        struct resp_val arr, el;
        if (!resp_read(ro.ptr, ro.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n != 1 ||
            !resp_read(ro.ptr, ro.len, &pos, &el) || el.type != RESP_BULK || el.n < 0) {
            txn_finish_bad(t, ro);
            return;
        }
        struct buf *b = rt_txn_scratch(t);
        resp_bulk(b, el.str, el.len);
        rt_txn_finish(t, b->data, b->len);
        return;
    }
    }
}

void lists_lmove_step(struct rt_txn *t, unsigned phase) { move_step(t, phase, true); }
void lists_rpoplpush_step(struct rt_txn *t, unsigned phase) { move_step(t, phase, false); }

/* ---- LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] ---- */

struct mpop_args {
    int64_t numkeys;
    enum list_end where;
    int64_t count;
};

/* Redis's lmpopGenericCommand parsing, before any key is touched. Returns an error
 * text, or NULL. */
static const char *parse_mpop(const rt_str *argv, int argc, struct mpop_args *a)
{
    if (!str_to_i64(argv[1].ptr, argv[1].len, &a->numkeys) || a->numkeys < 1)
        return "ERR numkeys should be greater than 0";
    if (a->numkeys >= argc - 2)
        return ERR_SYNTAX;
    int where_idx = 2 + (int)a->numkeys;
    if (!list_parse_end(&argv[where_idx], &a->where))
        return ERR_SYNTAX;
    a->count = -1;
    for (int j = where_idx + 1; j < argc; j++) {
        if (a->count == -1 && arg_is(&argv[j], "count") && j < argc - 1) {
            j++;
            if (!str_to_i64(argv[j].ptr, argv[j].len, &a->count) || a->count < 1)
                return "ERR count should be greater than 0";
        } else {
            return ERR_SYNTAX;
        }
    }
    if (a->count == -1)
        a->count = 1;
    return NULL;
}

const char *lists_mpop_parse(const rt_str *argv, int argc, int64_t *numkeys,
                             enum list_end *where, int64_t *count)
{
    struct mpop_args a;
    const char *err = parse_mpop(argv, argc, &a);
    if (!err) {
        *numkeys = a.numkeys;
        *where = a.where;
        *count = a.count;
    }
    return err;
}

void lists_pop_reply(struct cmd_shard *cs, const rt_str *k, struct entry *e,
                     enum list_end where, size_t n, struct buf *out)
{
    list_pop(e, where, n, lists_reply_elem, out);
    popped(cs, k, e, where);
}

void lists_lmpop_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    struct mpop_args a;
    const char *err = parse_mpop(call->argv, call->argc, &a);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    for (int64_t i = 0; i < a.numkeys; i++) {
        const rt_str *k = &call->argv[2 + i];
        struct entry *e;
        int r = key_typed(call, k, VT_LIST, true, &e);
        if (r < 0)
            return;
        if (!e)
            continue;
        size_t len = list_len(e);
        size_t n = (uint64_t)a.count < len ? (size_t)a.count : len;
        resp_array(call->out, 2);
        resp_bulk(call->out, k->ptr, k->len);
        resp_array(call->out, (int64_t)n);
        list_pop(e, a.where, n, lists_reply_elem, call->out);
        popped(cs, k, e, a.where);
        return;
    }
    resp_null_array(call->out, call->proto);
}

struct mpop_state {
    struct mpop_args a;
    int64_t chosen; /* the key popped from (index among the keys) */
};

void lists_lmpop_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct mpop_state *st = rt_txn_state(t, sizeof *st);
    struct rt_shard *sh = rt_txn_shard(t);
    switch (phase) {
    case 0: {
        const char *err = parse_mpop(argv, argc, &st->a);
        if (err) {
            txn_finish_error(t, err);
            return;
        }
        /* One part per key, so result i is key i (parts to one shard travel together). */
        for (int64_t i = 0; i < st->a.numkeys; i++) {
            const rt_str *k = &argv[2 + i];
            rt_str q[3] = {{"__ltype", 7}, *k, {"LEFT", 4}};
            rt_txn_part(t, rt_key_shard(sh, k->ptr, k->len), 3, q);
        }
        return;
    }
    case 1: {
        for (int64_t i = 0; i < st->a.numkeys; i++) {
            rt_str r = rt_txn_result(t, (unsigned)i);
            int64_t type;
            struct resp_val elem;
            if (!read_type(r, &type, &elem)) {
                txn_finish_bad(t, r);
                return;
            }
            if (type == TYPE_NONE)
                continue;
            if (type != TYPE_LIST) {
                txn_finish_error(t, ERR_WRONGTYPE);
                return;
            }
            const rt_str *k = &argv[2 + i];
            char cbuf[NUMFMT_I64_MAX];
            int clen = i64_to_str(cbuf, st->a.count);
            rt_str pop[4] = {{"__lpop", 6}, *k, end_word(st->a.where), {cbuf, (size_t)clen}};
            rt_txn_part(t, rt_key_shard(sh, k->ptr, k->len), 4, pop);
            st->chosen = i;
            return;
        }
        struct buf *b = rt_txn_scratch(t);
        resp_null_array(b, rt_txn_proto(t));
        rt_txn_finish(t, b->data, b->len);
        return;
    }
    default: {
        rt_str r = rt_txn_result(t, 0);
        size_t pos = 0;
        struct resp_val arr;
        if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n < 1) {
            txn_finish_bad(t, r);
            return;
        }
        /* The part's reply is an array of bulks: the same bytes in RESP2 and RESP3. */
        const rt_str *k = &argv[2 + st->chosen];
        struct buf *b = rt_txn_scratch(t);
        resp_array(b, 2);
        resp_bulk(b, k->ptr, k->len);
        buf_append(b, r.ptr, r.len);
        rt_txn_finish(t, b->data, b->len);
        return;
    }
    }
}

/* ---- Parts ---- */

/* __ltype key LEFT|RIGHT: a write-style lookup (no hit/miss statistics, as Redis's
 * lookupKeyWrite in these commands). */
void lists_itype_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    enum list_end where;
    if (!list_parse_end(&call->argv[2], &where)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct entry *e = store_find(cs->store, k->ptr, k->len, true);
    resp_array(call->out, 2);
    if (!e) {
        resp_int(call->out, TYPE_NONE);
        resp_null(call->out, 2);
    } else if (entry_type(e) != VT_LIST) {
        resp_int(call->out, TYPE_OTHER);
        resp_null(call->out, 2);
    } else {
        resp_int(call->out, TYPE_LIST);
        if (!list_peek(e, where, lists_reply_elem, call->out))
            resp_null(call->out, 2);
    }
}

/* __lpop key LEFT|RIGHT count */
void lists_ipop_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    enum list_end where;
    int64_t count;
    if (!list_parse_end(&call->argv[2], &where) ||
        !str_to_i64(call->argv[3].ptr, call->argv[3].len, &count) || count < 1) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct entry *e;
    if (key_typed(call, k, VT_LIST, true, &e) < 0)
        return;
    if (!e) {
        resp_array(call->out, 0);
        return;
    }
    size_t len = list_len(e);
    size_t n = (uint64_t)count < len ? (size_t)count : len;
    resp_array(call->out, (int64_t)n);
    list_pop(e, where, n, lists_reply_elem, call->out);
    popped(cs, k, e, where);
}

/* __lpush key LEFT|RIGHT value */
void lists_ipush_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1], *v = &call->argv[3];
    enum list_end where;
    if (!list_parse_end(&call->argv[2], &where)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct entry *e;
    if (key_typed(call, k, VT_LIST, true, &e) < 0)
        return;
    push_one(cs, k, e, where, v->ptr, v->len);
    e = store_find(cs->store, k->ptr, k->len, false);
    resp_int(call->out, e ? (int64_t)list_len(e) : 0);
}
