/* One shard's persistence at run time: records into its log, the group commit before
 * replies leave, snapshots written a slice per loop iteration, save rules and the
 * automatic rewrite, and what INFO reports.
 *
 * A snapshot (DESIGN.md section 10) starts at one instant of the shard: the store's walk
 * begins (store_snapshot_begin) and, for a rewrite, the log switches to a new incremental
 * file (aof_rewrite_begin) with nothing run in between, so the base holds exactly the
 * effects before that instant and the new file exactly those after. Entries go through
 * a buffer into the file in 1 MiB writes, so memory grows only by that buffer; the
 * fsync, close and rename run on the background thread (bio) and the shard looks at
 * the outcome on later iterations. */
#include "cmd/persist_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "persist/rdb.h"
#include "store/rdb_obj.h"
#include "store/store.h"

_Atomic int64_t persist_stats[RT_MAX_SHARDS][PS_COUNT];

#define JOB_WRITE_CHUNK (1u << 20)
/* A slice of walk per loop iteration: enough to finish soon on an idle shard, small
 * enough that clients keep their latency on a busy one. */
#define JOB_SLICE_US 1000
#define JOB_SLICE_ENTRIES 256
/* After a failed save, rules wait this long before trying again (as Redis). */
#define SAVE_RETRY_MS 5000

/* ---- Records ---- */

static void put_bulk(struct buf *b, const char *p, size_t n)
{
    buf_printf(b, "$%zu\r\n", n);
    buf_append(b, p, n);
    buf_append(b, "\r\n", 2);
}

void persist_log_argv(struct cmd_shard *cs, int argc, const rt_str *argv)
{
    struct persist_shard *ps = pshard(cs);
    if (!ps || !ps->aof)
        return;
    struct buf *b = aof_buffer(ps->aof);
    if (ps->batch_records++ == 0)
        ps->batch_start = b->len;
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        put_bulk(b, argv[i].ptr, argv[i].len);
}

void persist_log_del(struct cmd_shard *cs, const char *key, size_t klen)
{
    if (!cs->logging)
        return;
    rt_str a[2] = {{"DEL", 3}, {key, klen}};
    persist_log_argv(cs, 2, a);
}

void cmd_log_effect(struct cmd_shard *cs, int argc, const rt_str *argv)
{
    if (!cs->logging)
        return;
    persist_log_argv(cs, argc, argv);
    cs->exec_logged = true;
}

/* The records of one group commit go to the log as one MULTI ... EXEC block: the loader
 * replays a block only when its EXEC is in the file, so a crash that tears the last
 * write drops that batch whole (none of its replies had left) rather than half of a
 * transaction or of a multi-key command. A lone record needs no block. */
void persist_batch_close(struct persist_shard *ps)
{
    if (ps->batch_records >= 2) {
        static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";
        static const char exec[] = "*1\r\n$4\r\nEXEC\r\n";
        struct buf *b = aof_buffer(ps->aof);
        size_t tail = b->len - ps->batch_start;
        buf_reserve(b, sizeof multi - 1);
        memmove(b->data + ps->batch_start + sizeof multi - 1, b->data + ps->batch_start, tail);
        memcpy(b->data + ps->batch_start, multi, sizeof multi - 1);
        b->len += sizeof multi - 1;
        buf_append(b, exec, sizeof exec - 1);
    }
    ps->batch_records = 0;
}

static void publish_aof(struct persist_shard *ps);

/* ---- Snapshot jobs ---- */

/* The file's first I/O error, as its reason (errno may have changed since). */
static void job_write_failed(struct snapshot_job *j)
{
    j->failed = true;
    snprintf(j->err, sizeof j->err, "write error: %s", strerror(rdb_file_error(j->file)));
}

