/* A growable byte buffer: the unit in which replies are written and bytes travel.
 *
 * Invariant: data[0..len) is valid; cap >= len; data is NULL only when cap == 0.
 * Growth is geometric, so appending n bytes one at a time is O(n). Allocation
 * failure aborts the process (as a failed malloc does in Redis): callers bound
 * every size they take from a client before it reaches a buffer. */
#ifndef COREKV_BUF_H
#define COREKV_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Make room for at least `extra` more bytes; returns the write position. */
char *buf_reserve(struct buf *b, size_t extra);
void buf_free(struct buf *b);
/* Drop the first n bytes, keeping the rest (memmove). */
void buf_consume(struct buf *b, size_t n);
/* Give back memory when the buffer is much larger than what it holds. */
void buf_shrink(struct buf *b, size_t keep_cap);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void buf_append(struct buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n)
        buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void buf_putc(struct buf *b, char c)
{
    if (b->cap == b->len)
        buf_reserve(b, 1);
    b->data[b->len++] = c;
}

static inline void buf_puts(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }

#endif
