/* Pub/sub internals shared by pubsub_reg.c (registries, view, client memberships),
 * pubsub_send.c (frames, delivery, PUBLISH) and pubsub.c (the commands).
 *
 * Every shard keeps, per namespace (channels, patterns, shard channels), one table of
 * entries. An entry holds two things for one name:
 *  - the replicated view of the whole server: how many subscribers it has on all shards
 *    (total) and on which shards (mask). Every subscribe and unsubscribe is applied to
 *    every shard's view: at once on its own shard, through "__psdelta" messages on the
 *    others (ordered per source lane, so each source's contribution is never negative);
 *  - this shard's own subscribers (subs), to deliver to.
 * An entry lives while either part is non-empty.
 *
 * A subscription being removed by an UNSUBSCRIBE still in flight is "leaving": it no
 * longer counts (the view and the client's counts dropped it) but still receives until
 * every shard applied the removal, then it is dropped. nactive counts the subscribers
 * that are not leaving: the mask bit of this shard follows nactive's 0 <-> 1 changes. */
#ifndef COREKV_CMD_PUBSUB_IMPL_H
#define COREKV_CMD_PUBSUB_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/client_state.h"
#include "cmd/pubsub.h"

enum ps_kind { PS_CHAN, PS_PAT, PS_SCHAN, PS_NKINDS };

#define PS_NONE UINT32_MAX

struct ps_client;

/* One local subscriber of an entry. */
struct ps_sub {
    struct rt_client *c;
    struct ps_client *pc;
};

struct ps_entry {
    struct ps_entry *hnext;
    uint64_t hash;
    int64_t total;          /* view: subscribers on every shard */
    uint64_t mask;          /* view: shards with subscribers */
    struct ps_sub *subs;    /* this shard's subscribers, leaving ones included */
    uint32_t nsubs, cap;
    uint32_t nactive;       /* subs not leaving */
    uint32_t gidx, lidx;    /* patterns: index in pats / lpats, PS_NONE when not there */
    uint8_t kind;
    size_t len;
    char name[];
};

struct ps_table {
    struct ps_entry **b;
    size_t nb, n;
};

struct ps_list {
    struct ps_entry **v;
    uint32_t n, cap;
};

/* A subscription of a client: the entry, and the client's index in entry->subs. */
struct ps_member {
    struct ps_entry *e; /* NULL: free slot */
    uint32_t idx;
    bool leaving;
};

/* A connection's pub/sub state (client_state.ps). Exists while the client has a
 * subscription, is in subscribed mode, or has a subscribe in flight. */
struct ps_client {
    struct rt_client *c;
    struct ps_member *slots; /* open addressing on the entry pointer */
    uint32_t cap, n;         /* cap: a power of two (or 0); n: members, leaving included */
    unsigned count[PS_NKINDS]; /* members not leaving, per kind */
    bool subscribed;         /* Redis's CLIENT_PUBSUB: subscribed mode, class pubsub */
    /* A SUBSCRIBE is waiting for the other shards: messages wait in held until its acks
     * have been replied, so none overtakes them. */
    bool holding;
    struct buf held;
};

/* Subscribes and unsubscribes of one command, to send to the other shards. */
struct ps_delta {
    const char *op; /* kind, sign, and 'b' when this shard's mask bit changes */
    size_t off, len; /* the name, in ps_shard.dnames */
};

struct ps_shard {
    struct cmd_shard *cs;
    uint64_t seed;
    struct ps_table t[PS_NKINDS];
    struct ps_list pats;  /* patterns with subscribers on any shard (view) */
    struct ps_list lpats; /* patterns with subscribers on this shard */
    uint64_t nview[PS_NKINDS]; /* entries with total > 0, per kind (INFO) */
    struct ps_delta *deltas;
    size_t ndeltas, deltas_cap;
    struct buf dnames;
    rt_str *dargv; /* ps_delta_argv's array */
    size_t dargv_cap;
    char src[8];   /* this shard's id, in decimal */
    struct buf frame, pframe, frame3; /* scratch for message frames */
};

/* This shard's state (pubsub_shard_init on this thread). */
struct ps_shard *ps_shard(void);

/* ---- Tables and views (pubsub_reg.c) ---- */
struct ps_entry *ps_find(struct ps_shard *ps, enum ps_kind k, const char *name, size_t len);
struct ps_entry *ps_get(struct ps_shard *ps, enum ps_kind k, const char *name, size_t len);
/* Free e when it has neither subscribers here nor anywhere in the view. */
void ps_entry_release(struct ps_shard *ps, struct ps_entry *e);
/* Apply one subscriber more (sign +1) or less (-1) on shard src to the view; bit: src's
 * mask bit changes. May free e. */
void ps_view_apply(struct ps_shard *ps, struct ps_entry *e, unsigned src, int sign, bool bit);
/* Call fn for every entry of a table (fn must not change the table). */
void ps_table_foreach(struct ps_table *t, void (*fn)(struct ps_entry *e, void *arg), void *arg);

/* ---- Client memberships (pubsub_reg.c) ---- */
struct ps_client *ps_client_of(const struct rt_client *c);
struct ps_client *ps_client_ensure(struct rt_client *c);
/* Free the client state when nothing is left in it, then settle the connection. */
void ps_client_settle(struct rt_client *c);
struct ps_member *ps_member_find(const struct ps_client *pc, const struct ps_entry *e);
/* Subscribe pc to e here; returns whether this shard's mask bit changes (the first
 * active subscriber). */
bool ps_member_add(struct ps_shard *ps, struct ps_client *pc, struct ps_entry *e);
/* Mark a member leaving; returns whether this shard's mask bit changes. */
bool ps_member_leave(struct ps_client *pc, struct ps_member *m);
/* Remove a member from e's subscribers and from pc; returns whether this shard's mask
 * bit changes (an active member was the last). Does not free e. */
bool ps_member_drop(struct ps_shard *ps, struct ps_client *pc, struct ps_member *m);
/* Drop every leaving member (their removal reached every shard). */
void ps_drop_leaving(struct ps_shard *ps, struct ps_client *pc);
/* Record a delta for the other shards. */
void ps_delta_add(struct ps_shard *ps, enum ps_kind k, int sign, bool bit, const char *name,
                  size_t len);
/* The deltas as "__psdelta <this shard> op name ...": argv for rt_txn_part / rt_post
 * (valid until the next delta call). Returns argc, 0 when there are none. */
int ps_delta_argv(struct ps_shard *ps, rt_str **argv);
void ps_delta_reset(struct ps_shard *ps);
/* Remove every subscription of the client, send the deltas with rt_post, free its
 * state (close, RESET). */
void ps_client_drop_all(struct ps_shard *ps, struct rt_client *c);

/* ---- Delivery (pubsub_send.c) ---- */
/* Publish from this shard: deliver here and post to the other shards with subscribers.
 * Returns the number of receivers in the view. */
int64_t ps_publish(struct ps_shard *ps, bool sharded, const char *ch, size_t chlen,
                   const char *msg, size_t mlen);
/* "__psdeliver c|s channel message": the local half of a publish from another shard. */
void ps_deliver_exec(struct rt_call *call);
/* Push bytes to a subscriber (into its held buffer while it holds). */
void ps_push(struct ps_shard *ps, struct ps_client *pc, const char *p, size_t len);
/* Pattern matching as PUBLISH does it: bounded work (see pubsub_send.c). */
bool ps_pattern_match(const struct ps_entry *pat, const char *ch, size_t chlen);

#endif
