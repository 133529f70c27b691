/* RDB primitives (see rdb.h): lengths, strings (INT forms, LZF), doubles, the header
 * pieces, CRC64, and the bounds-checked reader. */
#include "persist/rdb.h"

#include <lzf.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/numfmt.h"

/* Length forms: the top two bits of the first byte. */
#define LEN_6BIT 0u
#define LEN_14BIT 1u
#define LEN_SPECIAL 3u
#define LEN_32BIT 0x80u
#define LEN_64BIT 0x81u
/* Special string forms (the low six bits after 11). */
#define ENC_INT8 0u
#define ENC_INT16 1u
#define ENC_INT32 2u
#define ENC_LZF 3u

/* Redis tries INT forms only for strings this short, and LZF only for longer ones. */
#define INT_TRY_MAX 11u
#define LZF_MIN 21u
/* LZF expands at most 264 bytes out of a 3-byte back reference (88x): a claimed
 * original length beyond this ratio to the compressed one cannot be genuine. */
#define LZF_MAX_RATIO 90u

/* ---- Writing ---- */

size_t rdb_encode_len(unsigned char b[9], uint64_t len)
{
    if (len < (1u << 6)) {
        b[0] = (unsigned char)len;
        return 1;
    }
    if (len < (1u << 14)) {
        b[0] = (unsigned char)((LEN_14BIT << 6) | (len >> 8));
        b[1] = (unsigned char)len;
        return 2;
    }
    if (len <= UINT32_MAX) {
        b[0] = LEN_32BIT;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        return 5;
    }
    b[0] = LEN_64BIT;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 9;
}

size_t rdb_encode_int(unsigned char b[5], int64_t v)
{
    uint32_t u = (uint32_t)v; /* two's complement bytes, little-endian */
    if (v >= INT8_MIN && v <= INT8_MAX) {
        b[0] = (LEN_SPECIAL << 6) | ENC_INT8;
        b[1] = (unsigned char)u;
        return 2;
    }
    if (v >= INT16_MIN && v <= INT16_MAX) {
        b[0] = (LEN_SPECIAL << 6) | ENC_INT16;
        b[1] = (unsigned char)u;
        b[2] = (unsigned char)(u >> 8);
        return 3;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        b[0] = (LEN_SPECIAL << 6) | ENC_INT32;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (unsigned char)(u >> (8 * i));
        return 5;
    }
    return 0;
}

void rdb_put_len(struct buf *out, uint64_t len)
{
    unsigned char b[9];
    buf_append(out, b, rdb_encode_len(b, len));
}

/* The LZF form, when it is at least 4 bytes shorter than the string (Redis's
 * rdbSaveLzfStringObject). Compresses straight into out, then slides the bytes behind
 * their header. */
static bool put_lzf(struct buf *out, const void *p, size_t len)
{
    if (len > UINT32_MAX)
        return false;
    size_t room = len - 4, hdr_max = 1 + 9 + 9;
    char *dst = buf_reserve(out, hdr_max + room);
    unsigned clen = lzf_compress(p, (unsigned)len, dst + hdr_max, (unsigned)room);
    if (clen == 0)
        return false;
    unsigned char hdr[19];
    size_t h = 0;
    hdr[h++] = (LEN_SPECIAL << 6) | ENC_LZF;
    h += rdb_encode_len(hdr + h, clen);
    h += rdb_encode_len(hdr + h, len);
    memcpy(dst, hdr, h);
    memmove(dst + h, dst + hdr_max, clen);
    out->len += h + clen;
    return true;
}

void rdb_put_string(struct buf *out, const void *p, size_t len, bool compress)
{
    int64_t v;
    if (len <= INT_TRY_MAX && str_to_i64(p, len, &v)) {
        unsigned char b[5];
        size_t n = rdb_encode_int(b, v);
        if (n) {
            buf_append(out, b, n);
            return;
        }
    }
    if (compress && len >= LZF_MIN && put_lzf(out, p, len))
        return;
    rdb_put_len(out, len);
    buf_append(out, p, len);
}

