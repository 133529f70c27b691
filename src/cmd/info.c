/* INFO [section ...]: Redis's text report, summed over shards.
 *
 * INFO fans out "__info" to every shard when a requested section needs per-shard
 * numbers (clients, persistence, stats, keyspace); each shard answers with an array of
 * integers in the order of enum field, and the origin adds them up and writes the text
 * with Redis's "# Section" headers and \r\n line ends. Process-wide facts (memory, CPU
 * usage, uptime) are read on the origin.
 *
 * CONFIG RESETSTAT sends "__resetstat", which records each shard's counters as the new
 * zero (struct cmd_counters base); INFO subtracts it. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifdef COREKV_JEMALLOC
#include <jemalloc/jemalloc.h>
#else
#include <malloc.h>
#endif

#include "base/clock.h"
#include "cmd/cmd.h"
#include "cmd/persist.h"
#include "cmd/pubsub.h"
#include "cmd/server.h"

enum section {
    SEC_SERVER = 1 << 0,
    SEC_CLIENTS = 1 << 1,
    SEC_MEMORY = 1 << 2,
    SEC_PERSISTENCE = 1 << 3,
    SEC_STATS = 1 << 4,
    SEC_REPLICATION = 1 << 5,
    SEC_CPU = 1 << 6,
    SEC_MODULES = 1 << 7,
    SEC_COMMANDSTATS = 1 << 8,
    SEC_ERRORSTATS = 1 << 9,
    SEC_LATENCYSTATS = 1 << 10,
    SEC_CLUSTER = 1 << 11,
    SEC_KEYSPACE = 1 << 12,
};
#define SEC_ALL ((1 << 13) - 1)
#define SEC_DEFAULT (SEC_ALL & ~(SEC_COMMANDSTATS | SEC_LATENCYSTATS))
#define SEC_NEED_SHARDS (SEC_CLIENTS | SEC_PERSISTENCE | SEC_STATS | SEC_KEYSPACE)

/* In Redis's output order. */
static const struct {
    const char *name, *title;
    int bit;
} sections[] = {
    {"server", "Server", SEC_SERVER},
    {"clients", "Clients", SEC_CLIENTS},
    {"memory", "Memory", SEC_MEMORY},
    {"persistence", "Persistence", SEC_PERSISTENCE},
    {"stats", "Stats", SEC_STATS},
    {"replication", "Replication", SEC_REPLICATION},
    {"cpu", "CPU", SEC_CPU},
    {"modules", "Modules", SEC_MODULES},
    {"commandstats", "Commandstats", SEC_COMMANDSTATS},
    {"errorstats", "Errorstats", SEC_ERRORSTATS},
    {"latencystats", "Latencystats", SEC_LATENCYSTATS},
    {"cluster", "Cluster", SEC_CLUSTER},
    {"keyspace", "Keyspace", SEC_KEYSPACE},
};
#define NSECTIONS (sizeof sections / sizeof *sections)

/* What a shard reports, in this order. */
enum field {
    F_CONN_RECEIVED, F_CONNECTED, F_REJECTED, F_COMMANDS, F_NET_IN, F_NET_OUT, F_FORWARDED,
    F_PARTS, F_KEYS, F_EXPIRES, F_EXPIRED, F_HITS, F_MISSES, F_DIRTY, F_OPS, F_IN_KBPS100,
    F_OUT_KBPS100, F_PS_CHANNELS, F_PS_PATTERNS, F_PS_SHARD_CHANNELS, F_BLOCKED, F_COUNT
};

/* ---- Memory (process-wide) ---- */

static _Atomic uint64_t mem_peak;

static uint64_t mem_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, rss = 0;
    int ok = fscanf(f, "%llu %llu", &size, &rss) == 2;
    fclose(f);
    return ok ? rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t mem_used(void)
{
#ifdef COREKV_JEMALLOC
    /* jemalloc's statistics are a snapshot refreshed by bumping the epoch. */
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0;
    sz = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
        return 0;
    return allocated;
#else
    /* Under a sanitizer malloc is not glibc's and mallinfo2 reports nothing: the
     * resident size is then the best estimate there is. */
    struct mallinfo2 mi = mallinfo2();
    uint64_t used = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
    return used ? used : mem_rss();
#endif
}

