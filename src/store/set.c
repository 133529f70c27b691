/* The set type (set.h): encodings, conversions as Redis 7.2's t_set.c, and the
 * algebra's building blocks. The object contract of object.h is set_obj.c. */
#include "store/set.h"

#include <stdlib.h>
#include <string.h>

#include "base/numfmt.h"
#include "store/intset.h"
#include "store/listpack.h"


static size_t intset_max_entries(void)
{
    int64_t v = obj_limit(LIM_SET_INTSET_ENTRIES);
    if (v < 0)
        v = 0;
    return v >= (1 << 30) ? (size_t)1 << 30 : (size_t)v;
}

static size_t lp_max_entries(void)
{
    int64_t v = obj_limit(LIM_SET_LP_ENTRIES);
    return v < 0 ? 0 : (size_t)v;
}

static size_t lp_max_value(void)
{
    int64_t v = obj_limit(LIM_SET_LP_VALUE);
    return v < 0 ? 0 : (size_t)v;
}

/* Characters of v in decimal, sign included (Redis's sdigits10). */
static size_t i64_chars(int64_t v)
{
    char b[NUMFMT_I64_MAX];
    return (size_t)i64_to_str(b, v);
}

static void elem_int(struct set_elem *e, int64_t v)
{
    e->is_int = true;
    e->i = v;
    e->len = (size_t)i64_to_str(e->buf, v);
    e->s = e->buf;
}

static void elem_lp(struct set_elem *e, const unsigned char *p)
{
    struct lp_val v;
    lp_get(p, &v);
    if (v.s) {
        e->is_int = false;
        e->s = (const char *)v.s;
        e->len = v.len;
    } else {
        elem_int(e, v.i);
    }
}

static void elem_node(struct set_elem *e, const struct fnode *n)
{
    e->is_int = false;
    e->s = fn_key(n, &e->len);
}

/* ---- Creating and releasing ---- */

struct set_val set_new(enum obj_enc enc, size_t size_hint)
{
    switch (enc) {
    case OBJ_INTSET: return (struct set_val){intset_new(), OBJ_INTSET};
    case OBJ_LISTPACK: return (struct set_val){lp_new(size_hint * 2), OBJ_LISTPACK};
    default: return (struct set_val){fd_new(size_hint), OBJ_HASHTABLE};
    }
}

struct set_val set_new_for(const char *first, size_t len, size_t size_hint)
{
    int64_t v;
    if (str_to_i64(first, len, &v) && size_hint <= intset_max_entries())
        return set_new(OBJ_INTSET, 0);
    if (size_hint <= lp_max_entries())
        return set_new(OBJ_LISTPACK, 0);
    return set_new(OBJ_HASHTABLE, size_hint);
}

void set_free(struct set_val *s)
{
    if (!s->o)
        return;
    switch (s->enc) {
    case OBJ_INTSET: intset_free(s->o); break;
    case OBJ_LISTPACK: lp_free(s->o); break;
    default: fd_free(s->o); break;
    }
    s->o = NULL;
}

/* ---- Reading ---- */

size_t set_card(const struct set_val *s)
{
    switch (s->enc) {
    case OBJ_INTSET: return intset_len(s->o);
    case OBJ_LISTPACK: return lp_count(s->o);
    default: return fd_count(s->o);
    }
}

static unsigned char *lp_lookup(unsigned char *lp, const char *m, size_t len)
{
    unsigned char *p = lp_first(lp);
    return p ? lp_find(lp, p, m, len, 0) : NULL;
}

bool set_has(struct set_val *s, const char *m, size_t len)
{
    int64_t v;
    switch (s->enc) {
    case OBJ_INTSET: return str_to_i64(m, len, &v) && intset_has(s->o, v);
    case OBJ_LISTPACK: return lp_lookup(s->o, m, len) != NULL;
    default: return fd_find(s->o, m, len) != NULL;
    }
}

bool set_has_elem(struct set_val *s, const struct set_elem *e)
{
    if (e->is_int && s->enc == OBJ_INTSET)
        return intset_has(s->o, e->i);
    return set_has(s, e->s, e->len);
}

/* ---- Conversions ---- */

static void to_hashtable(struct set_val *s, size_t cap)
{
    struct fdict *d = fd_new(cap);
    struct set_iter it;
    struct set_elem e;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &e))
        fd_add(d, e.s, e.len, "", 0);
    set_iter_done(&it);
    set_free(s);
    *s = (struct set_val){d, OBJ_HASHTABLE};
}

