/* The set algebra (SINTER SINTERCARD SINTERSTORE SUNION SUNIONSTORE SDIFF SDIFFSTORE) and
 * SMOVE with every key on one shard (exec), with Redis 7.2's algorithms; the same
 * commands across shards are sets_step.c. */
#include "cmd/sets.h"

#include "base/numfmt.h"

/* ---- One shard ---- */

struct icollect {
    struct buf out;
    uint64_t n, limit;
    struct set_val *dst;
    bool only_ints;
};

static bool icollect_reply(void *arg, struct set_elem *m)
{
    struct icollect *c = arg;
    resp_bulk(&c->out, m->s, m->len);
    c->n++;
    return true;
}

static bool icollect_count(void *arg, struct set_elem *m)
{
    (void)m;
    struct icollect *c = arg;
    return ++c->n < c->limit || !c->limit;
}

static bool icollect_add(void *arg, struct set_elem *m)
{
    struct icollect *c = arg;
    int64_t v;
    if (!m->is_int && !str_to_i64(m->s, m->len, &v))
        c->only_ints = false;
    set_add_elem(c->dst, m);
    return true;
}

/* SINTER / SINTERCARD / SINTERSTORE on keys[0..n). dst NULL: reply the members
 * (card_only: their count, stopping at limit). */
static void inter_exec(struct rt_call *call, const rt_str *keys, int n, const rt_str *dst,
                       bool card_only, uint64_t limit)
{
    struct set_val *sets = cmd_xcalloc((size_t)n, sizeof *sets);
    struct icollect c = {.limit = limit, .only_ints = true};
    if (!sets_load(call, keys, n, true, sets))
        goto out;
    bool empty = false;
    for (int i = 0; i < n; i++)
        empty |= !sets[i].o;
    if (dst) {
        struct set_val d = {0};
        if (!empty) {
            /* As Redis: an intset when the smallest set is one, else a listpack that
             * converts as it grows; made an intset at the end when it can be. */
            struct set_val *small = &sets[0];
            for (int i = 1; i < n; i++)
                if (set_card(&sets[i]) < set_card(small))
                    small = &sets[i];
            d = set_new(small->enc == OBJ_INTSET ? OBJ_INTSET : OBJ_LISTPACK, 0);
            c.dst = &d;
            set_inter_walk(sets, n, icollect_add, &c);
            if (set_card(&d) && c.only_ints)
                set_maybe_to_intset(&d);
        }
        sets_store_result(call, dst, &d, sets_store_events[0]);
    } else if (card_only) {
        if (!empty)
            set_inter_walk(sets, n, icollect_count, &c);
        resp_int(call->out, (int64_t)c.n);
    } else {
        if (!empty)
            set_inter_walk(sets, n, icollect_reply, &c);
        resp_set(call->out, (int64_t)c.n, call->proto);
        buf_append(call->out, c.out.data, c.out.len);
    }
out:
    buf_free(&c.out);
    free(sets);
}

static void uniondiff_exec(struct rt_call *call, const rt_str *keys, int n, const rt_str *dst,
                           bool diff)
{
    struct set_val *sets = cmd_xcalloc((size_t)n, sizeof *sets);
    if (sets_load(call, keys, n, true, sets)) {
        struct set_val d = set_union_diff(sets, n, diff);
        if (dst) {
            sets_store_result(call, dst, &d, sets_store_events[diff ? 2 : 1]);
        } else {
            resp_set(call->out, (int64_t)set_card(&d), call->proto);
            sets_reply_members(call->out, &d);
            set_free(&d);
        }
    }
    free(sets);
}

const char *sets_sintercard_args(const rt_str *argv, int argc, int *numkeys, uint64_t *limit)
{
    int64_t nk;
    if (!str_to_i64(argv[1].ptr, argv[1].len, &nk) || nk < 1)
        return "ERR numkeys should be greater than 0";
    if (nk > argc - 2)
        return "ERR Number of keys can't be greater than number of args";
    *numkeys = (int)nk;
    *limit = 0;
    for (int j = 2 + (int)nk; j < argc; j++) {
        int64_t l;
        if (arg_is(&argv[j], "limit") && j + 1 < argc) {
            j++;
            if (!str_to_i64(argv[j].ptr, argv[j].len, &l) || l < 0)
                return "ERR LIMIT can't be negative";
            *limit = (uint64_t)l;
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

void sets_sinter_exec(struct rt_call *call)
{
    inter_exec(call, call->argv + 1, call->argc - 1, NULL, false, 0);
}

void sets_sintercard_exec(struct rt_call *call)
{
    int nk;
    uint64_t limit;
    const char *err = sets_sintercard_args(call->argv, call->argc, &nk, &limit);
    if (err)
        resp_error(call->out, err);
    else
        inter_exec(call, call->argv + 2, nk, NULL, true, limit);
}

void sets_sinterstore_exec(struct rt_call *call)
{
    inter_exec(call, call->argv + 2, call->argc - 2, &call->argv[1], false, 0);
}

void sets_sunion_exec(struct rt_call *call)
{
    uniondiff_exec(call, call->argv + 1, call->argc - 1, NULL, false);
}

void sets_sunionstore_exec(struct rt_call *call)
{
    uniondiff_exec(call, call->argv + 2, call->argc - 2, &call->argv[1], false);
}

void sets_sdiff_exec(struct rt_call *call)
{
    uniondiff_exec(call, call->argv + 1, call->argc - 1, NULL, true);
}

void sets_sdiffstore_exec(struct rt_call *call)
{
    uniondiff_exec(call, call->argv + 2, call->argc - 2, &call->argv[1], true);
}

/* SMOVE src dst member, both keys on this shard. A missing source answers 0 before any
 * type is checked, as Redis. */
void sets_smove_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *src = &call->argv[1], *dst = &call->argv[2], *m = &call->argv[3];
    bool same = sets_same_key(src, dst);
    struct entry *de = same ? NULL : store_find(cs->store, dst->ptr, dst->len, true);
    struct entry *se = store_find(cs->store, src->ptr, src->len, true);
    if (same)
        de = se;
    if (!se) {
        resp_int(call->out, 0);
        return;
    }
    if (entry_type(se) != VT_SET || (de && entry_type(de) != VT_SET)) {
        resp_error(call->out, ERR_WRONGTYPE);
        return;
    }
    struct set_val s = set_of(se);
    if (same) {
        resp_int(call->out, set_has(&s, m->ptr, m->len));
        return;
    }
    if (!set_remove(&s, m->ptr, m->len)) {
        resp_int(call->out, 0);
        return;
    }
    entry_set_obj(se, s.enc, s.o);
    bool gone = set_card(&s) == 0;
    if (gone)
        store_delete_entry(cs->store, se);
    cmd_key_written(cs, src->ptr, src->len, "srem");
    if (gone)
        cmd_key_written(cs, src->ptr, src->len, "del");
    struct set_val d;
    bool added;
    if (de) {
        d = set_of(de);
        added = set_add(&d, m->ptr, m->len);
        entry_set_obj(de, d.enc, d.o);
    } else {
        d = set_new_for(m->ptr, m->len, 1);
        added = set_add(&d, m->ptr, m->len);
        store_set_obj(cs->store, dst->ptr, dst->len, VT_SET, d.enc, d.o);
    }
    if (added)
        cmd_key_written(cs, dst->ptr, dst->len, "sadd");
    resp_int(call->out, 1);
}
