/* The step of the blocking commands, on the client's origin shard (rt.h "Blocking
 * commands", DESIGN.md section 9). Phase numbers only count calls; the stage in the
 * state says what the results of the phase that ended are:
 *
 *   TRY      (keys on several shards, not tried yet) one part per run of consecutive
 *            keys on one shard, in argument order: the command itself with those keys
 *            and timeout 0, which pops like the command or replies nil. WRONGTYPE ends
 *            the command, as Redis's loop over the keys does.
 *            BLMOVE/BRPOPLPUSH across shards: "__lpop src" (then PUSH).
 *   WAIT     registered on every key; woken: a key is ready (serve it), the deadline
 *            passed or CLIENT UNBLOCK (nil or the UNBLOCKED error), the client left.
 *   SERVE    the serving pop on the woken key's owner: the command itself with that key
 *            (BLMOVE with both keys on one shard: "__bmove"; across shards: "__lpop src",
 *            then PUSH). Nil: someone else took it first; wait again.
 *   PUSH     BLMOVE across shards: "__lpush dst" of the popped element. WRONGTYPE:
 *            the element goes back to the source and the client gets the error, as
 *            Redis checks the destination before popping.
 *   PUTBACK  the client left after its element(s) were popped: they went back where
 *            they came from (LPUSH/RPUSH in reverse pop order, ZADD with their scores).
 *            A move is not put back: it completes, which loses nothing either.
 *
 * Every pop and push runs as a command on the key's owner, through the post-write hook
 * (logged, notified, seen by WATCH). Parts reply in RESP2; the client's reply is built
 * here in its protocol (only sorted-set scores differ). */
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "cmd/blocking.h"
#include "cmd/typed.h"

enum stage { S_TRY, S_WAIT, S_SERVE, S_PUSH, S_PUTBACK };

struct bstate {
    struct bargs a;
    int64_t deadline; /* wall-clock ms; 0: none */
    enum stage stage;
    int next;         /* S_TRY: the next key to try, among the keys */
    bool split;       /* S_SERVE of a move: "__lpop" (else "__bmove") */
    struct buf elem;  /* S_PUSH: the element moved */
    struct buf reply; /* S_PUTBACK: what to finish with */
};

static void bstate_free(void *p)
{
    struct bstate *st = p;
    buf_free(&st->elem);
    buf_free(&st->reply);
}

static const char *const names[] = {
    [B_BLPOP] = "blpop",       [B_BRPOP] = "brpop",   [B_BLMOVE] = "blmove",
    [B_BRPOPLPUSH] = "brpoplpush", [B_BLMPOP] = "blmpop", [B_BZPOPMIN] = "bzpopmin",
    [B_BZPOPMAX] = "bzpopmax", [B_BZMPOP] = "bzmpop",
};

static rt_str word(const char *s) { return (rt_str){s, strlen(s)}; }
static rt_str end_word(enum list_end e) { return word(e == LIST_HEAD ? "LEFT" : "RIGHT"); }

static unsigned shard_of(struct rt_txn *t, const rt_str *k)
{
    return rt_key_shard(rt_txn_shard(t), k->ptr, k->len);
}

static void finish_buf(struct rt_txn *t, const struct buf *b)
{
    rt_txn_finish(t, b->data ? b->data : "", b->len);
}

static void finish_nil(struct rt_txn *t, const struct bstate *st, bool timed_out)
{
    struct buf *b = rt_txn_scratch(t);
    bargs_reply_nil(b, &st->a, rt_txn_proto(t), timed_out);
    finish_buf(t, b);
}

/* Queue the command itself with keys[0..n) and timeout 0 on `shard`: it pops from the
 * first of them that holds a value, or replies nil. */
static void queue_pop(struct rt_txn *t, const struct bstate *st, unsigned shard,
                      const rt_str *keys, int n)
{
    const struct bargs *a = &st->a;
    rt_str *argv = cmd_xmalloc(((size_t)n + 7) * sizeof *argv);
    char nk[NUMFMT_I64_MAX], cnt[NUMFMT_I64_MAX];
    int argc = 0;
    argv[argc++] = word(names[a->which]);
    if (bcmd_is_mpop(a->which)) {
        argv[argc++] = word("0");
        argv[argc++] = (rt_str){nk, (size_t)i64_to_str(nk, n)};
    }
    for (int i = 0; i < n; i++)
        argv[argc++] = keys[i];
    if (bcmd_is_mpop(a->which)) {
        argv[argc++] = a->which == B_BZMPOP ? word(a->max ? "MAX" : "MIN") : end_word(a->where);
        argv[argc++] = word("COUNT");
        argv[argc++] = (rt_str){cnt, (size_t)i64_to_str(cnt, a->count)};
    } else {
        argv[argc++] = word("0");
    }
    rt_txn_part(t, shard, argc, argv);
    free(argv);
}

