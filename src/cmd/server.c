/* Server and connection commands: the table of this family, the small commands
 * (PING, ECHO, QUIT, SELECT, TIME, LASTSAVE, SHUTDOWN, DEBUG), the keyspace-wide
 * fan-outs (DBSIZE, FLUSHDB, FLUSHALL), and helpers for container commands. The
 * larger ones live in client.c (HELLO, AUTH, CLIENT ...), command.c (COMMAND ...),
 * config.c (CONFIG ...) and info.c (INFO), which also hold the subcommand tables. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/numfmt.h"
#include "cmd/cmd.h"
#include "cmd/persist.h"
#include "cmd/server.h"
#include "cmd/split.h"
#include "cmd/watch.h"

/* ---- Helpers for container commands ---- */

/* Bytes Redis's "%.128s" prints of an argument (a C string: it stops at a NUL). */
static int arg_print_len(const rt_str *a)
{
    size_t n = a->len < 128 ? a->len : 128;
    const char *z = memchr(a->ptr, 0, n);
    return (int)(z ? (size_t)(z - a->ptr) : n);
}

void cmd_reply_unknown_sub(struct buf *b, const rt_str *container, const rt_str *sub)
{
    char up[64];
    size_t n = 0;
    for (; n < container->len && n < sizeof up - 1; n++)
        up[n] = (char)toupper((unsigned char)container->ptr[n]);
    up[n] = 0;
    resp_errorf(b, "ERR unknown subcommand '%.*s'. Try %s HELP.", arg_print_len(sub), sub->ptr,
                up);
}

void cmd_container_exec(struct rt_call *call)
{
    if (call->argc >= 2)
        cmd_reply_unknown_sub(call->out, &call->argv[0], &call->argv[1]);
    else
        resp_errorf(call->out, "ERR wrong number of arguments for '%s' command",
                    cmd_def_of(call->cmd)->name);
}

void cmd_reply_help(struct buf *b, const char *const *lines)
{
    int64_t n = 0;
    while (lines[n])
        n++;
    resp_array(b, n);
    for (int64_t i = 0; i < n; i++)
        resp_simple(b, lines[i]);
}

int cmd_valid_client_attr(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] < '!' || p[i] > '~')
            return 0;
    return 1;
}

/* ---- Small commands ---- */

