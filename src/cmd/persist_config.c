/* The persistence settings: process-wide, changed by CONFIG SET or start-up flags on one
 * thread and read by every shard. The two read on each loop iteration (appendonly,
 * appendfsync) are atomics; the rest are copied out under a mutex, which only the tick,
 * snapshots and CONFIG take. */
#include "cmd/persist_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/numfmt.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct persist_conf conf = {
    .dbfilename = "dump.rdb",
    .appendfilename = "appendonly.aof",
    .appenddirname = "appendonlydir",
    .fsync = AOF_FSYNC_EVERYSEC,
    .aof_load_truncated = true,
    .rdbcompression = true,
    .rdbchecksum = true,
    .rewrite_pct = 100,
    .rewrite_min_size = 64ull * 1024 * 1024,
    .save = {{3600, 1}, {300, 100}, {60, 10000}},
    .nsave = 3,
};
static _Atomic bool appendonly_now;
static _Atomic int fsync_now = AOF_FSYNC_EVERYSEC;

bool persist_conf_appendonly(void) { return atomic_load_explicit(&appendonly_now, memory_order_relaxed); }
enum aof_fsync persist_conf_fsync(void)
{
    return (enum aof_fsync)atomic_load_explicit(&fsync_now, memory_order_relaxed);
}

void persist_conf_get(struct persist_conf *out)
{
    pthread_mutex_lock(&mu);
    if (!conf.dir[0] && !getcwd(conf.dir, sizeof conf.dir))
        snprintf(conf.dir, sizeof conf.dir, ".");
    *out = conf;
    pthread_mutex_unlock(&mu);
}

void persist_rdb_path(const struct persist_conf *c, int shard, char *out, size_t n)
{
    size_t fl = strlen(c->dbfilename);
    if (shard < 0)
        snprintf(out, n, "%s/%s", c->dir, c->dbfilename);
    else if (fl > 4 && strcmp(c->dbfilename + fl - 4, ".rdb") == 0)
        snprintf(out, n, "%s/%.*s-%d.rdb", c->dir, (int)(fl - 4), c->dbfilename, shard);
    else
        snprintf(out, n, "%s/%s-%d", c->dir, c->dbfilename, shard);
}

/* ---- CONFIG ---- */

static const char *const names[] = {
    "save", "appendonly", "appendfsync", "dir", "dbfilename", "appendfilename", "appenddirname",
    "aof-load-truncated", "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
    "rdbcompression", "rdbchecksum", NULL};

bool persist_config_has(const char *name)
{
    for (const char *const *n = names; *n; n++)
        if (strcasecmp(name, *n) == 0)
            return true;
    return false;
}

static bool is_word(const char *v, size_t len, const char *w)
{
    return len == strlen(w) && strncasecmp(v, w, len) == 0;
}

/* "<seconds> <changes> ..." pairs of non-negative integers, or "". */
static int parse_save(const char *v, size_t len, struct save_rule *rules)
{
    char tmp[512];
    if (len >= sizeof tmp)
        return -1;
    memcpy(tmp, v, len);
    tmp[len] = 0;
    int n = 0, k = 0;
    int64_t pair[2];
    for (char *save = NULL, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (!str_to_i64(t, strlen(t), &pair[k]) || pair[k] < 0)
            return -1;
        if (++k == 2) {
            if (n == PERSIST_MAX_SAVE_RULES)
                return -1;
            rules[n].seconds = pair[0];
            rules[n].changes = pair[1];
            n++;
            k = 0;
        }
    }
    return k ? -1 : n;
}

static bool safe_filename(const char *v, size_t len)
{
    return len > 0 && len < 256 && !memchr(v, '/', len) && !memchr(v, 0, len) &&
           !is_word(v, len, ".") && !is_word(v, len, "..");
}

const char *persist_config_check(const char *name, const char *v, size_t len)
{
    struct save_rule rules[PERSIST_MAX_SAVE_RULES];
    int64_t i;
    uint64_t u;
    if (!strcasecmp(name, "save"))
        return parse_save(v, len, rules) < 0 ? "Invalid save parameters" : NULL;
    if (!strcasecmp(name, "appendonly") || !strcasecmp(name, "aof-load-truncated") ||
        !strcasecmp(name, "rdbcompression") || !strcasecmp(name, "rdbchecksum"))
        return is_word(v, len, "yes") || is_word(v, len, "no") ? NULL
                                                                : "argument must be 'yes' or 'no'";
    if (!strcasecmp(name, "appendfsync"))
        return is_word(v, len, "always") || is_word(v, len, "everysec") || is_word(v, len, "no")
                   ? NULL
                   : "argument(s) must be one of the following: always, everysec, no";
    if (!strcasecmp(name, "dir")) {
        char p[PATH_MAX];
        struct stat st;
        if (len == 0 || len >= sizeof p || memchr(v, 0, len))
            return "No such file or directory";
        memcpy(p, v, len);
        p[len] = 0;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode) ? NULL : "No such file or directory";
    }
    if (!strcasecmp(name, "dbfilename") || !strcasecmp(name, "appendfilename") ||
        !strcasecmp(name, "appenddirname"))
        return safe_filename(v, len) ? NULL : "dbfilename can't be a path, just a filename";
    if (!strcasecmp(name, "auto-aof-rewrite-percentage"))
        return str_to_i64(v, len, &i) && i >= 0 && i <= INT32_MAX
                   ? NULL
                   : "argument couldn't be parsed into an integer";
    if (!strcasecmp(name, "auto-aof-rewrite-min-size"))
        return str_to_mem(v, len, &u) && u <= INT64_MAX ? NULL : "argument must be a memory value";
    return "unknown parameter";
}