static void queue_lpop(struct rt_txn *t, const struct bstate *st, const rt_str *argv)
{
    rt_str pop[4] = {word("__lpop"), argv[1], end_word(st->a.where), word("1")};
    rt_txn_part(t, shard_of(t, &argv[1]), 4, pop);
}

/* ---- Stages ---- */

static void wait_keys(struct rt_txn *t, struct bstate *st, const rt_str *argv)
{
    unsigned kind = bcmd_is_zset(st->a.which) ? BWAIT_ZSET : BWAIT_LIST;
    for (int i = 0; i < st->a.nkeys; i++) {
        const rt_str *k = &argv[st->a.first + i];
        rt_txn_wait_key(t, k->ptr, k->len, kind);
    }
    rt_txn_wait(t, st->deadline);
    st->stage = S_WAIT;
}

/* Nothing found: wait, or (inside EXEC) answer as Redis does a client that cannot block. */
static void found_nothing(struct rt_txn *t, struct bstate *st, const rt_str *argv)
{
    if (rt_txn_can_wait(t))
        wait_keys(t, st, argv);
    else
        finish_nil(t, st, false);
}

static void try_next(struct rt_txn *t, struct bstate *st, const rt_str *argv)
{
    st->stage = S_TRY;
    if (bcmd_is_move(st->a.which)) {
        st->next = st->a.nkeys;
        queue_lpop(t, st, argv);
        return;
    }
    const rt_str *keys = &argv[st->a.first];
    int i = st->next;
    unsigned shard = shard_of(t, &keys[i]);
    int n = 1;
    while (i + n < st->a.nkeys && shard_of(t, &keys[i + n]) == shard)
        n++;
    st->next = i + n;
    queue_pop(t, st, shard, &keys[i], n);
}

/* A popped element of a move (a "__lpop" reply *1 [elem]) goes to the destination. */
static bool start_push(struct rt_txn *t, struct bstate *st, const rt_str *argv, rt_str r)
{
    size_t pos = 0;
    struct resp_val arr, el;
    if (!resp_read(r.ptr, r.len, &pos, &arr) || arr.type != RESP_ARRAY || arr.n != 1 ||
        !resp_read(r.ptr, r.len, &pos, &el) || el.type != RESP_BULK || el.n < 0)
        return false;
    st->elem.len = 0;
    buf_append(&st->elem, el.str, el.len);
    rt_str push[4] = {word("__lpush"), argv[2], end_word(st->a.to), {el.str, el.len}};
    rt_txn_part(t, shard_of(t, &argv[2]), 4, push);
    st->stage = S_PUSH;
    return true;
}

/* A pop's reply (RESP2): the key, then the elements, or [member, score] pairs. */
struct popped {
    rt_str key;
    rt_str *items; /* elements; sorted sets: member, score, member, score... */
    int64_t n;     /* items */
};

static bool read_popped(rt_str r, const struct bargs *a, struct popped *p)
{
    size_t pos = 0;
    struct resp_val v, k;
    bool zset = bcmd_is_zset(a->which), mpop = bcmd_is_mpop(a->which);
    int64_t want = zset && !mpop ? 3 : 2;
    if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY || v.n != want ||
        !resp_read(r.ptr, r.len, &pos, &k) || k.type != RESP_BULK || k.n < 0)
        return false;
    p->key = (rt_str){k.str, k.len};
    int64_t n = zset && !mpop ? 2 : 1, groups = 1;
    if (mpop) {
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY || v.n < 1 ||
            (uint64_t)v.n > r.len)
            return false;
        groups = v.n;
        n = zset ? 2 * v.n : v.n;
    }
    p->items = cmd_xmalloc((size_t)n * sizeof *p->items);
    p->n = 0;
    for (int64_t g = 0; g < groups; g++) {
        if (zset && mpop &&
            (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY || v.n != 2))
            goto bad;
        for (int j = 0; j < (zset ? 2 : 1); j++) {
            if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_BULK || v.n < 0)
                goto bad;
            p->items[p->n++] = (rt_str){v.str, v.len};
        }
    }
    return true;
