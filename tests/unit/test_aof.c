/* One shard's append-only log: records written through aof_buffer/aof_flush load back
 * byte for byte; the rewrite protocol (begin, commit, abort, and a crash after begin);
 * manifests redis-check-aof accepts; the directory swap for a new shard count; everysec's
 * one-fsync-per-second rule; write errors kept and retried. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "aof_harness.h"
#include "bio_gate.h"
#include "persist/bio.h"

#define ERRLEN 512

static struct aof *open0(const char *dir)
{
    char err[ERRLEN] = "";
    struct aof *a = aof_open(dir, "appendonlydir", "appendonly.aof", 0, err, sizeof err);
    if (!a)
        fail_msg("aof_open: %s", err);
    return a;
}

static char *manifest_text(const char *dir)
{
    size_t n = 0;
    char *t = read_file(aof_path(dir, "appendonly.aof.0.manifest"), &n);
    assert_non_null(t);
    return t;
}

static void assert_manifest(const char *dir, const char *want)
{
    char *t = manifest_text(dir);
    assert_string_equal(t, want);
    free(t);
}

static void assert_loads(const char *dir, const struct buf *want, unsigned bases)
{
    struct collected c = {0};
    char err[ERRLEN] = "";
    struct aof_load_stats st;
    enum aof_load_rc rc = load_into(dir, 0, false, &c, &st, err, sizeof err);
    if (rc != AOF_LOAD_OK)
        fail_msg("aof_load: %s", err);
    assert_int_equal(c.nbases, bases);
    assert_int_equal(c.records.len, want->len);
    assert_memory_equal(c.records.data, want->data, want->len);
    assert_int_equal(st.records, c.nrecords);
    buf_free(&c.records);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    struct collected c = {0};
    char err[ERRLEN];
    assert_int_equal(load_into(dir, 0, false, &c, NULL, err, sizeof err), AOF_LOAD_NONE);

    struct aof *a = open0(dir);
    assert_manifest(dir, "file appendonly.aof.0.1.incr.aof seq 1 type i\n");
    assert_check_aof(dir, "appendonly.aof.0.manifest"); /* an empty incr file */

    struct buf want = {0};
    PUT(&want, "SET", "k", "v");
    PUT(&want, "SET", "", "");
    static const char bin[] = "a\r\nb\0c*$\n\r";
    rt_str bargv[3] = {{"RPUSH", 5}, {bin, sizeof bin - 1}, {"\0", 1}};
    put_record(&want, 3, bargv);
    size_t big = 8u << 20;
    char *bigval = malloc(big);
    for (size_t i = 0; i < big; i++)
        bigval[i] = (char)(i * 131 + 7);
    rt_str gargv[3] = {{"SET", 3}, {"big", 3}, {bigval, big}};
    put_record(&want, 3, gargv);
    buf_append(aof_buffer(a), want.data, want.len);
    assert_true(aof_flush(a, AOF_FSYNC_ALWAYS, 1000));

    struct aof_stats st;
    aof_stats(a, &st);
    assert_int_equal(st.current_size, want.len);
    assert_int_equal(st.buffer_length, 0);
    assert_true(st.last_write_ok);
    assert_int_equal(st.incr_files, 1);
    aof_close(a);
    assert_loads(dir, &want, 0);
    assert_check_aof(dir, "appendonly.aof.0.manifest");

    /* Reopening appends to the same file; what is buffered at close is written. */
    a = open0(dir);
    aof_stats(a, &st);
    assert_int_equal(st.current_size, want.len);
    size_t before = want.len;
    PUT(&want, "DEL", "big");
    buf_append(aof_buffer(a), want.data + before, want.len - before);
    aof_close(a);
    assert_manifest(dir, "file appendonly.aof.0.1.incr.aof seq 1 type i\n");
    assert_loads(dir, &want, 0);

    /* Another shard of the same directory is independent. */
    assert_int_equal(load_into(dir, 1, false, &c, NULL, err, sizeof err), AOF_LOAD_NONE);
    free(bigval);
    buf_free(&want);
    remove_tree(dir);
}

