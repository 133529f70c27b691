/* Start-up: each shard loads its part of what the files hold before it serves, then
 * opens its log.
 *
 * What is loaded (decided once for the process): with appendonly yes the shard logs
 * (manifests) when there are any; otherwise the per-shard snapshots; otherwise a plain
 * <dbfilename>, such as a dump.rdb written by Redis. Log records are replayed through the
 * command table on the shard, with no client and with the store's clock stopped at 0, so
 * nothing expires while loading (as Redis loads).
 *
 * The files may come from a run with another number of shards, M. Shard i then loads old
 * shard j's files for every j with j % N == i into its own store (old shards own
 * disjoint keys, so their records never interleave on a key), and once every shard has
 * loaded (a barrier: this runs before any loop serves), each hands the keys it does not
 * own to their owners. The files are then rewritten for N shards: the logs into a new
 * directory swapped in whole, the snapshots shard by shard with the extra old ones
 * removed after. */
#include "cmd/persist_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "persist/rdb.h"
#include "store/rdb_obj.h"
#include "store/store.h"

enum source { SRC_NONE, SRC_AOF, SRC_RDB, SRC_PLAIN };

/* A key on its way to its owner while the shards re-home (start-up only). */
struct moved {
    struct moved *next;
    int64_t ttl;
    size_t klen, dlen;
    char data[]; /* key, then the dump of its value */
};

static struct {
    pthread_once_t once;
    enum source src;
    unsigned m;          /* shards the files were written by */
    unsigned n;          /* shards now */
    bool rehome;
    pthread_barrier_t barrier;
    pthread_mutex_t mu;  /* guards inbox */
    struct moved *inbox[RT_MAX_SHARDS];
} ld = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

/* One past the highest shard index with a snapshot file: the shard count that wrote
 * them (a shard whose file is missing is reported when loading). */
static unsigned count_rdb_files(const struct persist_conf *c)
{
    unsigned m = 0;
    char path[PATH_MAX + 300];
    for (unsigned i = 0; i < RT_MAX_SHARDS; i++) {
        persist_rdb_path(c, (int)i, path, sizeof path);
        if (access(path, F_OK) == 0)
            m = i + 1;
    }
    return m;
}

/* The shard count, for decide() (pthread_once takes no argument; every shard stores the
 * same value). */
static _Atomic unsigned decide_n;

static void decide(void)
{
    struct persist_conf c;
    persist_conf_get(&c);
    ld.n = decide_n;
    if (c.appendonly)
        aof_dir_cleanup(c.dir, c.appenddirname);
    char path[PATH_MAX + 300];
    bool gap = false;
    unsigned m = c.appendonly ? aof_count_shards(c.dir, c.appenddirname, c.appendfilename, &gap)
                              : 0;
    if (gap) {
        log_msg(LOG_WARNING, "The append only files in %s/%s are not a complete set: a shard's "
                "manifest is missing", c.dir, c.appenddirname);
        _exit(1);
    }
    if (m) {
        ld.src = SRC_AOF;
    } else if ((m = count_rdb_files(&c)) > 0) {
        ld.src = SRC_RDB;
    } else {
        persist_rdb_path(&c, -1, path, sizeof path);
        if (access(path, F_OK) == 0) {
            ld.src = SRC_PLAIN;
            m = 1;
        }
    }
    ld.m = m;
    ld.rehome = ld.src != SRC_NONE && m != ld.n;
    pthread_barrier_init(&ld.barrier, NULL, ld.n);
}

static _Noreturn void load_failed(const char *what, const char *err)
{
    log_msg(LOG_WARNING, "Fatal error loading %s: %s", what, err);
    _exit(1);
}

/* ---- Loading one file set ---- */

static bool load_rdb_file(struct persist_shard *ps, const char *path, int64_t now_ms, char *err,
                          size_t errlen)
{
    struct rdb_map map;
    if (!rdb_map_file(path, &map, err, errlen))
        return false;
    struct rdb_load_info info;
    bool ok = store_rdb_load(ps->cs->store, map.p, map.len, now_ms, &info, err, errlen);
    rdb_unmap(&map);
    if (ok) {
        pstat_set(ps->id, PS_LOAD_KEYS, pstat_get(ps->id, PS_LOAD_KEYS) + (int64_t)info.loaded);
        pstat_set(ps->id, PS_LOAD_EXPIRED,
                  pstat_get(ps->id, PS_LOAD_EXPIRED) + (int64_t)info.expired);
    }
    return ok;
}

