/* Glob matching with the exact semantics of Redis's stringmatchlen, but iterative.
 *
 * Every token other than '*' consumes exactly one byte of the string, so a failed
 * attempt only ever needs to resume at the most recent '*' with that star absorbing one
 * more byte: an earlier star absorbing more cannot help, since the later star can
 * already absorb anything. This gives O(len(pattern) * len(string)) time, no stack.
 *
 * Quirks of stringmatchlen that are reproduced on purpose:
 *  - an empty string matches only the empty pattern (even "*" does not match it);
 *  - inside [...], "\x" matches x exactly, ignoring nocase;
 *  - a range compares bytes as signed chars (x86 `char`) and, with nocase, lowercases
 *    its ends after ordering them, so [Z-a] with nocase matches nothing;
 *  - "x-" followed by any byte is a range, even when that byte is ']': "[a-]" is the
 *    range ']'..'a' and the class then runs on;
 *  - an unterminated class extends to the end of the pattern and matches one byte;
 *  - a trailing lone backslash matches a backslash.
 * Case folding is ASCII only, as tolower() is in the "C" locale Redis runs in. */
#include "base/glob.h"

#include <stdint.h>

static inline int lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

static inline bool byte_eq(unsigned char a, unsigned char b, bool nocase)
{
    return a == b || (nocase && lower(a) == lower(b));
}

/* Match the class starting at pat[p] == '[' against byte c; *next receives the index
 * just past the class. */
static bool class_match(const char *pat, size_t plen, size_t p, unsigned char c, bool nocase,
                        size_t *next)
{
    size_t i = p + 1;
    bool negate = i < plen && pat[i] == '^';
    if (negate)
        i++;
    bool match = false;
    for (;;) {
        if (i >= plen) { /* unterminated: the class is the rest of the pattern */
            *next = plen;
            break;
        }
        if (pat[i] == '\\' && plen - i >= 2) {
            i++;
            if ((unsigned char)pat[i] == c)
                match = true;
        } else if (pat[i] == ']') {
            *next = i + 1;
            break;
        } else if (plen - i >= 3 && pat[i + 1] == '-') {
            int lo = (signed char)pat[i], hi = (signed char)pat[i + 2];
            int cc = (signed char)c;
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            if (nocase) {
                lo = lower(lo);
                hi = lower(hi);
                cc = lower(cc);
            }
            i += 2;
            if (cc >= lo && cc <= hi)
                match = true;
        } else if (byte_eq((unsigned char)pat[i], c, nocase)) {
            match = true;
        }
        i++;
    }
    return match != negate;
}

/* Match the single-byte token at pat[p] (not '*') against c; *next: index past it. */
static bool token_match(const char *pat, size_t plen, size_t p, unsigned char c, bool nocase,
                        size_t *next)
{
    switch (pat[p]) {
    case '?':
        *next = p + 1;
        return true;
    case '[':
        return class_match(pat, plen, p, c, nocase, next);
    case '\\':
        if (plen - p >= 2)
            p++;
        /* fall through */
    default:
        *next = p + 1;
        return byte_eq((unsigned char)pat[p], c, nocase);
    }
}

bool glob_match_bounded(const char *pat, size_t plen, const char *str, size_t slen,
                        bool nocase, uint64_t max_steps, bool *exceeded)
{
    *exceeded = false;
    if (slen == 0)
        return plen == 0;
    size_t p = 0, s = 0;
    size_t star_p = SIZE_MAX, star_s = 0; /* resume point after the latest '*' */
    uint64_t steps = 0;
    while (s < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen)
                return true;
            star_p = p;
            star_s = s;
            continue;
        }
        size_t next = p + 1;
        bool ok = p < plen && token_match(pat, plen, p, (unsigned char)str[s], nocase, &next);
        /* A token costs the pattern bytes it spans (a class may be long). */
        steps += next > p ? next - p : 1;
        if (steps > max_steps) {
            *exceeded = true;
            return false;
        }
        if (ok) {
            p = next;
            s++;
            continue;
        }
        if (star_p == SIZE_MAX)
            return false;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    bool exceeded;
    return glob_match_bounded(pat, plen, str, slen, nocase, UINT64_MAX, &exceeded);
}
