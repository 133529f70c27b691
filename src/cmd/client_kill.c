/* CLIENT KILL and CLIENT UNBLOCK, for connections on any shard.
 *
 * A connection lives on its origin shard, and its id names that shard
 * (rt_client_id_shard). Both subcommands parse on the caller's shard, with Redis 7.0's
 * checks and errors, then run a part where the connections are:
 *   CLIENT UNBLOCK id [TIMEOUT|ERROR]  one part on the shard of the id:
 *        __clientunblock id TIMEOUT|ERROR -> :1 when it was waiting, else :0
 *   CLIENT KILL addr                   (the old form: may kill the caller itself)
 *   CLIENT KILL filter value ...       ID, TYPE, ADDR, LADDR, USER, SKIPME; a part on
 *        every shard (only the id's shard with ID), each killing its matches:
 *        __clientkill caller-id skipme [id N] [type T] [addr A] [laddr L] -> :killed
 * The reduce sums the kills: the old form replies +OK or "No such client", the new one
 * the count. A killed client that waits in a blocking command is woken as gone (its
 * registrations are cancelled); the caller killing itself gets its reply first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "cmd/blocking.h"
#include "cmd/typed.h"

/* Bytes "%s" prints of an argument: up to its first NUL. */
static int cstr_len(const rt_str *a)
{
    const char *z = memchr(a->ptr, 0, a->len);
    size_t n = z ? (size_t)(z - a->ptr) : a->len;
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

static void finish_reply(struct rt_txn *t, struct buf *b) { rt_txn_finish(t, b->data, b->len); }

/* ---- CLIENT UNBLOCK ---- */

void client_unblock_step(struct rt_txn *t, unsigned phase)
{
    if (phase > 0) {
        rt_str r = rt_txn_result(t, 0);
        if (r.len && (r.ptr[0] == ':' || r.ptr[0] == '-'))
            rt_txn_finish(t, r.ptr, r.len);
        else
            txn_finish_bad(t, r);
        return;
    }
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct buf *b = rt_txn_scratch(t);
    if (argc > 4) {
        resp_errorf(b,
                    "ERR unknown subcommand or wrong number of arguments for '%.*s'. "
                    "Try CLIENT HELP.",
                    (int)argv[1].len, argv[1].ptr);
        finish_reply(t, b);
        return;
    }
    bool error = false;
    if (argc == 4) {
        if (arg_is(&argv[3], "error")) {
            error = true;
        } else if (!arg_is(&argv[3], "timeout")) {
            txn_finish_error(t, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    int64_t id;
    if (!str_to_i64(argv[2].ptr, argv[2].len, &id)) {
        txn_finish_error(t, ERR_NOT_INT);
        return;
    }
    unsigned owner = rt_client_id_shard((uint64_t)id);
    if (id <= 0 || owner >= rt_nshards(rt_txn_shard(t))) {
        resp_int(b, 0);
        finish_reply(t, b);
        return;
    }
    rt_str part[3] = {{"__clientunblock", 15}, argv[2],
                      error ? (rt_str){"error", 5} : (rt_str){"timeout", 7}};
    rt_txn_part(t, owner, 3, part);
}

/* __clientunblock id timeout|error */
void client_unblock_part(struct rt_call *call)
{
    int64_t id;
    struct rt_client *c = NULL;
    if (str_to_i64(call->argv[1].ptr, call->argv[1].len, &id) && id > 0)
        c = rt_shard_client(call->rt_shard, (uint64_t)id);
    enum rt_wake why = arg_is(&call->argv[2], "error") ? RT_WAKE_ERROR : RT_WAKE_TIMEOUT;
    resp_int(call->out, c && rt_client_unblock(call->rt_shard, c, why) ? 1 : 0);
}

/* ---- CLIENT KILL ---- */

/* Redis's getClientTypeByName, as the letter CLIENT LIST's flags show for that type
 * ('N' for a normal client); 0 for an unknown name. */
static char type_letter(const rt_str *a)
{
    if (arg_is(a, "normal"))
        return 'N';
    if (arg_is(a, "slave") || arg_is(a, "replica"))
        return 'S';
    if (arg_is(a, "pubsub"))
        return 'P';
    if (arg_is(a, "master"))
        return 'M';
    return 0;
}

enum { KILL_MAX_ARGS = 11 }; /* name, caller, skipme, and four filters */

void client_kill_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    struct buf *b = rt_txn_scratch(t);
    if (phase > 0) {
        int64_t killed = 0;
        for (unsigned i = 0; i < rt_txn_nresults(t); i++) {
            rt_str r = rt_txn_result(t, i);
            size_t pos = 0;
            struct resp_val v;
            if (resp_read(r.ptr, r.len, &pos, &v) && v.type == RESP_INT)
                killed += v.n;
        }
        if (argc > 3)
            resp_int(b, killed);
        else if (killed)
            resp_ok(b);
        else
            resp_error(b, "ERR No such client");
        finish_reply(t, b);
        return;
    }
    struct rt_client *me = rt_txn_client(t);
    char idbuf[NUMFMT_I64_MAX], typebuf[1];
    rt_str part[KILL_MAX_ARGS];
    int n = 0;
    part[n++] = (rt_str){"__clientkill", 12};
    part[n++] = (rt_str){idbuf, (size_t)i64_to_str(idbuf, me ? (int64_t)rt_client_id(me) : 0)};
    part[n++] = (rt_str){"1", 1}; /* skipme */
    const rt_str *id = NULL, *type = NULL, *addr = NULL, *laddr = NULL;
    if (argc == 3) {
        addr = &argv[2];
        part[2] = (rt_str){"0", 1}; /* the old form may kill the caller */
    } else {
        for (int i = 2; i < argc; i += 2) {
            bool more = argc > i + 1;
            const rt_str *o = &argv[i], *v = &argv[i + (more ? 1 : 0)];
            if (arg_is(o, "id") && more) {
                int64_t x;
                if (!str_to_i64(v->ptr, v->len, &x) || x < 1) {
                    txn_finish_error(t, "ERR client-id should be greater than 0");
                    return;
                }
                id = v;
            } else if (arg_is(o, "type") && more) {
                typebuf[0] = type_letter(v);
                if (!typebuf[0]) {
                    resp_errorf(b, "ERR Unknown client type '%.*s'", cstr_len(v), v->ptr);
                    finish_reply(t, b);
                    return;
                }
                type = v;
            } else if (arg_is(o, "addr") && more) {
                addr = v;
            } else if (arg_is(o, "laddr") && more) {
                laddr = v;
            } else if (arg_is(o, "user") && more) {
                /* The only user is "default", and every connection is authenticated as
                 * it: the filter matches all or the user does not exist. */
                if (v->len != 7 || memcmp(v->ptr, "default", 7) != 0) {
                    resp_errorf(b, "ERR No such user '%.*s'", cstr_len(v), v->ptr);
                    finish_reply(t, b);
                    return;
                }
            } else if (arg_is(o, "skipme") && more) {
                if (arg_is(v, "yes")) {
                    part[2] = (rt_str){"1", 1};
                } else if (arg_is(v, "no")) {
                    part[2] = (rt_str){"0", 1};
                } else {
                    txn_finish_error(t, ERR_SYNTAX);
                    return;
                }
            } else {
                txn_finish_error(t, ERR_SYNTAX);
                return;
            }
        }
    }
    if (id) {
        part[n++] = (rt_str){"id", 2};
        part[n++] = *id;
    }
    if (type) {
        part[n++] = (rt_str){"type", 4};
        part[n++] = (rt_str){typebuf, 1};
    }
    if (addr) {
        part[n++] = (rt_str){"addr", 4};
        part[n++] = (rt_str){addr->ptr, (size_t)cstr_len(addr)};
    }
    if (laddr) {
        part[n++] = (rt_str){"laddr", 5};
        part[n++] = (rt_str){laddr->ptr, (size_t)cstr_len(laddr)};
    }
    unsigned nshards = rt_nshards(sh);
    if (id) {
        int64_t x;
        str_to_i64(id->ptr, id->len, &x);
        unsigned owner = rt_client_id_shard((uint64_t)x);
        if (owner >= nshards) {
            resp_int(b, 0);
            finish_reply(t, b);
            return;
        }
        rt_txn_part(t, owner, n, part);
        return;
    }
    for (unsigned s = 0; s < nshards; s++)
        rt_txn_part(t, s, n, part);
}

struct kill_ctx {
    uint64_t me, id;
    bool skipme;
    char type;
    const rt_str *addr, *laddr;
    struct buf line;
    uint64_t *victims;
    size_t n, cap;
};

/* The value of field `name=` in a CLIENT LIST line. */
static rt_str field(const struct buf *line, const char *name)
{
    size_t nl = strlen(name);
    const char *p = line->data, *end = line->data + line->len;
    while (p && p + nl + 1 <= end) {
        if ((p == line->data || p[-1] == ' ') && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1, *e = memchr(v, ' ', (size_t)(end - v));
            return (rt_str){v, (size_t)((e ? e : end) - v)};
        }
        p = memchr(p, ' ', (size_t)(end - p));
        if (p)
            p++;
    }
    return (rt_str){"", 0};
}

static bool same(rt_str a, const rt_str *b)
{
    return a.len == b->len && memcmp(a.ptr, b->ptr, a.len) == 0;
}

static char line_type(const struct buf *line)
{
    rt_str f = field(line, "flags");
    for (size_t i = 0; i < f.len; i++)
        if (f.ptr[i] == 'M' || f.ptr[i] == 'S' || f.ptr[i] == 'P')
            return f.ptr[i];
    return 'N';
}

static void kill_match(struct rt_client *c, void *arg)
{
    struct kill_ctx *x = arg;
    uint64_t cid = rt_client_id(c);
    if ((x->id && cid != x->id) || (x->skipme && cid == x->me))
        return;
    if (x->type || x->addr || x->laddr) {
        x->line.len = 0;
        cmd_client_line(c, &x->line);
        if ((x->type && line_type(&x->line) != x->type) ||
            (x->addr && !same(field(&x->line, "addr"), x->addr)) ||
            (x->laddr && !same(field(&x->line, "laddr"), x->laddr)))
            return;
    }
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 16;
        uint64_t *v = realloc(x->victims, x->cap * sizeof *v);
        if (!v)
            abort();
        x->victims = v;
    }
    x->victims[x->n++] = cid;
}

/* __clientkill caller-id skipme [id N] [type T] [addr A] [laddr L] */
void client_kill_part(struct rt_call *call)
{
    struct kill_ctx x = {0};
    int64_t v;
    if (str_to_i64(call->argv[1].ptr, call->argv[1].len, &v))
        x.me = (uint64_t)v;
    x.skipme = call->argv[2].len == 1 && call->argv[2].ptr[0] == '1';
    for (int i = 3; i + 1 < call->argc; i += 2) {
        const rt_str *o = &call->argv[i], *a = &call->argv[i + 1];
        if (arg_is(o, "id") && str_to_i64(a->ptr, a->len, &v))
            x.id = (uint64_t)v;
        else if (arg_is(o, "type") && a->len == 1)
            x.type = a->ptr[0];
        else if (arg_is(o, "addr"))
            x.addr = a;
        else if (arg_is(o, "laddr"))
            x.laddr = a;
    }
    /* Matches first, kills after: a kill may free a connection the walk would visit. */
    rt_shard_foreach_client(call->rt_shard, kill_match, &x);
    int64_t killed = 0;
    for (size_t i = 0; i < x.n; i++) {
        struct rt_client *c = rt_shard_client(call->rt_shard, x.victims[i]);
        if (c) {
            rt_client_kill(call->rt_shard, c);
            killed++;
        }
    }
    free(x.victims);
    buf_free(&x.line);
    resp_int(call->out, killed);
}
