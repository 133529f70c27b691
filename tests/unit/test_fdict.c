/* Unit tests of the field table (src/store/fdict.c): inserts, replacements and deletes
 * against a reference, growth and shrink with operations during the incremental rehash,
 * iteration (each node once), scan across resizes between calls, random nodes, payload
 * replacement across length-encoding boundaries, and memory per field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/fdict.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t mkkey(char *buf, size_t i)
{
    return (size_t)snprintf(buf, 32, "field:%zu", i);
}

/* The payload the reference expects for key i at version ver: lengths vary (0..199), so
 * replacements cross the one-byte length boundary. */
static size_t mkval(char *buf, size_t i, unsigned ver)
{
    size_t len = (i * 7 + ver * 13) % 200;
    for (size_t k = 0; k < len; k++)
        buf[k] = (char)('a' + (i + ver + k) % 26);
    return len;
}

static bool node_is(const struct fnode *n, const char *key, size_t klen, const char *val,
                    size_t vlen)
{
    size_t nk, nv;
    const char *k = fn_key(n, &nk);
    const char *v = fn_val(n, &nv);
    return nk == klen && memcmp(k, key, klen) == 0 && nv == vlen && memcmp(v, val, vlen) == 0;
}

/* Parse a test key back to its index (keys are "field:<i>"). */
static size_t key_index(const struct fnode *n)
{
    size_t klen;
    const char *k = fn_key(n, &klen);
    assert_true(klen > 6 && klen < 32 && memcmp(k, "field:", 6) == 0);
    char tmp[32];
    memcpy(tmp, k + 6, klen - 6);
    tmp[klen - 6] = '\0';
    return (size_t)strtoull(tmp, NULL, 10);
}

static void test_basic(void **state)
{
    (void)state;
    struct fdict *d = fd_new(0);
    assert_int_equal(fd_count(d), 0);
    assert_null(fd_find(d, "a", 1));
    assert_false(fd_delete(d, "a", 1));
    uint64_t rng = 1;
    assert_null(fd_random(d, &rng));
    bool created;
    struct fnode *n = fd_put(d, "a", 1, "1", 1, &created);
    assert_true(created);
    assert_true(node_is(n, "a", 1, "1", 1));
    assert_ptr_equal(fd_find(d, "a", 1), n);
    assert_null(fd_add(d, "a", 1, "2", 1));
    assert_true(node_is(fd_find(d, "a", 1), "a", 1, "1", 1));
    /* Empty key and empty payload are ordinary. */
    n = fd_add(d, "", 0, "", 0);
    assert_non_null(n);
    assert_true(node_is(fd_find(d, "", 0), "", 0, "", 0));
    /* Binary keys: a NUL inside, and keys that are prefixes of each other. */
    assert_non_null(fd_add(d, "a\0b", 3, "x", 1));
    assert_non_null(fd_add(d, "ab", 2, "y", 1));
    assert_true(node_is(fd_find(d, "a\0b", 3), "a\0b", 3, "x", 1));
    assert_true(node_is(fd_find(d, "ab", 2), "ab", 2, "y", 1));
    assert_null(fd_find(d, "a\0", 2));
    assert_int_equal(fd_count(d), 4);
    assert_true(fd_delete(d, "a", 1));
    assert_false(fd_delete(d, "a", 1));
    assert_null(fd_find(d, "a", 1));
    assert_int_equal(fd_count(d), 3);
    assert_true(fd_mem(d) > 0);
    fd_free(d);
    fd_free(NULL);
}

/* Payload replacement across the varint boundaries (127/128, 16383/16384) in both
 * directions; the returned node is the one fd_find gives, with the key intact. */
