/* Replaying one shard's log set: the manifest's files in order, each mapped read-only and
 * parsed in place (arguments point into the mapping, so a record costs no copies and every
 * length is bounded by the bytes the file really has). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "persist/aof.h"
#include "persist/aof_int.h"

#define LOAD_PATH_MAX 4096
#define ANNOTATION_MAX 1024 /* Redis reads '#' lines into a buffer of this size */

enum scan_rc {
    SCAN_OK,  /* a record */
    SCAN_END, /* clean end of the file */
    SCAN_CUT, /* the file ends inside the record starting at *off */
    SCAN_BAD, /* malformed at bad_off */
};

struct scan {
    const char *d;
    size_t len;
    /* out */
    int argc;
    rt_str first; /* argv[0] */
    size_t bad_off;
    const char *why;
};

/* A "<c><digits>\r\n" line at *p. Sets *v and moves *p past it. */
static enum scan_rc scan_number(struct scan *s, size_t *p, char c, uint64_t *v)
{
    size_t q = *p;
    if (q == s->len)
        return SCAN_CUT;
    if (s->d[q] != c) {
        s->bad_off = q;
        s->why = c == '*' ? "expected '*' starting a record"
                          : "expected '$' starting an argument";
        return SCAN_BAD;
    }
    q++;
    uint64_t n = 0;
    size_t digits = 0;
    for (; q < s->len && s->d[q] >= '0' && s->d[q] <= '9'; q++, digits++) {
        if (digits == 18) {
            s->bad_off = q;
            s->why = "length too large";
            return SCAN_BAD;
        }
        n = n * 10 + (uint64_t)(s->d[q] - '0');
    }
    if (q == s->len)
        return SCAN_CUT;
    if (!digits) {
        s->bad_off = q;
        s->why = c == '*' ? "invalid multibulk length" : "invalid bulk length";
        return SCAN_BAD;
    }
    if (s->d[q] != '\r' || (q + 1 < s->len && s->d[q + 1] != '\n')) {
        s->bad_off = s->d[q] != '\r' ? q : q + 1;
        s->why = "expected CRLF after a length";
        return SCAN_BAD;
    }
    if (q + 1 == s->len)
        return SCAN_CUT;
    *p = q + 2;
    *v = n;
    return SCAN_OK;
}

/* One record at *off ('#' annotation lines before it skipped and *off moved past them).
 * With argv (*cap entries), fills it, growing it only as arguments are actually found, so
 * its size is bounded by the file's bytes, never by the count the record claims. */
static enum scan_rc scan_record(struct scan *s, size_t *off, rt_str **argv, size_t *cap)
{
    while (*off < s->len && s->d[*off] == '#') {
        size_t room = s->len - *off < ANNOTATION_MAX ? s->len - *off : ANNOTATION_MAX;
        const char *nl = memchr(s->d + *off, '\n', room);
        if (!nl) {
            if (room < ANNOTATION_MAX)
                return SCAN_CUT;
            s->bad_off = *off;
            s->why = "annotation line too long";
            return SCAN_BAD;
        }
        *off = (size_t)(nl - s->d) + 1;
    }
    if (*off == s->len)
        return SCAN_END;
    size_t p = *off;
    uint64_t argc;
    enum scan_rc rc = scan_number(s, &p, '*', &argc);
    if (rc != SCAN_OK)
        return rc;
    if (argc == 0 || argc > INT_MAX) {
        s->bad_off = *off + 1;
        s->why = "invalid multibulk length";
        return SCAN_BAD;
    }
    for (uint64_t i = 0; i < argc; i++) {
        uint64_t n;
        rc = scan_number(s, &p, '$', &n);
        if (rc != SCAN_OK)
            return rc;
        if (n > s->len - p || s->len - p - n < 2) {
            if (n <= s->len - p && s->len - p - n == 1 && s->d[p + n] != '\r') {
                s->bad_off = p + n;
                s->why = "expected CRLF after an argument";
                return SCAN_BAD;
            }
            return SCAN_CUT;
        }
        if (s->d[p + n] != '\r' || s->d[p + n + 1] != '\n') {
            s->bad_off = s->d[p + n] != '\r' ? p + n : p + n + 1;
            s->why = "expected CRLF after an argument";
            return SCAN_BAD;
        }
        rt_str a = {s->d + p, (size_t)n};
        if (i == 0)
            s->first = a;
        if (argv) {
            if (i == *cap) {
                size_t grown_cap = *cap ? *cap * 2 : 8;
                rt_str *grown = realloc(*argv, grown_cap * sizeof **argv);
                if (!grown)
                    abort();
                *argv = grown;
                *cap = grown_cap;
            }
            (*argv)[i] = a;
        }
        p += n + 2;
    }
    s->argc = (int)argc;
    *off = p;
    return SCAN_OK;
}