static void set_bool(const char *v, size_t len, bool *field) { *field = is_word(v, len, "yes"); }

void persist_config_set(const char *name, const char *v, size_t len)
{
    pthread_mutex_lock(&mu);
    if (!strcasecmp(name, "save")) {
        conf.nsave = parse_save(v, len, conf.save);
    } else if (!strcasecmp(name, "appendonly")) {
        set_bool(v, len, &conf.appendonly);
        atomic_store(&appendonly_now, conf.appendonly);
    } else if (!strcasecmp(name, "aof-load-truncated")) {
        set_bool(v, len, &conf.aof_load_truncated);
    } else if (!strcasecmp(name, "rdbcompression")) {
        set_bool(v, len, &conf.rdbcompression);
    } else if (!strcasecmp(name, "rdbchecksum")) {
        set_bool(v, len, &conf.rdbchecksum);
    } else if (!strcasecmp(name, "appendfsync")) {
        conf.fsync = is_word(v, len, "always") ? AOF_FSYNC_ALWAYS
                     : is_word(v, len, "no")   ? AOF_FSYNC_NO
                                               : AOF_FSYNC_EVERYSEC;
        atomic_store(&fsync_now, (int)conf.fsync);
    } else if (!strcasecmp(name, "dir")) {
        char p[PATH_MAX];
        memcpy(p, v, len);
        p[len] = 0;
        if (!realpath(p, conf.dir))
            snprintf(conf.dir, sizeof conf.dir, "%s", p);
    } else if (!strcasecmp(name, "dbfilename")) {
        snprintf(conf.dbfilename, sizeof conf.dbfilename, "%.*s", (int)len, v);
    } else if (!strcasecmp(name, "appendfilename")) {
        snprintf(conf.appendfilename, sizeof conf.appendfilename, "%.*s", (int)len, v);
    } else if (!strcasecmp(name, "appenddirname")) {
        snprintf(conf.appenddirname, sizeof conf.appenddirname, "%.*s", (int)len, v);
    } else if (!strcasecmp(name, "auto-aof-rewrite-percentage")) {
        str_to_i64(v, len, &conf.rewrite_pct);
    } else if (!strcasecmp(name, "auto-aof-rewrite-min-size")) {
        str_to_mem(v, len, &conf.rewrite_min_size);
    }
    pthread_mutex_unlock(&mu);
}

void persist_config_get(const char *name, char *out, size_t n)
{
    struct persist_conf c;
    persist_conf_get(&c);
    if (!strcasecmp(name, "save")) {
        size_t k = 0;
        out[0] = 0;
        for (int i = 0; i < c.nsave && k < n; i++)
            k += (size_t)snprintf(out + k, n - k, "%s%lld %lld", i ? " " : "",
                                  (long long)c.save[i].seconds, (long long)c.save[i].changes);
    } else if (!strcasecmp(name, "appendonly")) {
        snprintf(out, n, "%s", c.appendonly ? "yes" : "no");
    } else if (!strcasecmp(name, "aof-load-truncated")) {
        snprintf(out, n, "%s", c.aof_load_truncated ? "yes" : "no");
    } else if (!strcasecmp(name, "rdbcompression")) {
        snprintf(out, n, "%s", c.rdbcompression ? "yes" : "no");
    } else if (!strcasecmp(name, "rdbchecksum")) {
        snprintf(out, n, "%s", c.rdbchecksum ? "yes" : "no");
    } else if (!strcasecmp(name, "appendfsync")) {
        snprintf(out, n, "%s", c.fsync == AOF_FSYNC_ALWAYS ? "always"
                               : c.fsync == AOF_FSYNC_NO   ? "no"
                                                           : "everysec");
    } else if (!strcasecmp(name, "dir")) {
        snprintf(out, n, "%s", c.dir);
    } else if (!strcasecmp(name, "dbfilename")) {
        snprintf(out, n, "%s", c.dbfilename);
    } else if (!strcasecmp(name, "appendfilename")) {
        snprintf(out, n, "%s", c.appendfilename);
    } else if (!strcasecmp(name, "appenddirname")) {
        snprintf(out, n, "%s", c.appenddirname);
    } else if (!strcasecmp(name, "auto-aof-rewrite-percentage")) {
        snprintf(out, n, "%lld", (long long)c.rewrite_pct);
    } else if (!strcasecmp(name, "auto-aof-rewrite-min-size")) {
        snprintf(out, n, "%llu", (unsigned long long)c.rewrite_min_size);
    } else {
        snprintf(out, n, "%s", "");
    }
}
