/* Multi-shard commands: the origin runs the command's step() phase by phase, sending
 * each phase's parts to their shards through the ordinary lanes (so a part never
 * overtakes an earlier command of the same connection to that shard), and delivers the
 * final reply in the connection's order.
 *
 * A transaction lives in the origin shard's table, independent of its connection: if
 * the client goes away, the remaining phases still run (a multi-step change is never
 * left half-done), and the reply is dropped. Intent locks (DESIGN.md section 7) attach
 * here: acquired before phase 0, released after the last phase. */
#include "rt/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        log_msg(LOG_WARNING, "out of memory");
        abort();
    }
    return q;
}

static struct rt_txn *txn_alloc(struct rt_shard *sh)
{
    if (!sh->nfree_txns) {
        uint32_t old = sh->txns_cap, cap = old ? old * 2 : 64;
        sh->txns = xrealloc(sh->txns, cap * sizeof *sh->txns);
        sh->free_txns = xrealloc(sh->free_txns, cap * sizeof *sh->free_txns);
        for (uint32_t i = cap; i > old; i--) {
            sh->txns[i - 1] = NULL;
            sh->free_txns[sh->nfree_txns++] = i - 1;
        }
        sh->txns_cap = cap;
    }
    struct rt_txn *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    t->slot = sh->free_txns[--sh->nfree_txns];
    t->id = sh->next_txn_id++;
    t->sh = sh;
    sh->txns[t->slot] = t;
    return t;
}

static void txn_free(struct rt_shard *sh, struct rt_txn *t)
{
    sh->txns[t->slot] = NULL;
    sh->free_txns[sh->nfree_txns++] = t->slot;
    free(t->argv);
    buf_free(&t->args);
    free(t->parts);
    buf_free(&t->results);
    buf_free(&t->next);
    buf_free(&t->scratch);
    free(t->state);
    free(t);
}

static void txn_deliver(struct rt_shard *sh, struct rt_txn *t, const char *p, size_t len)
{
    struct rt_client *c = conn_find(sh, t->conn_slot, t->conn_id);
    if (!c)
        return; /* the client went away; the command itself still completed */
    reply_complete(sh, c, t->seq, p, len);
    if (--c->txns == 0)
        conn_resume(sh, c);
}

/* Send the parts queued by the last step; local parts run at once. Returns true when
 * every part of the new phase already has its reply. */
static bool txn_dispatch(struct rt_shard *sh, struct rt_txn *t)
{
    unsigned n = t->nnext;
    if (t->parts_cap < n) {
        t->parts = xrealloc(t->parts, n * sizeof *t->parts);
        t->parts_cap = n;
    }
    memset(t->parts, 0, n * sizeof *t->parts);
    t->nparts = n;
    t->nreplied = 0;
    t->results.len = 0;
    t->phase++;

    /* Records in t->next: uint32 target, then a req_hdr and its argument block. */
    struct buf next = t->next;
    t->next = (struct buf){0};
    t->nnext = 0;
    size_t pos = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t target;
        memcpy(&target, next.data + pos, sizeof target);
        pos += sizeof target;
        struct req_hdr h;
        memcpy(&h, next.data + pos, sizeof h);
        pos += sizeof h;
        const char *block = next.data + pos;
        pos += h.argbytes;
        h.seq = ((uint64_t)t->phase << 32) | i;
        if (target != sh->id) {
            /* Copy the header and block as they are into the target's batch. */
            struct batch *b = lane_batch(sh, target);
            char *w = buf_reserve(&b->req, sizeof h + h.argbytes);
            memcpy(w, &h, sizeof h);
            memcpy(w + sizeof h, block, h.argbytes);
            b->req.len += sizeof h + h.argbytes;
            b->nreq++;
            continue;
        }
        /* Local part: decode and run now. */
        rt_str stack[8];
        rt_str *argv = h.argc <= 8 ? stack : malloc(h.argc * sizeof *argv);
        if (!argv)
            abort();
        const char *bytes = block + (size_t)h.argc * sizeof(uint32_t);
        for (uint32_t a = 0; a < h.argc; a++) {
            uint32_t len;
            memcpy(&len, block + (size_t)a * sizeof len, sizeof len);
            argv[a] = (rt_str){bytes, len};
            bytes += len;
        }
        size_t at = t->results.len;
        sh->errbuf.len = 0;
        const struct rt_cmd *cmd = sh->rt->cmds->resolve(sh->ctx, argv, (int)h.argc,
                                                         RT_RESOLVE_INTERNAL, &sh->errbuf);
        if (cmd)
            exec_call(sh, cmd, (int)h.argc, argv, 2, &t->results, NULL);
        else
            buf_append(&t->results, sh->errbuf.data, sh->errbuf.len);
        if (argv != stack)
            free(argv);
        t->parts[i] = (struct txn_part){.off = at, .len = t->results.len - at, .done = true};
        t->nreplied++;
    }
    buf_free(&next);
    return t->nreplied == t->nparts;
}