static bool is_word(rt_str a, const char *w)
{
    return a.len == strlen(w) && strncasecmp(a.ptr, w, a.len) == 0;
}

/* From just past a MULTI record: is its EXEC in the file? SCAN_OK with *exec_end just
 * past it; SCAN_CUT when the file ends first; SCAN_BAD when something malformed comes
 * first (the replay will meet it too, so *exec_end = len: no other look ahead). */
static enum scan_rc find_exec(struct scan *s, size_t off, size_t *exec_end)
{
    for (;;) {
        enum scan_rc rc = scan_record(s, &off, NULL, NULL);
        if (rc == SCAN_END)
            return SCAN_CUT;
        if (rc == SCAN_BAD)
            *exec_end = s->len;
        if (rc != SCAN_OK)
            return rc;
        if (is_word(s->first, "exec")) {
            *exec_end = off;
            return SCAN_OK;
        }
    }
}

struct replay {
    const char *dirpath, *name;
    bool last_file, truncated_ok;
    const struct aof_load_cb *cb;
    struct aof_load_stats *st;
    rt_str *argv;
    size_t cap;
    char *err;
    size_t errlen;
};

static bool truncate_file(const char *path, size_t size)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = ftruncate(fd, (off_t)size) == 0 && fsync(fd) == 0;
    close(fd);
    return ok;
}

/* What to do with a file that ends inside the record at off. */
static bool cut_tail(struct replay *r, const char *path, size_t off, size_t size)
{
    if (!r->last_file) {
        aof_err(r->err, r->errlen,
                "Unexpected end of file reading the append only file %s at offset %zu: "
                "the truncated file is not the last file", r->name, off);
        return false;
    }
    if (!r->truncated_ok) {
        aof_err(r->err, r->errlen,
                "Unexpected end of file reading the append only file %s at offset %zu "
                "(its last record is incomplete): set aof-load-truncated yes to load up to "
                "there, or fix it with redis-check-aof --fix", r->name, off);
        return false;
    }
    log_msg(LOG_WARNING, "!!! Warning: short read while loading the AOF file %s: truncating "
            "it at offset %zu (%zu bytes dropped) !!!", r->name, off, size - off);
    if (!truncate_file(path, off)) {
        aof_err(r->err, r->errlen, "Error truncating the AOF file %s at offset %zu: %s",
                r->name, off, strerror(errno));
        return false;
    }
    log_msg(LOG_WARNING, "AOF %s loaded anyway because aof-load-truncated is enabled", r->name);
    r->st->truncated = true;
    r->st->truncated_bytes += size - off;
    return true;
}

/* Replay the records of d[0..len). On a cut tail, *cut_at is where it starts. */
static bool replay_bytes(struct replay *r, const char *d, size_t len, size_t *cut_at)
{
    struct scan s = {.d = d, .len = len};
    size_t off = 0;
    /* Where the last look ahead found an EXEC: a MULTI before it shares that EXEC, so each
     * byte is looked ahead at most once, whatever the file holds. */
    size_t exec_end = 0;
    *cut_at = SIZE_MAX;
    for (;;) {
        size_t start = off;
        enum scan_rc rc = scan_record(&s, &off, &r->argv, &r->cap);
        if (rc == SCAN_OK && s.argc == 1 && is_word(s.first, "multi") && off >= exec_end) {
            struct scan ahead = {.d = d, .len = len};
            enum scan_rc arc = find_exec(&ahead, off, &exec_end);
            if (arc == SCAN_CUT) { /* revert the unfinished transaction, as Redis */
                log_msg(LOG_WARNING, "Revert incomplete MULTI/EXEC transaction in AOF file %s",
                        r->name);
                *cut_at = start;
                return true;
            }
        }
        switch (rc) {
        case SCAN_END:
            return true;
        case SCAN_CUT:
            *cut_at = off; /* scan_record moved off past annotations only */
            return true;
        case SCAN_BAD:
            aof_err(r->err, r->errlen, "Bad file format reading the append only file %s at "
                    "offset %zu: %s (record at offset %zu)", r->name, s.bad_off, s.why, off);
            return false;
        case SCAN_OK:
            break;
        }
        char why[512] = "";
        if (!r->cb->on_record(r->cb->arg, s.argc, r->argv, why, sizeof why)) {
            aof_err(r->err, r->errlen, "Error replaying the append only file %s at offset "
                    "%zu: %s", r->name, start, why);
            return false;
        }
        r->st->records++;
    }
}

