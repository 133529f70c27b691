/* The Redis command set as the runtime sees it: the per-shard context, command lookup
 * (resolve, on the path of every command), periodic housekeeping, the post-write hook,
 * and the index of definitions COMMAND reads.
 *
 * The family tables are const; at startup they are copied once into one array of
 * mutable definitions (so RT_CMD_WRITE can be derived from the flags words while
 * cmd_def_of() still leads from the struct rt_cmd handed to the runtime back to its
 * definition), and a small open-addressing hash on the lower-case name indexes them.
 * Container commands (CLIENT, CONFIG, COMMAND) resolve to the subcommand argv[1]
 * names, a definition of its own with its own arity and route. */
#include "cmd/cmd.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hash.h"
#include "cmd/blocking.h"
#include "cmd/client_state.h"
#include "cmd/keys.h"
#include "cmd/pubsub.h"
#include "cmd/notify.h"
#include "cmd/persist.h"
#include "cmd/server.h"
#include "cmd/watch.h"

/* Every family, in the order COMMAND lists them. */
static const struct cmd_def *const families[] = {
    cmd_strings_table,
    cmd_keys_table,
    cmd_server_table,
    cmd_multi_table,
    cmd_lists_table,
    cmd_hashes_table,
    cmd_sets_table,
    cmd_zsets_table,
    cmd_sort_table,
    cmd_zsets_algebra_table,
    cmd_pubsub_table,
    cmd_blocking_table,
    cmd_persist_table,
};

/* Container commands and their subcommands (named "parent|sub"). */
static const struct {
    const char *parent;
    const struct cmd_def *subs;
} containers[] = {
    {"client", cmd_client_subs},
    {"config", cmd_config_subs},
    {"command", cmd_command_subs},
    {"object", cmd_object_subs},
    {"pubsub", cmd_pubsub_subs},
};

/* No Redis command name is longer; a longer argv[0] is unknown without hashing it. */
#define NAME_MAX_LEN 32

static struct {
    /* defs[0 .. npublic): client-visible commands; [npublic .. nindexed): internal
     * ones; [nindexed .. ndefs): subcommands, grouped by container. Only the first
     * nindexed are in the hash: a client cannot name "config|get" as a command. */
    struct cmd_def *defs;
    uint8_t *name_len;
    uint32_t *sub_first;  /* per indexed def: index of its first subcommand */
    uint32_t *nsubs;      /* per indexed def: how many */
    /* per def: the table's exec, when rt.exec is exec_logged wrapping it */
    void (**exec_inner)(struct rt_call *call);
    const char **sub;     /* per subcommand: its word, after the '|' */
    size_t ndefs, npublic, nindexed;
    uint32_t *slots;      /* def index + 1; 0 = empty */
    size_t mask;
    uint64_t seed;
    int64_t start_s;
    char run_id[41];
} g;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static inline uint32_t name_hash(const char *low, size_t n)
{
    /* FNV-1a: the set of names is fixed and known, so no seed is needed; a probe ends
     * at an empty slot of a table at most a quarter full, whatever a client sends. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)low[i]) * 16777619u;
    return h;
}

static bool has_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == wl && memcmp(p, word, wl) == 0)
            return true;
        p = e;
    }
    return false;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* Every write and internal command runs through here, so the log sees each change once
 * (cmd.h cmd_log_effect). An exec may run another command's exec (EXEC's commands): the
 * inner one logs itself, and the outer one's state is restored around it. */
static void exec_logged(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    void (*exec)(struct rt_call *) = g.exec_inner[cmd_def_of(call->cmd) - g.defs];
    if (!cs->logging) {
        exec(call);
        return;
    }
    bool wrote = cs->exec_wrote, logged = cs->exec_logged;
    cs->exec_wrote = cs->exec_logged = false;
    exec(call);
    if (cs->exec_wrote && !cs->exec_logged)
        persist_log_argv(cs, call->argc, call->argv);
    cs->exec_wrote = wrote;
    cs->exec_logged = logged;
}

static void add_def(const struct cmd_def *src)
{
    struct cmd_def *d = &g.defs[g.ndefs];
    *d = *src;
    d->rt.name = d->name; /* what CLIENT LIST shows as cmd= */
    if (has_word(d->flags, "write"))
        d->rt.flags |= RT_CMD_WRITE;
    if (d->rt.exec && (d->rt.flags & (RT_CMD_WRITE | RT_CMD_INTERNAL))) {
        g.exec_inner[g.ndefs] = d->rt.exec;
        d->rt.exec = exec_logged;
    }
    size_t n = strlen(d->name);
    if (n == 0 || n > NAME_MAX_LEN) {
        fprintf(stderr, "corekv: bad command name '%s' in a command table\n", d->name);
        abort();
    }
    g.name_len[g.ndefs++] = (uint8_t)n;
}

static void index_def(size_t i)
{
    const char *name = g.defs[i].name;
    size_t n = g.name_len[i];
    for (size_t s = name_hash(name, n) & g.mask;; s = (s + 1) & g.mask) {
        uint32_t v = g.slots[s];
        if (!v) {
            g.slots[s] = (uint32_t)i + 1;
            return;
        }
        if (g.name_len[v - 1] == n && memcmp(g.defs[v - 1].name, name, n) == 0) {
            fprintf(stderr, "corekv: command '%s' defined twice\n", name);
            abort();
        }
    }
}

/* The definition named (case-insensitively) by name[0..len), internal ones included. */
static const struct cmd_def *find(const char *name, size_t len, size_t *index)
{
    if (len == 0 || len > NAME_MAX_LEN)
        return NULL;
    char low[NAME_MAX_LEN];
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        low[i] = c;
        h = (h ^ (uint8_t)c) * 16777619u;
    }
    for (size_t s = h & g.mask;; s = (s + 1) & g.mask) {
        uint32_t v = g.slots[s];
        if (!v)
            return NULL;
        if (g.name_len[v - 1] == len && memcmp(g.defs[v - 1].name, low, len) == 0) {
            *index = v - 1;
            return &g.defs[v - 1];
        }
    }
}

