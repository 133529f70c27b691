/* The log directory as a whole: which shards have a manifest, and replacing the whole
 * log set at once when the number of shards changes (see aof.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "persist/aof.h"
#include "persist/aof_int.h"

#define DIR_PATH_MAX 4096

/* "<prefix>.<index>.manifest" with a decimal index without leading zeros. */
static bool manifest_index(const char *name, const char *prefix, size_t plen, unsigned *idx)
{
    if (strncmp(name, prefix, plen) != 0 || name[plen] != '.')
        return false;
    const char *p = name + plen + 1;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return false;
    unsigned long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 1000000)
            return false; /* far past any shard count */
    }
    if (strcmp(p, ".manifest") != 0)
        return false;
    *idx = (unsigned)v;
    return true;
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

unsigned aof_count_shards(const char *dir, const char *appenddirname, const char *prefix,
                          bool *gap)
{
    *gap = false;
    char path[DIR_PATH_MAX];
    if (!aof_join(path, sizeof path, dir, appenddirname))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    size_t plen = strlen(prefix), n = 0, cap = 0;
    unsigned *found = NULL;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned idx;
        if (!manifest_index(de->d_name, prefix, plen, &idx))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            unsigned *grown = realloc(found, cap * sizeof *found);
            if (!grown)
                abort();
            found = grown;
        }
        found[n++] = idx;
    }
    closedir(d);
    qsort(found, n, sizeof *found, cmp_unsigned);
    unsigned count = 0;
    for (size_t i = 0; i < n && found[i] == count; i++)
        count++;
    *gap = n > count;
    free(found);
    return count;
}

/* Remove a directory holding only files (what a log directory holds). */
static bool remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT;
    int dfd = dirfd(d);
    struct dirent *de;
    bool ok = true;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT) {
            log_msg(LOG_WARNING, "Can't remove %s/%s: %s", path, de->d_name, strerror(errno));
            ok = false;
        }
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT) {
        log_msg(LOG_WARNING, "Can't remove the directory %s: %s", path, strerror(errno));
        ok = false;
    }
    return ok;
}

static bool temp_names(const char *appenddirname, char *tmp, char *old, size_t cap)
{
    int a = snprintf(tmp, cap, "temp-%s", appenddirname);
    int b = snprintf(old, cap, "temp-old-%s", appenddirname);
    return a >= 0 && (size_t)a < cap && b >= 0 && (size_t)b < cap;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void aof_dir_cleanup(const char *dir, const char *appenddirname)
{
    char tmp[DIR_PATH_MAX], old[DIR_PATH_MAX], live[DIR_PATH_MAX], tmp_path[DIR_PATH_MAX],
        old_path[DIR_PATH_MAX];
    if (!temp_names(appenddirname, tmp, old, sizeof tmp) ||
        !aof_join(live, sizeof live, dir, appenddirname) ||
        !aof_join(tmp_path, sizeof tmp_path, dir, tmp) ||
        !aof_join(old_path, sizeof old_path, dir, old))
        return;
    /* A two-rename swap stopped between its renames: the old set is complete, put it back
     * (the new one is rebuilt from it at this start-up). */
    if (!is_dir(live) && is_dir(old_path)) {
        if (rename(old_path, live) == 0) {
            log_msg(LOG_WARNING, "Restored the AOF directory %s from an interrupted swap",
                    live);
            aof_fsync_dir(dir);
        } else {
            log_msg(LOG_WARNING, "Can't restore %s from %s: %s", live, old_path,
                    strerror(errno));
            return;
        }
    }
    if (is_dir(tmp_path)) {
        log_msg(LOG_NOTICE, "Removing the leftover temporary AOF directory %s", tmp_path);
        remove_dir(tmp_path);
    }
    if (is_dir(old_path))
        remove_dir(old_path);
}

bool aof_dir_prepare_temp(const char *dir, const char *appenddirname, char *tmpname,
                          size_t cap, char *err, size_t errlen)
{
    char old[DIR_PATH_MAX], path[DIR_PATH_MAX];
    if (!temp_names(appenddirname, tmpname, old, cap < sizeof old ? cap : sizeof old) ||
        !aof_join(path, sizeof path, dir, tmpname)) {
        aof_err(err, errlen, "AOF directory name too long");
        return false;
    }
    if (!remove_dir(path) || mkdir(path, 0755) != 0) {
        aof_err(err, errlen, "Can't create the temporary AOF directory %s: %s", path,
                strerror(errno));
        return false;
    }
    return true;
}

bool aof_dir_swap(const char *dir, const char *appenddirname, const char *tmpname, char *err,
                  size_t errlen)
{
    char tmp_unused[DIR_PATH_MAX], old[DIR_PATH_MAX], live[DIR_PATH_MAX],
        tmp_path[DIR_PATH_MAX], old_path[DIR_PATH_MAX];
    if (!temp_names(appenddirname, tmp_unused, old, sizeof old) ||
        !aof_join(live, sizeof live, dir, appenddirname) ||
        !aof_join(tmp_path, sizeof tmp_path, dir, tmpname) ||
        !aof_join(old_path, sizeof old_path, dir, old)) {
        aof_err(err, errlen, "AOF directory name too long");
        return false;
    }
    /* The new set's files and directory entries are durable before it becomes live. */
    if (!aof_fsync_dir(tmp_path)) {
        aof_err(err, errlen, "Can't fsync %s: %s", tmp_path, strerror(errno));
        return false;
    }
    const char *to_remove;
    if (!is_dir(live)) {
        if (rename(tmp_path, live) != 0) {
            aof_err(err, errlen, "Can't rename %s to %s: %s", tmp_path, live, strerror(errno));
            return false;
        }
        to_remove = NULL;
    } else if (renameat2(AT_FDCWD, tmp_path, AT_FDCWD, live, RENAME_EXCHANGE) == 0) {
        to_remove = tmp_path; /* now holds the old set */
    } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
        /* No exchange here: live -> old, temp -> live. A crash in between leaves no live
         * directory and a complete old one, which aof_dir_cleanup puts back. */
        if (rename(live, old_path) != 0) {
            aof_err(err, errlen, "Can't rename %s to %s: %s", live, old_path, strerror(errno));
            return false;
        }
        if (rename(tmp_path, live) != 0) {
            aof_err(err, errlen, "Can't rename %s to %s: %s", tmp_path, live, strerror(errno));
            rename(old_path, live);
            return false;
        }
        to_remove = old_path;
    } else {
        aof_err(err, errlen, "Can't exchange %s and %s: %s", tmp_path, live, strerror(errno));
        return false;
    }
    if (!aof_fsync_dir(dir)) {
        aof_err(err, errlen, "Can't fsync %s: %s", dir, strerror(errno));
        return false;
    }
    if (to_remove)
        remove_dir(to_remove);
    return true;
}
