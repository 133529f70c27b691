/* Creating, running and stopping the runtime; shard-level accessors. */
#include "rt/internal.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/slot.h"

void rt_options_default(struct rt_options *o)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (struct rt_options){
        .bind = "127.0.0.1",
        .port = 6379,
        .nshards = ncpu < 1 ? 1 : (ncpu > RT_MAX_SHARDS ? RT_MAX_SHARDS : (unsigned)ncpu),
        .pin = false,
        .io = RT_IO_AUTO,
        .hz = 10,
        .spin_us = 50,
        .proto_max_bulk_len = 512ull * 1024 * 1024,
        .query_buffer_limit = 1024ull * 1024 * 1024,
        .maxclients = 10000,
    };
}

/* The CPUs this process may run on: its affinity mask (a container or taskset may allow
 * fewer than the machine has), else the machine's online count. */
static unsigned cpus_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        log_msg(LOG_WARNING, "out of memory");
        abort();
    }
    return p;
}

static struct rt_shard *shard_new(struct rt *rt, unsigned id, char *err, size_t errlen)
{
    struct rt_shard *sh = xcalloc(1, sizeof *sh);
    sh->rt = rt;
    sh->id = id;
    sh->n = rt->n;
    sh->listenfd = sh->wakefd = -1;
    sh->io = rt->io;
    sh->next_conn_id = 1;
    sh->next_txn_id = 1;
    sh->listenfd = net_listen(rt->opt.bind, rt->opt.port, err, errlen);
    if (sh->listenfd < 0)
        return sh;
    sh->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sh->wakefd < 0)
        snprintf(err, errlen, "cannot create shard waker: %s", strerror(errno));
    return sh;
}

static void shard_free(struct rt_shard *sh)
{
    if (!sh)
        return;
    if (sh->listenfd >= 0)
        close(sh->listenfd);
    if (sh->wakefd >= 0)
        close(sh->wakefd);
    free(sh);
}

struct rt *rt_create(const struct rt_options *o, const struct rt_commands *cmds, char *err,
                     size_t errlen)
{
    if (o->nshards < 1 || o->nshards > RT_MAX_SHARDS) {
        snprintf(err, errlen, "shards must be between 1 and %d", RT_MAX_SHARDS);
        return NULL;
    }
    const struct io_ops *io = &io_epoll_ops;
    if (o->io != RT_IO_EPOLL) {
        char why[160];
        if (io_uring_usable(why, sizeof why)) {
            io = &io_uring_ops;
        } else if (o->io == RT_IO_URING) {
            snprintf(err, errlen, "the io_uring reactor is not available: %s", why);
            return NULL;
        } else {
            log_msg(LOG_NOTICE, "io_uring is not available (%s): using epoll", why);
        }
    }
    struct rt *rt = xcalloc(1, sizeof *rt);
    rt->opt = *o;
    rt->cmds = cmds;
    rt->n = o->nshards;
    rt->io = io;
    rt->cpus = cpus_allowed();
    rt->start_ms = clock_unix_ms();
    pthread_mutex_init(&rt->init_mu, NULL);
    pthread_cond_init(&rt->init_cv, NULL);
    out_limits_init(rt);
    err[0] = 0;
    for (unsigned i = 0; i < rt->n && !err[0]; i++)
        rt->shards[i] = shard_new(rt, i, err, errlen);
    for (unsigned a = 0; a < rt->n && !err[0]; a++)
        for (unsigned b = 0; b < rt->n; b++)
            if (a != b && !(rt->rings[a][b] = ring_new(RT_RING_CAPACITY)))
                snprintf(err, errlen, "out of memory creating rings");
    if (err[0]) {
        rt_destroy(rt);
        return NULL;
    }
    return rt;
}

static void pin_thread(pthread_t t, unsigned shard)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(shard % (unsigned)ncpu, &set);
    if (pthread_setaffinity_np(t, sizeof set, &set) != 0)
        log_msg(LOG_WARNING, "could not pin shard %u to a CPU", shard);
}

