/* loadgen: a small RESP2 load generator for bench/run.py; usage() says how to run it.
 *
 * Keeps -c connections busy with batches of -P "scripts" (the commands given on the
 * command line, sent as a unit: e.g. MULTI, five commands, EXEC); a connection sends
 * a batch, reads all its replies, then sends the next, as redis-benchmark does with
 * -P. Every reply is parsed in full (RESP2, nested and null included) and checked
 * against the shape its command expects. One op is one script execution.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline, strndup, SOCK_CLOEXEC */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#define RAND_DIGITS 12          /* __rand__ as redis-benchmark -r writes it */
#define MAX_DEPTH 32            /* deepest nesting of arrays accepted */
#define MAX_PROBLEMS_SHOWN 5
#define STALL_SECONDS 10.0      /* give up when no reply came for this long */

static const char shape_help[] =
    "SHAPE: ?    any reply but an error (the default)\n"
    "       +    simple string; +TEXT exactly TEXT (no spaces)\n"
    "       -    error reply, expected: not a failure; -TEXT one that starts with TEXT\n"
    "       :    integer;  $  bulk string (not null);  nil  null bulk string or array\n"
    "       *    array of anything; *[S1 S2 ...] array of exactly these shapes\n";

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc(void *p, size_t n)
{
    if (!(p = realloc(p, n ? n : 1)))
        die("out of memory");
    return p;
}

/* Makes room in *array (of *n items of size size, capacity *cap) for one more. */
static void *grow(void *array, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return array;
    *cap = *cap ? *cap * 2 : 4;
    return xrealloc(array, *cap * size);
}

/* ---- growable byte buffer ---------------------------------------------- */

struct buf {
    char *data;
    size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static void buf_append(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends "<type><n>\r\n", e.g. a bulk string's or an array's header. */
static void buf_append_header(struct buf *b, char type, size_t n)
{
    char head[32];
    buf_append(b, head, (size_t)snprintf(head, sizeof head, "%c%zu\r\n", type, n));
}

static void buf_append_bulk(struct buf *b, const char *p, size_t n)
{
    buf_append_header(b, '$', n);
    buf_append(b, p, n);
    buf_append(b, "\r\n", 2);
}

/* ---- random numbers (splitmix64) --------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- expected reply shapes --------------------------------------------- */

struct shape {
    char kind;            /* '?', '+', '-', ':', '$', 'n' (nil), '*' */
    const char *text;     /* '+': the exact text, '-': a prefix; NULL: any */
    size_t text_len;
    struct shape *items;  /* '*': the element shapes; NULL: any elements */
    size_t nitems, items_cap;
};

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static bool ends_token(char c) { return !c || c == ' ' || c == '\t' || c == ']'; }

/* Parses the shape at *s into out and moves *s past it. */
static void parse_shape(const char **s, struct shape *out, const char *source)
{
    const char *p = skip_spaces(*s);
    memset(out, 0, sizeof *out);
    out->kind = *p;
    if (!strncmp(p, "nil", 3)) {
        out->kind = 'n';
        p += 3;
    } else if (*p == '+' || *p == '-') {
        const char *text = ++p;
        while (!ends_token(*p))
            p++;
        if (p > text) {
            out->text = text;
            out->text_len = (size_t)(p - text);
        }
    } else if (*p == '?' || *p == ':' || *p == '$') {
        p++;
    } else if (*p == '*' && p[1] == '[') {
        out->items = grow(NULL, 0, &out->items_cap, sizeof *out->items); /* [] too */
        for (p = skip_spaces(p + 2); *p != ']'; p = skip_spaces(p)) {
            if (!*p)
                die("\"%s\": missing ]\n%s", source, shape_help);
            out->items = grow(out->items, out->nitems, &out->items_cap, sizeof *out->items);
            parse_shape(&p, &out->items[out->nitems++], source);
        }
        p++;
    } else if (*p == '*') {
        p++;
    } else {
        die("\"%s\": no shape at \"%s\"\n%s", source, p, shape_help);
    }
    if (!ends_token(*p))
        die("\"%s\": junk in the shape at \"%s\"\n%s", source, p, shape_help);
    *s = p;
}

/* ---- the script -------------------------------------------------------- */

enum part_kind { PART_TEXT, PART_RAND, PART_KEY };

struct part {
    enum part_kind kind;
    const char *text;     /* PART_TEXT */
    size_t len;
    unsigned list;        /* PART_KEY: which -k list */
};

struct word {
    struct part *parts;   /* NULL: a fixed word, sent as fixed_resp */
    size_t nparts, parts_cap;
    struct buf fixed_resp;
};

struct command {
    const char *source;   /* as given, for messages */
    struct word *words;
    size_t nwords, words_cap;
    struct shape expect;
};

struct key_list {
    struct { char *text; size_t len; } *keys;
    size_t n, cap;
};

static struct command *commands;
static size_t ncommands;
static struct key_list *key_lists;
static size_t nkey_lists, key_lists_cap;
static uint64_t keyspace = 100000;

static void load_key_list(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("%s: %s", path, strerror(errno));
    key_lists = grow(key_lists, nkey_lists, &key_lists_cap, sizeof *key_lists);
    struct key_list *kl = &key_lists[nkey_lists++];
    memset(kl, 0, sizeof *kl);
    char *line = NULL;
    size_t cap = 0;
    for (ssize_t n; (n = getline(&line, &cap, f)) > 0;) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n > 0) {
            kl->keys = grow(kl->keys, kl->n, &kl->cap, sizeof *kl->keys);
            kl->keys[kl->n].text = strndup(line, (size_t)n);
            kl->keys[kl->n++].len = (size_t)n;
        }
    }
    free(line);
    fclose(f);
    if (kl->n == 0)
        die("%s: no keys", path);
}

