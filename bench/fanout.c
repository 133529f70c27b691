/* fanout: a pub/sub fan-out load generator for bench/run.py; usage() says how to run it.
 *
 * One publisher sends -n PUBLISHes of a -d byte payload on one channel, keeping up to -P
 * of them in flight; -s subscribers receive them. The figure is messages delivered per
 * second: all the messages every subscriber received, over the time from the first
 * PUBLISH written to the last message read.
 *
 * The client must not be what limits the rate: subscribers are read with one large recv()
 * per readiness, and a message frame has a known size (fixed channel, fixed payload
 * length), so checking one is a memcmp against the frame the subscriber expects next,
 * whose payload ends in the message's sequence number (12 digits, incremented in place).
 * So every message is verified: each subscriber gets every message once, in order, and
 * every PUBLISH reply is the subscriber count.
 *
 * The publisher never runs more than -L messages ahead of the slowest subscriber, so a
 * server faster at taking PUBLISHes than at delivering them fills no output buffer up to
 * the pubsub output limit: the run is closed-loop, at the rate of delivery.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SOCK_CLOEXEC */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SEQ_DIGITS 12            /* the sequence number closing every payload */
#define MAX_SUBS 4096
#define RECV_BYTES (1u << 20)    /* one recv() reads up to this much */
#define MAX_PROBLEMS_SHOWN 5
#define STALL_SECONDS 10.0       /* give up when nothing arrived for this long */
#define SETUP_TIMEOUT_MS 10000

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fanout: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Adds one to a decimal number written in n digits (wrapping at 10^n). */
static void increment_digits(char *d, size_t n)
{
    while (n-- > 0) {
        if (d[n] != '9') {
            d[n]++;
            return;
        }
        d[n] = '0';
    }
}

static void write_digits(char *d, size_t n, uint64_t v)
{
    while (n-- > 0) {
        d[n] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* ---- connections -------------------------------------------------------- */

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai), fd, one = 1;
    if (rc)
        die("%s:%s: %s", host, port, gai_strerror(rc));
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("cannot connect to %s:%s: %s", host, port, strerror(errno));
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        die("fcntl: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, SETUP_TIMEOUT_MS) <= 0)
                die("write: timed out");
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("write: %s", w < 0 ? strerror(errno) : "closed");
        p += w;
        n -= (size_t)w;
    }
}

/* Set-up only: reads until buf holds `want` bytes (want > 0) or, with want 0, a line
 * ending in CRLF; returns the bytes read. */
static size_t read_setup(int fd, char *buf, size_t cap, size_t want)
{
    size_t len = 0;
    for (;;) {
        if (want ? len >= want : (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n'))
            return len;
        if (len == cap)
            die("set-up reply too long: %.*s", (int)(len < 80 ? len : 80), buf);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, SETUP_TIMEOUT_MS) <= 0)
            die("no set-up reply within %d ms", SETUP_TIMEOUT_MS);
        ssize_t r = read(fd, buf + len, want ? want - len : 1);
        if (r == 0)
            die("server closed a connection during set-up");
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            die("read: %s", strerror(errno));
        if (r > 0)
            len += (size_t)r;
    }
}

/* CLIENT ID of a fresh connection: its shard is id & 63 on corekv. */
static unsigned long long client_id(int fd)
{
    static const char cmd[] = "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n";
    char buf[64];
    send_all(fd, cmd, sizeof cmd - 1);
    size_t n = read_setup(fd, buf, sizeof buf, 0);
    if (buf[0] != ':')
        die("CLIENT ID replied %.*s", (int)n - 2, buf);
    return strtoull(buf + 1, NULL, 10);
}

/* ---- the run ------------------------------------------------------------ */

struct sub {
    int fd;
    uint64_t got;          /* messages received and checked */
    size_t carry_len;      /* bytes of a partial frame kept in carry */
    char *carry;           /* frame_len bytes */
    char *expect;          /* the next frame expected, its digits advanced per frame */
    bool broken;           /* a frame did not match: only bytes are counted from here */
    uint64_t bytes;
};

static struct {
    size_t frame_len, digits_at;   /* a message frame; where its sequence digits are */
    size_t cmd_len, cmd_digits_at; /* a PUBLISH command; same */
    char *cmd;                     /* the PUBLISH template */
    char reply[32];                /* ":S\r\n" */
    size_t reply_len;
    uint64_t publishes, window, lag;
    struct sub *subs;
    unsigned nsubs;
    /* the publisher */
    int pub_fd;
    uint64_t sent, replied;
    char *out;                     /* unsent commands */
    size_t out_len, out_off, out_cap;
    bool want_write;
    char *reply_carry;
    size_t reply_carry_len;
    int epfd;
    /* verdict */
    uint64_t bad_replies, bad_frames;
    unsigned problems;
    double last_progress;
} run;

