/* Unit tests of one shard's keyspace (src/store): table growth, shrink and incremental
 * rehash, TTLs (lazy and active), SCAN guarantees across resizes, string encodings,
 * resize/APPEND, rename, dump/restore, random keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"

#define T0 1700000000000LL /* a fixed "now" in Unix ms */

static size_t mkkey(char *buf, size_t cap, const char *prefix, size_t i)
{
    int n = snprintf(buf, cap, "%s%zu", prefix, i);
    return (size_t)n;
}

static struct store *new_store(void)
{
    struct store *s = store_new(0x1234567890abcdefULL);
    store_set_now(s, T0);
    return s;
}

/* The string value of key, or NULL; copies into out (NUL-terminated). */
static const char *get(struct store *s, const char *key, char *out, size_t cap)
{
    struct entry *e = store_find(s, key, strlen(key), true);
    if (!e)
        return NULL;
    char tmp[24];
    size_t len;
    const char *p = entry_str(e, tmp, &len);
    assert_true(len < cap);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static struct entry *set(struct store *s, const char *key, const char *val)
{
    return store_set_str(s, key, strlen(key), val, strlen(val), STORE_NO_TTL, false);
}

static void drain_rehash(struct store *s)
{
    struct store_stats st;
    do {
        store_rehash_step(s, 1000000);
        store_stats(s, &st);
    } while (st.rehashing);
}

/* ---- Table ---- */

static void test_growth_1m(void **state)
{
    (void)state;
    struct store *s = new_store();
    enum { N = 1000000 };
    char k[32], v[32];
    int resizes = 0;
    bool was = false;
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "key:", i);
        size_t vl = mkkey(v, sizeof v, "v", i);
        store_set_str(s, k, kl, v, vl, STORE_NO_TTL, false);
        struct store_stats st;
        store_stats(s, &st);
        if (st.rehashing && !was)
            resizes++;
        was = st.rehashing;
    }
    assert_int_equal(store_count(s), N);
    assert_true(resizes >= 15);
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "key:", i);
        struct entry *e = store_find(s, k, kl, false);
        assert_non_null(e);
        char tmp[24];
        size_t len;
        const char *p = entry_str(e, tmp, &len);
        size_t vl = mkkey(v, sizeof v, "v", i);
        assert_int_equal(len, vl);
        assert_memory_equal(p, v, vl);
    }
    assert_null(store_find(s, "key:-1", 6, false));
    drain_rehash(s);
    struct store_stats st;
    store_stats(s, &st);
    assert_false(st.rehashing);
    /* Load factor at most 1 once settled. */
    assert_true(st.table_buckets >= N && st.table_buckets <= 2 * (size_t)N);
    store_free(s);
}

static void test_delete_during_rehash(void **state)
{
    (void)state;
    struct store *s = new_store();
    char k[32];
    /* 65537 keys in a 65536-bucket table start a growth to 131072. */
    enum { N = 65537 };
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "k", i);
        store_set_int(s, k, kl, (int64_t)i);
    }
    struct store_stats st;
    store_stats(s, &st);
    assert_true(st.rehashing);
    bool deleted_while_rehashing = false;
    for (size_t i = 1; i < N; i += 2) {
        store_stats(s, &st);
        deleted_while_rehashing |= st.rehashing;
        size_t kl = mkkey(k, sizeof k, "k", i);
        assert_true(store_delete(s, k, kl));
        assert_false(store_delete(s, k, kl));
        /* Spot-check the survivors while the tables are split. */
        if (i % 1001 == 1) {
            for (size_t j = 0; j < N; j += 97) {
                kl = mkkey(k, sizeof k, "k", j);
                struct entry *e = store_find(s, k, kl, false);
                if (j % 2 == 0 || j > i)
                    assert_non_null(e);
                else
                    assert_null(e);
            }
        }
    }
    assert_true(deleted_while_rehashing);
    assert_int_equal(store_count(s), N / 2 + 1);
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "k", i);
        struct entry *e = store_find(s, k, kl, false);
        if (i % 2) {
            assert_null(e);
        } else {
            assert_non_null(e);
            int64_t v;
            assert_true(entry_str_int(e, &v));
            assert_int_equal(v, (int64_t)i);
        }
    }
    store_free(s);
}

