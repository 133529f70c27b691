/* corekv: wires the runtime to the Redis command set. Flags, signals, start-up. */
#include <corekv/rt.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "cmd/cmd.h"
#include "cmd/persist.h"

#define COREKV_VERSION "0.1.0"

static struct rt *the_rt;

static void on_signal(int sig)
{
    (void)sig;
    if (the_rt)
        rt_stop(the_rt);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: corekv [options]\n"
            "\n"
            "A Redis-compatible in-memory data server on a thread-per-core runtime.\n"
            "\n"
            "Options:\n"
            "  --port N                    TCP port to listen on (default 6379)\n"
            "  --bind ADDR                 address to listen on (default 127.0.0.1)\n"
            "  --shards N                  shards, one thread each (default: number of\n"
            "                              CPUs, at most 64)\n"
            "  --pin                       pin shard i to CPU i\n"
            "  --io auto|epoll|uring       I/O reactor (default auto: io_uring where the\n"
            "                              kernel allows it, else epoll)\n"
            "  --check-io                  say whether io_uring is available here; exit 0\n"
            "                              if it is, 1 if not\n"
            "  --hz N                      housekeeping ticks per second, 1..500 (default 10)\n"
            "  --spin-us N                 busy-poll time before a shard parks, in\n"
            "                              microseconds (default 50; unused with 1 shard or\n"
            "                              more shards than CPUs)\n"
            "  --maxclients N              most connected clients (default 10000)\n"
            "  --proto-max-bulk-len SIZE   largest bulk argument (default 512mb, min 1mb)\n"
            "  --client-query-buffer-limit SIZE\n"
            "                              largest unparsed input per client (default 1gb)\n"
            "  --loglevel debug|verbose|notice|warning\n"
            "                              (default notice)\n"
            "  --dir PATH                  where snapshots and the append-only log live\n"
            "                              (default: the working directory)\n"
            "  --appendonly yes|no         keep an append-only log per shard (default no)\n"
            "  --appendfsync always|everysec|no\n"
            "                              when the log is fsynced (default everysec)\n"
            "  --save \"SECS CHANGES ...\"   snapshot rules, \"\" for none (default\n"
            "                              \"3600 1 300 100 60 10000\")\n"
            "  --dbfilename, --appendfilename, --appenddirname, --aof-load-truncated,\n"
            "  --auto-aof-rewrite-percentage, --auto-aof-rewrite-min-size, --rdbcompression,\n"
            "  --rdbchecksum               as the CONFIG parameters of the same names\n"
            "  --help                      show this help\n"
            "  --version                   show the version\n"
            "\n"
            "SIZE takes Redis's units: 1k 1kb 1m 1mb 1g 1gb (k = 1000, kb = 1024).\n");
}

static bool parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

/* Redis's memtoull: a number with an optional unit. */
static bool parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {{"b", 1},          {"k", 1000},       {"kb", 1024},
                 {"m", 1000000},    {"mb", 1048576},   {"g", 1000000000},
                 {"gb", 1073741824}};
    size_t n = strlen(s), digits = 0;
    while (digits < n && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    if (!digits || digits > 19)
        return false;
    uint64_t mul = 1;
    if (digits < n) {
        bool found = false;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (!strcasecmp(s + digits, units[i].unit)) {
                mul = units[i].mul;
                found = true;
            }
        if (!found)
            return false;
    }
    char num[24];
    memcpy(num, s, digits);
    num[digits] = 0;
    unsigned long long v;
    if (!parse_uint(num, UINT64_MAX / mul, &v))
        return false;
    *out = v * mul;
    return true;
}

static int bad_value(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "corekv: invalid value '%s' for %s: %s\n", value, flag, why);
    return 2;
}

