/* Blocking commands in the runtime (wait.c), end to end in process with the example
 * command set's TAKE (a semaphore: wait for a positive counter, decrement it). Also run
 * under ThreadSanitizer by `make test`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "rt_harness.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A blocked connection reads nothing more: the PING behind a TAKE that times out is
 * answered after it, and the timeout is kept. */
static void pipelined_timeout(unsigned shards)
{
    struct server s;
    start(&s, shards);
    int fd = dial(s.port);
    for (int k = 0; k < 8; k++) {
        char req[128];
        snprintf(req, sizeof req, "TAKE nokey%d 100\r\nPING\r\nINCR other%d\r\n", k, k);
        long long t0 = now_ms();
        send_str(fd, req);
        char *got = read_n(fd, strlen("$-1\r\n+PONG\r\n:1\r\n"));
        long long took = now_ms() - t0;
        assert_string_equal(got, "$-1\r\n+PONG\r\n:1\r\n");
        free(got);
        assert_true(took >= 100);
        assert_true(took < 2000); /* test_blocking.py bounds it tighter */
    }
    close(fd);
    stop(&s);
}

static void test_pipelined_timeout_one_shard(void **state)
{
    (void)state;
    pipelined_timeout(1);
}

static void test_pipelined_timeout_four_shards(void **state)
{
    (void)state;
    pipelined_timeout(4);
}

/* Waiter i waits on "sem<i % KEYS>" when odd; when even, on two keys of its own,
 * "pair<i>a" and "pair<i>b" (often on two shards), of which only one is incremented:
 * so every increment has exactly one waiter that can take it. */
enum { WAITERS = 64, KEYS = 6 };

static void waiter_request(int i, char *req, size_t cap)
{
    if (i % 2)
        snprintf(req, cap, "TAKE sem%d 0\r\n", i % KEYS);
    else
        snprintf(req, cap, "TAKE pair%da pair%db 0\r\n", i, i);
}

static void increment_for(int i, char *req, size_t cap)
{
    if (i % 2)
        snprintf(req, cap, "INCR sem%d\r\n", i % KEYS);
    else
        snprintf(req, cap, "INCR pair%d%c\r\n", i, i % 4 ? 'a' : 'b');
}

struct incr_worker {
    int port, from, n;
};

static void *incr_worker(void *arg)
{
    struct incr_worker *w = arg;
    int fd = dial(w->port);
    for (int i = w->from; i < w->from + w->n; i++) {
        char req[64];
        increment_for(i, req, sizeof req);
        send_str(fd, req);
        assert_true(read_int(fd) >= 1);
    }
    close(fd);
    return NULL;
}

/* The sum of every counter the waiters use. */
static long long sum_all(int port)
{
    int fd = dial(port);
    char req[2048] = "SUM";
    for (int k = 0; k < KEYS; k++)
        snprintf(req + strlen(req), sizeof req - strlen(req), " sem%d", k);
    for (int i = 0; i < WAITERS; i += 2)
        snprintf(req + strlen(req), sizeof req - strlen(req), " pair%da pair%db", i, i);
    strcat(req, "\r\n");
    send_str(fd, req);
    long long v = read_int(fd);
    close(fd);
    return v;
}

/* Waiters on keys of every shard (one or two keys each, so some wait across shards),
 * woken by increments from other connections: every unit is taken exactly once, and
 * every waiter is served. */
static void semaphore(unsigned shards)
{
    struct server s;
    start(&s, shards);
    int fds[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        fds[i] = dial(s.port);
        char req[64];
        waiter_request(i, req, sizeof req);
        send_str(fds[i], req);
    }
    pthread_t t[2];
    struct incr_worker w[2] = {{s.port, 0, WAITERS / 2}, {s.port, WAITERS / 2, WAITERS / 2}};
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, incr_worker, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* Every waiter is served once: a bulk reply naming a key. */
    for (int i = 0; i < WAITERS; i++) {
        char line[64];
        read_line_into(fds[i], line, sizeof line);
        assert_int_equal(line[0], '$');
        read_line_into(fds[i], line, sizeof line);
        assert_true(strncmp(line, "sem", 3) == 0 || strncmp(line, "pair", 4) == 0);
        close(fds[i]);
    }
    assert_int_equal(sum_all(s.port), 0);
    stop(&s);
}

static void test_semaphore_four_shards(void **state)
{
    (void)state;
    semaphore(4);
}

static void test_semaphore_eight_shards(void **state)
{
    (void)state;
    semaphore(8);
}

/* Waiters that go away (half-close, reading whatever arrives) while increments come:
 * what they received plus what is left equals what was added, so nothing taken for a
 * leaving client is lost. */
static void test_leaving_waiters_lose_nothing(void **state)
{
    (void)state;
    struct server s;
    start(&s, 4);
    long long received = 0, added = 0;
    for (int round = 0; round < 10; round++) {
        int fds[WAITERS];
        for (int i = 0; i < WAITERS; i++) {
            fds[i] = dial(s.port);
            char req[64];
            waiter_request(i, req, sizeof req);
            send_str(fds[i], req);
        }
        pthread_t t;
        struct incr_worker w = {s.port, round % 2, WAITERS / 2};
        pthread_create(&t, NULL, incr_worker, &w);
        added += WAITERS / 2;
        for (int i = 0; i < WAITERS; i++)
            shutdown(fds[i], SHUT_WR);
        pthread_join(t, NULL);
        for (int i = 0; i < WAITERS; i++) {
            char b[256];
            size_t n = 0;
            for (;;) {
                struct pollfd p = {.fd = fds[i], .events = POLLIN};
                assert_int_equal(poll(&p, 1, 10000), 1);
                ssize_t r = read(fds[i], b + n, sizeof b - 1 - n);
                assert_true(r >= 0);
                if (r == 0)
                    break;
                n += (size_t)r;
            }
            b[n] = 0;
            if (n)
                received += b[0] == '$' && b[1] != '-';
            close(fds[i]);
        }
    }
    assert_int_equal(received + sum_all(s.port), added);
    stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelined_timeout_one_shard),
        cmocka_unit_test(test_pipelined_timeout_four_shards),
        cmocka_unit_test(test_semaphore_four_shards),
        cmocka_unit_test(test_semaphore_eight_shards),
        cmocka_unit_test(test_leaving_waiters_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
