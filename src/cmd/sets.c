/* The set commands on one key: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP
 * SRANDMEMBER SSCAN, and the family's table (the multi-key commands and SMOVE live in
 * sets_algebra.c and sets_step.c; see sets.h). Semantics, replies and keyspace events
 * follow Redis 7.2's t_set.c; the set object and its encodings are store/set.h. */
#include "cmd/sets.h"

#include "base/glob.h"
#include "cmd/effect.h"

/* SRANDMEMBER with a negative count answers |count| members with repeats. Redis streams
 * them until the client is dropped; corekv builds a reply in memory, so it refuses a
 * reply of more members than this rather than allocate without bound. */
#define SRAND_MAX_REPEATS (1L << 24)

static void reply_elem(struct buf *out, const struct set_elem *e)
{
    resp_bulk(out, e->s, e->len);
}

/* ---- SADD / SREM ---- */

static void sadd_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    struct entry *e;
    if (key_typed(call, k, VT_SET, true, &e) < 0)
        return;
    size_t hint = (size_t)call->argc - 2;
    struct set_val s;
    if (e) {
        s = set_of(e);
        set_maybe_convert(&s, hint);
    } else {
        s = set_new_for(call->argv[2].ptr, call->argv[2].len, hint);
    }
    int64_t added = 0;
    for (int j = 2; j < call->argc; j++)
        added += set_add(&s, call->argv[j].ptr, call->argv[j].len);
    if (e)
        entry_set_obj(e, s.enc, s.o);
    else
        store_set_obj(cs->store, k->ptr, k->len, VT_SET, s.enc, s.o);
    if (added)
        cmd_key_written(cs, k->ptr, k->len, "sadd");
    resp_int(call->out, added);
}

static void srem_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    struct entry *e;
    int r = key_typed(call, k, VT_SET, true, &e);
    if (r < 0)
        return;
    if (r == 0) {
        resp_int(call->out, 0);
        return;
    }
    struct set_val s = set_of(e);
    int64_t deleted = 0;
    for (int j = 2; j < call->argc && set_card(&s); j++)
        deleted += set_remove(&s, call->argv[j].ptr, call->argv[j].len);
    entry_set_obj(e, s.enc, s.o);
    if (deleted) {
        bool gone = set_card(&s) == 0;
        if (gone)
            store_delete_entry(cs->store, e);
        cmd_key_written(cs, k->ptr, k->len, "srem");
        if (gone)
            cmd_key_written(cs, k->ptr, k->len, "del");
    }
    resp_int(call->out, deleted);
}

/* ---- Reads ---- */

static void scard_exec(struct rt_call *call)
{
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_SET, false, &e);
    if (r < 0)
        return;
    struct set_val s = r ? set_of(e) : (struct set_val){0};
    resp_int(call->out, r ? (int64_t)set_card(&s) : 0);
}

static void sismember_exec(struct rt_call *call)
{
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_SET, false, &e);
    if (r < 0)
        return;
    struct set_val s = r ? set_of(e) : (struct set_val){0};
    resp_int(call->out, r && set_has(&s, call->argv[2].ptr, call->argv[2].len));
}

static void smismember_exec(struct rt_call *call)
{
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_SET, false, &e);
    if (r < 0)
        return;
    struct set_val s = r ? set_of(e) : (struct set_val){0};
    resp_array(call->out, call->argc - 2);
    for (int j = 2; j < call->argc; j++)
        resp_int(call->out, r && set_has(&s, call->argv[j].ptr, call->argv[j].len));
}

static void smembers_exec(struct rt_call *call)
{
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_SET, false, &e);
    if (r < 0)
        return;
    if (r == 0) {
        resp_set(call->out, 0, call->proto);
        return;
    }
    struct set_val s = set_of(e);
    resp_set(call->out, (int64_t)set_card(&s), call->proto);
    sets_reply_members(call->out, &s);
}

/* ---- SPOP ---- */

/* The whole set as SPOP's "count >= size" case replies it: Redis collects it into a new
 * set first (SUNION of one key), so a listpack of integers comes out sorted. */