static void test_shrink(void **state)
{
    (void)state;
    struct store *s = new_store();
    char k[32];
    enum { N = 100000, KEEP = 100 };
    for (size_t i = 0; i < N; i++)
        set(s, (mkkey(k, sizeof k, "k", i), k), "x");
    drain_rehash(s);
    struct store_stats st;
    store_stats(s, &st);
    assert_true(st.table_buckets >= N);
    for (size_t i = KEEP; i < N; i++)
        assert_true(store_delete(s, k, mkkey(k, sizeof k, "k", i)));
    drain_rehash(s);
    store_stats(s, &st);
    assert_false(st.rehashing);
    assert_true(st.table_buckets <= 256);
    assert_int_equal(store_count(s), KEEP);
    for (size_t i = 0; i < N; i++) {
        struct entry *e = store_find(s, k, mkkey(k, sizeof k, "k", i), false);
        assert_true((e != NULL) == (i < KEEP));
    }
    /* Down to the minimum, not below, and usable again. */
    for (size_t i = 0; i < KEEP; i++)
        store_delete_entry(s, store_find(s, k, mkkey(k, sizeof k, "k", i), false));
    drain_rehash(s);
    store_stats(s, &st);
    assert_int_equal(store_count(s), 0);
    assert_true(st.table_buckets >= 1 && st.table_buckets <= 8);
    set(s, "again", "1");
    assert_non_null(store_find(s, "again", 5, false));
    store_free(s);
}

static void test_long_and_empty_keys(void **state)
{
    (void)state;
    struct store *s = new_store();
    static const size_t lens[] = {0, 1, 254, 255, 256, 300, 70000};
    char *key = malloc(70001);
    assert_non_null(key);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(key, 'a' + (int)i, lens[i]);
        store_set_str(s, key, lens[i], "val", 3, STORE_NO_TTL, false);
    }
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(key, 'a' + (int)i, lens[i]);
        struct entry *e = store_find(s, key, lens[i], false);
        assert_non_null(e);
        size_t kl;
        const char *k = entry_key(e, &kl);
        assert_int_equal(kl, lens[i]);
        if (kl)
            assert_memory_equal(k, key, kl);
        /* A prefix one byte shorter is another key (absent, except the empty key). */
        if (lens[i] > 1)
            assert_null(store_find(s, key, lens[i] - 1, false));
    }
    assert_int_equal(store_count(s), sizeof lens / sizeof lens[0]);
    free(key);
    store_free(s);
}

/* ---- Encodings ---- */

static void check_enc(struct store *s, const char *val, enum str_enc want)
{
    struct entry *e = set(s, "enc", val);
    assert_int_equal(entry_type(e), VT_STRING);
    if (entry_str_enc(e) != want)
        fail_msg("value \"%s\": encoding %d, want %d", val, (int)entry_str_enc(e), (int)want);
    char tmp[24];
    size_t len;
    const char *p = entry_str(e, tmp, &len);
    assert_int_equal(len, strlen(val));
    assert_memory_equal(p, val, len);
    assert_int_equal(entry_str_len(e), strlen(val));
}

