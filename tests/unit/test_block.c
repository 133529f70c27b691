/* Unit tests of refcounted byte blocks (base/block.c) and of their use by the store:
 * raw strings held in blocks, copy-on-write when a reader holds the block, and huge
 * values freed on the background thread (store/lazyfree.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/block.h"
#include "persist/bio.h"
#include "store/entry.h"
#include "store/lazyfree.h"
#include "store/object.h"
#include "store/set.h"
#include "store/store.h"

static struct store *new_store(void) { return store_new(0x5eedULL); }

static struct entry *set(struct store *s, const char *key, const char *val, size_t len)
{
    return store_set_str(s, key, strlen(key), val, len, STORE_NO_TTL, false);
}

static struct entry *find(struct store *s, const char *key)
{
    return store_find(s, key, strlen(key), true);
}

static char *filled(size_t len, char c)
{
    char *p = malloc(len);
    assert_non_null(p);
    memset(p, c, len);
    return p;
}

/* ---- Blocks ---- */

static void test_block_refcount(void **state)
{
    (void)state;
    struct rt_block *b = rt_block_new("hello", 5);
    assert_int_equal(rt_block_len(b), 5);
    assert_memory_equal(rt_block_data(b), "hello", 5);
    assert_false(block_shared(b));
    rt_block_ref(b);
    assert_true(block_shared(b));
    rt_block_unref(b);
    assert_false(block_shared(b));
    rt_block_unref(b); /* freed: ASan reports any use after this or a leak */
    rt_block_unref(NULL);

    struct rt_block *e = rt_block_new(NULL, 0);
    assert_int_equal(rt_block_len(e), 0);
    rt_block_unref(e);
}

static void test_block_unshare(void **state)
{
    (void)state;
    struct rt_block *b = rt_block_new("abcdef", 6);
    /* Unshared: the same block, grown in place (or moved, but the only holder). */
    b = block_unshare(b, 100);
    assert_true(b->cap >= 100);
    assert_memory_equal(b->data, "abcdef", 6);

    rt_block_ref(b); /* a reader, as a reply in flight */
    struct rt_block *w = block_unshare(b, 3);
    assert_ptr_not_equal(w, b);
    assert_false(block_shared(b)); /* the writer's reference moved to the copy */
    assert_false(block_shared(w));
    assert_int_equal(w->len, 6); /* never shorter than what it copies */
    assert_true(w->cap >= 6);
    w->data[0] = 'X';
    assert_memory_equal(b->data, "abcdef", 6);
    rt_block_unref(b);
    rt_block_unref(w);
}

/* ---- Strings in blocks ---- */

static void test_raw_string_block(void **state)
{
    (void)state;
    struct store *s = new_store();
    assert_null(entry_str_block(set(s, "i", "123", 3)));
    assert_null(entry_str_block(set(s, "e", "short", 5)));
    char *big = filled(5000, 'v');
    struct entry *e = set(s, "r", big, 5000);
    struct rt_block *b = entry_str_block(e);
    assert_non_null(b);
    assert_int_equal(entry_str_enc(e), SE_RAW);
    assert_int_equal(rt_block_len(b), 5000);
    assert_memory_equal(rt_block_data(b), big, 5000);
    assert_false(block_shared(b)); /* the entry's own reference only */
    free(big);
    store_free(s);
}

/* A reader (a reply whose write is in flight) keeps the bytes it referenced whatever
 * happens to the key: APPEND, SETRANGE, overwrite, delete. */
static void test_copy_on_write(void **state)
{
    (void)state;
    struct store *s = new_store();
    char *old = filled(10000, 'a');
    struct entry *e = set(s, "k", old, 10000);
    struct rt_block *held = entry_str_block(e);
    rt_block_ref(held);

    /* APPEND: the entry gets a copy with the new bytes. */
    e = find(s, "k");
    char *w = store_str_resize(s, &e, 10003);
    memcpy(w + 10000, "xyz", 3);
    struct rt_block *now = entry_str_block(e);
    assert_ptr_not_equal(now, held);
    assert_int_equal(rt_block_len(held), 10000);
    assert_memory_equal(rt_block_data(held), old, 10000);
    assert_int_equal(rt_block_len(now), 10003);
    assert_memory_equal(rt_block_data(now) + 10000, "xyz", 3);
    assert_false(block_shared(held)); /* only the reader holds the old one now */

    /* Unshared, a change happens in place (no copy per APPEND). */
    e = find(s, "k");
    w = store_str_resize(s, &e, 10004);
    w[10003] = '!';
    assert_ptr_equal(entry_str_block(e), now);

    /* SETRANGE inside a shared block: copied, same length. */
    struct rt_block *held2 = now;
    rt_block_ref(held2);
    e = find(s, "k");
    w = store_str_resize(s, &e, 10004);
    w[0] = 'Z';
    assert_ptr_not_equal(entry_str_block(e), held2);
    assert_int_equal(rt_block_data(held2)[0], 'a');
    assert_int_equal(rt_block_data(entry_str_block(e))[0], 'Z');

    /* Overwrite and delete: the readers' blocks survive the key. */
    set(s, "k", "short", 5);
    assert_memory_equal(rt_block_data(held2), old + 1, 9999);
    assert_true(store_delete(s, "k", 1));
    assert_int_equal(rt_block_len(held2), 10004);
    rt_block_unref(held);
    rt_block_unref(held2);

    /* A shrinking resize of a shared block. */
    e = set(s, "k2", old, 10000);
    held = entry_str_block(e);
    rt_block_ref(held);
    w = store_str_resize(s, &e, 10);
    assert_int_equal(entry_str_len(e), 10);
    assert_int_equal(rt_block_len(held), 10000);
    rt_block_unref(held);

    free(old);
    store_free(s);
}