static void mem_allocator(char *out, size_t n)
{
#ifdef COREKV_JEMALLOC
    const char *v = NULL;
    size_t sz = sizeof v;
    if (mallctl("version", (void *)&v, &sz, NULL, 0) != 0 || !v)
        v = "unknown";
    size_t vl = strcspn(v, "-");
    snprintf(out, n, "jemalloc-%.*s", (int)vl, v);
#else
    snprintf(out, n, "libc");
#endif
}

static uint64_t mem_sample(void)
{
    uint64_t used = mem_used();
    uint64_t peak = atomic_load_explicit(&mem_peak, memory_order_relaxed);
    while (used > peak &&
           !atomic_compare_exchange_weak_explicit(&mem_peak, &peak, used, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    return used;
}

/* Redis's bytesToHuman. */
static void human(char *s, size_t n, uint64_t v)
{
    static const char units[] = "KMGTP";
    if (v < 1024) {
        snprintf(s, n, "%lluB", (unsigned long long)v);
        return;
    }
    double d = (double)v;
    for (int i = 0; i < 5; i++) {
        d /= 1024;
        if (d < 1024 || i == 4) {
            if (d >= 1024) /* beyond petabytes: Redis prints bytes */
                snprintf(s, n, "%lluB", (unsigned long long)v);
            else
                snprintf(s, n, "%.2f%c", d, units[i]);
            return;
        }
    }
}

/* ---- Per-shard numbers ---- */

static void raw_counters(struct cmd_shard *cs, struct cmd_counters *c)
{
    const struct rt_shard_stats *st = rt_shard_stats(cs->sh);
    struct store_stats ss;
    store_stats(cs->store, &ss);
    c->connections_received = st->connections_received;
    c->rejected_connections = st->rejected_connections;
    c->commands_processed = st->commands_processed;
    c->net_input_bytes = st->net_input_bytes;
    c->net_output_bytes = st->net_output_bytes;
    c->forwarded_out = st->forwarded_out;
    c->parts_executed = st->parts_executed;
    c->expired_keys = ss.expired_keys;
    c->keyspace_hits = ss.keyspace_hits;
    c->keyspace_misses = ss.keyspace_misses;
}

/* Samples every 100 ms whatever hz is, as Redis's run_with_period(100): the window of
 * CMD_RATE_SAMPLES then spans 1.6 s. */
void cmd_stats_tick(struct cmd_shard_ext *x)
{
    uint64_t now = clock_mono_ns();
    if (x->rate_filled) {
        unsigned last = (x->rate_next + CMD_RATE_SAMPLES - 1) % CMD_RATE_SAMPLES;
        if (now - x->rate[last].ns < 100000000u)
            return;
    }
    const struct rt_shard_stats *st = rt_shard_stats(x->cs.sh);
    struct cmd_rate_sample *s = &x->rate[x->rate_next];
    s->ns = now;
    s->commands = st->commands_processed;
    s->net_in = st->net_input_bytes;
    s->net_out = st->net_output_bytes;
    x->rate_next = (x->rate_next + 1) % CMD_RATE_SAMPLES;
    if (x->rate_filled < CMD_RATE_SAMPLES)
        x->rate_filled++;
    if (rt_shard_id(x->cs.sh) == 0)
        mem_sample();
}

/* Per second over the sampled window: commands, and input/output in 1/100 kB. */
static void rates(const struct cmd_shard_ext *x, uint64_t *ops, uint64_t *in100, uint64_t *out100)
{
    *ops = *in100 = *out100 = 0;
    if (x->rate_filled < 2)
        return;
    unsigned newest = (x->rate_next + CMD_RATE_SAMPLES - 1) % CMD_RATE_SAMPLES;
    unsigned oldest = x->rate_filled < CMD_RATE_SAMPLES ? 0 : x->rate_next;
    const struct cmd_rate_sample *a = &x->rate[oldest], *b = &x->rate[newest];
    double secs = (double)(b->ns - a->ns) / 1e9;
    if (secs <= 0)
        return;
    *ops = (uint64_t)((double)(b->commands - a->commands) / secs + 0.5);
    *in100 = (uint64_t)((double)(b->net_in - a->net_in) / 1024 * 100 / secs + 0.5);
    *out100 = (uint64_t)((double)(b->net_out - a->net_out) / 1024 * 100 / secs + 0.5);
}

/* __info: this shard's numbers as an array of F_COUNT integers. */
void cmd_info_part(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    struct cmd_shard_ext *x = cmd_ext(cs);
    struct cmd_counters c, *b = &x->base;
    raw_counters(cs, &c);
    uint64_t f[F_COUNT];
    f[F_CONN_RECEIVED] = c.connections_received - b->connections_received;
    f[F_CONNECTED] = rt_shard_stats(cs->sh)->connected_clients;
    f[F_BLOCKED] = rt_shard_stats(cs->sh)->blocked_clients;
    f[F_REJECTED] = c.rejected_connections - b->rejected_connections;
    f[F_COMMANDS] = c.commands_processed - b->commands_processed;
    f[F_NET_IN] = c.net_input_bytes - b->net_input_bytes;
    f[F_NET_OUT] = c.net_output_bytes - b->net_output_bytes;
    f[F_FORWARDED] = c.forwarded_out - b->forwarded_out;
    f[F_PARTS] = c.parts_executed - b->parts_executed;
    f[F_KEYS] = store_count(cs->store);
    f[F_EXPIRES] = store_expires_count(cs->store);
    f[F_EXPIRED] = c.expired_keys - b->expired_keys;
    f[F_HITS] = c.keyspace_hits - b->keyspace_hits;
    f[F_MISSES] = c.keyspace_misses - b->keyspace_misses;
    f[F_DIRTY] = cs->dirty;
    rates(x, &f[F_OPS], &f[F_IN_KBPS100], &f[F_OUT_KBPS100]);
    /* Every shard's pub/sub view covers the whole server: shard 0 alone reports it. */
    struct pubsub_info ps = {0};
    if (rt_shard_id(cs->sh) == 0)
        pubsub_info(cs, &ps);
    f[F_PS_CHANNELS] = ps.channels;
    f[F_PS_PATTERNS] = ps.patterns;
    f[F_PS_SHARD_CHANNELS] = ps.shard_channels;
    resp_array(call->out, F_COUNT);
    for (int i = 0; i < F_COUNT; i++)
        resp_int(call->out, (int64_t)f[i]);
}

void cmd_resetstat_part(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    raw_counters(cs, &cmd_ext(cs)->base);
    resp_ok(call->out);
}

/* ---- The report ---- */

static void sum_parts(struct rt_txn *t, uint64_t *tot)
{
    memset(tot, 0, sizeof(uint64_t) * F_COUNT);
    for (unsigned i = 0, n = rt_txn_nresults(t); i < n; i++) {
        rt_str r = rt_txn_result(t, i);
        size_t pos = 0;
        struct resp_val v;
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_ARRAY)
            continue;
        for (int64_t k = 0; k < v.n && k < F_COUNT; k++) {
            struct resp_val e;
            if (!resp_read(r.ptr, r.len, &pos, &e) || e.type != RESP_INT)
                break;
            tot[k] += (uint64_t)e.n;
        }
    }
}

static void sec_server(struct buf *o, struct rt *rt, const struct rt_options *opt, unsigned n)
{
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof u);
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    uint64_t up = rt_uptime_s(rt);
    int64_t now_us = clock_unix_us();
    buf_printf(o,
               "redis_version:" CMD_REDIS_VERSION "\r\n"
               "redis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\n"
               "redis_mode:standalone\r\nos:%s %s %s\r\narch_bits:%d\r\n"
               "monotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:%s\r\n"
               "atomicvar_api:c11-builtin\r\ngcc_version:%d.%d.%d\r\nprocess_id:%ld\r\n"
               "process_supervised:no\r\nrun_id:%s\r\ntcp_port:%d\r\nserver_time_usec:%lld\r\n"
               "uptime_in_seconds:%llu\r\nuptime_in_days:%llu\r\nhz:%u\r\nconfigured_hz:%u\r\n"
               "lru_clock:%lld\r\nexecutable:%s\r\nconfig_file:\r\nio_threads_active:0\r\n"
               "corekv_shards:%u\r\ncorekv_io:%s\r\n",
               u.sysname, u.release, u.machine, (int)(sizeof(void *) * 8), rt_io_name(rt),
#ifdef __GNUC__
               __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
               0, 0, 0,
#endif
               (long)getpid(), cmd_run_id(), opt->port, (long long)now_us,
               (unsigned long long)up, (unsigned long long)(up / 86400), opt->hz, opt->hz,
               (long long)((now_us / 1000000) & ((1 << 24) - 1)), exe, n, rt_io_name(rt));
}

