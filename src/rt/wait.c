/* Blocking commands across shards (DESIGN.md section 9).
 *
 * The origin shard is the only arbiter of its blocked client. A waiting transaction
 * registers on the owner of each of its keys (REC_WAIT, inline when the owner is the
 * origin). An owner keeps, per key, a FIFO of waiters; after a write to such a key
 * (rt_key_written) it asks the command set whether the key can serve the first waiter
 * whose kind it can serve (a non-mutating check) and signals that one waiter
 * (REC_WAKE). It signals no other waiter of the key until that one's registration is
 * cancelled (REC_UNWAIT), which the origin sends behind the serving pop on the same
 * lane: so an element is offered to one waiter at a time and never popped twice.
 * Owners never pop on their own.
 *
 * Invariants:
 * - every registration is cancelled exactly once: when its transaction is woken (after
 *   the woken step's parts), when it waits again (before the new registrations), and
 *   when it ends;
 * - a signal for a transaction that is no longer waiting, or waits with a newer
 *   generation, is ignored: its registration's cancel is on its way;
 * - wakes of local transactions (signals, timeouts, disconnects, CLIENT UNBLOCK) are
 *   queued and stepped from wait_run, never from inside a command or a close;
 * - a key locked by a multi-shard transaction is not signalled until the lock goes, so a
 *   waiter never sees a write that has not committed. */
#include "rt/wait.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/log.h"

void *wait_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q) {
        log_msg(LOG_WARNING, "out of memory");
        abort();
    }
    return q;
}

void wait_init(struct rt_shard *sh)
{
    struct wait_state *ws = calloc(1, sizeof *ws);
    if (!ws)
        abort();
    ws->seed = hash_random_seed();
    ws->nbuckets = 64;
    ws->buckets = calloc(ws->nbuckets, sizeof *ws->buckets);
    if (!ws->buckets)
        abort();
    sh->wait = ws;
}

void wait_free_all(struct rt_shard *sh)
{
    struct wait_state *ws = sh->wait;
    if (!ws)
        return;
    waiters_free_all(ws);
    free(ws->buckets);
    free(ws->ready);
    free(ws->parked);
    free(ws->wakes);
    free(ws->heap);
    free(ws);
    sh->wait = NULL;
}

/* ---- Deadlines: a binary heap of waiting transactions, indexed from the txn ---- */

static void heap_set(struct wait_state *ws, size_t i, struct rt_txn *t)
{
    ws->heap[i] = t;
    t->heap_idx = i;
}

static void heap_up(struct wait_state *ws, size_t i)
{
    struct rt_txn *t = ws->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (ws->heap[p]->wait_deadline <= t->wait_deadline)
            break;
        heap_set(ws, i, ws->heap[p]);
        i = p;
    }
    heap_set(ws, i, t);
}

static void heap_down(struct wait_state *ws, size_t i)
{
    struct rt_txn *t = ws->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ws->nheap)
            break;
        if (c + 1 < ws->nheap && ws->heap[c + 1]->wait_deadline < ws->heap[c]->wait_deadline)
            c++;
        if (ws->heap[c]->wait_deadline >= t->wait_deadline)
            break;
        heap_set(ws, i, ws->heap[c]);
        i = c;
    }
    heap_set(ws, i, t);
}

static void heap_push(struct wait_state *ws, struct rt_txn *t)
{
    GROW(ws->heap, ws->nheap, ws->heap_cap);
    ws->heap[ws->nheap] = t;
    heap_up(ws, ws->nheap++);
}

static void heap_remove(struct wait_state *ws, struct rt_txn *t)
{
    size_t i = t->heap_idx;
    if (i == SIZE_MAX || i >= ws->nheap || ws->heap[i] != t)
        return;
    t->heap_idx = SIZE_MAX;
    struct rt_txn *last = ws->heap[--ws->nheap];
    if (i == ws->nheap)
        return;
    heap_set(ws, i, last);
    heap_up(ws, i);
    heap_down(ws, last->heap_idx);
}

int64_t wait_next_deadline_ms(const struct rt_shard *sh)
{
    const struct wait_state *ws = sh->wait;
    if (!ws || !ws->nheap)
        return INT64_MAX;
    int64_t d = ws->heap[0]->wait_deadline - sh->now_ms;
    return d > 0 ? d : 0;
}

/* ---- The origin's side ---- */

static void client_mark(struct rt_shard *sh, struct rt_txn *t, bool blocked)
{
    struct rt_client *c = rt_txn_client(t);
    if (!c)
        return;
    if (blocked && c->block_id == 0) {
        c->block_slot = t->slot;
        c->block_id = t->id;
        sh->stats.blocked_clients++;
    } else if (!blocked && c->block_id == t->id) {
        c->block_id = 0;
        sh->stats.blocked_clients--;
    }
}

