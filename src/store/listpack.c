/* Listpack in Redis's byte format (see listpack.h for the layout).
 *
 * Element layout: <encoding byte(s) + data: "entry length" L> <backlen: L encoded in
 * 1..5 bytes, 7 bits each, most significant byte first, every byte but the first with
 * bit 7 set, so that it can be read backwards from the byte before the next element>.
 *
 * Invariants of a listpack built here or accepted by lp_validate:
 *  - the u32 at offset 0 is the allocation's used size, the last used byte is 0xFF;
 *  - every element's backlen is exactly lp_backlen_encode(L) (validate checks the bytes,
 *    so walking backwards consumes the same bytes as walking forwards);
 *  - the u16 count is exact, or 65535 ("unknown") when there are 65535 or more
 *    elements, or when it was not known after a change (see lp_fix_count).
 * The functions other than lp_validate trust these invariants: they do no bounds checks. */
#include "store/listpack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "store/entry.h"

#define LP_EOF 0xFFu
#define LP_COUNT_UNKNOWN 65535u
/* Longest encoding + data of an integer: 0xF4 + 8 bytes. */
#define LP_INT_MAX_ENC 9u
/* Keep a capacity hint from sizing anything absurd: it is only a hint. */
#define LP_HINT_MAX (1u << 20)

/* ---- little-endian fields ---- */

static inline uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline unsigned rd16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

static inline void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void wr16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* ---- element sizes ---- */

/* Bytes of the backlen of an element whose encoding + data take l bytes. The bounds are
 * Redis's lpEncodeBacklen, strict '<' included (16383 takes 3 bytes there). */
static inline size_t lp_backlen_size(size_t l)
{
    if (l <= 127)
        return 1;
    if (l < 16383)
        return 2;
    if (l < 2097151)
        return 3;
    if (l < 268435455)
        return 4;
    return 5;
}

static size_t lp_backlen_encode(unsigned char *buf, size_t l)
{
    size_t n = lp_backlen_size(l);
    /* Last byte: the low 7 bits; going towards the element, higher 7-bit groups; every
     * byte but the first (most significant) carries the continuation bit. */
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)((l >> (7 * (n - 1 - i))) & 127u);
        buf[i] = i == 0 ? b : (unsigned char)(b | 128u);
    }
    return n;
}

/* p points at the last byte of a backlen: the entry length it encodes. */
static inline size_t lp_backlen_decode(const unsigned char *p)
{
    size_t v = 0;
    unsigned shift = 0;
    for (;;) {
        v |= (size_t)(*p & 127u) << shift;
        if (!(*p & 128u))
            return v;
        shift += 7;
        p--;
    }
}

/* Data bytes of the integer encodings 0xF1..0xF4 (16, 24, 32, 64 bits). */
static inline unsigned lp_int_width(unsigned c) { return c == 0xF4 ? 8 : c - 0xEF; }

/* Encoding + data length of the element at p (a valid element, not the terminator). */
static inline size_t lp_entry_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if ((c & 0xC0) == 0x80)
        return 1 + (c & 0x3F);
    if ((c & 0xE0) == 0xC0)
        return 2;
    if ((c & 0xF0) == 0xE0)
        return 2 + ((size_t)(c & 0x0F) << 8 | p[1]);
    if (c == 0xF0)
        return 5 + (size_t)rd32(p + 1);
    return 1 + lp_int_width(c);
}

static inline size_t lp_entry_total(const unsigned char *p)
{
    size_t l = lp_entry_len(p);
    return l + lp_backlen_size(l);
}

/* ---- integers ---- */

/* The low `bits` bits of u as a two's complement number (no implementation-defined
 * conversion: below 64 bits the xor/subtract stays in range, at 64 a bit copy). */
