/* SORT / SORT_RO on the multi-shard mechanism (the step of both, on the origin).
 *
 * When the sort key, every key a BY/GET pattern can form (none, or all pinned to the
 * key's shard by a hash tag before the '*') and the STORE destination share one shard,
 * the whole command goes there as one part (__sort) under locks on its keys (the whole
 * shard when a pattern reads keys, since which keys is only known from the elements).
 *
 * Otherwise pattern keys may be anywhere: phase 0 locks every shard whole, so no other
 * command runs anywhere until SORT is done (its reads and its store are one isolated
 * step, as in Redis), and reads the elements from the key's shard (__sortread). Then,
 * on the origin: the BY lookups go to their owners, one part per shard with all that
 * shard's keys (__sortget); the elements are sorted; the GET lookups of the output range
 * go out the same way; and the result is either the reply or a list stored on the
 * destination's shard (__sortstore). */
#include <stdlib.h>
#include <string.h>

#include "cmd/sort.h"

enum stage { ST_ONE = 1, ST_READ, ST_BY, ST_GET, ST_STORE };

struct sort_state {
    struct sort_job job;
    enum stage stage;
    /* The lookups of the current round that read keys, grouped by owner: part p asks
     * for order[from[p] .. from[p] + count[p]). */
    size_t *order;
    size_t from[RT_MAX_SHARDS], count[RT_MAX_SHARDS];
    unsigned nparts;
};

static void state_free(void *p)
{
    struct sort_state *st = p;
    sort_job_free(&st->job);
    free(st->order);
}

static void finish_error(struct rt_txn *t, const char *msg)
{
    struct buf *b = rt_txn_scratch(t);
    resp_error(b, msg);
    rt_txn_finish(t, b->data, b->len);
}

/* Queue the round's key lookups: one __sortget per owning shard. */
static void send_lookups(struct rt_txn *t, struct sort_state *st)
{
    struct sort_job *j = &st->job;
    struct rt_shard *sh = rt_txn_shard(t);
    size_t cnt[RT_MAX_SHARDS] = {0}, pos[RT_MAX_SHARDS], nkeys = 0;
    for (size_t i = 0; i < j->nlk; i++) {
        struct sort_lk *l = &j->lk[i];
        if (l->kind != LK_KEY)
            continue;
        l->shard = rt_key_shard(sh, j->lk_bytes.data + l->koff, l->klen);
        cnt[l->shard]++;
        nkeys++;
    }
    free(st->order);
    st->order = cmd_xmalloc(nkeys * sizeof *st->order);
    size_t acc = 0;
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++) {
        pos[s] = acc;
        acc += cnt[s];
    }
    for (size_t i = 0; i < j->nlk; i++)
        if (j->lk[i].kind == LK_KEY)
            st->order[pos[j->lk[i].shard]++] = i;
    st->nparts = 0;
    size_t max = 0;
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++)
        max = cnt[s] > max ? cnt[s] : max;
    rt_str *argv = cmd_xmalloc((1 + 2 * max) * sizeof *argv);
    argv[0] = (rt_str){"__sortget", 9};
    acc = 0;
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++) {
        if (!cnt[s])
            continue;
        for (size_t k = 0; k < cnt[s]; k++) {
            const struct sort_lk *l = &j->lk[st->order[acc + k]];
            argv[1 + 2 * k] = (rt_str){j->lk_bytes.data + l->koff, l->klen};
            argv[2 + 2 * k] = (rt_str){j->lk_bytes.data + l->foff, l->flen};
        }
        unsigned p = rt_txn_part(t, s, (int)(1 + 2 * cnt[s]), argv);
        st->from[p] = acc;
        st->count[p] = cnt[s];
        st->nparts++;
        acc += cnt[s];
    }
    free(argv);
}

/* Record the lookups' answers; false after finishing with a part's error. */
static bool take_lookups(struct rt_txn *t, struct sort_state *st)
{
    for (unsigned p = 0; p < st->nparts; p++) {
        rt_str r = rt_txn_result(t, p);
        size_t pos = 0;
        struct resp_val v;
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY ||
            v.n != (int64_t)st->count[p]) {
            rt_txn_finish(t, r.ptr, r.len); /* an error reply, passed on */
            return false;
        }
        for (size_t k = 0; k < st->count[p]; k++) {
            if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_BULK) {
                finish_error(t, "ERR internal error");
                return false;
            }
            sort_lk_set(&st->job, st->order[st->from[p] + k], v.n >= 0, v.str, v.len);
        }
    }
    return true;
}


