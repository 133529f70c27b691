/* Unit tests of sorted sets (src/store/zset.c, zskiplist.c): order, ranks, the member
 * index across resizes, both encodings and the conversion, 100k random operations
 * checked against a plain reference, intervals, dump/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "store/zset.h"
#include "store/zskiplist.h"

#define POOL 1500

static char names[POOL][16];
static size_t name_len[POOL];
static bool present[POOL];
static double score_of[POOL];

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void init_names(void)
{
    for (int i = 0; i < POOL; i++) {
        /* Some names are prefixes of others, some are integers (listpack ints). */
        name_len[i] = (size_t)snprintf(names[i], sizeof names[i], i % 3 ? "m%d" : "%d", i);
        present[i] = false;
    }
}

static int ref_cmp(int a, int b)
{
    return zsl_cmp(score_of[a], names[a], name_len[a], score_of[b], names[b], name_len[b]);
}

static size_t ref_rank(int id)
{
    size_t r = 0;
    for (int j = 0; j < POOL; j++)
        if (present[j] && j != id && ref_cmp(j, id) < 0)
            r++;
    return r;
}

static size_t ref_len(void)
{
    size_t n = 0;
    for (int j = 0; j < POOL; j++)
        n += present[j];
    return n;
}

static int cmp_ids(const void *a, const void *b) { return ref_cmp(*(const int *)a, *(const int *)b); }

static void check_all(const struct zs *z)
{
    int ids[POOL];
    size_t n = 0;
    for (int j = 0; j < POOL; j++)
        if (present[j])
            ids[n++] = j;
    qsort(ids, n, sizeof ids[0], cmp_ids);
    assert_int_equal(zs_len(z), n);
    struct zs_iter it;
    zs_iter_rank(&it, z, 0, false);
    const char *m;
    size_t ml;
    double sc;
    for (size_t i = 0; i < n; i++) {
        assert_true(zs_iter_next(&it, &m, &ml, &sc));
        assert_int_equal(ml, name_len[ids[i]]);
        assert_memory_equal(m, names[ids[i]], ml);
        assert_true(sc == score_of[ids[i]]);
    }
    assert_false(zs_iter_next(&it, &m, &ml, &sc));
    /* Reverse walk from rank 0 sees the last member first. */
    if (n) {
        zs_iter_rank(&it, z, 0, true);
        assert_true(zs_iter_next(&it, &m, &ml, &sc));
        assert_memory_equal(m, names[ids[n - 1]], ml);
    }
}

static void random_ops(size_t nops, bool start_skiplist)
{
    init_names();
    struct zs z = start_skiplist ? zs_create(1000, 0) : zs_create(0, 0);
    for (size_t op = 0; op < nops; op++) {
        int id = (int)(next_rand() % POOL);
        unsigned kind = (unsigned)(next_rand() % 10);
        double sc = (double)(int)(next_rand() % 200) / 4.0;
        if (kind < 5) {
            unsigned flags = (unsigned)(next_rand() % 4 == 0 ? ZS_INCR : 0);
            double ns;
            enum zs_add_res r = zs_add(&z, names[id], name_len[id], sc, flags, &ns);
            double want = (flags & ZS_INCR) && present[id] ? score_of[id] + sc : sc;
            if (!present[id])
                assert_int_equal(r, ZS_ADDED);
            else
                assert_int_equal(r, want == score_of[id] ? ZS_SAME : ZS_UPDATED);
            present[id] = true;
            score_of[id] = want;
            assert_true(ns == want);
        } else if (kind < 8) {
            assert_int_equal(zs_delete(&z, names[id], name_len[id]), present[id]);
            present[id] = false;
        } else {
            double got;
            assert_int_equal(zs_score(&z, names[id], name_len[id], &got), present[id]);
            if (present[id])
                assert_true(got == score_of[id]);
        }
        if (op % 7 == 0) {
            int64_t rk = zs_rank(&z, names[id], name_len[id], false, NULL);
            if (present[id]) {
                size_t want = ref_rank(id);
                assert_int_equal(rk, (int64_t)want);
                assert_int_equal(zs_rank(&z, names[id], name_len[id], true, NULL),
                                 (int64_t)(ref_len() - 1 - want));
                const char *m;
                size_t ml;
                double s2;
                char buf[LP_INTBUF];
                zs_at(&z, want, &m, &ml, &s2, buf);
                assert_int_equal(ml, name_len[id]);
                assert_memory_equal(m, names[id], ml);
            } else {
                assert_int_equal(rk, -1);
            }
        }
        if (op % 5000 == 0)
            check_all(&z);
    }
    check_all(&z);
    if (!start_skiplist)
        assert_int_equal(z.enc, OBJ_SKIPLIST); /* grew past 128 members */
    zs_free(&z);
}