static void reply_as_union(struct buf *out, struct set_val *s, int proto)
{
    struct set_val u = set_new(OBJ_INTSET, 0);
    struct set_iter it;
    struct set_elem m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m))
        set_add_elem(&u, &m);
    set_iter_done(&it);
    resp_set(out, (int64_t)set_card(&u), proto);
    sets_reply_members(out, &u);
    set_free(&u);
}

/* Selection sampling (Knuth's algorithm S): whether to take the current member when
 * `need` of the `left` members not yet visited are still to be taken. */
static bool take_next(size_t need, size_t left)
{
    return set_rand() % left < need;
}

/* SPOP key count with count < size. Few to pop: pop them one by one. Most of the set:
 * draw the members that stay into a new set, reply with the rest, and replace. Every
 * member popped also goes to fx, the log's SREM. */
static void spop_some(struct rt_call *call, struct entry *e, struct set_val *s, size_t count,
                      struct effect *fx)
{
    size_t size = set_card(s), remaining = size - count;
    struct buf *out = call->out;
    struct set_elem m;
    resp_set(out, (int64_t)count, call->proto);
    if (remaining * 5 > count) {
        for (size_t i = 0; i < count; i++) {
            char *heap;
            set_pop_random(s, &m, &heap);
            reply_elem(out, &m);
            effect_item(fx, m.s, m.len);
            free(heap);
        }
        entry_set_obj(e, s->enc, s->o);
        return;
    }
    struct set_val keep = {0};
    if (s->enc == OBJ_LISTPACK) {
        /* One walk: the sampled members stay, the others are the reply. */
        keep = set_new(OBJ_LISTPACK, remaining);
        struct set_iter it;
        size_t left = size, need = remaining;
        set_iter_init(&it, s);
        while (set_iter_next(&it, &m)) {
            if (need && take_next(need, left)) {
                set_add_elem(&keep, &m);
                need--;
            } else {
                reply_elem(out, &m);
                effect_item(fx, m.s, m.len);
            }
            left--;
        }
        set_iter_done(&it);
    } else {
        for (size_t i = 0; i < remaining; i++) {
            char *heap;
            set_pop_random(s, &m, &heap);
            if (!keep.o)
                keep = set_new(m.is_int ? OBJ_INTSET : OBJ_LISTPACK, 0);
            set_add_elem(&keep, &m);
            free(heap);
        }
        sets_reply_members(out, s);
        if (fx->cs) {
            struct set_iter it;
            set_iter_init(&it, s);
            while (set_iter_next(&it, &m))
                effect_item(fx, m.s, m.len);
            set_iter_done(&it);
        }
    }
    set_free(s);
    entry_set_obj(e, keep.enc, keep.o);
}

static void spop_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    if (call->argc > 3) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    int64_t count = 1;
    bool with_count = call->argc == 3;
    /* Redis's getPositiveLongFromObjectOrReply: one message covers both a non-integer
     * and a negative value. */
    if (with_count && !arg_count(call, &call->argv[2], &count))
        return;
    struct entry *e;
    int r = key_typed(call, k, VT_SET, true, &e);
    if (r < 0)
        return;
    if (r == 0 || (with_count && count == 0)) {
        if (with_count)
            resp_set(call->out, 0, call->proto);
        else
            resp_null(call->out, call->proto);
        return;
    }
    struct set_val s = set_of(e);
    size_t size = set_card(&s);
    bool gone;
    /* The log gets what was popped (SREM, which deletes the key when it empties the
     * set), or DEL when the whole set went: a random pick replays differently. */
    struct effect fx;
    rt_str head[2] = {effect_word("SREM"), *k};
    effect_begin(&fx, cs, 2, head);
    if (!with_count) {
        struct set_elem m;
        char *heap;
        set_pop_random(&s, &m, &heap);
        reply_elem(call->out, &m);
        effect_item(&fx, m.s, m.len);
        free(heap);
        entry_set_obj(e, s.enc, s.o);
        gone = set_card(&s) == 0;
    } else if ((uint64_t)count >= size) {
        reply_as_union(call->out, &s, call->proto);
        gone = true;
    } else {
        spop_some(call, e, &s, (size_t)count, &fx);
        gone = false;
    }
    if (gone)
        store_delete_entry(cs->store, e);
    cmd_key_written(cs, k->ptr, k->len, "spop");
    if (gone)
        cmd_key_written(cs, k->ptr, k->len, "del");
    if (gone && with_count)
        effect_log_key(cs, "DEL", k);
    effect_end(&fx);
}

