/* The runtime's internal state, shared by the files of src/rt/ only. */
#ifndef COREKV_RT_INTERNAL_H
#define COREKV_RT_INTERNAL_H

#include <corekv/rt.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "proto/reqparse.h"
#include "rt/lock.h"
#include "rt/ring.h"

#define RT_CACHE_LINE 64
#define RT_RING_CAPACITY 1024
#define RT_DRAIN_BUDGET 64          /* batches taken from one source per iteration */
#define RT_BACKLOG_PAUSE 4096       /* queued batches past which a shard stops reading */
#define RT_PARK_TIMEOUT_MS 50       /* backstop only: wake-ups come through the eventfd */
#define RT_WINDOW 16 /* pipelined commands parsed ahead, for prefetching */

/* ---- Messages between shards ----
 * A batch carries every request one shard sends another in one loop iteration, and
 * comes back to its origin carrying the replies, to be reused. Records are laid out
 * back to back in `req` and `rep` (headers copied with memcpy: no alignment assumed). */
enum rec_kind {
    REC_FORWARD = 1, /* a client's command; the reply goes to the connection */
    REC_PART = 2,    /* a part of a multi-shard command; the reply goes to the txn */
    REC_LOCK = 3,    /* intent locks for a txn: argv[0] modes ('s'/'x' per key), keys */
    REC_UNLOCK = 4,  /* release a txn's locks; no reply */
    REC_POST = 5,    /* an internal command whose reply nobody wants (rt_post) */
    /* Blocking (wait.c); none of these has a reply. */
    REC_WAIT = 6,    /* register a txn as a waiter: argv[0] kinds (one byte per key), keys */
    REC_UNWAIT = 7,  /* cancel a txn's registrations on these keys */
    REC_WAKE = 8,    /* owner -> origin: argv[0], a key, is ready for the txn (seq: gen) */
};

enum {
    REQF_LOCKED = 1u << 0, /* PART of a txn holding its locks here: runs past any hold */
    REQF_TRY = 1u << 1,    /* LOCK: grant now or deny, never wait */
    REQF_WHOLE = 1u << 2,  /* LOCK: the whole shard */
    REQF_SPEC = 1u << 3,   /* PART right behind its txn's try LOCK: runs only if granted */
};

struct req_hdr {
    uint8_t kind;
    uint8_t proto;
    uint16_t flags;   /* REQF_* */
    uint32_t slot;    /* conn slot (FORWARD) or txn slot (PART, LOCK, UNLOCK) on the origin */
    uint64_t id;      /* conn id or txn id: a stale slot never matches */
    uint64_t seq;     /* FORWARD: the command's seq; PART: dispatch << 32 | part index;
                       * LOCK: the txn's lock round, echoed in the reply */
    /* FORWARD: resolved on the origin. PART: NULL (resolve as internal there) or a
     * client command resolved on the origin (rt_txn_command). */
    const struct rt_cmd *cmd;
    uint32_t argc;
    uint32_t argbytes; /* bytes of the argument block that follows */
};
/* Argument block: argc x (uint32 len), then the bytes of each argument in order. */

struct rep_hdr {
    uint8_t kind;
    uint8_t shard; /* LOCK: the shard answering */
    uint8_t flags; /* REPF_* */
    uint8_t pad;
    uint32_t slot;
    uint64_t id;
    uint64_t seq;
    uint64_t len; /* reply bytes that follow */
};

enum {
    REPF_BLOCKING = 1u << 0, /* FORWARD of an RT_CMD_BLOCKING command: the connection resumes */
    REPF_BLOCKED = 1u << 1,  /* ...which found nothing: the reply is the command to wait with */
};

struct batch {
    struct batch *next; /* backlog or pool link, owned by whoever holds the batch */
    uint16_t origin;
    uint16_t target;
    bool is_reply;
    uint32_t nreq;
    struct buf req;
    struct buf rep;
};

/* Per-target outgoing lane of a shard: the batch being filled this iteration, then the
 * ring; when the ring is full, an ordered backlog in front of it. */
struct lane {
    struct batch *cur;
    struct batch *cur_rep; /* replies produced outside a request batch (held work) */
    struct batch *backlog_head, *backlog_tail;
    size_t backlog_len;
};

/* ---- Connections ---- */

/* Output bytes plus blocks referenced at byte positions of them (output.c). refs[head,
 * n) are in position order; a block's bytes go out after byte pos - 1 of buf and before
 * byte pos (blocks at one pos in ref order). off bytes of refs[head] are sent (only when
 * sent == its pos). ref_bytes is the unsent bytes of the referenced blocks. */
