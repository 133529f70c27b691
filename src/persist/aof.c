/* One shard's append-only log: the open incr file, the write buffer, the fsync policy, and
 * the rewrite protocol that swaps in a new base (see aof.h). */
#include "persist/aof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "persist/aof_int.h"
#include "persist/bio.h"

#define AOF_PATH_MAX 4096
#define WRITE_ERROR_LOG_EVERY_MS 30000 /* Redis's AOF_WRITE_LOG_ERROR_RATE */
#define BUFFER_KEEP_CAP (64u << 10)

struct aof {
    char dirpath[AOF_PATH_MAX];                 /* <dir>/<appenddirname> */
    char prefix[AOF_MANIFEST_MAX_LINE];         /* <appendfilename>.<shard> */
    char manifest_name[AOF_MANIFEST_MAX_LINE];  /* <prefix>.manifest */
    struct aof_manifest man;                    /* as on disk */
    int fd;                                     /* the last incr file, O_APPEND */
    struct buf buf;

    /* Sizes: current_size = base_size + older_incr_size + incr_size. */
    uint64_t base_size, older_incr_size, incr_size;
    uint64_t durable_size;   /* incr bytes an fsync finished for */
    uint64_t requested_size; /* incr bytes an fsync was started (or finished) for */
    unsigned file_gen;       /* bumped when the incr file changes */

    struct bio_job fsync_job; /* everysec: fdatasync of a dup of fd */
    bool fsync_in_flight;
    uint64_t job_size;        /* incr_size when the job was submitted */
    unsigned job_gen;
    bool fsync_started_once;
    uint64_t last_fsync_ms;   /* when the last background fsync was started */
    uint64_t delayed_fsync;
    bool delay_counted;       /* the job in flight already made one delayed fsync */

    bool write_ok, fsync_ok;
    int last_errno;
    bool write_error_logged;
    uint64_t last_write_error_log_ms;

    bool rewriting;
    char new_base_name[AOF_MANIFEST_MAX_LINE];
};

static uint64_t file_size(const char *dirpath, const char *name)
{
    char path[AOF_PATH_MAX];
    struct stat st;
    if (!aof_join(path, sizeof path, dirpath, name) || stat(path, &st) != 0)
        return 0;
    return (uint64_t)st.st_size;
}

static int open_incr(const char *dirpath, const char *name, int extra_flags)
{
    char path[AOF_PATH_MAX];
    if (!aof_join(path, sizeof path, dirpath, name)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | extra_flags, 0644);
}

/* Delete files listed as history (a rewrite's clean-up a crash interrupted), keeping any
 * that is also listed live. */
static void unlink_history(const struct aof *a, const struct aof_manifest *m)
{
    for (size_t i = 0; i < m->nhist; i++) {
        const char *name = m->hist[i].name;
        if (manifest_lists_live(m, name))
            continue;
        char path[AOF_PATH_MAX];
        if (!aof_join(path, sizeof path, a->dirpath, name))
            continue;
        if (unlink(path) == 0)
            log_msg(LOG_NOTICE, "Removed the AOF history file %s", name);
        else if (errno != ENOENT)
            log_msg(LOG_WARNING, "Can't remove the AOF history file %s: %s", name,
                    strerror(errno));
    }
}

static void drop_history(struct aof_manifest *m)
{
    for (size_t i = 0; i < m->nhist; i++)
        free(m->hist[i].name);
    free(m->hist);
    m->hist = NULL;
    m->nhist = 0;
}