static void test_encodings(void **state)
{
    (void)state;
    struct store *s = new_store();
    check_enc(s, "123", SE_INT);
    check_enc(s, "0", SE_INT);
    check_enc(s, "-1", SE_INT);
    check_enc(s, "-123", SE_INT);
    check_enc(s, "127", SE_INT);
    check_enc(s, "128", SE_INT);
    check_enc(s, "-128", SE_INT);
    check_enc(s, "-129", SE_INT);
    check_enc(s, "65536", SE_INT);
    check_enc(s, "9223372036854775807", SE_INT);
    check_enc(s, "-9223372036854775808", SE_INT); /* 20 bytes */
    check_enc(s, "9223372036854775808", SE_EMBSTR);
    check_enc(s, "-9223372036854775809", SE_EMBSTR);
    check_enc(s, "12345678901234567890", SE_EMBSTR); /* 20 digits, beyond int64 */
    check_enc(s, "18446744073709551615", SE_EMBSTR);
    check_enc(s, "0123", SE_EMBSTR);
    check_enc(s, "-0", SE_EMBSTR);
    check_enc(s, "00", SE_EMBSTR);
    check_enc(s, "+1", SE_EMBSTR);
    check_enc(s, " 1", SE_EMBSTR);
    check_enc(s, "1 ", SE_EMBSTR);
    check_enc(s, "-", SE_EMBSTR);
    check_enc(s, "", SE_EMBSTR);
    check_enc(s, "1.5", SE_EMBSTR);
    check_enc(s, "hello", SE_EMBSTR);
    char v[64];
    memset(v, 'x', sizeof v);
    v[44] = '\0';
    check_enc(s, v, SE_EMBSTR);
    v[44] = 'x';
    v[45] = '\0';
    check_enc(s, v, SE_RAW);
    /* 21 digits: too long for an integer even when it would be canonical. */
    check_enc(s, "100000000000000000000", SE_EMBSTR);

    /* entry_str_int: strict parse of bytes, whatever the encoding. */
    int64_t n;
    struct entry *e = set(s, "a", "0123");
    assert_false(entry_str_int(e, &n));
    e = set(s, "a", "-42");
    assert_true(entry_str_int(e, &n));
    assert_int_equal(n, -42);

    /* Integers of every width round-trip through store_set_int. */
    static const int64_t ints[] = {0,       1,          -1,          127,       128,
                                   -128,    -129,       32767,       32768,     -32769,
                                   1 << 23, -(1 << 23), 2147483647,  -2147483648LL,
                                   1LL << 40, -(1LL << 47), INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        e = store_set_int(s, "i", 1, ints[i]);
        assert_int_equal(entry_str_enc(e), SE_INT);
        assert_true(entry_str_int(e, &n));
        assert_int_equal(n, ints[i]);
        char want[32], tmp[24];
        int wl = snprintf(want, sizeof want, "%lld", (long long)ints[i]);
        size_t len;
        const char *p = entry_str(e, tmp, &len);
        assert_int_equal(len, (size_t)wl);
        assert_memory_equal(p, want, len);
        assert_int_equal(entry_str_len(e), (size_t)wl);
    }
    store_free(s);
}

static void test_overwrite(void **state)
{
    (void)state;
    struct store *s = new_store();
    char big[200], out[256];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    /* Every encoding replaced by every other, with and without TTL kept. */
    const char *vals[] = {"1", "hello", big, "-99999999999", "", big, "7"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        set(s, "k", vals[i]);
        assert_string_equal(get(s, "k", out, sizeof out), vals[i]);
    }
    struct entry *e = store_set_str(s, "k", 1, "v", 1, T0 + 5000, false);
    assert_int_equal(entry_expire(e), T0 + 5000);
    e = store_set_str(s, "k", 1, big, strlen(big), STORE_NO_TTL, true);
    assert_int_equal(entry_expire(e), T0 + 5000);
    e = store_set_int(s, "k", 1, 5);
    assert_int_equal(entry_expire(e), T0 + 5000);
    assert_int_equal(store_expires_count(s), 1);
    e = set(s, "k", "plain");
    assert_int_equal(entry_expire(e), STORE_NO_TTL);
    assert_int_equal(store_expires_count(s), 0);
    /* keep_ttl on a new key: no TTL. */
    e = store_set_str(s, "new", 3, "v", 1, STORE_NO_TTL, true);
    assert_int_equal(entry_expire(e), STORE_NO_TTL);
    assert_int_equal(store_count(s), 2);
    store_free(s);
}

/* ---- Resize / APPEND ---- */

