/* Sorted-set algebra across shards (see zsets_algebra.h).
 *
 * The runtime calls the step on the origin with every key locked (exclusively for the
 * *STORE variants, whose destination is locked too). Phase 0 checks numkeys and parses
 * the options, then sends one __zread per shard owning inputs, carrying that shard's
 * input keys in request order: DATA to read them, or only TYPES when an option is bad
 * (Redis checks the inputs' types before the options, so WRONGTYPE wins over a syntax
 * error). Phase 1 passes a WRONGTYPE on, or the option error, or computes the result
 * from the pairs read, exactly as the one-shard exec does, then replies or (*STORE)
 * sends the result to the destination's shard in a __zalgstore. Phase 2 replies its
 * count. Nothing is written before every input has been read and checked. */
#include "cmd/zsets_algebra.h"

#include <stdlib.h>

#include "base/numfmt.h"
#include "cmd/typed.h"
#include "store/set.h"

/* ---- Parts ---- */

static bool emit_member(void *arg, const char *m, size_t len, const char *val, size_t vlen,
                        double score)
{
    struct buf *out = arg;
    (void)val;
    (void)vlen;
    char b[64];
    int n = double_to_str(b, sizeof b, score);
    resp_bulk(out, m, len);
    resp_bulk(out, b, (size_t)n);
    return true;
}

static bool emit_set_member(void *arg, const char *m, size_t len, const char *val,
                            size_t vlen, double score)
{
    struct buf *out = arg;
    (void)val;
    (void)vlen;
    (void)score;
    resp_bulk(out, m, len);
    resp_bulk(out, "1", 1);
    return true;
}

/* __zread TYPES|DATA key [key ...] */
void zread_exec(struct rt_call *call)
{
    struct store *s = cmd_shard(call)->store;
    bool data = arg_is(&call->argv[1], "data");
    if (!data && !arg_is(&call->argv[1], "types")) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    for (int k = 2; k < call->argc; k++) {
        struct entry *e = store_find(s, call->argv[k].ptr, call->argv[k].len, true);
        store_count_lookup(s, call->argv[k].ptr, call->argv[k].len, e != NULL); /* the inputs are reads in Redis */
        if (e && entry_type(e) != VT_ZSET && entry_type(e) != VT_SET) {
            resp_error(call->out, ERR_WRONGTYPE);
            return;
        }
    }
    if (!data) {
        resp_ok(call->out);
        return;
    }
    resp_array(call->out, call->argc - 2);
    for (int k = 2; k < call->argc; k++) {
        struct entry *e = store_find(s, call->argv[k].ptr, call->argv[k].len, true);
        if (!e) {
            resp_array(call->out, 0);
            continue;
        }
        void *obj = entry_obj(e);
        enum obj_enc enc = entry_obj_enc(e);
        if (entry_type(e) == VT_ZSET) {
            resp_array(call->out, (int64_t)(2 * zset_obj_len(obj, enc)));
            zset_obj_each(obj, enc, emit_member, call->out);
        } else {
            resp_array(call->out, (int64_t)(2 * set_obj_len(obj, enc)));
            set_obj_each(obj, enc, emit_set_member, call->out);
        }
    }
}

/* __zalgstore dst event [member score ...] */
void zalgstore_exec(struct rt_call *call)
{
    static const char *const events[] = {"zunionstore", "zinterstore", "zdiffstore"};
    const char *event = NULL;
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (arg_is(&call->argv[2], events[i]))
            event = events[i]; /* a C string that outlives the call, for the hook */
    if (!event || (call->argc - 3) % 2) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    size_t pairs = (size_t)(call->argc - 3) / 2, maxlen = 0;
    for (size_t i = 0; i < pairs; i++)
        if (call->argv[3 + 2 * i].len > maxlen)
            maxlen = call->argv[3 + 2 * i].len;
    struct zs z = zs_create(pairs, maxlen);
    for (size_t i = 0; i < pairs; i++) {
        const rt_str *m = &call->argv[3 + 2 * i], *sc = &call->argv[4 + 2 * i];
        double d;
        if (!str_to_double(sc->ptr, sc->len, &d)) {
            zs_free(&z);
            resp_error(call->out, ERR_NOT_FLOAT);
            return;
        }
        zs_add(&z, m->ptr, m->len, d, 0, NULL);
    }
    zalg_store(cmd_shard(call), call->out, &call->argv[1], &z, event);
}

