/* The string family: GET/SET and their variants, ranges, APPEND, STRLEN, and the
 * table of every string command (the counters live in strings_num.c, the multi-key
 * commands in strings_multi.c).
 *
 * Replies, errors and their order follow Redis 7.0's t_string.c exactly: which check
 * runs first decides which error a client sees when several apply. Reads that Redis
 * does with lookupKeyRead count keyspace hits/misses; lookups of write commands don't. */
#include <stdint.h>

#include "base/numfmt.h"
#include "cmd/effect.h"
#include "cmd/notify.h"
#include "cmd/strings_impl.h"

/* SET / GETEX options (Redis's OBJ_* flags). */
enum {
    F_NX = 1u << 0,
    F_XX = 1u << 1,
    F_EX = 1u << 2,
    F_PX = 1u << 3,
    F_KEEPTTL = 1u << 4,
    F_GET = 1u << 5,
    F_EXAT = 1u << 6,
    F_PXAT = 1u << 7,
    F_PERSIST = 1u << 8,
};

/* Redis's parseExtendedStringArgumentsOrReply. Each option is refused when a
 * conflicting one came before it; repeating the same option is allowed (last wins). */
static bool parse_options(struct rt_call *call, bool for_set, unsigned *flagsp,
                          const rt_str **expire)
{
    unsigned f = *flagsp;
    const rt_str *argv = call->argv;
    for (int j = for_set ? 3 : 2; j < call->argc; j++) {
        const rt_str *opt = &argv[j];
        const rt_str *next = j == call->argc - 1 ? NULL : &argv[j + 1];
        if (for_set && str_opt_is(opt, "nx") && !(f & F_XX)) {
            f |= F_NX;
        } else if (for_set && str_opt_is(opt, "xx") && !(f & F_NX)) {
            f |= F_XX;
        } else if (for_set && str_opt_is(opt, "get")) {
            f |= F_GET;
        } else if (for_set && str_opt_is(opt, "keepttl") &&
                   !(f & (F_PERSIST | F_EX | F_EXAT | F_PX | F_PXAT))) {
            f |= F_KEEPTTL;
        } else if (!for_set && str_opt_is(opt, "persist") &&
                   !(f & (F_EX | F_EXAT | F_PX | F_PXAT | F_KEEPTTL))) {
            f |= F_PERSIST;
        } else if (str_opt_is(opt, "ex") && next &&
                   !(f & (F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT))) {
            f |= F_EX;
            *expire = next;
            j++;
        } else if (str_opt_is(opt, "px") && next &&
                   !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT))) {
            f |= F_PX;
            *expire = next;
            j++;
        } else if (str_opt_is(opt, "exat") && next &&
                   !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT))) {
            f |= F_EXAT;
            *expire = next;
            j++;
        } else if (str_opt_is(opt, "pxat") && next &&
                   !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX))) {
            f |= F_PXAT;
            *expire = next;
            j++;
        } else {
            resp_error(call->out, ERR_SYNTAX);
            return false;
        }
    }
    *flagsp = f;
    return true;
}

/* Redis's getExpireMillisecondsOrReply: the absolute expiry in ms. Zero, negative,
 * seconds that overflow when scaled, and relative times that overflow when added to
 * now are all "invalid expire time" (Redis detects the last by wrap-around; here it is
 * checked before adding). */
static bool expire_to_ms(struct rt_call *call, const rt_str *arg, unsigned flags,
                         const char *cmdname, int64_t *ms)
{
    int64_t v;
    if (!str_to_i64(arg->ptr, arg->len, &v)) {
        resp_error(call->out, ERR_NOT_INT);
        return false;
    }
    bool secs = (flags & (F_EX | F_EXAT)) != 0;
    if (v <= 0 || (secs && v > INT64_MAX / 1000))
        goto invalid;
    if (secs)
        v *= 1000;
    if (flags & (F_EX | F_PX)) {
        int64_t now = store_now(cmd_shard(call)->store);
        if (v > INT64_MAX - now)
            goto invalid;
        v += now;
    }
    *ms = v;
    return true;
invalid:
    resp_errorf(call->out, "ERR invalid expire time in '%s' command", cmdname);
    return false;
}

/* Redis's getGenericCommand on argv[1]: replies the value or nil, counting the
 * keyspace hit or miss. Returns false after replying WRONGTYPE. *ep gets the entry. */
