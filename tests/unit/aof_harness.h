/* Shared by test_aof.c and test_aof_load.c: a scratch directory, RESP record building, a
 * loader that re-serializes what it is given (so a load is compared as one byte string),
 * and redis-check-aof / redis-check-rdb runs when they are installed. */
#ifndef COREKV_TEST_AOF_HARNESS_H
#define COREKV_TEST_AOF_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist/aof.h"

#define CHECK_AOF "/usr/bin/redis-check-aof"
#define CHECK_RDB "/usr/bin/redis-check-rdb"

static inline char *scratch_dir(void)
{
    char *d = strdup("/tmp/corekv-aof-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void remove_tree(char *d)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
    free(d);
}

/* RESP multibulk of argv, appended to b. */
static inline void put_record(struct buf *b, int argc, const rt_str *argv)
{
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        buf_printf(b, "$%zu\r\n", argv[i].len);
        buf_append(b, argv[i].ptr, argv[i].len);
        buf_puts(b, "\r\n");
    }
}

/* A record of C strings. */
static inline void put_cmd(struct buf *b, int argc, const char *const *words)
{
    rt_str argv[16];
    assert_true(argc <= 16);
    for (int i = 0; i < argc; i++)
        argv[i] = (rt_str){words[i], strlen(words[i])};
    put_record(b, argc, argv);
}
#define PUT(b, ...)                                                                       \
    put_cmd((b), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)),          \
            (const char *[]){__VA_ARGS__})

struct collected {
    struct buf records; /* every record, re-serialized */
    unsigned nrecords;
    unsigned nbases;
    char base_path[4096];
    int fail_at;        /* on_record fails on this record (1-based); 0: never */
};

static inline bool collect_base(void *arg, const char *path, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    struct collected *c = arg;
    c->nbases++;
    snprintf(c->base_path, sizeof c->base_path, "%s", path);
    return true;
}

static inline bool collect_record(void *arg, int argc, const rt_str *argv, char *err,
                                  size_t errlen)
{
    struct collected *c = arg;
    if (c->fail_at && (int)c->nrecords + 1 == c->fail_at) {
        snprintf(err, errlen, "refused");
        return false;
    }
    c->nrecords++;
    put_record(&c->records, argc, argv);
    return true;
}

static inline enum aof_load_rc load_into(const char *dir, unsigned shard, bool truncated_ok,
                                         struct collected *c, struct aof_load_stats *st,
                                         char *err, size_t errlen)
{
    buf_free(&c->records);
    int fail_at = c->fail_at;
    memset(c, 0, sizeof *c);
    c->fail_at = fail_at;
    struct aof_load_cb cb = {collect_base, collect_record, c};
    return aof_load(dir, "appendonlydir", "appendonly.aof", shard, truncated_ok, &cb, st, err,
                    errlen);
}

static inline void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* The whole file; *n its size. NULL if it does not exist. */
static inline char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, got);
    fclose(f);
    *n = b.len;
    buf_putc(&b, 0);
    return b.data;
}

static inline char *aof_path(const char *dir, const char *name)
{
    static char path[4][4096];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/appendonlydir/%s", dir, name);
    return p;
}

static inline bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The smallest RDB redis-check-rdb accepts: version 10, EOF opcode, a zero checksum
 * (which means "saved with checksum disabled"). */
static inline void write_empty_rdb(const char *path)
{
    static const char rdb[] = "REDIS0010\xff\0\0\0\0\0\0\0\0";
    write_file(path, rdb, sizeof rdb - 1);
}

/* 0 when the tool accepts the file; -1 when the tool is not installed. */
static inline int run_tool(const char *tool, const char *path)
{
    if (access(tool, X_OK) != 0)
        return -1;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "%s '%s' >/dev/null 2>&1", tool, path);
    return system(cmd);
}

/* redis-check-aof must accept shard 0's manifest in dir (skipped when not installed). */
static inline void assert_check_aof(const char *dir, const char *manifest_name)
{
    int rc = run_tool(CHECK_AOF, aof_path(dir, manifest_name));
    if (rc != -1)
        assert_int_equal(rc, 0);
}

static inline bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

#endif
