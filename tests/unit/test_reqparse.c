/* Request parser: results must not depend on how the input is split into reads, on
 * whether consumed bytes are dropped between reads, or on the buffer moving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/reqparse.h"

/* ---- A growable text transcript of what the parser returned ---- */

struct text {
    char *s;
    size_t len, cap;
};

static void text_put(struct text *t, const char *p, size_t n)
{
    if (t->cap - t->len < n + 1) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap - t->len < n + 1)
            cap *= 2;
        t->s = realloc(t->s, cap);
        assert_non_null(t->s);
        t->cap = cap;
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(struct text *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    text_put(t, tmp, (size_t)n);
}

/* Arguments with non-printable bytes escaped, so a transcript is one comparable string. */
static void text_arg(struct text *t, const char *p, size_t n)
{
    text_put(t, "[", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != ']')
            text_put(t, (const char *)&c, 1);
        else
            text_printf(t, "\\x%02x", c);
    }
    text_put(t, "]", 1);
}

/* ---- A simulated connection: input arrives in chunks ending at cuts[] ---- */

/* Feed in[0..n) in chunks. With `drop`, consumed bytes are removed from the buffer
 * (and the parser rebased) after each read, as a server does. Small buffers are moved
 * to a fresh allocation on every read, so a parser holding pointers would fail under
 * ASan. Returns the transcript (caller frees). */
static char *drive(const char *in, size_t n, const size_t *cuts, size_t ncuts,
                   const struct req_limits *lim, bool drop)
{
    struct reqparse p;
    reqparse_init(&p);
    char *data = NULL;
    size_t len = 0, cap = 0, fed = 0;
    struct text t = {0};
    text_put(&t, "", 0);
    for (size_t c = 0; c <= ncuts; c++) {
        size_t upto = c < ncuts ? cuts[c] : n;
        size_t add = upto - fed;
        if (len + add < 4096) {
            char *nd = malloc(len + add + 1);
            assert_non_null(nd);
            if (len)
                memcpy(nd, data, len);
            free(data);
            data = nd;
            cap = len + add + 1;
        } else if (cap < len + add) {
            while (cap < len + add)
                cap = cap * 2 + 4096;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        if (add)
            memcpy(data + len, in + fed, add);
        len += add;
        fed = upto;
        for (;;) {
            const char *err = NULL;
            enum req_status st = reqparse_next(&p, data, len, lim, &err);
            if (st == REQ_COMMAND) {
                assert_true(p.nargs > 0);
                text_printf(&t, "%zu:", p.nargs);
                for (size_t i = 0; i < p.nargs; i++) {
                    assert_true(p.args[i].off + p.args[i].len <= len);
                    text_arg(&t, data + p.args[i].off, p.args[i].len);
                }
                text_put(&t, "\n", 1);
                continue;
            }
            if (st == REQ_ERROR) {
                text_printf(&t, "ERR:%s\n", err);
                goto done;
            }
            break;
        }
        if (drop) {
            size_t k = reqparse_consumed(&p);
            if (k) {
                memmove(data, data + k, len - k);
                len -= k;
                reqparse_rebase(&p, k);
            }
        }
    }
    text_printf(&t, "PENDING:%zu\n", len - reqparse_consumed(&p));
done:
    free(data);
    reqparse_free(&p);
    return t.s;
}

static char *oneshot(const char *in, size_t n, const struct req_limits *lim)
{
    return drive(in, n, NULL, 0, lim, false);
}

static void expect(const char *in, size_t n, const struct req_limits *lim, const char *want)
{
    char *got = oneshot(in, n, lim);
    assert_string_equal(got, want);
    free(got);
}
#define EXPECT(lit, want) expect(lit, sizeof(lit) - 1, NULL, want)

/* The same transcript whatever the chunking: every single split point, byte by byte,
 * and (for short inputs) every pair of split points; with and without dropping. */
static void check_splits(const char *in, size_t n, const struct req_limits *lim, bool pairs)
{
    char *ref = oneshot(in, n, lim);
    size_t *cuts = malloc((n + 1) * sizeof *cuts);
    assert_non_null(cuts);
    for (int drop = 0; drop <= 1; drop++) {
        for (size_t i = 0; i <= n; i++) {
            cuts[0] = i;
            char *got = drive(in, n, cuts, 1, lim, drop);
            assert_string_equal(got, ref);
            free(got);
        }
        for (size_t i = 0; i + 1 < n; i++)
            cuts[i] = i + 1;
        char *got = drive(in, n, cuts, n ? n - 1 : 0, lim, drop);
        assert_string_equal(got, ref);
        free(got);
    }
    if (pairs) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                cuts[0] = i;
                cuts[1] = j;
                char *got = drive(in, n, cuts, 2, lim, (i + j) & 1);
                assert_string_equal(got, ref);
                free(got);
            }
    }
    free(cuts);
    free(ref);
}

