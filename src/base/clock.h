/* Clocks. Wall-clock milliseconds drive TTLs (Redis stores absolute Unix times);
 * monotonic time drives timeouts, idle times and spinning. */
#ifndef COREKV_BASE_CLOCK_H
#define COREKV_BASE_CLOCK_H

#include <stdint.h>

int64_t clock_unix_ms(void);
int64_t clock_unix_us(void);
uint64_t clock_mono_ns(void);
static inline uint64_t clock_mono_us(void) { return clock_mono_ns() / 1000; }

#endif
