/* corekv's RDB codec against files written by redis-server 7.0
 * (tests/unit/data/redis7_all_types.rdb, made by data/make_rdb_fixture.sh):
 *
 * - loading it gives every key with the contents, TTL and encoding the expectation file
 *   (data/redis7_all_types.txt) records, at the thresholds of the server that wrote it;
 * - writing those keys back gives redis-server's bytes: each record corekv writes occurs
 *   in the file exactly as is, except hashes in hashtable encoding and sets of strings
 *   (whose order is redis-server's table's), which take the same number of bytes; the header is the file's
 *   header byte for byte, and the records tile the file with nothing left over;
 * - the same keys made with corekv's own operations are written with those bytes too;
 * - corrupting the file never crashes the loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rdb_test_util.h"

#define MAX_KEYS 128

/* The fixture's directory, from this file's path. */
static void data_path(char *out, size_t len, const char *name)
{
    const char *slash = strrchr(__FILE__, '/');
    int dl = slash ? (int)(slash - __FILE__) : 1;
    snprintf(out, len, "%.*s/data/%s", dl, slash ? __FILE__ : ".", name);
}

static size_t unhex(const char *tok, char *out)
{
    assert_int_equal(tok[0], 'x');
    size_t n = strlen(tok + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(tok + 1 + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

/* Split a line in place into tokens; returns how many (at most max). */
static size_t split(char *line, char **tok, size_t max)
{
    size_t n = 0;
    for (char *t = strtok(line, " \n"); t && n < max; t = strtok(NULL, " \n"))
        tok[n++] = t;
    return n;
}

static const struct {
    const char *name;
    enum obj_limit_id id;
} limit_names[] = {{"hash-max-listpack-entries", LIM_HASH_LP_ENTRIES},
                   {"hash-max-listpack-value", LIM_HASH_LP_VALUE},
                   {"set-max-intset-entries", LIM_SET_INTSET_ENTRIES},
                   {"zset-max-listpack-entries", LIM_ZSET_LP_ENTRIES},
                   {"zset-max-listpack-value", LIM_ZSET_LP_VALUE},
                   {"list-max-listpack-size", LIM_LIST_LP_SIZE}};

/* Redis 7.0 keeps small lists as one-node quicklists and small string sets as
 * hashtables; corekv (as 7.2) makes them listpacks. */
static const char *const lp_in_corekv[] = {"l:small", "l:ttl", "l:129", "set:str", "set:one"};

/* The encoding corekv gives a key Redis had in encoding `enc`. */
static const char *expected_enc(const char *key, size_t klen, const char *type, const char *enc,
                                const char *value_tok)
{
    for (size_t i = 0; i < sizeof lp_in_corekv / sizeof lp_in_corekv[0]; i++)
        if (strlen(lp_in_corekv[i]) == klen && memcmp(lp_in_corekv[i], key, klen) == 0)
            return "listpack";
    if (strcmp(type, "string") == 0) {
        /* As after Redis loads it: an integer, else embedded up to 44 bytes, else raw. */
        char v[8192];
        size_t vl = unhex(value_tok, v);
        int64_t i;
        if (vl <= 20 && str_to_i64(v, vl, &i))
            return "int";
        return vl <= 44 ? "embstr" : "raw";
    }
    return enc;
}

struct fixture {
    char *rdb;
    size_t rdb_len;
    char *txt;
    struct store *s;
    size_t nkeys;
};

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    data_path(path, sizeof path, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run tests/unit/data/make_rdb_fixture.sh)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return p;
}

static int64_t saved[6];

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    size_t tl;
    fx->rdb = slurp("redis7_all_types.rdb", &fx->rdb_len);
    fx->txt = slurp("redis7_all_types.txt", &tl);
    for (int i = 0; i < 6; i++)
        saved[i] = obj_limit(limit_names[i].id);
    /* The thresholds of the server that wrote the file. */
    char *copy = strdup(fx->txt);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        long long v;
        if (sscanf(line, "limit %63s %lld", name, &v) != 2)
            continue;
        for (int i = 0; i < 6; i++)
            if (strcmp(name, limit_names[i].name) == 0)
                obj_limit_set(limit_names[i].id, v);
    }
    free(copy);
    fx->s = store_new(99);
    char err[256];
    struct rdb_load_info li;
    if (!store_rdb_load(fx->s, fx->rdb, fx->rdb_len, 1700000000000LL, &li, err, sizeof err))
        fail_msg("loading the fixture failed: %s", err);
    fx->nkeys = li.loaded;
    assert_int_equal(li.expired, 0);
    assert_int_equal(li.shard, -1);
    assert_false(li.aof_base);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    store_free(fx->s);
    free(fx->rdb);
    free(fx->txt);
    free(fx);
    for (int i = 0; i < 6; i++)
        obj_limit_set(limit_names[i].id, saved[i]);
    return 0;
}

