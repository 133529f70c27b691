/* Unit tests of the listpack (src/store/listpack.c): every encoding boundary, the bytes
 * Redis writes, insert/replace/delete, walks both ways, seek, find with skip, delete
 * ranges, the 65535 "unknown count", and lp_validate against truncated and corrupted
 * copies of every listpack built here (each copy in an allocation of its exact size, so
 * ASan reports any read out of bounds). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/listpack.h"

/* ---- helpers ---- */

static unsigned char *app(unsigned char *lp, const char *s) { return lp_append(lp, s, strlen(s)); }

/* The element at p as text (integers in decimal), in a static buffer. */
static const char *txt(const unsigned char *p)
{
    static char out[8192];
    char buf[LP_INTBUF];
    size_t len;
    const unsigned char *s = lp_get_str(p, &len, buf);
    assert_true(len < sizeof out);
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

/* Corruptions and truncations of lp must be rejected or, when accepted, be safe to walk:
 * forwards and backwards give the same number of elements, and the count agrees. */
static void walk_check(unsigned char *lp, size_t count)
{
    size_t n = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        struct lp_val v;
        lp_get(p, &v);
        n++;
    }
    assert_int_equal(n, count);
    size_t m = 0;
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p))
        m++;
    assert_int_equal(m, count);
    assert_int_equal(lp_count(lp), count);
}

static bool validate_copy(const unsigned char *src, size_t size, size_t *count)
{
    unsigned char *c = malloc(size ? size : 1);
    assert_non_null(c);
    memcpy(c, src, size);
    size_t n = 0;
    bool ok = lp_validate(c, size, &n);
    if (ok)
        walk_check(c, n);
    free(c);
    if (count)
        *count = n;
    return ok;
}

/* Offsets of the backlen bytes of every element. */
static size_t backlen_offsets(unsigned char *lp, size_t *offs, size_t cap)
{
    size_t k = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p)) {
        unsigned char *q = lp_next(lp, p);
        size_t end = q ? (size_t)(q - lp) : lp_bytes(lp) - 1;
        /* the backlen is the trailing bytes whose size the next walk skipped: find its
         * start by reading it backwards as lp_prev does */
        size_t b = end - 1;
        while (lp[b] & 128)
            b--;
        for (size_t i = b; i < end && k < cap; i++)
            offs[k++] = i;
    }
    return k;
}

/* Which offsets of a listpack of size bytes to truncate at / corrupt: all of a small
 * one; of a big one the ends, the element starts and a stride (each probe validates the
 * whole copy, so all of them would be quadratic). */
static bool probe(size_t i, size_t size, const size_t *starts, size_t ns)
{
    if (size <= 600 || i < 256 || i + 256 >= size || i % 61 == 0)
        return true;
    for (size_t k = 0; k < ns; k++)
        if (starts[k] == i || starts[k] == i + 1)
            return true;
    return false;
}

static void check_validate(unsigned char *lp)
{
    size_t size = lp_bytes(lp), n;
    unsigned hdr = (unsigned)lp[4] | (unsigned)lp[5] << 8;
    assert_true(validate_copy(lp, size, &n));
    assert_int_equal(n, lp_count(lp));
    walk_check(lp, n);

    static size_t starts[4096];
    size_t ns = 0;
    for (unsigned char *p = lp_first(lp); p && ns < 4096; p = lp_next(lp, p))
        starts[ns++] = (size_t)(p - lp);
    unsigned char *c = malloc(size);
    assert_non_null(c);
    /* Truncations: as is (the total no longer matches), and made self-consistent
     * (total patched, terminator written): then only the exact count can save it. */
    for (size_t t = 0; t < size; t++) {
        if (!probe(t, size, starts, ns))
            continue;
        assert_false(validate_copy(lp, t, NULL));
        if (t < LP_HDR_SIZE + 1)
            continue;
        memcpy(c, lp, t);
        c[0] = (unsigned char)t;
        c[1] = (unsigned char)(t >> 8);
        c[2] = (unsigned char)(t >> 16);
        c[3] = (unsigned char)(t >> 24);
        c[t - 1] = 0xFF;
        size_t m;
        bool ok = validate_copy(c, t, &m);
        if (hdr != 65535)
            assert_false(ok);
    }
    /* Corruptions: every byte set to a few values. Changes to the total, the
     * terminator or a backlen must be rejected; any other one may be accepted only if
     * the result is walkable (validate_copy checks). */
    static const unsigned char vals[] = {0x00, 0x01, 0x3F, 0x7F, 0x80, 0xBF, 0xC0,
                                         0xDF, 0xE0, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5,
                                         0xFE, 0xFF};
    size_t boffs[4096];
    size_t nb = backlen_offsets(lp, boffs, 4096);
    for (size_t i = 0; i < size; i++) {
        bool structural = i < 4 || i == size - 1;
        for (size_t k = 0; k < nb && !structural; k++)
            structural = boffs[k] == i;
        if (!structural && !probe(i, size, starts, ns))
            continue;
        for (size_t v = 0; v <= sizeof vals; v++) {
            memcpy(c, lp, size);
            unsigned char nv = v < sizeof vals ? vals[v] : (unsigned char)~lp[i];
            if (nv == lp[i])
                continue;
            c[i] = nv;
            bool ok = validate_copy(c, size, NULL);
            if (structural)
                assert_false(ok);
            if ((i == 4 || i == 5) && ((unsigned)c[4] | (unsigned)c[5] << 8) != 65535)
                assert_false(ok);
        }
    }
    free(c);
}