static void job_entry(void *arg, const struct entry *e)
{
    struct persist_shard *ps = arg;
    struct snapshot_job *j = &ps->job;
    store_rdb_put_entry(e, &j->buf, j->compress);
    j->keys_done++;
    if (j->buf.len >= JOB_WRITE_CHUNK && !j->failed) {
        if (!rdb_file_write(j->file, j->buf.data, j->buf.len)) {
            job_write_failed(j);
        }
        j->buf.len = 0;
    }
}

static int job_commit_bg(void *arg)
{
    struct snapshot_job *j = arg;
    return rdb_file_commit(j->file, j->err, sizeof j->err) ? 0 : -1;
}

bool persist_aof_open(struct persist_shard *ps, const struct persist_conf *c, char *err,
                      size_t errlen)
{
    ps->aof = aof_open(c->dir, c->appenddirname, c->appendfilename, ps->id, err, errlen);
    if (!ps->aof)
        return false;
    struct aof_stats st;
    aof_stats(ps->aof, &st);
    ps->aof_size_at_rewrite = st.current_size;
    ps->cs->logging = true;
    pstat_set(ps->id, PS_AOF_ON, 1);
    publish_aof(ps);
    return true;
}

bool persist_job_start(struct persist_shard *ps, enum job_kind kind, char *err, size_t errlen)
{
    struct persist_conf c;
    persist_conf_get(&c);
    struct snapshot_job *j = &ps->job;
    char path[PATH_MAX + 300];
    if (kind == JOB_AOF) {
        if (!ps->aof) {
            snprintf(err, errlen, "the append only file is not enabled");
            return false;
        }
        persist_batch_close(ps); /* a block never spans two files */
        if (!aof_rewrite_begin(ps->aof, path, sizeof path, err, errlen))
            return false;
    } else {
        persist_rdb_path(&c, (int)ps->id, path, sizeof path);
    }
    j->file = rdb_file_create(path, err, errlen);
    if (!j->file) {
        if (kind == JOB_AOF)
            aof_rewrite_abort(ps->aof);
        return false;
    }
    struct store *s = ps->cs->store;
    /* Nothing runs between here and the walk's start: the instant of the image. */
    store_snapshot_begin(s, job_entry, ps);
    struct rdb_header_info h = {.shard = (int)ps->id, .nshards = (int)ps->n,
                                .aof_base = kind == JOB_AOF};
    store_snapshot_counts(s, &h.keys, &h.expires);
    j->kind = kind;
    j->phase = JP_WALK;
    j->failed = false;
    j->compress = c.rdbcompression;
    j->keys_done = 0;
    j->start_ms = clock_unix_ms();
    j->err[0] = 0;
    j->buf.len = 0;
    store_rdb_put_header(&j->buf, &h);
    ps->dirty_at_job = ps->cs->dirty;
    pstat_set(ps->id, kind == JOB_AOF ? PS_REWRITE_RUNNING : PS_BGSAVE_RUNNING, 1);
    pstat_set(ps->id, kind == JOB_AOF ? PS_REWRITE_START : PS_BGSAVE_START, j->start_ms / 1000);
    pstat_set(ps->id, PS_SAVE_KEYS_TOTAL, (int64_t)h.keys);
    pstat_set(ps->id, PS_SAVE_KEYS_DONE, 0);
    return true;
}

/* The walk is over: write the tail, seal, and hand the slow part to bio. */
static void job_seal(struct persist_shard *ps, bool sync)
{
    struct snapshot_job *j = &ps->job;
    struct persist_conf c;
    persist_conf_get(&c);
    store_rdb_put_footer(&j->buf);
    if (!j->failed && !rdb_file_write(j->file, j->buf.data, j->buf.len)) {
        job_write_failed(j);
    }
    j->buf.len = 0;
    buf_shrink(&j->buf, 0);
    if (!j->failed && !rdb_file_seal(j->file, c.rdbchecksum)) {
        job_write_failed(j);
    }
    j->phase = JP_COMMIT;
    if (j->failed) {
        rdb_file_abort(j->file);
        j->file = NULL;
        j->commit.rc = -1;
        atomic_store(&j->commit.done, true);
        return;
    }
    j->commit.fn = job_commit_bg;
    j->commit.arg = j;
    j->commit.rc = 0;
    atomic_store(&j->commit.done, false);
    if (sync) {
        j->commit.rc = job_commit_bg(j);
        j->file = NULL;
        atomic_store(&j->commit.done, true);
    } else {
        bio_submit(&j->commit);
    }
}