static void to_listpack(struct set_val *s, size_t cap)
{
    unsigned char *lp = lp_new(cap * 2);
    struct set_iter it;
    struct set_elem e;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &e))
        lp = e.is_int ? lp_append_int(lp, e.i) : lp_append(lp, e.s, e.len);
    set_iter_done(&it);
    set_free(s);
    *s = (struct set_val){lp, OBJ_LISTPACK};
}

static void to_intset(struct set_val *s)
{
    struct intset *is = intset_new();
    struct set_iter it;
    struct set_elem e;
    set_iter_init(&it, s);
    while (set_iter_next(&it, &e)) {
        int64_t v = e.i;
        bool added;
        if (!e.is_int && !str_to_i64(e.s, e.len, &v))
            abort(); /* caller's promise: every member is an integer */
        is = intset_add(is, v, &added);
    }
    set_iter_done(&it);
    set_free(s);
    *s = (struct set_val){is, OBJ_INTSET};
}

void set_convert(struct set_val *s, enum obj_enc enc)
{
    if (s->enc == enc)
        return;
    size_t n = set_card(s);
    if (enc == OBJ_INTSET)
        to_intset(s);
    else if (enc == OBJ_LISTPACK)
        to_listpack(s, n);
    else
        to_hashtable(s, n);
}

void set_maybe_to_intset(struct set_val *s)
{
    if (s->enc != OBJ_INTSET && set_card(s) <= intset_max_entries())
        to_intset(s);
}

void set_maybe_convert(struct set_val *s, size_t size_hint)
{
    if ((s->enc == OBJ_LISTPACK && size_hint > lp_max_entries()) ||
        (s->enc == OBJ_INTSET && size_hint > intset_max_entries()))
        to_hashtable(s, size_hint);
}

/* ---- Changing ---- */

static bool intset_add_int(struct set_val *s, int64_t v)
{
    bool added;
    s->o = intset_add(s->o, v, &added);
    if (added && intset_len(s->o) > intset_max_entries())
        to_hashtable(s, intset_len(s->o));
    return added;
}

/* An intset receives a member that is not an integer: it becomes a listpack when the
 * result stays within the listpack limits (bounding every integer by the longer of the
 * minimum and maximum, as Redis), else a hashtable. */
static void intset_take_string(struct set_val *s, const char *m, size_t len)
{
    struct intset *is = s->o;
    size_t n = intset_len(is), maxlen = 0, tot = 0;
    if (n) {
        size_t a = i64_chars(intset_get(is, 0)), b = i64_chars(intset_get(is, n - 1));
        maxlen = a > b ? a : b;
        tot = LP_HDR_SIZE + 1 + n * 10; /* an integer element takes at most 9 + 1 bytes */
    }
    if (n < lp_max_entries() && len <= lp_max_value() && maxlen <= lp_max_value() &&
        tot + len + 16 <= LP_MAX_SAFETY_SIZE) {
        to_listpack(s, n + 1);
        s->o = lp_append(s->o, m, len);
    } else {
        to_hashtable(s, n + 1);
        fd_add(s->o, m, len, "", 0);
    }
}

static bool lp_add(struct set_val *s, const char *m, size_t len, const int64_t *iv)
{
    unsigned char *lp = s->o;
    if (lp_lookup(lp, m, len))
        return false;
    if (lp_count(lp) < lp_max_entries() && len <= lp_max_value() &&
        lp_bytes(lp) + len + 16 <= LP_MAX_SAFETY_SIZE) {
        s->o = iv ? lp_append_int(lp, *iv) : lp_append(lp, m, len);
    } else {
        to_hashtable(s, lp_count(lp) + 1);
        fd_add(s->o, m, len, "", 0);
    }
    return true;
}

bool set_add(struct set_val *s, const char *m, size_t len)
{
    int64_t v;
    switch (s->enc) {
    case OBJ_INTSET:
        if (str_to_i64(m, len, &v))
            return intset_add_int(s, v);
        intset_take_string(s, m, len);
        return true;
    case OBJ_LISTPACK:
        return lp_add(s, m, len, NULL);
    default:
        return fd_add(s->o, m, len, "", 0) != NULL;
    }
}

