/* Number parsing and formatting against Redis 7.0's exact behaviour. The INCRBYFLOAT
 * results and the rejected inputs below were taken from a Redis 7.0 server. The long
 * double cases assume x86's 80-bit long double, as the server they came from. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/numfmt.h"

static bool i64(const char *s, int64_t *v) { return str_to_i64(s, strlen(s), v); }
static bool u64(const char *s, uint64_t *v) { return str_to_u64(s, strlen(s), v); }
static bool ld(const char *s, long double *v) { return str_to_ld(s, strlen(s), v); }
static bool dbl(const char *s, double *v) { return str_to_double(s, strlen(s), v); }

static void test_str_to_i64(void **state)
{
    (void)state;
    int64_t v = 7;
    assert_true(i64("0", &v));
    assert_int_equal(v, 0);
    assert_true(i64("-1", &v));
    assert_int_equal(v, -1);
    assert_true(i64("1234567890", &v));
    assert_int_equal(v, 1234567890);
    assert_true(i64("9223372036854775807", &v));
    assert_true(v == INT64_MAX);
    assert_true(i64("-9223372036854775808", &v));
    assert_true(v == INT64_MIN);
    v = 7;
    static const char *bad[] = {
        "", "-", "-0", "00", "01", "-01", "+1", " 1", "1 ", "1a", "a", "1.0", "0x10", "1e3",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "99999999999999999999", "000000000000000000001", "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (i64(bad[i], &v))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(v, 7); /* untouched on failure */
    assert_false(str_to_i64("12", 0, &v));
    assert_true(str_to_i64("123", 2, &v)); /* the length bounds the number */
    assert_int_equal(v, 12);
    assert_false(str_to_i64("1\0", 2, &v));
}