/* RENAME moves the block (no copy); a dump and restore make an independent copy. */
static void test_rename_and_restore(void **state)
{
    (void)state;
    struct store *s = new_store();
    char *v = filled(6000, 'q');
    struct entry *e = set(s, "a", v, 6000);
    struct rt_block *b = entry_str_block(e);
    store_rename(s, e, "b", 1);
    e = find(s, "b");
    assert_ptr_equal(entry_str_block(e), b);

    struct buf d = {0};
    entry_dump(e, &d);
    assert_true(store_restore(s, "c", 1, d.data, d.len, STORE_NO_TTL));
    buf_free(&d);
    struct entry *c = find(s, "c");
    assert_int_equal(entry_str_enc(c), SE_RAW);
    assert_ptr_not_equal(entry_str_block(c), b);
    assert_memory_equal(rt_block_data(entry_str_block(c)), v, 6000);
    free(v);
    store_free(s);
}

/* ---- Lazy free ---- */

static uint64_t freed_count(void)
{
    uint64_t pending, freed;
    store_lazyfree_stats(&pending, &freed);
    return freed;
}

static void test_lazyfree_big_string(void **state)
{
    (void)state;
    struct store *s = new_store();
    store_lazyfree_drain();
    uint64_t before = freed_count();
    size_t n = LAZYFREE_MIN_BLOCK;
    char *v = filled(n, 'z');
    set(s, "small", v, LAZYFREE_MIN_BLOCK - 1);
    assert_true(store_delete(s, "small", 5)); /* freed in place */
    store_lazyfree_drain();
    assert_int_equal(freed_count(), before);

    set(s, "big", v, n);
    assert_true(store_delete(s, "big", 3));
    store_lazyfree_drain();
    assert_int_equal(freed_count(), before + 1);

    /* A reader holding the block: the delete only drops the entry's reference, and the
     * reader's last unref hands it over. */
    struct entry *e = set(s, "big", v, n);
    struct rt_block *held = entry_str_block(e);
    rt_block_ref(held);
    set(s, "big", "x", 1); /* overwrite */
    store_lazyfree_drain();
    assert_int_equal(freed_count(), before + 1);
    assert_int_equal(rt_block_data(held)[n - 1], 'z');
    rt_block_unref(held);
    store_lazyfree_drain();
    assert_int_equal(freed_count(), before + 2);

    /* Flush and expiry go the same way. */
    set(s, "big", v, n);
    store_flush(s);
    e = set(s, "big2", v, n);
    store_set_expire(s, e, store_now(s) - 1);
    assert_null(find(s, "big2"));
    store_lazyfree_drain();
    assert_int_equal(freed_count(), before + 4);
    free(v);
    store_free(s);
}

static void *big_set(size_t n)
{
    struct set_val sv = set_new(OBJ_HASHTABLE, n);
    char m[32];
    for (size_t i = 0; i < n; i++)
        set_add(&sv, m, (size_t)snprintf(m, sizeof m, "m%zu", i));
    assert_int_equal(sv.enc, OBJ_HASHTABLE);
    return sv.o;
}

static void test_lazyfree_big_set(void **state)
{
    (void)state;
    struct store *s = new_store();
    store_lazyfree_drain();
    uint64_t before = freed_count();
    store_set_obj(s, "few", 3, VT_SET, OBJ_HASHTABLE, big_set(LAZYFREE_MIN_EFFORT - 1));
    assert_true(store_delete(s, "few", 3));
    store_lazyfree_drain();
    assert_int_equal(freed_count(), before);

    void *o = big_set(LAZYFREE_MIN_EFFORT);
    assert_int_equal(store_obj_free_effort(VT_SET, OBJ_HASHTABLE, o), LAZYFREE_MIN_EFFORT);
    store_set_obj(s, "many", 4, VT_SET, OBJ_HASHTABLE, o);
    assert_true(store_delete(s, "many", 4));
    store_lazyfree_drain();
    assert_int_equal(freed_count(), before + 1);
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_refcount),
        cmocka_unit_test(test_block_unshare),
        cmocka_unit_test(test_raw_string_block),
        cmocka_unit_test(test_copy_on_write),
        cmocka_unit_test(test_rename_and_restore),
        cmocka_unit_test(test_lazyfree_big_string),
        cmocka_unit_test(test_lazyfree_big_set),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bio_shutdown();
    return rc;
}
