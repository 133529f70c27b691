/* Counters on the corekv runtime: each shard keeps the counters whose keys it owns in
 * its own table, so no locking is needed anywhere. DEL, MINCR (increment several
 * counters) and SUM (add several up) show multi-key commands split over shards, which
 * the runtime isolates with its intent locks; DBSIZE a fan-out to every shard; TAKE a
 * blocking command (a semaphore: wait until a counter is positive, then decrement it). */
#include "counter_cmds.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct counter {
    struct counter *next;
    long long value;
    size_t klen;
    char key[];
};

struct counters {
    struct counter *bucket[1024];
    size_t count;
};

static struct counter **find(struct counters *t, const rt_str *k)
{
    size_t h = 5381;
    for (size_t i = 0; i < k->len; i++)
        h = h * 33 + (unsigned char)k->ptr[i];
    struct counter **p = &t->bucket[h % 1024];
    while (*p && ((*p)->klen != k->len || memcmp((*p)->key, k->ptr, k->len)))
        p = &(*p)->next;
    return p;
}

static void reply_int(struct buf *out, long long v) { buf_printf(out, ":%lld\r\n", v); }

/* An integer argument (arguments are not NUL-terminated: a forwarded one is followed by
 * the next argument's bytes). 0 when it does not fit. */
static long long arg_ll(const rt_str *a)
{
    char num[32];
    if (a->len >= sizeof num)
        return 0;
    memcpy(num, a->ptr, a->len);
    num[a->len] = 0;
    return strtoll(num, NULL, 10);
}

static void c_ping(struct rt_call *c) { buf_puts(c->out, "+PONG\r\n"); }
static void c_quit(struct rt_call *c) { buf_puts(c->out, "+OK\r\n"); }

static void c_incr(struct rt_call *c)
{
    struct counter **p = find(c->shard, &c->argv[1]);
    if (!*p) {
        *p = calloc(1, sizeof **p + c->argv[1].len);
        if (!*p)
            abort();
        memcpy((*p)->key, c->argv[1].ptr, c->argv[1].len);
        (*p)->klen = c->argv[1].len;
        ((struct counters *)c->shard)->count++;
    }
    reply_int(c->out, ++(*p)->value);
    rt_key_written(c->rt_shard, c->argv[1].ptr, c->argv[1].len); /* may wake a TAKE */
}

static void c_get(struct rt_call *c)
{
    struct counter **p = find(c->shard, &c->argv[1]);
    if (!*p) {
        buf_puts(c->out, c->proto == 3 ? "_\r\n" : "$-1\r\n");
        return;
    }
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", (*p)->value);
    buf_printf(c->out, "$%d\r\n%s\r\n", n, num);
}

/* On one shard: delete the keys given (all owned here). */
static void c_del(struct rt_call *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++) {
        struct counter **p = find(c->shard, &c->argv[i]);
        if (*p) {
            struct counter *dead = *p;
            *p = dead->next;
            free(dead);
            ((struct counters *)c->shard)->count--;
            n++;
        }
    }
    reply_int(c->out, n);
}

/* On one shard: increment each key given; replies how many. */
static void c_mincr(struct rt_call *c)
{
    for (int i = 1; i < c->argc; i++) {
        struct counter **p = find(c->shard, &c->argv[i]);
        if (!*p) {
            *p = calloc(1, sizeof **p + c->argv[i].len);
            if (!*p)
                abort();
            memcpy((*p)->key, c->argv[i].ptr, c->argv[i].len);
            (*p)->klen = c->argv[i].len;
            ((struct counters *)c->shard)->count++;
        }
        (*p)->value++;
    }
    reply_int(c->out, c->argc - 1);
}

/* On one shard: the sum of the counters given (missing ones count 0). */
static void c_sum(struct rt_call *c)
{
    long long sum = 0;
    for (int i = 1; i < c->argc; i++) {
        struct counter **p = find(c->shard, &c->argv[i]);
        if (*p)
            sum += (*p)->value;
    }
    reply_int(c->out, sum);
}