/* The fixture's key lines, each calling fn with its tokens and the loaded entry. */
static void each_key(struct fixture *fx, void (*fn)(struct fixture *, char **, size_t,
                                                    struct entry *, void *), void *arg)
{
    char *copy = strdup(fx->txt);
    char *save = NULL;
    size_t seen = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "key ", 4) != 0)
            continue;
        char *tok[4096];
        char *l = strdup(line);
        size_t n = split(l, tok, 4096);
        assert_true(n >= 6 && n < 4096);
        char key[512];
        size_t klen = unhex(tok[1], key);
        struct entry *e = store_find(fx->s, key, klen, false);
        if (!e)
            fail_msg("key %s missing after loading", tok[1]);
        fn(fx, tok, n, e, arg);
        free(l);
        seen++;
    }
    free(copy);
    assert_int_equal(seen, fx->nkeys);
}

static int tok_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int pair_cmp(const void *a, const void *b) { return tok_cmp(a, b); }

/* Hash pairs and set members as tu_describe lists them: sorted (hex sorts as the bytes
 * do, a shorter prefix first). */
static void sort_items(char **tok, size_t n)
{
    if (strcmp(tok[2], "set") == 0)
        qsort(tok + 6, n - 6, sizeof *tok, tok_cmp);
    if (strcmp(tok[2], "hash") == 0)
        qsort(tok + 6, (n - 6) / 2, 2 * sizeof *tok, pair_cmp);
}

static void check_key(struct fixture *fx, char **want, size_t nw, struct entry *e, void *arg)
{
    (void)fx;
    (void)arg;
    sort_items(want, nw);
    struct buf d = {0};
    tu_describe(e, &d);
    char *got[4096];
    size_t ng = split(d.data, got, 4096);
    if (ng != nw)
        fail_msg("%s: %zu items, want %zu", want[1], ng, nw);
    char key[512];
    size_t klen = unhex(want[1], key);
    const char *enc = expected_enc(key, klen, want[2], want[3], want[6]);
    for (size_t i = 0; i < nw; i++) {
        if (i == 3) {
            if (strcmp(got[3], enc) != 0)
                fail_msg("%s: encoding %s, want %s", want[1], got[3], enc);
        } else if (strcmp(want[2], "zset") == 0 && i > 6 && (i - 6) % 2 == 1) {
            /* Scores compare as numbers (Redis replies -0 as "0"). */
            if (strtod(got[i], NULL) != strtod(want[i], NULL))
                fail_msg("%s: score %s, want %s", want[1], got[i], want[i]);
        } else if (strcmp(got[i], want[i]) != 0) {
            fail_msg("%s: item %zu is %.40s, want %.40s", want[1], i, got[i], want[i]);
        }
    }
    buf_free(&d);
}

static void test_load_redis_file(void **state)
{
    struct fixture *fx = *state;
    assert_true(fx->nkeys > 40);
    assert_int_equal(store_count(fx->s), fx->nkeys);
    each_key(fx, check_key, NULL);
}

/* ---- Writing back: the same bytes ---- */

struct placed {
    size_t off, len;
};

struct placing {
    struct placed rec[MAX_KEYS];
    size_t nrec;
    size_t unplaced_bytes; /* records whose element order is their table's */
    size_t unplaced;
};

/* Records whose element order is a hash table's in redis-server: hashes in hashtable
 * encoding and sets of strings (type SET), with more than one element. corekv writes the
 * same elements in its own order. */
static bool order_is_table(const struct entry *e)
{
    enum obj_enc enc = entry_obj_enc(e);
    switch (entry_type(e)) {
    case VT_HASH:
        return enc == OBJ_HASHTABLE && hash_obj_len(entry_obj(e), enc) > 1;
    case VT_SET:
        return enc != OBJ_INTSET && set_obj_len(entry_obj(e), enc) > 1;
    default:
        return false;
    }
}

static void place_key(struct fixture *fx, char **tok, size_t n, struct entry *e, void *arg)
{
    (void)n;
    struct placing *pl = arg;
    struct buf rec = {0};
    store_rdb_put_entry(e, &rec, true);
    if (order_is_table(e)) {
        pl->unplaced_bytes += rec.len;
        pl->unplaced++;
        buf_free(&rec);
        return;
    }
    const char *hit = memmem(fx->rdb, fx->rdb_len, rec.data, rec.len);
    if (!hit)
        fail_msg("corekv's record of %s (%zu bytes) is not in redis-server's file", tok[1],
                 rec.len);
    size_t off = (size_t)(hit - fx->rdb);
    assert_null(memmem(hit + 1, fx->rdb_len - off - 1, rec.data, rec.len));
    assert_true(pl->nrec < MAX_KEYS);
    pl->rec[pl->nrec++] = (struct placed){off, rec.len};
    buf_free(&rec);
}

