/* The manifest of one shard's log set: parsing with Redis 7.0's rules (so a manifest
 * redis-check-aof rejects is rejected here too), formatting as Redis writes it, and the
 * durable replacement of the file. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/aof_int.h"

#define MANIFEST_MAX_BYTES (16u << 20) /* far beyond any real log set; bounds a corrupt one */

void aof_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool aof_join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return n >= 0 && (size_t)n < cap;
}

bool aof_shard_prefix(char *out, size_t cap, const char *appendfilename, unsigned shard)
{
    int n = snprintf(out, cap, "%s.%u", appendfilename, shard);
    return n >= 0 && (size_t)n < cap;
}

bool aof_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc == 0;
}

void manifest_free(struct aof_manifest *m)
{
    free(m->base.name);
    for (size_t i = 0; i < m->nhist; i++)
        free(m->hist[i].name);
    for (size_t i = 0; i < m->nincr; i++)
        free(m->incr[i].name);
    free(m->hist);
    free(m->incr);
    memset(m, 0, sizeof *m);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        abort(); /* as buf.h: allocation failure ends the process */
    return p;
}

static void push_file(struct aof_file **arr, size_t *n, char *name, int64_t seq)
{
    struct aof_file *p = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!p)
        abort();
    p[*n] = (struct aof_file){name, seq};
    *arr = p;
    (*n)++;
}

void manifest_copy(struct aof_manifest *dst, const struct aof_manifest *src)
{
    memset(dst, 0, sizeof *dst);
    dst->has_base = src->has_base;
    if (src->has_base)
        dst->base = (struct aof_file){xstrdup(src->base.name), src->base.seq};
    for (size_t i = 0; i < src->nhist; i++)
        push_file(&dst->hist, &dst->nhist, xstrdup(src->hist[i].name), src->hist[i].seq);
    for (size_t i = 0; i < src->nincr; i++)
        push_file(&dst->incr, &dst->nincr, xstrdup(src->incr[i].name), src->incr[i].seq);
    dst->base_seq = src->base_seq;
    dst->incr_seq = src->incr_seq;
}

bool manifest_lists_live(const struct aof_manifest *m, const char *name)
{
    if (m->has_base && strcmp(m->base.name, name) == 0)
        return true;
    for (size_t i = 0; i < m->nincr; i++)
        if (strcmp(m->incr[i].name, name) == 0)
            return true;
    return false;
}

bool manifest_add_incr(struct aof_manifest *m, const char *prefix, char *err, size_t errlen)
{
    if (m->incr_seq == INT64_MAX) {
        aof_err(err, errlen, "AOF incr sequence number exhausted");
        return false;
    }
    char name[AOF_MANIFEST_MAX_LINE];
    int n = snprintf(name, sizeof name, "%s.%" PRId64 ".incr.aof", prefix, m->incr_seq + 1);
    if (n < 0 || (size_t)n >= sizeof name) {
        aof_err(err, errlen, "AOF file name too long");
        return false;
    }
    m->incr_seq++;
    push_file(&m->incr, &m->nincr, xstrdup(name), m->incr_seq);
    return true;
}

bool manifest_next_base_name(const struct aof_manifest *m, const char *prefix, char *out,
                             size_t cap)
{
    if (m->base_seq == INT64_MAX)
        return false;
    int n = snprintf(out, cap, "%s.%" PRId64 ".base.rdb", prefix, m->base_seq + 1);
    return n >= 0 && (size_t)n < cap;
}

/* ---- parsing ---- */

/* Split a line into arguments as Redis's sdssplitargs does: blanks separate, "..." takes
 * \xHH and \n \r \t \b \a escapes, '...' takes \', and a closing quote must be followed by
 * a blank or the end. Returns the count, or -1 on unbalanced quotes. Arguments are written
 * NUL-terminated into store (at least len + 1 bytes per argument); a NUL inside one makes
 * the line invalid (-1), since a file name cannot hold it. */