/* Stop waiting and queue the step (run by wait_run). */
void wait_wake_txn(struct rt_shard *sh, struct rt_txn *t, enum rt_wake why, const char *key,
                   size_t len, unsigned shard)
{
    struct wait_state *ws = sh->wait;
    t->waiting = false;
    heap_remove(ws, t);
    client_mark(sh, t, false);
    t->wake = why;
    t->woken_key.len = 0;
    buf_append(&t->woken_key, key, len);
    t->woken_shard = shard;
    t->cancel_pending = t->wait_shards != 0;
    t->wake_queued = true;
    GROW(ws->wakes, ws->nwakes, ws->wakes_cap);
    ws->wakes[ws->nwakes++] = (struct wake_ref){t->slot, t->id};
}

/* Walk the declared keys grouped by shard, ascending: calls fn once per shard with the
 * kinds and keys of that shard (in declaration order). */
static void for_each_shard(struct rt_shard *sh, struct rt_txn *t,
                           void (*fn)(struct rt_shard *, struct rt_txn *, unsigned,
                                      const rt_str *, int))
{
    size_t cap = 0, n;
    rt_str *argv = NULL;
    struct buf kinds = {0};
    for (uint64_t m = t->wait_shards; m; m &= m - 1) {
        unsigned s = (unsigned)__builtin_ctzll(m);
        n = 1;
        kinds.len = 0;
        for (size_t pos = 0; pos < t->wait_keys.len;) {
            uint32_t shard, len;
            uint8_t kind;
            memcpy(&shard, t->wait_keys.data + pos, sizeof shard);
            memcpy(&kind, t->wait_keys.data + pos + 4, 1);
            memcpy(&len, t->wait_keys.data + pos + 5, sizeof len);
            const char *key = t->wait_keys.data + pos + 9;
            pos += 9 + len;
            if (shard != s)
                continue;
            if (n == cap || !argv) {
                cap = cap ? cap * 2 : 16;
                argv = wait_xrealloc(argv, cap * sizeof *argv);
            }
            buf_putc(&kinds, (char)kind);
            argv[n++] = (rt_str){key, len};
        }
        argv[0] = (rt_str){kinds.data, kinds.len};
        fn(sh, t, s, argv, (int)n);
    }
    free(argv);
    buf_free(&kinds);
}

static void send_wait(struct rt_shard *sh, struct rt_txn *t, unsigned s, const rt_str *argv,
                      int argc)
{
    if (s == sh->id) {
        waiters_add(sh, sh->id, t->slot, t->id, t->wait_gen, &argv[0], argv + 1, argc - 1);
        return;
    }
    struct req_hdr h = {.kind = REC_WAIT, .slot = t->slot, .id = t->id, .seq = t->wait_gen};
    batch_add_request(lane_batch(sh, s), &h, argc, argv);
}

static void send_unwait(struct rt_shard *sh, struct rt_txn *t, unsigned s, const rt_str *argv,
                        int argc)
{
    if (s == sh->id) {
        waiters_remove(sh, sh->id, t->slot, t->id, argv + 1, argc - 1);
        return;
    }
    struct req_hdr h = {.kind = REC_UNWAIT, .slot = t->slot, .id = t->id, .seq = t->wait_gen};
    batch_add_request(lane_batch(sh, s), &h, argc - 1, argv + 1);
}

void wait_begin(struct rt_shard *sh, struct rt_txn *t)
{
    t->wait_gen++;
    t->wait_shards = 0;
    for (size_t pos = 0; pos < t->wait_keys.len;) {
        uint32_t shard, len;
        memcpy(&shard, t->wait_keys.data + pos, sizeof shard);
        memcpy(&len, t->wait_keys.data + pos + 5, sizeof len);
        pos += 9 + len;
        t->wait_shards |= 1ull << shard;
    }
    struct rt_client *c = rt_txn_client(t);
    if (!c || c->eof || !t->wait_shards) {
        /* The client left or is leaving (or nothing to wait for): wake at once. */
        t->wait_shards = 0;
        t->wait_keys.len = 0;
        wait_wake_txn(sh, t, c && !c->eof ? RT_WAKE_TIMEOUT : RT_WAKE_GONE, "", 0, sh->id);
        return;
    }
    t->waiting = true;
    for_each_shard(sh, t, send_wait);
    if (t->wait_deadline)
        heap_push(sh->wait, t);
    client_mark(sh, t, true);
}

void wait_cancel(struct rt_shard *sh, struct rt_txn *t)
{
    t->cancel_pending = false;
    if (t->waiting) {
        t->waiting = false;
        client_mark(sh, t, false);
    }
    heap_remove(sh->wait, t);
    if (t->wait_shards)
        for_each_shard(sh, t, send_unwait);
    t->wait_shards = 0;
    t->wait_keys.len = 0;
}

