/* The blocking commands, internal to the src/cmd/blocking files:
 *
 *   blocking.c       the table; argument parsing (Redis 7.0's order of checks and error
 *                    texts); the execs, which try at once like the non-blocking forms and
 *                    ask to wait when they find nothing; key_ready; __bmove
 *   blocking_step.c  the step: tries across shards, waits, serves a wake-up, puts back
 *                    what a client that left can no longer receive
 *   client_kill.c    CLIENT KILL and CLIENT UNBLOCK across shards
 *
 * Serving reuses the commands themselves: a part "BLPOP key 0" on the woken key's owner
 * runs the exec there as a part (it cannot block), so it pops with the command's own
 * semantics and replies the element(s), or nil when the key was emptied meanwhile. */
#ifndef COREKV_CMD_BLOCKING_H
#define COREKV_CMD_BLOCKING_H

#include <stdbool.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "store/list.h"
#include "store/zset.h"

enum bcmd {
    B_BLPOP,
    B_BRPOP,
    B_BLMOVE,
    B_BRPOPLPUSH,
    B_BLMPOP,
    B_BZPOPMIN,
    B_BZPOPMAX,
    B_BZMPOP,
};

/* What a waiter waits for (rt_commands.key_ready's kind). */
enum { BWAIT_LIST = 1, BWAIT_ZSET = 2 };

/* A blocking command's arguments, parsed. */
struct bargs {
    enum bcmd which;
    int first, nkeys;     /* argv index of the first key, and how many (BLMOVE: the source) */
    int64_t timeout_ms;   /* 0: wait forever */
    enum list_end where;  /* lists: the end popped from */
    enum list_end to;     /* BLMOVE / BRPOPLPUSH: the destination's end */
    bool max;             /* sorted sets: pop the highest scores */
    int64_t count;        /* BLMPOP / BZMPOP: COUNT (1 by default); -1 for the others */
};

static inline bool bcmd_is_zset(enum bcmd w)
{
    return w == B_BZPOPMIN || w == B_BZPOPMAX || w == B_BZMPOP;
}
static inline bool bcmd_is_move(enum bcmd w) { return w == B_BLMOVE || w == B_BRPOPLPUSH; }
static inline bool bcmd_is_mpop(enum bcmd w) { return w == B_BLMPOP || w == B_BZMPOP; }

/* Parse as redis-server 7.0 does, before any key is looked at. Returns NULL, or the
 * error text to reply. */
const char *bargs_parse(enum bcmd which, const rt_str *argv, int argc, struct bargs *a);

/* The reply when nothing can be served: on a timeout (or CLIENT UNBLOCK ... TIMEOUT), and
 * when the command may not wait (inside MULTI/EXEC). Redis answers a timeout with a null
 * array for all of them, but BLMOVE and BRPOPLPUSH that cannot wait with a null. */
void bargs_reply_nil(struct buf *out, const struct bargs *a, int proto, bool timed_out);

/* Steps (blocking_step.c). */
void blpop_step(struct rt_txn *t, unsigned phase);
void brpop_step(struct rt_txn *t, unsigned phase);
void blmove_step(struct rt_txn *t, unsigned phase);
void brpoplpush_step(struct rt_txn *t, unsigned phase);
void blmpop_step(struct rt_txn *t, unsigned phase);
void bzpopmin_step(struct rt_txn *t, unsigned phase);
void bzpopmax_step(struct rt_txn *t, unsigned phase);
void bzmpop_step(struct rt_txn *t, unsigned phase);

/* rt_commands.key_ready (blocking.c). */
bool blocking_key_ready(void *shard, const char *key, size_t len, unsigned kind);

/* CLIENT KILL / CLIENT UNBLOCK (client_kill.c): steps of the subcommands, and their
 * parts on the shard that owns a connection. */
void client_kill_step(struct rt_txn *t, unsigned phase);
void client_unblock_step(struct rt_txn *t, unsigned phase);
void client_kill_part(struct rt_call *call);
void client_unblock_part(struct rt_call *call);
/* The CLIENT LIST line of a connection, as CLIENT LIST prints it (client.c). */
void cmd_client_line(const struct rt_client *c, struct buf *out);

/* ---- Helpers of the non-blocking forms, shared with them ---- */
/* lists_move.c */
void lists_lmove_generic(struct rt_call *call, enum list_end from, enum list_end to);
const char *lists_mpop_parse(const rt_str *argv, int argc, int64_t *numkeys,
                             enum list_end *where, int64_t *count);
/* Pop n (<= its length) elements of the list e at key k, appending each as a bulk to
 * out, with the pop's events ("del" too when emptied). */
void lists_pop_reply(struct cmd_shard *cs, const rt_str *k, struct entry *e,
                     enum list_end where, size_t n, struct buf *out);
/* zsets_pop.c */
const char *zsets_mpop_parse(const rt_str *argv, int argc, int64_t *numkeys, bool *max,
                             int64_t *count);
size_t zsets_pop_members(struct cmd_shard *cs, const rt_str *key, struct entry *e,
                         struct zs *z, bool max, int64_t count, struct buf *out, int proto,
                         bool nested, bool header);

extern const struct cmd_def cmd_blocking_table[];

#endif
