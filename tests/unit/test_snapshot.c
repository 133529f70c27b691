/* Unit tests of the point-in-time table walk (src/store/snapshot.c): a snapshot passes
 * every key present at begin exactly once, with its value and TTL as they were at
 * begin, whatever happens to the store meanwhile (writes, in-place changes after a
 * lookup, deletes, renames, restores, TTL changes, lazy and active expiry, random and
 * scan, flushes, growth, shrink and incremental rehash); aborts and back-to-back
 * snapshots keep the marks right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/list.h"
#include "store/store.h"

#define T0 1700000000000LL /* a fixed "now" in Unix ms */

/* ---- Records: (key, dump of the value, TTL) copies ---- */

struct rec {
    char *key;
    size_t klen;
    struct buf val; /* entry_dump: type, encoding and contents */
    int64_t ttl;
};

struct recs {
    struct rec *v;
    size_t n, cap;
    bool closed; /* the snapshot reported done: fn must not run again */
};

static void rec_add(struct recs *r, const struct entry *e)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    struct rec *x = &r->v[r->n++];
    size_t klen;
    const char *k = entry_key(e, &klen);
    x->key = malloc(klen + 1);
    assert_non_null(x->key);
    memcpy(x->key, k, klen);
    x->key[klen] = '\0';
    x->klen = klen;
    memset(&x->val, 0, sizeof x->val);
    entry_dump(e, &x->val);
    x->ttl = entry_expire(e);
}

static void recs_free(struct recs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        buf_free(&r->v[i].val);
    }
    free(r->v);
    memset(r, 0, sizeof *r);
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->klen > y->klen) - (x->klen < y->klen);
}

/* The snapshot callback. */
static void on_pass(void *arg, const struct entry *e)
{
    struct recs *r = arg;
    if (r->closed)
        fail_msg("snapshot callback after the snapshot ended");
    rec_add(r, e);
}

static void on_model(struct entry *e, void *arg) { rec_add(arg, e); }

/* A copy of every key in the table: a full scan with no snapshot running (it reaps the
 * expired, so the copy is exactly the table's contents). */
static void model_of(struct store *s, struct recs *m)
{
    assert_false(store_snapshot_active(s));
    uint64_t cur = 0;
    do
        cur = store_scan(s, cur, 64, on_model, m);
    while (cur);
    assert_int_equal(m->n, store_count(s));
}

/* got must equal want exactly: the same keys, each once, same values and TTLs. */
static void assert_same(struct recs *want, struct recs *got)
{
    if (want->n > 1)
        qsort(want->v, want->n, sizeof *want->v, rec_cmp);
    if (got->n > 1)
        qsort(got->v, got->n, sizeof *got->v, rec_cmp);
    for (size_t i = 1; i < got->n; i++)
        if (rec_cmp(&got->v[i - 1], &got->v[i]) == 0)
            fail_msg("key %.40s passed twice", got->v[i].key);
    for (size_t i = 0, j = 0; i < want->n || j < got->n;) {
        int c = i == want->n ? 1 : j == got->n ? -1 : rec_cmp(&want->v[i], &got->v[j]);
        if (c < 0)
            fail_msg("key %.40s of the snapshot was never passed", want->v[i].key);
        if (c > 0)
            fail_msg("key %.40s was passed but not in the snapshot", got->v[j].key);
        const struct rec *w = &want->v[i++], *g = &got->v[j++];
        if (w->ttl != g->ttl)
            fail_msg("key %.40s: ttl %lld, snapshot had %lld", w->key, (long long)g->ttl,
                     (long long)w->ttl);
        if (w->val.len != g->val.len || memcmp(w->val.data, g->val.data, w->val.len) != 0)
            fail_msg("key %.40s: value differs from the one at begin", w->key);
    }
}

/* ---- Random operations ---- */

