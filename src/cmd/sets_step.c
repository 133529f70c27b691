/* The set algebra (SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE) and
 * SMOVE when their keys span shards (step; one shard is sets_algebra.c).
 *
 * Across shards nothing ships a whole set that a cheaper plan avoids:
 *   INTER  0: __scard on every owner (types, sizes, missing keys);
 *          1: __sop INTER on the owner of the smallest set: its local intersection is
 *             the candidate list (never longer than any other set);
 *          2: __sprobe ALL on the other owners, one flag per candidate (SINTERCARD with
 *             a LIMIT probes in growing chunks and stops once the limit is reached);
 *          3: STORE only: __sstore on the destination's owner.
 *   UNION  0: __sop UNION on every owner (local unions), merged on the origin;
 *          1: STORE only: __sstore.
 *   DIFF   0: __scard everywhere (and __sclass of the first set for SDIFFSTORE);
 *          then whichever side is smaller travels: either the other owners' local
 *          unions go to the first set's owner (__sop UNION, then __sop DIFFM, whose
 *          reply is the result), or the first set's local difference comes back as
 *          candidates probed elsewhere (__sop DIFF, then __sprobe ANY);
 *          last: STORE only: __sstore.
 * Every read happens before any write, under the intent locks the runtime holds, so a
 * WRONGTYPE anywhere leaves every key intact. SMOVE across shards: 0 checks the source
 * (__sismember) and the destination (__scard W), 1 runs SREM and SADD on their owners.
 *
 * The internal commands (parts) are sets_parts.c. */
#include "cmd/sets.h"

#include "base/numfmt.h"

enum kind { K_INTER, K_UNION, K_DIFF, K_CARD };

/* What a multi-shard algebra command keeps across its phases. */
struct alg {
    enum kind kind;
    bool store;
    int first, n;          /* source keys: argv[first .. first+n) */
    uint64_t limit;        /* SINTERCARD */
    int stage;             /* the part replies the next step reads (see the file head) */
    unsigned home;         /* the owner whose __sop gave the candidates */
    int algo;              /* SDIFFSTORE: Redis's difference algorithm (1 or 2) */
    int64_t class0;        /* SDIFFSTORE: the encoding the first set rebuilds into */
    unsigned char *kshard; /* per source key: its owner */
    int64_t *card;         /* per source key: its size, -1 when missing */
    struct buf raw;        /* the candidates' reply bytes */
    rt_str *cand;          /* the candidates, pointing into raw */
    size_t ncand;
    char *keep;            /* per candidate: still in the result */
    size_t pfrom, pto;     /* the candidates the probes in flight cover */
};

enum { ST_CARDS, ST_CANDS, ST_PROBES, ST_UNIONS, ST_OTHERS, ST_RESULT, ST_STORED };

static void alg_free(void *p)
{
    struct alg *a = p;
    free(a->kshard);
    free(a->card);
    buf_free(&a->raw);
    free(a->cand);
    free(a->keep);
}

static const char internal_error[] = "-ERR internal error\r\n";

static void finish_buf(struct rt_txn *t, struct buf *b) { rt_txn_finish(t, b->data, b->len); }

/* Queue on `shard`: pre[0..npre), then (with_count) how many keys follow, then the
 * source keys it owns (present_only: those that exist; skip: a key index to leave out),
 * then tail[0..ntail). Nothing is queued when no key qualifies; returns the key count. */
static int queue_keys(struct rt_txn *t, struct alg *a, unsigned shard, const rt_str *pre,
                      int npre, bool with_count, bool present_only, int skip,
                      const rt_str *tail, size_t ntail)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    rt_str *v = cmd_xcalloc((size_t)npre + 1 + (size_t)a->n + ntail, sizeof *v);
    int nk = 0, at = npre + (with_count ? 1 : 0);
    memcpy(v, pre, (size_t)npre * sizeof *v);
    for (int i = 0; i < a->n; i++)
        if (a->kshard[i] == shard && i != skip && (!present_only || a->card[i] >= 0))
            v[at + nk++] = argv[a->first + i];
    char nbuf[NUMFMT_I64_MAX];
    if (with_count)
        v[npre] = (rt_str){nbuf, (size_t)i64_to_str(nbuf, nk)};
    if (nk) {
        if (ntail)
            memcpy(v + at + nk, tail, ntail * sizeof *v);
        rt_txn_part(t, shard, at + nk + (int)ntail, v);
    }
    free(v);
    return nk;
}