static void job_done(struct persist_shard *ps)
{
    struct snapshot_job *j = &ps->job;
    bool ok = j->commit.rc == 0;
    j->file = NULL;
    int64_t now = clock_unix_ms();
    int64_t secs = (now - j->start_ms + 999) / 1000;
    if (j->kind == JOB_AOF) {
        char err[256];
        if (ok && !aof_rewrite_commit(ps->aof, err, sizeof err)) {
            ok = false;
            snprintf(j->err, sizeof j->err, "%s", err);
        }
        if (!ok)
            aof_rewrite_abort(ps->aof);
        struct aof_stats st;
        aof_stats(ps->aof, &st);
        ps->aof_size_at_rewrite = st.current_size;
        publish_aof(ps); /* INFO shows the new sizes with the count that says it is done */
        pstat_set(ps->id, PS_REWRITE_RUNNING, 0);
        pstat_set(ps->id, PS_LAST_REWRITE_SECS, secs);
        pstat_set(ps->id, PS_LAST_REWRITE_OK, ok);
        if (ok) {
            pstat_set(ps->id, PS_REWRITES, pstat_get(ps->id, PS_REWRITES) + 1);
            pstat_set(ps->id, PS_REWRITE_FAILS, 0);
            log_msg(LOG_NOTICE, "Shard %u: background AOF rewrite finished successfully", ps->id);
        } else {
            pstat_set(ps->id, PS_REWRITE_FAILS, pstat_get(ps->id, PS_REWRITE_FAILS) + 1);
            log_msg(LOG_WARNING, "Shard %u: background AOF rewrite failed: %s", ps->id, j->err);
        }
    } else {
        pstat_set(ps->id, PS_BGSAVE_RUNNING, 0);
        pstat_set(ps->id, PS_LAST_BGSAVE_SECS, secs);
        pstat_set(ps->id, PS_LAST_BGSAVE_OK, ok);
        if (ok) {
            ps->dirty_at_save = ps->dirty_at_job;
            pstat_set(ps->id, PS_DIRTY_AT_SAVE, (int64_t)ps->dirty_at_save);
            pstat_set(ps->id, PS_LAST_SAVE, j->start_ms / 1000);
            pstat_set(ps->id, PS_SAVES, pstat_get(ps->id, PS_SAVES) + 1);
            log_msg(LOG_NOTICE, "Shard %u: DB saved on disk", ps->id);
        } else {
            log_msg(LOG_WARNING, "Shard %u: background saving error: %s", ps->id, j->err);
        }
    }
    j->kind = JOB_NONE;
}

void persist_job_abort(struct persist_shard *ps)
{
    struct snapshot_job *j = &ps->job;
    if (j->kind == JOB_NONE)
        return;
    if (j->phase == JP_WALK) {
        store_snapshot_abort(ps->cs->store);
        rdb_file_abort(j->file);
        j->file = NULL;
        j->commit.rc = -1;
        snprintf(j->err, sizeof j->err, "aborted");
    } else {
        while (!bio_done(&j->commit))
            bio_drain();
    }
    job_done(ps);
    buf_free(&j->buf);
}

bool persist_job_finish_sync(struct persist_shard *ps, char *err, size_t errlen)
{
    struct snapshot_job *j = &ps->job;
    if (j->phase == JP_WALK) {
        while (!store_snapshot_step(ps->cs->store, 4096))
            ;
        job_seal(ps, true);
    }
    while (!bio_done(&j->commit))
        bio_drain();
    bool ok = j->commit.rc == 0;
    if (!ok)
        snprintf(err, errlen, "%s", j->err);
    job_done(ps);
    buf_free(&j->buf);
    return ok;
}

