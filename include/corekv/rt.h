/* corekv runtime: a thread-per-core, shared-nothing server for RESP command sets.
 *
 * The runtime owns threads (one per shard), sockets, the rings between shards,
 * request parsing, reply ordering and the routing of work between shards. It knows
 * nothing of any command: a command set plugs in through struct rt_commands, and
 * describes each command it resolves with a struct rt_cmd (where its keys are, how
 * to execute it on one shard, and how to split it when its keys span shards).
 *
 * Threading contract for a command set:
 * - shard_init, resolve, exec, step and tick are called on a shard's own thread;
 *   the void *shard context returned by shard_init is only ever touched by that
 *   shard, so it needs no locking.
 * - exec runs on the shard that owns every key the call touches.
 */
#ifndef COREKV_RT_H
#define COREKV_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>

#define RT_MAX_SHARDS 64

/* One argument: bytes that stay valid for the duration of the call. */
typedef struct rt_str {
    const char *ptr;
    size_t len;
} rt_str;

struct rt;        /* the whole runtime */
struct rt_shard;  /* one shard: a thread, its loop, its connections */
struct rt_client; /* one connection, only reachable on its origin shard */
struct rt_txn;    /* one multi-shard command in progress, on its origin shard */

enum rt_route {
    /* No keys: runs on the connection's own shard, with access to the client. */
    RT_ROUTE_ORIGIN,
    /* Keys given by the key spec. All on one shard: exec runs there (inline when that
     * is the origin). On several shards: the command's step() splits and reduces. */
    RT_ROUTE_KEYS,
    /* The command's step() decides which shards take part (fan-out to all shards,
     * a cursor naming its shard, ...). */
    RT_ROUTE_PLAN,
};

/* Which arguments are keys, as Redis's COMMAND INFO: first, last (negative counts
 * from the end: -1 is the last argument), step. first == 0: no keys in that range.
 * numkeys > 0 adds Redis's "keynum" form: argv[numkeys] holds a count N and the N
 * arguments after it are keys too (SINTERCARD, LMPOP, ZUNIONSTORE's sources after its
 * destination). A count that is not an integer in 1 .. (arguments left) yields no keys
 * from that form, so the command's exec must check the count before touching a key
 * (it then runs on the origin shard). */
struct rt_keyspec {
    int16_t first, last, step;
    int16_t numkeys;
};

/* Walking a command's key arguments: the range first, then the keynum form. */
struct rt_cmd;
struct rt_keyiter {
    int i, last, step;    /* the range: next position, last position, step */
    int kn_next, kn_end;  /* the keynum form: next position, one past the last */
};
void rt_keys_begin(struct rt_keyiter *it, const struct rt_cmd *cmd, int argc,
                   const rt_str *argv);
/* The position in argv of the next key, or -1 after the last. */
int rt_keys_next(struct rt_keyiter *it);

enum {
    RT_CMD_WRITE = 1u << 0,    /* changes keys */
    RT_CMD_QUIT = 1u << 1,     /* after its reply, the connection reads nothing more and closes */
    RT_CMD_INTERNAL = 1u << 2, /* only runs as a part of a multi-shard step, never from a client */
    /* May wait for its keys (BLPOP...): its exec may call rt_call_block, and while it is
     * forwarded to another shard its connection reads nothing more. It needs a step. */
    RT_CMD_BLOCKING = 1u << 3,
};

struct rt_call;

/* A command, as resolved by the command set. Usually a static table entry. */
struct rt_cmd {
    const char *name; /* lower case; shown by CLIENT LIST as the last command */
    enum rt_route route;
    struct rt_keyspec keys;
    uint32_t flags;
    /* Execute on one shard: write exactly one RESP reply into call->out. */
    void (*exec)(struct rt_call *call);
    /* Multi-shard orchestration, on the origin shard. Called with phase 0 first, then
     * with phase p once every part queued in phase p-1 has replied. It either queues
     * parts (rt_txn_part) for the next phase or finishes (rt_txn_finish). NULL for a
     * command that cannot span shards (its keys must then share one shard, see below).
     * While it runs, its connection runs no further command: the next one starts
     * after rt_txn_finish. */
    void (*step)(struct rt_txn *t, unsigned phase);
    /* The command set's own data (its table entry, say); the runtime never reads it. */
    const void *data;
};

