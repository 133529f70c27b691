/* Number parsing and formatting with Redis's exact rules (string2ll, string2ld,
 * ld2string, d2string), so that replies and errors match byte for byte. */
#ifndef COREKV_BASE_NUMFMT_H
#define COREKV_BASE_NUMFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NUMFMT_I64_MAX 21  /* "-9223372036854775808" plus NUL */
#define NUMFMT_LD_MAX 5120 /* MAX_LONG_DOUBLE_CHARS in Redis */

/* Strict: optional '-', no leading zeros (except "0"), no spaces, no '+', fits int64. */
bool str_to_i64(const char *s, size_t len, int64_t *out);
bool str_to_u64(const char *s, size_t len, uint64_t *out);
/* As Redis string2ld: strtold on the whole string, no spaces, not NaN. */
bool str_to_ld(const char *s, size_t len, long double *out);
/* As Redis string2d / getDoubleFromObject: strtod, whole string, no spaces, not NaN. */
bool str_to_double(const char *s, size_t len, double *out);
/* A memory value as Redis's memtoull: digits, then an optional unit b k kb m mb g gb
 * (any case; k = 1000, kb = 1024); false on overflow. */
bool str_to_mem(const char *s, size_t len, uint64_t *out);
/* Returns length written (no NUL counted). buf needs NUMFMT_I64_MAX bytes. */
int i64_to_str(char *buf, int64_t v);
/* As Redis ld2string in LD_STR_HUMAN mode (INCRBYFLOAT's reply): "%.17Lf" with
 * trailing zeros and point trimmed; "inf"/"-inf". Returns 0 if it does not fit. */
int ld_to_str_human(char *buf, size_t len, long double v);
/* As Redis d2string / addReplyDouble in RESP2: "%.17g", "inf", "-inf", integers
 * printed without exponent when exact. */
int double_to_str(char *buf, size_t len, double v);

#endif