/* A pipeline touching every construct the parser knows. */
static const char PIPELINE[] =
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$6\r\nva\r\nl\n\r\n" /* CR LF inside a bulk */
    "*0\r\n*-1\r\n*-5\r\n"                                /* empty commands: skipped */
    "PING\r\n"
    "\r\n"
    "  \t \n"                                             /* blank inline lines */
    "ECHO \"a b\" 'c' \"\\x41\\n\"\n"
    "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
    "*1\r\n$4\r\nPINGxy"                                  /* trailer bytes not checked */
    "*1\rX$4\rYPING\r\n"                                  /* nor the byte after a CR */
    "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3\r\n"
    "*2\r\n$3\r\nGET\r\n$8\r\n\0\1\r\n\n\r*$\r\n"
    "set 'x y'   \"\"  ''\r\n";

static const char PIPELINE_WANT[] =
    "3:[SET][key][va\\x0d\\x0al\\x0a]\n"
    "1:[PING]\n"
    "4:[ECHO][a b][c][A\\x0a]\n"
    "2:[ECHO][]\n"
    "1:[PING]\n"
    "1:[PING]\n"
    "29:[a][b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r][s][t][u][v][w][x][y][z]"
    "[1][2][3]\n"
    "2:[GET][\\x00\\x01\\x0d\\x0a\\x0a\\x0d*$]\n"
    "4:[set][x y][][]\n"
    "PENDING:0\n";

static void test_pipeline(void **state)
{
    (void)state;
    expect(PIPELINE, sizeof PIPELINE - 1, NULL, PIPELINE_WANT);
    check_splits(PIPELINE, sizeof PIPELINE - 1, NULL, false);
}

static void test_pipeline_pairs(void **state)
{
    (void)state;
    static const char in[] = "*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n*0\r\nPING x\n"
                             "ECHO \"q\\\"\" 'r\\''\r\n*1\r\n$1\r\nZ\r\n*1\r\n$1";
    expect(in, sizeof in - 1, NULL,
           "2:[ECHO][a\\x0d\\x0a]\n2:[PING][x]\n3:[ECHO][q\"][r']\n1:[Z]\nPENDING:6\n");
    check_splits(in, sizeof in - 1, NULL, true);
}

/* Random pipelines (valid and damaged multibulk, inline with quotes and escapes)
 * give the same transcript under random chunkings. */
static uint32_t rnd_state = 2463534242u;
static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state % n;
}

static void gen_pipeline(struct text *t)
{
    static const char ialpha[] = "ab \t\"'\\x4Fn\r\v";
    static const char balpha[] = "ab\r\n$*\0";
    static const char damage[] = "*$\r\n0123-x +";
    size_t parts = 1 + rnd(6);
    for (size_t k = 0; k < parts; k++) {
        uint32_t kind = rnd(10);
        if (kind < 4) {
            text_put(t, "CMD ", 4);
            size_t n = rnd(14);
            for (size_t i = 0; i < n; i++)
                text_put(t, &ialpha[rnd(sizeof ialpha - 1)], 1);
            if (rnd(2))
                text_put(t, "\r\n", 2);
            else
                text_put(t, "\n", 1);
        } else if (kind < 9) {
            size_t start = t->len, nargs = 1 + rnd(4);
            text_printf(t, "*%zu\r\n", nargs);
            for (size_t a = 0; a < nargs; a++) {
                size_t n = rnd(6);
                text_printf(t, "$%zu\r\n", n);
                for (size_t i = 0; i < n; i++)
                    text_put(t, &balpha[rnd(sizeof balpha - 1)], 1);
                text_put(t, "\r\n", 2);
            }
            if (rnd(4) == 0)
                t->s[start + rnd((uint32_t)(t->len - start))] = damage[rnd(sizeof damage - 1)];
        } else {
            static const char *const empty[] = {"\r\n", "\n", "*0\r\n", "*-1\r\n", "  \n"};
            const char *e = empty[rnd(5)];
            text_put(t, e, strlen(e));
        }
    }
}