static void test_rewrite_commit(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    struct aof *a = open0(dir);
    struct buf old = {0}, after = {0};
    PUT(&old, "SET", "a", "1");
    PUT(&old, "SET", "b", "2");
    buf_append(aof_buffer(a), old.data, old.len); /* buffered, written by begin */

    char base[4096], err[ERRLEN] = "";
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    assert_string_equal(base, aof_path(dir, "appendonly.aof.0.1.base.rdb"));
    assert_true(aof_rewrite_in_progress(a));
    assert_manifest(dir, "file appendonly.aof.0.1.incr.aof seq 1 type i\n"
                         "file appendonly.aof.0.2.incr.aof seq 2 type i\n");
    size_t n = 0;
    char *incr1 = read_file(aof_path(dir, "appendonly.aof.0.1.incr.aof"), &n);
    assert_int_equal(n, old.len);
    free(incr1);

    PUT(&after, "SET", "c", "3");
    buf_append(aof_buffer(a), after.data, after.len);
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 5000));
    write_empty_rdb(base);
    assert_true(aof_rewrite_commit(a, err, sizeof err));
    assert_false(aof_rewrite_in_progress(a));
    assert_manifest(dir, "file appendonly.aof.0.1.base.rdb seq 1 type b\n"
                         "file appendonly.aof.0.2.incr.aof seq 2 type i\n");
    assert_false(file_exists(aof_path(dir, "appendonly.aof.0.1.incr.aof")));
    struct aof_stats st;
    aof_stats(a, &st);
    assert_int_equal(st.base_size, 18);
    assert_int_equal(st.current_size, 18 + after.len);
    assert_int_equal(st.incr_files, 1);
    assert_check_aof(dir, "appendonly.aof.0.manifest");

    struct collected c = {0};
    assert_int_equal(load_into(dir, 0, false, &c, NULL, err, sizeof err), AOF_LOAD_OK);
    assert_int_equal(c.nbases, 1);
    assert_string_equal(c.base_path, base);
    assert_int_equal(c.records.len, after.len);
    assert_memory_equal(c.records.data, after.data, after.len);
    buf_free(&c.records);

    /* A second rewrite replaces the base and drops the first one. */
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    assert_string_equal(base, aof_path(dir, "appendonly.aof.0.2.base.rdb"));
    write_empty_rdb(base);
    assert_true(aof_rewrite_commit(a, err, sizeof err));
    assert_manifest(dir, "file appendonly.aof.0.2.base.rdb seq 2 type b\n"
                         "file appendonly.aof.0.3.incr.aof seq 3 type i\n");
    assert_false(file_exists(aof_path(dir, "appendonly.aof.0.1.base.rdb")));
    assert_false(file_exists(aof_path(dir, "appendonly.aof.0.2.incr.aof")));
    assert_check_aof(dir, "appendonly.aof.0.manifest");
    /* commit without begin, and a commit whose base is missing, fail */
    assert_false(aof_rewrite_commit(a, err, sizeof err));
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    assert_false(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    assert_false(aof_rewrite_commit(a, err, sizeof err));
    assert_true(contains(err, "missing"));
    aof_rewrite_abort(a);
    aof_close(a);
    buf_free(&old);
    buf_free(&after);
    remove_tree(dir);
}

static void test_rewrite_abort_and_crash(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    struct aof *a = open0(dir);
    struct buf all = {0};
    PUT(&all, "SET", "a", "1");
    buf_append(aof_buffer(a), all.data, all.len);
    char base[4096], err[ERRLEN];
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    size_t mark = all.len;
    PUT(&all, "INCR", "n");
    buf_append(aof_buffer(a), all.data + mark, all.len - mark);
    assert_true(aof_flush(a, AOF_FSYNC_NO, 0));
    write_empty_rdb(base); /* written, but never committed */

    /* A crash now: the manifest lists both incr files, not the base. */
    assert_loads(dir, &all, 0);

    aof_rewrite_abort(a);
    assert_false(file_exists(base));
    assert_manifest(dir, "file appendonly.aof.0.1.incr.aof seq 1 type i\n"
                         "file appendonly.aof.0.2.incr.aof seq 2 type i\n");
    assert_loads(dir, &all, 0);
    assert_check_aof(dir, "appendonly.aof.0.manifest");

    /* Another begin after an abort: a third incr, the same base name. */
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    assert_string_equal(base, aof_path(dir, "appendonly.aof.0.1.base.rdb"));
    mark = all.len;
    PUT(&all, "INCR", "n");
    buf_append(aof_buffer(a), all.data + mark, all.len - mark);
    aof_close(a); /* closing aborts the rewrite in progress and writes the buffer */
    assert_manifest(dir, "file appendonly.aof.0.1.incr.aof seq 1 type i\n"
                         "file appendonly.aof.0.2.incr.aof seq 2 type i\n"
                         "file appendonly.aof.0.3.incr.aof seq 3 type i\n");
    assert_loads(dir, &all, 0);
    assert_check_aof(dir, "appendonly.aof.0.manifest");

    /* Reopened, a commit folds all three incr files into the base. */
    a = open0(dir);
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    write_empty_rdb(base);
    assert_true(aof_rewrite_commit(a, err, sizeof err));
    assert_manifest(dir, "file appendonly.aof.0.1.base.rdb seq 1 type b\n"
                         "file appendonly.aof.0.4.incr.aof seq 4 type i\n");
    for (int i = 1; i <= 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "appendonly.aof.0.%d.incr.aof", i);
        assert_false(file_exists(aof_path(dir, name)));
    }
    aof_close(a);
    buf_free(&all);
    remove_tree(dir);
}

