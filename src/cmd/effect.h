/* Building the append-only log's effect records (cmd.h cmd_log_effect), for the execs
 * whose argv would not replay to the same result: a relative time, a random pick, a
 * result computed from the clock or from a client's wait.
 *
 * A record is a fixed head (the verb, the key, ...) followed by items (members,
 * elements). Records with many items are cut into several, each with the head and at
 * most EFFECT_BATCH items (as Redis propagates a big SPOP as several SREMs), so no
 * single record grows without bound. Nothing is built while the shard does not log
 * (cs->logging false: appendonly no, or replay). */
#ifndef COREKV_CMD_EFFECT_H
#define COREKV_CMD_EFFECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

#define EFFECT_BATCH 1024
#define EFFECT_HEAD_MAX 6

struct effect {
    struct cmd_shard *cs; /* NULL: not logging, every call is a no-op */
    int nhead, nitems;
    struct buf bytes;     /* every argument's bytes, back to back */
    size_t lens[EFFECT_HEAD_MAX + EFFECT_BATCH];
};

/* Start a record with its head (at most EFFECT_HEAD_MAX arguments). */
void effect_begin(struct effect *r, struct cmd_shard *cs, int nhead, const rt_str *head);
/* Add an item; a full record is appended to the log and a new one started. */
void effect_item(struct effect *r, const char *p, size_t len);
/* Append the pending record if it has items, and free the builder. */
void effect_end(struct effect *r);

/* One-shot records. */
void effect_log(struct cmd_shard *cs, int argc, const rt_str *argv);
void effect_log_key(struct cmd_shard *cs, const char *verb, const rt_str *key); /* "DEL k" */
void effect_log_pexpireat(struct cmd_shard *cs, const rt_str *key, int64_t when_ms);

static inline rt_str effect_word(const char *s) { return (rt_str){s, strlen(s)}; }

#endif