/* ---- encodings ---- */

struct int_case {
    int64_t v;
    unsigned char enc0; /* first byte */
    size_t len;         /* encoding + data */
};

static void test_int_boundaries(void **state)
{
    (void)state;
    static const struct int_case cases[] = {
        {0, 0x00, 1},
        {127, 0x7F, 1},
        {128, 0xC0, 2},
        {-1, 0xDF, 2},
        {-4096, 0xD0, 2},
        {4095, 0xCF, 2},
        {-4097, 0xF1, 3},
        {4096, 0xF1, 3},
        {-32768, 0xF1, 3},
        {32767, 0xF1, 3},
        {-32769, 0xF2, 4},
        {32768, 0xF2, 4},
        {8388607, 0xF2, 4},
        {-8388608, 0xF2, 4},
        {8388608, 0xF3, 5},
        {-8388609, 0xF3, 5},
        {(int64_t)1 << 23, 0xF3, 5},
        {INT32_MAX, 0xF3, 5},
        {INT32_MIN, 0xF3, 5},
        {(int64_t)1 << 31, 0xF4, 9},
        {-((int64_t)1 << 31) - 1, 0xF4, 9},
        {INT64_MAX, 0xF4, 9},
        {INT64_MIN, 0xF4, 9},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct int_case *c = &cases[k];
        char s[32];
        int sl = snprintf(s, sizeof s, "%lld", (long long)c->v);
        for (int how = 0; how < 3; how++) {
            unsigned char *lp = lp_new(0);
            lp = app(lp, "x");
            if (how == 0)
                lp = lp_append_int(lp, c->v);
            else if (how == 1)
                lp = lp_append(lp, s, (size_t)sl);
            else
                lp = lp_prepend(lp, s, (size_t)sl);
            unsigned char *p = how == 2 ? lp_first(lp) : lp_last(lp);
            assert_int_equal(p[0], c->enc0);
            /* header, terminator, "x" (3 bytes), the integer and its 1-byte backlen */
            assert_int_equal(lp_bytes(lp), LP_HDR_SIZE + 1 + 3 + c->len + 1);
            assert_int_equal(p[c->len], c->len); /* backlen of a short entry */
            struct lp_val v;
            lp_get(p, &v);
            assert_null(v.s);
            assert_true(v.i == c->v);
            int64_t iv;
            assert_true(lp_get_int(p, &iv));
            assert_true(iv == c->v);
            assert_string_equal(txt(p), s);
            assert_true(lp_eq(p, s, (size_t)sl));
            assert_int_equal(lp_count(lp), 2);
            check_validate(lp);
            lp_free(lp);
        }
    }
}