bad:
    free(p->items);
    return false;
}

/* The client's reply from a pop's: the same bytes, but scores as doubles in RESP3. */
static bool client_reply(struct buf *b, const struct bargs *a, int proto, rt_str r)
{
    if (!bcmd_is_zset(a->which) || proto == 2) {
        buf_append(b, r.ptr, r.len);
        return true;
    }
    struct popped p;
    if (!read_popped(r, a, &p))
        return false;
    bool mpop = bcmd_is_mpop(a->which), ok = true;
    resp_array(b, mpop ? 2 : 3);
    resp_bulk(b, p.key.ptr, p.key.len);
    if (mpop)
        resp_array(b, p.n / 2);
    for (int64_t i = 0; i + 1 < p.n && ok; i += 2) {
        double d;
        ok = str_to_double(p.items[i + 1].ptr, p.items[i + 1].len, &d);
        if (mpop)
            resp_array(b, 2);
        resp_bulk(b, p.items[i].ptr, p.items[i].len);
        resp_double(b, d, proto);
    }
    free(p.items);
    return ok;
}

/* Put popped elements back where they were: pushed onto the end they left, the last
 * popped first; members re-added with their scores. */
static bool put_back(struct rt_txn *t, const struct bstate *st, unsigned shard, rt_str r)
{
    struct popped p;
    if (!read_popped(r, &st->a, &p))
        return false;
    bool zset = bcmd_is_zset(st->a.which);
    rt_str *argv = cmd_xmalloc(((size_t)p.n + 2) * sizeof *argv);
    argv[0] = word(zset ? "zadd" : st->a.where == LIST_HEAD ? "lpush" : "rpush");
    argv[1] = p.key;
    for (int64_t i = 0; i < p.n; i++)
        argv[2 + i] = zset ? p.items[i ^ 1] : p.items[p.n - 1 - i]; /* score before member */
    rt_txn_part(t, shard, (int)p.n + 2, argv);
    free(argv);
    free(p.items);
    return true;
}

/* Whether the reply can still reach the client. */
static bool client_present(const struct rt_txn *t)
{
    struct rt_client *c = rt_txn_client(t);
    return c && !rt_client_leaving(c);
}

/* A pop's reply with the element(s): to the client, or back where they came from. */
static void deliver(struct rt_txn *t, struct bstate *st, unsigned shard, rt_str r)
{
    if (client_present(t)) {
        struct buf *b = rt_txn_scratch(t);
        if (client_reply(b, &st->a, rt_txn_proto(t), r))
            finish_buf(t, b);
        else
            txn_finish_bad(t, r);
        return;
    }
    st->reply.len = 0; /* the client is leaving: it gets no reply at all */
    if (!put_back(t, st, shard, r)) {
        txn_finish_bad(t, r);
        return;
    }
    st->stage = S_PUTBACK;
}

static bool is_nil(rt_str r)
{
    return (r.len >= 3 && memcmp(r.ptr, "*-1", 3) == 0) ||
           (r.len >= 3 && memcmp(r.ptr, "*0\r", 3) == 0);
}

static void on_try(struct rt_txn *t, struct bstate *st, const rt_str *argv)
{
    rt_str r = rt_txn_result(t, 0);
    if (r.len && r.ptr[0] == '-') {
        rt_txn_finish(t, r.ptr, r.len); /* WRONGTYPE, with Redis's order of keys */
        return;
    }
    if (is_nil(r)) {
        if (st->next < st->a.nkeys)
            try_next(t, st, argv);
        else
            found_nothing(t, st, argv);
        return;
    }
    if (bcmd_is_move(st->a.which)) {
        if (!start_push(t, st, argv, r))
            txn_finish_bad(t, r);
        return;
    }
    deliver(t, st, shard_of(t, &argv[st->a.first + st->next - 1]), r);
}

