/* Sorted-set commands: the family table, and the single-member commands (ZADD ZINCRBY
 * ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE ZMSCORE ZRANK ZREVRANK) and ZSCAN. Replies and
 * errors follow Redis 7's t_zset.c; the other commands live in zsets_range.c and
 * zsets_pop.c (see zsets.h). */
#include "cmd/zsets.h"

#include <math.h>
#include <stdio.h>

#include "base/glob.h"
#include "base/numfmt.h"

/* ---- Shared helpers ---- */

int zcmd_lookup(struct rt_call *call, const rt_str *key, bool write, struct entry **e,
                struct zs *z)
{
    int r = key_typed(call, key, VT_ZSET, write, e);
    if (r == 1)
        *z = zs_of(*e);
    return r;
}

void zcmd_written(struct cmd_shard *cs, const rt_str *key, struct entry *e, struct zs *z,
                  const char *event)
{
    if (zs_len(z) == 0) {
        /* The entry still points at the emptied object: free it through the store. */
        zs_put(e, z);
        store_delete_entry(cs->store, e);
        cmd_key_written(cs, key->ptr, key->len, event);
        cmd_key_written(cs, key->ptr, key->len, "del");
        return;
    }
    zs_put(e, z);
    cmd_key_written(cs, key->ptr, key->len, event);
}

void zcmd_emit_header(struct buf *out, int proto, bool withscores, size_t n)
{
    resp_array(out, (int64_t)(withscores && proto == 2 ? 2 * n : n));
}

void zcmd_emit(struct buf *out, int proto, bool withscores, const char *m, size_t len,
               double score)
{
    if (withscores && proto > 2)
        resp_array(out, 2);
    resp_bulk(out, m, len);
    if (withscores)
        resp_double(out, score, proto);
}

void zcmd_score_bulk(struct buf *out, double score)
{
    char b[64];
    int n = double_to_str(b, sizeof b, score);
    resp_bulk(out, b, (size_t)n);
}

/* ---- ZADD / ZINCRBY ---- */

#define ERR_NAN "ERR resulting score is not a number (NaN)"

static void zadd_generic(struct rt_call *call, int scoreidx, unsigned flags, bool ch)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *argv = call->argv;
    bool incr = flags & ZS_INCR;
    int elements = call->argc - scoreidx;
    if (elements % 2 || elements == 0) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    elements /= 2;
    bool nx = flags & ZS_NX, xx = flags & ZS_XX, gt = flags & ZS_GT, lt = flags & ZS_LT;
    if (nx && xx) {
        resp_error(call->out, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        resp_error(call->out,
                   "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        resp_error(call->out, "ERR INCR option supports a single increment-element pair");
        return;
    }
    /* Every score is checked before anything changes. */
    for (int j = 0; j < elements; j++) {
        double d;
        if (!arg_double(call, &argv[scoreidx + 2 * j], &d))
            return;
    }
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &argv[1], true, &e, &z);
    if (r < 0)
        return;
    int64_t added = 0, updated = 0, processed = 0;
    double newscore = 0;
    bool created = false;
    if (r == 0) {
        if (xx)
            goto reply;
        /* As Redis 7.0: the new set's encoding follows its first member alone; later
         * members convert it as they are added (so a -0 score that passes through the
         * listpack reads back as 0, as it does there). */
        z = zs_create(1, argv[scoreidx + 1].len);
        created = true;
    }
    for (int j = 0; j < elements; j++) {
        double d;
        str_to_double(argv[scoreidx + 2 * j].ptr, argv[scoreidx + 2 * j].len, &d);
        const rt_str *m = &argv[scoreidx + 2 * j + 1];
        enum zs_add_res res = zs_add(&z, m->ptr, m->len, d, flags, &newscore);
        if (res == ZS_NAN) {
            resp_error(call->out, ERR_NAN);
            goto done;
        }
        added += res == ZS_ADDED;
        updated += res == ZS_UPDATED;
        processed += res != ZS_NOP;
    }
reply:
    if (incr) {
        if (processed)
            resp_double(call->out, newscore, call->proto);
        else
            resp_null(call->out, call->proto);
    } else {
        resp_int(call->out, ch ? added + updated : added);
    }
done:
    if (created) {
        if (zs_len(&z) == 0) {
            zs_free(&z);
            return;
        }
        e = store_set_obj(cs->store, argv[1].ptr, argv[1].len, VT_ZSET, z.enc, z.obj);
    } else if (r == 1) {
        zs_put(e, &z);
    }
    if (added || updated)
        cmd_key_written(cs, argv[1].ptr, argv[1].len, incr ? "zincr" : "zadd");
}