static void test_str_resize(void **state)
{
    (void)state;
    struct store *s = new_store();
    char out[256];

    struct entry *e = set(s, "a", "abc");
    assert_int_equal(entry_str_enc(e), SE_EMBSTR);
    char *p = store_str_resize(s, &e, 6);
    memcpy(p + 3, "def", 3);
    assert_int_equal(entry_str_enc(e), SE_RAW);
    assert_string_equal(get(s, "a", out, sizeof out), "abcdef");

    /* An integer becomes raw bytes; growth is zero-filled. */
    e = set(s, "n", "123");
    assert_int_equal(entry_str_enc(e), SE_INT);
    p = store_str_resize(s, &e, 5);
    assert_memory_equal(p, "123\0\0", 5);
    assert_int_equal(entry_str_enc(e), SE_RAW);
    assert_int_equal(entry_str_len(e), 5);

    /* A raw number still reads as an integer. */
    e = set(s, "r", "1");
    p = store_str_resize(s, &e, 2);
    p[1] = '2';
    int64_t v;
    assert_true(entry_str_int(e, &v));
    assert_int_equal(v, 12);
    assert_int_equal(entry_str_enc(e), SE_RAW);

    /* Same length: still converted (APPEND of "" makes the value raw in Redis). */
    e = set(s, "same", "xy");
    store_str_resize(s, &e, 2);
    assert_int_equal(entry_str_enc(e), SE_RAW);
    assert_string_equal(get(s, "same", out, sizeof out), "xy");

    /* Many appends: amortized growth, content preserved. */
    e = set(s, "grow", "");
    for (int i = 0; i < 200; i++) {
        size_t len = entry_str_len(e);
        p = store_str_resize(s, &e, len + 1);
        p[len] = (char)('a' + i % 26);
    }
    char tmp[24];
    size_t len;
    const char *q = entry_str(e, tmp, &len);
    assert_int_equal(len, 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(q[i], 'a' + i % 26);

    /* Shrinking keeps the prefix. */
    p = store_str_resize(s, &e, 3);
    assert_memory_equal(p, "abc", 3);
    assert_int_equal(entry_str_len(e), 3);

    /* Converting entries that share chains and carry TTLs: the entry may move, the table
     * and the TTL index must follow it. */
    enum { N = 5000 };
    char k[32];
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "t", i);
        store_set_str(s, k, kl, "0123456789abcdef0123456789", 26,
                      i % 2 ? T0 + 1000 : STORE_NO_TTL, false);
    }
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "t", i);
        e = store_find(s, k, kl, true);
        assert_non_null(e);
        p = store_str_resize(s, &e, 30);
        memcpy(p + 26, "WXYZ", 4);
        assert_ptr_equal(store_find(s, k, kl, false), e);
        assert_int_equal(entry_expire(e), i % 2 ? T0 + 1000 : STORE_NO_TTL);
    }
    for (size_t i = 0; i < N; i++) {
        mkkey(k, sizeof k, "t", i);
        assert_string_equal(get(s, k, out, sizeof out), "0123456789abcdef0123456789WXYZ");
    }
    assert_int_equal(store_expires_count(s), N / 2);
    store_set_now(s, T0 + 2000);
    size_t reaped = 0;
    for (int c = 0; c < 100 && store_expires_count(s); c++)
        reaped += store_expire_cycle(s, 100000);
    assert_int_equal(reaped, N / 2);
    store_free(s);
}

/* ---- TTL ---- */

static int hook_calls;
static void count_hook(void *arg, const struct entry *e)
{
    (void)e;
    (void)arg;
    hook_calls++;
}

static void test_ttl_lazy(void **state)
{
    (void)state;
    struct store *s = store_new(7);
    store_set_now(s, 1000);
    assert_int_equal(store_now(s), 1000);
    hook_calls = 0;
    store_set_expire_hook(s, count_hook, NULL);

    struct entry *e = store_set_str(s, "k", 1, "v", 1, 2000, false);
    assert_int_equal(entry_expire(e), 2000);
    assert_int_equal(store_expires_count(s), 1);
    store_set_now(s, 2000); /* at the deadline: still live (Redis expires after it) */
    assert_non_null(store_find(s, "k", 1, true));
    store_set_now(s, 2001);
    assert_int_equal(store_count(s), 1); /* not reaped until touched */
    assert_null(store_find(s, "k", 1, true));
    assert_int_equal(store_count(s), 0);
    assert_int_equal(store_expires_count(s), 0);
    assert_int_equal(hook_calls, 1);
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.expired_keys, 1);

    /* Delete of an expired key reports false and counts an expiry. */
    store_set_str(s, "d", 1, "v", 1, 2500, false);
    store_set_now(s, 3000);
    assert_false(store_delete(s, "d", 1));
    store_stats(s, &st);
    assert_int_equal(st.expired_keys, 2);

    /* Overwrite of an expired key: a fresh key, keep_ttl keeps nothing. */
    store_set_str(s, "o", 1, "v", 1, 3500, false);
    store_set_now(s, 4000);
    e = store_set_str(s, "o", 1, "w", 1, STORE_NO_TTL, true);
    assert_int_equal(entry_expire(e), STORE_NO_TTL);
    assert_int_equal(store_expires_count(s), 0);

    /* Setting and clearing TTLs on many keys keeps the index consistent. */
    char k[32];
    for (size_t i = 0; i < 1000; i++) {
        mkkey(k, sizeof k, "x", i);
        e = set(s, k, "v");
        store_set_expire(s, e, 5000 + (int64_t)i);
    }
    assert_int_equal(store_expires_count(s), 1000);
    for (size_t i = 0; i < 1000; i += 2) {
        size_t kl = mkkey(k, sizeof k, "x", i);
        e = store_find(s, k, kl, false);
        store_set_expire(s, e, STORE_NO_TTL);
        assert_int_equal(entry_expire(e), STORE_NO_TTL);
    }
    assert_int_equal(store_expires_count(s), 500);
    store_set_now(s, 5000 + 1000);
    for (size_t i = 0; i < 1000; i++) {
        size_t kl = mkkey(k, sizeof k, "x", i);
        assert_true((store_find(s, k, kl, false) != NULL) == (i % 2 == 0));
    }
    assert_int_equal(store_expires_count(s), 0);
    assert_int_equal(store_count(s), 501);
    store_free(s);
}

