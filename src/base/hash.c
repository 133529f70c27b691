#include "base/hash.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, len, seed);
}

uint64_t hash_random_seed(void)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, 0) == (ssize_t)sizeof v)
        return v;
    /* getrandom cannot fail for 8 bytes on Linux >= 3.17; keep a fallback anyway. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return XXH3_64bits(&ts, sizeof ts) ^ (uint64_t)getpid();
}
