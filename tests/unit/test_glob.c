/* Glob matching: Redis's stringmatchlen semantics (the table below was checked against
 * KEYS on a Redis 7.0 server), bounded time on hostile patterns, and agreement with a
 * simple exhaustive matcher on random inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/glob.h"

struct gcase {
    const char *pat, *str;
    bool want;
};

static bool gm(const char *pat, const char *str, bool nocase)
{
    return glob_match(pat, strlen(pat), str, strlen(str), nocase);
}

static const struct gcase redis_cases[] = {
    {"*", "abc", true},
    {"**", "", false},
    {"?*", "", false},
    {"", "", true},
    {"", "a", false},
    {"h?llo", "hello", true},
    {"h?llo", "hllo", false},
    {"h*llo", "hllo", true},
    {"h*llo", "heeeello", true},
    {"h[ae]llo", "hallo", true},
    {"h[ae]llo", "hillo", false},
    {"h[^e]llo", "hallo", true},
    {"h[^e]llo", "hello", false},
    {"h[a-b]llo", "hbllo", true},
    {"h\\*llo", "h*llo", true},
    {"h\\*llo", "hello", false},
    {"[z-a]", "m", true},
    {"[a-]", "_", true},
    {"[a-]", "]", true},
    {"[a-]", "-", false},
    {"[a-]x", "x", true},
    {"[a-]x", "ax", false},
    {"[abc", "b", true},
    {"[abc", "bc", false},
    {"[", "[", false},
    {"[^", "x", true},
    {"[]", "]", false},
    {"[]a]", "a]", false},
    {"[^]", "x", true},
    {"a\\", "a\\", true},
    {"[a-\xff]", "\xff", true},
    {"[a-\xff]", "0", true},
    {"[a-\xff]", "b", false},
    {"[a-\xff]", "\x80", false},
    {"[\\]]", "]", true},
    {"[\\-]", "-", true},
    {"[\\", "\\", true},
    {"*a", "ba", true},
    {"a*", "a", true},
    {"a*b*", "ab", true},
    {"*[", "a", false},
    {"\\", "\\", true},
    {"\\a", "a", true},
    {"?", "", false},
    {"a**b", "axxb", true},
    {"*?*?", "a", false},
    {"*?*?", "ab", true},
    {"[\\a-z]", "-", true},
    {"[a\\-z]", "b", false},
};

static void test_redis_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof redis_cases / sizeof redis_cases[0]; i++) {
        const struct gcase *c = &redis_cases[i];
        if (gm(c->pat, c->str, false) != c->want)
            fail_msg("pattern \"%s\" string \"%s\": expected %d", c->pat, c->str, c->want);
    }
}

static void test_lengths_not_terminators(void **state)
{
    (void)state;
    /* Binary input: NUL bytes are ordinary, lengths bound everything. */
    assert_true(glob_match("a\0*", 3, "a\0bc", 4, false));
    assert_false(glob_match("a\0*", 3, "a\1bc", 4, false));
    assert_true(glob_match("a?c", 3, "a\0c", 3, false));
    /* A pattern cut short: "[ab]" seen as "[a" is an unterminated class. */
    assert_true(glob_match("[ab]", 2, "a", 1, false));
    assert_false(glob_match("[ab]", 2, "b", 1, false));
    assert_true(glob_match("ab*", 2, "ab", 2, false));
    assert_false(glob_match("ab*", 2, "abc", 3, false));
    assert_true(glob_match(NULL, 0, NULL, 0, false));
}

