/* Loading a shard's log set: a cut-short tail at every byte (recovered or refused),
 * corruption reported with the file and the exact offset, MULTI blocks, annotations,
 * manifests Redis rejects, missing files, and random damage that must never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "aof_harness.h"
#include "persist/aof_int.h"

#define ERRLEN 512
#define INCR1 "appendonly.aof.0.1.incr.aof"
#define MANIFEST "appendonly.aof.0.manifest"

/* A directory whose shard 0 has one incr file holding exactly `bytes`. */
static char *dir_with_incr(const struct buf *bytes)
{
    char *dir = scratch_dir();
    char err[ERRLEN];
    aof_close(aof_open(dir, "appendonlydir", "appendonly.aof", 0, err, sizeof err));
    write_file(aof_path(dir, INCR1), bytes->data, bytes->len);
    return dir;
}

/* What a load of the first `keep` bytes of src gives: the records, without annotations. */
static void expected_records(struct buf *want, const struct buf *src, size_t keep,
                             size_t note_at, size_t note_len)
{
    want->len = 0;
    if (keep <= note_at) {
        buf_append(want, src->data, keep);
        return;
    }
    buf_append(want, src->data, note_at);
    buf_append(want, src->data + note_at + note_len, keep - note_at - note_len);
}

static void test_truncation_every_point(void **state)
{
    (void)state;
    /* Records and the offsets where each ends; a MULTI block's inside is no boundary. */
    struct buf src = {0};
    size_t ends[16];
    bool boundary[16];
    int nrec = 0;
#define REC(multi_inside, ...)                  \
    do {                                        \
        PUT(&src, __VA_ARGS__);                 \
        boundary[nrec] = !(multi_inside);       \
        ends[nrec++] = src.len;                 \
    } while (0)
    REC(false, "SET", "k1", "hello");
    REC(false, "RPUSH", "list", "a", "bb", "");
    const size_t note_at = src.len, note_len = 16;
    buf_puts(&src, "#TS:1700000000\r\n"); /* an annotation between records */
    REC(false, "INCR", "n");
    REC(true, "MULTI");
    REC(true, "SET", "t", "1");
    REC(false, "EXEC");
    REC(false, "DEL", "k1");
#undef REC
    char *dir = dir_with_incr(&src);
    char err[ERRLEN];
    struct collected c = {0};
    struct buf want = {0};
    for (size_t cut = 0; cut <= src.len; cut++) {
        /* A load keeps the records up to the last boundary at or before the cut, and the
         * file keeps the annotation too once it is whole. */
        size_t keep = 0;
        unsigned kept = 0;
        for (int i = 0; i < nrec && ends[i] <= cut; i++) {
            if (boundary[i]) {
                keep = ends[i];
                kept = (unsigned)i + 1;
            }
        }
        size_t file_keep = keep == note_at && cut >= note_at + note_len ? note_at + note_len
                                                                        : keep;
        bool clean = file_keep == cut;
        expected_records(&want, &src, keep, note_at, note_len);

        write_file(aof_path(dir, INCR1), src.data, cut);
        enum aof_load_rc rc = load_into(dir, 0, false, &c, NULL, err, sizeof err);
        if (clean) {
            if (rc != AOF_LOAD_OK)
                fail_msg("cut %zu: %s", cut, err);
            assert_int_equal(c.nrecords, kept);
            assert_int_equal(c.records.len, want.len);
            assert_memory_equal(c.records.data, want.data, want.len);
        } else {
            assert_int_equal(rc, AOF_LOAD_ERR);
            assert_true(contains(err, "Unexpected end of file"));
            assert_true(contains(err, INCR1));
        }

        write_file(aof_path(dir, INCR1), src.data, cut);
        struct aof_load_stats st;
        rc = load_into(dir, 0, true, &c, &st, err, sizeof err);
        if (rc != AOF_LOAD_OK)
            fail_msg("cut %zu: %s", cut, err);
        assert_int_equal(c.nrecords, kept);
        assert_int_equal(c.records.len, want.len);
        assert_memory_equal(c.records.data, want.data, want.len);
        size_t n = 0;
        free(read_file(aof_path(dir, INCR1), &n));
        assert_int_equal(n, file_keep);
        assert_int_equal(st.truncated, !clean);
        assert_int_equal(st.truncated_bytes, cut - file_keep);
        assert_int_equal(st.bytes, file_keep);
        assert_int_equal(st.records, kept);
    }
    buf_free(&want);
    buf_free(&c.records);
    buf_free(&src);
    remove_tree(dir);
}

