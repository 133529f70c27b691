/* Looking up keys that must hold one type, with Redis's WRONGTYPE and keyspace counts. */
#ifndef COREKV_CMD_TYPED_H
#define COREKV_CMD_TYPED_H

#include <stdbool.h>

#include "cmd/cmd.h"
#include "store/object.h"

/* The live entry of key when it holds type t: returns 1 with *ep set; 0 when the key does
 * not exist (*ep NULL); -1 after replying WRONGTYPE into call->out. A read (write ==
 * false) counts a keyspace hit or miss, as Redis's lookupKeyRead. */
int key_typed(struct rt_call *call, const rt_str *key, enum val_type t, bool write,
              struct entry **ep);

/* Redis's "count" and index arguments: an integer (ERR_NOT_INT otherwise, replied);
 * false after replying. */
bool arg_i64(struct rt_call *call, const rt_str *a, int64_t *v);
/* A float argument (Redis's getDoubleFromObjectOrReply: "ERR value is not a valid
 * float"); false after replying. */
bool arg_double(struct rt_call *call, const rt_str *a, double *v);
/* A count that must be positive, as Redis's getPositiveLongFromObjectOrReply: "ERR value
 * is out of range, must be positive" when negative or not an integer; false after
 * replying. */
bool arg_count(struct rt_call *call, const rt_str *a, int64_t *v);

#endif