static uint64_t rnd(uint64_t *st)
{
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t below(uint64_t *st, size_t n) { return (size_t)(rnd(st) % n); }

enum { KEYSPACE = 600, GROW_BATCH = 700 };

struct world {
    struct store *s;
    uint64_t rng;
    int64_t now;
    uint64_t scan_cursor;
    size_t grown;   /* "g" keys inserted so far: g0 .. g<grown-1> */
    size_t shrunk;  /* "g" keys deleted so far, from g0 on */
};

enum { LONG_KEY = 300, KEYBUF = LONG_KEY + 1 };

/* A key of the main key space into buf (KEYBUF bytes); a few are long (the entry's
 * long-length layout). */
static size_t key_of(size_t id, char *buf)
{
    if (id % 101 == 7) {
        int n = snprintf(buf, KEYBUF, "L%zu-", id);
        memset(buf + n, 'x', LONG_KEY - (size_t)n);
        return LONG_KEY;
    }
    return (size_t)snprintf(buf, KEYBUF, "k%zu", id);
}

static size_t pick_key(struct world *w, char *buf)
{
    return key_of(below(&w->rng, KEYSPACE), buf);
}

/* A value of a random string encoding: integer, embedded, or raw. */
static size_t pick_val(struct world *w, char *buf, size_t cap)
{
    switch (below(&w->rng, 3)) {
    case 0:
        return (size_t)snprintf(buf, cap, "%lld", (long long)(rnd(&w->rng) % 2000000) - 1000000);
    case 1:
        return (size_t)snprintf(buf, cap, "s%llu", (unsigned long long)rnd(&w->rng));
    default: {
        size_t n = 45 + below(&w->rng, 150);
        assert_true(n < cap);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + below(&w->rng, 26));
        return n;
    }
    }
}

static int64_t pick_ttl(struct world *w)
{
    if (below(&w->rng, 3))
        return STORE_NO_TTL;
    return w->now - 20 + (int64_t)below(&w->rng, 400);
}

static void noop_visit(struct entry *e, void *arg)
{
    (void)e;
    (void)arg;
}

static void noop_elem(void *arg, const char *p, size_t len)
{
    (void)arg;
    (void)p;
    (void)len;
}

static void set_key(struct world *w, const char *k, size_t kl)
{
    char v[256];
    size_t vl = pick_val(w, v, sizeof v);
    store_set_str(w->s, k, kl, v, vl, pick_ttl(w), below(&w->rng, 4) == 0);
}

/* One random operation through the public API. */
static void random_op(struct world *w, bool allow_flush)
{
    struct store *s = w->s;
    char k[KEYBUF], db[KEYBUF], v[256];
    size_t dl, kl = pick_key(w, k);
    struct entry *e;
    switch (below(&w->rng, 20)) {
    case 0: case 1: case 2:
        set_key(w, k, kl);
        break;
    case 3:
        store_set_int(s, k, kl, (int64_t)(rnd(&w->rng) % 100000));
        break;
    case 4: /* APPEND / SETRANGE: resize in place */
        e = store_find(s, k, kl, true);
        if (e && entry_type(e) == VT_STRING) {
            size_t n = entry_str_len(e) + below(&w->rng, 80);
            char *p = store_str_resize(s, &e, n);
            if (n)
                p[below(&w->rng, n)] = 'Z';
        }
        break;
    case 5:
        store_delete(s, k, kl);
        break;
    case 6:
        if ((e = store_find(s, k, kl, false)))
            store_delete_entry(s, e);
        break;
    case 7: /* rename onto a key that may exist */
        dl = pick_key(w, db);
        if ((e = store_find(s, k, kl, true)))
            store_rename(s, e, db, dl);
        break;
    case 8:
        if ((e = store_find(s, k, kl, true)))
            store_set_expire(s, e, pick_ttl(w));
        break;
    case 9: /* time passes: the next lookups reap lazily */
        w->now += (int64_t)below(&w->rng, 30);
        store_set_now(s, w->now);
        store_find(s, k, kl, true);
        break;
    case 10: /* a random key, changed in place when it is a list */
        if ((e = store_random(s)) && entry_type(e) == VT_LIST) {
            list_grow(e, 1, 1);
            list_push(e, LIST_TAIL, "r", 1);
        }
        break;
    case 11:
        w->scan_cursor = store_scan(s, w->scan_cursor, 1 + (unsigned)below(&w->rng, 4),
                                    noop_visit, NULL);
        break;
    case 12: /* a list changed in place after a lookup */
        e = store_find(s, k, kl, true);
        if (!e) {
            e = list_create(s, k, kl);
        } else if (entry_type(e) != VT_LIST) {
            break;
        }
        size_t vl = pick_val(w, v, sizeof v);
        list_grow(e, vl, 1);
        list_push(e, below(&w->rng, 2) ? LIST_HEAD : LIST_TAIL, v, vl);
        if (list_len(e) > 3 && below(&w->rng, 2)) {
            list_pop(e, LIST_HEAD, list_len(e), noop_elem, NULL);
            store_delete_entry(s, e);
        }
        break;
    case 13: { /* RESTORE-like: replace a key by another's dump */
        struct buf d = {0};
        dl = pick_key(w, db);
        if ((e = store_find(s, db, dl, false))) {
            entry_dump(e, &d);
            assert_true(store_restore(s, k, kl, d.data, d.len, pick_ttl(w)));
        }
        buf_free(&d);
        break;
    }
    case 14:
        store_expire_cycle(s, 1000);
        break;
    case 15:
        store_rehash_step(s, 20);
        break;
    case 16: /* a burst of inserts: the table grows */
        for (int i = 0; i < GROW_BATCH; i++) {
            dl = (size_t)snprintf(db, sizeof db, "g%zu", w->grown++);
            set_key(w, db, dl);
        }
        break;
    case 17: /* a burst of deletes: the table shrinks */
        while (w->shrunk < w->grown) {
            dl = (size_t)snprintf(db, sizeof db, "g%zu", w->shrunk++);
            store_delete(s, db, dl);
        }
        break;
    case 18:
        if (allow_flush && below(&w->rng, 40) == 0)
            store_flush(s);
        else
            store_find(s, k, kl, below(&w->rng, 2));
        break;
    default:
        set_key(w, k, kl);
        break;
    }
}

