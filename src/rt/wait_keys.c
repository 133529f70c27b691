/* Blocking, the owner's side: for each key of this shard with waiters, a FIFO of the
 * transactions waiting on it (from any shard), and the signalling of the first one that
 * the key can serve (see wait.c for the protocol and its invariants). */
#include "rt/wait.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static struct wkey *wkey_find(struct wait_state *ws, const char *key, size_t len, uint64_t h)
{
    for (struct wkey *wk = ws->buckets[h & (ws->nbuckets - 1)]; wk; wk = wk->hnext)
        if (wk->hash == h && wk->len == len && memcmp(wk->key, key, len) == 0)
            return wk;
    return NULL;
}

static void wkey_grow(struct wait_state *ws)
{
    size_t n = ws->nbuckets * 2;
    struct wkey **nb = calloc(n, sizeof *nb);
    if (!nb)
        abort();
    for (size_t b = 0; b < ws->nbuckets; b++)
        while (ws->buckets[b]) {
            struct wkey *wk = ws->buckets[b];
            ws->buckets[b] = wk->hnext;
            wk->hnext = nb[wk->hash & (n - 1)];
            nb[wk->hash & (n - 1)] = wk;
        }
    free(ws->buckets);
    ws->buckets = nb;
    ws->nbuckets = n;
}

static struct wkey *wkey_get(struct wait_state *ws, const char *key, size_t len)
{
    uint64_t h = hash_bytes(key, len, ws->seed);
    struct wkey *wk = wkey_find(ws, key, len, h);
    if (wk)
        return wk;
    if (ws->nkeys >= ws->nbuckets)
        wkey_grow(ws);
    wk = calloc(1, sizeof *wk + len + 1);
    if (!wk)
        abort();
    wk->hash = h;
    wk->len = len;
    if (len)
        memcpy(wk->key, key, len);
    struct wkey **b = &ws->buckets[h & (ws->nbuckets - 1)];
    wk->hnext = *b;
    *b = wk;
    ws->nkeys++;
    return wk;
}

/* Free a key nobody waits on, unless a list still points to it. */
static void wkey_release(struct wait_state *ws, struct wkey *wk)
{
    if (wk->head || wk->where != WK_NONE)
        return;
    struct wkey **p = &ws->buckets[wk->hash & (ws->nbuckets - 1)];
    while (*p != wk)
        p = &(*p)->hnext;
    *p = wk->hnext;
    ws->nkeys--;
    free(wk);
}

static void queue_ready(struct wait_state *ws, struct wkey *wk)
{
    if (wk->where != WK_NONE)
        return;
    GROW(ws->ready, ws->nready, ws->ready_cap);
    ws->ready[ws->nready++] = wk;
    wk->where = WK_READY;
}

void rt_key_written(struct rt_shard *sh, const char *key, size_t len)
{
    struct wait_state *ws = sh->wait;
    if (!ws || !ws->nkeys)
        return;
    struct wkey *wk = wkey_find(ws, key, len, hash_bytes(key, len, ws->seed));
    if (wk)
        queue_ready(ws, wk);
}

void waiters_free_all(struct wait_state *ws)
{
    for (size_t b = 0; b < ws->nbuckets; b++)
        while (ws->buckets[b]) {
            struct wkey *wk = ws->buckets[b];
            ws->buckets[b] = wk->hnext;
            while (wk->head) {
                struct waiter *w = wk->head;
                wk->head = w->next;
                free(w);
            }
            free(wk);
        }
}

