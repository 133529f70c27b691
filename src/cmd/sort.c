/* SORT / SORT_RO: the options and the engine (see sort.h for how the work is divided). Semantics follow Redis 7's sort.c:
 * numeric scores by strtod (the whole value must parse), ties broken by the elements'
 * bytes, ALPHA by bytes, BY "nosort" keeping the native order of lists and sorted sets,
 * a missing BY key scoring 0 (or sorting first under ALPHA), GET of a missing key nil
 * (an empty string in a STORE). */
#include "cmd/sort.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

/* Redis reads patterns and elements as C strings in places (strchr, strstr, strtod,
 * strcoll): up to the first NUL. */
static size_t cstrlen(const char *p, size_t len)
{
    const char *nul = memchr(p, '\0', len);
    return nul ? (size_t)(nul - p) : len;
}

/* ---- Options ---- */

const char *sort_parse(const rt_str *argv, int argc, bool readonly, struct sort_opts *o)
{
    memset(o, 0, sizeof *o);
    o->readonly = readonly;
    o->lcount = -1;
    o->key = &argv[1];
    o->gets = xrealloc(NULL, (size_t)argc * sizeof *o->gets);
    for (int j = 2; j < argc; j++) {
        int left = argc - j - 1;
        const rt_str *a = &argv[j];
        if (arg_is(a, "asc")) {
            o->desc = false;
        } else if (arg_is(a, "desc")) {
            o->desc = true;
        } else if (arg_is(a, "alpha")) {
            o->alpha = true;
        } else if (arg_is(a, "limit") && left >= 2) {
            if (!str_to_i64(argv[j + 1].ptr, argv[j + 1].len, &o->lstart) ||
                !str_to_i64(argv[j + 2].ptr, argv[j + 2].len, &o->lcount))
                return ERR_NOT_INT;
            j += 2;
        } else if (!readonly && arg_is(a, "store") && left >= 1) {
            o->store = &argv[++j];
        } else if (arg_is(a, "by") && left >= 1) {
            o->by = &argv[++j];
            /* A pattern without '*' names no per-element key: nothing to sort by. */
            o->dontsort = memchr(o->by->ptr, '*', cstrlen(o->by->ptr, o->by->len)) == NULL;
        } else if (arg_is(a, "get") && left >= 1) {
            o->gets[o->ngets++] = &argv[++j];
        } else {
            return ERR_SYNTAX;
        }
    }
    return NULL;
}

void sort_opts_free(struct sort_opts *o)
{
    free(o->gets);
    o->gets = NULL;
}

/* ---- Patterns (Redis's lookupKeyByPattern) ---- */

struct pat {
    enum sort_lk_kind kind;
    size_t star;            /* position of the '*' */
    size_t postfix;         /* bytes after the '*' that belong to the key */
    size_t foff, flen;      /* the hash field after "->"; flen 0: none */
};

static void pattern_parse(const rt_str *p, struct pat *out)
{
    size_t cl = cstrlen(p->ptr, p->len);
    memset(out, 0, sizeof *out);
    if (cl == 1 && p->ptr[0] == '#') {
        out->kind = LK_ELEM;
        return;
    }
    const char *star = memchr(p->ptr, '*', cl);
    if (!star) {
        out->kind = LK_NONE;
        return;
    }
    out->kind = LK_KEY;
    out->star = (size_t)(star - p->ptr);
    /* "->" after the '*' with something after it: a hash field (to the very end). */
    for (size_t f = out->star + 1; f + 2 < cl; f++) {
        if (p->ptr[f] == '-' && p->ptr[f + 1] == '>') {
            out->foff = f + 2;
            out->flen = p->len - out->foff;
            break;
        }
    }
    out->postfix = p->len - out->star - 1 - (out->flen ? out->flen + 2 : 0);
}

bool sort_pattern_reads(const rt_str *pat)
{
    struct pat p;
    pattern_parse(pat, &p);
    return p.kind == LK_KEY;
}

bool sort_pattern_shard(struct rt_shard *sh, const rt_str *pat, unsigned *shard)
{
    struct pat p;
    pattern_parse(pat, &p);
    /* Every key formed begins with the bytes before the '*': if they hold a whole
     * non-empty hash tag, every key hashes by that tag. */
    const char *open = memchr(pat->ptr, '{', p.star);
    if (!open)
        return false;
    size_t o = (size_t)(open - pat->ptr);
    const char *close = memchr(open + 1, '}', p.star - o - 1);
    if (!close || close == open + 1)
        return false;
    *shard = rt_key_shard(sh, pat->ptr, p.star);
    return true;
}