static void sec_memory(struct buf *o)
{
    uint64_t used = mem_sample();
    uint64_t peak = atomic_load_explicit(&mem_peak, memory_order_relaxed);
    uint64_t rss = mem_rss();
    uint64_t sys = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    char h_used[32], h_rss[32], h_peak[32], h_sys[32], alloc[64];
    human(h_used, sizeof h_used, used);
    human(h_rss, sizeof h_rss, rss);
    human(h_peak, sizeof h_peak, peak);
    human(h_sys, sizeof h_sys, sys);
    mem_allocator(alloc, sizeof alloc);
    uint64_t lazy_pending, lazy_freed;
    store_lazyfree_stats(&lazy_pending, &lazy_freed);
    buf_printf(o,
               "used_memory:%llu\r\nused_memory_human:%s\r\nused_memory_rss:%llu\r\n"
               "used_memory_rss_human:%s\r\nused_memory_peak:%llu\r\nused_memory_peak_human:%s\r\n"
               "used_memory_peak_perc:%.2f%%\r\ntotal_system_memory:%llu\r\n"
               "total_system_memory_human:%s\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n"
               "maxmemory_policy:noeviction\r\nmem_fragmentation_ratio:%.2f\r\n"
               "mem_allocator:%s\r\nlazyfree_pending_objects:%llu\r\nlazyfreed_objects:%llu\r\n",
               (unsigned long long)used, h_used, (unsigned long long)rss, h_rss,
               (unsigned long long)peak, h_peak, peak ? (double)used * 100 / (double)peak : 0.0,
               (unsigned long long)sys, h_sys, used ? (double)rss / (double)used : 0.0, alloc,
               (unsigned long long)lazy_pending, (unsigned long long)lazy_freed);
}