static bool has_keys_on(const struct alg *a, unsigned shard, bool present_only)
{
    for (int i = 0; i < a->n; i++)
        if (a->kshard[i] == shard && (!present_only || a->card[i] >= 0))
            return true;
    return false;
}

/* Phase 0's __scard parts went to the owners in ascending order, each with its keys in
 * argument order: read the sizes back the same way. */
static bool read_cards(struct rt_txn *t, struct alg *a, unsigned nsh)
{
    unsigned part = 0;
    for (unsigned s = 0; s < nsh; s++) {
        if (!has_keys_on(a, s, false))
            continue;
        rt_str r = rt_txn_result(t, part++);
        size_t pos = 0;
        struct resp_val v;
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY)
            return false;
        for (int i = 0; i < a->n; i++) {
            if (a->kshard[i] != s)
                continue;
            if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_INT)
                return false;
            a->card[i] = v.n;
        }
    }
    return true;
}

/* Keep the candidates (part 0's array of members) and mark them all kept. */
static bool read_cands(struct rt_txn *t, struct alg *a)
{
    rt_str r = rt_txn_result(t, 0);
    buf_append(&a->raw, r.ptr, r.len);
    size_t pos = 0;
    struct resp_val v;
    if (!resp_read(a->raw.data, a->raw.len, &pos, &v) || v.type != RESP_ARRAY || v.n < 0)
        return false;
    a->ncand = (size_t)v.n;
    a->cand = cmd_xcalloc(a->ncand, sizeof *a->cand);
    a->keep = cmd_xcalloc(a->ncand, 1);
    for (size_t i = 0; i < a->ncand; i++) {
        if (!resp_read(a->raw.data, a->raw.len, &pos, &v) || v.type != RESP_BULK || v.n < 0)
            return false;
        a->cand[i] = (rt_str){v.str, v.len};
        a->keep[i] = 1;
    }
    return true;
}

/* Apply the probes' flags: INTER keeps a candidate every probe flagged, DIFF one that no
 * probe flagged. */
static bool read_probes(struct rt_txn *t, struct alg *a)
{
    for (unsigned p = 0; p < rt_txn_nresults(t); p++) {
        rt_str r = rt_txn_result(t, p);
        size_t pos = 0;
        struct resp_val v;
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_BULK ||
            v.len != a->pto - a->pfrom)
            return false;
        for (size_t i = 0; i < v.len; i++)
            if ((v.str[i] == '1') != (a->kind != K_DIFF))
                a->keep[a->pfrom + i] = 0;
    }
    return true;
}

static void queue_store(struct rt_txn *t, struct alg *a, const char *enc, const rt_str *m,
                        size_t n)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    const rt_str *dst = &argv[1];
    const char *ev = sets_store_events[a->kind == K_DIFF ? 2 : a->kind == K_UNION ? 1 : 0];
    rt_str pre[4] = {{"__sstore", 8}, *dst, {ev, strlen(ev)}, {enc, strlen(enc)}};
    rt_str *v = cmd_xcalloc(4 + n, sizeof *v);
    memcpy(v, pre, sizeof pre);
    if (n)
        memcpy(v + 4, m, n * sizeof *v);
    rt_txn_part(t, rt_key_shard(rt_txn_shard(t), dst->ptr, dst->len), 4 + (int)n, v);
    free(v);
    a->stage = ST_STORED;
}

