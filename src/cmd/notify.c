/* Keyspace notifications: the class letters of `notify-keyspace-events`, the class of
 * each event name (from Redis's notifyKeyspaceEvent calls), and publishing through
 * pubsub_publish, which reaches subscribers on every shard. */
#include "cmd/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/pubsub.h"

atomic_int notify_flags_now;

void notify_set_flags(int flags)
{
    atomic_store_explicit(&notify_flags_now, flags, memory_order_relaxed);
}

static const struct {
    char c;
    int flag;
} letters[] = {
    {'A', NOTIFY_ALL},     {'g', NOTIFY_GENERIC},  {'$', NOTIFY_STRING},   {'l', NOTIFY_LIST},
    {'s', NOTIFY_SET},     {'h', NOTIFY_HASH},     {'z', NOTIFY_ZSET},     {'x', NOTIFY_EXPIRED},
    {'e', NOTIFY_EVICTED}, {'K', NOTIFY_KEYSPACE}, {'E', NOTIFY_KEYEVENT}, {'t', NOTIFY_STREAM},
    {'m', NOTIFY_KEY_MISS}, {'d', NOTIFY_MODULE},  {'n', NOTIFY_NEW},
};

int notify_flags_parse(const char *s, size_t len)
{
    int flags = 0;
    for (size_t i = 0; i < len && s[i]; i++) {
        int f = 0;
        for (size_t j = 0; j < sizeof letters / sizeof *letters && !f; j++)
            if (letters[j].c == s[i])
                f = letters[j].flag;
        if (!f)
            return -1;
        flags |= f;
    }
    return flags;
}

void notify_flags_format(int flags, char out[24])
{
    /* Redis's order: "A" for all of NOTIFY_ALL, else the classes one by one; then the
     * channel letters and m, which A does not cover. */
    static const struct {
        char c;
        int flag;
    } classes[] = {
        {'g', NOTIFY_GENERIC}, {'$', NOTIFY_STRING},  {'l', NOTIFY_LIST},    {'s', NOTIFY_SET},
        {'h', NOTIFY_HASH},    {'z', NOTIFY_ZSET},    {'x', NOTIFY_EXPIRED}, {'e', NOTIFY_EVICTED},
        {'t', NOTIFY_STREAM},  {'d', NOTIFY_MODULE},  {'n', NOTIFY_NEW},
    };
    size_t n = 0;
    if ((flags & NOTIFY_ALL) == NOTIFY_ALL) {
        out[n++] = 'A'; /* n is outside A, yet Redis does not print it after A */
    } else {
        for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
            if (flags & classes[i].flag)
                out[n++] = classes[i].c;
    }
    if (flags & NOTIFY_KEYSPACE)
        out[n++] = 'K';
    if (flags & NOTIFY_KEYEVENT)
        out[n++] = 'E';
    if (flags & NOTIFY_KEY_MISS)
        out[n++] = 'm';
    out[n] = '\0';
}