static void test_random_ops_listpack_start(void **state)
{
    (void)state;
    random_ops(100000, false);
}

static void test_random_ops_skiplist(void **state)
{
    (void)state;
    random_ops(100000, true);
}

/* A big set: the index grows through several resizes and shrinks back. */
static void test_index_resize(void **state)
{
    (void)state;
    struct zsl *sl = zsl_new(0);
    char b[32];
    enum { N = 50000 };
    for (int i = 0; i < N; i++) {
        int n = snprintf(b, sizeof b, "k%d", i);
        zsl_insert(sl, (double)(i % 100), b, (size_t)n);
    }
    for (int i = 0; i < N; i += 3) {
        int n = snprintf(b, sizeof b, "k%d", i);
        struct zsl_node *x = zsl_find(sl, b, (size_t)n);
        assert_non_null(x);
        zsl_update(sl, x, -(double)i);
    }
    for (int i = 0; i < N; i++) {
        int n = snprintf(b, sizeof b, "k%d", i);
        struct zsl_node *x = zsl_find(sl, b, (size_t)n);
        assert_non_null(x);
        if (i % 3)
            assert_true(x->score == (double)(i % 100));
        else
            assert_true(x->score == -(double)i);
        assert_ptr_equal(zsl_at(sl, zsl_rank(sl, x)), x);
    }
    for (int i = 0; i < N - 10; i++) {
        int n = snprintf(b, sizeof b, "k%d", i);
        zsl_delete(sl, zsl_find(sl, b, (size_t)n));
    }
    assert_int_equal(sl->length, 10);
    assert_null(zsl_find(sl, "k0", 2));
    assert_non_null(zsl_find(sl, "k49999", 6));
    zsl_free(sl);
}

static void count_node(const struct zsl_node *n, void *arg)
{
    (void)n;
    (*(size_t *)arg)++;
}

static void test_scan_covers_all(void **state)
{
    (void)state;
    struct zsl *sl = zsl_new(0);
    char b[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(b, sizeof b, "s%d", i);
        zsl_insert(sl, i, b, (size_t)n);
    }
    size_t seen = 0;
    uint64_t cur = 0;
    do
        cur = zsl_scan(sl, cur, count_node, &seen);
    while (cur);
    assert_true(seen >= 3000);
    zsl_free(sl);
}