/* A cut-short file that is not the last one is an error even with truncated_ok. */
static void test_truncated_not_last(void **state)
{
    (void)state;
    char *dir = scratch_dir();
    char err[ERRLEN], base[4096];
    struct aof *a = aof_open(dir, "appendonlydir", "appendonly.aof", 0, err, sizeof err);
    PUT(aof_buffer(a), "SET", "a", "1");
    assert_true(aof_rewrite_begin(a, base, sizeof base, err, sizeof err));
    PUT(aof_buffer(a), "SET", "b", "2");
    aof_close(a);
    size_t n = 0;
    char *bytes = read_file(aof_path(dir, INCR1), &n);
    write_file(aof_path(dir, INCR1), bytes, n - 3);
    free(bytes);
    struct collected c = {0};
    assert_int_equal(load_into(dir, 0, true, &c, NULL, err, sizeof err), AOF_LOAD_ERR);
    assert_true(contains(err, INCR1 " at offset 0: the truncated file is not the last file"));
    buf_free(&c.records);
    remove_tree(dir);
}

struct damage {
    size_t at;     /* byte to replace */
    char with;
    size_t report; /* offset the error must name */
};

static void test_corruption_offsets(void **state)
{
    (void)state;
    struct buf src = {0};
    PUT(&src, "SET", "key", "value");       /* 0..33 */
    size_t r2 = src.len;
    PUT(&src, "SET", "other", "x");         /* the one we damage */
    PUT(&src, "DEL", "key");
    PUT(&src, "SET", "last", "1");
    /* r2: "*3\r\n$3\r\nSET\r\n$5\r\nother\r\n$1\r\nx\r\n" */
    const struct damage cases[] = {
        {r2, '+', r2},                   /* bad record prefix */
        {r2 + 1, 'x', r2 + 1},           /* multibulk count not a number */
        {r2 + 1, '0', r2 + 1},           /* zero arguments */
        {r2 + 2, 'x', r2 + 2},           /* CR after the count */
        {r2 + 3, 'x', r2 + 3},           /* LF after the count */
        {r2 + 4, '*', r2 + 4},           /* bad argument prefix */
        {r2 + 5, '-', r2 + 5},           /* bulk length not a number */
        {r2 + 6, '\n', r2 + 6},          /* CR after a length */
        {r2 + 11, 'x', r2 + 11},         /* CR after an argument */
        {r2 + 12, 'x', r2 + 12},         /* LF after an argument */
        {r2 + 14, '4', r2 + 17 + 4},     /* "$5" -> "$4": no CRLF after 4 bytes */
        {r2 + 14, '8', r2 + 17 + 8},     /* "$5" -> "$8": likewise, further on */
        {r2 + 1, '4', r2 + 31},          /* 4 arguments: the next record's '*' is no '$' */
    };
    char *dir = dir_with_incr(&src);
    char err[ERRLEN], want[128];
    struct collected c = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf bad = {0};
        buf_append(&bad, src.data, src.len);
        bad.data[cases[i].at] = cases[i].with;
        write_file(aof_path(dir, INCR1), bad.data, bad.len);
        for (int ok = 0; ok < 2; ok++) {
            assert_int_equal(load_into(dir, 0, ok, &c, NULL, err, sizeof err), AOF_LOAD_ERR);
            snprintf(want, sizeof want,
                     "Bad file format reading the append only file " INCR1 " at offset %zu:",
                     cases[i].report);
            if (!contains(err, want))
                fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, want);
            assert_int_equal(c.nrecords, 1); /* the first record was replayed */
        }
        size_t n = 0;
        free(read_file(aof_path(dir, INCR1), &n));
        assert_int_equal(n, bad.len); /* never truncated */
        buf_free(&bad);
    }
    /* The callback's own error stops the load, naming the record's offset. */
    write_file(aof_path(dir, INCR1), src.data, src.len);
    c.fail_at = 2;
    assert_int_equal(load_into(dir, 0, false, &c, NULL, err, sizeof err), AOF_LOAD_ERR);
    snprintf(want, sizeof want, INCR1 " at offset %zu: refused", r2);
    assert_true(contains(err, want));
    buf_free(&c.records);
    buf_free(&src);
    remove_tree(dir);
}

/* A listed file missing, a bad manifest, a base in AOF format, an unfinished MULTI in a
 * file that is not the last. */