static bool get_generic(struct rt_call *call, struct entry **ep)
{
    struct store *s = cmd_shard(call)->store;
    const rt_str *k = &call->argv[1];
    struct entry *e = store_find(s, k->ptr, k->len, true);
    *ep = e;
    store_count_lookup(s, k->ptr, k->len, e != NULL);
    if (!e) {
        resp_null(call->out, call->proto);
        return true;
    }
    if (entry_type(e) != VT_STRING) {
        resp_error(call->out, ERR_WRONGTYPE);
        return false;
    }
    str_reply_entry(call, e);
    return true;
}

/* GET key: the hottest read. One lookup, the reply written straight into out. */
static void str_get(struct rt_call *call)
{
    struct entry *e;
    get_generic(call, &e);
}

/* The log's record of a SET that happened: what it did, with the expiry as an absolute
 * time (a relative one would restart at replay) and without the conditions (NX, XX,
 * GET) that only decided whether it happens. */
static void log_set(struct cmd_shard *cs, const rt_str *key, const rt_str *val, int64_t ms,
                    bool keep_ttl)
{
    char t[NUMFMT_I64_MAX];
    rt_str a[5] = {effect_word("SET"), *key, *val};
    int argc = 3;
    if (ms != STORE_NO_TTL) {
        a[argc++] = effect_word("PXAT");
        a[argc++] = (rt_str){t, (size_t)i64_to_str(t, ms)};
    } else if (keep_ttl) {
        a[argc++] = effect_word("KEEPTTL");
    }
    effect_log(cs, argc, a);
}

/* Redis's setGenericCommand. `expire` is validated before anything else happens;
 * ok/abort are the replies for success and for an NX/XX condition that failed. */
static void set_generic(struct rt_call *call, unsigned flags, const rt_str *key,
                        const rt_str *val, const rt_str *expire, const char *cmdname,
                        bool reply_int)
{
    struct cmd_shard *cs = cmd_shard(call);
    int64_t ms = STORE_NO_TTL;
    if (expire && !expire_to_ms(call, expire, flags, cmdname, &ms))
        return;
    struct entry *e;
    if (flags & F_GET) {
        if (!get_generic(call, &e))
            return;
    } else {
        e = store_find(cs->store, key->ptr, key->len, true);
    }
    bool found = e != NULL;
    if (((flags & F_NX) && found) || ((flags & F_XX) && !found)) {
        if (!(flags & F_GET)) {
            if (reply_int)
                resp_int(call->out, 0);
            else
                resp_null(call->out, call->proto);
        }
        return;
    }
    store_set_str(cs->store, key->ptr, key->len, val->ptr, val->len, ms,
                  (flags & F_KEEPTTL) != 0);
    /* Redis notifies "set" and, with an expiry, "expire" too: one change for the hook,
     * two keyspace events. */
    cmd_key_written(cs, key->ptr, key->len, "set");
    log_set(cs, key, val, ms, (flags & F_KEEPTTL) != 0);
    if (ms != STORE_NO_TTL)
        notify_key_event(cs, key->ptr, key->len, "expire");
    if (!(flags & F_GET)) {
        if (reply_int)
            resp_int(call->out, 1);
        else
            resp_ok(call->out);
    }
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL] */
static void str_set(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    if (call->argc == 3) {
        /* The common case: no options, no lookup, TTL cleared. */
        struct cmd_shard *cs = cmd_shard(call);
        store_set_str(cs->store, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len,
                      STORE_NO_TTL, false);
        cmd_key_written(cs, argv[1].ptr, argv[1].len, "set");
        resp_ok(call->out);
        return;
    }
    unsigned flags = 0;
    const rt_str *expire = NULL;
    if (!parse_options(call, true, &flags, &expire))
        return;
    set_generic(call, flags, &argv[1], &argv[2], expire, "set", false);
}

static void str_setnx(struct rt_call *call)
{
    set_generic(call, F_NX, &call->argv[1], &call->argv[2], NULL, "setnx", true);
}

static void str_setex(struct rt_call *call)
{
    set_generic(call, F_EX, &call->argv[1], &call->argv[3], &call->argv[2], "setex", false);
}