static void add_part(struct word *w, struct part part)
{
    w->parts = grow(w->parts, w->nparts, &w->parts_cap, sizeof *w->parts);
    w->parts[w->nparts++] = part;
}

/* Splits a word into fixed text, __rand__ and __keyN__ parts. */
static void parse_word(struct word *w, const char *s, const char *end, const char *source)
{
    const char *text = s;
    memset(w, 0, sizeof *w);
    for (const char *p = s; p < end; p++) {
        struct part token = {PART_RAND, NULL, 0, 0};
        int used = 0;
        if (end - p >= 8 && !memcmp(p, "__rand__", 8))
            used = 8;
        else if (end - p > 7 && !memcmp(p, "__key", 5) && p[5] >= '0' && p[5] <= '9' &&
                 sscanf(p, "__key%4u__%n", &token.list, &used) == 1 && used && p + used <= end)
            token.kind = PART_KEY;
        if (!used)
            continue;
        if (token.kind == PART_KEY && token.list >= nkey_lists)
            die("\"%s\": __key%u__ but %zu -k list(s)", source, token.list, nkey_lists);
        if (p > text)
            add_part(w, (struct part){PART_TEXT, text, (size_t)(p - text), 0});
        add_part(w, token);
        text = p + used;
        p = text - 1;
    }
    if (!w->parts)
        buf_append_bulk(&w->fixed_resp, s, (size_t)(end - s));
    else if (end > text)
        add_part(w, (struct part){PART_TEXT, text, (size_t)(end - text), 0});
}

/* "WORD WORD ... [=> SHAPE]" */
static void parse_command(struct command *c, const char *source)
{
    memset(c, 0, sizeof *c);
    c->source = source;
    const char *arrow = strstr(source, "=>");
    const char *end = arrow ? arrow : source + strlen(source);
    for (const char *p = skip_spaces(source), *e; p < end; p = skip_spaces(e)) {
        for (e = p; e < end && *e != ' ' && *e != '\t';)
            e++;
        c->words = grow(c->words, c->nwords, &c->words_cap, sizeof *c->words);
        parse_word(&c->words[c->nwords++], p, e, source);
    }
    if (c->nwords == 0)
        die("\"%s\": no command", source);
    c->expect.kind = '?';
    if (arrow) {
        const char *s = arrow + 2;
        parse_shape(&s, &c->expect, source);
        if (*skip_spaces(s))
            die("\"%s\": more than one shape after =>\n%s", source, shape_help);
    }
}

