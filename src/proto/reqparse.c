/* RESP request parser, following Redis 7's processMultibulkBuffer/processInlineBuffer.
 *
 * State between calls (see struct reqparse):
 *  - failed:           multibulk_left == -1; every later call repeats the error.
 *  - command boundary: multibulk_left == 0. The first line starts at `start`; bytes
 *                      [start, pos) are known to hold no terminator of that line (CR
 *                      for a "*N" line, LF for an inline line), so a line arriving in
 *                      pieces is scanned once.
 *  - inside "*N":      multibulk_left > 0 arguments still expected; args[0..nargs) are
 *                      done. While an argument is in progress its slot args[nargs]
 *                      exists (nargs < cap) and, while its "$len" line is incomplete
 *                      (bulk_len == -1), args[nargs].off holds where that line starts
 *                      and [line, pos) holds no CR. Once the length is known
 *                      (bulk_len >= 0), pos is where the argument's bytes start.
 * Inside a command, argument offsets are kept relative to `start`, so that
 * reqparse_rebase is O(1) whatever the number of arguments; they become offsets into
 * the caller's buffer when the command is returned.
 *
 * Line-length limits are applied as if bytes arrived one at a time (the strictest
 * delivery Redis can see), so the outcome never depends on how input was split: a
 * line whose terminator lies more than REQ_INLINE_MAX bytes after its start is
 * rejected even if it arrived whole. */
#include "proto/reqparse.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"

#define DEFAULT_MAX_BULK (512ULL * 1024 * 1024)
#define DEFAULT_MAX_ARGC ((uint64_t)INT_MAX)
/* Argument slots reserved up front for "*N": never more than this, whatever N says. */
#define ARGS_PREALLOC 1024
/* An args array grown past this by one large command is shrunk back afterwards. */
#define ARGS_KEEP 4096

enum step { STEP_INCOMPLETE, STEP_ERROR, STEP_SKIP, STEP_DONE };

void reqparse_init(struct reqparse *p)
{
    memset(p, 0, sizeof *p);
    p->bulk_len = -1;
}

void reqparse_free(struct reqparse *p)
{
    free(p->args);
    p->args = NULL;
    p->nargs = p->cap = 0;
}

void reqparse_rebase(struct reqparse *p, size_t dropped)
{
    assert(dropped <= p->start);
    p->start -= dropped;
    p->pos -= dropped;
}

static void set_cap(struct reqparse *p, size_t cap)
{
    struct req_arg *a = realloc(p->args, cap * sizeof *a);
    if (!a)
        abort(); /* as Redis's zmalloc: out of memory is fatal */
    p->args = a;
    p->cap = cap;
}

/* Make room for one more argument, growing geometrically but never past `bound`
 * (>= nargs + 1): the number of arguments the command can still have. */
static void grow_args(struct reqparse *p, uint64_t bound)
{
    if (p->nargs < p->cap)
        return;
    uint64_t cap = p->cap ? (uint64_t)p->cap * 2 : 16;
    if (cap > bound)
        cap = bound;
    if (cap > SIZE_MAX / sizeof(struct req_arg))
        abort();
    set_cap(p, (size_t)cap);
}

static enum step fail(struct reqparse *p, const char *msg)
{
    snprintf(p->errbuf, sizeof p->errbuf, "%s", msg);
    p->multibulk_left = -1;
    return STEP_ERROR;
}

/* Find the CR ending the line that starts at `line`, resuming the scan at p->pos.
 * Returns STEP_DONE with *cr set when the CR and the byte after it are present. */
static enum step find_cr(struct reqparse *p, const char *data, size_t len, size_t line,
                         const char *too_big, size_t *cr)
{
    const char *hit = memchr(data + p->pos, '\r', len - p->pos);
    if (!hit) {
        p->pos = len;
        return len - line > REQ_INLINE_MAX ? fail(p, too_big) : STEP_INCOMPLETE;
    }
    size_t k = (size_t)(hit - data);
    if (k - line > REQ_INLINE_MAX)
        return fail(p, too_big);
    p->pos = k;
    if (k + 1 >= len) /* Redis needs one byte after the CR (and does not check it) */
        return STEP_INCOMPLETE;
    *cr = k;
    return STEP_DONE;
}

/* The common case in one pass, without memchr: at `line` a complete
 * "<type><1 to 18 digits>\r" plus the byte after it, the digits being a strict
 * non-negative integer (no leading zero). Anything else goes the general way. */