static void test_intervals_both_encodings(void **state)
{
    (void)state;
    for (int big = 0; big < 2; big++) {
        struct zs z = big ? zs_create(10000, 0) : zs_create(0, 0);
        const char *lex[] = {"a", "ab", "b", "bb", "c"};
        for (int i = 0; i < 5; i++)
            zs_add(&z, lex[i], strlen(lex[i]), 0, 0, NULL);
        struct zs_lexrange lr;
        assert_true(zs_parse_lexrange("[ab", 3, "(c", 2, &lr));
        assert_int_equal(zs_count_lex(&z, &lr), 3);
        assert_false(zs_parse_lexrange("ab", 2, "+", 1, &lr));
        assert_true(zs_parse_lexrange("-", 1, "+", 1, &lr));
        assert_int_equal(zs_count_lex(&z, &lr), 5);
        assert_true(zs_parse_lexrange("(b", 2, "+", 1, &lr));
        assert_int_equal(zs_delete_lex(&z, &lr), 2);
        zs_free(&z);

        z = big ? zs_create(10000, 0) : zs_create(0, 0);
        for (int i = 0; i < 50; i++) {
            char b[8];
            int n = snprintf(b, sizeof b, "x%02d", i);
            zs_add(&z, b, (size_t)n, i / 2, 0, NULL);
        }
        struct zs_range r;
        assert_true(zs_parse_range("(3", 2, "10", 2, &r));
        assert_int_equal(zs_count_range(&z, &r), 14);
        assert_true(zs_parse_range("-inf", 4, "+inf", 4, &r));
        assert_int_equal(zs_count_range(&z, &r), 50);
        assert_false(zs_parse_range("x", 1, "1", 1, &r));
        assert_false(zs_parse_range("nan", 3, "1", 1, &r));
        assert_true(zs_parse_range("5", 1, "(5", 2, &r));
        assert_int_equal(zs_count_range(&z, &r), 0);
        assert_true(zs_parse_range("(20", 3, "+inf", 4, &r));
        struct zs_iter it;
        zs_iter_range(&it, &z, &r, true);
        const char *m;
        size_t ml;
        double sc;
        assert_true(zs_iter_next(&it, &m, &ml, &sc));
        assert_memory_equal(m, "x49", 3);
        assert_int_equal(zs_delete_range(&z, &r), 8);
        assert_int_equal(zs_delete_rank(&z, 0, 9), 10);
        assert_int_equal(zs_len(&z), 32);
        zs_free(&z);
    }
}

static void test_dump_restore(void **state)
{
    (void)state;
    for (int big = 0; big < 2; big++) {
        struct zs z = zs_create(big ? 1000 : 3, 0);
        zs_add(&z, "a", 1, 1.5, 0, NULL);
        zs_add(&z, "123", 3, -INFINITY, 0, NULL);
        zs_add(&z, "", 0, 0.1, 0, NULL);
        struct buf b = {0};
        zset_obj_dump(z.obj, z.enc, &b);
        enum obj_enc enc = z.enc;
        void *o = zset_obj_restore(b.data, b.len, &enc);
        assert_non_null(o);
        assert_int_equal(enc, z.enc);
        struct zs r = {o, enc};
        assert_int_equal(zs_len(&r), 3);
        double sc;
        assert_true(zs_score(&r, "123", 3, &sc) && sc == -INFINITY);
        assert_true(zs_score(&r, "", 0, &sc) && sc == 0.1);
        /* Every truncation is rejected, never trusted. */
        for (size_t cut = 0; cut < b.len; cut++) {
            enc = z.enc;
            assert_null(zset_obj_restore(b.data, cut, &enc));
        }
        /* A NaN score is rejected. */
        double nan = NAN;
        memcpy(b.data + b.len - 8, &nan, 8);
        enc = z.enc;
        assert_null(zset_obj_restore(b.data, b.len, &enc));
        buf_free(&b);
        zs_free(&r);
        zs_free(&z);
    }
}

static void test_shrink_and_nan(void **state)
{
    (void)state;
    struct zs z = zs_create(1000, 0);
    assert_int_equal(z.enc, OBJ_SKIPLIST);
    zs_add(&z, "a", 1, INFINITY, 0, NULL);
    assert_int_equal(zs_add(&z, "a", 1, -INFINITY, ZS_INCR, NULL), ZS_NAN);
    assert_int_equal(zs_add(&z, "a", 1, 1, ZS_NX, NULL), ZS_NOP);
    assert_int_equal(zs_add(&z, "b", 1, 1, ZS_XX, NULL), ZS_NOP);
    assert_int_equal(zs_add(&z, "a", 1, 5, ZS_GT, NULL), ZS_NOP);
    assert_int_equal(zs_add(&z, "a", 1, 5, ZS_LT, NULL), ZS_UPDATED);
    zs_shrink(&z);
    assert_int_equal(z.enc, OBJ_LISTPACK);
    double sc;
    assert_true(zs_score(&z, "a", 1, &sc) && sc == 5);
    zs_free(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_ops_listpack_start),
        cmocka_unit_test(test_random_ops_skiplist),
        cmocka_unit_test(test_index_resize),
        cmocka_unit_test(test_scan_covers_all),
        cmocka_unit_test(test_intervals_both_encodings),
        cmocka_unit_test(test_dump_restore),
        cmocka_unit_test(test_shrink_and_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