/* The context of one execution. */
struct rt_call {
    void *shard;                 /* the command set's per-shard context */
    struct rt_shard *rt_shard;   /* the shard executing the call */
    const struct rt_cmd *cmd;
    const rt_str *argv;
    int argc;
    int proto;                   /* 2 or 3: the reply protocol */
    struct buf *out;             /* append exactly one reply here */
    /* The calling connection when the call runs on its origin shard (always so for
     * RT_ROUTE_ORIGIN); NULL when executed on behalf of another shard. */
    struct rt_client *client;
    /* A client's own command, run at top level (not a part, not inside EXEC): an
     * RT_CMD_BLOCKING exec may call rt_call_block only when this is true. */
    bool can_block;
    bool blocked; /* set by rt_call_block */
};

enum { RT_RESOLVE_INTERNAL = 1 }; /* allow RT_CMD_INTERNAL commands */

struct rt_commands {
    /* On each shard's thread, before it serves: returns the per-shard context. */
    void *(*shard_init)(struct rt_shard *sh);
    void (*shard_fini)(void *shard);
    /* Look a command up. Returns NULL after writing an error reply into err (unknown
     * command, wrong number of arguments, ...). Called once per command. */
    const struct rt_cmd *(*resolve)(void *shard, const rt_str *argv, int argc, int flags,
                                    struct buf *err);
    /* Periodic housekeeping on each shard, about hz times a second. */
    void (*tick)(void *shard);
    /* Cheap work before a batch of commands runs (a clock refresh, say). May be NULL. */
    void (*before_batch)(void *shard);
    /* Warm the caches for a key a pipelined command is about to look up on this shard,
     * so the lookups of a batch overlap their cache misses. Called for every key of a
     * batch with stage 0, then again with stage 1 (a table can prefetch its bucket at
     * stage 0 and the entry the bucket points to at stage 1). May be NULL. */
    void (*prefetch)(void *shard, const char *key, size_t len, int stage);
    /* A connection is closing, on its origin shard: release what the command set keeps
     * for it (rt_client_data). May be NULL. */
    void (*client_close)(void *shard, struct rt_client *c);
    /* For a client that asked for it (rt_client_set_intercept), called on its origin
     * for every command after resolve and before routing: return true when the command
     * was handled here (exactly one reply appended to out), false to route it as
     * usual. cmd == NULL: resolve failed; its error is replied as usual whatever this
     * returns (MULTI uses this to queue commands and to remember queueing errors). */
    bool (*intercept)(void *shard, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                      const rt_str *argv, struct buf *out);
    /* Blocking (see rt_txn_wait): whether `key` could serve a waiter of `kind` now (a
     * non-empty list, say). Must not change anything. May be NULL when no command
     * waits. */
    bool (*key_ready)(void *shard, const char *key, size_t len, unsigned kind);
    /* Once per loop iteration, after the iteration's commands ran and before any reply
     * leaves the shard (to a socket or to another shard): the place to make durable what
     * those replies acknowledge (an append-only log's group commit). Returns true while
     * the command set has background work left (a snapshot being written, say): the
     * shard then keeps iterating instead of parking. May be NULL. */
    bool (*before_flush)(void *shard);
};

enum rt_io { RT_IO_AUTO, RT_IO_EPOLL, RT_IO_URING };

struct rt_options {
    const char *bind;            /* address to listen on */
    int port;
    unsigned nshards;            /* 1..RT_MAX_SHARDS */
    bool pin;                    /* pin shard i to CPU i % ncpu */
    enum rt_io io;
    unsigned hz;                 /* ticks per second, 1..500 */
    unsigned spin_us;            /* busy-poll time before parking; 0 parks at once */
    uint64_t proto_max_bulk_len; /* largest bulk argument */
    uint64_t query_buffer_limit; /* largest unparsed input per client */
    unsigned maxclients;
};

/* Defaults as Redis has them (512 MiB bulk, 1 GiB query buffer, 10000 clients). */
void rt_options_default(struct rt_options *o);

/* Create the runtime: binds every shard's listener, so a bind error is reported here.
 * Returns NULL with a message in err on failure. */
struct rt *rt_create(const struct rt_options *o, const struct rt_commands *cmds,
                     char *err, size_t errlen);
/* Run until rt_stop; returns 0 on a clean stop. */
int rt_run(struct rt *rt);
/* Ask every shard to stop (async-signal-safe). */
void rt_stop(struct rt *rt);
void rt_destroy(struct rt *rt);

/* ---- Shards ---- */
unsigned rt_shard_id(const struct rt_shard *sh);
unsigned rt_nshards(const struct rt_shard *sh);
struct rt *rt_of(const struct rt_shard *sh);
void *rt_shard_ctx(const struct rt_shard *sh);
/* Wall-clock Unix milliseconds, read once per loop iteration: the "now" of every
 * command of the current batch. */