/* ---- SRANDMEMBER ---- */

/* Distinct random members, count < size, in a hashtable or intset: Redis's CASE 3 (most
 * of the set: sample in one walk) and CASE 4 (few: draw until enough distinct ones). */
static void srand_distinct(struct buf *out, struct set_val *s, size_t count)
{
    size_t size = set_card(s);
    struct set_elem m;
    resp_array(out, (int64_t)count);
    if (count * 3 > size || s->enc == OBJ_LISTPACK) {
        struct set_iter it;
        size_t left = size, need = count;
        set_iter_init(&it, s);
        while (need && set_iter_next(&it, &m)) {
            if (take_next(need, left)) {
                reply_elem(out, &m);
                need--;
            }
            left--;
        }
        set_iter_done(&it);
        return;
    }
    struct fdict *seen = fd_new(count);
    while (fd_count(seen) < count) {
        set_random(s, &m);
        fd_add(seen, m.s, m.len, "", 0);
    }
    struct fd_iter it;
    struct fnode *n;
    fd_iter_init(&it, seen);
    while ((n = fd_iter_next(&it))) {
        size_t len;
        const char *p = fn_key(n, &len);
        resp_bulk(out, p, len);
    }
    fd_iter_done(&it);
    fd_free(seen);
}

static void srandmember_exec(struct rt_call *call)
{
    if (call->argc > 3) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    int64_t l = 0;
    if (call->argc == 3) {
        if (!arg_i64_range(call, &call->argv[2], -INT64_MAX, INT64_MAX, &l))
            return;
    }
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_SET, false, &e);
    if (r < 0)
        return;
    struct set_elem m;
    if (call->argc == 2) {
        if (r == 0) {
            resp_null(call->out, call->proto);
            return;
        }
        struct set_val s = set_of(e);
        set_random(&s, &m);
        reply_elem(call->out, &m);
        return;
    }
    bool uniq = l >= 0;
    uint64_t count = uniq ? (uint64_t)l : (uint64_t)(-l);
    if (r == 0 || count == 0) {
        resp_array(call->out, 0);
        return;
    }
    struct set_val s = set_of(e);
    size_t size = set_card(&s);
    if (!uniq || count == 1) {
        if (count > (uint64_t)SRAND_MAX_REPEATS) {
            resp_error(call->out, "ERR value is out of range");
            return;
        }
        resp_array(call->out, (int64_t)count);
        for (uint64_t i = 0; i < count; i++) {
            set_random(&s, &m);
            reply_elem(call->out, &m);
        }
        return;
    }
    if (count >= size) {
        resp_array(call->out, (int64_t)size);
        sets_reply_members(call->out, &s);
        return;
    }
    srand_distinct(call->out, &s, (size_t)count);
}

/* ---- SSCAN ---- */

struct sscan_ctx {
    const rt_str *match; /* NULL: every member */
    uint64_t seen, n;
    struct buf out;
};

static void sscan_emit(struct sscan_ctx *c, const char *s, size_t len)
{
    c->seen++;
    if (c->match && !glob_match(c->match->ptr, c->match->len, s, len, false))
        return;
    resp_bulk(&c->out, s, len);
    c->n++;
}

static void sscan_node(const struct fnode *nd, void *arg)
{
    size_t len;
    const char *s = fn_key(nd, &len);
    sscan_emit(arg, s, len);
}