static void test_random_chunking(void **state)
{
    (void)state;
    size_t cuts[16];
    for (int it = 0; it < 3000; it++) {
        struct text t = {0};
        gen_pipeline(&t);
        char *ref = oneshot(t.s, t.len, NULL);
        for (int c = 0; c < 20; c++) {
            size_t ncuts = rnd(16), prev = 0;
            for (size_t i = 0; i < ncuts; i++) {
                prev += rnd((uint32_t)(t.len - prev + 1));
                cuts[i] = prev;
            }
            char *got = drive(t.s, t.len, cuts, ncuts, NULL, c & 1);
            if (strcmp(got, ref) != 0)
                fail_msg("chunking changed the result:\n%s\nvs\n%s", got, ref);
            free(got);
        }
        free(ref);
        free(t.s);
    }
}

/* Every error, after a valid command, checked at every split point. */
static void check_error(const char *in, size_t n, const struct req_limits *lim, const char *err)
{
    static const char head[] = "*1\r\n$4\r\nPING\r\n";
    size_t tot = sizeof head - 1 + n;
    char *buf = malloc(tot);
    assert_non_null(buf);
    memcpy(buf, head, sizeof head - 1);
    memcpy(buf + sizeof head - 1, in, n);
    char want[256];
    snprintf(want, sizeof want, "1:[PING]\nERR:%s\n", err);
    expect(buf, tot, lim, want);
    check_splits(buf, tot, lim, false);
    free(buf);
}
#define CHECK_ERROR(lit, err) check_error(lit, sizeof(lit) - 1, NULL, err)