int64_t rt_shard_now_ms(const struct rt_shard *sh);
/* Redis Cluster slot of a key (CRC16 of its hash tag, & 16383). */
unsigned rt_key_slot(const char *key, size_t len);
/* The shard that owns a key: (slot * nshards) >> 14. */
unsigned rt_key_shard(const struct rt_shard *sh, const char *key, size_t len);

/* Counters of one shard, for INFO. Read and written by its own thread only. */
struct rt_shard_stats {
    uint64_t connections_received;
    uint64_t connected_clients;
    uint64_t rejected_connections;
    uint64_t commands_processed;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t forwarded_out;      /* commands sent to another shard */
    uint64_t parts_executed;     /* multi-shard parts run for other shards */
    uint64_t blocked_clients;    /* connections waiting in a blocking command */
    uint64_t pubsub_clients;     /* connections in the pubsub class */
};
const struct rt_shard_stats *rt_shard_stats(const struct rt_shard *sh);

/* Live runtime settings, shared by all shards (CONFIG GET/SET): a consistent copy of
 * the current values. Setters validate and return false for an out-of-range value. */
void rt_options_get(const struct rt *rt, struct rt_options *out);
bool rt_set_hz(struct rt *rt, unsigned hz);
bool rt_set_proto_max_bulk_len(struct rt *rt, uint64_t v);
bool rt_set_query_buffer_limit(struct rt *rt, uint64_t v);
bool rt_set_maxclients(struct rt *rt, unsigned v);
/* Seconds since the runtime started. */
uint64_t rt_uptime_s(const struct rt *rt);
/* Which reactor serves ("epoll" or "io_uring"). */
const char *rt_io_name(const struct rt *rt);
/* Whether this machine's kernel lets the io_uring reactor run (what --io auto decides
 * with); when not, why is written to `why`. */
bool rt_io_uring_available(char *why, size_t len);

/* ---- Clients (only on their origin shard) ---- */
/* Globally unique, never reused: (per-shard counter << 6) | shard. */
uint64_t rt_client_id(const struct rt_client *c);
int rt_client_proto(const struct rt_client *c);
void rt_client_set_proto(struct rt_client *c, int proto);
const char *rt_client_name(const struct rt_client *c); /* "" when unset */
void rt_client_set_name(struct rt_client *c, const char *name, size_t len);
/* One line of CLIENT LIST for this client, without the trailing newline, with the
 * command set's part of it. */
struct rt_client_info {
    const char *flags; /* the command set's flag letters; "N" when NULL or empty */
    long long multi;   /* commands queued in a MULTI, or -1 outside one */
    unsigned sub, psub, ssub; /* pub/sub subscriptions */
};
void rt_client_describe(const struct rt_client *c, const struct rt_client_info *info,
                        struct buf *out);
/* The command set's own per-connection data (NULL until set); freed by the command
 * set in client_close. */
void *rt_client_data(const struct rt_client *c);
void rt_client_set_data(struct rt_client *c, void *data);
/* Route every further command of this client through rt_commands.intercept. */
void rt_client_set_intercept(struct rt_client *c, bool on);
/* Call fn for every client whose origin is this shard. */
void rt_shard_foreach_client(struct rt_shard *sh, void (*fn)(struct rt_client *, void *),
                             void *arg);

/* ---- Multi-shard commands (inside step) ---- */
const rt_str *rt_txn_argv(const struct rt_txn *t, int *argc);
int rt_txn_proto(const struct rt_txn *t);
struct rt_shard *rt_txn_shard(const struct rt_txn *t); /* the origin shard */
/* Queue a part for the next phase: argv runs on `shard` (the command is resolved
 * there with RT_RESOLVE_INTERNAL) and replies in RESP2. The argv is copied.
 * Returns the part's index within its phase, from 0. */
unsigned rt_txn_part(struct rt_txn *t, unsigned shard, int argc, const rt_str *argv);
/* The reply of part i of the phase that just ended (valid during step). */
rt_str rt_txn_result(const struct rt_txn *t, unsigned part);
unsigned rt_txn_nresults(const struct rt_txn *t);
/* Scratch state the command keeps across phases: a zeroed block of `size` bytes,
 * allocated on first call and freed with the transaction. */
void *rt_txn_state(struct rt_txn *t, size_t size);
/* Called with the state block just before it is freed with the transaction (a step
 * that keeps pointers to its own allocations there frees them here). */
void rt_txn_on_free(struct rt_txn *t, void (*fn)(void *state));
/* Finish: `reply` is the command's whole RESP reply (copied). */
void rt_txn_finish(struct rt_txn *t, const char *reply, size_t len);
/* The buffer a step may build its reply in before rt_txn_finish (empty at each step). */
struct buf *rt_txn_scratch(struct rt_txn *t);
/* The transaction's connection while it is still connected, else NULL. */
struct rt_client *rt_txn_client(const struct rt_txn *t);

