/* Delivering messages: PUBLISH's count and fan-out, the "__psdeliver" half on the other
 * shards, and the frames.
 *
 * A publish on shard A counts its receivers from A's view (the channel's total plus the
 * totals of the matching patterns: no round trip), delivers to A's own subscribers at
 * once, and posts one "__psdeliver" to each other shard whose bit is set in the union of
 * the masks. rt_post batches everything sent to one shard in a loop iteration into one
 * message on the one ordered lane from A to it, so messages of one publisher reach every
 * subscriber in order.
 *
 * On each shard a message's frame is built once per protocol (RESP2 "*3", RESP3 ">3",
 * which differ in their first byte only) and pushed to every local subscriber: one
 * memcpy into its output per subscriber. A body of PS_BLOCK_MIN bytes or more is
 * pushed by reference instead: the frame's header, then one shared rt_block holding the
 * body, then "\r\n". */
#include <stdlib.h>
#include <string.h>

#include "base/glob.h"
#include "base/numfmt.h"
#include "cmd/pubsub_impl.h"

/* Bodies from this size on are shared, not copied per subscriber. Measured with
 * bench/fanout (50 subscribers, 2 shards, window 256): at 600-byte bodies references
 * deliver 3-5 times faster than copies, at 2000 bytes over 10 times (copied frames make
 * every lagging subscriber's buffer large, and large buffers are moved and faulted in).
 * The runtime copies blocks of up to 256 bytes anyway. */
#ifndef PS_BLOCK_MIN
#define PS_BLOCK_MIN 512
#endif

/* One message being delivered on this shard. */
struct delivery {
    struct ps_shard *ps;
    struct rt_shard *sh;
    const char *ch, *msg;
    size_t chlen, mlen;
    struct rt_block *blk; /* the body, when shared (created on first use) */
};

/* A frame: RESP2 bytes in b2, the RESP3 copy made on demand in ps->frame3. */
struct frame {
    struct buf *b2;
    bool has3;
};

static void put_bulk(struct buf *b, const char *p, size_t n, bool body)
{
    char num[NUMFMT_I64_MAX + 3];
    num[0] = '$';
    int k = i64_to_str(num + 1, (int64_t)n);
    num[1 + k] = '\r';
    num[2 + k] = '\n';
    buf_append(b, num, (size_t)k + 3);
    if (body) {
        buf_append(b, p, n);
        buf_append(b, "\r\n", 2);
    }
}

/* "*3 $7 message $ch $msg" (or pmessage with the pattern, smessage): the whole frame, or
 * up to the body's length line when the body goes by reference. */
static void build(struct delivery *d, struct buf *b, const char *type, const struct ps_entry *pat)
{
    b->len = 0;
    buf_append(b, pat ? "*4\r\n" : "*3\r\n", 4);
    put_bulk(b, type, strlen(type), true);
    if (pat)
        put_bulk(b, pat->name, pat->len, true);
    put_bulk(b, d->ch, d->chlen, true);
    bool by_ref = d->mlen >= PS_BLOCK_MIN;
    put_bulk(b, d->msg, d->mlen, !by_ref);
    if (by_ref && !d->blk)
        d->blk = rt_block_new(d->msg, d->mlen);
}

void ps_push(struct ps_shard *ps, struct ps_client *pc, const char *p, size_t len)
{
    if (pc->holding)
        buf_append(&pc->held, p, len);
    else
        rt_client_push(ps->cs->sh, pc->c, p, len);
}

static void send_to(struct delivery *d, struct frame *f, const struct ps_sub *s)
{
    const struct buf *b = f->b2;
    if (rt_client_proto(s->c) != 2) {
        struct buf *b3 = &d->ps->frame3;
        if (!f->has3) {
            b3->len = 0;
            buf_append(b3, f->b2->data, f->b2->len);
            b3->data[0] = '>';
            f->has3 = true;
        }
        b = b3;
    }
    if (s->pc->holding) {
        buf_append(&s->pc->held, b->data, b->len);
        if (d->blk) {
            buf_append(&s->pc->held, rt_block_data(d->blk), rt_block_len(d->blk));
            buf_append(&s->pc->held, "\r\n", 2);
        }
        return;
    }
    rt_client_push(d->sh, s->c, b->data, b->len);
    if (d->blk) {
        rt_client_push_block(d->sh, s->c, d->blk);
        rt_client_push(d->sh, s->c, "\r\n", 2);
    }
}