static void test_replace(void **state)
{
    (void)state;
    struct fdict *d = fd_new(4);
    static char val[20000];
    memset(val, 'v', sizeof val);
    char longkey[300];
    memset(longkey, 'k', sizeof longkey);
    size_t lens[] = {0, 1, 10, 127, 128, 129, 10, 16383, 16384, 20000, 0, 126, 127, 128, 3};
    const char *keys[] = {"f", longkey};
    size_t klens[] = {1, sizeof longkey};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            val[0] = (char)('A' + i);
            bool created;
            struct fnode *n = fd_put(d, keys[k], klens[k], val, lens[i], &created);
            assert_int_equal(created, i == 0);
            assert_true(node_is(n, keys[k], klens[k], val, lens[i]));
            assert_ptr_equal(fd_find(d, keys[k], klens[k]), n);
        }
    }
    /* Replacing a payload with itself (the value pointer into the node). */
    struct fnode *n = fd_find(d, "f", 1);
    size_t vlen;
    const char *v = fn_val(n, &vlen);
    bool created;
    n = fd_put(d, "f", 1, v, vlen, &created);
    assert_false(created);
    assert_int_equal(vlen, 3);
    assert_true(node_is(n, "f", 1, "Ovv", 3));
    /* A payload taken from the node itself at another size: its own key. */
    n = fd_find(d, longkey, sizeof longkey);
    size_t klen;
    const char *k = fn_key(n, &klen);
    n = fd_put(d, longkey, sizeof longkey, k, klen, &created);
    assert_true(node_is(n, longkey, sizeof longkey, longkey, sizeof longkey));
    v = fn_val(n, &vlen);
    n = fd_put(d, longkey, sizeof longkey, v + 1, 5, &created);
    assert_true(node_is(n, longkey, sizeof longkey, "kkkkk", 5));
    assert_int_equal(fd_count(d), 2);
    fd_free(d);
}

/* Checks every live key of the reference against the table. */
static void check_all(struct fdict *d, const unsigned *ver, size_t nkeys)
{
    char key[32], val[256];
    size_t live = 0;
    for (size_t i = 0; i < nkeys; i++) {
        size_t klen = mkkey(key, i);
        struct fnode *n = fd_find(d, key, klen);
        if (ver[i] == 0) {
            assert_null(n);
            continue;
        }
        live++;
        assert_non_null(n);
        size_t vlen = mkval(val, i, ver[i]);
        assert_true(node_is(n, key, klen, val, vlen));
    }
    assert_int_equal(fd_count(d), live);
}

/* 100k random inserts, replacements, adds and deletes against a reference array
 * (ver[i] == 0: absent; else the payload version). The working set swells and
 * shrinks, so resizes of both kinds happen while operations run. */
static void test_reference(void **state)
{
    (void)state;
    enum { NKEYS = 30000, OPS = 100000 };
    unsigned *ver = calloc(NKEYS, sizeof *ver);
    struct fdict *d = fd_new(0);
    char key[32], val[256];
    size_t saw_rehash = 0;
    for (size_t op = 0; op < OPS; op++) {
        /* Phases: grow (mostly inserts), shrink (mostly deletes), then mixed. */
        unsigned phase = (unsigned)(op / (OPS / 5)) % 3;
        unsigned pct_ins = phase == 0 ? 85 : phase == 1 ? 10 : 50;
        size_t i = (size_t)(rnd() % NKEYS);
        size_t klen = mkkey(key, i);
        unsigned r = (unsigned)(rnd() % 100);
        if (r < pct_ins) {
            unsigned nv = ver[i] + 1;
            size_t vlen = mkval(val, i, nv);
            if (rnd() & 1) {
                bool created;
                struct fnode *n = fd_put(d, key, klen, val, vlen, &created);
                assert_int_equal(created, ver[i] == 0);
                assert_true(node_is(n, key, klen, val, vlen));
                ver[i] = nv;
            } else {
                struct fnode *n = fd_add(d, key, klen, val, vlen);
                if (ver[i]) {
                    assert_null(n);
                } else {
                    assert_non_null(n);
                    assert_true(node_is(n, key, klen, val, vlen));
                    ver[i] = nv;
                }
            }
        } else if (r < 95) {
            assert_int_equal(fd_delete(d, key, klen), ver[i] != 0);
            ver[i] = 0;
        } else {
            struct fnode *n = fd_find(d, key, klen);
            if (ver[i]) {
                size_t vlen = mkval(val, i, ver[i]);
                assert_true(node_is(n, key, klen, val, vlen));
            } else {
                assert_null(n);
            }
        }
        saw_rehash += fd_rehashing(d);
        if (op % 10007 == 0)
            check_all(d, ver, NKEYS);
    }
    check_all(d, ver, NKEYS);
    assert_true(saw_rehash > 0);
    fd_free(d);
    free(ver);
}

/* Growth, then a shrink with inserts arriving while it runs, then growth again while a
 * shrink is unfinished: every key stays findable at every step, and the table ends at
 * a size matching its count. */