/* One slice of the running job; true while it still has work. */
static bool job_run(struct persist_shard *ps)
{
    struct snapshot_job *j = &ps->job;
    if (j->phase == JP_WALK) {
        uint64_t t0 = clock_mono_us();
        bool done;
        do {
            done = store_snapshot_step(ps->cs->store, JOB_SLICE_ENTRIES);
        } while (!done && clock_mono_us() - t0 < JOB_SLICE_US);
        pstat_set(ps->id, PS_SAVE_KEYS_DONE, (int64_t)j->keys_done);
        if (done)
            job_seal(ps, false);
        return true;
    }
    if (!bio_done(&j->commit))
        return true;
    job_done(ps);
    return false;
}

/* ---- The loop's hooks ---- */

static void publish_aof(struct persist_shard *ps)
{
    struct aof_stats st;
    aof_stats(ps->aof, &st);
    pstat_set(ps->id, PS_AOF_SIZE, (int64_t)st.current_size);
    pstat_set(ps->id, PS_AOF_BASE_SIZE, (int64_t)st.base_size);
    pstat_set(ps->id, PS_AOF_BUFFER, (int64_t)st.buffer_length);
    pstat_set(ps->id, PS_AOF_PENDING_FSYNC, (int64_t)st.pending_bio_fsync);
    pstat_set(ps->id, PS_AOF_DELAYED_FSYNC, (int64_t)st.delayed_fsync);
    pstat_set(ps->id, PS_AOF_WRITE_OK, st.last_write_ok);
}

bool persist_before_flush(void *shard)
{
    struct cmd_shard *cs = shard;
    struct persist_shard *ps = pshard(cs);
    if (ps->batch_records)
        persist_batch_close(ps);
    if (ps->aof && !aof_flush(ps->aof, persist_conf_fsync(), clock_mono_ns() / 1000000)) {
        /* Redis exits when an fsync of appendfsync always fails: a reply must never
         * acknowledge a write that is not durable. */
        if (persist_conf_fsync() == AOF_FSYNC_ALWAYS) {
            log_msg(LOG_WARNING, "Shard %u: can't write or fsync the append only file "
                    "with appendfsync always: exiting.", ps->id);
            _exit(1);
        }
    }
    if (ps->job.kind != JOB_NONE)
        return job_run(ps);
    return false;
}

static void start_scheduled(struct persist_shard *ps)
{
    char err[256];
    if (ps->job.kind != JOB_NONE)
        return;
    enum job_kind k = ps->rewrite_scheduled ? JOB_AOF : ps->bgsave_scheduled ? JOB_RDB : JOB_NONE;
    if (k == JOB_NONE)
        return;
    if (k == JOB_AOF) {
        ps->rewrite_scheduled = false;
        pstat_set(ps->id, PS_REWRITE_SCHEDULED, 0);
    } else {
        ps->bgsave_scheduled = false;
    }
    if (!persist_job_start(ps, k, err, sizeof err))
        log_msg(LOG_WARNING, "Shard %u: can't start a background %s: %s", ps->id,
                k == JOB_AOF ? "AOF rewrite" : "save", err);
}

static int64_t sum(unsigned n, enum pstat f);
static int64_t max_of(unsigned n, enum pstat f);
static int64_t min_of(unsigned n, enum pstat f);

/* Save rules count the changes of the whole keyspace, as Redis's do, and a rule that
 * fires saves every shard: a shard that did not change still writes its file, so the
 * files always form one set. Shard 0 watches the rules for all (the counters are
 * published by each shard's tick) and starts each shard's BGSAVE with a message; after a
 * failed save it waits before trying again. Unlike BGSAVE, the shards' images are then
 * not one instant across shards (each is one instant of its own shard). */