struct outq {
    struct buf buf;
    size_t sent;
    size_t ref_bytes;
    struct out_ref {
        size_t pos;
        struct rt_block *b;
    } *refs;
    uint32_t head, n, cap;
    size_t off;
};

struct pending {
    bool done;
    struct buf reply;
};

struct rt_client {
    int fd;
    uint32_t slot;
    uint64_t id; /* per-shard, never reused */
    struct rt_shard *sh;
    struct buf in;
    struct reqparse parser;
    struct outq out;
    /* Unsent bytes of a write the reactor has in flight (io_uring: the output queue it
     * took, pinned until its completion; 0 when none), so the unsent output is
     * outq_unsent(&out) + inflight_bytes. */
    size_t inflight_bytes;
    uint8_t out_class; /* enum rt_client_class */
    /* A command is writing its reply straight into out: pushes (pub/sub messages,
     * keyspace events it causes) wait in pushes_held until the reply is whole. */
    bool writing_reply;
    struct held_pushes *pushes_held; /* NULL unless a push waits (rare) */
    /* Reply order: every command takes seq = next_seq++. Slots for seqs
     * [next_emit, next_seq) live in pq (a ring of pq_cap), front = next_emit; the front
     * is never done (it is emitted as soon as it is), so pq_len == next_seq - next_emit. */
    uint64_t next_seq, next_emit;
    struct pending *pq;
    size_t pq_head, pq_len, pq_cap;
    uint8_t proto;
    bool closing;     /* QUIT, protocol error: run nothing more, close once replied */
    bool eof;         /* the peer closed: run what arrived, then close */
    bool processing;  /* inside conn_process (a finishing txn need not queue a resume) */
    /* Multi-shard commands of this connection still running. While any is, the
     * connection runs no further command: a later command must not overtake a step
     * of an earlier one (its input waits in the buffer, as a blocked client's does). */
    uint32_t txns;
    /* A local command waits for a lock (DESIGN.md section 7): run nothing more until
     * it has run. */
    bool held;
    bool intercept;   /* every command goes through rt_commands.intercept first */
    /* Blocking commands forwarded to their owner: until each replies, run nothing more
     * (it may turn into a wait, and a blocked client reads no further command). */
    uint32_t fwd_blocking;
    /* The blocking transaction of this connection (wait.c), id 0 when none. */
    uint32_t block_slot;
    uint64_t block_id;
    void *data;       /* the command set's (rt_client_data) */
    bool in_dirty;    /* queued in the shard's dirty list (output to flush) */
    bool want_write;  /* epoll: EPOLLOUT registered */
    bool reading;     /* epoll: EPOLLIN registered */
    void *io;         /* the reactor's per-connection state (io_uring) */
    char *name;
    const struct rt_cmd *last_cmd;
    int64_t created_ms, last_ms;
    char addr[64], laddr[64];
    bool out_killed;       /* over its output limit: closed at the next flush, unwritten */
    int64_t soft_since_ms; /* over the soft limit since then (shard clock); 0: not over */
};

/* ---- Multi-shard commands ---- */
struct txn_part {
    size_t off, len; /* reply bytes within results */
    bool done;
};

enum txn_lock_state {
    TL_NONE,    /* no locks declared, or not yet asked for */
    TL_TRYING,  /* asked every shard at once, grant-or-deny */
    TL_WAITING, /* asking one shard at a time, ascending, waiting for each */
    TL_HELD,    /* every lock granted */
};

struct rt_txn {
    uint64_t id;
    uint32_t slot;
    uint32_t conn_slot;
    uint64_t conn_id;
    uint64_t seq;
    uint8_t proto;
    bool finished;
    const struct rt_cmd *cmd;
    struct rt_shard *sh;
    rt_str *argv;
    int argc;
    struct buf args;       /* bytes of argv */
    unsigned phase;
    unsigned nparts, nreplied;
    struct txn_part *parts;
    size_t parts_cap;
    struct buf results;
    /* Parts queued by the current step for the next phase: records as in a batch. */
    struct buf next;
    unsigned nnext;
    void *state;
    void (*on_free)(void *state);
    struct buf scratch;
    struct buf reply; /* a child's reply, until it ends */
    bool stepping; /* inside txn_dispatch: a child finishing inline must not advance us */

