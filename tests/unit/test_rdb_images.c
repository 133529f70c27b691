/* Unit tests of RDB images of whole stores (src/store/rdb_*.c): every type and encoding
 * written and loaded back with identical contents, encodings and TTLs; expiry at load;
 * hand-made images of what Redis 7.2 and older versions write, of unsupported content
 * and of payloads that break their type's rules; and the reader's bounds: every
 * truncation fails cleanly with an offset, random corruption never crashes, and what a
 * corrupt image loads is a sound store.
 *
 * RDB_TEST_FUZZ_ITERS=<n> [RDB_TEST_FUZZ_SEED=<s>]: a longer corruption run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdb_test_util.h"
#include "store/intset.h"
#include "store/listpack.h"

#define TTL_BASE 4102444800000LL /* 2100-01-01 */

static struct store *new_store(void) { return store_new(0x1234567); }

static bool load(struct store *s, const struct buf *img, int64_t now, struct rdb_load_info *li,
                 char *err)
{
    return store_rdb_load(s, img->data, img->len, now, li, err, 256);
}

/* ---- Round trips ---- */

static void test_roundtrip_all_types(void **state)
{
    (void)state;
    struct store *src = new_store();
    tu_fill_all(src, TTL_BASE);
    /* Every encoding is present. */
    const struct {
        const char *key;
        const char *enc;
    } want[] = {{"s:int", "int"},         {"s:emb", "embstr"},   {"s:raw", "raw"},
                {"l:small", "listpack"},  {"l:big", "quicklist"}, {"l:huge", "quicklist"},
                {"h:lp", "listpack"},     {"h:table", "hashtable"}, {"h:longval", "hashtable"},
                {"set:intset", "intset"}, {"set:lp", "listpack"}, {"set:table", "hashtable"},
                {"set:bigints", "hashtable"}, {"z:lp", "listpack"}, {"z:skip", "skiplist"},
                {"z:longm", "skiplist"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct entry *e = store_find(src, want[i].key, strlen(want[i].key), false);
        assert_non_null(e);
        assert_string_equal(tu_enc_name(e), want[i].enc);
    }
    for (int mode = 0; mode < 4; mode++) {
        bool compress = mode & 1, checksum = mode & 2;
        struct buf img = {0};
        struct rdb_header_info h = {.shard = 3, .nshards = 8, .aof_base = mode == 3};
        tu_image(src, &img, compress, checksum, &h);
        struct store *dst = new_store();
        store_set_str(dst, "s:int", 5, "old value", 9, STORE_NO_TTL, false); /* replaced */
        struct rdb_load_info li;
        char err[256];
        assert_true(load(dst, &img, 1700000000000LL, &li, err));
        assert_int_equal(li.shard, 3);
        assert_int_equal(li.nshards, 8);
        assert_int_equal(li.aof_base, mode == 3);
        assert_int_equal(li.loaded, store_count(src));
        assert_int_equal(li.expired, 0);
        tu_assert_same_keys(src, dst);
        store_free(dst);
        buf_free(&img);
    }
    store_free(src);
}

/* A key with a long compressible name and value shrinks with compression and the
 * checksum covers every byte: a flipped byte in a value is caught by the CRC. */
static void test_checksum_and_compression(void **state)
{
    (void)state;
    struct store *src = new_store();
    tu_fill_all(src, TTL_BASE);
    struct buf plain = {0}, comp = {0};
    tu_image(src, &plain, false, true, NULL);
    tu_image(src, &comp, true, true, NULL);
    assert_true(comp.len < plain.len);
    /* "hello" is the value of s:emb: change one of its letters. */
    char *hit = memmem(plain.data, plain.len, "hello", 5);
    assert_non_null(hit);
    hit[1] = 'a';
    struct store *dst = new_store();
    char err[256];
    assert_false(load(dst, &plain, 0, NULL, err));
    assert_non_null(strstr(err, "checksum mismatch"));
    assert_non_null(strstr(err, "at offset"));
    store_free(dst);
    /* Without a checksum (8 zero bytes) the change goes unnoticed, as in Redis. */
    memset(plain.data + plain.len - 8, 0, 8);
    dst = new_store();
    assert_true(load(dst, &plain, 0, NULL, err));
    struct entry *e = store_find(dst, "s:emb", 5, false);
    char tmp[24];
    size_t len;
    assert_memory_equal(entry_str(e, tmp, &len), "hallo", 5);
    store_free(dst);
    store_free(src);
    buf_free(&plain);
    buf_free(&comp);
}

static void test_expiry_on_load(void **state)
{
    (void)state;
    struct store *src = new_store();
    store_set_now(src, 1); /* so that the keys with past TTLs are still there to write */
    tu_set_str(src, "past", "1", 1000);
    tu_set_str(src, "future", "2", TTL_BASE);
    tu_set_str(src, "none", "3", STORE_NO_TTL);
    struct entry *e = tu_list(src, "lpast", 5);
    tu_push(e, "x", 1);
    store_set_expire(src, e, 2000);
    struct buf img = {0};
    tu_image(src, &img, true, true, NULL);
    struct store *dst = new_store();
    struct rdb_load_info li;
    char err[256];
    assert_true(load(dst, &img, 1700000000000LL, &li, err));
    assert_int_equal(li.loaded, 2);
    assert_int_equal(li.expired, 2);
    assert_int_equal(li.shard, -1);
    assert_int_equal(li.nshards, -1);
    assert_null(store_find(dst, "past", 4, false));
    e = store_find(dst, "future", 6, false);
    assert_true(entry_expire(e) == TTL_BASE);
    store_free(dst);
    /* now_ms 0 keeps everything, TTLs included. */
    dst = new_store();
    assert_true(load(dst, &img, 0, &li, err));
    assert_int_equal(li.loaded, 4);
    assert_int_equal(store_expires_count(dst), 3);
    store_free(dst);
    store_free(src);
    buf_free(&img);
}

static void test_empty_store_image(void **state)
{
    (void)state;
    struct store *src = new_store();
    struct buf img = {0};
    tu_image(src, &img, true, true, NULL);
    /* Redis writes no SELECTDB/RESIZEDB for an empty database. */
    assert_null(memmem(img.data, img.len, "\xfe\x00", 2));
    assert_int_equal((unsigned char)img.data[img.len - 9], RDB_OP_EOF);
    struct store *dst = new_store();
    struct rdb_load_info li;
    char err[256];
    assert_true(load(dst, &img, 0, &li, err));
    assert_int_equal(li.loaded, 0);
    assert_int_equal(store_count(dst), 0);
    store_free(dst);
    store_free(src);
    buf_free(&img);
}

/* ---- Hand-made images: other writers' types, unsupported content, bad payloads ---- */

static void img_begin(struct buf *b, int version)
{
    b->len = 0;
    buf_printf(b, "REDIS%04d", version);
    rdb_put_aux(b, "redis-ver", "7.2.4", 5);
    rdb_put_selectdb(b, 0);
}

static void img_end(struct buf *b)
{
    rdb_put_eof(b);
    rdb_put_checksum(b, true);
}

static void put_key(struct buf *b, unsigned type, const char *key)
{
    buf_putc(b, (char)type);
    rdb_put_string(b, key, strlen(key), false);
}

static unsigned char *lp_of(const char *const *items, size_t n)
{
    unsigned char *lp = lp_new(0);
    for (size_t i = 0; i < n; i++)
        lp = lp_append(lp, items[i], strlen(items[i]));
    return lp;
}

static void put_lp(struct buf *b, const char *const *items, size_t n)
{
    unsigned char *lp = lp_of(items, n);
    rdb_put_string(b, lp, lp_bytes(lp), false);
    lp_free(lp);
}

/* Load img into a fresh store; returns it (NULL and err filled when the load failed). */
static struct store *try_load(const struct buf *img, char *err)
{
    struct store *s = new_store();
    if (load(s, img, 0, NULL, err))
        return s;
    store_free(s);
    return NULL;
}

static void expect_error(const struct buf *img, const char *what)
{
    char err[256];
    struct store *s = try_load(img, err);
    assert_null(s);
    if (!strstr(err, what) || !strstr(err, "at offset"))
        fail_msg("error '%s' lacks '%s'", err, what);
}

static const char *enc_of(struct store *s, const char *key)
{
    struct entry *e = store_find(s, key, strlen(key), false);
    assert_non_null(e);
    return tu_enc_name(e);
}

static void test_other_writers(void **state)
{
    (void)state;
    struct buf b = {0};
    char err[256];
    /* Redis 7.2: version 11, a small set as SET_LISTPACK, an intset, a plain quicklist
     * node, FREQ / IDLE / EXPIRETIME (seconds) opcodes, unknown aux fields, RESIZEDB. */
    img_begin(&b, 11);
    rdb_put_aux(&b, "somebody-else", "whatever", 8);
    rdb_put_resizedb(&b, 4, 1);
    const char *members[] = {"a", "17", "b"};
    put_key(&b, RDB_TYPE_SET_LISTPACK, "set7.2");
    put_lp(&b, members, 3);
    buf_putc(&b, (char)RDB_OP_FREQ);
    buf_putc(&b, 5);
    buf_putc(&b, (char)RDB_OP_IDLE);
    rdb_put_len(&b, 1000);
    buf_putc(&b, (char)RDB_OP_EXPIRETIME);
    buf_append(&b, "\x00\x00\x00\x70", 4); /* 0x70000000 s */
    put_key(&b, RDB_TYPE_LIST_QUICKLIST_2, "plainnode");
    rdb_put_len(&b, 2);
    rdb_put_len(&b, RDB_QL_PLAIN);
    rdb_put_string(&b, "big element", 11, false);
    rdb_put_len(&b, RDB_QL_PACKED);
    put_lp(&b, members, 3);
    /* The old plain LIST and ZSET types (text scores). */
    put_key(&b, RDB_TYPE_LIST, "oldlist");
    rdb_put_len(&b, 2);
    rdb_put_string(&b, "x", 1, false);
    rdb_put_string(&b, "12", 2, false);
    put_key(&b, RDB_TYPE_ZSET, "oldzset");
    rdb_put_len(&b, 2);
    rdb_put_string(&b, "m", 1, false);
    buf_append(&b, "\x03" "2.5", 4);
    rdb_put_string(&b, "n", 1, false);
    buf_append(&b, "\xff", 1);
    img_end(&b);
    struct store *s = try_load(&b, err);
    assert_non_null(s);
    assert_string_equal(enc_of(s, "set7.2"), "listpack");
    assert_string_equal(enc_of(s, "plainnode"), "quicklist"); /* two nodes */
    struct entry *e = store_find(s, "plainnode", 9, false);
    assert_int_equal(list_len(e), 4);
    assert_true(entry_expire(e) == 0x70000000LL * 1000);
    assert_string_equal(enc_of(s, "oldlist"), "listpack");
    assert_string_equal(enc_of(s, "oldzset"), "listpack");
    struct buf d = {0};
    tu_describe(store_find(s, "oldzset", 7, false), &d);
    assert_non_null(strstr(d.data, "2 x6e -inf x6d 2.5"));
    buf_free(&d);
    store_free(s);

    /* Empty collections are skipped, as Redis does. */
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_LIST_QUICKLIST_2, "emptylist");
    rdb_put_len(&b, 1);
    rdb_put_len(&b, RDB_QL_PACKED);
    put_lp(&b, members, 0);
    put_key(&b, RDB_TYPE_HASH, "emptyhash");
    rdb_put_len(&b, 0);
    put_key(&b, RDB_TYPE_ZSET_LISTPACK, "emptyzset");
    put_lp(&b, members, 0);
    put_key(&b, RDB_TYPE_STRING, "k");
    rdb_put_string(&b, "v", 1, false);
    img_end(&b);
    s = try_load(&b, err);
    assert_non_null(s);
    assert_int_equal(store_count(s), 1);
    store_free(s);
    buf_free(&b);
}

