/* Unit tests of the list encodings (src/store/quicklist.c, list.c): node limits, pushes,
 * seeks, inserts with splits and merges, replaces, deletes and range deletes against a
 * plain array model at several fills; conversions between listpack and quicklist; the
 * dump / restore contract, malformed payloads included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/list.h"
#include "store/listpack.h"
#include "store/quicklist.h"

#define T0 1700000000000LL

/* ---- A model: an array of strings ---- */

#define MODEL_MAX 4096
struct model {
    char *v[MODEL_MAX];
    size_t n;
};

static void m_insert(struct model *m, size_t at, const char *s)
{
    assert_true(m->n < MODEL_MAX);
    memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof m->v[0]);
    m->v[at] = strdup(s);
    m->n++;
}

static void m_delete(struct model *m, size_t at)
{
    free(m->v[at]);
    memmove(&m->v[at], &m->v[at + 1], (m->n - at - 1) * sizeof m->v[0]);
    m->n--;
}

static void m_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i]);
    m->n = 0;
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* An element: sometimes an integer, sometimes a string of varied length. */
static void mkval(char *buf, size_t cap, unsigned i)
{
    switch (rnd() % 4) {
    case 0: snprintf(buf, cap, "%u", i); break;
    case 1: snprintf(buf, cap, "-%llu", (unsigned long long)(rnd() % 100000)); break;
    default: {
        size_t len = rnd() % 300;
        if (len > cap - 16)
            len = cap - 16;
        int n = snprintf(buf, cap, "s%u-", i);
        memset(buf + n, 'a' + (char)(i % 26), len);
        buf[n + len] = '\0';
    }
    }
}

/* The quicklist's invariants, and its contents equal to the model. */
static void check_ql(const struct quicklist *ql, const struct model *m)
{
    size_t count = 0, len = 0;
    const struct ql_node *prev = NULL;
    for (const struct ql_node *n = ql->head; n; prev = n, n = n->next) {
        assert_ptr_equal(n->prev, prev);
        assert_true(n->count >= 1);
        assert_int_equal(n->count, lp_count(n->lp));
        count += n->count;
        len++;
    }
    assert_ptr_equal(ql->tail, prev);
    assert_int_equal(count, ql->count);
    assert_int_equal(len, ql->len);
    assert_int_equal(count, m->n);
    struct ql_pos pos;
    size_t i = 0;
    char buf[LP_INTBUF];
    size_t slen;
    for (bool ok = ql_seek(ql, 0, &pos); ok; ok = ql_next(&pos), i++) {
        const unsigned char *s = lp_get_str(pos.p, &slen, buf);
        assert_int_equal(slen, strlen(m->v[i]));
        assert_memory_equal(s, m->v[i], slen);
    }
    assert_int_equal(i, m->n);
}

static bool pos_is(const struct ql_pos *pos, const char *want)
{
    char buf[LP_INTBUF];
    size_t len;
    const unsigned char *s = lp_get_str(pos->p, &len, buf);
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

/* ---- Tests ---- */

static void test_node_limits(void **state)
{
    (void)state;
    size_t sz, count;
    ql_node_limit(-2, &sz, &count);
    assert_int_equal(sz, 8192);
    assert_true(count == SIZE_MAX);
    ql_node_limit(-1, &sz, &count);
    assert_int_equal(sz, 4096);
    ql_node_limit(-5, &sz, &count);
    assert_int_equal(sz, 65536);
    ql_node_limit(-100, &sz, &count);
    assert_int_equal(sz, 65536);
    ql_node_limit(0, &sz, &count);
    assert_int_equal(count, 1);
    ql_node_limit(128, &sz, &count);
    assert_int_equal(count, 128);
    assert_true(sz == SIZE_MAX);
    assert_false(ql_exceeds_limit(-2, 8192, 100000));
    assert_true(ql_exceeds_limit(-2, 8193, 1));
    assert_false(ql_exceeds_limit(5, 8192, 5));
    assert_true(ql_exceeds_limit(5, 100, 6));
    assert_true(ql_exceeds_limit(5, 8193, 1)); /* the safety limit of positive fills */
}

static void test_push_seek(void **state)
{
    (void)state;
    struct quicklist *ql = ql_new(4);
    struct model m = {0};
    char buf[64];
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(buf, sizeof buf, "%u", i);
        bool head = i % 3 == 0;
        ql_push(ql, head, buf, strlen(buf));
        m_insert(&m, head ? 0 : m.n, buf);
    }
    check_ql(ql, &m);
    for (const struct ql_node *n = ql->head; n; n = n->next)
        assert_true(n->count <= 4);
    struct ql_pos pos;
    for (int64_t i = -1001; i <= 1001; i += 7) {
        bool ok = ql_seek(ql, i, &pos);
        if (i < -1000 || i >= 1000) {
            assert_false(ok);
            continue;
        }
        assert_true(ok);
        size_t at = i < 0 ? (size_t)(1000 + i) : (size_t)i;
        assert_true(pos_is(&pos, m.v[at]));
        if (at + 1 < m.n) {
            assert_true(ql_next(&pos));
            assert_true(pos_is(&pos, m.v[at + 1]));
            assert_true(ql_prev(&pos));
        }
        if (at > 0) {
            assert_true(ql_prev(&pos));
            assert_true(pos_is(&pos, m.v[at - 1]));
        }
    }
    assert_false(ql_seek(ql, INT64_MIN, &pos));
    assert_false(ql_seek(ql, INT64_MAX, &pos));
    ql_free(ql);
    m_free(&m);
}