/* Isolation (DESIGN.md section 7). Before the parts of phase 0 run, the runtime takes
 * intent locks on every key the transaction declared, at each owning shard in
 * ascending shard order (shared for reads, exclusive for writes); it releases them
 * when the transaction finishes. Meanwhile each owner holds back every other command
 * on those keys, so no other client sees a partial result. A multi-shard
 * RT_ROUTE_KEYS command has the keys of its key spec declared for it (exclusive when
 * it has RT_CMD_WRITE). Other steps declare in phase 0, before queueing parts. Locks
 * that all fall on the origin shard cost no message. A multi-shard RT_ROUTE_KEYS
 * command without RT_CMD_WRITE must queue in phase 0 only parts without side effects:
 * they travel right behind its lock requests and their results are dropped (and the
 * parts sent again) when a lock could not be granted at once. */
void rt_txn_lock_key(struct rt_txn *t, const char *key, size_t len, bool exclusive);
/* Lock every key of a shard (FLUSHALL, a transaction holding a keyspace command). */
void rt_txn_lock_shard(struct rt_txn *t, unsigned shard);
/* Queue a client command (already resolved and checked) as a part of the next phase,
 * to run under this transaction's locks, which must cover every key it touches. It is
 * routed as the runtime routes a client's command: RT_ROUTE_ORIGIN runs on the origin
 * with the connection (client NULL if it left), keys on one shard run there, and a
 * command spanning shards (or RT_ROUTE_PLAN) runs its own steps. Its reply, in the
 * transaction's protocol, is the part's result. Parts of one phase on one shard run in
 * the order queued, back to back; a command spanning shards should have a phase of its
 * own when its order relative to the others matters. */
unsigned rt_txn_command(struct rt_txn *t, const struct rt_cmd *cmd, int argc,
                        const rt_str *argv);

/* Run an internal command (resolved with RT_RESOLVE_INTERNAL) on `shard`, after
 * everything this shard sent there before, discarding its reply. On this shard it
 * runs at once. For clean-ups that need no answer (a closing client's WATCHes). */
void rt_post(struct rt_shard *sh, unsigned shard, int argc, const rt_str *argv);
/* Whether any intent lock is held on this shard (housekeeping such as active expiry
 * waits while one is). */
bool rt_shard_locked(const struct rt_shard *sh);


/* ---- Out-of-band output: pub/sub messages, RESP3 pushes ----
 * Bytes pushed to a connection go out after everything it has already been sent and
 * ahead of replies still pending (as Redis interleaves messages between replies). */
void rt_client_push(struct rt_shard *sh, struct rt_client *c, const char *p, size_t len);

/* An immutable, reference-counted byte block, owned by one shard (its count is not
 * atomic: never hand a block to another thread). */
struct rt_block;
struct rt_block *rt_block_new(const void *p, size_t len);
void rt_block_ref(struct rt_block *b);
void rt_block_unref(struct rt_block *b);
size_t rt_block_len(const struct rt_block *b);
const char *rt_block_data(const struct rt_block *b);
/* Push a block's bytes by reference: written straight from the block (writev), which
 * stays alive until then. For large message bodies shared by many subscribers. */
void rt_client_push_block(struct rt_shard *sh, struct rt_client *c, struct rt_block *b);

/* Append a block's bytes to a reply being written into `out` (an exec's call->out, with
 * call->client as c). When the reply goes straight into the connection's output (the
 * command runs inline, in order) and the block is big, the output references the block
 * instead of copying it: writev sends it from there, and the reply holds a reference
 * until its last byte is written, so the caller may drop, replace or change its own
 * (copying first: bytes of a block with other holders never change). Otherwise the
 * bytes are copied. The caller writes the framing around it (a bulk's "$<len>\r\n"
 * before, "\r\n" after). */
void rt_reply_block(struct rt_client *c, struct buf *out, struct rt_block *b);

/* Output buffer limits by client class, as Redis's client-output-buffer-limit: past
 * `hard` bytes of unsent output, or past `soft` for `soft_seconds` in a row, the
 * connection is closed (0 disables a limit). Defaults: normal 0 0 0, pubsub 32mb 8mb 60. */