static void init(void)
{
    size_t total = 0;
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const struct cmd_def *d = families[f]; d->name; d++)
            total++;
    for (size_t c = 0; c < sizeof containers / sizeof *containers; c++)
        for (const struct cmd_def *d = containers[c].subs; d->name; d++)
            total++;

    g.defs = xcalloc(total, sizeof *g.defs);
    g.name_len = xcalloc(total, sizeof *g.name_len);
    g.sub_first = xcalloc(total, sizeof *g.sub_first);
    g.nsubs = xcalloc(total, sizeof *g.nsubs);
    g.exec_inner = xcalloc(total, sizeof *g.exec_inner);
    g.sub = xcalloc(total, sizeof *g.sub);

    for (int internal = 0; internal < 2; internal++) {
        for (size_t f = 0; f < sizeof families / sizeof *families; f++)
            for (const struct cmd_def *d = families[f]; d->name; d++)
                if (!(d->rt.flags & RT_CMD_INTERNAL) == !internal)
                    add_def(d);
        if (!internal)
            g.npublic = g.ndefs;
    }
    g.nindexed = g.ndefs;

    size_t cap = 64;
    while (cap < 4 * g.nindexed)
        cap *= 2;
    g.slots = xcalloc(cap, sizeof *g.slots);
    g.mask = cap - 1;
    for (size_t i = 0; i < g.nindexed; i++)
        index_def(i);

    for (size_t c = 0; c < sizeof containers / sizeof *containers; c++) {
        size_t p;
        if (!find(containers[c].parent, strlen(containers[c].parent), &p)) {
            fprintf(stderr, "corekv: container '%s' has no definition\n", containers[c].parent);
            abort();
        }
        g.sub_first[p] = (uint32_t)g.ndefs;
        size_t plen = g.name_len[p];
        for (const struct cmd_def *d = containers[c].subs; d->name; d++) {
            if (strncmp(d->name, g.defs[p].name, plen) != 0 || d->name[plen] != '|') {
                fprintf(stderr, "corekv: subcommand '%s' outside its container\n", d->name);
                abort();
            }
            g.sub[g.ndefs] = d->name + plen + 1;
            g.nsubs[p]++;
            add_def(d);
        }
    }

    g.seed = hash_random_seed();
    g.start_s = clock_unix_ms() / 1000;
    uint64_t r[3] = {hash_random_seed(), hash_random_seed(), hash_random_seed()};
    snprintf(g.run_id, sizeof g.run_id, "%016llx%016llx%08llx", (unsigned long long)r[0],
             (unsigned long long)r[1], (unsigned long long)(r[2] & 0xffffffffu));
}

