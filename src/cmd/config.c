/* CONFIG GET / SET / RESETSTAT / REWRITE / HELP over a table of parameters, with Redis
 * 7's parsing (integers strictly, memory values with k/kb/m/mb/g/gb units, yes/no,
 * enumerations) and error texts.
 *
 * Live settings go through the runtime (rt_options_get / rt_set_*), shared by every
 * shard; persistence settings through persist_config.c, client-output-buffer-limit
 * through config_cobl.c. Parameters corekv reports but cannot change yet (eviction)
 * accept a CONFIG SET of their current value only, so tools that "set" the defaults
 * work. */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/glob.h"
#include "base/numfmt.h"
#include "cmd/cmd.h"
#include "cmd/config_cobl.h"
#include "cmd/notify.h"
#include "cmd/persist.h"
#include "cmd/server.h"
#include "cmd/split.h"
#include "store/object.h"

enum kind {
    K_INT,   /* string2ll, signed bounds */
    K_UINT,  /* string2ll, unsigned bounds */
    K_MEM,   /* memory value, signed bounds */
    K_UMEM,  /* memory value, unsigned bounds */
    K_BOOL,  /* yes | no */
    K_ENUM,  /* one of choices */
    K_STR,   /* any string */
    K_NOTIFY, /* notify-keyspace-events class letters (notify.h) */
    K_COBL,  /* client-output-buffer-limit groups (cobl_parse) */
};

/* S_LIMIT / G_LIMIT: an encoding threshold of store/object.h (param.lim). */
enum setter { S_NONE, S_HZ, S_MAXCLIENTS, S_BULK, S_QBUF, S_LIMIT, S_NOTIFY, S_COBL, S_PERSIST };
enum getter { G_FIXED, G_PORT, G_BIND, G_HZ, G_MAXCLIENTS, G_BULK, G_QBUF, G_LIMIT, G_NOTIFY, G_COBL,
              G_PERSIST };

struct param {
    const char *name;
    enum kind kind;
    bool immutable;
    int64_t lo;
    uint64_t hi;
    const char *const *choices;
    enum getter get;
    enum setter set; /* S_NONE: only the current value is accepted */
    const char *fixed;
    enum obj_limit_id lim; /* G_LIMIT / S_LIMIT only */
};

static const char *const policies[] = {"volatile-lru",   "volatile-lfu", "volatile-random",
                                       "volatile-ttl",   "allkeys-lru",  "allkeys-lfu",
                                       "allkeys-random", "noeviction",   NULL};
static const char *const fsyncs[] = {"everysec", "always", "no", NULL};

