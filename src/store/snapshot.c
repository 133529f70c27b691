/* The point-in-time walk of the table for snapshots without fork (DESIGN.md 10).
 *
 * A snapshot passes every entry present at begin to its callback exactly once, as the
 * entry was at begin. Two ways an entry gets passed:
 *   - the walk: a SCAN-style cursor over the live table (store_dict_scan), moved on by
 *     store_snapshot_step. The reverse-binary cursor visits every entry present for the
 *     whole walk at least once, across any growth, shrink and incremental rehash;
 *   - the hooks (snap_before_change, internal.h): every store path that hands out,
 *     changes or deletes an existing entry passes it first if the walk has not. Commands
 *     change values in place only after a lookup, so passing at lookup covers them.
 * The mark (ENT_SNAP_BIT in meta) turns "at least once" into "exactly once": an entry
 * is passed when its bit equals s->snap_mark.
 *
 * Marks without a pass over the table. Between snapshots every entry carries the bit
 * equal to s->snap_mark. Begin flips s->snap_mark: every existing entry is then
 * "unpassed" at once. Entries created during the snapshot are created with the new
 * mark (so they are never passed), and at the end of the walk every entry carries it:
 * the invariant holds again for the next snapshot.
 *
 * Abort. An aborted walk leaves passed and unpassed entries mixed. The walk therefore
 * goes on without a callback ("draining": the hooks are off, since with snap_fn NULL
 * nothing is called; the walk alone sets the marks of what it meets, and entries
 * created meanwhile carry the current mark already). The tick drives it
 * (store_rehash_step), and the next begin finishes it if it is still going.
 *
 * Flush. A flush during a snapshot does not pass or free the remaining entries: the
 * snapshot takes the whole table over (an entry in it can no longer be reached, so
 * it stays as it was) and its walk then reads that detached table linearly, passing
 * the unpassed entries and freeing every entry as it goes. The store continues with a
 * fresh table, whose entries are all created after begin. */
#include <stdlib.h>

#include "base/clock.h"
#include "store/internal.h"

struct store_snap {
    uint64_t cursor;      /* the live table's scan cursor */
    bool live_done;       /* the live table has no entry left to pass */
    struct dict old;      /* the table a flush detached; old.tab[0] == NULL when none */
    int old_t;            /* linear position in `old`: table, then bucket */
    size_t old_b;
    uint64_t keys, expires; /* at begin */
};

static void mark(const struct store *s, struct entry *e)
{
    e->meta = (uint8_t)((e->meta & ~ENT_SNAP_BIT) | s->snap_mark);
}

static bool passed(const struct store *s, const struct entry *e)
{
    return (e->meta & ENT_SNAP_BIT) == s->snap_mark;
}

void store_snap_pass(struct store *s, struct entry *e)
{
    mark(s, e);
    if (s->snap_fn)
        s->snap_fn(s->snap_arg, e);
}

/* ---- The walk ---- */

struct visit_ctx {
    struct store *s;
    size_t work;
};

/* Visits one bucket's chain for store_dict_scan; links nothing, unlinks nothing. */
static void visit_bucket(struct entry **head, void *arg)
{
    struct visit_ctx *c = arg;
    c->work++;
    for (struct entry *e = *head; e; e = e->next) {
        if (!passed(c->s, e)) {
            store_snap_pass(c->s, e);
            c->work++;
        }
    }
}

/* The detached table: each bucket's entries are passed if unpassed, then freed. */
static size_t walk_detached(struct store *s, struct store_snap *w, size_t budget)
{
    struct dict *o = &w->old;
    size_t work = 0;
    while (o->tab[0] && work < budget) {
        if (w->old_b > o->mask[w->old_t]) {
            if (w->old_t == 0 && o->tab[1]) {
                w->old_t = 1;
                w->old_b = 0;
            } else {
                store_dict_destroy(o);
            }
            continue;
        }
        struct entry *e = o->tab[w->old_t][w->old_b];
        o->tab[w->old_t][w->old_b++] = NULL;
        work++;
        while (e) {
            struct entry *next = e->next;
            if (!passed(s, e))
                store_snap_pass(s, e);
            store_ent_free_value(e);
            free(e);
            work++;
            e = next;
        }
    }
    return work;
}