/* Replay one file of records (an incr file, or a base in AOF format). */
static bool replay_file(struct replay *r, int fd, const char *path, const struct stat *sb)
{
    r->st->files++;
    if (sb->st_size == 0)
        return true;
    if ((uint64_t)sb->st_size > SIZE_MAX) {
        aof_err(r->err, r->errlen, "The append only file %s is too large", r->name);
        return false;
    }
    size_t size = (size_t)sb->st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        aof_err(r->err, r->errlen, "Can't map the append only file %s: %s", r->name,
                strerror(errno));
        return false;
    }
    madvise(map, size, MADV_SEQUENTIAL);
    size_t cut_at;
    bool ok = replay_bytes(r, map, size, &cut_at);
    munmap(map, size);
    if (ok && cut_at != SIZE_MAX) {
        ok = cut_tail(r, path, cut_at, size);
        size = cut_at;
    }
    r->st->bytes += size;
    return ok;
}

static bool load_one(struct replay *r, bool is_base)
{
    char path[LOAD_PATH_MAX];
    if (!aof_join(path, sizeof path, r->dirpath, r->name)) {
        aof_err(r->err, r->errlen, "AOF path too long");
        return false;
    }
    /* O_NONBLOCK: a FIFO in the file's place must not hang the load. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        aof_err(r->err, r->errlen, "Can't open the append only file %s for reading: %s",
                r->name, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return false;
    }
    char sig[5];
    ssize_t n = is_base ? pread(fd, sig, sizeof sig, 0) : 0;
    bool ok;
    if (n == (ssize_t)sizeof sig && memcmp(sig, "REDIS", 5) == 0) {
        r->st->files++;
        r->st->bytes += (uint64_t)sb.st_size;
        char why[512] = "";
        ok = r->cb->on_base(r->cb->arg, path, why, sizeof why);
        if (!ok)
            aof_err(r->err, r->errlen, "Error reading the RDB base file %s: %s", r->name, why);
    } else {
        ok = replay_file(r, fd, path, &sb);
    }
    close(fd);
    return ok;
}

enum aof_load_rc aof_load(const char *dir, const char *appenddirname, const char *prefix,
                          unsigned shard, bool truncated_ok, const struct aof_load_cb *cb,
                          struct aof_load_stats *st, char *err, size_t errlen)
{
    struct aof_load_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    char dirpath[LOAD_PATH_MAX], shard_prefix[AOF_MANIFEST_MAX_LINE],
        mname[AOF_MANIFEST_MAX_LINE + 16], mpath[LOAD_PATH_MAX];
    if (!aof_join(dirpath, sizeof dirpath, dir, appenddirname) ||
        !aof_shard_prefix(shard_prefix, sizeof shard_prefix, prefix, shard) ||
        snprintf(mname, sizeof mname, "%s.manifest", shard_prefix) >= (int)sizeof mname ||
        !aof_join(mpath, sizeof mpath, dirpath, mname)) {
        aof_err(err, errlen, "AOF path too long");
        return AOF_LOAD_ERR;
    }
    struct aof_manifest m;
    int mrc = manifest_read(mpath, &m, err, errlen);
    if (mrc == 0)
        return AOF_LOAD_NONE;
    if (mrc < 0)
        return AOF_LOAD_ERR;

    /* Every listed file must be there before anything is replayed (as Redis checks). */
    size_t nfiles = (m.has_base ? 1 : 0) + m.nincr;
    for (size_t i = 0; i < nfiles; i++) {
        const char *name = m.has_base ? (i ? m.incr[i - 1].name : m.base.name) : m.incr[i].name;
        char path[LOAD_PATH_MAX];
        struct stat sb;
        const char *why = NULL;
        if (!aof_join(path, sizeof path, dirpath, name))
            why = "path too long";
        else if (stat(path, &sb) != 0)
            why = strerror(errno);
        else if (!S_ISREG(sb.st_mode))
            why = "not a regular file";
        if (why) {
            aof_err(err, errlen, "The append only file %s listed in the manifest %s can't be "
                    "read: %s", name, mname, why);
            manifest_free(&m);
            return AOF_LOAD_ERR;
        }
    }
    struct replay r = {.dirpath = dirpath, .truncated_ok = truncated_ok, .cb = cb, .st = st,
                       .err = err, .errlen = errlen};
    bool ok = true;
    if (m.has_base) {
        r.name = m.base.name;
        r.last_file = m.nincr == 0;
        ok = load_one(&r, true);
        struct stat sb;
        char path[LOAD_PATH_MAX];
        if (aof_join(path, sizeof path, dirpath, m.base.name) && stat(path, &sb) == 0)
            st->base_size = (uint64_t)sb.st_size;
    }
    for (size_t i = 0; ok && i < m.nincr; i++) {
        r.name = m.incr[i].name;
        r.last_file = i + 1 == m.nincr;
        ok = load_one(&r, false);
    }
    free(r.argv);
    manifest_free(&m);
    return ok ? AOF_LOAD_OK : AOF_LOAD_ERR;
}