static void test_str_lengths(void **state)
{
    (void)state;
    static const struct {
        size_t len, hdr, back;
        unsigned char enc0;
    } cases[] = {
        {0, 1, 1, 0x80},     {1, 1, 1, 0x81},     {63, 1, 1, 0xBF},   {64, 2, 1, 0xE0},
        {125, 2, 1, 0xE0},   {126, 2, 2, 0xE0},   {4095, 2, 2, 0xEF}, {4096, 5, 2, 0xF0},
        {16377, 5, 2, 0xF0}, {16378, 5, 3, 0xF0}, {20000, 5, 3, 0xF0},
    };
    char *buf = malloc(20000);
    assert_non_null(buf);
    memset(buf, 'q', 20000);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t len = cases[k].len;
        unsigned char *lp = lp_new(64);
        lp = lp_append(lp, buf, len);
        lp = app(lp, "tail");
        unsigned char *p = lp_first(lp);
        assert_int_equal(p[0], cases[k].enc0);
        assert_int_equal(lp_bytes(lp), LP_HDR_SIZE + 1 + cases[k].hdr + len + cases[k].back + 6);
        struct lp_val v;
        lp_get(p, &v);
        assert_non_null(v.s);
        assert_int_equal(v.len, len);
        assert_true(len == 0 || memcmp(v.s, buf, len) == 0);
        assert_true(lp_eq(p, buf, len));
        assert_false(lp_eq(p, buf, len + 1));
        int64_t iv;
        assert_false(lp_get_int(p, &iv));
        unsigned char *q = lp_next(lp, p);
        assert_string_equal(txt(q), "tail");
        assert_ptr_equal(lp_prev(lp, q), p);
        assert_ptr_equal(lp_prev(lp, p), NULL);
        if (len <= 4096)
            check_validate(lp);
        else
            assert_true(lp_validate(lp, lp_bytes(lp), NULL));
        lp_free(lp);
    }
    free(buf);
}

/* Strings that are not the canonical decimal of an int64 stay strings. */
static void test_noncanonical_strings(void **state)
{
    (void)state;
    static const char *strs[] = {"",   "-",  "-0",   "007",  "+1",  " 1", "1 ", "1a",
                                 "0x1", "1.0", "--1", "9223372036854775808",
                                 "-9223372036854775809", "00", "123456789012345678901"};
    unsigned char *lp = lp_new(0);
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++)
        lp = app(lp, strs[k]);
    size_t k = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), k++) {
        struct lp_val v;
        lp_get(p, &v);
        assert_non_null(v.s);
        assert_int_equal(v.len, strlen(strs[k]));
        assert_string_equal(txt(p), strs[k]);
    }
    assert_int_equal(k, sizeof strs / sizeof strs[0]);
    /* an integer element equals only its canonical form */
    lp = app(lp, "123");
    unsigned char *p = lp_last(lp);
    assert_true(lp_eq(p, "123", 3));
    assert_false(lp_eq(p, "0123", 4));
    assert_false(lp_eq(p, "123 ", 4));
    assert_false(lp_eq(p, "+123", 4));
    check_validate(lp);
    lp_free(lp);
}

/* A string element holding digits (Redis never writes one, an old dump might): valid,
 * read back as a string, lp_get_int parses it. */
static void test_string_digits(void **state)
{
    (void)state;
    static const unsigned char raw[] = {0x0b, 0, 0, 0, 1, 0, 0x82, '1', '2', 0x03, 0xFF};
    unsigned char *lp = malloc(sizeof raw);
    memcpy(lp, raw, sizeof raw);
    size_t n;
    assert_true(lp_validate(lp, sizeof raw, &n));
    assert_int_equal(n, 1);
    unsigned char *p = lp_first(lp);
    int64_t iv;
    assert_true(lp_get_int(p, &iv));
    assert_int_equal(iv, 12);
    assert_true(lp_eq(p, "12", 2));
    assert_ptr_equal(lp_find(lp, p, "12", 2, 0), p);
    lp_free(lp);
}

/* ---- the bytes Redis writes ---- */

/* Obtained from the real redis-server 7.0.15 (Debian) with rdbcompression off and
 * hash-max-listpack-value 100000:
 *   HSET h a 0 b 127 c 128 d -4096 e 4095 f -4097 g 4096 h -32768 i 32767 j 8388607
 *          k -8388608 l 2147483647 m -2147483648 n 9223372036854775807
 *          o -9223372036854775808 p "" q "-0" r "007" s 2147483648 t 8388608
 *   DUMP h
 * The payload is 0x10 (RDB_TYPE_HASH_LISTPACK), the RDB string length 0x40 0xa5, then
 * these 165 bytes of listpack (then the RDB version and CRC64, not shown). */