/* Every event name the commands pass, with Redis's class for it. */
static const struct {
    const char *event;
    int cls;
} events[] = {
    {"del", NOTIFY_GENERIC},
    {"set", NOTIFY_STRING},
    {"expire", NOTIFY_GENERIC},
    {"expired", NOTIFY_EXPIRED},
    {"persist", NOTIFY_GENERIC},
    {"new", NOTIFY_NEW},
    {"rename_from", NOTIFY_GENERIC},
    {"rename_to", NOTIFY_GENERIC},
    {"move_from", NOTIFY_GENERIC},
    {"move_to", NOTIFY_GENERIC},
    {"copy_to", NOTIFY_GENERIC},
    {"restore", NOTIFY_GENERIC},
    {"evicted", NOTIFY_EVICTED},
    {"keymiss", NOTIFY_KEY_MISS},
    {"setrange", NOTIFY_STRING},
    {"incrby", NOTIFY_STRING},
    {"incrbyfloat", NOTIFY_STRING},
    {"append", NOTIFY_STRING},
    {"lpush", NOTIFY_LIST},
    {"rpush", NOTIFY_LIST},
    {"lpop", NOTIFY_LIST},
    {"rpop", NOTIFY_LIST},
    {"linsert", NOTIFY_LIST},
    {"lset", NOTIFY_LIST},
    {"lrem", NOTIFY_LIST},
    {"ltrim", NOTIFY_LIST},
    {"sortstore", NOTIFY_LIST},
    {"sadd", NOTIFY_SET},
    {"srem", NOTIFY_SET},
    {"spop", NOTIFY_SET},
    {"sinterstore", NOTIFY_SET},
    {"sunionstore", NOTIFY_SET},
    {"sdiffstore", NOTIFY_SET},
    {"hset", NOTIFY_HASH},
    {"hdel", NOTIFY_HASH},
    {"hincrby", NOTIFY_HASH},
    {"hincrbyfloat", NOTIFY_HASH},
    {"zadd", NOTIFY_ZSET},
    {"zincr", NOTIFY_ZSET},
    {"zrem", NOTIFY_ZSET},
    {"zremrangebyscore", NOTIFY_ZSET},
    {"zremrangebyrank", NOTIFY_ZSET},
    {"zremrangebylex", NOTIFY_ZSET},
    {"zpopmin", NOTIFY_ZSET},
    {"zpopmax", NOTIFY_ZSET},
    {"zunionstore", NOTIFY_ZSET},
    {"zinterstore", NOTIFY_ZSET},
    {"zdiffstore", NOTIFY_ZSET},
    {"zrangestore", NOTIFY_ZSET},
    {"xadd", NOTIFY_STREAM},
    {"xtrim", NOTIFY_STREAM},
    {"xdel", NOTIFY_STREAM},
    {"xsetid", NOTIFY_STREAM},
    {"xclaim", NOTIFY_STREAM},
    {"xgroup-create", NOTIFY_STREAM},
    {"xgroup-createconsumer", NOTIFY_STREAM},
    {"xgroup-delconsumer", NOTIFY_STREAM},
    {"xgroup-destroy", NOTIFY_STREAM},
    {"xgroup-setid", NOTIFY_STREAM},
};

static int event_class(const char *event)
{
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (strcmp(events[i].event, event) == 0)
            return events[i].cls;
#ifndef NDEBUG
    /* A name missing here is a bug in a command or in this table: make tests see it. */
    fprintf(stderr, "corekv: keyspace event '%s' has no class (cmd/notify.c)\n", event);
    abort();
#else
    return NOTIFY_GENERIC;
#endif
}

#define KEYSPACE_PREFIX "__keyspace@0__:"
#define KEYEVENT_PREFIX "__keyevent@0__:"
#define PREFIX_LEN 15

void notify_publish(struct cmd_shard *cs, const char *key, size_t klen, const char *event)
{
    int flags = notify_flags();
    if (!(flags & event_class(event)))
        return;
    size_t elen = strlen(event);
    if (flags & NOTIFY_KEYSPACE) {
        char small[256];
        char *ch = klen <= sizeof small - PREFIX_LEN ? small : cmd_xmalloc(PREFIX_LEN + klen);
        memcpy(ch, KEYSPACE_PREFIX, PREFIX_LEN);
        if (klen)
            memcpy(ch + PREFIX_LEN, key, klen);
        pubsub_publish(cs, ch, PREFIX_LEN + klen, event, elen);
        if (ch != small)
            free(ch);
    }
    if (flags & NOTIFY_KEYEVENT) {
        char ch[PREFIX_LEN + 32];
        if (elen > sizeof ch - PREFIX_LEN)
            return; /* no event name is that long */
        memcpy(ch, KEYEVENT_PREFIX, PREFIX_LEN);
        memcpy(ch + PREFIX_LEN, event, elen);
        pubsub_publish(cs, ch, PREFIX_LEN + elen, key, klen);
    }
}

void notify_new_key(void *arg, const char *key, size_t klen)
{
    if (notify_flags() & NOTIFY_NEW)
        notify_publish(arg, key, klen, "new");
}

void notify_key_miss(void *arg, const char *key, size_t klen)
{
    if (notify_flags() & NOTIFY_KEY_MISS)
        notify_publish(arg, key, klen, "keymiss");
}
