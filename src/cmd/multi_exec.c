/* EXEC: the queued commands of a MULTI, run in isolation across shards.
 *
 * A step on the origin. Phase 0 takes the queue and the watched keys out of the
 * connection and declares intent locks covering every queued command (its key-spec
 * keys, exclusive when it writes; every shard when it is planned over the keyspace)
 * and the watched keys (shared), so no other client sees part of the transaction, nor
 * changes a watched key between the check and the commands. With watched keys, the
 * next phase first asks each owner whether a version changed ("__watchcheck", which
 * also ends the WATCH there). Then the queue runs in segments: a maximal run of
 * commands that each stay on one shard shares a phase (a shard runs its parts back to
 * back in queue order, and shards hold disjoint keys, so the order between shards
 * cannot be observed); a command spanning shards, or planned over all of them, runs in
 * a phase of its own. The replies are gathered, in queue order, into EXEC's array. */
#include "cmd/client_state.h"
#include "cmd/multi.h"

#include <string.h>

static void finish_error(struct rt_txn *t, const char *msg)
{
    struct buf *b = rt_txn_scratch(t);
    resp_error(b, msg);
    rt_txn_finish(t, b->data, b->len);
}

struct exec_state {
    struct queued_cmd **queue;
    size_t n;
    struct watched_key *watched;
    size_t nwatched;
    size_t next;        /* the first queued command not started yet */
    size_t running;     /* commands started in the phase that just ended */
    bool checking;      /* the phase that just ended checked the watched keys */
    struct buf reply;   /* EXEC's array: its header, then the replies so far */
};

static void exec_state_free(void *p)
{
    struct exec_state *x = p;
    multi_queue_free(x->queue, x->n);
    multi_watched_free(x->watched, x->nwatched);
    buf_free(&x->reply);
}

/* Whether the command runs on a single shard (so it can share a phase). */
static bool on_one_shard(struct rt_shard *sh, const struct queued_cmd *q)
{
    if (q->cmd->route == RT_ROUTE_PLAN)
        return false;
    if (q->cmd->route != RT_ROUTE_KEYS)
        return true;
    struct rt_keyiter it;
    rt_keys_begin(&it, q->cmd, q->argc, q->argv);
    int k = rt_keys_next(&it);
    if (k < 0)
        return true;
    unsigned owner = rt_key_shard(sh, q->argv[k].ptr, q->argv[k].len);
    while ((k = rt_keys_next(&it)) >= 0)
        if (rt_key_shard(sh, q->argv[k].ptr, q->argv[k].len) != owner)
            return false;
    return true;
}

/* Every key the transaction touches: a planned command (FLUSHALL, KEYS, DBSIZE...)
 * locks every shard, which covers everything else. */
static void declare_locks(struct rt_txn *t, const struct exec_state *x)
{
    for (size_t i = 0; i < x->n; i++) {
        if (x->queue[i]->cmd->route == RT_ROUTE_PLAN) {
            for (unsigned s = 0, n = rt_nshards(rt_txn_shard(t)); s < n; s++)
                rt_txn_lock_shard(t, s);
            return;
        }
    }
    for (size_t i = 0; i < x->n; i++) {
        const struct queued_cmd *q = x->queue[i];
        if (q->cmd->route != RT_ROUTE_KEYS)
            continue;
        struct rt_keyiter it;
        rt_keys_begin(&it, q->cmd, q->argc, q->argv);
        bool exclusive = q->cmd->flags & RT_CMD_WRITE;
        for (int k; (k = rt_keys_next(&it)) >= 0;)
            rt_txn_lock_key(t, q->argv[k].ptr, q->argv[k].len, exclusive);
    }
    for (size_t i = 0; i < x->nwatched; i++)
        rt_txn_lock_key(t, x->watched[i].key, x->watched[i].len, false);
}

/* Start the next segment of the queue, or reply when it has all run. */
static void run_next(struct rt_txn *t, struct exec_state *x)
{
    if (x->next == x->n) {
        rt_txn_finish(t, x->reply.data, x->reply.len);
        return;
    }
    struct rt_shard *sh = rt_txn_shard(t);
    size_t i = x->next;
    if (!on_one_shard(sh, x->queue[i])) {
        i++; /* alone in its phase */
    } else {
        while (i < x->n && on_one_shard(sh, x->queue[i]))
            i++;
    }
    for (size_t j = x->next; j < i; j++)
        rt_txn_command(t, x->queue[j]->cmd, x->queue[j]->argc, x->queue[j]->argv);
    x->running = i - x->next;
    x->next = i;
}

static void collect(struct rt_txn *t, struct exec_state *x)
{
    static const char lost[] = "-ERR internal error\r\n";
    unsigned n = rt_txn_nresults(t);
    for (size_t i = 0; i < x->running; i++) {
        rt_str r = i < n ? rt_txn_result(t, (unsigned)i) : (rt_str){NULL, 0};
        if (r.len)
            buf_append(&x->reply, r.ptr, r.len);
        else
            buf_append(&x->reply, lost, sizeof lost - 1); /* keep the array well formed */
    }
    x->running = 0;
}

/* Phase 0: EXEC's own checks, then the locks, then the WATCH check or the queue. */
static void exec_begin(struct rt_txn *t, struct exec_state *x)
{
    struct rt_client *c = rt_txn_client(t);
    struct client_state *cst = c ? client_state_get(c) : NULL;
    struct txn_client *st = cst ? &cst->txn : NULL;
    if (!st || !st->in_multi) {
        finish_error(t, "ERR EXEC without MULTI");
        return;
    }
    x->queue = st->queue;
    x->n = st->nqueued;
    x->watched = st->watched;
    x->nwatched = st->nwatched;
    bool dirty = st->dirty;
    *st = (struct txn_client){0};
    multi_settle(c, st);
    if (dirty) {
        multi_unwatch_all(rt_txn_shard(t), &x->watched, &x->nwatched);
        finish_error(t, "EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    declare_locks(t, x);
    resp_array(&x->reply, (int64_t)x->n);
    if (x->nwatched) {
        multi_per_shard(x->watched, x->nwatched, "__watchcheck", true, multi_emit_part, t);
        x->checking = true;
        return;
    }
    run_next(t, x);
}

/* The phase after "__watchcheck": every owner has unregistered the keys; any change
 * (or a part that failed) aborts with a null array. */
static bool watch_unchanged(struct rt_txn *t)
{
    for (unsigned p = 0, n = rt_txn_nresults(t); p < n; p++) {
        rt_str r = rt_txn_result(t, p);
        if (r.len != 4 || memcmp(r.ptr, ":0\r\n", 4) != 0) {
            struct buf *b = rt_txn_scratch(t);
            resp_null_array(b, rt_txn_proto(t));
            rt_txn_finish(t, b->data, b->len);
            return false;
        }
    }
    return true;
}

void multi_exec_step(struct rt_txn *t, unsigned phase)
{
    struct exec_state *x = rt_txn_state(t, sizeof *x);
    if (phase == 0) {
        rt_txn_on_free(t, exec_state_free);
        exec_begin(t, x);
        return;
    }
    if (x->checking) {
        x->checking = false;
        if (!watch_unchanged(t))
            return;
    } else {
        collect(t, x);
    }
    run_next(t, x);
}

