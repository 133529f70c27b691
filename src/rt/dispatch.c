/* Running one parsed command: resolve, route, execute or forward, and keep replies in
 * order.
 *
 * Every command takes seq = next_seq++ and its reply reaches the output only after
 * every earlier one (DESIGN.md section 5). A command executed here while nothing is
 * pending writes straight into the output buffer; any other reply waits in its pending
 * slot until the front of the queue is complete. */
#include "rt/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

static struct pending *pq_at(struct rt_client *c, size_t i)
{
    return &c->pq[(c->pq_head + i) & (c->pq_cap - 1)];
}

/* Append a slot for seq = next_seq (the queue stays a power-of-two ring). */
static struct pending *pq_push(struct rt_client *c)
{
    if (c->pq_len == c->pq_cap) {
        size_t cap = c->pq_cap ? c->pq_cap * 2 : 16;
        struct pending *np = calloc(cap, sizeof *np);
        if (!np)
            abort();
        for (size_t i = 0; i < c->pq_len; i++)
            np[i] = *pq_at(c, i);
        /* Slots past the live ones keep no buffers: carry over the spare ones too. */
        for (size_t i = c->pq_len; i < c->pq_cap; i++)
            np[i] = *pq_at(c, i);
        free(c->pq);
        c->pq = np;
        c->pq_head = 0;
        c->pq_cap = cap;
    }
    struct pending *p = pq_at(c, c->pq_len++);
    p->done = false;
    p->reply.len = 0;
    c->next_seq++;
    return p;
}

uint64_t reply_reserve(struct rt_client *c)
{
    uint64_t seq = c->next_seq;
    pq_push(c);
    return seq;
}

void reply_complete(struct rt_shard *sh, struct rt_client *c, uint64_t seq, const char *p,
                    size_t len)
{
    size_t idx = (size_t)(seq - c->next_emit);
    if (seq < c->next_emit || idx >= c->pq_len) {
        log_msg(LOG_WARNING, "reply for seq %llu outside the pending window",
                (unsigned long long)seq);
        return;
    }
    struct pending *slot = pq_at(c, idx);
    if (idx != 0) {
        buf_append(&slot->reply, p, len);
        slot->done = true;
        return;
    }
    /* The front: emit it, then every finished slot behind it. */
    buf_append(&c->out.buf, p, len);
    for (;;) {
        c->pq_head = (c->pq_head + 1) & (c->pq_cap - 1);
        c->pq_len--;
        c->next_emit++;
        if (!c->pq_len)
            break;
        struct pending *front = pq_at(c, 0);
        if (!front->done)
            break;
        buf_append(&c->out.buf, front->reply.data, front->reply.len);
        buf_shrink(&front->reply, 4096);
    }
    conn_mark_dirty(sh, c);
}

void reply_free_all(struct rt_client *c)
{
    for (size_t i = 0; i < c->pq_cap; i++)
        buf_free(&c->pq[i].reply);
    free(c->pq);
    c->pq = NULL;
    c->pq_cap = c->pq_len = 0;
}

static inline bool exec_with(struct rt_shard *sh, const struct rt_cmd *cmd, int argc,
                             const rt_str *argv, int proto, struct buf *out,
                             struct rt_client *client, bool can_block)
{
    struct rt_call call = {
        .shard = sh->ctx,
        .rt_shard = sh,
        .cmd = cmd,
        .argv = argv,
        .argc = argc,
        .proto = proto,
        .out = out,
        .client = client,
        .can_block = can_block,
    };
    cmd->exec(&call);
    return call.blocked;
}

void exec_call(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv,
               int proto, struct buf *out, struct rt_client *client)
{
    exec_with(sh, cmd, argc, argv, proto, out, client, false);
}

bool exec_top(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv,
              int proto, struct buf *out, struct rt_client *client)
{
    return exec_with(sh, cmd, argc, argv, proto, out, client,
                     (cmd->flags & RT_CMD_BLOCKING) != 0);
}

/* Run a command on this shard and deliver its reply in order. A blocking command that
 * found nothing wrote no reply: it waits as a transaction holding its seq (wait.c). */
static void run_local(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd,
                      int argc, const rt_str *argv)
{
    if (c->pq_len == 0) {
        /* In order already (seq == next_emit): write straight into the output. */
        c->writing_reply = true;
        bool blocked = exec_top(sh, cmd, argc, argv, c->proto, &c->out.buf, c);
        c->writing_reply = false;
        if (__builtin_expect(blocked, 0)) {
            txn_start_blocked(sh, c, reply_reserve(c), cmd, argc, argv);
        } else {
            c->next_seq++;
            c->next_emit++;
        }
        if (__builtin_expect(c->pushes_held != NULL, 0))
            out_release_pushes(sh, c);
        conn_mark_dirty(sh, c);
        return;
    }
    /* Earlier replies are outstanding, so the front slot is not done and this
     * completion cannot emit anything: fill the slot in place. */
    struct pending *slot = pq_push(c);
    uint64_t seq = c->next_seq - 1;
    if (exec_top(sh, cmd, argc, argv, c->proto, &slot->reply, c))
        txn_start_blocked(sh, c, seq, cmd, argc, argv);
    else
        slot->done = true;
}

