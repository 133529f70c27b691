/* The epoll reactor: level-triggered, read interest while a connection reads, write
 * interest only while output is pending. Reads go straight into the connection's input
 * buffer; writes are send (bytes only) or sendmsg (bytes and referenced blocks). */
#include "rt/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"

#define EP_MAX_EVENTS 256
#define EP_READ_CHUNK (16 * 1024)
#define EP_READ_BUDGET (256 * 1024) /* bytes read from one connection per iteration */

/* epoll_event.data.u64: the listener, the waker, or a connection's slot + EP_CONN. */
enum { EP_LISTENER = 0, EP_WAKER = 1, EP_CONN = 2 };

struct epoll_state {
    int epfd;
    struct epoll_event events[EP_MAX_EVENTS];
};

static bool ep_open(struct rt_shard *sh, char *err, size_t errlen)
{
    struct epoll_state *ep = calloc(1, sizeof *ep);
    if (!ep)
        abort();
    sh->io_state = ep;
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.u64 = EP_LISTENER};
    struct epoll_event wev = {.events = EPOLLIN, .data.u64 = EP_WAKER};
    if (ep->epfd < 0 || epoll_ctl(ep->epfd, EPOLL_CTL_ADD, sh->listenfd, &lev) < 0 ||
        epoll_ctl(ep->epfd, EPOLL_CTL_ADD, sh->wakefd, &wev) < 0) {
        snprintf(err, errlen, "cannot create the shard's epoll poller: %s", strerror(errno));
        return false;
    }
    return true;
}

static void ep_close(struct rt_shard *sh)
{
    struct epoll_state *ep = sh->io_state;
    if (!ep)
        return;
    if (ep->epfd >= 0)
        close(ep->epfd);
    free(ep);
    sh->io_state = NULL;
}

static void ep_interest(struct rt_shard *sh, struct rt_client *c)
{
    struct epoll_state *ep = sh->io_state;
    bool want_read = !c->closing && !c->eof;
    bool want_write = out_has_unsent(c);
    if (want_read == c->reading && want_write == c->want_write)
        return;
    struct epoll_event ev = {.events = (want_read ? EPOLLIN : 0u) | (want_write ? EPOLLOUT : 0u),
                             .data.u64 = (uint64_t)c->slot + EP_CONN};
    epoll_ctl(ep->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->reading = want_read;
    c->want_write = want_write;
}

static bool ep_added(struct rt_shard *sh, struct rt_client *c)
{
    struct epoll_state *ep = sh->io_state;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)c->slot + EP_CONN};
    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        log_msg(LOG_WARNING, "epoll_ctl: %s", strerror(errno));
        return false;
    }
    c->reading = true;
    return true;
}

static void ep_closed(struct rt_shard *sh, struct rt_client *c)
{
    struct epoll_state *ep = sh->io_state;
    epoll_ctl(ep->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void ep_accept(struct rt_shard *sh)
{
    for (;;) {
        int fd = accept4(sh->listenfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_admit(sh, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            log_msg(LOG_WARNING, "accept: %s", strerror(errno));
        return;
    }
}

static void ep_readable(struct rt_shard *sh, struct rt_client *c)
{
    size_t got = 0;
    while (got < EP_READ_BUDGET) {
        buf_reserve(&c->in, EP_READ_CHUNK);
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
    conn_received(sh, c, got);
}

/* Send the unsent output: from the buffer alone with send, with blocks through
 * sendmsg (writev without SIGPIPE), IOV_MAX iovecs at a time. */
static ssize_t ep_send(struct rt_client *c)
{
    const struct outq *q = &c->out;
    if (q->head == q->n)
        return send(c->fd, q->buf.data + q->sent, q->buf.len - q->sent, MSG_NOSIGNAL);
    struct iovec iov[IOV_MAX < 1024 ? IOV_MAX : 1024];
    struct msghdr m = {.msg_iov = iov,
                       .msg_iovlen = (size_t)outq_iov(q, iov, (int)(sizeof iov / sizeof *iov))};
    return sendmsg(c->fd, &m, MSG_NOSIGNAL);
}

static void ep_write(struct rt_shard *sh, struct rt_client *c)
{
    while (out_has_unsent(c)) {
        ssize_t w = ep_send(c);
        if (w > 0) {
            outq_advance(&c->out, (size_t)w);
            sh->stats.net_output_bytes += (uint64_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_close(sh, c); /* the peer is gone: nothing more can reach it */
        return;
    }
    if (conn_written(sh, c))
        ep_interest(sh, c);
}

static int ep_poll(struct rt_shard *sh, int timeout_ms)
{
    struct epoll_state *ep = sh->io_state;
    int nev = epoll_wait(ep->epfd, ep->events, EP_MAX_EVENTS, timeout_ms);
    if (nev <= 0) {
        if (nev < 0 && errno != EINTR) {
            log_msg(LOG_WARNING, "epoll_wait: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    io_events_begin(sh);
    for (int i = 0; i < nev; i++) {
        const struct epoll_event *ev = &ep->events[i];
        if (ev->data.u64 == EP_LISTENER) {
            ep_accept(sh);
            continue;
        }
        if (ev->data.u64 == EP_WAKER) {
            uint64_t v;
            ssize_t r = read(sh->wakefd, &v, sizeof v);
            (void)r;
            continue;
        }
        uint64_t slot = ev->data.u64 - EP_CONN;
        if (slot >= sh->conns_cap || !sh->conns[slot])
            continue;
        struct rt_client *c = sh->conns[slot];
        if ((c->closing || c->eof) && (ev->events & (EPOLLHUP | EPOLLERR))) {
            conn_close(sh, c); /* nothing more can be delivered */
            continue;
        }
        if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            /* Back-pressure: while the spill to peers is deep, leave input unread
             * (level-triggered, so it is reported again once the backlog drains). */
            if (!c->closing && !c->eof && sh->backlog_total < RT_BACKLOG_PAUSE)
                ep_readable(sh, c);
            if (sh->conns[slot] != c)
                continue;
        }
        /* Written with the other dirty connections at the end of the iteration, after
         * before_flush made durable what the replies acknowledge. */
        if (ev->events & EPOLLOUT)
            conn_mark_dirty(sh, c);
    }
    return nev;
}

static bool ep_busy(const struct rt_shard *sh)
{
    (void)sh;
    return false;
}

const struct io_ops io_epoll_ops = {
    .name = "epoll",
    .open = ep_open,
    .poll = ep_poll,
    .added = ep_added,
    .interest = ep_interest,
    .write = ep_write,
    .closed = ep_closed,
    .busy = ep_busy,
    .close = ep_close,
};
