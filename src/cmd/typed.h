/* Looking up keys that must hold one type, with Redis's WRONGTYPE and keyspace counts;
 * the argument parsing, SCAN-family plumbing and step endings the families share. */
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
/* An integer in [min, max], as Redis's getRangeLongFromObjectOrReply without a message:
 * ERR_NOT_INT when not an integer, "ERR value is out of range, value must between min
 * and max" outside; false after replying. (SRANDMEMBER, ZRANDMEMBER and LPOS's RANK
 * take [-INT64_MAX, INT64_MAX]: their absolute value must not overflow.) */
bool arg_i64_range(struct rt_call *call, const rt_str *a, int64_t min, int64_t max,
                   int64_t *v);

/* HRANDFIELD / ZRANDMEMBER key count [with]: the count in [-INT64_MAX, INT64_MAX], then
 * the optional word `with` (WITHVALUES, WITHSCORES; anything else is ERR_SYNTAX), and
 * with it a count within +-INT64_MAX/2 (Redis's "ERR value is out of range": the reply
 * doubles it). false after replying. */
bool arg_rand_count(struct rt_call *call, const char *with, int64_t *count, bool *with_given);

/* Redis's normalisation of a start/end index pair (LRANGE, LTRIM, ZRANGE by rank,
 * ZREMRANGEBYRANK): a negative index counts from the end of a collection of len
 * elements; false when the range is empty, else [*s, *e] lies within it. */
bool index_range(int64_t start, int64_t end, size_t len, size_t *s, size_t *e);

/* ---- The SCAN family (SCAN, SSCAN, ZSCAN) ---- */

#define ERR_INVALID_CURSOR "ERR invalid cursor"

/* A SCAN cursor as Redis's parseScanCursorOrReply reads it: strtoul on the C string (up
 * to the first NUL), so an optional sign ("-1" wraps around), no leading space, nothing
 * after the digits, no overflow; "" is 0. false on a bad cursor, nothing replied. */
bool scan_cursor_parse(const rt_str *a, uint64_t *cursor);
/* The same, replying ERR_INVALID_CURSOR; false after replying. */
bool arg_scan_cursor(struct rt_call *call, const rt_str *a, uint64_t *cursor);

/* The options after a SCAN-family cursor; the last of each kind wins. The pointers go
 * into the arguments parsed. */
struct scan_opts {
    const rt_str *match, *count, *type; /* NULL: not given */
    int64_t count_v;                    /* COUNT's value, 10 when not given */
};

/* Parse argv[first..argc) as [MATCH p] [COUNT n] (and [TYPE t] when with_type) in any
 * order, as Redis's scanGenericCommand: a COUNT that is not an integer is ERR_NOT_INT,
 * one below 1 (or a word without its value, or an unknown word) ERR_SYNTAX. Returns
 * NULL, or the error text to reply (nothing replied here). */
const char *scan_opts_parse(const rt_str *argv, int argc, int first, bool with_type,
                            struct scan_opts *o);

/* The start of SSCAN / ZSCAN key cursor [MATCH p] [COUNT n], in Redis's order: the
 * cursor, then the key (WRONGTYPE unless of type t; a missing key answers an empty scan
 * before any option is read), then the options. true with *ep, *cursor and *o set when
 * the scan is to run; false after replying. */
bool scan_key_start(struct rt_call *call, enum val_type t, struct entry **ep, uint64_t *cursor,
                    struct scan_opts *o);

/* Whether a MATCH pattern matches everything (Redis then skips matching). */
static inline bool scan_match_all(const rt_str *p) { return p->len == 1 && p->ptr[0] == '*'; }

/* A SCAN-family reply: *2 [the next cursor as a bulk string, *n then items' bytes]. */
void scan_reply(struct buf *out, uint64_t cursor, int64_t n, const struct buf *items);

/* ---- Ending a multi-shard step (rt_txn) ---- */

/* Finish with the error reply msg (an error text without the leading '-'). */
void txn_finish_error(struct rt_txn *t, const char *msg);
/* A part's reply r that is not what the part's protocol promises: pass it on when it is
 * an error, else finish with "ERR internal error". */
void txn_finish_bad(struct rt_txn *t, rt_str r);
/* When any part of the phase that ended replied an error, finish with the first one;
 * true when it did. */
bool txn_finish_if_error(struct rt_txn *t);

#endif