static void append_word(struct buf *out, const struct word *w, struct buf *scratch)
{
    if (!w->parts) {
        buf_append(out, w->fixed_resp.data, w->fixed_resp.len);
        return;
    }
    scratch->len = 0;
    for (size_t i = 0; i < w->nparts; i++) {
        const struct part *part = &w->parts[i];
        if (part->kind == PART_TEXT) {
            buf_append(scratch, part->text, part->len);
        } else if (part->kind == PART_RAND) {
            uint64_t v = rng_next() % keyspace;
            buf_reserve(scratch, RAND_DIGITS);
            for (int d = RAND_DIGITS - 1; d >= 0; d--, v /= 10)
                scratch->data[scratch->len + (size_t)d] = (char)('0' + v % 10);
            scratch->len += RAND_DIGITS;
        } else {
            const struct key_list *kl = &key_lists[part->list];
            size_t k = (size_t)(rng_next() % kl->n);
            buf_append(scratch, kl->keys[k].text, kl->keys[k].len);
        }
    }
    buf_append_bulk(out, scratch->data, scratch->len);
}

static void append_script(struct buf *out, struct buf *scratch)
{
    for (size_t i = 0; i < ncommands; i++) {
        buf_append_header(out, '*', commands[i].nwords);
        for (size_t j = 0; j < commands[i].nwords; j++)
            append_word(out, &commands[i].words[j], scratch);
    }
}

/* ---- reply parsing and checking ---------------------------------------- */

/* What one reply, and everything nested in it, turned out to be. */
struct verdict {
    unsigned error_replies;      /* error replies where none was expected */
    unsigned unexpected_replies; /* another type, text or length than expected */
    unsigned expected_errors;
    const char *problem;         /* the first offending (sub)reply's line */
    size_t problem_len;
    bool problem_is_error;
};

static void note_problem(struct verdict *v, const char *line, size_t len, bool is_error)
{
    *(is_error ? &v->error_replies : &v->unexpected_replies) += 1;
    if (!v->problem) {
        v->problem = line;
        v->problem_len = len;
        v->problem_is_error = is_error;
    }
}

/* A RESP number: the whole of [p, end). */
static bool parse_int(const char *p, const char *end, long long *out)
{
    char *stop;
    errno = 0;
    *out = strtoll(p, &stop, 10);
    return p < end && (*p == '-' || (*p >= '0' && *p <= '9')) && stop == end && !errno;
}

static bool text_matches(const struct shape *want, const char *p, size_t len, bool prefix)
{
    return !want->text || ((prefix ? len >= want->text_len : len == want->text_len) &&
                           !memcmp(want->text, p, want->text_len));
}

/* Parses the reply at buf[*pos, len) and checks it against want (NULL: any but
 * an error), adding to *v. Returns false, leaving *pos alone, when the reply is
 * not all in yet; dies on a protocol violation. */