/* Store or reply the result held in set d (UNION, DIFF): its own order is Redis's. */
static void finish_set(struct rt_txn *t, struct alg *a, struct set_val *d)
{
    if (a->store) {
        static const char *const names[] = {"listpack", "intset", "hashtable"};
        const char *enc = a->kind == K_DIFF && a->algo == 2 && a->class0 >= 0 &&
                                  a->class0 <= OBJ_HASHTABLE
                              ? names[a->class0]
                              : "auto";
        size_t n = set_card(d);
        struct buf bytes = {0};
        size_t *len = cmd_xcalloc(n, sizeof *len);
        struct set_iter it;
        struct set_elem m;
        size_t i = 0;
        set_iter_init(&it, d);
        while (set_iter_next(&it, &m)) {
            buf_append(&bytes, m.s, m.len);
            len[i++] = m.len;
        }
        set_iter_done(&it);
        rt_str *v = cmd_xcalloc(n, sizeof *v);
        for (size_t j = 0, off = 0; j < n; off += len[j++])
            v[j] = (rt_str){bytes.data + off, len[j]};
        queue_store(t, a, enc, v, n);
        free(v);
        free(len);
        buf_free(&bytes);
    } else {
        struct buf *b = rt_txn_scratch(t);
        resp_set(b, (int64_t)set_card(d), rt_txn_proto(t));
        sets_reply_members(b, d);
        finish_buf(t, b);
    }
    set_free(d);
}

/* The candidates still kept are the result (INTER in the smallest set's order). */
static void finish_cands(struct rt_txn *t, struct alg *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->ncand; i++)
        n += a->keep[i];
    if (a->kind == K_DIFF) {
        struct set_val d = set_new(OBJ_INTSET, 0);
        for (size_t i = 0; i < a->ncand; i++)
            if (a->keep[i])
                set_add(&d, a->cand[i].ptr, a->cand[i].len);
        finish_set(t, a, &d);
        return;
    }
    struct buf *b = rt_txn_scratch(t);
    if (a->kind == K_CARD) {
        resp_int(b, (int64_t)(a->limit && n > a->limit ? a->limit : n));
        finish_buf(t, b);
    } else if (a->store) {
        rt_str *v = cmd_xcalloc(n, sizeof *v);
        for (size_t i = 0, j = 0; i < a->ncand; i++)
            if (a->keep[i])
                v[j++] = a->cand[i];
        queue_store(t, a, "auto", v, n);
        free(v);
    } else {
        resp_set(b, (int64_t)n, rt_txn_proto(t));
        for (size_t i = 0; i < a->ncand; i++)
            if (a->keep[i])
                resp_bulk(b, a->cand[i].ptr, a->cand[i].len);
        finish_buf(t, b);
    }
}

/* Phase 0: every owner reports on its keys (UNION: sends its local union). */
static void alg_start(struct rt_txn *t, struct alg *a)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    unsigned nsh = rt_nshards(sh);
    a->kshard = cmd_xcalloc((size_t)a->n, 1);
    a->card = cmd_xcalloc((size_t)a->n, sizeof *a->card);
    rt_txn_on_free(t, alg_free);
    for (int i = 0; i < a->n; i++)
        a->kshard[i] = (unsigned char)rt_key_shard(sh, argv[a->first + i].ptr,
                                                   argv[a->first + i].len);
    rt_str scard[2] = {{"__scard", 7}, {"R", 1}};
    rt_str sop[2] = {{"__sop", 5}, {"UNION", 5}};
    for (unsigned s = 0; s < nsh; s++)
        queue_keys(t, a, s, a->kind == K_UNION ? sop : scard, 2, false, false, -1, NULL, 0);
    a->stage = a->kind == K_UNION ? ST_UNIONS : ST_CARDS;
    a->class0 = -1;
    if (a->kind == K_DIFF && a->store) {
        rt_str cls[2] = {{"__sclass", 8}, argv[a->first]};
        rt_txn_part(t, a->kshard[0], 2, cls);
    }
}

