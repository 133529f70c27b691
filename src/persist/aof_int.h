/* Private to persist/aof*.c: the manifest of one shard's log set and small file helpers.
 *
 * The manifest is Redis 7's: one line per file, "file <name> seq <n> type b|h|i", the base
 * first, then history files (left over from a rewrite whose clean-up did not finish), then
 * the incremental logs in replay order with strictly increasing seq. Base and incr seqs
 * are separate counters, as in Redis. */
#ifndef COREKV_PERSIST_AOF_INT_H
#define COREKV_PERSIST_AOF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>

#define AOF_MANIFEST_MAX_LINE 1024 /* Redis's limit, newline included */

struct aof_file {
    char *name; /* a plain file name inside the log directory */
    int64_t seq;
};

struct aof_manifest {
    bool has_base;
    struct aof_file base;
    struct aof_file *hist;
    size_t nhist;
    struct aof_file *incr;
    size_t nincr;
    int64_t base_seq; /* the base's seq (0: none yet) */
    int64_t incr_seq; /* the highest incr seq listed (0: none) */
};

/* Parse manifest text with Redis's rules (aofLoadManifestFromFile): '#' lines skipped,
 * every other line non-empty, at most AOF_MANIFEST_MAX_LINE bytes and newline-terminated,
 * split as redis-cli/sdssplitargs splits (quotes and escapes), an even count >= 6 of
 * key/value pairs with "file" (a plain name), "seq" (non-zero) and "type" present, at most
 * one base, incr seqs strictly increasing. On error err says which line and why. */
bool manifest_parse(const char *text, size_t len, struct aof_manifest *m, char *err,
                    size_t errlen);
/* Read and parse the manifest at path: 1 parsed, 0 no such file, -1 error (err set). */
int manifest_read(const char *path, struct aof_manifest *m, char *err, size_t errlen);
/* The manifest's text, as Redis writes it (names quoted when they need it). */
void manifest_format(const struct aof_manifest *m, struct buf *out);
/* Replace dirpath/name durably: write "<name>.tmp", fsync, rename, fsync the directory.
 * *replaced (may be NULL) tells whether the rename happened: on a failure after it (the
 * directory fsync) the new manifest is the one on disk and callers must act on it. */
bool manifest_write(const char *dirpath, const char *name, const struct aof_manifest *m,
                    bool *replaced, char *err, size_t errlen);
void manifest_free(struct aof_manifest *m);
/* Append an incr entry (seq incr_seq + 1) named after prefix ("<prefix>.<seq>.incr.aof"). */
bool manifest_add_incr(struct aof_manifest *m, const char *prefix, char *err, size_t errlen);
/* "<prefix>.<seq>.base.rdb" for the next base seq, into out. */
bool manifest_next_base_name(const struct aof_manifest *m, const char *prefix, char *out,
                             size_t cap);
/* A deep copy (for changes that must not touch the live manifest until they are durable). */
void manifest_copy(struct aof_manifest *dst, const struct aof_manifest *src);
/* Is name listed as the base or an incr file? */
bool manifest_lists_live(const struct aof_manifest *m, const char *name);

/* Small helpers shared by the aof files. */
bool aof_join(char *out, size_t cap, const char *a, const char *b);
bool aof_fsync_dir(const char *path);
/* snprintf into err (errlen may be 0). */
void aof_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<appendfilename>.<shard>": the prefix of every file of one shard. */
bool aof_shard_prefix(char *out, size_t cap, const char *appendfilename, unsigned shard);

#endif
