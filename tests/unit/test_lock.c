/* Intent locks of one shard (src/rt/lock): compatibility of shared, exclusive and
 * whole-shard requests, duplicate keys, try, FIFO fairness with queued requests
 * blocking later ones, cancelling a queued request, the command-side checks, and a
 * randomized run against a naive model of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt/lock.h"

#define MAX_KEYS 16

static struct lock_owner owner(uint64_t id)
{
    return (struct lock_owner){.origin = (uint32_t)(id % 4), .slot = (uint32_t)(id * 7),
                               .id = id};
}

/* Requests locks for owner id on spec: space-separated keys, a trailing '!' making one
 * exclusive, or "*" for the whole shard. The key bytes are overwritten afterwards, so
 * every test also checks that the manager copied them. */
static enum lock_result acquire(struct lockmgr *m, uint64_t id, const char *spec, bool try)
{
    if (strcmp(spec, "*") == 0)
        return lockmgr_acquire(m, owner(id), true, 0, NULL, NULL, try);
    char buf[256];
    assert_true(strlen(spec) < sizeof buf);
    strcpy(buf, spec);
    rt_str keys[MAX_KEYS];
    bool exclusive[MAX_KEYS];
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        assert_true(n < MAX_KEYS);
        size_t len = strlen(tok);
        exclusive[n] = tok[len - 1] == '!';
        keys[n] = (rt_str){.ptr = tok, .len = len - exclusive[n]};
        n++;
    }
    enum lock_result res = lockmgr_acquire(m, owner(id), false, n, keys, exclusive, try);
    memset(buf, '#', sizeof buf);
    return res;
}

static enum lock_result lock(struct lockmgr *m, uint64_t id, const char *spec)
{
    return acquire(m, id, spec, false);
}

static enum lock_result try_lock(struct lockmgr *m, uint64_t id, const char *spec)
{
    return acquire(m, id, spec, true);
}

static bool release(struct lockmgr *m, uint64_t id)
{
    return lockmgr_release(m, owner(id));
}

static bool conflicts(const struct lockmgr *m, const char *key, bool write)
{
    return lockmgr_conflicts(m, key, strlen(key), write);
}

struct grants {
    char text[16384]; /* ids granted, in order, space-separated */
    size_t len;
};

static void on_grant(void *arg, struct lock_owner o)
{
    struct grants *g = arg;
    assert_true(o.origin == owner(o.id).origin && o.slot == owner(o.id).slot);
    int n = snprintf(g->text + g->len, sizeof g->text - g->len, "%s%llu", g->len ? " " : "",
                     (unsigned long long)o.id);
    assert_true(n > 0 && (size_t)n < sizeof g->text - g->len);
    g->len += (size_t)n;
}

/* The owners lockmgr_grant_waiting grants, as "2 3" (the text lives until the next call). */
static const char *grant_waiting(struct lockmgr *m)
{
    static struct grants g;
    g.len = 0;
    g.text[0] = '\0';
    lockmgr_grant_waiting(m, on_grant, &g);
    return g.text;
}

static void test_shared_shared_granted(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    assert_int_equal(lock(m, 1, "a"), LOCK_GRANTED);
    assert_int_equal(lock(m, 2, "a b"), LOCK_GRANTED);
    assert_int_equal(lockmgr_granted(m), 2);
    assert_int_equal(lockmgr_queued(m), 0);
    assert_false(conflicts(m, "a", false));
    assert_true(conflicts(m, "a", true));
    assert_true(release(m, 1));
    assert_true(conflicts(m, "a", true)); /* 2 still holds it */
    assert_true(release(m, 2));
    assert_false(conflicts(m, "a", true));
    assert_false(lockmgr_any(m));
    lockmgr_free(m);
}