static void reply_now(struct rt_shard *sh, struct rt_client *c, const char *p, size_t len)
{
    uint64_t seq = reply_reserve(c);
    reply_complete(sh, c, seq, p, len);
}

static void forward(struct rt_shard *sh, struct rt_client *c, unsigned target,
                    const struct rt_cmd *cmd, int argc, const rt_str *argv)
{
    struct req_hdr h = {.kind = REC_FORWARD, .proto = c->proto, .slot = c->slot, .id = c->id,
                        .seq = reply_reserve(c), .cmd = cmd};
    batch_add_request(lane_batch(sh, target), &h, argc, argv);
    sh->stats.forwarded_out++;
    if (cmd->flags & RT_CMD_BLOCKING)
        c->fwd_blocking++; /* read nothing more until it answers: it may block */
}

int keys_shard(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv)
{
    struct rt_keyiter it;
    rt_keys_begin(&it, cmd, argc, argv);
    int i = rt_keys_next(&it);
    if (i < 0)
        return (int)sh->id;
    if (sh->n == 1)
        return 0;
    unsigned owner = rt_key_shard(sh, argv[i].ptr, argv[i].len);
    while ((i = rt_keys_next(&it)) >= 0)
        if (rt_key_shard(sh, argv[i].ptr, argv[i].len) != owner)
            return -1;
    return (int)owner;
}

void dispatch_command(struct rt_shard *sh, struct rt_client *c, int argc, const rt_str *argv)
{
    const struct rt_commands *cmds = sh->rt->cmds;
    sh->errbuf.len = 0;
    const struct rt_cmd *cmd = cmds->resolve(sh->ctx, argv, argc, 0, &sh->errbuf);
    if (!cmd) {
        reply_now(sh, c, sh->errbuf.data, sh->errbuf.len);
        if (c->intercept && cmds->intercept) {
            /* The intercept learns of the failure; the error is already replied. */
            struct buf ignored = {0};
            cmds->intercept(sh->ctx, c, NULL, argc, argv, &ignored);
            buf_free(&ignored);
        }
        return;
    }
    dispatch_resolved(sh, c, cmd, argc, argv);
}

/* A client that asked for it sees each command first (MULTI queues them). */
static bool intercepted(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd,
                        int argc, const rt_str *argv)
{
    if (!sh->rt->cmds->intercept)
        return false;
    struct buf out = {0};
    bool handled = sh->rt->cmds->intercept(sh->ctx, c, cmd, argc, argv, &out);
    if (handled)
        reply_now(sh, c, out.data, out.len);
    buf_free(&out);
    return handled;
}

static void route(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                  const rt_str *argv);

void dispatch_resolved(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd,
                       int argc, const rt_str *argv)
{
    route(sh, c, cmd, argc, argv);
    /* Clients blocked on keys this command wrote are served before the next command,
     * as in Redis. */
    if (__builtin_expect(wait_busy(sh), 0))
        wait_run(sh);
}

static void route(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                  const rt_str *argv)
{
    c->last_cmd = cmd;
    sh->stats.commands_processed++;
    if (__builtin_expect(c->intercept, 0) && intercepted(sh, c, cmd, argc, argv))
        return;
    if (cmd->flags & RT_CMD_QUIT)
        c->closing = true; /* its reply is the last thing this connection gets */

    switch (cmd->route) {
    case RT_ROUTE_ORIGIN:
        run_local(sh, c, cmd, argc, argv);
        return;
    case RT_ROUTE_KEYS: {
        int owner = keys_shard(sh, cmd, argc, argv);
        if (owner == (int)sh->id) {
            if (__builtin_expect(sh->locked, 0) && hold_blocks(sh, cmd, argc, argv))
                hold_local(sh, c, cmd, argc, argv); /* runs when the lock is released */
            else
                run_local(sh, c, cmd, argc, argv);
        } else if (owner >= 0) {
            forward(sh, c, (unsigned)owner, cmd, argc, argv);
        } else if (cmd->step) {
            txn_start(sh, c, cmd, argc, argv);
        } else {
            static const char crossslot[] =
                "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
            reply_now(sh, c, crossslot, sizeof crossslot - 1);
        }
        return;
    }
    case RT_ROUTE_PLAN:
        txn_start(sh, c, cmd, argc, argv);
        return;
    }
}
