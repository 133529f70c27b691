/* The list family's private interface: lists.c (the one-key commands and the family's
 * table) uses these from lists_move.c (the commands whose keys may span shards and
 * their internal parts). */
#ifndef COREKV_CMD_LISTS_H
#define COREKV_CMD_LISTS_H

#include "cmd/cmd.h"
#include "cmd/typed.h"
#include "store/list.h"

/* A list_elem_fn that appends the element as a bulk reply to a struct buf. */
static inline void lists_reply_elem(void *out, const char *s, size_t len)
{
    resp_bulk(out, s, len);
}

/* LEFT / RIGHT (Redis's getListPositionFromObjectOrReply); false for anything else. */
bool list_parse_end(const rt_str *a, enum list_end *where);
void lists_lmove_exec(struct rt_call *call);
void lists_lmove_step(struct rt_txn *t, unsigned phase);
void lists_rpoplpush_exec(struct rt_call *call);
void lists_rpoplpush_step(struct rt_txn *t, unsigned phase);
void lists_lmpop_exec(struct rt_call *call);
void lists_lmpop_step(struct rt_txn *t, unsigned phase);
/* Internal commands (lists_move.c describes them): __ltype, __lpop, __lpush. */
void lists_itype_exec(struct rt_call *call);
void lists_ipop_exec(struct rt_call *call);
void lists_ipush_exec(struct rt_call *call);

#endif
