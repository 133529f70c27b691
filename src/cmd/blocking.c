/* BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP: parsing, the execs, the
 * table, and what the runtime asks of a waiter's key (blocking.h has the map).
 *
 * An exec runs where all its keys live. It parses (every error comes before any key is
 * looked at, as in redis-server 7.0), then tries like the non-blocking form: the first
 * key in argument order that holds a non-empty value is popped, and a key of another
 * type met before one is WRONGTYPE. Finding nothing, a top-level call asks to wait
 * (rt_call_block, no reply: the step takes over); any other call replies nil, which is
 * both what MULTI/EXEC gets and what a serving part answers when its key was emptied. */
#include "cmd/blocking.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "cmd/effect.h"
#include "cmd/lists.h"
#include "cmd/zsets.h"

/* ---- Parsing ---- */

/* Redis's getTimeoutFromObjectOrReply in seconds: string2ld (strtold over the whole
 * argument, no leading space, no overflow or underflow to zero, no NaN), then the
 * milliseconds rounded up and converted as x86-64 converts (a value out of the range of
 * long long becomes LLONG_MIN, so "inf" and "1e30" are "negative"). A tiny negative
 * value rounds up to 0, which waits forever, as there. */
static const char *parse_timeout(const rt_str *arg, int64_t *ms)
{
    static const char not_float[] = "ERR timeout is not a float or out of range";
    char buf[NUMFMT_LD_MAX];
    if (arg->len == 0 || arg->len >= sizeof buf)
        return not_float;
    memcpy(buf, arg->ptr, arg->len);
    buf[arg->len] = '\0';
    if (isspace((unsigned char)buf[0]))
        return not_float;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (end != buf + arg->len || isnan(v) || errno == EINVAL ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)))
        return not_float;
    long double m = ceill(v * 1000.0L);
    int64_t t = (m >= -9223372036854775808.0L && m < 9223372036854775808.0L) ? (int64_t)m
                                                                            : INT64_MIN;
    if (t < 0)
        return "ERR timeout is negative";
    *ms = t;
    return NULL;
}

const char *bargs_parse(enum bcmd which, const rt_str *argv, int argc, struct bargs *a)
{
    *a = (struct bargs){.which = which, .first = 1, .nkeys = argc - 2, .count = -1};
    int timeout_idx = argc - 1;
    switch (which) {
    case B_BLPOP:
    case B_BZPOPMIN:
        break;
    case B_BRPOP:
        a->where = LIST_TAIL;
        break;
    case B_BZPOPMAX:
        a->max = true;
        break;
    case B_BRPOPLPUSH:
        a->nkeys = 1;
        a->where = LIST_TAIL;
        a->to = LIST_HEAD;
        break;
    case B_BLMOVE:
        a->nkeys = 1;
        if (!list_parse_end(&argv[3], &a->where) || !list_parse_end(&argv[4], &a->to))
            return ERR_SYNTAX;
        break;
    case B_BLMPOP:
    case B_BZMPOP: {
        /* numkeys at argv[2]: the non-blocking parser sees argv + 1 as its own. */
        int64_t numkeys;
        const char *err =
            which == B_BLMPOP
                ? lists_mpop_parse(argv + 1, argc - 1, &numkeys, &a->where, &a->count)
                : zsets_mpop_parse(argv + 1, argc - 1, &numkeys, &a->max, &a->count);
        if (err)
            return err;
        a->first = 3;
        a->nkeys = (int)numkeys; /* below argc: the parser checked */
        timeout_idx = 1;
        break;
    }
    }
    return parse_timeout(&argv[timeout_idx], &a->timeout_ms);
}

void bargs_reply_nil(struct buf *out, const struct bargs *a, int proto, bool timed_out)
{
    if (bcmd_is_move(a->which) && !timed_out)
        resp_null(out, proto);
    else
        resp_null_array(out, proto);
}

/* ---- Trying ---- */

/* The log records a pop as the non-blocking command that does the same (as Redis
 * propagates a served BLPOP as LPOP): replayed without a client, a blocking command
 * could neither wait nor be told which key served it. */
static void log_pop(struct rt_call *call, const char *verb, const rt_str *k, size_t n)
{
    char nb[NUMFMT_I64_MAX];
    rt_str a[3] = {effect_word(verb), *k, {nb, (size_t)i64_to_str(nb, (int64_t)n)}};
    effect_log(cmd_shard(call), 3, a);
}

/* LMOVE src dst from to, after lists_lmove_generic replied from `at` in call->out: only
 * when it moved an element (a bulk reply, not WRONGTYPE for the destination). */
static void log_move(struct rt_call *call, size_t at, enum list_end from, enum list_end to)
{
    const struct buf *o = call->out;
    if (o->len < at + 2 || o->data[at] != '$' || o->data[at + 1] == '-')
        return;
    rt_str a[5] = {effect_word("LMOVE"), call->argv[1], call->argv[2],
                   effect_word(from == LIST_HEAD ? "LEFT" : "RIGHT"),
                   effect_word(to == LIST_HEAD ? "LEFT" : "RIGHT")};
    effect_log(cmd_shard(call), 5, a);
}

