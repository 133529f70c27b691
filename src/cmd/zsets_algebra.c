/* Sorted-set algebra: parsing, the algorithms, the one-shard exec and the table (see
 * zsets_algebra.h). Semantics follow Redis 7's zunionInterDiffGenericCommand:
 *
 * - numkeys is checked before any key is read; then every input's type (WRONGTYPE at the
 *   first key holding neither a zset nor a set); only then the options, so a bad option
 *   next to a string key replies WRONGTYPE.
 * - UNION and INTER order their inputs by cardinality, smallest first, keeping the given
 *   order between equal sizes (glibc's qsort is a merge sort there): the order decides
 *   in which order floating-point scores are aggregated, so it is part of the result.
 * - A weighted score that is NaN (inf * 0) starts as 0; a SUM that becomes NaN
 *   (inf + -inf) is 0; MIN and MAX keep the current score against a NaN.
 * - INTER walks the smallest input and looks each member up in the others; DIFF keeps
 *   the members of the first input found in no other, with their own scores (DIFF has
 *   no weights). */
#include "cmd/zsets_algebra.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/numfmt.h"
#include "store/fdict.h"
#include "store/set.h"

/* ---- Arguments ---- */

const char *zalg_parse_numkeys(const struct zalg_def *d, const rt_str *argv, int argc,
                               struct zalg_opts *o)
{
    memset(o, 0, sizeof *o);
    int idx = d->store ? 2 : 1;
    o->first = idx + 1;
    if (!str_to_i64(argv[idx].ptr, argv[idx].len, &o->setnum))
        return ERR_NOT_INT;
    if (o->setnum < 1) {
        snprintf(o->err, sizeof o->err, "ERR at least 1 input key is needed for '%s' command",
                 d->name);
        return o->err;
    }
    if (o->setnum > argc - o->first)
        return ERR_SYNTAX;
    return NULL;
}