static void test_grow_shrink(void **state)
{
    (void)state;
    enum { N = 20000 };
    unsigned *ver = calloc(N, sizeof *ver);
    struct fdict *d = fd_new(0);
    char key[32], val[256];
    for (size_t i = 0; i < N; i++) {
        size_t klen = mkkey(key, i);
        assert_non_null(fd_add(d, key, klen, val, mkval(val, i, 1)));
        ver[i] = 1;
        if (i % 997 == 0)
            check_all(d, ver, N);
    }
    size_t grown = fd_buckets(d);
    assert_true(grown >= N);
    /* Delete down to 50 keys: a shrink starts. */
    for (size_t i = 50; i < N; i++) {
        size_t klen = mkkey(key, i);
        assert_true(fd_delete(d, key, klen));
        ver[i] = 0;
    }
    check_all(d, ver, N);
    /* Insert during the shrink: lookups stay right, and the chains stay short enough
     * that the table keeps working (the shrink is capped per step). */
    size_t during = 0;
    for (size_t i = 50; i < 4000; i++) {
        during += fd_rehashing(d);
        size_t klen = mkkey(key, i);
        assert_non_null(fd_add(d, key, klen, val, mkval(val, i, 1)));
        ver[i] = 1;
        if (i % 101 == 0)
            check_all(d, ver, N);
    }
    assert_true(during > 0);
    check_all(d, ver, N);
    /* Delete everything but 3: shrink cascades down to the minimum with further ops. */
    for (size_t i = 3; i < 4000; i++) {
        size_t klen = mkkey(key, i);
        assert_true(fd_delete(d, key, klen));
        ver[i] = 0;
    }
    for (int k = 0; k < 100000 && (fd_rehashing(d) || fd_buckets(d) > 16); k++)
        fd_find(d, "field:0", 7);
    assert_false(fd_rehashing(d));
    /* Shrinks stop once the load is >= 1/8 (3 keys may keep up to 16 buckets). */
    assert_true(fd_buckets(d) <= 16);
    check_all(d, ver, N);
    fd_free(d);
    free(ver);
}

/* Iteration visits each node exactly once, in a stable table, in one that is in the
 * middle of a rehash, and when the caller deletes each node it is given. */
static void test_iter(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct fdict *d = fd_new(0);
    char key[32];
    unsigned char *seen = calloc(N, 1);
    for (int round = 0; round < 3; round++) {
        size_t n = round == 0 ? 4097 : round == 1 ? N : 1000;
        for (size_t i = 0; i < N; i++) {
            size_t klen = mkkey(key, i);
            if (i < n)
                fd_add(d, key, klen, "v", 1);
            else if (round > 0)
                fd_delete(d, key, klen);
        }
        if (round == 0)
            assert_true(fd_rehashing(d)); /* 4097 > 4096 buckets: a growth started */
        memset(seen, 0, N);
        struct fd_iter it;
        fd_iter_init(&it, d);
        size_t count = 0;
        for (struct fnode *f; (f = fd_iter_next(&it));) {
            size_t i = key_index(f);
            assert_true(i < n);
            assert_int_equal(seen[i], 0);
            seen[i] = 1;
            count++;
            /* Lookups during iteration are fine (rehash steps are paused). */
            size_t klen = mkkey(key, i);
            assert_ptr_equal(fd_find(d, key, klen), f);
        }
        assert_null(fd_iter_next(&it));
        fd_iter_done(&it);
        assert_int_equal(count, n);
    }
    /* Deleting the node just returned. */
    struct fd_iter it;
    fd_iter_init(&it, d);
    size_t count = 0;
    for (struct fnode *f; (f = fd_iter_next(&it));) {
        size_t klen;
        const char *k = fn_key(f, &klen);
        memcpy(key, k, klen);
        assert_true(fd_delete(d, key, klen));
        count++;
    }
    fd_iter_done(&it);
    assert_int_equal(count, 1000);
    assert_int_equal(fd_count(d), 0);
    fd_free(d);
    free(seen);
}

struct scan_ctx {
    unsigned char *seen;
    size_t calls;
};

static void scan_cb(const struct fnode *n, void *arg)
{
    struct scan_ctx *c = arg;
    size_t i = key_index(n);
    if (i < 1000000) /* stable keys; volatile ones are numbered from 1000000 */
        c->seen[i] = 1;
    c->calls++;
}

/* Every key present for the whole scan is returned, while the table grows and shrinks
 * (and rehashes) between calls. */