    /* Locks declared in phase 0: records (uint32 shard, uint8 exclusive, uint32 len,
     * key bytes), and whole shards. */
    struct buf lockkeys;
    uint64_t lock_shards, whole_shards;
    uint64_t held_shards; /* granted there: released when the txn ends */
    enum txn_lock_state lock_state;
    unsigned lock_pending; /* TL_TRYING: replies outstanding */
    bool lock_denied;
    bool lock_exclusive;   /* some declared key is exclusive */
    /* A read-only transaction sends the parts of phase 0 right behind its try requests
     * (each runs only where its try is granted, so its result is kept only if all are):
     * one round trip instead of two. The parts are kept to be sent again otherwise. */
    bool spec;
    struct buf spec_next;
    unsigned spec_nnext;
    uint32_t dispatch_no; /* part replies carry it: those of an abandoned dispatch are dropped */
    uint32_t lock_round;   /* echoed by LOCK replies; stale ones are ignored */

    /* A command run by rt_txn_command that spans shards runs as a child: it takes no
     * locks of its own (the root holds them) and its reply becomes parent's part. */
    struct rt_txn *parent;
    uint64_t parent_id;
    unsigned parent_part;
    uint64_t locked_shards; /* where this txn's parts run under the root's locks */

    /* Blocking (wait.c). */
    bool tried;            /* started by rt_call_block: the command already tried */
    bool wait_asked;       /* the step called rt_txn_wait */
    bool waiting;          /* registered, waiting for a wake */
    bool wake_queued;      /* woken: its step runs from wait_run */
    bool cancel_pending;   /* woken: cancel the registrations behind the next parts */
    enum rt_wake wake;
    uint32_t wait_gen;     /* registrations' generation: stale wakes are ignored */
    int64_t wait_deadline; /* 0: none */
    size_t heap_idx;       /* in the shard's deadline heap, SIZE_MAX when not */
    struct buf wait_keys;  /* records: uint32 shard, uint8 kind, uint32 len, key bytes */
    uint64_t wait_shards;  /* where registrations exist */
    struct buf woken_key;
    unsigned woken_shard;
};

/* ---- Shards ---- */
struct rt_shard {
    struct rt *rt;
    unsigned id, n;
    void *ctx;
    int listenfd, wakefd;
    const struct io_ops *io; /* the reactor (rt->io) */
    void *io_state;          /* the reactor's per-shard state, made on the shard's thread */
    int64_t now_ms; /* wall clock, refreshed once per loop iteration */

    struct rt_client **conns; /* by slot */
    uint32_t conns_cap;
    uint32_t *free_slots;
    uint32_t nfree;
    uint64_t next_conn_id;

    struct rt_client **dirty;
    size_t ndirty, dirty_cap;
    /* Connections whose held input can run again: (slot, id) pairs. */
    struct conn_ref {
        uint32_t slot;
        uint64_t id;
    } *resume;
    size_t nresume, resume_cap;

    struct lane lanes[RT_MAX_SHARDS];
    uint64_t lanes_cur;      /* targets with a batch being filled */
    uint64_t lanes_backlog;  /* targets with a non-empty backlog */
    uint64_t wake_targets;   /* targets sent to this iteration */
    size_t backlog_total;
    struct batch *pool;
    size_t npool;

    /* Intent locks on this shard's keys, and the work they hold back: per source
     * shard, the requests that arrived behind a lock, in order (a request from a
     * source whose queue is not empty queues too, so nothing overtakes); and the
     * local connections' commands waiting for a lock. */
    struct lockmgr *locks;
    struct held_queue {
        struct buf recs; /* req_hdr + argument block, as in a batch */
        size_t head;
    } held[RT_MAX_SHARDS];
    uint64_t held_mask; /* sources with a non-empty queue */
    struct held_local {
        uint32_t slot;
        uint64_t id, seq;
        const struct rt_cmd *cmd;
        int argc;
        rt_str *argv; /* one allocation: the array, then the bytes */
    } *held_local;
    size_t nheld_local, held_local_cap;
    bool hold_dirty; /* a lock was released: look at held work and queued requests */
    bool locked;     /* some lock is granted here: the fast path's one branch */
    bool *lock_modes; /* scratch for LOCK records */
    size_t lock_modes_cap;
    /* Local txns granted a queued lock: (slot, id, round), resumed from the loop. */
    struct lock_ready {
        uint32_t slot;
        uint64_t id;
        uint32_t round;
    } *lock_ready;
    size_t nlock_ready, lock_ready_cap;

    struct wait_state *wait; /* blocking: waiters on this shard's keys, deadlines (wait.c) */