static void cmd_ping(struct rt_call *call)
{
    if (call->argc > 2) {
        resp_error(call->out, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (call->argc == 1)
        resp_simple(call->out, "PONG");
    else
        resp_bulk(call->out, call->argv[1].ptr, call->argv[1].len);
}

static void cmd_echo(struct rt_call *call)
{
    resp_bulk(call->out, call->argv[1].ptr, call->argv[1].len);
}

static void cmd_quit(struct rt_call *call) { resp_ok(call->out); }

/* One database: SELECT 0 is accepted, any other index is out of range. */
static void cmd_select(struct rt_call *call)
{
    int64_t id;
    if (!str_to_i64(call->argv[1].ptr, call->argv[1].len, &id)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    if (id < INT32_MIN || id > INT32_MAX) {
        resp_error(call->out,
                   "ERR value is out of range, value must between -2147483648 and 2147483647");
        return;
    }
    if (id != 0)
        resp_error(call->out, "ERR DB index is out of range");
    else
        resp_ok(call->out);
}

static void cmd_time(struct rt_call *call)
{
    int64_t us = clock_unix_us();
    resp_array(call->out, 2);
    resp_bulk_i64(call->out, us / 1000000);
    resp_bulk_i64(call->out, us % 1000000);
}

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: every shard stops, writes and syncs its
 * log, and saves a snapshot when SAVE is given or save rules are set (not with NOSAVE).
 * As in Redis, success has no reply: the connection just closes. */
static void cmd_shutdown(struct rt_call *call)
{
    bool save = false, nosave = false, abort_ = false;
    for (int i = 1; i < call->argc; i++) {
        const rt_str *a = &call->argv[i];
        if (arg_is(a, "nosave"))
            nosave = true;
        else if (arg_is(a, "save"))
            save = true;
        else if (arg_is(a, "now") || arg_is(a, "force"))
            ;
        else if (arg_is(a, "abort"))
            abort_ = true;
        else {
            resp_error(call->out, ERR_SYNTAX);
            return;
        }
    }
    if ((save && nosave) || (abort_ && call->argc != 2)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    if (abort_) {
        resp_error(call->out, "ERR No shutdown in progress.");
        return;
    }
    persist_set_shutdown_save(nosave ? -1 : save ? 1 : 0);
    rt_stop(rt_of(call->rt_shard));
}

/* DEBUG SLEEP <seconds> (blocks this shard, as it blocks all of Redis) and HELP. */
static void cmd_debug(struct rt_call *call)
{
    if (call->argc == 2 && arg_is(&call->argv[1], "help")) {
        static const char *const help[] = {
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "HELP",
            "    Prints this help.",
            NULL,
        };
        cmd_reply_help(call->out, help);
        return;
    }
    if (call->argc == 3 && arg_is(&call->argv[1], "sleep")) {
        /* As Redis: strtod of whatever was sent, so junk sleeps 0 seconds. */
        char tmp[64];
        size_t n = call->argv[2].len < sizeof tmp - 1 ? call->argv[2].len : sizeof tmp - 1;
        memcpy(tmp, call->argv[2].ptr, n);
        tmp[n] = 0;
        double s = strtod(tmp, NULL);
        if (s > 0 && isfinite(s)) {
            if (s > 86400.0 * 365)
                s = 86400.0 * 365;
            struct timespec ts = {.tv_sec = (time_t)s,
                                  .tv_nsec = (long)((s - floor(s)) * 1e9)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
        resp_ok(call->out);
        return;
    }
    resp_errorf(call->out,
                "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG HELP.",
                arg_print_len(&call->argv[1]), call->argv[1].ptr);
}

/* ---- Keyspace-wide fan-outs ----
 * The client's command runs its step on the origin; each part is the same command with
 * no arguments, whose exec does this shard's share. */

static void fan_out(struct rt_txn *t, const char *verb)
{
    rt_str a = {verb, strlen(verb)};
    unsigned n = rt_nshards(rt_txn_shard(t));
    for (unsigned s = 0; s < n; s++)
        rt_txn_part(t, s, 1, &a);
}

static void cmd_dbsize_exec(struct rt_call *call)
{
    resp_int(call->out, (int64_t)store_count(cmd_shard(call)->store));
}

static void cmd_dbsize_step(struct rt_txn *t, unsigned phase)
{
    if (phase == 0) {
        fan_out(t, "dbsize");
        return;
    }
    int64_t sum;
    if (!split_sum(t, &sum))
        return;
    struct buf *b = rt_txn_scratch(t);
    resp_int(b, sum);
    rt_txn_finish(t, b->data, b->len);
}

static void cmd_flush_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    watch_touch_all(cs);
    size_t n = store_count(cs->store);
    store_flush(cs->store);
    cs->dirty += n;
    cs->exec_wrote = true; /* logged as the command itself: one record empties the shard */
    resp_ok(call->out);
}

static void cmd_flush_step(struct rt_txn *t, unsigned phase)
{
    if (phase == 0) {
        int argc;
        const rt_str *argv = rt_txn_argv(t, &argc);
        if (argc > 2 ||
            (argc == 2 && !arg_is(&argv[1], "sync") && !arg_is(&argv[1], "async"))) {
            static const char err[] = "-" ERR_SYNTAX "\r\n";
            rt_txn_finish(t, err, sizeof err - 1);
            return;
        }
        /* Every shard empties under a whole-shard lock, so no command (nor a
         * transaction's read) sees some shards flushed and others not. */
        for (unsigned s = 0, n = rt_nshards(rt_txn_shard(t)); s < n; s++)
            rt_txn_lock_shard(t, s);
        /* The part runs the command the client named: FLUSHDB and FLUSHALL are one. */
        fan_out(t, arg_is(&argv[0], "flushdb") ? "flushdb" : "flushall");
        return;
    }
    if (split_all_ok(t))
        rt_txn_finish(t, "+OK\r\n", 5);
}

/* ---- The table ---- */

const struct cmd_def cmd_server_table[] = {
    {"ping", -1, "fast", "@fast @connection", CMD_ORIGIN(cmd_ping), "connection", "1.0.0",
     "Ping the server", "O(1)"},
    {"echo", 2, "loading stale fast", "@fast @connection", CMD_ORIGIN(cmd_echo), "connection",
     "1.0.0", "Echo the given string", "O(1)"},
    {"quit", -1, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     {.route = RT_ROUTE_ORIGIN, .flags = RT_CMD_QUIT, .exec = cmd_quit}, "connection", "1.0.0",
     "Close the connection", "O(1)"},
    {"hello", -1, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     CMD_ORIGIN(cmd_hello), "connection", "6.0.0", "Handshake with Redis", "O(1)"},
    {"auth", -2, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     CMD_ORIGIN(cmd_auth), "connection", "1.0.0", "Authenticate to the server",
     "O(N) where N is the number of passwords defined for the user"},
    {"select", 2, "loading stale fast", "@fast @connection", CMD_ORIGIN(cmd_select), "connection",
     "1.0.0", "Change the selected database for the current connection", "O(1)"},
    {"client", -2, "", "@slow", CMD_ORIGIN(cmd_container_exec), "connection", "2.4.0",
     "A container for client connection commands", "Depends on subcommand."},
    {"command", -1, "loading stale", "@slow @connection", CMD_ORIGIN(cmd_command), "server",
     "2.8.13", "Get array of Redis command details",
     "O(N) where N is the total number of Redis commands"},
    {"config", -2, "", "@slow", CMD_ORIGIN(cmd_container_exec), "server", "2.0.0",
     "A container for server configuration commands", "Depends on subcommand."},
    {"info", -1, "loading stale", "@slow @dangerous", CMD_PLAN(NULL, cmd_info_step), "server",
     "1.0.0", "Get information and statistics about the server", "O(1)"},
    {"dbsize", 1, "readonly fast", "@keyspace @read @fast",
     CMD_PLAN(cmd_dbsize_exec, cmd_dbsize_step), "server", "1.0.0",
     "Return the number of keys in the selected database", "O(1)"},
    {"flushdb", -1, "write", "@keyspace @write @slow @dangerous",
     CMD_PLAN(cmd_flush_exec, cmd_flush_step), "server", "1.0.0",
     "Remove all keys from the current database",
     "O(N) where N is the number of keys in the selected database"},
    {"flushall", -1, "write", "@keyspace @write @slow @dangerous",
     CMD_PLAN(cmd_flush_exec, cmd_flush_step), "server", "1.0.0",
     "Remove all keys from all databases",
     "O(N) where N is the total number of keys in all databases"},
    {"time", 1, "loading stale fast", "@fast", CMD_ORIGIN(cmd_time), "server", "2.6.0",
     "Return the current server time", "O(1)"},
    {"shutdown", -1, "admin noscript loading stale no_multi allow_busy", "@admin @slow @dangerous",
     CMD_ORIGIN(cmd_shutdown), "server", "1.0.0",
     "Synchronously save the dataset to disk and then shut down the server",
     "O(N) when saving, where N is the total number of keys in all databases when saving "
     "data, otherwise O(1)"},
    {"debug", -2, "admin noscript loading stale", "@admin @slow @dangerous", CMD_ORIGIN(cmd_debug),
     "server", "1.0.0", "A container for debugging commands", "Depends on subcommand."},

    /* Parts of the fan-outs above, never accepted from a client. */
    {"__info", 1, "", "", CMD_INTERNAL(cmd_info_part), "server", "", "", ""},
    {"__clientlist", -1, "", "", CMD_INTERNAL(cmd_clientlist_part), "server", "", "", ""},
    {"__resetstat", 1, "", "", CMD_INTERNAL(cmd_resetstat_part), "server", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
