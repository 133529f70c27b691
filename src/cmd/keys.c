/* The generic key commands: the family table, and DEL / UNLINK / EXISTS / TOUCH.
 *
 * The multi-key commands run as exec on one shard when all their keys live there, and
 * otherwise as a step that sends each owner its keys (split_keys) and sums the counts. */
#include "cmd/keys.h"

#include "cmd/split.h"

size_t keys_cstrlen(const rt_str *a)
{
    const char *nul = memchr(a->ptr, '\0', a->len);
    return nul ? (size_t)(nul - a->ptr) : a->len;
}

static bool glob_special(char c) { return c == '*' || c == '?' || c == '[' || c == '\\'; }

bool keys_pattern_shard(struct rt_shard *sh, const char *pat, size_t plen, unsigned *shard)
{
    size_t lit = 0;
    while (lit < plen && !glob_special(pat[lit]))
        lit++;
    if (lit < plen) {
        /* Only a literal prefix is known to begin every match: it pins the slot when it
         * contains the key's whole hash tag (first '{', next '}', something between). */
        const char *open = memchr(pat, '{', lit);
        if (!open)
            return false;
        size_t o = (size_t)(open - pat);
        const char *close = memchr(open + 1, '}', lit - o - 1);
        if (!close || close == open + 1)
            return false;
    }
    *shard = rt_key_shard(sh, pat, lit);
    return true;
}

/* ---- DEL / UNLINK ---- */

static void del_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    int64_t n = 0;
    for (int i = 1; i < call->argc; i++) {
        const rt_str *k = &call->argv[i];
        if (store_delete(cs->store, k->ptr, k->len)) {
            cmd_key_written(cs, k->ptr, k->len, "del");
            n++;
        }
    }
    resp_int(call->out, n);
}

/* The reduction shared by the multi-key counters: phase 0 splits, phase 1 sums. */
static void split_count_step(struct rt_txn *t, unsigned phase, const char *verb)
{
    if (phase == 0) {
        split_keys(t, verb, 1, 1, NULL);
        return;
    }
    int64_t sum = 0;
    if (!split_sum(t, &sum))
        return;
    struct buf *b = rt_txn_scratch(t);
    resp_int(b, sum);
    rt_txn_finish(t, b->data, b->len);
}

static void del_step(struct rt_txn *t, unsigned phase) { split_count_step(t, phase, "del"); }
static void unlink_step(struct rt_txn *t, unsigned phase) { split_count_step(t, phase, "unlink"); }

/* ---- EXISTS / TOUCH ---- */

/* Redis counts each key once per mention (EXISTS k k is 2) and counts the lookups in
 * keyspace hits/misses; TOUCH also refreshes the access time, EXISTS does not. */
static void count_live(struct rt_call *call, bool touch)
{
    struct cmd_shard *cs = cmd_shard(call);
    int64_t n = 0;
    for (int i = 1; i < call->argc; i++) {
        const rt_str *k = &call->argv[i];
        bool hit = store_find(cs->store, k->ptr, k->len, touch) != NULL;
        store_count_lookup(cs->store, k->ptr, k->len, hit);
        n += hit;
    }
    resp_int(call->out, n);
}

static void exists_exec(struct rt_call *call) { count_live(call, false); }
static void touch_exec(struct rt_call *call) { count_live(call, true); }
static void exists_step(struct rt_txn *t, unsigned phase) { split_count_step(t, phase, "exists"); }
static void touch_step(struct rt_txn *t, unsigned phase) { split_count_step(t, phase, "touch"); }

/* ---- The table ---- */

#define KEYS_ONE {1, 1, 1, 0}
#define KEYS_ALL {1, -1, 1, 0}
#define KEYS_TWO {1, 2, 1, 0}
#define KEYS_NONE {0, 0, 0, 0}
#define KEYS_OBJECT {2, 2, 1, 0}

#define ROUTE_KEYS(nm, spec, ex, st) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .exec = ex, .step = st}
#define ROUTE_PLAN(nm, ex, st) \
    {.name = nm, .route = RT_ROUTE_PLAN, .keys = KEYS_NONE, .exec = ex, .step = st}
#define ROUTE_INTERNAL(nm, spec, ex) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .flags = RT_CMD_INTERNAL, .exec = ex}
#define ROUTE_INTERNAL_NOKEY(nm, ex) \
    {.name = nm, .route = RT_ROUTE_ORIGIN, .keys = KEYS_NONE, .flags = RT_CMD_INTERNAL, .exec = ex}

