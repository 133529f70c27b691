/* Pub/sub registries (pubsub_impl.h): the per-shard tables of entries, the replicated
 * view, the pattern lists, and the memberships of each client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "cmd/pubsub_impl.h"

/* One state per shard thread: every use is on the shard's own thread. */
static _Thread_local struct ps_shard *tl_ps;

struct ps_shard *ps_shard(void) { return tl_ps; }

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

#define TABLE_MIN 16

void pubsub_shard_init(struct cmd_shard *cs)
{
    struct ps_shard *ps = cmd_xcalloc(1, sizeof *ps);
    ps->cs = cs;
    ps->seed = hash_random_seed();
    snprintf(ps->src, sizeof ps->src, "%u", rt_shard_id(cs->sh));
    for (int k = 0; k < PS_NKINDS; k++) {
        ps->t[k].nb = TABLE_MIN;
        ps->t[k].b = cmd_xcalloc(TABLE_MIN, sizeof *ps->t[k].b);
    }
    tl_ps = ps;
}

void pubsub_shard_fini(struct cmd_shard *cs)
{
    struct ps_shard *ps = tl_ps;
    if (!ps || ps->cs != cs)
        return;
    /* The connections are closed by now: what is left is view only. */
    for (int k = 0; k < PS_NKINDS; k++) {
        struct ps_table *t = &ps->t[k];
        for (size_t i = 0; i < t->nb; i++)
            while (t->b[i]) {
                struct ps_entry *e = t->b[i];
                t->b[i] = e->hnext;
                free(e->subs);
                free(e);
            }
        free(t->b);
    }
    free(ps->pats.v);
    free(ps->lpats.v);
    free(ps->deltas);
    free(ps->dargv);
    buf_free(&ps->dnames);
    buf_free(&ps->frame);
    buf_free(&ps->pframe);
    buf_free(&ps->frame3);
    free(ps);
    tl_ps = NULL;
}

/* ---- Tables: chained, power-of-two buckets, resized whole (entries are small) ---- */

