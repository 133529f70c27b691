/* The io_uring reactor (liburing): multishot accept and multishot receive into a ring of
 * provided buffers, sends of the output queue (bytes, or bytes and referenced blocks by
 * sendmsg), and one io_uring_enter per loop iteration that both submits what the
 * iteration prepared and collects what completed. The ring is made on the shard's own
 * thread (single issuer; completions run as deferred task work at that enter).
 *
 * Bookkeeping (REFERENCE.md section 14, point 14):
 * - every buffer an operation in flight references lives until its completion: a
 *   connection's state (struct uconn) outlives the connection while any of its
 *   operations is in flight, and a send owns the output queue it sends (the connection
 *   gets a fresh one), so nothing it reads moves or is freed;
 * - an operation that could not get a submission entry stays queued (the arm list) and
 *   is retried every iteration; the loop does not park while that list is not empty;
 * - a zero-length receive is end-of-file only when the socket has nothing more
 *   (recv_eof);
 * - closing cancels the multishot receive (and a send still waiting for room), and the
 *   fd is closed once the last completion arrived. */
#include "rt/internal.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/log.h"

#define UR_ENTRIES 1024
#define UR_NBUFS 256            /* provided receive buffers per shard (a power of two) */
#define UR_BUF_SIZE (16 * 1024)
#define UR_BGID 0
#define UR_IOV_MAX 1024
#define UR_CQE_BATCH 256

/* user_data: a struct uconn pointer (8-aligned) with the operation in the low bits; the
 * shard's own operations carry a NULL pointer. */
enum ur_op { OP_ACCEPT = 1, OP_WAKE = 2, OP_RECV = 3, OP_SEND = 4, OP_CANCEL = 5 };
#define OP_MASK 7u

/* A connection as the reactor sees it. */
struct uconn {
    struct rt_client *c; /* NULL once the connection closed */
    int fd;
    bool recv_armed;  /* a multishot receive is in flight */
    bool recv_cancel; /* ...and its cancel was submitted */
    bool send_busy;   /* a send is in flight */
    bool queued;      /* in the arm list */
    bool handling;    /* a completion of it is being handled: not freed meanwhile */
    bool cancelled;   /* closed: cancels submitted */
    bool paused;      /* back-pressure: input waits, the receive is cancelled */
    struct outq flight;   /* what the send in flight sends, pinned until it completes */
    struct iovec *iov;    /* its iovecs (with blocks), as many as UR_IOV_MAX */
    struct msghdr msg;
    struct uconn *next_zombie;
};

struct uring_state {
    struct io_uring ring;
    bool ring_ok;
    struct io_uring_buf_ring *br;
    char *bufs;
    bool accept_armed, wake_armed;
    uint64_t wake_val;
    struct uconn **arm; /* connections with an operation to (re)submit */
    size_t narm, arm_cap;
    struct uconn *zombies; /* closed, an operation still in flight */
};

static inline uint64_t ud(struct uconn *u, enum ur_op op)
{
    return (uint64_t)(uintptr_t)u | op;
}

/* A submission entry; when the queue is full, submit what is in it and try again. */
static struct io_uring_sqe *sqe_get(struct uring_state *ur)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ur->ring);
    if (!sqe && io_uring_submit(&ur->ring) >= 0)
        sqe = io_uring_get_sqe(&ur->ring);
    return sqe;
}

static void arm_queue(struct uring_state *ur, struct uconn *u)
{
    if (u->queued)
        return;
    if (ur->narm == ur->arm_cap) {
        size_t cap = ur->arm_cap ? ur->arm_cap * 2 : 64;
        struct uconn **na = realloc(ur->arm, cap * sizeof *na);
        if (!na)
            abort();
        ur->arm = na;
        ur->arm_cap = cap;
    }
    ur->arm[ur->narm++] = u;
    u->queued = true;
}

static bool wants_recv(const struct uconn *u)
{
    const struct rt_client *c = u->c;
    return c && !c->closing && !c->eof && !u->paused;
}