static void str_psetex(struct rt_call *call)
{
    set_generic(call, F_PX, &call->argv[1], &call->argv[3], &call->argv[2], "psetex", false);
}

/* GETSET key value: the old value, then a plain SET (TTL cleared). */
static void str_getset(struct rt_call *call)
{
    struct entry *e;
    if (!get_generic(call, &e))
        return;
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *argv = call->argv;
    store_set_str(cs->store, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len,
                  STORE_NO_TTL, false);
    cmd_key_written(cs, argv[1].ptr, argv[1].len, "set");
}

static void str_getdel(struct rt_call *call)
{
    struct entry *e;
    if (!get_generic(call, &e) || !e)
        return;
    struct cmd_shard *cs = cmd_shard(call);
    store_delete_entry(cs->store, e);
    cmd_key_written(cs, call->argv[1].ptr, call->argv[1].len, "del");
    effect_log_key(cs, "DEL", &call->argv[1]);
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]. Unlike SET, the key is looked up
 * before the expire time is validated: a missing key answers nil whatever it is. */
static void str_getex(struct rt_call *call)
{
    unsigned flags = 0;
    const rt_str *expire = NULL;
    if (!parse_options(call, false, &flags, &expire))
        return;
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    struct entry *e = store_find(cs->store, k->ptr, k->len, true);
    store_count_lookup(cs->store, k->ptr, k->len, e != NULL);
    if (!e) {
        resp_null(call->out, call->proto);
        return;
    }
    if (entry_type(e) != VT_STRING) {
        resp_error(call->out, ERR_WRONGTYPE);
        return;
    }
    int64_t ms = 0;
    if (expire && !expire_to_ms(call, expire, flags, "getex", &ms))
        return;
    str_reply_entry(call, e);
    if ((flags & (F_EXAT | F_PXAT)) && ms <= store_now(cs->store)) {
        /* An absolute time already past deletes the key (Redis: checkAlreadyExpired). */
        store_delete_entry(cs->store, e);
        cmd_key_written(cs, k->ptr, k->len, "del");
        effect_log_key(cs, "DEL", k);
    } else if (expire) {
        store_set_expire(cs->store, e, ms);
        cmd_key_written(cs, k->ptr, k->len, "expire");
        effect_log_pexpireat(cs, k, ms);
    } else if ((flags & F_PERSIST) && entry_expire(e) != STORE_NO_TTL) {
        store_set_expire(cs->store, e, STORE_NO_TTL);
        cmd_key_written(cs, k->ptr, k->len, "persist");
        effect_log_key(cs, "PERSIST", k);
    }
}

/* Redis's checkStringLength: a string may not grow past proto-max-bulk-len. Both
 * operands are below 2^63, so the unsigned sum cannot wrap. */
