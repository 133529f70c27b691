/* The set family's shared helpers (loading several sets with Redis's type checks,
 * storing a result) and the internal commands the multi-shard steps of sets_step.c send
 * to the keys' owners. Each part runs on one shard and replies RESP2:
 *   __scard R|W key...        *n of :card (-1: missing); R counts keyspace hits/misses
 *   __sclass key              :encoding (enum obj_enc) the set would get if re-added
 *   __sop INTER|UNION|DIFF key...        *n members of the local result
 *   __sop DIFFM nkeys key... member...   the local difference minus the members
 *   __sprobe ALL|ANY nkeys key... member...   $flags: '1'/'0' per member
 *   __sstore dst event auto|intset|listpack|hashtable member...   :card (0: dst deleted)
 *   __sismember key member    :-1 missing, :0, :1 */
#include "cmd/sets.h"

#include "base/numfmt.h"

/* ---- Shared helpers ---- */

void sets_reply_members(struct buf *out, struct set_val *s)
{
    struct set_iter it;
    struct set_elem m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m))
        resp_bulk(out, m.s, m.len);
    set_iter_done(&it);
}

bool sets_load(struct rt_call *call, const rt_str *keys, int n, bool read, struct set_val *out)
{
    for (int i = 0; i < n; i++) {
        struct entry *e;
        int r = key_typed(call, &keys[i], VT_SET, !read, &e);
        if (r < 0)
            return false;
        out[i] = r ? set_of(e) : (struct set_val){0};
    }
    return true;
}

const char *const sets_store_events[3] = {"sinterstore", "sunionstore", "sdiffstore"};

void sets_store_result(struct rt_call *call, const rt_str *dst, struct set_val *s,
                       const char *event)
{
    struct cmd_shard *cs = cmd_shard(call);
    size_t n = s->o ? set_card(s) : 0;
    if (n) {
        store_set_obj(cs->store, dst->ptr, dst->len, VT_SET, s->enc, s->o);
        cmd_key_written(cs, dst->ptr, dst->len, event);
    } else {
        set_free(s);
        if (store_delete(cs->store, dst->ptr, dst->len))
            cmd_key_written(cs, dst->ptr, dst->len, "del");
    }
    resp_int(call->out, (int64_t)n);
}

/* ---- The internal commands ---- */

/* __scard R|W key... */
void sets_iscard_exec(struct rt_call *call)
{
    int n = call->argc - 2;
    struct set_val *sets = cmd_xcalloc((size_t)n, sizeof *sets);
    if (sets_load(call, call->argv + 2, n, arg_is(&call->argv[1], "r"), sets)) {
        resp_array(call->out, n);
        for (int i = 0; i < n; i++)
            resp_int(call->out, sets[i].o ? (int64_t)set_card(&sets[i]) : -1);
    }
    free(sets);
}

/* __sclass key */
void sets_isclass_exec(struct rt_call *call)
{
    struct set_val s;
    if (sets_load(call, call->argv + 1, 1, false, &s))
        resp_int(call->out, s.o ? (int64_t)set_build_enc(&s) : -1);
}

struct collect {
    struct buf out;
    int64_t n;
};

static bool collect_reply(void *arg, struct set_elem *m)
{
    struct collect *c = arg;
    resp_bulk(&c->out, m->s, m->len);
    c->n++;
    return true;
}

/* __sop INTER|UNION|DIFF key...  or  __sop DIFFM nkeys key... member... (the local
 * difference, minus the members given: the other owners' sets). */
void sets_iop_exec(struct rt_call *call)
{
    const rt_str *op = &call->argv[1];
    int n = call->argc - 2, first = 2;
    bool inter = arg_is(op, "inter"), diffm = arg_is(op, "diffm");
    bool diff = diffm || arg_is(op, "diff");
    int64_t nk = 0;
    if (diffm && (!str_to_i64(call->argv[2].ptr, call->argv[2].len, &nk) || nk < 1 ||
                  nk > call->argc - 3)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    if (diffm) {
        n = (int)nk;
        first = 3;
    }
    if (!inter && !diff && !arg_is(op, "union")) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct set_val *sets = cmd_xcalloc((size_t)n, sizeof *sets);
    if (!sets_load(call, call->argv + first, n, false, sets)) {
        free(sets);
        return;
    }
    if (inter) {
        struct collect c = {0};
        bool missing = false;
        for (int i = 0; i < n; i++)
            missing |= !sets[i].o;
        if (!missing)
            set_inter_walk(sets, n, collect_reply, &c);
        resp_array(call->out, c.n);
        buf_append(call->out, c.out.data, c.out.len);
        buf_free(&c.out);
    } else {
        struct set_val d = set_union_diff(sets, n, diff);
        for (int j = first + n; diffm && j < call->argc && set_card(&d); j++)
            set_remove(&d, call->argv[j].ptr, call->argv[j].len);
        resp_array(call->out, (int64_t)set_card(&d));
        sets_reply_members(call->out, &d);
        set_free(&d);
    }
    free(sets);
}

/* __sprobe ALL|ANY nkeys key... member... */
void sets_iprobe_exec(struct rt_call *call)
{
    bool all = arg_is(&call->argv[1], "all");
    int64_t nk;
    if ((!all && !arg_is(&call->argv[1], "any")) ||
        !str_to_i64(call->argv[2].ptr, call->argv[2].len, &nk) || nk < 1 ||
        nk > call->argc - 3) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    int n = (int)nk, first = 3 + n;
    struct set_val *sets = cmd_xcalloc((size_t)n, sizeof *sets);
    if (sets_load(call, call->argv + 3, n, false, sets)) {
        size_t nm = (size_t)(call->argc - first);
        char *flags = cmd_xcalloc(nm, 1);
        for (size_t i = 0; i < nm; i++) {
            const rt_str *m = &call->argv[first + (int)i];
            bool hit = all;
            for (int j = 0; j < n; j++) {
                bool has = sets[j].o && set_has(&sets[j], m->ptr, m->len);
                if (all ? !has : has) {
                    hit = !all;
                    break;
                }
            }
            flags[i] = hit ? '1' : '0';
        }
        resp_bulk(call->out, flags, nm);
        free(flags);
    }
    free(sets);
}

/* __sstore dst event auto|intset|listpack|hashtable member... */
void sets_istore_exec(struct rt_call *call)
{
    const char *event = NULL;
    for (size_t i = 0; i < 3; i++)
        if (arg_is(&call->argv[2], sets_store_events[i]))
            event = sets_store_events[i];
    static const char *const encs[] = {"auto", "intset", "listpack", "hashtable"};
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (arg_is(&call->argv[3], encs[i]))
            which = i;
    if (!event || which < 0) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct set_val d = {0};
    if (call->argc > 4) {
        d = set_new(OBJ_INTSET, 0);
        for (int j = 4; j < call->argc; j++)
            set_add(&d, call->argv[j].ptr, call->argv[j].len);
        /* A forced encoding (SDIFFSTORE's "add the first set, then remove" plan) is one
         * the members fit: an intset only when they are all integers. */
        if (which == 1)
            set_maybe_to_intset(&d);
        else if (which == 2)
            set_convert(&d, OBJ_LISTPACK);
        else if (which == 3)
            set_convert(&d, OBJ_HASHTABLE);
    }
    sets_store_result(call, &call->argv[1], &d, event);
}

/* __sismember key member */
void sets_iismember_exec(struct rt_call *call)
{
    struct set_val s;
    if (sets_load(call, call->argv + 1, 1, false, &s))
        resp_int(call->out, s.o ? set_has(&s, call->argv[2].ptr, call->argv[2].len) : -1);
}