bool set_add_elem(struct set_val *s, const struct set_elem *e)
{
    if (!e->is_int)
        return set_add(s, e->s, e->len);
    if (s->enc == OBJ_INTSET)
        return intset_add_int(s, e->i);
    if (s->enc == OBJ_LISTPACK)
        return lp_add(s, e->s, e->len, &e->i);
    return fd_add(s->o, e->s, e->len, "", 0) != NULL;
}

bool set_remove(struct set_val *s, const char *m, size_t len)
{
    int64_t v;
    bool removed = false;
    switch (s->enc) {
    case OBJ_INTSET:
        if (str_to_i64(m, len, &v))
            s->o = intset_remove(s->o, v, &removed);
        return removed;
    case OBJ_LISTPACK: {
        unsigned char *p = lp_lookup(s->o, m, len);
        if (!p)
            return false;
        s->o = lp_delete(s->o, &p);
        return true;
    }
    default:
        return fd_delete(s->o, m, len);
    }
}

bool set_remove_elem(struct set_val *s, const struct set_elem *e)
{
    if (e->is_int && s->enc == OBJ_INTSET) {
        bool removed;
        s->o = intset_remove(s->o, e->i, &removed);
        return removed;
    }
    return set_remove(s, e->s, e->len);
}

/* ---- Iteration ---- */

void set_iter_init(struct set_iter *it, struct set_val *s)
{
    it->s = s;
    it->i = 0;
    it->p = NULL;
    if (s->enc == OBJ_HASHTABLE)
        fd_iter_init(&it->fi, s->o);
}

bool set_iter_next(struct set_iter *it, struct set_elem *e)
{
    struct set_val *s = it->s;
    switch (s->enc) {
    case OBJ_INTSET:
        if (it->i >= intset_len(s->o))
            return false;
        elem_int(e, intset_get(s->o, it->i++));
        return true;
    case OBJ_LISTPACK:
        it->p = it->i++ ? lp_next(s->o, it->p) : lp_first(s->o);
        if (!it->p)
            return false;
        elem_lp(e, it->p);
        return true;
    default: {
        struct fnode *n = fd_iter_next(&it->fi);
        if (!n)
            return false;
        elem_node(e, n);
        return true;
    }
    }
}

void set_iter_done(struct set_iter *it)
{
    if (it->s->enc == OBJ_HASHTABLE)
        fd_iter_done(&it->fi);
}

/* ---- Randomness ---- */

uint64_t *set_rng(void)
{
    static _Thread_local uint64_t state;
    if (!state) {
        /* Seeded from the state's address and the allocator: differs per thread and
         * per run without a system call on the path of a command. */
        void *probe = malloc(1);
        state = ((uint64_t)(uintptr_t)&state * 0x9e3779b97f4a7c15u) ^
                ((uint64_t)(uintptr_t)probe << 17) ^ 0x2545f4914f6cdd1du;
        free(probe);
        if (!state)
            state = 0x9e3779b97f4a7c15u;
    }
    return &state;
}

uint64_t set_rand(void)
{
    uint64_t *st = set_rng();
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545f4914f6cdd1du;
}

void set_random(struct set_val *s, struct set_elem *e)
{
    switch (s->enc) {
    case OBJ_INTSET:
        elem_int(e, intset_random(s->o, set_rng()));
        return;
    case OBJ_LISTPACK:
        elem_lp(e, lp_seek(s->o, (long)(set_rand() % lp_count(s->o))));
        return;
    default:
        elem_node(e, fd_random(s->o, set_rng()));
        return;
    }
}

void set_pop_random(struct set_val *s, struct set_elem *out, char **heap)
{
    set_random(s, out);
    *heap = NULL;
    if (!out->is_int) {
        /* The member's bytes live in the set: copy them before removing it. */
        if (out->len <= sizeof out->buf) {
            memcpy(out->buf, out->s, out->len);
            out->s = out->buf;
        } else {
            *heap = malloc(out->len);
            if (!*heap)
                abort();
            memcpy(*heap, out->s, out->len);
            out->s = *heap;
        }
    }
    set_remove_elem(s, out);
}