/* Random edits at fills that force splits and merges (small counts, 4 KiB nodes). */
static void random_edits(int fill)
{
    struct quicklist *ql = ql_new(fill);
    struct model m = {0};
    char buf[512];
    for (unsigned step = 0; step < 6000; step++) {
        unsigned op = (unsigned)(rnd() % 8);
        mkval(buf, sizeof buf, step);
        struct ql_pos pos;
        if (op <= 1 || m.n == 0) {
            bool head = rnd() % 2;
            ql_push(ql, head, buf, strlen(buf));
            m_insert(&m, head ? 0 : m.n, buf);
        } else if (op <= 3 && m.n < MODEL_MAX - 1) {
            size_t at = rnd() % m.n;
            bool after = rnd() % 2;
            assert_true(ql_seek(ql, (int64_t)at, &pos));
            ql_insert(ql, &pos, after, buf, strlen(buf));
            m_insert(&m, after ? at + 1 : at, buf);
        } else if (op == 4) {
            size_t at = rnd() % m.n;
            assert_true(ql_seek(ql, -(int64_t)(m.n - at), &pos));
            ql_replace(ql, &pos, buf, strlen(buf));
            free(m.v[at]);
            m.v[at] = strdup(buf);
        } else if (op == 5) {
            /* delete a run while iterating in either direction */
            size_t at = rnd() % m.n;
            bool forward = rnd() % 2;
            size_t k = 1 + rnd() % 5;
            assert_true(ql_seek(ql, (int64_t)at, &pos));
            for (size_t j = 0; j < k && pos.node; j++) {
                ql_delete(ql, &pos, forward);
                m_delete(&m, at);
                if (!forward) {
                    if (at == 0) {
                        assert_null(pos.node);
                        break;
                    }
                    at--;
                }
                if (pos.node)
                    assert_true(pos_is(&pos, m.v[at]));
                else
                    assert_true(forward ? at == m.n : at == 0);
            }
        } else if (op == 6) {
            size_t k = rnd() % 20;
            if (rnd() % 2) {
                size_t at = rnd() % m.n;
                ql_del_range(ql, (int64_t)at, k);
                for (size_t j = 0; j < k && at < m.n; j++)
                    m_delete(&m, at);
            } else {
                int64_t back = 1 + (int64_t)(rnd() % m.n);
                ql_del_range(ql, -back, k);
                size_t at = m.n - (size_t)back;
                for (size_t j = 0; j < k && at < m.n; j++)
                    m_delete(&m, at);
            }
        } else if (m.n > 0) {
            bool ok = ql_seek(ql, (int64_t)(rnd() % m.n), &pos);
            assert_true(ok);
        }
        if (step % 97 == 0)
            check_ql(ql, &m);
        if (m.n == 0)
            assert_null(ql->head);
    }
    check_ql(ql, &m);
    ql_free(ql);
    m_free(&m);
}

static void test_random_edits_counts(void **state)
{
    (void)state;
    random_edits(3);
    random_edits(16);
}

static void test_random_edits_sizes(void **state)
{
    (void)state;
    random_edits(-1);
    random_edits(-2);
}

/* ---- list.c on entries ---- */

