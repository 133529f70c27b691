/* Intset in Redis's byte layout (see intset.h).
 *
 * Layout of one allocation: u32 encoding (2, 4 or 8: bytes per value), u32 length, then
 * length values of that width, little-endian, strictly ascending. The encoding is the
 * width of the widest value ever added (an upgrade rewrites every value; there is no
 * downgrade, as Redis). Values are read and written with memcpy: the contents are not
 * aligned for 8-byte values, and the byte layout is the dump format. */
#include "store/intset.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/dict.h"
#include "store/entry.h"

#define IS_HDR 8u

struct intset {
    uint32_t encoding;
    uint32_t length;
    unsigned char contents[];
};

_Static_assert(sizeof(struct intset) == IS_HDR, "intset header is 8 bytes");

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE16(x) __builtin_bswap16(x)
#define LE32(x) __builtin_bswap32(x)
#define LE64(x) __builtin_bswap64(x)
#else
#define LE16(x) (x)
#define LE32(x) (x)
#define LE64(x) (x)
#endif

static uint32_t enc_of(const struct intset *is) { return LE32(is->encoding); }
static uint32_t len_of(const struct intset *is) { return LE32(is->length); }
static void set_len(struct intset *is, uint32_t n) { is->length = LE32(n); }

/* Width needed by v: the smallest of 2, 4, 8 bytes that holds it. */
static uint32_t value_enc(int64_t v)
{
    if (v < INT32_MIN || v > INT32_MAX)
        return 8;
    if (v < INT16_MIN || v > INT16_MAX)
        return 4;
    return 2;
}

static int64_t load(const unsigned char *p, uint32_t enc)
{
    switch (enc) {
    case 2: {
        uint16_t u;
        memcpy(&u, p, 2);
        return (int16_t)LE16(u);
    }
    case 4: {
        uint32_t u;
        memcpy(&u, p, 4);
        return (int32_t)LE32(u);
    }
    default: {
        uint64_t u;
        memcpy(&u, p, 8);
        return (int64_t)LE64(u);
    }
    }
}

/* v must fit enc. */
static void store(unsigned char *p, uint32_t enc, int64_t v)
{
    switch (enc) {
    case 2: {
        uint16_t u = LE16((uint16_t)(int16_t)v);
        memcpy(p, &u, 2);
        break;
    }
    case 4: {
        uint32_t u = LE32((uint32_t)(int32_t)v);
        memcpy(p, &u, 4);
        break;
    }
    default: {
        uint64_t u = LE64((uint64_t)v);
        memcpy(p, &u, 8);
        break;
    }
    }
}

static int64_t at(const struct intset *is, uint32_t i)
{
    uint32_t enc = enc_of(is);
    return load(is->contents + (size_t)i * enc, enc);
}

static struct intset *resize(struct intset *is, uint32_t enc, uint32_t n)
{
    return store_xrealloc(is, IS_HDR + (size_t)n * enc);
}

/* Binary search: true and *pos = index when found, else false and *pos = insertion
 * point (the index of the first value greater than v). */