/* A crash in the middle of commit's clean-up leaves history entries: open deletes them. */
static void test_history_cleanup(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    aof_close(open0(dir)); /* makes the directory */
    const char *manifest = "file appendonly.aof.0.2.base.rdb seq 2 type b\n"
                           "file appendonly.aof.0.1.base.rdb seq 1 type h\n"
                           "file appendonly.aof.0.1.incr.aof seq 1 type h\n"
                           "file appendonly.aof.0.2.incr.aof seq 2 type i\n";
    write_file(aof_path(dir, "appendonly.aof.0.manifest"), manifest, strlen(manifest));
    write_empty_rdb(aof_path(dir, "appendonly.aof.0.1.base.rdb"));
    write_empty_rdb(aof_path(dir, "appendonly.aof.0.2.base.rdb"));
    write_file(aof_path(dir, "appendonly.aof.0.2.incr.aof"), "", 0);
    assert_check_aof(dir, "appendonly.aof.0.manifest");
    struct buf none = {0};
    assert_loads(dir, &none, 1); /* history is not replayed */

    struct aof *a = open0(dir);
    assert_manifest(dir, "file appendonly.aof.0.2.base.rdb seq 2 type b\n"
                         "file appendonly.aof.0.2.incr.aof seq 2 type i\n");
    assert_false(file_exists(aof_path(dir, "appendonly.aof.0.1.base.rdb")));
    assert_false(file_exists(aof_path(dir, "appendonly.aof.0.1.incr.aof")));
    assert_true(file_exists(aof_path(dir, "appendonly.aof.0.2.base.rdb")));
    aof_close(a);
    remove_tree(dir);
}

/* A name that needs quoting in the manifest (appendfilename with a space). */
static void test_quoted_names(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    char err[ERRLEN] = "";
    struct aof *a = aof_open(dir, "appendonlydir", "my log", 3, err, sizeof err);
    assert_non_null(a);
    PUT(aof_buffer(a), "SET", "x", "y");
    char base[4096];
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    write_empty_rdb(base);
    assert_true(aof_rewrite_commit(a, err, sizeof err));
    aof_close(a);
    size_t n = 0;
    char *t = read_file(aof_path(dir, "my log.3.manifest"), &n);
    assert_non_null(t);
    assert_string_equal(t, "file \"my log.3.1.base.rdb\" seq 1 type b\n"
                           "file \"my log.3.2.incr.aof\" seq 2 type i\n");
    free(t);
    assert_check_aof(dir, "my log.3.manifest");
    struct collected c = {0};
    struct aof_load_cb cb = {collect_base, collect_record, &c};
    assert_int_equal(aof_load(dir, "appendonlydir", "my log", 3, false, &cb, NULL, err,
                              sizeof err), AOF_LOAD_OK);
    assert_int_equal(c.nbases, 1);
    buf_free(&c.records);
    remove_tree(dir);
}

static void test_empty_rdb_is_valid(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.rdb", dir);
    write_empty_rdb(path);
    int rc = run_tool(CHECK_RDB, path);
    if (rc == -1)
        skip();
    assert_int_equal(rc, 0);
    remove_tree(dir);
}

