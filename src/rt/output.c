/* A connection's output: its byte buffer plus references to shared blocks, sent in
 * order with writev; out-of-band pushes (pub/sub messages); output buffer limits by
 * client class; CLIENT KILL.
 *
 * Invariants (DESIGN.md section 5):
 * - bytes leave in the order they were appended, a referenced block's bytes at the
 *   position it was referenced at; a short write resumes at the exact next byte, also
 *   in the middle of a block;
 * - a block stays referenced until its last byte is written or the connection drops
 *   its output (limit, close), so its memory is pinned while the kernel may read it;
 * - out_pending (unsent bytes of the buffer and of blocks) is exact at every moment, so
 *   the limit test of every emit and push is one compare against the class's trip.
 *
 * Limits count what is unsent past the first OUT_FREE bytes, as Redis counts only its
 * reply list, not the 16 KB buffer in front of it: a limit of a few bytes does not close
 * a client whose replies are small. */
#include "rt/internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "base/block.h"
#include "base/log.h"

/* Blocks this small are copied into the buffer: cheaper than a reference and an extra
 * iovec (and message bodies are mostly small). */
#define OUT_COPY_MAX 256

/* struct rt_block and its functions: base/block.c. */

/* ---- Limits ---- */

enum { OUT_HARD, OUT_SOFT, OUT_SECONDS };
#define OUT_FREE (16 * 1024)

static const struct rt_output_limit default_limits[RT_CLASS_COUNT] = {
    [RT_CLASS_NORMAL] = {0, 0, 0},
    [RT_CLASS_PUBSUB] = {32u << 20, 8u << 20, 60},
};

static void limits_store(struct rt *rt, enum rt_client_class cls, const struct rt_output_limit *l)
{
    uint64_t trip = UINT64_MAX;
    if (l->hard)
        trip = l->hard;
    if (l->soft && l->soft < trip)
        trip = l->soft;
    trip = trip > UINT64_MAX - OUT_FREE ? UINT64_MAX : trip + OUT_FREE; /* on out_pending */
    _Atomic uint64_t *v = rt->out_limits[cls];
    /* Trip last: a reader that sees it low finds the limits it was computed from (or
     * newer ones) when it looks. */
    atomic_store_explicit(&v[OUT_HARD], l->hard, memory_order_relaxed);
    atomic_store_explicit(&v[OUT_SOFT], l->soft, memory_order_relaxed);
    atomic_store_explicit(&v[OUT_SECONDS], l->soft_seconds, memory_order_relaxed);
    atomic_store_explicit(&v[OUT_TRIP], trip, memory_order_release);
}

/* The defaults, set by rt_create before any shard runs. */
void out_limits_init(struct rt *rt)
{
    for (int cls = 0; cls < RT_CLASS_COUNT; cls++)
        limits_store(rt, (enum rt_client_class)cls, &default_limits[cls]);
}

void rt_set_output_limit(struct rt *rt, enum rt_client_class cls, const struct rt_output_limit *l)
{
    if ((unsigned)cls >= RT_CLASS_COUNT)
        return;
    limits_store(rt, cls, l);
}

void rt_get_output_limit(const struct rt *rt, enum rt_client_class cls, struct rt_output_limit *l)
{
    if ((unsigned)cls >= RT_CLASS_COUNT) {
        *l = (struct rt_output_limit){0, 0, 0};
        return;
    }
    _Atomic uint64_t *v = ((struct rt *)rt)->out_limits[cls];
    l->hard = atomic_load_explicit(&v[OUT_HARD], memory_order_relaxed);
    l->soft = atomic_load_explicit(&v[OUT_SOFT], memory_order_relaxed);
    l->soft_seconds = atomic_load_explicit(&v[OUT_SECONDS], memory_order_relaxed);
}

void rt_client_set_class(struct rt_client *c, enum rt_client_class cls)
{
    if ((unsigned)cls >= RT_CLASS_COUNT || c->out_class == cls)
        return;
    struct rt_shard_stats *st = &c->sh->stats;
    if (c->out_class == RT_CLASS_PUBSUB)
        st->pubsub_clients--;
    if (cls == RT_CLASS_PUBSUB)
        st->pubsub_clients++;
    c->out_class = (uint8_t)cls;
    c->soft_since_ms = 0;
}

size_t out_counted(const struct rt_client *c)
{
    size_t p = out_pending(c);
    return p > OUT_FREE ? p - OUT_FREE : 0;
}

/* Schedule the close (conn_write closes a killed connection before writing), as Redis
 * frees such a client asynchronously: nothing more of its output goes out. */