static int split_args(const char *p, const char *end, char *store, char **argv, int max)
{
    int argc = 0;
    for (;;) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        if (p == end)
            return argc;
        if (argc == max)
            return -1;
        char *out = store;
        bool dq = false, sq = false, closed = false;
        while (!closed) {
            if (dq) {
                if (p == end)
                    return -1;
                if (p[0] == '\\' && end - p >= 4 && p[1] == 'x' &&
                    isxdigit((unsigned char)p[2]) && isxdigit((unsigned char)p[3])) {
                    char hex[3] = {p[2], p[3], 0};
                    *out++ = (char)strtol(hex, NULL, 16);
                    p += 4;
                } else if (p[0] == '\\' && end - p >= 2) {
                    char c = p[1];
                    *out++ = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t'
                           : c == 'b' ? '\b' : c == 'a' ? '\a' : c;
                    p += 2;
                } else if (*p == '"') {
                    if (p + 1 < end && !isspace((unsigned char)p[1]))
                        return -1;
                    closed = true;
                    p++;
                } else {
                    *out++ = *p++;
                }
            } else if (sq) {
                if (p == end)
                    return -1;
                if (p[0] == '\\' && end - p >= 2 && p[1] == '\'') {
                    *out++ = '\'';
                    p += 2;
                } else if (*p == '\'') {
                    if (p + 1 < end && !isspace((unsigned char)p[1]))
                        return -1;
                    closed = true;
                    p++;
                } else {
                    *out++ = *p++;
                }
            } else if (p == end || isspace((unsigned char)*p)) {
                closed = true;
            } else if (*p == '"') {
                dq = true;
                p++;
            } else if (*p == '\'') {
                sq = true;
                p++;
            } else {
                *out++ = *p++;
            }
        }
        if (memchr(store, 0, (size_t)(out - store)))
            return -1;
        *out++ = 0;
        argv[argc++] = store;
        store = out;
    }
}

/* atoll's reading (leading blanks, a sign, digits up to the first other byte), clamped
 * instead of overflowing. */
static int64_t parse_seq(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    int64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10)
            return neg ? INT64_MIN : INT64_MAX;
        v = v * 10 + d;
    }
    return neg ? -v : v;
}

/* One non-comment line (without its newline). */
static const char *parse_line(const char *p, const char *end, struct aof_manifest *m)
{
    while (p < end && strchr(" \t\r\n", *p))
        p++;
    while (end > p && strchr(" \t\r\n", end[-1]))
        end--;
    if (p == end)
        return "Invalid AOF manifest file format";
    char store[2 * AOF_MANIFEST_MAX_LINE];
    char *argv[AOF_MANIFEST_MAX_LINE];
    int argc = split_args(p, end, store, argv, AOF_MANIFEST_MAX_LINE);
    if (argc < 6 || argc % 2)
        return "Invalid AOF manifest file format";
    const char *name = NULL;
    int64_t seq = 0;
    char type = 0;
    for (int i = 0; i < argc; i += 2) {
        if (!strcasecmp(argv[i], "file")) {
            name = argv[i + 1];
            if (strchr(name, '/') || strchr(name, '\\'))
                return "File can't be a path, just a filename";
        } else if (!strcasecmp(argv[i], "seq")) {
            seq = parse_seq(argv[i + 1]);
        } else if (!strcasecmp(argv[i], "type")) {
            type = argv[i + 1][0];
        } /* other keys: ignored, for forward compatibility (as Redis) */
    }
    if (!name || !seq || !type)
        return "Invalid AOF manifest file format";
    if (type == 'b') {
        if (m->has_base)
            return "Found duplicate base file information";
        m->has_base = true;
        m->base = (struct aof_file){xstrdup(name), seq};
        m->base_seq = seq;
    } else if (type == 'h') {
        push_file(&m->hist, &m->nhist, xstrdup(name), seq);
    } else if (type == 'i') {
        if (seq <= m->incr_seq)
            return "Found a non-monotonic sequence number";
        push_file(&m->incr, &m->nincr, xstrdup(name), seq);
        m->incr_seq = seq;
    } else {
        return "Unknown AOF file type";
    }
    return NULL;
}

bool manifest_parse(const char *text, size_t len, struct aof_manifest *m, char *err,
                    size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (len == 0) {
        aof_err(err, errlen, "Found an empty AOF manifest");
        return false;
    }
    const char *p = text, *end = text + len;
    unsigned linenum = 0;
    while (p < end) {
        linenum++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (*p == '#') { /* a comment, of any length */
            p = next;
            continue;
        }
        const char *why = NULL;
        if (!nl || (size_t)(next - p) > AOF_MANIFEST_MAX_LINE)
            why = "The AOF manifest file contains too long line";
        else if (memchr(p, 0, (size_t)(eol - p)))
            why = "Invalid AOF manifest file format";
        else
            why = parse_line(p, eol, m);
        if (why) {
            aof_err(err, errlen, "%s (line %u)", why, linenum);
            manifest_free(m);
            return false;
        }
        p = next;
    }
    return true;
}

