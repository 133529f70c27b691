/* Internal to cmd/persist*.c: the settings, one shard's persistence state, the snapshot
 * job, and the counters INFO reads from any shard. */
#ifndef COREKV_CMD_PERSIST_IMPL_H
#define COREKV_CMD_PERSIST_IMPL_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <corekv/buf.h>

#include "cmd/cmd.h"
#include "cmd/persist.h"
#include "persist/aof.h"
#include "persist/bio.h"

/* ---- Settings (persist_config.c) ---- */
#define PERSIST_MAX_SAVE_RULES 16
struct save_rule {
    int64_t seconds, changes;
};
/* A consistent copy of the settings (strings are copied under a lock). */
struct persist_conf {
    char dir[PATH_MAX];
    char dbfilename[256];
    char appendfilename[256];
    char appenddirname[256];
    bool appendonly;
    enum aof_fsync fsync;
    bool aof_load_truncated, rdbcompression, rdbchecksum;
    int64_t rewrite_pct;
    uint64_t rewrite_min_size;
    struct save_rule save[PERSIST_MAX_SAVE_RULES];
    int nsave;
};
void persist_conf_get(struct persist_conf *out);
/* The two settings read on every loop iteration, without a lock. */
bool persist_conf_appendonly(void);
enum aof_fsync persist_conf_fsync(void);
/* "<dir>/<stem>-<i>.rdb" (or "<dbfilename>-<i>" without the .rdb suffix); and the plain
 * "<dir>/<dbfilename>" a Redis server writes. */
void persist_rdb_path(const struct persist_conf *c, int shard, char *out, size_t n);

/* ---- Counters published for INFO (any thread reads, the owner writes) ---- */
enum pstat {
    PS_DIRTY,            /* the shard's changes since start, as of its last tick */
    PS_DIRTY_AT_SAVE,    /* the shard's change count when its last good save began */
    PS_BGSAVE_RUNNING,   /* 1 while a BGSAVE is in progress */
    PS_BGSAVE_START,     /* unix s it started */
    PS_LAST_SAVE,        /* unix s of the last successful save */
    PS_LAST_BGSAVE_OK,   /* 1 ok, 0 err */
    PS_LAST_BGSAVE_SECS, /* -1 when none */
    PS_SAVES,            /* successful saves */
    PS_AOF_ON,
    PS_REWRITE_RUNNING,
    PS_REWRITE_SCHEDULED,
    PS_REWRITE_START,
    PS_LAST_REWRITE_SECS,
    PS_LAST_REWRITE_OK,
    PS_REWRITES,
    PS_REWRITE_FAILS,    /* consecutive failures */
    PS_AOF_WRITE_OK,
    PS_AOF_SIZE,
    PS_AOF_BASE_SIZE,
    PS_AOF_BUFFER,
    PS_AOF_PENDING_FSYNC,
    PS_AOF_DELAYED_FSYNC,
    PS_SAVE_KEYS_DONE,
    PS_SAVE_KEYS_TOTAL,
    PS_LOAD_KEYS,
    PS_LOAD_EXPIRED,
    PS_COUNT
};
extern _Atomic int64_t persist_stats[RT_MAX_SHARDS][PS_COUNT];
static inline void pstat_set(unsigned shard, enum pstat f, int64_t v)
{
    atomic_store_explicit(&persist_stats[shard][f], v, memory_order_relaxed);
}
static inline int64_t pstat_get(unsigned shard, enum pstat f)
{
    return atomic_load_explicit(&persist_stats[shard][f], memory_order_relaxed);
}

/* ---- One shard's state ---- */
enum job_kind { JOB_NONE, JOB_RDB, JOB_AOF };
enum job_phase { JP_WALK, JP_COMMIT };

struct snapshot_job {
    enum job_kind kind;
    enum job_phase phase;
    struct rdb_file *file;
    struct buf buf;      /* serialized entries not yet written to file */
    bool failed;         /* a write to the file failed: finish as an error */
    bool compress;
    uint64_t keys_done;
    int64_t start_ms;
    struct bio_job commit; /* rdb_file_commit on the background thread */
    char err[256];
};

struct persist_shard {
    struct cmd_shard *cs;
    unsigned id, n;
    struct aof *aof;
    struct snapshot_job job;
    bool bgsave_scheduled, rewrite_scheduled;
    uint64_t dirty_at_save;  /* cs->dirty at the start of the last successful save */
    uint64_t dirty_at_job;   /* cs->dirty when the running job started */
    int64_t last_try_ms;     /* last rule-started save (shard 0), for the retry delay */
    uint64_t aof_size_at_rewrite; /* the log's size after the last rewrite (auto rewrite) */
    /* The group commit's batch in the log buffer: records since the last flush, from
     * byte batch_start (persist_batch_close). */
    unsigned batch_records;
    size_t batch_start;
};

/* End the batch of records (before a flush, a rewrite's switch of file, a close). */
void persist_batch_close(struct persist_shard *ps);

static inline struct persist_shard *pshard(struct cmd_shard *cs) { return cs->persist; }

/* ---- Snapshots (persist.c) ---- */
/* Start a snapshot of this shard now: an RDB file (BGSAVE) or a new base for the log
 * (BGREWRITEAOF). False with err when it cannot start. */
bool persist_job_start(struct persist_shard *ps, enum job_kind kind, char *err, size_t errlen);
/* Run the job to its end on this thread (SAVE, start-up rewrites, shutdown). */
bool persist_job_finish_sync(struct persist_shard *ps, char *err, size_t errlen);
void persist_job_abort(struct persist_shard *ps);
/* Open the log for appending (appendonly yes). */
bool persist_aof_open(struct persist_shard *ps, const struct persist_conf *c, char *err,
                      size_t errlen);

/* ---- Start-up (persist_load.c) ---- */
void persist_load(struct persist_shard *ps);

#endif
