/* RESP2/RESP3 reply writer and reader. Integers are formatted by hand (no printf on the
 * reply path); doubles follow Redis's addReplyDouble. */
#include "proto/resp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"

/* Append "<type><v>\r\n". */
static void put_line_i64(struct buf *b, char type, int64_t v)
{
    char tmp[NUMFMT_I64_MAX + 3];
    tmp[0] = type;
    int n = i64_to_str(tmp + 1, v);
    tmp[n + 1] = '\r';
    tmp[n + 2] = '\n';
    buf_append(b, tmp, (size_t)n + 3);
}

/* Append "<type><len>\r\n<p>\r\n" with one reservation. */
static void put_blob(struct buf *b, char type, const char *prefix, size_t plen,
                     const char *p, size_t len)
{
    char *w = buf_reserve(b, len + plen + NUMFMT_I64_MAX + 5);
    w[0] = type;
    int n = i64_to_str(w + 1, (int64_t)(len + plen));
    w += n + 1;
    *w++ = '\r';
    *w++ = '\n';
    if (plen)
        memcpy(w, prefix, plen);
    w += plen;
    if (len)
        memcpy(w, p, len);
    w += len;
    *w++ = '\r';
    *w++ = '\n';
    b->len = (size_t)(w - b->data);
}

void resp_ok(struct buf *b) { buf_append(b, "+OK\r\n", 5); }

/* The caller guarantees s holds no CR or LF (Redis's addReplyStatus does not check). */
void resp_simple(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    char *w = buf_reserve(b, n + 3);
    w[0] = '+';
    memcpy(w + 1, s, n);
    w[n + 1] = '\r';
    w[n + 2] = '\n';
    b->len += n + 3;
}

void resp_error(struct buf *b, const char *msg)
{
    size_t n = strlen(msg);
    char *w = buf_reserve(b, n + 3);
    w[0] = '-';
    /* A CR or LF inside would end the error line early and desynchronize the client. */
    for (size_t i = 0; i < n; i++) {
        char c = msg[i];
        w[i + 1] = (c == '\r' || c == '\n') ? ' ' : c;
    }
    w[n + 1] = '\r';
    w[n + 2] = '\n';
    b->len += n + 3;
}

