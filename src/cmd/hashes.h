/* The hash commands, internal to the src/cmd/hashes files.
 *
 *   hashes.c       the family table; the writes: HSET HMSET HSETNX HDEL HINCRBY
 *                  HINCRBYFLOAT
 *   hashes_read.c  the reads: HGET HMGET HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL HSCAN
 *                  HRANDFIELD
 *
 * Replies and errors follow Redis 7.0's t_hash.c. Every command has one key, so each
 * runs whole on the key's shard. */
#ifndef COREKV_CMD_HASHES_H
#define COREKV_CMD_HASHES_H

#include "cmd/cmd.h"
#include "cmd/typed.h"
#include "store/hash.h"

/* The hash at key: 1 with e and h set, 0 when absent, -1 after replying WRONGTYPE. */
int hcmd_lookup(struct rt_call *call, const rt_str *key, bool write, struct entry **e,
                struct hash_val *h);

void hget_exec(struct rt_call *call);
void hmget_exec(struct rt_call *call);
void hlen_exec(struct rt_call *call);
void hstrlen_exec(struct rt_call *call);
void hexists_exec(struct rt_call *call);
void hkeys_exec(struct rt_call *call);
void hvals_exec(struct rt_call *call);
void hgetall_exec(struct rt_call *call);
void hscan_exec(struct rt_call *call);
void hrandfield_exec(struct rt_call *call);

#endif
