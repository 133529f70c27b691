/* Logging to stderr in Redis's line format: pid:role day month time.ms level message. */
#ifndef COREKV_BASE_LOG_H
#define COREKV_BASE_LOG_H

enum log_level { LOG_DEBUG, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING };

void log_set_level(enum log_level l);
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
