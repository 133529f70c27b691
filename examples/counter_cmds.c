/* Counters on the corekv runtime: each shard keeps the counters whose keys it owns in
 * its own table, so no locking is needed anywhere. DEL, MINCR (increment several
 * counters) and SUM (add several up) show multi-key commands split over shards, which
 * the runtime isolates with its intent locks; DBSIZE a fan-out to every shard. */
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

static const struct rt_cmd table[] = {
    {.name = "ping", .route = RT_ROUTE_ORIGIN, .exec = c_ping},
    {.name = "quit", .route = RT_ROUTE_ORIGIN, .flags = RT_CMD_QUIT, .exec = c_quit},
    {.name = "incr", .route = RT_ROUTE_KEYS, .keys = {1, 1, 1}, .flags = RT_CMD_WRITE, .exec = c_incr},
    {.name = "get", .route = RT_ROUTE_KEYS, .keys = {1, 1, 1}, .exec = c_get},
    {.name = "del", .route = RT_ROUTE_KEYS, .keys = {1, -1, 1}, .flags = RT_CMD_WRITE,
     .exec = c_del, .step = s_split},
    {.name = "dbsize", .route = RT_ROUTE_PLAN, .exec = c_dbsize, .step = s_dbsize},
    {.name = "mincr", .route = RT_ROUTE_KEYS, .keys = {1, -1, 1}, .flags = RT_CMD_WRITE,
     .exec = c_mincr, .step = s_split},
    {.name = "sum", .route = RT_ROUTE_KEYS, .keys = {1, -1, 1}, .exec = c_sum, .step = s_split},
};
static const int arity[] = {1, 1, 2, 2, -2, 1, -2, -2};

static const struct rt_cmd *resolve(void *shard, const rt_str *argv, int argc, int flags,
                                    struct buf *err)
{
    (void)shard;
    (void)flags;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const char *name = table[i].name;
        if (strlen(name) != argv[0].len || strncasecmp(name, argv[0].ptr, argv[0].len))
            continue;
        if (arity[i] >= 0 ? argc != arity[i] : argc < -arity[i]) {
            buf_printf(err, "-ERR wrong number of arguments for '%s' command\r\n", name);
            return NULL;
        }
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
};
