/* Messages between shards: per-target lanes, batches, draining and wake-ups.
 *
 * Ordering: everything a shard sends to one target goes through one lane (the
 * iteration's batch, then the ring, with an ordered backlog in front of the ring when
 * it is full), so nothing overtakes an earlier message to the same target.
 *
 * Wake-ups (DESIGN.md section 3): a sender pushes (release), sets its bit in the
 * target's inbound word (release) and remembers the target; at the end of the
 * iteration, one full fence, then it writes the eventfd of each remembered target that
 * is parked. A parking receiver sets parked, fences, and re-checks its inbound word
 * before sleeping. Either the receiver sees the bit or the sender sees parked. */
#include "rt/internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

#define POOL_KEEP 256
#define BATCH_KEEP_BYTES (1024 * 1024)

static struct batch *batch_get(struct rt_shard *sh, unsigned target)
{
    struct batch *b = sh->pool;
    if (b) {
        sh->pool = b->next;
        sh->npool--;
    } else {
        b = calloc(1, sizeof *b);
        if (!b) {
            log_msg(LOG_WARNING, "out of memory allocating a batch");
            abort();
        }
    }
    b->next = NULL;
    b->origin = (uint16_t)sh->id;
    b->target = (uint16_t)target;
    b->is_reply = false;
    b->nreq = 0;
    b->req.len = b->rep.len = 0;
    return b;
}

static void batch_recycle(struct rt_shard *sh, struct batch *b)
{
    buf_shrink(&b->req, BATCH_KEEP_BYTES);
    buf_shrink(&b->rep, BATCH_KEEP_BYTES);
    if (sh->npool >= POOL_KEEP) {
        buf_free(&b->req);
        buf_free(&b->rep);
        free(b);
        return;
    }
    b->next = sh->pool;
    sh->pool = b;
    sh->npool++;
}

struct batch *lane_batch(struct rt_shard *sh, unsigned target)
{
    struct lane *l = &sh->lanes[target];
    if (!l->cur) {
        l->cur = batch_get(sh, target);
        sh->lanes_cur |= 1ull << target;
    }
    return l->cur;
}

void batch_add_request(struct batch *b, const struct req_hdr *h, int argc, const rt_str *argv)
{
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    struct req_hdr hdr = *h;
    hdr.argc = (uint32_t)argc;
    hdr.argbytes = (uint32_t)(bytes + (size_t)argc * sizeof(uint32_t));
    char *w = buf_reserve(&b->req, sizeof hdr + hdr.argbytes);
    memcpy(w, &hdr, sizeof hdr);
    w += sizeof hdr;
    for (int i = 0; i < argc; i++) {
        uint32_t len = (uint32_t)argv[i].len;
        memcpy(w, &len, sizeof len);
        w += sizeof len;
    }
    for (int i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(w, argv[i].ptr, argv[i].len);
        w += argv[i].len;
    }
    b->req.len += sizeof hdr + hdr.argbytes;
    b->nreq++;
}

static void publish(struct rt_shard *sh, unsigned target)
{
    atomic_fetch_or_explicit(&sh->rt->inbound[target].v, 1ull << sh->id, memory_order_release);
    sh->wake_targets |= 1ull << target;
}

void lane_send(struct rt_shard *sh, unsigned target, struct batch *b)
{
    struct lane *l = &sh->lanes[target];
    b->next = NULL;
    if (!l->backlog_head && ring_push(sh->rt->rings[sh->id][target], b)) {
        publish(sh, target);
        return;
    }
    if (l->backlog_tail)
        l->backlog_tail->next = b;
    else
        l->backlog_head = b;
    l->backlog_tail = b;
    l->backlog_len++;
    sh->backlog_total++;
    sh->lanes_backlog |= 1ull << target;
}