static void test_shared_exclusive_conflict(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    /* Shared first, then exclusive. */
    assert_int_equal(lock(m, 1, "a"), LOCK_GRANTED);
    assert_int_equal(lock(m, 2, "a!"), LOCK_QUEUED);
    assert_string_equal(grant_waiting(m), "");
    assert_true(release(m, 1));
    assert_string_equal(grant_waiting(m), "2");
    assert_true(conflicts(m, "a", false));
    /* Exclusive first, then shared. */
    assert_int_equal(lock(m, 3, "b!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 4, "b"), LOCK_QUEUED);
    assert_true(release(m, 3));
    assert_string_equal(grant_waiting(m), "4");
    /* Exclusive against exclusive. */
    assert_int_equal(lock(m, 5, "c!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 6, "c!"), LOCK_QUEUED);
    assert_true(release(m, 5));
    assert_string_equal(grant_waiting(m), "6");
    assert_int_equal(lockmgr_granted(m), 3);
    assert_int_equal(lockmgr_queued(m), 0);
    lockmgr_free(m);
}

static void test_whole_vs_keys(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    /* Keys first: the whole shard waits for them. */
    assert_int_equal(lock(m, 1, "a"), LOCK_GRANTED);
    assert_int_equal(lock(m, 2, "*"), LOCK_QUEUED);
    assert_false(lockmgr_whole(m));
    assert_false(conflicts(m, "other", true));
    assert_true(release(m, 1));
    assert_string_equal(grant_waiting(m), "2");
    assert_true(lockmgr_whole(m));
    assert_true(conflicts(m, "anything", false));
    /* Whole shard first: keys wait, even ones nobody named, and so does another whole. */
    assert_int_equal(lock(m, 3, "zzz"), LOCK_QUEUED);
    assert_int_equal(lock(m, 4, "*"), LOCK_QUEUED);
    assert_int_equal(try_lock(m, 5, "yyy"), LOCK_DENIED);
    assert_true(release(m, 2));
    assert_false(lockmgr_whole(m));
    assert_string_equal(grant_waiting(m), "3"); /* 4 waits for 3 */
    assert_int_equal(lock(m, 6, "q"), LOCK_QUEUED); /* behind the queued whole */
    assert_true(release(m, 3));
    assert_string_equal(grant_waiting(m), "4"); /* and 6 waits for 4 */
    assert_true(release(m, 4));
    assert_string_equal(grant_waiting(m), "6");
    /* Nothing granted is not enough for the whole shard: a queued request is ahead. */
    assert_int_equal(lock(m, 7, "q!"), LOCK_QUEUED);
    assert_true(release(m, 6));
    assert_false(lockmgr_any(m));
    assert_int_equal(lock(m, 8, "*"), LOCK_QUEUED);
    assert_string_equal(grant_waiting(m), "7"); /* 8 waits for 7 */
    assert_true(release(m, 7));
    assert_string_equal(grant_waiting(m), "8");
    lockmgr_free(m);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    /* Exclusive if any occurrence is. */
    assert_int_equal(lock(m, 1, "a a! a"), LOCK_GRANTED);
    assert_true(conflicts(m, "a", false));
    assert_int_equal(lock(m, 2, "a"), LOCK_QUEUED);
    assert_true(release(m, 1));
    assert_string_equal(grant_waiting(m), "2");
    assert_false(conflicts(m, "a", false));
    assert_true(conflicts(m, "a", true));
    /* Shared twice is one shared lock: releases balance it exactly. */
    assert_int_equal(lock(m, 3, "b b"), LOCK_GRANTED);
    assert_int_equal(lock(m, 4, "b"), LOCK_GRANTED);
    assert_true(release(m, 3));
    assert_true(conflicts(m, "b", true));
    assert_true(release(m, 4));
    assert_false(conflicts(m, "b", true));
    assert_int_equal(lock(m, 5, "b! b!"), LOCK_GRANTED);
    assert_true(release(m, 5));
    assert_true(release(m, 2));
    assert_int_equal(lock(m, 6, "a! b!"), LOCK_GRANTED);
    assert_int_equal(lockmgr_granted(m), 1);
    lockmgr_free(m);
}

static void test_binary_and_empty_keys(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    rt_str keys[2] = {{.ptr = "a\0b", .len = 3}, {.ptr = "", .len = 0}};
    bool exclusive[2] = {true, true};
    assert_int_equal(lockmgr_acquire(m, owner(1), false, 2, keys, exclusive, false),
                     LOCK_GRANTED);
    assert_true(lockmgr_conflicts(m, "a\0b", 3, false));
    assert_false(lockmgr_conflicts(m, "a\0c", 3, false));
    assert_false(lockmgr_conflicts(m, "a", 1, true));
    assert_true(lockmgr_conflicts(m, "", 0, false));
    assert_true(release(m, 1));
    assert_false(lockmgr_conflicts(m, "", 0, true));
    lockmgr_free(m);
}

static void test_try_denied_leaves_nothing(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    /* Denied by a granted lock. */
    assert_int_equal(lock(m, 1, "a!"), LOCK_GRANTED);
    assert_int_equal(try_lock(m, 2, "a fresh!"), LOCK_DENIED);
    assert_int_equal(lockmgr_granted(m), 1);
    assert_int_equal(lockmgr_queued(m), 0);
    assert_false(release(m, 2));
    assert_false(conflicts(m, "fresh", true));
    assert_true(release(m, 1));
    assert_string_equal(grant_waiting(m), ""); /* 2 was never queued */
    assert_int_equal(try_lock(m, 2, "a fresh!"), LOCK_GRANTED);
    assert_true(release(m, 2));
    /* Denied by a queued request, though nothing granted conflicts with it. */
    assert_int_equal(lock(m, 3, "b"), LOCK_GRANTED);
    assert_int_equal(lock(m, 4, "b!"), LOCK_QUEUED);
    assert_int_equal(try_lock(m, 5, "b"), LOCK_DENIED);
    assert_int_equal(try_lock(m, 6, "*"), LOCK_DENIED);
    assert_int_equal(try_lock(m, 7, "c"), LOCK_GRANTED);
    assert_int_equal(lockmgr_queued(m), 1);
    assert_int_equal(lockmgr_granted(m), 2);
    assert_false(release(m, 5));
    assert_false(release(m, 6));
    assert_true(release(m, 3));
    assert_string_equal(grant_waiting(m), "4");
    lockmgr_free(m);
}

static void test_fifo_order(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    assert_int_equal(lock(m, 1, "a!"), LOCK_GRANTED); /* X */
    assert_int_equal(lock(m, 2, "a"), LOCK_QUEUED);   /* R1 */
    assert_int_equal(lock(m, 3, "a!"), LOCK_QUEUED);  /* W2 */
    assert_int_equal(lock(m, 4, "a"), LOCK_QUEUED);   /* R3: behind W2 */
    assert_int_equal(lockmgr_queued(m), 3);
    assert_true(release(m, 1));
    assert_string_equal(grant_waiting(m), "2"); /* not R3: W2 is ahead of it */
    assert_int_equal(lock(m, 5, "a"), LOCK_QUEUED); /* a newcomer queues too */
    assert_true(release(m, 2));
    assert_string_equal(grant_waiting(m), "3");
    assert_true(release(m, 3));
    assert_string_equal(grant_waiting(m), "4 5");
    assert_int_equal(lockmgr_queued(m), 0);
    lockmgr_free(m);
}

static void test_queued_request_blocks_free_key(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    assert_int_equal(lock(m, 1, "a!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 2, "a b! c"), LOCK_QUEUED);
    assert_int_equal(lock(m, 3, "b"), LOCK_QUEUED); /* b is free, but 2 waits for it */
    assert_int_equal(try_lock(m, 4, "b"), LOCK_DENIED);
    assert_int_equal(lock(m, 5, "c"), LOCK_GRANTED); /* queued shared: shared may pass */
    assert_int_equal(lock(m, 6, "c!"), LOCK_QUEUED); /* but not exclusive */
    assert_string_equal(grant_waiting(m), "");
    assert_true(release(m, 1));
    assert_string_equal(grant_waiting(m), "2");
    assert_true(release(m, 2));
    assert_string_equal(grant_waiting(m), "3"); /* 6 still waits for 5 */
    assert_true(release(m, 5));
    assert_string_equal(grant_waiting(m), "6");
    /* A queued shared request holds back a later exclusive one on a key nobody holds. */
    assert_int_equal(lock(m, 7, "d!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 8, "d e"), LOCK_QUEUED);
    assert_int_equal(lock(m, 9, "e!"), LOCK_QUEUED);
    /* Also in grant_waiting: 11 waits for f, and keeps 12 off g once g is free. */
    assert_int_equal(lock(m, 20, "g!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 21, "f!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 11, "f g"), LOCK_QUEUED);
    assert_int_equal(lock(m, 12, "g!"), LOCK_QUEUED);
    assert_true(release(m, 20));
    assert_string_equal(grant_waiting(m), "");
    assert_true(release(m, 21));
    assert_string_equal(grant_waiting(m), "11");
    assert_true(release(m, 11));
    assert_string_equal(grant_waiting(m), "12");
    lockmgr_free(m);
}

static void test_independent_keys_not_blocked(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    assert_int_equal(lock(m, 1, "a!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 2, "a"), LOCK_QUEUED);
    assert_int_equal(lock(m, 3, "a!"), LOCK_QUEUED);
    assert_int_equal(lock(m, 4, "b!"), LOCK_GRANTED);
    assert_int_equal(lock(m, 5, "c d"), LOCK_GRANTED);
    assert_int_equal(lock(m, 6, "b"), LOCK_QUEUED);
    assert_int_equal(try_lock(m, 7, "e!"), LOCK_GRANTED);
    /* Requests waiting on a do not hold back 6 once b is free. */
    assert_true(release(m, 4));
    assert_string_equal(grant_waiting(m), "6");
    assert_int_equal(lockmgr_queued(m), 2);
    lockmgr_free(m);
}

static void test_cancel_queued_unblocks(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    assert_int_equal(lock(m, 1, "a"), LOCK_GRANTED);
    assert_int_equal(lock(m, 2, "a!"), LOCK_QUEUED);
    assert_int_equal(lock(m, 3, "a"), LOCK_QUEUED);
    assert_true(release(m, 2)); /* never granted */
    assert_false(release(m, 2));
    assert_int_equal(lockmgr_queued(m), 1);
    assert_string_equal(grant_waiting(m), "3");
    assert_int_equal(lock(m, 4, "a"), LOCK_GRANTED); /* nothing queued in its way now */
    /* A cancelled whole-shard request stops blocking everything. */
    assert_int_equal(lock(m, 5, "*"), LOCK_QUEUED);
    assert_int_equal(lock(m, 6, "x"), LOCK_QUEUED);
    assert_true(release(m, 5));
    assert_string_equal(grant_waiting(m), "6");
    assert_int_equal(lock(m, 7, "y"), LOCK_GRANTED);
    assert_int_equal(lockmgr_granted(m), 5);
    assert_int_equal(lockmgr_queued(m), 0);
    lockmgr_free(m);
}

static void test_conflicts_semantics(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    assert_false(conflicts(m, "r", true));
    assert_int_equal(lock(m, 1, "r"), LOCK_GRANTED);
    assert_int_equal(lock(m, 2, "w!"), LOCK_GRANTED);
    assert_false(conflicts(m, "r", false)); /* reading a shared-locked key */
    assert_true(conflicts(m, "r", true));
    assert_true(conflicts(m, "w", false));
    assert_true(conflicts(m, "w", true));
    assert_false(conflicts(m, "other", true));
    /* Queued requests do not count. */
    assert_int_equal(lock(m, 3, "r!"), LOCK_QUEUED);
    assert_int_equal(lock(m, 4, "*"), LOCK_QUEUED);
    assert_int_equal(lock(m, 5, "q!"), LOCK_QUEUED);
    assert_false(conflicts(m, "r", false));
    assert_false(conflicts(m, "q", true));
    assert_false(lockmgr_whole(m));
    assert_true(release(m, 1));
    assert_true(release(m, 2));
    assert_string_equal(grant_waiting(m), "3");
    assert_true(conflicts(m, "r", false));
    assert_true(release(m, 3));
    assert_string_equal(grant_waiting(m), "4");
    assert_true(lockmgr_whole(m));
    assert_true(conflicts(m, "never-named", false));
    assert_true(release(m, 4));
    assert_string_equal(grant_waiting(m), "5");
    assert_false(lockmgr_whole(m));
    assert_false(conflicts(m, "never-named", true));
    assert_true(conflicts(m, "q", false));
    lockmgr_free(m);
}

static void test_any_and_counts(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    assert_false(lockmgr_any(m));
    assert_false(release(m, 1));
    assert_int_equal(lock(m, 1, "a!"), LOCK_GRANTED);
    assert_true(lockmgr_any(m));
    assert_int_equal(lock(m, 2, "a"), LOCK_QUEUED);
    assert_int_equal(lock(m, 3, "a"), LOCK_QUEUED);
    assert_int_equal(lockmgr_granted(m), 1);
    assert_int_equal(lockmgr_queued(m), 2);
    assert_true(release(m, 1));
    assert_false(lockmgr_any(m)); /* only queued requests until grant_waiting */
    assert_int_equal(lockmgr_queued(m), 2);
    assert_string_equal(grant_waiting(m), "2 3");
    assert_true(lockmgr_any(m));
    assert_int_equal(lockmgr_granted(m), 2);
    assert_int_equal(lockmgr_queued(m), 0);
    lockmgr_free(m); /* frees granted requests too (checked by the leak sanitizer) */
}

static void test_owner_identity(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    const struct lock_owner owners[] = {{0, 1, 1}, {1, 1, 1}, {0, 2, 1}, {0, 1, 2}};
    rt_str key = {.ptr = "k", .len = 1};
    bool shared = false;
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(lockmgr_acquire(m, owners[i], false, 1, &key, &shared, false),
                         LOCK_GRANTED);
    assert_int_equal(lockmgr_granted(m), 4);
    assert_true(lockmgr_release(m, owners[0]));
    assert_false(lockmgr_release(m, owners[0]));
    assert_false(lockmgr_release(m, (struct lock_owner){9, 9, 9}));
    assert_int_equal(lockmgr_granted(m), 3);
    for (size_t i = 1; i < 4; i++)
        assert_true(lockmgr_release(m, owners[i]));
    assert_false(lockmgr_any(m));
    lockmgr_free(m);
}

/* Many requests at once: one hot key, each waiter also naming a key of its own. */
static void test_many_requests(void **state)
{
    (void)state;
    enum { N = 2000 };
    struct lockmgr *m = lockmgr_new();
    char spec[64];
    assert_int_equal(lock(m, 0, "hot!"), LOCK_GRANTED);
    for (uint64_t i = 1; i < N; i++) {
        snprintf(spec, sizeof spec, "hot own%llu!", (unsigned long long)i);
        assert_int_equal(lock(m, i, spec), LOCK_QUEUED);
    }
    assert_int_equal(lock(m, N, "hot!"), LOCK_QUEUED);
    assert_true(release(m, 0));
    struct grants g = {.len = 0};
    lockmgr_grant_waiting(m, on_grant, &g);
    assert_int_equal(lockmgr_granted(m), N - 1);
    assert_int_equal(lockmgr_queued(m), 1);
    assert_true(strncmp(g.text, "1 2 3 4 5 ", 10) == 0);
    /* In reverse order, so releases do not follow arrival. */
    for (uint64_t i = N - 1; i >= 1; i--) {
        assert_true(release(m, i));
        assert_string_equal(grant_waiting(m), i == 1 ? "2000" : "");
    }
    assert_true(conflicts(m, "hot", false));
    assert_false(conflicts(m, "own7", true));
    lockmgr_free(m);
}

/* ---- Randomized, against a model ---- */

#define RAND_KEYS 12
#define RAND_OWNERS 40

enum model_state { M_NONE, M_GRANTED, M_QUEUED };

struct model_req {
    enum model_state state;
    bool whole;
    uint32_t shared, exclusive; /* key bit masks, duplicates merged */
};

struct model {
    struct model_req req[RAND_OWNERS];
    uint64_t queue[RAND_OWNERS]; /* queued owners in arrival order */
    size_t nqueue;
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static bool model_conflict(const struct model_req *a, const struct model_req *b)
{
    return a->whole || b->whole || (a->exclusive & (b->exclusive | b->shared)) ||
           (b->exclusive & a->shared);
}

static size_t model_count(const struct model *md, enum model_state st)
{
    size_t n = 0;
    for (size_t i = 0; i < RAND_OWNERS; i++)
        n += md->req[i].state == st;
    return n;
}

/* The rule for a new request: compatible with every granted and every queued one. */
static enum lock_result model_acquire(const struct model *md, const struct model_req *r)
{
    for (size_t i = 0; i < RAND_OWNERS; i++)
        if (md->req[i].state != M_NONE && model_conflict(r, &md->req[i]))
            return LOCK_QUEUED;
    return LOCK_GRANTED;
}

/* The grants lockmgr_grant_waiting must make, as its text, applying them to md: in
 * queue order, past every granted request and every one still waiting ahead. */
static const char *model_grant_waiting(struct model *md)
{
    static struct grants g;
    g.len = 0;
    g.text[0] = '\0';
    size_t kept = 0;
    for (size_t q = 0; q < md->nqueue; q++) {
        uint64_t id = md->queue[q];
        bool ok = true;
        for (size_t i = 0; i < RAND_OWNERS && ok; i++)
            if (md->req[i].state == M_GRANTED && model_conflict(&md->req[id], &md->req[i]))
                ok = false;
        for (size_t k = 0; k < kept && ok; k++)
            if (model_conflict(&md->req[id], &md->req[md->queue[k]]))
                ok = false;
        if (ok) {
            md->req[id].state = M_GRANTED;
            on_grant(&g, owner(id));
        } else {
            md->queue[kept++] = id;
        }
    }
    md->nqueue = kept;
    return g.text;
}

static void check_against_model(const struct lockmgr *m, const struct model *md)
{
    assert_int_equal(lockmgr_granted(m), model_count(md, M_GRANTED));
    assert_int_equal(lockmgr_queued(m), model_count(md, M_QUEUED));
    assert_int_equal(lockmgr_queued(m), md->nqueue);
    assert_int_equal(lockmgr_any(m), model_count(md, M_GRANTED) > 0);
    bool whole = false;
    uint32_t shared = 0, exclusive = 0;
    for (size_t i = 0; i < RAND_OWNERS; i++) {
        const struct model_req *a = &md->req[i];
        if (a->state != M_GRANTED)
            continue;
        whole |= a->whole;
        shared |= a->shared;
        exclusive |= a->exclusive;
        for (size_t j = i + 1; j < RAND_OWNERS; j++)
            if (md->req[j].state == M_GRANTED && model_conflict(a, &md->req[j]))
                fail_msg("granted requests %zu and %zu conflict", i, j);
    }
    assert_int_equal(lockmgr_whole(m), whole);
    for (unsigned k = 0; k < RAND_KEYS; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%u", k);
        uint32_t bit = 1u << k;
        assert_int_equal(conflicts(m, key, false), whole || (exclusive & bit));
        assert_int_equal(conflicts(m, key, true), whole || ((exclusive | shared) & bit));
    }
}

/* A random request for owner id: sometimes the whole shard, else 0-5 keys with
 * duplicates likely; returns what lockmgr_acquire said. */
static enum lock_result random_acquire(struct lockmgr *m, uint64_t id, uint64_t *rng,
                                       struct model_req *r, bool try)
{
    *r = (struct model_req){.state = M_NONE};
    if (rng_next(rng) % 12 == 0) {
        r->whole = true;
        return lockmgr_acquire(m, owner(id), true, 0, NULL, NULL, try);
    }
    char names[6][8];
    rt_str keys[6];
    bool exclusive[6];
    size_t n = rng_next(rng) % 6;
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)(rng_next(rng) % RAND_KEYS);
        snprintf(names[i], sizeof names[i], "k%u", k);
        keys[i] = (rt_str){.ptr = names[i], .len = strlen(names[i])};
        exclusive[i] = rng_next(rng) % 3 == 0;
        if (exclusive[i])
            r->exclusive |= 1u << k;
        else
            r->shared |= 1u << k;
    }
    r->shared &= ~r->exclusive;
    return lockmgr_acquire(m, owner(id), false, n, keys, exclusive, try);
}

static void model_release(struct model *md, uint64_t id)
{
    md->req[id].state = M_NONE;
    size_t kept = 0;
    for (size_t q = 0; q < md->nqueue; q++)
        if (md->queue[q] != id)
            md->queue[kept++] = md->queue[q];
    md->nqueue = kept;
}

static void random_run(uint64_t seed, int steps)
{
    struct lockmgr *m = lockmgr_new();
    struct model md = {.nqueue = 0};
    uint64_t rng = seed;
    for (int step = 0; step < steps; step++) {
        uint64_t id = rng_next(&rng) % RAND_OWNERS;
        struct model_req *r = &md.req[id];
        if (r->state == M_NONE && rng_next(&rng) % 8 == 0) {
            assert_false(lockmgr_release(m, owner(id)));
        } else if (r->state == M_NONE) {
            bool try = rng_next(&rng) % 4 == 0;
            struct model_req want;
            enum lock_result got = random_acquire(m, id, &rng, &want, try);
            enum lock_result expect = model_acquire(&md, &want);
            if (try && expect == LOCK_QUEUED)
                expect = LOCK_DENIED;
            if (got != expect)
                fail_msg("seed %llu step %d: owner %llu got %d, expected %d",
                         (unsigned long long)seed, step, (unsigned long long)id, got, expect);
            *r = want;
            if (got == LOCK_GRANTED)
                r->state = M_GRANTED;
            else if (got == LOCK_QUEUED) {
                r->state = M_QUEUED;
                md.queue[md.nqueue++] = id;
            }
        } else {
            assert_true(lockmgr_release(m, owner(id)));
            model_release(&md, id);
            /* Usually grant at once; sometimes let releases pile up first. */
            if (rng_next(&rng) % 4 != 0) {
                const char *expect = model_grant_waiting(&md);
                assert_string_equal(grant_waiting(m), expect);
            }
        }
        check_against_model(m, &md);
    }

    /* Drain: holders release and the queue must empty; nothing may be left stuck. */
    assert_string_equal(grant_waiting(m), model_grant_waiting(&md));
    while (model_count(&md, M_GRANTED)) {
        for (uint64_t id = 0; id < RAND_OWNERS; id++) {
            if (md.req[id].state != M_GRANTED)
                continue;
            assert_true(lockmgr_release(m, owner(id)));
            model_release(&md, id);
            const char *expect = model_grant_waiting(&md);
            assert_string_equal(grant_waiting(m), expect);
            check_against_model(m, &md);
        }
        /* Nothing granted means nothing may be waiting. */
        if (!model_count(&md, M_GRANTED))
            assert_int_equal(lockmgr_queued(m), 0);
    }
    assert_int_equal(lockmgr_granted(m), 0);
    assert_int_equal(lockmgr_queued(m), 0);
    assert_false(lockmgr_any(m));
    lockmgr_free(m);
}

static void test_randomized_against_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++)
        random_run(seed * 0x9e3779b97f4a7c15ULL, 3000);
}

/* Randomized, and freed with requests still granted and queued. */
static void test_free_with_requests(void **state)
{
    (void)state;
    struct lockmgr *m = lockmgr_new();
    uint64_t rng = 12345;
    struct model_req r;
    for (uint64_t id = 0; id < RAND_OWNERS; id++)
        random_acquire(m, id, &rng, &r, false);
    assert_int_equal(lockmgr_granted(m) + lockmgr_queued(m), RAND_OWNERS);
    assert_true(lockmgr_queued(m) > 0);
    lockmgr_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_shared_granted),
        cmocka_unit_test(test_shared_exclusive_conflict),
        cmocka_unit_test(test_whole_vs_keys),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_binary_and_empty_keys),
        cmocka_unit_test(test_try_denied_leaves_nothing),
        cmocka_unit_test(test_fifo_order),
        cmocka_unit_test(test_queued_request_blocks_free_key),
        cmocka_unit_test(test_independent_keys_not_blocked),
        cmocka_unit_test(test_cancel_queued_unblocks),
        cmocka_unit_test(test_conflicts_semantics),
        cmocka_unit_test(test_any_and_counts),
        cmocka_unit_test(test_owner_identity),
        cmocka_unit_test(test_many_requests),
        cmocka_unit_test(test_randomized_against_model),
        cmocka_unit_test(test_free_with_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