static void save_rules_check(struct persist_shard *ps, const struct persist_conf *c,
                             int64_t now)
{
    unsigned n = ps->n;
    if (ps->id != 0 || c->nsave == 0 || max_of(n, PS_BGSAVE_RUNNING))
        return;
    int64_t changes = sum(n, PS_DIRTY) - sum(n, PS_DIRTY_AT_SAVE);
    int64_t last = persist_lastsave(n) * 1000;
    bool ok = min_of(n, PS_LAST_BGSAVE_OK) != 0;
    /* Once started, the save shows as running within a tick; a failed one waits. */
    if (now - ps->last_try_ms < (ok ? 1000 : SAVE_RETRY_MS))
        return;
    for (int i = 0; i < c->nsave; i++) {
        if (changes >= c->save[i].changes && changes > 0 &&
            now - last >= c->save[i].seconds * 1000) {
            log_msg(LOG_NOTICE, "%lld changes in %lld seconds. Saving...",
                    (long long)c->save[i].changes, (long long)c->save[i].seconds);
            ps->last_try_ms = now;
            rt_str a[2] = {{"__bgsave", 8}, {"schedule", 8}};
            for (unsigned s = 0; s < n; s++)
                rt_post(ps->cs->sh, s, 2, a);
            return;
        }
    }
}

void persist_tick(struct cmd_shard *cs)
{
    struct persist_shard *ps = pshard(cs);
    struct persist_conf c;
    persist_conf_get(&c);
    char err[256];
    /* CONFIG SET appendonly: each shard opens (with a rewrite, so the log starts from a
     * base holding everything) or closes its own log. */
    if (c.appendonly && !ps->aof) {
        if (!persist_aof_open(ps, &c, err, sizeof err)) {
            log_msg(LOG_WARNING, "Shard %u: can't open the append only file: %s", ps->id, err);
        } else {
            if (ps->job.kind == JOB_RDB)
                persist_job_abort(ps);
            ps->rewrite_scheduled = true;
        }
    } else if (!c.appendonly && ps->aof) {
        if (ps->job.kind == JOB_AOF)
            persist_job_abort(ps);
        persist_batch_close(ps);
        aof_close(ps->aof);
        ps->aof = NULL;
        cs->logging = false;
        pstat_set(ps->id, PS_AOF_ON, 0);
    }
    int64_t now = clock_unix_ms();
    pstat_set(ps->id, PS_DIRTY, (int64_t)cs->dirty);
    save_rules_check(ps, &c, now);
    if (ps->aof) {
        publish_aof(ps);
        uint64_t size = (uint64_t)pstat_get(ps->id, PS_AOF_SIZE);
        uint64_t base = ps->aof_size_at_rewrite ? ps->aof_size_at_rewrite : 1;
        if (c.rewrite_pct > 0 && ps->job.kind != JOB_AOF && !ps->rewrite_scheduled &&
            size >= c.rewrite_min_size && (size - base) * 100 / base >= (uint64_t)c.rewrite_pct) {
            log_msg(LOG_NOTICE, "Shard %u: starting automatic rewriting of AOF on %llu%% growth",
                    ps->id, (unsigned long long)((size - base) * 100 / base));
            ps->rewrite_scheduled = true;
        }
    }
    start_scheduled(ps);
}

/* ---- INFO and LASTSAVE ---- */

static int64_t sum(unsigned n, enum pstat f)
{
    int64_t s = 0;
    for (unsigned i = 0; i < n; i++)
        s += pstat_get(i, f);
    return s;
}

static int64_t max_of(unsigned n, enum pstat f)
{
    int64_t m = pstat_get(0, f);
    for (unsigned i = 1; i < n; i++)
        if (pstat_get(i, f) > m)
            m = pstat_get(i, f);
    return m;
}

static int64_t min_of(unsigned n, enum pstat f)
{
    int64_t m = pstat_get(0, f);
    for (unsigned i = 1; i < n; i++)
        if (pstat_get(i, f) < m)
            m = pstat_get(i, f);
    return m;
}