static struct store *new_store(void)
{
    struct store *s = store_new(0x1234567890abcdefULL);
    store_set_now(s, T0);
    return s;
}

static void collect(void *arg, const char *s, size_t len)
{
    struct model *m = arg;
    char buf[16384];
    assert_true(len < sizeof buf);
    memcpy(buf, s, len);
    buf[len] = '\0';
    m_insert(m, m->n, buf);
}

static void test_conversions(void **state)
{
    (void)state;
    struct store *s = new_store();
    obj_limit_set(LIM_LIST_LP_SIZE, -2);
    struct entry *e = list_create(s, "k", 1);
    char v[101];
    memset(v, 'x', 100);
    v[100] = '\0';
    for (int i = 0; i < 79; i++) {
        list_grow(e, 100, 1);
        list_push(e, LIST_TAIL, v, 100);
    }
    assert_int_equal(entry_obj_enc(e), OBJ_LISTPACK);
    list_grow(e, 100, 1);
    list_push(e, LIST_TAIL, v, 100);
    assert_int_equal(entry_obj_enc(e), OBJ_QUICKLIST);
    struct model m = {0};
    assert_int_equal(list_pop(e, LIST_TAIL, 40, collect, &m), 40);
    assert_int_equal(entry_obj_enc(e), OBJ_QUICKLIST); /* 40 left: 4127 bytes > 4096 */
    assert_int_equal(list_pop(e, LIST_HEAD, 1, collect, &m), 1);
    assert_int_equal(entry_obj_enc(e), OBJ_LISTPACK);
    assert_int_equal(list_len(e), 39);
    m_free(&m);

    /* positive fill: entries per node */
    obj_limit_set(LIM_LIST_LP_SIZE, 10);
    struct entry *f = list_create(s, "f", 1);
    for (int i = 0; i < 10; i++) {
        list_grow(f, 1, 1);
        list_push(f, LIST_HEAD, "1", 1);
    }
    assert_int_equal(entry_obj_enc(f), OBJ_LISTPACK);
    list_grow(f, 1, 1);
    list_push(f, LIST_HEAD, "2", 1);
    assert_int_equal(entry_obj_enc(f), OBJ_QUICKLIST);
    /* nodes ["2"] and ten "1": the head node goes, 5 of the other stay (5 <= 10 / 2) */
    list_trim(f, 1, 5);
    assert_int_equal(entry_obj_enc(f), OBJ_LISTPACK);
    assert_int_equal(list_len(f), 5);
    obj_limit_set(LIM_LIST_LP_SIZE, -2);
    store_free(s);
}

static void test_edits_on_both_encodings(void **state)
{
    (void)state;
    struct store *s = new_store();
    for (int round = 0; round < 2; round++) {
        obj_limit_set(LIM_LIST_LP_SIZE, round == 0 ? -2 : 2);
        struct entry *e = list_create(s, "k", 1);
        const char *vals[] = {"a", "b", "a", "c", "a", "12", "b", "a"};
        for (size_t i = 0; i < 8; i++) {
            list_grow(e, 1, 1);
            list_push(e, LIST_TAIL, vals[i], strlen(vals[i]));
        }
        assert_int_equal(entry_obj_enc(e), round == 0 ? OBJ_LISTPACK : OBJ_QUICKLIST);
        assert_int_equal(list_rem(e, -2, "a", 1), 2);      /* a b a c 12 b */
        assert_true(list_insert(e, true, "12", 2, "x", 1)); /* a b a c 12 x b */
        assert_false(list_insert(e, false, "zz", 2, "y", 1));
        assert_true(list_set(e, -1, "B", 1));
        assert_false(list_set(e, 8, "B", 1));
        struct model m = {0};
        list_range(e, 0, list_len(e), false, collect, &m);
        const char *want[] = {"a", "b", "a", "c", "12", "x", "B"};
        assert_int_equal(m.n, 7);
        for (size_t i = 0; i < 7; i++)
            assert_string_equal(m.v[i], want[i]);
        m_free(&m);
        list_range(e, 5, 3, true, collect, &m);
        assert_int_equal(m.n, 3);
        assert_string_equal(m.v[0], "x");
        assert_string_equal(m.v[2], "c");
        m_free(&m);
        assert_int_equal(list_rem(e, 0, "a", 1), 2);
        list_trim(e, 1, 1); /* b c 12 x B -> c 12 x */
        list_range(e, 0, list_len(e), false, collect, &m);
        assert_int_equal(m.n, 3);
        assert_string_equal(m.v[0], "c");
        assert_string_equal(m.v[1], "12");
        m_free(&m);
        store_delete(s, "k", 1);
    }
    obj_limit_set(LIM_LIST_LP_SIZE, -2);
    store_free(s);
}