/* The output: the reply, or the list stored on the destination's shard. */
static void emit(struct rt_txn *t, struct sort_state *st)
{
    struct sort_job *j = &st->job;
    if (!j->o.store) {
        struct buf *b = rt_txn_scratch(t);
        sort_reply(j, b, rt_txn_proto(t));
        rt_txn_finish(t, b->data, b->len);
        return;
    }
    const rt_str *dst = j->o.store;
    struct sort_items it = {cmd_xmalloc((2 + sort_output_len(j)) * sizeof(rt_str)), 2};
    it.v[0] = (rt_str){"__sortstore", 11};
    it.v[1] = *dst;
    sort_output(j, sort_items_collect, &it);
    rt_txn_part(t, rt_key_shard(rt_txn_shard(t), dst->ptr, dst->len), (int)it.n, it.v);
    free(it.v);
    st->stage = ST_STORE;
}

/* With the BY values known: sort, then the GET round or the output. */
static void after_by(struct rt_txn *t, struct sort_state *st)
{
    sort_by_apply(&st->job);
    if (st->job.conv_error) {
        finish_error(t, ERR_SORT_CONV);
        return;
    }
    if (sort_get_round(&st->job)) {
        send_lookups(t, st);
        st->stage = ST_GET;
        return;
    }
    emit(t, st);
}

/* The elements arrived: *n+1 [:type, elements...], or an error (WRONGTYPE). */
static void after_read(struct rt_txn *t, struct sort_state *st)
{
    rt_str r = rt_txn_result(t, 0);
    size_t pos = 0;
    struct resp_val v;
    if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY || v.n < 1 ||
        !resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_INT) {
        rt_txn_finish(t, r.ptr, r.len);
        return;
    }
    struct sort_job *j = &st->job;
    j->type = (int)v.n;
    while (pos < r.len) {
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_BULK || v.n < 0) {
            finish_error(t, "ERR internal error");
            return;
        }
        sort_job_add(j, v.str, v.len);
    }
    sort_job_loaded(j);
    if (sort_by_round(j)) {
        send_lookups(t, st);
        st->stage = ST_BY;
        return;
    }
    after_by(t, st);
}

/* Whether the whole command can run on the sort key's shard (*shard). */
static bool one_shard(struct rt_shard *sh, const struct sort_opts *o, unsigned *shard,
                      bool *reads)
{
    unsigned ks = rt_key_shard(sh, o->key->ptr, o->key->len), ps;
    bool one = !o->store || rt_key_shard(sh, o->store->ptr, o->store->len) == ks;
    *reads = false;
    for (int g = -1; g < o->ngets; g++) {
        const rt_str *p = g < 0 ? (o->by && !o->dontsort ? o->by : NULL) : o->gets[g];
        if (!p || !sort_pattern_reads(p))
            continue;
        *reads = true;
        if (!sort_pattern_shard(sh, p, &ps) || ps != ks)
            one = false;
    }
    *shard = ks;
    return one || rt_nshards(sh) == 1;
}

static void start(struct rt_txn *t, struct sort_state *st)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct sort_opts *o = &st->job.o;
    const char *err = sort_parse(argv, argc, arg_is(&argv[0], "sort_ro"), o);
    if (err) {
        finish_error(t, err);
        return;
    }
    struct rt_shard *sh = rt_txn_shard(t);
    unsigned ks;
    bool reads;
    if (one_shard(sh, o, &ks, &reads)) {
        bool same = o->store && o->store->len == o->key->len &&
                    memcmp(o->store->ptr, o->key->ptr, o->key->len) == 0;
        if (!same)
            rt_txn_lock_key(t, o->key->ptr, o->key->len, false);
        if (o->store)
            rt_txn_lock_key(t, o->store->ptr, o->store->len, true);
        if (reads)
            rt_txn_lock_shard(t, ks);
        const struct cmd_def *d = cmd_lookup("__sort", 6);
        rt_txn_command(t, &d->rt, argc, argv);
        st->stage = ST_ONE;
        return;
    }
    for (unsigned s = 0; s < rt_nshards(sh); s++)
        rt_txn_lock_shard(t, s);
    rt_str a[2] = {{"__sortread", 10}, *o->key};
    rt_txn_part(t, ks, 2, a);
    st->stage = ST_READ;
}

void sort_step(struct rt_txn *t, unsigned phase)
{
    struct sort_state *st = rt_txn_state(t, sizeof *st);
    if (phase == 0) {
        rt_txn_on_free(t, state_free);
        start(t, st);
        return;
    }
    rt_str r;
    switch (st->stage) {
    case ST_ONE:
    case ST_STORE:
        r = rt_txn_result(t, 0);
        rt_txn_finish(t, r.ptr, r.len);
        return;
    case ST_READ: after_read(t, st); return;
    case ST_BY:
        if (take_lookups(t, st))
            after_by(t, st);
        return;
    case ST_GET:
        if (take_lookups(t, st))
            emit(t, st);
        return;
    }
    finish_error(t, "ERR internal error");
}