/* The first non-empty key, popped into the reply; false when there is none. True after
 * replying WRONGTYPE too. */
static bool try_lists(struct rt_call *call, const struct bargs *a)
{
    for (int i = 0; i < a->nkeys; i++) {
        const rt_str *k = &call->argv[a->first + i];
        struct entry *e;
        int r = key_typed(call, k, VT_LIST, true, &e);
        if (r < 0)
            return true;
        if (!e)
            continue; /* lists are never empty in the keyspace */
        size_t len = list_len(e);
        size_t n = a->count < 0 ? 1 : (uint64_t)a->count < len ? (size_t)a->count : len;
        resp_array(call->out, 2);
        resp_bulk(call->out, k->ptr, k->len);
        if (a->count >= 0)
            resp_array(call->out, (int64_t)n);
        lists_pop_reply(cmd_shard(call), k, e, a->where, n, call->out);
        log_pop(call, a->where == LIST_HEAD ? "LPOP" : "RPOP", k, n);
        return true;
    }
    return false;
}

static bool try_zsets(struct rt_call *call, const struct bargs *a)
{
    for (int i = 0; i < a->nkeys; i++) {
        const rt_str *k = &call->argv[a->first + i];
        struct entry *e;
        struct zs z;
        int r = zcmd_lookup(call, k, true, &e, &z);
        if (r < 0)
            return true;
        if (r == 0)
            continue;
        bool mpop = a->count >= 0;
        /* BZPOPMIN: *3 [key, member, score]; BZMPOP: *2 [key, *n [member, score]...]. */
        resp_array(call->out, mpop ? 2 : 3);
        resp_bulk(call->out, k->ptr, k->len);
        size_t n = zsets_pop_members(cmd_shard(call), k, e, &z, a->max, mpop ? a->count : 1,
                                     call->out, call->proto, mpop, mpop);
        if (n)
            log_pop(call, a->max ? "ZPOPMAX" : "ZPOPMIN", k, n);
        return true;
    }
    return false;
}

/* BLMOVE / BRPOPLPUSH: Redis's blmoveGenericCommand. Only the source decides whether
 * to wait; once it holds a list, LMOVE runs (and checks the destination). */
static bool try_move(struct rt_call *call, const struct bargs *a)
{
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_LIST, true, &e);
    if (r < 0)
        return true;
    if (!e)
        return false;
    size_t at = call->out->len;
    lists_lmove_generic(call, a->where, a->to);
    log_move(call, at, a->where, a->to);
    return true;
}

static void blocking_exec(struct rt_call *call, enum bcmd which)
{
    struct bargs a;
    const char *err = bargs_parse(which, call->argv, call->argc, &a);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    bool done = bcmd_is_move(which)   ? try_move(call, &a)
                : bcmd_is_zset(which) ? try_zsets(call, &a)
                                      : try_lists(call, &a);
    if (done)
        return;
    if (call->can_block)
        rt_call_block(call);
    else
        bargs_reply_nil(call->out, &a, call->proto, false);
}

static void blpop_exec(struct rt_call *call) { blocking_exec(call, B_BLPOP); }
static void brpop_exec(struct rt_call *call) { blocking_exec(call, B_BRPOP); }
static void blmove_exec(struct rt_call *call) { blocking_exec(call, B_BLMOVE); }
static void brpoplpush_exec(struct rt_call *call) { blocking_exec(call, B_BRPOPLPUSH); }
static void blmpop_exec(struct rt_call *call) { blocking_exec(call, B_BLMPOP); }
static void bzpopmin_exec(struct rt_call *call) { blocking_exec(call, B_BZPOPMIN); }
static void bzpopmax_exec(struct rt_call *call) { blocking_exec(call, B_BZPOPMAX); }
static void bzmpop_exec(struct rt_call *call) { blocking_exec(call, B_BZMPOP); }

/* __bmove src dst LEFT|RIGHT LEFT|RIGHT: serves a woken BLMOVE whose keys share this
 * shard, as Redis's serveClientBlockedOnList: "*0" when the source holds no list (any
 * more), else LMOVE's reply (the element, or WRONGTYPE for the destination). */
