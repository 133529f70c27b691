/* Intent locks on this shard's keys and the work they hold back (DESIGN.md section 7).
 *
 * A command whose keys conflict with a granted lock does not run: a local
 * connection's command waits in held_local and its connection reads nothing more; a
 * request from another shard waits in that source's queue, and every later request
 * from the same source queues behind it, so nothing a shard sends overtakes its earlier
 * message to this shard (section 4). Parts of a transaction that holds its locks here
 * (REQF_LOCKED) and releases never wait: they are what the held work waits for.
 *
 * No deadlock: held work holds no lock. A LOCK request that must wait joins the lock
 * manager's queue, and transactions ask shards in ascending order, so waits only ever
 * point to higher shards. A try request (all shards at once) never waits: it is
 * denied when it cannot be granted at once, or when its source's queue is not empty
 * (it must not overtake held work, nor wait behind it while holding other shards).
 *
 * Releases only mark the shard (hold_dirty); hold_pass runs from the loop, outside
 * any batch being processed, first the held work whose keys are free, then the queued
 * lock requests that may go. */
#include "rt/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

void hold_init(struct rt_shard *sh)
{
    sh->locks = lockmgr_new();
    if (!sh->locks)
        abort();
}

void hold_free_all(struct rt_shard *sh)
{
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++)
        buf_free(&sh->held[s].recs);
    sh->held_mask = 0;
    for (size_t i = 0; i < sh->nheld_local; i++)
        free(sh->held_local[i].argv);
    free(sh->held_local);
    sh->held_local = NULL;
    sh->nheld_local = sh->held_local_cap = 0;
    free(sh->lock_ready);
    sh->lock_ready = NULL;
    sh->nlock_ready = sh->lock_ready_cap = 0;
    free(sh->lock_modes);
    sh->lock_modes = NULL;
    lockmgr_free(sh->locks);
    sh->locks = NULL;
    sh->locked = false;
}

/* Whether a command's keys (all on this shard) conflict with a granted lock. */
static bool keys_blocked(struct rt_shard *sh, const struct rt_cmd *cmd, int argc,
                         const rt_str *argv)
{
    struct rt_keyiter it;
    rt_keys_begin(&it, cmd, argc, argv);
    int i = rt_keys_next(&it);
    if (i < 0)
        return false;
    if (lockmgr_whole(sh->locks))
        return true;
    bool write = cmd->flags & RT_CMD_WRITE;
    for (; i >= 0; i = rt_keys_next(&it))
        if (lockmgr_conflicts(sh->locks, argv[i].ptr, argv[i].len, write))
            return true;
    return false;
}

bool hold_blocks(struct rt_shard *sh, const struct rt_cmd *cmd, int argc, const rt_str *argv)
{
    return sh->locked && keys_blocked(sh, cmd, argc, argv);
}

/* Whether a request (not a LOCK) must wait for a lock. Internal parts are resolved to
 * learn their keys. */
static bool request_blocked(struct rt_shard *sh, const struct req_hdr *h, const rt_str *argv)
{
    if (!sh->locked || h->kind >= REC_WAIT)
        return false;
    const struct rt_cmd *cmd = h->cmd;
    if (!cmd) {
        sh->errbuf.len = 0;
        cmd = sh->rt->cmds->resolve(sh->ctx, argv, (int)h->argc, RT_RESOLVE_INTERNAL,
                                    &sh->errbuf);
        if (!cmd)
            return false; /* it only replies an error */
    }
    return keys_blocked(sh, cmd, (int)h->argc, argv);
}

static void held_push(struct rt_shard *sh, unsigned src, const struct req_hdr *h,
                      const char *block)
{
    struct held_queue *q = &sh->held[src];
    buf_append(&q->recs, h, sizeof *h);
    buf_append(&q->recs, block, h->argbytes);
    sh->held_mask |= 1ull << src;
}

static void lock_answer(struct rt_shard *sh, const struct req_hdr *h, bool granted,
                        struct buf *rep)
{
    struct rep_hdr r = {.kind = REC_LOCK, .shard = (uint8_t)sh->id, .slot = h->slot,
                        .id = h->id, .seq = h->seq};
    rep_append(rep, &r, granted ? "G" : "D", 1);
}