static bool check_string_length(struct rt_call *call, uint64_t size, uint64_t append)
{
    struct rt_options o;
    rt_options_get(rt_of(call->rt_shard), &o);
    if (size + append > o.proto_max_bulk_len) {
        resp_error(call->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}

/* APPEND key value: creates the key (encoded as SET would), or extends it in place
 * keeping its TTL. Extending, even by nothing, makes the value a raw string. */
static void str_append(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1], *v = &call->argv[2];
    bool wrongtype;
    struct entry *e = str_lookup_write(call, k, &wrongtype);
    if (wrongtype)
        return;
    size_t total;
    if (!e) {
        store_set_str(cs->store, k->ptr, k->len, v->ptr, v->len, STORE_NO_TTL, false);
        total = v->len;
    } else {
        size_t olen = entry_str_len(e);
        if (!check_string_length(call, olen, v->len))
            return;
        total = olen + v->len;
        char *w = store_str_resize(cs->store, &e, total);
        if (v->len)
            memcpy(w + olen, v->ptr, v->len);
    }
    cmd_key_written(cs, k->ptr, k->len, "append");
    resp_int(call->out, (int64_t)total);
}

static void str_strlen(struct rt_call *call)
{
    struct store *s = cmd_shard(call)->store;
    const rt_str *k = &call->argv[1];
    struct entry *e = store_find(s, k->ptr, k->len, true);
    store_count_lookup(s, k->ptr, k->len, e != NULL);
    if (!e) {
        resp_int(call->out, 0);
        return;
    }
    if (entry_type(e) != VT_STRING) {
        resp_error(call->out, ERR_WRONGTYPE);
        return;
    }
    resp_int(call->out, (int64_t)entry_str_len(e));
}

/* GETRANGE key start end (and its old name SUBSTR). Indices are clamped as Redis
 * does; a length is far below 2^62, so len + negative index never overflows. */
static void str_getrange(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    int64_t start, end;
    if (!str_to_i64(argv[2].ptr, argv[2].len, &start) ||
        !str_to_i64(argv[3].ptr, argv[3].len, &end)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    struct store *s = cmd_shard(call)->store;
    struct entry *e = store_find(s, argv[1].ptr, argv[1].len, true);
    store_count_lookup(s, argv[1].ptr, argv[1].len, e != NULL);
    if (!e) {
        resp_bulk(call->out, "", 0);
        return;
    }
    if (entry_type(e) != VT_STRING) {
        resp_error(call->out, ERR_WRONGTYPE);
        return;
    }
    char tmp[24];
    size_t slen;
    const char *p = entry_str(e, tmp, &slen);
    if (start < 0 && end < 0 && start > end) {
        resp_bulk(call->out, "", 0);
        return;
    }
    int64_t n = (int64_t)slen;
    if (start < 0)
        start += n;
    if (end < 0)
        end += n;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= n)
        end = n - 1;
    if (start > end || n == 0)
        resp_bulk(call->out, "", 0);
    else if (start == 0 && end == n - 1)
        str_reply_entry(call, e); /* the whole value: by reference when big */
    else
        resp_bulk(call->out, p + start, (size_t)(end - start + 1));
}

/* SETRANGE key offset value. Checks run in Redis's order: offset syntax, sign, type,
 * empty value (answers the current length, creating nothing), size limit. */
static void str_setrange(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1], *v = &call->argv[3];
    int64_t offset;
    if (!str_to_i64(call->argv[2].ptr, call->argv[2].len, &offset)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    if (offset < 0) {
        resp_error(call->out, "ERR offset is out of range");
        return;
    }
    bool wrongtype;
    struct entry *e = str_lookup_write(call, k, &wrongtype);
    if (wrongtype)
        return;
    size_t olen = e ? entry_str_len(e) : 0;
    if (v->len == 0) {
        resp_int(call->out, (int64_t)olen);
        return;
    }
    if (!check_string_length(call, (uint64_t)offset, v->len))
        return;
    /* Within proto-max-bulk-len, so offset + len fits a size_t. */
    size_t end = (size_t)offset + v->len;
    size_t newlen = end > olen ? end : olen;
    if (!e)
        e = store_set_str(cs->store, k->ptr, k->len, "", 0, STORE_NO_TTL, false);
    char *w = store_str_resize(cs->store, &e, newlen);
    memcpy(w + offset, v->ptr, v->len);
    cmd_key_written(cs, k->ptr, k->len, "setrange");
    resp_int(call->out, (int64_t)newlen);
}

/* ---- The table ---- */

#define KEY1 {1, 1, 1, 0}
#define ONE_KEY(fn) {.route = RT_ROUTE_KEYS, .keys = KEY1, .exec = (fn)}

const struct cmd_def cmd_strings_table[] = {
    {"get", 2, "readonly fast", "@read @string @fast", ONE_KEY(str_get), "string", "1.0.0",
     "Get the value of a key", "O(1)"},
    {"set", -3, "write denyoom", "@write @string @slow", ONE_KEY(str_set), "string", "1.0.0",
     "Set the string value of a key", "O(1)"},
    {"setnx", 3, "write denyoom fast", "@write @string @fast", ONE_KEY(str_setnx), "string",
     "1.0.0", "Set the value of a key, only if the key does not exist", "O(1)"},
    {"setex", 4, "write denyoom", "@write @string @slow", ONE_KEY(str_setex), "string",
     "2.0.0", "Set the value and expiration of a key", "O(1)"},
    {"psetex", 4, "write denyoom", "@write @string @slow", ONE_KEY(str_psetex), "string",
     "2.6.0", "Set the value and expiration in milliseconds of a key", "O(1)"},
    {"getset", 3, "write denyoom fast", "@write @string @fast", ONE_KEY(str_getset), "string",
     "1.0.0", "Set the string value of a key and return its old value", "O(1)"},
    {"getdel", 2, "write fast", "@write @string @fast", ONE_KEY(str_getdel), "string", "6.2.0",
     "Get the value of a key and delete the key", "O(1)"},
    {"getex", -2, "write fast", "@write @string @fast", ONE_KEY(str_getex), "string", "6.2.0",
     "Get the value of a key and optionally set its expiration", "O(1)"},
    {"append", 3, "write denyoom fast", "@write @string @fast", ONE_KEY(str_append), "string",
     "2.0.0", "Append a value to a key",
     "O(1). The amortized time complexity is O(1) assuming the appended value is small and "
     "the already present value is of any size, since the dynamic string library used by "
     "Redis will double the free space available on every reallocation."},
    {"strlen", 2, "readonly fast", "@read @string @fast", ONE_KEY(str_strlen), "string",
     "2.2.0", "Get the length of the value stored in a key", "O(1)"},
    {"incr", 2, "write denyoom fast", "@write @string @fast", ONE_KEY(str_incr), "string",
     "1.0.0", "Increment the integer value of a key by one", "O(1)"},
    {"decr", 2, "write denyoom fast", "@write @string @fast", ONE_KEY(str_decr), "string",
     "1.0.0", "Decrement the integer value of a key by one", "O(1)"},
    {"incrby", 3, "write denyoom fast", "@write @string @fast", ONE_KEY(str_incrby), "string",
     "1.0.0", "Increment the integer value of a key by the given amount", "O(1)"},
    {"decrby", 3, "write denyoom fast", "@write @string @fast", ONE_KEY(str_decrby), "string",
     "1.0.0", "Decrement the integer value of a key by the given number", "O(1)"},
    {"incrbyfloat", 3, "write denyoom fast", "@write @string @fast", ONE_KEY(str_incrbyfloat),
     "string", "2.6.0", "Increment the float value of a key by the given amount", "O(1)"},
    {"getrange", 4, "readonly", "@read @string @slow", ONE_KEY(str_getrange), "string",
     "2.4.0", "Get a substring of the string stored at a key",
     "O(N) where N is the length of the returned string. The complexity is ultimately "
     "determined by the returned length, but because creating a substring from an existing "
     "string is very cheap, it can be considered O(1) for small strings."},
    {"substr", 4, "readonly", "@read @string @slow", ONE_KEY(str_getrange), "string", "1.0.0",
     "Get a substring of the string stored at a key",
     "O(N) where N is the length of the returned string. The complexity is ultimately "
     "determined by the returned length, but because creating a substring from an existing "
     "string is very cheap, it can be considered O(1) for small strings."},
    {"setrange", 4, "write denyoom", "@write @string @slow", ONE_KEY(str_setrange), "string",
     "2.2.0", "Overwrite part of a string at key starting at the specified offset",
     "O(1), not counting the time taken to copy the new string in place. Usually, this "
     "string is very small so the amortized complexity is O(1). Otherwise, complexity is "
     "O(M) with M being the length of the value argument."},
    {"mget", -2, "readonly fast", "@read @string @fast",
     {.route = RT_ROUTE_KEYS, .keys = {1, -1, 1, 0}, .exec = str_mget, .step = str_mget_step},
     "string", "1.0.0", "Get the values of all the given keys",
     "O(N) where N is the number of keys to retrieve."},
    {"mset", -3, "write denyoom", "@write @string @slow",
     {.route = RT_ROUTE_KEYS, .keys = {1, -1, 2, 0}, .exec = str_mset, .step = str_mset_step},
     "string", "1.0.1", "Set multiple keys to multiple values",
     "O(N) where N is the number of keys to set."},
    {"msetnx", -3, "write denyoom", "@write @string @slow",
     {.route = RT_ROUTE_KEYS, .keys = {1, -1, 2, 0}, .exec = str_msetnx, .step = str_msetnx_step},
     "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist",
     "O(N) where N is the number of keys to set."},
    /* Internal, for MSETNX across shards: how many of the keys exist (any type, counted
     * once per argument), without touching keyspace hit/miss statistics. */
    {"__count_existing", -2, "readonly fast", "@read @keyspace @fast",
     {.route = RT_ROUTE_KEYS, .keys = {1, -1, 1, 0}, .flags = RT_CMD_INTERNAL,
      .exec = str_count_existing},
     "generic", "", "", ""},
    {0},
};
