/* Multi-shard commands: the origin runs the command's step() phase by phase, sending
 * each phase's parts to their shards through the ordinary lanes (so a part never
 * overtakes an earlier command of the same connection to that shard), and delivers the
 * final reply in the connection's order.
 *
 * A transaction lives in the origin shard's table, independent of its connection: if
 * the client goes away, the remaining phases still run (a multi-step change is never
 * left half-done), and the reply is dropped. Its intent locks (txn_lock.c) are taken
 * after step(0) declared them and before the parts of phase 0 leave, and released
 * when it ends.
 *
 * A client command queued with rt_txn_command that spans shards runs as a child
 * transaction: same machinery, no locks of its own (the root holds them), and its
 * reply becomes the parent's part. */
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
    t->heap_idx = SIZE_MAX;
    sh->txns[t->slot] = t;
    return t;
}

struct rt_txn *txn_find(struct rt_shard *sh, uint32_t slot, uint64_t id)
{
    if (slot >= sh->txns_cap)
        return NULL;
    struct rt_txn *t = sh->txns[slot];
    return t && t->id == id ? t : NULL;
}

static void txn_free(struct rt_shard *sh, struct rt_txn *t)
{
    sh->txns[t->slot] = NULL;
    sh->free_txns[sh->nfree_txns++] = t->slot;
    if (t->on_free && t->state)
        t->on_free(t->state);
    buf_free(&t->lockkeys);
    buf_free(&t->reply);
    buf_free(&t->spec_next);
    free(t->argv);
    buf_free(&t->args);
    free(t->parts);
    buf_free(&t->results);
    buf_free(&t->next);
    buf_free(&t->scratch);
    buf_free(&t->wait_keys);
    buf_free(&t->woken_key);
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

#define TARGET_CHILD UINT32_MAX

static void txn_advance(struct rt_shard *sh, struct rt_txn *t);

static struct rt_txn *txn_new(struct rt_shard *sh, const struct rt_cmd *cmd, int argc,
                              const rt_str *argv, uint8_t proto)
{
    struct rt_txn *t = txn_alloc(sh);
    t->proto = proto;
    t->cmd = cmd;
    t->conn_slot = UINT32_MAX;
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
    return t;
}

/* Start a child for part `idx` of parent's current phase. */
static void child_start(struct rt_shard *sh, struct rt_txn *parent, unsigned idx,
                        const struct rt_cmd *cmd, int argc, const rt_str *argv)
{
    struct rt_txn *t = txn_new(sh, cmd, argc, argv, parent->proto);
    t->conn_slot = parent->conn_slot;
    t->conn_id = parent->conn_id;
    t->parent = parent;
    t->parent_id = parent->id;
    t->parent_part = idx;
    t->locked_shards = parent->locked_shards;
    if (!cmd->step) {
        static const char crossslot[] =
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
        rt_txn_finish(t, crossslot, sizeof crossslot - 1);
        txn_end(sh, t);
        return;
    }
    txn_advance(sh, t);
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
    t->dispatch_no++;
    t->stepping = true;

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
        h.seq = ((uint64_t)t->dispatch_no << 32) | i;
        if (target != sh->id && target != TARGET_CHILD) {
            if (t->spec)
                h.flags |= REQF_SPEC;
            else if ((t->locked_shards >> target) & 1)
                h.flags |= REQF_LOCKED;
            /* Copy the header and block as they are into the target's batch. */
            struct batch *b = lane_batch(sh, target);
            char *w = buf_reserve(&b->req, sizeof h + h.argbytes);
            memcpy(w, &h, sizeof h);
            memcpy(w + sizeof h, block, h.argbytes);
            b->req.len += sizeof h + h.argbytes;
            b->nreq++;
            continue;
        }
        /* Local part or child: decode now. */
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
        if (target == TARGET_CHILD) {
            child_start(sh, t, i, h.cmd, (int)h.argc, argv);
        } else {
            size_t at = t->results.len;
            const struct rt_cmd *cmd = h.cmd;
            struct rt_client *client = NULL;
            if (cmd) {
                client = rt_txn_client(t); /* a client command runs as the client's */
            } else {
                sh->errbuf.len = 0;
                cmd = sh->rt->cmds->resolve(sh->ctx, argv, (int)h.argc, RT_RESOLVE_INTERNAL,
                                            &sh->errbuf);
                if (!cmd)
                    buf_append(&t->results, sh->errbuf.data, sh->errbuf.len);
            }
            if (t->spec && !((t->held_shards >> sh->id) & 1)) {
                static const char unlocked[] = "-ERR speculative part without its lock\r\n";
                buf_append(&t->results, unlocked, sizeof unlocked - 1); /* dropped */
            } else if (cmd && cmd->route == RT_ROUTE_ORIGIN && h.cmd && !client) {
                static const char gone[] = "-ERR the client left\r\n"; /* nobody reads it */
                buf_append(&t->results, gone, sizeof gone - 1);
            } else if (cmd) {
                exec_call(sh, cmd, (int)h.argc, argv, h.proto, &t->results, client);
            }
            t->parts[i] = (struct txn_part){.off = at, .len = t->results.len - at, .done = true};
            t->nreplied++;
        }
        if (argv != stack)
            free(argv);
    }
    buf_free(&next);
    t->stepping = false;
    /* Woken from a wait: the registrations go behind the parts that serve it. */
    if (t->cancel_pending)
        wait_cancel(sh, t);
    return t->nreplied == t->nparts;
}