static void test_str_to_u64(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(u64("0", &v));
    assert_true(v == 0);
    assert_true(u64("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    assert_true(u64("9223372036854775808", &v));
    assert_true(v == (uint64_t)INT64_MAX + 1);
    static const char *bad[] = {"", "-1", "-0", "01", "+1", " 1", "1 ", "18446744073709551616",
                                "99999999999999999999", "184467440737095516150"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (u64(bad[i], &v))
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_str_to_ld(void **state)
{
    (void)state;
    long double v;
    assert_true(ld("10.5", &v));
    assert_true(v == 10.5L);
    assert_true(ld("0x10", &v)); /* strtold syntax: hex, */
    assert_true(v == 16);
    assert_true(ld(".5", &v)); /* no integer part, */
    assert_true(ld("1.", &v)); /* no fraction, */
    assert_true(ld("+5", &v)); /* explicit sign, */
    assert_true(ld("-.5e1", &v));
    assert_true(v == -5);
    assert_true(ld("inf", &v)); /* infinity (INCRBYFLOAT then refuses the result) */
    assert_true(isinf(v));
    assert_true(ld("infinity", &v));
    assert_true(ld("1e-4940", &v)); /* a denormal is fine */
    assert_true(v > 0);
    static const char *bad[] = {"", " 1", "\t1.5", "1 ", "1.5\t", "nan", "-nan", "NaN", "1e",
                                "1e5000", "-1e5000", "1e-5000", "abc", "1,5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ld(bad[i], &v))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_false(str_to_ld("1\0", 2, &v)); /* every byte must be used */
    assert_true(str_to_ld("1.5x", 3, &v));
    assert_true(v == 1.5L);
    /* Length limit: fewer than 5120 bytes. */
    char *s = malloc(NUMFMT_LD_MAX);
    assert_non_null(s);
    memset(s, '0', NUMFMT_LD_MAX);
    s[1] = '.';
    s[2] = '5';
    assert_true(str_to_ld(s, NUMFMT_LD_MAX - 1, &v));
    assert_true(v == 0.5L);
    assert_false(str_to_ld(s, NUMFMT_LD_MAX, &v));
    free(s);
}

static void test_str_to_double(void **state)
{
    (void)state;
    double v;
    assert_true(dbl("1.1", &v));
    assert_true(v == 1.1);
    assert_true(dbl("-inf", &v));
    assert_true(isinf(v) && v < 0);
    assert_true(dbl("4.9e-324", &v)); /* denormal */
    assert_true(dbl("0x1p-1074", &v));
    assert_true(dbl("0", &v));
    static const char *bad[] = {"", " 1", "1 ", "nan", "1e400", "-1e400", "1e-400", "x",
                                "\t1", "1e+"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dbl(bad[i], &v))
            fail_msg("accepted \"%s\"", bad[i]);
    assert_false(str_to_double("1\0", 2, &v));
    /* Long input (no length limit). */
    char s[600];
    memset(s, '0', sizeof s);
    s[0] = '1';
    s[1] = '.';
    assert_true(str_to_double(s, sizeof s, &v));
    assert_true(v == 1);
    s[599] = ' ';
    assert_false(str_to_double(s, sizeof s, &v));
}

static void test_i64_to_str(void **state)
{
    (void)state;
    char b[NUMFMT_I64_MAX];
    assert_int_equal(i64_to_str(b, 0), 1);
    assert_string_equal(b, "0");
    assert_int_equal(i64_to_str(b, -1), 2);
    assert_string_equal(b, "-1");
    assert_int_equal(i64_to_str(b, INT64_MIN), 20);
    assert_string_equal(b, "-9223372036854775808");
    assert_int_equal(i64_to_str(b, INT64_MAX), 19);
    assert_string_equal(b, "9223372036854775807");
    assert_int_equal(i64_to_str(b, 1000000), 7);
    assert_string_equal(b, "1000000");
}

struct incr_case {
    const char *value, *incr, *want;
};

/* SET k value; INCRBYFLOAT k incr -> want, on Redis 7.0. */
static const struct incr_case incr_cases[] = {
    {"10.5", "0.1", "10.6"},
    {"5.0e3", "0", "5000"},
    {"3.0e3", "1.5e-5", "3000.0000150000000001"},
    {"-0", "-0", "0"},
    {"0", "-1e-20", "0"},
    {"0.1", "0.2", "0.3"},
    {"1.1", "2.2", "3.3"},
    {"123456789.123456789", "0", "123456789.12345678899873747"},
    {"1.5", "1.0e3", "1001.5"},
    {"1001.5", "1e17", "100000000000001001.5"},
    {"0", "1e-17", "0.00000000000000001"},
    {"0", "1e-18", "0"},
    {"1", "-0.9", "0.1"},
    {"-1", "0.5", "-0.5"},
    {"0x10", "1", "17"},
    {".5", "1", "1.5"},
    {"+5", "1", "6"},
    {"3", "-3", "0"},
    {"1e20", "0", "100000000000000000000"},
    {"0", "0.00000000000000001", "0.00000000000000001"},
    {"0", "0.000000000000000005", "0"},
    {"0", "0.000000000000000004", "0"},
    {"2.5", "2.5", "5"},
    {"100", "-0.001", "99.999"},
    {"-5e-18", "0", "0"},
};

static void test_ld_human_incrbyfloat(void **state)
{
    (void)state;
    char b[NUMFMT_LD_MAX];
    for (size_t i = 0; i < sizeof incr_cases / sizeof incr_cases[0]; i++) {
        const struct incr_case *c = &incr_cases[i];
        long double v, inc;
        assert_true(ld(c->value, &v));
        assert_true(ld(c->incr, &inc));
        int n = ld_to_str_human(b, sizeof b, v + inc);
        if (n != (int)strlen(c->want) || strcmp(b, c->want) != 0)
            fail_msg("%s + %s: got \"%s\", want \"%s\"", c->value, c->incr, b, c->want);
    }
    /* The largest double, printed in full. */
    long double v;
    assert_true(ld("1.7976931348623157e308", &v));
    assert_int_equal(ld_to_str_human(b, sizeof b, v), 309);
    assert_memory_equal(b, "17976931348623156999", 20);
    assert_string_equal(b + 299, "3339536384");
}

static void test_ld_human_edges(void **state)
{
    (void)state;
    char b[64];
    assert_int_equal(ld_to_str_human(b, sizeof b, INFINITY), 3);
    assert_string_equal(b, "inf");
    assert_int_equal(ld_to_str_human(b, sizeof b, -INFINITY), 4);
    assert_string_equal(b, "-inf");
    assert_int_equal(ld_to_str_human(b, 4, -INFINITY), 0); /* needs 5 bytes */
    assert_int_equal(ld_to_str_human(b, sizeof b, -0.0L), 1);
    assert_string_equal(b, "0");
    assert_int_equal(ld_to_str_human(b, sizeof b, 100), 3);
    assert_string_equal(b, "100");
    assert_int_equal(ld_to_str_human(b, sizeof b, -2.5L), 4);
    assert_string_equal(b, "-2.5");
    /* "%.17Lf" of 100 needs 22 bytes with the NUL: smaller buffers fail. */
    assert_int_equal(ld_to_str_human(b, 21, 100), 0);
    assert_int_equal(ld_to_str_human(b, 22, 100), 3);
    /* The largest long double needs 4951 bytes: within NUMFMT_LD_MAX. */
    char *big = malloc(NUMFMT_LD_MAX);
    assert_non_null(big);
    int n = ld_to_str_human(big, NUMFMT_LD_MAX, LDBL_MAX);
    assert_true(n > 4900 && (size_t)n == strlen(big));
    free(big);
}

static void check_d(double d, const char *want)
{
    char b[64];
    int n = double_to_str(b, sizeof b, d);
    assert_string_equal(b, want);
    assert_int_equal(n, strlen(want));
}

static void test_double_to_str(void **state)
{
    (void)state;
    /* Values as ZSCORE prints them on Redis 7.0. */
    check_d(1.1, "1.1000000000000001");
    check_d(3, "3");
    check_d(1e20, "1e+20");
    check_d(0.1, "0.10000000000000001");
    check_d(123456789012345678.0, "1.2345678901234568e+17");
    check_d(INFINITY, "inf");
    check_d(-INFINITY, "-inf");
    check_d(NAN, "nan");
    check_d(0.0, "0");
    check_d(-0.0, "-0");
    check_d(-1.5, "-1.5");
    check_d(4503599627370495.0, "4503599627370495");   /* integer shortcut */
    check_d(-4503599627370494.0, "-4503599627370494");
    check_d(4503599627370496.0, "4503599627370496");   /* %.17g, same digits */
    check_d(1e16, "10000000000000000");
    check_d(1e17, "1e+17");
    check_d(5e-324, "4.9406564584124654e-324");
    char b[4];
    assert_int_equal(double_to_str(b, sizeof b, 12345), 0);
    assert_int_equal(double_to_str(b, sizeof b, 1.5), 3);
    assert_string_equal(b, "1.5");
    assert_int_equal(double_to_str(b, sizeof b, 1.25), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_to_i64),
        cmocka_unit_test(test_str_to_u64),
        cmocka_unit_test(test_str_to_ld),
        cmocka_unit_test(test_str_to_double),
        cmocka_unit_test(test_i64_to_str),
        cmocka_unit_test(test_ld_human_incrbyfloat),
        cmocka_unit_test(test_ld_human_edges),
        cmocka_unit_test(test_double_to_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