void hold_request(struct rt_shard *sh, unsigned src, const struct req_hdr *h,
                  const char *block, rt_str *argv, struct buf *rep)
{
    if (h->kind == REC_UNLOCK) {
        hold_unlock(sh, src, h->slot, h->id);
        return;
    }
    if (h->kind == REC_PART && (h->flags & REQF_SPEC)) {
        struct lock_owner o = {.origin = src, .slot = h->slot, .id = h->id};
        if (lockmgr_holds(sh->locks, o)) {
            request_run(sh, src, h, argv, rep); /* right behind its granted try */
        } else {
            static const char unlocked[] = "-ERR speculative part without its lock\r\n";
            struct rep_hdr r = {.kind = REC_PART, .slot = h->slot, .id = h->id, .seq = h->seq};
            rep_append(rep, &r, unlocked, sizeof unlocked - 1); /* the origin drops it */
        }
        return;
    }
    bool behind = (sh->held_mask >> src) & 1;
    if (!behind && !sh->locked) {
        request_run(sh, src, h, argv, rep); /* the common case: nothing is locked here */
        return;
    }
    if (h->kind == REC_PART && (h->flags & REQF_LOCKED)) {
        request_run(sh, src, h, argv, rep);
        return;
    }
    if (h->kind == REC_LOCK && (h->flags & REQF_TRY) && behind) {
        lock_answer(sh, h, false, rep);
        return;
    }
    if (behind || (h->kind != REC_LOCK && request_blocked(sh, h, argv))) {
        held_push(sh, src, h, block);
        return;
    }
    request_run(sh, src, h, argv, rep);
}

void hold_local(struct rt_shard *sh, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                const rt_str *argv)
{
    if (sh->nheld_local == sh->held_local_cap) {
        size_t cap = sh->held_local_cap ? sh->held_local_cap * 2 : 16;
        struct held_local *n = realloc(sh->held_local, cap * sizeof *n);
        if (!n)
            abort();
        sh->held_local = n;
        sh->held_local_cap = cap;
    }
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    rt_str *copy = malloc((size_t)argc * sizeof *copy + bytes + 1);
    if (!copy)
        abort();
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        if (argv[i].len)
            memcpy(p, argv[i].ptr, argv[i].len);
        copy[i] = (rt_str){p, argv[i].len};
        p += argv[i].len;
    }
    sh->held_local[sh->nheld_local++] = (struct held_local){
        .slot = c->slot, .id = c->id, .seq = reply_reserve(c), .cmd = cmd, .argc = argc,
        .argv = copy};
    c->held = true;
}

enum lock_result hold_lock(struct rt_shard *sh, unsigned src, const struct req_hdr *h,
                           int argc, const rt_str *argv, struct buf *rep)
{
    struct lock_owner o = {.origin = src, .slot = h->slot, .id = h->id};
    bool whole = h->flags & REQF_WHOLE, try = h->flags & REQF_TRY;
    size_t nkeys = 0;
    const rt_str *keys = NULL;
    if (!whole && argc >= 1) {
        nkeys = (size_t)argc - 1;
        keys = argv + 1;
        if (sh->lock_modes_cap < nkeys) {
            size_t cap = nkeys < 16 ? 16 : nkeys;
            bool *m = realloc(sh->lock_modes, cap * sizeof *m);
            if (!m)
                abort();
            sh->lock_modes = m;
            sh->lock_modes_cap = cap;
        }
        for (size_t i = 0; i < nkeys; i++)
            sh->lock_modes[i] = i < argv[0].len && argv[0].ptr[i] == 'x';
    }
    enum lock_result res =
        lockmgr_acquire(sh->locks, o, whole, nkeys, keys, sh->lock_modes, try);
    sh->locked = lockmgr_any(sh->locks);
    if (res != LOCK_QUEUED && rep)
        lock_answer(sh, h, res == LOCK_GRANTED, rep);
    return res;
}