static void zadd_exec(struct rt_call *call)
{
    unsigned flags = 0;
    bool ch = false;
    int i = 2;
    for (; i < call->argc; i++) {
        const rt_str *a = &call->argv[i];
        if (arg_is(a, "nx"))
            flags |= ZS_NX;
        else if (arg_is(a, "xx"))
            flags |= ZS_XX;
        else if (arg_is(a, "ch"))
            ch = true;
        else if (arg_is(a, "incr"))
            flags |= ZS_INCR;
        else if (arg_is(a, "gt"))
            flags |= ZS_GT;
        else if (arg_is(a, "lt"))
            flags |= ZS_LT;
        else
            break;
    }
    zadd_generic(call, i, flags, ch);
}

static void zincrby_exec(struct rt_call *call) { zadd_generic(call, 2, ZS_INCR, false); }

/* ---- ZREM ---- */

static void zrem_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], true, &e, &z);
    if (r <= 0) {
        if (r == 0)
            resp_int(call->out, 0);
        return;
    }
    int64_t deleted = 0;
    for (int j = 2; j < call->argc && zs_len(&z) > 0; j++)
        deleted += zs_delete(&z, call->argv[j].ptr, call->argv[j].len);
    resp_int(call->out, deleted);
    if (deleted)
        zcmd_written(cs, &call->argv[1], e, &z, "zrem");
    else
        zs_put(e, &z);
}

/* ---- Reads ---- */

static void zcard_exec(struct rt_call *call)
{
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &z);
    if (r >= 0)
        resp_int(call->out, r ? (int64_t)zs_len(&z) : 0);
}

static void zcount_exec(struct rt_call *call)
{
    const rt_str *a = call->argv;
    struct zs_range range;
    if (!zs_parse_range(a[2].ptr, a[2].len, a[3].ptr, a[3].len, &range)) {
        resp_error(call->out, ERR_ZMINMAX_FLOAT);
        return;
    }
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &a[1], false, &e, &z);
    if (r >= 0)
        resp_int(call->out, r ? (int64_t)zs_count_range(&z, &range) : 0);
}

static void zlexcount_exec(struct rt_call *call)
{
    const rt_str *a = call->argv;
    struct zs_lexrange range;
    if (!zs_parse_lexrange(a[2].ptr, a[2].len, a[3].ptr, a[3].len, &range)) {
        resp_error(call->out, ERR_ZMINMAX_LEX);
        return;
    }
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &a[1], false, &e, &z);
    if (r >= 0)
        resp_int(call->out, r ? (int64_t)zs_count_lex(&z, &range) : 0);
}

static void zscore_exec(struct rt_call *call)
{
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &z);
    if (r < 0)
        return;
    double sc;
    if (r && zs_score(&z, call->argv[2].ptr, call->argv[2].len, &sc))
        resp_double(call->out, sc, call->proto);
    else
        resp_null(call->out, call->proto);
}

static void zmscore_exec(struct rt_call *call)
{
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &z);
    if (r < 0)
        return;
    resp_array(call->out, call->argc - 2);
    for (int j = 2; j < call->argc; j++) {
        double sc;
        if (r && zs_score(&z, call->argv[j].ptr, call->argv[j].len, &sc))
            resp_double(call->out, sc, call->proto);
        else
            resp_null(call->out, call->proto);
    }
}

/* ZRANK / ZREVRANK key member [WITHSCORE] (WITHSCORE: Redis 7.2). The option is
 * checked before the key; with it the reply is [rank, score] and a missing key or
 * member a null array rather than a null. */
static void zrank_generic(struct rt_call *call, bool rev)
{
    if (call->argc > 4) {
        resp_errorf(call->out, "ERR wrong number of arguments for '%s' command",
                    call->cmd->name);
        return;
    }
    bool withscore = call->argc == 4;
    if (withscore && !arg_is(&call->argv[3], "withscore")) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &z);
    if (r < 0)
        return;
    double score = 0;
    int64_t rank = r ? zs_rank(&z, call->argv[2].ptr, call->argv[2].len, rev, &score) : -1;
    if (rank < 0) {
        if (withscore)
            resp_null_array(call->out, call->proto);
        else
            resp_null(call->out, call->proto);
        return;
    }
    if (withscore)
        resp_array(call->out, 2);
    resp_int(call->out, rank);
    if (withscore)
        resp_double(call->out, score, call->proto);
}

static void zrank_exec(struct rt_call *call) { zrank_generic(call, false); }
static void zrevrank_exec(struct rt_call *call) { zrank_generic(call, true); }

/* ---- ZSCAN ---- */

struct zscan_ctx {
    struct buf items;
    size_t n;
    const rt_str *match;
};

static void zscan_visit(void *arg, const char *m, size_t len, double score)
{
    struct zscan_ctx *c = arg;
    if (c->match && !glob_match(c->match->ptr, c->match->len, m, len, false))
        return;
    resp_bulk(&c->items, m, len);
    zcmd_score_bulk(&c->items, score);
    c->n++;
}