static void problem(const char *what, const char *p, size_t len)
{
    if (run.problems++ < MAX_PROBLEMS_SHOWN)
        fprintf(stderr, "fanout: %s: %.*s\n", what, (int)(len > 120 ? 120 : len), p);
}

static void set_write_interest(bool on)
{
    if (on == run.want_write)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = NULL};
    if (epoll_ctl(run.epfd, EPOLL_CTL_MOD, run.pub_fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    run.want_write = on;
}

static void flush_publisher(void)
{
    while (run.out_off < run.out_len) {
        ssize_t w = write(run.pub_fd, run.out + run.out_off, run.out_len - run.out_off);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (w < 0)
            die("publisher write: %s", strerror(errno));
        run.out_off += (size_t)w;
    }
    if (run.out_off == run.out_len)
        run.out_off = run.out_len = 0;
    set_write_interest(run.out_len > 0);
}

static uint64_t slowest_subscriber(void)
{
    uint64_t m = UINT64_MAX;
    for (unsigned i = 0; i < run.nsubs; i++)
        if (!run.subs[i].broken && run.subs[i].got < m)
            m = run.subs[i].got;
    return m == UINT64_MAX ? run.sent : m;
}

/* Tops the window up when it is half empty and no subscriber lags too far behind. */
static void refill(void)
{
    uint64_t inflight = run.sent - run.replied, slowest = slowest_subscriber();
    if (run.sent == run.publishes || inflight > run.window / 2 ||
        (slowest < run.sent && run.sent - slowest > run.lag))
        return;
    uint64_t k = run.window - inflight;
    if (k > run.publishes - run.sent)
        k = run.publishes - run.sent;
    size_t need = run.out_len + (size_t)k * run.cmd_len;
    if (need > run.out_cap) {
        run.out = realloc(run.out, need);
        if (!run.out)
            die("out of memory");
        run.out_cap = need;
    }
    for (uint64_t i = 0; i < k; i++) {
        char *c = run.out + run.out_len;
        memcpy(c, run.cmd, run.cmd_len);
        write_digits(c + run.cmd_digits_at, SEQ_DIGITS, run.sent++);
        run.out_len += run.cmd_len;
    }
    flush_publisher();
}

static void read_publisher(char *rbuf)
{
    size_t rl = run.reply_len;
    memcpy(rbuf, run.reply_carry, run.reply_carry_len);
    ssize_t r = read(run.pub_fd, rbuf + run.reply_carry_len, RECV_BYTES);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0)
        die("the server closed the publisher's connection%s%s", r < 0 ? ": " : "",
            r < 0 ? strerror(errno) : "");
    size_t len = run.reply_carry_len + (size_t)r, pos = 0;
    while (len - pos >= rl) {
        if (memcmp(rbuf + pos, run.reply, rl) != 0) {
            /* Not the count expected: skip that reply (to its CRLF) and go on. */
            char *e = memchr(rbuf + pos, '\n', len - pos);
            if (!e)
                break;
            problem("unexpected PUBLISH reply", rbuf + pos, (size_t)(e - rbuf - pos) - 1);
            run.bad_replies++;
            run.replied++;
            pos = (size_t)(e - rbuf) + 1;
            continue;
        }
        run.replied++;
        pos += rl;
    }
    if (len - pos > sizeof run.reply + 64)
        die("a PUBLISH reply without an end: %.*s", 80, rbuf + pos);
    run.reply_carry_len = len - pos;
    memcpy(run.reply_carry, rbuf + pos, run.reply_carry_len);
    run.last_progress = now_seconds();
}

/* Checks the whole frames in p[0..len): each one must be the next expected. Returns the
 * bytes used. */
static size_t check_frames(struct sub *s, const char *p, size_t len)
{
    size_t fl = run.frame_len, pos = 0;
    if (s->broken)
        return len - len % fl;
    for (; len - pos >= fl; pos += fl) {
        if (memcmp(p + pos, s->expect, fl) != 0) {
            problem("unexpected message (expected the frame below instead)", p + pos, fl);
            problem("expected", s->expect, fl);
            run.bad_frames++;
            s->broken = true;
            return len - len % fl;
        }
        s->got++;
        increment_digits(s->expect + run.digits_at, SEQ_DIGITS);
    }
    return pos;
}