static inline int64_t lp_sext(uint64_t u, unsigned bits)
{
    if (bits == 64) {
        int64_t r;
        memcpy(&r, &u, sizeof r);
        return r;
    }
    int64_t sign = (int64_t)1 << (bits - 1);
    return (int64_t)u - ((int64_t)u & sign) * 2;
}

/* Encoding + data of the integer v in Redis's smallest form (lpEncodeIntegerGetType). */
static size_t lp_encode_int(unsigned char *buf, int64_t v)
{
    uint64_t u = (uint64_t)v; /* two's complement bits: well defined for unsigned */
    if (v >= 0 && v <= 127) {
        buf[0] = (unsigned char)v;
        return 1;
    }
    if (v >= -4096 && v <= 4095) {
        u &= 0x1FFF;
        buf[0] = (unsigned char)(0xC0 | (u >> 8));
        buf[1] = (unsigned char)u;
        return 2;
    }
    size_t n;
    if (v >= -32768 && v <= 32767) {
        buf[0] = 0xF1;
        n = 2;
    } else if (v >= -8388608 && v <= 8388607) {
        buf[0] = 0xF2;
        n = 3;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        buf[0] = 0xF3;
        n = 4;
    } else {
        buf[0] = 0xF4;
        n = 8;
    }
    for (size_t i = 0; i < n; i++)
        buf[1 + i] = (unsigned char)(u >> (8 * i));
    return 1 + n;
}

/* ---- header ---- */

size_t lp_bytes(const unsigned char *lp) { return rd32(lp); }

static size_t lp_count_walk(const unsigned char *lp)
{
    size_t n = 0;
    for (const unsigned char *p = lp + LP_HDR_SIZE; *p != LP_EOF; p += lp_entry_total(p))
        n++;
    return n;
}

size_t lp_count(const unsigned char *lp)
{
    unsigned n = rd16(lp + 4);
    return n != LP_COUNT_UNKNOWN ? n : lp_count_walk(lp);
}

unsigned char *lp_new(size_t capacity_hint)
{
    size_t cap = capacity_hint;
    if (cap < LP_HDR_SIZE + 1 || cap > LP_HINT_MAX)
        cap = LP_HDR_SIZE + 1;
    unsigned char *lp = store_xmalloc(cap);
    wr32(lp, LP_HDR_SIZE + 1);
    wr16(lp + 4, 0);
    lp[LP_HDR_SIZE] = LP_EOF;
    return lp;
}

void lp_free(unsigned char *lp) { free(lp); }

/* After a change by delta elements. An exact count stays exact until it reaches 65535;
 * an unknown one stays unknown, except that once the listpack is too small to hold
 * 65535 elements (each takes at least 2 bytes) it is counted again, once: the count is
 * then exact from there on, as Redis's lpLength would leave it. */
static void lp_fix_count(unsigned char *lp, long delta)
{
    unsigned n = rd16(lp + 4);
    if (n != LP_COUNT_UNKNOWN) {
        long m = (long)n + delta;
        wr16(lp + 4, m >= (long)LP_COUNT_UNKNOWN ? LP_COUNT_UNKNOWN : (unsigned)m);
        return;
    }
    if ((lp_bytes(lp) - LP_HDR_SIZE - 1) / 2 < LP_COUNT_UNKNOWN)
        wr16(lp + 4, (unsigned)lp_count_walk(lp));
}

/* Replace del bytes at off with a gap of ins bytes (the caller fills it), and adjust
 * the total. Grows before moving the tail, shrinks after, so the tail is never lost. */
static unsigned char *lp_splice(unsigned char *lp, size_t off, size_t del, size_t ins)
{
    size_t old = lp_bytes(lp);
    size_t total = old - del + ins;
    if (total > UINT32_MAX) {
        fprintf(stderr, "listpack: size %zu exceeds the format's limit\n", total);
        abort();
    }
    if (ins == del)
        return lp;
    if (ins > del)
        lp = store_xrealloc(lp, total);
    memmove(lp + off + ins, lp + off + del, old - off - del);
    if (ins < del)
        lp = store_xrealloc(lp, total);
    wr32(lp, (uint32_t)total);
    return lp;
}