static void on_wake(struct rt_txn *t, struct bstate *st, const rt_str *argv)
{
    switch (rt_txn_wake(t)) {
    case RT_WAKE_KEY:
        break;
    case RT_WAKE_TIMEOUT:
        finish_nil(t, st, true);
        return;
    case RT_WAKE_ERROR: {
        struct buf *b = rt_txn_scratch(t);
        resp_error(b, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        finish_buf(t, b);
        return;
    }
    case RT_WAKE_GONE:
        rt_txn_finish(t, "", 0); /* the connection is gone: no reply */
        return;
    default:
        wait_keys(t, st, argv);
        return;
    }
    if (!client_present(t)) {
        rt_txn_finish(t, "", 0); /* leaving since the wake: take nothing, reply nothing */
        return;
    }
    unsigned shard;
    rt_str key = rt_txn_woken_key(t, &shard);
    st->stage = S_SERVE;
    if (bcmd_is_move(st->a.which)) {
        st->split = shard_of(t, &argv[2]) != shard;
        if (st->split) {
            queue_lpop(t, st, argv);
        } else {
            rt_str mv[5] = {word("__bmove"), argv[1], argv[2], end_word(st->a.where),
                            end_word(st->a.to)};
            rt_txn_part(t, shard, 5, mv);
        }
        return;
    }
    queue_pop(t, st, shard, &key, 1);
}

static void on_serve(struct rt_txn *t, struct bstate *st, const rt_str *argv)
{
    rt_str r = rt_txn_result(t, 0);
    bool move = bcmd_is_move(st->a.which);
    if (is_nil(r) || (r.len && r.ptr[0] == '-' && (!move || st->split))) {
        /* Taken by someone else first, or no longer of the type: wait again, as a
         * Redis client stays blocked while its key is not ready. */
        wait_keys(t, st, argv);
        return;
    }
    if (!move) {
        unsigned shard;
        rt_txn_woken_key(t, &shard);
        deliver(t, st, shard, r);
        return;
    }
    if (!st->split) {
        rt_txn_finish(t, r.ptr, r.len); /* the element moved, or WRONGTYPE */
        return;
    }
    if (!start_push(t, st, argv, r))
        txn_finish_bad(t, r);
}

static void on_push(struct rt_txn *t, struct bstate *st, const rt_str *argv)
{
    rt_str r = rt_txn_result(t, 0);
    if (r.len && r.ptr[0] == ':') {
        struct buf *b = rt_txn_scratch(t);
        resp_bulk(b, st->elem.data ? st->elem.data : "", st->elem.len);
        finish_buf(t, b);
        return;
    }
    /* The destination holds another type: the element goes back, the client gets the
     * error. */
    st->reply.len = 0;
    buf_append(&st->reply, r.ptr, r.len);
    rt_str back[4] = {word("__lpush"), argv[1], end_word(st->a.where),
                      {st->elem.data ? st->elem.data : "", st->elem.len}};
    rt_txn_part(t, shard_of(t, &argv[1]), 4, back);
    st->stage = S_PUTBACK;
}

static void blocking_step(struct rt_txn *t, unsigned phase, enum bcmd which)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct bstate *st = rt_txn_state(t, sizeof *st);
    if (phase == 0) {
        rt_txn_on_free(t, bstate_free);
        const char *err = bargs_parse(which, argv, argc, &st->a);
        if (err) {
            txn_finish_error(t, err);
            return;
        }
        int64_t now = rt_shard_now_ms(rt_txn_shard(t)), ms = st->a.timeout_ms;
        /* A deadline past the clock's range never comes: wait forever. */
        st->deadline = ms > 0 && ms <= INT64_MAX - now ? now + ms : 0;
        if (rt_txn_tried(t))
            wait_keys(t, st, argv);
        else
            try_next(t, st, argv);
        return;
    }
    switch (st->stage) {
    case S_TRY:
        on_try(t, st, argv);
        return;
    case S_WAIT:
        on_wake(t, st, argv);
        return;
    case S_SERVE:
        on_serve(t, st, argv);
        return;
    case S_PUSH:
        on_push(t, st, argv);
        return;
    case S_PUTBACK:
        finish_buf(t, &st->reply);
        return;
    }
}

void blpop_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BLPOP); }
void brpop_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BRPOP); }
void blmove_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BLMOVE); }
void brpoplpush_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BRPOPLPUSH); }
void blmpop_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BLMPOP); }
void bzpopmin_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BZPOPMIN); }
void bzpopmax_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BZPOPMAX); }
void bzmpop_step(struct rt_txn *t, unsigned phase) { blocking_step(t, phase, B_BZMPOP); }
