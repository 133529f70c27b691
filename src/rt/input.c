/* A connection's input: parse every complete command in place in the input buffer, a
 * window at a time, resolve and prefetch the window's keys, and run or forward each
 * command in order. */
#include "rt/internal.h"

#include <stdlib.h>

#include "base/log.h"

static void protocol_error(struct rt_shard *sh, struct rt_client *c, const char *err)
{
    struct buf b = {0};
    buf_puts(&b, "-ERR ");
    buf_puts(&b, err);
    buf_puts(&b, "\r\n");
    uint64_t seq = reply_reserve(c);
    reply_complete(sh, c, seq, b.data, b.len);
    buf_free(&b);
    c->closing = true;
    log_msg(LOG_VERBOSE, "protocol error from client %s: %s", c->addr, err);
}

/* Parse up to RT_WINDOW complete commands into sh->win. Returns how many; *st tells
 * why it stopped (REQ_ERROR with *err is handled after the window has run). An inline
 * command is a window of its own: it is unescaped in place, so it must never be
 * re-parsed, and the first command of a window always runs. */
static size_t window_fill(struct rt_shard *sh, struct rt_client *c, const struct req_limits *lim,
                          enum req_status *st, const char **err)
{
    size_t n = 0, nargs = 0;
    while (n < RT_WINDOW) {
        size_t start = c->parser.start;
        bool is_inline = start < c->in.len && c->in.data[start] != '*';
        if (n && is_inline) {
            *st = REQ_COMMAND; /* more to parse, in the next window */
            break;
        }
        *st = reqparse_next(&c->parser, c->in.data, c->in.len, lim, err);
        if (*st != REQ_COMMAND)
            break;
        size_t argc = c->parser.nargs;
        if (sh->win_argv_cap < nargs + argc) {
            size_t cap = sh->win_argv_cap ? sh->win_argv_cap : 64;
            while (cap < nargs + argc)
                cap *= 2;
            rt_str *na = realloc(sh->win_argv, cap * sizeof *na);
            if (!na)
                abort();
            sh->win_argv = na;
            sh->win_argv_cap = cap;
        }
        for (size_t k = 0; k < argc; k++)
            sh->win_argv[nargs + k] =
                (rt_str){c->in.data + c->parser.args[k].off, c->parser.args[k].len};
        sh->win[n++] = (struct window_cmd){.start = start, .arg0 = nargs, .nargs = argc};
        nargs += argc;
        if (is_inline)
            break;
    }
    return n;
}

/* Resolve every command of the window and prefetch the keys that live here, in two
 * stages, so the lookups of the batch overlap their cache misses. */
static void window_prepare(struct rt_shard *sh, size_t n)
{
    const struct rt_commands *cmds = sh->rt->cmds;
    for (size_t i = 0; i < n; i++) {
        const rt_str *argv = sh->win_argv + sh->win[i].arg0;
        int argc = (int)sh->win[i].nargs;
        sh->errbuf.len = 0;
        sh->win[i].cmd = cmds->resolve(sh->ctx, argv, argc, 0, &sh->errbuf);
    }
    if (!cmds->prefetch || n < 2)
        return;
    for (int stage = 0; stage < 2; stage++)
        for (size_t i = 0; i < n; i++) {
            const struct rt_cmd *cmd = sh->win[i].cmd;
            if (!cmd || cmd->route != RT_ROUTE_KEYS || cmd->keys.first < 1 ||
                (size_t)cmd->keys.first >= sh->win[i].nargs)
                continue;
            const rt_str *k = sh->win_argv + sh->win[i].arg0 + cmd->keys.first;
            if (rt_key_shard(sh, k->ptr, k->len) == sh->id)
                cmds->prefetch(sh->ctx, k->ptr, k->len, stage);
        }
}

/* Parse and run every complete command in the input buffer, a window at a time. A
 * command that stops the connection's input (QUIT, a protocol error, a multi-shard
 * command in flight, a command waiting for a lock) leaves the rest of its window
 * unrun: the parser is rewound to the first of them, so they run later, or never after
 * QUIT. */
void conn_process(struct rt_shard *sh, struct rt_client *c)
{
    const struct rt *rt = sh->rt;
    struct req_limits lim = {.max_bulk = OPT_LOAD(rt, proto_max_bulk_len),
                             .max_argc = 0x7fffffff};
    c->processing = true;
    while (!c->closing && !conn_waits(c)) {
        enum req_status st;
        const char *err = NULL;
        size_t n = window_fill(sh, c, &lim, &st, &err);
        window_prepare(sh, n);
        size_t i = 0;
        for (; i < n && !c->closing && !conn_waits(c); i++) {
            const rt_str *argv = sh->win_argv + sh->win[i].arg0;
            int argc = (int)sh->win[i].nargs;
            if (sh->win[i].cmd)
                dispatch_resolved(sh, c, sh->win[i].cmd, argc, argv);
            else
                dispatch_command(sh, c, argc, argv); /* writes the resolve error */
        }
        if (i < n) {
            /* Rewind to the first command not run (all of them are multibulk). */
            c->parser.start = c->parser.pos = sh->win[i].start;
            c->parser.multibulk_left = 0;
            c->parser.bulk_len = -1;
            break;
        }
        if (c->closing || conn_waits(c))
            break; /* a protocol error is reported when the held input runs */
        if (st == REQ_ERROR) {
            protocol_error(sh, c, err);
            break;
        }
        if (st == REQ_INCOMPLETE)
            break;
    }
    c->processing = false;
    size_t used = reqparse_consumed(&c->parser);
    if (used) {
        buf_consume(&c->in, used);
        reqparse_rebase(&c->parser, used);
    }
    if (c->in.len > OPT_LOAD(rt, query_buffer_limit)) {
        log_msg(LOG_WARNING, "closing client %s that reached the query buffer limit (%zu bytes)",
                c->addr, c->in.len);
        c->closing = true;
        out_discard(c);
    }
}