static void backlog_retry(struct rt_shard *sh, unsigned target)
{
    struct lane *l = &sh->lanes[target];
    struct ring *r = sh->rt->rings[sh->id][target];
    bool pushed = false;
    while (l->backlog_head && ring_push(r, l->backlog_head)) {
        l->backlog_head = l->backlog_head->next;
        l->backlog_len--;
        sh->backlog_total--;
        pushed = true;
    }
    if (!l->backlog_head) {
        l->backlog_tail = NULL;
        sh->lanes_backlog &= ~(1ull << target);
    }
    if (pushed)
        publish(sh, target); /* every push republishes the bit, re-pushes included */
}

void lane_flush(struct rt_shard *sh)
{
    for (uint64_t m = sh->lanes_backlog; m; m &= m - 1)
        backlog_retry(sh, (unsigned)__builtin_ctzll(m));
    for (uint64_t m = sh->lanes_cur; m; m &= m - 1) {
        unsigned t = (unsigned)__builtin_ctzll(m);
        struct lane *l = &sh->lanes[t];
        if (l->cur)
            lane_send(sh, t, l->cur);
        if (l->cur_rep)
            lane_send(sh, t, l->cur_rep);
        l->cur = l->cur_rep = NULL;
    }
    sh->lanes_cur = 0;
}

void lane_wake(struct rt_shard *sh)
{
    if (!sh->wake_targets)
        return;
    atomic_thread_fence(memory_order_seq_cst);
    for (uint64_t m = sh->wake_targets; m; m &= m - 1) {
        unsigned t = (unsigned)__builtin_ctzll(m);
        if (atomic_load_explicit(&sh->rt->parked[t].v, memory_order_seq_cst)) {
            uint64_t one = 1;
            ssize_t w = write(sh->rt->shards[t]->wakefd, &one, sizeof one);
            (void)w; /* EAGAIN means the counter is already non-zero: awake anyway */
        }
    }
    sh->wake_targets = 0;
}

rt_str *request_args(struct rt_shard *sh, const struct req_hdr *h, const char *block)
{
    if (sh->argv_cap < h->argc) {
        size_t cap = sh->argv_cap ? sh->argv_cap : 16;
        while (cap < h->argc)
            cap *= 2;
        rt_str *nv = realloc(sh->argv, cap * sizeof *nv);
        if (!nv)
            abort();
        sh->argv = nv;
        sh->argv_cap = cap;
    }
    const char *bytes = block + (size_t)h->argc * sizeof(uint32_t);
    for (uint32_t i = 0; i < h->argc; i++) {
        uint32_t len;
        memcpy(&len, block + (size_t)i * sizeof len, sizeof len);
        sh->argv[i] = (rt_str){bytes, len};
        bytes += len;
    }
    return sh->argv;
}

void rep_append(struct buf *rep, const struct rep_hdr *h, const char *p, size_t len)
{
    struct rep_hdr r = *h;
    r.len = len;
    char *w = buf_reserve(rep, sizeof r + len);
    memcpy(w, &r, sizeof r);
    if (len)
        memcpy(w + sizeof r, p, len);
    rep->len += sizeof r + len;
}

struct batch *lane_reply_batch(struct rt_shard *sh, unsigned target)
{
    struct lane *l = &sh->lanes[target];
    if (!l->cur_rep) {
        l->cur_rep = batch_get(sh, target);
        l->cur_rep->is_reply = true;
        sh->lanes_cur |= 1ull << target;
    }
    return l->cur_rep;
}

/* A forwarded blocking command found nothing: its reply carries the command back to
 * the origin, which waits with it (cmd pointer, argc, then the argument block). */
static void blocked_reply(struct buf *out, const struct rt_cmd *cmd, int argc, const rt_str *argv)
{
    uint32_t n = (uint32_t)argc;
    buf_append(out, &cmd, sizeof cmd);
    buf_append(out, &n, sizeof n);
    for (int i = 0; i < argc; i++) {
        uint32_t len = (uint32_t)argv[i].len;
        buf_append(out, &len, sizeof len);
    }
    for (int i = 0; i < argc; i++)
        buf_append(out, argv[i].ptr, argv[i].len);
}