static void test_multibulk_errors(void **state)
{
    (void)state;
    const char *inv = "Protocol error: invalid multibulk length";
    CHECK_ERROR("*x\r\n", inv);
    CHECK_ERROR("*\r\n", inv);
    CHECK_ERROR("*01\r\n", inv);
    CHECK_ERROR("*+1\r\n", inv);
    CHECK_ERROR("*-0\r\n", inv);
    CHECK_ERROR("*1 \r\n", inv);
    CHECK_ERROR("* 1\r\n", inv);
    CHECK_ERROR("*1\n$4\r\n", inv); /* the count line ends at the first CR */
    CHECK_ERROR("*99999999999\r\n", inv);
    CHECK_ERROR("*2147483648\r\n", inv);  /* > INT_MAX */
    CHECK_ERROR("*9223372036854775808\r\n", inv);
    CHECK_ERROR("*-9223372036854775809\r\n", inv);

    struct req_limits lim = {.max_bulk = 512 * 1024 * 1024, .max_argc = 3};
    check_error("*4\r\n", 4, &lim, inv);
    expect("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 25, &lim, "3:[a][b][c]\nPENDING:0\n");
}

static void test_bulk_errors(void **state)
{
    (void)state;
    const char *inv = "Protocol error: invalid bulk length";
    CHECK_ERROR("*1\r\n$x\r\n", inv);
    CHECK_ERROR("*1\r\n$\r\n", inv);
    CHECK_ERROR("*1\r\n$-1\r\n", inv);
    CHECK_ERROR("*1\r\n$04\r\nPING\r\n", inv);
    CHECK_ERROR("*1\r\n$+4\r\nPING\r\n", inv);
    CHECK_ERROR("*1\r\n$4 \r\nPING\r\n", inv);
    CHECK_ERROR("*1\r\n$99999999999\r\n", inv);         /* > 512 MiB */
    CHECK_ERROR("*1\r\n$9223372036854775808\r\n", inv); /* overflows int64 */
    CHECK_ERROR("*2\r\n$1\r\na\r\n$536870913\r\n", inv);
    CHECK_ERROR("*1\r\nx\r\n", "Protocol error: expected '$', got 'x'");
    CHECK_ERROR("*1\r\n:4\r\n", "Protocol error: expected '$', got ':'");
    CHECK_ERROR("*1\r\n\r\n", "Protocol error: expected '$', got '\r'");
    CHECK_ERROR("*2\r\n$1\r\na\r\n*1\r\n", "Protocol error: expected '$', got '*'");

    /* A 2 GiB length against a 1 GiB limit; accepted (and nothing allocated) when
     * the limit allows it. */
    struct req_limits lim = {.max_bulk = 1ULL << 30, .max_argc = 1 << 30};
    check_error("*1\r\n$2147483648\r\n", 17, &lim, inv);
    lim.max_bulk = UINT64_MAX;
    expect("*1\r\n$2147483648\r\nab", 20, &lim, "PENDING:20\n");
    expect("*1\r\n$9223372036854775807\r\nab", 29, &lim, "PENDING:29\n");
    /* Exactly at the limit is fine. */
    lim.max_bulk = 4;
    expect("*1\r\n$4\r\nabcd\r\n", 14, &lim, "1:[abcd]\nPENDING:0\n");
    check_error("*1\r\n$5\r\nabcde\r\n", 15, &lim, inv);
}

static void test_empty_commands(void **state)
{
    (void)state;
    EXPECT("*-5\r\n*0\r\n*-1\r\n", "PENDING:0\n");
    EXPECT("*-5\r\n*0\r\n*-1\r\n*1\r\n$1\r\nx\r\n", "1:[x]\nPENDING:0\n");
    EXPECT("*0\r\n*-1", "PENDING:3\n");
    EXPECT("\r\n\n \n\t\r\n", "PENDING:0\n");
    EXPECT("", "PENDING:0\n");
}

/* Builds `n` filler bytes (no CR or LF) after `prefix`, then `suffix`. */
static char *filler(const char *prefix, size_t n, const char *suffix, size_t *outlen)
{
    size_t a = strlen(prefix), c = strlen(suffix);
    char *b = malloc(a + n + c);
    assert_non_null(b);
    memcpy(b, prefix, a);
    memset(b + a, 'x', n);
    memcpy(b + a + n, suffix, c);
    *outlen = a + n + c;
    return b;
}

/* Line limits hold exactly at REQ_INLINE_MAX bytes before the terminator, and are
 * checked the same way whether the line arrives whole or byte by byte. The line
 * starts at prefix[line_off]. With ok_result NULL, only the agreement of both
 * deliveries is checked at the limit. */
static void check_line_limit(const char *prefix, size_t line_off, const char *suffix,
                             const char *err, const char *ok_result)
{
    size_t plen = strlen(prefix);
    for (size_t extra = 0; extra <= 1; extra++) {
        size_t n;
        char *b = filler(prefix, REQ_INLINE_MAX - (plen - line_off) + extra, suffix, &n);
        char *one = oneshot(b, n, NULL);
        char want[256];
        snprintf(want, sizeof want, "ERR:%s\n", err);
        if (extra)
            assert_string_equal(one, want);
        else if (ok_result)
            assert_string_equal(one, ok_result);
        else
            assert_string_not_equal(one, want);
        size_t *cuts = malloc(n * sizeof *cuts);
        assert_non_null(cuts);
        for (size_t i = 0; i + 1 < n; i++)
            cuts[i] = i + 1;
        char *got = drive(b, n, cuts, n - 1, NULL, true);
        assert_string_equal(got, one);
        free(got);
        free(one);
        free(cuts);
        free(b);
    }
}

static void test_line_limits(void **state)
{
    (void)state;
    /* No terminator at all: incomplete up to the limit, an error one byte past it. */
    size_t n;
    char *b = filler("*", REQ_INLINE_MAX - 1, "", &n);
    expect(b, n, NULL, "PENDING:65536\n");
    free(b);
    b = filler("*", REQ_INLINE_MAX, "", &n);
    expect(b, n, NULL, "ERR:Protocol error: too big mbulk count string\n");
    free(b);
    b = filler("*1\r\n$", REQ_INLINE_MAX - 1, "", &n);
    expect(b, n, NULL, "PENDING:65540\n");
    free(b);
    b = filler("*1\r\n$", REQ_INLINE_MAX, "", &n);
    expect(b, n, NULL, "ERR:Protocol error: too big bulk count string\n");
    free(b);
    b = filler("*1\r\nx", REQ_INLINE_MAX, "", &n); /* size is checked before the '$' */
    expect(b, n, NULL, "ERR:Protocol error: too big bulk count string\n");
    free(b);
    b = filler("GET ", REQ_INLINE_MAX - 4, "", &n);
    expect(b, n, NULL, "PENDING:65536\n");
    free(b);
    b = filler("GET ", REQ_INLINE_MAX - 3, "", &n);
    expect(b, n, NULL, "ERR:Protocol error: too big inline request\n");
    free(b);

    /* With the terminator exactly at the limit, and one byte past it. */
    check_line_limit("*", 0, "\r\n", "Protocol error: too big mbulk count string",
                     "ERR:Protocol error: invalid multibulk length\n");
    check_line_limit("*1\r\n$", 4, "\r\n", "Protocol error: too big bulk count string",
                     "ERR:Protocol error: invalid bulk length\n");
    /* An inline line: the CR before the LF counts toward the limit. */
    b = filler("A ", REQ_INLINE_MAX - 2, "\n", &n);
    char *got = oneshot(b, n, NULL);
    assert_int_equal(strncmp(got, "2:[A][xxx", 9), 0);
    free(got);
    free(b);
    check_line_limit("A ", 0, "\n", "Protocol error: too big inline request", NULL);
}

static void test_inline(void **state)
{
    (void)state;
    EXPECT("SET \"a b\" 'c' \"\\x41\\n\"\r\n", "4:[SET][a b][c][A\\x0a]\nPENDING:0\n");
    EXPECT("PING\n", "1:[PING]\nPENDING:0\n");
    EXPECT("PING\r\n", "1:[PING]\nPENDING:0\n");
    EXPECT("PING\r", "PENDING:5\n");
    EXPECT("PING", "PENDING:4\n");
    EXPECT("  PING   x  \r\n", "2:[PING][x]\nPENDING:0\n");
    /* Escapes in double quotes; anything else after a backslash is itself. */
    EXPECT("E \"\\r\\t\\b\\a\\\\\\\"\\z\\'\"\n",
           "2:[E][\\x0d\\x09\\x08\\x07\\x5c\"z']\nPENDING:0\n");
    EXPECT("E \"\\xZZ\" \"\\x4\" \"\\xfF\\x00\"\n",
           "4:[E][xZZ][x4][\\xff\\x00]\nPENDING:0\n");
    /* In single quotes only \' is an escape. */
    EXPECT("E 'a\\'b' 'a\\nb' 'x\"y'\n", "4:[E][a'b][a\\x5cnb][x\"y]\nPENDING:0\n");
    /* Quotes may start inside a token; a closing quote must be followed by a space. */
    EXPECT("E a\"b c\"\n", "2:[E][ab c]\nPENDING:0\n");
    EXPECT("E \"a\"\t\"b\"\v'c'\n", "4:[E][a][b][c]\nPENDING:0\n");
    EXPECT("E \"\" ''\n", "3:[E][][]\nPENDING:0\n");
    /* \v and \f are blanks between tokens but not token ends; \r and \t are. */
    EXPECT("\vE a\vb\fc\r\n", "2:[E][a\\x0bb\\x0cc]\nPENDING:0\n");
    EXPECT("E a\rb\r\n", "3:[E][a][b]\nPENDING:0\n");
    EXPECT("E a\r\r\n", "2:[E][a]\nPENDING:0\n");
    /* A line starting with a space is inline even if a '*' follows. */
    EXPECT(" *1\r\n", "1:[*1]\nPENDING:0\n");
    /* Binary bytes, NUL included, are ordinary. */
    EXPECT("E a\0b\xff\n", "2:[E][a\\x00b\\xff]\nPENDING:0\n");

    const char *unb = "Protocol error: unbalanced quotes in request";
    CHECK_ERROR("E \"a\n", unb);
    CHECK_ERROR("E 'a\n", unb);
    CHECK_ERROR("E \"a\"b\n", unb);
    CHECK_ERROR("E 'a'b\n", unb);
    CHECK_ERROR("E \"a\\\"\n", unb);
    CHECK_ERROR("E \"a\\\n", unb);
    CHECK_ERROR("E \"\r\n", unb);
    CHECK_ERROR("\"\n", unb);
    /* The unbalanced line is not the first: earlier commands still come out. */
    EXPECT("PING\nE \"x\nPING\n", "1:[PING]\nERR:Protocol error: unbalanced quotes in request\n");
}

static void test_error_is_sticky(void **state)
{
    (void)state;
    struct reqparse p;
    reqparse_init(&p);
    char in[] = "*x\r\n*1\r\n$4\r\nPING\r\n";
    const char *err = NULL;
    assert_int_equal(reqparse_next(&p, in, sizeof in - 1, NULL, &err), REQ_ERROR);
    assert_string_equal(err, "Protocol error: invalid multibulk length");
    err = NULL;
    assert_int_equal(reqparse_next(&p, in, sizeof in - 1, NULL, &err), REQ_ERROR);
    assert_string_equal(err, "Protocol error: invalid multibulk length");
    reqparse_free(&p);
}

/* Consumed bytes dropped mid-command, while arguments of it are already parsed. */
static void test_rebase(void **state)
{
    (void)state;
    struct reqparse p;
    reqparse_init(&p);
    char buf[256];
    const char *err;
    const char *a = "*1\r\n$3\r\nfoo\r\nPING x\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$";
    size_t len = strlen(a);
    memcpy(buf, a, len);
    assert_int_equal(reqparse_next(&p, buf, len, NULL, &err), REQ_COMMAND);
    assert_int_equal(p.nargs, 1);
    assert_memory_equal(buf + p.args[0].off, "foo", 3);
    assert_int_equal(reqparse_next(&p, buf, len, NULL, &err), REQ_COMMAND);
    assert_int_equal(p.nargs, 2);
    assert_memory_equal(buf + p.args[1].off, "x", 1);
    assert_int_equal(reqparse_next(&p, buf, len, NULL, &err), REQ_INCOMPLETE);
    size_t k = reqparse_consumed(&p);
    assert_int_equal(k, 21);
    memmove(buf, buf + k, len - k);
    len -= k;
    reqparse_rebase(&p, k);
    assert_int_equal(reqparse_consumed(&p), 0);
    /* Drop nothing more; append the rest. */
    memcpy(buf + len, "5\r\nhello\r\n", 10);
    len += 10;
    assert_int_equal(reqparse_next(&p, buf, len, NULL, &err), REQ_COMMAND);
    assert_int_equal(p.nargs, 3);
    assert_memory_equal(buf + p.args[0].off, "SET", 3);
    assert_memory_equal(buf + p.args[1].off, "k", 1);
    assert_memory_equal(buf + p.args[2].off, "hello", 5);
    assert_int_equal(p.args[2].len, 5);
    assert_int_equal(reqparse_consumed(&p), len);
    assert_int_equal(reqparse_next(&p, buf, len, NULL, &err), REQ_INCOMPLETE);
    /* A partial rebase (fewer bytes than consumed) is allowed. */
    reqparse_rebase(&p, 10);
    assert_int_equal(reqparse_consumed(&p), len - 10);
    reqparse_free(&p);
}

/* The args array: at most min(N, 1024) slots before arguments arrive, geometric
 * growth as they do, the same array reused, shrunk after a huge command. */
static void test_args_growth(void **state)
{
    (void)state;
    struct reqparse p;
    reqparse_init(&p);
    const char *err;
    char hdr[] = "*2147483647\r\n$1\r\na\r\n";
    assert_int_equal(reqparse_next(&p, hdr, sizeof hdr - 1, NULL, &err), REQ_INCOMPLETE);
    assert_true(p.cap <= 1024);
    reqparse_free(&p);

    enum { N = 5000 };
    struct text t = {0};
    text_printf(&t, "*%d\r\n", N);
    for (int i = 0; i < N; i++)
        text_printf(&t, "$%d\r\n%d\r\n", i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : 4, i);
    text_put(&t, "*1\r\n$1\r\nz\r\n", 11);
    reqparse_init(&p);
    assert_int_equal(reqparse_next(&p, t.s, t.len, NULL, &err), REQ_COMMAND);
    assert_int_equal(p.nargs, N);
    assert_true(p.cap >= N && p.cap <= 2 * N);
    for (int i = 0; i < N; i += 997) {
        char num[16];
        int l = snprintf(num, sizeof num, "%d", i);
        assert_int_equal(p.args[i].len, l);
        assert_memory_equal(t.s + p.args[i].off, num, (size_t)l);
    }
    assert_int_equal(reqparse_next(&p, t.s, t.len, NULL, &err), REQ_COMMAND);
    assert_int_equal(p.nargs, 1);
    assert_true(p.cap <= 1024);
    struct req_arg *keep = p.args;
    assert_int_equal(reqparse_next(&p, t.s, t.len, NULL, &err), REQ_INCOMPLETE);
    assert_ptr_equal(p.args, keep);
    reqparse_free(&p);
    free(t.s);
}

/* A 100 MB argument arriving in 64 KiB reads: each call does O(1) work while waiting
 * (the scan position stays at the argument's start, nothing is rescanned). */
static void test_big_bulk_streaming(void **state)
{
    (void)state;
    const size_t big = 100u * 1000 * 1000;
    const char hdr[] = "*2\r\n$3\r\nSET\r\n$100000000\r\n";
    size_t hl = sizeof hdr - 1, total = hl + big + 2;
    char *buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, hdr, hl);
    memset(buf + hl, 'v', big);
    memcpy(buf + hl + big, "\r\n", 2);
    struct reqparse p;
    reqparse_init(&p);
    const char *err;
    size_t len = 0, calls = 0;
    enum req_status st = REQ_INCOMPLETE;
    while (len < total) {
        len = len + 65536 < total ? len + 65536 : total;
        st = reqparse_next(&p, buf, len, NULL, &err);
        calls++;
        if (st == REQ_INCOMPLETE && len > hl)
            assert_int_equal(p.pos, hl);
    }
    assert_int_equal(st, REQ_COMMAND);
    assert_int_equal(p.nargs, 2);
    assert_int_equal(p.args[1].off, hl);
    assert_int_equal(p.args[1].len, big);
    assert_true(calls > 1500);
    reqparse_free(&p);
    free(buf);
}