static void test_nocase(void **state)
{
    (void)state;
    assert_true(gm("HELLO", "hello", true));
    assert_false(gm("HELLO", "hello", false));
    assert_true(gm("h*O", "HellO", true));
    assert_true(gm("[A-C]x", "bX", true));
    assert_false(gm("[A-C]x", "bX", false));
    assert_true(gm("[^A-C]", "d", true));
    assert_false(gm("[^a-c]", "B", true));
    assert_true(gm("[Q]", "q", true));
    /* An escaped byte inside a class is compared exactly, nocase or not. */
    assert_false(gm("[\\A]", "a", true));
    assert_true(gm("[\\A]", "A", true));
    /* Outside a class an escaped byte folds like any other. */
    assert_true(gm("\\A", "a", true));
    /* Range ends are ordered first, then lowercased: [Z-a] is 'Z'..'a' case
     * sensitively ('_' is inside) but 'z'..'a', empty, with nocase. */
    assert_true(gm("[Z-a]", "_", false));
    assert_false(gm("[Z-a]", "_", true));
    assert_false(gm("[Z-a]", "a", true));
    /* ASCII folding only. */
    assert_false(gm("\xc0", "\xe0", true));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *repeat(const char *unit, size_t times, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * times + t + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    memcpy(s + u * times, tail, t + 1);
    return s;
}

/* Patterns that make a backtracking matcher exponential are polynomial here. */
static void test_hostile_patterns(void **state)
{
    (void)state;
    double t0 = now();
    char *as = repeat("a", 10000, "");
    assert_false(gm("a*a*a*a*a*a*a*a*a*b", as, false));
    assert_true(gm("a*a*a*a*a*a*a*a*a*a", as, false));
    char *p = repeat("*a", 1000, "b");
    char *big = repeat("a", 100000, "");
    assert_false(gm(p, big, false));
    free(p);
    p = repeat("a", 100, "b");
    char *q = repeat("*", 1, p);
    assert_false(gm(q, as, true));
    free(p);
    free(q);
    p = repeat("*?", 200, "");
    assert_true(gm(p, as, false));
    assert_false(gm(p, "abc", false));
    free(p);
    p = repeat("*[a-z]", 50, "[^a]");
    assert_false(gm(p, big, false));
    free(p);
    free(as);
    free(big);
    /* Generous even for sanitizer builds; an exponential matcher would not finish. */
    assert_true(now() - t0 < 5.0);
}

/* An exhaustive recursive matcher written independently: classes are first expanded
 * into a set of 256 bytes, then '*' tries every split. Exponential; small inputs only. */
static int fold(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static size_t ref_class(const char *pat, size_t plen, size_t i, bool nocase, bool set[256])
{
    memset(set, 0, 256);
    bool neg = i < plen && pat[i] == '^';
    if (neg)
        i++;
    size_t end = plen;
    while (i < plen) {
        if (pat[i] == '\\' && i + 1 < plen) {
            set[(unsigned char)pat[i + 1]] = true;
            i += 2;
        } else if (pat[i] == ']') {
            end = i + 1;
            break;
        } else if (i + 2 < plen && pat[i + 1] == '-') {
            int a = (signed char)pat[i], b = (signed char)pat[i + 2];
            int lo = a < b ? a : b, hi = a < b ? b : a;
            if (nocase) {
                lo = fold(lo);
                hi = fold(hi);
            }
            for (int c = 0; c < 256; c++) {
                int sc = (signed char)c;
                if (nocase)
                    sc = fold(sc);
                if (sc >= lo && sc <= hi)
                    set[c] = true;
            }
            i += 3;
        } else {
            for (int c = 0; c < 256; c++)
                if (c == (unsigned char)pat[i] ||
                    (nocase && fold(c) == fold((unsigned char)pat[i])))
                    set[c] = true;
            i++;
        }
    }
    if (neg)
        for (int c = 0; c < 256; c++)
            set[c] = !set[c];
    return end;
}

static bool ref_rec(const char *pat, size_t plen, size_t pi, const char *s, size_t slen,
                    size_t si, bool nocase)
{
    if (pi == plen)
        return si == slen;
    if (pat[pi] == '*')
        return ref_rec(pat, plen, pi + 1, s, slen, si, nocase) ||
               (si < slen && ref_rec(pat, plen, pi, s, slen, si + 1, nocase));
    if (si == slen)
        return false;
    unsigned char c = (unsigned char)s[si];
    size_t next;
    bool ok;
    if (pat[pi] == '?') {
        ok = true;
        next = pi + 1;
    } else if (pat[pi] == '[') {
        bool set[256];
        next = ref_class(pat, plen, pi + 1, nocase, set);
        ok = set[c];
    } else {
        size_t at = pat[pi] == '\\' && pi + 1 < plen ? pi + 1 : pi;
        unsigned char pc = (unsigned char)pat[at];
        ok = pc == c || (nocase && fold(pc) == fold(c));
        next = at + 1;
    }
    return ok && ref_rec(pat, plen, next, s, slen, si + 1, nocase);
}

static bool ref_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
    if (slen == 0) /* stringmatchlen never matches an empty string to a non-empty pattern */
        return plen == 0;
    return ref_rec(pat, plen, 0, s, slen, 0, nocase);
}

static void test_random_against_reference(void **state)
{
    (void)state;
    static const char palpha[] = "ab*?[]^-\\AZ_\x80\xff";
    static const char salpha[] = "abAB]-^\\_Z\x80\xff*[";
    uint32_t seed = 12345;
    char pat[10], str[10];
    for (int it = 0; it < 300000; it++) {
        seed = seed * 1103515245u + 12345u;
        size_t plen = (seed >> 16) % 9, slen = (seed >> 8) % 8;
        for (size_t i = 0; i < plen; i++) {
            seed = seed * 1103515245u + 12345u;
            pat[i] = palpha[(seed >> 16) % (sizeof palpha - 1)];
        }
        for (size_t i = 0; i < slen; i++) {
            seed = seed * 1103515245u + 12345u;
            str[i] = salpha[(seed >> 16) % (sizeof salpha - 1)];
        }
        bool nocase = it & 1;
        bool want = ref_match(pat, plen, str, slen, nocase);
        bool got = glob_match(pat, plen, str, slen, nocase);
        if (got != want)
            fail_msg("pattern \"%.*s\" string \"%.*s\" nocase %d: got %d", (int)plen, pat,
                     (int)slen, str, nocase, got);
    }
}

/* glob_match_bounded: the same answers within its budget, a bounded amount of work past
 * it (classes counted by their length), and the budget counted exactly. */
static void test_bounded(void **state)
{
    (void)state;
    bool exceeded;
    assert_true(glob_match_bounded("abc", 3, "abc", 3, false, 3, &exceeded));
    assert_false(exceeded);
    assert_false(glob_match_bounded("abc", 3, "abc", 3, false, 2, &exceeded));
    assert_true(exceeded);
    assert_false(glob_match_bounded("abd", 3, "abc", 3, false, 100, &exceeded));
    assert_false(exceeded);

    /* A long class costs its length, even when it matches a single byte. */
    char *cls = repeat("x", 10000, "]");
    char *pat = repeat("[", 1, cls);
    assert_true(glob_match_bounded(pat, strlen(pat), "x", 1, false, 20000, &exceeded));
    assert_false(exceeded);
    assert_false(glob_match_bounded(pat, strlen(pat), "x", 1, false, 100, &exceeded));
    assert_true(exceeded);
    free(cls);
    free(pat);

    /* Quadratic backtracking (each resume of the star re-matches 3000 bytes before it
     * fails) stops at a budget linear in the input sizes. */
    double t0 = now();
    char *seg = repeat("a", 3000, "b");
    pat = repeat("*", 1, seg);
    free(seg);
    char *big = repeat("a", 200000, "");
    size_t plen = strlen(pat), slen = strlen(big);
    uint64_t budget = 32 * (uint64_t)(plen + slen) + 1024;
    for (int i = 0; i < 20; i++) {
        assert_false(glob_match_bounded(pat, plen, big, slen, false, budget, &exceeded));
        assert_true(exceeded);
    }
    assert_true(now() - t0 < 5.0);
    /* An ordinary pattern against the same long string stays within the budget. */
    assert_true(glob_match_bounded("a*a?", 4, big, slen, false, 32 * (4 + slen) + 1024,
                                   &exceeded));
    assert_false(exceeded);
    free(pat);
    free(big);

    /* Within the budget, the answers are glob_match's. */
    static const char palpha[] = "ab*?[]^-\\AZ";
    uint32_t seed = 777;
    char p[10], str[10];
    for (int it = 0; it < 100000; it++) {
        seed = seed * 1103515245u + 12345u;
        size_t pl = (seed >> 16) % 9, sl = (seed >> 8) % 8;
        for (size_t i = 0; i < pl; i++) {
            seed = seed * 1103515245u + 12345u;
            p[i] = palpha[(seed >> 16) % (sizeof palpha - 1)];
        }
        for (size_t i = 0; i < sl; i++) {
            seed = seed * 1103515245u + 12345u;
            str[i] = palpha[(seed >> 20) % (sizeof palpha - 1)];
        }
        bool got = glob_match_bounded(p, pl, str, sl, it & 1, 32 * (pl + sl) + 1024, &exceeded);
        assert_false(exceeded);
        assert_int_equal(got, glob_match(p, pl, str, sl, it & 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_cases),
        cmocka_unit_test(test_lengths_not_terminators),
        cmocka_unit_test(test_nocase),
        cmocka_unit_test(test_hostile_patterns),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