static void start_blocked(struct rt_shard *sh, struct rt_client *c, uint64_t seq, const char *p,
                          size_t len)
{
    const struct rt_cmd *cmd;
    uint32_t argc;
    if (len < sizeof cmd + sizeof argc) { /* never sent so: still retire the seq */
        static const char bad[] = "-ERR internal error: malformed blocked reply\r\n";
        reply_complete(sh, c, seq, bad, sizeof bad - 1);
        return;
    }
    memcpy(&cmd, p, sizeof cmd);
    memcpy(&argc, p + sizeof cmd, sizeof argc);
    struct req_hdr h = {.argc = argc};
    rt_str *argv = request_args(sh, &h, p + sizeof cmd + sizeof argc);
    txn_start_blocked(sh, c, seq, cmd, (int)argc, argv);
}

void request_run(struct rt_shard *sh, unsigned src, const struct req_hdr *h, const rt_str *argv,
                 struct buf *rep)
{
    if (h->kind == REC_LOCK) {
        hold_lock(sh, src, h, (int)h->argc, argv, rep);
        return;
    }
    if (h->kind >= REC_WAIT) {
        wait_request(sh, src, h, argv);
        return;
    }
    const struct rt_commands *cmds = sh->rt->cmds;
    const struct rt_cmd *cmd = h->cmd;
    struct rep_hdr r = {.kind = h->kind, .slot = h->slot, .id = h->id, .seq = h->seq};
    bool post = h->kind == REC_POST;
    struct buf *out = post ? &sh->discard : rep;
    size_t at = out->len;
    if (!post)
        buf_append(out, &r, sizeof r);
    if (!cmd) {
        sh->errbuf.len = 0;
        cmd = cmds->resolve(sh->ctx, argv, (int)h->argc, RT_RESOLVE_INTERNAL, &sh->errbuf);
        if (!cmd)
            buf_append(out, sh->errbuf.data, sh->errbuf.len);
    }
    if (h->kind != REC_FORWARD)
        sh->stats.parts_executed++;
    if (cmd && h->kind == REC_FORWARD && (cmd->flags & RT_CMD_BLOCKING)) {
        r.flags = REPF_BLOCKING;
        if (exec_top(sh, cmd, (int)h->argc, argv, h->proto, out, NULL)) {
            r.flags |= REPF_BLOCKED;
            blocked_reply(out, cmd, (int)h->argc, argv);
        }
    } else if (cmd) {
        exec_call(sh, cmd, (int)h->argc, argv, h->proto, out, NULL);
    }
    if (post) {
        out->len = at;
        return;
    }
    r.len = out->len - at - sizeof r;
    memcpy(out->data + at, &r, sizeof r);
}

/* Run a batch of requests from another shard, writing replies into the same batch,
 * and send it back. A request behind a lock is queued (hold.c); its reply travels
 * later, in a reply batch. */
static void run_requests(struct rt_shard *sh, struct batch *b)
{
    const struct rt_commands *cmds = sh->rt->cmds;
    if (cmds->before_batch)
        cmds->before_batch(sh->ctx);
    size_t pos = 0;
    while (pos < b->req.len) {
        struct req_hdr h;
        memcpy(&h, b->req.data + pos, sizeof h);
        pos += sizeof h;
        const char *block = b->req.data + pos;
        pos += h.argbytes;
        rt_str *argv = request_args(sh, &h, block);
        hold_request(sh, b->origin, &h, block, argv, &b->rep);
        if (__builtin_expect(wait_busy(sh), 0))
            wait_run(sh); /* serve waiters before the next request, as after a command */
    }
    b->is_reply = true;
    /* Requests to the origin made earlier in this iteration go first: nothing this
     * shard sends to a target overtakes what it sent there before. */
    struct lane *l = &sh->lanes[b->origin];
    if (l->cur)
        lane_send(sh, b->origin, l->cur);
    if (l->cur_rep)
        lane_send(sh, b->origin, l->cur_rep);
    l->cur = l->cur_rep = NULL;
    sh->lanes_cur &= ~(1ull << b->origin);
    lane_send(sh, b->origin, b);
}

