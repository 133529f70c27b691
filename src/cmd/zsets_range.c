/* The ZRANGE family (ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX
 * ZREVRANGEBYLEX; the parsing and walk shared with ZRANGESTORE) and the range removals
 * (ZREMRANGEBYRANK/SCORE/LEX), as Redis's zrangeGenericCommand and
 * zremrangeGenericCommand: same argument order, same checks in the same order. */
#include "cmd/zsets.h"

#include "base/numfmt.h"

const char *zrange_parse(const rt_str *argv, int argc, int first, bool store, enum zr_type type,
                         enum zr_dir dir, struct zrange_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->limit = -1;
    int minidx = first + 1, maxidx = first + 2;
    for (int j = first + 3; j < argc; j++) {
        int left = argc - j - 1;
        const rt_str *a = &argv[j];
        if (!store && arg_is(a, "withscores")) {
            sp->withscores = true;
        } else if (arg_is(a, "limit") && left >= 2) {
            if (!str_to_i64(argv[j + 1].ptr, argv[j + 1].len, &sp->offset) ||
                !str_to_i64(argv[j + 2].ptr, argv[j + 2].len, &sp->limit))
                return ERR_NOT_INT;
            j += 2;
        } else if (dir == ZR_DIR_AUTO && arg_is(a, "rev")) {
            dir = ZR_REVERSE;
        } else if (type == ZR_AUTO && arg_is(a, "bylex")) {
            type = ZR_LEX;
        } else if (type == ZR_AUTO && arg_is(a, "byscore")) {
            type = ZR_SCORE;
        } else {
            return ERR_SYNTAX;
        }
    }
    if (dir == ZR_DIR_AUTO)
        dir = ZR_FORWARD;
    if (type == ZR_AUTO)
        type = ZR_RANK;
    /* Redis tests the limit's value: "LIMIT 0 -1" passes as no LIMIT. */
    if (sp->limit != -1 && type == ZR_RANK)
        return "ERR syntax error, LIMIT is only supported in combination with either BYSCORE "
               "or BYLEX";
    if (sp->withscores && type == ZR_LEX)
        return "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
    sp->type = type;
    sp->rev = dir == ZR_REVERSE;
    if (sp->rev && type != ZR_RANK) {
        int t = minidx;
        minidx = maxidx;
        maxidx = t;
    }
    const rt_str *mn = &argv[minidx], *mx = &argv[maxidx];
    switch (type) {
    case ZR_SCORE:
        if (!zs_parse_range(mn->ptr, mn->len, mx->ptr, mx->len, &sp->r))
            return ERR_ZMINMAX_FLOAT;
        break;
    case ZR_LEX:
        if (!zs_parse_lexrange(mn->ptr, mn->len, mx->ptr, mx->len, &sp->lr))
            return ERR_ZMINMAX_LEX;
        break;
    default:
        if (!str_to_i64(mn->ptr, mn->len, &sp->start) || !str_to_i64(mx->ptr, mx->len, &sp->end))
            return ERR_NOT_INT;
        break;
    }
    return NULL;
}

size_t zrange_walk(const struct zs *z, const struct zrange_spec *sp,
                   void (*fn)(void *arg, const char *m, size_t len, double score), void *arg)
{
    struct zs_iter it;
    int64_t llen = (int64_t)zs_len(z);
    int64_t take;
    if (sp->type == ZR_RANK) {
        size_t start, end;
        if (!index_range(sp->start, sp->end, (size_t)llen, &start, &end))
            return 0;
        take = (int64_t)(end - start + 1);
        zs_iter_rank(&it, z, start, sp->rev);
    } else {
        /* A negative offset skips everything in Redis; a negative limit is no limit. */
        if (sp->offset < 0 || (sp->offset > 0 && sp->offset >= llen))
            return 0;
        if (sp->type == ZR_SCORE)
            zs_iter_range(&it, z, &sp->r, sp->rev);
        else
            zs_iter_lex(&it, z, &sp->lr, sp->rev);
        const char *m;
        size_t ml;
        double sc;
        for (int64_t k = 0; k < sp->offset; k++)
            if (!zs_iter_next(&it, &m, &ml, &sc))
                return 0;
        take = sp->limit < 0 ? INT64_MAX : sp->limit;
    }
    size_t n = 0;
    const char *m;
    size_t ml;
    double sc;
    while (take-- > 0 && zs_iter_next(&it, &m, &ml, &sc)) {
        fn(arg, m, ml, sc);
        n++;
    }
    return n;
}