static bool on_base(void *arg, const char *path, char *err, size_t errlen)
{
    return load_rdb_file(arg, path, 0, err, errlen);
}

static bool on_record(void *arg, int argc, const rt_str *argv, char *err, size_t errlen)
{
    struct persist_shard *ps = arg;
    struct cmd_shard *cs = ps->cs;
    /* The loader hands over a MULTI ... EXEC block only when it is whole: its commands
     * simply run in order. */
    if (argc == 1 && (arg_is(&argv[0], "multi") || arg_is(&argv[0], "exec")))
        return true;
    struct buf out = {0};
    const struct rt_cmd *cmd = cmd_commands.resolve(cs, argv, argc, RT_RESOLVE_INTERNAL, &out);
    if (!cmd || !cmd->exec) {
        snprintf(err, errlen, "Unknown command '%.*s' reading the append only file",
                 argc > 0 ? (int)(argv[0].len > 64 ? 64 : argv[0].len) : 0,
                 argc > 0 ? argv[0].ptr : "");
        buf_free(&out);
        return false;
    }
    out.len = 0;
    struct rt_call call = {.shard = cs, .rt_shard = cs->sh, .cmd = cmd, .argv = argv,
                           .argc = argc, .proto = 2, .out = &out};
    cmd->exec(&call);
    buf_free(&out);
    return true;
}

static void load_old_shard(struct persist_shard *ps, const struct persist_conf *c, unsigned j)
{
    char err[512], path[PATH_MAX + 300];
    switch (ld.src) {
    case SRC_AOF: {
        struct aof_load_cb cb = {.on_base = on_base, .on_record = on_record, .arg = ps};
        struct aof_load_stats st;
        if (aof_load(c->dir, c->appenddirname, c->appendfilename, j, c->aof_load_truncated, &cb,
                     &st, err, sizeof err) == AOF_LOAD_ERR)
            load_failed("the append only file", err);
        log_msg(LOG_NOTICE, "Shard %u: loaded the append only file of shard %u", ps->id, j);
        break;
    }
    case SRC_RDB:
    case SRC_PLAIN:
        persist_rdb_path(c, ld.src == SRC_PLAIN ? -1 : (int)j, path, sizeof path);
        if (access(path, F_OK) != 0) {
            log_msg(LOG_WARNING, "Shard %u: %s is missing: shard %u of the saved set loads "
                    "nothing", ps->id, path, j);
            break;
        }
        if (!load_rdb_file(ps, path, clock_unix_ms(), err, sizeof err))
            load_failed(path, err);
        log_msg(LOG_NOTICE, "Shard %u: loaded %s", ps->id, path);
        break;
    case SRC_NONE: break;
    }
}

/* ---- Re-homing ---- */

struct rehome_walk {
    struct persist_shard *ps;
    struct moved *out;
};

static void rehome_collect(struct entry *e, void *arg)
{
    struct rehome_walk *w = arg;
    size_t klen;
    const char *key = entry_key(e, &klen);
    if (rt_key_shard(w->ps->cs->sh, key, klen) == w->ps->id)
        return;
    struct buf dump = {0};
    entry_dump(e, &dump);
    struct moved *m = malloc(sizeof *m + klen + dump.len);
    if (!m)
        abort();
    m->ttl = entry_expire(e);
    m->klen = klen;
    m->dlen = dump.len;
    memcpy(m->data, key, klen);
    memcpy(m->data + klen, dump.data, dump.len);
    buf_free(&dump);
    m->next = w->out;
    w->out = m;
}

static void rehome(struct persist_shard *ps)
{
    struct store *s = ps->cs->store;
    struct rehome_walk w = {ps, NULL};
    uint64_t cursor = 0;
    do
        cursor = store_scan(s, cursor, 1024, rehome_collect, &w);
    while (cursor);
    while (w.out) {
        struct moved *m = w.out;
        w.out = m->next;
        store_delete(s, m->data, m->klen);
        unsigned to = rt_key_shard(ps->cs->sh, m->data, m->klen);
        pthread_mutex_lock(&ld.mu);
        m->next = ld.inbox[to];
        ld.inbox[to] = m;
        pthread_mutex_unlock(&ld.mu);
    }
    pthread_barrier_wait(&ld.barrier);
    pthread_mutex_lock(&ld.mu);
    struct moved *in = ld.inbox[ps->id];
    ld.inbox[ps->id] = NULL;
    pthread_mutex_unlock(&ld.mu);
    while (in) {
        struct moved *m = in;
        in = m->next;
        if (!store_restore(s, m->data, m->klen, m->data + m->klen, m->dlen, m->ttl))
            load_failed("a re-homed key", "its value did not restore");
        free(m);
    }
}

