/* The set family's private interface, shared by its files only:
 *   sets.c          SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP SRANDMEMBER SSCAN
 *                   and the family's table;
 *   sets_algebra.c  SINTER SINTERCARD SINTERSTORE SUNION(STORE) SDIFF(STORE) and SMOVE
 *                   with every key on one shard (exec);
 *   sets_step.c     the same commands across shards (step);
 *   sets_parts.c    the internal commands those steps send to the owners, and the
 *                   helpers every file of the family uses. */
#ifndef COREKV_CMD_SETS_H
#define COREKV_CMD_SETS_H

#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/typed.h"
#include "store/set.h"

/* The set an entry of type VT_SET holds. */
static inline struct set_val set_of(const struct entry *e)
{
    return (struct set_val){entry_obj(e), entry_obj_enc(e)};
}

/* calloc that never returns NULL (n == 0 still gives a pointer to free). */
static inline bool sets_same_key(const rt_str *a, const rt_str *b)
{
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

/* ---- sets_parts.c: shared helpers ---- */

/* Every member of s as a bulk string, in the set's own order (no header). */
void sets_reply_members(struct buf *out, struct set_val *s);
/* The sets named by keys[0..n) into out[] (o NULL: missing). false after replying
 * WRONGTYPE for the first key, in order, that holds another type (Redis checks every
 * key before it computes anything). read: count keyspace hits/misses. */
bool sets_load(struct rt_call *call, const rt_str *keys, int n, bool read, struct set_val *out);
/* The keyspace events of SINTERSTORE, SUNIONSTORE, SDIFFSTORE, in that order. */
extern const char *const sets_store_events[3];
/* Replace dst with s (taking it), or delete dst when s is empty (Redis: "del" only when
 * something was deleted); reply the count. */
void sets_store_result(struct rt_call *call, const rt_str *dst, struct set_val *s,
                       const char *event);

/* ---- sets_parts.c: the internal commands (sets_step.c describes them) ---- */

void sets_iscard_exec(struct rt_call *call);
void sets_isclass_exec(struct rt_call *call);
void sets_iop_exec(struct rt_call *call);
void sets_iprobe_exec(struct rt_call *call);
void sets_istore_exec(struct rt_call *call);
void sets_iismember_exec(struct rt_call *call);

/* ---- sets_algebra.c: on one shard ---- */

/* SINTERCARD numkeys key... [LIMIT n]: Redis checks numkeys, then the options, before
 * it touches a key. Returns NULL or the error text. */
const char *sets_sintercard_args(const rt_str *argv, int argc, int *numkeys, uint64_t *limit);

void sets_sinter_exec(struct rt_call *call);
void sets_sintercard_exec(struct rt_call *call);
void sets_sinterstore_exec(struct rt_call *call);
void sets_sunion_exec(struct rt_call *call);
void sets_sunionstore_exec(struct rt_call *call);
void sets_sdiff_exec(struct rt_call *call);
void sets_sdiffstore_exec(struct rt_call *call);
void sets_smove_exec(struct rt_call *call);

/* ---- sets_step.c: across shards ---- */

void sets_sinter_step(struct rt_txn *t, unsigned phase);
void sets_sintercard_step(struct rt_txn *t, unsigned phase);
void sets_sinterstore_step(struct rt_txn *t, unsigned phase);
void sets_sunion_step(struct rt_txn *t, unsigned phase);
void sets_sunionstore_step(struct rt_txn *t, unsigned phase);
void sets_sdiff_step(struct rt_txn *t, unsigned phase);
void sets_sdiffstore_step(struct rt_txn *t, unsigned phase);
void sets_smove_step(struct rt_txn *t, unsigned phase);

#endif