static const unsigned char redis_hash_lp[] = {
    0xa5, 0x00, 0x00, 0x00, 0x28, 0x00, 0x81, 0x61, 0x02, 0x00, 0x01, 0x81, 0x62, 0x02,
    0x7f, 0x01, 0x81, 0x63, 0x02, 0xc0, 0x80, 0x02, 0x81, 0x64, 0x02, 0xd0, 0x00, 0x02,
    0x81, 0x65, 0x02, 0xcf, 0xff, 0x02, 0x81, 0x66, 0x02, 0xf1, 0xff, 0xef, 0x03, 0x81,
    0x67, 0x02, 0xf1, 0x00, 0x10, 0x03, 0x81, 0x68, 0x02, 0xf1, 0x00, 0x80, 0x03, 0x81,
    0x69, 0x02, 0xf1, 0xff, 0x7f, 0x03, 0x81, 0x6a, 0x02, 0xf2, 0xff, 0xff, 0x7f, 0x04,
    0x81, 0x6b, 0x02, 0xf2, 0x00, 0x00, 0x80, 0x04, 0x81, 0x6c, 0x02, 0xf3, 0xff, 0xff,
    0xff, 0x7f, 0x05, 0x81, 0x6d, 0x02, 0xf3, 0x00, 0x00, 0x00, 0x80, 0x05, 0x81, 0x6e,
    0x02, 0xf4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x09, 0x81, 0x6f, 0x02,
    0xf4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x09, 0x81, 0x70, 0x02, 0x80,
    0x01, 0x81, 0x71, 0x02, 0x82, 0x2d, 0x30, 0x03, 0x81, 0x72, 0x02, 0x83, 0x30, 0x30,
    0x37, 0x04, 0x81, 0x73, 0x02, 0xf4, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x09, 0x81, 0x74, 0x02, 0xf3, 0x00, 0x00, 0x80, 0x00, 0x05, 0xff,
};

static void test_redis_bytes_ints(void **state)
{
    (void)state;
    static const char *kv[] = {"a", "0", "b", "127", "c", "128", "d", "-4096", "e", "4095",
                               "f", "-4097", "g", "4096", "h", "-32768", "i", "32767",
                               "j", "8388607", "k", "-8388608", "l", "2147483647",
                               "m", "-2147483648", "n", "9223372036854775807",
                               "o", "-9223372036854775808", "p", "", "q", "-0",
                               "r", "007", "s", "2147483648", "t", "8388608"};
    unsigned char *lp = lp_new(0);
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++)
        lp = app(lp, kv[k]);
    assert_int_equal(lp_bytes(lp), sizeof redis_hash_lp);
    assert_memory_equal(lp, redis_hash_lp, sizeof redis_hash_lp);
    check_validate(lp);
    /* and Redis's bytes read back as the values */
    size_t n;
    assert_true(lp_validate(redis_hash_lp, sizeof redis_hash_lp, &n));
    assert_int_equal(n, 40);
    unsigned char *p = lp_first(lp);
    for (size_t k = 0; k < n; k++, p = lp_next(lp, p))
        assert_string_equal(txt(p), kv[k]);
    assert_null(p);
    lp_free(lp);
}

/* Obtained as above:
 *   HSET g a <'x' x 63> b <'y' x 64> c <'z' x 4095> d <'w' x 4096> e <'v' x 20000>
 *   DUMP g
 * gives 0x10, RDB length 0x80 0x00006ecc, then a listpack of 28364 bytes; with the
 * runs of one repeated byte written as [byte x count]:
 *   cc 6e 00 00 0a 00 81 61 02 bf [78 x63] 40 81 62 02 e0 40 [79 x64] 42 81 63 02
 *   ef ff [7a x4095] 20 81 81 64 02 f0 00 10 00 00 [77 x4096] 20 85 81 65 02
 *   f0 20 4e 00 00 [76 x20000] 01 9c a5 ff */
struct chunk {
    const char *bytes; /* literal bytes, or NULL for a run */
    size_t len;
    char run;
};

static void test_redis_bytes_strings(void **state)
{
    (void)state;
    static const struct chunk chunks[] = {
        {"\xcc\x6e\x00\x00\x0a\x00\x81\x61\x02\xbf", 10, 0}, {NULL, 63, 'x'},
        {"\x40\x81\x62\x02\xe0\x40", 6, 0},                   {NULL, 64, 'y'},
        {"\x42\x81\x63\x02\xef\xff", 6, 0},                   {NULL, 4095, 'z'},
        {"\x20\x81\x81\x64\x02\xf0\x00\x10\x00\x00", 10, 0}, {NULL, 4096, 'w'},
        {"\x20\x85\x81\x65\x02\xf0\x20\x4e\x00\x00", 10, 0}, {NULL, 20000, 'v'},
        {"\x01\x9c\xa5\xff", 4, 0},
    };
    unsigned char *want = malloc(28364);
    size_t w = 0;
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        if (chunks[k].bytes)
            memcpy(want + w, chunks[k].bytes, chunks[k].len);
        else
            memset(want + w, chunks[k].run, chunks[k].len);
        w += chunks[k].len;
    }
    assert_int_equal(w, 28364);
    char *s = malloc(20000);
    unsigned char *lp = lp_new(0);
    static const struct {
        const char *f;
        char c;
        size_t n;
    } kv[] = {{"a", 'x', 63}, {"b", 'y', 64}, {"c", 'z', 4095}, {"d", 'w', 4096}, {"e", 'v', 20000}};
    for (size_t k = 0; k < 5; k++) {
        lp = app(lp, kv[k].f);
        memset(s, kv[k].c, kv[k].n);
        lp = lp_append(lp, s, kv[k].n);
    }
    assert_int_equal(lp_bytes(lp), w);
    assert_memory_equal(lp, want, w);
    assert_true(lp_validate(want, w, NULL));
    walk_check(lp, 10);
    lp_free(lp);
    free(s);
    free(want);
}