static void sec_stats(struct buf *o, const uint64_t *f)
{
    buf_printf(o,
               "total_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
               "instantaneous_ops_per_sec:%llu\r\ntotal_net_input_bytes:%llu\r\n"
               "total_net_output_bytes:%llu\r\ninstantaneous_input_kbps:%llu.%02llu\r\n"
               "instantaneous_output_kbps:%llu.%02llu\r\nrejected_connections:%llu\r\n"
               "sync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:%llu\r\n"
               "expired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\n"
               "evicted_keys:0\r\nevicted_clients:0\r\nkeyspace_hits:%llu\r\n"
               "keyspace_misses:%llu\r\npubsub_channels:%llu\r\npubsub_patterns:%llu\r\n"
               "pubsubshard_channels:%llu\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\n"
               "corekv_forwarded_commands:%llu\r\n"
               "corekv_multishard_parts:%llu\r\n",
               (unsigned long long)f[F_CONN_RECEIVED], (unsigned long long)f[F_COMMANDS],
               (unsigned long long)f[F_OPS], (unsigned long long)f[F_NET_IN],
               (unsigned long long)f[F_NET_OUT], (unsigned long long)(f[F_IN_KBPS100] / 100),
               (unsigned long long)(f[F_IN_KBPS100] % 100),
               (unsigned long long)(f[F_OUT_KBPS100] / 100),
               (unsigned long long)(f[F_OUT_KBPS100] % 100), (unsigned long long)f[F_REJECTED],
               (unsigned long long)f[F_EXPIRED], (unsigned long long)f[F_HITS],
               (unsigned long long)f[F_MISSES], (unsigned long long)f[F_PS_CHANNELS],
               (unsigned long long)f[F_PS_PATTERNS], (unsigned long long)f[F_PS_SHARD_CHANNELS],
               (unsigned long long)f[F_FORWARDED],
               (unsigned long long)f[F_PARTS]);
}

