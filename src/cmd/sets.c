/* The set commands on one key: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP
 * SRANDMEMBER SSCAN, and the family's table (the multi-key commands and SMOVE live in
 * sets_algebra.c). Semantics, replies and keyspace events follow Redis 7.2's t_set.c;
 * the set object and its encodings are store/set.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/glob.h"
#include "base/numfmt.h"
#include "cmd/cmd.h"
#include "cmd/typed.h"
#include "store/set.h"

/* Handlers defined in sets_algebra.c (the family has no private header: only these two
 * files share them). */
void sets_sinter_exec(struct rt_call *call);
void sets_sinter_step(struct rt_txn *t, unsigned phase);
void sets_sintercard_exec(struct rt_call *call);
void sets_sintercard_step(struct rt_txn *t, unsigned phase);
void sets_sinterstore_exec(struct rt_call *call);
void sets_sinterstore_step(struct rt_txn *t, unsigned phase);
void sets_sunion_exec(struct rt_call *call);
void sets_sunion_step(struct rt_txn *t, unsigned phase);
void sets_sunionstore_exec(struct rt_call *call);
void sets_sunionstore_step(struct rt_txn *t, unsigned phase);
void sets_sdiff_exec(struct rt_call *call);
void sets_sdiff_step(struct rt_txn *t, unsigned phase);
void sets_sdiffstore_exec(struct rt_call *call);
void sets_sdiffstore_step(struct rt_txn *t, unsigned phase);
void sets_smove_exec(struct rt_call *call);
void sets_smove_step(struct rt_txn *t, unsigned phase);

/* Shared with sets_algebra.c (defined below). */
bool sets_load(struct rt_call *call, const rt_str *keys, int n, bool read, struct set_val *out);
void sets_store_result(struct rt_call *call, const rt_str *dst, struct set_val *s,
                       const char *event);
extern const char *const sets_store_events[3];

/* SRANDMEMBER with a negative count answers |count| members with repeats. Redis streams
 * them until the client is dropped; corekv builds a reply in memory, so it refuses a
 * reply of more members than this rather than allocate without bound. */
#define SRAND_MAX_REPEATS (1L << 24)

static struct set_val set_of(const struct entry *e)
{
    return (struct set_val){entry_obj(e), entry_obj_enc(e)};
}

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

static void reply_all(struct buf *out, struct set_val *s)
{
    struct set_iter it;
    struct set_elem m;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &m))
        reply_elem(out, &m);
    set_iter_done(&it);
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
    reply_all(call->out, &s);
}

/* ---- SPOP ---- */

/* SPOP's count: Redis's getPositiveLongFromObjectOrReply, whose one message covers both
 * a non-integer and a negative value. */
static bool spop_count(struct rt_call *call, const rt_str *a, int64_t *v)
{
    if (str_to_i64(a->ptr, a->len, v) && *v >= 0)
        return true;
    resp_error(call->out, "ERR value is out of range, must be positive");
    return false;
}

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
    reply_all(out, &u);
    set_free(&u);
}

/* Selection sampling (Knuth's algorithm S): whether to take the current member when
 * `need` of the `left` members not yet visited are still to be taken. */
static bool take_next(size_t need, size_t left)
{
    return set_rand() % left < need;
}

/* SPOP key count with count < size. Few to pop: pop them one by one. Most of the set:
 * draw the members that stay into a new set, reply with the rest, and replace. */
static void spop_some(struct rt_call *call, struct entry *e, struct set_val *s, size_t count)
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
        reply_all(out, s);
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
    if (with_count && !spop_count(call, &call->argv[2], &count))
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
    if (!with_count) {
        struct set_elem m;
        char *heap;
        set_pop_random(&s, &m, &heap);
        reply_elem(call->out, &m);
        free(heap);
        entry_set_obj(e, s.enc, s.o);
        gone = set_card(&s) == 0;
    } else if ((uint64_t)count >= size) {
        reply_as_union(call->out, &s, call->proto);
        gone = true;
    } else {
        spop_some(call, e, &s, (size_t)count);
        gone = false;
    }
    if (gone)
        store_delete_entry(cs->store, e);
    cmd_key_written(cs, k->ptr, k->len, "spop");
    if (gone)
        cmd_key_written(cs, k->ptr, k->len, "del");
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
        if (!arg_i64(call, &call->argv[2], &l))
            return;
        if (l == INT64_MIN) {
            resp_error(call->out, "ERR value is out of range, value must between "
                                  "-9223372036854775807 and 9223372036854775807");
            return;
        }
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
        reply_all(call->out, &s);
        return;
    }
    srand_distinct(call->out, &s, (size_t)count);
}

/* ---- SSCAN ---- */

/* Redis parses a SCAN cursor with strtoul on the C string: an optional sign ("-1" wraps
 * around), no leading space, digits to the end, no overflow. */
