/* The runtime end to end, in process, with the example command set: pipelined
 * commands over keys of every shard come back in order, multi-shard DEL and fan-out
 * DBSIZE reduce correctly, with more shards than CPUs. Run under ThreadSanitizer by
 * `make test` to check the messaging between shards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../examples/counter_cmds.h"

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void *run(void *arg)
{
    rt_run(arg);
    return NULL;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* Read until `want` bytes arrived (with a 10 s limit per wait: a hang fails). */
static char *read_n(int fd, size_t want)
{
    char *b = malloc(want + 1);
    size_t got = 0;
    while (got < want) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t r = read(fd, b + got, want - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    b[got] = 0;
    return b;
}

struct server {
    struct rt *rt;
    pthread_t thread;
    int port;
};

static void start(struct server *s, unsigned shards)
{
    struct rt_options o;
    rt_options_default(&o);
    o.nshards = shards;
    s->port = o.port = free_port();
    char err[256];
    s->rt = rt_create(&o, &counter_commands, err, sizeof err);
    if (!s->rt)
        fail_msg("rt_create: %s", err);
    assert_int_equal(pthread_create(&s->thread, NULL, run, s->rt), 0);
}

static void stop(struct server *s)
{
    rt_stop(s->rt);
    pthread_join(s->thread, NULL);
    rt_destroy(s->rt);
}

static void pipeline_in_order(unsigned shards)
{
    struct server s;
    start(&s, shards);
    int fd = dial(s.port);
    /* Three rounds of INCR over 64 keys (spread over every shard), then GETs. */
    struct buf req = {0}, want = {0};
    for (int round = 1; round <= 3; round++)
        for (int k = 0; k < 64; k++) {
            buf_printf(&req, "*2\r\n$4\r\nINCR\r\n$%d\r\nkey:%d\r\n", k < 10 ? 5 : 6, k);
            buf_printf(&want, ":%d\r\n", round);
        }
    for (int k = 0; k < 64; k++) {
        buf_printf(&req, "GET key:%d\r\n", k); /* inline commands too */
        buf_printf(&want, "$1\r\n3\r\n");
    }
    buf_puts(&req, "DBSIZE\r\nDEL key:1 key:2 key:3 key:40 nokey\r\nDBSIZE\r\nPING\r\n");
    buf_puts(&want, ":64\r\n:4\r\n:60\r\n+PONG\r\n");
    buf_putc(&want, 0); /* a C string for the comparison */
    want.len--;
    send_all(fd, req.data, req.len);
    char *got = read_n(fd, want.len);
    assert_string_equal(got, want.data);
    free(got);
    /* QUIT: its reply, then the connection closes. */
    send_all(fd, "QUIT\r\nPING\r\n", 12);
    got = read_n(fd, 5);
    assert_string_equal(got, "+OK\r\n");
    free(got);
    char c;
    assert_int_equal(read(fd, &c, 1), 0);
    close(fd);
    buf_free(&req);
    buf_free(&want);
    stop(&s);
}

static void test_one_shard(void **state)
{
    (void)state;
    pipeline_in_order(1);
}

static void test_four_shards(void **state)
{
    (void)state;
    pipeline_in_order(4);
}

static void test_eight_shards_on_fewer_cpus(void **state)
{
    (void)state;
    pipeline_in_order(8);
}

struct worker {
    int port, id;
    int ok;
};

static void *client_worker(void *arg)
{
    struct worker *w = arg;
    int fd = dial(w->port);
    struct buf req = {0};
    for (int i = 0; i < 500; i++)
        buf_printf(&req, "INCR c%d:%d\r\n", w->id, i % 16);
    send_all(fd, req.data, req.len);
    struct buf want = {0};
    for (int i = 0; i < 500; i++)
        buf_printf(&want, ":%d\r\n", i / 16 + 1);
    buf_putc(&want, 0);
    want.len--;
    char *got = read_n(fd, want.len);
    w->ok = strcmp(got, want.data) == 0;
    free(got);
    buf_free(&req);
    buf_free(&want);
    close(fd);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    struct server s;
    start(&s, 4);
    enum { N = 16 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.port = s.port, .id = i};
        pthread_create(&t[i], NULL, client_worker, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].ok);
    }
    int fd = dial(s.port);
    send_all(fd, "DBSIZE\r\n", 8);
    char *got = read_n(fd, 6);
    assert_string_equal(got, ":256\r\n");
    free(got);
    close(fd);
    stop(&s);
}

/* Read one line (a small integer reply), byte by byte, with a 10 s limit per wait. */
static long long read_int(int fd)
{
    char line[64];
    size_t n = 0;
    while (n < sizeof line - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        assert_int_equal(read(fd, &line[n], 1), 1);
        if (line[n++] == '\n')
            break;
    }
    line[n] = 0;
    assert_int_equal(line[0], ':');
    return strtoll(line + 1, NULL, 10);
}

enum { ISO_KEYS = 16, ISO_ROUNDS = 150, ISO_WRITERS = 3, ISO_READERS = 3 };

static void iso_keys(struct buf *b, const char *verb)
{
    buf_printf(b, "%s", verb);
    for (int k = 0; k < ISO_KEYS; k++)
        buf_printf(b, " iso%d", k);
    buf_puts(b, "\r\n");
}

struct iso_worker {
    int port;
    bool writer;
    int torn; /* reads that saw some counters incremented and others not */
};

static void *iso_worker(void *arg)
{
    struct iso_worker *w = arg;
    int fd = dial(w->port);
    struct buf req = {0};
    iso_keys(&req, w->writer ? "MINCR" : "SUM");
    for (int i = 0; i < ISO_ROUNDS; i++) {
        send_all(fd, req.data, req.len);
        long long v = read_int(fd);
        if (w->writer)
            assert_int_equal(v, ISO_KEYS);
        else if (v % ISO_KEYS)
            w->torn++;
    }
    buf_free(&req);
    close(fd);
    return NULL;
}

/* Multi-shard writes and reads of the same keys are isolated: every SUM sees all the
 * counters at the same count. */
static void test_isolation(void **state)
{
    (void)state;
    struct server s;
    start(&s, 4);
    enum { N = ISO_WRITERS + ISO_READERS };
    pthread_t t[N];
    struct iso_worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct iso_worker){.port = s.port, .writer = i < ISO_WRITERS};
        pthread_create(&t[i], NULL, iso_worker, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].torn, 0);
    }
    int fd = dial(s.port);
    struct buf req = {0};
    iso_keys(&req, "SUM");
    send_all(fd, req.data, req.len);
    assert_int_equal(read_int(fd), (long long)ISO_KEYS * ISO_WRITERS * ISO_ROUNDS);
    buf_free(&req);
    close(fd);
    stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_shard),
        cmocka_unit_test(test_four_shards),
        cmocka_unit_test(test_eight_shards_on_fewer_cpus),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_isolation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