static void test_manifest_cases(void **state)
{
    (void)state;
    struct buf none = {0};
    char *dir = dir_with_incr(&none);
    char err[ERRLEN];
    struct collected c = {0};
    const char *m = "file appendonly.aof.0.1.base.aof seq 1 type b\n"
                    "file " INCR1 " seq 1 type i\n"
                    "file appendonly.aof.0.2.incr.aof seq 2 type i\n";
    write_file(aof_path(dir, MANIFEST), m, strlen(m));
    assert_int_equal(load_into(dir, 0, true, &c, NULL, err, sizeof err), AOF_LOAD_ERR);
    assert_true(contains(err, "appendonly.aof.0.1.base.aof listed in the manifest"));

    struct buf base = {0}, two = {0};
    PUT(&base, "SET", "from", "base");
    write_file(aof_path(dir, "appendonly.aof.0.1.base.aof"), base.data, base.len);
    PUT(&two, "MULTI");
    PUT(&two, "SET", "x", "1");
    write_file(aof_path(dir, INCR1), two.data, two.len);
    write_file(aof_path(dir, "appendonly.aof.0.2.incr.aof"), "", 0);
    assert_int_equal(load_into(dir, 0, true, &c, NULL, err, sizeof err), AOF_LOAD_ERR);
    assert_true(contains(err, INCR1 " at offset 0: the truncated file is not the last file"));
    PUT(&two, "EXEC");
    write_file(aof_path(dir, INCR1), two.data, two.len);
    struct aof_load_stats st;
    assert_int_equal(load_into(dir, 0, false, &c, &st, err, sizeof err), AOF_LOAD_OK);
    assert_int_equal(c.nbases, 0); /* an AOF-format base is replayed, not handed over */
    assert_int_equal(c.nrecords, 4);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.base_size, base.len);
    assert_memory_equal(c.records.data, base.data, base.len);

    write_file(aof_path(dir, MANIFEST), "file x seq 1 type z\n", 20);
    assert_int_equal(load_into(dir, 0, true, &c, NULL, err, sizeof err), AOF_LOAD_ERR);
    assert_true(contains(err, "Unknown AOF file type"));
    assert_true(contains(err, MANIFEST));
    /* a manifest of comments only lists nothing */
    write_file(aof_path(dir, MANIFEST), "# nothing\n", 10);
    assert_int_equal(load_into(dir, 0, true, &c, NULL, err, sizeof err), AOF_LOAD_OK);
    assert_int_equal(c.nrecords, 0);
    buf_free(&base);
    buf_free(&two);
    buf_free(&c.records);
    remove_tree(dir);
}

/* Many MULTIs and one EXEC at the very end (or none): linear time, and the right cut. */
static void test_many_multi(void **state)
{
    (void)state;
    struct buf src = {0};
    PUT(&src, "SET", "a", "1");
    size_t first_multi = src.len;
    for (int i = 0; i < 200000; i++)
        PUT(&src, "MULTI");
    char *dir = dir_with_incr(&src);
    char err[ERRLEN];
    struct collected c = {0};
    assert_int_equal(load_into(dir, 0, false, &c, NULL, err, sizeof err), AOF_LOAD_ERR);
    assert_true(contains(err, "Unexpected end of file"));
    PUT(&src, "EXEC");
    write_file(aof_path(dir, INCR1), src.data, src.len);
    assert_int_equal(load_into(dir, 0, false, &c, NULL, err, sizeof err), AOF_LOAD_OK);
    assert_int_equal(c.nrecords, 200002);
    src.len -= 14; /* drop the EXEC again: the whole block goes */
    write_file(aof_path(dir, INCR1), src.data, src.len);
    assert_int_equal(load_into(dir, 0, true, &c, NULL, err, sizeof err), AOF_LOAD_OK);
    assert_int_equal(c.nrecords, 1);
    size_t n = 0;
    free(read_file(aof_path(dir, INCR1), &n));
    assert_int_equal(n, first_multi);
    buf_free(&c.records);
    buf_free(&src);
    remove_tree(dir);
}

struct mcase {
    const char *text;
    const char *why; /* NULL: accepted */
};

