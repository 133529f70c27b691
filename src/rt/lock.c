/* Intent locks of one shard (see lock.h for the rules).
 *
 * Two chained hash tables: locked keys (one record per key, counting the granted and
 * queued requests that name it) and requests by owner. Queued requests also sit on a
 * FIFO list in arrival order. A request's items point at its key records: a record
 * lives as long as some request, granted or queued, names it, so those pointers stay
 * valid (chained tables never move their nodes), and it is freed with the last one. */
#include "rt/lock.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/log.h"

#define TABLE_MIN_SIZE 16

/* The node of a chained table; the first member of what it chains. */
struct link {
    struct link *next;
    uint64_t hash;
};

struct table {
    struct link **buckets;
    size_t mask; /* bucket count (a power of two) - 1 */
    size_t count;
};

/* What the requests still waiting, seen so far in a grant_waiting walk, forbid on a
 * key to the requests behind them. */
enum block { BLOCK_NONE, BLOCK_EXCLUSIVE, BLOCK_ALL };

/* Requests naming a key, by state and mode (GRANTED_EXCLUSIVE is 0 or 1). */
enum { GRANTED_SHARED, GRANTED_EXCLUSIVE, QUEUED_SHARED, QUEUED_EXCLUSIVE, NCOUNTS };

struct lock_rec {
    struct link link;
    uint32_t count[NCOUNTS];
    /* Scratch of one pass, meaningful only while stamp == m->epoch: in acquire, the
     * index of this key's item in the request being built (duplicates merge into it);
     * in grant_waiting, what earlier waiting requests block here. */
    uint64_t stamp;
    size_t item;
    enum block block;
    size_t len;
    char key[];
};

struct lock_item {
    struct lock_rec *rec;
    bool exclusive;
};

struct lock_req {
    struct link link;
    struct lock_owner owner;
    bool whole;
    bool granted;
    struct lock_req *prev, *next; /* the queue, while not granted */
    size_t nitems;                /* distinct keys */
    struct lock_item items[];
};

struct lockmgr {
    struct table keys; /* of struct lock_rec */
    struct table reqs; /* of struct lock_req, by owner */
    uint64_t seed;
    uint64_t epoch; /* bumped per pass that uses the records' scratch */
    struct lock_req *queue_head, *queue_tail;
    size_t granted, queued;
    bool whole_granted;
    size_t whole_queued;
};

static void out_of_memory(void)
{
    log_msg(LOG_WARNING, "out of memory");
    abort();
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        out_of_memory();
    return p;
}

static void table_init(struct table *t)
{
    t->buckets = xcalloc(TABLE_MIN_SIZE, sizeof *t->buckets);
    t->mask = TABLE_MIN_SIZE - 1;
    t->count = 0;
}

static void table_rehash(struct table *t, size_t size)
{
    struct link **buckets = xcalloc(size, sizeof *buckets);
    for (size_t b = 0; b <= t->mask; b++) {
        struct link *next;
        for (struct link *l = t->buckets[b]; l; l = next) {
            next = l->next;
            struct link **head = &buckets[l->hash & (size - 1)];
            l->next = *head;
            *head = l;
        }
    }
    free(t->buckets);
    t->buckets = buckets;
    t->mask = size - 1;
}

/* Load factor at most 1; shrinks below 1/8 so a burst of locks does not pin memory. */
static void table_insert(struct table *t, struct link *l)
{
    if (t->count > t->mask)
        table_rehash(t, (t->mask + 1) * 2); /* calloc refuses an overflowing size */
    struct link **head = &t->buckets[l->hash & t->mask];
    l->next = *head;
    *head = l;
    t->count++;
}

static void table_remove(struct table *t, struct link *l)
{
    struct link **p = &t->buckets[l->hash & t->mask];
    while (*p != l)
        p = &(*p)->next;
    *p = l->next;
    t->count--;
    if (t->mask + 1 > TABLE_MIN_SIZE && t->count < (t->mask + 1) / 8)
        table_rehash(t, (t->mask + 1) / 2);
}

/* Frees the table and every node in it. */
static void table_free(struct table *t)
{
    for (size_t b = 0; b <= t->mask; b++) {
        struct link *next;
        for (struct link *l = t->buckets[b]; l; l = next) {
            next = l->next;
            free(l); /* the link is the first member of what was allocated */
        }
    }
    free(t->buckets);
}

static uint64_t owner_hash(const struct lockmgr *m, struct lock_owner o)
{
    uint64_t words[2] = {(uint64_t)o.origin << 32 | o.slot, o.id};
    return hash_bytes(words, sizeof words, m->seed);
}