static void world_init(struct world *w, uint64_t seed, size_t keys)
{
    memset(w, 0, sizeof *w);
    w->s = store_new(seed * 0x9E3779B97F4A7C15ULL + 1);
    w->rng = seed * 2654435761u + 0x1234567;
    w->now = T0;
    store_set_now(w->s, w->now);
    char k[KEYBUF];
    for (size_t i = 0; i < keys; i++)
        set_key(w, k, key_of(i % KEYSPACE, k));
    for (size_t i = 0; i < keys / 4; i++)
        random_op(w, false);
}

/* Take the model, make some of its keys expired-but-present, begin; then interleave
 * steps with random operations until the walk is done. */
static void snapshot_under_load(struct world *w, bool allow_flush, size_t abort_after)
{
    struct recs model = {0}, got = {0};
    model_of(w->s, &model);
    w->now += (int64_t)below(&w->rng, 50); /* no reaping happens before begin */
    store_set_now(w->s, w->now);

    store_snapshot_begin(w->s, on_pass, &got);
    uint64_t keys, expires;
    store_snapshot_counts(w->s, &keys, &expires);
    assert_int_equal(keys, model.n);
    size_t with_ttl = 0;
    for (size_t i = 0; i < model.n; i++)
        with_ttl += model.v[i].ttl != STORE_NO_TTL;
    assert_int_equal(expires, with_ttl);

    size_t steps = 0;
    for (;;) {
        assert_true(store_snapshot_active(w->s));
        if (abort_after && steps == abort_after) {
            store_snapshot_abort(w->s);
            assert_false(store_snapshot_active(w->s));
            got.closed = true;
            for (int i = 0; i < 50; i++)
                random_op(w, allow_flush);
            recs_free(&model);
            recs_free(&got);
            return;
        }
        size_t ops = below(&w->rng, 4);
        for (size_t i = 0; i < ops; i++)
            random_op(w, allow_flush);
        steps++;
        assert_true(steps < 10000000);
        if (store_snapshot_step(w->s, 1 + below(&w->rng, 40)))
            break;
    }
    got.closed = true;
    assert_false(store_snapshot_active(w->s));
    for (int i = 0; i < 50; i++)
        random_op(w, allow_flush);
    assert_same(&model, &got);
    recs_free(&model);
    recs_free(&got);
}

/* A snapshot with nothing happening meanwhile. */
static void snapshot_quiet(struct store *s, size_t budget)
{
    struct recs model = {0}, got = {0};
    model_of(s, &model);
    store_snapshot_begin(s, on_pass, &got);
    while (!store_snapshot_step(s, budget)) {
    }
    got.closed = true;
    assert_same(&model, &got);
    recs_free(&model);
    recs_free(&got);
}

/* ---- Tests ---- */

static void test_model_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 150; seed++) {
        struct world w;
        world_init(&w, seed, 200 + below(&(uint64_t){seed | 1}, 1500));
        snapshot_under_load(&w, seed % 3 == 0, 0);
        /* Back to back: the mark's meaning flipped; every key is passed again. */
        snapshot_under_load(&w, false, 0);
        snapshot_quiet(w.s, 1 + seed % 7);
        store_free(w.s);
    }
}