static void test_manifest_parse(void **state)
{
    (void)state;
    char line1024[1100], line1025[1100];
    memset(line1024, 'x', sizeof line1024);
    memcpy(line1024, "file a seq 1 type i k ", 22);
    line1024[1023] = '\n';
    line1024[1024] = 0;
    memcpy(line1025, line1024, 1024);
    line1025[1023] = 'x';
    line1025[1024] = '\n';
    line1025[1025] = 0;
    const struct mcase cases[] = {
        {"file a seq 1 type i\n", NULL},
        {"# comment\nfile a seq 1 type i\n#another", NULL},
        {"FILE a SEQ 1 TYPE i extra key\n", NULL},
        {"  file a seq 1 type i \r\n", NULL},
        {"file \"a b\\x41\\n\" seq 1 type b\n", NULL},
        {"file 'it\\'s' seq 1 type h\n", NULL},
        {"file b seq 2 type b\nfile h seq 9 type h\nfile a seq 1 type i\n"
         "file c seq 3 type i\n", NULL},
        {line1024, NULL},
        {"", "Found an empty AOF manifest"},
        {line1025, "too long line"},
        {"file a seq 1 type i", "too long line"}, /* no newline */
        {"\n", "Invalid AOF manifest file format (line 1)"},
        {"file a seq 1 type i\n\n", "Invalid AOF manifest file format (line 2)"},
        {"file a seq 1 type\n", "Invalid AOF manifest file format"},
        {"file a seq 1 type i x\n", "Invalid AOF manifest file format"},
        {"file a seq 0 type i\n", "Invalid AOF manifest file format"},
        {"file a seq x type i\n", "Invalid AOF manifest file format"},
        {"name a seq 1 type i\n", "Invalid AOF manifest file format"},
        {"file \"a seq 1 type i\n", "Invalid AOF manifest file format"},
        {"file \"a\"b seq 1 type i\n", "Invalid AOF manifest file format"},
        {"file a\\x00 seq 1 type i\n", "File can't be a path"},
        {"file \"a\\x00\" seq 1 type i\n", "Invalid AOF manifest file format"},
        {"file d/a seq 1 type i\n", "File can't be a path"},
        {"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"},
        {"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"},
        {"file a seq -1 type i\n", "Found a non-monotonic sequence number"},
        {"file a seq 1 type x\n", "Unknown AOF file type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct aof_manifest m;
        char err[256] = "";
        bool ok = manifest_parse(cases[i].text, strlen(cases[i].text), &m, err, sizeof err);
        if (ok != !cases[i].why || (!ok && !contains(err, cases[i].why)))
            fail_msg("case %zu: ok=%d err=\"%s\"", i, ok, err);
        if (ok)
            manifest_free(&m);
    }
    /* What format writes, parse reads back the same; names with odd bytes included. */
    struct aof_manifest m;
    const char *text = "file \"a b\\x41\\n\" seq 1 type b\nfile h seq 9 type h\n"
                       "file c seq 3 type i\n";
    assert_true(manifest_parse(text, strlen(text), &m, NULL, 0));
    assert_string_equal(m.base.name, "a bA\n");
    assert_int_equal(m.nhist, 1);
    assert_int_equal(m.incr_seq, 3);
    struct buf out = {0};
    manifest_format(&m, &out);
    buf_putc(&out, 0);
    assert_string_equal(out.data, "file \"a bA\\n\" seq 1 type b\nfile h seq 9 type h\n"
                                  "file c seq 3 type i\n");
    buf_free(&out);
    manifest_free(&m);
}

/* Random damage to a valid file: any outcome but a crash, a hang or a leak. */
static void test_random_damage(void **state)
{
    (void)state;
    struct buf src = {0};
    for (int i = 0; i < 20; i++) {
        char v[32];
        snprintf(v, sizeof v, "%d", i * 7919);
        PUT(&src, "SET", v, v);
        if (i % 5 == 0) {
            PUT(&src, "MULTI");
            PUT(&src, "INCR", v);
            PUT(&src, "EXEC");
        }
    }
    char *dir = dir_with_incr(&src);
    char err[ERRLEN];
    struct collected c = {0};
    uint64_t seed = 88172645463325252ull;
    for (int round = 0; round < 3000; round++) {
        struct buf bad = {0};
        buf_append(&bad, src.data, src.len);
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            size_t at = (size_t)(seed % bad.len);
            static const char pick[] = "*$\r\n0123456789#x\0";
            bad.data[at] = (seed >> 32) % 3 ? pick[(seed >> 40) % (sizeof pick - 1)]
                                            : (char)(seed >> 24);
        }
        size_t len = round % 3 == 0 ? (size_t)((seed >> 16) % (bad.len + 1)) : bad.len;
        write_file(aof_path(dir, INCR1), bad.data, len);
        enum aof_load_rc rc = load_into(dir, 0, round % 8 == 0, &c, NULL, err, sizeof err);
        assert_true(rc == AOF_LOAD_OK || rc == AOF_LOAD_ERR);
        buf_free(&bad);
    }
    buf_free(&c.records);
    buf_free(&src);
    remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncation_every_point),
        cmocka_unit_test(test_truncated_not_last),
        cmocka_unit_test(test_corruption_offsets),
        cmocka_unit_test(test_manifest_cases),
        cmocka_unit_test(test_many_multi),
        cmocka_unit_test(test_manifest_parse),
        cmocka_unit_test(test_random_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
