/* TYPE and OBJECT: what a key holds and how. */
#include "cmd/keys.h"

#include <limits.h>

#include "store/object.h"

const char *keys_type_name(enum val_type t)
{
    switch (t) {
    case VT_STRING: return "string";
    case VT_LIST: return "list";
    case VT_SET: return "set";
    case VT_ZSET: return "zset";
    case VT_HASH: return "hash";
    }
    return "none";
}

/* TYPE key: a read lookup in Redis (counted in keyspace hits/misses, no touch). */
void keys_type_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    struct entry *e = store_find(cs->store, k->ptr, k->len, false);
    store_count_lookup(cs->store, k->ptr, k->len, e != NULL);
    resp_simple(call->out, e ? keys_type_name(entry_type(e)) : "none");
}

/* Redis's encoding names, for what the store holds. */
static const char *encoding_name(const struct entry *e)
{
    switch (entry_type(e)) {
    case VT_STRING:
        switch (entry_str_enc(e)) {
        case SE_INT: return "int";
        case SE_EMBSTR: return "embstr";
        case SE_RAW: return "raw";
        }
        return "raw";
    case VT_LIST:
    case VT_SET:
    case VT_ZSET:
    case VT_HASH:
        return obj_enc_name(entry_obj_enc(e));
    }
    return "raw";
}

/* Redis shares the integer objects 0..9999 (OBJ_SHARED_INTEGERS) among all keys that
 * hold them and reports their refcount as OBJ_SHARED_REFCOUNT (INT_MAX). Every other
 * value has a single owner. */
static int64_t refcount_of(const struct entry *e)
{
    int64_t v;
    if (entry_type(e) == VT_STRING && entry_str_enc(e) == SE_INT && entry_str_int(e, &v) &&
        v >= 0 && v < 10000)
        return INT_MAX;
    return 1;
}

static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

enum object_sub { OBJ_ENCODING, OBJ_REFCOUNT, OBJ_IDLETIME, OBJ_FREQ };

/* OBJECT <sub> [key]. Redis resolves the subcommand as a command of its own, so an
 * unknown subcommand is reported before a wrong argument count, and the count error
 * names "object|<sub>". The key lookup does not touch the key but counts as a read. */
void keys_object_exec(struct rt_call *call)
{
    const rt_str *sub = &call->argv[1];
    enum object_sub which;
    const char *subname;
    if (arg_is(sub, "help")) {
        if (call->argc != 2) {
            resp_error(call->out, "ERR wrong number of arguments for 'object|help' command");
            return;
        }
        size_t n = sizeof object_help / sizeof object_help[0];
        resp_array(call->out, (int64_t)n);
        for (size_t i = 0; i < n; i++)
            resp_simple(call->out, object_help[i]);
        return;
    } else if (arg_is(sub, "encoding")) {
        which = OBJ_ENCODING, subname = "encoding";
    } else if (arg_is(sub, "refcount")) {
        which = OBJ_REFCOUNT, subname = "refcount";
    } else if (arg_is(sub, "idletime")) {
        which = OBJ_IDLETIME, subname = "idletime";
    } else if (arg_is(sub, "freq")) {
        which = OBJ_FREQ, subname = "freq";
    } else {
        size_t n = keys_cstrlen(sub);
        resp_errorf(call->out, "ERR unknown subcommand '%.*s'. Try OBJECT HELP.",
                    (int)(n > 128 ? 128 : n), sub->ptr);
        return;
    }
    if (call->argc != 3) {
        resp_errorf(call->out, "ERR wrong number of arguments for 'object|%s' command", subname);
        return;
    }

    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[2];
    struct entry *e = store_find(cs->store, k->ptr, k->len, false);
    store_count_lookup(cs->store, NULL, 0, e != NULL); /* as Redis: no keymiss event */
    if (!e) {
        resp_null(call->out, call->proto);
        return;
    }
    switch (which) {
    case OBJ_ENCODING:
        resp_bulk_cstr(call->out, encoding_name(e));
        break;
    case OBJ_REFCOUNT:
        resp_int(call->out, refcount_of(e));
        break;
    case OBJ_IDLETIME:
        /* No LFU policy exists, so the access clock is always an LRU one. */
        resp_int(call->out, entry_idle_ms(cs->store, e) / 1000);
        break;
    case OBJ_FREQ:
        resp_error(call->out,
                   "ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                   "Please note that when switching between policies at runtime LRU and LFU "
                   "data will take some time to adjust.");
        break;
    }
}
