/* Hash commands that read: HGET HMGET HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL HSCAN
 * HRANDFIELD, as Redis 7.0's t_hash.c and scanGenericCommand. */
#include "cmd/hashes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/glob.h"
#include "base/numfmt.h"

/* ---- Single fields ---- */

void hget_exec(struct rt_call *call)
{
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r < 0)
        return;
    struct hash_str v;
    if (r == 1 && hash_get(&h, call->argv[2].ptr, call->argv[2].len, &v))
        resp_bulk(call->out, v.s, v.len);
    else
        resp_null(call->out, call->proto);
}

void hmget_exec(struct rt_call *call)
{
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r < 0)
        return;
    resp_array(call->out, call->argc - 2);
    for (int i = 2; i < call->argc; i++) {
        struct hash_str v;
        if (r == 1 && hash_get(&h, call->argv[i].ptr, call->argv[i].len, &v))
            resp_bulk(call->out, v.s, v.len);
        else
            resp_null(call->out, call->proto);
    }
}

void hlen_exec(struct rt_call *call)
{
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r >= 0)
        resp_int(call->out, r ? (int64_t)hash_len(&h) : 0);
}

void hstrlen_exec(struct rt_call *call)
{
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r < 0)
        return;
    struct hash_str v;
    bool found = r == 1 && hash_get(&h, call->argv[2].ptr, call->argv[2].len, &v);
    resp_int(call->out, found ? (int64_t)v.len : 0);
}

void hexists_exec(struct rt_call *call)
{
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r >= 0)
        resp_int(call->out, r == 1 && hash_get(&h, call->argv[2].ptr, call->argv[2].len, NULL));
}

/* ---- HKEYS / HVALS / HGETALL ---- */

enum { H_KEYS = 1, H_VALS = 2 };

static void getall_generic(struct rt_call *call, int what)
{
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r < 0)
        return;
    size_t n = r ? hash_len(&h) : 0;
    if (what == (H_KEYS | H_VALS))
        resp_map(call->out, (int64_t)n, call->proto);
    else
        resp_array(call->out, (int64_t)n);
    if (!r)
        return;
    struct hash_iter it;
    struct hash_str f, v;
    hash_iter_init(&it, &h);
    while (hash_iter_next(&it, what & H_KEYS ? &f : NULL, what & H_VALS ? &v : NULL)) {
        if (what & H_KEYS)
            resp_bulk(call->out, f.s, f.len);
        if (what & H_VALS)
            resp_bulk(call->out, v.s, v.len);
    }
    hash_iter_done(&it);
}

void hkeys_exec(struct rt_call *call) { getall_generic(call, H_KEYS); }
void hvals_exec(struct rt_call *call) { getall_generic(call, H_VALS); }
void hgetall_exec(struct rt_call *call) { getall_generic(call, H_KEYS | H_VALS); }

/* ---- HSCAN ---- */

struct hscan_ctx {
    struct buf items;
    size_t scanned; /* pairs visited, matching or not (Redis 7.0 filters after the scan) */
    size_t n;       /* pairs kept */
    const rt_str *match;
};

static void hscan_visit(void *arg, const char *f, size_t flen, const char *v, size_t vlen)
{
    struct hscan_ctx *c = arg;
    c->scanned++;
    if (c->match && !glob_match(c->match->ptr, c->match->len, f, flen, false))
        return;
    resp_bulk(&c->items, f, flen);
    resp_bulk(&c->items, v, vlen);
    c->n++;
}

void hscan_exec(struct rt_call *call)
{
    uint64_t cursor;
    struct entry *e;
    struct scan_opts o;
    if (!scan_key_start(call, VT_HASH, &e, &cursor, &o))
        return;
    struct hash_val h = hash_of(e);
    struct hscan_ctx c = {.match = o.match && !scan_match_all(o.match) ? o.match : NULL};
    /* As Redis: up to count*10 buckets while fewer than count items (a field and a value
     * count as two) were collected. A listpack is returned whole with cursor 0. */
    int64_t count = o.count_v;
    int64_t maxiter = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
    do {
        cursor = hash_scan(&h, cursor, hscan_visit, &c);
    } while (cursor && maxiter-- && 2 * c.scanned < (uint64_t)count);
    scan_reply(call->out, cursor, (int64_t)(2 * c.n), &c.items);
    buf_free(&c.items);
}

/* ---- HRANDFIELD ---- */

/* A negative count repeats fields and sizes the reply alone: bounded here (Redis has no
 * bound but the client's output limit), as ZRANDMEMBER. */
#define HRAND_MAX_REPEAT ((uint64_t)1 << 24)
/* Redis's HRANDFIELD_SUB_STRATEGY_MUL: below count*3 fields, pick from all of them. */
#define HRAND_SUB_MUL 3