static int by_off(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* The file's ctime and used-mem aux values. */
static void file_aux(const struct fixture *fx, int64_t *ctime, uint64_t *used_mem)
{
    struct rdb_reader r;
    rdb_reader_init(&r, fx->rdb, fx->rdb_len);
    int version;
    assert_true(rdb_read_magic(&r, &version));
    assert_int_equal(version, 10);
    while (r.p[r.pos] == RDB_OP_AUX) {
        r.pos++;
        struct rdb_str k, v;
        assert_true(rdb_read_string(&r, &k));
        assert_true(rdb_read_string(&r, &v));
        int64_t x = 0;
        str_to_i64(v.s, v.len, &x);
        if (k.len == 5 && memcmp(k.s, "ctime", 5) == 0)
            *ctime = x;
        if (k.len == 8 && memcmp(k.s, "used-mem", 8) == 0)
            *used_mem = (uint64_t)x;
        rdb_str_free(&k);
        rdb_str_free(&v);
    }
}

static void test_same_bytes_as_redis(void **state)
{
    struct fixture *fx = *state;
    struct placing pl = {0};
    each_key(fx, place_key, &pl);
    assert_true(pl.nrec > 30);

    /* The header: Redis's, byte for byte, given the same ctime and used-mem. */
    struct rdb_header_info h = {.keys = store_count(fx->s),
                                .expires = store_expires_count(fx->s)};
    file_aux(fx, &h.ctime, &h.used_mem);
    struct buf hdr = {0};
    store_rdb_put_header(&hdr, &h);
    assert_true(hdr.len < fx->rdb_len);
    assert_memory_equal(hdr.data, fx->rdb, hdr.len);

    /* The records tile the rest: placed ones exactly, the others fill the gaps. */
    qsort(pl.rec, pl.nrec, sizeof pl.rec[0], by_off);
    size_t cur = hdr.len, gaps = 0;
    for (size_t i = 0; i < pl.nrec; i++) {
        assert_true(pl.rec[i].off >= cur);
        gaps += pl.rec[i].off - cur;
        cur = pl.rec[i].off + pl.rec[i].len;
    }
    size_t footer = fx->rdb_len - 9;
    assert_true(cur <= footer);
    gaps += footer - cur;
    assert_int_equal(gaps, pl.unplaced_bytes);
    assert_true(pl.unplaced >= 4);
    assert_int_equal((unsigned char)fx->rdb[footer], RDB_OP_EOF);

    /* And the whole image corekv writes for these keys loads back the same. */
    struct buf img = {0};
    tu_image(fx->s, &img, true, true, &h);
    assert_int_equal(img.len, fx->rdb_len);
    struct store *again = store_new(5);
    char err[256];
    assert_true(store_rdb_load(again, img.data, img.len, 0, NULL, err, sizeof err));
    struct tu_lines a = {0}, b = {0};
    tu_all_lines(fx->s, &a);
    tu_all_lines(again, &b);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        assert_string_equal(a.v[i], b.v[i]);
    tu_lines_free(&a);
    tu_lines_free(&b);
    store_free(again);
    buf_free(&img);
    buf_free(&hdr);
}

/* ---- The same keys made with corekv's own operations ---- */

/* Add the key of a fixture line to s as commands would: SET, RPUSH, HSET, SADD, ZADD
 * (all items in one command, in the order the line lists them), then PEXPIREAT. */
static void make_key(struct fixture *fx, char **tok, size_t n, struct entry *loaded, void *arg)
{
    (void)fx;
    (void)loaded;
    struct store *s = arg;
    static char key[512], a[16384], b[16384];
    size_t klen = unhex(tok[1], key);
    size_t count = strtoull(tok[5], NULL, 10);
    const char *type = tok[2];
    struct entry *e;
    if (strcmp(type, "string") == 0) {
        size_t al = unhex(tok[6], a);
        e = store_set_str(s, key, klen, a, al, STORE_NO_TTL, false);
    } else if (strcmp(type, "list") == 0) {
        e = tu_list(s, key, klen);
        for (size_t i = 6; i < n; i++) {
            size_t al = unhex(tok[i], a);
            tu_push(e, a, al);
        }
    } else if (strcmp(type, "hash") == 0) {
        struct hash_val h = hash_new();
        size_t maxlen = 0, sum = 0;
        for (size_t i = 6; i < n; i++) {
            size_t al = unhex(tok[i], a);
            maxlen = al > maxlen ? al : maxlen;
            sum += al;
        }
        hash_prepare(&h, maxlen, sum);
        for (size_t i = 6; i + 1 < n; i += 2) {
            size_t al = unhex(tok[i], a), bl = unhex(tok[i + 1], b);
            hash_set(&h, a, al, b, bl);
        }
        e = store_set_obj(s, key, klen, VT_HASH, h.enc, h.o);
    } else if (strcmp(type, "set") == 0) {
        size_t al = unhex(tok[6], a);
        struct set_val sv = set_new_for(a, al, count);
        set_maybe_convert(&sv, count);
        for (size_t i = 6; i < n; i++) {
            al = unhex(tok[i], a);
            set_add(&sv, a, al);
        }
        e = store_set_obj(s, key, klen, VT_SET, sv.enc, sv.o);
    } else {
        size_t maxlen = 0;
        for (size_t i = 6; i < n; i += 2) {
            size_t al = unhex(tok[i], a);
            maxlen = al > maxlen ? al : maxlen;
        }
        struct zs z = zs_create(count, maxlen);
        for (size_t i = 6; i + 1 < n; i += 2) {
            size_t al = unhex(tok[i], a);
            zs_add(&z, a, al, strtod(tok[i + 1], NULL), 0, NULL);
        }
        zs_store(s, key, klen, &z);
        e = store_find(s, key, klen, false);
    }
    long long exp = strtoll(tok[4], NULL, 10);
    if (exp != -1)
        store_set_expire(s, e, exp);
}

struct compare {
    struct store *made;
    size_t placed;
};

static void compare_made(struct fixture *fx, char **tok, size_t n, struct entry *loaded,
                         void *arg)
{
    (void)n;
    struct compare *c = arg;
    size_t klen;
    const char *key = entry_key(loaded, &klen);
    struct entry *e = store_find(c->made, key, klen, false);
    assert_non_null(e);
    struct buf d1 = {0}, d2 = {0};
    tu_describe(loaded, &d1);
    tu_describe(e, &d2);
    if (strcmp(d1.data, d2.data) != 0)
        fail_msg("%s made by corekv differs from the one loaded", tok[1]);
    buf_free(&d1);
    buf_free(&d2);
    if (order_is_table(e))
        return;
    struct buf rec = {0};
    store_rdb_put_entry(e, &rec, true);
    if (!memmem(fx->rdb, fx->rdb_len, rec.data, rec.len))
        fail_msg("corekv's record of %s as made by its own operations (%zu bytes) is not in "
                 "redis-server's file", tok[1], rec.len);
    buf_free(&rec);
    c->placed++;
}

static void test_same_bytes_from_scratch(void **state)
{
    struct fixture *fx = *state;
    struct compare c = {store_new(7), 0};
    each_key(fx, make_key, c.made);
    each_key(fx, compare_made, &c);
    assert_true(c.placed > 30);
    store_free(c.made);
}

/* Corrupting redis-server's file: never a crash; what loads is a sound store (written
 * and loaded again, it is the same). The CRC is zeroed so that corrupt files load. */
static void test_corrupt_redis_file(void **state)
{
    struct fixture *fx = *state;
    char *copy = malloc(fx->rdb_len);
    uint64_t x = 0x2545F4914F6CDD1Dull;
    int loaded = 0;
    for (int iter = 0; iter < 800; iter++) {
        memcpy(copy, fx->rdb, fx->rdb_len);
        memset(copy + fx->rdb_len - 8, 0, 8);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int flips = 1 + (int)(x % 3);
        for (int f = 0; f < flips; f++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t pos = 9 + (size_t)(x % (fx->rdb_len - 17));
            copy[pos] = (char)(x >> 40);
        }
        struct store *s = store_new(3);
        char err[256];
        if (store_rdb_load(s, copy, fx->rdb_len, 0, NULL, err, sizeof err)) {
            loaded++;
            struct buf img = {0};
            tu_image(s, &img, true, true, NULL);
            struct store *t = store_new(4);
            if (!store_rdb_load(t, img.data, img.len, 0, NULL, err, sizeof err))
                fail_msg("reloading an accepted store failed: %s", err);
            tu_assert_same_keys(s, t);
            store_free(t);
            buf_free(&img);
        } else {
            assert_non_null(strstr(err, " at offset "));
        }
        store_free(s);
    }
    assert_true(loaded > 0);
    free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_redis_file),
        cmocka_unit_test(test_same_bytes_as_redis),
        cmocka_unit_test(test_same_bytes_from_scratch),
        cmocka_unit_test(test_corrupt_redis_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