enum obj_enc set_build_enc(struct set_val *s)
{
    /* Simulates set_add from an empty intset: the count, and the widest integer. */
    enum obj_enc enc = OBJ_INTSET;
    size_t n = 0, maxint = 0;
    struct set_iter it;
    struct set_elem e;
    set_iter_init(&it, s);
    while (enc != OBJ_HASHTABLE && set_iter_next(&it, &e)) {
        int64_t v;
        bool isint = e.is_int || str_to_i64(e.s, e.len, &v);
        if (enc == OBJ_INTSET && isint) {
            size_t c = e.len;
            maxint = c > maxint ? c : maxint;
            if (n + 1 > intset_max_entries())
                enc = OBJ_HASHTABLE;
        } else if (enc == OBJ_INTSET) {
            if (n < lp_max_entries() && e.len <= lp_max_value() && maxint <= lp_max_value())
                enc = OBJ_LISTPACK;
            else
                enc = OBJ_HASHTABLE;
        } else if (n >= lp_max_entries() || e.len > lp_max_value()) {
            enc = OBJ_HASHTABLE;
        }
        n++;
    }
    set_iter_done(&it);
    return enc;
}

size_t set_mem(const struct set_val *s)
{
    switch (s->enc) {
    case OBJ_INTSET: return intset_bytes(s->o);
    case OBJ_LISTPACK: return lp_bytes(s->o);
    default: return fd_mem(s->o);
    }
}

/* ---- Algebra ---- */

static int by_card(const void *a, const void *b)
{
    size_t x = set_card(*(struct set_val *const *)a), y = set_card(*(struct set_val *const *)b);
    return x < y ? -1 : x > y;
}

void set_inter_walk(struct set_val *sets, int n, set_member_fn fn, void *arg)
{
    struct set_val **o = malloc((size_t)n * sizeof *o);
    if (!o)
        abort();
    for (int i = 0; i < n; i++)
        o[i] = &sets[i];
    qsort(o, (size_t)n, sizeof *o, by_card);
    struct set_iter it;
    struct set_elem m;
    set_iter_init(&it, o[0]);
    while (set_iter_next(&it, &m)) {
        int j = 1;
        /* A key given twice is the same object: no need to look it up again. */
        for (; j < n; j++)
            if (o[j]->o != o[0]->o && !set_has_elem(o[j], &m))
                break;
        if (j == n && !fn(arg, &m))
            break;
    }
    set_iter_done(&it);
    free(o);
}

static int by_card_desc(const void *a, const void *b)
{
    const struct set_val *x = a, *y = b;
    size_t cx = x->o ? set_card(x) : 0, cy = y->o ? set_card(y) : 0;
    return cx < cy ? 1 : cx > cy ? -1 : 0;
}

/* Redis's difference algorithm 1 (walk the first set, probe the others) costs about
 * |first| * sets / 2; algorithm 2 (add the first, remove every other) the sum of sizes. */
static int diff_algo(const struct set_val *sets, int n)
{
    int64_t one = 0, two = 0;
    for (int j = 0; j < n; j++) {
        if (!sets[j].o)
            continue;
        one += (int64_t)set_card(&sets[0]);
        two += (int64_t)set_card(&sets[j]);
    }
    return one / 2 <= two ? 1 : 2;
}

struct set_val set_union_diff(struct set_val *sets, int n, bool diff)
{
    struct set_val d = set_new(OBJ_INTSET, 0);
    struct set_iter it;
    struct set_elem m;
    bool same = false;
    for (int j = 1; j < n; j++)
        same |= sets[0].o && sets[j].o == sets[0].o;
    if (diff && (!sets[0].o || same))
        return d; /* nothing, or the first set minus itself */
    int algo = diff ? diff_algo(sets, n) : 2;
    if (diff && algo == 1) {
        if (n > 1)
            qsort(sets + 1, (size_t)n - 1, sizeof *sets, by_card_desc);
        set_iter_init(&it, &sets[0]);
        while (set_iter_next(&it, &m)) {
            int j = 1;
            for (; j < n; j++)
                if (sets[j].o && set_has_elem(&sets[j], &m))
                    break;
            if (j == n)
                set_add_elem(&d, &m);
        }
        set_iter_done(&it);
        return d;
    }
    for (int j = 0; j < n; j++) {
        if (!sets[j].o)
            continue;
        set_iter_init(&it, &sets[j]);
        while (set_iter_next(&it, &m)) {
            if (!diff || j == 0)
                set_add_elem(&d, &m);
            else
                set_remove_elem(&d, &m);
        }
        set_iter_done(&it);
        if (diff && set_card(&d) == 0)
            break;
    }
    return d;
}