    struct rt_txn **txns;
    uint32_t txns_cap;
    uint32_t *free_txns;
    uint32_t nfree_txns;
    uint64_t next_txn_id;

    /* The window of parsed commands of conn_process. */
    struct window_cmd {
        size_t start;               /* input offset where the command began */
        size_t arg0, nargs;         /* its arguments in win_argv */
        const struct rt_cmd *cmd;   /* resolved; NULL: resolve again to get the error */
    } win[RT_WINDOW];
    /* Arguments of the window's commands. They point into the connection's input,
     * which does not move while the window runs (nothing is read meanwhile). */
    rt_str *win_argv;
    size_t win_argv_cap;

    struct rt_shard_stats stats;
    struct buf errbuf;
    struct buf discard; /* replies nobody reads (rt_post) */
    rt_str *argv;
    size_t argv_cap;
    uint64_t last_tick_ns;
    pthread_t thread;
    /* Stopping (loop.c stop_drained). */
    uint64_t stop_since_ns;
    bool drained;
};

struct padded_word {
    alignas(RT_CACHE_LINE) _Atomic uint64_t v;
};
struct padded_flag {
    alignas(RT_CACHE_LINE) _Atomic int v;
};

struct rt {
    struct rt_options opt; /* mutable fields are read and written with atomics */
    const struct rt_commands *cmds;
    unsigned n;
    struct rt_shard *shards[RT_MAX_SHARDS];
    struct ring *rings[RT_MAX_SHARDS][RT_MAX_SHARDS]; /* [from][to] */
    struct padded_word inbound[RT_MAX_SHARDS];       /* bit s: ring from s has work */
    struct padded_flag parked[RT_MAX_SHARDS];
    _Atomic int stop;
    _Atomic unsigned drained; /* shards stopping with nothing of theirs in flight */
    /* Start-up: no shard serves before every shard's shard_init returned (a command set
     * loads its data there). */
    pthread_mutex_t init_mu;
    pthread_cond_t init_cv;
    unsigned ninit;
    _Atomic uint64_t clients; /* connected, all shards (maxclients) */
    /* output.c: output buffer limits by class: hard, soft, soft seconds, and the trip
     * (the smallest non-zero of hard and soft, UINT64_MAX when none) past which a
     * client's output is looked at. Defaults set by rt_create (out_limits_init). */
    alignas(RT_CACHE_LINE) _Atomic uint64_t out_limits[RT_CLASS_COUNT][4];
    int64_t start_ms;
    const struct io_ops *io;
    unsigned cpus; /* CPUs the process may run on when it started (its affinity mask) */
    _Atomic int failed; /* a shard could not start: rt_run returns -1 */
};

/* Mutable options, read on any thread. */
#define OPT_LOAD(rt, field) __atomic_load_n(&(rt)->opt.field, __ATOMIC_RELAXED)
#define OPT_STORE(rt, field, v) __atomic_store_n(&(rt)->opt.field, (v), __ATOMIC_RELAXED)

/* net.c */
int net_listen(const char *bind, int port, char *err, size_t errlen);
void net_describe(int fd, bool peer, char *out, size_t len);

#include "rt/io.h" /* the reactors */

/* conn.c */
/* A socket was accepted: admit it (maxclients) as a connection of this shard. */
void conn_admit(struct rt_shard *sh, int fd);
/* got bytes were appended to c->in, or the peer closed (c->eof): run what arrived. */
void conn_received(struct rt_shard *sh, struct rt_client *c, size_t got);
/* After a write attempt: close once everything is out and the connection is ending, or
 * apply the output limits while it stays behind. Returns false when it closed. */
bool conn_written(struct rt_shard *sh, struct rt_client *c);
void conn_mark_dirty(struct rt_shard *sh, struct rt_client *c);
void conn_flush_dirty(struct rt_shard *sh);
void conn_close(struct rt_shard *sh, struct rt_client *c);
struct rt_client *conn_find(struct rt_shard *sh, uint32_t slot, uint64_t id);
void conn_close_all(struct rt_shard *sh);
/* The connection's last multi-shard command finished: run its held input. */
void conn_resume(struct rt_shard *sh, struct rt_client *c);
void conn_run_resumed(struct rt_shard *sh);

/* input.c: parse and run the connection's input, a window of commands at a time. */
void conn_process(struct rt_shard *sh, struct rt_client *c);
/* A multi-shard or blocking command in flight, a blocking command forwarded, or a
 * command waiting for a lock: the connection's further input waits. */