/* Every local subscriber of e. Pushing never closes a connection synchronously, so e and
 * its subscriber array stay as they are during the loop. */
static void deliver_entry(struct delivery *d, struct ps_entry *e)
{
    struct ps_shard *ps = d->ps;
    struct buf *b = e->kind == PS_PAT ? &ps->pframe : &ps->frame;
    static const char *const types[PS_NKINDS] = {"message", "pmessage", "smessage"};
    build(d, b, types[e->kind], e->kind == PS_PAT ? e : NULL);
    struct frame f = {.b2 = b};
    for (uint32_t i = 0; i < e->nsubs; i++)
        send_to(d, &f, &e->subs[i]);
}

bool ps_pattern_match(const struct ps_entry *pat, const char *ch, size_t chlen)
{
    bool exceeded;
    uint64_t budget = 32 * ((uint64_t)pat->len + chlen) + 1024;
    return glob_match_bounded(pat->name, pat->len, ch, chlen, false, budget, &exceeded);
}

static void delivery_end(struct delivery *d)
{
    if (d->blk)
        rt_block_unref(d->blk);
    d->blk = NULL;
}

int64_t ps_publish(struct ps_shard *ps, bool sharded, const char *ch, size_t chlen,
                   const char *msg, size_t mlen)
{
    struct rt_shard *sh = ps->cs->sh;
    struct delivery d = {.ps = ps, .sh = sh, .ch = ch, .chlen = chlen, .msg = msg, .mlen = mlen};
    int64_t count = 0;
    uint64_t mask = 0;
    struct ps_entry *e = ps_find(ps, sharded ? PS_SCHAN : PS_CHAN, ch, chlen);
    if (e) {
        count += e->total;
        mask |= e->mask;
        if (e->nsubs)
            deliver_entry(&d, e);
    }
    if (!sharded) {
        for (uint32_t i = 0; i < ps->pats.n; i++) {
            struct ps_entry *p = ps->pats.v[i];
            if (!ps_pattern_match(p, ch, chlen))
                continue;
            count += p->total;
            mask |= p->mask;
            if (p->nsubs)
                deliver_entry(&d, p);
        }
    }
    delivery_end(&d);
    mask &= ~(1ull << rt_shard_id(sh));
    if (mask) {
        rt_str argv[4] = {{"__psdeliver", 11}, {sharded ? "s" : "c", 1}, {ch, chlen},
                          {msg, mlen}};
        for (; mask; mask &= mask - 1)
            rt_post(sh, (unsigned)__builtin_ctzll(mask), 4, argv);
    }
    return count;
}

void ps_deliver_exec(struct rt_call *call)
{
    struct ps_shard *ps = ps_shard();
    if (call->argc != 4 || !ps) {
        resp_ok(call->out);
        return;
    }
    const rt_str *a = call->argv;
    bool sharded = a[1].len == 1 && a[1].ptr[0] == 's';
    struct delivery d = {.ps = ps, .sh = call->rt_shard, .ch = a[2].ptr, .chlen = a[2].len,
                         .msg = a[3].ptr, .mlen = a[3].len};
    struct ps_entry *e = ps_find(ps, sharded ? PS_SCHAN : PS_CHAN, d.ch, d.chlen);
    if (e && e->nsubs)
        deliver_entry(&d, e);
    if (!sharded)
        for (uint32_t i = 0; i < ps->lpats.n; i++) {
            struct ps_entry *p = ps->lpats.v[i];
            if (ps_pattern_match(p, d.ch, d.chlen))
                deliver_entry(&d, p);
        }
    delivery_end(&d);
    resp_ok(call->out);
}

void pubsub_publish(struct cmd_shard *cs, const char *ch, size_t chlen, const char *msg,
                    size_t mlen)
{
    (void)cs;
    struct ps_shard *ps = ps_shard();
    if (ps)
        ps_publish(ps, false, ch, chlen, msg, mlen);
}