static void sscan_exec(struct rt_call *call)
{
    uint64_t cursor;
    struct entry *e;
    struct scan_opts o;
    if (!scan_key_start(call, VT_SET, &e, &cursor, &o))
        return;
    struct sscan_ctx c = {.match = o.match && !scan_match_all(o.match) ? o.match : NULL};
    uint64_t count = (uint64_t)o.count_v;
    struct set_val s = set_of(e);
    if (s.enc == OBJ_HASHTABLE) {
        /* As Redis: visit buckets until COUNT members were seen or 10 * COUNT buckets
         * were visited, or the table is done. */
        uint64_t budget = count > UINT64_MAX / 10 ? UINT64_MAX : count * 10;
        do
            cursor = fd_scan(s.o, cursor, sscan_node, &c);
        while (cursor && budget-- && c.seen < count);
    } else {
        /* A compact set is returned whole, with cursor 0, whatever the cursor given. */
        struct set_iter it;
        struct set_elem m;
        set_iter_init(&it, &s);
        while (set_iter_next(&it, &m))
            sscan_emit(&c, m.s, m.len);
        set_iter_done(&it);
        cursor = 0;
    }
    scan_reply(call->out, cursor, (int64_t)c.n, &c.out);
    buf_free(&c.out);
}

/* ---- The table ---- */

#define KEYS_ONE {1, 1, 1, 0}
#define KEYS_ALL {1, -1, 1, 0}
#define KEYS_TWO {1, 2, 1, 0}
#define KEYS_NONE {0, 0, 0, 0}
#define KEYS_FROM2 {2, -1, 1, 0}

#define ROUTE_KEYS(nm, spec, ex, st) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .exec = ex, .step = st}
#define ROUTE_INTERNAL(nm, spec, ex) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .flags = RT_CMD_INTERNAL, .exec = ex}

#define SET_WRITE_FAST "@write @set @fast"
#define SET_READ_FAST "@read @set @fast"
#define SET_READ_SLOW "@read @set @slow"
#define SET_WRITE_SLOW "@write @set @slow"
#define INTER_CX "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets."
#define TOTAL_CX "O(N) where N is the total number of elements in all given sets."

