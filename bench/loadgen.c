/* loadgen: a small RESP2 load generator for bench/run.py; usage() says how to run it.
 *
 * Keeps -c connections busy with batches of -P "scripts" (the commands given on the
 * command line, sent as a unit: e.g. MULTI, five commands, EXEC); a connection sends
 * a batch, reads all its replies, then sends the next, as redis-benchmark does with
 * -P. Every reply is parsed in full (RESP2, nested and null included) and checked
 * against the shape its command expects (loadgen_script.c). One op is one script
 * execution. The client's own cost per op is kept small (requests rendered from
 * precompiled bytes, one write per batch, reads of whatever is there), so that it can
 * drive a server faster than redis-benchmark can.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* SOCK_CLOEXEC */
#endif
#include "loadgen.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROBLEMS_SHOWN 5
#define STALL_SECONDS 10.0      /* give up when no reply came for this long */
#define READ_ROOM 65536         /* free bytes offered to each read */
#define MAX_SHARDS 64           /* corekv's shard of a connection is CLIENT ID & 63 */

_Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

void *xrealloc(void *p, size_t n)
{
    if (!(p = realloc(p, n ? n : 1)))
        die("out of memory");
    return p;
}

/* ---- connections and the event loop ------------------------------------ */

struct conn {
    int fd;
    struct buf in, out;
    size_t out_sent;
    size_t replies_pending;   /* replies still owed for the current batch */
    size_t replies_read;      /* replies of the current batch read so far */
    bool want_write;          /* EPOLLOUT is registered */
};

static struct {
    unsigned pipeline;           /* scripts per batch */
    uint64_t ops_limit;          /* 0: run until the deadline */
    double deadline;
    double now;                  /* the clock, read once per loop iteration */
    uint64_t scripts_issued, ops_done;
    unsigned long busy_conns;    /* connections with a batch in flight */
    uint64_t error_replies, unexpected_replies, expected_errors;
    uint64_t problems;
    size_t ncommands;            /* commands per script */
    int epfd;
} run = {.pipeline = 1};

static struct conn *conns;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_write_interest(struct conn *c, bool on)
{
    if (c->want_write == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(run.epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    c->want_write = on;
}

static void flush_output(struct conn *c)
{
    while (c->out_sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_write_interest(c, true);
            return;
        }
        if (n < 0)
            die("send: %s", strerror(errno));
        c->out_sent += (size_t)n;
    }
    c->out.len = c->out_sent = 0;
    set_write_interest(c, false);
}

/* Sends the connection's next batch, or retires it when the run is over. */
static void start_batch(struct conn *c)
{
    uint64_t scripts = run.pipeline;
    if (run.ops_limit && run.ops_limit - run.scripts_issued < scripts)
        scripts = run.ops_limit - run.scripts_issued;
    if (!run.ops_limit && run.now >= run.deadline)
        scripts = 0;
    if (scripts == 0) {
        run.busy_conns--;
        return;
    }
    buf_reserve(&c->out, scripts * script_max_bytes());
    char *p = c->out.data + c->out.len;
    for (uint64_t i = 0; i < scripts; i++)
        p = script_render(p);
    c->out.len = (size_t)(p - c->out.data);
    run.scripts_issued += scripts;
    c->replies_pending = scripts * run.ncommands;
    c->replies_read = 0;
    flush_output(c);
}

static void record(const struct verdict *v, size_t command)
{
    run.error_replies += v->error_replies;
    run.unexpected_replies += v->unexpected_replies;
    run.expected_errors += v->expected_errors;
    if (v->problem && run.problems++ < MAX_PROBLEMS_SHOWN)
        fprintf(stderr, "loadgen: \"%s\" got %s reply \"%.*s\"\n", script_source(command),
                v->problem_is_error ? "an error" : "an unexpected",
                (int)(v->problem_len > 200 ? 200 : v->problem_len), v->problem);
}

/* Reads what is there and consumes every complete reply; true if any. */
static bool read_replies(struct conn *c)
{
    buf_reserve(&c->in, READ_ROOM);
    ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    if (n <= 0)
        die(n ? "recv: %s" : "the server closed a connection", strerror(errno));
    c->in.len += (size_t)n;
    size_t pos = 0, command = c->replies_read % run.ncommands;
    while (c->replies_pending > 0) {
        struct verdict v = {0};
        if (!script_check_reply(command, c->in.data, c->in.len, &pos, &v))
            break;
        if (v.error_replies | v.unexpected_replies | v.expected_errors)
            record(&v, command);
        c->replies_pending--;
        c->replies_read++;
        if (++command == run.ncommands) {
            command = 0;
            run.ops_done++;
        }
    }
    if (c->replies_pending == 0 && pos < c->in.len)
        die("protocol error: %zu bytes beyond the replies owed", c->in.len - pos);
    if (pos < c->in.len)
        memmove(c->in.data, c->in.data + pos, c->in.len - pos);
    c->in.len -= pos;
    if (c->replies_pending == 0)
        start_batch(c);
    return pos > 0;
}

/* Waits (blocking, bounded) for one whole line of reply on a fresh connection. */
static size_t read_line(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len < 2 || memcmp(buf + len - 2, "\r\n", 2)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (len == size || poll(&pfd, 1, (int)(STALL_SECONDS * 1000)) <= 0)
            die("no set-up reply within %.0f s", STALL_SECONDS);
        ssize_t r = read(fd, buf + len, 1);
        if (r == 0)
            die("the server closed a connection during set-up");
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            die("read: %s", strerror(errno));
        len += r > 0 ? (size_t)r : 0;
    }
    return len;
}

