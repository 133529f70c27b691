/* The runtime end to end, in process, with the example command set: pipelined
 * commands over keys of every shard come back in order, multi-shard DEL and fan-out
 * DBSIZE reduce correctly, with more shards than CPUs. Run under ThreadSanitizer by
 * `make test` to check the messaging between shards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rt_harness.h"

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

/* Out-of-band blocks reach a slow reader whole and in order: with a small receive
 * buffer and small reads, the server's writes come up short inside blocks and resume
 * at the next byte; pushes a command makes to its own connection follow its reply, and
 * go before later replies. */
static void append_blob(struct buf *want, long size, int count)
{
    buf_puts(want, "+OK\r\n");
    for (int k = 0; k < count; k++) {
        buf_printf(want, "$%ld\r\n", size);
        for (long j = 0; j < size; j++)
            buf_putc(want, (char)('a' + j % 23));
        buf_puts(want, "\r\n");
    }
}

static void push_blocks(unsigned shards)
{
    struct server s;
    start(&s, shards);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    /* Only commands run on the connection's shard: a forwarded command's reply, still
     * pending when a later command pushes, would come after the pushed bytes. */
    const char req[] = "PING\r\nBLOB 1048576 3\r\nPING\r\nBLOB 1000 5\r\nBLOB 100 2\r\n"
                       "BLOB 70000 40\r\nPING\r\n";
    send_all(fd, req, sizeof req - 1);
    struct buf want = {0};
    buf_puts(&want, "+PONG\r\n");
    append_blob(&want, 1048576, 3);
    buf_puts(&want, "+PONG\r\n");
    append_blob(&want, 1000, 5);
    append_blob(&want, 100, 2);
    append_blob(&want, 70000, 40);
    buf_puts(&want, "+PONG\r\n");
    char *got = malloc(want.len);
    size_t n = 0;
    int reads = 0;
    while (n < want.len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        size_t chunk = want.len - n < 3001 ? want.len - n : 3001;
        ssize_t r = read(fd, got + n, chunk);
        assert_true(r > 0);
        n += (size_t)r;
        if (++reads % 64 == 0)
            usleep(1000); /* a slow reader: the server's socket buffer fills */
    }
    bool same = memcmp(got, want.data, want.len) == 0;
    free(got);
    buf_free(&want);
    close(fd);
    stop(&s);
    assert_true(same);
}

static void test_push_blocks_one_shard(void **state)
{
    (void)state;
    push_blocks(1);
}

static void test_push_blocks_four_shards(void **state)
{
    (void)state;
    push_blocks(4);
}

/* rt_client_kill: another client closes at once; a client killing itself gets its
 * reply, and nothing after it runs. */
static void test_kill(void **state)
{
    (void)state;
    struct server s;
    start(&s, 1);
    int a = dial(s.port), b = dial(s.port);
    send_all(a, "MYID\r\n", 6);
    long long ida = strtoll(read_line(a) + 1, NULL, 10);
    char req[64];
    int n = snprintf(req, sizeof req, "KILL %lld\r\nKILL %lld\r\n", ida, ida);
    send_all(b, req, (size_t)n);
    assert_string_equal(read_line(b), ":1\r\n");
    assert_string_equal(read_line(b), ":0\r\n"); /* gone already */
    assert_closed(a);
    close(a);
    send_all(b, "MYID\r\n", 6);
    long long idb = strtoll(read_line(b) + 1, NULL, 10);
    n = snprintf(req, sizeof req, "PING\r\nKILL %lld\r\nINCR x\r\n", idb);
    send_all(b, req, (size_t)n);
    assert_string_equal(read_line(b), "+PONG\r\n");
    assert_string_equal(read_line(b), ":1\r\n");
    assert_closed(b);
    close(b);
    int c = dial(s.port);
    send_all(c, "GET x\r\n", 7);
    assert_string_equal(read_line(c), "$-1\r\n"); /* INCR after the kill never ran */
    close(c);
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
        cmocka_unit_test(test_push_blocks_one_shard),
        cmocka_unit_test(test_push_blocks_four_shards),
        cmocka_unit_test(test_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