/* Returns 0 to run, 1 to exit successfully, 2 on a usage error, 3 to exit with 1. */
static int parse_args(int argc, char **argv, struct rt_options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("corekv %s\n", COREKV_VERSION);
            return 1;
        }
        if (!strcmp(a, "--check-io")) {
            char why[160];
            bool ok = rt_io_uring_available(why, sizeof why);
            printf(ok ? "io_uring: available\n" : "io_uring: not available: %s\n", why);
            return ok ? 1 : 3;
        }
        if (!strcmp(a, "--pin")) {
            o->pin = true;
            continue;
        }
        static const char *const with_value[] = {
            "--port", "--bind", "--shards", "--io", "--hz", "--spin-us", "--maxclients",
            "--proto-max-bulk-len", "--client-query-buffer-limit", "--loglevel"};
        bool known = false;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
            known |= !strcmp(a, with_value[k]);
        /* Persistence settings take CONFIG's names: --appendonly yes, --save "". */
        if (!known && !strncmp(a, "--", 2) && persist_config_has(a + 2)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "corekv: option %s needs a value\n", a);
                return 2;
            }
            const char *v = argv[++i];
            const char *why = persist_config_check(a + 2, v, strlen(v));
            if (why)
                return bad_value(a, v, why);
            persist_config_set(a + 2, v, strlen(v));
            continue;
        }
        if (!known) {
            fprintf(stderr, "corekv: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "corekv: option %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        unsigned long long n;
        uint64_t size;
        if (!strcmp(a, "--port")) {
            if (!parse_uint(v, 65535, &n))
                return bad_value(a, v, "expected a port number 0..65535");
            o->port = (int)n;
        } else if (!strcmp(a, "--bind")) {
            o->bind = v;
        } else if (!strcmp(a, "--shards")) {
            if (!parse_uint(v, RT_MAX_SHARDS, &n) || n < 1)
                return bad_value(a, v, "expected 1..64");
            o->nshards = (unsigned)n;
        } else if (!strcmp(a, "--io")) {
            if (!strcmp(v, "auto"))
                o->io = RT_IO_AUTO;
            else if (!strcmp(v, "epoll"))
                o->io = RT_IO_EPOLL;
            else if (!strcmp(v, "uring"))
                o->io = RT_IO_URING;
            else
                return bad_value(a, v, "expected auto, epoll or uring");
        } else if (!strcmp(a, "--hz")) {
            if (!parse_uint(v, 500, &n) || n < 1)
                return bad_value(a, v, "expected 1..500");
            o->hz = (unsigned)n;
        } else if (!strcmp(a, "--spin-us")) {
            if (!parse_uint(v, 1000000, &n))
                return bad_value(a, v, "expected 0..1000000");
            o->spin_us = (unsigned)n;
        } else if (!strcmp(a, "--maxclients")) {
            if (!parse_uint(v, 1000000, &n) || n < 1)
                return bad_value(a, v, "expected 1..1000000");
            o->maxclients = (unsigned)n;
        } else if (!strcmp(a, "--proto-max-bulk-len")) {
            if (!parse_size(v, &size) || size < 1024 * 1024)
                return bad_value(a, v, "expected a size of at least 1mb");
            o->proto_max_bulk_len = size;
        } else if (!strcmp(a, "--client-query-buffer-limit")) {
            if (!parse_size(v, &size) || size < 1024 * 1024)
                return bad_value(a, v, "expected a size of at least 1mb");
            o->query_buffer_limit = size;
        } else if (!strcmp(a, "--loglevel")) {
            static const char *const levels[] = {"debug", "verbose", "notice", "warning"};
            bool ok = false;
            for (int l = 0; l < 4; l++)
                if (!strcmp(v, levels[l])) {
                    log_set_level((enum log_level)l);
                    ok = true;
                }
            if (!ok)
                return bad_value(a, v, "expected debug, verbose, notice or warning");
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct rt_options opt;
    rt_options_default(&opt);
    int rc = parse_args(argc, argv, &opt);
    if (rc)
        return rc == 1 ? 0 : rc == 3 ? 1 : 2;

    signal(SIGPIPE, SIG_IGN);
    char err[256];
    struct rt *rt = rt_create(&opt, &cmd_commands, err, sizeof err);
    if (!rt) {
        log_msg(LOG_WARNING, "%s", err);
        return 1;
    }
    the_rt = rt;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    rc = rt_run(rt);
    log_msg(LOG_NOTICE, "corekv is now ready to exit, bye bye...");
    the_rt = NULL;
    rt_destroy(rt);
    return rc ? 1 : 0;
}