static inline void ensure_init(void) { pthread_once(&g_once, init); }

static const struct cmd_def *find_sub(size_t parent, const rt_str *word)
{
    for (size_t j = g.sub_first[parent], e = j + g.nsubs[parent]; j < e; j++)
        if (arg_is(word, g.sub[j]))
            return &g.defs[j];
    return NULL;
}

/* Bytes %.*s would print of an argument: Redis formats arguments as C strings. */
static size_t cstr_len(const rt_str *a, size_t max)
{
    size_t n = a->len < max ? a->len : max;
    const char *z = memchr(a->ptr, 0, n);
    return z ? (size_t)(z - a->ptr) : n;
}

/* "ERR unknown command 'foo', with args beginning with: 'a' 'b' ", with Redis's
 * truncation: the name to 128 bytes, the quoted arguments to about 128 bytes in all. */
static void reply_unknown(struct buf *err, const rt_str *argv, int argc)
{
    char args[136];
    size_t n = 0;
    for (int i = 1; i < argc && n < 128; i++) {
        size_t take = cstr_len(&argv[i], 128 - n);
        args[n++] = '\'';
        memcpy(args + n, argv[i].ptr, take);
        n += take;
        args[n++] = '\'';
        args[n++] = ' ';
    }
    size_t nl = argc > 0 ? cstr_len(&argv[0], 128) : 0;
    resp_errorf(err, "ERR unknown command '%.*s', with args beginning with: %.*s", (int)nl,
                argc > 0 ? argv[0].ptr : "", (int)n, args);
}

static const struct rt_cmd *cmd_resolve(void *shard, const rt_str *argv, int argc, int flags,
                                        struct buf *err)
{
    (void)shard;
    ensure_init();
    size_t i = 0;
    const struct cmd_def *d = argc > 0 ? find(argv[0].ptr, argv[0].len, &i) : NULL;
    if (!d || ((d->rt.flags & RT_CMD_INTERNAL) && !(flags & RT_RESOLVE_INTERNAL))) {
        reply_unknown(err, argv, argc);
        return NULL;
    }
    if (g.nsubs[i] && argc >= 2) {
        d = find_sub(i, &argv[1]);
        if (!d) {
            cmd_reply_unknown_sub(err, &argv[0], &argv[1]);
            return NULL;
        }
    }
    if (d->arity >= 0 ? argc != d->arity : argc < -d->arity) {
        /* Redis refuses EXEC as an aborted transaction (multi.c ends MULTI and WATCH). */
        resp_errorf(err, "%s wrong number of arguments for '%s' command",
                    strcmp(d->name, "exec") == 0 ? "EXECABORT Transaction discarded because of:"
                                                 : "ERR",
                    d->name);
        return NULL;
    }
    return &d->rt;
}

/* Expiry deletes keys behind the commands' backs: route it through the one hook. */
static void on_expired(void *arg, const struct entry *e)
{
    struct cmd_shard *cs = arg;
    size_t klen;
    const char *key = entry_key(e, &klen);
    /* Logged as a DEL of its own, ahead of the record of a command that met the key
     * expired; the command itself did not write because of it. */
    persist_log_del(cs, key, klen);
    bool wrote = cs->exec_wrote;
    cmd_key_written(cs, key, klen, "expired");
    cs->exec_wrote = wrote;
}

static void *cmd_shard_init(struct rt_shard *sh)
{
    ensure_init();
    struct cmd_shard_ext *x = xcalloc(1, sizeof *x);
    x->cs.sh = sh;
    x->cs.store = store_new(g.seed);
    if (!x->cs.store)
        abort();
    x->cs.watches = watch_table_new(g.seed);
    pubsub_shard_init(&x->cs);
    store_set_expire_hook(x->cs.store, on_expired, &x->cs);
    store_set_new_hook(x->cs.store, notify_new_key, &x->cs);
    store_set_miss_hook(x->cs.store, notify_key_miss, &x->cs);
    persist_shard_init(&x->cs);
    return &x->cs;
}