/* ---- Messages ---- */

void wait_request(struct rt_shard *sh, unsigned src, const struct req_hdr *h, const rt_str *argv)
{
    int argc = (int)h->argc;
    switch (h->kind) {
    case REC_WAIT:
        if (argc >= 1)
            waiters_add(sh, src, h->slot, h->id, (uint32_t)h->seq, &argv[0], argv + 1,
                             argc - 1);
        return;
    case REC_UNWAIT:
        waiters_remove(sh, src, h->slot, h->id, argv, argc);
        return;
    case REC_WAKE: {
        struct rt_txn *t = txn_find(sh, h->slot, h->id);
        if (t && t->waiting && t->wait_gen == (uint32_t)h->seq && argc >= 1)
            wait_wake_txn(sh, t, RT_WAKE_KEY, argv[0].ptr, argv[0].len, src);
        return;
    }
    default:
        return;
    }
}

static void expire_deadlines(struct rt_shard *sh)
{
    struct wait_state *ws = sh->wait;
    while (ws->nheap && ws->heap[0]->wait_deadline <= sh->now_ms)
        wait_wake_txn(sh, ws->heap[0], RT_WAKE_TIMEOUT, "", 0, sh->id); /* removes it */
}

bool wait_busy(const struct rt_shard *sh)
{
    const struct wait_state *ws = sh->wait;
    return ws && (ws->nready || ws->nwakes);
}

void wait_run(struct rt_shard *sh)
{
    struct wait_state *ws = sh->wait;
    if (!ws || ws->running || !(ws->nready || ws->nwakes || ws->nheap || ws->nparked))
        return;
    ws->running = true;
    for (;;) {
        if (ws->nheap)
            expire_deadlines(sh);
        if (ws->nparked && !sh->hold_dirty)
            waiters_unpark(sh);
        if (ws->nready)
            waiters_check_ready(sh);
        if (!ws->nwakes)
            break;
        /* A step may queue more wakes (appended: this loop runs them too) and write
         * keys (checked in the next round). */
        for (size_t i = 0; i < ws->nwakes; i++) {
            struct rt_txn *t = txn_find(sh, ws->wakes[i].slot, ws->wakes[i].id);
            if (t && t->wake_queued) {
                t->wake_queued = false;
                txn_run_woken(sh, t);
            }
        }
        ws->nwakes = 0;
    }
    ws->running = false;
}

void wait_client_gone(struct rt_shard *sh, struct rt_client *c)
{
    if (!c->block_id)
        return;
    struct rt_txn *t = txn_find(sh, c->block_slot, c->block_id);
    if (t && t->waiting)
        wait_wake_txn(sh, t, RT_WAKE_GONE, "", 0, sh->id);
    if (c->block_id) {
        c->block_id = 0;
        sh->stats.blocked_clients--;
    }
}

/* ---- API ---- */

void rt_call_block(struct rt_call *call)
{
    if (call->can_block)
        call->blocked = true;
}

bool rt_txn_tried(const struct rt_txn *t) { return t->tried; }
bool rt_txn_can_wait(const struct rt_txn *t) { return !t->parent; }

void rt_txn_wait_key(struct rt_txn *t, const char *key, size_t len, unsigned kind)
{
    uint32_t shard = rt_key_shard(t->sh, key, len), l = (uint32_t)len;
    uint8_t k = (uint8_t)kind;
    buf_append(&t->wait_keys, &shard, sizeof shard);
    buf_append(&t->wait_keys, &k, 1);
    buf_append(&t->wait_keys, &l, sizeof l);
    buf_append(&t->wait_keys, key, len);
}

void rt_txn_wait(struct rt_txn *t, int64_t deadline_ms)
{
    t->wait_asked = true;
    t->wait_deadline = deadline_ms > 0 ? deadline_ms : 0;
}

enum rt_wake rt_txn_wake(const struct rt_txn *t) { return t->wake; }

rt_str rt_txn_woken_key(const struct rt_txn *t, unsigned *shard)
{
    if (shard)
        *shard = t->woken_shard;
    return (rt_str){t->woken_key.data ? t->woken_key.data : "", t->woken_key.len};
}

bool rt_client_unblock(struct rt_shard *sh, struct rt_client *c, enum rt_wake why)
{
    if (!c->block_id)
        return false;
    struct rt_txn *t = txn_find(sh, c->block_slot, c->block_id);
    if (!t || !t->waiting)
        return false;
    wait_wake_txn(sh, t, why, "", 0, sh->id);
    return true;
}

bool rt_client_blocked(const struct rt_client *c) { return c->block_id != 0; }

bool rt_client_leaving(const struct rt_client *c) { return c->eof || c->closing; }