enum rt_client_class { RT_CLASS_NORMAL, RT_CLASS_PUBSUB, RT_CLASS_COUNT };
struct rt_output_limit {
    uint64_t hard, soft;
    uint64_t soft_seconds;
};
void rt_set_output_limit(struct rt *rt, enum rt_client_class cls, const struct rt_output_limit *l);
void rt_get_output_limit(const struct rt *rt, enum rt_client_class cls, struct rt_output_limit *l);
void rt_client_set_class(struct rt_client *c, enum rt_client_class cls);

/* Close a connection of this shard (CLIENT KILL): at once, or after its pending
 * replies when it is the caller itself (its reply to the kill must reach it first). */
void rt_client_kill(struct rt_shard *sh, struct rt_client *c);
/* A connection of this shard by id, or NULL. */
struct rt_client *rt_shard_client(struct rt_shard *sh, uint64_t id);
/* The shard a client id belongs to. */
static inline unsigned rt_client_id_shard(uint64_t id) { return (unsigned)(id & 63); }

/* ---- Blocking commands (DESIGN.md section 9) ----
 * A blocking command has RT_CMD_BLOCKING and a step. Its exec, when its keys are on one
 * shard and it runs at top level (call->can_block), tries without blocking; finding
 * nothing, it calls rt_call_block and writes no reply: the runtime then starts the
 * command as a transaction on the connection's origin shard, and its step's phase 0
 * sees rt_txn_tried(t) true (no need to try again). With keys on several shards, the
 * step runs from phase 0 with rt_txn_tried false and tries through parts.
 *
 * To wait, a step names each key (rt_txn_wait_key: the key and the kind of value that
 * serves it), calls rt_txn_wait and returns without parts. Each owner puts the waiter
 * at the back of that key's FIFO and checks at once whether the key is ready
 * (rt_commands.key_ready). Whenever a key with waiters is written (rt_key_written, from
 * the command set's post-write hook) and no waiter of that key is being served, the
 * owner signals the first waiter whose kind the key can serve. Owners never pop: the
 * signal wakes the origin, which decides. A key locked by a multi-shard transaction is
 * not signalled before the lock is released (a push inside EXEC wakes after it commits).
 *
 * The step is then called again (next phase) and rt_txn_wake says why:
 *  RT_WAKE_KEY: a key is ready (rt_txn_woken_key: which, on which shard). The step
 *    queues the parts that serve it, or waits again.
 *  RT_WAKE_TIMEOUT: the deadline passed, or CLIENT UNBLOCK ... TIMEOUT.
 *  RT_WAKE_ERROR: CLIENT UNBLOCK ... ERROR.
 *  RT_WAKE_GONE: the connection closed: finish (the reply goes nowhere) after putting
 *    back anything already taken.
 * After the step of a woken phase returns, every registration is cancelled on each
 * owner, behind the parts that step queued (lanes keep order): the serving pop runs
 * before the next waiter of that key can be signalled, so one element is never offered
 * to two waiters. A step that waits again registers afresh at the back of each FIFO.
 * A served step whose client has gone or is leaving (rt_txn_client NULL, or
 * rt_client_leaving) must put back what it took: a reply written to a closed socket is
 * an element lost.
 */
enum rt_wake { RT_WAKE_NONE, RT_WAKE_KEY, RT_WAKE_TIMEOUT, RT_WAKE_ERROR, RT_WAKE_GONE };
void rt_call_block(struct rt_call *call);
bool rt_txn_tried(const struct rt_txn *t);
/* False for a command run inside a transaction (EXEC): it must not wait, and replies
 * as on a timeout. */
bool rt_txn_can_wait(const struct rt_txn *t);
void rt_txn_wait_key(struct rt_txn *t, const char *key, size_t len, unsigned kind);
/* deadline: wall-clock Unix milliseconds (as rt_shard_now_ms); 0 waits forever. */
void rt_txn_wait(struct rt_txn *t, int64_t deadline_ms);
enum rt_wake rt_txn_wake(const struct rt_txn *t);
rt_str rt_txn_woken_key(const struct rt_txn *t, unsigned *shard);
/* The post-write hook's part: a key of this shard changed. Cheap when nobody waits. */
void rt_key_written(struct rt_shard *sh, const char *key, size_t len);
/* On the client's shard: wake a blocked client as CLIENT UNBLOCK does (why is
 * RT_WAKE_TIMEOUT or RT_WAKE_ERROR). False when it is not waiting. */
bool rt_client_unblock(struct rt_shard *sh, struct rt_client *c, enum rt_wake why);
/* Whether the connection is closing or its peer closed (nothing sent to it may arrive). */
bool rt_client_leaving(const struct rt_client *c);
/* Whether the connection waits in a blocking command (CLIENT LIST flag b). */
bool rt_client_blocked(const struct rt_client *c);

#endif
