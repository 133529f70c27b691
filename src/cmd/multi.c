/* Transactions, the connection side: MULTI, DISCARD, WATCH, UNWATCH, RESET, the
 * queueing of commands during MULTI, and the state behind them (multi.h). EXEC is in
 * multi_exec.c, the owners' side of WATCH in watch.c.
 *
 * The state is the txn part of the connection's shared state (client_state.h), in use
 * from a connection's first MULTI or WATCH until it is neither in MULTI nor watching;
 * meanwhile the runtime routes the connection's commands through multi_intercept, which
 * queues them during MULTI (and sees a refused EXEC, which ends a WATCH too, as in
 * Redis).
 *
 * WATCH is a step: each owner registers its keys and replies their versions, which
 * the connection records. Every way out (EXEC, DISCARD, UNWATCH, RESET, a refused
 * EXEC, close) gives the registrations back, with "__unwatch" posts or, for EXEC,
 * through "__watchcheck". */
#include "cmd/multi.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/numfmt.h"
#include "cmd/client_state.h"
#include "cmd/pubsub.h"
#include "cmd/server.h"
#include "cmd/watch.h"

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static void finish_error(struct rt_txn *t, const char *msg)
{
    struct buf *b = rt_txn_scratch(t);
    resp_error(b, msg);
    rt_txn_finish(t, b->data, b->len);
}

/* ---- The queue and the watch list ---- */

static void queue_push(struct txn_client *st, const struct rt_cmd *cmd, int argc,
                       const rt_str *argv)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    struct queued_cmd *q = cmd_xmalloc(sizeof *q + (size_t)argc * sizeof(rt_str) + bytes);
    q->cmd = cmd;
    q->argc = argc;
    char *p = (char *)&q->argv[argc];
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        q->argv[i] = (rt_str){p, argv[i].len};
        p += argv[i].len;
    }
    if (st->nqueued == st->queue_cap) {
        st->queue_cap = st->queue_cap ? st->queue_cap * 2 : 8;
        st->queue = xrealloc(st->queue, st->queue_cap * sizeof *st->queue);
    }
    st->queue[st->nqueued++] = q;
}

void multi_queue_free(struct queued_cmd **queue, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(queue[i]);
    free(queue);
}

void multi_watched_free(struct watched_key *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i].key);
    free(w);
}

void multi_emit_part(void *t, unsigned shard, int argc, const rt_str *argv)
{
    rt_txn_part(t, shard, argc, argv);
}

void multi_emit_post(void *sh, unsigned shard, int argc, const rt_str *argv)
{
    rt_post(sh, shard, argc, argv);
}

/* order[0..n): the indices of w sorted by owning shard, stable (a counting sort): the
 * order in which the keys of multi_per_shard's messages follow each other. */
static void sort_by_shard(const struct watched_key *w, size_t n, size_t *order)
{
    size_t at[RT_MAX_SHARDS + 1] = {0};
    for (size_t i = 0; i < n; i++)
        at[w[i].shard + 1]++;
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++)
        at[s + 1] += at[s];
    for (size_t i = 0; i < n; i++)
        order[at[w[i].shard]++] = i;
}

/* The end of the message that starts at order[i]: keys of one shard, at most
 * MULTI_KEYS_PER_MESSAGE of them. */
static size_t message_end(const struct watched_key *w, const size_t *order, size_t n, size_t i)
{
    size_t end = i + 1;
    unsigned shard = w[order[i]].shard;
    while (end < n && end - i < MULTI_KEYS_PER_MESSAGE && w[order[end]].shard == shard)
        end++;
    return end;
}

/* One message per message_end run (see multi.h). */
void multi_per_shard(const struct watched_key *w, size_t n, const char *verb, bool versions,
                     multi_emit_fn *emit, void *arg)
{
    if (!n)
        return;
    size_t *order = cmd_xmalloc(n * sizeof *order);
    sort_by_shard(w, n, order);
    size_t chunk = n < MULTI_KEYS_PER_MESSAGE ? n : MULTI_KEYS_PER_MESSAGE;
    rt_str *argv = cmd_xmalloc((1 + 2 * chunk) * sizeof *argv);
    char(*num)[NUMFMT_I64_MAX] = versions ? cmd_xmalloc(chunk * sizeof *num) : NULL;
    argv[0] = (rt_str){verb, strlen(verb)};
    for (size_t i = 0, end; i < n; i = end) {
        end = message_end(w, order, n, i);
        int argc = 1;
        for (size_t k = i; k < end; k++) {
            const struct watched_key *x = &w[order[k]];
            argv[argc++] = (rt_str){x->key, x->len};
            if (versions) {
                int len = i64_to_str(num[k - i], (int64_t)x->version);
                argv[argc++] = (rt_str){num[k - i], (size_t)len};
            }
        }
        emit(arg, w[order[i]].shard, argc, argv);
    }
    free(num);
    free(argv);
    free(order);
}

