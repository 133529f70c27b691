/* RESP request parser: multibulk (*N $len ...) and inline commands, resumable, in place.
 *
 * The parser walks a connection's input buffer. Arguments are returned as offsets into
 * that buffer (never pointers), so the buffer may be reallocated between calls. Inline
 * arguments with quotes or escapes are unescaped in place (the result is never longer
 * than its source). State carries across calls: a command split over many reads is
 * scanned once, not re-parsed from its start.
 *
 * Error texts are Redis's, without the "-ERR " prefix; after an error the connection
 * must be answered with it and closed. */
#ifndef COREKV_PROTO_REQPARSE_H
#define COREKV_PROTO_REQPARSE_H

#include <stddef.h>
#include <stdint.h>

#define REQ_INLINE_MAX (64 * 1024) /* PROTO_INLINE_MAX_SIZE */

struct req_arg {
    size_t off, len;
};

struct req_limits {
    uint64_t max_bulk;   /* proto-max-bulk-len */
    uint64_t max_argc;   /* largest multibulk count accepted (Redis: INT_MAX) */
};

struct reqparse {
    /* Start of the command being parsed; bytes before it are consumed. */
    size_t start;
    /* Scan position (>= start). */
    size_t pos;
    int64_t multibulk_left; /* arguments still expected; 0: at a command boundary */
    int64_t bulk_len;       /* -1: expecting a $len line */
    struct req_arg *args;   /* arguments of the current command */
    size_t nargs, cap;
    char errbuf[64];
};

enum req_status {
    REQ_INCOMPLETE, /* need more bytes */
    REQ_COMMAND,    /* args[0..nargs) hold one command; pos is past it */
    REQ_ERROR,      /* *err is the protocol error text */
};

void reqparse_init(struct reqparse *p);
void reqparse_free(struct reqparse *p);
/* Parse the next command of data[0..len). Empty commands (*0, *-1, blank inline
 * lines) are skipped. After REQ_COMMAND the caller uses args, then calls again. */
enum req_status reqparse_next(struct reqparse *p, char *data, size_t len,
                              const struct req_limits *lim, const char **err);
/* Bytes fully consumed (all complete commands); the caller drops them from its buffer
 * and then calls reqparse_rebase with that count. */
static inline size_t reqparse_consumed(const struct reqparse *p) { return p->start; }
void reqparse_rebase(struct reqparse *p, size_t dropped);

#endif
