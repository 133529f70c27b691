/* Persistence for the Redis command set (DESIGN.md section 10): each shard's append-only
 * log, snapshots (SAVE, BGSAVE, BGREWRITEAOF, save rules, automatic rewrite), loading at
 * start-up, and the settings that drive them.
 *
 * Files, per shard i of N (names from the settings):
 *   <dir>/<stem>-<i>.rdb                               snapshot (dbfilename "<stem>.rdb")
 *   <dir>/<appenddirname>/<appendfilename>.<i>.manifest the log's manifest (Redis 7 format),
 *     naming a base RDB and the incremental RESP logs written since it. */
#ifndef COREKV_CMD_PERSIST_H
#define COREKV_CMD_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/rt.h>

struct cmd_shard;
struct cmd_def;

/* ---- Settings: process-wide, read by every shard (persist_config.c) ---- */
/* Whether name is a persistence parameter of CONFIG. */
bool persist_config_has(const char *name);
/* NULL when v is a valid value for name, else Redis's reason text. */
const char *persist_config_check(const char *name, const char *v, size_t len);
/* Apply a checked value. */
void persist_config_set(const char *name, const char *v, size_t len);
void persist_config_get(const char *name, char *out, size_t n);

/* ---- Per shard, on its own thread ---- */
/* Load what the files hold into the shard's store, then open its log. A file that cannot
 * be loaded ends the process with a message naming it (Redis refuses to start). */
void persist_shard_init(struct cmd_shard *cs);
/* Stop: write and sync the log, and save a snapshot when SHUTDOWN (or SIGTERM with
 * save rules) asks for one. */
void persist_shard_fini(struct cmd_shard *cs);
/* rt_commands.before_flush: the group commit of the iteration's records, and a slice of
 * a snapshot in progress. True while a snapshot is being written. */
bool persist_before_flush(void *shard);
/* Save rules, automatic rewrite, settings changes, background completions. */
void persist_tick(struct cmd_shard *cs);

/* Records (cmd.h cmd_log_effect): only while cs->logging. */
void persist_log_argv(struct cmd_shard *cs, int argc, const rt_str *argv);
void persist_log_del(struct cmd_shard *cs, const char *key, size_t klen);

/* SHUTDOWN's choice for the snapshot at exit: -1 NOSAVE, 0 as the save rules say,
 * 1 SAVE. SIGTERM and SIGINT leave it at 0. */
void persist_set_shutdown_save(int mode);

/* INFO persistence, over every shard; dirty: the shards' changes since start, summed. */
void persist_info(struct buf *out, unsigned nshards, uint64_t dirty);
/* LASTSAVE: the time by which every shard had saved. */
long long persist_lastsave(unsigned nshards);

extern const struct cmd_def cmd_persist_table[];

#endif
