/* Intset: a sorted array of distinct integers in one allocation, in Redis's intset
 * format (u32 encoding 2/4/8, u32 length, then the values little-endian, ascending),
 * upgraded to a wider encoding when a value needs it (never downgraded, as Redis).
 * Lookups are binary searches; insert and delete move the tail (O(n), as Redis: sets
 * stay intsets only up to set-max-intset-entries). Allocation failure aborts. Calls
 * that change the set return it (it may move). */
#ifndef COREKV_STORE_INTSET_H
#define COREKV_STORE_INTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct intset;

struct intset *intset_new(void);
void intset_free(struct intset *is);
size_t intset_len(const struct intset *is);
size_t intset_bytes(const struct intset *is);
bool intset_has(const struct intset *is, int64_t v);
/* *added tells whether v was new. */
struct intset *intset_add(struct intset *is, int64_t v, bool *added);
struct intset *intset_remove(struct intset *is, int64_t v, bool *removed);
/* The value at position i (0 <= i < len), ascending. */
int64_t intset_get(const struct intset *is, size_t i);
/* A uniformly random member (the set must not be empty); *rng: caller's xorshift state. */
int64_t intset_random(const struct intset *is, uint64_t *rng);
/* Whether bytes[0..size) is a well-formed intset (encoding, length, strictly ascending
 * values), the check before trusting restored bytes; then intset_from copies it. */
bool intset_validate(const unsigned char *bytes, size_t size);
struct intset *intset_from(const unsigned char *bytes, size_t size);

#endif