static void test_count_shards_and_swap(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    bool gap = true;
    assert_int_equal(aof_count_shards(dir, "appendonlydir", "appendonly.aof", &gap), 0);
    assert_false(gap);
    char err[ERRLEN] = "";
    for (unsigned i = 0; i < 2; i++) {
        struct aof *a = aof_open(dir, "appendonlydir", "appendonly.aof", i, err, sizeof err);
        PUT(aof_buffer(a), "SET", "old", "1");
        aof_close(a);
    }
    write_file(aof_path(dir, "appendonly.aof.05.manifest"), "x", 1);   /* not an index */
    write_file(aof_path(dir, "appendonly.aof.1.manifest.tmp"), "x", 1); /* not a manifest */
    write_file(aof_path(dir, "other.aof.2.manifest"), "x", 1);          /* another prefix */
    assert_int_equal(aof_count_shards(dir, "appendonlydir", "appendonly.aof", &gap), 2);
    assert_false(gap);
    write_file(aof_path(dir, "appendonly.aof.3.manifest"), "x", 1);
    assert_int_equal(aof_count_shards(dir, "appendonlydir", "appendonly.aof", &gap), 2);
    assert_true(gap);

    /* A new set of 3 shards, built aside and swapped in. */
    char tmpname[256];
    assert_true(aof_dir_prepare_temp(dir, "appendonlydir", tmpname, sizeof tmpname, err,
                                     sizeof err));
    assert_string_equal(tmpname, "temp-appendonlydir");
    for (unsigned i = 0; i < 3; i++) {
        struct aof *a = aof_open(dir, tmpname, "appendonly.aof", i, err, sizeof err);
        assert_non_null(a);
        char base[4096];
        assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
        write_empty_rdb(base);
        assert_true(aof_rewrite_commit(a, err, sizeof err));
        PUT(aof_buffer(a), "SET", "new", "1");
        aof_close(a);
    }
    assert_true(aof_dir_swap(dir, "appendonlydir", tmpname, err, sizeof err));
    assert_int_equal(aof_count_shards(dir, "appendonlydir", "appendonly.aof", &gap), 3);
    assert_false(gap);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, tmpname);
    assert_false(file_exists(path));
    assert_false(file_exists(aof_path(dir, "other.aof.2.manifest")));
    struct collected c = {0};
    struct buf want = {0};
    PUT(&want, "SET", "new", "1");
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(load_into(dir, i, false, &c, NULL, err, sizeof err), AOF_LOAD_OK);
        assert_int_equal(c.nbases, 1);
        assert_int_equal(c.records.len, want.len);
        assert_memory_equal(c.records.data, want.data, want.len);
    }
    assert_check_aof(dir, "appendonly.aof.2.manifest");

    /* Clean-up at start-up: a half-built temporary set goes away... */
    assert_true(aof_dir_prepare_temp(dir, "appendonlydir", tmpname, sizeof tmpname, err,
                                     sizeof err));
    aof_close(aof_open(dir, tmpname, "appendonly.aof", 0, err, sizeof err));
    aof_dir_cleanup(dir, "appendonlydir");
    assert_false(file_exists(path));
    assert_int_equal(aof_count_shards(dir, "appendonlydir", "appendonly.aof", &gap), 3);
    /* ...and a two-rename swap stopped halfway is undone. */
    char live[4200], old[4200];
    snprintf(live, sizeof live, "%s/appendonlydir", dir);
    snprintf(old, sizeof old, "%s/temp-old-appendonlydir", dir);
    assert_int_equal(rename(live, old), 0);
    assert_true(aof_dir_prepare_temp(dir, "appendonlydir", tmpname, sizeof tmpname, err,
                                     sizeof err));
    aof_dir_cleanup(dir, "appendonlydir");
    assert_false(file_exists(old));
    assert_false(file_exists(path));
    assert_int_equal(aof_count_shards(dir, "appendonlydir", "appendonly.aof", &gap), 3);
    /* A swap with no live directory yet just renames. */
    remove_tree(strdup(live));
    assert_true(aof_dir_prepare_temp(dir, "appendonlydir", tmpname, sizeof tmpname, err,
                                     sizeof err));
    aof_close(aof_open(dir, tmpname, "appendonly.aof", 0, err, sizeof err));
    assert_true(aof_dir_swap(dir, "appendonlydir", tmpname, err, sizeof err));
    assert_int_equal(aof_count_shards(dir, "appendonlydir", "appendonly.aof", &gap), 1);
    buf_free(&c.records);
    buf_free(&want);
    remove_tree(dir);
}

/* ---- fsync policies ---- */