void hold_unlock(struct rt_shard *sh, unsigned origin, uint32_t slot, uint64_t id)
{
    struct lock_owner o = {.origin = origin, .slot = slot, .id = id};
    if (!lockmgr_release(sh->locks, o)) {
        log_msg(LOG_WARNING, "release of unknown locks (shard %u, txn %llu)", origin,
                (unsigned long long)id);
        return;
    }
    sh->locked = lockmgr_any(sh->locks);
    sh->hold_dirty = true;
}

/* A queued LOCK request was granted: answer its origin. */
static void on_granted(void *arg, struct lock_owner o)
{
    struct rt_shard *sh = arg;
    if (o.origin == sh->id) {
        if (sh->nlock_ready == sh->lock_ready_cap) {
            size_t cap = sh->lock_ready_cap ? sh->lock_ready_cap * 2 : 16;
            struct lock_ready *n = realloc(sh->lock_ready, cap * sizeof *n);
            if (!n)
                abort();
            sh->lock_ready = n;
            sh->lock_ready_cap = cap;
        }
        sh->lock_ready[sh->nlock_ready++] = (struct lock_ready){o.slot, o.id, 0};
        return;
    }
    struct req_hdr h = {.kind = REC_LOCK, .slot = o.slot, .id = o.id};
    lock_answer(sh, &h, true, &lane_reply_batch(sh, o.origin)->rep);
}

/* Run the local connections' held commands whose keys are free, in order. */
static void pass_local(struct rt_shard *sh)
{
    size_t keep = 0;
    for (size_t i = 0; i < sh->nheld_local; i++) {
        struct held_local e = sh->held_local[i];
        if (hold_blocks(sh, e.cmd, e.argc, e.argv)) {
            sh->held_local[keep++] = e;
            continue;
        }
        struct rt_client *c = conn_find(sh, e.slot, e.id);
        if (c) {
            struct buf out = {0};
            if (exec_top(sh, e.cmd, e.argc, e.argv, c->proto, &out, c))
                txn_start_blocked(sh, c, e.seq, e.cmd, e.argc, e.argv);
            else
                reply_complete(sh, c, e.seq, out.data, out.len);
            buf_free(&out);
            c->held = false;
            conn_resume(sh, c);
        } else {
            /* The client left; what it sent still runs, as it would have in Redis. */
            size_t at = sh->discard.len;
            exec_call(sh, e.cmd, e.argc, e.argv, 2, &sh->discard, NULL);
            sh->discard.len = at;
        }
        free(e.argv);
    }
    sh->nheld_local = keep;
}

/* Run each source's held requests from the front until one is still blocked. */
static void pass_sources(struct rt_shard *sh)
{
    for (uint64_t m = sh->held_mask; m; m &= m - 1) {
        unsigned src = (unsigned)__builtin_ctzll(m);
        struct held_queue *q = &sh->held[src];
        while (q->head < q->recs.len) {
            struct req_hdr h;
            memcpy(&h, q->recs.data + q->head, sizeof h);
            const char *block = q->recs.data + q->head + sizeof h;
            rt_str *argv = request_args(sh, &h, block);
            if (h.kind != REC_LOCK && request_blocked(sh, &h, argv))
                break;
            q->head += sizeof h + h.argbytes;
            /* The queue's buffer does not move while a request runs: nothing is
             * appended to this source's queue from here. */
            request_run(sh, src, &h, argv, &lane_reply_batch(sh, src)->rep);
        }
        if (q->head == q->recs.len) {
            q->recs.len = q->head = 0;
            buf_shrink(&q->recs, 64 * 1024);
            sh->held_mask &= ~(1ull << src);
        }
    }
}

void hold_pass(struct rt_shard *sh)
{
    sh->hold_dirty = false;
    if (sh->nheld_local)
        pass_local(sh);
    if (sh->held_mask)
        pass_sources(sh);
    lockmgr_grant_waiting(sh->locks, on_granted, sh);
    sh->locked = lockmgr_any(sh->locks);
}

bool rt_shard_locked(const struct rt_shard *sh) { return sh->locked; }