static void test_unsupported_and_malformed(void **state)
{
    (void)state;
    struct buf b = {0};
    const unsigned types[] = {RDB_TYPE_MODULE_2, RDB_TYPE_HASH_ZIPMAP, RDB_TYPE_LIST_ZIPLIST,
                              RDB_TYPE_ZSET_ZIPLIST, RDB_TYPE_HASH_ZIPLIST,
                              RDB_TYPE_LIST_QUICKLIST, RDB_TYPE_STREAM_LISTPACKS,
                              RDB_TYPE_STREAM_LISTPACKS_2, RDB_TYPE_STREAM_LISTPACKS_3, 8, 30};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        img_begin(&b, 10);
        size_t at = b.len;
        put_key(&b, types[i], "k");
        rdb_put_string(&b, "payload", 7, false);
        img_end(&b);
        char want[64];
        snprintf(want, sizeof want, "unsupported RDB type %u at offset %zu", types[i], at);
        expect_error(&b, want);
    }
    img_begin(&b, 10);
    buf_putc(&b, (char)RDB_OP_FUNCTION2);
    rdb_put_string(&b, "#!lua name=x", 12, false);
    img_end(&b);
    expect_error(&b, "unsupported RDB opcode 245");
    img_begin(&b, 10);
    rdb_put_selectdb(&b, 2);
    img_end(&b);
    expect_error(&b, "database 2");

    /* Bad signature, version, CRC; nothing after EOF. */
    b.len = 0;
    buf_puts(&b, "RADIS0010\xff");
    expect_error(&b, "signature");
    img_begin(&b, 13);
    img_end(&b);
    expect_error(&b, "version 13");
    img_begin(&b, 10);
    img_end(&b);
    b.data[b.len - 1] ^= 1;
    expect_error(&b, "checksum");
    b.len -= 8;
    expect_error(&b, "unexpected end");

    /* Listpacks that validate as listpacks but break their type's rules. */
    const char *dupfield[] = {"f", "1", "g", "2", "f", "3"};
    const char *odd[] = {"f", "1", "g"};
    const char *dupmember[] = {"a", "b", "a"};
    const char *badscore[] = {"a", "1", "b", "x"};
    const char *unordered[] = {"a", "2", "b", "1"};
    const char *nanscore[] = {"a", "nan"};
    const struct {
        unsigned type;
        const char *const *items;
        size_t n;
        const char *err;
    } cases[] = {
        {RDB_TYPE_HASH_LISTPACK, dupfield, 6, "repeated field"},
        {RDB_TYPE_HASH_LISTPACK, odd, 3, "odd number"},
        {RDB_TYPE_SET_LISTPACK, dupmember, 3, "repeated member"},
        {RDB_TYPE_ZSET_LISTPACK, dupfield, 6, "repeated member"},
        {RDB_TYPE_ZSET_LISTPACK, badscore, 4, "bad score"},
        {RDB_TYPE_ZSET_LISTPACK, unordered, 4, "out of order"},
        {RDB_TYPE_ZSET_LISTPACK, nanscore, 2, "bad score"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        img_begin(&b, 10);
        put_key(&b, cases[i].type, "k");
        put_lp(&b, cases[i].items, cases[i].n);
        img_end(&b);
        expect_error(&b, cases[i].err);
    }
    /* A repeated field among many (found with the scratch table). */
    unsigned char *lp = lp_new(0);
    char f[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(f, sizeof f, "f%d", i % 90);
        lp = lp_append(lp, f, (size_t)n);
        lp = lp_append(lp, "v", 1);
    }
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_HASH_LISTPACK, "k");
    rdb_put_string(&b, lp, lp_bytes(lp), true);
    img_end(&b);
    expect_error(&b, "repeated field");
    lp_free(lp);

    /* Plain encodings with repeats, NaN, bad containers, bad intsets. */
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_SET, "k");
    rdb_put_len(&b, 2);
    rdb_put_string(&b, "5", 1, false);
    rdb_put_string(&b, "5", 1, false);
    img_end(&b);
    expect_error(&b, "repeated member");
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_HASH, "k");
    rdb_put_len(&b, 2);
    for (int i = 0; i < 2; i++) {
        rdb_put_string(&b, "f", 1, false);
        rdb_put_string(&b, "v", 1, false);
    }
    img_end(&b);
    expect_error(&b, "repeated field");
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_ZSET_2, "k");
    rdb_put_len(&b, 1);
    rdb_put_string(&b, "m", 1, false);
    rdb_put_double(&b, NAN);
    img_end(&b);
    expect_error(&b, "NaN");
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_LIST_QUICKLIST_2, "k");
    rdb_put_len(&b, 1);
    rdb_put_len(&b, 3);
    img_end(&b);
    expect_error(&b, "container");
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_SET_INTSET, "k");
    rdb_put_string(&b, "\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x05\x00", 12, false);
    img_end(&b);
    expect_error(&b, "invalid intset");
    /* A count far beyond the bytes left is refused before it sizes anything. */
    img_begin(&b, 10);
    put_key(&b, RDB_TYPE_SET, "k");
    rdb_put_len(&b, (uint64_t)1 << 40);
    img_end(&b);
    expect_error(&b, "exceeds the data left");
    buf_free(&b);
}