/* Release the locks, hand the reply of a child to its parent, free. */
void txn_end(struct rt_shard *sh, struct rt_txn *t)
{
    if (t->waiting || t->wait_shards || t->heap_idx != SIZE_MAX)
        wait_cancel(sh, t);
    txn_lock_release(sh, t);
    struct rt_txn *p = t->parent;
    if (!p) {
        txn_free(sh, t);
        return;
    }
    unsigned idx = t->parent_part;
    bool ok = txn_find(sh, p->slot, t->parent_id) == p && idx < p->nparts &&
              !p->parts[idx].done;
    if (ok) {
        p->parts[idx] = (struct txn_part){.off = p->results.len, .len = t->reply.len,
                                          .done = true};
        buf_append(&p->results, t->reply.data, t->reply.len);
        p->nreplied++;
    }
    txn_free(sh, t);
    /* A child that ends while its parent dispatches is counted by txn_dispatch. */
    if (ok && !p->stepping && p->nreplied == p->nparts)
        txn_advance(sh, p);
}

/* A read-only multi-shard command may send its phase-0 parts with its try requests
 * (rt.h: such a command's phase-0 parts have no side effects). */
static bool speculative(const struct rt_txn *t)
{
    return !t->parent && t->cmd->route == RT_ROUTE_KEYS && !(t->cmd->flags & RT_CMD_WRITE) &&
           !t->lock_exclusive && !t->whole_shards;
}

/* Call step once. True when it queued parts that may go now (locks held). */
static bool txn_step(struct rt_shard *sh, struct rt_txn *t)
{
    t->scratch.len = 0;
    t->cmd->step(t, t->phase);
    if (t->finished) {
        txn_end(sh, t);
        return false;
    }
    if (t->wait_asked && !t->nnext && rt_txn_can_wait(t)) {
        t->wait_asked = false;
        if (t->cancel_pending)
            wait_cancel(sh, t); /* the old registrations go before the new ones */
        wait_begin(sh, t);
        return false;
    }
    t->wait_asked = false;
    if (!t->nnext) {
        static const char bug[] = "-ERR internal error: multi-shard step made no progress\r\n";
        log_msg(LOG_WARNING, "step of '%s' neither queued parts nor finished",
                t->cmd->name ? t->cmd->name : "?");
        rt_txn_finish(t, bug, sizeof bug - 1);
        txn_end(sh, t);
        return false;
    }
    if (t->phase == 0 && t->lock_state == TL_NONE && (t->lock_shards | t->whole_shards)) {
        if (!speculative(t))
            return txn_lock_begin(sh, t);
        t->spec = true;
        t->spec_nnext = t->nnext;
        buf_append(&t->spec_next, t->next.data, t->next.len);
        if (txn_lock_begin(sh, t) || t->lock_state != TL_TRYING || t->lock_denied) {
            /* Settled at once, or already refused here: no point sending parts now. */
            t->spec = false;
            buf_free(&t->spec_next);
            return t->lock_state == TL_HELD;
        }
        if (txn_dispatch(sh, t) && t->lock_state == TL_HELD)
            return txn_step(sh, t);
        return false; /* the try answers and the part replies resume us */
    }
    return true;
}