/* ---- The step ---- */

struct zstep {
    struct zalg_opts o;
    const char *opt_err;    /* a constant: an option error, replied after the types */
    unsigned nparts;
    unsigned *order;        /* input indexes grouped by part, request order within one */
    unsigned *part_first;   /* nparts + 1 offsets into order */
};

static void zstep_free(void *state)
{
    struct zstep *st = state;
    zalg_opts_free(&st->o);
    free(st->order);
    free(st->part_first);
}

static void phase_read(struct rt_txn *t, struct zstep *st, const struct zalg_def *d,
                       const rt_str *argv, int argc)
{
    const char *err = zalg_parse_numkeys(d, argv, argc, &st->o);
    if (err) {
        txn_finish_error(t, err);
        return;
    }
    st->opt_err = zalg_parse_opts(d, argv, argc, &st->o);
    struct rt_shard *sh = rt_txn_shard(t);
    unsigned nshards = rt_nshards(sh);
    size_t n = (size_t)st->o.setnum;
    unsigned *shard_of = malloc(n * sizeof *shard_of);
    rt_str *pa = malloc((n + 2) * sizeof *pa);
    st->order = malloc(n * sizeof *st->order);
    st->part_first = malloc((nshards + 1) * sizeof *st->part_first);
    if (!shard_of || !pa || !st->order || !st->part_first)
        abort();
    const rt_str *keys = &argv[st->o.first];
    for (size_t i = 0; i < n; i++)
        shard_of[i] = rt_key_shard(sh, keys[i].ptr, keys[i].len);
    pa[0] = (rt_str){"__zread", 7};
    pa[1] = st->opt_err ? (rt_str){"TYPES", 5} : (rt_str){"DATA", 4};
    unsigned k = 0;
    for (unsigned s = 0; s < nshards; s++) {
        unsigned cnt = 0;
        for (size_t i = 0; i < n; i++)
            if (shard_of[i] == s) {
                pa[2 + cnt++] = keys[i];
                st->order[k++] = (unsigned)i;
            }
        if (!cnt)
            continue;
        st->part_first[st->nparts++] = k - cnt;
        rt_txn_part(t, s, (int)cnt + 2, pa);
    }
    st->part_first[st->nparts] = k;
    free(shard_of);
    free(pa);
}

/* Read one part's DATA reply into the inputs it carries; false if malformed. */
static bool read_part(rt_str r, const struct zstep *st, unsigned p, struct zsrc *src,
                      struct zpair **store)
{
    size_t pos = 0;
    struct resp_val v, m, sc;
    unsigned first = st->part_first[p], cnt = st->part_first[p + 1] - first;
    if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY || v.n != cnt)
        return false;
    for (unsigned k = 0; k < cnt; k++) {
        unsigned i = st->order[first + k];
        /* Every element takes at least 4 bytes: the count is bounded by the reply. */
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY || v.n < 0 ||
            v.n % 2 || (uint64_t)v.n > r.len)
            return false;
        size_t np = (size_t)v.n / 2;
        struct zpair *pairs = np ? malloc(np * sizeof *pairs) : NULL;
        if (np && !pairs)
            abort();
        store[i] = pairs;
        for (size_t j = 0; j < np; j++) {
            if (!resp_read(r.ptr, r.len, &pos, &m) || m.type != RESP_BULK || m.n < 0 ||
                !resp_read(r.ptr, r.len, &pos, &sc) || sc.type != RESP_BULK ||
                !str_to_double(sc.str, sc.len, &pairs[j].score))
                return false;
            pairs[j].m = m.str;
            pairs[j].len = m.len;
        }
        src[i].kind = np ? ZSRC_PAIRS : ZSRC_EMPTY;
        src[i].pairs = pairs;
        src[i].len = np;
    }
    return true;
}