/* After the sizes: the candidates come from the smallest set's owner (INTER) or from
 * the first set's owner (DIFF), computed there against its other local keys. */
static void alg_after_cards(struct rt_txn *t, struct alg *a)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    unsigned nsh = rt_nshards(rt_txn_shard(t));
    if (!read_cards(t, a, nsh)) {
        rt_txn_finish(t, internal_error, sizeof internal_error - 1);
        return;
    }
    if (a->kind == K_DIFF && a->store) {
        rt_str r = rt_txn_result(t, rt_txn_nresults(t) - 1);
        struct resp_val v;
        size_t pos = 0;
        if (resp_read(r.ptr, r.len, &pos, &v) && v.type == RESP_INT)
            a->class0 = v.n;
    }
    bool empty = false;
    int small = 0;
    int64_t one = 0, two = 0;
    for (int i = 0; i < a->n; i++) {
        if (a->kind != K_DIFF) {
            empty |= a->card[i] < 0;
            if (a->card[i] < a->card[small])
                small = i;
            continue;
        }
        if (i > 0 && sets_same_key(&argv[a->first], &argv[a->first + i]))
            empty = true; /* the first set minus itself */
        if (a->card[i] >= 0) {
            one += a->card[0];
            two += a->card[i];
        }
    }
    if (a->kind == K_DIFF) {
        empty |= a->card[0] < 0;
        a->algo = one / 2 <= two ? 1 : 2;
    }
    if (empty) {
        finish_cands(t, a);
        return;
    }
    a->home = a->kshard[small];
    if (a->kind == K_DIFF) {
        /* Ship whichever side is smaller: the other owners' sets to the first set's
         * owner, or the first set's (local) difference out as candidates to probe. */
        int64_t others = 0;
        for (int i = 1; i < a->n; i++)
            if (a->kshard[i] != a->home && a->card[i] > 0)
                others += a->card[i];
        if (others > 0 && others < a->card[0]) {
            rt_str sop[2] = {{"__sop", 5}, {"UNION", 5}};
            for (unsigned s = 0; s < nsh; s++)
                if (s != a->home)
                    queue_keys(t, a, s, sop, 2, false, true, -1, NULL, 0);
            a->stage = ST_OTHERS;
            return;
        }
    }
    rt_str sop[2] = {{"__sop", 5}, {a->kind == K_DIFF ? "DIFF" : "INTER", a->kind == K_DIFF ? 4u : 5u}};
    /* DIFF's first key is its first argument, so it leads the local key list. */
    queue_keys(t, a, a->home, sop, 2, false, a->kind == K_DIFF, -1, NULL, 0);
    a->stage = ST_CANDS;
}

/* Probe the next range of candidates on every other owner; false when there is nothing
 * (left) to probe. SINTERCARD with a LIMIT probes in growing chunks and stops once the
 * limit is reached; everything else probes all candidates at once. */
static bool probe_next(struct rt_txn *t, struct alg *a)
{
    unsigned nsh = rt_nshards(rt_txn_shard(t));
    bool diff = a->kind == K_DIFF;
    size_t kept = 0;
    for (size_t i = 0; i < a->pto; i++)
        kept += a->keep[i];
    if (a->pto >= a->ncand || (a->kind == K_CARD && a->limit && kept >= a->limit))
        return false;
    size_t chunk = a->ncand - a->pto;
    if (a->kind == K_CARD && a->limit) {
        size_t want = a->pto ? 2 * a->pto : (a->limit < 32 ? 64 : 2 * (size_t)a->limit);
        chunk = want < chunk ? want : chunk;
    }
    a->pfrom = a->pto;
    a->pto += chunk;
    rt_str pre[2] = {{"__sprobe", 8}, {diff ? "ANY" : "ALL", 3}};
    unsigned queued = 0;
    for (unsigned s = 0; s < nsh; s++)
        if (s != a->home)
            queued += queue_keys(t, a, s, pre, 2, true, diff, -1, a->cand + a->pfrom,
                                 chunk) > 0;
    return queued > 0;
}