const struct cmd_def cmd_sets_table[] = {
    {"sadd", -3, "write denyoom fast", SET_WRITE_FAST, ROUTE_KEYS("sadd", KEYS_ONE, sadd_exec, NULL),
     "set", "1.0.0", "Add one or more members to a set",
     "O(1) for each element added, so O(N) to add N elements when the command is called with "
     "multiple arguments."},
    {"srem", -3, "write fast", SET_WRITE_FAST, ROUTE_KEYS("srem", KEYS_ONE, srem_exec, NULL), "set",
     "1.0.0", "Remove one or more members from a set",
     "O(N) where N is the number of members to be removed."},
    {"scard", 2, "readonly fast", SET_READ_FAST, ROUTE_KEYS("scard", KEYS_ONE, scard_exec, NULL),
     "set", "1.0.0", "Get the number of members in a set", "O(1)"},
    {"sismember", 3, "readonly fast", SET_READ_FAST,
     ROUTE_KEYS("sismember", KEYS_ONE, sismember_exec, NULL), "set", "1.0.0",
     "Determine if a given value is a member of a set", "O(1)"},
    {"smismember", -3, "readonly fast", SET_READ_FAST,
     ROUTE_KEYS("smismember", KEYS_ONE, smismember_exec, NULL), "set", "6.2.0",
     "Returns the membership associated with the given elements for a set",
     "O(N) where N is the number of elements being checked for membership"},
    {"smembers", 2, "readonly", SET_READ_SLOW,
     ROUTE_KEYS("smembers", KEYS_ONE, smembers_exec, NULL), "set", "1.0.0",
     "Get all the members in a set", "O(N) where N is the set cardinality."},
    {"spop", -2, "write fast", SET_WRITE_FAST, ROUTE_KEYS("spop", KEYS_ONE, spop_exec, NULL), "set",
     "1.0.0", "Remove and return one or multiple random members from a set",
     "Without the count argument O(1), otherwise O(N) where N is the value of the passed "
     "count."},
    {"srandmember", -2, "readonly", SET_READ_SLOW,
     ROUTE_KEYS("srandmember", KEYS_ONE, srandmember_exec, NULL), "set", "1.0.0",
     "Get one or multiple random members from a set",
     "Without the count argument O(1), otherwise O(N) where N is the absolute value of the "
     "passed count."},
    {"smove", 4, "write fast", SET_WRITE_FAST,
     ROUTE_KEYS("smove", KEYS_TWO, sets_smove_exec, sets_smove_step), "set", "1.0.0",
     "Move a member from one set to another", "O(1)"},
    {"sinter", -2, "readonly", SET_READ_SLOW,
     ROUTE_KEYS("sinter", KEYS_ALL, sets_sinter_exec, sets_sinter_step), "set", "1.0.0",
     "Intersect multiple sets", INTER_CX},
    {"sintercard", -3, "readonly movablekeys", SET_READ_SLOW,
     ROUTE_KEYS("sintercard", ((struct rt_keyspec){0, 0, 0, 1}), sets_sintercard_exec,
                sets_sintercard_step),
     "set", "7.0.0", "Intersect multiple sets and return the cardinality of the result",
     INTER_CX},
    {"sinterstore", -3, "write denyoom", SET_WRITE_SLOW,
     ROUTE_KEYS("sinterstore", KEYS_ALL, sets_sinterstore_exec, sets_sinterstore_step), "set",
     "1.0.0", "Intersect multiple sets and store the resulting set in a key", INTER_CX},
    {"sunion", -2, "readonly", SET_READ_SLOW,
     ROUTE_KEYS("sunion", KEYS_ALL, sets_sunion_exec, sets_sunion_step), "set", "1.0.0",
     "Add multiple sets", TOTAL_CX},
    {"sunionstore", -3, "write denyoom", SET_WRITE_SLOW,
     ROUTE_KEYS("sunionstore", KEYS_ALL, sets_sunionstore_exec, sets_sunionstore_step), "set",
     "1.0.0", "Add multiple sets and store the resulting set in a key", TOTAL_CX},
    {"sdiff", -2, "readonly", SET_READ_SLOW,
     ROUTE_KEYS("sdiff", KEYS_ALL, sets_sdiff_exec, sets_sdiff_step), "set", "1.0.0",
     "Subtract multiple sets", TOTAL_CX},
    {"sdiffstore", -3, "write denyoom", SET_WRITE_SLOW,
     ROUTE_KEYS("sdiffstore", KEYS_ALL, sets_sdiffstore_exec, sets_sdiffstore_step), "set",
     "1.0.0", "Subtract multiple sets and store the resulting set in a key", TOTAL_CX},
    {"sscan", -3, "readonly", SET_READ_SLOW, ROUTE_KEYS("sscan", KEYS_ONE, sscan_exec, NULL),
     "set", "2.8.0", "Incrementally iterate Set elements",
     "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
     "the cursor to return back to 0. N is the number of elements inside the collection.."},

    /* Parts of multi-shard steps (sets_parts.c). */
    {"__scard", -3, "readonly", "@read @set", ROUTE_INTERNAL("__scard", KEYS_FROM2, sets_iscard_exec),
     "set", "", "", ""},
    {"__sclass", 2, "readonly", "@read @set",
     ROUTE_INTERNAL("__sclass", KEYS_ONE, sets_isclass_exec), "set", "", "", ""},
    {"__sop", -3, "readonly", "@read @set", ROUTE_INTERNAL("__sop", KEYS_FROM2, sets_iop_exec),
     "set", "", "", ""},
    {"__sprobe", -5, "readonly", "@read @set",
     ROUTE_INTERNAL("__sprobe", ((struct rt_keyspec){0, 0, 0, 2}), sets_iprobe_exec), "set", "",
     "", ""},
    {"__sstore", -4, "write", "@write @set", ROUTE_INTERNAL("__sstore", KEYS_ONE, sets_istore_exec),
     "set", "", "", ""},
    {"__sismember", 3, "readonly", "@read @set",
     ROUTE_INTERNAL("__sismember", KEYS_ONE, sets_iismember_exec), "set", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
