/* Snapshot files (see rdb.h): a temporary file written with a running CRC, made durable
 * and renamed over its destination; and reading a whole file through a read-only map.
 *
 * Durability order: the data is fsynced before the rename, and the directory after it,
 * so after a crash the destination holds either the old file or the whole new one. */
#include "persist/rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

struct rdb_file {
    int fd;
    int err;        /* errno of the first failure */
    uint64_t crc;   /* of every byte written so far */
    uint64_t bytes;
    char *path;     /* destination */
    char *tmp;      /* what is being written */
};

static _Atomic uint64_t tmp_seq;

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        log_msg(LOG_WARNING, "out of memory");
        abort();
    }
    return d;
}

struct rdb_file *rdb_file_create(const char *path, char *err, size_t errlen)
{
    uint64_t n = atomic_fetch_add_explicit(&tmp_seq, 1, memory_order_relaxed);
    size_t tlen = strlen(path) + 64;
    char *tmp = malloc(tlen);
    struct rdb_file *f = malloc(sizeof *f);
    if (!tmp || !f) {
        log_msg(LOG_WARNING, "out of memory");
        abort();
    }
    snprintf(tmp, tlen, "%s.tmp-%ld-%llu", path, (long)getpid(), (unsigned long long)n);
    int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        free(f);
        return NULL;
    }
    *f = (struct rdb_file){.fd = fd, .path = xstrdup(path), .tmp = tmp};
    return f;
}

bool rdb_file_write(struct rdb_file *f, const void *p, size_t n)
{
    if (f->err)
        return false;
    f->crc = rdb_crc64(f->crc, p, n);
    const char *c = p;
    size_t left = n;
    while (left) {
        ssize_t w = write(f->fd, c, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            f->err = errno;
            return false;
        }
        c += w;
        left -= (size_t)w;
    }
    f->bytes += n;
    return true;
}

uint64_t rdb_file_bytes(const struct rdb_file *f) { return f->bytes; }

const char *rdb_file_tmp_path(const struct rdb_file *f) { return f->tmp; }

int rdb_file_error(const struct rdb_file *f) { return f->err; }

bool rdb_file_seal(struct rdb_file *f, bool checksum)
{
    uint64_t v = checksum ? f->crc : 0;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return rdb_file_write(f, b, sizeof b);
}

static void file_free(struct rdb_file *f)
{
    free(f->path);
    free(f->tmp);
    free(f);
}

/* fsync the directory holding path, so a rename in it is durable. */
static int fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!dir)
        return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

bool rdb_file_commit(struct rdb_file *f, char *err, size_t errlen)
{
    const char *what = "write";
    int e = f->err;
    if (!e && fsync(f->fd) != 0)
        what = "fsync", e = errno;
    if (close(f->fd) != 0 && !e)
        what = "close", e = errno;
    f->fd = -1;
    if (!e && rename(f->tmp, f->path) != 0)
        what = "rename", e = errno;
    if (e) {
        snprintf(err, errlen, "%s of %s failed: %s", what, f->tmp, strerror(e));
        unlink(f->tmp);
        file_free(f);
        return false;
    }
    e = fsync_dir_of(f->path);
    if (e) {
        /* The file is complete and in place; only its durability across a crash is in
         * doubt. Report it: SAVE promises durability. */
        snprintf(err, errlen, "fsync of the directory of %s failed: %s", f->path, strerror(e));
        file_free(f);
        return false;
    }
    file_free(f);
    return true;
}

void rdb_file_abort(struct rdb_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    unlink(f->tmp);
    file_free(f);
}

/* ---- Reading a whole file ---- */

bool rdb_map_file(const char *path, struct rdb_map *map, char *err, size_t errlen)
{
    map->p = NULL;
    map->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
        errno = e;
        return false;
    }
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (e) {
        snprintf(err, errlen, "cannot read %s: %s", path,
                 e == EINVAL ? "not a regular file" : strerror(e));
        close(fd);
        errno = e;
        return false;
    }
    if (st.st_size == 0) {
        close(fd);
        map->p = "";
        return true;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(e));
        errno = e;
        return false;
    }
    map->p = m;
    map->len = (size_t)st.st_size;
    return true;
}

void rdb_unmap(struct rdb_map *map)
{
    if (map->len)
        munmap((void *)map->p, map->len);
    map->p = NULL;
    map->len = 0;
}
