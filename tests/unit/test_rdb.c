/* Unit tests of the RDB primitives (src/persist/rdb.c, rdb_file.c): lengths, string
 * forms, LZF, doubles and CRC64 at their boundaries, and snapshot files. The images of
 * whole stores are test_rdb_images.c; files of redis-server, test_rdb_redis.c.
 *
 * RDB_TEST_DUMP_DIR=<dir>: also write corekv_all_types.rdb and corekv_all_types.txt (its
 * keys, in the format of data/redis7_all_types.txt) there, for checking against
 * redis-server (tests/unit/data/check_corekv_rdb.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rdb_test_util.h"

#define TTL_BASE 4102444800000LL /* 2100-01-01 */

static struct store *new_store(void) { return store_new(0x1234567); }

/* ---- Primitives ---- */

static void test_len_forms(void **state)
{
    (void)state;
    const struct {
        uint64_t v;
        size_t n;
    } cases[] = {{0, 1},          {63, 1},          {64, 2},
                 {16383, 2},      {16384, 5},       {UINT32_MAX, 5},
                 {(uint64_t)UINT32_MAX + 1, 9},     {UINT64_MAX, 9}};
    struct buf b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t before = b.len;
        rdb_put_len(&b, cases[i].v);
        assert_int_equal(b.len - before, cases[i].n);
    }
    /* Big-endian as Redis: 64 = 01 000000 01000000; 16384 = 0x80 then 00 00 40 00. */
    assert_memory_equal(b.data + 2, "\x40\x40", 2);
    assert_memory_equal(b.data + 6, "\x80\x00\x00\x40\x00", 5);
    struct rdb_reader r;
    rdb_reader_init(&r, b.data, b.len);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v;
        assert_true(rdb_read_len(&r, &v));
        assert_true(v == cases[i].v);
    }
    assert_int_equal(rdb_left(&r), 0);
    uint64_t v;
    assert_false(rdb_read_len(&r, &v));
    char err[256];
    rdb_error(&r, err, sizeof err);
    assert_non_null(strstr(err, "at offset"));
    buf_free(&b);

    /* A length cut short, an undefined length byte, a string form where a length goes. */
    const char *bad[] = {"\x80\x00\x00", "\x82", "\xc0\x01", "\x41"};
    const size_t badlen[] = {3, 1, 2, 1};
    for (int i = 0; i < 4; i++) {
        rdb_reader_init(&r, bad[i], badlen[i]);
        assert_false(rdb_read_len(&r, &v));
        assert_true(rdb_failed(&r));
        assert_int_equal(r.err_pos, i == 0 || i == 3 ? 1 : 0);
    }
}


/* s written by rdb_put_string takes expect_size bytes (0: unchecked) starting with
 * first_byte (-1: unchecked), and reads back as itself. */
static void check_string(const char *s, size_t len, bool compress, size_t expect_size,
                         int first_byte)
{
    struct buf b = {0};
    rdb_put_string(&b, s, len, compress);
    if (expect_size)
        assert_int_equal(b.len, expect_size);
    if (first_byte >= 0)
        assert_int_equal((unsigned char)b.data[0], first_byte);
    struct rdb_reader r;
    rdb_reader_init(&r, b.data, b.len);
    struct rdb_str str;
    assert_true(rdb_read_string(&r, &str));
    assert_int_equal(str.len, len);
    if (len)
        assert_memory_equal(str.s, s, len);
    assert_int_equal(rdb_left(&r), 0);
    rdb_str_free(&str);
    buf_free(&b);
}

static void test_string_forms(void **state)
{
    (void)state;
    /* INT forms for canonical decimals of 32-bit values of at most 11 bytes. */
    check_string("0", 1, true, 2, 0xc0);
    check_string("127", 3, true, 2, 0xc0);
    check_string("-128", 4, true, 2, 0xc0);
    check_string("128", 3, true, 3, 0xc1);
    check_string("-32768", 6, true, 3, 0xc1);
    check_string("32768", 5, true, 5, 0xc2);
    check_string("2147483647", 10, true, 5, 0xc2);
    check_string("-2147483648", 11, true, 5, 0xc2);
    check_string("2147483648", 10, true, 11, 10);
    check_string("-2147483649", 11, true, 12, 11);
    check_string("007", 3, true, 4, 3);
    check_string("-0", 2, true, 3, 2);
    check_string("+1", 2, true, 3, 2);
    check_string("", 0, true, 1, 0);
    /* rdb_put_int: the INT form, or the decimal digits past 32 bits. */
    struct buf b = {0};
    rdb_put_int(&b, INT64_MAX);
    assert_int_equal(b.len, 20);
    assert_memory_equal(b.data + 1, "9223372036854775807", 19);
    b.len = 0;
    rdb_put_int(&b, -5);
    assert_memory_equal(b.data, "\xc0\xfb", 2);
    buf_free(&b);

    /* LZF only over 20 bytes, only when it saves 4 bytes, only when asked. */
    char rep[1000];
    memset(rep, 'a', sizeof rep);
    check_string(rep, 20, true, 21, 20);
    check_string(rep, 21, true, 0, 0xc3);
    check_string(rep, sizeof rep, true, 0, 0xc3);
    check_string(rep, sizeof rep, false, 2 + sizeof rep, 0x43);
    char rnd[300];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof rnd; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        rnd[i] = (char)x;
    }
    check_string(rnd, sizeof rnd, true, 2 + sizeof rnd, 0x41);
    /* Every length around the thresholds, of compressible text. */
    for (size_t len = 1; len < 300; len++)
        check_string(rep, len, true, 0, -1);
}