/* A long line fed a byte at a time is scanned once: pos follows the input. */
static void test_line_scan_resumes(void **state)
{
    (void)state;
    const char *prefixes[] = {"GET ", "*", "*1\r\n$"};
    for (size_t k = 0; k < 3; k++) {
        size_t n;
        char *b = filler(prefixes[k], 60000, "", &n);
        struct reqparse p;
        reqparse_init(&p);
        const char *err;
        for (size_t len = 1; len <= n; len++) {
            assert_int_equal(reqparse_next(&p, b, len, NULL, &err), REQ_INCOMPLETE);
            if (len > strlen(prefixes[k]))
                assert_int_equal(p.pos, len);
        }
        reqparse_free(&p);
        free(b);
    }
}

/* Default limits when none are given, and a NULL args array before any command. */
static void test_defaults(void **state)
{
    (void)state;
    struct req_limits lim = {.max_bulk = 512ULL * 1024 * 1024, .max_argc = 2147483647};
    expect("*1\r\n$536870912\r\n", 17, &lim, "PENDING:17\n");
    expect("*1\r\n$536870912\r\n", 17, NULL, "PENDING:17\n");
    expect("*1\r\n$536870913\r\n", 17, NULL, "ERR:Protocol error: invalid bulk length\n");
    struct reqparse p;
    reqparse_init(&p);
    const char *err;
    assert_int_equal(reqparse_next(&p, NULL, 0, NULL, &err), REQ_INCOMPLETE);
    reqparse_free(&p);
    reqparse_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_pipeline_pairs),
        cmocka_unit_test(test_random_chunking),
        cmocka_unit_test(test_multibulk_errors),
        cmocka_unit_test(test_bulk_errors),
        cmocka_unit_test(test_empty_commands),
        cmocka_unit_test(test_line_limits),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_rebase),
        cmocka_unit_test(test_args_growth),
        cmocka_unit_test(test_big_bulk_streaming),
        cmocka_unit_test(test_line_scan_resumes),
        cmocka_unit_test(test_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
