/* Unit tests of the intset (src/store/intset.c): encodings and upgrades 16 -> 32 -> 64
 * bit, value boundaries, add/remove against a reference, random members, and
 * intset_validate on corrupted bytes (each checked in an exact-size buffer, so ASan
 * catches any read past the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/intset.h"

static uint64_t rng_state = 0x243F6A8885A308D3ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t enc_of(const struct intset *is)
{
    uint32_t e;
    memcpy(&e, is, 4);
    return e;
}

static void check_sorted(const struct intset *is)
{
    size_t n = intset_len(is);
    assert_int_equal(intset_bytes(is), 8 + n * enc_of(is));
    for (size_t i = 1; i < n; i++)
        assert_true(intset_get(is, i - 1) < intset_get(is, i));
    assert_true(intset_validate((const unsigned char *)is, intset_bytes(is)) || n == 0);
}

static struct intset *add(struct intset *is, int64_t v, bool expect_added)
{
    bool added;
    is = intset_add(is, v, &added);
    assert_int_equal(added, expect_added);
    assert_true(intset_has(is, v));
    check_sorted(is);
    return is;
}

static void test_basic(void **state)
{
    (void)state;
    struct intset *is = intset_new();
    assert_int_equal(intset_len(is), 0);
    assert_int_equal(intset_bytes(is), 8);
    assert_int_equal(enc_of(is), 2);
    assert_false(intset_has(is, 0));
    bool removed;
    is = intset_remove(is, 5, &removed);
    assert_false(removed);
    is = add(is, 5, true);
    is = add(is, 1, true);
    is = add(is, 3, true);
    is = add(is, 3, false);
    is = add(is, -7, true);
    assert_int_equal(intset_len(is), 4);
    assert_int_equal(intset_get(is, 0), -7);
    assert_int_equal(intset_get(is, 1), 1);
    assert_int_equal(intset_get(is, 2), 3);
    assert_int_equal(intset_get(is, 3), 5);
    assert_false(intset_has(is, 2));
    assert_false(intset_has(is, 6));
    assert_false(intset_has(is, -8));
    is = intset_remove(is, 3, &removed);
    assert_true(removed);
    is = intset_remove(is, 3, &removed);
    assert_false(removed);
    check_sorted(is);
    assert_int_equal(intset_len(is), 3);
    intset_free(is);
}

static void test_upgrades(void **state)
{
    (void)state;
    struct intset *is = intset_new();
    is = add(is, INT16_MAX, true);
    is = add(is, INT16_MIN, true);
    is = add(is, 0, true);
    assert_int_equal(enc_of(is), 2);
    /* 16 -> 32 by a positive value: it goes to the back. */
    is = add(is, (int64_t)INT16_MAX + 1, true);
    assert_int_equal(enc_of(is), 4);
    assert_int_equal(intset_get(is, 3), (int64_t)INT16_MAX + 1);
    assert_int_equal(intset_get(is, 0), INT16_MIN);
    /* A 16-bit value fits the wider encoding, no change. */
    is = add(is, 100, true);
    assert_int_equal(enc_of(is), 4);
    is = add(is, (int64_t)INT16_MIN - 1, true);
    is = add(is, INT32_MIN, true);
    is = add(is, INT32_MAX, true);
    assert_int_equal(enc_of(is), 4);
    /* 32 -> 64 by a negative value: it goes to the front. */
    is = add(is, (int64_t)INT32_MIN - 1, true);
    assert_int_equal(enc_of(is), 8);
    assert_int_equal(intset_get(is, 0), (int64_t)INT32_MIN - 1);
    is = add(is, INT64_MAX, true);
    is = add(is, INT64_MIN, true);
    is = add(is, INT64_MIN, false);
    int64_t want[] = {INT64_MIN, (int64_t)INT32_MIN - 1, INT32_MIN, (int64_t)INT16_MIN - 1,
                      INT16_MIN, 0, 100, INT16_MAX, (int64_t)INT16_MAX + 1, INT32_MAX,
                      INT64_MAX};
    assert_int_equal(intset_len(is), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(intset_get(is, i), want[i]);
        assert_true(intset_has(is, want[i]));
    }
    /* No downgrade on removal, as Redis. */
    bool removed;
    is = intset_remove(is, INT64_MIN, &removed);
    assert_true(removed);
    is = intset_remove(is, INT64_MAX, &removed);
    is = intset_remove(is, (int64_t)INT32_MIN - 1, &removed);
    assert_int_equal(enc_of(is), 8);
    check_sorted(is);
    intset_free(is);

    /* 16 -> 64 directly, negative first. */
    is = intset_new();
    is = add(is, 1, true);
    is = add(is, 2, true);
    is = add(is, INT64_MIN, true);
    assert_int_equal(enc_of(is), 8);
    assert_int_equal(intset_get(is, 0), INT64_MIN);
    assert_int_equal(intset_get(is, 2), 2);
    /* A value wider than the encoding is never a member. */
    intset_free(is);
    is = intset_new();
    is = add(is, 7, true);
    assert_false(intset_has(is, 70000));
    assert_false(intset_has(is, INT64_MIN));
    is = intset_remove(is, 70000, &removed);
    assert_false(removed);
    assert_int_equal(enc_of(is), 2);
    intset_free(is);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Random adds and removes in a mixed range against a sorted reference array. */