static bool search(const struct intset *is, int64_t v, uint32_t *pos)
{
    uint32_t n = len_of(is);
    if (n == 0) {
        *pos = 0;
        return false;
    }
    /* The ends first: appends of ascending values (common when building) skip the search. */
    if (v > at(is, n - 1)) {
        *pos = n;
        return false;
    }
    if (v < at(is, 0)) {
        *pos = 0;
        return false;
    }
    uint32_t lo = 0, hi = n; /* the answer is in [lo, hi] */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cur = at(is, mid);
        if (cur == v) {
            *pos = mid;
            return true;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

struct intset *intset_new(void)
{
    struct intset *is = store_xmalloc(IS_HDR);
    is->encoding = LE32(2u);
    set_len(is, 0);
    return is;
}

void intset_free(struct intset *is) { free(is); }

size_t intset_len(const struct intset *is) { return len_of(is); }

size_t intset_bytes(const struct intset *is)
{
    return IS_HDR + (size_t)len_of(is) * enc_of(is);
}

bool intset_has(const struct intset *is, int64_t v)
{
    uint32_t pos;
    return value_enc(v) <= enc_of(is) && search(is, v, &pos);
}

/* v does not fit the current encoding, so it is below or above every member: widen every
 * value (from the last, so no value is overwritten before it is read) and put v at the
 * front or the back. */
static struct intset *upgrade_add(struct intset *is, int64_t v)
{
    uint32_t old = enc_of(is), enc = value_enc(v), n = len_of(is);
    bool front = v < 0;
    is = resize(is, enc, n + 1);
    for (uint32_t i = n; i-- > 0;)
        store(is->contents + ((size_t)i + front) * enc, enc, load(is->contents + (size_t)i * old, old));
    store(is->contents + (front ? 0 : (size_t)n * enc), enc, v);
    is->encoding = LE32(enc);
    set_len(is, n + 1);
    return is;
}

struct intset *intset_add(struct intset *is, int64_t v, bool *added)
{
    uint32_t n = len_of(is);
    if (n == UINT32_MAX) {
        /* Callers convert to a hash table long before this (set-max-intset-entries). */
        log_msg(LOG_WARNING, "store: intset length overflow");
        abort();
    }
    if (value_enc(v) > enc_of(is)) {
        *added = true;
        return upgrade_add(is, v);
    }
    uint32_t pos;
    if (search(is, v, &pos)) {
        *added = false;
        return is;
    }
    uint32_t enc = enc_of(is);
    is = resize(is, enc, n + 1);
    unsigned char *p = is->contents + (size_t)pos * enc;
    memmove(p + enc, p, (size_t)(n - pos) * enc);
    store(p, enc, v);
    set_len(is, n + 1);
    *added = true;
    return is;
}

struct intset *intset_remove(struct intset *is, int64_t v, bool *removed)
{
    uint32_t pos;
    if (value_enc(v) > enc_of(is) || !search(is, v, &pos)) {
        *removed = false;
        return is;
    }
    uint32_t enc = enc_of(is), n = len_of(is);
    unsigned char *p = is->contents + (size_t)pos * enc;
    memmove(p, p + enc, (size_t)(n - pos - 1) * enc);
    set_len(is, n - 1);
    *removed = true;
    return resize(is, enc, n - 1);
}

int64_t intset_get(const struct intset *is, size_t i)
{
    if (i >= len_of(is)) {
        log_msg(LOG_WARNING, "store: intset index out of range");
        abort();
    }
    return at(is, (uint32_t)i);
}

int64_t intset_random(const struct intset *is, uint64_t *rng)
{
    uint32_t n = len_of(is);
    if (n == 0) {
        log_msg(LOG_WARNING, "store: random member of an empty intset");
        abort();
    }
    return at(is, (uint32_t)(store_rand(rng) % n));
}

bool intset_validate(const unsigned char *bytes, size_t size)
{
    if (!bytes || size < IS_HDR)
        return false;
    uint32_t enc, n;
    memcpy(&enc, bytes, 4);
    memcpy(&n, bytes + 4, 4);
    enc = LE32(enc);
    n = LE32(n);
    if (enc != 2 && enc != 4 && enc != 8)
        return false;
    /* The size must be exactly header + n values (compared without overflow), and the
     * set non-empty: Redis never stores an empty set and rejects such a payload. */
    if ((size - IS_HDR) % enc != 0 || (size - IS_HDR) / enc != n || n == 0)
        return false;
    const unsigned char *p = bytes + IS_HDR;
    int64_t prev = load(p, enc);
    for (uint32_t i = 1; i < n; i++) {
        int64_t cur = load(p + (size_t)i * enc, enc);
        if (cur <= prev)
            return false;
        prev = cur;
    }
    return true;
}

struct intset *intset_from(const unsigned char *bytes, size_t size)
{
    if (size < IS_HDR) /* only validated bytes are expected; never read past them */
        return intset_new();
    struct intset *is = store_xmalloc(size);
    memcpy(is, bytes, size);
    return is;
}