static void bmove_part_exec(struct rt_call *call)
{
    enum list_end from, to;
    if (!list_parse_end(&call->argv[3], &from) || !list_parse_end(&call->argv[4], &to)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    const rt_str *src = &call->argv[1];
    struct entry *e = store_find(cmd_shard(call)->store, src->ptr, src->len, true);
    if (!e || entry_type(e) != VT_LIST) {
        resp_array(call->out, 0);
        return;
    }
    size_t at = call->out->len;
    lists_lmove_generic(call, from, to);
    log_move(call, at, from, to);
}

/* ---- Readiness ---- */

/* Whether a waiter of `kind` could be served by key now. A lookup that meets an expired
 * key deletes it (through the post-write hook, as any lookup would); nothing else
 * changes. */
bool blocking_key_ready(void *shard, const char *key, size_t len, unsigned kind)
{
    struct cmd_shard *cs = shard;
    struct entry *e = store_find(cs->store, key, len, false);
    if (!e)
        return false;
    if (kind == BWAIT_LIST)
        return entry_type(e) == VT_LIST && list_len(e) > 0;
    if (kind == BWAIT_ZSET && entry_type(e) == VT_ZSET) {
        struct zs z = zs_of(e);
        return zs_len(&z) > 0;
    }
    return false;
}

/* ---- The table ---- */

#define BLOCKING(nm, spec, ex, st)                                                         \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .flags = RT_CMD_BLOCKING, .exec = ex, \
     .step = st}
#define KEYS_ALL_BUT_LAST {1, -2, 1, 0}
#define KEYS_TWO {1, 2, 1, 0}
#define KEYS_NUMKEYS_AT_2 {0, 0, 0, 2}

#define L_ACL "@write @list @slow @blocking"
#define POP_LIST_COMPLEXITY "O(N) where N is the number of provided keys."
#define POP_ZSET_COMPLEXITY "O(log(N)) with N being the number of elements in the sorted set."

const struct cmd_def cmd_blocking_table[] = {
    {"blpop", -3, "write noscript blocking", L_ACL,
     BLOCKING("blpop", KEYS_ALL_BUT_LAST, blpop_exec, blpop_step), "list", "2.0.0",
     "Remove and get the first element in a list, or block until one is available",
     POP_LIST_COMPLEXITY},
    {"brpop", -3, "write noscript blocking", L_ACL,
     BLOCKING("brpop", KEYS_ALL_BUT_LAST, brpop_exec, brpop_step), "list", "2.0.0",
     "Remove and get the last element in a list, or block until one is available",
     POP_LIST_COMPLEXITY},
    {"blmove", 6, "write denyoom noscript blocking", L_ACL,
     BLOCKING("blmove", KEYS_TWO, blmove_exec, blmove_step), "list", "6.2.0",
     "Pop an element from a list, push it to another list and return it; or block until "
     "one is available",
     "O(1)"},
    {"brpoplpush", 4, "write denyoom noscript blocking", L_ACL,
     BLOCKING("brpoplpush", KEYS_TWO, brpoplpush_exec, brpoplpush_step), "list", "2.2.0",
     "Pop an element from a list, push it to another list and return it; or block until "
     "one is available",
     "O(1)"},
    {"blmpop", -5, "write blocking", L_ACL,
     BLOCKING("blmpop", KEYS_NUMKEYS_AT_2, blmpop_exec, blmpop_step), "list", "7.0.0",
     "Pop elements from a list, or block until one is available",
     "O(N+M) where N is the number of provided keys and M is the number of elements "
     "returned."},
    {"bzpopmin", -3, "write noscript blocking fast", "@write @sortedset @fast @blocking",
     BLOCKING("bzpopmin", KEYS_ALL_BUT_LAST, bzpopmin_exec, bzpopmin_step), "sorted-set",
     "5.0.0",
     "Remove and return the member with the lowest score from one or more sorted sets, or "
     "block until one is available",
     POP_ZSET_COMPLEXITY},
    {"bzpopmax", -3, "write noscript blocking fast", "@write @sortedset @fast @blocking",
     BLOCKING("bzpopmax", KEYS_ALL_BUT_LAST, bzpopmax_exec, bzpopmax_step), "sorted-set",
     "5.0.0",
     "Remove and return the member with the highest score from one or more sorted sets, or "
     "block until one is available",
     POP_ZSET_COMPLEXITY},
    {"bzmpop", -5, "write blocking", "@write @sortedset @slow @blocking",
     BLOCKING("bzmpop", KEYS_NUMKEYS_AT_2, bzmpop_exec, bzmpop_step), "sorted-set", "7.0.0",
     "Remove and return members with scores in a sorted set or block until one is available",
     "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of "
     "elements in the sorted set, and M being the number of elements popped."},

    /* Parts. */
    {"__bmove", 5, "write", "@write @list",
     {.name = "__bmove", .route = RT_ROUTE_KEYS, .keys = KEYS_TWO, .flags = RT_CMD_INTERNAL,
      .exec = bmove_part_exec},
     "list", "", "", ""},
    {"__clientkill", -3, "admin", "@admin",
     {.name = "__clientkill", .route = RT_ROUTE_ORIGIN, .flags = RT_CMD_INTERNAL,
      .exec = client_kill_part},
     "connection", "", "", ""},
    {"__clientunblock", 3, "admin", "@admin",
     {.name = "__clientunblock", .route = RT_ROUTE_ORIGIN, .flags = RT_CMD_INTERNAL,
      .exec = client_unblock_part},
     "connection", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