static void c_dbsize(struct rt_call *c) { reply_int(c->out, (long long)((struct counters *)c->shard)->count); }

/* Reduce: the sum of the parts' integer replies. */
static void finish_sum(struct rt_txn *t)
{
    long long sum = 0;
    for (unsigned i = 0; i < rt_txn_nresults(t); i++) {
        rt_str r = rt_txn_result(t, i);
        if (r.len > 1 && r.ptr[0] == ':')
            sum += strtoll(r.ptr + 1, NULL, 10);
    }
    struct buf *out = rt_txn_scratch(t);
    reply_int(out, sum);
    rt_txn_finish(t, out->data, out->len);
}

/* DEL, MINCR, SUM across shards: one part per owning shard, the same verb with the
 * keys it owns; the replies add up. */
static void s_split(struct rt_txn *t, unsigned phase)
{
    if (phase == 1) {
        finish_sum(t);
        return;
    }
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    rt_str *part = malloc((size_t)argc * sizeof *part);
    if (!part)
        abort();
    for (unsigned s = 0; s < rt_nshards(sh); s++) {
        int n = 0;
        part[n++] = argv[0];
        for (int i = 1; i < argc; i++)
            if (rt_key_shard(sh, argv[i].ptr, argv[i].len) == s)
                part[n++] = argv[i];
        if (n > 1)
            rt_txn_part(t, s, n, part);
    }
    free(part);
}

static void s_dbsize(struct rt_txn *t, unsigned phase)
{
    if (phase == 1) {
        finish_sum(t);
        return;
    }
    rt_str verb = {"dbsize", 6};
    for (unsigned s = 0; s < rt_nshards(rt_txn_shard(t)); s++)
        rt_txn_part(t, s, 1, &verb);
}

/* ---- TAKE key [key ...] timeout-ms ----
 * Decrements the first positive counter, in argument order, and replies its key; with
 * none, waits up to timeout-ms (0: forever) and replies nil on timeout. */
enum { KIND_POSITIVE = 1 };

static bool take_one(struct rt_call *c, const rt_str *k)
{
    struct counter **p = find(c->shard, k);
    if (!*p || (*p)->value <= 0)
        return false;
    (*p)->value--;
    rt_key_written(c->rt_shard, k->ptr, k->len);
    buf_printf(c->out, "$%zu\r\n%.*s\r\n", k->len, (int)k->len, k->ptr);
    return true;
}

static void reply_nil(struct buf *out, int proto) { buf_puts(out, proto == 3 ? "_\r\n" : "$-1\r\n"); }

static void c_take(struct rt_call *c)
{
    for (int i = 1; i < c->argc - 1; i++)
        if (take_one(c, &c->argv[i]))
            return;
    if (c->can_block)
        rt_call_block(c);
    else
        reply_nil(c->out, c->proto);
}

/* The internal part that serves: "__take key". */
static void c_take_part(struct rt_call *c)
{
    if (!take_one(c, &c->argv[1]))
        reply_nil(c->out, 2);
}

struct take_state {
    int next;          /* while trying across shards: the next key to try */
    bool serving;      /* the last phase popped: look at its result */
    bool putting_back; /* the client left after a successful take */
    rt_str served;
};

static void take_finish_reply(struct rt_txn *t, const char *reply)
{
    rt_txn_finish(t, reply, strlen(reply));
}

static void take_wait(struct rt_txn *t, int argc, const rt_str *argv)
{
    struct rt_shard *sh = rt_txn_shard(t);
    long long ms = arg_ll(&argv[argc - 1]);
    for (int i = 1; i < argc - 1; i++)
        rt_txn_wait_key(t, argv[i].ptr, argv[i].len, KIND_POSITIVE);
    rt_txn_wait(t, ms > 0 ? rt_shard_now_ms(sh) + ms : 0);
}