void waiters_add(struct rt_shard *sh, unsigned origin, uint32_t slot, uint64_t id,
                 uint32_t gen, const rt_str *kinds, const rt_str *keys, int nkeys)
{
    struct wait_state *ws = sh->wait;
    for (int i = 0; i < nkeys; i++) {
        struct wkey *wk = wkey_get(ws, keys[i].ptr, keys[i].len);
        bool dup = false;
        for (struct waiter *w = wk->head; w && !dup; w = w->next)
            dup = w->origin == origin && w->slot == slot && w->id == id;
        if (dup)
            continue; /* the same key twice in one command */
        struct waiter *w = calloc(1, sizeof *w);
        if (!w)
            abort();
        *w = (struct waiter){.origin = (uint16_t)origin, .slot = slot, .gen = gen, .id = id,
                             .kind = (size_t)i < kinds->len ? (uint8_t)kinds->ptr[i] : 0};
        if (wk->tail)
            wk->tail->next = w;
        else
            wk->head = w;
        wk->tail = w;
        queue_ready(ws, wk); /* it may be ready already */
    }
}

void waiters_remove(struct rt_shard *sh, unsigned origin, uint32_t slot, uint64_t id,
                               const rt_str *keys, int nkeys)
{
    struct wait_state *ws = sh->wait;
    for (int i = 0; i < nkeys; i++) {
        struct wkey *wk = wkey_find(ws, keys[i].ptr, keys[i].len,
                                    hash_bytes(keys[i].ptr, keys[i].len, ws->seed));
        if (!wk)
            continue;
        struct waiter **p = &wk->head, *prev = NULL;
        while (*p) {
            struct waiter *w = *p;
            if (w->origin != origin || w->slot != slot || w->id != id) {
                prev = w;
                p = &w->next;
                continue;
            }
            *p = w->next;
            if (wk->tail == w)
                wk->tail = prev;
            if (w->signalled)
                wk->signalled = false; /* the next waiter may be served now */
            free(w);
        }
        if (wk->head && !wk->signalled)
            queue_ready(ws, wk);
        wkey_release(ws, wk);
    }
}

static void signal_waiter(struct rt_shard *sh, struct wkey *wk, struct waiter *w)
{
    w->signalled = true;
    wk->signalled = true;
    if (w->origin == sh->id) {
        struct rt_txn *t = txn_find(sh, w->slot, w->id);
        if (t && t->waiting && t->wait_gen == w->gen)
            wait_wake_txn(sh, t, RT_WAKE_KEY, wk->key, wk->len, sh->id);
        return;
    }
    struct req_hdr h = {.kind = REC_WAKE, .slot = w->slot, .id = w->id, .seq = w->gen};
    rt_str key = {wk->key, wk->len};
    batch_add_request(lane_batch(sh, w->origin), &h, 1, &key);
}

static bool key_locked(struct rt_shard *sh, const struct wkey *wk)
{
    return sh->locked &&
           (lockmgr_whole(sh->locks) || lockmgr_conflicts(sh->locks, wk->key, wk->len, true));
}

void waiters_check_ready(struct rt_shard *sh)
{
    struct wait_state *ws = sh->wait;
    const struct rt_commands *cmds = sh->rt->cmds;
    /* Checking signals nothing synchronously (local wakes are queued), so the list does
     * not change under us. */
    for (size_t i = 0; i < ws->nready; i++) {
        struct wkey *wk = ws->ready[i];
        wk->where = WK_NONE;
        if (!wk->head || wk->signalled || !cmds->key_ready) {
            wkey_release(ws, wk);
            continue;
        }
        if (key_locked(sh, wk)) {
            GROW(ws->parked, ws->nparked, ws->parked_cap);
            ws->parked[ws->nparked++] = wk;
            wk->where = WK_PARKED;
            continue;
        }
        for (struct waiter *w = wk->head; w; w = w->next)
            if (cmds->key_ready(sh->ctx, wk->key, wk->len, w->kind)) {
                signal_waiter(sh, wk, w);
                break;
            }
    }
    ws->nready = 0;
}

void waiters_unpark(struct rt_shard *sh)
{
    struct wait_state *ws = sh->wait;
    size_t keep = 0;
    for (size_t i = 0; i < ws->nparked; i++) {
        struct wkey *wk = ws->parked[i];
        if (key_locked(sh, wk)) {
            ws->parked[keep++] = wk;
            continue;
        }
        wk->where = WK_NONE;
        queue_ready(ws, wk);
    }
    ws->nparked = keep;
}

