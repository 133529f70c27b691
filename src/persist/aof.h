/* The append-only log of one shard, in Redis 7's multi-part layout so redis-check-aof
 * validates it. In <dir>/<appenddirname>, shard i owns:
 *   <appendfilename>.<i>.manifest          lines "file <name> seq <n> type b|h|i"
 *   <appendfilename>.<i>.<seq>.base.rdb    optional RDB snapshot (written by rdb_file)
 *   <appendfilename>.<i>.<seq>.incr.aof    RESP multibulk records, replayed in order
 * A shard's log is used by its own thread only; the fsyncs of everysec run on the bio
 * thread (bio.h). Every manifest change is durable before the call that makes it returns
 * (temp file, fsync, rename, directory fsync), so a crash at any point replays correctly. */
#ifndef COREKV_PERSIST_AOF_H
#define COREKV_PERSIST_AOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>
#include <corekv/rt.h>

enum aof_fsync { AOF_FSYNC_NO, AOF_FSYNC_EVERYSEC, AOF_FSYNC_ALWAYS };

struct aof;

/* Open (create when missing) shard `shard`'s log set: make <dir>/<appenddirname> (dir
 * itself must exist), read the manifest or create one with a first incr file, delete the
 * history files a crash left listed, and open the last incr file for append. `prefix` is
 * appendfilename. NULL with err set on failure. */
struct aof *aof_open(const char *dir, const char *appenddirname, const char *prefix,
                     unsigned shard, char *err, size_t errlen);
/* Write and fsync what is buffered (errors are logged), wait for this log's background
 * fsync, close and free. */
void aof_close(struct aof *a);

/* Records are appended here by the caller, already RESP-formatted. */
struct buf *aof_buffer(struct aof *a);

/* Once per loop iteration, before that iteration's replies leave, and from the periodic
 * tick (so a due everysec fsync happens while idle): write the buffer to the file. On a
 * write error the unwritten bytes stay buffered (bytes that did reach the file are
 * dropped from the buffer, so the file stays a prefix of the record stream), the
 * last-write status becomes err, and the next call retries; returns false.
 * ALWAYS: fdatasync before returning (one sync for every record of the iteration); false
 * if it fails, and then the iteration's records are not durable (Redis exits there).
 * EVERYSEC: when new bytes are unsynced, at least 1000 ms passed since the last fsync
 * started and none is in flight, hand an fsync of a dup of the fd to bio (the dup keeps a
 * rewrite's close from racing it); a due fsync that finds one still in flight counts as
 * a delayed fsync (once per fsync in flight). NO: no fsync. now_ms: a monotonic clock. */
bool aof_flush(struct aof *a, enum aof_fsync policy, uint64_t now_ms);
/* Write and fdatasync everything now (SHUTDOWN, SIGTERM, rewrite start). */
bool aof_sync(struct aof *a);

struct aof_stats {
    uint64_t current_size;      /* bytes of the base and every incr file (as Redis) */
    uint64_t base_size;         /* the base's size (0: none) */
    uint64_t buffer_length;     /* bytes buffered, not yet written */
    uint64_t pending_bio_fsync; /* 1 while this log's background fsync runs */
    uint64_t delayed_fsync;     /* due everysec fsyncs that found the previous one running */
    bool last_write_ok;         /* the last write and the last fsync both succeeded */
    uint64_t incr_files;        /* incr files the manifest lists */
};
void aof_stats(const struct aof *a, struct aof_stats *out);

/* Rewrite (BGREWRITEAOF; also "snapshot + log" at start-up):
 * begin syncs the current incr file, creates the next incr file and lists it in the
 * manifest (durably) before returning, so every record appended after begin lands in the
 * new file and a crash at any time replays old base + old incrs + new incr. It writes into
 * base_path where the caller must put the new base RDB (write "<base_path>.tmp-..." and
 * rename over base_path).
 * commit (after that rename) makes the manifest list the new base and the new incr only
 * (durably; the old base and incrs pass through "history" entries, as in Redis, so a crash
 * while they are deleted leaves nothing behind), and deletes the old files.
 * abort leaves the manifest as begin left it (the new incr stays listed) and unlinks
 * base_path if it exists. */