static void table_resize(struct ps_table *t, size_t nb)
{
    struct ps_entry **b = cmd_xcalloc(nb, sizeof *b);
    for (size_t i = 0; i < t->nb; i++)
        while (t->b[i]) {
            struct ps_entry *e = t->b[i];
            t->b[i] = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(t->b);
    t->b = b;
    t->nb = nb;
}

struct ps_entry *ps_find(struct ps_shard *ps, enum ps_kind k, const char *name, size_t len)
{
    struct ps_table *t = &ps->t[k];
    if (!t->n)
        return NULL;
    uint64_t h = hash_bytes(name, len, ps->seed);
    for (struct ps_entry *e = t->b[h & (t->nb - 1)]; e; e = e->hnext)
        if (e->hash == h && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    return NULL;
}

struct ps_entry *ps_get(struct ps_shard *ps, enum ps_kind k, const char *name, size_t len)
{
    struct ps_entry *e = ps_find(ps, k, name, len);
    if (e)
        return e;
    struct ps_table *t = &ps->t[k];
    if (t->n >= t->nb)
        table_resize(t, t->nb * 2);
    e = cmd_xcalloc(1, sizeof *e + len + 1);
    e->hash = hash_bytes(name, len, ps->seed);
    e->kind = (uint8_t)k;
    e->gidx = e->lidx = PS_NONE;
    e->len = len;
    if (len)
        memcpy(e->name, name, len);
    struct ps_entry **b = &t->b[e->hash & (t->nb - 1)];
    e->hnext = *b;
    *b = e;
    t->n++;
    return e;
}

void ps_table_foreach(struct ps_table *t, void (*fn)(struct ps_entry *e, void *arg), void *arg)
{
    for (size_t i = 0; i < t->nb; i++)
        for (struct ps_entry *e = t->b[i]; e; e = e->hnext)
            fn(e, arg);
}

/* ---- Pattern lists (swap-remove; each entry knows its index) ---- */

static void list_add(struct ps_list *l, struct ps_entry *e, uint32_t *idx)
{
    if (*idx != PS_NONE)
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    *idx = l->n;
    l->v[l->n++] = e;
}

/* idx_of: which index field of an entry this list uses. */
static void list_remove(struct ps_list *l, uint32_t *idx, size_t field_off)
{
    uint32_t i = *idx;
    if (i == PS_NONE)
        return;
    struct ps_entry *last = l->v[--l->n];
    l->v[i] = last;
    memcpy((char *)last + field_off, &i, sizeof i);
    *idx = PS_NONE;
}

void ps_entry_release(struct ps_shard *ps, struct ps_entry *e)
{
    if (e->nsubs || e->total > 0)
        return;
    struct ps_table *t = &ps->t[e->kind];
    list_remove(&ps->pats, &e->gidx, offsetof(struct ps_entry, gidx));
    list_remove(&ps->lpats, &e->lidx, offsetof(struct ps_entry, lidx));
    struct ps_entry **p = &t->b[e->hash & (t->nb - 1)];
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    t->n--;
    free(e->subs);
    free(e);
    if (t->nb > TABLE_MIN && t->n < t->nb / 8)
        table_resize(t, t->nb / 2);
}

void ps_view_apply(struct ps_shard *ps, struct ps_entry *e, unsigned src, int sign, bool bit)
{
    bool was = e->total > 0;
    e->total += sign;
    if (was != (e->total > 0)) {
        if (was)
            ps->nview[e->kind]--;
        else
            ps->nview[e->kind]++;
    }
    if (bit) {
        if (sign > 0)
            e->mask |= 1ull << src;
        else
            e->mask &= ~(1ull << src);
    }
    if (e->kind == PS_PAT) {
        if (e->total > 0)
            list_add(&ps->pats, e, &e->gidx);
        else
            list_remove(&ps->pats, &e->gidx, offsetof(struct ps_entry, gidx));
    }
    ps_entry_release(ps, e);
}

/* ---- Client memberships: open addressing on the entry pointer, backward-shift
 * deletion (no tombstones), at most half full ---- */

static inline uint32_t member_slot(const struct ps_client *pc, const struct ps_entry *e)
{
    uint64_t h = (uint64_t)(uintptr_t)e * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & (pc->cap - 1);
}

struct ps_member *ps_member_find(const struct ps_client *pc, const struct ps_entry *e)
{
    if (!pc->n)
        return NULL;
    for (uint32_t i = member_slot(pc, e);; i = (i + 1) & (pc->cap - 1)) {
        struct ps_member *m = &pc->slots[i];
        if (m->e == e)
            return m;
        if (!m->e)
            return NULL;
    }
}

static struct ps_member *member_insert(struct ps_client *pc, struct ps_entry *e)
{
    if (2 * (pc->n + 1) > pc->cap) {
        uint32_t cap = pc->cap ? pc->cap * 2 : 8;
        struct ps_member *old = pc->slots;
        uint32_t oldcap = pc->cap;
        pc->slots = cmd_xcalloc(cap, sizeof *pc->slots);
        pc->cap = cap;
        for (uint32_t i = 0; i < oldcap; i++) {
            if (!old[i].e)
                continue;
            uint32_t j = member_slot(pc, old[i].e);
            while (pc->slots[j].e)
                j = (j + 1) & (cap - 1);
            pc->slots[j] = old[i];
        }
        free(old);
    }
    uint32_t j = member_slot(pc, e);
    while (pc->slots[j].e)
        j = (j + 1) & (pc->cap - 1);
    pc->slots[j] = (struct ps_member){.e = e};
    pc->n++;
    return &pc->slots[j];
}

static void member_erase(struct ps_client *pc, struct ps_member *m)
{
    uint32_t mask = pc->cap - 1, i = (uint32_t)(m - pc->slots);
    pc->slots[i].e = NULL;
    pc->n--;
    /* Backward shift: move later members of the run into the hole when their home slot
     * does not lie cyclically in (hole, j]. */
    for (uint32_t j = (i + 1) & mask; pc->slots[j].e; j = (j + 1) & mask) {
        uint32_t home = member_slot(pc, pc->slots[j].e);
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        pc->slots[i] = pc->slots[j];
        pc->slots[j].e = NULL;
        i = j;
    }
}

bool ps_member_add(struct ps_shard *ps, struct ps_client *pc, struct ps_entry *e)
{
    if (e->nsubs == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 4;
        e->subs = xrealloc(e->subs, e->cap * sizeof *e->subs);
    }
    struct ps_member *m = member_insert(pc, e);
    m->idx = e->nsubs;
    e->subs[e->nsubs++] = (struct ps_sub){pc->c, pc};
    pc->count[e->kind]++;
    if (e->kind == PS_PAT)
        list_add(&ps->lpats, e, &e->lidx);
    return ++e->nactive == 1;
}

bool ps_member_leave(struct ps_client *pc, struct ps_member *m)
{
    m->leaving = true;
    pc->count[m->e->kind]--;
    return --m->e->nactive == 0;
}

bool ps_member_drop(struct ps_shard *ps, struct ps_client *pc, struct ps_member *m)
{
    struct ps_entry *e = m->e;
    bool bit = false;
    if (!m->leaving) {
        pc->count[e->kind]--;
        bit = --e->nactive == 0;
    }
    uint32_t i = m->idx;
    member_erase(pc, m); /* m is invalid from here */
    struct ps_sub moved = e->subs[--e->nsubs];
    if (i != e->nsubs) {
        e->subs[i] = moved;
        ps_member_find(moved.pc, e)->idx = i;
    }
    if (!e->nsubs)
        list_remove(&ps->lpats, &e->lidx, offsetof(struct ps_entry, lidx));
    return bit;
}

void ps_drop_leaving(struct ps_shard *ps, struct ps_client *pc)
{
    /* Dropping shifts members around: restart the scan after each one. */
    for (uint32_t i = 0; i < pc->cap;) {
        struct ps_member *m = &pc->slots[i];
        if (m->e && m->leaving) {
            struct ps_entry *e = m->e;
            ps_member_drop(ps, pc, m);
            ps_entry_release(ps, e);
            continue; /* slot i may hold a shifted member now */
        }
        i++;
    }
}

/* ---- Client state ---- */

struct ps_client *ps_client_of(const struct rt_client *c)
{
    struct client_state *st = client_state_get(c);
    return st ? st->ps : NULL;
}

struct ps_client *ps_client_ensure(struct rt_client *c)
{
    struct client_state *st = client_state_ensure(c);
    if (!st->ps) {
        st->ps = cmd_xcalloc(1, sizeof *st->ps);
        st->ps->c = c;
    }
    return st->ps;
}

void ps_client_settle(struct rt_client *c)
{
    struct client_state *st = client_state_get(c);
    struct ps_client *pc = st ? st->ps : NULL;
    if (pc && !pc->n && !pc->subscribed && !pc->holding && !pc->held.len) {
        free(pc->slots);
        buf_free(&pc->held);
        free(pc);
        st->ps = NULL;
    }
    client_state_settle(c);
}

/* ---- Deltas ---- */

void ps_delta_reset(struct ps_shard *ps)
{
    ps->ndeltas = 0;
    ps->dnames.len = 0;
}

void ps_delta_add(struct ps_shard *ps, enum ps_kind k, int sign, bool bit, const char *name,
                  size_t len)
{
    static const char *const ops[PS_NKINDS][2][2] = {
        [PS_CHAN] = {{"c-", "c-b"}, {"c+", "c+b"}},
        [PS_PAT] = {{"p-", "p-b"}, {"p+", "p+b"}},
        [PS_SCHAN] = {{"s-", "s-b"}, {"s+", "s+b"}},
    };
    if (ps->ndeltas == ps->deltas_cap) {
        ps->deltas_cap = ps->deltas_cap ? ps->deltas_cap * 2 : 16;
        ps->deltas = xrealloc(ps->deltas, ps->deltas_cap * sizeof *ps->deltas);
    }
    ps->deltas[ps->ndeltas++] = (struct ps_delta){ops[k][sign > 0][bit], ps->dnames.len, len};
    buf_append(&ps->dnames, name, len);
}

int ps_delta_argv(struct ps_shard *ps, rt_str **out)
{
    if (!ps->ndeltas)
        return 0;
    size_t need = 2 + 2 * ps->ndeltas;
    if (need > ps->dargv_cap) {
        free(ps->dargv);
        ps->dargv_cap = need;
        ps->dargv = cmd_xmalloc(need * sizeof *ps->dargv);
    }
    rt_str *argv = ps->dargv;
    argv[0] = (rt_str){"__psdelta", 9};
    argv[1] = (rt_str){ps->src, strlen(ps->src)};
    for (size_t i = 0; i < ps->ndeltas; i++) {
        argv[2 + 2 * i] = (rt_str){ps->deltas[i].op, strlen(ps->deltas[i].op)};
        argv[3 + 2 * i] = (rt_str){ps->dnames.data + ps->deltas[i].off, ps->deltas[i].len};
    }
    *out = argv;
    return (int)need;
}

/* Send the recorded deltas to every other shard with rt_post. */
static void post_deltas(struct ps_shard *ps)
{
    rt_str *argv;
    int argc = ps_delta_argv(ps, &argv);
    struct rt_shard *sh = ps->cs->sh;
    for (unsigned s = 0, n = rt_nshards(sh); argc && s < n; s++)
        if (s != rt_shard_id(sh))
            rt_post(sh, s, argc, argv);
    ps_delta_reset(ps);
}

void ps_client_drop_all(struct ps_shard *ps, struct rt_client *c)
{
    struct client_state *st = client_state_get(c);
    struct ps_client *pc = st ? st->ps : NULL;
    if (!pc)
        return;
    unsigned self = rt_shard_id(ps->cs->sh);
    ps_delta_reset(ps);
    for (uint32_t i = 0; i < pc->cap;) {
        struct ps_member *m = &pc->slots[i];
        if (!m->e) {
            i++;
            continue;
        }
        struct ps_entry *e = m->e;
        bool active = !m->leaving;
        bool bit = ps_member_drop(ps, pc, m);
        if (active) {
            /* A leaving member's removal is already on its way to the other shards. */
            ps_delta_add(ps, (enum ps_kind)e->kind, -1, bit, e->name, e->len);
            ps_view_apply(ps, e, self, -1, bit); /* may free e */
        } else {
            ps_entry_release(ps, e);
        }
    }
    post_deltas(ps);
    if (pc->subscribed)
        rt_client_set_class(c, RT_CLASS_NORMAL);
    pc->subscribed = pc->holding = false;
    pc->held.len = 0;
    ps_client_settle(c);
}
