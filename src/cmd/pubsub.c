/* Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE,
 * SUNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB, RESP2 subscribed mode, and the connection
 * hooks. Registries and views: pubsub_reg.c; delivery: pubsub_send.c; the design:
 * pubsub_impl.h.
 *
 * The (un)subscribe commands are steps. Phase 0 changes this shard's registrations and
 * view and, when some other shard must learn of it, sends it the deltas as a part; the
 * acks are replied in phase 1, once every shard has applied them. So a client that has
 * seen a subscribe ack (or anyone it told) and then publishes, on any shard, counts the
 * subscriber and reaches it; and once an unsubscribe ack is out, no shard counts it.
 * Messages that reach a subscriber whose SUBSCRIBE is still in flight wait until its
 * acks are out; an unsubscribed channel keeps delivering until the acks (its messages
 * were counted by publishers that had not yet seen the removal). With one shard, or
 * when nothing changed, the step finishes in phase 0. */
#include <stdlib.h>
#include <string.h>

#include "base/glob.h"
#include "cmd/pubsub_impl.h"
#include "cmd/server.h"

/* ---- Acks ---- */

struct sub_state {
    struct buf acks;
};

static void sub_state_free(void *p) { buf_free(&((struct sub_state *)p)->acks); }

static const char *const sub_names[PS_NKINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_names[PS_NKINDS] = {"unsubscribe", "punsubscribe",
                                                   "sunsubscribe"};

/* The count an ack reports: channels and patterns together, shard channels apart. */
static int64_t ack_count(const struct ps_client *pc, enum ps_kind k)
{
    if (!pc)
        return 0;
    if (k == PS_SCHAN)
        return pc->count[PS_SCHAN];
    return (int64_t)pc->count[PS_CHAN] + pc->count[PS_PAT];
}

static void ack(struct buf *b, int proto, const char *type, const char *name, size_t len,
                int64_t count)
{
    buf_append(b, proto == 2 ? "*3\r\n" : ">3\r\n", 4);
    resp_bulk_cstr(b, type);
    if (name)
        resp_bulk(b, name, len);
    else
        resp_null(b, proto);
    resp_int(b, count);
}

static unsigned total_count(const struct ps_client *pc)
{
    return pc->count[PS_CHAN] + pc->count[PS_PAT] + pc->count[PS_SCHAN];
}

/* ---- The steps ---- */

/* Send the recorded deltas to every other shard as parts. False when there is nothing
 * to send (one shard, or no change). */
static bool send_parts(struct rt_txn *t, struct ps_shard *ps)
{
    struct rt_shard *sh = rt_txn_shard(t);
    unsigned n = rt_nshards(sh), self = rt_shard_id(sh);
    rt_str *argv;
    int argc = ps_delta_argv(ps, &argv);
    if (n == 1 || !argc)
        return false;
    for (unsigned s = 0; s < n; s++)
        if (s != self)
            rt_txn_part(t, s, argc, argv);
    ps_delta_reset(ps);
    return true;
}

static void subscribe_begin(struct rt_txn *t, struct sub_state *x, enum ps_kind k,
                            struct rt_client *c)
{
    struct ps_shard *ps = ps_shard();
    int argc, proto = rt_txn_proto(t);
    const rt_str *argv = rt_txn_argv(t, &argc);
    unsigned self = rt_shard_id(rt_txn_shard(t));
    struct ps_client *pc = ps_client_ensure(c);
    ps_delta_reset(ps);
    for (int i = 1; i < argc; i++) {
        struct ps_entry *e = ps_get(ps, k, argv[i].ptr, argv[i].len);
        struct ps_member *m = ps_member_find(pc, e);
        if (!m || m->leaving) {
            bool bit;
            if (m) { /* back before its removal went through: count it again */
                m->leaving = false;
                pc->count[k]++;
                bit = ++e->nactive == 1;
            } else {
                bit = ps_member_add(ps, pc, e);
            }
            ps_delta_add(ps, k, +1, bit, e->name, e->len);
            ps_view_apply(ps, e, self, +1, bit);
        }
        ack(&x->acks, proto, sub_names[k], argv[i].ptr, argv[i].len, ack_count(pc, k));
    }
    if (!pc->subscribed) {
        pc->subscribed = true;
        rt_client_set_class(c, RT_CLASS_PUBSUB);
    }
    if (send_parts(t, ps)) {
        pc->holding = true;
        return;
    }
    rt_txn_finish(t, x->acks.data, x->acks.len);
    ps_client_settle(c);
}

/* Mark one member leaving: the view and the other shards drop it now. */
static void leave(struct ps_shard *ps, struct ps_client *pc, struct ps_member *m, unsigned self)
{
    struct ps_entry *e = m->e;
    bool bit = ps_member_leave(pc, m);
    ps_delta_add(ps, (enum ps_kind)e->kind, -1, bit, e->name, e->len);
    ps_view_apply(ps, e, self, -1, bit); /* e stays: m is still among its subscribers */
}

static void unsubscribe_begin(struct rt_txn *t, struct sub_state *x, enum ps_kind k,
                              struct rt_client *c)
{
    struct ps_shard *ps = ps_shard();
    int argc, proto = rt_txn_proto(t);
    const rt_str *argv = rt_txn_argv(t, &argc);
    unsigned self = rt_shard_id(rt_txn_shard(t));
    struct ps_client *pc = ps_client_of(c);
    ps_delta_reset(ps);
    if (argc == 1) {
        unsigned n = 0;
        for (uint32_t i = 0; pc && i < pc->cap; i++) {
            struct ps_member *m = &pc->slots[i];
            if (!m->e || m->leaving || m->e->kind != k)
                continue;
            leave(ps, pc, m, self);
            ack(&x->acks, proto, unsub_names[k], m->e->name, m->e->len, ack_count(pc, k));
            n++;
        }
        if (!n)
            ack(&x->acks, proto, unsub_names[k], NULL, 0, ack_count(pc, k));
    } else {
        for (int i = 1; i < argc; i++) {
            struct ps_entry *e = pc ? ps_find(ps, k, argv[i].ptr, argv[i].len) : NULL;
            struct ps_member *m = e ? ps_member_find(pc, e) : NULL;
            if (m && !m->leaving)
                leave(ps, pc, m, self);
            ack(&x->acks, proto, unsub_names[k], argv[i].ptr, argv[i].len, ack_count(pc, k));
        }
    }
    if (pc && pc->subscribed && !total_count(pc)) {
        pc->subscribed = false;
        rt_client_set_class(c, RT_CLASS_NORMAL);
    }
    if (send_parts(t, ps))
        return;
    if (pc)
        ps_drop_leaving(ps, pc);
    rt_txn_finish(t, x->acks.data, x->acks.len);
    ps_client_settle(c);
}

/* Phase 1: every shard has applied the deltas. */
static void sub_end(struct rt_txn *t, struct sub_state *x)
{
    struct rt_client *c = rt_txn_client(t);
    struct ps_client *pc = c ? ps_client_of(c) : NULL;
    if (pc)
        ps_drop_leaving(ps_shard(), pc);
    rt_txn_finish(t, x->acks.data, x->acks.len);
    if (!pc)
        return; /* a closed connection's state went with it */
    if (pc->holding) {
        pc->holding = false;
        if (pc->held.len)
            rt_client_push(rt_txn_shard(t), c, pc->held.data, pc->held.len);
        buf_free(&pc->held);
    }
    ps_client_settle(c);
}

static void sub_step(struct rt_txn *t, unsigned phase, enum ps_kind k, bool unsub)
{
    struct sub_state *x = rt_txn_state(t, sizeof *x);
    if (phase > 0) {
        sub_end(t, x);
        return;
    }
    rt_txn_on_free(t, sub_state_free);
    struct rt_client *c = rt_txn_client(t);
    if (!c) {
        rt_txn_finish(t, "+OK\r\n", 5); /* nobody reads it */
        return;
    }
    /* Inside EXEC (Redis's DENY_BLOCKING client), only SSUBSCRIBE refuses; SUBSCRIBE and
     * PSUBSCRIBE are allowed there for backward compatibility, as in Redis. */
    if (!unsub && k == PS_SCHAN && !rt_txn_can_wait(t)) {
        static const char err[] = "-ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client\r\n";
        rt_txn_finish(t, err, sizeof err - 1);
        return;
    }
    if (unsub)
        unsubscribe_begin(t, x, k, c);
    else
        subscribe_begin(t, x, k, c);
}

static void subscribe_step(struct rt_txn *t, unsigned p) { sub_step(t, p, PS_CHAN, false); }
static void unsubscribe_step(struct rt_txn *t, unsigned p) { sub_step(t, p, PS_CHAN, true); }
static void psubscribe_step(struct rt_txn *t, unsigned p) { sub_step(t, p, PS_PAT, false); }
static void punsubscribe_step(struct rt_txn *t, unsigned p) { sub_step(t, p, PS_PAT, true); }
static void ssubscribe_step(struct rt_txn *t, unsigned p) { sub_step(t, p, PS_SCHAN, false); }
static void sunsubscribe_step(struct rt_txn *t, unsigned p) { sub_step(t, p, PS_SCHAN, true); }

/* "__psdelta <source shard> op name [op name ...]": another shard's changes to the view. */
static void delta_exec(struct rt_call *call)
{
    struct ps_shard *ps = ps_shard();
    const rt_str *a = call->argv;
    unsigned src = 0;
    for (size_t i = 0; i < a[1].len && a[1].ptr[i] >= '0' && a[1].ptr[i] <= '9'; i++)
        src = src * 10 + (unsigned)(a[1].ptr[i] - '0');
    for (int i = 2; ps && src < RT_MAX_SHARDS && i + 1 < call->argc; i += 2) {
        const rt_str *op = &a[i], *name = &a[i + 1];
        if (op->len < 2)
            continue;
        enum ps_kind k = op->ptr[0] == 'p' ? PS_PAT : op->ptr[0] == 's' ? PS_SCHAN : PS_CHAN;
        int sign = op->ptr[1] == '+' ? 1 : -1;
        bool bit = op->len > 2 && op->ptr[2] == 'b';
        struct ps_entry *e = sign > 0 ? ps_get(ps, k, name->ptr, name->len)
                                      : ps_find(ps, k, name->ptr, name->len);
        if (e)
            ps_view_apply(ps, e, src, sign, bit);
    }
    resp_ok(call->out);
}

/* ---- PUBLISH, SPUBLISH ---- */

static void publish_exec(struct rt_call *call)
{
    const rt_str *a = call->argv;
    resp_int(call->out, ps_publish(ps_shard(), false, a[1].ptr, a[1].len, a[2].ptr, a[2].len));
}

static void spublish_exec(struct rt_call *call)
{
    const rt_str *a = call->argv;
    resp_int(call->out, ps_publish(ps_shard(), true, a[1].ptr, a[1].len, a[2].ptr, a[2].len));
}

/* ---- PUBSUB ---- */

static void syntax_error(struct rt_call *call)
{
    resp_errorf(call->out,
                "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB "
                "HELP.",
                (int)(call->argv[1].len < 128 ? call->argv[1].len : 128), call->argv[1].ptr);
}

struct list_arg {
    const rt_str *pat; /* NULL: every name */
    struct buf body;
    int64_t n;
};

static void list_one(struct ps_entry *e, void *arg)
{
    struct list_arg *l = arg;
    if (e->total <= 0)
        return;
    if (l->pat) {
        bool exceeded;
        uint64_t budget = 32 * ((uint64_t)l->pat->len + e->len) + 1024;
        if (!glob_match_bounded(l->pat->ptr, l->pat->len, e->name, e->len, false, budget,
                                &exceeded))
            return;
    }
    resp_bulk(&l->body, e->name, e->len);
    l->n++;
}

static void channels(struct rt_call *call, enum ps_kind k)
{
    if (call->argc > 3) {
        syntax_error(call);
        return;
    }
    struct list_arg l = {.pat = call->argc == 3 ? &call->argv[2] : NULL};
    ps_table_foreach(&ps_shard()->t[k], list_one, &l);
    resp_array(call->out, l.n);
    buf_append(call->out, l.body.data, l.body.len);
    buf_free(&l.body);
}

static void numsub(struct rt_call *call, enum ps_kind k)
{
    struct ps_shard *ps = ps_shard();
    resp_array(call->out, 2 * (int64_t)(call->argc - 2));
    for (int i = 2; i < call->argc; i++) {
        const rt_str *a = &call->argv[i];
        struct ps_entry *e = ps_find(ps, k, a->ptr, a->len);
        resp_bulk(call->out, a->ptr, a->len);
        resp_int(call->out, e && e->total > 0 ? e->total : 0);
    }
}

static void pubsub_channels(struct rt_call *call) { channels(call, PS_CHAN); }
static void pubsub_shardchannels(struct rt_call *call) { channels(call, PS_SCHAN); }
static void pubsub_numsub(struct rt_call *call) { numsub(call, PS_CHAN); }
static void pubsub_shardnumsub(struct rt_call *call) { numsub(call, PS_SCHAN); }

static void pubsub_numpat(struct rt_call *call)
{
    resp_int(call->out, (int64_t)ps_shard()->pats.n);
}

static void pubsub_help(struct rt_call *call)
{
    static const char *const help[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    cmd_reply_help(call->out, help);
}

/* ---- Connection hooks ---- */

void pubsub_client_close(void *shard, struct rt_client *c)
{
    (void)shard;
    struct ps_shard *ps = ps_shard();
    if (ps)
        ps_client_drop_all(ps, c);
}

void pubsub_client_reset(void *shard, struct rt_client *c) { pubsub_client_close(shard, c); }

void pubsub_client_counts(const struct rt_client *c, struct pubsub_client_counts *out)
{
    const struct ps_client *pc = ps_client_of(c);
    *out = (struct pubsub_client_counts){0};
    if (pc)
        *out = (struct pubsub_client_counts){pc->count[PS_CHAN], pc->count[PS_PAT],
                                             pc->count[PS_SCHAN], pc->subscribed};
}

void pubsub_info(struct cmd_shard *cs, struct pubsub_info *out)
{
    (void)cs;
    const struct ps_shard *ps = ps_shard();
    *out = (struct pubsub_info){0};
    if (ps)
        *out = (struct pubsub_info){ps->nview[PS_CHAN], ps->nview[PS_PAT], ps->nview[PS_SCHAN]};
}

static bool is_pubsub_step(const struct rt_cmd *cmd)
{
    return cmd->step == subscribe_step || cmd->step == unsubscribe_step ||
           cmd->step == psubscribe_step || cmd->step == punsubscribe_step ||
           cmd->step == ssubscribe_step || cmd->step == sunsubscribe_step;
}

/* RESP2 subscribed mode: Redis lets only these run, and PING answers as a message. */
bool pubsub_intercept(void *shard, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                      const rt_str *argv, struct buf *out)
{
    (void)shard;
    const struct ps_client *pc = ps_client_of(c);
    if (!pc || !pc->subscribed || rt_client_proto(c) != 2)
        return false;
    if (is_pubsub_step(cmd) || strcmp(cmd->name, "quit") == 0 ||
        strcmp(cmd->name, "reset") == 0)
        return false;
    if (strcmp(cmd->name, "ping") == 0) {
        if (argc > 2)
            return false; /* PING's own arity error */
        buf_append(out, "*2\r\n$4\r\npong\r\n", 14);
        if (argc == 2)
            resp_bulk(out, argv[1].ptr, argv[1].len);
        else
            buf_append(out, "$0\r\n\r\n", 6);
        return true;
    }
    resp_errorf(out,
                "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                "RESET are allowed in this context",
                cmd->name);
    return true;
}

/* ---- The table ---- */

#define SUB_FLAGS "pubsub noscript loading stale", "@pubsub @slow"
#define PUB_FLAGS "pubsub loading stale fast", "@pubsub @fast"
#define INTRO_FLAGS "pubsub loading stale", "@pubsub @slow"
#define PLAN(st) {.route = RT_ROUTE_PLAN, .step = (st)}
#define PLAN_KEYS(st) {.route = RT_ROUTE_PLAN, .keys = {1, -1, 1, 0}, .step = (st)}

const struct cmd_def cmd_pubsub_table[] = {
    {"subscribe", -2, SUB_FLAGS, PLAN(subscribe_step), "pubsub", "2.0.0",
     "Listen for messages published to the given channels",
     "O(N) where N is the number of channels to subscribe to."},
    {"unsubscribe", -1, SUB_FLAGS, PLAN(unsubscribe_step), "pubsub", "2.0.0",
     "Stop listening for messages posted to the given channels",
     "O(N) where N is the number of clients already subscribed to a channel."},
    {"psubscribe", -2, SUB_FLAGS, PLAN(psubscribe_step), "pubsub", "2.0.0",
     "Listen for messages published to channels matching the given patterns",
     "O(N) where N is the number of patterns the client is already subscribed to."},
    {"punsubscribe", -1, SUB_FLAGS, PLAN(punsubscribe_step), "pubsub", "2.0.0",
     "Stop listening for messages posted to channels matching the given patterns",
     "O(N+M) where N is the number of patterns the client is already subscribed and M is "
     "the number of total patterns subscribed in the system (by any client)."},
    {"publish", 3, PUB_FLAGS, CMD_ORIGIN(publish_exec), "pubsub", "2.0.0",
     "Post a message to a channel",
     "O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
     "the total number of subscribed patterns (by any client)."},
    /* The shard channel is a key for COMMAND INFO (flag not_key), as in Redis; routing
     * ignores it: SPUBLISH runs where the client is, like PUBLISH. */
    {"spublish", 3, PUB_FLAGS, {.route = RT_ROUTE_ORIGIN, .keys = {1, 1, 1, 0},
                                .exec = spublish_exec},
     "pubsub", "7.0.0", "Post a message to a shard channel",
     "O(N) where N is the number of clients subscribed to the receiving shard channel."},
    {"ssubscribe", -2, SUB_FLAGS, PLAN_KEYS(ssubscribe_step), "pubsub", "7.0.0",
     "Listen for messages published to the given shard channels",
     "O(N) where N is the number of shard channels to subscribe to."},
    {"sunsubscribe", -1, SUB_FLAGS, PLAN_KEYS(sunsubscribe_step), "pubsub", "7.0.0",
     "Stop listening for messages posted to the given shard channels",
     "O(N) where N is the number of clients already subscribed to a shard channel."},
    {"pubsub", -2, "", "@slow", CMD_ORIGIN(cmd_container_exec), "pubsub", "2.8.0",
     "A container for Pub/Sub commands", "Depends on subcommand."},

    /* Parts and posts between shards, never accepted from a client. */
    {"__psdelta", -2, "", "", CMD_INTERNAL(delta_exec), "pubsub", "", "", ""},
    {"__psdeliver", 4, "", "", CMD_INTERNAL(ps_deliver_exec), "pubsub", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};

const struct cmd_def cmd_pubsub_subs[] = {
    /* In the order Redis 7.0 lists them (COMMAND INFO, COMMAND DOCS). */
    {"pubsub|shardnumsub", -2, INTRO_FLAGS, CMD_ORIGIN(pubsub_shardnumsub), "pubsub", "7.0.0",
     "Get the count of subscribers for shard channels",
     "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard "
     "channels"},
    {"pubsub|numsub", -2, INTRO_FLAGS, CMD_ORIGIN(pubsub_numsub), "pubsub", "2.8.0",
     "Get the count of subscribers for channels",
     "O(N) for the NUMSUB subcommand, where N is the number of requested channels"},
    {"pubsub|shardchannels", -2, INTRO_FLAGS, CMD_ORIGIN(pubsub_shardchannels), "pubsub",
     "7.0.0", "List active shard channels",
     "O(N) where N is the number of active shard channels, and assuming constant time "
     "pattern matching (relatively short shard channels)."},
    {"pubsub|channels", -2, INTRO_FLAGS, CMD_ORIGIN(pubsub_channels), "pubsub", "2.8.0",
     "List active channels",
     "O(N) where N is the number of active channels, and assuming constant time pattern "
     "matching (relatively short channels and patterns)"},
    {"pubsub|help", 2, "loading stale", "@slow", CMD_ORIGIN(pubsub_help), "pubsub", "6.2.0",
     "Show helpful text about the different subcommands", "O(1)"},
    {"pubsub|numpat", 2, INTRO_FLAGS, CMD_ORIGIN(pubsub_numpat), "pubsub", "2.8.0",
     "Get the count of unique patterns pattern subscriptions", "O(1)"},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