/* ---- encoding an element to write ---- */

struct lp_enc {
    unsigned char hdr[LP_INT_MAX_ENC]; /* encoding (+ an integer's data) */
    size_t hdrlen;
    const char *data; /* a string's bytes, or NULL */
    size_t datalen;
    unsigned char back[5];
    size_t backlen;
};

static size_t lp_enc_total(const struct lp_enc *e) { return e->hdrlen + e->datalen + e->backlen; }

static void lp_enc_finish(struct lp_enc *e)
{
    e->backlen = lp_backlen_encode(e->back, e->hdrlen + e->datalen);
}

static void lp_enc_int(struct lp_enc *e, int64_t v)
{
    e->hdrlen = lp_encode_int(e->hdr, v);
    e->data = NULL;
    e->datalen = 0;
    lp_enc_finish(e);
}

static void lp_enc_str(struct lp_enc *e, const char *s, size_t len)
{
    int64_t v;
    if (str_to_i64(s, len, &v)) {
        lp_enc_int(e, v);
        return;
    }
    if (len < 64) {
        e->hdr[0] = (unsigned char)(0x80 | len);
        e->hdrlen = 1;
    } else if (len < 4096) {
        e->hdr[0] = (unsigned char)(0xE0 | (len >> 8));
        e->hdr[1] = (unsigned char)len;
        e->hdrlen = 2;
    } else {
        if (len > UINT32_MAX) {
            fprintf(stderr, "listpack: element of %zu bytes exceeds the format's limit\n", len);
            abort();
        }
        e->hdr[0] = 0xF0;
        wr32(e->hdr + 1, (uint32_t)len);
        e->hdrlen = 5;
    }
    e->data = s;
    e->datalen = len;
    lp_enc_finish(e);
}

static void lp_enc_write(unsigned char *dst, const struct lp_enc *e)
{
    memcpy(dst, e->hdr, e->hdrlen);
    if (e->datalen)
        memcpy(dst + e->hdrlen, e->data, e->datalen);
    memcpy(dst + e->hdrlen + e->datalen, e->back, e->backlen);
}

/* Put e in place of the del bytes at off; delta: the change in element count. */
static unsigned char *lp_put(unsigned char *lp, size_t off, size_t del, const struct lp_enc *e,
                             long delta)
{
    lp = lp_splice(lp, off, del, lp_enc_total(e));
    lp_enc_write(lp + off, e);
    if (delta)
        lp_fix_count(lp, delta);
    return lp;
}

/* ---- navigation ---- */

unsigned char *lp_first(unsigned char *lp)
{
    unsigned char *p = lp + LP_HDR_SIZE;
    return *p == LP_EOF ? NULL : p;
}

unsigned char *lp_next(unsigned char *lp, unsigned char *p)
{
    (void)lp;
    p += lp_entry_total(p);
    return *p == LP_EOF ? NULL : p;
}

/* The element before p (an element or the terminator), or NULL at the head. */
static inline unsigned char *lp_before(unsigned char *lp, unsigned char *p)
{
    if (p == lp + LP_HDR_SIZE)
        return NULL;
    size_t l = lp_backlen_decode(p - 1);
    return p - l - lp_backlen_size(l);
}

unsigned char *lp_prev(unsigned char *lp, unsigned char *p) { return lp_before(lp, p); }

unsigned char *lp_last(unsigned char *lp) { return lp_before(lp, lp + lp_bytes(lp) - 1); }