struct aof *aof_open(const char *dir, const char *appenddirname, const char *prefix,
                     unsigned shard, char *err, size_t errlen)
{
    struct aof *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->fd = -1;
    a->write_ok = a->fsync_ok = true;
    char mpath[AOF_PATH_MAX];
    if (!aof_join(a->dirpath, sizeof a->dirpath, dir, appenddirname) ||
        !aof_shard_prefix(a->prefix, sizeof a->prefix, prefix, shard) ||
        snprintf(a->manifest_name, sizeof a->manifest_name, "%s.manifest", a->prefix) >=
            (int)sizeof a->manifest_name ||
        !aof_join(mpath, sizeof mpath, a->dirpath, a->manifest_name)) {
        aof_err(err, errlen, "AOF path too long");
        goto fail;
    }
    if (mkdir(a->dirpath, 0755) != 0 && errno != EEXIST) {
        aof_err(err, errlen, "Can't open or create append-only dir %s: %s", a->dirpath,
                strerror(errno));
        goto fail;
    }
    if (manifest_read(mpath, &a->man, err, errlen) < 0)
        goto fail;

    bool dirty = false;
    if (a->man.nhist) {
        unlink_history(a, &a->man);
        drop_history(&a->man);
        dirty = true;
    }
    if (!a->man.nincr) {
        if (!manifest_add_incr(&a->man, a->prefix, err, errlen))
            goto fail;
        dirty = true;
    }
    const char *incr = a->man.incr[a->man.nincr - 1].name;
    /* The file exists before any manifest names it. */
    a->fd = open_incr(a->dirpath, incr, 0);
    if (a->fd < 0) {
        aof_err(err, errlen, "Can't open the append-only file %s: %s", incr, strerror(errno));
        goto fail;
    }
    if (dirty && !manifest_write(a->dirpath, a->manifest_name, &a->man, NULL, err, errlen))
        goto fail;

    if (a->man.has_base)
        a->base_size = file_size(a->dirpath, a->man.base.name);
    for (size_t i = 0; i + 1 < a->man.nincr; i++)
        a->older_incr_size += file_size(a->dirpath, a->man.incr[i].name);
    struct stat st;
    if (fstat(a->fd, &st) == 0)
        a->incr_size = a->durable_size = a->requested_size = (uint64_t)st.st_size;
    return a;
fail:
    if (a->fd >= 0)
        close(a->fd);
    manifest_free(&a->man);
    free(a);
    return NULL;
}

struct buf *aof_buffer(struct aof *a) { return &a->buf; }

static void note_write_error(struct aof *a, int e, size_t wanted)
{
    a->write_ok = false;
    a->last_errno = e;
    uint64_t now = clock_mono_ns() / 1000000;
    if (a->write_error_logged && now - a->last_write_error_log_ms < WRITE_ERROR_LOG_EVERY_MS)
        return;
    a->write_error_logged = true;
    a->last_write_error_log_ms = now;
    log_msg(LOG_WARNING, "Error writing %zu bytes to the AOF file %s/%s: %s", wanted,
            a->dirpath, a->man.incr[a->man.nincr - 1].name, strerror(e));
}

/* Write the whole buffer. What reached the file leaves the buffer even on an error, so
 * the file stays a prefix of the record stream and a retry continues it. */
static bool write_buffer(struct aof *a)
{
    size_t done = 0, want = a->buf.len;
    while (done < want) {
        ssize_t n = write(a->fd, a->buf.data + done, want - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC;
            buf_consume(&a->buf, done);
            a->incr_size += done;
            note_write_error(a, e, want);
            return false;
        }
        done += (size_t)n;
    }
    a->incr_size += done;
    a->buf.len = 0;
    buf_shrink(&a->buf, BUFFER_KEEP_CAP);
    if (!a->write_ok) {
        log_msg(LOG_WARNING, "AOF write error looks solved, writing to %s/%s again.",
                a->dirpath, a->man.incr[a->man.nincr - 1].name);
        a->write_ok = true;
        a->write_error_logged = false;
    }
    return true;
}