static bool parse_cursor(const rt_str *a, uint64_t *out)
{
    const char *nul = memchr(a->ptr, '\0', a->len);
    size_t len = nul ? (size_t)(nul - a->ptr) : a->len, i = 0;
    const char *p = a->ptr;
    *out = 0;
    if (len == 0)
        return true;
    if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
        return false;
    bool neg = false;
    if (p[i] == '+' || p[i] == '-')
        neg = p[i++] == '-';
    if (i == len)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (uint64_t)0 - v : v;
    return true;
}

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
    if (!parse_cursor(&call->argv[2], &cursor)) {
        resp_error(call->out, "ERR invalid cursor");
        return;
    }
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_SET, false, &e);
    if (r < 0)
        return;
    if (r == 0) {
        /* Redis answers a missing key before it reads the options. */
        buf_append(call->out, "*2\r\n$1\r\n0\r\n*0\r\n", 15);
        return;
    }
    struct sscan_ctx c = {0};
    int64_t count = 10;
    for (int i = 3; i < call->argc; i += 2) {
        bool more = call->argc - i >= 2;
        if (more && arg_is(&call->argv[i], "count")) {
            if (!arg_i64(call, &call->argv[i + 1], &count))
                goto done;
            if (count < 1) {
                resp_error(call->out, ERR_SYNTAX);
                goto done;
            }
        } else if (more && arg_is(&call->argv[i], "match")) {
            const rt_str *p = &call->argv[i + 1];
            c.match = p->len == 1 && p->ptr[0] == '*' ? NULL : p;
        } else {
            resp_error(call->out, ERR_SYNTAX);
            goto done;
        }
    }
    struct set_val s = set_of(e);
    if (s.enc == OBJ_HASHTABLE) {
        /* As Redis: visit buckets until COUNT members were seen or 10 * COUNT buckets
         * were visited, or the table is done. */
        uint64_t budget = (uint64_t)count > UINT64_MAX / 10 ? UINT64_MAX : (uint64_t)count * 10;
        do
            cursor = fd_scan(s.o, cursor, sscan_node, &c);
        while (cursor && budget-- && c.seen < (uint64_t)count);
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
    char nbuf[24];
    int nlen = snprintf(nbuf, sizeof nbuf, "%" PRIu64, cursor);
    resp_array(call->out, 2);
    resp_bulk(call->out, nbuf, (size_t)nlen);
    resp_array(call->out, (int64_t)c.n);
    buf_append(call->out, c.out.data, c.out.len);
done:
    buf_free(&c.out);
}

/* ---- Shared with sets_algebra.c ---- */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* The sets named by keys[0..n) into out[] (o NULL: missing). false after replying
 * WRONGTYPE for the first key, in order, that holds another type (Redis checks every
 * key before it computes anything). read: count keyspace hits/misses. */
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

/* Replace dst with s (taking it), or delete dst when s is empty (Redis: "del" only when
 * something was deleted); reply the count. */
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

/* ---- Parts of the multi-shard steps (sets_algebra.c describes them) ---- */

/* __scard R|W key... */
static void iscard_exec(struct rt_call *call)
{
    int n = call->argc - 2;
    struct set_val *sets = xcalloc((size_t)n, sizeof *sets);
    if (sets_load(call, call->argv + 2, n, arg_is(&call->argv[1], "r"), sets)) {
        resp_array(call->out, n);
        for (int i = 0; i < n; i++)
            resp_int(call->out, sets[i].o ? (int64_t)set_card(&sets[i]) : -1);
    }
    free(sets);
}

/* __sclass key */
static void isclass_exec(struct rt_call *call)
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
    reply_elem(&c->out, m);
    c->n++;
    return true;
}

/* __sop INTER|UNION|DIFF key...  or  __sop DIFFM nkeys key... member... (the local
 * difference, minus the members given: the other owners' sets). */
static void iop_exec(struct rt_call *call)
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
    struct set_val *sets = xcalloc((size_t)n, sizeof *sets);
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
        reply_all(call->out, &d);
        set_free(&d);
    }
    free(sets);
}

/* __sprobe ALL|ANY nkeys key... member... */
static void iprobe_exec(struct rt_call *call)
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
    struct set_val *sets = xcalloc((size_t)n, sizeof *sets);
    if (sets_load(call, call->argv + 3, n, false, sets)) {
        size_t nm = (size_t)(call->argc - first);
        char *flags = xcalloc(nm, 1);
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
static void istore_exec(struct rt_call *call)
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
static void iismember_exec(struct rt_call *call)
{
    struct set_val s;
    if (sets_load(call, call->argv + 1, 1, false, &s))
        resp_int(call->out, s.o ? set_has(&s, call->argv[2].ptr, call->argv[2].len) : -1);
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

    /* Parts of multi-shard steps (sets_algebra.c). */
    {"__scard", -3, "readonly", "@read @set", ROUTE_INTERNAL("__scard", KEYS_FROM2, iscard_exec),
     "set", "", "", ""},
    {"__sclass", 2, "readonly", "@read @set",
     ROUTE_INTERNAL("__sclass", KEYS_ONE, isclass_exec), "set", "", "", ""},
    {"__sop", -3, "readonly", "@read @set", ROUTE_INTERNAL("__sop", KEYS_FROM2, iop_exec),
     "set", "", "", ""},
    {"__sprobe", -5, "readonly", "@read @set",
     ROUTE_INTERNAL("__sprobe", ((struct rt_keyspec){0, 0, 0, 2}), iprobe_exec), "set", "",
     "", ""},
    {"__sstore", -4, "write", "@write @set", ROUTE_INTERNAL("__sstore", KEYS_ONE, istore_exec),
     "set", "", "", ""},
    {"__sismember", 3, "readonly", "@read @set",
     ROUTE_INTERNAL("__sismember", KEYS_ONE, iismember_exec), "set", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
