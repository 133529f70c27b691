/* A transaction's intent locks, on its origin (DESIGN.md section 7).
 *
 * Keys are declared before the parts of phase 0 are sent. With several shards
 * involved, the origin first asks all of them at once with try requests, which are
 * granted or denied at once and never wait; if every one is granted the transaction
 * runs after a single round trip. Otherwise it gives back what it got and asks one
 * shard at a time in ascending order, waiting at each: ordered acquisition is what
 * rules out deadlock, the try round is only a fast path that cannot wait. With one
 * shard involved, it asks that shard and waits. Locks on the origin itself are taken
 * by a function call; its grants after a wait come back through lock_ready. */
#include "rt/internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"

struct lock_rec {
    uint32_t shard;
    uint8_t exclusive;
    uint32_t len;
} __attribute__((packed));

static void declare(struct rt_txn *t, unsigned shard, const char *key, size_t len,
                    bool exclusive)
{
    struct lock_rec r = {.shard = shard, .exclusive = exclusive, .len = (uint32_t)len};
    buf_append(&t->lockkeys, &r, sizeof r);
    buf_append(&t->lockkeys, key, len);
    t->lock_shards |= 1ull << shard;
    t->lock_exclusive |= exclusive;
}

/* Declarations count only before the locks are asked for, and never in a child
 * (its root holds every lock it needs). */
static bool may_declare(const struct rt_txn *t)
{
    return !t->parent && t->phase == 0 && t->lock_state == TL_NONE;
}

void rt_txn_lock_key(struct rt_txn *t, const char *key, size_t len, bool exclusive)
{
    if (may_declare(t))
        declare(t, rt_key_shard(t->sh, key, len), key, len, exclusive);
}

void rt_txn_lock_shard(struct rt_txn *t, unsigned shard)
{
    if (may_declare(t) && shard < t->sh->n)
        t->whole_shards |= 1ull << shard;
}

void txn_declare_keys(struct rt_txn *t)
{
    const struct rt_cmd *cmd = t->cmd;
    struct rt_keyiter it;
    rt_keys_begin(&it, cmd, t->argc, t->argv);
    bool exclusive = cmd->flags & RT_CMD_WRITE;
    for (int i; (i = rt_keys_next(&it)) >= 0;)
        rt_txn_lock_key(t, t->argv[i].ptr, t->argv[i].len, exclusive);
}

/* Ask one shard for this transaction's locks there. Returns LOCK_QUEUED while the
 * answer is to come (from a peer, or from lock_ready on the origin). */
static enum lock_result ask(struct rt_shard *sh, struct rt_txn *t, unsigned shard, bool try)
{
    bool whole = (t->whole_shards >> shard) & 1;
    struct req_hdr h = {.kind = REC_LOCK, .proto = 2,
                        .flags = (uint16_t)((try ? REQF_TRY : 0) | (whole ? REQF_WHOLE : 0)),
                        .slot = t->slot, .id = t->id, .seq = t->lock_round};
    struct buf modes = {0};
    size_t n = 1, cap = 16;
    rt_str *argv = malloc(cap * sizeof *argv);
    if (!argv)
        abort();
    for (size_t pos = 0; !whole && pos < t->lockkeys.len;) {
        struct lock_rec r;
        memcpy(&r, t->lockkeys.data + pos, sizeof r);
        const char *key = t->lockkeys.data + pos + sizeof r;
        pos += sizeof r + r.len;
        if (r.shard != shard)
            continue;
        if (n == cap) {
            cap *= 2;
            rt_str *na = realloc(argv, cap * sizeof *na);
            if (!na)
                abort();
            argv = na;
        }
        argv[n++] = (rt_str){key, r.len};
        buf_putc(&modes, r.exclusive ? 'x' : 's');
    }
    argv[0] = (rt_str){modes.data ? modes.data : "", modes.len};
    int argc = whole ? 0 : (int)n;
    enum lock_result res = LOCK_QUEUED;
    if (shard == sh->id)
        res = hold_lock(sh, sh->id, &h, argc, argv, NULL);
    else
        batch_add_request(lane_batch(sh, shard), &h, argc, argv);
    free(argv);
    buf_free(&modes);
    return res;
}