static size_t lk_new(struct sort_job *j)
{
    if (j->nlk == j->lkcap) {
        j->lkcap = j->lkcap ? j->lkcap * 2 : 64;
        j->lk = xrealloc(j->lk, j->lkcap * sizeof *j->lk);
    }
    memset(&j->lk[j->nlk], 0, sizeof *j->lk);
    return j->nlk++;
}

/* Add the lookup that pattern p gives for element e. */
static void lk_add(struct sort_job *j, const rt_str *pat, const struct pat *p, size_t e)
{
    size_t i = lk_new(j); /* may move j->lk */
    struct sort_lk *l = &j->lk[i];
    l->kind = p->kind;
    l->elem = e;
    if (p->kind != LK_KEY)
        return;
    const struct sort_elem *el = &j->v[e];
    l->koff = j->lk_bytes.len;
    buf_append(&j->lk_bytes, pat->ptr, p->star);
    buf_append(&j->lk_bytes, j->elems.data + el->off, el->len);
    buf_append(&j->lk_bytes, pat->ptr + p->star + 1, p->postfix);
    l->klen = j->lk_bytes.len - l->koff;
    l->hash = p->flen > 0;
    l->foff = j->lk_bytes.len;
    l->flen = p->flen;
    buf_append(&j->lk_bytes, pat->ptr + p->foff, p->flen);
}

void sort_lk_set(struct sort_job *j, size_t i, bool found, const char *s, size_t len)
{
    struct sort_lk *l = &j->lk[i];
    l->found = found;
    l->voff = j->vals.len;
    l->vlen = found ? len : 0;
    if (found)
        buf_append(&j->vals, s, len);
}

static void lk_reset(struct sort_job *j)
{
    j->nlk = 0;
    j->lk_bytes.len = 0;
    j->vals.len = 0;
}

/* ---- The job ---- */

void sort_job_free(struct sort_job *j)
{
    sort_opts_free(&j->o);
    buf_free(&j->elems);
    buf_free(&j->lk_bytes);
    buf_free(&j->vals);
    free(j->v);
    free(j->lk);
    memset(j, 0, sizeof *j);
}

void sort_job_add(struct sort_job *j, const char *s, size_t len)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 64;
        j->v = xrealloc(j->v, j->cap * sizeof *j->v);
    }
    j->v[j->n++] = (struct sort_elem){.off = j->elems.len, .len = len, .by = -1};
    buf_append(&j->elems, s, len);
}

static bool by_active(const struct sort_job *j) { return j->o.by && !j->o.dontsort; }

void sort_job_loaded(struct sort_job *j)
{
    struct sort_opts *o = &j->o;
    if (o->dontsort && j->type == VT_SET && o->store) {
        /* A set's order is arbitrary: what is stored must not depend on it. */
        o->dontsort = false;
        o->alpha = true;
        o->by = NULL;
    }
    if (o->dontsort && o->desc && j->type != VT_SET) {
        /* Lists and sorted sets keep their native order, reversed by DESC. */
        for (size_t a = 0, b = j->n; a + 1 < b; a++, b--) {
            struct sort_elem t = j->v[a];
            j->v[a] = j->v[b - 1];
            j->v[b - 1] = t;
        }
    }
    int64_t n = (int64_t)j->n;
    int64_t start = o->lstart < 0 ? 0 : o->lstart > n ? n : o->lstart;
    int64_t count = o->lcount < -1 ? -1 : o->lcount > n ? n : o->lcount;
    int64_t end = count < 0 ? n - 1 : start + count - 1;
    if (start >= n) {
        start = n - 1;
        end = n - 2;
    }
    if (end >= n)
        end = n - 1;
    j->start = start;
    j->end = end;
}

size_t sort_by_round(struct sort_job *j)
{
    lk_reset(j);
    if (!by_active(j))
        return 0;
    struct pat p;
    pattern_parse(j->o.by, &p);
    size_t keys = 0;
    for (size_t e = 0; e < j->n; e++) {
        lk_add(j, j->o.by, &p, e);
        keys += p.kind == LK_KEY;
    }
    return keys;
}

/* Redis: strtod over the value as a C string, all of it consumed, no range error,
 * not NaN. */