static void read_subscriber(struct sub *s, char *rbuf)
{
    ssize_t r = read(s->fd, rbuf + s->carry_len, RECV_BYTES);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0)
        die("the server closed subscriber %ld's connection after %llu messages%s%s",
            (long)(s - run.subs), (unsigned long long)s->got, r < 0 ? ": " : "",
            r < 0 ? strerror(errno) : "");
    memcpy(rbuf, s->carry, s->carry_len);
    size_t len = s->carry_len + (size_t)r;
    s->bytes += (uint64_t)r;
    size_t used = check_frames(s, rbuf, len);
    s->carry_len = len - used;
    memcpy(s->carry, rbuf + used, s->carry_len);
    run.last_progress = now_seconds();
}

static bool done(void)
{
    if (run.replied < run.publishes)
        return false;
    for (unsigned i = 0; i < run.nsubs; i++) {
        const struct sub *s = &run.subs[i];
        if (s->broken ? s->bytes < run.publishes * run.frame_len : s->got < run.publishes)
            return false;
    }
    return true;
}

/* The message frame and the PUBLISH command of payload number 0; sets the offsets of
 * their sequence digits. The payload is (d - 12) 'x' then the 12 digits. */
static void build_templates(const char *ch, size_t d)
{
    size_t chlen = strlen(ch), cap = 128 + chlen + d;
    char *pl = xmalloc(d);
    memset(pl, 'x', d - SEQ_DIGITS);
    write_digits(pl + d - SEQ_DIGITS, SEQ_DIGITS, 0);
    run.cmd = xmalloc(cap);
    int h = snprintf(run.cmd, cap, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n", chlen, ch, d);
    memcpy(run.cmd + h, pl, d);
    memcpy(run.cmd + (size_t)h + d, "\r\n", 2);
    run.cmd_len = (size_t)h + d + 2;
    run.cmd_digits_at = (size_t)h + d - SEQ_DIGITS;
    char *frame = xmalloc(cap);
    h = snprintf(frame, cap, "*3\r\n$7\r\nmessage\r\n$%zu\r\n%s\r\n$%zu\r\n", chlen, ch, d);
    memcpy(frame + h, pl, d);
    memcpy(frame + (size_t)h + d, "\r\n", 2);
    run.frame_len = (size_t)h + d + 2;
    run.digits_at = (size_t)h + d - SEQ_DIGITS;
    for (unsigned i = 0; i < run.nsubs; i++) {
        run.subs[i].expect = xmalloc(run.frame_len);
        memcpy(run.subs[i].expect, frame, run.frame_len);
        run.subs[i].carry = xmalloc(run.frame_len);
    }
    free(frame);
    free(pl);
}

/* Connects and subscribes every subscriber (checking each acknowledgement), then the
 * publisher. Returns the number of subscribers per shard (CLIENT ID & 63). */
static void set_up(const char *host, const char *port, const char *ch, unsigned *per_shard,
                   unsigned *pub_shard)
{
    size_t chlen = strlen(ch);
    char *cmd = xmalloc(64 + chlen), *ack = xmalloc(64 + chlen), *got = xmalloc(64 + chlen);
    int cl = sprintf(cmd, "*2\r\n$9\r\nSUBSCRIBE\r\n$%zu\r\n%s\r\n", chlen, ch);
    int al = sprintf(ack, "*3\r\n$9\r\nsubscribe\r\n$%zu\r\n%s\r\n:1\r\n", chlen, ch);
    for (unsigned i = 0; i < run.nsubs; i++) {
        struct sub *s = &run.subs[i];
        s->fd = connect_to(host, port);
        per_shard[client_id(s->fd) & 63]++;
        send_all(s->fd, cmd, (size_t)cl);
        read_setup(s->fd, got, (size_t)al, (size_t)al);
        if (memcmp(got, ack, (size_t)al) != 0)
            die("SUBSCRIBE replied %.*s", al, got);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        if (epoll_ctl(run.epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    run.pub_fd = connect_to(host, port);
    *pub_shard = (unsigned)(client_id(run.pub_fd) & 63);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(run.epfd, EPOLL_CTL_ADD, run.pub_fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    free(cmd);
    free(ack);
    free(got);
}

static unsigned long parse_count(const char *opt, const char *s, unsigned long min,
                                 unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || !*s || *s == '-' || v < min || v > max)
        die("%s: expected a whole number from %lu to %lu, got \"%s\"", opt, min, max, s);
    return v;
}

static _Noreturn void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: fanout [-h host] [-p port] [-s subscribers] [-P window] [-n publishes]\n"
            "              [-d bytes] [-L lag] [-C channel]\n"
            "  -h, -p  server (default 127.0.0.1 6379)\n"
            "  -s      subscribers of the channel (default 50)\n"
            "  -P      PUBLISHes in flight at most (default 32)\n"
            "  -n      PUBLISHes in all (default 100000)\n"
            "  -d      payload bytes, at least %d (default 16)\n"
            "  -L      messages the publisher may run ahead of the slowest subscriber\n"
            "          (default 4096)\n"
            "  -C      channel (default fanout:bench)\n"
            "Prints one JSON object; exit status 0 when every subscriber got every message\n"
            "once and in order and every PUBLISH replied the subscriber count, 1 when not,\n"
            "2 on a usage or connection error, a closed connection or a %.0f s stall.\n",
            SEQ_DIGITS, STALL_SECONDS);
    exit(status);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "6379", *ch = "fanout:bench";
    unsigned long nsubs = 50, window = 32, publishes = 100000, d = 16, lag = 4096;
    static const struct option longopts[] = {{"help", no_argument, NULL, 'H'}, {0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h:p:s:P:n:d:L:C:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 's': nsubs = parse_count("-s", optarg, 1, MAX_SUBS); break;
        case 'P': window = parse_count("-P", optarg, 1, 1u << 20); break;
        case 'n': publishes = parse_count("-n", optarg, 1, 1ul << 40); break;
        case 'd': d = parse_count("-d", optarg, SEQ_DIGITS, 1u << 20); break;
        case 'L': lag = parse_count("-L", optarg, 1, 1ul << 40); break;
        case 'C': ch = optarg; break;
        case 'H': usage(0);
        default: usage(2);
        }
    }
    if (optind != argc || !*ch)
        usage(2);

    run.nsubs = (unsigned)nsubs;
    run.publishes = publishes;
    run.window = window;
    run.lag = lag < window ? window : lag;
    run.subs = calloc(nsubs, sizeof *run.subs);
    run.reply_carry = xmalloc(sizeof run.reply + 64 + 1);
    char *rbuf = xmalloc(RECV_BYTES + 64 + 1 + (size_t)d + 128 + strlen(ch));
    if (!run.subs)
        die("out of memory");
    run.reply_len = (size_t)snprintf(run.reply, sizeof run.reply, ":%lu\r\n", nsubs);
    if ((run.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    build_templates(ch, d);
    unsigned per_shard[64] = {0}, pub_shard = 0;
    set_up(host, port, ch, per_shard, &pub_shard);

    double start = now_seconds();
    run.last_progress = start;
    refill();
    struct epoll_event events[256];
    while (!done()) {
        int n = epoll_wait(run.epfd, events, 256, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct sub *s = events[i].data.ptr;
            if (s) {
                read_subscriber(s, rbuf);
                continue;
            }
            if (events[i].events & EPOLLOUT)
                flush_publisher();
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                read_publisher(rbuf);
        }
        refill();
        if (n <= 0 && now_seconds() - run.last_progress > STALL_SECONDS)
            die("stalled: nothing arrived for %.0f s (%llu of %llu PUBLISHes replied, "
                "slowest subscriber at %llu)", STALL_SECONDS, (unsigned long long)run.replied,
                (unsigned long long)run.publishes, (unsigned long long)slowest_subscriber());
    }
    double secs = now_seconds() - start;

    uint64_t delivered = 0;
    for (unsigned i = 0; i < run.nsubs; i++)
        delivered += run.subs[i].got;
    uint64_t missing = run.publishes * run.nsubs - delivered;
    printf("{\"publishes\": %llu, \"subscribers\": %u, \"messages\": %llu, \"seconds\": %.6f, "
           "\"messages_per_sec\": %.1f, \"publishes_per_sec\": %.1f, \"bad_replies\": %llu, "
           "\"bad_frames\": %llu, \"missing\": %llu, \"window\": %llu, \"datasize\": %lu, "
           "\"frame_bytes\": %zu, \"publisher_shard\": %u, \"subscriber_shards\": {",
           (unsigned long long)run.publishes, run.nsubs, (unsigned long long)delivered, secs,
           (double)delivered / secs, (double)run.publishes / secs,
           (unsigned long long)run.bad_replies, (unsigned long long)run.bad_frames,
           (unsigned long long)missing, (unsigned long long)run.window, d, run.frame_len,
           pub_shard);
    const char *sep = "";
    for (unsigned i = 0; i < 64; i++)
        if (per_shard[i]) {
            printf("%s\"%u\": %u", sep, i, per_shard[i]);
            sep = ", ";
        }
    printf("}}\n");
    free(rbuf);
    return run.bad_replies || run.bad_frames || missing ? 1 : 0;
}