static void test_everysec(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    struct aof *a = open0(dir);
    struct aof_stats st;
    /* Hold the bio thread so a submitted fsync stays visible as pending. */
    atomic_store(&gate_open, false);
    struct bio_job gate = {.fn = wait_gate};
    bio_submit(&gate);

    PUT(aof_buffer(a), "SET", "a", "1");
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 10000));
    aof_stats(a, &st);
    assert_int_equal(st.pending_bio_fsync, 1);
    PUT(aof_buffer(a), "SET", "a", "2");
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 10500)); /* not due yet */
    aof_stats(a, &st);
    assert_int_equal(st.delayed_fsync, 0);
    assert_int_equal(st.buffer_length, 0);
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 11000)); /* due, but one is in flight */
    aof_stats(a, &st);
    assert_int_equal(st.delayed_fsync, 1);
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 11001)); /* counted once per fsync */
    aof_stats(a, &st);
    assert_int_equal(st.delayed_fsync, 1);
    atomic_store(&gate_open, true);
    bio_drain();
    aof_stats(a, &st);
    assert_int_equal(st.pending_bio_fsync, 0);
    assert_true(st.last_write_ok);

    /* Now idle: within a second of the last start nothing is submitted... */
    atomic_store(&gate_open, false);
    bio_submit(&gate);
    PUT(aof_buffer(a), "SET", "a", "3");
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 10900));
    aof_stats(a, &st);
    assert_int_equal(st.pending_bio_fsync, 0);
    /* ...a second after it, one is. */
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 11000));
    aof_stats(a, &st);
    assert_int_equal(st.pending_bio_fsync, 1);
    atomic_store(&gate_open, true);
    bio_drain();
    /* Nothing new written: nothing to sync, however late. */
    atomic_store(&gate_open, false);
    bio_submit(&gate);
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 50000));
    aof_stats(a, &st);
    assert_int_equal(st.pending_bio_fsync, 0);
    /* no and always never use the bio thread. */
    PUT(aof_buffer(a), "SET", "a", "4");
    assert_true(aof_flush(a, AOF_FSYNC_NO, 60000));
    PUT(aof_buffer(a), "SET", "a", "5");
    assert_true(aof_flush(a, AOF_FSYNC_ALWAYS, 70000));
    aof_stats(a, &st);
    assert_int_equal(st.pending_bio_fsync, 0);
    atomic_store(&gate_open, true);
    bio_drain();
    aof_close(a);
    struct collected c = {0};
    char err[ERRLEN];
    assert_int_equal(load_into(dir, 0, false, &c, NULL, err, sizeof err), AOF_LOAD_OK);
    assert_int_equal(c.nrecords, 5);
    buf_free(&c.records);
    remove_tree(dir);
}

/* A write that fails half-way (file size limit): the rest stays buffered, the status is
 * err, and a later flush finishes the job with the file a clean record stream. */
static void test_write_error_retry(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    struct aof *a = open0(dir);
    struct buf want = {0};
    PUT(&want, "SET", "first", "1");
    buf_append(aof_buffer(a), want.data, want.len);
    assert_true(aof_flush(a, AOF_FSYNC_ALWAYS, 0));

    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = want.len + 10;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t mark = want.len;
    PUT(&want, "SET", "second", "a value longer than ten bytes");
    buf_append(aof_buffer(a), want.data + mark, want.len - mark);
    assert_false(aof_flush(a, AOF_FSYNC_ALWAYS, 0));
    struct aof_stats st;
    aof_stats(a, &st);
    assert_false(st.last_write_ok);
    assert_int_equal(st.buffer_length, want.len - mark - 10);
    assert_false(aof_flush(a, AOF_FSYNC_EVERYSEC, 0)); /* still failing */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_true(aof_flush(a, AOF_FSYNC_EVERYSEC, 0));
    aof_stats(a, &st);
    assert_true(st.last_write_ok);
    assert_int_equal(st.buffer_length, 0);
    assert_int_equal(st.current_size, want.len);
    signal(SIGXFSZ, SIG_DFL);
    aof_close(a);
    assert_loads(dir, &want, 0);
    buf_free(&want);
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_rewrite_commit),
        cmocka_unit_test(test_rewrite_abort_and_crash),
        cmocka_unit_test(test_history_cleanup),
        cmocka_unit_test(test_quoted_names),
        cmocka_unit_test(test_empty_rdb_is_valid),
        cmocka_unit_test(test_count_shards_and_swap),
        cmocka_unit_test(test_everysec),
        cmocka_unit_test(test_write_error_retry),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bio_shutdown();
    return rc;
}
