/* Connection commands: HELLO, AUTH, CLIENT.
 *
 * No password is configured yet, so authentication behaves as Redis 7 with its default
 * user "nopass": user "default" with any password succeeds, any other user fails, and
 * the one-argument AUTH reports that no password is set.
 *
 * CLIENT's subcommands run on the connection's own shard (they need the client), except
 * CLIENT LIST, which sees every connection and so fans out: its step asks each shard for
 * its lines ("__clientlist"). CLIENT KILL and CLIENT UNBLOCK reach connections of any
 * shard too (client_kill.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "cmd/blocking.h"
#include "cmd/cmd.h"
#include "cmd/multi.h"
#include "cmd/pubsub.h"
#include "cmd/server.h"

#define ERR_CLIENT_NAME "ERR Client names cannot contain spaces, newlines or special characters."
#define ERR_WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

/* Bytes "%s" prints of an argument: up to its first NUL. */
static int cstr_len(const rt_str *a)
{
    const char *z = memchr(a->ptr, 0, a->len);
    size_t n = z ? (size_t)(z - a->ptr) : a->len;
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

static int auth_ok(const rt_str *user)
{
    return user->len == 7 && memcmp(user->ptr, "default", 7) == 0;
}

static int no_client(struct rt_call *call)
{
    if (call->client)
        return 0;
    resp_error(call->out, "ERR this command needs a client connection");
    return 1;
}

/* HELLO [protover [AUTH username password] [SETNAME clientname]] */
void cmd_hello(struct rt_call *call)
{
    if (no_client(call))
        return;
    const rt_str *argv = call->argv;
    int argc = call->argc, next = 1;
    int64_t ver = 0;
    if (argc >= 2) {
        next = 2;
        if (!str_to_i64(argv[1].ptr, argv[1].len, &ver)) {
            resp_error(call->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            resp_error(call->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const rt_str *user = NULL, *name = NULL;
    for (int j = next; j < argc; j++) {
        int more = argc - 1 - j;
        if (arg_is(&argv[j], "auth") && more >= 2) {
            user = &argv[j + 1];
            j += 2;
        } else if (arg_is(&argv[j], "setname") && more >= 1) {
            name = &argv[j + 1];
            j++;
        } else {
            resp_errorf(call->out, "ERR Syntax error in HELLO option '%.*s'", cstr_len(&argv[j]),
                        argv[j].ptr);
            return;
        }
    }
    if (user && !auth_ok(user)) {
        resp_error(call->out, ERR_WRONGPASS);
        return;
    }
    if (name) {
        if (!cmd_valid_client_attr(name->ptr, name->len)) {
            resp_error(call->out, ERR_CLIENT_NAME);
            return;
        }
        rt_client_set_name(call->client, name->ptr, name->len);
    }
    /* The reply already speaks the protocol it switches to. */
    if (ver)
        rt_client_set_proto(call->client, (int)ver);
    int proto = ver ? (int)ver : call->proto;
    struct buf *b = call->out;
    resp_map(b, 7, proto);
    resp_bulk_cstr(b, "server");
    resp_bulk_cstr(b, "redis");
    resp_bulk_cstr(b, "version");
    resp_bulk_cstr(b, CMD_REDIS_VERSION);
    resp_bulk_cstr(b, "proto");
    resp_int(b, proto);
    resp_bulk_cstr(b, "id");
    resp_int(b, (int64_t)rt_client_id(call->client));
    resp_bulk_cstr(b, "mode");
    resp_bulk_cstr(b, "standalone");
    resp_bulk_cstr(b, "role");
    resp_bulk_cstr(b, "master");
    resp_bulk_cstr(b, "modules");
    resp_array(b, 0);
}

/* AUTH [username] password */
void cmd_auth(struct rt_call *call)
{
    if (call->argc > 3) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    if (call->argc == 2) {
        resp_error(call->out, "ERR AUTH <password> called without any password configured for "
                              "the default user. Are you sure your configuration is correct?");
        return;
    }
    if (auth_ok(&call->argv[1]))
        resp_ok(call->out);
    else
        resp_error(call->out, ERR_WRONGPASS);
}

/* ---- CLIENT ---- */

static void client_id(struct rt_call *call)
{
    if (no_client(call))
        return;
    resp_int(call->out, (int64_t)rt_client_id(call->client));
}

static void client_setname(struct rt_call *call)
{
    if (no_client(call))
        return;
    const rt_str *name = &call->argv[2];
    if (!cmd_valid_client_attr(name->ptr, name->len)) {
        resp_error(call->out, ERR_CLIENT_NAME);
        return;
    }
    rt_client_set_name(call->client, name->ptr, name->len);
    resp_ok(call->out);
}

static void client_getname(struct rt_call *call)
{
    if (no_client(call))
        return;
    const char *name = rt_client_name(call->client);
    if (*name)
        resp_bulk_cstr(call->out, name);
    else
        resp_null(call->out, call->proto);
}

/* The runtime's line, with what only the command set knows (MULTI, pub/sub). Flag
 * letters in Redis's order: P (subscribed) before x (MULTI). */
static void describe(const struct rt_client *c, struct buf *out)
{
    const char *flags;
    long long multi;
    multi_client_flags(c, &flags, &multi);
    struct pubsub_client_counts ps;
    pubsub_client_counts(c, &ps);
    char pflags[8] = "P";
    if (ps.subscribed) {
        if (strcmp(flags, "N") != 0)
            strncat(pflags, flags, sizeof pflags - 2);
        flags = pflags;
    }
    char bflags[8]; /* b (blocked) after them */
    if (rt_client_blocked(c)) {
        snprintf(bflags, sizeof bflags, "%sb", strcmp(flags, "N") != 0 ? flags : "");
        flags = bflags;
    }
    struct rt_client_info info = {.flags = flags, .multi = multi, .sub = ps.sub,
                                  .psub = ps.psub, .ssub = ps.ssub};
    rt_client_describe(c, &info, out);
}

static void client_info(struct rt_call *call)
{
    if (no_client(call))
        return;
    struct buf line = {0};
    describe(call->client, &line);
    buf_putc(&line, '\n');
    resp_verbatim(call->out, line.data, line.len, call->proto);
    buf_free(&line);
}

/* CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2; redis-py sends it on connect). The
 * runtime keeps no library attributes yet, so a valid value is accepted and dropped. */
static void client_setinfo(struct rt_call *call)
{
    const rt_str *attr = &call->argv[2], *val = &call->argv[3];
    if (!arg_is(attr, "lib-name") && !arg_is(attr, "lib-ver")) {
        resp_errorf(call->out, "ERR Unrecognized option '%.*s'", cstr_len(attr), attr->ptr);
        return;
    }
    if (!cmd_valid_client_attr(val->ptr, val->len)) {
        resp_errorf(call->out, "ERR %.*s cannot contain spaces, newlines or special characters.",
                    cstr_len(attr), attr->ptr);
        return;
    }
    resp_ok(call->out);
}

/* Nothing is ever evicted, so protection is already in place. */
static void client_no_evict(struct rt_call *call)
{
    if (arg_is(&call->argv[2], "on") || arg_is(&call->argv[2], "off"))
        resp_ok(call->out);
    else
        resp_error(call->out, ERR_SYNTAX);
}

static void client_help(struct rt_call *call)
{
    static const char *const help[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.",
        "    * LIB-VER: the client lib version.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    cmd_reply_help(call->out, help);
}

/* ---- CLIENT LIST [TYPE type] [ID id ...] ---- */

static int valid_type(const rt_str *t)
{
    return arg_is(t, "normal") || arg_is(t, "master") || arg_is(t, "replica") ||
           arg_is(t, "slave") || arg_is(t, "pubsub");
}

static void finish_error(struct rt_txn *t, const char *msg)
{
    struct buf *b = rt_txn_scratch(t);
    resp_error(b, msg);
    rt_txn_finish(t, b->data, b->len);
}

static void client_list_reduce(struct rt_txn *t)
{
    struct buf all = {0};
    for (unsigned i = 0, n = rt_txn_nresults(t); i < n; i++) {
        rt_str r = rt_txn_result(t, i);
        size_t pos = 0;
        struct resp_val v;
        if (resp_read(r.ptr, r.len, &pos, &v) && v.type == RESP_BULK && v.n >= 0)
            buf_append(&all, v.str, v.len);
    }
    struct buf *b = rt_txn_scratch(t);
    resp_verbatim(b, all.data ? all.data : "", all.len, rt_txn_proto(t));
    buf_free(&all);
    rt_txn_finish(t, b->data, b->len);
}

static void client_list_step(struct rt_txn *t, unsigned phase)
{
    if (phase > 0) {
        client_list_reduce(t);
        return;
    }
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    unsigned nshards = rt_nshards(sh);
    rt_str part[3] = {{"__clientlist", 12}, {0}, {0}};
    if (argc == 2 || (argc == 4 && arg_is(&argv[2], "type"))) {
        if (argc == 4) {
            if (!valid_type(&argv[3])) {
                struct buf *b = rt_txn_scratch(t);
                resp_errorf(b, "ERR Unknown client type '%.*s'", cstr_len(&argv[3]),
                            argv[3].ptr);
                rt_txn_finish(t, b->data, b->len);
                return;
            }
            part[1] = (rt_str){"type", 4};
            part[2] = argv[3];
        }
        for (unsigned s = 0; s < nshards; s++)
            rt_txn_part(t, s, argc == 4 ? 3 : 1, part);
        return;
    }
    if (argc > 3 && arg_is(&argv[2], "id")) {
        for (int j = 3; j < argc; j++) {
            int64_t id;
            if (!str_to_i64(argv[j].ptr, argv[j].len, &id)) {
                finish_error(t, "ERR Invalid client ID");
                return;
            }
        }
        /* One part per id, on the shard that id names, so lines come in request order. */
        unsigned queued = 0;
        part[1] = (rt_str){"id", 2};
        for (int j = 3; j < argc; j++) {
            int64_t id;
            str_to_i64(argv[j].ptr, argv[j].len, &id);
            unsigned owner = (unsigned)((uint64_t)id & 63);
            if (id <= 0 || owner >= nshards)
                continue;
            part[2] = argv[j];
            rt_txn_part(t, owner, 3, part);
            queued++;
        }
        if (!queued)
            client_list_reduce(t);
        return;
    }
    finish_error(t, ERR_SYNTAX);
}

struct list_ctx {
    int type;       /* 0: any; else 'N', 'M', 'S' or 'P' */
    uint64_t id;    /* 0: any */
    struct buf line;
    struct buf *out;
};

/* A connection's type, read from the flags field of its CLIENT LIST line as Redis
 * writes it: M master, S replica, P pubsub, anything else normal. */
static int line_type(const struct buf *line)
{
    const char *p = line->data, *end = line->data + line->len;
    for (; p + 6 <= end; p++) {
        if (memcmp(p, "flags=", 6) == 0 && (p == line->data || p[-1] == ' ')) {
            for (p += 6; p < end && *p != ' '; p++)
                if (*p == 'M' || *p == 'S' || *p == 'P')
                    return *p;
            break;
        }
    }
    return 'N';
}

static void list_one(struct rt_client *c, void *arg)
{
    struct list_ctx *x = arg;
    if (x->id && rt_client_id(c) != x->id)
        return;
    x->line.len = 0;
    describe(c, &x->line);
    if (x->type && line_type(&x->line) != x->type)
        return;
    buf_append(x->out, x->line.data, x->line.len);
    buf_putc(x->out, '\n');
}

/* __clientlist [TYPE type | ID id]: this shard's connections, one line each. */
void cmd_clientlist_part(struct rt_call *call)
{
    struct list_ctx x = {0};
    struct buf lines = {0};
    x.out = &lines;
    if (call->argc == 3 && arg_is(&call->argv[1], "type")) {
        const rt_str *t = &call->argv[2];
        x.type = arg_is(t, "master") ? 'M'
                 : (arg_is(t, "replica") || arg_is(t, "slave")) ? 'S'
                 : arg_is(t, "pubsub") ? 'P'
                                        : 'N';
    } else if (call->argc == 3 && arg_is(&call->argv[1], "id")) {
        int64_t id;
        if (!str_to_i64(call->argv[2].ptr, call->argv[2].len, &id) || id <= 0) {
            resp_bulk(call->out, "", 0);
            return;
        }
        x.id = (uint64_t)id;
    }
    rt_shard_foreach_client(call->rt_shard, list_one, &x);
    resp_bulk(call->out, lines.data ? lines.data : "", lines.len);
    buf_free(&lines);
    buf_free(&x.line);
}

void cmd_client_line(const struct rt_client *c, struct buf *out) { describe(c, out); }

const struct cmd_def cmd_client_subs[] = {
    {"client|id", 2, "noscript loading stale", "@slow @connection", CMD_ORIGIN(client_id),
     "connection", "5.0.0", "Returns the client ID for the current connection", "O(1)"},
    {"client|setname", 3, "noscript loading stale", "@slow @connection",
     CMD_ORIGIN(client_setname), "connection", "2.6.9", "Set the current connection name",
     "O(1)"},
    {"client|getname", 2, "noscript loading stale", "@slow @connection",
     CMD_ORIGIN(client_getname), "connection", "2.6.9", "Get the current connection name",
     "O(1)"},
    {"client|info", 2, "noscript loading stale", "@slow @connection", CMD_ORIGIN(client_info),
     "connection", "6.2.0", "Returns information about the current client connection.", "O(1)"},
    {"client|list", -2, "admin noscript loading stale", "@admin @slow @dangerous @connection",
     CMD_PLAN(NULL, client_list_step), "connection", "2.4.0",
     "Get the list of client connections", "O(N) where N is the number of client connections"},
    {"client|setinfo", 4, "noscript loading stale", "@slow @connection",
     CMD_ORIGIN(client_setinfo), "connection", "7.2.0",
     "Set client or connection specific info", "O(1)"},
    {"client|no-evict", 3, "admin noscript loading stale", "@admin @slow @dangerous @connection",
     CMD_ORIGIN(client_no_evict), "connection", "7.0.0",
     "Set client eviction mode for the current connection", "O(1)"},
    {"client|kill", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection",
     CMD_PLAN(NULL, client_kill_step), "connection", "2.4.0", "Kill the connection of a client",
     "O(N) where N is the number of client connections"},
    {"client|unblock", -3, "admin noscript loading stale", "@admin @slow @dangerous @connection",
     CMD_PLAN(NULL, client_unblock_step), "connection", "5.0.0",
     "Unblock a client blocked in a blocking command from a different connection",
     "O(log N) where N is the number of client connections"},
    {"client|help", 2, "loading stale", "@slow @connection", CMD_ORIGIN(client_help),
     "connection", "5.0.0", "Show helpful text about the different subcommands", "O(1)"},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