/* ---- changes and walks ---- */

/* Checks lp holds exactly want[0..n) (forwards, backwards, by index from both ends). */
static void expect(unsigned char *lp, const char *const *want, size_t n)
{
    assert_int_equal(lp_count(lp), n);
    size_t k = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), k++) {
        assert_true(k < n);
        assert_string_equal(txt(p), want[k]);
    }
    assert_int_equal(k, n);
    for (unsigned char *p = lp_last(lp); p; p = lp_prev(lp, p)) {
        assert_true(k > 0);
        assert_string_equal(txt(p), want[--k]);
    }
    assert_int_equal(k, 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(txt(lp_seek(lp, (long)i)), want[i]);
        assert_string_equal(txt(lp_seek(lp, (long)i - (long)n)), want[i]);
    }
    assert_null(lp_seek(lp, (long)n));
    assert_null(lp_seek(lp, -(long)n - 1));
    assert_true(lp_validate(lp, lp_bytes(lp), NULL));
}

static void test_insert_replace_delete(void **state)
{
    (void)state;
    unsigned char *lp = lp_new(0);
    assert_null(lp_first(lp));
    assert_null(lp_last(lp));
    assert_null(lp_seek(lp, 0));
    assert_null(lp_seek(lp, -1));
    assert_int_equal(lp_count(lp), 0);
    check_validate(lp);

    lp = app(lp, "a");
    lp = app(lp, "300");
    lp = app(lp, "c");
    lp = lp_prepend(lp, "-5", 2);
    expect(lp, (const char *[]){"-5", "a", "300", "c"}, 4);

    unsigned char *p = lp_seek(lp, 2);
    lp = lp_insert(lp, &p, LP_BEFORE, "mid", 3);
    assert_string_equal(txt(p), "mid");
    lp = lp_insert(lp, &p, LP_AFTER, "70000", 5);
    assert_string_equal(txt(p), "70000");
    expect(lp, (const char *[]){"-5", "a", "mid", "70000", "300", "c"}, 6);

    /* replace with larger, smaller, same size; p follows */
    char big[200];
    memset(big, 'B', sizeof big);
    lp = lp_replace(lp, &p, big, sizeof big);
    assert_int_equal(lp_get_str(p, &(size_t){0}, (char[LP_INTBUF]){0})[0], 'B');
    lp = lp_replace(lp, &p, "7", 1);
    assert_string_equal(txt(p), "7");
    lp = lp_replace(lp, &p, "8", 1);
    assert_string_equal(txt(p), "8");
    expect(lp, (const char *[]){"-5", "a", "mid", "8", "300", "c"}, 6);
    check_validate(lp);

    /* delete in the middle, at the tail (p becomes NULL), at the head */
    p = lp_seek(lp, 2);
    lp = lp_delete(lp, &p);
    assert_string_equal(txt(p), "8");
    expect(lp, (const char *[]){"-5", "a", "8", "300", "c"}, 5);
    p = lp_last(lp);
    lp = lp_delete(lp, &p);
    assert_null(p);
    p = lp_first(lp);
    lp = lp_delete(lp, &p);
    assert_string_equal(txt(p), "a");
    expect(lp, (const char *[]){"a", "8", "300"}, 3);
    /* insert at the ends through lp_insert */
    p = lp_first(lp);
    lp = lp_insert(lp, &p, LP_BEFORE, "h", 1);
    p = lp_last(lp);
    lp = lp_insert(lp, &p, LP_AFTER, "t", 1);
    expect(lp, (const char *[]){"h", "a", "8", "300", "t"}, 5);
    check_validate(lp);
    while ((p = lp_first(lp)))
        lp = lp_delete(lp, &p);
    assert_int_equal(lp_bytes(lp), LP_HDR_SIZE + 1);
    assert_int_equal(lp_count(lp), 0);
    lp_free(lp);
}