static struct lock_req *req_find(const struct lockmgr *m, struct lock_owner o, uint64_t h)
{
    for (struct link *l = m->reqs.buckets[h & m->reqs.mask]; l; l = l->next) {
        struct lock_req *r = (struct lock_req *)l;
        if (l->hash == h && r->owner.id == o.id && r->owner.slot == o.slot &&
            r->owner.origin == o.origin)
            return r;
    }
    return NULL;
}

static struct lock_rec *rec_find(const struct lockmgr *m, const char *key, size_t len,
                                 uint64_t h)
{
    for (struct link *l = m->keys.buckets[h & m->keys.mask]; l; l = l->next) {
        struct lock_rec *rec = (struct lock_rec *)l;
        if (l->hash == h && rec->len == len && (!len || memcmp(rec->key, key, len) == 0))
            return rec;
    }
    return NULL;
}

/* The record of key, added with nothing granted or queued if there is none. */
static struct lock_rec *rec_get(struct lockmgr *m, const char *key, size_t len)
{
    uint64_t h = hash_bytes(key, len, m->seed);
    struct lock_rec *rec = rec_find(m, key, len, h);
    if (rec)
        return rec;
    if (len > SIZE_MAX - sizeof *rec)
        out_of_memory();
    rec = xcalloc(1, sizeof *rec + len);
    *rec = (struct lock_rec){.link.hash = h, .len = len};
    if (len)
        memcpy(rec->key, key, len);
    table_insert(&m->keys, &rec->link);
    return rec;
}

/* Frees rec once no request names it. */
static void rec_drop_if_unused(struct lockmgr *m, struct lock_rec *rec)
{
    for (int k = 0; k < NCOUNTS; k++)
        if (rec->count[k])
            return;
    table_remove(&m->keys, &rec->link);
    free(rec);
}

/* Whether the locks granted on rec let an item of this mode be granted too. */
static bool granted_allow(const struct lock_rec *rec, bool exclusive)
{
    return !rec->count[GRANTED_EXCLUSIVE] && (!exclusive || !rec->count[GRANTED_SHARED]);
}

/* Adds r to (add) or takes it off (!add) its records' counts in one state. */
static void count_items(const struct lock_req *r, bool queued, bool add)
{
    for (size_t i = 0; i < r->nitems; i++) {
        uint32_t *n = &r->items[i].rec->count[(queued ? QUEUED_SHARED : GRANTED_SHARED) +
                                              r->items[i].exclusive];
        *n = add ? *n + 1 : *n - 1;
    }
}

static void set_granted(struct lockmgr *m, struct lock_req *r, bool granted)
{
    count_items(r, false, granted);
    m->whole_granted = granted && r->whole; /* a whole-shard request is granted alone */
    r->granted = granted;
    m->granted = granted ? m->granted + 1 : m->granted - 1;
}

static void enqueue(struct lockmgr *m, struct lock_req *r)
{
    count_items(r, true, true);
    m->whole_queued += r->whole;
    r->next = NULL;
    r->prev = m->queue_tail;
    *(m->queue_tail ? &m->queue_tail->next : &m->queue_head) = r;
    m->queue_tail = r;
    m->queued++;
}

static void dequeue(struct lockmgr *m, struct lock_req *r)
{
    count_items(r, true, false);
    m->whole_queued -= r->whole;
    *(r->prev ? &r->prev->next : &m->queue_head) = r->next;
    *(r->next ? &r->next->prev : &m->queue_tail) = r->prev;
    r->prev = r->next = NULL;
    m->queued--;
}

/* A new request goes at once only past every granted and every queued request. */
static bool grantable_now(const struct lockmgr *m, const struct lock_req *r)
{
    if (r->whole)
        return m->granted == 0 && m->queued == 0;
    if (m->whole_granted || m->whole_queued)
        return false;
    for (size_t i = 0; i < r->nitems; i++) {
        const struct lock_rec *rec = r->items[i].rec;
        bool exclusive = r->items[i].exclusive;
        if (!granted_allow(rec, exclusive) || rec->count[QUEUED_EXCLUSIVE] ||
            (exclusive && rec->count[QUEUED_SHARED]))
            return false;
    }
    return true;
}

struct lockmgr *lockmgr_new(void)
{
    struct lockmgr *m = xcalloc(1, sizeof *m);
    table_init(&m->keys);
    table_init(&m->reqs);
    m->seed = hash_random_seed();
    return m;
}

void lockmgr_free(struct lockmgr *m)
{
    if (!m)
        return;
    table_free(&m->reqs);
    table_free(&m->keys);
    free(m);
}

