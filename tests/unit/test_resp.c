/* RESP writer (byte-exact, both protocols) and reader. Double formatting was checked
 * against ZSCORE on a Redis 7.0 server in RESP2 and after HELLO 3. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/resp.h"

static struct buf b;

static int reset(void **state)
{
    (void)state;
    buf_free(&b);
    return 0;
}

/* Compare the whole buffer, then empty it. */
static void expect_n(const char *want, size_t n)
{
    if (b.len != n || memcmp(b.data, want, n) != 0)
        fail_msg("got \"%.*s\" want \"%.*s\"", (int)b.len, b.data ? b.data : "", (int)n, want);
    b.len = 0;
}
#define EXPECT(lit) expect_n(lit, sizeof(lit) - 1)

static void test_scalars(void **state)
{
    (void)state;
    resp_ok(&b);
    EXPECT("+OK\r\n");
    resp_simple(&b, "PONG");
    EXPECT("+PONG\r\n");
    resp_simple(&b, "");
    EXPECT("+\r\n");
    resp_int(&b, 0);
    EXPECT(":0\r\n");
    resp_int(&b, -42);
    EXPECT(":-42\r\n");
    resp_int(&b, INT64_MIN);
    EXPECT(":-9223372036854775808\r\n");
    resp_int(&b, INT64_MAX);
    EXPECT(":9223372036854775807\r\n");
    resp_bulk(&b, "hello", 5);
    EXPECT("$5\r\nhello\r\n");
    resp_bulk(&b, "", 0);
    EXPECT("$0\r\n\r\n");
    resp_bulk(&b, NULL, 0);
    EXPECT("$0\r\n\r\n");
    resp_bulk(&b, "a\0\r\nb", 5);
    EXPECT("$5\r\na\0\r\nb\r\n");
    resp_bulk_cstr(&b, "xyz");
    EXPECT("$3\r\nxyz\r\n");
    resp_bulk_i64(&b, -12345);
    EXPECT("$6\r\n-12345\r\n");
    resp_bulk_i64(&b, INT64_MIN);
    EXPECT("$20\r\n-9223372036854775808\r\n");
}