static bool score_of(const char *s, size_t len, double *out)
{
    len = cstrlen(s, len);
    char stack[128];
    char *b = len < sizeof stack ? stack : xrealloc(NULL, len + 1);
    memcpy(b, s, len);
    b[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(b, &end);
    bool ok = *end == '\0' && errno != ERANGE && !isnan(d);
    if (b != stack)
        free(b);
    *out = d;
    return ok;
}

static int cmp_bin(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* strcoll in the C locale: the bytes up to the first NUL. */
static int cmp_coll(const char *a, size_t alen, const char *b, size_t blen)
{
    return cmp_bin(a, cstrlen(a, alen), b, cstrlen(b, blen));
}

static _Thread_local const struct sort_job *sorting;

static int sort_cmp(const void *x, const void *y)
{
    const struct sort_job *j = sorting;
    const struct sort_elem *a = x, *b = y;
    const char *ea = j->elems.data + a->off, *eb = j->elems.data + b->off;
    bool store = j->o.store != NULL;
    int c;
    if (!j->o.alpha) {
        c = a->score > b->score ? 1 : a->score < b->score ? -1 : cmp_bin(ea, a->len, eb, b->len);
    } else if (by_active(j)) {
        if (a->by < 0 || b->by < 0) {
            c = a->by == b->by ? 0 : a->by < 0 ? -1 : 1;
        } else {
            const struct sort_lk *la = &j->lk[a->by], *lb = &j->lk[b->by];
            const char *va = j->vals.data + la->voff, *vb = j->vals.data + lb->voff;
            c = store ? cmp_bin(va, la->vlen, vb, lb->vlen) : cmp_coll(va, la->vlen, vb, lb->vlen);
        }
    } else {
        c = store ? cmp_bin(ea, a->len, eb, b->len) : cmp_coll(ea, a->len, eb, b->len);
    }
    return j->o.desc ? -c : c;
}

void sort_by_apply(struct sort_job *j)
{
    if (j->o.dontsort)
        return;
    bool by = by_active(j);
    for (size_t e = 0; e < j->n; e++) {
        struct sort_elem *el = &j->v[e];
        const char *s = j->elems.data + el->off;
        size_t len = el->len;
        if (by) {
            const struct sort_lk *l = &j->lk[e];
            if (!l->found)
                continue; /* score 0; sorts first under ALPHA */
            s = j->vals.data + l->voff;
            len = l->vlen;
            el->by = (int64_t)e;
        }
        if (!j->o.alpha && !score_of(s, len, &el->score))
            j->conv_error = true;
    }
    sorting = j;
    if (j->n > 1)
        qsort(j->v, j->n, sizeof *j->v, sort_cmp);
    sorting = NULL;
}

size_t sort_get_round(struct sort_job *j)
{
    lk_reset(j);
    size_t keys = 0;
    for (int g = 0; g < j->o.ngets; g++) {
        struct pat p;
        pattern_parse(j->o.gets[g], &p);
        keys += p.kind == LK_KEY;
    }
    if (!keys || j->end < j->start)
        return 0;
    for (int64_t e = j->start; e <= j->end; e++) {
        for (int g = 0; g < j->o.ngets; g++) {
            struct pat p;
            pattern_parse(j->o.gets[g], &p);
            lk_add(j, j->o.gets[g], &p, (size_t)e);
        }
    }
    return keys * (size_t)(j->end - j->start + 1);
}

void sort_items_collect(void *arg, const char *s, size_t len, bool found)
{
    (void)found;
    struct sort_items *it = arg;
    it->v[it->n++] = (rt_str){s, len};
}

size_t sort_output_len(const struct sort_job *j)
{
    size_t span = j->end >= j->start ? (size_t)(j->end - j->start + 1) : 0;
    return j->o.ngets ? span * (size_t)j->o.ngets : span;
}

void sort_output(const struct sort_job *j,
                 void (*fn)(void *arg, const char *s, size_t len, bool found), void *arg)
{
    if (j->end < j->start)
        return;
    if (!j->o.ngets) {
        for (int64_t e = j->start; e <= j->end; e++)
            fn(arg, j->elems.data + j->v[e].off, j->v[e].len, true);
        return;
    }
    /* The GET lookups of the range, in order (sort_get_round), or none at all when no
     * GET pattern reads a key: then each is '#' or nil. */
    size_t i = 0;
    for (int64_t e = j->start; e <= j->end; e++) {
        for (int g = 0; g < j->o.ngets; g++) {
            struct pat p;
            const struct sort_lk *l = j->nlk ? &j->lk[i++] : NULL;
            pattern_parse(j->o.gets[g], &p);
            if (p.kind == LK_ELEM)
                fn(arg, j->elems.data + j->v[e].off, j->v[e].len, true);
            else if (p.kind == LK_NONE || !l || !l->found)
                fn(arg, "", 0, false);
            else
                fn(arg, j->vals.data + l->voff, l->vlen, true);
        }
    }
}

struct reply_ctx {
    struct buf *out;
    int proto;
};

static void reply_item(void *arg, const char *s, size_t len, bool found)
{
    struct reply_ctx *r = arg;
    if (found)
        resp_bulk(r->out, s, len);
    else
        resp_null(r->out, r->proto);
}

void sort_reply(const struct sort_job *j, struct buf *out, int proto)
{
    struct reply_ctx r = {out, proto};
    resp_array(out, (int64_t)sort_output_len(j));
    sort_output(j, reply_item, &r);
}
