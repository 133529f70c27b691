/* WATCH on the shard that owns a key (DESIGN.md section 7): a table key -> {refs,
 * version}, kept only for keys some client watches.
 *
 * A client's WATCH records, for each key, the version the owner replied; every change
 * to the key bumps it (through cmd_key_written, expiry and FLUSHALL included), so EXEC
 * aborts when any recorded version differs from the owner's. Invariant: every version
 * a client holds is backed by one ref on the owner's entry, so the entry (and its
 * version) lives at least as long as anyone compares against it; an entry without refs
 * is removed, and a key watched again later starts over from version 0.
 *
 * Internal commands (parts and posts from the origin, never accepted from clients):
 *   __watch key [key ...]       -> *n of :version, in key order; refs++ per key
 *   __unwatch key [key ...]     -> +OK; refs-- per key
 *   __watchcheck key version [key version ...]
 *                               -> :1 when any version changed, else :0; refs-- per key
 * __watch and __watchcheck look each key up first, so a key that is logically expired
 * is deleted (and its version bumped) at that moment: expired before WATCH counts as
 * no change, expired after it as a change, as in Redis. */
#ifndef COREKV_CMD_WATCH_H
#define COREKV_CMD_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

struct watch_entry;

struct watch_table {
    struct watch_entry **buckets; /* NULL while count == 0 */
    size_t mask;                  /* buckets - 1 */
    size_t count;                 /* keys watched by at least one client */
    uint64_t seed;
};

struct watch_table *watch_table_new(uint64_t seed);
void watch_table_free(struct watch_table *w);

void watch_touch_key(struct watch_table *w, const char *key, size_t len);
/* A change to key (the post-write hook): one branch while nothing is watched. */
static inline void watch_touch(struct watch_table *w, const char *key, size_t len)
{
    if (w->count)
        watch_touch_key(w, key, len);
}
/* Before FLUSHDB/FLUSHALL empties the store: bump every watched key that exists (as
 * Redis, a flush does not invalidate a WATCH on a key that was absent anyway). */
void watch_touch_all(struct cmd_shard *cs);

/* The internal commands above. */
void watch_iwatch_exec(struct rt_call *call);
void watch_iunwatch_exec(struct rt_call *call);
void watch_icheck_exec(struct rt_call *call);

#endif