/* ---- Replies to a client ---- */

struct emit_ctx {
    struct buf items;
    int proto;
    bool withscores;
};

static void emit_one(void *arg, const char *m, size_t len, double score)
{
    struct emit_ctx *c = arg;
    zcmd_emit(&c->items, c->proto, c->withscores, m, len, score);
}

static void zrange_generic(struct rt_call *call, enum zr_type type, enum zr_dir dir)
{
    struct zrange_spec sp;
    const char *err = zrange_parse(call->argv, call->argc, 1, false, type, dir, &sp);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &call->argv[1], false, &e, &z);
    if (r < 0)
        return;
    if (r == 0) {
        resp_array(call->out, 0);
        return;
    }
    /* Members are written to a side buffer first: the count leads the reply. */
    struct emit_ctx c = {.proto = call->proto, .withscores = sp.withscores};
    size_t n = zrange_walk(&z, &sp, emit_one, &c);
    zcmd_emit_header(call->out, call->proto, sp.withscores, n);
    buf_append(call->out, c.items.data, c.items.len);
    buf_free(&c.items);
}

void zrange_exec(struct rt_call *call) { zrange_generic(call, ZR_AUTO, ZR_DIR_AUTO); }
void zrevrange_exec(struct rt_call *call) { zrange_generic(call, ZR_RANK, ZR_REVERSE); }
void zrangebyscore_exec(struct rt_call *call) { zrange_generic(call, ZR_SCORE, ZR_FORWARD); }
void zrevrangebyscore_exec(struct rt_call *call) { zrange_generic(call, ZR_SCORE, ZR_REVERSE); }
void zrangebylex_exec(struct rt_call *call) { zrange_generic(call, ZR_LEX, ZR_FORWARD); }
void zrevrangebylex_exec(struct rt_call *call) { zrange_generic(call, ZR_LEX, ZR_REVERSE); }

/* ---- ZREMRANGEBYRANK / SCORE / LEX ---- */

static void zremrange_generic(struct rt_call *call, enum zr_type type)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *a = call->argv;
    int64_t start = 0, end = 0;
    struct zs_range range;
    struct zs_lexrange lex;
    if (type == ZR_RANK) {
        if (!arg_i64(call, &a[2], &start) || !arg_i64(call, &a[3], &end))
            return;
    } else if (type == ZR_SCORE) {
        if (!zs_parse_range(a[2].ptr, a[2].len, a[3].ptr, a[3].len, &range)) {
            resp_error(call->out, ERR_ZMINMAX_FLOAT);
            return;
        }
    } else if (!zs_parse_lexrange(a[2].ptr, a[2].len, a[3].ptr, a[3].len, &lex)) {
        resp_error(call->out, ERR_ZMINMAX_LEX);
        return;
    }
    struct entry *e;
    struct zs z;
    int r = zcmd_lookup(call, &a[1], true, &e, &z);
    if (r <= 0) {
        if (r == 0)
            resp_int(call->out, 0);
        return;
    }
    size_t deleted;
    const char *event;
    if (type == ZR_RANK) {
        size_t s, t;
        if (!index_range(start, end, zs_len(&z), &s, &t)) {
            resp_int(call->out, 0);
            return;
        }
        deleted = zs_delete_rank(&z, s, t);
        event = "zremrangebyrank";
    } else if (type == ZR_SCORE) {
        deleted = zs_delete_range(&z, &range);
        event = "zremrangebyscore";
    } else {
        deleted = zs_delete_lex(&z, &lex);
        event = "zremrangebylex";
    }
    resp_int(call->out, (int64_t)deleted);
    if (deleted)
        zcmd_written(cs, &a[1], e, &z, event);
    else
        zs_put(e, &z);
}

void zremrangebyrank_exec(struct rt_call *call) { zremrange_generic(call, ZR_RANK); }
void zremrangebyscore_exec(struct rt_call *call) { zremrange_generic(call, ZR_SCORE); }
void zremrangebylex_exec(struct rt_call *call) { zremrange_generic(call, ZR_LEX); }