/* Call step until the transaction waits for remote parts or finishes. */
static void txn_advance(struct rt_shard *sh, struct rt_txn *t)
{
    for (;;) {
        t->scratch.len = 0;
        t->cmd->step(t, t->phase);
        if (t->finished) {
            txn_free(sh, t);
            return;
        }
        if (!t->nnext) {
            static const char bug[] = "-ERR internal error: multi-shard step made no progress\r\n";
            log_msg(LOG_WARNING, "step of '%s' neither queued parts nor finished",
                    t->cmd->name ? t->cmd->name : "?");
            rt_txn_finish(t, bug, sizeof bug - 1);
            txn_free(sh, t);
            return;
        }
        if (!txn_dispatch(sh, t))
            return; /* remote parts outstanding: txn_part_reply resumes */
    }
}

void txn_start(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd, int argc,
               const rt_str *argv)
{
    struct rt_txn *t = txn_alloc(sh);
    t->conn_slot = c->slot;
    t->conn_id = c->id;
    t->seq = reply_reserve(c);
    t->proto = c->proto;
    t->cmd = cmd;
    c->txns++;
    t->argc = argc;
    t->argv = malloc((size_t)(argc ? argc : 1) * sizeof *t->argv);
    if (!t->argv)
        abort();
    size_t total = 0;
    for (int i = 0; i < argc; i++)
        total += argv[i].len;
    buf_reserve(&t->args, total ? total : 1);
    for (int i = 0; i < argc; i++) {
        t->argv[i] = (rt_str){t->args.data + t->args.len, argv[i].len};
        buf_append(&t->args, argv[i].ptr, argv[i].len);
    }
    txn_advance(sh, t);
}

void txn_part_reply(struct rt_shard *sh, const struct rep_hdr *h, const char *p)
{
    if (h->slot >= sh->txns_cap)
        return;
    struct rt_txn *t = sh->txns[h->slot];
    uint32_t phase = (uint32_t)(h->seq >> 32), idx = (uint32_t)h->seq;
    if (!t || t->id != h->id || phase != t->phase || idx >= t->nparts || t->parts[idx].done)
        return;
    t->parts[idx] = (struct txn_part){.off = t->results.len, .len = h->len, .done = true};
    buf_append(&t->results, p, h->len);
    if (++t->nreplied == t->nparts)
        txn_advance(sh, t);
}

void txn_free_all(struct rt_shard *sh)
{
    for (uint32_t i = 0; i < sh->txns_cap; i++)
        if (sh->txns[i])
            txn_free(sh, sh->txns[i]);
    free(sh->txns);
    free(sh->free_txns);
    sh->txns = NULL;
    sh->free_txns = NULL;
    sh->txns_cap = sh->nfree_txns = 0;
}

/* ---- The step API ---- */
const rt_str *rt_txn_argv(const struct rt_txn *t, int *argc)
{
    *argc = t->argc;
    return t->argv;
}

int rt_txn_proto(const struct rt_txn *t) { return t->proto; }
struct rt_shard *rt_txn_shard(const struct rt_txn *t) { return t->sh; }

unsigned rt_txn_part(struct rt_txn *t, unsigned shard, int argc, const rt_str *argv)
{
    uint32_t target = shard;
    buf_append(&t->next, &target, sizeof target);
    struct batch tmp = {0};
    tmp.req = t->next;
    struct req_hdr h = {.kind = REC_PART, .proto = 2, .slot = t->slot, .id = t->id};
    batch_add_request(&tmp, &h, argc, argv);
    t->next = tmp.req;
    return t->nnext++;
}

rt_str rt_txn_result(const struct rt_txn *t, unsigned part)
{
    if (part >= t->nparts)
        return (rt_str){"", 0};
    return (rt_str){t->results.data + t->parts[part].off, t->parts[part].len};
}

unsigned rt_txn_nresults(const struct rt_txn *t) { return t->nparts; }

void *rt_txn_state(struct rt_txn *t, size_t size)
{
    if (!t->state) {
        t->state = calloc(1, size ? size : 1);
        if (!t->state)
            abort();
    }
    return t->state;
}

void rt_txn_finish(struct rt_txn *t, const char *reply, size_t len)
{
    if (t->finished)
        return;
    t->finished = true;
    txn_deliver(t->sh, t, reply, len);
}

struct buf *rt_txn_scratch(struct rt_txn *t) { return &t->scratch; }