/* Send the result to the destination's shard as __zalgstore pairs. */
static void send_store(struct rt_txn *t, const struct zalg_def *d, const rt_str *dst,
                       const struct zs *res)
{
    size_t n = zs_len(res);
    /* The bytes first (a listpack integer member lives in the iterator's buffer), then
     * the arguments pointing into them once the buffer stopped moving. */
    struct buf bytes = {0};
    size_t *off = malloc((2 * n + 1) * sizeof *off);
    rt_str *pa = malloc((2 * n + 3) * sizeof *pa);
    if (!off || !pa)
        abort();
    struct zs_iter it;
    zs_iter_rank(&it, res, 0, false);
    const char *m;
    size_t len, i = 0;
    double sc;
    while (zs_iter_next(&it, &m, &len, &sc)) {
        char b[64];
        int bl = double_to_str(b, sizeof b, sc);
        off[i++] = bytes.len;
        buf_append(&bytes, m, len);
        off[i++] = bytes.len;
        buf_append(&bytes, b, (size_t)bl);
    }
    off[i] = bytes.len;
    pa[0] = (rt_str){"__zalgstore", 11};
    pa[1] = *dst;
    pa[2] = (rt_str){d->event, strlen(d->event)};
    for (size_t j = 0; j < 2 * n; j++)
        pa[3 + j] = (rt_str){bytes.data + off[j], off[j + 1] - off[j]};
    struct rt_shard *sh = rt_txn_shard(t);
    rt_txn_part(t, rt_key_shard(sh, dst->ptr, dst->len), (int)(2 * n + 3), pa);
    buf_free(&bytes);
    free(off);
    free(pa);
}

static void phase_compute(struct rt_txn *t, struct zstep *st, const struct zalg_def *d,
                          const rt_str *argv)
{
    for (unsigned p = 0; p < st->nparts; p++) {
        rt_str r = rt_txn_result(t, p);
        if (r.len && r.ptr[0] == '-') {
            rt_txn_finish(t, r.ptr, r.len); /* WRONGTYPE */
            return;
        }
    }
    if (st->opt_err) {
        txn_finish_error(t, st->opt_err);
        return;
    }
    size_t n = (size_t)st->o.setnum;
    struct zsrc *src = calloc(n, sizeof *src);
    struct zpair **store = calloc(n, sizeof *store);
    if (!src || !store)
        abort();
    bool ok = true;
    for (unsigned p = 0; p < st->nparts && ok; p++)
        if (!read_part(rt_txn_result(t, p), st, p, src, store)) {
            txn_finish_bad(t, rt_txn_result(t, p));
            ok = false;
        }
    if (ok) {
        for (size_t i = 0; i < n; i++) {
            src[i].key = &argv[st->o.first + i];
            src[i].pos = i;
            src[i].weight = st->o.weights[i];
        }
        struct zs res;
        uint64_t card = zalg_compute(d, &st->o, src, &res);
        struct buf *b = rt_txn_scratch(t);
        if (d->card) {
            resp_int(b, (int64_t)card);
            rt_txn_finish(t, b->data, b->len);
        } else if (d->store) {
            send_store(t, d, &argv[1], &res);
            zs_free(&res);
        } else {
            zalg_reply(b, rt_txn_proto(t), st->o.withscores, &res);
            zs_free(&res);
            rt_txn_finish(t, b->data, b->len);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(store[i]);
    free(store);
    free(src);
}

void zalg_step(struct rt_txn *t, unsigned phase, const struct zalg_def *d)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct zstep *st = rt_txn_state(t, sizeof *st);
    if (phase == 0) {
        rt_txn_on_free(t, zstep_free);
        phase_read(t, st, d, argv, argc);
    } else if (phase == 1) {
        phase_compute(t, st, d, argv);
    } else {
        rt_str r = rt_txn_result(t, 0);
        if (r.len && r.ptr[0] == ':')
            rt_txn_finish(t, r.ptr, r.len);
        else
            txn_finish_bad(t, r);
    }
}
