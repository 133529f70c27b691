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

/* ---- Clients (only on their origin shard) ---- */
/* Globally unique, never reused: (per-shard counter << 6) | shard. */
uint64_t rt_client_id(const struct rt_client *c);
int rt_client_proto(const struct rt_client *c);
void rt_client_set_proto(struct rt_client *c, int proto);
const char *rt_client_name(const struct rt_client *c); /* "" when unset */
void rt_client_set_name(struct rt_client *c, const char *name, size_t len);
/* One line of CLIENT LIST for this client, without the trailing newline. flags: the
 * command set's flag letters ("N" when NULL or empty); multi: the commands queued in a
 * MULTI, or -1 outside one. */
void rt_client_describe(const struct rt_client *c, const char *flags, long long multi,
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

#endif