long long persist_lastsave(unsigned nshards) { return (long long)min_of(nshards, PS_LAST_SAVE); }

/* Seconds a job of this kind has been running on the longest-running shard, or -1. */
static long long running_secs(unsigned n, enum pstat running, enum pstat start)
{
    long long now = clock_unix_ms() / 1000, best = -1;
    for (unsigned i = 0; i < n; i++)
        if (pstat_get(i, running) && now - pstat_get(i, start) > best)
            best = now - pstat_get(i, start);
    return best;
}

void persist_info(struct buf *o, unsigned n, uint64_t dirty)
{
    bool bgsave = max_of(n, PS_BGSAVE_RUNNING) != 0, rewrite = max_of(n, PS_REWRITE_RUNNING) != 0;
    bool aof_on = persist_conf_appendonly();
    buf_printf(o,
               "loading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n"
               "current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n"
               "current_save_keys_processed:%lld\r\ncurrent_save_keys_total:%lld\r\n"
               "rdb_changes_since_last_save:%lld\r\nrdb_bgsave_in_progress:%d\r\n"
               "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:%s\r\n"
               "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\n"
               "rdb_saves:%lld\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:%lld\r\n"
               "rdb_last_load_keys_loaded:%lld\r\naof_enabled:%d\r\n"
               "aof_rewrite_in_progress:%d\r\naof_rewrite_scheduled:%d\r\n"
               "aof_last_rewrite_time_sec:%lld\r\naof_current_rewrite_time_sec:%lld\r\n"
               "aof_last_bgrewrite_status:%s\r\naof_rewrites:%lld\r\n"
               "aof_rewrites_consecutive_failures:%lld\r\naof_last_write_status:%s\r\n"
               "aof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
               (long long)((bgsave || rewrite) ? sum(n, PS_SAVE_KEYS_DONE) : 0),
               (long long)((bgsave || rewrite) ? sum(n, PS_SAVE_KEYS_TOTAL) : 0),
               (long long)(dirty - (uint64_t)sum(n, PS_DIRTY_AT_SAVE)), bgsave, persist_lastsave(n),
               min_of(n, PS_LAST_BGSAVE_OK) ? "ok" : "err",
               (long long)max_of(n, PS_LAST_BGSAVE_SECS),
               running_secs(n, PS_BGSAVE_RUNNING, PS_BGSAVE_START), (long long)min_of(n, PS_SAVES),
               (long long)sum(n, PS_LOAD_EXPIRED), (long long)sum(n, PS_LOAD_KEYS), aof_on,
               rewrite, max_of(n, PS_REWRITE_SCHEDULED) != 0,
               (long long)max_of(n, PS_LAST_REWRITE_SECS),
               running_secs(n, PS_REWRITE_RUNNING, PS_REWRITE_START),
               min_of(n, PS_LAST_REWRITE_OK) ? "ok" : "err", (long long)min_of(n, PS_REWRITES),
               (long long)max_of(n, PS_REWRITE_FAILS),
               min_of(n, PS_AOF_WRITE_OK) ? "ok" : "err");
    if (aof_on)
        buf_printf(o,
                   "aof_current_size:%lld\r\naof_base_size:%lld\r\naof_pending_rewrite:%d\r\n"
                   "aof_buffer_length:%lld\r\naof_pending_bio_fsync:%lld\r\n"
                   "aof_delayed_fsync:%lld\r\n",
                   (long long)sum(n, PS_AOF_SIZE), (long long)sum(n, PS_AOF_BASE_SIZE),
                   max_of(n, PS_REWRITE_SCHEDULED) != 0, (long long)sum(n, PS_AOF_BUFFER),
                   (long long)sum(n, PS_AOF_PENDING_FSYNC),
                   (long long)sum(n, PS_AOF_DELAYED_FSYNC));
}