/* CLIENT ID of a fresh connection: its shard is id & 63 on corekv. */
static unsigned client_shard(int fd)
{
    static const char cmd[] = "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n";
    char line[64];
    if (write(fd, cmd, sizeof cmd - 1) != (ssize_t)(sizeof cmd - 1))
        die("write: %s", strerror(errno));
    size_t n = read_line(fd, line, sizeof line);
    if (line[0] != ':')
        die("CLIENT ID replied %.*s", (int)n - 2, line);
    return (unsigned)(strtoull(line + 1, NULL, 10) % MAX_SHARDS);
}

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
    return fd;
}

static unsigned long parse_count(const char *opt, const char *s, unsigned long min)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || !*s || *s == '-' || v < min)
        die("%s: expected a whole number >= %lu, got \"%s\"", opt, min, s);
    return v;
}

static _Noreturn void usage(int status)
{
    fprintf(status ? stderr : stdout,
            "usage: loadgen [-h host] [-p port] [-c conns] [-P scripts] [-n ops | -T seconds]\n"
            "               [-r keyspace] [-k keyfile]... [--seed N] [--client-ids] COMMAND...\n"
            "Every COMMAND is one argument, \"WORD WORD ... [=> SHAPE]\" (words without\n"
            "spaces); all of them, in order, form the script that one op sends.\n"
            "  -h, -p   server (default 127.0.0.1 6379)     -c  connections (default 50)\n"
            "  -P       scripts per batch per connection (default 1)\n"
            "  -n       ops (script executions) in all (default 100000); -T run for seconds\n"
            "  -r       __rand__ in a word becomes a random number below -r (default\n"
            "           100000) in 12 zero-padded digits, a new one at every use\n"
            "  -k FILE  key list, one key a line; __keyN__ is a random key of the N-th list\n"
            "           (from 0)\n"
            "  --client-ids  ask each connection's CLIENT ID before the run and report\n"
            "           the connections per CLIENT ID & 63 (corekv's shard) as conn_shards\n%s",
            shape_help);
    exit(status);
}

/* Runs batches on nconns connections until each is retired (after -n scripts in all, or
 * duration seconds); returns the seconds taken. */