static void test_active_expiry(void **state)
{
    (void)state;
    struct store *s = new_store();
    hook_calls = 0;
    store_set_expire_hook(s, count_hook, NULL);
    enum { N = 100000 };
    char k[32];
    /* No TTL keys: nothing to do. */
    set(s, "p", "v");
    assert_int_equal(store_expire_cycle(s, 1000), 0);
    store_delete(s, "p", 1);
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "vol:", i);
        store_set_str(s, k, kl, "v", 1, T0 + 1 + (int64_t)(i % 100), false);
        kl = mkkey(k, sizeof k, "per:", i);
        store_set_int(s, k, kl, (int64_t)i);
    }
    assert_int_equal(store_expires_count(s), N);
    /* Nothing has expired yet: a cycle samples and stops. */
    assert_int_equal(store_expire_cycle(s, 25000), 0);

    store_set_now(s, T0 + 1000);
    size_t total = 0;
    int cycles = 0;
    while (store_expires_count(s) && cycles < 40) {
        total += store_expire_cycle(s, 50000);
        cycles++;
    }
    assert_int_equal(store_expires_count(s), 0);
    assert_int_equal(total, N);
    assert_int_equal(hook_calls, N);
    assert_int_equal(store_count(s), N);
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.expired_keys, N);
    for (size_t i = 0; i < N; i++) {
        size_t kl = mkkey(k, sizeof k, "per:", i);
        struct entry *e = store_find(s, k, kl, false);
        assert_non_null(e);
        int64_t v;
        assert_true(entry_str_int(e, &v));
        assert_int_equal(v, (int64_t)i);
        assert_int_equal(entry_expire(e), STORE_NO_TTL);
    }
    store_free(s);
}

static void test_idle(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct entry *e = set(s, "k", "v");
    assert_int_equal(entry_idle_ms(s, e), 0);
    store_set_now(s, T0 + 1500);
    e = store_find(s, "k", 1, false);
    assert_int_equal(entry_idle_ms(s, e), 1500);
    e = store_find(s, "k", 1, true);
    assert_int_equal(entry_idle_ms(s, e), 0);
    store_set_now(s, T0 + 2000);
    assert_int_equal(entry_idle_ms(s, e), 500);
    /* The wall clock stepping back does not make idle times negative. */
    store_set_now(s, T0);
    assert_int_equal(entry_idle_ms(s, e), 500);
    store_free(s);
}

/* ---- SCAN ---- */

struct seen {
    unsigned char *stable; /* visits per stable key */
    size_t calls;
};

static void on_scan(struct entry *e, void *arg)
{
    struct seen *sn = arg;
    size_t kl;
    const char *k = entry_key(e, &kl);
    sn->calls++;
    if (kl > 2 && k[0] == 's' && k[1] == ':') {
        size_t i = (size_t)strtoul(k + 2, NULL, 10);
        if (sn->stable[i] < 255)
            sn->stable[i]++;
    }
}

