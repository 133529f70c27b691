/* The shard loop (DESIGN.md section 3): poll, read and run commands, drain inbound
 * rings, flush lanes and connections, wake peers, tick, and spin or park when idle. */
#include "rt/internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"

void io_events_begin(struct rt_shard *sh)
{
    sh->now_ms = clock_unix_ms();
    if (sh->rt->cmds->before_batch)
        sh->rt->cmds->before_batch(sh->ctx);
}

static void shard_cleanup(struct rt_shard *sh)
{
    conn_close_all(sh);
    txn_free_all(sh);
    wait_free_all(sh);
    hold_free_all(sh);
    lane_free_all(sh);
    buf_free(&sh->discard);
    if (sh->rt->cmds->shard_fini)
        sh->rt->cmds->shard_fini(sh->ctx);
    sh->ctx = NULL;
    buf_free(&sh->errbuf);
    free(sh->argv);
    sh->argv = NULL;
    free(sh->win_argv);
    sh->win_argv = NULL;
    sh->io->close(sh);
}

/* A stop must not cut a multi-shard command in half: its parts on some shards would be
 * done (and logged) and on others not. So a stopping shard closes its connections (a
 * blocked client's wait ends; a transaction whose client left still runs to its end),
 * keeps serving the other shards' parts, and counts itself drained once no transaction
 * it started is left and nothing waits in its lanes. The loops end when every shard is
 * drained: no part can then be in flight anywhere. A shard that stays busy past the
 * deadline (a bug) does not hold the process. */
#define RT_STOP_DEADLINE_NS (5ull * 1000000000ull)

static bool stop_drained(struct rt_shard *sh, uint64_t now)
{
    struct rt *rt = sh->rt;
    if (!sh->stop_since_ns)
        sh->stop_since_ns = now;
    for (uint32_t i = 0; i < sh->conns_cap; i++)
        if (sh->conns[i])
            conn_close(sh, sh->conns[i]);
    bool idle = sh->txns_cap == sh->nfree_txns && !sh->backlog_total && !sh->lanes_cur &&
                !sh->hold_dirty && !sh->nlock_ready;
    if (idle && !sh->drained) {
        sh->drained = true;
        atomic_fetch_add(&rt->drained, 1);
    }
    if (atomic_load(&rt->drained) == rt->n)
        return true;
    if (now - sh->stop_since_ns > RT_STOP_DEADLINE_NS) {
        log_msg(LOG_WARNING, "Shard %u: stopping with work still in flight", sh->id);
        return true;
    }
    return false;
}

/* Every shard waits for the others' shard_init: a connection accepted early would see a
 * shard still loading its data (a stop ends the wait: a thread may have failed to
 * start). The last one announces the server ready. */
static void wait_all_ready(struct rt *rt)
{
    pthread_mutex_lock(&rt->init_mu);
    if (++rt->ninit == rt->n) {
        log_msg(LOG_NOTICE, "corekv ready: %u shard%s, %s reactor, listening on %s:%d", rt->n,
                rt->n == 1 ? "" : "s", rt->io->name, rt->opt.bind, rt->opt.port);
        pthread_cond_broadcast(&rt->init_cv);
    }
    while (rt->ninit < rt->n && !atomic_load(&rt->stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&rt->init_cv, &rt->init_mu, &ts);
    }
    pthread_mutex_unlock(&rt->init_mu);
}

void *shard_main(void *arg)
{
    struct rt_shard *sh = arg;
    struct rt *rt = sh->rt;
    sh->now_ms = clock_unix_ms();
    char err[256];
    if (!sh->io->open(sh, err, sizeof err)) {
        /* Counted as started and drained, so the other shards stop without waiting. */
        log_msg(LOG_WARNING, "Shard %u cannot start: %s", sh->id, err);
        atomic_store(&rt->failed, 1);
        sh->drained = true;
        atomic_fetch_add(&rt->drained, 1);
        rt_stop(rt);
        wait_all_ready(rt);
        sh->io->close(sh);
        return NULL;
    }
    hold_init(sh);
    wait_init(sh);
    sh->ctx = rt->cmds->shard_init(sh);
    wait_all_ready(rt);

    /* More shards than the CPUs the process may use (a container's or taskset's share,
     * not the machine's count): a peer runs only when this thread gives up its CPU, so
     * spinning for its messages only delays them; park at once instead. With one shard
     * there are no peers whose messages spinning could catch early. */
    bool oversubscribed = rt->n > rt->cpus;
    uint64_t spin_ns = rt->n > 1 && !oversubscribed ? (uint64_t)rt->opt.spin_us * 1000 : 0;
    uint64_t now = clock_mono_ns();
    uint64_t last_work = now;
    sh->last_tick_ns = now;
    _Atomic int *parked = &rt->parked[sh->id].v;
    _Atomic uint64_t *inbound = &rt->inbound[sh->id].v;

    for (;;) {
        if (atomic_load_explicit(&rt->stop, memory_order_relaxed) && stop_drained(sh, now))
            break;
        uint64_t tick_ns = 1000000000ull / OPT_LOAD(rt, hz);
        int timeout = 0;
        bool busy = sh->backlog_total || sh->lanes_cur || sh->hold_dirty || sh->nlock_ready ||
                    wait_busy(sh) || sh->io->busy(sh);
        if (!busy && now - last_work >= spin_ns) {
            /* Park: announce it, then re-check for messages (the Dekker pair with
             * lane_wake), then block in the poller. */
            atomic_store_explicit(parked, 1, memory_order_seq_cst);
            atomic_thread_fence(memory_order_seq_cst);
            if (!atomic_load_explicit(inbound, memory_order_seq_cst)) {
                uint64_t next_tick = sh->last_tick_ns + tick_ns;
                uint64_t wait_ms = next_tick > now ? (next_tick - now) / 1000000 + 1 : 0;
                timeout = wait_ms < RT_PARK_TIMEOUT_MS ? (int)wait_ms : RT_PARK_TIMEOUT_MS;
                int64_t deadline = wait_next_deadline_ms(sh); /* a blocked client's timeout */
                if (deadline < timeout)
                    timeout = (int)deadline;
            }
        } else if (oversubscribed) {
            sched_yield(); /* more shards than CPUs: let a peer run while we spin */
        }
        int nev = sh->io->poll(sh, timeout);
        atomic_store_explicit(parked, 0, memory_order_relaxed);
        if (nev < 0)
            break;
        if (!nev)
            sh->now_ms = clock_unix_ms(); /* else io_events_begin did */
        bool work = nev > 0;
        work |= lane_drain(sh);
        if (sh->nlock_ready)
            txn_run_lock_ready(sh);
        if (sh->hold_dirty)
            hold_pass(sh);
        wait_run(sh);
        if (sh->nresume)
            conn_run_resumed(sh);
        if (rt->cmds->before_flush && rt->cmds->before_flush(sh->ctx))
            work = true;
        lane_flush(sh);
        conn_flush_dirty(sh);
        lane_wake(sh);

        now = clock_mono_ns();
        if (work)
            last_work = now;
        if (now - sh->last_tick_ns >= tick_ns) {
            sh->last_tick_ns = now;
            if (rt->cmds->tick)
                rt->cmds->tick(sh->ctx);
        }
    }
    shard_cleanup(sh);
    return NULL;
}