static void test_double_ms(void **state)
{
    (void)state;
    const double vals[] = {0.0, -0.0, 1.5, -1e300, 4.9e-324, INFINITY, -INFINITY};
    struct buf b = {0};
    for (size_t i = 0; i < 7; i++)
        rdb_put_double(&b, vals[i]);
    rdb_put_ms(&b, -2);
    rdb_put_ms(&b, 0x0102030405060708LL);
    assert_memory_equal(b.data + 16, "\x00\x00\x00\x00\x00\x00\xf8\x3f", 8); /* 1.5 LE */
    struct rdb_reader r;
    rdb_reader_init(&r, b.data, b.len);
    for (size_t i = 0; i < 7; i++) {
        double d;
        assert_true(rdb_read_double(&r, &d));
        assert_memory_equal(&d, &vals[i], sizeof d);
    }
    int64_t ms;
    assert_true(rdb_read_ms(&r, &ms));
    assert_true(ms == -2);
    assert_true(rdb_read_ms(&r, &ms));
    assert_true(ms == 0x0102030405060708LL);
    assert_false(rdb_read_ms(&r, &ms));
    buf_free(&b);

    /* The old text doubles. */
    const char txt[] = "\x03" "1.5" "\xfd" "\xfe" "\xff" "\x02" "zz";
    rdb_reader_init(&r, txt, sizeof txt - 1);
    double d;
    assert_true(rdb_read_text_double(&r, &d) && d == 1.5);
    assert_true(rdb_read_text_double(&r, &d) && isnan(d));
    assert_true(rdb_read_text_double(&r, &d) && d == INFINITY);
    assert_true(rdb_read_text_double(&r, &d) && d == -INFINITY);
    assert_false(rdb_read_text_double(&r, &d));
}

/* Bit-at-a-time reference of Redis's crc64. */
static uint64_t crc64_slow(uint64_t crc, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ull : crc >> 1;
    }
    return crc;
}

static void test_crc64(void **state)
{
    (void)state;
    assert_true(rdb_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caull);
    unsigned char data[1000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n < 80; n++)
        assert_true(rdb_crc64(0, data, n) == crc64_slow(0, data, n));
    uint64_t whole = rdb_crc64(0, data, sizeof data);
    for (size_t cut = 0; cut <= sizeof data; cut += 77)
        assert_true(rdb_crc64(rdb_crc64(0, data, cut), data + cut, sizeof data - cut) == whole);
    assert_true(whole == crc64_slow(0, data, sizeof data));
}

static void test_lzf_bounds(void **state)
{
    (void)state;
    unsigned char out[64];
    /* A literal run of 3, then a reference 1 back of length 3. */
    assert_true(rdb_lzf_decompress((const unsigned char *)"\x02" "abc" "\x20\x00", 6, out, 6));
    assert_memory_equal(out, "abccc" "c", 6);
    /* Wrong sizes, a reference before the start, a literal past the input, a cut
     * reference, a 7-length reference missing its extra byte. */
    assert_false(rdb_lzf_decompress((const unsigned char *)"\x02" "abc" "\x20\x00", 6, out, 5));
    assert_false(rdb_lzf_decompress((const unsigned char *)"\x02" "abc" "\x20\x00", 6, out, 7));
    assert_false(rdb_lzf_decompress((const unsigned char *)"\x02" "abc" "\x20\x05", 6, out, 6));
    assert_false(rdb_lzf_decompress((const unsigned char *)"\x05" "abc", 4, out, 6));
    assert_false(rdb_lzf_decompress((const unsigned char *)"\x02" "abc" "\x20", 5, out, 6));
    assert_false(rdb_lzf_decompress((const unsigned char *)"\x02" "abc" "\xe0", 5, out, 20));
    assert_false(rdb_lzf_decompress((const unsigned char *)"\x02" "abc" "\xe0\x01", 6, out, 20));
    /* An LZF string whose claimed size is absurd is refused before any allocation. */
    const char huge[] = "\xc3\x02\x81\x00\x00\x00\x01\x00\x00\x00\x00" "\x00" "a";
    struct rdb_reader r;
    rdb_reader_init(&r, huge, sizeof huge - 1);
    struct rdb_str s;
    assert_false(rdb_read_string(&r, &s));
    assert_non_null(strstr(r.err, "LZF"));
}