static void alg_after_cands(struct rt_txn *t, struct alg *a)
{
    if (!read_cands(t, a)) {
        rt_txn_finish(t, internal_error, sizeof internal_error - 1);
        return;
    }
    if (probe_next(t, a))
        a->stage = ST_PROBES;
    else
        finish_cands(t, a);
}

/* DIFF when the other owners' sets are smaller than the first set: their local unions
 * go to the first set's owner ("__sop DIFFM nkeys key... member..."), whose reply is the
 * result itself. The members point into the part replies, valid during this step
 * (rt_txn_part copies them). */
static void alg_after_others(struct rt_txn *t, struct alg *a)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        rt_str *v = NULL;
        char nbuf[NUMFMT_I64_MAX];
        size_t at = 0;
        if (pass) {
            int nk = 0;
            for (int i = 0; i < a->n; i++)
                nk += a->kshard[i] == a->home && (i == 0 || a->card[i] >= 0);
            v = cmd_xcalloc(3 + (size_t)nk + n, sizeof *v);
            v[0] = (rt_str){"__sop", 5};
            v[1] = (rt_str){"DIFFM", 5};
            v[2] = (rt_str){nbuf, (size_t)i64_to_str(nbuf, nk)};
            at = 3;
            for (int i = 0; i < a->n; i++)
                if (a->kshard[i] == a->home && (i == 0 || a->card[i] >= 0))
                    v[at++] = argv[a->first + i];
        }
        for (unsigned p = 0; p < rt_txn_nresults(t); p++) {
            rt_str r = rt_txn_result(t, p);
            size_t pos = 0;
            struct resp_val h, m;
            bool ok = resp_read(r.ptr, r.len, &pos, &h) && h.type == RESP_ARRAY;
            for (int64_t i = 0; ok && i < h.n; i++) {
                ok = resp_read(r.ptr, r.len, &pos, &m) && m.type == RESP_BULK && m.n >= 0;
                if (ok && pass)
                    v[at++] = (rt_str){m.str, m.len};
                n += ok && !pass;
            }
            if (!ok) {
                free(v);
                rt_txn_finish(t, internal_error, sizeof internal_error - 1);
                return;
            }
        }
        if (pass) {
            rt_txn_part(t, a->home, (int)at, v);
            free(v);
        }
    }
    a->stage = ST_RESULT;
}

static void alg_after_unions(struct rt_txn *t, struct alg *a)
{
    struct set_val d = set_new(OBJ_INTSET, 0);
    for (unsigned p = 0; p < rt_txn_nresults(t); p++) {
        rt_str r = rt_txn_result(t, p);
        size_t pos = 0;
        struct resp_val v;
        bool ok = resp_read(r.ptr, r.len, &pos, &v) && v.type == RESP_ARRAY;
        for (int64_t i = 0; ok && i < v.n; i++) {
            struct resp_val m;
            ok = resp_read(r.ptr, r.len, &pos, &m) && m.type == RESP_BULK && m.n >= 0;
            if (ok)
                set_add(&d, m.str, m.len);
        }
        if (!ok) {
            set_free(&d);
            rt_txn_finish(t, internal_error, sizeof internal_error - 1);
            return;
        }
    }
    finish_set(t, a, &d);
}