/* Give every registration back to its owner and forget the keys. */
void multi_unwatch_all(struct rt_shard *sh, struct watched_key **w, size_t *n)
{
    multi_per_shard(*w, *n, "__unwatch", false, multi_emit_post, sh);
    multi_watched_free(*w, *n);
    *w = NULL;
    *n = 0;
}

/* ---- Connection state ---- */

/* The connection's txn state, or NULL when it has no shared state at all (a zeroed
 * txn_client means: not in MULTI, nothing watched). */
static struct txn_client *multi_state(const struct rt_client *c)
{
    struct client_state *cs = client_state_get(c);
    return cs ? &cs->txn : NULL;
}

static struct txn_client *client_state(struct rt_client *c)
{
    return &client_state_ensure(c)->txn;
}

/* After any change to st: release its buffers when nothing is left, then let the shared
 * state decide whether it lives on and whether commands are intercepted. st must not be
 * used afterwards. */
void multi_settle(struct rt_client *c, struct txn_client *st)
{
    if (!st->in_multi && !st->nwatched) {
        multi_queue_free(st->queue, st->nqueued);
        free(st->watched);
        *st = (struct txn_client){0};
    }
    client_state_settle(c);
}

/* DISCARD's effect, also RESET's and a refused EXEC's: no MULTI, no WATCH. */
static void discard(struct rt_shard *sh, struct rt_client *c, struct txn_client *st)
{
    multi_queue_free(st->queue, st->nqueued);
    st->queue = NULL;
    st->nqueued = st->queue_cap = 0;
    st->in_multi = st->dirty = false;
    multi_unwatch_all(sh, &st->watched, &st->nwatched);
    st->watched_cap = 0;
    multi_settle(c, st);
}

void multi_client_flags(const struct rt_client *c, const char **flags, long long *multi)
{
    const struct txn_client *st = multi_state(c);
    bool in_multi = st && st->in_multi;
    *flags = in_multi ? "x" : "N";
    *multi = in_multi ? (long long)st->nqueued : -1;
}

void multi_client_close(void *shard, struct rt_client *c)
{
    struct txn_client *st = multi_state(c);
    if (st)
        discard(((struct cmd_shard *)shard)->sh, c, st);
}

/* ---- MULTI, DISCARD, UNWATCH, RESET ---- */

static void multi_open_exec(struct rt_call *call)
{
    struct rt_client *c = call->client;
    struct txn_client *st = c ? client_state(c) : NULL;
    if (!st || st->in_multi) {
        resp_error(call->out, "ERR MULTI calls can not be nested");
        return;
    }
    st->in_multi = true;
    st->dirty = false;
    multi_settle(c, st);
    resp_ok(call->out);
}

static void discard_exec(struct rt_call *call)
{
    struct rt_client *c = call->client;
    struct txn_client *st = c ? multi_state(c) : NULL;
    if (!st || !st->in_multi) {
        resp_error(call->out, "ERR DISCARD without MULTI");
        return;
    }
    discard(call->rt_shard, c, st);
    resp_ok(call->out);
}

/* Also reached queued inside EXEC, whose phase 0 has already taken the watch list. */
static void unwatch_exec(struct rt_call *call)
{
    struct rt_client *c = call->client;
    struct txn_client *st = c ? multi_state(c) : NULL;
    if (st) {
        multi_unwatch_all(call->rt_shard, &st->watched, &st->nwatched);
        st->watched_cap = 0;
        multi_settle(c, st);
    }
    resp_ok(call->out);
}

/* RESET: the connection as new (no MULTI, no WATCH, no subscription, RESP2, no name). */
static void reset_exec(struct rt_call *call)
{
    struct rt_client *c = call->client;
    if (c) {
        struct txn_client *st = multi_state(c);
        if (st)
            discard(call->rt_shard, c, st);
        pubsub_client_reset(call->shard, c);
        rt_client_set_proto(c, 2);
        rt_client_set_name(c, "", 0);
    }
    resp_simple(call->out, "RESET");
}

/* ---- WATCH ---- */

