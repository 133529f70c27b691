/* loadgen's two halves: the script (loadgen_script.c: the commands given on the command
 * line, rendered into request bytes, and the checking of their replies) and the driver
 * (loadgen.c: connections, batches, the event loop, the report). */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RAND_DIGITS 12          /* __rand__ as redis-benchmark -r writes it */

_Noreturn void die(const char *fmt, ...);
void *xrealloc(void *p, size_t n);

/* Makes room in array (of n items of size size, capacity *cap) for one more. */
static inline void *grow(void *array, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return array;
    *cap = *cap ? *cap * 2 : 4;
    return xrealloc(array, *cap * size);
}

struct buf {
    char *data;
    size_t len, cap;
};

static inline void buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static inline void buf_append(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* ---- the script ---------------------------------------------------------- */

extern uint64_t keyspace;       /* -r: __rand__ is below it */
extern uint64_t rng_state;      /* splitmix64 */

/* Reads a -k file: one key a line; the n-th call's list is __keyN__. */
void script_load_key_list(const char *path);

/* Compiles the script from its commands ("WORD WORD ... [=> SHAPE]"); dies on an error. */
void script_compile(size_t n, char **sources);

size_t script_commands(void);   /* commands per execution */
size_t script_max_bytes(void);  /* an upper bound of one execution's request bytes */

/* Writes one execution's request bytes (fresh random numbers and keys) at out, which has
 * room for script_max_bytes(); returns the end of what it wrote. */
char *script_render(char *out);

/* What one reply, and everything nested in it, turned out to be. */
struct verdict {
    unsigned error_replies;      /* error replies where none was expected */
    unsigned unexpected_replies; /* another type, text or length than expected */
    unsigned expected_errors;
    const char *problem;         /* the first offending (sub)reply's line */
    size_t problem_len;
    bool problem_is_error;
};

/* Parses the reply at buf[*pos, len) to the i-th command of the script and checks it
 * against that command's shape, adding to *v. Returns false, leaving *pos alone, when
 * the reply is not all in yet; dies on a protocol violation. */
bool script_check_reply(size_t i, const char *buf, size_t len, size_t *pos, struct verdict *v);

const char *script_source(size_t i); /* the i-th command as given, for messages */

extern const char shape_help[];

#endif
