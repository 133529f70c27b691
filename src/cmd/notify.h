/* Keyspace notifications, as Redis's notify.c: the `notify-keyspace-events` setting and
 * the events published on __keyspace@0__:<key> and __keyevent@0__:<event>.
 *
 * The setting is process-wide (CONFIG SET on any shard changes it for every shard; a
 * relaxed atomic, seen by a shard at its next write). Zero disables notifications, and
 * then an event costs the one load and branch of notify_key_event. */
#ifndef COREKV_CMD_NOTIFY_H
#define COREKV_CMD_NOTIFY_H

#include <stdatomic.h>
#include <stddef.h>

#include "cmd/cmd.h"

/* Redis's NOTIFY_* bits, same values. */
enum {
    NOTIFY_KEYSPACE = 1 << 0, /* K */
    NOTIFY_KEYEVENT = 1 << 1, /* E */
    NOTIFY_GENERIC = 1 << 2,  /* g */
    NOTIFY_STRING = 1 << 3,   /* $ */
    NOTIFY_LIST = 1 << 4,     /* l */
    NOTIFY_SET = 1 << 5,      /* s */
    NOTIFY_HASH = 1 << 6,     /* h */
    NOTIFY_ZSET = 1 << 7,     /* z */
    NOTIFY_EXPIRED = 1 << 8,  /* x */
    NOTIFY_EVICTED = 1 << 9,  /* e */
    NOTIFY_STREAM = 1 << 10,  /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m (not part of A) */
    NOTIFY_MODULE = 1 << 13,  /* d */
    NOTIFY_NEW = 1 << 14,     /* n (not part of A) */
    NOTIFY_ALL = NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE,
};

/* The error text of a CONFIG SET with a letter outside the classes. */
#define NOTIFY_BAD_CLASS "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."

/* The flags of a class string ("KEA", "Elg$"), or -1 for an unknown letter. Parsing
 * stops at a NUL byte, as Redis reads the value as a C string. */
int notify_flags_parse(const char *s, size_t len);
/* Redis's canonical form of flags ("AKE", "g$xK", ""), NUL-terminated; out holds 24. */
void notify_flags_format(int flags, char out[24]);

extern atomic_int notify_flags_now;
static inline int notify_flags(void)
{
    return atomic_load_explicit(&notify_flags_now, memory_order_relaxed);
}
void notify_set_flags(int flags);

/* Publish the events of one key change (Redis's notifyKeyspaceEvent with the class its
 * event name belongs to). The post-write hook calls it for every change; a command whose
 * one change Redis reports with a second event (SET with EX: "set" then "expire") calls
 * it for that second event only. */
void notify_publish(struct cmd_shard *cs, const char *key, size_t klen, const char *event);
static inline void notify_key_event(struct cmd_shard *cs, const char *key, size_t klen,
                                    const char *event)
{
    if (notify_flags())
        notify_publish(cs, key, klen, event);
}

/* The store's hook for a key added to the keyspace (Redis's dbAdd fires "new", class n,
 * before the command's own event). arg is the struct cmd_shard. */
void notify_new_key(void *arg, const char *key, size_t klen);
/* The store's hook for a read lookup that missed ("keymiss", class m). */
void notify_key_miss(void *arg, const char *key, size_t klen);

#endif
