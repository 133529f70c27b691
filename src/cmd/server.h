/* Shared by the server and connection commands (server.c, client.c, command.c,
 * config.c, info.c) and the command table (table.c). Not part of the family contract
 * in cmd.h: other families need none of this. */
#ifndef COREKV_CMD_SERVER_H
#define COREKV_CMD_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

/* The Redis version corekv answers as (HELLO, INFO). */
#define CMD_REDIS_VERSION "7.2.4"

/* Counters INFO reports that CONFIG RESETSTAT sets back to zero. The runtime and the
 * store only count up, so a reset records a baseline that INFO subtracts. */
struct cmd_counters {
    uint64_t connections_received;
    uint64_t rejected_connections;
    uint64_t commands_processed;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t expired_keys;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t forwarded_out;
    uint64_t parts_executed;
};

#define CMD_RATE_SAMPLES 16

/* One sample of the counters behind INFO's instantaneous_* rates. */
struct cmd_rate_sample {
    uint64_t ns;
    uint64_t commands, net_in, net_out;
};

/* The per-shard context table.c allocates: the public struct first, so a
 * struct cmd_shard * from cmd_shard(call) converts back with cmd_ext(). */
struct cmd_shard_ext {
    struct cmd_shard cs;
    /* Taken by the tick; the rates are averages over the window they span (as Redis's
     * STATS_METRIC_* over its last 16 samples). */
    struct cmd_rate_sample rate[CMD_RATE_SAMPLES];
    unsigned rate_next, rate_filled;
    struct cmd_counters base;
};

static inline struct cmd_shard_ext *cmd_ext(struct cmd_shard *cs)
{
    return (struct cmd_shard_ext *)(void *)((char *)cs - offsetof(struct cmd_shard_ext, cs));
}

/* ---- Process-wide facts, fixed before any shard serves (table.c) ---- */
int64_t cmd_start_unix_s(void); /* LASTSAVE, rdb_last_save_time */
const char *cmd_run_id(void);   /* 40 hex digits, new each start */

/* struct rt_cmd initializers for the tables of these files. */
#define CMD_ORIGIN(fn) {.route = RT_ROUTE_ORIGIN, .exec = (fn)}
#define CMD_PLAN(fn, st) {.route = RT_ROUTE_PLAN, .exec = (fn), .step = (st)}
#define CMD_INTERNAL(fn) {.route = RT_ROUTE_ORIGIN, .flags = RT_CMD_INTERNAL, .exec = (fn)}

/* ---- Container commands (CLIENT, CONFIG, COMMAND) ----
 * As in Redis 7, a container's subcommands are definitions of their own, named
 * "parent|sub" (so arity errors and CLIENT LIST's cmd= read "config|get"), each with
 * its own route: CLIENT runs on the origin, but CLIENT LIST fans out to every shard.
 * resolve() picks the subcommand argv[1] names, or answers Redis's "unknown subcommand"
 * error; the tables end with name == NULL and are listed in table.c. */
extern const struct cmd_def cmd_client_subs[];
extern const struct cmd_def cmd_config_subs[];
extern const struct cmd_def cmd_command_subs[];
/* The subcommands of a definition (contiguous from *first), 0 when it has none. */
size_t cmd_subcommands(const struct cmd_def *parent, const struct cmd_def **first);
/* The exec of a container itself, reached only if resolve() did not pick a subcommand:
 * Redis's "ERR unknown subcommand 'x'. Try CLIENT HELP.". */
void cmd_container_exec(struct rt_call *call);
void cmd_reply_unknown_sub(struct buf *b, const rt_str *container, const rt_str *sub);
/* A HELP reply: an array of status lines, NULL-terminated. */
void cmd_reply_help(struct buf *b, const char *const *lines);
/* Redis's validation of client names and library attributes: bytes '!'..'~' only. */
int cmd_valid_client_attr(const char *p, size_t len);

/* ---- Handlers of cmd_server_table, by file ---- */
/* client.c */
void cmd_hello(struct rt_call *call);
void cmd_auth(struct rt_call *call);
void cmd_clientlist_part(struct rt_call *call);
/* command.c: COMMAND with no subcommand */
void cmd_command(struct rt_call *call);
/* info.c */
void cmd_info_step(struct rt_txn *t, unsigned phase);
void cmd_info_part(struct rt_call *call);
void cmd_resetstat_part(struct rt_call *call);
/* Tick work of info.c: the rate samples, and the memory peak on shard 0. */
void cmd_stats_tick(struct cmd_shard_ext *x);

#endif