#define MB (1024 * 1024)
static const struct param params[] = {
    {"port", K_INT, true, 0, 65535, NULL, G_PORT, S_NONE, NULL, 0},
    {"bind", K_STR, true, 0, 0, NULL, G_BIND, S_NONE, NULL, 0},
    {"hz", K_INT, false, 0, INT_MAX, NULL, G_HZ, S_HZ, NULL, 0},
    {"maxclients", K_UINT, false, 1, UINT_MAX, NULL, G_MAXCLIENTS, S_MAXCLIENTS, NULL, 0},
    {"proto-max-bulk-len", K_MEM, false, MB, LLONG_MAX, NULL, G_BULK, S_BULK, NULL, 0},
    {"client-query-buffer-limit", K_UMEM, false, MB, LLONG_MAX, NULL, G_QBUF, S_QBUF, NULL, 0},
    /* Persistence (persist_config.c checks and holds them). */
#define PERSIST(nm, kind, immutable) {nm, kind, immutable, 0, 0, NULL, G_PERSIST, S_PERSIST, NULL, 0}
    PERSIST("save", K_STR, false),
    PERSIST("appendonly", K_BOOL, false),
    {"appendfsync", K_ENUM, false, 0, 0, fsyncs, G_PERSIST, S_PERSIST, NULL, 0},
    PERSIST("dir", K_STR, false),
    PERSIST("dbfilename", K_STR, false),
    PERSIST("appendfilename", K_STR, true),
    PERSIST("appenddirname", K_STR, true),
    PERSIST("aof-load-truncated", K_BOOL, false),
    PERSIST("auto-aof-rewrite-percentage", K_STR, false),
    PERSIST("auto-aof-rewrite-min-size", K_STR, false),
    PERSIST("rdbcompression", K_BOOL, false),
    PERSIST("rdbchecksum", K_BOOL, false),
#undef PERSIST
    {"aof-use-rdb-preamble", K_BOOL, false, 0, 0, NULL, G_FIXED, S_NONE, "yes", 0},
    {"databases", K_INT, true, 1, INT_MAX, NULL, G_FIXED, S_NONE, "1", 0},
    {"maxmemory", K_UMEM, false, 0, ULLONG_MAX, NULL, G_FIXED, S_NONE, "0", 0},
    {"maxmemory-policy", K_ENUM, false, 0, 0, policies, G_FIXED, S_NONE, "noeviction", 0},
    {"timeout", K_INT, false, 0, INT_MAX, NULL, G_FIXED, S_NONE, "0", 0},
    {"daemonize", K_BOOL, true, 0, 0, NULL, G_FIXED, S_NONE, "no", 0},
    {"io-threads", K_INT, true, 1, 128, NULL, G_FIXED, S_NONE, "1", 0},
    {"cluster-enabled", K_BOOL, true, 0, 0, NULL, G_FIXED, S_NONE, "no", 0},
    {"client-output-buffer-limit", K_COBL, false, 0, 0, NULL, G_COBL, S_COBL, NULL, 0},
    {"notify-keyspace-events", K_NOTIFY, false, 0, 0, NULL, G_NOTIFY, S_NOTIFY, NULL, 0},
    /* Encoding thresholds, with Redis 7's types and ranges: entry counts are integers,
     * value sizes memory values, both 0..LONG_MAX. The old "ziplist" names are entries
     * of their own (as in Redis 7.0, where CONFIG GET of a glob lists both names and a
     * CONFIG SET may name both). */
#define LIMIT(nm, kind, lo, hi, id) {nm, kind, false, lo, hi, NULL, G_LIMIT, S_LIMIT, NULL, id}
    LIMIT("hash-max-listpack-entries", K_INT, 0, LLONG_MAX, LIM_HASH_LP_ENTRIES),
    LIMIT("hash-max-ziplist-entries", K_INT, 0, LLONG_MAX, LIM_HASH_LP_ENTRIES),
    LIMIT("hash-max-listpack-value", K_MEM, 0, LLONG_MAX, LIM_HASH_LP_VALUE),
    LIMIT("hash-max-ziplist-value", K_MEM, 0, LLONG_MAX, LIM_HASH_LP_VALUE),
    LIMIT("set-max-intset-entries", K_INT, 0, LLONG_MAX, LIM_SET_INTSET_ENTRIES),
    LIMIT("set-max-listpack-entries", K_INT, 0, LLONG_MAX, LIM_SET_LP_ENTRIES),
    LIMIT("set-max-listpack-value", K_MEM, 0, LLONG_MAX, LIM_SET_LP_VALUE),
    LIMIT("zset-max-listpack-entries", K_INT, 0, LLONG_MAX, LIM_ZSET_LP_ENTRIES),
    LIMIT("zset-max-ziplist-entries", K_INT, 0, LLONG_MAX, LIM_ZSET_LP_ENTRIES),
    LIMIT("zset-max-listpack-value", K_MEM, 0, LLONG_MAX, LIM_ZSET_LP_VALUE),
    LIMIT("zset-max-ziplist-value", K_MEM, 0, LLONG_MAX, LIM_ZSET_LP_VALUE),
    LIMIT("list-max-listpack-size", K_INT, INT_MIN, INT_MAX, LIM_LIST_LP_SIZE),
    LIMIT("list-max-ziplist-size", K_INT, INT_MIN, INT_MAX, LIM_LIST_LP_SIZE),
    LIMIT("list-compress-depth", K_INT, 0, INT_MAX, LIM_LIST_COMPRESS_DEPTH),
#undef LIMIT
};
#define NPARAMS (sizeof params / sizeof *params)