static void cmd_shard_fini(void *shard)
{
    struct cmd_shard *cs = shard;
    persist_shard_fini(cs);
    pubsub_shard_fini(cs);
    store_free(cs->store);
    watch_table_free(cs->watches);
    free(cmd_ext(cs));
}

static void cmd_before_batch(void *shard)
{
    struct cmd_shard *cs = shard;
    store_set_now(cs->store, rt_shard_now_ms(cs->sh)); /* the loop's clock read */
}

/* Active expiry gets a quarter of a tick as in Redis, but at most 1 ms: a shard also
 * serves its clients, and a long cycle would show as latency on every connection. It
 * waits while an intent lock is held: a transaction's keys must not change under it. */
static void cmd_tick(void *shard)
{
    struct cmd_shard *cs = shard;
    struct rt_options o;
    rt_options_get(rt_of(cs->sh), &o);
    uint64_t period_us = 1000000u / (o.hz ? o.hz : 10);
    uint64_t budget = period_us / 4 < 1000 ? period_us / 4 : 1000;
    /* before_batch runs only when a socket has input: an idle shard's store clock would
     * stand still, and the active cycle would never see a TTL pass. */
    store_set_now(cs->store, rt_shard_now_ms(cs->sh));
    if (!rt_shard_locked(cs->sh))
        store_expire_cycle(cs->store, budget);
    store_rehash_step(cs->store, 1000);
    persist_tick(cs);
    cmd_stats_tick(cmd_ext(cs));
}

static void cmd_prefetch(void *shard, const char *key, size_t len, int stage)
{
    store_prefetch(((struct cmd_shard *)shard)->store, key, len, stage);
}

const struct rt_commands cmd_commands = {
    .prefetch = cmd_prefetch,
    .shard_init = cmd_shard_init,
    .shard_fini = cmd_shard_fini,
    .resolve = cmd_resolve,
    .tick = cmd_tick,
    .before_batch = cmd_before_batch,
    .client_close = client_state_close,
    .intercept = client_state_intercept,
    .key_ready = blocking_key_ready,
    .before_flush = persist_before_flush,
};

/* The post-write hook. Contract: every change to a key, by any command, an expiry, an
 * eviction or a step of a multi-shard command, calls this exactly once per key changed,
 * on the shard that owns the key, after the change is visible in the store, with the
 * keyspace-event name Redis uses. Whatever must observe writes attaches here and only
 * here: the dirty counter (INFO rdb_changes_since_last_save), the WATCH versions
 * (watch.h), and as they arrive keyspace notifications, wake-ups of blocked clients and
 * the append-only log. Commands never do any of that themselves. */
void cmd_key_written(struct cmd_shard *cs, const char *key, size_t klen, const char *event)
{
    cs->dirty++;
    cs->exec_wrote = true;
    watch_touch(cs->watches, key, klen);
    rt_key_written(cs->sh, key, klen);
    notify_key_event(cs, key, klen, event);
}

size_t cmd_count(void)
{
    ensure_init();
    return g.npublic;
}

const struct cmd_def *cmd_at(size_t i)
{
    ensure_init();
    return i < g.npublic ? &g.defs[i] : NULL;
}

/* A command by name, internal ones included; "parent|sub" names a subcommand. */
const struct cmd_def *cmd_lookup(const char *name, size_t len)
{
    ensure_init();
    size_t i;
    const char *bar = memchr(name, '|', len);
    if (!bar)
        return find(name, len, &i);
    if (!find(name, (size_t)(bar - name), &i))
        return NULL;
    rt_str word = {bar + 1, len - (size_t)(bar - name) - 1};
    return find_sub(i, &word);
}

size_t cmd_subcommands(const struct cmd_def *parent, const struct cmd_def **first)
{
    ensure_init();
    /* Compared as addresses: parent may point into a family's own table. */
    uintptr_t a = (uintptr_t)parent, lo = (uintptr_t)g.defs;
    if (a < lo || a >= lo + g.nindexed * sizeof *g.defs)
        return 0;
    size_t i = (a - lo) / sizeof *g.defs;
    *first = &g.defs[g.sub_first[i]];
    return g.nsubs[i];
}

int64_t cmd_start_unix_s(void)
{
    ensure_init();
    return g.start_s;
}

const char *cmd_run_id(void)
{
    ensure_init();
    return g.run_id;
}