bool aof_rewrite_begin(struct aof *a, char *base_path, size_t cap, char *err, size_t errlen);
bool aof_rewrite_commit(struct aof *a, char *err, size_t errlen);
void aof_rewrite_abort(struct aof *a);
bool aof_rewrite_in_progress(const struct aof *a);

/* ---- Loading ---- */

enum aof_load_rc { AOF_LOAD_OK, AOF_LOAD_NONE, AOF_LOAD_ERR };

struct aof_load_cb {
    /* The base is an RDB file (it starts with "REDIS"): load it. A base in AOF format
     * (as Redis writes with aof-use-rdb-preamble no) is replayed through on_record. */
    bool (*on_base)(void *arg, const char *path, char *err, size_t errlen);
    /* One record; argv is valid only during the call. false stops the load with err. */
    bool (*on_record)(void *arg, int argc, const rt_str *argv, char *err, size_t errlen);
    void *arg;
};

struct aof_load_stats {
    uint64_t files;           /* base and incr files read */
    uint64_t records;         /* records passed to on_record */
    uint64_t bytes;           /* bytes of the files, after any truncation */
    uint64_t base_size;       /* the base file's size (0: none) */
    bool truncated;           /* a cut-short tail was dropped */
    uint64_t truncated_bytes; /* how many bytes it had */
};

/* Load shard `shard`'s log set as its manifest lists it: the base, then each incr file's
 * records in order. '#' annotation lines are skipped (as Redis). A MULTI ... EXEC block is
 * passed only once its EXEC is known to be in the file: an unfinished one at the end of
 * the last file counts as a cut-short tail (as Redis reverts it).
 * No manifest: AOF_LOAD_NONE. A cut-short last record in the LAST file: with truncated_ok,
 * a warning naming the file and offset is logged, the file is truncated to its last
 * complete record, and the load succeeds; without, it fails. Anything else malformed
 * fails with err naming the file and the byte offset ("Bad file format reading the append
 * only file <name> at offset <n>: <reason>"). st may be NULL. */
enum aof_load_rc aof_load(const char *dir, const char *appenddirname, const char *prefix,
                          unsigned shard, bool truncated_ok, const struct aof_load_cb *cb,
                          struct aof_load_stats *st, char *err, size_t errlen);

/* The count n of consecutive shard indexes 0..n-1 with a manifest; *gap is set when a
 * manifest with an index >= n exists (an error for the caller). */
unsigned aof_count_shards(const char *dir, const char *appenddirname, const char *prefix,
                          bool *gap);

/* ---- Changing the number of shards: a new log set, swapped in atomically ----
 * 1. aof_dir_cleanup at start-up, before anything reads the logs (finishes or undoes a
 *    swap a crash interrupted, removes a half-written temporary set).
 * 2. aof_dir_prepare_temp: an empty temporary directory next to the live one; its name
 *    (relative to dir) goes into tmpname.
 * 3. aof_open(dir, tmpname, ...) for each new shard, rewrite begin/commit each with its
 *    base, aof_close them all.
 * 4. aof_dir_swap: the temporary set becomes <appenddirname> in one step (renameat2
 *    RENAME_EXCHANGE; where unsupported, two renames that aof_dir_cleanup can finish),
 *    durably, then the old set is removed. Then aof_open the live logs again. */
bool aof_dir_prepare_temp(const char *dir, const char *appenddirname, char *tmpname,
                          size_t cap, char *err, size_t errlen);
bool aof_dir_swap(const char *dir, const char *appenddirname, const char *tmpname, char *err,
                  size_t errlen);
void aof_dir_cleanup(const char *dir, const char *appenddirname);

#endif
