/* An in-process runtime with the example command set, and a tiny blocking client for
 * it, shared by the runtime's unit tests. Every wait is bounded (10 s), so a hang fails. */
#ifndef COREKV_TEST_RT_HARNESS_H
#define COREKV_TEST_RT_HARNESS_H

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

static inline int harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static inline void *harness_run(void *arg)
{
    rt_run(arg);
    return NULL;
}

static inline int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static inline void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

static inline void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

/* Read until `want` bytes arrived. */
static inline char *read_n(int fd, size_t want)
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

/* Read one line (CRLF included) into line[cap]. */
static inline void read_line_into(int fd, char *line, size_t cap)
{
    size_t n = 0;
    while (n < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        assert_int_equal(read(fd, &line[n], 1), 1);
        if (line[n++] == '\n')
            break;
    }
    line[n] = 0;
}

/* One line, in static storage (for the test's main thread only). */
static inline const char *read_line(int fd)
{
    static char line[128];
    read_line_into(fd, line, sizeof line);
    return line;
}

/* EOF (or a reset) within 10 s. */
static inline void assert_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);
    char c;
    assert_true(read(fd, &c, 1) <= 0);
}

/* One integer reply. */
static inline long long read_int(int fd)
{
    char line[64];
    read_line_into(fd, line, sizeof line);
    assert_int_equal(line[0], ':');
    return strtoll(line + 1, NULL, 10);
}

struct server {
    struct rt *rt;
    pthread_t thread;
    int port;
};

static inline void start(struct server *s, unsigned shards)
{
    struct rt_options o;
    rt_options_default(&o);
    o.nshards = shards;
    /* The reactor: auto unless COREKV_IO says (make unit runs these tests on both). */
    const char *io = getenv("COREKV_IO");
    if (io && !strcmp(io, "epoll"))
        o.io = RT_IO_EPOLL;
    else if (io && !strcmp(io, "uring"))
        o.io = RT_IO_URING;
    s->port = o.port = harness_free_port();
    char err[256];
    s->rt = rt_create(&o, &counter_commands, err, sizeof err);
    if (!s->rt)
        fail_msg("rt_create: %s", err);
    assert_int_equal(pthread_create(&s->thread, NULL, harness_run, s->rt), 0);
}

static inline void stop(struct server *s)
{
    rt_stop(s->rt);
    pthread_join(s->thread, NULL);
    rt_destroy(s->rt);
}

#endif