static bool parse_reply(const char *buf, size_t len, size_t *pos, const struct shape *want,
                        int depth, struct verdict *v)
{
    const char *line = buf + *pos, *nl = memchr(line, '\n', len - *pos);
    if (!nl)
        return false;
    int shown = (int)(nl - line < 40 ? nl - line : 40);
    if (nl - line < 2 || nl[-1] != '\r' || !memchr("+-:$*", *line, 5) || depth > MAX_DEPTH)
        die("protocol error at \"%.*s\"", shown, line);
    const char *body = line + 1, *eol = nl - 1;
    size_t line_len = (size_t)(eol - line), body_len = line_len - 1;
    size_t next = (size_t)(nl + 1 - buf);
    char kind = want ? want->kind : '?';
    long long n = 0;
    bool ok = kind == '?';
    if (*line != '+' && *line != '-' && (!parse_int(body, eol, &n) || (*line != ':' && n < -1)))
        die("protocol error: bad number in \"%.*s\"", shown, line);
    switch (*line) {
    case '+':
        ok |= kind == '+' && text_matches(want, body, body_len, false);
        break;
    case '-':
        if (kind == '-' && text_matches(want, body, body_len, true))
            v->expected_errors++;
        else
            note_problem(v, line, line_len, true);
        *pos = next;
        return true;
    case ':':
        ok |= kind == ':';
        break;
    case '$':
        if (n >= 0) {
            if (len - next < (size_t)n + 2)
                return false;
            if (memcmp(buf + next + n, "\r\n", 2))
                die("protocol error: a bulk string of %lld bytes without CRLF", n);
            next += (size_t)n + 2;
        }
        ok |= n >= 0 ? kind == '$' : kind == 'n';
        break;
    default: /* '*' */
        ok |= n >= 0 ? kind == '*' && (!want->items || want->nitems == (size_t)n) : kind == 'n';
        for (long long i = 0; i < n; i++) {
            const struct shape *item = ok && kind == '*' && want->items ? &want->items[i] : NULL;
            if (!parse_reply(buf, len, &next, item, depth + 1, v))
                return false;
        }
        break;
    }
    if (!ok)
        note_problem(v, line, line_len, false);
    *pos = next;
    return true;
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
    uint64_t scripts_issued, ops_done;
    unsigned long busy_conns;    /* connections with a batch in flight */
    uint64_t error_replies, unexpected_replies, expected_errors;
    uint64_t problems;
    int epfd;
    struct buf scratch;
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
        ssize_t n = write(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_write_interest(c, true);
            return;
        }
        if (n < 0)
            die("write: %s", strerror(errno));
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
    if (!run.ops_limit && now_seconds() >= run.deadline)
        scripts = 0;
    if (scripts == 0) {
        run.busy_conns--;
        return;
    }
    for (uint64_t i = 0; i < scripts; i++)
        append_script(&c->out, &run.scratch);
    run.scripts_issued += scripts;
    c->replies_pending = scripts * ncommands;
    c->replies_read = 0;
    flush_output(c);
}

static void record(const struct verdict *v, const struct command *command)
{
    run.error_replies += v->error_replies;
    run.unexpected_replies += v->unexpected_replies;
    run.expected_errors += v->expected_errors;
    if (v->problem && run.problems++ < MAX_PROBLEMS_SHOWN)
        fprintf(stderr, "loadgen: \"%s\" got %s reply \"%.*s\"\n", command->source,
                v->problem_is_error ? "an error" : "an unexpected",
                (int)(v->problem_len > 200 ? 200 : v->problem_len), v->problem);
}