static void take_part(struct rt_txn *t, const rt_str *key)
{
    rt_str part[2] = {{"__take", 6}, *key};
    rt_txn_part(t, rt_key_shard(rt_txn_shard(t), key->ptr, key->len), 2, part);
}

static void s_take(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct take_state *st = rt_txn_state(t, sizeof *st);
    const char *nil = rt_txn_proto(t) == 3 ? "_\r\n" : "$-1\r\n";
    if (st->putting_back) {
        take_finish_reply(t, ""); /* the client is leaving: no reply */
        return;
    }
    if (phase > 0 && (st->serving || (!rt_txn_tried(t) && st->next > 0))) {
        rt_str r = rt_txn_result(t, 0);
        if (r.len && r.ptr[0] == '$' && r.ptr[1] != '-') {
            if (st->serving && (!rt_txn_client(t) || rt_client_leaving(rt_txn_client(t)))) {
                /* Taken for a client that left: give it back. */
                rt_str incr[2] = {{"incr", 4}, st->served};
                st->putting_back = true;
                rt_txn_part(t, rt_key_shard(rt_txn_shard(t), incr[1].ptr, incr[1].len), 2, incr);
                return;
            }
            rt_txn_finish(t, r.ptr, r.len);
            return;
        }
    }
    switch (rt_txn_wake(t)) {
    case RT_WAKE_TIMEOUT:
        take_finish_reply(t, nil);
        return;
    case RT_WAKE_ERROR:
        take_finish_reply(t, "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
        return;
    case RT_WAKE_GONE:
        take_finish_reply(t, nil);
        return;
    case RT_WAKE_KEY:
        if (st->serving)
            break; /* served nothing: wait again */
        st->serving = true;
        st->served = rt_txn_woken_key(t, NULL);
        take_part(t, &st->served);
        return;
    case RT_WAKE_NONE:
        if (!rt_txn_tried(t) && st->next < argc - 2) {
            take_part(t, &argv[1 + st->next++]); /* try the keys in order, one per phase */
            return;
        }
        break;
    }
    st->serving = false;
    if (!rt_txn_can_wait(t)) {
        take_finish_reply(t, nil);
        return;
    }
    take_wait(t, argc, argv);
}

static bool key_ready(void *shard, const char *key, size_t len, unsigned kind)
{
    rt_str k = {key, len};
    struct counter **p = find(shard, &k);
    return kind == KIND_POSITIVE && *p && (*p)->value > 0;
}

/* ---- Out-of-band output (runtime tests) ----
 * BLOB size count: replies +OK and pushes, count times, "$size\r\n", one shared block
 * of `size` bytes (byte j is 'a' + j % 23), "\r\n" (pushed while its reply is being
 * written, they follow the reply). MYID: the client id. KILL id:
 * closes that client when it is on this shard (:1), else :0. */
static void c_blob(struct rt_call *c)
{
    long long size = arg_ll(&c->argv[1]), count = arg_ll(&c->argv[2]);
    if (!c->client || size < 1 || size > (64 << 20) || count < 0 || count > 1000) {
        buf_puts(c->out, "-ERR bad blob\r\n");
        return;
    }
    char *p = malloc((size_t)size);
    if (!p)
        abort();
    for (long long j = 0; j < size; j++)
        p[j] = (char)('a' + j % 23);
    struct rt_block *b = rt_block_new(p, (size_t)size);
    free(p);
    char hdr[32];
    int n = snprintf(hdr, sizeof hdr, "$%lld\r\n", size);
    for (long long k = 0; k < count; k++) {
        rt_client_push(c->rt_shard, c->client, hdr, (size_t)n);
        rt_client_push_block(c->rt_shard, c->client, b);
        rt_client_push(c->rt_shard, c->client, "\r\n", 2);
    }
    rt_block_unref(b);
    buf_puts(c->out, "+OK\r\n");
}

static void c_myid(struct rt_call *c) { reply_int(c->out, c->client ? (long long)rt_client_id(c->client) : -1); }

static void c_kill(struct rt_call *c)
{
    struct rt_client *victim =
        rt_shard_client(c->rt_shard, (uint64_t)strtoull(c->argv[1].ptr, NULL, 10));
    reply_int(c->out, victim != NULL);
    if (victim)
        rt_client_kill(c->rt_shard, victim);
}

static const struct rt_cmd table[] = {
    {.name = "ping", .route = RT_ROUTE_ORIGIN, .exec = c_ping},
    {.name = "quit", .route = RT_ROUTE_ORIGIN, .flags = RT_CMD_QUIT, .exec = c_quit},
    {.name = "incr", .route = RT_ROUTE_KEYS, .keys = {1, 1, 1, 0}, .flags = RT_CMD_WRITE, .exec = c_incr},
    {.name = "get", .route = RT_ROUTE_KEYS, .keys = {1, 1, 1, 0}, .exec = c_get},
    {.name = "del", .route = RT_ROUTE_KEYS, .keys = {1, -1, 1, 0}, .flags = RT_CMD_WRITE,
     .exec = c_del, .step = s_split},
    {.name = "dbsize", .route = RT_ROUTE_PLAN, .exec = c_dbsize, .step = s_dbsize},
    {.name = "mincr", .route = RT_ROUTE_KEYS, .keys = {1, -1, 1, 0}, .flags = RT_CMD_WRITE,
     .exec = c_mincr, .step = s_split},
    {.name = "sum", .route = RT_ROUTE_KEYS, .keys = {1, -1, 1, 0}, .exec = c_sum, .step = s_split},
    {.name = "take", .route = RT_ROUTE_KEYS, .keys = {1, -2, 1, 0},
     .flags = RT_CMD_WRITE | RT_CMD_BLOCKING, .exec = c_take, .step = s_take},
    {.name = "__take", .route = RT_ROUTE_KEYS, .keys = {1, 1, 1, 0},
     .flags = RT_CMD_WRITE | RT_CMD_INTERNAL, .exec = c_take_part},
    {.name = "blob", .route = RT_ROUTE_ORIGIN, .exec = c_blob},
    {.name = "myid", .route = RT_ROUTE_ORIGIN, .exec = c_myid},
    {.name = "kill", .route = RT_ROUTE_ORIGIN, .exec = c_kill},
};
static const int arity[] = {1, 1, 2, 2, -2, 1, -2, -2, -3, 2, 3, 1, 2};

static const struct rt_cmd *resolve(void *shard, const rt_str *argv, int argc, int flags,
                                    struct buf *err)
{
    (void)shard;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *name = table[i].name;
        if (strlen(name) != argv[0].len || strncasecmp(name, argv[0].ptr, argv[0].len))
            continue;
        if (arity[i] >= 0 ? argc != arity[i] : argc < -arity[i]) {
            buf_printf(err, "-ERR wrong number of arguments for '%s' command\r\n", name);
            return NULL;
        }
        if ((table[i].flags & RT_CMD_INTERNAL) && !(flags & RT_RESOLVE_INTERNAL))
            break;
        return &table[i];
    }
    buf_puts(err, "-ERR unknown command\r\n");
    return NULL;
}

static void *shard_init(struct rt_shard *sh)
{
    (void)sh;
    struct counters *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    return t;
}

static void shard_fini(void *shard)
{
    struct counters *t = shard;
    for (size_t b = 0; b < 1024; b++)
        while (t->bucket[b]) {
            struct counter *c = t->bucket[b];
            t->bucket[b] = c->next;
            free(c);
        }
    free(t);
}

const struct rt_commands counter_commands = {
    .shard_init = shard_init,
    .shard_fini = shard_fini,
    .resolve = resolve,
    .key_ready = key_ready,
};