static bool fast_number_line(const char *data, size_t len, size_t line, char type, int64_t *n,
                             size_t *cr)
{
    if (len - line < 4 || data[line] != type)
        return false;
    size_t i = line + 1, stop = len - line > 20 ? line + 20 : len;
    uint64_t v = 0;
    while (i < stop && (unsigned)(data[i] - '0') <= 9)
        v = v * 10 + (uint64_t)(data[i++] - '0');
    size_t ndig = i - line - 1;
    if (!ndig || ndig > 18 || i + 1 >= len || data[i] != '\r' ||
        (data[line + 1] == '0' && ndig > 1))
        return false;
    *n = (int64_t)v;
    *cr = i;
    return true;
}

/* The "*N" line at start. STEP_DONE: multibulk_left > 0 and the first "$len" is next. */
static enum step parse_header(struct reqparse *p, const char *data, size_t len,
                              uint64_t max_argc)
{
    size_t cr;
    int64_t n;
    if (p->pos == p->start && fast_number_line(data, len, p->start, '*', &n, &cr))
        goto have_count;
    enum step s = find_cr(p, data, len, p->start, "Protocol error: too big mbulk count string",
                          &cr);
    if (s != STEP_DONE)
        return s;
    if (!str_to_i64(data + p->start + 1, cr - p->start - 1, &n))
        return fail(p, "Protocol error: invalid multibulk length");
have_count:
    if (n > 0 && (uint64_t)n > max_argc)
        return fail(p, "Protocol error: invalid multibulk length");
    p->pos = cr + 2;
    if (n <= 0) { /* an empty command: skipped */
        p->start = p->pos;
        return STEP_SKIP;
    }
    size_t want = (uint64_t)n < ARGS_PREALLOC ? (size_t)n : ARGS_PREALLOC;
    if (p->cap < want || (p->cap > ARGS_KEEP && want <= ARGS_PREALLOC))
        set_cap(p, p->cap < want ? want : ARGS_PREALLOC);
    p->multibulk_left = n;
    p->bulk_len = -1;
    p->nargs = 0;
    p->args[0].off = p->pos - p->start;
    return STEP_DONE;
}

/* The "$len" line of argument nargs. STEP_DONE: bulk_len >= 0, pos at its bytes. */
static enum step parse_bulk_len(struct reqparse *p, const char *data, size_t len,
                                uint64_t max_bulk)
{
    size_t line = p->start + p->args[p->nargs].off;
    int64_t n;
    size_t cr;

    if (p->pos == line && fast_number_line(data, len, line, '$', &n, &cr))
        goto have_len;

    enum step s = find_cr(p, data, len, line, "Protocol error: too big bulk count string", &cr);
    if (s != STEP_DONE)
        return s;
    if (data[line] != '$') {
        snprintf(p->errbuf, sizeof p->errbuf, "Protocol error: expected '$', got '%c'",
                 data[line]);
        p->multibulk_left = -1;
        return STEP_ERROR;
    }
    if (!str_to_i64(data + line + 1, cr - line - 1, &n))
        return fail(p, "Protocol error: invalid bulk length");
have_len:
    if (n < 0 || (uint64_t)n > max_bulk)
        return fail(p, "Protocol error: invalid bulk length");
    p->bulk_len = n;
    p->pos = cr + 2;
    return STEP_DONE;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void push_arg(struct reqparse *p, size_t off, size_t len)
{
    grow_args(p, UINT64_MAX);
    p->args[p->nargs].off = off;
    p->args[p->nargs].len = len;
    p->nargs++;
}

/* Split d[b, e) into arguments as Redis's sdssplitargs does, unescaping in place: the
 * write position w never passes the read position r, since every output byte
 * consumes at least one input byte. Returns false on unbalanced quotes.
 * sdssplitargs works on a C string; Redis cannot deliver a NUL inside an inline line
 * (its LF search stops there), so here NUL is an ordinary byte. */
static bool split_inline(struct reqparse *p, char *d, size_t b, size_t e)
{
    size_t r = b;
    p->nargs = 0;
    for (;;) {
        while (r < e && is_space(d[r]))
            r++;
        if (r == e)
            return true;
        size_t tok = r, w = r;
        bool inq = false, insq = false;
        for (bool done = false; !done;) {
            if (inq) {
                if (r == e)
                    return false;
                int h1, h2;
                if (d[r] == '\\' && e - r >= 4 && d[r + 1] == 'x' &&
                    (h1 = hex_val(d[r + 2])) >= 0 && (h2 = hex_val(d[r + 3])) >= 0) {
                    d[w++] = (char)(h1 * 16 + h2);
                    r += 4;
                } else if (d[r] == '\\' && e - r >= 2) {
                    char c = d[r + 1];
                    switch (c) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: break;
                    }
                    d[w++] = c;
                    r += 2;
                } else if (d[r] == '"') {
                    /* The closing quote must be followed by a space or the end. */
                    if (e - r >= 2 && !is_space(d[r + 1]))
                        return false;
                    r++;
                    done = true;
                } else {
                    d[w++] = d[r++];
                }
            } else if (insq) {
                if (r == e)
                    return false;
                if (d[r] == '\\' && e - r >= 2 && d[r + 1] == '\'') {
                    d[w++] = '\'';
                    r += 2;
                } else if (d[r] == '\'') {
                    if (e - r >= 2 && !is_space(d[r + 1]))
                        return false;
                    r++;
                    done = true;
                } else {
                    d[w++] = d[r++];
                }
            } else if (r == e) {
                done = true;
            } else {
                switch (d[r]) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                    done = true;
                    break;
                case '"':
                    inq = true;
                    break;
                case '\'':
                    insq = true;
                    break;
                default:
                    d[w++] = d[r];
                    break;
                }
                r++;
            }
        }
        push_arg(p, tok, w - tok);
    }
}