static void test_scan(void **state)
{
    (void)state;
    enum { STABLE = 300, VOL = 40000 };
    struct fdict *d = fd_new(0);
    char key[32];
    unsigned char *seen = calloc(STABLE, 1);
    for (size_t i = 0; i < STABLE; i++)
        fd_add(d, key, mkkey(key, i), "s", 1);
    for (int round = 0; round < 4; round++) {
        memset(seen, 0, STABLE);
        struct scan_ctx c = {seen, 0};
        uint64_t cur = 0;
        size_t vol = 0, calls = 0;
        bool grew = false, shrank = false;
        size_t prev_buckets = fd_buckets(d);
        do {
            cur = fd_scan(d, cur, scan_cb, &c);
            calls++;
            /* Between calls: swell with volatile keys, then drain them, at a rate that
             * makes the table resize several times during one scan. */
            size_t phase = (calls / 40) % 2;
            for (int k = 0; k < 60; k++) {
                if (phase == 0 && vol < VOL) {
                    fd_add(d, key, mkkey(key, 1000000 + vol), "v", 1);
                    vol++;
                } else if (phase == 1 && vol > 0) {
                    vol--;
                    assert_true(fd_delete(d, key, mkkey(key, 1000000 + vol)));
                }
            }
            size_t b = fd_buckets(d);
            grew |= b > prev_buckets;
            shrank |= b < prev_buckets;
            prev_buckets = b;
            assert_true(calls < 10000000);
        } while (cur != 0);
        for (size_t i = 0; i < STABLE; i++)
            assert_int_equal(seen[i], 1);
        assert_true(grew);
        if (round > 0)
            assert_true(shrank);
        /* Drain the volatile keys for the next round. */
        while (vol > 0) {
            vol--;
            fd_delete(d, key, mkkey(key, 1000000 + vol));
        }
        assert_int_equal(fd_count(d), STABLE);
    }
    /* An empty table's scan ends at once. */
    struct fdict *e = fd_new(0);
    struct scan_ctx c = {seen, 0};
    assert_int_equal(fd_scan(e, 0, scan_cb, &c), 0);
    assert_int_equal(c.calls, 0);
    fd_free(e);
    fd_free(d);
    free(seen);
}

/* fd_random returns only live nodes (also in the middle of rehashes and after mass
 * deletes), and reaches every node of a small table. */
static void test_random(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct fdict *d = fd_new(0);
    char key[32];
    unsigned char *live = calloc(N, 1);
    uint64_t rng = 0xDEADBEEF;
    for (size_t op = 0; op < 60000; op++) {
        size_t i = (size_t)(rnd() % N);
        size_t klen = mkkey(key, i);
        bool ins = op < 30000 ? rnd() % 10 < 8 : rnd() % 10 < 1;
        if (ins) {
            fd_add(d, key, klen, "v", 1);
            live[i] = 1;
        } else {
            fd_delete(d, key, klen);
            live[i] = 0;
        }
        if (op % 7 == 0) {
            struct fnode *n = fd_random(d, &rng);
            if (fd_count(d) == 0) {
                assert_null(n);
                continue;
            }
            assert_non_null(n);
            size_t j = key_index(n);
            assert_true(j < N && live[j]);
            size_t jl = mkkey(key, j);
            assert_ptr_equal(fd_find(d, key, jl), n);
        }
    }
    fd_free(d);

    d = fd_new(0);
    for (size_t i = 0; i < 10; i++)
        fd_add(d, key, mkkey(key, i), "v", 1);
    int hits[10] = {0};
    for (int k = 0; k < 5000; k++)
        hits[key_index(fd_random(d, &rng))]++;
    for (int i = 0; i < 10; i++)
        assert_true(hits[i] > 0);
    fd_free(d);
    free(live);
}

/* The benchmark shape: fields "field:<6 digits>" with ~10-byte values; the table's
 * estimate per field stays far below Redis's (dictEntry 24 + two sds 16 + bucket 8). */
static void test_mem(void **state)
{
    (void)state;
    enum { N = 200000 };
    struct fdict *d = fd_new(0);
    char key[32];
    for (size_t i = 0; i < N; i++) {
        int klen = snprintf(key, sizeof key, "field:%06zu", 100000 + i);
        fd_add(d, key, (size_t)klen, "value:1234", 10);
    }
    /* Settle the last growth. */
    for (int k = 0; k < 1000000 && fd_rehashing(d); k++)
        fd_find(d, "x", 1);
    double per = (double)fd_mem(d) / N;
    assert_true(per <= 32 + 8 * 1.4);
    fd_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_grow_shrink),
        cmocka_unit_test(test_iter),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_mem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