static void test_scan_resize(void **state)
{
    (void)state;
    enum { STABLE = 2000, EXTRA = 60000 };
    char k[32];
    struct seen sn = {.stable = calloc(STABLE, 1)};
    assert_non_null(sn.stable);

    /* Empty store: one call, done. */
    struct store *s = new_store();
    assert_int_equal(store_scan(s, 0, 10, on_scan, &sn), 0);
    assert_int_equal(sn.calls, 0);

    /* Growth during the scan: several doublings, each interleaved with scan calls. */
    for (size_t i = 0; i < STABLE; i++)
        set(s, (mkkey(k, sizeof k, "s:", i), k), "v");
    struct store_stats st;
    store_stats(s, &st);
    size_t buckets_before = st.table_buckets;
    uint64_t cur = 0;
    size_t added = 0;
    int calls = 0;
    bool saw_rehash = false;
    do {
        cur = store_scan(s, cur, 5, on_scan, &sn);
        for (int j = 0; j < 40 && added < EXTRA; j++, added++)
            set(s, (mkkey(k, sizeof k, "g:", added), k), "v");
        store_stats(s, &st);
        saw_rehash |= st.rehashing;
        calls++;
    } while (cur);
    store_stats(s, &st);
    assert_true(st.table_buckets >= 8 * buckets_before);
    assert_true(saw_rehash);
    for (size_t i = 0; i < STABLE; i++)
        if (!sn.stable[i])
            fail_msg("stable key s:%zu missed by a scan across growth", i);

    /* Shrink during the scan: delete the extra keys while scanning. */
    memset(sn.stable, 0, STABLE);
    drain_rehash(s);
    store_stats(s, &st);
    buckets_before = st.table_buckets;
    cur = 0;
    size_t removed = 0;
    do {
        cur = store_scan(s, cur, 5, on_scan, &sn);
        for (int j = 0; j < 400 && removed < added; j++, removed++)
            store_delete(s, k, mkkey(k, sizeof k, "g:", removed));
        store_rehash_step(s, 50); /* the tick also moves buckets */
    } while (cur);
    store_stats(s, &st);
    assert_true(st.table_buckets * 8 <= buckets_before);
    for (size_t i = 0; i < STABLE; i++)
        if (!sn.stable[i])
            fail_msg("stable key s:%zu missed by a scan across shrink", i);

    /* Expired keys are not reported (and are reaped). */
    memset(sn.stable, 0, STABLE);
    for (size_t i = 0; i < STABLE; i += 2)
        store_set_expire(s, store_find(s, k, mkkey(k, sizeof k, "s:", i), false), T0);
    store_set_now(s, T0 + 1);
    cur = 0;
    do
        cur = store_scan(s, cur, 100, on_scan, &sn);
    while (cur);
    for (size_t i = 0; i < STABLE; i++)
        assert_int_equal(sn.stable[i] != 0, i % 2 == 1);
    assert_int_equal(store_expires_count(s), 0);
    assert_int_equal(store_count(s), STABLE / 2);
    /* With a stable table every key is returned exactly once. */
    for (size_t i = 0; i < STABLE; i++)
        assert_true(sn.stable[i] <= 1);

    free(sn.stable);
    store_free(s);
}

/* ---- Rename ---- */

static void test_rename(void **state)
{
    (void)state;
    struct store *s = new_store();
    char out[256], big[100];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    /* Embedded value with TTL to a new name. */
    store_set_str(s, "a", 1, "hello", 5, T0 + 100, false);
    store_rename(s, store_find(s, "a", 1, false), "bbbbbbbbbbbb", 12);
    assert_null(store_find(s, "a", 1, false));
    struct entry *e = store_find(s, "bbbbbbbbbbbb", 12, false);
    assert_non_null(e);
    assert_int_equal(entry_expire(e), T0 + 100);
    assert_int_equal(entry_str_enc(e), SE_EMBSTR);
    assert_string_equal(get(s, "bbbbbbbbbbbb", out, sizeof out), "hello");
    assert_int_equal(store_expires_count(s), 1);
    assert_int_equal(store_count(s), 1);

    /* Raw value over an existing key that had a TTL: dst loses its own TTL. */
    set(s, "raw", big);
    store_set_str(s, "dst", 3, "old", 3, T0 + 50, false);
    assert_int_equal(store_expires_count(s), 2);
    store_rename(s, store_find(s, "raw", 3, false), "dst", 3);
    e = store_find(s, "dst", 3, false);
    assert_int_equal(entry_str_enc(e), SE_RAW);
    assert_int_equal(entry_expire(e), STORE_NO_TTL);
    assert_string_equal(get(s, "dst", out, sizeof out), big);
    assert_int_equal(store_expires_count(s), 1);
    assert_int_equal(store_count(s), 2);

    /* Integer to a long key, and back. */
    char lk[400];
    memset(lk, 'L', sizeof lk);
    store_set_int(s, "i", 1, -77);
    store_rename(s, store_find(s, "i", 1, false), lk, sizeof lk);
    e = store_find(s, lk, sizeof lk, false);
    assert_int_equal(entry_str_enc(e), SE_INT);
    store_rename(s, e, "i", 1);
    assert_string_equal(get(s, "i", out, sizeof out), "-77");

    /* To itself: nothing changes. */
    e = store_find(s, "i", 1, false);
    store_rename(s, e, "i", 1);
    assert_string_equal(get(s, "i", out, sizeof out), "-77");
    assert_int_equal(store_count(s), 3);
    store_free(s);
}

