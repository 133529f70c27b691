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
 * map[g] receives the part index of key group g (for reassembly). Parts are queued in
 * ascending shard order. Memory is O(argc) whatever the number of shards. Returns the
 * number of parts queued. */
unsigned split_keys(struct rt_txn *t, const char *verb, int first, int group, unsigned *map);
/* As split_keys, but each part carries only the first `take` arguments (1..group) of
 * each of its key groups: e.g. MSETNX's existence check sends just the keys of
 * "k1 v1 k2 v2" with group 2, take 1. split_keys is split_keys_view with take == group.
 * A trailing incomplete group (argc - first not a multiple of group) is left out. */
unsigned split_keys_view(struct rt_txn *t, const char *verb, int first, int group, int take,
                         unsigned *map);

/* Sum the integer replies of all parts. If a part replied with an error, finish the
 * command with that error and return false. */
bool split_sum(struct rt_txn *t, int64_t *sum);
/* True when every part replied +OK; otherwise finish with the first error (or
 * "ERR internal error") and return false. */
bool split_all_ok(struct rt_txn *t);

#endif