const char *zalg_parse_opts(const struct zalg_def *d, const rt_str *argv, int argc,
                            struct zalg_opts *o)
{
    int64_t n = o->setnum;
    o->weights = malloc((size_t)n * sizeof *o->weights); /* n <= argc: bounded */
    if (!o->weights)
        abort();
    for (int64_t i = 0; i < n; i++)
        o->weights[i] = 1.0;
    bool algebra = d->op != ZOP_DIFF && !d->card; /* WEIGHTS and AGGREGATE allowed */
    int j = o->first + (int)n;
    while (j < argc) {
        int64_t remaining = argc - j;
        if (algebra && remaining >= n + 1 && arg_is(&argv[j], "weights")) {
            j++;
            for (int64_t i = 0; i < n; i++, j++)
                if (!str_to_double(argv[j].ptr, argv[j].len, &o->weights[i]))
                    return "ERR weight value is not a float";
        } else if (algebra && remaining >= 2 && arg_is(&argv[j], "aggregate")) {
            const rt_str *a = &argv[j + 1];
            if (arg_is(a, "sum"))
                o->agg = ZAGG_SUM;
            else if (arg_is(a, "min"))
                o->agg = ZAGG_MIN;
            else if (arg_is(a, "max"))
                o->agg = ZAGG_MAX;
            else
                return ERR_SYNTAX;
            j += 2;
        } else if (!d->store && !d->card && arg_is(&argv[j], "withscores")) {
            o->withscores = true;
            j++;
        } else if (d->card && remaining >= 2 && arg_is(&argv[j], "limit")) {
            /* getPositiveLongFromObjectOrReply with its own message for both a
             * non-integer and a negative value. */
            if (!str_to_i64(argv[j + 1].ptr, argv[j + 1].len, &o->limit) || o->limit < 0)
                return "ERR LIMIT can't be negative";
            j += 2;
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

void zalg_opts_free(struct zalg_opts *o)
{
    free(o->weights);
    o->weights = NULL;
}

/* ---- Inputs ---- */

static bool same_input(const struct zsrc *a, const struct zsrc *b)
{
    return a->key->len == b->key->len && memcmp(a->key->ptr, b->key->ptr, a->key->len) == 0;
}

/* The score of member m in input s; false when absent. */
static bool src_find(struct zsrc *s, const char *m, size_t len, double *score)
{
    switch (s->kind) {
    case ZSRC_ZSET: {
        struct zs z = {s->obj, s->enc};
        return zs_score(&z, m, len, score);
    }
    case ZSRC_SET: {
        struct set_val sv = {s->obj, s->enc};
        *score = 1.0;
        return set_has(&sv, m, len);
    }
    case ZSRC_PAIRS: {
        if (!s->index) {
            s->index = fd_new(s->len);
            for (size_t i = 0; i < s->len; i++)
                fd_add(s->index, s->pairs[i].m, s->pairs[i].len,
                       (const char *)&s->pairs[i].score, sizeof(double));
        }
        struct fnode *n = fd_find(s->index, m, len);
        if (!n)
            return false;
        size_t vl;
        memcpy(score, fn_val(n, &vl), sizeof *score);
        return true;
    }
    case ZSRC_EMPTY:
        break;
    }
    return false;
}

/* A walk over one input's members: fn returns false to stop. */
struct zrun;
typedef bool (*member_fn)(struct zrun *r, const char *m, size_t len, double score);

struct zrun {
    const struct zalg_def *d;
    const struct zalg_opts *o;
    struct zsrc *src;
    size_t n;
    struct zs *res;
    uint64_t card;
    member_fn fn;
    struct zsrc *walked; /* the input whose members are being walked */
    bool is_set;         /* it is a plain set: score 1 */
};

static bool each_adapt(void *arg, const char *s, size_t len, const char *val, size_t vlen,
                       double score)
{
    struct zrun *r = arg;
    (void)val;
    (void)vlen;
    return r->fn(r, s, len, r->is_set ? 1.0 : score);
}

static void src_each(struct zrun *r, struct zsrc *s, member_fn fn)
{
    r->fn = fn;
    r->walked = s;
    r->is_set = s->kind == ZSRC_SET;
    switch (s->kind) {
    case ZSRC_ZSET:
        zset_obj_each(s->obj, s->enc, each_adapt, r);
        break;
    case ZSRC_SET:
        set_obj_each(s->obj, s->enc, each_adapt, r);
        break;
    case ZSRC_PAIRS:
        for (size_t i = 0; i < s->len; i++)
            if (!fn(r, s->pairs[i].m, s->pairs[i].len, s->pairs[i].score))
                break;
        break;
    case ZSRC_EMPTY:
        break;
    }
}

/* ---- The algorithms ---- */

static void aggregate(double *target, double v, enum zalg_agg agg)
{
    if (agg == ZAGG_SUM) {
        *target += v;
        if (isnan(*target))
            *target = 0.0; /* inf + -inf */
    } else if (agg == ZAGG_MIN) {
        if (v < *target)
            *target = v;
    } else if (v > *target) {
        *target = v;
    }
}

static bool union_one(struct zrun *r, const char *m, size_t len, double score)
{
    double v = r->walked->weight * score, cur;
    if (isnan(v))
        v = 0.0;
    if (zs_score(r->res, m, len, &cur)) {
        double old = cur;
        aggregate(&cur, v, r->o->agg);
        if (cur == old && signbit(cur) == signbit(old))
            return true; /* unchanged: spare the skiplist an update */
        if (cur == old)
            zs_delete(r->res, m, len); /* -0 became 0: zs_add sees no change in value */
        v = cur;
    }
    zs_add(r->res, m, len, v, 0, NULL);
    return true;
}

static bool inter_one(struct zrun *r, const char *m, size_t len, double score)
{
    struct zsrc *s0 = &r->src[0];
    double acc = s0->weight * score;
    if (isnan(acc))
        acc = 0.0;
    for (size_t j = 1; j < r->n; j++) {
        double v;
        if (same_input(&r->src[j], s0))
            v = score; /* no lookup into the input being walked */
        else if (!src_find(&r->src[j], m, len, &v))
            return true;
        aggregate(&acc, v * r->src[j].weight, r->o->agg);
    }
    if (r->d->card) {
        r->card++;
        return !(r->o->limit && r->card >= (uint64_t)r->o->limit);
    }
    zs_add(r->res, m, len, acc, 0, NULL);
    return true;
}

static bool diff_one(struct zrun *r, const char *m, size_t len, double score)
{
    for (size_t j = 1; j < r->n; j++) {
        double v;
        if (src_find(&r->src[j], m, len, &v))
            return true;
    }
    zs_add(r->res, m, len, score, 0, NULL);
    return true;
}

static int by_card(const void *a, const void *b)
{
    const struct zsrc *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

uint64_t zalg_compute(const struct zalg_def *d, const struct zalg_opts *o, struct zsrc *src,
                      struct zs *res)
{
    size_t n = (size_t)o->setnum;
    struct zrun r = {.d = d, .o = o, .src = src, .n = n, .res = res};
    /* Always a skiplist while computing, as Redis's temporary result: a listpack
     * would store -0 as the integer 0, and ZUNION/ZINTER/ZDIFF reply -0 from it. A
     * stored result is converted afterwards (zs_store), as Redis does. */
    if (!d->card)
        *res = zs_create(0, SIZE_MAX);
    if (d->op != ZOP_DIFF)
        qsort(src, n, sizeof *src, by_card); /* stable: ties broken by position */
    if (d->op == ZOP_UNION) {
        for (size_t i = 0; i < n; i++)
            src_each(&r, &src[i], union_one);
    } else if (d->op == ZOP_INTER) {
        /* Sorted by size: when the first is non-empty, so are the others. */
        if (src[0].len)
            src_each(&r, &src[0], inter_one);
    } else if (src[0].len) {
        bool repeated = false; /* the first input given again: nothing is left */
        for (size_t j = 1; j < n && !repeated; j++)
            repeated = same_input(&src[j], &src[0]);
        if (!repeated)
            src_each(&r, &src[0], diff_one);
    }
    for (size_t i = 0; i < n; i++)
        if (src[i].index) {
            fd_free(src[i].index);
            src[i].index = NULL;
        }
    return r.card;
}

/* ---- Replies and results ---- */

void zalg_reply(struct buf *out, int proto, bool withscores, const struct zs *res)
{
    size_t n = zs_len(res);
    /* WITHSCORES: flat in RESP2, [member, score] pairs in RESP3 (order matters, so
     * not a map). */
    resp_array(out, (int64_t)(withscores && proto == 2 ? 2 * n : n));
    struct zs_iter it;
    zs_iter_rank(&it, res, 0, false);
    const char *m;
    size_t len;
    double sc;
    while (zs_iter_next(&it, &m, &len, &sc)) {
        if (withscores && proto > 2)
            resp_array(out, 2);
        resp_bulk(out, m, len);
        if (withscores)
            resp_double(out, sc, proto);
    }
}

void zalg_store(struct cmd_shard *cs, struct buf *out, const rt_str *dst, struct zs *res,
                const char *event)
{
    size_t n = zs_len(res);
    enum zs_store_res sr = zs_store(cs->store, dst->ptr, dst->len, res);
    resp_int(out, (int64_t)n);
    if (sr == ZS_STORED)
        cmd_key_written(cs, dst->ptr, dst->len, event);
    else if (sr == ZS_STORE_DELETED)
        cmd_key_written(cs, dst->ptr, dst->len, "del");
}

/* ---- All keys on one shard ---- */

static void zalg_exec(struct rt_call *call, const struct zalg_def *d)
{
    struct cmd_shard *cs = cmd_shard(call);
    struct zalg_opts o;
    const char *err = zalg_parse_numkeys(d, call->argv, call->argc, &o);
    if (err) {
        resp_error(call->out, err);
        return;
    }
    struct zsrc *src = calloc((size_t)o.setnum, sizeof *src);
    if (!src)
        abort();
    /* Inputs by their object, not their entry: a later lookup may delete another,
     * expired, key, but never frees the value of a live one. */
    for (int64_t i = 0; i < o.setnum; i++) {
        const rt_str *k = &call->argv[o.first + i];
        struct zsrc *s = &src[i];
        s->key = k;
        s->pos = (size_t)i;
        struct entry *e = store_find(cs->store, k->ptr, k->len, true);
        store_count_lookup(cs->store, k->ptr, k->len, e != NULL); /* Redis's lookupKeyRead */
        if (!e)
            continue;
        enum val_type t = entry_type(e);
        if (t != VT_ZSET && t != VT_SET) {
            free(src);
            resp_error(call->out, ERR_WRONGTYPE);
            return;
        }
        s->obj = entry_obj(e);
        s->enc = entry_obj_enc(e);
        s->kind = t == VT_ZSET ? ZSRC_ZSET : ZSRC_SET;
        s->len = t == VT_ZSET ? zset_obj_len(s->obj, s->enc) : set_obj_len(s->obj, s->enc);
    }
    err = zalg_parse_opts(d, call->argv, call->argc, &o);
    if (err) {
        resp_error(call->out, err);
    } else {
        for (int64_t i = 0; i < o.setnum; i++)
            src[i].weight = o.weights[i];
        struct zs res;
        uint64_t card = zalg_compute(d, &o, src, &res);
        if (d->card) {
            resp_int(call->out, (int64_t)card);
        } else if (d->store) {
            zalg_store(cs, call->out, &call->argv[1], &res, d->event);
        } else {
            zalg_reply(call->out, call->proto, o.withscores, &res);
            zs_free(&res);
        }
    }
    zalg_opts_free(&o);
    free(src);
}

/* ---- The table ---- */

static const struct zalg_def D_ZUNION = {"zunion", ZOP_UNION, false, false, NULL};
static const struct zalg_def D_ZUNIONSTORE = {"zunionstore", ZOP_UNION, true, false,
                                              "zunionstore"};
static const struct zalg_def D_ZINTER = {"zinter", ZOP_INTER, false, false, NULL};
static const struct zalg_def D_ZINTERSTORE = {"zinterstore", ZOP_INTER, true, false,
                                              "zinterstore"};
static const struct zalg_def D_ZINTERCARD = {"zintercard", ZOP_INTER, false, true, NULL};
static const struct zalg_def D_ZDIFF = {"zdiff", ZOP_DIFF, false, false, NULL};
static const struct zalg_def D_ZDIFFSTORE = {"zdiffstore", ZOP_DIFF, true, false,
                                             "zdiffstore"};

#define ZALG_FUNCS(fn, def)                                                       \
    static void fn##_exec(struct rt_call *call) { zalg_exec(call, &def); }        \
    static void fn##_step(struct rt_txn *t, unsigned phase) { zalg_step(t, phase, &def); }
ZALG_FUNCS(zunion, D_ZUNION)
ZALG_FUNCS(zunionstore, D_ZUNIONSTORE)
ZALG_FUNCS(zinter, D_ZINTER)
ZALG_FUNCS(zinterstore, D_ZINTERSTORE)
ZALG_FUNCS(zintercard, D_ZINTERCARD)
ZALG_FUNCS(zdiff, D_ZDIFF)
ZALG_FUNCS(zdiffstore, D_ZDIFFSTORE)

/* numkeys at argv[1]; or the destination at 1 and numkeys at argv[2]. */
#define KN_READ {0, 0, 0, 1}
#define KN_STORE {1, 1, 1, 2}
#define KEYS(nm, spec, fn) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .exec = fn##_exec, .step = fn##_step}
#define INTERNAL(nm, spec, ex) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .flags = RT_CMD_INTERNAL, .exec = ex}
#define R_FLAGS "readonly movablekeys"
#define W_FLAGS "write denyoom movablekeys"
#define R_ACL "@read @sortedset @slow"
#define W_ACL "@write @sortedset @slow"
#define G "sorted-set"
#define UNION_CPLX(sep)                                                                   \
    "O(N)+O(M" sep "log(M)) with N being the sum of the sizes of the input sorted sets, " \
    "and M being the number of elements in the resulting sorted set."
#define INTER_CPLX                                                                      \
    "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being " \
    "the number of input sorted sets and M being the number of elements in the "        \
    "resulting sorted set."
#define DIFF_CPLX                                                                       \
    "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the " \
    "sets, N is the size of the first set, and K is the size of the result set."

const struct cmd_def cmd_zsets_algebra_table[] = {
    {"zunion", -3, R_FLAGS, R_ACL, KEYS("zunion", KN_READ, zunion), G, "6.2.0",
     "Add multiple sorted sets", UNION_CPLX("*")},
    {"zunionstore", -4, W_FLAGS, W_ACL, KEYS("zunionstore", KN_STORE, zunionstore), G, "2.0.0",
     "Add multiple sorted sets and store the resulting sorted set in a new key",
     UNION_CPLX(" ")},
    {"zinter", -3, R_FLAGS, R_ACL, KEYS("zinter", KN_READ, zinter), G, "6.2.0",
     "Intersect multiple sorted sets", INTER_CPLX},
    {"zinterstore", -4, W_FLAGS, W_ACL, KEYS("zinterstore", KN_STORE, zinterstore), G, "2.0.0",
     "Intersect multiple sorted sets and store the resulting sorted set in a new key",
     INTER_CPLX},
    {"zintercard", -3, R_FLAGS, R_ACL, KEYS("zintercard", KN_READ, zintercard), G, "7.0.0",
     "Intersect multiple sorted sets and return the cardinality of the result",
     "O(N*K) worst case with N being the smallest input sorted set, K being the number of "
     "input sorted sets."},
    {"zdiff", -3, R_FLAGS, R_ACL, KEYS("zdiff", KN_READ, zdiff), G, "6.2.0",
     "Subtract multiple sorted sets", DIFF_CPLX},
    {"zdiffstore", -4, W_FLAGS, W_ACL, KEYS("zdiffstore", KN_STORE, zdiffstore), G, "6.2.0",
     "Subtract multiple sorted sets and store the resulting sorted set in a new key",
     DIFF_CPLX},

    /* Parts of the multi-shard step. */
    {"__zread", -3, "readonly", "@read @sortedset",
     INTERNAL("__zread", ((struct rt_keyspec){2, -1, 1, 0}), zread_exec), G, "", "", ""},
    {"__zalgstore", -3, "write", "@write @sortedset",
     INTERNAL("__zalgstore", ((struct rt_keyspec){1, 1, 1, 0}), zalgstore_exec), G, "", "",
     ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