/* ---- Dump / restore ---- */

static void roundtrip(struct store *s, struct entry *e, enum str_enc enc, const char *val)
{
    struct buf b = {0};
    entry_dump(e, &b);
    assert_true(store_restore(s, "copy", 4, b.data, b.len, T0 + 9));
    struct entry *c = store_find(s, "copy", 4, false);
    assert_non_null(c);
    assert_int_equal(entry_str_enc(c), enc);
    assert_int_equal(entry_expire(c), T0 + 9);
    char tmp[24];
    size_t len;
    const char *p = entry_str(c, tmp, &len);
    assert_int_equal(len, strlen(val));
    if (len)
        assert_memory_equal(p, val, len);
    /* Every proper prefix is rejected, and leaves "copy" untouched. */
    for (size_t n = 0; n < b.len; n++)
        assert_false(store_restore(s, "copy", 4, b.data, n, STORE_NO_TTL));
    /* Trailing garbage is rejected. */
    buf_putc(&b, 'x');
    assert_false(store_restore(s, "copy", 4, b.data, b.len, STORE_NO_TTL));
    assert_int_equal(entry_expire(store_find(s, "copy", 4, false)), T0 + 9);
    buf_free(&b);
}

static void test_dump_restore(void **state)
{
    (void)state;
    struct store *s = new_store();
    char big[1000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    roundtrip(s, set(s, "a", "12345"), SE_INT, "12345");
    roundtrip(s, set(s, "a", "-9223372036854775808"), SE_INT, "-9223372036854775808");
    roundtrip(s, set(s, "a", "9223372036854775807"), SE_INT, "9223372036854775807");
    roundtrip(s, set(s, "a", "0"), SE_INT, "0");
    roundtrip(s, set(s, "a", "hello"), SE_EMBSTR, "hello");
    roundtrip(s, set(s, "a", ""), SE_EMBSTR, "");
    roundtrip(s, set(s, "a", big), SE_RAW, big);
    /* A short raw string (after APPEND) stays raw. */
    struct entry *e = set(s, "a", "12");
    char *p = store_str_resize(s, &e, 3);
    p[2] = '3';
    roundtrip(s, e, SE_RAW, "123");

    /* Hand-made corrupt dumps. */
    static const struct {
        const char *d;
        size_t n;
    } bad[] = {
        {"", 0},
        {"\x00", 1},                       /* no encoding */
        {"\x07\x01\x01x", 4},              /* unknown type */
        {"\x00\x05\x01x", 4},              /* unknown encoding */
        {"\x00\x01\x05xy", 5},             /* length larger than payload */
        {"\x00\x02\x01xy", 5},             /* length smaller than payload */
        {"\x00\x01\x2dxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 48}, /* 45-byte embstr */
        {"\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 12}, /* length overflow */
        {"\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12}, /* 2^64-1: absurd length */
        {"\x00\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 13}, /* overlong varint */
        {"\x00\x00\x80", 3},               /* truncated varint */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (store_restore(s, "bad", 3, bad[i].d, bad[i].n, STORE_NO_TTL))
            fail_msg("corrupt dump %zu accepted", i);
    assert_null(store_find(s, "bad", 3, false));

    /* Random bytes never crash the parser. */
    uint64_t x = 88172645463325252ULL;
    char junk[32];
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(i % 32);
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            junk[j] = (char)(x & 0xff);
        }
        if (n >= 1 && i % 3 == 0)
            junk[0] = 0;
        if (n >= 2 && i % 3 == 0)
            junk[1] = (char)(i % 4);
        store_restore(s, "junk", 4, junk, n, STORE_NO_TTL);
    }

    /* Restore replaces an existing key of any encoding, TTL included. */
    struct buf b = {0};
    entry_dump(set(s, "src", "value"), &b);
    store_set_str(s, "dst", 3, big, strlen(big), T0 + 1, false);
    assert_true(store_restore(s, "dst", 3, b.data, b.len, STORE_NO_TTL));
    e = store_find(s, "dst", 3, false);
    assert_int_equal(entry_expire(e), STORE_NO_TTL);
    assert_int_equal(entry_str_enc(e), SE_EMBSTR);
    buf_free(&b);
    store_free(s);
}

/* ---- Random ---- */

static void test_random(void **state)
{
    (void)state;
    struct store *s = new_store();
    assert_null(store_random(s));

    set(s, "only", "1");
    struct entry *e = store_random(s);
    assert_non_null(e);
    size_t kl;
    const char *k = entry_key(e, &kl);
    assert_int_equal(kl, 4);
    assert_memory_equal(k, "only", 4);

    char key[32];
    int seen[20] = {0};
    for (size_t i = 0; i < 20; i++)
        set(s, (mkkey(key, sizeof key, "r", i), key), "v");
    store_delete(s, "only", 4);
    for (int i = 0; i < 2000; i++) {
        e = store_random(s);
        k = entry_key(e, &kl);
        assert_true(kl >= 2 && k[0] == 'r');
        seen[strtol(k + 1, NULL, 10)]++;
    }
    for (int i = 0; i < 20; i++)
        assert_true(seen[i] > 0);

    /* Mostly expired: the live key is found and the expired ones are reaped. */
    for (size_t i = 0; i < 20; i++)
        store_set_expire(s, store_find(s, key, mkkey(key, sizeof key, "r", i), false), T0);
    for (size_t i = 0; i < 5000; i++) {
        struct entry *x = set(s, (mkkey(key, sizeof key, "x", i), key), "v");
        store_set_expire(s, x, T0);
    }
    set(s, "live", "1");
    store_set_now(s, T0 + 1);
    e = store_random(s);
    assert_non_null(e);
    k = entry_key(e, &kl);
    assert_int_equal(kl, 4);
    assert_memory_equal(k, "live", 4);
    store_delete(s, "live", 4);
    /* Only expired keys left: NULL, and they are gone. */
    assert_null(store_random(s));
    assert_int_equal(store_count(s), 0);
    assert_int_equal(store_expires_count(s), 0);
    store_free(s);
}

/* ---- Misc ---- */

struct miss_log {
    int n;
    char last[16];
};

static void record_miss(void *arg, const char *key, size_t klen)
{
    struct miss_log *m = arg;
    m->n++;
    memcpy(m->last, key, klen < sizeof m->last ? klen : sizeof m->last);
}

static void test_stats_flush(void **state)
{
    (void)state;
    struct store *s = new_store();
    struct miss_log misses = {0};
    store_set_miss_hook(s, record_miss, &misses);
    store_count_lookup(s, "a", 1, true);
    store_count_lookup(s, "b", 1, true);
    store_count_lookup(s, "gone", 4, false);
    store_count_lookup(s, NULL, 0, false); /* counted, no hook */
    struct store_stats st;
    store_stats(s, &st);
    assert_int_equal(st.keyspace_hits, 2);
    assert_int_equal(st.keyspace_misses, 2);
    assert_int_equal(misses.n, 1);
    assert_memory_equal(misses.last, "gone", 4);
    assert_false(st.rehashing);
    assert_true(st.table_buckets > 0);

    char k[32], big[100];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t i = 0; i < 10000; i++) {
        size_t kl = mkkey(k, sizeof k, "f", i);
        struct entry *e = store_set_str(s, k, kl, big, i % 3 ? 3 : sizeof big - 1,
                                        i % 2 ? T0 + 10 : STORE_NO_TTL, false);
        (void)e;
    }
    store_flush(s);
    assert_int_equal(store_count(s), 0);
    assert_int_equal(store_expires_count(s), 0);
    assert_null(store_find(s, "f1", 2, false));
    assert_null(store_random(s));
    set(s, "after", "flush");
    assert_int_equal(store_count(s), 1);
    store_stats(s, &st);
    assert_int_equal(st.keyspace_hits, 2); /* statistics survive a flush */
    store_free(s);
    store_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_growth_1m),
        cmocka_unit_test(test_delete_during_rehash),
        cmocka_unit_test(test_shrink),
        cmocka_unit_test(test_long_and_empty_keys),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_overwrite),
        cmocka_unit_test(test_str_resize),
        cmocka_unit_test(test_ttl_lazy),
        cmocka_unit_test(test_active_expiry),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_scan_resize),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_dump_restore),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_stats_flush),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