/* Open addressing over (ptr, len), for one WATCH's duplicate check. */
struct keyset {
    rt_str *slots; /* ptr == NULL: empty */
    size_t mask;
    uint64_t seed;
};

static bool keyset_add(struct keyset *s, const char *key, size_t len)
{
    for (size_t i = hash_bytes(key, len, s->seed) & s->mask;; i = (i + 1) & s->mask) {
        rt_str *o = &s->slots[i];
        if (!o->ptr) {
            *o = (rt_str){key, len};
            return true;
        }
        if (o->len == len && memcmp(o->ptr, key, len) == 0)
            return false;
    }
}

struct watch_state {
    struct watched_key *keys; /* the keys this WATCH registers, owned until recorded */
    size_t n;
};

static void watch_state_free(void *p)
{
    struct watch_state *x = p;
    multi_watched_free(x->keys, x->n);
}

/* Phase 0: the keys the connection does not watch yet, each once, to their owners. */
static void watch_begin(struct rt_txn *t, struct watch_state *x)
{
    struct rt_client *c = rt_txn_client(t);
    struct txn_client *st = c ? multi_state(c) : NULL;
    if (st && st->in_multi) {
        finish_error(t, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    size_t old = st ? st->nwatched : 0, cap = 16;
    while (cap < 2 * (old + (size_t)argc))
        cap *= 2;
    struct keyset set = {.slots = cmd_xmalloc(cap * sizeof(rt_str)), .mask = cap - 1,
                         .seed = ((struct cmd_shard *)rt_shard_ctx(sh))->watches->seed};
    memset(set.slots, 0, cap * sizeof(rt_str));
    for (size_t i = 0; i < old; i++)
        keyset_add(&set, st->watched[i].key, st->watched[i].len);
    x->keys = cmd_xmalloc((size_t)argc * sizeof *x->keys);
    for (int i = 1; i < argc; i++) {
        const rt_str *k = &argv[i];
        if (!keyset_add(&set, k->ptr, k->len))
            continue;
        struct watched_key *w = &x->keys[x->n++];
        *w = (struct watched_key){.key = cmd_xmalloc(k->len), .len = k->len,
                                  .shard = rt_key_shard(sh, k->ptr, k->len)};
        memcpy(w->key, k->ptr, k->len);
    }
    free(set.slots);
    if (!x->n) {
        rt_txn_finish(t, "+OK\r\n", 5);
        return;
    }
    multi_per_shard(x->keys, x->n, "__watch", false, multi_emit_part, t);
}

/* Reads one "__watch" part's reply into the versions of keys order[i..end). False
 * when the part did not run (it then registered nothing). A reply with the right
 * count but a malformed element still registered its keys: they get a version no
 * owner holds, so EXEC aborts rather than trusting it. */
static bool read_versions(rt_str r, struct watched_key *w, const size_t *order, size_t i,
                          size_t end)
{
    size_t pos = 0;
    struct resp_val v;
    if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY || v.n != (int64_t)(end - i))
        return false;
    for (; i < end; i++) {
        bool good = resp_read(r.ptr, r.len, &pos, &v) && v.type == RESP_INT;
        w[order[i]].version = good ? (uint64_t)v.n : UINT64_MAX;
    }
    return true;
}

/* Phase 1: record the versions; if the connection left meanwhile (or a part failed),
 * give back exactly what was registered, since other clients' refs must stay. */
static void watch_end(struct rt_txn *t, struct watch_state *x)
{
    size_t *order = cmd_xmalloc(x->n * sizeof *order);
    sort_by_shard(x->keys, x->n, order);
    struct watched_key *held = cmd_xmalloc(x->n * sizeof *held);
    size_t nheld = 0;
    unsigned part = 0;
    for (size_t i = 0, end; i < x->n; i = end, part++) {
        end = message_end(x->keys, order, x->n, i);
        rt_str r = part < rt_txn_nresults(t) ? rt_txn_result(t, part) : (rt_str){"", 0};
        if (read_versions(r, x->keys, order, i, end))
            for (size_t k = i; k < end; k++)
                held[nheld++] = x->keys[order[k]];
    }
    free(order);
    struct rt_client *c = rt_txn_client(t);
    if (!c || nheld != x->n) {
        multi_per_shard(held, nheld, "__unwatch", false, multi_emit_post, rt_txn_shard(t));
        free(held);
        if (c)
            finish_error(t, "ERR internal error");
        else
            rt_txn_finish(t, "+OK\r\n", 5); /* nobody reads it */
        return;
    }
    free(held);
    struct txn_client *st = client_state(c);
    size_t need = st->nwatched + x->n;
    if (need > st->watched_cap) {
        st->watched_cap = need > 2 * st->watched_cap ? need : 2 * st->watched_cap;
        st->watched = xrealloc(st->watched, st->watched_cap * sizeof *st->watched);
    }
    memcpy(&st->watched[st->nwatched], x->keys, x->n * sizeof *x->keys);
    st->nwatched = need;
    free(x->keys); /* the key bytes now belong to the connection */
    x->keys = NULL;
    x->n = 0;
    multi_settle(c, st);
    rt_txn_finish(t, "+OK\r\n", 5);
}

static void watch_step(struct rt_txn *t, unsigned phase)
{
    struct watch_state *x = rt_txn_state(t, sizeof *x);
    if (phase == 0) {
        rt_txn_on_free(t, watch_state_free);
        watch_begin(t, x);
    } else {
        watch_end(t, x);
    }
}

/* ---- Queueing ---- */

static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

bool multi_intercept(void *shard, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                     const rt_str *argv, struct buf *out)
{
    struct txn_client *st = multi_state(c);
    if (!st)
        return false;
    if (!cmd) {
        /* The command was refused (its error is replied as usual). A refused EXEC (only
         * its arity can fail) ends MULTI and WATCH, as Redis's execCommandAbort. */
        if (argc > 0 && arg_is(&argv[0], "exec"))
            discard(((struct cmd_shard *)shard)->sh, c, st);
        else if (st->in_multi)
            st->dirty = true;
        return false;
    }
    if (!st->in_multi)
        return false;
    if (cmd->step == multi_exec_step || cmd->exec == discard_exec || cmd->exec == reset_exec ||
        (cmd->flags & RT_CMD_QUIT))
        return false;
    /* Not queued; as in Redis these two errors do not abort the transaction. */
    if (cmd->exec == multi_open_exec) {
        resp_error(out, "ERR MULTI calls can not be nested");
        return true;
    }
    if (cmd->step == watch_step) {
        resp_error(out, "ERR WATCH inside MULTI is not allowed");
        return true;
    }
    if (has_word(cmd_def_of(cmd)->flags, "no_multi")) {
        st->dirty = true;
        resp_error(out, "ERR Command not allowed inside a transaction");
        return true;
    }
    queue_push(st, cmd, argc, argv);
    buf_append(out, "+QUEUED\r\n", 9);
    return true;
}

/* ---- The table ---- */

#define TXN_FLAGS "noscript loading stale fast allow_busy"

const struct cmd_def cmd_multi_table[] = {
    {"multi", 1, TXN_FLAGS, "@fast @transaction", CMD_ORIGIN(multi_open_exec), "transactions",
     "1.2.0", "Mark the start of a transaction block", "O(1)"},
    {"exec", 1, "noscript loading stale skip_slowlog", "@slow @transaction",
     CMD_PLAN(NULL, multi_exec_step), "transactions", "1.2.0",
     "Execute all commands issued after MULTI", "Depends on commands in the transaction"},
    {"discard", 1, TXN_FLAGS, "@fast @transaction", CMD_ORIGIN(discard_exec), "transactions",
     "2.0.0", "Discard all commands issued after MULTI",
     "O(N), when N is the number of queued commands"},
    {"watch", -2, TXN_FLAGS, "@fast @transaction",
     {.route = RT_ROUTE_PLAN, .keys = {1, -1, 1, 0}, .step = watch_step}, "transactions", "2.2.0",
     "Watch the given keys to determine execution of the MULTI/EXEC block",
     "O(1) for every key."},
    {"unwatch", 1, TXN_FLAGS, "@fast @transaction", CMD_ORIGIN(unwatch_exec), "transactions",
     "2.2.0", "Forget about all watched keys", "O(1)"},
    {"reset", 1, "noscript loading stale fast no_auth allow_busy", "@fast @connection",
     CMD_ORIGIN(reset_exec), "connection", "6.2.0", "Reset the connection", "O(1)"},

    /* Parts and posts of the commands above (watch.h), never accepted from a client. */
    {"__watch", -2, "", "", CMD_INTERNAL(watch_iwatch_exec), "transactions", "", "", ""},
    {"__unwatch", -2, "", "", CMD_INTERNAL(watch_iunwatch_exec), "transactions", "", "", ""},
    {"__watchcheck", -3, "", "", CMD_INTERNAL(watch_icheck_exec), "transactions", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