unsigned char *lp_seek(unsigned char *lp, long index)
{
    size_t n = lp_count(lp);
    size_t i;
    if (index < 0) {
        /* -index without overflowing on LONG_MIN */
        size_t back = (size_t)(-(index + 1)) + 1;
        if (back > n)
            return NULL;
        i = n - back;
    } else {
        if ((size_t)index >= n)
            return NULL;
        i = (size_t)index;
    }
    unsigned char *p;
    if (i <= n / 2) {
        p = lp + LP_HDR_SIZE;
        for (; i; i--)
            p += lp_entry_total(p);
    } else {
        p = lp_last(lp);
        for (size_t k = n - 1 - i; k; k--)
            p = lp_before(lp, p);
    }
    return p;
}

/* ---- reading ---- */

void lp_get(const unsigned char *p, struct lp_val *v)
{
    unsigned c = p[0];
    v->s = NULL;
    v->len = 0;
    v->i = 0;
    if (c < 0x80) {
        v->i = c;
    } else if ((c & 0xC0) == 0x80) {
        v->s = p + 1;
        v->len = c & 0x3F;
    } else if ((c & 0xE0) == 0xC0) {
        v->i = lp_sext((uint64_t)(c & 0x1F) << 8 | p[1], 13);
    } else if ((c & 0xF0) == 0xE0) {
        v->s = p + 2;
        v->len = (size_t)(c & 0x0F) << 8 | p[1];
    } else if (c == 0xF0) {
        v->s = p + 5;
        v->len = rd32(p + 1);
    } else {
        unsigned n = lp_int_width(c);
        uint64_t u = 0;
        for (unsigned k = 0; k < n; k++)
            u |= (uint64_t)p[1 + k] << (8 * k);
        v->i = lp_sext(u, 8 * n);
    }
}

const unsigned char *lp_get_str(const unsigned char *p, size_t *len, char buf[LP_INTBUF])
{
    struct lp_val v;
    lp_get(p, &v);
    if (v.s) {
        *len = v.len;
        return v.s;
    }
    /* LP_INTBUF (21) fits the 20 characters of INT64_MIN and i64_to_str's NUL */
    *len = (size_t)i64_to_str(buf, v.i);
    return (const unsigned char *)buf;
}

bool lp_get_int(const unsigned char *p, int64_t *out)
{
    struct lp_val v;
    lp_get(p, &v);
    if (!v.s) {
        *out = v.i;
        return true;
    }
    return str_to_i64((const char *)v.s, v.len, out);
}

/* Compare the element at p with s, given s's integer value when it has one. */
static inline bool lp_eq_parsed(const unsigned char *p, const char *s, size_t len, bool s_int,
                                int64_t s_val)
{
    struct lp_val v;
    lp_get(p, &v);
    if (v.s)
        return v.len == len && (len == 0 || memcmp(v.s, s, len) == 0);
    /* An integer's decimal form is canonical, so it equals s iff s is canonical too and
     * has the same value. */
    return s_int && v.i == s_val;
}

bool lp_eq(const unsigned char *p, const char *s, size_t len)
{
    int64_t sv = 0;
    bool si = str_to_i64(s, len, &sv);
    return lp_eq_parsed(p, s, len, si, sv);
}

unsigned char *lp_find(unsigned char *lp, unsigned char *p, const char *s, size_t len,
                       unsigned skip)
{
    (void)lp;
    if (!p)
        return NULL;
    int64_t sv = 0;
    bool si = str_to_i64(s, len, &sv); /* once, not per element */
    unsigned left = 0;
    while (*p != LP_EOF) {
        if (left == 0) {
            if (lp_eq_parsed(p, s, len, si, sv))
                return p;
            left = skip;
        } else {
            left--;
        }
        p += lp_entry_total(p);
    }
    return NULL;
}

/* ---- changes ---- */

unsigned char *lp_append(unsigned char *lp, const char *s, size_t len)
{
    struct lp_enc e;
    lp_enc_str(&e, s, len);
    return lp_put(lp, lp_bytes(lp) - 1, 0, &e, 1);
}