/* An inline command line at start. STEP_DONE: args hold it, start/pos are past it. */
static enum step parse_inline(struct reqparse *p, char *data, size_t len)
{
    const char *hit = memchr(data + p->pos, '\n', len - p->pos);
    if (!hit) {
        p->pos = len;
        return len - p->start > REQ_INLINE_MAX
                   ? fail(p, "Protocol error: too big inline request")
                   : STEP_INCOMPLETE;
    }
    size_t lf = (size_t)(hit - data);
    if (lf - p->start > REQ_INLINE_MAX)
        return fail(p, "Protocol error: too big inline request");
    size_t end = lf;
    if (end > p->start && data[end - 1] == '\r')
        end--;
    if (!split_inline(p, data, p->start, end))
        return fail(p, "Protocol error: unbalanced quotes in request");
    p->start = p->pos = lf + 1;
    return p->nargs ? STEP_DONE : STEP_SKIP;
}

enum req_status reqparse_next(struct reqparse *p, char *data, size_t len,
                              const struct req_limits *lim, const char **err)
{
    uint64_t max_bulk = lim ? lim->max_bulk : DEFAULT_MAX_BULK;
    uint64_t max_argc = lim ? lim->max_argc : DEFAULT_MAX_ARGC;
    enum step s;

    if (p->multibulk_left < 0)
        goto error;
    for (;;) {
        if (p->multibulk_left == 0) {
            p->nargs = 0;
            if (p->start >= len)
                return REQ_INCOMPLETE;
            if (data[p->start] != '*') {
                s = parse_inline(p, data, len);
                if (s == STEP_SKIP)
                    continue;
                if (s == STEP_DONE)
                    return REQ_COMMAND;
                break;
            }
            s = parse_header(p, data, len, max_argc);
            if (s == STEP_SKIP)
                continue;
            if (s != STEP_DONE)
                break;
        }
        /* Arguments of "*N". */
        while (p->multibulk_left > 0) {
            if (p->bulk_len < 0) {
                s = parse_bulk_len(p, data, len, max_bulk);
                if (s != STEP_DONE)
                    goto out;
            }
            /* Its bytes and the 2 after them, which Redis skips without checking. */
            if ((uint64_t)(len - p->pos) < (uint64_t)p->bulk_len + 2)
                return REQ_INCOMPLETE;
            struct req_arg *a = &p->args[p->nargs++];
            a->off = p->pos - p->start;
            a->len = (size_t)p->bulk_len;
            p->pos += (size_t)p->bulk_len + 2;
            p->bulk_len = -1;
            if (--p->multibulk_left > 0) {
                grow_args(p, (uint64_t)p->nargs + (uint64_t)p->multibulk_left);
                p->args[p->nargs].off = p->pos - p->start;
            }
        }
        for (size_t i = 0; i < p->nargs; i++)
            p->args[i].off += p->start;
        p->start = p->pos;
        return REQ_COMMAND;
    }
out:
    if (s == STEP_INCOMPLETE)
        return REQ_INCOMPLETE;
error:
    *err = p->errbuf;
    return REQ_ERROR;
}