static int fsync_fd_job(void *arg)
{
    int fd = (int)(intptr_t)arg;
    int rc = fdatasync(fd) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

/* Collect a finished background fsync's result. */
static void reap_fsync(struct aof *a)
{
    if (!a->fsync_in_flight || !bio_done(&a->fsync_job))
        return;
    a->fsync_in_flight = false;
    if (!a->fsync_job.rc && a->job_gen == a->file_gen && a->job_size > a->durable_size)
        a->durable_size = a->job_size;
    if (a->fsync_job.rc) {
        a->requested_size = a->durable_size; /* try again when the next one is due */
        if (a->fsync_ok)
            log_msg(LOG_WARNING, "Background AOF fsync of %s failed: %s", a->dirpath,
                    strerror(a->fsync_job.rc));
        a->fsync_ok = false;
    } else {
        a->fsync_ok = true;
    }
}

static bool sync_now(struct aof *a)
{
    if (fdatasync(a->fd) != 0) {
        a->last_errno = errno;
        log_msg(LOG_WARNING, "Can't fsync the AOF file %s/%s: %s", a->dirpath,
                a->man.incr[a->man.nincr - 1].name, strerror(errno));
        a->fsync_ok = false;
        return false;
    }
    a->fsync_ok = true;
    a->durable_size = a->requested_size = a->incr_size;
    return true;
}

static void start_background_fsync(struct aof *a, uint64_t now_ms)
{
    int dup_fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) { /* out of descriptors: sync here rather than not at all */
        sync_now(a);
        return;
    }
    a->fsync_job.fn = fsync_fd_job;
    a->fsync_job.arg = (void *)(intptr_t)dup_fd;
    a->fsync_in_flight = true;
    a->delay_counted = false;
    a->fsync_started_once = true;
    a->last_fsync_ms = now_ms;
    a->requested_size = a->job_size = a->incr_size;
    a->job_gen = a->file_gen;
    bio_submit(&a->fsync_job);
}

bool aof_flush(struct aof *a, enum aof_fsync policy, uint64_t now_ms)
{
    reap_fsync(a);
    if (a->buf.len && !write_buffer(a))
        return false;
    switch (policy) {
    case AOF_FSYNC_ALWAYS:
        return a->incr_size == a->durable_size || sync_now(a);
    case AOF_FSYNC_EVERYSEC:
        if (a->incr_size == a->requested_size)
            break;
        if (a->fsync_started_once && now_ms - a->last_fsync_ms < 1000)
            break;
        if (a->fsync_in_flight) {
            if (!a->delay_counted)
                a->delayed_fsync++;
            a->delay_counted = true;
        } else
            start_background_fsync(a, now_ms);
        break;
    case AOF_FSYNC_NO:
        break;
    }
    return true;
}

bool aof_sync(struct aof *a)
{
    reap_fsync(a);
    if (a->buf.len && !write_buffer(a))
        return false;
    return sync_now(a);
}

void aof_stats(const struct aof *a, struct aof_stats *out)
{
    bool in_flight = a->fsync_in_flight && !bio_done(&a->fsync_job);
    bool bg_failed = a->fsync_in_flight && !in_flight && a->fsync_job.rc != 0;
    *out = (struct aof_stats){
        .current_size = a->base_size + a->older_incr_size + a->incr_size,
        .base_size = a->base_size,
        .buffer_length = a->buf.len,
        .pending_bio_fsync = in_flight ? 1 : 0,
        .delayed_fsync = a->delayed_fsync,
        .last_write_ok = a->write_ok && a->fsync_ok && !bg_failed,
        .incr_files = a->man.nincr,
    };
}

void aof_close(struct aof *a)
{
    if (!a)
        return;
    if (!aof_sync(a))
        log_msg(LOG_WARNING, "Closing the AOF of %s with unsynced data", a->dirpath);
    if (a->fsync_in_flight)
        bio_wait(&a->fsync_job);
    aof_rewrite_abort(a);
    close(a->fd);
    buf_free(&a->buf);
    manifest_free(&a->man);
    free(a);
}

/* ---- rewrite ---- */

bool aof_rewrite_in_progress(const struct aof *a) { return a->rewriting; }