void rdb_put_int(struct buf *out, int64_t v)
{
    unsigned char b[5];
    size_t n = rdb_encode_int(b, v);
    if (n) {
        buf_append(out, b, n);
        return;
    }
    char d[NUMFMT_I64_MAX];
    int dl = i64_to_str(d, v);
    rdb_put_len(out, (uint64_t)dl);
    buf_append(out, d, (size_t)dl);
}

static void put_le64(struct buf *out, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    buf_append(out, b, 8);
}

void rdb_put_double(struct buf *out, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_le64(out, bits);
}

void rdb_put_ms(struct buf *out, int64_t ms) { put_le64(out, (uint64_t)ms); }

void rdb_put_magic(struct buf *out)
{
    char m[16];
    int n = snprintf(m, sizeof m, "REDIS%04d", RDB_VERSION);
    buf_append(out, m, (size_t)n);
}

void rdb_put_aux(struct buf *out, const char *key, const char *val, size_t vlen)
{
    buf_putc(out, (char)RDB_OP_AUX);
    rdb_put_string(out, key, strlen(key), true);
    rdb_put_string(out, val, vlen, true);
}

void rdb_put_aux_int(struct buf *out, const char *key, int64_t v)
{
    char d[NUMFMT_I64_MAX];
    int dl = i64_to_str(d, v);
    rdb_put_aux(out, key, d, (size_t)dl);
}

void rdb_put_selectdb(struct buf *out, uint64_t db)
{
    buf_putc(out, (char)RDB_OP_SELECTDB);
    rdb_put_len(out, db);
}

void rdb_put_resizedb(struct buf *out, uint64_t keys, uint64_t expires)
{
    buf_putc(out, (char)RDB_OP_RESIZEDB);
    rdb_put_len(out, keys);
    rdb_put_len(out, expires);
}

void rdb_put_eof(struct buf *out) { buf_putc(out, (char)RDB_OP_EOF); }

void rdb_put_checksum(struct buf *out, bool checksum)
{
    put_le64(out, checksum ? rdb_crc64(0, out->data, out->len) : 0);
}

/* ---- CRC64: reflected Jones polynomial, eight bytes per step (slicing by 8) ---- */

#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ull