void txn_spec_kept(struct rt_shard *sh, struct rt_txn *t)
{
    if (t->nreplied == t->nparts)
        txn_advance(sh, t);
}

void txn_spec_undo(struct rt_txn *t)
{
    t->spec = false;
    buf_free(&t->next);
    t->next = t->spec_next;
    t->nnext = t->spec_nnext;
    t->spec_next = (struct buf){0};
    t->phase--;        /* the parts are phase 0's, sent again by txn_run */
    t->dispatch_no++;  /* replies still coming from the abandoned dispatch are dropped */
}

/* Send the queued parts and go on stepping until the transaction waits or ends. */
void txn_run(struct rt_shard *sh, struct rt_txn *t)
{
    while (txn_dispatch(sh, t))
        if (!txn_step(sh, t))
            return;
}

static void txn_advance(struct rt_shard *sh, struct rt_txn *t)
{
    if (txn_step(sh, t))
        txn_run(sh, t);
}

void txn_start(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd, int argc,
               const rt_str *argv)
{
    struct rt_txn *t = txn_new(sh, cmd, argc, argv, c->proto);
    t->conn_slot = c->slot;
    t->conn_id = c->id;
    t->seq = reply_reserve(c);
    c->txns++;
    /* A blocking command takes no locks: it would hold them while it waits. */
    if (cmd->route == RT_ROUTE_KEYS && !(cmd->flags & RT_CMD_BLOCKING))
        txn_declare_keys(t);
    txn_advance(sh, t);
}

void txn_start_blocked(struct rt_shard *sh, struct rt_client *c, uint64_t seq,
                       const struct rt_cmd *cmd, int argc, const rt_str *argv)
{
    struct rt_txn *t = txn_new(sh, cmd, argc, argv, c->proto);
    t->conn_slot = c->slot;
    t->conn_id = c->id;
    t->seq = seq;
    t->tried = true;
    c->txns++;
    txn_advance(sh, t);
}

void txn_run_woken(struct rt_shard *sh, struct rt_txn *t)
{
    t->phase++;
    t->nparts = t->nreplied = 0;
    t->results.len = 0;
    txn_advance(sh, t);
}

void txn_part_reply(struct rt_shard *sh, const struct rep_hdr *h, const char *p)
{
    if (h->slot >= sh->txns_cap)
        return;
    struct rt_txn *t = sh->txns[h->slot];
    uint32_t dispatch = (uint32_t)(h->seq >> 32), idx = (uint32_t)h->seq;
    if (!t || t->id != h->id || dispatch != t->dispatch_no || idx >= t->nparts ||
        t->parts[idx].done)
        return;
    t->parts[idx] = (struct txn_part){.off = t->results.len, .len = h->len, .done = true};
    buf_append(&t->results, p, h->len);
    /* Speculative parts count once every try is granted (try_round_done). */
    if (++t->nreplied == t->nparts && t->lock_state != TL_TRYING)
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
    if (t->parent)
        buf_append(&t->reply, reply, len); /* handed over when the child ends */
    else
        txn_deliver(t->sh, t, reply, len);
}

void rt_txn_on_free(struct rt_txn *t, void (*fn)(void *state)) { t->on_free = fn; }

struct rt_client *rt_txn_client(const struct rt_txn *t)
{
    return t->conn_slot == UINT32_MAX ? NULL : conn_find(t->sh, t->conn_slot, t->conn_id);
}

unsigned rt_txn_command(struct rt_txn *t, const struct rt_cmd *cmd, int argc,
                        const rt_str *argv)
{
    struct rt_shard *sh = t->sh;
    uint32_t target = sh->id;
    if (cmd->route == RT_ROUTE_PLAN) {
        target = TARGET_CHILD;
    } else if (cmd->route == RT_ROUTE_KEYS) {
        int owner = keys_shard(sh, cmd, argc, argv);
        target = owner >= 0 ? (uint32_t)owner : TARGET_CHILD;
    }
    buf_append(&t->next, &target, sizeof target);
    struct req_hdr h = {.kind = REC_PART, .proto = t->proto, .slot = t->slot, .id = t->id,
                        .cmd = cmd};
    struct batch tmp = {.req = t->next};
    batch_add_request(&tmp, &h, argc, argv);
    t->next = tmp.req;
    return t->nnext++;
}

struct buf *rt_txn_scratch(struct rt_txn *t) { return &t->scratch; }