/* ---- Rewriting the files for this number of shards ---- */

static char tmp_logdir[256];

/* A complete log set for N shards is written into a temporary directory that then takes
 * the place of the live one in one step (persist/aof.h); a crash before the swap leaves
 * the old set whole. */
static void rewrite_logs(struct persist_shard *ps, struct persist_conf *c)
{
    char err[512];
    if (ps->id == 0 &&
        !aof_dir_prepare_temp(c->dir, c->appenddirname, tmp_logdir, sizeof tmp_logdir, err,
                              sizeof err))
        load_failed("the new append only file", err);
    pthread_barrier_wait(&ld.barrier);
    struct persist_conf tmp = *c;
    snprintf(tmp.appenddirname, sizeof tmp.appenddirname, "%s", tmp_logdir);
    if (!persist_aof_open(ps, &tmp, err, sizeof err) ||
        !persist_job_start(ps, JOB_AOF, err, sizeof err) ||
        !persist_job_finish_sync(ps, err, sizeof err))
        load_failed("the new append only file", err);
    persist_batch_close(ps);
    aof_close(ps->aof);
    ps->aof = NULL;
    pthread_barrier_wait(&ld.barrier);
    if (ps->id == 0) {
        if (!aof_dir_swap(c->dir, c->appenddirname, tmp_logdir, err, sizeof err))
            load_failed("the new append only file", err);
        log_msg(LOG_NOTICE, "The append only files were rewritten for %u shards", ld.n);
    }
    pthread_barrier_wait(&ld.barrier);
}

static void rewrite_snapshots(struct persist_shard *ps, struct persist_conf *c)
{
    char err[512], path[PATH_MAX + 300];
    if (!persist_job_start(ps, JOB_RDB, err, sizeof err) ||
        !persist_job_finish_sync(ps, err, sizeof err))
        load_failed("the new snapshot", err);
    pthread_barrier_wait(&ld.barrier);
    if (ps->id == 0) {
        for (unsigned j = ld.n; j < ld.m; j++) {
            persist_rdb_path(c, (int)j, path, sizeof path);
            unlink(path);
        }
        log_msg(LOG_NOTICE, "The snapshots were rewritten for %u shards", ld.n);
    }
}

void persist_load(struct persist_shard *ps)
{
    decide_n = ps->n;
    pthread_once(&ld.once, decide);
    struct persist_conf c;
    persist_conf_get(&c);
    struct store *s = ps->cs->store;
    store_set_now(s, 0);
    uint64_t t0 = clock_mono_us();
    for (unsigned j = ps->id; j < ld.m; j += ld.n)
        load_old_shard(ps, &c, j);
    if (ld.rehome) {
        pthread_barrier_wait(&ld.barrier);
        rehome(ps);
    }
    store_set_now(s, clock_unix_ms());
    if (ld.src != SRC_NONE)
        log_msg(LOG_NOTICE, "Shard %u: %zu keys loaded in %.3f seconds", ps->id, store_count(s),
                (double)(clock_mono_us() - t0) / 1e6);
    char err[512];
    if (c.appendonly) {
        /* A log for N shards exists and is current: append to it. Otherwise write one
         * holding everything loaded. */
        if (ld.src == SRC_AOF && ld.rehome)
            rewrite_logs(ps, &c);
        if (!persist_aof_open(ps, &c, err, sizeof err))
            load_failed("the append only file", err);
        if (ld.src != SRC_AOF && ld.src != SRC_NONE &&
            (!persist_job_start(ps, JOB_AOF, err, sizeof err) ||
             !persist_job_finish_sync(ps, err, sizeof err)))
            load_failed("the append only file", err);
    } else if (ld.src == SRC_RDB && ld.rehome) {
        rewrite_snapshots(ps, &c);
    }
    ps->cs->dirty = 0;
    ps->dirty_at_save = 0;
    pstat_set(ps->id, PS_DIRTY_AT_SAVE, 0);
}