void txn_lock_release(struct rt_shard *sh, struct rt_txn *t)
{
    for (uint64_t m = t->held_shards; m; m &= m - 1) {
        unsigned s = (unsigned)__builtin_ctzll(m);
        if (s == sh->id) {
            hold_unlock(sh, s, t->slot, t->id);
            continue;
        }
        struct req_hdr h = {.kind = REC_UNLOCK, .slot = t->slot, .id = t->id};
        batch_add_request(lane_batch(sh, s), &h, 0, NULL);
    }
    t->held_shards = 0;
}

static bool held(struct rt_txn *t)
{
    t->lock_state = TL_HELD;
    t->locked_shards = t->held_shards;
    return true;
}

/* Ask the next shards in ascending order; true once all are held. */
static bool ask_in_order(struct rt_shard *sh, struct rt_txn *t)
{
    uint64_t todo = (t->lock_shards | t->whole_shards) & ~t->held_shards;
    for (; todo; todo &= todo - 1) {
        unsigned s = (unsigned)__builtin_ctzll(todo);
        if (ask(sh, t, s, false) != LOCK_GRANTED)
            return false; /* the answer resumes us */
        t->held_shards |= 1ull << s;
    }
    return held(t);
}

/* True when the caller must send the parts (txn_run). */
static bool try_round_done(struct rt_shard *sh, struct rt_txn *t)
{
    if (!t->lock_denied) {
        held(t);
        if (!t->spec)
            return true;
        t->spec = false; /* the parts ran under the locks: keep their results */
        buf_free(&t->spec_next);
        txn_spec_kept(sh, t);
        return false;
    }
    if (t->spec)
        txn_spec_undo(t);
    txn_lock_release(sh, t);
    t->lock_round++;
    t->lock_state = TL_WAITING;
    return ask_in_order(sh, t);
}

bool txn_lock_begin(struct rt_shard *sh, struct rt_txn *t)
{
    uint64_t all = t->lock_shards | t->whole_shards;
    t->lock_round++;
    if (!(all & (all - 1))) {
        t->lock_state = TL_WAITING;
        return ask_in_order(sh, t);
    }
    t->lock_state = TL_TRYING;
    t->lock_pending = 0;
    t->lock_denied = false;
    for (uint64_t m = all; m; m &= m - 1) {
        unsigned s = (unsigned)__builtin_ctzll(m);
        switch (ask(sh, t, s, true)) {
        case LOCK_GRANTED:
            t->held_shards |= 1ull << s;
            break;
        case LOCK_DENIED:
            t->lock_denied = true;
            break;
        case LOCK_QUEUED:
            t->lock_pending++;
            break;
        }
    }
    return t->lock_pending ? false : try_round_done(sh, t);
}

void txn_lock_reply(struct rt_shard *sh, uint32_t slot, uint64_t id, uint32_t round,
                    unsigned from, bool granted)
{
    struct rt_txn *t = txn_find(sh, slot, id);
    if (!t || from >= sh->n) {
        log_msg(LOG_WARNING, "lock answer for an unknown transaction");
        return;
    }
    if (t->lock_state == TL_TRYING && round == t->lock_round && t->lock_pending) {
        if (granted)
            t->held_shards |= 1ull << from;
        else
            t->lock_denied = true;
        if (--t->lock_pending == 0 && try_round_done(sh, t))
            txn_run(sh, t);
        return;
    }
    /* Waiting answers always grant: one shard is asked at a time. */
    if (t->lock_state == TL_WAITING && granted) {
        t->held_shards |= 1ull << from;
        if (ask_in_order(sh, t))
            txn_run(sh, t);
        return;
    }
    log_msg(LOG_WARNING, "unexpected lock answer from shard %u", from);
}

void txn_run_lock_ready(struct rt_shard *sh)
{
    /* Resuming a transaction may queue further entries: index loop. */
    for (size_t i = 0; i < sh->nlock_ready; i++) {
        struct lock_ready r = sh->lock_ready[i];
        txn_lock_reply(sh, r.slot, r.id, r.round, sh->id, true);
    }
    sh->nlock_ready = 0;
}