static void param_value(const struct param *p, const struct rt_options *o, char *out, size_t n)
{
    switch (p->get) {
    case G_FIXED: snprintf(out, n, "%s", p->fixed); break;
    case G_PORT: snprintf(out, n, "%d", o->port); break;
    case G_BIND: snprintf(out, n, "%s", o->bind ? o->bind : ""); break;
    case G_HZ: snprintf(out, n, "%u", o->hz); break;
    case G_MAXCLIENTS: snprintf(out, n, "%u", o->maxclients); break;
    case G_BULK: snprintf(out, n, "%llu", (unsigned long long)o->proto_max_bulk_len); break;
    case G_QBUF: snprintf(out, n, "%llu", (unsigned long long)o->query_buffer_limit); break;
    case G_PERSIST: persist_config_get(p->name, out, n); break;
    case G_LIMIT: snprintf(out, n, "%lld", (long long)obj_limit(p->lim)); break;
    case G_COBL: break; /* needs the runtime: cobl_format */
    case G_NOTIFY: {
        char f[24];
        notify_flags_format(notify_flags(), f);
        snprintf(out, n, "%s", f);
        break;
    }
    }
}

static const struct param *find_param(const rt_str *name)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (arg_is(name, params[i].name))
            return &params[i];
    return NULL;
}

/* Parse a value for p; NULL on success with *num set for numeric kinds, else Redis's
 * reason. msg receives formatted reasons. */
static const char *parse_value(const struct param *p, const rt_str *v, uint64_t *num, char *msg,
                               size_t msglen)
{
    int64_t i = 0;
    uint64_t u = 0;
    switch (p->kind) {
    case K_INT:
    case K_UINT:
        if (!str_to_i64(v->ptr, v->len, &i))
            return "argument couldn't be parsed into an integer";
        u = (uint64_t)i;
        break;
    case K_MEM:
    case K_UMEM:
        if (!str_to_mem(v->ptr, v->len, &u))
            return "argument must be a memory value";
        i = (int64_t)u;
        break;
    case K_BOOL:
        if (!arg_is(v, "yes") && !arg_is(v, "no"))
            return "argument must be 'yes' or 'no'";
        return NULL;
    case K_ENUM:
        for (const char *const *c = p->choices; *c; c++)
            if (arg_is(v, *c))
                return NULL;
        {
            size_t n = (size_t)snprintf(msg, msglen, "argument(s) must be one of the following: ");
            for (const char *const *c = p->choices; *c && n < msglen; c++)
                n += (size_t)snprintf(msg + n, msglen - n, "%s%s", *c, c[1] ? ", " : "");
        }
        return msg;
    case K_STR:
        if (p->set == S_PERSIST) {
            const char *why = persist_config_check(p->name, v->ptr, v->len);
            if (why)
                snprintf(msg, msglen, "%s", why);
            return why ? msg : NULL;
        }
        return NULL;
    case K_COBL:
        return cobl_apply(NULL, v);
    case K_NOTIFY: {
        int f = notify_flags_parse(v->ptr, v->len);
        if (f < 0)
            return NOTIFY_BAD_CLASS;
        *num = (uint64_t)f;
        return NULL;
    }
    }
    bool is_unsigned = p->kind == K_UINT || p->kind == K_UMEM;
    bool ok = is_unsigned ? (u >= (uint64_t)p->lo && u <= p->hi)
                          : (i >= p->lo && i <= (int64_t)p->hi);
    if (!ok) {
        if (is_unsigned)
            snprintf(msg, msglen, "argument must be between %llu and %llu inclusive",
                     (unsigned long long)p->lo, (unsigned long long)p->hi);
        else
            snprintf(msg, msglen, "argument must be between %lld and %lld inclusive",
                     (long long)p->lo, (long long)p->hi);
        return msg;
    }
    *num = u;
    return NULL;
}

/* A value equal to what a read-only parameter already holds. */
static bool same_as_fixed(const struct param *p, const rt_str *v, uint64_t num)
{
    if (p->kind == K_STR)
        return v->len == strlen(p->fixed) && memcmp(v->ptr, p->fixed, v->len) == 0;
    if (p->kind == K_BOOL || p->kind == K_ENUM)
        return arg_is(v, p->fixed);
    return num == strtoull(p->fixed, NULL, 10);
}

