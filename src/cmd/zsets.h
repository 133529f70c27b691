/* The sorted-set commands, internal to the src/cmd/zsets files.
 *
 *   zsets.c        the family table; ZADD ZINCRBY ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE
 *                  ZMSCORE ZRANK ZREVRANK ZSCAN
 *   zsets_range.c  the ZRANGE family (argument parsing and the walk, shared with
 *                  ZRANGESTORE) and ZREMRANGEBYRANK/SCORE/LEX
 *   zsets_pop.c    ZPOPMIN ZPOPMAX ZMPOP ZRANGESTORE ZRANDMEMBER and the parts of their
 *                  multi-shard steps
 *
 * Internal commands (parts of multi-shard steps; replies in RESP2, scores as "%.17g"
 * bulk text, which reads back to the same double):
 *   __zprobe key              -> :0 absent, :1 a zset, :2 another type
 *   __zpop key MIN|MAX count  -> *2n [member, score ...] popped (notifies as ZPOPMIN/MAX)
 *   __zrangeget src min max [BYSCORE|BYLEX] [REV] [LIMIT o c]
 *                             -> *2n [member, score ...] (a read, as ZRANGESTORE's source)
 *                                or WRONGTYPE
 *   __zstore dst [member score ...] -> :n; stores the pairs as dst (event "zrangestore"),
 *                                or deletes dst when there are none (event "del")
 */
#ifndef COREKV_CMD_ZSETS_H
#define COREKV_CMD_ZSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"
#include "cmd/typed.h"
#include "store/zset.h"

#define ERR_ZMINMAX_FLOAT "ERR min or max is not a float"
#define ERR_ZMINMAX_LEX "ERR min or max not valid string range item"

/* The zset at key: 1 with e and z set, 0 when absent, -1 after replying WRONGTYPE. */
int zcmd_lookup(struct rt_call *call, const rt_str *key, bool write, struct entry **e,
                struct zs *z);
/* After a change to the zset of e at key: store the object back, or delete the key
 * when it became empty; notify `event` (and "del" when the key was removed). */
void zcmd_written(struct cmd_shard *cs, const rt_str *key, struct entry *e, struct zs *z,
                  const char *event);
/* Reply with one element: member, and its score when withscores, in the shape of the
 * protocol (RESP3: a [member, score] pair). */
void zcmd_emit(struct buf *out, int proto, bool withscores, const char *m, size_t len,
               double score);
/* The array header for n elements in zcmd_emit's shape. */
void zcmd_emit_header(struct buf *out, int proto, bool withscores, size_t n);
/* A score as bulk text ("%.17g" rules, as parts carry them). */
void zcmd_score_bulk(struct buf *out, double score);

/* ---- The ZRANGE family (zsets_range.c) ---- */
enum zr_type { ZR_AUTO, ZR_RANK, ZR_SCORE, ZR_LEX };
enum zr_dir { ZR_DIR_AUTO, ZR_FORWARD, ZR_REVERSE };
struct zrange_spec {
    enum zr_type type;
    bool rev, withscores;
    int64_t start, end;     /* ZR_RANK */
    struct zs_range r;      /* ZR_SCORE */
    struct zs_lexrange lr;  /* ZR_LEX */
    int64_t offset, limit;  /* LIMIT; limit -1: none */
};
/* Parse as Redis's zrangeGenericCommand: argv[first] is the source key, then min, max
 * and options. type/dir fixed by the command (ZR_AUTO/ZR_DIR_AUTO for ZRANGE and
 * ZRANGESTORE). Returns NULL or the error text to reply. */
const char *zrange_parse(const rt_str *argv, int argc, int first, bool store, enum zr_type type,
                         enum zr_dir dir, struct zrange_spec *sp);
/* Walk the members the spec selects, in reply order; returns how many. */
size_t zrange_walk(const struct zs *z, const struct zrange_spec *sp,
                   void (*fn)(void *arg, const char *m, size_t len, double score), void *arg);

void zrange_exec(struct rt_call *call);
void zrevrange_exec(struct rt_call *call);
void zrangebyscore_exec(struct rt_call *call);
void zrevrangebyscore_exec(struct rt_call *call);
void zrangebylex_exec(struct rt_call *call);
void zrevrangebylex_exec(struct rt_call *call);
void zremrangebyrank_exec(struct rt_call *call);
void zremrangebyscore_exec(struct rt_call *call);
void zremrangebylex_exec(struct rt_call *call);

/* ---- zsets_pop.c ---- */
void zpopmin_exec(struct rt_call *call);
void zpopmax_exec(struct rt_call *call);
void zmpop_exec(struct rt_call *call);
void zmpop_step(struct rt_txn *t, unsigned phase);
void zrangestore_exec(struct rt_call *call);
void zrangestore_step(struct rt_txn *t, unsigned phase);
void zrandmember_exec(struct rt_call *call);
void zprobe_exec(struct rt_call *call);
void zpop_part_exec(struct rt_call *call);
void zrangeget_exec(struct rt_call *call);
void zstore_exec(struct rt_call *call);

#endif
