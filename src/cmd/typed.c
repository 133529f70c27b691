/* Shared by the aggregate families (lists, hashes, sets, sorted sets) and SCAN: typed key
 * lookup, argument parsing as Redis does it, the SCAN family's cursor, options and reply,
 * and the ways a multi-shard step ends. */
#include "cmd/typed.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/numfmt.h"

int key_typed(struct rt_call *call, const rt_str *key, enum val_type t, bool write,
              struct entry **ep)
{
    struct store *s = cmd_shard(call)->store;
    struct entry *e = store_find(s, key->ptr, key->len, true);
    if (!write)
        store_count_lookup(s, key->ptr, key->len, e != NULL);
    *ep = e;
    if (!e)
        return 0;
    if (entry_type(e) != t) {
        resp_error(call->out, ERR_WRONGTYPE);
        *ep = NULL;
        return -1;
    }
    return 1;
}

bool arg_i64(struct rt_call *call, const rt_str *a, int64_t *v)
{
    if (str_to_i64(a->ptr, a->len, v))
        return true;
    resp_error(call->out, ERR_NOT_INT);
    return false;
}

bool arg_double(struct rt_call *call, const rt_str *a, double *v)
{
    if (str_to_double(a->ptr, a->len, v))
        return true;
    resp_error(call->out, ERR_NOT_FLOAT);
    return false;
}

bool arg_count(struct rt_call *call, const rt_str *a, int64_t *v)
{
    if (str_to_i64(a->ptr, a->len, v) && *v >= 0)
        return true;
    resp_error(call->out, "ERR value is out of range, must be positive");
    return false;
}

bool arg_i64_range(struct rt_call *call, const rt_str *a, int64_t min, int64_t max,
                   int64_t *v)
{
    if (!arg_i64(call, a, v))
        return false;
    if (*v >= min && *v <= max)
        return true;
    resp_errorf(call->out,
                "ERR value is out of range, value must between %" PRId64 " and %" PRId64, min,
                max);
    return false;
}

bool index_range(int64_t start, int64_t end, size_t len, size_t *s, size_t *e)
{
    int64_t n = (int64_t)len;
    if (start < 0)
        start += n;
    if (end < 0)
        end += n;
    if (start < 0)
        start = 0;
    if (start > end || start >= n)
        return false;
    if (end >= n)
        end = n - 1;
    *s = (size_t)start;
    *e = (size_t)end;
    return true;
}

/* ---- The SCAN family ---- */

bool scan_cursor_parse(const rt_str *a, uint64_t *cursor)
{
    const char *nul = memchr(a->ptr, '\0', a->len);
    size_t len = nul ? (size_t)(nul - a->ptr) : a->len, i = 0;
    const char *p = a->ptr;
    *cursor = 0;
    if (len == 0)
        return true;
    /* strtoul would skip leading white space; Redis rejects it (isspace, C locale). */
    if (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r'))
        return false;
    bool neg = false;
    if (p[i] == '+' || p[i] == '-')
        neg = p[i++] == '-';
    if (i == len)
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *cursor = neg ? (uint64_t)0 - v : v;
    return true;
}

bool arg_scan_cursor(struct rt_call *call, const rt_str *a, uint64_t *cursor)
{
    if (scan_cursor_parse(a, cursor))
        return true;
    resp_error(call->out, ERR_INVALID_CURSOR);
    return false;
}

const char *scan_opts_parse(const rt_str *argv, int argc, int first, bool with_type,
                            struct scan_opts *o)
{
    *o = (struct scan_opts){.count_v = 10};
    for (int i = first; i < argc; i += 2) {
        bool more = argc - i >= 2;
        if (more && arg_is(&argv[i], "count")) {
            if (!str_to_i64(argv[i + 1].ptr, argv[i + 1].len, &o->count_v))
                return ERR_NOT_INT;
            if (o->count_v < 1)
                return ERR_SYNTAX;
            o->count = &argv[i + 1];
        } else if (more && arg_is(&argv[i], "match")) {
            o->match = &argv[i + 1];
        } else if (more && with_type && arg_is(&argv[i], "type")) {
            o->type = &argv[i + 1];
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

bool scan_key_start(struct rt_call *call, enum val_type t, struct entry **ep, uint64_t *cursor,
                    struct scan_opts *o)
{
    if (!arg_scan_cursor(call, &call->argv[2], cursor))
        return false;
    int r = key_typed(call, &call->argv[1], t, false, ep);
    if (r < 0)
        return false;
    if (r == 0) {
        scan_reply(call->out, 0, 0, &(struct buf){0});
        return false;
    }
    const char *err = scan_opts_parse(call->argv, call->argc, 3, false, o);
    if (err) {
        resp_error(call->out, err);
        return false;
    }
    return true;
}

void scan_reply(struct buf *out, uint64_t cursor, int64_t n, const struct buf *items)
{
    char cb[NUMFMT_I64_MAX];
    int cl = snprintf(cb, sizeof cb, "%" PRIu64, cursor);
    resp_array(out, 2);
    resp_bulk(out, cb, (size_t)cl);
    resp_array(out, n);
    buf_append(out, items->data, items->len);
}

/* ---- Ending a multi-shard step ---- */

void txn_finish_error(struct rt_txn *t, const char *msg)
{
    struct buf *b = rt_txn_scratch(t);
    resp_error(b, msg);
    rt_txn_finish(t, b->data, b->len);
}

void txn_finish_bad(struct rt_txn *t, rt_str r)
{
    if (r.len && r.ptr[0] == '-')
        rt_txn_finish(t, r.ptr, r.len);
    else
        txn_finish_error(t, "ERR internal error");
}

bool txn_finish_if_error(struct rt_txn *t)
{
    for (unsigned i = 0; i < rt_txn_nresults(t); i++) {
        rt_str r = rt_txn_result(t, i);
        if (r.len && r.ptr[0] == '-') {
            rt_txn_finish(t, r.ptr, r.len);
            return true;
        }
    }
    return false;
}

bool arg_rand_count(struct rt_call *call, const char *with, int64_t *count, bool *with_given)
{
    if (!arg_i64_range(call, &call->argv[2], -INT64_MAX, INT64_MAX, count))
        return false;
    *with_given = call->argc == 4 && arg_is(&call->argv[3], with);
    if (call->argc > 4 || (call->argc == 4 && !*with_given)) {
        resp_error(call->out, ERR_SYNTAX);
        return false;
    }
    if (*with_given && (*count < -INT64_MAX / 2 || *count > INT64_MAX / 2)) {
        resp_error(call->out, "ERR value is out of range");
        return false;
    }
    return true;
}