static void test_reference(void **state)
{
    (void)state;
    enum { RANGE = 600, OPS = 20000 };
    static const int64_t bases[] = {0, 40000, -3000000000LL};
    bool in[3][RANGE] = {{false}};
    struct intset *is = intset_new();
    size_t count = 0;
    for (int op = 0; op < OPS; op++) {
        int b = (int)(rnd() % (op < OPS / 3 ? 1 : op < 2 * OPS / 3 ? 2 : 3));
        int k = (int)(rnd() % RANGE) - RANGE / 2;
        int64_t v = bases[b] + k;
        size_t slot = (size_t)(k + RANGE / 2);
        bool flag;
        if (rnd() % 3) {
            is = intset_add(is, v, &flag);
            assert_int_equal(flag, !in[b][slot]);
            count += flag;
            in[b][slot] = true;
        } else {
            is = intset_remove(is, v, &flag);
            assert_int_equal(flag, in[b][slot]);
            count -= flag;
            in[b][slot] = false;
        }
        assert_int_equal(intset_len(is), count);
        assert_int_equal(intset_has(is, v), in[b][slot]);
    }
    int64_t *ref = malloc(sizeof *ref * 3 * RANGE);
    size_t n = 0;
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < RANGE; k++)
            if (in[b][k])
                ref[n++] = bases[b] + k - RANGE / 2;
    qsort(ref, n, sizeof *ref, cmp_i64);
    assert_int_equal(n, intset_len(is));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(intset_get(is, i), ref[i]);
    check_sorted(is);
    free(ref);
    intset_free(is);
}

static void test_random(void **state)
{
    (void)state;
    struct intset *is = intset_new();
    bool added;
    for (int64_t v = 0; v < 20; v++)
        is = intset_add(is, v * 1000003, &added);
    int hits[20] = {0};
    uint64_t rng = 12345;
    for (int i = 0; i < 4000; i++) {
        int64_t v = intset_random(is, &rng);
        assert_true(intset_has(is, v));
        assert_int_equal(v % 1000003, 0);
        hits[v / 1000003]++;
    }
    for (int i = 0; i < 20; i++)
        assert_true(hits[i] > 100); /* expected 200 each */
    intset_free(is);
}

/* validate on exactly size bytes of a fresh allocation (ASan sees any overread). */
static bool validate_copy(const void *bytes, size_t size)
{
    unsigned char *p = malloc(size ? size : 1);
    if (size)
        memcpy(p, bytes, size);
    bool ok = intset_validate(p, size);
    free(p);
    return ok;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

static void test_validate(void **state)
{
    (void)state;
    struct intset *is = intset_new();
    bool added;
    for (int64_t v = -5; v <= 5; v++)
        is = intset_add(is, v * 7, &added);
    size_t size = intset_bytes(is);
    unsigned char good[64];
    assert_true(size <= sizeof good);
    memcpy(good, is, size);
    assert_true(validate_copy(good, size));

    /* A copy restores the same set. */
    struct intset *c = intset_from(good, size);
    assert_int_equal(intset_len(c), 11);
    for (size_t i = 0; i < 11; i++)
        assert_int_equal(intset_get(c, i), intset_get(is, i));
    intset_free(c);

    unsigned char bad[64];
    /* Every truncation and every extension by a byte. */
    for (size_t s = 0; s < size; s++)
        assert_false(validate_copy(good, s));
    memcpy(bad, good, size);
    bad[size] = 0;
    assert_false(validate_copy(bad, size + 1));
    assert_false(intset_validate(NULL, 0));
    /* Bad encodings. */
    uint32_t encs[] = {0, 1, 3, 5, 6, 7, 16, 0xFFFFFFFFu, 0x02000000u};
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++) {
        memcpy(bad, good, size);
        put32(bad, encs[i]);
        assert_false(validate_copy(bad, size));
    }
    /* Length disagreeing with the size, including huge ones. */
    uint32_t lens[] = {0, 10, 12, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memcpy(bad, good, size);
        put32(bad + 4, lens[i]);
        assert_false(validate_copy(bad, size));
    }
    /* The same bytes read as a wider encoding: size mismatch (22 bytes of values). */
    memcpy(bad, good, size);
    put32(bad, 4);
    assert_false(validate_copy(bad, size));
    /* Empty set: header only (Redis rejects it too). */
    memcpy(bad, good, 8);
    put32(bad + 4, 0);
    assert_false(validate_copy(bad, 8));
    /* Duplicates and descending values. */
    memcpy(bad, good, size);
    memcpy(bad + 8 + 2 * 3, bad + 8 + 2 * 2, 2);
    assert_false(validate_copy(bad, size));
    memcpy(bad, good, size);
    int16_t big = 30000;
    memcpy(bad + 8, &big, 2);
    assert_false(validate_copy(bad, size));
    memcpy(bad, good, size);
    memcpy(bad + 8 + 2 * 10, &(int16_t){-30000}, 2);
    assert_false(validate_copy(bad, size));
    /* A one-element set of each encoding is fine. */
    unsigned char one[16];
    put32(one, 8);
    put32(one + 4, 1);
    memcpy(one + 8, &(int64_t){INT64_MIN}, 8);
    assert_true(validate_copy(one, 16));
    put32(one, 4);
    assert_true(validate_copy(one, 12));
    assert_false(validate_copy(one, 16));
    intset_free(is);

    /* Random bytes never crash; whatever passes is usable. */
    for (int iter = 0; iter < 20000; iter++) {
        size_t sz = (size_t)(rnd() % 40);
        unsigned char buf[40];
        for (size_t i = 0; i < sz; i++)
            buf[i] = (unsigned char)rnd();
        if (sz >= 8 && (rnd() & 1)) {
            uint32_t e = (uint32_t[]){2, 4, 8}[rnd() % 3];
            put32(buf, e);
            put32(buf + 4, (uint32_t)((sz - 8) / e));
        }
        if (validate_copy(buf, sz)) {
            struct intset *r = intset_from(buf, sz);
            check_sorted(r);
            intset_free(r);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_upgrades),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