static void out_kill(struct rt_shard *sh, struct rt_client *c)
{
    struct buf line = {0};
    rt_client_describe(c, &(struct rt_client_info){.flags = NULL, .multi = -1}, &line);
    log_msg(LOG_WARNING,
            "Client %.*s scheduled to be closed ASAP for overcoming of output buffer limits.",
            (int)line.len, line.data ? line.data : "");
    buf_free(&line);
    out_discard(c);
    c->out_killed = true;
    c->closing = true;
    conn_mark_dirty(sh, c);
}

bool out_check_limits(struct rt_shard *sh, struct rt_client *c)
{
    if (c->out_killed)
        return true;
    _Atomic uint64_t *v = sh->rt->out_limits[c->out_class];
    uint64_t hard = atomic_load_explicit(&v[OUT_HARD], memory_order_relaxed);
    uint64_t soft = atomic_load_explicit(&v[OUT_SOFT], memory_order_relaxed);
    uint64_t secs = atomic_load_explicit(&v[OUT_SECONDS], memory_order_relaxed);
    uint64_t used = out_counted(c);
    bool over = hard && used >= hard;
    if (soft && used >= soft) {
        /* Over the soft limit: close once it has lasted more than soft_seconds. */
        if (!c->soft_since_ms)
            c->soft_since_ms = sh->now_ms;
        else if ((uint64_t)(sh->now_ms - c->soft_since_ms) > secs * 1000)
            over = true;
    } else {
        c->soft_since_ms = 0;
    }
    if (over)
        out_kill(sh, c);
    return over;
}

/* ---- The output: bytes and block references ---- */

void out_add_block(struct rt_client *c, struct rt_block *b)
{
    struct outq *q = &c->out;
    if (q->n == q->cap) {
        if (q->head > q->n / 2) {
            /* Mostly written: slide the live references down instead of growing. */
            memmove(q->refs, q->refs + q->head, (q->n - q->head) * sizeof *q->refs);
            q->n -= q->head;
            q->head = 0;
        } else {
            uint32_t cap = q->cap ? q->cap * 2 : 8;
            struct out_ref *nr = realloc(q->refs, cap * sizeof *nr);
            if (!nr)
                abort();
            q->refs = nr;
            q->cap = cap;
        }
    }
    rt_block_ref(b);
    q->refs[q->n++] = (struct out_ref){.pos = q->buf.len, .b = b};
    q->ref_bytes += rt_block_len(b);
}

int outq_iov(const struct outq *q, struct iovec *iov, int max)
{
    int n = 0;
    size_t pos = q->sent, off = q->off;
    for (uint32_t i = q->head; n < max; i++) {
        size_t end = i < q->n ? q->refs[i].pos : q->buf.len;
        if (end > pos) {
            iov[n++] = (struct iovec){.iov_base = q->buf.data + pos, .iov_len = end - pos};
            pos = end;
            if (n == max)
                break;
        }
        if (i == q->n)
            break;
        const struct rt_block *b = q->refs[i].b;
        iov[n++] = (struct iovec){.iov_base = (char *)rt_block_data(b) + off,
                                  .iov_len = rt_block_len(b) - off};
        off = 0;
    }
    return n;
}

static void outq_reset(struct outq *q)
{
    q->buf.len = q->sent = 0;
    q->head = q->n = 0;
    q->off = q->ref_bytes = 0;
    if (q->cap > 64) {
        free(q->refs);
        q->refs = NULL;
        q->cap = 0;
    }
}

void outq_advance(struct outq *q, size_t n)
{
    while (n) {
        if (q->head < q->n && q->refs[q->head].pos == q->sent) {
            struct out_ref *r = &q->refs[q->head];
            size_t rest = rt_block_len(r->b) - q->off;
            if (n < rest) {
                q->off += n;
                q->ref_bytes -= n;
                return;
            }
            n -= rest;
            q->ref_bytes -= rest;
            rt_block_unref(r->b);
            q->head++;
            q->off = 0;
            continue;
        }
        size_t end = q->head < q->n ? q->refs[q->head].pos : q->buf.len;
        size_t take = end - q->sent < n ? end - q->sent : n;
        q->sent += take;
        n -= take;
    }
    if (!outq_has_unsent(q)) {
        outq_reset(q);
        return;
    }
    /* A reader slower than the writer never drains completely: give back the written
     * prefix once it is most of the buffer, so the buffer holds what is unsent. */
    if (q->sent >= 64 * 1024 && q->sent >= q->buf.len / 2) {
        size_t sent = q->sent;
        buf_consume(&q->buf, sent);
        q->sent = 0;
        for (uint32_t i = q->head; i < q->n; i++)
            q->refs[i].pos -= sent;
    }
}

void outq_clear(struct outq *q, bool release)
{
    for (uint32_t i = q->head; i < q->n; i++)
        rt_block_unref(q->refs[i].b);
    outq_reset(q);
    if (release) {
        free(q->refs);
        buf_free(&q->buf);
        *q = (struct outq){0};
    }
}