static void zscan_exec(struct rt_call *call)
{
    uint64_t cursor;
    struct entry *e;
    struct scan_opts o;
    if (!scan_key_start(call, VT_ZSET, &e, &cursor, &o))
        return;
    struct zs z = zs_of(e);
    struct zscan_ctx c = {.match = o.match && !scan_match_all(o.match) ? o.match : NULL};
    /* As Redis: up to count*10 buckets visited while fewer than count members found
     * (the budget saturates rather than overflow for a huge COUNT). */
    uint64_t count = (uint64_t)o.count_v;
    uint64_t maxiter = count > UINT64_MAX / 10 ? UINT64_MAX : count * 10;
    do {
        cursor = zs_scan(&z, cursor, zscan_visit, &c);
    } while (cursor && maxiter-- && c.n < count);
    scan_reply(call->out, cursor, (int64_t)(2 * c.n), &c.items);
    buf_free(&c.items);
}

/* ---- The table ---- */

#define K1 {1, 1, 1, 0}
#define KEYS(nm, spec, ex, st) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .exec = ex, .step = st}
#define INTERNAL(nm, ex) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = K1, .flags = RT_CMD_INTERNAL, .exec = ex}
#define W_FAST "@write @sortedset @fast"
#define R_FAST "@read @sortedset @fast"
#define W_SLOW "@write @sortedset @slow"
#define R_SLOW "@read @sortedset @slow"
#define G "sorted-set"
#define LOGN_M "O(log(N)+M) with N being the number of elements in the sorted set and M the " \
               "number of elements returned."
#define LOGN_M_LIMIT "O(log(N)+M) with N being the number of elements in the sorted set and M " \
    "the number of elements being returned. If M is constant (e.g. always asking for the " \
    "first 10 elements with LIMIT), you can consider it O(log(N))."
#define LOGN_M_REM "O(log(N)+M) with N being the number of elements in the sorted set and M " \
    "the number of elements removed by the operation."
#define POP_CPLX "O(log(N)*M) with N being the number of elements in the sorted set, and M " \
    "being the number of elements popped."