static void test_errors(void **state)
{
    (void)state;
    resp_error(&b, "ERR unknown command");
    EXPECT("-ERR unknown command\r\n");
    resp_error(&b, "ERR a\r\nb\nc\rd");
    EXPECT("-ERR a  b c d\r\n");
    resp_error(&b, "Protocol error: expected '$', got '\r'");
    EXPECT("-Protocol error: expected '$', got ' '\r\n");
    resp_errorf(&b, "WRONGTYPE %s %d", "x", 5);
    EXPECT("-WRONGTYPE x 5\r\n");
    resp_errorf(&b, "ERR %s", "line1\nline2");
    EXPECT("-ERR line1 line2\r\n");
    /* A message longer than any internal stack buffer. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[500] = '\n';
    resp_errorf(&b, "ERR %s!", big);
    assert_int_equal(b.len, 1 + 4 + 999 + 1 + 2);
    assert_memory_equal(b.data, "-ERR xxx", 8);
    assert_int_equal(b.data[5 + 500], ' ');
    assert_memory_equal(b.data + b.len - 4, "x!\r\n", 4);
    assert_null(memchr(b.data, '\n', b.len - 1));
    b.len = 0;
}

static void test_nulls_and_aggregates(void **state)
{
    (void)state;
    resp_null(&b, 2);
    EXPECT("$-1\r\n");
    resp_null(&b, 3);
    EXPECT("_\r\n");
    resp_null_array(&b, 2);
    EXPECT("*-1\r\n");
    resp_null_array(&b, 3);
    EXPECT("_\r\n");
    resp_array(&b, 0);
    EXPECT("*0\r\n");
    resp_array(&b, 3);
    EXPECT("*3\r\n");
    resp_map(&b, 2, 2);
    EXPECT("*4\r\n");
    resp_map(&b, 2, 3);
    EXPECT("%2\r\n");
    resp_set(&b, 5, 2);
    EXPECT("*5\r\n");
    resp_set(&b, 5, 3);
    EXPECT("~5\r\n");
    resp_bool(&b, true, 2);
    EXPECT(":1\r\n");
    resp_bool(&b, false, 2);
    EXPECT(":0\r\n");
    resp_bool(&b, true, 3);
    EXPECT("#t\r\n");
    resp_bool(&b, false, 3);
    EXPECT("#f\r\n");
    resp_verbatim(&b, "hello", 5, 2);
    EXPECT("$5\r\nhello\r\n");
    resp_verbatim(&b, "hello", 5, 3);
    EXPECT("=9\r\ntxt:hello\r\n");
    resp_verbatim(&b, "", 0, 3);
    EXPECT("=4\r\ntxt:\r\n");
}

static void test_doubles(void **state)
{
    (void)state;
    resp_double(&b, 1.1, 2);
    EXPECT("$18\r\n1.1000000000000001\r\n");
    resp_double(&b, 1.1, 3);
    EXPECT(",1.1000000000000001\r\n");
    resp_double(&b, INFINITY, 2);
    EXPECT("$3\r\ninf\r\n");
    resp_double(&b, -INFINITY, 2);
    EXPECT("$4\r\n-inf\r\n");
    resp_double(&b, INFINITY, 3);
    EXPECT(",inf\r\n");
    resp_double(&b, -INFINITY, 3);
    EXPECT(",-inf\r\n");
    resp_double(&b, 3, 2);
    EXPECT("$1\r\n3\r\n");
    resp_double(&b, 3, 3);
    EXPECT(",3\r\n");
    resp_double(&b, 1e20, 2);
    EXPECT("$5\r\n1e+20\r\n");
    resp_double(&b, 1e20, 3);
    EXPECT(",1e+20\r\n");
    resp_double(&b, 0, 2);
    EXPECT("$1\r\n0\r\n");
    resp_double(&b, 123456789012345678.0, 3);
    EXPECT(",1.2345678901234568e+17\r\n");
    resp_double(&b, -2.5e-300, 2);
    EXPECT("$9\r\n-2.5e-300\r\n");
}

/* Many values appended to one buffer: growth keeps earlier bytes. */
static void test_growth(void **state)
{
    (void)state;
    for (int i = 0; i < 10000; i++)
        resp_int(&b, i);
    size_t pos = 0;
    for (int i = 0; i < 10000; i++) {
        struct resp_val v;
        assert_true(resp_read(b.data, b.len, &pos, &v));
        assert_int_equal(v.type, RESP_INT);
        assert_int_equal(v.n, i);
    }
    assert_int_equal(pos, b.len);
    b.len = 0;
}

static void test_read_scalars(void **state)
{
    (void)state;
    static const char in[] = "+OK\r\n-ERR bad\r\n:-7\r\n$3\r\na\rb\r\n$-1\r\n$0\r\n\r\n_\r\n"
                             "#t\r\n#f\r\n,1.5\r\n(12345678901234567890\r\n=8\r\ntxt:abcd\r\n";
    size_t pos = 0, len = sizeof in - 1;
    struct resp_val v;
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_SIMPLE);
    assert_int_equal(v.len, 2);
    assert_memory_equal(v.str, "OK", 2);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_ERROR);
    assert_int_equal(v.len, 7);
    assert_memory_equal(v.str, "ERR bad", 7);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_INT);
    assert_int_equal(v.n, -7);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_BULK);
    assert_int_equal(v.n, 3);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.str, "a\rb", 3);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_BULK);
    assert_int_equal(v.n, -1);
    assert_null(v.str);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_BULK);
    assert_int_equal(v.len, 0);
    assert_non_null(v.str);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_NULL);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_BOOL);
    assert_int_equal(v.n, 1);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_BOOL);
    assert_int_equal(v.n, 0);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_DOUBLE);
    assert_memory_equal(v.str, "1.5", 3);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_BIGNUM);
    assert_int_equal(v.len, 20);
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_VERBATIM);
    assert_int_equal(v.len, 4);
    assert_memory_equal(v.str, "abcd", 4);
    assert_int_equal(pos, len);
    assert_false(resp_read(in, len, &pos, &v));
}