void out_discard(struct rt_client *c)
{
    /* The buffer's memory stays: a command may be writing its reply into it. */
    outq_clear(&c->out, false);
}

/* Pushes to a connection whose reply is being written: bytes, and blocks (by reference)
 * at positions in them. */
struct held_pushes {
    struct buf bytes;
    struct held_block {
        size_t pos;
        struct rt_block *b;
    } *blocks;
    size_t nblocks, cap;
};

static struct held_pushes *held_get(struct rt_client *c)
{
    if (!c->pushes_held) {
        c->pushes_held = calloc(1, sizeof *c->pushes_held);
        if (!c->pushes_held)
            abort();
    }
    return c->pushes_held;
}

static void held_free(struct held_pushes *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nblocks; i++)
        rt_block_unref(h->blocks[i].b);
    free(h->blocks);
    buf_free(&h->bytes);
    free(h);
}

void out_release(struct rt_shard *sh, struct rt_client *c)
{
    outq_clear(&c->out, true);
    if (c->out_class == RT_CLASS_PUBSUB)
        sh->stats.pubsub_clients--;
    c->out_class = RT_CLASS_NORMAL;
    held_free(c->pushes_held);
    c->pushes_held = NULL;
}

void out_release_pushes(struct rt_shard *sh, struct rt_client *c)
{
    struct held_pushes *h = c->pushes_held;
    c->pushes_held = NULL;
    size_t at = 0;
    for (size_t i = 0; i < h->nblocks; i++) {
        rt_client_push(sh, c, h->bytes.data + at, h->blocks[i].pos - at);
        rt_client_push_block(sh, c, h->blocks[i].b);
        at = h->blocks[i].pos;
    }
    rt_client_push(sh, c, h->bytes.data + at, h->bytes.len - at);
    held_free(h);
}

/* ---- Out-of-band output ---- */


/* The fan-out hot path: a flag test, a copy, a compare, and a dedupe test. */
void rt_client_push(struct rt_shard *sh, struct rt_client *c, const char *p, size_t len)
{
    if (__builtin_expect(c->closing, 0))
        return; /* QUIT, killed, protocol error: nothing more reaches it */
    if (__builtin_expect(c->writing_reply, 0)) {
        buf_append(&held_get(c)->bytes, p, len); /* never inside the reply being written */
        return;
    }
    buf_append(&c->out.buf, p, len);
    if (__builtin_expect(out_tripped(sh, c), 0) && out_check_limits(sh, c))
        return;
    if (!c->in_dirty)
        conn_mark_dirty(sh, c);
}

void rt_client_push_block(struct rt_shard *sh, struct rt_client *c, struct rt_block *b)
{
    if (rt_block_len(b) <= OUT_COPY_MAX) {
        rt_client_push(sh, c, rt_block_data(b), rt_block_len(b));
        return;
    }
    if (__builtin_expect(c->closing, 0))
        return;
    if (__builtin_expect(c->writing_reply, 0)) {
        struct held_pushes *h = held_get(c);
        if (h->nblocks == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 4;
            h->blocks = realloc(h->blocks, h->cap * sizeof *h->blocks);
            if (!h->blocks)
                abort();
        }
        rt_block_ref(b);
        h->blocks[h->nblocks++] = (struct held_block){h->bytes.len, b};
        return;
    }
    out_add_block(c, b);
    if (__builtin_expect(out_tripped(sh, c), 0) && out_check_limits(sh, c))
        return;
    if (!c->in_dirty)
        conn_mark_dirty(sh, c);
}

/* ---- CLIENT KILL ---- */

void rt_client_kill(struct rt_shard *sh, struct rt_client *c)
{
    if (c->fd < 0)
        return;
    /* The client whose command is running (inside its conn_process, or a multi-shard
     * command of it in flight that is not a blocked wait) is killing itself: its reply
     * goes out first, then it closes, as after QUIT. */
    if (c->processing || (c->txns && !c->block_id)) {
        c->closing = true;
        conn_mark_dirty(sh, c);
        return;
    }
    conn_close(sh, c);
}

struct rt_client *rt_shard_client(struct rt_shard *sh, uint64_t id)
{
    if (rt_client_id_shard(id) != sh->id)
        return NULL;
    uint64_t local = id >> 6;
    /* Slots are reused by later ids, so nothing maps an id to its slot without an index
     * of its own; a scan of the table is a few thousand compares at most (CLIENT KILL,
     * CLIENT UNBLOCK: not hot). */
    for (uint32_t i = 0; i < sh->conns_cap; i++) {
        struct rt_client *c = sh->conns[i];
        if (c && c->id == local && c->fd >= 0)
            return c;
    }
    return NULL;
}
