/* Number parsing and formatting that reproduces Redis's util.c byte for byte.
 *
 * Floating-point parsing goes through the C library (strtod/strtold) exactly as Redis
 * does, so that inputs such as "0x10", "inf", ".5" or "1." are accepted or rejected
 * the same way. These functions assume the "C" numeric locale, as Redis does. */
#include "base/numfmt.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Redis's LONG_STR_SIZE: string2ll rejects 21 or more bytes outright. */
#define LONG_STR_SIZE 21

/* Parse the unsigned magnitude of a strict decimal: first digit 1-9 (or the lone
 * "0"), only digits after it, no overflow of uint64. */
static bool parse_magnitude(const char *s, size_t len, uint64_t *out)
{
    if (len == 0)
        return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] < '1' || s[0] > '9')
        return false;
    uint64_t v = (uint64_t)(s[0] - '0');
    for (size_t i = 1; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool str_to_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len >= LONG_STR_SIZE)
        return false;
    bool neg = s[0] == '-';
    uint64_t v;
    if (neg) {
        /* "-0" is rejected, as string2ll does: after '-' the first digit is 1-9. */
        if (len == 1 || s[1] == '0' || !parse_magnitude(s + 1, len - 1, &v))
            return false;
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        /* Negate in unsigned arithmetic: v == 2^63 maps to INT64_MIN without overflow. */
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        return true;
    }
    if (!parse_magnitude(s, len, &v) || v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

bool str_to_u64(const char *s, size_t len, uint64_t *out)
{
    if (len >= LONG_STR_SIZE)
        return false;
    return parse_magnitude(s, len, out);
}

/* The checks shared by string2d and string2ld once the C library has parsed buf:
 * no leading space, every byte used, no overflow to infinity or underflow to zero
 * (a denormal result is accepted), not NaN. */
static bool float_parse_ok(const char *buf, const char *end, size_t len, bool huge,
                           bool zero, bool nan)
{
    if (isspace((unsigned char)buf[0]) || (size_t)(end - buf) != len)
        return false;
    if (errno == ERANGE && (huge || zero))
        return false;
    return !nan;
}

bool str_to_ld(const char *s, size_t len, long double *out)
{
    char buf[NUMFMT_LD_MAX];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (!float_parse_ok(buf, end, len, isinf(v), v == 0, isnan(v)))
        return false;
    *out = v;
    return true;
}

bool str_to_double(const char *s, size_t len, double *out)
{
    /* strtod needs a terminated string; Redis's sds values are terminated, ours are
     * not, so copy. string2d puts no limit on the length. */
    char small[128];
    char *buf = small;
    if (len == 0)
        return false;
    if (len >= sizeof small) {
        buf = malloc(len + 1);
        if (!buf)
            abort();
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    bool ok = float_parse_ok(buf, end, len, isinf(v), v == 0, isnan(v));
    if (buf != small)
        free(buf);
    if (ok)
        *out = v;
    return ok;
}

int i64_to_str(char *buf, int64_t v)
{
    char tmp[NUMFMT_I64_MAX];
    /* Work on the unsigned magnitude so INT64_MIN needs no special case. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t l = 0;
    if (v < 0)
        buf[l++] = '-';
    while (n)
        buf[l++] = tmp[--n];
    buf[l] = '\0';
    return (int)l;
}

int ld_to_str_human(char *buf, size_t len, long double v)
{
    size_t l;
    if (isinf(v)) {
        if (len < 5)
            return 0;
        l = v > 0 ? 3 : 4;
        memcpy(buf, v > 0 ? "inf" : "-inf", l);
        buf[l] = '\0';
        return (int)l;
    }
    /* 17 digits after the point: with 80/128-bit long doubles this rounds most short
     * decimals back to what the user typed (10.5 + 0.1 -> "10.6"). */
    int n = snprintf(buf, len, "%.17Lf", v);
    if (n < 0 || (size_t)n + 1 > len)
        return 0;
    l = (size_t)n;
    if (memchr(buf, '.', l)) {
        while (buf[l - 1] == '0')
            l--;
        if (buf[l - 1] == '.')
            l--;
    }
    /* A negative value too small for 17 decimals prints as "-0"; Redis answers "0". */
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return (int)l;
}

int double_to_str(char *buf, size_t len, double v)
{
    int n;
    if (isnan(v)) {
        n = snprintf(buf, len, "nan");
    } else if (isinf(v)) {
        n = snprintf(buf, len, "%s", v < 0 ? "-inf" : "inf");
    } else if (v == 0) {
        n = snprintf(buf, len, "%s", signbit(v) ? "-0" : "0");
    } else if (v > -4503599627370495.0 && v < 4503599627370496.0 &&
               v == (double)(long long)v) {
        /* |v| < 2^52 and integral: the cast is exact; print as an integer. */
        char tmp[NUMFMT_I64_MAX];
        n = i64_to_str(tmp, (int64_t)v);
        if ((size_t)n >= len)
            return 0;
        memcpy(buf, tmp, (size_t)n + 1);
        return n;
    } else {
        n = snprintf(buf, len, "%.17g", v);
    }
    if (n < 0 || (size_t)n >= len)
        return 0;
    return n;
}

bool str_to_mem(const char *s, size_t len, uint64_t *out)
{
    if (len && s[0] == '-')
        return false;
    size_t d = 0;
    while (d < len && s[d] >= '0' && s[d] <= '9')
        d++;
    const char *u = s + d;
    size_t ul = len - d;
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000000}, {"mb", 1024 * 1024},
        {"g", 1000000000}, {"gb", 1024ull * 1024 * 1024},
    };
    uint64_t mul = 0;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strlen(units[i].unit) == ul && strncasecmp(u, units[i].unit, ul) == 0)
            mul = units[i].mul;
    if (!mul || d >= 128)
        return false;
    /* strtoull saturates on overflow, and Redis takes the saturated value. */
    uint64_t v = 0;
    for (size_t i = 0; i < d; i++) {
        unsigned dig = (unsigned)(s[i] - '0');
        v = v > (UINT64_MAX - dig) / 10 ? UINT64_MAX : v * 10 + dig;
    }
    if (v > UINT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}
