/* Connections on the epoll reactor: accept, read and parse, write, close.
 *
 * A connection lives on the shard that accepted it. Its identity is (shard, id), with
 * ids never reused; the slot is only an index into this shard's table, checked against
 * the id, so a late reply for a closed connection finds nothing and is dropped. */
#include "rt/internal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"

static void conn_events(struct rt_shard *sh, struct rt_client *c)
{
    bool want_read = !c->closing && !c->eof;
    bool want_write = out_has_unsent(c);
    if (want_read == c->reading && want_write == c->want_write)
        return;
    struct epoll_event ev = {.events = (want_read ? EPOLLIN : 0u) | (want_write ? EPOLLOUT : 0u),
                             .data.u64 = (uint64_t)c->slot + 2};
    epoll_ctl(sh->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->reading = want_read;
    c->want_write = want_write;
}

static uint32_t slot_alloc(struct rt_shard *sh)
{
    if (!sh->nfree) {
        uint32_t old = sh->conns_cap, cap = old ? old * 2 : 64;
        struct rt_client **nc = realloc(sh->conns, cap * sizeof *nc);
        uint32_t *nf = realloc(sh->free_slots, cap * sizeof *nf);
        if (!nc || !nf)
            abort();
        sh->conns = nc;
        sh->free_slots = nf;
        for (uint32_t i = cap; i > old; i--) {
            sh->conns[i - 1] = NULL;
            sh->free_slots[sh->nfree++] = i - 1;
        }
        sh->conns_cap = cap;
    }
    return sh->free_slots[--sh->nfree];
}

static void reject(int fd)
{
    static const char msg[] = "-ERR max number of clients reached\r\n";
    ssize_t w = write(fd, msg, sizeof msg - 1);
    (void)w;
    close(fd);
}

void conn_accept(struct rt_shard *sh)
{
    for (;;) {
        int fd = accept4(sh->listenfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_msg(LOG_WARNING, "accept: %s", strerror(errno));
            return;
        }
        uint64_t n = atomic_fetch_add(&sh->rt->clients, 1);
        if (n >= OPT_LOAD(sh->rt, maxclients)) {
            atomic_fetch_sub(&sh->rt->clients, 1);
            sh->stats.rejected_connections++;
            reject(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct rt_client *c = calloc(1, sizeof *c);
        if (!c)
            abort();
        c->fd = fd;
        c->sh = sh;
        c->slot = slot_alloc(sh);
        c->id = sh->next_conn_id++;
        c->proto = 2;
        c->reading = true;
        c->created_ms = c->last_ms = sh->now_ms;
        reqparse_init(&c->parser);
        net_describe(fd, true, c->addr, sizeof c->addr);
        net_describe(fd, false, c->laddr, sizeof c->laddr);
        sh->conns[c->slot] = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)c->slot + 2};
        if (epoll_ctl(sh->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            log_msg(LOG_WARNING, "epoll_ctl: %s", strerror(errno));
            conn_close(sh, c);
            continue;
        }
        sh->stats.connections_received++;
        sh->stats.connected_clients++;
    }
}

struct rt_client *conn_find(struct rt_shard *sh, uint32_t slot, uint64_t id)
{
    if (slot >= sh->conns_cap)
        return NULL;
    struct rt_client *c = sh->conns[slot];
    return c && c->id == id ? c : NULL;
}

void conn_close(struct rt_shard *sh, struct rt_client *c)
{
    wait_client_gone(sh, c); /* its blocking command ends (its step runs later) */
    if (sh->rt->cmds->client_close)
        sh->rt->cmds->client_close(sh->ctx, c);
    c->data = NULL;
    epoll_ctl(sh->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    sh->conns[c->slot] = NULL;
    sh->free_slots[sh->nfree++] = c->slot;
    atomic_fetch_sub(&sh->rt->clients, 1);
    sh->stats.connected_clients--;
    buf_free(&c->in);
    out_release(sh, c);
    buf_free(&c->out);
    reqparse_free(&c->parser);
    reply_free_all(c);
    free(c->name);
    /* A dirty-list entry may still point here: conn_flush_dirty checks the slot. */
    c->fd = -1;
    if (c->in_dirty)
        c->closing = true; /* freed by conn_flush_dirty */
    else
        free(c);
}

void conn_close_all(struct rt_shard *sh)
{
    for (uint32_t i = 0; i < sh->conns_cap; i++)
        if (sh->conns[i])
            conn_close(sh, sh->conns[i]);
    conn_flush_dirty(sh);
    free(sh->conns);
    free(sh->free_slots);
    free(sh->dirty);
    free(sh->resume);
    sh->resume = NULL;
    sh->conns = NULL;
    sh->free_slots = NULL;
    sh->dirty = NULL;
    sh->conns_cap = sh->nfree = 0;
}

/* Every emit ends here (reply_complete, run_local): the output limit's one compare. */
void conn_mark_dirty(struct rt_shard *sh, struct rt_client *c)
{
    if (__builtin_expect(out_tripped(sh, c), 0))
        out_check_limits(sh, c); /* may kill: then it is dirty already */
    if (c->in_dirty)
        return;
    if (sh->ndirty == sh->dirty_cap) {
        size_t cap = sh->dirty_cap ? sh->dirty_cap * 2 : 64;
        struct rt_client **nd = realloc(sh->dirty, cap * sizeof *nd);
        if (!nd)
            abort();
        sh->dirty = nd;
        sh->dirty_cap = cap;
    }
    sh->dirty[sh->ndirty++] = c;
    c->in_dirty = true;
}

/* Send the unsent output: from the buffer alone with send, with blocks through
 * sendmsg (writev without SIGPIPE), IOV_MAX iovecs at a time. */
static ssize_t conn_send(struct rt_client *c)
{
    if (c->ref_head == c->nrefs)
        return send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent, MSG_NOSIGNAL);
    struct iovec iov[IOV_MAX < 1024 ? IOV_MAX : 1024];
    struct msghdr m = {.msg_iov = iov,
                       .msg_iovlen = (size_t)out_iov(c, iov, (int)(sizeof iov / sizeof *iov))};
    return sendmsg(c->fd, &m, MSG_NOSIGNAL);
}

/* Write what is pending; returns false when the connection was closed. */
static bool conn_write(struct rt_shard *sh, struct rt_client *c)
{
    if (__builtin_expect(c->out_killed, 0)) {
        conn_close(sh, c); /* over its output limit: closed unwritten */
        return false;
    }
    while (out_has_unsent(c)) {
        ssize_t w = conn_send(c);
        if (w > 0) {
            out_advance(c, (size_t)w);
            sh->stats.net_output_bytes += (uint64_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_close(sh, c); /* the peer is gone: nothing more can reach it */
        return false;
    }
    if (!out_has_unsent(c)) {
        c->soft_since_ms = 0; /* drained: a later overrun starts the soft clock afresh */
        buf_shrink(&c->out, 64 * 1024);
        /* pq_len == 0 also means no multi-shard command is outstanding (each holds
         * its reply slot), so no held input is left to run. */
        if ((c->closing || c->eof) && c->pq_len == 0) {
            conn_close(sh, c);
            return false;
        }
    } else if (out_tripped(sh, c) || c->soft_since_ms) {
        /* Still behind: the soft limit's clock is looked at with each attempt. */
        if (out_check_limits(sh, c)) {
            conn_close(sh, c);
            return false;
        }
    }
    conn_events(sh, c);
    return true;
}

void conn_flush_dirty(struct rt_shard *sh)
{
    for (size_t i = 0; i < sh->ndirty; i++) {
        struct rt_client *c = sh->dirty[i];
        c->in_dirty = false;
        if (c->fd < 0) {
            free(c); /* closed while queued here */
            continue;
        }
        conn_write(sh, c);
    }
    sh->ndirty = 0;
}

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

/* A multi-shard or blocking command in flight, a blocking command forwarded, or a
 * command waiting for a lock: the connection's further input waits. */
static bool conn_waits(const struct rt_client *c)
{
    return c->txns || c->held || c->fwd_blocking;
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
static void conn_process(struct rt_shard *sh, struct rt_client *c)
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

void conn_readable(struct rt_shard *sh, struct rt_client *c)
{
    size_t got = 0;
    while (got < RT_READ_BUDGET) {
        buf_reserve(&c->in, RT_READ_CHUNK);
        size_t room = c->in.cap - c->in.len;
        ssize_t r = read(c->fd, c->in.data + c->in.len, room);
        if (r > 0) {
            c->in.len += (size_t)r;
            got += (size_t)r;
            sh->stats.net_input_bytes += (uint64_t)r;
            /* A short read drained the socket: another read would only say EAGAIN,
             * and level-triggered epoll reports anything that arrives later. */
            if ((size_t)r < room)
                break;
            /* Parse as we go so a pipeline larger than the budget keeps memory flat. */
            conn_process(sh, c);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* EOF or error: run what arrived, then close once every reply is out. */
        c->eof = true;
        break;
    }
    c->last_ms = sh->now_ms;
    if (got)
        conn_process(sh, c);
    if (c->eof && c->block_id) {
        /* A blocked client that goes away is freed at once, as Redis does: its
         * command stops waiting and takes nothing. */
        conn_close(sh, c);
        return;
    }
    if (c->eof)
        conn_events(sh, c); /* stop read interest; replies due are still sent */
    conn_mark_dirty(sh, c);
}

void conn_resume(struct rt_shard *sh, struct rt_client *c)
{
    if (c->processing)
        return; /* conn_process's loop goes on by itself */
    if (sh->nresume == sh->resume_cap) {
        size_t cap = sh->resume_cap ? sh->resume_cap * 2 : 16;
        struct conn_ref *nr = realloc(sh->resume, cap * sizeof *nr);
        if (!nr)
            abort();
        sh->resume = nr;
        sh->resume_cap = cap;
    }
    sh->resume[sh->nresume++] = (struct conn_ref){c->slot, c->id};
}

void conn_run_resumed(struct rt_shard *sh)
{
    /* Running held input may finish more transactions and append here: index loop. */
    for (size_t i = 0; i < sh->nresume; i++) {
        struct rt_client *c = conn_find(sh, sh->resume[i].slot, sh->resume[i].id);
        if (c && !conn_waits(c) && !c->closing) {
            conn_process(sh, c);
            conn_mark_dirty(sh, c);
        }
    }
    sh->nresume = 0;
}