static void test_abort(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        struct world w;
        world_init(&w, seed + 1000, 800);
        /* Aborted midway (possibly after a flush handed the table over), then begun
         * again: at once, or after ticks let the aborted walk finish in the background. */
        snapshot_under_load(&w, seed % 2 == 0, 1 + seed * 7);
        if (seed % 3 == 0)
            for (int i = 0; i < 5; i++)
                store_rehash_step(w.s, 1000);
        snapshot_under_load(&w, seed % 2 == 1, 0);
        /* Abort twice in a row, then a quiet one. */
        snapshot_under_load(&w, true, 3);
        snapshot_under_load(&w, false, 2);
        snapshot_quiet(w.s, 5);
        /* Begin while one runs: the first is aborted, the second is exact. */
        struct recs model = {0}, first = {0}, second = {0};
        model_of(w.s, &model);
        store_snapshot_begin(w.s, on_pass, &first);
        store_snapshot_step(w.s, 10);
        first.closed = true;
        store_snapshot_begin(w.s, on_pass, &second);
        while (!store_snapshot_step(w.s, 10)) {
        }
        second.closed = true;
        assert_same(&model, &second);
        recs_free(&model);
        recs_free(&first);
        recs_free(&second);
        snapshot_under_load(&w, false, 0);
        /* Freed with a snapshot running, after a flush detached a table: no leak. */
        struct recs last = {0};
        store_snapshot_begin(w.s, on_pass, &last);
        store_snapshot_step(w.s, 3);
        store_flush(w.s);
        store_snapshot_step(w.s, 3);
        store_free(w.s);
        recs_free(&last);
    }
}

static void test_empty_and_idle(void **state)
{
    (void)state;
    struct store *s = store_new(42);
    store_set_now(s, T0);
    assert_false(store_snapshot_active(s));
    assert_true(store_snapshot_step(s, 10)); /* none running */
    uint64_t keys = 1, expires = 1;
    store_snapshot_counts(s, &keys, &expires);
    assert_int_equal(keys, 0);
    assert_int_equal(expires, 0);
    store_snapshot_abort(s); /* none running: nothing happens */

    struct recs got = {0};
    store_snapshot_begin(s, on_pass, &got);
    assert_true(store_snapshot_active(s));
    store_set_str(s, "new", 3, "v", 1, STORE_NO_TTL, false);
    assert_true(store_snapshot_step(s, 1000));
    assert_false(store_snapshot_active(s));
    assert_int_equal(got.n, 0);
    recs_free(&got);

    /* Flushes during a snapshot: the detached table is walked; later keys are not. */
    char k[32];
    for (int i = 0; i < 100; i++)
        store_set_str(s, k, (size_t)snprintf(k, sizeof k, "a%d", i), "x", 1, T0 + 5, false);
    struct recs model = {0};
    model_of(s, &model);
    store_snapshot_begin(s, on_pass, &got);
    store_snapshot_step(s, 5);
    store_flush(s);
    assert_int_equal(store_count(s), 0);
    store_set_str(s, "after", 5, "v", 1, STORE_NO_TTL, false);
    store_flush(s);
    store_set_str(s, "after2", 6, "v", 1, STORE_NO_TTL, false);
    uint64_t exp;
    store_snapshot_counts(s, &keys, &exp);
    assert_int_equal(keys, 101); /* "new" is there too */
    assert_int_equal(exp, 100);
    while (!store_snapshot_step(s, 7)) {
    }
    got.closed = true;
    assert_same(&model, &got);
    recs_free(&model);
    recs_free(&got);
    /* And the next one sees just what is there now. */
    snapshot_quiet(s, 1);
    store_free(s);
}

/* Begun at 1,000 keys while 100,000 are inserted during the walk. */
static void test_growth(void **state)
{
    (void)state;
    struct store *s = store_new(7);
    store_set_now(s, T0);
    char k[32];
    for (int i = 0; i < 1000; i++)
        store_set_str(s, k, (size_t)snprintf(k, sizeof k, "old%d", i), k, 4, STORE_NO_TTL,
                      false);
    struct recs model = {0}, got = {0};
    model_of(s, &model);
    store_snapshot_begin(s, on_pass, &got);
    struct store_stats st;
    int resizes = 0;
    bool was = false;
    bool done = false;
    for (int i = 0; i < 100000; i++) {
        store_set_str(s, k, (size_t)snprintf(k, sizeof k, "new%d", i), "v", 1, STORE_NO_TTL,
                      false);
        if (i % 97 == 0) /* an old key overwritten: passed first, with its old value */
            store_set_str(s, k, (size_t)snprintf(k, sizeof k, "old%d", i % 1000), "w", 1,
                          STORE_NO_TTL, false);
        if (!done && i % 4 == 0)
            done = store_snapshot_step(s, 1);
        store_stats(s, &st);
        resizes += st.rehashing && !was;
        was = st.rehashing;
    }
    assert_true(resizes >= 6);
    while (!done)
        done = store_snapshot_step(s, 100);
    got.closed = true;
    assert_int_equal(store_count(s), 101000);
    assert_same(&model, &got);
    recs_free(&model);
    recs_free(&got);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_idle),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_model_random),
        cmocka_unit_test(test_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
