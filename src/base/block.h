/* Reference-counted byte blocks (struct rt_block, whose public face is in corekv/rt.h).
 *
 * A block is one allocation: a header and `cap` bytes of which the first `len` are the
 * value. Two users share it: the store holds big string values in blocks, and a
 * connection's output references blocks instead of copying their bytes (writev), so a
 * GET of a big value costs no copy and a pub/sub message body is stored once for all
 * its subscribers.
 *
 * Invariants:
 * - refs counts the holders (an entry, each output position referencing it, a held
 *   push...). The count is not atomic: a block is used by one thread at a time (its
 *   shard); the last unref may hand it to another thread only to free it.
 * - The bytes of a block with refs > 1 never change: whoever holds it may be writing
 *   them to a socket. A holder that wants to change them copies first (block_unshare).
 * - cap >= len; data[] is never empty in memory (at least one byte is allocated). */
#ifndef COREKV_BASE_BLOCK_H
#define COREKV_BASE_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rt_block {
    uint32_t refs;
    size_t len;
    size_t cap;
    char data[];
};

/* The public functions (corekv/rt.h), implemented in block.c and declared here too for
 * the layers below the runtime. */
struct rt_block *rt_block_new(const void *p, size_t len);
void rt_block_ref(struct rt_block *b);
void rt_block_unref(struct rt_block *b);
size_t rt_block_len(const struct rt_block *b);
const char *rt_block_data(const struct rt_block *b);

/* For the store and the runtime: */

/* A block of capacity cap holding no bytes yet (len 0), refs 1. Aborts on OOM. */
struct rt_block *block_alloc(size_t cap);
/* Grow an unshared block (refs == 1) to hold at least cap bytes; may move it. */
struct rt_block *block_reserve(struct rt_block *b, size_t cap);
/* A block whose bytes the caller may change, with room for at least cap bytes: b itself
 * when unshared (grown as block_reserve), otherwise a copy of its len bytes, and b loses
 * the caller's reference. */
struct rt_block *block_unshare(struct rt_block *b, size_t cap);

static inline bool block_shared(const struct rt_block *b) { return b->refs > 1; }

/* Blocks of at least `min_len` bytes of capacity whose last reference goes are passed to
 * fn instead of being freed in place (fn frees them, say on a background thread, with
 * block_free): freeing hundreds of megabytes returns pages to the kernel, which would
 * stall the shard. Process-wide; any thread may set it at any time (the same values
 * each time: a block released meanwhile goes either way). */
void block_set_release(size_t min_len, void (*fn)(struct rt_block *b));
/* Free a block whatever its count (the release hook's own free). */
void block_free(struct rt_block *b);

#endif