const struct cmd_def cmd_zsets_table[] = {
    {"zadd", -4, "write denyoom fast", W_FAST, KEYS("zadd", K1, zadd_exec, NULL), G, "1.2.0",
     "Add one or more members to a sorted set, or update its score if it already exists",
     "O(log(N)) for each item added, where N is the number of elements in the sorted set."},
    {"zincrby", 4, "write denyoom fast", W_FAST, KEYS("zincrby", K1, zincrby_exec, NULL), G,
     "1.2.0", "Increment the score of a member in a sorted set",
     "O(log(N)) where N is the number of elements in the sorted set."},
    {"zrem", -3, "write fast", W_FAST, KEYS("zrem", K1, zrem_exec, NULL), G, "1.2.0",
     "Remove one or more members from a sorted set",
     "O(M*log(N)) with N being the number of elements in the sorted set and M the number of "
     "elements to be removed."},
    {"zcard", 2, "readonly fast", R_FAST, KEYS("zcard", K1, zcard_exec, NULL), G, "1.2.0",
     "Get the number of members in a sorted set", "O(1)"},
    {"zcount", 4, "readonly fast", R_FAST, KEYS("zcount", K1, zcount_exec, NULL), G, "2.0.0",
     "Count the members in a sorted set with scores within the given values",
     "O(log(N)) with N being the number of elements in the sorted set."},
    {"zlexcount", 4, "readonly fast", R_FAST, KEYS("zlexcount", K1, zlexcount_exec, NULL), G,
     "2.8.9", "Count the number of members in a sorted set between a given lexicographical range",
     "O(log(N)) with N being the number of elements in the sorted set."},
    {"zscore", 3, "readonly fast", R_FAST, KEYS("zscore", K1, zscore_exec, NULL), G, "1.2.0",
     "Get the score associated with the given member in a sorted set", "O(1)"},
    {"zmscore", -3, "readonly fast", R_FAST, KEYS("zmscore", K1, zmscore_exec, NULL), G, "6.2.0",
     "Get the score associated with the given members in a sorted set",
     "O(N) where N is the number of members being requested."},
    {"zrank", -3, "readonly fast", R_FAST, KEYS("zrank", K1, zrank_exec, NULL), G, "2.0.0",
     "Determine the index of a member in a sorted set", "O(log(N))"},
    {"zrevrank", -3, "readonly fast", R_FAST, KEYS("zrevrank", K1, zrevrank_exec, NULL), G,
     "2.0.0",
     "Determine the index of a member in a sorted set, with scores ordered from high to low",
     "O(log(N))"},
    {"zrange", -4, "readonly", R_SLOW, KEYS("zrange", K1, zrange_exec, NULL), G, "1.2.0",
     "Return a range of members in a sorted set", LOGN_M},
    {"zrevrange", -4, "readonly", R_SLOW, KEYS("zrevrange", K1, zrevrange_exec, NULL), G,
     "1.2.0",
     "Return a range of members in a sorted set, by index, with scores ordered from high to "
     "low", LOGN_M},
    {"zrangebyscore", -4, "readonly", R_SLOW,
     KEYS("zrangebyscore", K1, zrangebyscore_exec, NULL), G, "1.0.5",
     "Return a range of members in a sorted set, by score", LOGN_M_LIMIT},
    {"zrevrangebyscore", -4, "readonly", R_SLOW,
     KEYS("zrevrangebyscore", K1, zrevrangebyscore_exec, NULL), G, "2.2.0",
     "Return a range of members in a sorted set, by score, with scores ordered from high to "
     "low", LOGN_M_LIMIT},
    {"zrangebylex", -4, "readonly", R_SLOW, KEYS("zrangebylex", K1, zrangebylex_exec, NULL), G,
     "2.8.9", "Return a range of members in a sorted set, by lexicographical range",
     LOGN_M_LIMIT},
    {"zrevrangebylex", -4, "readonly", R_SLOW,
     KEYS("zrevrangebylex", K1, zrevrangebylex_exec, NULL), G, "2.8.9",
     "Return a range of members in a sorted set, by lexicographical range, ordered from "
     "higher to lower strings.", LOGN_M_LIMIT},
    {"zremrangebyrank", 4, "write", W_SLOW,
     KEYS("zremrangebyrank", K1, zremrangebyrank_exec, NULL), G, "2.0.0",
     "Remove all members in a sorted set within the given indexes", LOGN_M_REM},
    {"zremrangebyscore", 4, "write", W_SLOW,
     KEYS("zremrangebyscore", K1, zremrangebyscore_exec, NULL), G, "1.2.0",
     "Remove all members in a sorted set within the given scores", LOGN_M_REM},
    {"zremrangebylex", 4, "write", W_SLOW,
     KEYS("zremrangebylex", K1, zremrangebylex_exec, NULL), G, "2.8.9",
     "Remove all members in a sorted set between the given lexicographical range", LOGN_M_REM},
    {"zpopmin", -2, "write fast", W_FAST, KEYS("zpopmin", K1, zpopmin_exec, NULL), G, "5.0.0",
     "Remove and return members with the lowest scores in a sorted set", POP_CPLX},
    {"zpopmax", -2, "write fast", W_FAST, KEYS("zpopmax", K1, zpopmax_exec, NULL), G, "5.0.0",
     "Remove and return members with the highest scores in a sorted set", POP_CPLX},
    {"zrandmember", -2, "readonly", R_SLOW, KEYS("zrandmember", K1, zrandmember_exec, NULL), G,
     "6.2.0", "Get one or multiple random elements from a sorted set",
     "O(N) where N is the number of elements returned"},
    {"zscan", -3, "readonly", R_SLOW, KEYS("zscan", K1, zscan_exec, NULL), G, "2.8.0",
     "Incrementally iterate sorted sets elements and associated scores",
     "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
     "the cursor to return back to 0. N is the number of elements inside the collection.."},
    {"zrangestore", -5, "write denyoom", W_SLOW,
     KEYS("zrangestore", ((struct rt_keyspec){1, 2, 1, 0}), zrangestore_exec, zrangestore_step),
     G, "6.2.0", "Store a range of members from sorted set into another key",
     "O(log(N)+M) with N being the number of elements in the sorted set and M the number of "
     "elements stored into the destination key."},
    {"zmpop", -4, "write movablekeys", W_SLOW,
     KEYS("zmpop", ((struct rt_keyspec){0, 0, 0, 1}), zmpop_exec, zmpop_step), G, "7.0.0",
     "Remove and return members with scores in a sorted set",
     "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of "
     "elements in the sorted set, and M being the number of elements popped."},

    /* Parts of multi-shard steps. */
    {"__zprobe", 2, "readonly", "@read @sortedset", INTERNAL("__zprobe", zprobe_exec), G, "", "",
     ""},
    {"__zpop", 4, "write", "@write @sortedset", INTERNAL("__zpop", zpop_part_exec), G, "", "",
     ""},
    {"__zrangeget", -4, "readonly", "@read @sortedset",
     INTERNAL("__zrangeget", zrangeget_exec), G, "", "", ""},
    {"__zstore", -2, "write", "@write @sortedset", INTERNAL("__zstore", zstore_exec), G, "", "",
     ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
