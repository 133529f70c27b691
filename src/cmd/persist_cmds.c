/* SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, and each shard's persistence set-up and stop.
 *
 * SAVE and BGSAVE lock every shard whole while each starts its snapshot, so the shard
 * images together are one instant of the keyspace: no command, single- or multi-shard,
 * runs between two shards' starts. SAVE writes under the locks and replies once every
 * file is durable; BGSAVE releases them as soon as every walk has begun. */
#include "cmd/persist_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "cmd/server.h"
#include "cmd/split.h"

static _Atomic int shutdown_save;

void persist_set_shutdown_save(int mode) { atomic_store(&shutdown_save, mode); }

void persist_shard_init(struct cmd_shard *cs)
{
    struct persist_shard *ps = calloc(1, sizeof *ps);
    if (!ps)
        abort();
    ps->cs = cs;
    ps->id = rt_shard_id(cs->sh);
    ps->n = rt_nshards(cs->sh);
    cs->persist = ps;
    for (int f = 0; f < PS_COUNT; f++)
        pstat_set(ps->id, (enum pstat)f, 0);
    pstat_set(ps->id, PS_LAST_SAVE, cmd_start_unix_s());
    pstat_set(ps->id, PS_LAST_BGSAVE_OK, 1);
    pstat_set(ps->id, PS_LAST_REWRITE_OK, 1);
    pstat_set(ps->id, PS_AOF_WRITE_OK, 1);
    pstat_set(ps->id, PS_LAST_BGSAVE_SECS, -1);
    pstat_set(ps->id, PS_LAST_REWRITE_SECS, -1);
    persist_load(ps);
}

void persist_shard_fini(struct cmd_shard *cs)
{
    struct persist_shard *ps = pshard(cs);
    if (!ps)
        return;
    if (ps->job.kind != JOB_NONE)
        persist_job_abort(ps);
    struct persist_conf c;
    persist_conf_get(&c);
    int mode = atomic_load(&shutdown_save);
    char err[256];
    if (mode > 0 || (mode == 0 && c.nsave > 0)) {
        if (!persist_job_start(ps, JOB_RDB, err, sizeof err) ||
            !persist_job_finish_sync(ps, err, sizeof err))
            log_msg(LOG_WARNING, "Shard %u: error saving the DB on shutdown: %s", ps->id, err);
    }
    if (ps->aof) {
        persist_batch_close(ps);
        aof_close(ps->aof); /* writes and fsyncs what is left */
        ps->aof = NULL;
    }
    cs->logging = false;
    buf_free(&ps->job.buf);
    free(ps);
    cs->persist = NULL;
}

/* ---- The parts, one per shard ---- */

static void reply_err(struct rt_call *call, const char *msg) { resp_error(call->out, msg); }

static void save_part(struct rt_call *call)
{
    struct persist_shard *ps = pshard(cmd_shard(call));
    char err[256];
    if (ps->job.kind == JOB_RDB) {
        reply_err(call, "ERR Background save already in progress");
        return;
    }
    /* One job at a time per shard: a rewrite in progress completes first. */
    if (ps->job.kind == JOB_AOF && !persist_job_finish_sync(ps, err, sizeof err))
        log_msg(LOG_WARNING, "Shard %u: AOF rewrite failed: %s", ps->id, err);
    if (!persist_job_start(ps, JOB_RDB, err, sizeof err) ||
        !persist_job_finish_sync(ps, err, sizeof err)) {
        log_msg(LOG_WARNING, "Shard %u: error saving the DB: %s", ps->id, err);
        reply_err(call, "ERR");
        return;
    }
    resp_ok(call->out);
}