/* ---- Bounds: truncations and corruption ---- */

static const enum obj_limit_id small_ids[] = {LIM_HASH_LP_ENTRIES, LIM_SET_INTSET_ENTRIES,
                                              LIM_SET_LP_ENTRIES, LIM_ZSET_LP_ENTRIES,
                                              LIM_LIST_LP_SIZE};
static int64_t saved_limits[5];

/* Thresholds so low that a small image holds every encoding. */
static void small_limits(bool on)
{
    const int64_t small[] = {4, 4, 4, 4, 3};
    for (int i = 0; i < 5; i++) {
        if (on) {
            saved_limits[i] = obj_limit(small_ids[i]);
            obj_limit_set(small_ids[i], small[i]);
        } else {
            obj_limit_set(small_ids[i], saved_limits[i]);
        }
    }
}

static void fill_small(struct store *s)
{
    tu_set_str(s, "int", "-77", STORE_NO_TTL);
    tu_set_str(s, "emb", "embedded", TTL_BASE);
    tu_set_str(s, "lzf", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", STORE_NO_TTL);
    tu_set_str(s, "raw", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP", STORE_NO_TTL);
    struct entry *e = tu_list(s, "l1", 2);
    tu_push(e, "a", 1);
    tu_push(e, "2", 1);
    e = tu_list(s, "l2", 2);
    for (int i = 0; i < 10; i++)
        tu_push(e, "elem", 4);
    store_set_expire(s, e, TTL_BASE);
    tu_hash(s, "h1", 2, "f%d", "v%d");
    tu_hash(s, "h2", 6, "field%d", "%d");
    tu_set(s, "s1", 3, "%lld", 1000);
    tu_set(s, "s2", 3, "m%lld", 1);
    tu_set(s, "s3", 6, "m%lld", 1);
    tu_zset(s, "z1", 3, "m%d", NULL);
    tu_zset(s, "z2", 6, "m%d", NULL);
}

static void small_image(struct buf *img, bool checksum)
{
    struct store *s = new_store();
    fill_small(s);
    const char *enc[][2] = {{"l2", "quicklist"}, {"h2", "hashtable"}, {"s1", "intset"},
                            {"s2", "listpack"}, {"s3", "hashtable"}, {"z2", "skiplist"}};
    for (int i = 0; i < 6; i++)
        assert_string_equal(enc_of(s, enc[i][0]), enc[i][1]);
    struct rdb_header_info h = {.shard = 1, .nshards = 2, .ctime = 1};
    tu_image(s, img, true, checksum, &h);
    store_free(s);
}

static void test_every_truncation_fails(void **state)
{
    (void)state;
    small_limits(true);
    struct buf img = {0};
    small_image(&img, true);
    struct store *s = new_store();
    char err[256];
    assert_true(load(s, &img, 0, NULL, err));
    store_free(s);
    for (size_t n = 0; n < img.len; n++) {
        struct buf cut = {.data = img.data, .len = n, .cap = n};
        s = new_store();
        if (load(s, &cut, 0, NULL, err))
            fail_msg("a truncation to %zu bytes loaded", n);
        const char *at = strstr(err, " at offset ");
        assert_non_null(at);
        assert_true(strtoull(at + 11, NULL, 10) <= n);
        store_free(s);
    }
    buf_free(&img);
    small_limits(false);
}

/* What a corrupt image loads must still be a sound store: every key described, written
 * and loaded again identically. */
static void check_sound(struct store *s)
{
    struct buf again = {0};
    tu_image(s, &again, true, true, NULL);
    struct store *t = new_store();
    char err[256];
    if (!load(t, &again, 0, NULL, err))
        fail_msg("reloading an accepted store failed: %s", err);
    tu_assert_same_keys(s, t);
    store_free(t);
    buf_free(&again);
}

static void test_random_corruption(void **state)
{
    (void)state;
    small_limits(true);
    struct buf imgs[2] = {{0}, {0}};
    small_image(&imgs[0], true);
    small_image(&imgs[1], false); /* no checksum: corrupt images may load */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int loaded = 0;
    const char *env = getenv("RDB_TEST_FUZZ_ITERS"); /* a longer run by hand */
    int iters = env ? atoi(env) : 6000;
    if (env && getenv("RDB_TEST_FUZZ_SEED"))
        x ^= strtoull(getenv("RDB_TEST_FUZZ_SEED"), NULL, 10);
    for (int iter = 0; iter < iters; iter++) {
        const struct buf *src = &imgs[iter & 1];
        char *copy = malloc(src->len);
        memcpy(copy, src->data, src->len);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int flips = 1 + (int)(x % 4);
        for (int f = 0; f < flips; f++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t pos = 9 + (size_t)(x % (src->len - 9)); /* keep the signature */
            copy[pos] = (char)(x >> 32);
        }
        size_t len = src->len;
        if (iter % 7 == 0)
            len = 9 + (size_t)((x >> 20) % (src->len - 9)); /* and cut it */
        struct store *s = new_store();
        char err[256];
        if (store_rdb_load(s, copy, len, 0, NULL, err, sizeof err)) {
            loaded++;
            check_sound(s);
        } else {
            assert_non_null(strstr(err, " at offset "));
        }
        store_free(s);
        free(copy);
    }
    assert_true(loaded > 0);
    buf_free(&imgs[0]);
    buf_free(&imgs[1]);
    small_limits(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_types),
        cmocka_unit_test(test_checksum_and_compression),
        cmocka_unit_test(test_expiry_on_load),
        cmocka_unit_test(test_empty_store_image),
        cmocka_unit_test(test_other_writers),
        cmocka_unit_test(test_unsupported_and_malformed),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_random_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