void resp_errorf(struct buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        resp_error(b, "ERR internal error");
        return;
    }
    if ((size_t)n < sizeof small) {
        resp_error(b, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    resp_error(b, big);
    free(big);
}

void resp_int(struct buf *b, int64_t v) { put_line_i64(b, ':', v); }

void resp_bulk(struct buf *b, const char *p, size_t len) { put_blob(b, '$', NULL, 0, p, len); }

void resp_bulk_cstr(struct buf *b, const char *s) { resp_bulk(b, s, strlen(s)); }

void resp_bulk_i64(struct buf *b, int64_t v)
{
    char tmp[NUMFMT_I64_MAX];
    int n = i64_to_str(tmp, v);
    resp_bulk(b, tmp, (size_t)n);
}

void resp_null(struct buf *b, int proto)
{
    if (proto >= 3)
        buf_append(b, "_\r\n", 3);
    else
        buf_append(b, "$-1\r\n", 5);
}

void resp_null_array(struct buf *b, int proto)
{
    if (proto >= 3)
        buf_append(b, "_\r\n", 3);
    else
        buf_append(b, "*-1\r\n", 5);
}

void resp_array(struct buf *b, int64_t n) { put_line_i64(b, '*', n); }

void resp_map(struct buf *b, int64_t npairs, int proto)
{
    if (proto >= 3)
        put_line_i64(b, '%', npairs);
    else
        put_line_i64(b, '*', npairs * 2);
}

void resp_set(struct buf *b, int64_t n, int proto) { put_line_i64(b, proto >= 3 ? '~' : '*', n); }

void resp_double(struct buf *b, double d, int proto)
{
    /* %.17g never needs more than 24 bytes ("-1.2345678901234567e-308"). */
    char tmp[64];
    int n = double_to_str(tmp, sizeof tmp, d);
    if (proto >= 3) {
        char *w = buf_reserve(b, (size_t)n + 3);
        w[0] = ',';
        memcpy(w + 1, tmp, (size_t)n);
        w[n + 1] = '\r';
        w[n + 2] = '\n';
        b->len += (size_t)n + 3;
    } else {
        resp_bulk(b, tmp, (size_t)n);
    }
}

void resp_bool(struct buf *b, bool v, int proto)
{
    if (proto >= 3)
        buf_append(b, v ? "#t\r\n" : "#f\r\n", 4);
    else
        buf_append(b, v ? ":1\r\n" : ":0\r\n", 4);
}

void resp_verbatim(struct buf *b, const char *p, size_t len, int proto)
{
    if (proto >= 3)
        put_blob(b, '=', "txt:", 4, p, len);
    else
        resp_bulk(b, p, len);
}

/* ---- Reader ---- */

static bool parse_i64(const char *s, size_t len, int64_t *out) { return str_to_i64(s, len, out); }

/* Reads one value at *pos. Fields of v by type:
 *   + - ( ,     str/len: the line's text (an error keeps its code, without '-')
 *   :           n
 *   #           n: 1 for 't', 0 for 'f'
 *   _           nothing
 *   $           str/len and n = len; a null bulk ($-1) has n = -1 and str NULL
 *   =           str/len: the text after its "fmt:" prefix; n = full payload length
 *   * ~ > %     n: element count (% counts pairs; 2n values follow); "*-1" gives n = -1
 */
bool resp_read(const char *p, size_t len, size_t *pos, struct resp_val *v)
{
    size_t at = *pos;
    if (at >= len || len - at < 3)
        return false;
    const char *line = p + at + 1;
    const char *cr = memchr(line, '\r', len - at - 1);
    if (!cr || (size_t)(cr - p) + 1 >= len || cr[1] != '\n')
        return false;
    size_t llen = (size_t)(cr - line);
    size_t after = (size_t)(cr - p) + 2;
    v->type = (enum resp_type)(unsigned char)p[at];
    v->n = 0;
    v->str = NULL;
    v->len = 0;
    switch (p[at]) {
    case '+':
    case '-':
    case '(':
    case ',':
        v->str = line;
        v->len = llen;
        break;
    case ':':
        if (!parse_i64(line, llen, &v->n))
            return false;
        break;
    case '#':
        if (llen != 1 || (line[0] != 't' && line[0] != 'f'))
            return false;
        v->n = line[0] == 't';
        break;
    case '_':
        if (llen != 0)
            return false;
        break;
    case '$':
    case '=': {
        if (!parse_i64(line, llen, &v->n))
            return false;
        if (v->n == -1 && p[at] == '$')
            break;
        if (v->n < 0)
            return false;
        uint64_t n = (uint64_t)v->n;
        if (len - after < 2 || n > len - after - 2 || p[after + n] != '\r' ||
            p[after + n + 1] != '\n')
            return false;
        v->str = p + after;
        v->len = (size_t)n;
        if (p[at] == '=') {
            if (n < 4 || v->str[3] != ':')
                return false;
            v->str += 4;
            v->len -= 4;
        }
        after += (size_t)n + 2;
        break;
    }
    case '*':
    case '%':
    case '~':
    case '>':
        if (!parse_i64(line, llen, &v->n))
            return false;
        if (v->n < 0 && !(v->n == -1 && p[at] == '*'))
            return false;
        break;
    default:
        return false;
    }
    *pos = after;
    return true;
}

bool resp_skip(const char *p, size_t len, size_t *pos)
{
    size_t at = *pos;
    /* Values still to read. Each takes at least 3 bytes, so the count is kept within
     * the remaining input; a header claiming more is malformed or short. */
    uint64_t pending = 1;
    while (pending) {
        struct resp_val v;
        if (!resp_read(p, len, &at, &v))
            return false;
        pending--;
        bool agg = v.type == RESP_ARRAY || v.type == RESP_MAP || v.type == RESP_SET ||
                   v.type == RESP_PUSH;
        if (agg && v.n > 0) {
            uint64_t add = (uint64_t)v.n;
            if (add > len - at)
                return false;
            if (v.type == RESP_MAP)
                add *= 2;
            if (pending + add > len - at)
                return false;
            pending += add;
        }
    }
    *pos = at;
    return true;
}