static void test_seek_extremes(void **state)
{
    (void)state;
    unsigned char *lp = lp_new(0);
    for (int i = 0; i < 9; i++)
        lp = lp_append_int(lp, i * 1000);
    assert_null(lp_seek(lp, LONG_MIN));
    assert_null(lp_seek(lp, LONG_MAX));
    assert_null(lp_seek(lp, 9));
    assert_null(lp_seek(lp, -10));
    assert_string_equal(txt(lp_seek(lp, -9)), "0");
    assert_string_equal(txt(lp_seek(lp, 8)), "8000");
    assert_string_equal(txt(lp_seek(lp, 4)), "4000");
    assert_string_equal(txt(lp_seek(lp, 5)), "5000");
    lp_free(lp);
}

static void test_find_skip(void **state)
{
    (void)state;
    /* field/value pairs where values look like fields */
    static const char *kv[] = {"f1", "f2", "f2", "v2", "10", "f3", "f3", "10", "x", "-7"};
    unsigned char *lp = lp_new(0);
    for (size_t k = 0; k < 10; k++)
        lp = app(lp, kv[k]);
    unsigned char *first = lp_first(lp);
    assert_ptr_equal(lp_find(lp, first, "f2", 2, 1), lp_seek(lp, 2));
    assert_ptr_equal(lp_find(lp, first, "f2", 2, 0), lp_seek(lp, 1));
    assert_ptr_equal(lp_find(lp, first, "f3", 2, 1), lp_seek(lp, 6));
    assert_ptr_equal(lp_find(lp, first, "10", 2, 1), lp_seek(lp, 4));
    assert_ptr_equal(lp_find(lp, first, "x", 1, 1), lp_seek(lp, 8));
    assert_null(lp_find(lp, first, "v2", 2, 1));
    assert_null(lp_find(lp, first, "-7", 2, 1));
    assert_ptr_equal(lp_find(lp, first, "-7", 2, 0), lp_seek(lp, 9));
    assert_null(lp_find(lp, first, "010", 3, 0));
    assert_null(lp_find(lp, first, "", 0, 0));
    assert_null(lp_find(lp, NULL, "f1", 2, 0));
    /* from a later position; values only (start at 1, skip 1) */
    assert_ptr_equal(lp_find(lp, lp_seek(lp, 1), "10", 2, 1), lp_seek(lp, 7));
    assert_ptr_equal(lp_find(lp, lp_seek(lp, 1), "v2", 2, 1), lp_seek(lp, 3));
    /* skip 2 (triples) */
    assert_ptr_equal(lp_find(lp, first, "v2", 2, 2), lp_seek(lp, 3));
    assert_null(lp_find(lp, first, "f2", 2, 2));
    lp_free(lp);
}