/* Deliver the replies a batch brought back, then reuse it. */
static void take_replies(struct rt_shard *sh, struct batch *b)
{
    size_t pos = 0;
    while (pos < b->rep.len) {
        struct rep_hdr h;
        memcpy(&h, b->rep.data + pos, sizeof h);
        pos += sizeof h;
        const char *p = b->rep.data + pos;
        pos += h.len;
        if (h.kind == REC_FORWARD) {
            struct rt_client *c = conn_find(sh, h.slot, h.id);
            if (!c)
                continue; /* the connection closed meanwhile: drop the reply */
            if (h.flags & REPF_BLOCKED)
                start_blocked(sh, c, h.seq, p, h.len);
            else
                reply_complete(sh, c, h.seq, p, h.len);
            if ((h.flags & REPF_BLOCKING) && --c->fwd_blocking == 0)
                conn_resume(sh, c);
        } else if (h.kind == REC_LOCK) {
            txn_lock_reply(sh, h.slot, h.id, (uint32_t)h.seq, h.shard, h.len == 1 && p[0] == 'G');
        } else {
            txn_part_reply(sh, &h, p);
        }
    }
    batch_recycle(sh, b);
}

void rt_post(struct rt_shard *sh, unsigned shard, int argc, const rt_str *argv)
{
    if (shard >= sh->n)
        return;
    struct req_hdr h = {.kind = REC_POST, .proto = 2};
    if (shard != sh->id) {
        batch_add_request(lane_batch(sh, shard), &h, argc, argv);
        return;
    }
    h.argc = (uint32_t)argc;
    request_run(sh, sh->id, &h, argv, NULL);
}

bool lane_drain(struct rt_shard *sh)
{
    _Atomic uint64_t *word = &sh->rt->inbound[sh->id].v;
    if (!atomic_load_explicit(word, memory_order_acquire))
        return false;
    uint64_t bits = atomic_exchange_explicit(word, 0, memory_order_acq_rel);
    bool any = false;
    for (uint64_t m = bits; m; m &= m - 1) {
        unsigned src = (unsigned)__builtin_ctzll(m);
        struct ring *r = sh->rt->rings[src][sh->id];
        unsigned budget = RT_DRAIN_BUDGET;
        struct batch *b;
        while (budget && (b = ring_pop(r))) {
            budget--;
            any = true;
            if (b->is_reply)
                take_replies(sh, b);
            else
                run_requests(sh, b);
        }
        /* Budget spent with work left: keep the bit so the next iteration returns. */
        if (!budget && !ring_empty(r))
            atomic_fetch_or_explicit(word, 1ull << src, memory_order_relaxed);
    }
    return any;
}

void lane_free_all(struct rt_shard *sh)
{
    for (unsigned t = 0; t < RT_MAX_SHARDS; t++) {
        struct lane *l = &sh->lanes[t];
        if (l->cur)
            batch_recycle(sh, l->cur);
        if (l->cur_rep)
            batch_recycle(sh, l->cur_rep);
        l->cur = l->cur_rep = NULL;
        while (l->backlog_head) {
            struct batch *b = l->backlog_head;
            l->backlog_head = b->next;
            buf_free(&b->req);
            buf_free(&b->rep);
            free(b);
        }
        l->backlog_tail = NULL;
    }
    while (sh->pool) {
        struct batch *b = sh->pool;
        sh->pool = b->next;
        sh->npool--;
        buf_free(&b->req);
        buf_free(&b->rep);
        free(b);
    }
}