/* ---- Files ---- */

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_rdb_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/dump-0.rdb", dir);

    struct store *src = new_store();
    tu_fill_all(src, TTL_BASE);
    struct buf img = {0};
    tu_image(src, &img, true, true, NULL);
    /* Written in pieces through the file: same bytes as the image in memory. */
    struct rdb_file *f = rdb_file_create(path, err, sizeof err);
    assert_non_null(f);
    assert_non_null(strstr(rdb_file_tmp_path(f), ".tmp-"));
    size_t body = img.len - 8;
    for (size_t off = 0; off < body; off += 1000)
        assert_true(rdb_file_write(f, img.data + off, body - off < 1000 ? body - off : 1000));
    assert_true(rdb_file_seal(f, true));
    assert_true(rdb_file_bytes(f) == img.len);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s", rdb_file_tmp_path(f));
    assert_true(rdb_file_commit(f, err, sizeof err));
    assert_int_not_equal(access(tmp, F_OK), 0);
    struct rdb_map m;
    assert_true(rdb_map_file(path, &m, err, sizeof err));
    assert_int_equal(m.len, img.len);
    assert_memory_equal(m.p, img.data, img.len);
    struct store *dst = new_store();
    assert_true(store_rdb_load(dst, m.p, m.len, 0, NULL, err, sizeof err));
    tu_assert_same_keys(src, dst);
    store_free(dst);
    rdb_unmap(&m);

    /* Abort leaves nothing behind; the destination keeps its old contents. */
    f = rdb_file_create(path, err, sizeof err);
    assert_true(rdb_file_write(f, "REDIS", 5));
    snprintf(tmp, sizeof tmp, "%s", rdb_file_tmp_path(f));
    rdb_file_abort(f);
    assert_int_not_equal(access(tmp, F_OK), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, img.len);
    /* A checksum-less seal writes 8 zero bytes. */
    f = rdb_file_create(path, err, sizeof err);
    assert_true(rdb_file_write(f, "REDIS0010\xff", 10));
    assert_true(rdb_file_seal(f, false));
    assert_true(rdb_file_commit(f, err, sizeof err));
    assert_true(rdb_map_file(path, &m, err, sizeof err));
    assert_memory_equal(m.p, "REDIS0010\xff\0\0\0\0\0\0\0\0", 18);
    rdb_unmap(&m);

    /* Failures are reported, not crashes. */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.rdb", dir);
    assert_null(rdb_file_create(bad, err, sizeof err));
    assert_non_null(strstr(err, "cannot create"));
    assert_false(rdb_map_file(bad, &m, err, sizeof err));
    snprintf(bad, sizeof bad, "%s/empty.rdb", dir);
    FILE *fp = fopen(bad, "w");
    fclose(fp);
    assert_true(rdb_map_file(bad, &m, err, sizeof err));
    assert_int_equal(m.len, 0);
    dst = new_store();
    assert_false(store_rdb_load(dst, m.p, m.len, 0, NULL, err, sizeof err));
    store_free(dst);
    rdb_unmap(&m);
    assert_false(rdb_map_file(dir, &m, err, sizeof err)); /* a directory */

    unlink(bad);
    unlink(path);
    rmdir(dir);
    store_free(src);
    buf_free(&img);
}

/* RDB_TEST_DUMP_DIR: the image of every type and its description, for redis-server. */
static void test_dump_for_redis(void **state)
{
    (void)state;
    const char *dir = getenv("RDB_TEST_DUMP_DIR");
    if (!dir || !*dir)
        skip();
    struct store *src = new_store();
    tu_fill_all(src, TTL_BASE);
    for (int compress = 0; compress < 2; compress++) {
        struct buf img = {0};
        struct rdb_header_info h = {.shard = 0, .nshards = 1};
        tu_image(src, &img, compress, true, &h);
        char path[512];
        snprintf(path, sizeof path, "%s/corekv_all_types%s.rdb", dir, compress ? "" : "_plain");
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(img.data, 1, img.len, f), img.len);
        fclose(f);
        buf_free(&img);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/corekv_all_types.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    struct tu_lines l = {0};
    tu_all_lines(src, &l);
    for (size_t i = 0; i < l.n; i++)
        fprintf(f, "%s\n", l.v[i]);
    fclose(f);
    tu_lines_free(&l);
    store_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_len_forms),
        cmocka_unit_test(test_string_forms),
        cmocka_unit_test(test_double_ms),
        cmocka_unit_test(test_crc64),
        cmocka_unit_test(test_lzf_bounds),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_dump_for_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