unsigned char *lp_prepend(unsigned char *lp, const char *s, size_t len)
{
    struct lp_enc e;
    lp_enc_str(&e, s, len);
    return lp_put(lp, LP_HDR_SIZE, 0, &e, 1);
}

unsigned char *lp_append_int(unsigned char *lp, int64_t v)
{
    struct lp_enc e;
    lp_enc_int(&e, v);
    return lp_put(lp, lp_bytes(lp) - 1, 0, &e, 1);
}

unsigned char *lp_insert(unsigned char *lp, unsigned char **p, enum lp_where where,
                         const char *s, size_t len)
{
    struct lp_enc e;
    lp_enc_str(&e, s, len);
    size_t off = (size_t)(*p - lp);
    /* At the terminator both mean "append". */
    if (where == LP_AFTER && lp[off] != LP_EOF)
        off += lp_entry_total(*p);
    lp = lp_put(lp, off, 0, &e, 1);
    *p = lp + off;
    return lp;
}

unsigned char *lp_replace(unsigned char *lp, unsigned char **p, const char *s, size_t len)
{
    struct lp_enc e;
    lp_enc_str(&e, s, len);
    size_t off = (size_t)(*p - lp);
    lp = lp_put(lp, off, lp_entry_total(*p), &e, 0);
    *p = lp + off;
    return lp;
}

unsigned char *lp_delete(unsigned char *lp, unsigned char **p)
{
    size_t off = (size_t)(*p - lp);
    lp = lp_splice(lp, off, lp_entry_total(*p), 0);
    lp_fix_count(lp, -1);
    *p = lp[off] == LP_EOF ? NULL : lp + off;
    return lp;
}

unsigned char *lp_delete_range(unsigned char *lp, long index, size_t count)
{
    if (count == 0)
        return lp;
    unsigned char *p = lp_seek(lp, index);
    if (!p)
        return lp;
    unsigned char *q = p;
    size_t n = 0;
    while (n < count && *q != LP_EOF) {
        q += lp_entry_total(q);
        n++;
    }
    lp = lp_splice(lp, (size_t)(p - lp), (size_t)(q - p), 0);
    lp_fix_count(lp, -(long)n);
    return lp;
}

/* ---- validation of untrusted bytes ---- */

bool lp_validate(const unsigned char *b, size_t size, size_t *count)
{
    if (!b || size < LP_HDR_SIZE + 1 || size > UINT32_MAX)
        return false;
    if (rd32(b) != size || b[size - 1] != LP_EOF)
        return false;
    const size_t end = size - 1; /* offset of the terminator */
    size_t pos = LP_HDR_SIZE, n = 0;
    /* Every read below is at an offset < end, checked before it is made. */
    while (pos < end) {
        size_t avail = end - pos;
        unsigned c = b[pos];
        size_t l;
        if (c < 0x80)
            l = 1;
        else if ((c & 0xC0) == 0x80)
            l = 1 + (c & 0x3F);
        else if ((c & 0xE0) == 0xC0)
            l = 2;
        else if ((c & 0xF0) == 0xE0) {
            if (avail < 2)
                return false;
            l = 2 + ((size_t)(c & 0x0F) << 8 | b[pos + 1]);
        } else if (c == 0xF0) {
            if (avail < 5)
                return false;
            l = 5 + (size_t)rd32(b + pos + 1);
        } else if (c >= 0xF1 && c <= 0xF4) {
            l = 1 + lp_int_width(c);
        } else {
            return false; /* 0xF5..0xFE are unused; 0xFF is only the terminator */
        }
        if (l > avail)
            return false;
        unsigned char back[5];
        size_t bl = lp_backlen_encode(back, l);
        if (bl > avail - l || memcmp(b + pos + l, back, bl) != 0)
            return false;
        pos += l + bl;
        n++;
    }
    unsigned hdr = rd16(b + 4);
    if (hdr != LP_COUNT_UNKNOWN && hdr != n)
        return false;
    if (count)
        *count = n;
    return true;
}