static inline bool conn_waits(const struct rt_client *c)
{
    return c->txns || c->held || c->fwd_blocking;
}

/* output.c: the connection's output (bytes and referenced blocks) and its limits. */
struct iovec;
enum { OUT_TRIP = 3 };
static inline size_t outq_unsent(const struct outq *q)
{
    return q->buf.len - q->sent + q->ref_bytes;
}
static inline bool outq_has_unsent(const struct outq *q)
{
    return q->buf.len > q->sent || q->head < q->n;
}
static inline size_t out_pending(const struct rt_client *c)
{
    return outq_unsent(&c->out) + c->inflight_bytes;
}
static inline bool out_has_unsent(const struct rt_client *c)
{
    return outq_has_unsent(&c->out);
}
/* The cheap test of every emit and push: whether the limits must be looked at. */
static inline bool out_tripped(const struct rt_shard *sh, const struct rt_client *c)
{
    return out_pending(c) >=
           atomic_load_explicit(&sh->rt->out_limits[c->out_class][OUT_TRIP], memory_order_relaxed);
}
/* The unsent output the limits count (CLIENT LIST omem): past the first 16 KB. */
size_t out_counted(const struct rt_client *c);
/* Apply the class's limits now (after out_tripped, and after a write attempt): a client
 * past them is scheduled to close, its output dropped. Returns whether it was. */
bool out_check_limits(struct rt_shard *sh, struct rt_client *c);
/* Reference a block (non-empty) at the current end of the output; takes a reference. */
void out_add_block(struct rt_client *c, struct rt_block *b);
/* Fill iov with the unsent bytes of q, from the next one; returns the count (<= max). */
int outq_iov(const struct outq *q, struct iovec *iov, int max);
/* n more bytes of q were written: advance, releasing blocks fully written. Resets q
 * once everything is out. */
void outq_advance(struct outq *q, size_t n);
/* Drop q's unsent bytes and block references; free its memory too when `release`. */
void outq_clear(struct outq *q, bool release);
/* Drop every unsent byte and block reference (closing, limits). */
void out_discard(struct rt_client *c);
/* The reply being written straight into the output is whole: pushes held meanwhile
 * follow it. */
void out_release_pushes(struct rt_shard *sh, struct rt_client *c);
/* The connection closes: free its output, leave its class's count. */
void out_release(struct rt_shard *sh, struct rt_client *c);
/* Set the limits' defaults, before any shard runs. */
void out_limits_init(struct rt *rt);

/* dispatch.c: running commands and ordering their replies. */
void dispatch_command(struct rt_shard *sh, struct rt_client *c, int argc, const rt_str *argv);
/* The same, for a command already resolved (cmd != NULL). */
void dispatch_resolved(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd,
                       int argc, const rt_str *argv);
/* The shard owning every key of a command: this shard for a command without keys,
 * -1 when the keys span shards. */
int keys_shard(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv);
/* Take a seq for a command whose reply comes later; returns it. */
uint64_t reply_reserve(struct rt_client *c);
/* Deliver the reply of seq (copies bytes); emits every leading finished reply. */
void reply_complete(struct rt_shard *sh, struct rt_client *c, uint64_t seq, const char *p,
                    size_t len);
void reply_free_all(struct rt_client *c);
void exec_call(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv,
               int proto, struct buf *out, struct rt_client *client);
/* The same for a client's top-level command, which may block (RT_CMD_BLOCKING); returns
 * whether it called rt_call_block (then it wrote nothing). */
bool exec_top(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv,
              int proto, struct buf *out, struct rt_client *client);

/* lane.c: messages between shards. */
struct batch *lane_batch(struct rt_shard *sh, unsigned target);
void lane_send(struct rt_shard *sh, unsigned target, struct batch *b);
void lane_flush(struct rt_shard *sh);
bool lane_drain(struct rt_shard *sh);
void lane_wake(struct rt_shard *sh);
void lane_free_all(struct rt_shard *sh);
void batch_add_request(struct batch *b, const struct req_hdr *h, int argc, const rt_str *argv);
/* The batch that carries replies to `target` produced outside a request batch. */
struct batch *lane_reply_batch(struct rt_shard *sh, unsigned target);
/* Append one reply record (h with len set to `len`, then the bytes) to rep. */
void rep_append(struct buf *rep, const struct rep_hdr *h, const char *p, size_t len);
/* Decode the argument block of a request into sh->argv; returns it. */
rt_str *request_args(struct rt_shard *sh, const struct req_hdr *h, const char *block);
/* Run one request from `src` now, appending its reply record (if it has one) to rep. */
void request_run(struct rt_shard *sh, unsigned src, const struct req_hdr *h, const rt_str *argv,
                 struct buf *rep);