static void hrand_emit(struct rt_call *call, const struct hash_val *h, hash_ref ref, bool wv)
{
    struct hash_str f, v;
    hash_ref_get(h, ref, &f, wv ? &v : NULL);
    if (wv && call->proto > 2)
        resp_array(call->out, 2);
    resp_bulk(call->out, f.s, f.len);
    if (wv)
        resp_bulk(call->out, v.s, v.len);
}

static hash_ref *hrand_all(struct hash_val *h, size_t size)
{
    hash_ref *refs = malloc(size * sizeof *refs);
    if (!refs)
        abort();
    hash_refs(h, refs);
    return refs;
}

/* count distinct random fields of a hashtable much bigger than count: random picks,
 * repeats skipped through a small open-addressing set of node addresses. */
static void hrand_sparse(struct rt_call *call, struct hash_val *h, uint64_t count, bool wv)
{
    size_t cap = 16;
    while (cap < 2 * count)
        cap <<= 1;
    hash_ref *seen = calloc(cap, sizeof *seen);
    if (!seen)
        abort();
    for (uint64_t added = 0; added < count;) {
        hash_ref ref = hash_random(h);
        size_t i = (size_t)(((uintptr_t)ref >> 4) * 0x9E3779B97F4A7C15ull) & (cap - 1);
        while (seen[i] && seen[i] != ref)
            i = (i + 1) & (cap - 1);
        if (seen[i])
            continue;
        seen[i] = ref;
        added++;
        hrand_emit(call, h, ref, wv);
    }
    free(seen);
}

static void hrandfield_count(struct rt_call *call, int64_t l, bool wv)
{
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r < 0)
        return;
    if (r == 0 || l == 0) {
        resp_array(call->out, 0);
        return;
    }
    bool uniq = l > 0;
    uint64_t count = uniq ? (uint64_t)l : (uint64_t)-l;
    size_t size = hash_len(&h);
    /* CASE 1: repeats allowed (or a single field): count independent picks. */
    if (!uniq || count == 1) {
        if (count > HRAND_MAX_REPEAT) {
            resp_error(call->out, "ERR value is out of range");
            return;
        }
        resp_array(call->out, (int64_t)(wv && call->proto == 2 ? 2 * count : count));
        if (h.enc == OBJ_HASHTABLE) {
            for (uint64_t i = 0; i < count; i++)
                hrand_emit(call, &h, hash_random(&h), wv);
            return;
        }
        hash_ref *refs = hrand_all(&h, size); /* a listpack: no walk per pick */
        for (uint64_t i = 0; i < count; i++)
            hrand_emit(call, &h, refs[hash_rand() % size], wv);
        free(refs);
        return;
    }
    uint64_t n = count < size ? count : size;
    resp_array(call->out, (int64_t)(wv && call->proto == 2 ? 2 * n : n));
    /* CASE 2: the whole hash. */
    if (count >= size) {
        struct hash_iter it;
        struct hash_str f, v;
        hash_iter_init(&it, &h);
        while (hash_iter_next(&it, &f, wv ? &v : NULL)) {
            if (wv && call->proto > 2)
                resp_array(call->out, 2);
            resp_bulk(call->out, f.s, f.len);
            if (wv)
                resp_bulk(call->out, v.s, v.len);
        }
        hash_iter_done(&it);
        return;
    }
    /* CASE 4: a hashtable much bigger than count. */
    if (h.enc == OBJ_HASHTABLE && count * HRAND_SUB_MUL <= size) {
        hrand_sparse(call, &h, count, wv);
        return;
    }
    /* CASE 3 (and any listpack): count distinct positions by a partial shuffle. */
    hash_ref *refs = hrand_all(&h, size);
    for (size_t i = 0; i < count; i++) {
        size_t j = i + (size_t)(hash_rand() % (size - i));
        hash_ref t = refs[i];
        refs[i] = refs[j];
        refs[j] = t;
        hrand_emit(call, &h, refs[i], wv);
    }
    free(refs);
}

void hrandfield_exec(struct rt_call *call)
{
    if (call->argc >= 3) {
        int64_t l;
        bool wv;
        if (!arg_rand_count(call, "withvalues", &l, &wv))
            return;
        hrandfield_count(call, l, wv);
        return;
    }
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &call->argv[1], false, &e, &h);
    if (r < 0)
        return;
    if (r == 0) {
        resp_null(call->out, call->proto);
        return;
    }
    struct hash_str f;
    hash_ref_get(&h, hash_random(&h), &f, NULL);
    resp_bulk(call->out, f.s, f.len);
}