static void bgsave_part(struct rt_call *call)
{
    struct persist_shard *ps = pshard(cmd_shard(call));
    bool schedule = call->argc > 1;
    char err[256];
    if (ps->job.kind == JOB_RDB) {
        reply_err(call, "ERR Background save already in progress");
        return;
    }
    if (ps->job.kind == JOB_AOF) {
        if (!schedule) {
            reply_err(call, "ERR Another child process is active (AOF?): can't BGSAVE right now. "
                            "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
            return;
        }
        ps->bgsave_scheduled = true;
        resp_simple(call->out, "scheduled");
        return;
    }
    if (!persist_job_start(ps, JOB_RDB, err, sizeof err)) {
        log_msg(LOG_WARNING, "Shard %u: can't save in background: %s", ps->id, err);
        pstat_set(ps->id, PS_LAST_BGSAVE_OK, 0);
        reply_err(call, "ERR");
        return;
    }
    resp_ok(call->out);
}

static void bgrewriteaof_part(struct rt_call *call)
{
    struct persist_shard *ps = pshard(cmd_shard(call));
    char err[256];
    if (ps->job.kind == JOB_AOF) {
        reply_err(call, "ERR Background append only file rewriting already in progress");
        return;
    }
    if (!ps->aof) {
        reply_err(call, "ERR corekv rewrites the append only file only while appendonly is yes");
        return;
    }
    if (ps->job.kind == JOB_RDB) {
        ps->rewrite_scheduled = true;
        pstat_set(ps->id, PS_REWRITE_SCHEDULED, 1);
        resp_simple(call->out, "scheduled");
        return;
    }
    if (!persist_job_start(ps, JOB_AOF, err, sizeof err)) {
        log_msg(LOG_WARNING, "Shard %u: can't rewrite the append only file: %s", ps->id, err);
        reply_err(call, "ERR Can't execute an AOF background rewriting. Please check the server "
                        "logs for more information.");
        return;
    }
    resp_ok(call->out);
}

/* ---- The commands, on the origin ---- */

static void fan_out(struct rt_txn *t, const char *verb, int argc, const rt_str *extra,
                    bool lock)
{
    unsigned n = rt_nshards(rt_txn_shard(t));
    rt_str a[2] = {{verb, strlen(verb)}, {0}};
    if (argc > 1)
        a[1] = *extra;
    for (unsigned s = 0; lock && s < n; s++)
        rt_txn_lock_shard(t, s);
    for (unsigned s = 0; s < n; s++)
        rt_txn_part(t, s, argc, a);
}

/* The first error among the parts; else whether any part only scheduled its job. */
static bool reduce(struct rt_txn *t, bool *scheduled)
{
    *scheduled = false;
    for (unsigned i = 0, n = rt_txn_nresults(t); i < n; i++) {
        rt_str r = rt_txn_result(t, i);
        if (r.len && r.ptr[0] == '-') {
            rt_txn_finish(t, r.ptr, r.len);
            return false;
        }
        if (r.len > 1 && r.ptr[1] == 's')
            *scheduled = true;
    }
    return true;
}

static void finish_simple(struct rt_txn *t, const char *s)
{
    struct buf *b = rt_txn_scratch(t);
    resp_simple(b, s);
    rt_txn_finish(t, b->data, b->len);
}

static void save_step(struct rt_txn *t, unsigned phase)
{
    if (phase == 0) {
        fan_out(t, "__save", 1, NULL, true);
        return;
    }
    bool scheduled;
    if (reduce(t, &scheduled))
        rt_txn_finish(t, "+OK\r\n", 5);
}

static void bgsave_step(struct rt_txn *t, unsigned phase)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    if (phase == 0) {
        if (argc > 2 || (argc == 2 && !arg_is(&argv[1], "schedule"))) {
            static const char err[] = "-" ERR_SYNTAX "\r\n";
            rt_txn_finish(t, err, sizeof err - 1);
            return;
        }
        fan_out(t, "__bgsave", argc, argc > 1 ? &argv[1] : NULL, true);
        return;
    }
    bool scheduled;
    if (reduce(t, &scheduled))
        finish_simple(t, scheduled ? "Background saving scheduled" : "Background saving started");
}

static void bgrewriteaof_step(struct rt_txn *t, unsigned phase)
{
    if (phase == 0) {
        fan_out(t, "__bgrewriteaof", 1, NULL, false);
        return;
    }
    bool scheduled;
    if (reduce(t, &scheduled))
        finish_simple(t, scheduled ? "Background append only file rewriting scheduled"
                                   : "Background append only file rewriting started");
}

static void lastsave_exec(struct rt_call *call)
{
    resp_int(call->out, persist_lastsave(rt_nshards(call->rt_shard)));
}

const struct cmd_def cmd_persist_table[] = {
    {"save", 1, "admin noscript no_async_loading no_multi", "@admin @slow @dangerous",
     CMD_PLAN(NULL, save_step), "server", "1.0.0", "Synchronously save the dataset to disk",
     "O(N) where N is the total number of keys in all databases"},
    {"bgsave", -1, "admin noscript no_async_loading", "@admin @slow @dangerous",
     CMD_PLAN(NULL, bgsave_step), "server", "1.0.0", "Asynchronously save the dataset to disk",
     "O(1)"},
    {"bgrewriteaof", 1, "admin noscript no_async_loading", "@admin @slow @dangerous",
     CMD_PLAN(NULL, bgrewriteaof_step), "server", "1.0.0",
     "Asynchronously rewrite the append-only file", "O(1)"},
    {"lastsave", 1, "loading stale fast", "@admin @fast @dangerous", CMD_ORIGIN(lastsave_exec),
     "server", "1.0.0", "Get the UNIX time stamp of the last successful save to disk", "O(1)"},
    {"__save", 1, "", "", CMD_INTERNAL(save_part), "server", "", "", ""},
    {"__bgsave", -1, "", "", CMD_INTERNAL(bgsave_part), "server", "", "", ""},
    {"__bgrewriteaof", 1, "", "", CMD_INTERNAL(bgrewriteaof_part), "server", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
