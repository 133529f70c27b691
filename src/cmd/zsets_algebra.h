/* Sorted-set algebra: ZUNION ZUNIONSTORE ZINTER ZINTERSTORE ZINTERCARD ZDIFF ZDIFFSTORE,
 * internal to src/cmd/zsets_algebra*.c.
 *
 *   zsets_algebra.c        argument parsing, the algorithms (as Redis 7's
 *                          zunionInterDiffGenericCommand), the one-shard exec, the table
 *   zsets_algebra_multi.c  the multi-shard step and its internal commands
 *
 * Inputs may be sorted sets or plain sets (whose members count with score 1); a missing
 * key is an empty input. An input is read either in place (exec, and the __zread part)
 * or from the flat (member, score) pairs a __zread part replied (step).
 *
 * Internal commands (parts of the step; RESP2 replies, scores as "%.17g" bulk text,
 * which reads back to the same double):
 *   __zread TYPES|DATA key [key ...]
 *       -> WRONGTYPE when a key holds neither a zset nor a set; else TYPES: +OK,
 *          DATA: *N, per key *2n [member, score ...] (*0 for a missing key)
 *   __zalgstore dst event [member score ...]
 *       -> :n; dst replaced by those pairs (any old value of any type dropped), or
 *          deleted when there are none; notifies event ("zunionstore", "zinterstore",
 *          "zdiffstore") or "del" */
#ifndef COREKV_CMD_ZSETS_ALGEBRA_H
#define COREKV_CMD_ZSETS_ALGEBRA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "store/object.h"
#include "store/zset.h"

enum zalg_op { ZOP_UNION, ZOP_INTER, ZOP_DIFF };
enum zalg_agg { ZAGG_SUM, ZAGG_MIN, ZAGG_MAX };

/* What one command is. */
struct zalg_def {
    const char *name;  /* Redis's fullname, for "at least 1 input key ..." */
    enum zalg_op op;
    bool store;        /* *STORE: argv[1] is the destination, numkeys at argv[2] */
    bool card;         /* ZINTERCARD: only count, LIMIT allowed */
    const char *event; /* keyspace event of the *STORE variants */
};

/* Parsed arguments. */
struct zalg_opts {
    int64_t setnum;    /* inputs, 1 .. argc - (numkeys index + 1) */
    int first;         /* argv index of the first input key */
    enum zalg_agg agg;
    bool withscores;
    int64_t limit;     /* ZINTERCARD: 0 = no limit */
    double *weights;   /* setnum weights (malloc'ed; zalg_opts_free) */
    char err[96];      /* room for a formatted error */
};

/* numkeys, as Redis checks it before touching any key: NULL, or the error to reply
 * (pointing into o->err or a constant). Sets setnum and first. */
const char *zalg_parse_numkeys(const struct zalg_def *d, const rt_str *argv, int argc,
                               struct zalg_opts *o);
/* The options after the keys (Redis parses them after the inputs' types were checked):
 * NULL or the error to reply. Allocates the weights. */
const char *zalg_parse_opts(const struct zalg_def *d, const rt_str *argv, int argc,
                            struct zalg_opts *o);
void zalg_opts_free(struct zalg_opts *o);

/* One input. */
struct zpair {
    const char *m;
    size_t len;
    double score;
};
enum zsrc_kind { ZSRC_EMPTY, ZSRC_ZSET, ZSRC_SET, ZSRC_PAIRS };
struct zsrc {
    enum zsrc_kind kind;
    const rt_str *key;          /* the same key twice is the same input */
    void *obj;                  /* ZSRC_ZSET / ZSRC_SET: the live object */
    enum obj_enc enc;
    const struct zpair *pairs;  /* ZSRC_PAIRS */
    struct fdict *index;        /* ZSRC_PAIRS: member -> score, built on the first lookup */
    size_t len;
    double weight;
    size_t pos;                 /* position among the inputs (the sort's tie-break) */
};

/* Run the operation over the inputs (reordered: smallest first except for DIFF).
 * Unless d->card, *res receives the result (caller frees or stores it); with d->card,
 * the count (up to the limit) is returned. Frees the inputs' indexes. */
uint64_t zalg_compute(const struct zalg_def *d, const struct zalg_opts *o, struct zsrc *src,
                      struct zs *res);
/* The reply of ZUNION / ZINTER / ZDIFF for a result. */
void zalg_reply(struct buf *out, int proto, bool withscores, const struct zs *res);
/* Store res as dst (or delete dst when empty) on this shard, notify, reply :n. Takes
 * res. */
void zalg_store(struct cmd_shard *cs, struct buf *out, const rt_str *dst, struct zs *res,
                const char *event);

/* Parts and steps (zsets_algebra_multi.c). */
void zread_exec(struct rt_call *call);
void zalgstore_exec(struct rt_call *call);
void zalg_step(struct rt_txn *t, unsigned phase, const struct zalg_def *d);

#endif