int rt_run(struct rt *rt)
{
    unsigned started = 0;
    for (; started < rt->n; started++) {
        struct rt_shard *sh = rt->shards[started];
        if (pthread_create(&sh->thread, NULL, shard_main, sh) != 0) {
            log_msg(LOG_WARNING, "cannot start shard thread %u", started);
            rt_stop(rt);
            break;
        }
        if (rt->opt.pin)
            pin_thread(sh->thread, started);
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(rt->shards[i]->thread, NULL);
    return started == rt->n && !atomic_load(&rt->failed) ? 0 : -1;
}

void rt_stop(struct rt *rt)
{
    atomic_store(&rt->stop, 1);
    /* Wake every shard so it sees the flag now (write is async-signal-safe). */
    for (unsigned i = 0; i < rt->n; i++) {
        uint64_t one = 1;
        if (rt->shards[i] && rt->shards[i]->wakefd >= 0) {
            ssize_t w = write(rt->shards[i]->wakefd, &one, sizeof one);
            (void)w;
        }
    }
}

void rt_destroy(struct rt *rt)
{
    if (!rt)
        return;
    pthread_mutex_destroy(&rt->init_mu);
    pthread_cond_destroy(&rt->init_cv);
    for (unsigned a = 0; a < RT_MAX_SHARDS; a++)
        for (unsigned b = 0; b < RT_MAX_SHARDS; b++) {
            struct ring *r = rt->rings[a][b];
            if (!r)
                continue;
            /* Batches a shard sent just before its peer stopped. */
            struct batch *bt;
            while ((bt = ring_pop(r))) {
                buf_free(&bt->req);
                buf_free(&bt->rep);
                free(bt);
            }
            ring_free(r);
        }
    for (unsigned i = 0; i < rt->n; i++)
        shard_free(rt->shards[i]);
    free(rt);
}

/* ---- Accessors ---- */
unsigned rt_shard_id(const struct rt_shard *sh) { return sh->id; }
unsigned rt_nshards(const struct rt_shard *sh) { return sh->n; }
struct rt *rt_of(const struct rt_shard *sh) { return sh->rt; }
void *rt_shard_ctx(const struct rt_shard *sh) { return sh->ctx; }
int64_t rt_shard_now_ms(const struct rt_shard *sh) { return sh->now_ms; }
const struct rt_shard_stats *rt_shard_stats(const struct rt_shard *sh) { return &sh->stats; }
unsigned rt_key_slot(const char *key, size_t len) { return key_slot(key, len); }

unsigned rt_key_shard(const struct rt_shard *sh, const char *key, size_t len)
{
    if (sh->n == 1)
        return 0;
    return (unsigned)((key_slot(key, len) * sh->n) >> 14);
}

void rt_options_get(const struct rt *rt, struct rt_options *out)
{
    /* Field by field: the mutable ones are written concurrently by CONFIG SET. */
    out->bind = rt->opt.bind;
    out->port = rt->opt.port;
    out->nshards = rt->opt.nshards;
    out->pin = rt->opt.pin;
    out->io = rt->opt.io;
    out->spin_us = rt->opt.spin_us;
    out->hz = OPT_LOAD(rt, hz);
    out->proto_max_bulk_len = OPT_LOAD(rt, proto_max_bulk_len);
    out->query_buffer_limit = OPT_LOAD(rt, query_buffer_limit);
    out->maxclients = OPT_LOAD(rt, maxclients);
}

bool rt_set_hz(struct rt *rt, unsigned hz)
{
    if (hz < 1)
        hz = 1;
    if (hz > 500)
        hz = 500; /* Redis clamps hz to [1, 500] the same way */
    OPT_STORE(rt, hz, hz);
    return true;
}

bool rt_set_proto_max_bulk_len(struct rt *rt, uint64_t v)
{
    if (v < 1024 * 1024)
        return false; /* Redis's minimum is 1mb */
    OPT_STORE(rt, proto_max_bulk_len, v);
    return true;
}

bool rt_set_query_buffer_limit(struct rt *rt, uint64_t v)
{
    if (v < 1024 * 1024)
        return false; /* Redis's minimum is 1mb */
    OPT_STORE(rt, query_buffer_limit, v);
    return true;
}

bool rt_set_maxclients(struct rt *rt, unsigned v)
{
    if (v < 1)
        return false;
    OPT_STORE(rt, maxclients, v);
    return true;
}

uint64_t rt_uptime_s(const struct rt *rt)
{
    int64_t d = clock_unix_ms() - rt->start_ms;
    return d > 0 ? (uint64_t)d / 1000 : 0;
}

const char *rt_io_name(const struct rt *rt) { return rt->io->name; }
bool rt_io_uring_available(char *why, size_t len) { return io_uring_usable(why, len); }