bool aof_rewrite_begin(struct aof *a, char *base_path, size_t cap, char *err, size_t errlen)
{
    if (a->rewriting) {
        aof_err(err, errlen, "Background append only file rewriting already in progress");
        return false;
    }
    char base_name[AOF_MANIFEST_MAX_LINE];
    if (!manifest_next_base_name(&a->man, a->prefix, base_name, sizeof base_name) ||
        !aof_join(base_path, cap, a->dirpath, base_name)) {
        aof_err(err, errlen, "AOF base file path too long");
        return false;
    }
    /* Everything before begin is in the old incr files, durably, before a new file can
     * receive anything: a replay never sees a later record without an earlier one. */
    if (!aof_sync(a)) {
        aof_err(err, errlen, "Can't sync the AOF before the rewrite: %s",
                strerror(a->last_errno));
        return false;
    }
    struct aof_manifest next;
    manifest_copy(&next, &a->man);
    if (!manifest_add_incr(&next, a->prefix, err, errlen)) {
        manifest_free(&next);
        return false;
    }
    const char *incr = next.incr[next.nincr - 1].name;
    int fd = open_incr(a->dirpath, incr, O_TRUNC);
    if (fd < 0) {
        aof_err(err, errlen, "Can't open the append-only file %s: %s", incr, strerror(errno));
        manifest_free(&next);
        return false;
    }
    bool replaced;
    bool ok = manifest_write(a->dirpath, a->manifest_name, &next, &replaced, err, errlen);
    if (!ok && !replaced) {
        char path[AOF_PATH_MAX];
        close(fd);
        if (aof_join(path, sizeof path, a->dirpath, incr))
            unlink(path);
        manifest_free(&next);
        return false;
    }
    /* The manifest on disk lists the new incr: append there from now on (even when only
     * the directory fsync failed, since that is what a restart will read). */
    log_msg(LOG_NOTICE, "Creating AOF incr file %s on background rewrite", incr);
    close(a->fd);
    a->fd = fd;
    manifest_free(&a->man);
    a->man = next;
    a->older_incr_size += a->incr_size;
    a->incr_size = a->durable_size = a->requested_size = 0;
    a->file_gen++;
    if (!ok)
        return false;
    memcpy(a->new_base_name, base_name, sizeof base_name);
    a->rewriting = true;
    return true;
}

bool aof_rewrite_commit(struct aof *a, char *err, size_t errlen)
{
    if (!a->rewriting) {
        aof_err(err, errlen, "No AOF rewrite in progress");
        return false;
    }
    char base_path[AOF_PATH_MAX];
    struct stat st;
    if (!aof_join(base_path, sizeof base_path, a->dirpath, a->new_base_name) ||
        stat(base_path, &st) != 0 || !S_ISREG(st.st_mode)) {
        aof_err(err, errlen, "The new AOF base file %s is missing", a->new_base_name);
        return false;
    }
    /* The old base and every incr but the one begin opened become history. */
    struct aof_manifest next;
    manifest_copy(&next, &a->man);
    struct aof_manifest *m = &next;
    struct aof_file *hist = calloc(m->nhist + m->nincr + 1, sizeof *hist);
    if (!hist)
        abort();
    size_t nhist = 0;
    if (m->has_base)
        hist[nhist++] = m->base;
    for (size_t i = 0; i < m->nhist; i++)
        hist[nhist++] = m->hist[i];
    for (size_t i = 0; i + 1 < m->nincr; i++)
        hist[nhist++] = m->incr[i];
    free(m->hist);
    m->hist = hist;
    m->nhist = nhist;
    m->incr[0] = m->incr[m->nincr - 1];
    m->nincr = 1;
    m->has_base = true;
    m->base_seq++;
    m->base = (struct aof_file){strdup(a->new_base_name), m->base_seq};
    if (!m->base.name)
        abort();

    bool replaced;
    bool ok = manifest_write(a->dirpath, a->manifest_name, &next, &replaced, err, errlen);
    if (!ok && !replaced) {
        manifest_free(&next);
        return false; /* still rewriting: the caller aborts */
    }
    manifest_free(&a->man);
    a->man = next;
    a->rewriting = false;
    a->base_size = (uint64_t)st.st_size;
    a->older_incr_size = 0;
    if (!ok)
        return false; /* the new manifest is on disk, maybe not durably; history stays */
    log_msg(LOG_NOTICE, "AOF rewrite of %s/%s done: base %s", a->dirpath, a->manifest_name,
            a->man.base.name);
    unlink_history(a, &a->man);
    drop_history(&a->man);
    char why[256];
    if (!manifest_write(a->dirpath, a->manifest_name, &a->man, NULL, why, sizeof why))
        log_msg(LOG_WARNING, "Can't drop the history entries of %s: %s", a->manifest_name, why);
    return true;
}

void aof_rewrite_abort(struct aof *a)
{
    if (!a->rewriting)
        return;
    a->rewriting = false;
    char path[AOF_PATH_MAX];
    if (aof_join(path, sizeof path, a->dirpath, a->new_base_name) && unlink(path) != 0 &&
        errno != ENOENT)
        log_msg(LOG_WARNING, "Can't remove the unused AOF base %s: %s", path, strerror(errno));
}