static void alg_step(struct rt_txn *t, unsigned phase, enum kind kind, bool store)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct alg *a = rt_txn_state(t, sizeof *a);
    if (phase == 0) {
        a->kind = kind;
        a->store = store;
        a->first = store ? 2 : 1;
        a->n = argc - a->first;
        if (kind == K_CARD) {
            const char *err = sets_sintercard_args(argv, argc, &a->n, &a->limit);
            if (err) {
                txn_finish_error(t, err);
                return;
            }
            a->first = 2;
        }
        alg_start(t, a);
        return;
    }
    if (txn_finish_if_error(t))
        return;
    switch (a->stage) {
    case ST_CARDS: alg_after_cards(t, a); return;
    case ST_CANDS: alg_after_cands(t, a); return;
    case ST_RESULT:
        if (read_cands(t, a))
            finish_cands(t, a);
        else
            rt_txn_finish(t, internal_error, sizeof internal_error - 1);
        return;
    case ST_OTHERS: alg_after_others(t, a); return;
    case ST_PROBES:
        if (!read_probes(t, a))
            rt_txn_finish(t, internal_error, sizeof internal_error - 1);
        else if (!probe_next(t, a))
            finish_cands(t, a);
        return;
    case ST_UNIONS: alg_after_unions(t, a); return;
    default: {
        /* __sstore's :count is the command's reply, the same in both protocols. */
        rt_str r = rt_txn_result(t, 0);
        rt_txn_finish(t, r.ptr, r.len);
        return;
    }
    }
}

void sets_sinter_step(struct rt_txn *t, unsigned phase) { alg_step(t, phase, K_INTER, false); }
void sets_sintercard_step(struct rt_txn *t, unsigned phase) { alg_step(t, phase, K_CARD, false); }
void sets_sinterstore_step(struct rt_txn *t, unsigned phase) { alg_step(t, phase, K_INTER, true); }
void sets_sunion_step(struct rt_txn *t, unsigned phase) { alg_step(t, phase, K_UNION, false); }
void sets_sunionstore_step(struct rt_txn *t, unsigned phase) { alg_step(t, phase, K_UNION, true); }
void sets_sdiff_step(struct rt_txn *t, unsigned phase) { alg_step(t, phase, K_DIFF, false); }
void sets_sdiffstore_step(struct rt_txn *t, unsigned phase) { alg_step(t, phase, K_DIFF, true); }

/* SMOVE across two shards: phase 0 reads (is the member in the source; is the
 * destination a set), phase 1 runs SADD on the destination, phase 2 SREM on the source
 * (their events are SMOVE's: srem, del when emptied, sadd when added), phase 3 replies
 * :1. The removal waits for the addition to be in the destination's log: a crash
 * between them leaves the member in both sets, never in neither. */
void sets_smove_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    const rt_str *src = &argv[1], *dst = &argv[2], *m = &argv[3];
    unsigned ss = rt_key_shard(sh, src->ptr, src->len), ds = rt_key_shard(sh, dst->ptr, dst->len);
    if (phase == 0) {
        rt_str probe[3] = {{"__sismember", 11}, *src, *m};
        rt_str card[3] = {{"__scard", 7}, {"W", 1}, *dst};
        rt_txn_part(t, ss, 3, probe);
        rt_txn_part(t, ds, 3, card);
        return;
    }
    struct buf *b = rt_txn_scratch(t);
    if (phase == 1) {
        rt_str r0 = rt_txn_result(t, 0), r1 = rt_txn_result(t, 1);
        /* A missing source answers 0 before any type check, as Redis. */
        if (r0.len >= 3 && memcmp(r0.ptr, ":-1", 3) == 0) {
            resp_int(b, 0);
            finish_buf(t, b);
            return;
        }
        if (txn_finish_if_error(t))
            return;
        (void)r1;
        if (r0.len >= 2 && memcmp(r0.ptr, ":0", 2) == 0) {
            resp_int(b, 0);
            finish_buf(t, b);
            return;
        }
        rt_str sadd[3] = {{"sadd", 4}, *dst, *m};
        rt_txn_part(t, ds, 3, sadd);
        return;
    }
    if (phase == 2) {
        if (txn_finish_if_error(t))
            return;
        rt_str srem[3] = {{"srem", 4}, *src, *m};
        rt_txn_part(t, ss, 3, srem);
        return;
    }
    if (txn_finish_if_error(t))
        return;
    resp_int(b, 1);
    finish_buf(t, b);
}