int manifest_read(const char *path, struct aof_manifest *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        aof_err(err, errlen, "Can't open the AOF manifest %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        aof_err(err, errlen, "The AOF manifest %s is not a regular file", path);
        close(fd);
        return -1;
    }
    struct buf b = {0};
    for (;;) {
        char *w = buf_reserve(&b, 4096);
        ssize_t n = read(fd, w, 4096);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            aof_err(err, errlen, "Can't read the AOF manifest %s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
        if (b.len > MANIFEST_MAX_BYTES) {
            aof_err(err, errlen, "The AOF manifest %s is too large", path);
            goto fail;
        }
    }
    close(fd);
    char why[256];
    bool ok = manifest_parse(b.data, b.len, m, why, sizeof why);
    buf_free(&b);
    if (!ok) {
        aof_err(err, errlen, "Bad AOF manifest %s: %s", path, why);
        return -1;
    }
    return 1;
fail:
    close(fd);
    buf_free(&b);
    return -1;
}

/* ---- writing ---- */

/* Redis's sdsneedsrepr: quote a name holding blanks, quotes, backslashes or unprintables. */
static bool needs_repr(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\' || c == '"' || c == '\n' || c == '\r' || c == '\t' || c == '\a' ||
            c == '\b' || !isprint(c) || isspace(c))
            return true;
    }
    return false;
}

static void put_name(struct buf *out, const char *s)
{
    if (!needs_repr(s)) {
        buf_puts(out, s);
        return;
    }
    buf_putc(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '\\': buf_puts(out, "\\\\"); break;
        case '"': buf_puts(out, "\\\""); break;
        case '\n': buf_puts(out, "\\n"); break;
        case '\r': buf_puts(out, "\\r"); break;
        case '\t': buf_puts(out, "\\t"); break;
        case '\a': buf_puts(out, "\\a"); break;
        case '\b': buf_puts(out, "\\b"); break;
        default:
            if (isprint(c))
                buf_putc(out, (char)c);
            else
                buf_printf(out, "\\x%02x", c);
        }
    }
    buf_putc(out, '"');
}

static void put_line(struct buf *out, const struct aof_file *f, char type)
{
    buf_puts(out, "file ");
    put_name(out, f->name);
    buf_printf(out, " seq %" PRId64 " type %c\n", f->seq, type);
}

void manifest_format(const struct aof_manifest *m, struct buf *out)
{
    if (m->has_base)
        put_line(out, &m->base, 'b');
    for (size_t i = 0; i < m->nhist; i++)
        put_line(out, &m->hist[i], 'h');
    for (size_t i = 0; i < m->nincr; i++)
        put_line(out, &m->incr[i], 'i');
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

bool manifest_write(const char *dirpath, const char *name, const struct aof_manifest *m,
                    bool *replaced, char *err, size_t errlen)
{
    if (replaced)
        *replaced = false;
    char path[4096], tmp[4096 + 8];
    if (!aof_join(path, sizeof path, dirpath, name) ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        aof_err(err, errlen, "AOF manifest path too long");
        return false;
    }
    struct buf text = {0};
    manifest_format(m, &text);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write_all(fd, text.data, text.len) && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    buf_free(&text);
    if (!ok) {
        aof_err(err, errlen, "Can't write the AOF manifest %s: %s", tmp, strerror(saved));
        if (fd >= 0)
            unlink(tmp);
        return false;
    }
    if (rename(tmp, path) != 0) {
        aof_err(err, errlen, "Can't rename the AOF manifest %s into %s: %s", tmp, path,
                strerror(errno));
        unlink(tmp);
        return false;
    }
    if (replaced)
        *replaced = true;
    /* The directory entry of the manifest, and of any file created since the last
     * directory sync (a new incr or base), becomes durable here. */
    if (!aof_fsync_dir(dirpath)) {
        aof_err(err, errlen, "Can't fsync the AOF directory %s: %s", dirpath, strerror(errno));
        return false;
    }
    return true;
}
