/* Splitting a multi-key command across the shards that own its keys, and reducing the
 * parts' replies on the origin (inside a struct rt_cmd step function). */
#ifndef COREKV_CMD_SPLIT_H
#define COREKV_CMD_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include <corekv/rt.h>

/* Queue one part per owning shard: `verb` followed by that shard's key groups in request
 * order. A key group is argv[i .. i+group) for i = first, first+group, ... up to argc;
 * its first argument is the key (MSET: group 2, key then value). When map is non-NULL,
 * map[g] receives the part index of key group g (for reassembly). Returns the number of
 * parts queued. */
unsigned split_keys(struct rt_txn *t, const char *verb, int first, int group, unsigned *map);

/* Sum the integer replies of all parts. If a part replied with an error, finish the
 * command with that error and return false. */
bool split_sum(struct rt_txn *t, int64_t *sum);
/* True when every part replied +OK; otherwise finish with the first error (or
 * "ERR internal error") and return false. */
bool split_all_ok(struct rt_txn *t);

#endif
