/* RESP2/RESP3 reply writer and a small reply reader (for reducing replies of parts).
 *
 * Writers append one complete value (or an aggregate header) to a buffer. Where the
 * two protocols differ, the writer takes the protocol (2 or 3) and writes that shape. */
#ifndef COREKV_PROTO_RESP_H
#define COREKV_PROTO_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>

void resp_ok(struct buf *b);                              /* +OK */
void resp_simple(struct buf *b, const char *s);           /* +s */
/* "-msg\r\n"; msg carries its code ("ERR ...", "WRONGTYPE ..."). CR/LF in msg become
 * spaces, as Redis does. */
void resp_error(struct buf *b, const char *msg);
void resp_errorf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_int(struct buf *b, int64_t v);                  /* :v */
void resp_bulk(struct buf *b, const char *p, size_t len); /* $len p */
void resp_bulk_cstr(struct buf *b, const char *s);
void resp_bulk_i64(struct buf *b, int64_t v);             /* bulk of the decimal digits */
void resp_null(struct buf *b, int proto);                 /* $-1 | _ */
void resp_null_array(struct buf *b, int proto);           /* *-1 | _ */
void resp_array(struct buf *b, int64_t n);                /* *n */
void resp_map(struct buf *b, int64_t npairs, int proto);  /* *2n | %n */
void resp_set(struct buf *b, int64_t n, int proto);       /* *n | ~n */
void resp_double(struct buf *b, double d, int proto);     /* bulk "%.17g" | ,d */
void resp_bool(struct buf *b, bool v, int proto);         /* :1/:0 | #t/#f */
/* Bulk in RESP2, verbatim string "=len\r\nfmt:..." in RESP3 (fmt is "txt"). */
void resp_verbatim(struct buf *b, const char *p, size_t len, int proto);

/* Reader. */
enum resp_type {
    RESP_SIMPLE = '+', RESP_ERROR = '-', RESP_INT = ':', RESP_BULK = '$', RESP_ARRAY = '*',
    RESP_NULL = '_', RESP_MAP = '%', RESP_SET = '~', RESP_DOUBLE = ',', RESP_BOOL = '#',
    RESP_VERBATIM = '=', RESP_BIGNUM = '(', RESP_PUSH = '>',
};
struct resp_val {
    enum resp_type type;
    int64_t n;          /* integer value; aggregate count (-1: null array); bulk: -1 null */
    const char *str;    /* simple/error/bulk/double text */
    size_t len;
};
/* Read one value's header at *pos: scalars are read whole; for aggregates only the
 * header is consumed (their elements follow). Returns false on malformed/short input. */
bool resp_read(const char *p, size_t len, size_t *pos, struct resp_val *v);
/* Skip one whole value (aggregates recursively, with an explicit stack). */
bool resp_skip(const char *p, size_t len, size_t *pos);

#endif
