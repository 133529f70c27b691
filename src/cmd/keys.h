/* The generic key commands (keyspace family), internal to src/cmd/keys*.c.
 *
 * keys.c holds the family's table and DEL/UNLINK/EXISTS/TOUCH; the other files export
 * their handlers here:
 *   keys_object.c  TYPE, OBJECT
 *   keys_ttl.c     EXPIRE family, TTL family, PERSIST
 *   keys_scan.c    KEYS, SCAN, RANDOMKEY and their per-shard parts
 *   keys_move.c    RENAME, RENAMENX, COPY and the value-moving parts
 *
 * Internal commands (parts of multi-shard steps, never accepted from clients):
 *   __dump key [READ]     -> *2 [bulk dump | nil, :abs_expire_ms | :-1]
 *                            READ counts the lookup in keyspace hits/misses (COPY's
 *                            source is a read in Redis, RENAME's is not).
 *   __exists key          -> :0|:1 without touching hit/miss statistics (a write lookup)
 *   __restore key abs_expire_ms dump [event]
 *                         -> +OK; replaces key; event is the keyspace event to emit
 *                            ("restore" when absent)
 *   __del key event       -> :0|:1; deletes key, emitting `event` ("rename_from")
 *   __scan cursor [MATCH p] [COUNT n] [TYPE t]
 *                         -> *2 [bulk next local cursor, *keys]; one shard's SCAN
 *   __randomkey           -> *2 [:keys in this shard, bulk key | nil]
 */
#ifndef COREKV_CMD_KEYS_H
#define COREKV_CMD_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

/* keys_object.c */
const char *keys_type_name(enum val_type t); /* "string", "list", ... as TYPE replies */
void keys_type_exec(struct rt_call *call);
void keys_object_exec(struct rt_call *call);
extern const struct cmd_def cmd_object_subs[];

/* keys_ttl.c */
void keys_expire_exec(struct rt_call *call);
void keys_pexpire_exec(struct rt_call *call);
void keys_expireat_exec(struct rt_call *call);
void keys_pexpireat_exec(struct rt_call *call);
void keys_ttl_exec(struct rt_call *call);
void keys_pttl_exec(struct rt_call *call);
void keys_expiretime_exec(struct rt_call *call);
void keys_pexpiretime_exec(struct rt_call *call);
void keys_persist_exec(struct rt_call *call);

/* keys_scan.c */
void keys_keys_exec(struct rt_call *call);
void keys_keys_step(struct rt_txn *t, unsigned phase);
void keys_scan_step(struct rt_txn *t, unsigned phase);
void keys_iscan_exec(struct rt_call *call);
void keys_randomkey_step(struct rt_txn *t, unsigned phase);
void keys_irandomkey_exec(struct rt_call *call);

/* keys_move.c */
void keys_rename_exec(struct rt_call *call);
void keys_rename_step(struct rt_txn *t, unsigned phase);
void keys_renamenx_exec(struct rt_call *call);
void keys_renamenx_step(struct rt_txn *t, unsigned phase);
void keys_copy_exec(struct rt_call *call);
void keys_copy_step(struct rt_txn *t, unsigned phase);
void keys_idump_exec(struct rt_call *call);
void keys_iexists_exec(struct rt_call *call);
void keys_irestore_exec(struct rt_call *call);
void keys_idel_exec(struct rt_call *call);

/* Shared helpers (keys.c). */

/* The length of an argument as Redis sees it where it treats the argument as a C
 * string (option names in error texts, SCAN cursors, TYPE names): up to the first NUL. */
size_t keys_cstrlen(const rt_str *a);

/* If every key matching glob `pat` must live on one shard, return true with that shard:
 * the pattern has no glob character at all, or its literal prefix holds a whole
 * non-empty hash tag "{...}" (every match then carries that tag). */
bool keys_pattern_shard(struct rt_shard *sh, const char *pat, size_t plen, unsigned *shard);

#endif