static bool arm_recv(struct uring_state *ur, struct uconn *u)
{
    struct io_uring_sqe *sqe = sqe_get(ur);
    if (!sqe)
        return false;
    io_uring_prep_recv_multishot(sqe, u->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = UR_BGID;
    io_uring_sqe_set_data64(sqe, ud(u, OP_RECV));
    u->recv_armed = true;
    return true;
}

static bool submit_send(struct uring_state *ur, struct uconn *u)
{
    struct io_uring_sqe *sqe = sqe_get(ur);
    if (!sqe)
        return false;
    struct outq *q = &u->flight;
    if (q->head == q->n) {
        io_uring_prep_send(sqe, u->fd, q->buf.data + q->sent, q->buf.len - q->sent,
                           MSG_NOSIGNAL);
    } else {
        if (!u->iov && !(u->iov = malloc(UR_IOV_MAX * sizeof *u->iov)))
            abort();
        u->msg = (struct msghdr){.msg_iov = u->iov,
                                 .msg_iovlen = (size_t)outq_iov(q, u->iov, UR_IOV_MAX)};
        io_uring_prep_sendmsg(sqe, u->fd, &u->msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, ud(u, OP_SEND));
    u->send_busy = true;
    return true;
}

static bool submit_cancel(struct uring_state *ur, struct uconn *u, enum ur_op op)
{
    struct io_uring_sqe *sqe = sqe_get(ur);
    if (!sqe)
        return false;
    io_uring_prep_cancel64(sqe, ud(u, op), 0);
    io_uring_sqe_set_data64(sqe, OP_CANCEL);
    return true;
}

static void uconn_free(struct uconn *u)
{
    outq_clear(&u->flight, true);
    free(u->iov);
    close(u->fd);
    free(u);
}

/* Submit what the connection needs now; false when it must stay queued (the queue
 * had no room, or its input waits for the spill to peers to drain). A closed
 * connection's operations are cancelled, once. */
static bool uconn_arm(struct rt_shard *sh, struct uring_state *ur, struct uconn *u)
{
    if (u->c && u->paused && sh->backlog_total < RT_BACKLOG_PAUSE) {
        u->paused = false;
        io_events_begin(sh);
        conn_received(sh, u->c, u->c->in.len); /* the input kept meanwhile; may close */
    }
    if (!u->c) {
        if (u->cancelled)
            return true;
        if ((u->recv_armed && !submit_cancel(ur, u, OP_RECV)) ||
            (u->send_busy && !submit_cancel(ur, u, OP_SEND)))
            return false;
        u->cancelled = true;
        return true;
    }
    if (u->recv_armed && !u->recv_cancel && !wants_recv(u)) {
        if (!submit_cancel(ur, u, OP_RECV))
            return false;
        u->recv_cancel = true;
    }
    if (wants_recv(u) && !u->recv_armed && !arm_recv(ur, u))
        return false;
    if (outq_has_unsent(&u->flight) && !u->send_busy && !submit_send(ur, u))
        return false;
    return !u->paused;
}

static void arm_pass(struct rt_shard *sh, struct uring_state *ur)
{
    size_t keep = 0;
    for (size_t i = 0; i < ur->narm; i++) {
        struct uconn *u = ur->arm[i];
        if (uconn_arm(sh, ur, u))
            u->queued = false;
        else
            ur->arm[keep++] = u;
    }
    ur->narm = keep;
}

/* ---- The reactor's entry points ---- */

static bool ur_added(struct rt_shard *sh, struct rt_client *c)
{
    struct uconn *u = calloc(1, sizeof *u);
    if (!u)
        abort();
    u->c = c;
    u->fd = c->fd;
    c->io = u;
    arm_queue(sh->io_state, u);
    return true;
}

static void ur_interest(struct rt_shard *sh, struct rt_client *c)
{
    struct uconn *u = c->io;
    if (u->recv_armed && !wants_recv(u))
        arm_queue(sh->io_state, u);
}

/* Hand the connection's output to a send, unless one is in flight (its completion
 * comes back here through the dirty list). */
static void ur_write(struct rt_shard *sh, struct rt_client *c)
{
    struct uring_state *ur = sh->io_state;
    struct uconn *u = c->io;
    if (!u->send_busy && !outq_has_unsent(&u->flight) && out_has_unsent(c)) {
        struct outq spare = u->flight; /* empty; its memory is reused */
        u->flight = c->out;
        c->out = spare;
        c->inflight_bytes = outq_unsent(&u->flight);
        if (!submit_send(ur, u))
            arm_queue(ur, u);
    }
    conn_written(sh, c);
}

static void ur_closed(struct rt_shard *sh, struct rt_client *c)
{
    struct uring_state *ur = sh->io_state;
    struct uconn *u = c->io;
    c->io = NULL;
    c->inflight_bytes = 0;
    u->c = NULL;
    if (!u->recv_armed && !u->send_busy) {
        if (u->queued || u->handling) {
            /* Still in use: the arm pass, or the end of the completion, finds it closed
             * and it is freed with the other closed ones. */
            u->cancelled = true;
            u->next_zombie = ur->zombies;
            ur->zombies = u;
            return;
        }
        uconn_free(u);
        return;
    }
    u->next_zombie = ur->zombies;
    ur->zombies = u;
    arm_queue(ur, u);
}

/* Free closed connections whose last operation completed. */
static void zombies_reap(struct uring_state *ur)
{
    struct uconn **link = &ur->zombies;
    while (*link) {
        struct uconn *u = *link;
        if (!u->recv_armed && !u->send_busy && !u->queued && !u->handling) {
            *link = u->next_zombie;
            uconn_free(u);
        } else {
            link = &u->next_zombie;
        }
    }
}

/* ---- Completions ---- */

static void buf_return(struct uring_state *ur, unsigned bid, int *nret)
{
    io_uring_buf_ring_add(ur->br, ur->bufs + (size_t)bid * UR_BUF_SIZE, UR_BUF_SIZE,
                          (unsigned short)bid, io_uring_buf_ring_mask(UR_NBUFS), *nret);
    (*nret)++;
}

/* A zero-length receive is end-of-file when the socket says nothing is left. TCP also
 * says something is left at end-of-file (its hint counts the FIN), so then the socket
 * is asked directly. */
static bool recv_eof(int fd, unsigned flags)
{
    if (!(flags & IORING_CQE_F_SOCK_NONEMPTY))
        return true;
    char b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Parse and run the received bytes where the kernel put them; only an unfinished tail
 * (or input a command left waiting) is copied into the connection's input buffer.
 * Nothing keeps a pointer into the input past conn_process: whatever must outlive it is
 * copied (as the buffer's own bytes move when it is consumed). */
static void run_in_place(struct rt_shard *sh, struct rt_client *c, char *data, size_t len)
{
    struct buf own = c->in;
    c->in = (struct buf){.data = data, .len = len, .cap = len};
    c->last_ms = sh->now_ms;
    conn_process(sh, c);
    struct buf rest = c->in;
    c->in = own;
    if (rest.len)
        buf_append(&c->in, rest.data, rest.len);
}

/* Received bytes (buffer bid of the ring, returned here). */
static void recv_data(struct rt_shard *sh, struct uconn *u, unsigned bid, size_t len, int *nret)
{
    struct uring_state *ur = sh->io_state;
    struct rt_client *c = u->c;
    char *data = ur->bufs + (size_t)bid * UR_BUF_SIZE;
    if (!c || c->closing || c->eof) {
        buf_return(ur, bid, nret); /* nothing more is read from it */
        return;
    }
    sh->stats.net_input_bytes += len;
    bool deep = sh->backlog_total >= RT_BACKLOG_PAUSE;
    if (!c->in.len && !u->paused && !deep && !conn_waits(c)) {
        run_in_place(sh, c, data, len);
        buf_return(ur, bid, nret);
        conn_received(sh, c, 0);
        return;
    }
    buf_append(&c->in, data, len);
    buf_return(ur, bid, nret);
    if (deep || u->paused) {
        /* Back-pressure: the spill to peers is deep. Keep the input, stop receiving
         * (the socket fills and TCP slows the client), run it once it drains. */
        if (!u->paused) {
            u->paused = true;
            arm_queue(ur, u);
        }
        return;
    }
    conn_received(sh, c, len);
}

static void on_recv(struct rt_shard *sh, struct uconn *u, const struct io_uring_cqe *cqe,
                    int *nret)
{
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (!more)
        u->recv_armed = u->recv_cancel = false;
    u->handling = true; /* what runs may close the connection */
    if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
        recv_data(sh, u, cqe->flags >> IORING_CQE_BUFFER_SHIFT, (size_t)cqe->res, nret);
    } else if (u->c) {
        struct rt_client *c = u->c;
        bool eof = cqe->res == 0 ? recv_eof(u->fd, cqe->flags)
                                 : cqe->res != -ENOBUFS && cqe->res != -ECANCELED;
        if (eof && !c->eof && !c->closing) {
            c->eof = true; /* end of file or an error: run what arrived, close once replied */
            conn_received(sh, c, 0);
        }
    }
    u->handling = false;
    /* The receive ended (out of buffers, the completion queue full, cancelled) while the
     * connection still reads: again. */
    if (!more && wants_recv(u))
        arm_queue(sh->io_state, u);
}

static void on_send(struct rt_shard *sh, struct uconn *u, int res)
{
    struct uring_state *ur = sh->io_state;
    struct rt_client *c = u->c;
    u->send_busy = false;
    if (!c)
        return;
    if (res < 0) {
        if (res == -EINTR || res == -EAGAIN) {
            arm_queue(ur, u); /* the same bytes again */
            return;
        }
        conn_close(sh, c); /* the peer is gone: nothing more can reach it */
        return;
    }
    outq_advance(&u->flight, (size_t)res);
    c->inflight_bytes = outq_unsent(&u->flight);
    sh->stats.net_output_bytes += (uint64_t)res;
    if (c->inflight_bytes) {
        arm_queue(ur, u); /* a short send: the rest, from the exact next byte */
        return;
    }
    /* The queues alternate: a big reply's buffer is not kept by an idle connection. */
    buf_shrink(&u->flight.buf, 64 * 1024);
    conn_mark_dirty(sh, c); /* what was queued meanwhile, or the close after the last */
}

static void on_accept(struct rt_shard *sh, const struct io_uring_cqe *cqe)
{
    struct uring_state *ur = sh->io_state;
    if (!(cqe->flags & IORING_CQE_F_MORE))
        ur->accept_armed = false;
    if (cqe->res >= 0)
        conn_admit(sh, cqe->res);
    else if (cqe->res != -ECONNABORTED && cqe->res != -EINTR && cqe->res != -ECANCELED)
        log_msg(LOG_WARNING, "accept: %s", strerror(-cqe->res));
}

static void arm_shard_ops(struct rt_shard *sh)
{
    struct uring_state *ur = sh->io_state;
    struct io_uring_sqe *sqe;
    if (!ur->accept_armed && (sqe = sqe_get(ur))) {
        io_uring_prep_multishot_accept(sqe, sh->listenfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        io_uring_sqe_set_data64(sqe, OP_ACCEPT);
        ur->accept_armed = true;
    }
    if (!ur->wake_armed && (sqe = sqe_get(ur))) {
        io_uring_prep_read(sqe, sh->wakefd, &ur->wake_val, sizeof ur->wake_val, 0);
        io_uring_sqe_set_data64(sqe, OP_WAKE);
        ur->wake_armed = true;
    }
}

static int ur_poll(struct rt_shard *sh, int timeout_ms)
{
    struct uring_state *ur = sh->io_state;
    arm_shard_ops(sh);
    if (ur->narm)
        arm_pass(sh, ur);
    int rc;
    if (timeout_ms > 0) {
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&ur->ring, &cqe, 1, &ts, NULL);
    } else {
        rc = io_uring_submit_and_get_events(&ur->ring);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
        log_msg(LOG_WARNING, "io_uring_enter: %s", strerror(-rc));
        return -1;
    }
    int handled = 0, nret = 0;
    for (;;) {
        struct io_uring_cqe *cqes[UR_CQE_BATCH];
        unsigned n = io_uring_peek_batch_cqe(&ur->ring, cqes, UR_CQE_BATCH);
        if (!n)
            break;
        for (unsigned i = 0; i < n; i++) {
            const struct io_uring_cqe *cqe = cqes[i];
            uint64_t data = io_uring_cqe_get_data64(cqe);
            struct uconn *u = (struct uconn *)(uintptr_t)(data & ~(uint64_t)OP_MASK);
            enum ur_op op = (enum ur_op)(data & OP_MASK);
            if (op == OP_CANCEL)
                continue;
            if (!handled++)
                io_events_begin(sh);
            switch (op) {
            case OP_RECV:
                on_recv(sh, u, cqe, &nret);
                break;
            case OP_SEND:
                on_send(sh, u, cqe->res);
                break;
            case OP_ACCEPT:
                on_accept(sh, cqe);
                break;
            case OP_WAKE:
                ur->wake_armed = false;
                break;
            default:
                break;
            }
        }
        io_uring_cq_advance(&ur->ring, n);
    }
    if (nret)
        io_uring_buf_ring_advance(ur->br, nret);
    if (ur->zombies)
        zombies_reap(ur);
    return handled;
}

static bool ur_busy(const struct rt_shard *sh)
{
    const struct uring_state *ur = sh->io_state;
    return ur->narm > 0;
}

/* ---- Set-up ---- */

static bool ring_setup(struct io_uring *ring)
{
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    return io_uring_queue_init_params(UR_ENTRIES, ring, &p) == 0;
}

static bool ur_open(struct rt_shard *sh, char *err, size_t errlen)
{
    struct uring_state *ur = calloc(1, sizeof *ur);
    if (!ur)
        abort();
    sh->io_state = ur;
    int rc = -EINVAL;
    if (!(ur->ring_ok = ring_setup(&ur->ring)))
        goto fail;
    io_uring_register_ring_fd(&ur->ring); /* optional: saves a file lookup per enter */
    size_t brsize = UR_NBUFS * sizeof(struct io_uring_buf);
    ur->br = mmap(NULL, brsize, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    ur->bufs = malloc((size_t)UR_NBUFS * UR_BUF_SIZE);
    if (ur->br == MAP_FAILED || !ur->bufs) {
        ur->br = NULL;
        rc = -ENOMEM;
        goto fail;
    }
    io_uring_buf_ring_init(ur->br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)ur->br,
                                   .ring_entries = UR_NBUFS, .bgid = UR_BGID};
    if ((rc = io_uring_register_buf_ring(&ur->ring, &reg, 0)) < 0)
        goto fail;
    for (unsigned i = 0; i < UR_NBUFS; i++)
        io_uring_buf_ring_add(ur->br, ur->bufs + (size_t)i * UR_BUF_SIZE, UR_BUF_SIZE,
                              (unsigned short)i, io_uring_buf_ring_mask(UR_NBUFS), (int)i);
    io_uring_buf_ring_advance(ur->br, UR_NBUFS);
    return true;
fail:
    snprintf(err, errlen, "cannot set up the shard's io_uring: %s", strerror(-rc));
    return false;
}

static void ur_close(struct rt_shard *sh)
{
    struct uring_state *ur = sh->io_state;
    if (!ur)
        return;
    /* Ends every operation in flight, so what they referenced can go. */
    if (ur->ring_ok)
        io_uring_queue_exit(&ur->ring);
    while (ur->zombies) {
        struct uconn *u = ur->zombies;
        ur->zombies = u->next_zombie;
        uconn_free(u);
    }
    if (ur->br)
        munmap(ur->br, UR_NBUFS * sizeof(struct io_uring_buf));
    free(ur->bufs);
    free(ur->arm);
    free(ur);
    sh->io_state = NULL;
}

bool io_uring_usable(char *err, size_t errlen)
{
    struct io_uring ring;
    if (!ring_setup(&ring)) {
        snprintf(err, errlen, "the kernel refuses an io_uring with deferred task work "
                              "(Linux 6.1 or later, not disabled by sysctl or seccomp)");
        return false;
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_SEND_ZC); /* 6.0+ */
    if (probe)
        io_uring_free_probe(probe);
    io_uring_queue_exit(&ring);
    if (!ok)
        snprintf(err, errlen, "the kernel's io_uring lacks operations this reactor uses");
    return ok;
}

const struct io_ops io_uring_ops = {
    .name = "io_uring",
    .open = ur_open,
    .poll = ur_poll,
    .added = ur_added,
    .interest = ur_interest,
    .write = ur_write,
    .closed = ur_closed,
    .busy = ur_busy,
    .close = ur_close,
};
