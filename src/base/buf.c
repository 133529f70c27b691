#include <corekv/buf.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"

char *buf_reserve(struct buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return b->data + b->len;
    if (extra > SIZE_MAX / 2 - b->len) {
        log_msg(LOG_WARNING, "buffer size overflow");
        abort();
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        log_msg(LOG_WARNING, "out of memory allocating %zu bytes", cap);
        abort();
    }
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void buf_shrink(struct buf *b, size_t keep_cap)
{
    if (b->cap <= keep_cap || b->len > keep_cap / 2)
        return;
    if (b->len == 0) {
        buf_free(b);
        return;
    }
    char *p = realloc(b->data, keep_cap);
    if (p) {
        b->data = p;
        b->cap = keep_cap;
    }
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