#define O1 "O(1)"
#define KEYSPACE_WRITE_FAST "@keyspace @write @fast"
#define KEYSPACE_READ_FAST "@keyspace @read @fast"

const struct cmd_def cmd_keys_table[] = {
    {"del", -2, "write", "@keyspace @write @slow", ROUTE_KEYS("del", KEYS_ALL, del_exec, del_step),
     "generic", "1.0.0", "Delete a key",
     "O(N) where N is the number of keys that will be removed. When a key to remove holds a "
     "value other than a string, the individual complexity for this key is O(M) where M is the "
     "number of elements in the list, set, sorted set or hash. Removing a single key that holds "
     "a string value is O(1)."},
    {"unlink", -2, "write fast", KEYSPACE_WRITE_FAST,
     ROUTE_KEYS("unlink", KEYS_ALL, del_exec, unlink_step), "generic", "4.0.0",
     "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
     "blocking.",
     "O(1) for each key removed regardless of its size. Then the command does O(N) work in a "
     "different thread in order to reclaim memory, where N is the number of allocations the "
     "deleted objects where composed of."},
    {"exists", -2, "readonly fast", KEYSPACE_READ_FAST,
     ROUTE_KEYS("exists", KEYS_ALL, exists_exec, exists_step), "generic", "1.0.0",
     "Determine if a key exists", "O(N) where N is the number of keys to check."},
    {"touch", -2, "readonly fast", KEYSPACE_READ_FAST,
     ROUTE_KEYS("touch", KEYS_ALL, touch_exec, touch_step), "generic", "3.2.1",
     "Alters the last access time of a key(s). Returns the number of existing keys specified.",
     "O(N) where N is the number of keys that will be touched."},
    {"type", 2, "readonly fast", KEYSPACE_READ_FAST,
     ROUTE_KEYS("type", KEYS_ONE, keys_type_exec, NULL), "generic", "1.0.0",
     "Determine the type stored at key", O1},
    {"expire", -3, "write fast", KEYSPACE_WRITE_FAST,
     ROUTE_KEYS("expire", KEYS_ONE, keys_expire_exec, NULL), "generic", "1.0.0",
     "Set a key's time to live in seconds", O1},
    {"pexpire", -3, "write fast", KEYSPACE_WRITE_FAST,
     ROUTE_KEYS("pexpire", KEYS_ONE, keys_pexpire_exec, NULL), "generic", "2.6.0",
     "Set a key's time to live in milliseconds", O1},
    {"expireat", -3, "write fast", KEYSPACE_WRITE_FAST,
     ROUTE_KEYS("expireat", KEYS_ONE, keys_expireat_exec, NULL), "generic", "1.2.0",
     "Set the expiration for a key as a UNIX timestamp", O1},
    {"pexpireat", -3, "write fast", KEYSPACE_WRITE_FAST,
     ROUTE_KEYS("pexpireat", KEYS_ONE, keys_pexpireat_exec, NULL), "generic", "2.6.0",
     "Set the expiration for a key as a UNIX timestamp specified in milliseconds", O1},
    {"ttl", 2, "readonly fast", KEYSPACE_READ_FAST,
     ROUTE_KEYS("ttl", KEYS_ONE, keys_ttl_exec, NULL), "generic", "1.0.0",
     "Get the time to live for a key in seconds", O1},
    {"pttl", 2, "readonly fast", KEYSPACE_READ_FAST,
     ROUTE_KEYS("pttl", KEYS_ONE, keys_pttl_exec, NULL), "generic", "2.6.0",
     "Get the time to live for a key in milliseconds", O1},
    {"expiretime", 2, "readonly fast", KEYSPACE_READ_FAST,
     ROUTE_KEYS("expiretime", KEYS_ONE, keys_expiretime_exec, NULL), "generic", "7.0.0",
     "Get the expiration Unix timestamp for a key", O1},
    {"pexpiretime", 2, "readonly fast", KEYSPACE_READ_FAST,
     ROUTE_KEYS("pexpiretime", KEYS_ONE, keys_pexpiretime_exec, NULL), "generic", "7.0.0",
     "Get the expiration Unix timestamp for a key in milliseconds", O1},
    {"persist", 2, "write fast", KEYSPACE_WRITE_FAST,
     ROUTE_KEYS("persist", KEYS_ONE, keys_persist_exec, NULL), "generic", "2.2.0",
     "Remove the expiration from a key", O1},
    {"keys", 2, "readonly", "@keyspace @read @slow @dangerous",
     ROUTE_PLAN("keys", keys_keys_exec, keys_keys_step), "generic", "1.0.0",
     "Find all keys matching the given pattern",
     "O(N) with N being the number of keys in the database, under the assumption that the key "
     "names in the database and the given pattern have limited length."},
    {"scan", -2, "readonly", "@keyspace @read @slow", ROUTE_PLAN("scan", NULL, keys_scan_step),
     "generic", "2.8.0", "Incrementally iterate the keys space",
     "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
     "the cursor to return back to 0. N is the number of elements inside the collection."},
    {"randomkey", 1, "readonly", "@keyspace @read @slow",
     ROUTE_PLAN("randomkey", NULL, keys_randomkey_step), "generic", "1.0.0",
     "Return a random key from the keyspace", O1},
    {"rename", 3, "write", "@keyspace @write @slow",
     ROUTE_KEYS("rename", KEYS_TWO, keys_rename_exec, keys_rename_step), "generic", "1.0.0",
     "Rename a key", O1},
    {"renamenx", 3, "write fast", KEYSPACE_WRITE_FAST,
     ROUTE_KEYS("renamenx", KEYS_TWO, keys_renamenx_exec, keys_renamenx_step), "generic",
     "1.0.0", "Rename a key, only if the new key does not exist", O1},
    {"copy", -3, "write denyoom", "@keyspace @write @slow",
     ROUTE_KEYS("copy", KEYS_TWO, keys_copy_exec, keys_copy_step), "generic", "6.2.0",
     "Copy a key",
     "O(N) worst case for collections, where N is the number of nested items. O(1) for string "
     "values."},
    /* A container, as in Redis: its subcommands are in cmd_object_subs. */
    {"object", -2, "", "@slow", ROUTE_KEYS("object", KEYS_NONE, keys_object_exec, NULL),
     "generic", "2.2.3", "A container for object introspection commands",
     "Depends on subcommand."},

    /* Parts of multi-shard steps. */
    {"__dump", -2, "readonly", "@keyspace @read", ROUTE_INTERNAL("__dump", KEYS_ONE, keys_idump_exec),
     "generic", "", "", ""},
    {"__exists", 2, "readonly", "@keyspace @read",
     ROUTE_INTERNAL("__exists", KEYS_ONE, keys_iexists_exec), "generic", "", "", ""},
    {"__restore", -4, "write", "@keyspace @write",
     ROUTE_INTERNAL("__restore", KEYS_ONE, keys_irestore_exec), "generic", "", "", ""},
    {"__del", 3, "write", "@keyspace @write", ROUTE_INTERNAL("__del", KEYS_ONE, keys_idel_exec),
     "generic", "", "", ""},
    {"__scan", -2, "readonly", "@keyspace @read", ROUTE_INTERNAL_NOKEY("__scan", keys_iscan_exec),
     "generic", "", "", ""},
    {"__randomkey", 1, "readonly", "@keyspace @read",
     ROUTE_INTERNAL_NOKEY("__randomkey", keys_irandomkey_exec), "generic", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};

/* OBJECT's subcommands: the key is argument 2 and decides the shard; HELP has no key. */
const struct cmd_def cmd_object_subs[] = {
    {"object|encoding", 3, "readonly", "@keyspace @read @slow",
     ROUTE_KEYS("object|encoding", KEYS_OBJECT, keys_object_exec, NULL), "generic", "2.2.3",
     "Inspect the internal encoding of a Redis object", O1},
    {"object|freq", 3, "readonly", "@keyspace @read @slow",
     ROUTE_KEYS("object|freq", KEYS_OBJECT, keys_object_exec, NULL), "generic", "4.0.0",
     "Get the logarithmic access frequency counter of a Redis object", O1},
    {"object|idletime", 3, "readonly", "@keyspace @read @slow",
     ROUTE_KEYS("object|idletime", KEYS_OBJECT, keys_object_exec, NULL), "generic", "2.2.3",
     "Get the time since a Redis object was last accessed", O1},
    {"object|refcount", 3, "readonly", "@keyspace @read @slow",
     ROUTE_KEYS("object|refcount", KEYS_OBJECT, keys_object_exec, NULL), "generic", "2.2.3",
     "Get the number of references to the value of the key", O1},
    {"object|help", 2, "loading stale", "@keyspace @slow",
     ROUTE_KEYS("object|help", KEYS_NONE, keys_object_exec, NULL), "generic", "6.2.0",
     "Show helpful text about the different subcommands", O1},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