enum lock_result lockmgr_acquire(struct lockmgr *m, struct lock_owner o, bool whole,
                                 size_t nkeys, const rt_str *keys, const bool *exclusive,
                                 bool try)
{
    assert(!whole || nkeys == 0);
    uint64_t h = owner_hash(m, o);
    assert(!req_find(m, o, h)); /* one request per owner and shard */
    struct lock_req *r;
    if (nkeys > (SIZE_MAX - sizeof *r) / sizeof r->items[0])
        out_of_memory();
    r = xcalloc(1, sizeof *r + nkeys * sizeof r->items[0]);
    *r = (struct lock_req){.link.hash = h, .owner = o, .whole = whole};

    m->epoch++;
    for (size_t i = 0; i < nkeys; i++) {
        struct lock_rec *rec = rec_get(m, keys[i].ptr, keys[i].len);
        if (rec->stamp == m->epoch) { /* a duplicate: exclusive if any occurrence is */
            r->items[rec->item].exclusive |= exclusive[i];
            continue;
        }
        rec->stamp = m->epoch;
        rec->item = r->nitems;
        r->items[r->nitems++] = (struct lock_item){.rec = rec, .exclusive = exclusive[i]};
    }

    enum lock_result res;
    if (grantable_now(m, r)) {
        set_granted(m, r, true);
        res = LOCK_GRANTED;
    } else if (try) {
        for (size_t i = 0; i < r->nitems; i++)
            rec_drop_if_unused(m, r->items[i].rec);
        free(r);
        return LOCK_DENIED;
    } else {
        enqueue(m, r);
        res = LOCK_QUEUED;
    }
    table_insert(&m->reqs, &r->link);
    return res;
}

bool lockmgr_holds(const struct lockmgr *m, struct lock_owner o)
{
    const struct lock_req *r = req_find(m, o, owner_hash(m, o));
    return r && r->granted;
}

bool lockmgr_release(struct lockmgr *m, struct lock_owner o)
{
    struct lock_req *r = req_find(m, o, owner_hash(m, o));
    if (!r)
        return false;
    if (r->granted)
        set_granted(m, r, false);
    else
        dequeue(m, r);
    for (size_t i = 0; i < r->nitems; i++)
        rec_drop_if_unused(m, r->items[i].rec);
    table_remove(&m->reqs, &r->link);
    free(r);
    return true;
}

/* Whether queued r may go now: past every granted request and every request still
 * waiting ahead of it (their marks on the records, set by block_behind). */
static bool grantable_in_walk(const struct lockmgr *m, const struct lock_req *r)
{
    if (m->whole_granted)
        return false;
    for (size_t i = 0; i < r->nitems; i++) {
        const struct lock_rec *rec = r->items[i].rec;
        bool exclusive = r->items[i].exclusive;
        if (!granted_allow(rec, exclusive))
            return false;
        if (rec->stamp == m->epoch &&
            (rec->block == BLOCK_ALL || (exclusive && rec->block == BLOCK_EXCLUSIVE)))
            return false;
    }
    return true;
}

/* r stays waiting: it stands in the way of later requests it conflicts with. */
static void block_behind(struct lockmgr *m, const struct lock_req *r)
{
    for (size_t i = 0; i < r->nitems; i++) {
        struct lock_rec *rec = r->items[i].rec;
        if (rec->stamp != m->epoch) {
            rec->stamp = m->epoch;
            rec->block = BLOCK_NONE;
        }
        if (r->items[i].exclusive)
            rec->block = BLOCK_ALL;
        else if (rec->block == BLOCK_NONE)
            rec->block = BLOCK_EXCLUSIVE;
    }
}

void lockmgr_grant_waiting(struct lockmgr *m, void (*fn)(void *arg, struct lock_owner o),
                           void *arg)
{
    if (m->whole_granted) /* nothing can go past it */
        return;
    m->epoch++;
    bool waiting_ahead = false;
    struct lock_req *next;
    for (struct lock_req *r = m->queue_head; r; r = next) {
        next = r->next;
        if (r->whole) {
            if (m->granted || waiting_ahead)
                return; /* a waiting whole-shard request blocks everything behind it */
        } else if (!grantable_in_walk(m, r)) {
            waiting_ahead = true;
            block_behind(m, r);
            continue;
        }
        dequeue(m, r);
        set_granted(m, r, true);
        fn(arg, r->owner);
        if (r->whole)
            return; /* nothing can go past it */
    }
}

bool lockmgr_any(const struct lockmgr *m)
{
    return m->granted != 0;
}

bool lockmgr_conflicts(const struct lockmgr *m, const char *key, size_t len, bool write)
{
    if (!m->granted)
        return false;
    if (m->whole_granted)
        return true;
    const struct lock_rec *rec = rec_find(m, key, len, hash_bytes(key, len, m->seed));
    return rec && (rec->count[GRANTED_EXCLUSIVE] || (write && rec->count[GRANTED_SHARED]));
}

bool lockmgr_whole(const struct lockmgr *m)
{
    return m->whole_granted;
}

size_t lockmgr_granted(const struct lockmgr *m)
{
    return m->granted;
}

size_t lockmgr_queued(const struct lockmgr *m)
{
    return m->queued;
}
