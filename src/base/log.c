#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int min_level = LOG_NOTICE;

void log_set_level(enum log_level l) { atomic_store_explicit(&min_level, (int)l, memory_order_relaxed); }

void log_msg(enum log_level l, const char *fmt, ...)
{
    if ((int)l < atomic_load_explicit(&min_level, memory_order_relaxed))
        return;
    static const char marks[] = ".-*#";
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char when[64];
    size_t off = strftime(when, sizeof when, "%d %b %Y %H:%M:%S.", &tm);
    snprintf(when + off, sizeof when - off, "%03d", (int)(tv.tv_usec / 1000));
    /* One fprintf per line: stdio locks the stream, so lines from shards never interleave. */
    fprintf(stderr, "%d:M %s %c %s\n", (int)getpid(), when, marks[l], msg);
}