static void sec_body(struct buf *o, int bit, struct rt *rt, const struct rt_options *opt,
                     unsigned nshards, const uint64_t *f)
{
    switch (bit) {
    case SEC_SERVER: sec_server(o, rt, opt, nshards); break;
    case SEC_CLIENTS:
        buf_printf(o,
                   "connected_clients:%llu\r\ncluster_connections:0\r\nmaxclients:%u\r\n"
                   "client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n"
                   "blocked_clients:%llu\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                   (unsigned long long)f[F_CONNECTED], opt->maxclients,
                   (unsigned long long)f[F_BLOCKED]);
        break;
    case SEC_MEMORY: sec_memory(o); break;
    case SEC_PERSISTENCE: persist_info(o, nshards, f[F_DIRTY]); break;
    case SEC_STATS: sec_stats(o, f); break;
    case SEC_REPLICATION:
        buf_printf(o,
                   "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n"
                   "master_replid:%s\r\n"
                   "master_replid2:0000000000000000000000000000000000000000\r\n"
                   "master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n"
                   "repl_backlog_size:1048576\r\nrepl_backlog_first_byte_offset:0\r\n"
                   "repl_backlog_histlen:0\r\n",
                   cmd_run_id());
        break;
    case SEC_CPU: {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) != 0)
            memset(&ru, 0, sizeof ru);
        buf_printf(o,
                   "used_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n"
                   "used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n",
                   (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, (long)ru.ru_utime.tv_sec,
                   (long)ru.ru_utime.tv_usec);
        break;
    }
    case SEC_CLUSTER: buf_puts(o, "cluster_enabled:0\r\n"); break;
    case SEC_KEYSPACE:
        if (f[F_KEYS])
            buf_printf(o, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n",
                       (unsigned long long)f[F_KEYS], (unsigned long long)f[F_EXPIRES]);
        break;
    default: break; /* modules, command/error/latency stats: not collected */
    }
}

static void info_reply(struct rt_txn *t, int mask, const uint64_t *f)
{
    struct rt_shard *sh = rt_txn_shard(t);
    struct rt *rt = rt_of(sh);
    struct rt_options opt;
    rt_options_get(rt, &opt);
    struct buf text = {0};
    bool first = true;
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!(mask & sections[i].bit))
            continue;
        if (!first)
            buf_append(&text, "\r\n", 2);
        first = false;
        buf_printf(&text, "# %s\r\n", sections[i].title);
        sec_body(&text, sections[i].bit, rt, &opt, rt_nshards(sh), f);
    }
    struct buf *b = rt_txn_scratch(t);
    resp_verbatim(b, text.data ? text.data : "", text.len, rt_txn_proto(t));
    buf_free(&text);
    rt_txn_finish(t, b->data, b->len);
}

void cmd_info_step(struct rt_txn *t, unsigned phase)
{
    int *mask = rt_txn_state(t, sizeof *mask);
    if (phase > 0) {
        uint64_t f[F_COUNT];
        sum_parts(t, f);
        info_reply(t, *mask, f);
        return;
    }
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    *mask = argc == 1 ? SEC_DEFAULT : 0;
    for (int i = 1; i < argc; i++) {
        if (arg_is(&argv[i], "default"))
            *mask |= SEC_DEFAULT;
        else if (arg_is(&argv[i], "all") || arg_is(&argv[i], "everything"))
            *mask |= SEC_ALL;
        else
            for (size_t s = 0; s < NSECTIONS; s++)
                if (arg_is(&argv[i], sections[s].name))
                    *mask |= sections[s].bit;
    }
    if (!(*mask & SEC_NEED_SHARDS)) {
        uint64_t f[F_COUNT] = {0};
        info_reply(t, *mask, f);
        return;
    }
    rt_str a = {"__info", 6};
    for (unsigned s = 0, n = rt_nshards(rt_txn_shard(t)); s < n; s++)
        rt_txn_part(t, s, 1, &a);
}