static void test_delete_range(void **state)
{
    (void)state;
    static const char *all[] = {"0", "1", "2", "3", "4", "5", "6", "7"};
    static const struct {
        long index;
        size_t count;
        const char *left; /* remaining elements, as digits */
    } cases[] = {
        {0, 0, "01234567"}, {0, 1, "1234567"},  {0, 8, ""},        {0, 100, ""},
        {3, 2, "012567"},   {7, 1, "0123456"},  {7, 5, "0123456"}, {8, 1, "01234567"},
        {-1, 1, "0123456"}, {-3, 2, "012347"},  {-8, 3, "34567"},  {-9, 3, "01234567"},
        {LONG_MIN, 1, "01234567"}, {LONG_MAX, 1, "01234567"}, {2, SIZE_MAX, "01"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        unsigned char *lp = lp_new(0);
        for (size_t i = 0; i < 8; i++)
            lp = app(lp, all[i]);
        lp = lp_delete_range(lp, cases[k].index, cases[k].count);
        const char *want[8];
        size_t n = strlen(cases[k].left);
        for (size_t i = 0; i < n; i++)
            want[i] = all[cases[k].left[i] - '0'];
        expect(lp, want, n);
        lp_free(lp);
    }
}

/* 65535 and more elements: the header says "unknown", lp_count counts; once deletes
 * bring the listpack back under what 65535 elements need, the count is exact again. */
static void test_unknown_count(void **state)
{
    (void)state;
    /* Built by hand (65534 times the 1-byte integer i & 127 and its backlen): 65534
     * appends would copy the whole listpack each time under ASan's realloc. */
    size_t sz = LP_HDR_SIZE + 65534 * 2 + 1;
    unsigned char *lp = malloc(sz);
    lp[0] = (unsigned char)sz;
    lp[1] = (unsigned char)(sz >> 8);
    lp[2] = (unsigned char)(sz >> 16);
    lp[3] = 0;
    lp[4] = 65534 & 0xFF;
    lp[5] = 65534 >> 8;
    for (size_t i = 0; i < 65534; i++) {
        lp[LP_HDR_SIZE + 2 * i] = (unsigned char)(i & 127);
        lp[LP_HDR_SIZE + 2 * i + 1] = 1;
    }
    lp[sz - 1] = 0xFF;
    assert_true(lp_validate(lp, sz, NULL));
    assert_int_equal(lp_count(lp), 65534);
    assert_string_equal(txt(lp_seek(lp, 65533)), "125"); /* 65533 & 127 */
    lp = lp_append_int(lp, 1);
    assert_int_equal(lp[4] | lp[5] << 8, 65535);
    assert_int_equal(lp_count(lp), 65535);
    for (int i = 0; i < 1000; i++) /* one realloc each: kept short under ASan */
        lp = app(lp, "s");
    assert_int_equal(lp_count(lp), 66535);
    size_t n;
    assert_true(lp_validate(lp, lp_bytes(lp), &n));
    assert_int_equal(n, 66535);
    assert_string_equal(txt(lp_seek(lp, 65534)), "1");
    assert_string_equal(txt(lp_seek(lp, -1000)), "s");
    assert_string_equal(txt(lp_seek(lp, 1)), "1");
    /* delete a few: still too big to be sure, stays unknown but counts right */
    lp = lp_delete_range(lp, 0, 10);
    assert_int_equal(lp_count(lp), 66525);
    lp = lp_delete_range(lp, -2000, 1500);
    assert_int_equal(lp_count(lp), 65025);
    assert_int_equal(lp[4] | lp[5] << 8, 65025);
    assert_true(lp_validate(lp, lp_bytes(lp), &n));
    assert_int_equal(n, 65025);
    lp_free(lp);

    /* a restored listpack may say "unknown" with few elements: valid, counted, and
     * fixed by the first change */
    static const unsigned char raw[] = {0x0b, 0, 0, 0, 0xff, 0xff, 0x05, 0x01, 0x81, 'a', 0x02, 0xFF};
    assert_true(lp_validate(raw, sizeof raw - 1, NULL) == false);
    unsigned char *r = malloc(sizeof raw);
    memcpy(r, raw, sizeof raw);
    r[0] = sizeof raw;
    assert_true(lp_validate(r, sizeof raw, &n));
    assert_int_equal(n, 2);
    assert_int_equal(lp_count(r), 2);
    r = app(r, "z");
    assert_int_equal(r[4] | r[5] << 8, 3);
    expect(r, (const char *[]){"5", "a", "z"}, 3);
    lp_free(r);
}

/* ---- randomized: a model array against the listpack ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A random value: small and large integers, boundary ones, short and long strings. */
static size_t rand_val(char *buf)
{
    static const int64_t edges[] = {0,      127,    128,     -1,        -4096,   4095,
                                    -4097,  4096,   -32768,  32767,     8388607, -8388608,
                                    INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    switch (rnd() % 5) {
    case 0:
        return (size_t)sprintf(buf, "%lld", (long long)edges[rnd() % 16]);
    case 1:
        return (size_t)sprintf(buf, "%lld", (long long)(int64_t)rnd() >> (rnd() % 64));
    case 2: {
        size_t n = rnd() % 4 == 0 ? 60 + rnd() % 200 : rnd() % 8;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + rnd() % 26);
        return n;
    }
    case 3:
        return (size_t)sprintf(buf, "0%u", (unsigned)(rnd() % 100)); /* a string */
    default:
        return (size_t)sprintf(buf, "%u", (unsigned)(rnd() % 300));
    }
}

#define MODEL_MAX 300
static char model[MODEL_MAX][300];

static void test_random_ops(void **state)
{
    (void)state;
    size_t n = 0;
    unsigned char *lp = lp_new(16);
    char buf[300];
    for (int op = 0; op < 4000; op++) {
        size_t len = rand_val(buf);
        buf[len] = '\0';
        unsigned r = (unsigned)(rnd() % 8);
        if (n >= MODEL_MAX - 1)
            r = 7;
        size_t at = n ? (size_t)(rnd() % n) : 0;
        unsigned char *p = n ? lp_seek(lp, (long)at) : NULL;
        if (r <= 1 || !n) {
            lp = r == 0 ? lp_append(lp, buf, len) : lp_prepend(lp, buf, len);
            at = r == 0 ? n : 0;
            memmove(model[at + 1], model[at], (n - at) * sizeof model[0]);
            strcpy(model[at], buf);
            n++;
        } else if (r <= 3) {
            enum lp_where w = r == 2 ? LP_BEFORE : LP_AFTER;
            lp = lp_insert(lp, &p, w, buf, len);
            assert_string_equal(txt(p), buf);
            if (w == LP_AFTER)
                at++;
            memmove(model[at + 1], model[at], (n - at) * sizeof model[0]);
            strcpy(model[at], buf);
            n++;
        } else if (r == 4) {
            lp = lp_replace(lp, &p, buf, len);
            assert_string_equal(txt(p), buf);
            strcpy(model[at], buf);
        } else if (r == 5) {
            lp = lp_delete(lp, &p);
            memmove(model[at], model[at + 1], (n - at - 1) * sizeof model[0]);
            n--;
            if (at < n)
                assert_string_equal(txt(p), model[at]);
            else
                assert_null(p);
        } else if (r == 6) {
            assert_ptr_equal(lp_find(lp, lp_first(lp), model[at], strlen(model[at]), 0) != NULL,
                             true);
            assert_true(lp_eq(p, model[at], strlen(model[at])));
        } else {
            size_t cnt = (size_t)(rnd() % 6);
            lp = lp_delete_range(lp, (long)at - (long)n, cnt);
            size_t d = cnt < n - at ? cnt : n - at;
            memmove(model[at], model[at + d], (n - at - d) * sizeof model[0]);
            n -= d;
        }
        if (op % 50 == 0) {
            const char *want[MODEL_MAX];
            for (size_t i = 0; i < n; i++)
                want[i] = model[i];
            expect(lp, want, n);
        }
        assert_int_equal(lp_count(lp), n);
    }
    check_validate(lp);
    lp_free(lp);
}

/* Random bytes behind a consistent header and terminator: never a crash or an
 * out-of-bounds read; what is accepted walks. */
static void test_validate_fuzz(void **state)
{
    (void)state;
    static const unsigned char pick[] = {0x00, 0x05, 0x7F, 0x80, 0x81, 0x82, 0xBF, 0xC0,
                                         0xDF, 0xE0, 0xE1, 0xEF, 0xF0, 0xF1, 0xF2, 0xF3,
                                         0xF4, 0xF5, 0xFF, 0x01, 0x02, 0x03, 0x04};
    unsigned char b[64];
    for (int it = 0; it < 200000; it++) {
        size_t size = 7 + (size_t)(rnd() % 20);
        for (size_t i = 0; i < size; i++)
            b[i] = pick[rnd() % sizeof pick];
        b[0] = (unsigned char)size;
        b[1] = b[2] = b[3] = 0;
        if (rnd() % 2)
            b[5] = b[4] = 0xFF;
        else
            b[5] = 0, b[4] = (unsigned char)(rnd() % 4);
        b[size - 1] = 0xFF;
        validate_copy(b, size, NULL);
    }
    /* a 32-bit string length that runs past the end, one that wraps a u32 sum */
    static const unsigned char l1[] = {0x0d, 0, 0, 0, 1, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF, 0x05, 0xFF};
    assert_false(validate_copy(l1, sizeof l1, NULL));
    static const unsigned char l2[] = {0x0d, 0, 0, 0, 1, 0, 0xF0, 0xFB, 0xFF, 0xFF, 0xFF, 0x05, 0xFF};
    assert_false(validate_copy(l2, sizeof l2, NULL));
    assert_false(lp_validate(NULL, 0, NULL));
    static const unsigned char empty[] = {7, 0, 0, 0, 0, 0, 0xFF};
    size_t n = 99;
    assert_true(lp_validate(empty, sizeof empty, &n));
    assert_int_equal(n, 0);
    static const unsigned char badcount[] = {7, 0, 0, 0, 1, 0, 0xFF};
    assert_false(lp_validate(badcount, sizeof badcount, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_boundaries),
        cmocka_unit_test(test_str_lengths),
        cmocka_unit_test(test_noncanonical_strings),
        cmocka_unit_test(test_string_digits),
        cmocka_unit_test(test_redis_bytes_ints),
        cmocka_unit_test(test_redis_bytes_strings),
        cmocka_unit_test(test_insert_replace_delete),
        cmocka_unit_test(test_seek_extremes),
        cmocka_unit_test(test_find_skip),
        cmocka_unit_test(test_delete_range),
        cmocka_unit_test(test_unknown_count),
        cmocka_unit_test(test_random_ops),
        cmocka_unit_test(test_validate_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
