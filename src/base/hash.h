/* Seeded hashing of keys (XXH3). The seed is random per process, so a client cannot
 * choose keys that collide in a table. */
#ifndef COREKV_BASE_HASH_H
#define COREKV_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *p, size_t len, uint64_t seed);
/* A fresh random 64-bit value from the kernel (getrandom), for seeds. */
uint64_t hash_random_seed(void);

#endif