static bool apply(struct rt *rt, const struct param *p, uint64_t v)
{
    switch (p->set) {
    case S_HZ: return rt_set_hz(rt, v > 500 ? 500 : v < 1 ? 1 : (unsigned)v);
    case S_MAXCLIENTS: return v <= UINT_MAX && rt_set_maxclients(rt, (unsigned)v);
    case S_BULK: return rt_set_proto_max_bulk_len(rt, v);
    case S_QBUF: return rt_set_query_buffer_limit(rt, v);
    case S_LIMIT: obj_limit_set(p->lim, (int64_t)v); return true; /* range checked */
    case S_NOTIFY: notify_set_flags((int)v); return true; /* parsed */
    case S_COBL: return true; /* cobl_apply, with the value */
    case S_PERSIST: return true; /* persist_config_set, with the value */
    case S_NONE: return true;
    }
    return false;
}

static void restore(struct rt *rt, const struct rt_options *o, const int64_t *lims)
{
    for (int i = 0; i < LIM_COUNT; i++)
        obj_limit_set((enum obj_limit_id)i, lims[i]);
    rt_set_hz(rt, o->hz);
    rt_set_maxclients(rt, o->maxclients);
    rt_set_proto_max_bulk_len(rt, o->proto_max_bulk_len);
    rt_set_query_buffer_limit(rt, o->query_buffer_limit);
}

#define CONFIG_SET_MAX 64

