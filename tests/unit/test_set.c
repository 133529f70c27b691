/* Unit tests of the set type (src/store/set.c): Redis 7.2's encodings and conversions,
 * membership across encodings, the algebra helpers, and the object contract (dump /
 * restore round trips keep the encoding; malformed payloads are rejected, never crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/set.h"

static bool add_str(struct set_val *s, const char *m) { return set_add(s, m, strlen(m)); }

static bool add_int(struct set_val *s, long long v)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%lld", v);
    return set_add(s, b, (size_t)n);
}

static void test_intset_to_listpack_to_hashtable(void **state)
{
    (void)state;
    struct set_val s = set_new_for("1", 1, 3);
    assert_int_equal(s.enc, OBJ_INTSET);
    assert_true(add_int(&s, 1));
    assert_false(add_int(&s, 1));
    assert_true(add_str(&s, "a"));
    assert_int_equal(s.enc, OBJ_LISTPACK);
    for (int i = 0; i < 126; i++)
        add_int(&s, 100 + i);
    assert_int_equal(set_card(&s), 128);
    assert_int_equal(s.enc, OBJ_LISTPACK);
    assert_true(add_str(&s, "b"));
    assert_int_equal(s.enc, OBJ_HASHTABLE);
    assert_true(set_has(&s, "100", 3) && set_has(&s, "a", 1) && !set_has(&s, "0100", 4));
    set_free(&s);

    s = set_new(OBJ_INTSET, 0);
    for (int i = 0; i < 200; i++)
        add_int(&s, i);
    assert_int_equal(s.enc, OBJ_INTSET);
    add_str(&s, "x"); /* too many integers for a listpack */
    assert_int_equal(s.enc, OBJ_HASHTABLE);
    set_free(&s);

    s = set_new(OBJ_INTSET, 0);
    for (int i = 0; i < 513; i++)
        add_int(&s, i);
    assert_int_equal(s.enc, OBJ_HASHTABLE);
    set_free(&s);

    char big[66];
    memset(big, 'x', 65);
    big[65] = 0;
    s = set_new_for("a", 1, 1);
    assert_int_equal(s.enc, OBJ_LISTPACK);
    add_str(&s, big);
    assert_int_equal(s.enc, OBJ_HASHTABLE);
    set_free(&s);
}

static void test_remove_and_iterate(void **state)
{
    (void)state;
    enum obj_enc encs[] = {OBJ_INTSET, OBJ_LISTPACK, OBJ_HASHTABLE};
    for (int e = 0; e < 3; e++) {
        struct set_val s = set_new(encs[e], 0);
        for (int i = 0; i < 50; i++)
            add_int(&s, i * 3);
        assert_int_equal(s.enc, encs[e]);
        assert_true(set_remove(&s, "3", 1));
        assert_false(set_remove(&s, "3", 1));
        assert_false(set_remove(&s, "x", 1));
        struct set_iter it;
        struct set_elem m;
        size_t n = 0;
        set_iter_init(&it, &s);
        while (set_iter_next(&it, &m))
            n++;
        set_iter_done(&it);
        assert_int_equal(n, 49);
        struct set_elem r;
        char *heap;
        set_pop_random(&s, &r, &heap);
        assert_false(set_has(&s, r.s, r.len));
        free(heap);
        assert_int_equal(set_card(&s), 48);
        set_free(&s);
    }
}

static bool count_fn(void *arg, struct set_elem *m)
{
    (void)m;
    (*(int *)arg)++;
    return true;
}

static void test_algebra(void **state)
{
    (void)state;
    struct set_val s[3] = {set_new(OBJ_INTSET, 0), set_new(OBJ_LISTPACK, 0),
                           set_new(OBJ_HASHTABLE, 0)};
    for (int i = 0; i < 100; i++) {
        add_int(&s[0], i);
        if (i % 2 == 0)
            add_int(&s[1], i);
        if (i % 3 == 0)
            add_int(&s[2], i);
    }
    int n = 0;
    set_inter_walk(s, 3, count_fn, &n);
    assert_int_equal(n, 17); /* multiples of 6 below 100 */
    struct set_val u = set_union_diff(s, 3, false);
    assert_int_equal(set_card(&u), 100);
    assert_int_equal(u.enc, OBJ_INTSET);
    set_free(&u);
    struct set_val d = set_union_diff(s, 3, true);
    assert_int_equal(set_card(&d), 33); /* neither even nor a multiple of 3 */
    set_free(&d);
    for (int i = 0; i < 3; i++)
        set_free(&s[i]);
}

static void test_dump_restore(void **state)
{
    (void)state;
    enum obj_enc encs[] = {OBJ_INTSET, OBJ_LISTPACK, OBJ_HASHTABLE};
    for (int e = 0; e < 3; e++) {
        struct set_val s = set_new(encs[e], 0);
        for (int i = 0; i < 300; i++) {
            if (encs[e] == OBJ_INTSET || i % 2)
                add_int(&s, i - 150);
            else if (encs[e] != OBJ_LISTPACK || i < 100)
                add_str(&s, i % 4 ? "abc" : "");
        }
        struct buf b = {0};
        set_obj_dump(s.o, s.enc, &b);
        enum obj_enc got = s.enc;
        void *o = set_obj_restore(b.data, b.len, &got);
        assert_non_null(o);
        assert_int_equal(got, s.enc);
        assert_int_equal(set_obj_len(o, got), set_card(&s));
        set_obj_free(o, got);
        /* Every truncation and a flipped bit anywhere: rejected or a valid set. */
        for (size_t cut = 0; cut < b.len; cut++) {
            got = s.enc;
            assert_null(set_obj_restore(b.data, cut, &got));
        }
        for (size_t i = 0; i < b.len; i++) {
            b.data[i] ^= 0x20;
            got = s.enc;
            o = set_obj_restore(b.data, b.len, &got);
            if (o)
                set_obj_free(o, got);
            b.data[i] ^= 0x20;
        }
        buf_free(&b);
        set_free(&s);
    }
    struct buf dup = {0};
    store_put_varint(&dup, 2);
    store_put_bytes(&dup, "7", 1);
    store_put_bytes(&dup, "7", 1);
    for (int e = 0; e < 3; e++) {
        enum obj_enc got = encs[e];
        assert_null(set_obj_restore(dup.data, dup.len, &got));
    }
    buf_free(&dup);
    struct buf notint = {0};
    store_put_varint(&notint, 1);
    store_put_bytes(&notint, "x", 1);
    enum obj_enc got = OBJ_INTSET;
    assert_null(set_obj_restore(notint.data, notint.len, &got));
    buf_free(&notint);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intset_to_listpack_to_hashtable),
        cmocka_unit_test(test_remove_and_iterate),
        cmocka_unit_test(test_algebra),
        cmocka_unit_test(test_dump_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