static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc_table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint64_t rdb_crc64(uint64_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    while (n >= 8) {
        uint64_t w = 0;
        for (int i = 0; i < 8; i++)
            w |= (uint64_t)p[i] << (8 * i);
        crc ^= w;
        crc = crc_table[7][crc & 0xff] ^ crc_table[6][(crc >> 8) & 0xff] ^
              crc_table[5][(crc >> 16) & 0xff] ^ crc_table[4][(crc >> 24) & 0xff] ^
              crc_table[3][(crc >> 32) & 0xff] ^ crc_table[2][(crc >> 40) & 0xff] ^
              crc_table[1][(crc >> 48) & 0xff] ^ crc_table[0][crc >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---- LZF decompression, every reference checked ----
 *
 * A control byte c below 32 starts a literal run of c + 1 bytes. Otherwise it is a back
 * reference: length c >> 5 (7: add the next byte), plus 2; distance ((c & 31) << 8) +
 * the next byte + 1, counted back from the output position. A reference may overlap the
 * bytes it produces, so it is copied byte by byte. */
bool rdb_lzf_decompress(const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t out_len)
{
    const unsigned char *ip = in, *in_end = in + in_len;
    size_t op = 0;
    while (ip < in_end) {
        unsigned c = *ip++;
        if (c < 32) {
            size_t n = (size_t)c + 1;
            if ((size_t)(in_end - ip) < n || out_len - op < n)
                return false;
            memcpy(out + op, ip, n);
            ip += n;
            op += n;
            continue;
        }
        size_t n = c >> 5;
        if (n == 7) {
            if (ip == in_end)
                return false;
            n += *ip++;
        }
        if (ip == in_end)
            return false;
        size_t dist = ((size_t)(c & 31) << 8) + *ip++ + 1;
        n += 2;
        if (dist > op || out_len - op < n)
            return false;
        for (size_t i = 0; i < n; i++, op++)
            out[op] = out[op - dist];
    }
    return op == out_len;
}

/* ---- Reading ---- */

void rdb_reader_init(struct rdb_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err_pos = 0;
    r->err[0] = '\0';
}

bool rdb_fail(struct rdb_reader *r, size_t at, const char *fmt, ...)
{
    if (rdb_failed(r))
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    if (!r->err[0])
        snprintf(r->err, sizeof r->err, "malformed RDB");
    r->err_pos = at;
    return false;
}

void rdb_error(const struct rdb_reader *r, char *buf, size_t len)
{
    if (len)
        snprintf(buf, len, "%s at offset %zu", rdb_failed(r) ? r->err : "no error", r->err_pos);
}

/* n more bytes must be there; fails at the current offset otherwise. */
static bool need(struct rdb_reader *r, size_t n)
{
    if (rdb_failed(r))
        return false;
    if (rdb_left(r) >= n)
        return true;
    return rdb_fail(r, r->pos, "unexpected end of data (%zu bytes needed, %zu left)", n,
                    rdb_left(r));
}

bool rdb_read_raw(struct rdb_reader *r, size_t n, const unsigned char **p)
{
    if (!need(r, n))
        return false;
    *p = r->p + r->pos;
    r->pos += n;
    return true;
}

bool rdb_read_u8(struct rdb_reader *r, uint8_t *v)
{
    if (!need(r, 1))
        return false;
    *v = r->p[r->pos++];
    return true;
}

static uint64_t le_bytes(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

bool rdb_read_magic(struct rdb_reader *r, int *version)
{
    const unsigned char *m;
    if (!rdb_read_raw(r, 9, &m))
        return false;
    if (memcmp(m, "REDIS", 5) != 0)
        return rdb_fail(r, 0, "not an RDB file (bad signature)");
    int v = 0;
    for (int i = 5; i < 9; i++) {
        if (m[i] < '0' || m[i] > '9')
            return rdb_fail(r, (size_t)i, "bad RDB version digits");
        v = v * 10 + (m[i] - '0');
    }
    if (v < 1 || v > RDB_VERSION_MAX)
        return rdb_fail(r, 5, "unsupported RDB version %d", v);
    *version = v;
    return true;
}

/* The first byte of a length or string: returns false at the end of data. */
static bool read_len_or_enc(struct rdb_reader *r, uint64_t *v, bool *special)
{
    size_t at = r->pos;
    uint8_t b;
    if (!rdb_read_u8(r, &b))
        return false;
    *special = false;
    const unsigned char *p;
    switch (b >> 6) {
    case LEN_6BIT:
        *v = b & 0x3f;
        return true;
    case LEN_14BIT:
        if (!rdb_read_raw(r, 1, &p))
            return false;
        *v = ((uint64_t)(b & 0x3f) << 8) | p[0];
        return true;
    case LEN_SPECIAL:
        *special = true;
        *v = b & 0x3f;
        return true;
    default:
        break;
    }
    int n = b == LEN_32BIT ? 4 : b == LEN_64BIT ? 8 : 0;
    if (!n)
        return rdb_fail(r, at, "bad length encoding 0x%02x", b);
    if (!rdb_read_raw(r, (size_t)n, &p))
        return false;
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x = (x << 8) | p[i];
    *v = x;
    return true;
}

bool rdb_read_len(struct rdb_reader *r, uint64_t *len)
{
    size_t at = r->pos;
    bool special;
    if (!read_len_or_enc(r, len, &special))
        return false;
    if (special)
        return rdb_fail(r, at, "string encoding where a length was expected");
    return true;
}

bool rdb_read_ms(struct rdb_reader *r, int64_t *ms)
{
    const unsigned char *p;
    if (!rdb_read_raw(r, 8, &p))
        return false;
    *ms = (int64_t)le_bytes(p, 8);
    return true;
}

bool rdb_read_secs(struct rdb_reader *r, int32_t *secs)
{
    const unsigned char *p;
    if (!rdb_read_raw(r, 4, &p))
        return false;
    *secs = (int32_t)(uint32_t)le_bytes(p, 4);
    return true;
}

bool rdb_read_double(struct rdb_reader *r, double *v)
{
    const unsigned char *p;
    if (!rdb_read_raw(r, 8, &p))
        return false;
    uint64_t bits = le_bytes(p, 8);
    memcpy(v, &bits, sizeof *v);
    return true;
}

bool rdb_read_text_double(struct rdb_reader *r, double *v)
{
    size_t at = r->pos;
    uint8_t n;
    if (!rdb_read_u8(r, &n))
        return false;
    switch (n) {
    case 253: *v = NAN; return true;
    case 254: *v = INFINITY; return true;
    case 255: *v = -INFINITY; return true;
    default: break;
    }
    const unsigned char *p;
    if (!rdb_read_raw(r, n, &p))
        return false;
    if (!str_to_double((const char *)p, n, v))
        return rdb_fail(r, at, "bad double value");
    return true;
}

static bool read_lzf(struct rdb_reader *r, size_t at, struct rdb_str *s)
{
    uint64_t clen, len;
    if (!rdb_read_len(r, &clen) || !rdb_read_len(r, &len))
        return false;
    if (clen == 0 || len == 0 || clen > rdb_left(r) || len > RDB_STRING_MAX ||
        len / LZF_MAX_RATIO > clen)
        return rdb_fail(r, at, "bad LZF string lengths (%llu compressed, %llu original)",
                        (unsigned long long)clen, (unsigned long long)len);
    const unsigned char *in;
    rdb_read_raw(r, (size_t)clen, &in);
    s->heap = malloc((size_t)len);
    if (!s->heap) {
        log_msg(LOG_WARNING, "out of memory decompressing %llu bytes", (unsigned long long)len);
        abort();
    }
    if (!rdb_lzf_decompress(in, (size_t)clen, (unsigned char *)s->heap, (size_t)len)) {
        rdb_str_free(s);
        return rdb_fail(r, at, "invalid LZF compressed string");
    }
    s->s = s->heap;
    s->len = (size_t)len;
    return true;
}

bool rdb_read_string(struct rdb_reader *r, struct rdb_str *s)
{
    s->heap = NULL;
    s->is_int = false;
    s->s = NULL;
    s->len = 0;
    size_t at = r->pos;
    uint64_t v;
    bool special;
    if (!read_len_or_enc(r, &v, &special))
        return false;
    if (!special) {
        if (v > RDB_STRING_MAX)
            return rdb_fail(r, at, "string too long (%llu bytes)", (unsigned long long)v);
        const unsigned char *p;
        if (!rdb_read_raw(r, (size_t)v, &p))
            return false;
        s->s = (const char *)p;
        s->len = (size_t)v;
        return true;
    }
    const unsigned char *p;
    switch (v) {
    case ENC_INT8:
        if (!rdb_read_raw(r, 1, &p))
            return false;
        s->i = (int8_t)p[0];
        break;
    case ENC_INT16:
        if (!rdb_read_raw(r, 2, &p))
            return false;
        s->i = (int16_t)(uint16_t)le_bytes(p, 2);
        break;
    case ENC_INT32:
        if (!rdb_read_raw(r, 4, &p))
            return false;
        s->i = (int32_t)(uint32_t)le_bytes(p, 4);
        break;
    case ENC_LZF:
        return read_lzf(r, at, s);
    default:
        return rdb_fail(r, at, "unknown string encoding %u", (unsigned)v);
    }
    s->is_int = true;
    s->len = (size_t)i64_to_str(s->ibuf, s->i);
    s->s = s->ibuf;
    return true;
}

void rdb_str_free(struct rdb_str *s)
{
    free(s->heap);
    s->heap = NULL;
}