static bool count_each(void *arg, const char *s, size_t len, const char *val, size_t vlen,
                       double score)
{
    (void)s, (void)len, (void)val, (void)vlen, (void)score;
    (*(size_t *)arg)++;
    return true;
}

static void test_dump_restore(void **state)
{
    (void)state;
    struct store *s = new_store();
    for (int big = 0; big < 2; big++) {
        struct entry *e = list_create(s, "k", 1);
        size_t n = big ? 500 : 10;
        char buf[512];
        for (size_t i = 0; i < n; i++) {
            mkval(buf, sizeof buf, (unsigned)i);
            list_grow(e, strlen(buf), 1);
            list_push(e, LIST_TAIL, buf, strlen(buf));
        }
        enum obj_enc enc = entry_obj_enc(e);
        assert_int_equal(enc, big ? OBJ_QUICKLIST : OBJ_LISTPACK);
        struct buf d = {0};
        entry_dump(e, &d);
        assert_true(store_restore(s, "c", 1, d.data, d.len, STORE_NO_TTL));
        e = store_find(s, "k", 1, false);
        struct entry *c = store_find(s, "c", 1, false);
        assert_int_equal(entry_obj_enc(c), enc);
        assert_int_equal(list_len(c), n);
        struct model a = {0}, b = {0};
        list_range(e, 0, n, false, collect, &a);
        list_range(c, 0, n, false, collect, &b);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(a.v[i], b.v[i]);
        m_free(&a);
        m_free(&b);
        size_t seen = 0;
        list_obj_each(entry_obj(c), enc, count_each, &seen);
        assert_int_equal(seen, n);
        if (enc == OBJ_QUICKLIST) {
            const struct quicklist *q1 = entry_obj(e), *q2 = entry_obj(c);
            assert_int_equal(q1->len, q2->len); /* node layout kept */
        }
        /* Every truncation and every single-byte corruption is refused or yields a
         * well-formed value; never a crash. */
        for (size_t cut = 0; cut < d.len; cut++)
            assert_false(store_restore(s, "t", 1, d.data, cut, STORE_NO_TTL));
        for (size_t i = 2; i < d.len && i < 400; i++) {
            char save = d.data[i];
            d.data[i] = (char)(save ^ 0x5a);
            if (store_restore(s, "t", 1, d.data, d.len, STORE_NO_TTL)) {
                struct entry *t = store_find(s, "t", 1, false);
                assert_true(list_len(t) > 0);
            }
            d.data[i] = save;
        }
        buf_free(&d);
        store_delete(s, "k", 1);
        store_delete(s, "c", 1);
    }
    /* hand-made payloads */
    enum obj_enc enc = OBJ_LISTPACK;
    assert_null(list_obj_restore("\x00", 1, &enc));          /* empty list */
    assert_null(list_obj_restore("\x05\x01" "a", 3, &enc));  /* count beyond the bytes */
    assert_null(list_obj_restore("\x01\x01" "ab", 4, &enc)); /* trailing byte */
    void *o = list_obj_restore("\x01\x01" "a", 3, &enc);
    assert_non_null(o);
    list_obj_free(o, enc);
    enc = OBJ_QUICKLIST;
    assert_null(list_obj_restore("\x00", 1, &enc));          /* no nodes */
    assert_null(list_obj_restore("\x01\x00", 2, &enc));      /* an empty node */
    o = list_obj_restore("\x02\x01\x01" "a\x01\x01" "b", 7, &enc);
    assert_non_null(o);
    assert_int_equal(list_obj_len(o, enc), 2);
    list_obj_free(o, enc);
    enc = OBJ_INTSET;
    assert_null(list_obj_restore("\x01\x01" "a", 3, &enc));
    store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_limits),
        cmocka_unit_test(test_push_seek),
        cmocka_unit_test(test_random_edits_counts),
        cmocka_unit_test(test_random_edits_sizes),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_edits_on_both_encodings),
        cmocka_unit_test(test_dump_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