static void test_read_aggregates(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n%1\r\n~0\r\n>3\r\n*-1\r\n";
    size_t pos = 0, len = sizeof in - 1;
    struct resp_val v;
    const enum resp_type types[] = {RESP_ARRAY, RESP_MAP, RESP_SET, RESP_PUSH, RESP_ARRAY};
    const int64_t counts[] = {2, 1, 0, 3, -1};
    for (int i = 0; i < 5; i++) {
        assert_true(resp_read(in, len, &pos, &v));
        assert_int_equal(v.type, types[i]);
        assert_int_equal(v.n, counts[i]);
    }
    assert_int_equal(pos, len);
}

static void test_read_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        ":x\r\n",  ":\r\n",  ":1\n",     "#x\r\n",      "_x\r\n",        "$3\r\nab\r\n",
        "$3\r\nabcd\r\n", "$-2\r\n", "*-2\r\n", "%-1\r\n", "~-1\r\n", "=3\r\ntxt\r\n",
        "=5\r\ntxtab\r\n", "!3\r\nabc\r\n", "|1\r\n", "+OK\rX", "$1\r\na\rX", "",
        ":99999999999999999999\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t pos = 0;
        struct resp_val v;
        if (resp_read(bad[i], strlen(bad[i]), &pos, &v))
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(pos, 0);
    }
}

/* Every strict prefix of a value is short input, never a value. */
static void test_truncation(void **state)
{
    (void)state;
    resp_array(&b, 3);
    resp_bulk(&b, "ab", 2);
    resp_map(&b, 1, 3);
    resp_simple(&b, "k");
    resp_set(&b, 2, 3);
    resp_int(&b, 1);
    resp_null(&b, 3);
    resp_double(&b, 2.5, 3);
    size_t pos = 0;
    assert_true(resp_skip(b.data, b.len, &pos));
    assert_int_equal(pos, b.len);
    for (size_t cut = 0; cut < b.len; cut++) {
        pos = 0;
        assert_false(resp_skip(b.data, cut, &pos));
        assert_int_equal(pos, 0);
    }
    b.len = 0;
}

static void test_skip(void **state)
{
    (void)state;
    static const char in[] = "*3\r\n$1\r\na\r\n*2\r\n:1\r\n%1\r\n+k\r\n_\r\n*-1\r\n+next\r\n";
    size_t pos = 0, len = sizeof in - 1;
    assert_true(resp_skip(in, len, &pos));
    assert_int_equal(pos, len - 7);
    struct resp_val v;
    assert_true(resp_read(in, len, &pos, &v));
    assert_int_equal(v.type, RESP_SIMPLE);

    /* A count larger than the input allows fails at once. */
    pos = 0;
    assert_false(resp_skip("*9223372036854775807\r\n:1\r\n", 26, &pos));
    pos = 0;
    assert_false(resp_skip("%4611686018427387904\r\n:1\r\n", 26, &pos));

    /* Deep nesting needs no recursion. */
    enum { DEPTH = 200000 };
    for (int i = 0; i < DEPTH; i++)
        resp_array(&b, 1);
    resp_int(&b, 7);
    pos = 0;
    assert_true(resp_skip(b.data, b.len, &pos));
    assert_int_equal(pos, b.len);
    pos = 0;
    assert_false(resp_skip(b.data, b.len - 1, &pos));
    b.len = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_scalars, reset),
        cmocka_unit_test_teardown(test_errors, reset),
        cmocka_unit_test_teardown(test_nulls_and_aggregates, reset),
        cmocka_unit_test_teardown(test_doubles, reset),
        cmocka_unit_test_teardown(test_growth, reset),
        cmocka_unit_test_teardown(test_read_scalars, reset),
        cmocka_unit_test_teardown(test_read_aggregates, reset),
        cmocka_unit_test_teardown(test_read_malformed, reset),
        cmocka_unit_test_teardown(test_truncation, reset),
        cmocka_unit_test_teardown(test_skip, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