/* Reads what is there and consumes every complete reply; true if any. */
static bool read_replies(struct conn *c)
{
    buf_reserve(&c->in, 16384);
    ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
    if (n <= 0)
        die(n ? "read: %s" : "the server closed a connection", strerror(errno));
    c->in.len += (size_t)n;
    size_t pos = 0;
    while (c->replies_pending > 0) {
        struct verdict v = {0};
        const struct command *command = &commands[c->replies_read % ncommands];
        if (!parse_reply(c->in.data, c->in.len, &pos, &command->expect, 0, &v))
            break;
        record(&v, command);
        c->replies_pending--;
        if (++c->replies_read % ncommands == 0)
            run.ops_done++;
    }
    if (c->replies_pending == 0 && pos < c->in.len)
        die("protocol error: %zu bytes beyond the replies owed", c->in.len - pos);
    memmove(c->in.data, c->in.data + pos, c->in.len - pos);
    c->in.len -= pos;
    if (c->replies_pending == 0)
        start_batch(c);
    return pos > 0;
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
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        die("fcntl: %s", strerror(errno));
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
            "               [-r keyspace] [-k keyfile]... [--seed N] COMMAND...\n"
            "Every COMMAND is one argument, \"WORD WORD ... [=> SHAPE]\" (words without\n"
            "spaces); all of them, in order, form the script that one op sends.\n"
            "  -h, -p   server (default 127.0.0.1 6379)     -c  connections (default 50)\n"
            "  -P       scripts per batch per connection (default 1)\n"
            "  -n       ops (script executions) in all (default 100000); -T run for seconds\n"
            "  -r       __rand__ in a word becomes a random number below -r (default\n"
            "           100000) in 12 zero-padded digits, a new one at every use\n"
            "  -k FILE  key list, one key a line; __keyN__ is a random key of the N-th list\n"
            "           (from 0)\n%s", shape_help);
    exit(status);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *port = "6379";
    unsigned long nconns = 50;
    double duration = 0;
    char *end;
    rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'H'}, {"seed", required_argument, NULL, 'S'}, {0}};
    for (int opt; (opt = getopt_long(argc, argv, "+h:p:c:P:n:T:r:k:", long_options, NULL)) != -1;) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 'c': nconns = parse_count("-c", optarg, 1); break;
        case 'P': run.pipeline = (unsigned)parse_count("-P", optarg, 1); break;
        case 'n': run.ops_limit = parse_count("-n", optarg, 1); break;
        case 'r': keyspace = parse_count("-r", optarg, 1); break;
        case 'k': load_key_list(optarg); break;
        case 'S': rng_state = parse_count("--seed", optarg, 0); break;
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
    ncommands = (size_t)(argc - optind);
    commands = xrealloc(NULL, ncommands * sizeof *commands);
    for (size_t i = 0; i < ncommands; i++)
        parse_command(&commands[i], argv[optind + (int)i]);

    if ((run.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    conns = xrealloc(NULL, nconns * sizeof *conns);
    memset(conns, 0, nconns * sizeof *conns);
    for (unsigned long i = 0; i < nconns; i++) {
        conns[i].fd = connect_to(host, port);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        if (epoll_ctl(run.epfd, EPOLL_CTL_ADD, conns[i].fd, &ev) < 0)
            die("epoll_ctl: %s", strerror(errno));
    }

    double start = now_seconds(), last_progress = start;
    run.deadline = start + duration;
    run.busy_conns = nconns;
    for (unsigned long i = 0; i < nconns; i++)
        start_batch(&conns[i]);
    struct epoll_event events[256];
    while (run.busy_conns > 0) {
        int n = epoll_wait(run.epfd, events, 256, 1000);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (events[i].events & EPOLLOUT)
                flush_output(c);
            if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && read_replies(c))
                last_progress = now_seconds();
        }
        if (n <= 0 && now_seconds() - last_progress > STALL_SECONDS)
            die("no reply for %.0f s (%llu ops done)", STALL_SECONDS,
                (unsigned long long)run.ops_done);
    }
    double seconds = now_seconds() - start;

    unsigned long long ops = run.ops_done, cmds = run.ops_done * ncommands;
    printf("{\"ops\": %llu, \"commands\": %llu, \"commands_per_op\": %zu, \"seconds\": %.6f, "
           "\"ops_per_sec\": %.1f, \"commands_per_sec\": %.1f, \"error_replies\": %llu, "
           "\"unexpected_replies\": %llu, \"expected_errors\": %llu, \"clients\": %lu, "
           "\"pipeline\": %u}\n",
           ops, cmds, ncommands, seconds, (double)ops / seconds, (double)cmds / seconds,
           (unsigned long long)run.error_replies, (unsigned long long)run.unexpected_replies,
           (unsigned long long)run.expected_errors, nconns, run.pipeline);
    if (run.problems > MAX_PROBLEMS_SHOWN)
        fprintf(stderr, "loadgen: ... and %llu more replies with problems\n",
                (unsigned long long)(run.problems - MAX_PROBLEMS_SHOWN));
    fflush(stdout);
    return run.error_replies || run.unexpected_replies ? 1 : 0;
}