/* Advance the walk by about `budget` units (buckets visited plus entries passed or
 * freed); true when it has met everything. */
static bool walk(struct store *s, size_t budget)
{
    struct store_snap *w = s->snap;
    struct visit_ctx c = {.s = s, .work = 0};
    /* Nothing changes the table during this call (fn must not), so the cursors to come
     * are known in advance: their buckets are prefetched a batch ahead of the visits. */
    enum { BATCH = DICT_SCAN_PREFETCH_MAX };
    unsigned left = BATCH;
    uint64_t ahead = w->live_done ? 0 : store_dict_scan_prefetch(&s->d, w->cursor, BATCH);
    while (!w->live_done && c.work < budget) {
        if (--left == 0) {
            left = BATCH;
            if (ahead)
                ahead = store_dict_scan_prefetch(&s->d, ahead, BATCH);
        }
        w->cursor = store_dict_scan(&s->d, w->cursor, visit_bucket, &c);
        if (w->cursor == 0)
            w->live_done = true;
    }
    if (c.work < budget)
        c.work += walk_detached(s, w, budget - c.work);
    return w->live_done && !w->old.tab[0];
}

static void finish(struct store *s)
{
    free(s->snap);
    s->snap = NULL;
    s->snap_fn = NULL;
    s->snap_arg = NULL;
}

/* ---- API ---- */

static void pass_nowhere(void *arg, const struct entry *e)
{
    (void)arg;
    (void)e;
}

void store_snapshot_begin(struct store *s, void (*fn)(void *arg, const struct entry *e),
                          void *arg)
{
    store_snapshot_abort(s);
    /* An aborted walk still fixing marks must end before the mark flips again. */
    if (s->snap) {
        while (!walk(s, SIZE_MAX)) {
        }
        finish(s);
    }
    s->snap = store_xcalloc(1, sizeof *s->snap);
    s->snap->keys = s->d.count;
    s->snap->expires = s->ttl_len;
    s->snap_mark ^= ENT_SNAP_BIT;
    s->snap_fn = fn ? fn : pass_nowhere;
    s->snap_arg = arg;
}

bool store_snapshot_step(struct store *s, size_t budget)
{
    if (!s->snap_fn)
        return true;
    if (!walk(s, budget ? budget : 1))
        return false;
    finish(s);
    return true;
}

bool store_snapshot_active(const struct store *s) { return s->snap_fn != NULL; }

void store_snapshot_abort(struct store *s)
{
    if (!s->snap_fn)
        return;
    s->snap_fn = NULL;
    s->snap_arg = NULL;
    /* Nothing is left to fix when the walk had met everything already. */
    if (s->snap->live_done && !s->snap->old.tab[0])
        finish(s);
}

void store_snapshot_counts(const struct store *s, uint64_t *keys, uint64_t *expires)
{
    bool on = s->snap_fn != NULL;
    *keys = on ? s->snap->keys : 0;
    *expires = on ? s->snap->expires : 0;
}

/* ---- Hooks of store.c ---- */

bool store_snap_flush(struct store *s)
{
    struct store_snap *w = s->snap;
    if (!w)
        return false;
    /* Whatever the live table holds after this is created after begin. */
    bool take = s->snap_fn && !w->live_done;
    w->live_done = true;
    if (!take)
        return false;
    /* A second flush finds live_done set, so at most one table is ever detached. */
    w->old = s->d;
    w->old_t = 0;
    w->old_b = 0;
    store_dict_init(&s->d, w->old.seed);
    return true;
}

void store_snap_drain(struct store *s, uint64_t budget_us)
{
    if (!s->snap || s->snap_fn)
        return;
    uint64_t start = clock_mono_us();
    while (!walk(s, 1024)) {
        if (clock_mono_us() - start >= budget_us)
            return;
    }
    finish(s);
}

void store_snap_free(struct store *s)
{
    if (!s->snap)
        return;
    s->snap_fn = NULL;
    s->snap_arg = NULL;
    /* Only the detached table is the snapshot's to free; the live one is the store's. */
    s->snap->live_done = true;
    walk_detached(s, s->snap, SIZE_MAX);
    finish(s);
}