/* hold.c: intent locks on this shard and the work they hold back. */
void hold_init(struct rt_shard *sh);
void hold_free_all(struct rt_shard *sh);
/* A request from src arrived: run it, or queue it behind a lock or behind earlier
 * held requests from src. Replies of requests run now go to rep. */
void hold_request(struct rt_shard *sh, unsigned src, const struct req_hdr *h,
                  const char *block, rt_str *argv, struct buf *rep);
/* Whether a command on this shard must wait for a lock (its keys conflict). */
bool hold_blocks(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv);
/* Hold a local connection's command until its keys are free. */
void hold_local(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                const rt_str *argv);
/* LOCK and UNLOCK records (from src, or from this shard itself). */
enum lock_result hold_lock(struct rt_shard *sh, unsigned src, const struct req_hdr *h,
                           int argc, const rt_str *argv, struct buf *rep);
void hold_unlock(struct rt_shard *sh, unsigned origin, uint32_t slot, uint64_t id);
/* After releases: run held work whose keys are free, grant queued locks. */
void hold_pass(struct rt_shard *sh);

/* txn.c */
void txn_start(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd, int argc,
               const rt_str *argv);
void txn_part_reply(struct rt_shard *sh, const struct rep_hdr *h, const char *p);
struct rt_txn *txn_find(struct rt_shard *sh, uint32_t slot, uint64_t id);
/* Send the parts queued by the last step, and go on until the txn waits or ends. */
void txn_run(struct rt_shard *sh, struct rt_txn *t);
/* Release the locks, hand a child's reply to its parent, free. */
void txn_end(struct rt_shard *sh, struct rt_txn *t);
/* Go on with a transaction whose speculative parts were kept: step once all replied. */
void txn_spec_kept(struct rt_shard *sh, struct rt_txn *t);
/* Put back the parts of an abandoned speculative dispatch, to be sent again. */
void txn_spec_undo(struct rt_txn *t);

/* txn_lock.c */
/* Declare the key-spec keys of a multi-shard RT_ROUTE_KEYS command. */
void txn_declare_keys(struct rt_txn *t);
/* Ask for the declared locks; true when all are held now, else txn_run resumes. With
 * t->spec the try requests go out first and the caller sends the parts behind them. */
bool txn_lock_begin(struct rt_shard *sh, struct rt_txn *t);
void txn_lock_release(struct rt_shard *sh, struct rt_txn *t);
/* A LOCK reply (granted 'G' or denied 'D') for one of this shard's txns. */
void txn_lock_reply(struct rt_shard *sh, uint32_t slot, uint64_t id, uint32_t round,
                    unsigned from, bool granted);
void txn_run_lock_ready(struct rt_shard *sh);
void txn_free_all(struct rt_shard *sh);

/* wait.c: blocking commands (DESIGN.md section 9). */
void wait_init(struct rt_shard *sh);
void wait_free_all(struct rt_shard *sh);
/* The step asked to wait: register at every owner. */
void wait_begin(struct rt_shard *sh, struct rt_txn *t);
/* Cancel every registration of t (UNWAIT behind whatever t sent before). */
void wait_cancel(struct rt_shard *sh, struct rt_txn *t);
/* REC_WAIT, REC_UNWAIT, REC_WAKE from src (or this shard). */
void wait_request(struct rt_shard *sh, unsigned src, const struct req_hdr *h, const rt_str *argv);
/* Ready keys, wakes and timeouts: run what is due. Cheap when there is nothing. */
void wait_run(struct rt_shard *sh);
bool wait_busy(const struct rt_shard *sh);
/* Milliseconds until the earliest deadline (INT64_MAX when none). */
int64_t wait_next_deadline_ms(const struct rt_shard *sh);
/* A connection with a blocking transaction closes. */
void wait_client_gone(struct rt_shard *sh, struct rt_client *c);
/* Start a blocking command that found nothing as a waiting transaction. */
/* Step a transaction woken from a wait (its next phase, no parts). */
void txn_run_woken(struct rt_shard *sh, struct rt_txn *t);
void txn_start_blocked(struct rt_shard *sh, struct rt_client *c, uint64_t seq,
                       const struct rt_cmd *cmd, int argc, const rt_str *argv);

/* loop.c */
void *shard_main(void *arg);

#endif