static double run_load(unsigned long nconns, double duration)
{
    double start = now_seconds(), last_progress = start;
    run.now = start;
    run.deadline = start + duration;
    run.busy_conns = nconns;
    for (unsigned long i = 0; i < nconns; i++)
        start_batch(&conns[i]);
    struct epoll_event events[256];
    while (run.busy_conns > 0) {
        int n = epoll_wait(run.epfd, events, 256, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        run.now = now_seconds();
        bool progress = false;
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (events[i].events & EPOLLOUT)
                flush_output(c);
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                progress |= read_replies(c);
        }
        if (progress)
            last_progress = run.now;
        else if (run.now - last_progress > STALL_SECONDS)
            die("no reply for %.0f s (%llu ops done)", STALL_SECONDS,
                (unsigned long long)run.ops_done);
    }
    return now_seconds() - start;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "6379";
    unsigned long nconns = 50;
    double duration = 0;
    bool client_ids = false;
    char *end;
    rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'H'}, {"seed", required_argument, NULL, 'S'},
        {"client-ids", no_argument, NULL, 'I'}, {0}};
    for (int opt; (opt = getopt_long(argc, argv, "+h:p:c:P:n:T:r:k:", long_options, NULL)) != -1;) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 'c': nconns = parse_count("-c", optarg, 1); break;
        case 'P': run.pipeline = (unsigned)parse_count("-P", optarg, 1); break;
        case 'n': run.ops_limit = parse_count("-n", optarg, 1); break;
        case 'r': keyspace = parse_count("-r", optarg, 1); break;
        case 'k': script_load_key_list(optarg); break;
        case 'S': rng_state = parse_count("--seed", optarg, 0); break;
        case 'I': client_ids = true; break;
        case 'T':
            if (!((duration = strtod(optarg, &end)) > 0) || *end)
                die("-T: expected seconds > 0, got \"%s\"", optarg);
            break;
        case 'H': usage(0);
        default: usage(2);
        }
    }
    if (optind == argc)
        usage(2);
    if (run.ops_limit && duration > 0)
        die("give -n or -T, not both");
    if (!run.ops_limit && !(duration > 0))
        run.ops_limit = 100000;
    script_compile((size_t)(argc - optind), argv + optind);
    run.ncommands = script_commands();

    if ((run.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    conns = xrealloc(NULL, nconns * sizeof *conns);
    memset(conns, 0, nconns * sizeof *conns);
    unsigned per_shard[MAX_SHARDS] = {0};
    for (unsigned long i = 0; i < nconns; i++) {
        int fd = conns[i].fd = connect_to(host, port);
        if (client_ids)
            per_shard[client_shard(fd)]++;
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
            die("fcntl: %s", strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(run.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }

    double seconds = run_load(nconns, duration);

    unsigned long long ops = run.ops_done, cmds = run.ops_done * run.ncommands;
    printf("{\"ops\": %llu, \"commands\": %llu, \"commands_per_op\": %zu, \"seconds\": %.6f, "
           "\"ops_per_sec\": %.1f, \"commands_per_sec\": %.1f, \"error_replies\": %llu, "
           "\"unexpected_replies\": %llu, \"expected_errors\": %llu, \"clients\": %lu, "
           "\"pipeline\": %u",
           ops, cmds, run.ncommands, seconds, (double)ops / seconds, (double)cmds / seconds,
           (unsigned long long)run.error_replies, (unsigned long long)run.unexpected_replies,
           (unsigned long long)run.expected_errors, nconns, run.pipeline);
    if (client_ids) {
        const char *sep = "";
        printf(", \"conn_shards\": {");
        for (unsigned i = 0; i < MAX_SHARDS; i++)
            if (per_shard[i]) {
                printf("%s\"%u\": %u", sep, i, per_shard[i]);
                sep = ", ";
            }
        printf("}");
    }
    printf("}\n");
    if (run.problems > MAX_PROBLEMS_SHOWN)
        fprintf(stderr, "loadgen: ... and %llu more replies with problems\n",
                (unsigned long long)(run.problems - MAX_PROBLEMS_SHOWN));
    fflush(stdout);
    return run.error_replies || run.unexpected_replies ? 1 : 0;
}
