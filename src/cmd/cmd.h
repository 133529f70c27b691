/* The Redis command set: shared definitions for the command families.
 *
 * Each family file (strings.c, keys.c, server.c, ...) exports a table of cmd_def
 * terminated by an entry with name == NULL; table.c gathers them and resolves names.
 * A cmd_def embeds the struct rt_cmd the runtime routes by, so a handler can get back
 * to its definition with cmd_def_of(call->cmd). */
#ifndef COREKV_CMD_CMD_H
#define COREKV_CMD_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <corekv/rt.h>

#include "proto/resp.h"
#include "store/store.h"

struct watch_table;
struct persist_shard;

/* Per-shard context of the command set (the runtime's void *shard). */
struct cmd_shard {
    struct rt_shard *sh;
    struct store *store;
    struct watch_table *watches; /* WATCH versions of this shard's keys (watch.h) */
    uint64_t dirty; /* changes since start (INFO rdb_changes_since_last_save) */
    struct persist_shard *persist; /* this shard's log and snapshot state (persist.h) */
    /* Effects go to the append-only log (appendonly yes, loading over). */
    bool logging;
    /* Set by the post-write hook during an exec, and by cmd_log_effect: whether the
     * command wrote, and whether it logged its own effect records. */
    bool exec_wrote, exec_logged;
};

/* The one post-write hook (DESIGN.md section 8): every change to a key, by any command,
 * calls this once per key changed, on the owning shard, after the change. `event` is
 * the keyspace-notification event name Redis uses ("set", "del", "expire", ...). */
void cmd_key_written(struct cmd_shard *cs, const char *key, size_t klen, const char *event);

/* The append-only log's record of a change (DESIGN.md section 8). A write command or an
 * internal part whose exec called cmd_key_written is logged as its argv, verbatim, after
 * the exec. An exec whose argv would not mean the same at replay (a relative TTL, a
 * random pick, a client's blocking wait) calls this instead with the records that do:
 * each call appends one, and the argv is then not logged. Replay runs records in order
 * on the owning shard, with no client and with the clock stopped (nothing expires). */
void cmd_log_effect(struct cmd_shard *cs, int argc, const rt_str *argv);

struct cmd_def {
    const char *name;       /* lower case */
    int arity;              /* Redis arity: N exactly N arguments (name included), -N at least N */
    const char *flags;      /* COMMAND INFO flags, space separated: "write denyoom fast" */
    const char *acl;        /* ACL categories: "@write @string @fast" */
    struct rt_cmd rt;       /* route, key spec, exec, step (RT_CMD_WRITE is set from flags) */
    const char *group;      /* COMMAND DOCS group: "string", "generic", "connection", "server" */
    const char *since;      /* "1.0.0" */
    const char *summary;
    const char *complexity;
};

#define cmd_def_of(rtcmd) \
    ((const struct cmd_def *)((const char *)(rtcmd) - offsetof(struct cmd_def, rt)))

static inline struct cmd_shard *cmd_shard(const struct rt_call *c)
{
    return (struct cmd_shard *)c->shard;
}

/* Family tables. */
extern const struct cmd_def cmd_strings_table[];
extern const struct cmd_def cmd_keys_table[];
extern const struct cmd_def cmd_server_table[];
extern const struct cmd_def cmd_multi_table[];
extern const struct cmd_def cmd_lists_table[];
extern const struct cmd_def cmd_hashes_table[];
extern const struct cmd_def cmd_sets_table[];
extern const struct cmd_def cmd_zsets_table[];
extern const struct cmd_def cmd_sort_table[];
extern const struct cmd_def cmd_zsets_algebra_table[];
extern const struct cmd_def cmd_persist_table[];

/* The connection hooks of MULTI/WATCH (multi.c), for struct rt_commands. */
void multi_client_close(void *shard, struct rt_client *c);
bool multi_intercept(void *shard, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                     const rt_str *argv, struct buf *out);

/* The command set, for rt_create. */
extern const struct rt_commands cmd_commands;
/* Every definition, for COMMAND (COUNT, INFO, DOCS, GETKEYS). */
size_t cmd_count(void);
const struct cmd_def *cmd_at(size_t i);
const struct cmd_def *cmd_lookup(const char *name, size_t len);

/* Case-insensitive comparison of an argument with a lower-case word. */
static inline int arg_is(const rt_str *a, const char *word)
{
    size_t n = strlen(word);
    if (a->len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a->ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != word[i])
            return 0;
    }
    return 1;
}

/* Allocation for command state: sizes are bounded by the request that asks for them, and
 * running out of memory aborts (as the store does). n == 0 still returns a pointer. */
static inline void *cmd_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}
static inline void *cmd_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

/* Redis's error texts (without the leading '-'). */
#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_OVERFLOW "ERR increment or decrement would overflow"
#define ERR_NO_KEY "ERR no such key"

#endif