/* CONFIG SET name value [name value ...]: all or nothing, as Redis 7. */
static void config_set(struct rt_call *call)
{
    if (call->argc & 1) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    int n = (call->argc - 2) / 2;
    const struct param *set[CONFIG_SET_MAX];
    uint64_t nums[CONFIG_SET_MAX] = {0};
    const rt_str *unknown = NULL, *bad = NULL;
    const char *why = NULL;
    for (int i = 0; i < n && !unknown; i++) {
        const rt_str *name = &call->argv[2 + 2 * i];
        const struct param *p = find_param(name);
        if (!p) {
            unknown = name;
            break;
        }
        if (why)
            continue;
        if (i >= CONFIG_SET_MAX) {
            why = "too many parameters";
            bad = name;
            continue;
        }
        if (p->immutable) {
            why = "can't set immutable config";
            bad = name;
            continue;
        }
        for (int j = 0; j < i; j++) {
            if (set[j] == p) {
                why = "duplicate parameter";
                bad = name;
                break;
            }
        }
        set[i] = p;
    }
    if (unknown) {
        resp_errorf(call->out, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                    (int)unknown->len, unknown->ptr);
        return;
    }
    if (why) {
        resp_errorf(call->out, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                    (int)bad->len, bad->ptr, why);
        return;
    }
    char msg[256];
    for (int i = 0; i < n; i++) {
        const rt_str *v = &call->argv[3 + 2 * i];
        why = parse_value(set[i], v, &nums[i], msg, sizeof msg);
        if (!why && set[i]->set == S_NONE && !same_as_fixed(set[i], v, nums[i]))
            why = "corekv cannot change this parameter yet";
        if (why) {
            resp_errorf(call->out,
                        "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                        set[i]->name, why);
            return;
        }
    }
    struct rt *rt = rt_of(call->rt_shard);
    struct rt_options before;
    rt_options_get(rt, &before);
    int64_t lims[LIM_COUNT];
    for (int i = 0; i < LIM_COUNT; i++)
        lims[i] = obj_limit((enum obj_limit_id)i);
    int notify_before = notify_flags();
    struct cobl_saved cobl_before;
    cobl_save(rt, &cobl_before);
    for (int i = 0; i < n; i++) {
        const rt_str *v = &call->argv[3 + 2 * i];
        if (set[i]->set == S_PERSIST)
            persist_config_set(set[i]->name, v->ptr, v->len);
        bool ok = set[i]->set == S_COBL ? !cobl_apply(rt, v) : apply(rt, set[i], nums[i]);
        if (!ok) {
            restore(rt, &before, lims);
            notify_set_flags(notify_before);
            cobl_restore(rt, &cobl_before);
            resp_errorf(call->out,
                        "ERR CONFIG SET failed (possibly related to argument '%s') - "
                        "argument is out of range",
                        set[i]->name);
            return;
        }
    }
    resp_ok(call->out);
}

static bool has_glob(const rt_str *s)
{
    for (size_t i = 0; i < s->len; i++)
        if (s->ptr[i] == '*' || s->ptr[i] == '?' || s->ptr[i] == '[')
            return true;
    return false;
}

/* CONFIG GET pattern [pattern ...]: a map (flat in RESP2). An exact name is echoed as
 * given, a pattern's matches by their own names; each parameter appears once. */
static void config_get(struct rt_call *call)
{
    const rt_str *as[NPARAMS] = {0};
    bool hit[NPARAMS] = {0};
    size_t order[NPARAMS], nhit = 0;
    for (int a = 2; a < call->argc; a++) {
        const rt_str *pat = &call->argv[a];
        bool glob = has_glob(pat);
        for (size_t i = 0; i < NPARAMS; i++) {
            if (hit[i])
                continue;
            bool m = glob ? glob_match(pat->ptr, pat->len, params[i].name, strlen(params[i].name),
                                       true)
                          : arg_is(pat, params[i].name);
            if (!m)
                continue;
            hit[i] = true;
            as[i] = glob ? NULL : pat;
            order[nhit++] = i;
        }
    }
    struct rt_options o;
    rt_options_get(rt_of(call->rt_shard), &o);
    resp_map(call->out, (int64_t)nhit, call->proto);
    char val[4096];
    for (size_t k = 0; k < nhit; k++) {
        const struct param *p = &params[order[k]];
        if (as[order[k]])
            resp_bulk(call->out, as[order[k]]->ptr, as[order[k]]->len);
        else
            resp_bulk_cstr(call->out, p->name);
        if (p->get == G_COBL)
            cobl_format(rt_of(call->rt_shard), val, sizeof val);
        else
            param_value(p, &o, val, sizeof val);
        resp_bulk_cstr(call->out, val);
    }
}

static void config_rewrite(struct rt_call *call)
{
    resp_error(call->out, "ERR The server is running without a config file");
}

static void config_help(struct rt_call *call)
{
    static const char *const help[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    cmd_reply_help(call->out, help);
}

/* CONFIG RESETSTAT: every shard records its counters as the new zero for INFO. */
static void config_resetstat_step(struct rt_txn *t, unsigned phase)
{
    if (phase == 0) {
        rt_str a = {"__resetstat", 11};
        unsigned n = rt_nshards(rt_txn_shard(t));
        for (unsigned s = 0; s < n; s++)
            rt_txn_part(t, s, 1, &a);
        return;
    }
    if (split_all_ok(t))
        rt_txn_finish(t, "+OK\r\n", 5);
}

#define CONFIG_ADMIN "admin noscript loading stale", "@admin @slow @dangerous"
const struct cmd_def cmd_config_subs[] = {
    {"config|get", -3, CONFIG_ADMIN, CMD_ORIGIN(config_get), "server", "2.0.0",
     "Get the values of configuration parameters",
     "O(N) when N is the number of configuration parameters provided"},
    {"config|set", -4, CONFIG_ADMIN, CMD_ORIGIN(config_set), "server", "2.0.0",
     "Set configuration parameters to the given values",
     "O(N) when N is the number of configuration parameters provided"},
    {"config|resetstat", 2, CONFIG_ADMIN, CMD_PLAN(NULL, config_resetstat_step), "server", "2.0.0",
     "Reset the stats returned by INFO", "O(1)"},
    {"config|rewrite", 2, CONFIG_ADMIN, CMD_ORIGIN(config_rewrite), "server", "2.8.0",
     "Rewrite the configuration file with the in memory configuration", "O(1)"},
    {"config|help", 2, "loading stale", "@slow", CMD_ORIGIN(config_help), "server", "5.0.0",
     "Show helpful text about the different subcommands", "O(1)"},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
