/* Replies that carry a block (a big string value) by reference: see rt_reply_block in
 * corekv/rt.h and the output's invariants in output.c. */
#include "rt/internal.h"

#include "base/block.h"

/* Blocks shorter than this are copied into the output: below it a copy costs no more
 * than a reference (an out_ref slot, one more iovec per write, the count taken and
 * dropped). Measured on this machine (2 cores; Release build, one shard pinned to core
 * 0, redis-benchmark -t get -c 20 -P 4 -d SIZE on core 1, default reactor, median of 3
 * runs, server CPU per GET, copy vs reference):
 *     1 KiB  3.85 vs 4.05 us     16 KiB   4.85 vs 3.80 us
 *     2 KiB  4.40 vs 4.25 us     64 KiB   32.8 vs 26.2 us
 *     4 KiB  3.85 vs 3.55 us    256 KiB    375 vs 60 us
 *     8 KiB  4.10 vs 3.45 us      1 MiB   2615 vs 140 us
 * The two meet near 2 KiB (within the noise of a shared machine); from 4 KiB on the
 * reference is ahead, and far ahead for big values, whose copies also grow and shrink
 * the output buffer. */
#ifndef REPLY_REF_MIN /* a build may set it, to measure again */
#define REPLY_REF_MIN 4096
#endif

void rt_reply_block(struct rt_client *c, struct buf *out, struct rt_block *b)
{
    if (c && out == &c->out.buf && b->len >= REPLY_REF_MIN) {
        out_add_block(c, b);
        return;
    }
    buf_append(out, b->data, b->len);
}
