/* Hash commands: the family table and the writes (HSET HMSET HSETNX HDEL HINCRBY
 * HINCRBYFLOAT). Replies, errors and keyspace events follow Redis 7.0's t_hash.c; the
 * reads live in hashes_read.c (see hashes.h). */
#include "cmd/hashes.h"

#include <math.h>

#include "base/numfmt.h"
#include "cmd/effect.h"

int hcmd_lookup(struct rt_call *call, const rt_str *key, bool write, struct entry **e,
                struct hash_val *h)
{
    int r = key_typed(call, key, VT_HASH, write, e);
    if (r == 1)
        *h = hash_of(*e);
    return r;
}

/* After a write that leaves h non-empty: store it back into e, or as a new key when e is
 * NULL (Redis's hashTypeLookupWriteOrCreate made the key before the write). */
static void hcmd_store(struct cmd_shard *cs, const rt_str *key, struct entry *e,
                       const struct hash_val *h)
{
    if (e)
        hash_put(e, h);
    else
        store_set_obj(cs->store, key->ptr, key->len, VT_HASH, h->enc, h->o);
}

/* The hash at key for a write, or a new empty one (*e NULL) when absent; false after
 * replying WRONGTYPE. */
static bool hcmd_lookup_create(struct rt_call *call, const rt_str *key, struct entry **e,
                               struct hash_val *h)
{
    int r = hcmd_lookup(call, key, true, e, h);
    if (r < 0)
        return false;
    if (r == 0) {
        *e = NULL;
        *h = hash_new();
    }
    return true;
}

/* hashTypeTryConversion over argv[from .. argc). */
static void hcmd_prepare(struct hash_val *h, const rt_str *argv, int from, int argc)
{
    size_t maxlen = 0, sum = 0;
    for (int i = from; i < argc; i++) {
        if (argv[i].len > maxlen)
            maxlen = argv[i].len;
        sum += argv[i].len;
    }
    hash_prepare(h, maxlen, sum);
}

/* ---- HSET / HMSET / HSETNX ---- */

static void hset_exec(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    if (call->argc % 2 == 1) {
        resp_errorf(call->out, "ERR wrong number of arguments for '%s' command",
                    cmd_def_of(call->cmd)->name);
        return;
    }
    struct cmd_shard *cs = cmd_shard(call);
    struct entry *e;
    struct hash_val h;
    if (!hcmd_lookup_create(call, &argv[1], &e, &h))
        return;
    hcmd_prepare(&h, argv, 2, call->argc);
    int64_t created = 0;
    for (int i = 2; i < call->argc; i += 2)
        created += hash_set(&h, argv[i].ptr, argv[i].len, argv[i + 1].ptr, argv[i + 1].len);
    hcmd_store(cs, &argv[1], e, &h);
    if (argv[0].len > 1 && (argv[0].ptr[1] == 's' || argv[0].ptr[1] == 'S'))
        resp_int(call->out, created); /* HSET */
    else
        resp_ok(call->out); /* HMSET */
    cmd_key_written(cs, argv[1].ptr, argv[1].len, "hset");
}

static void hsetnx_exec(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    struct cmd_shard *cs = cmd_shard(call);
    struct entry *e;
    struct hash_val h;
    if (!hcmd_lookup_create(call, &argv[1], &e, &h))
        return;
    if (e && hash_get(&h, argv[2].ptr, argv[2].len, NULL)) {
        resp_int(call->out, 0);
        return;
    }
    hcmd_prepare(&h, argv, 2, 4);
    hash_set(&h, argv[2].ptr, argv[2].len, argv[3].ptr, argv[3].len);
    hcmd_store(cs, &argv[1], e, &h);
    resp_int(call->out, 1);
    cmd_key_written(cs, argv[1].ptr, argv[1].len, "hset");
}

/* ---- HDEL ---- */

static void hdel_exec(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    struct cmd_shard *cs = cmd_shard(call);
    struct entry *e;
    struct hash_val h;
    int r = hcmd_lookup(call, &argv[1], true, &e, &h);
    if (r <= 0) {
        if (r == 0)
            resp_int(call->out, 0);
        return;
    }
    int64_t deleted = 0;
    bool removed = false;
    for (int j = 2; j < call->argc; j++) {
        if (!hash_delete(&h, argv[j].ptr, argv[j].len))
            continue;
        deleted++;
        if (hash_len(&h) == 0) {
            removed = true;
            break;
        }
    }
    /* The entry may still point at a moved listpack: store it back before anything. */
    hash_put(e, &h);
    if (removed)
        store_delete_entry(cs->store, e);
    resp_int(call->out, deleted);
    if (deleted) {
        cmd_key_written(cs, argv[1].ptr, argv[1].len, "hdel");
        if (removed)
            cmd_key_written(cs, argv[1].ptr, argv[1].len, "del");
    }
}

/* ---- HINCRBY / HINCRBYFLOAT ---- */

static void hincrby_exec(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    struct cmd_shard *cs = cmd_shard(call);
    int64_t incr, value = 0;
    if (!arg_i64(call, &argv[3], &incr))
        return;
    struct entry *e;
    struct hash_val h;
    if (!hcmd_lookup_create(call, &argv[1], &e, &h))
        return;
    struct hash_str v;
    if (e && hash_get(&h, argv[2].ptr, argv[2].len, &v) && !str_to_i64(v.s, v.len, &value)) {
        resp_error(call->out, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
        (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
        if (!e)
            hash_free(&h);
        resp_error(call->out, ERR_OVERFLOW);
        return;
    }
    value += incr;
    char buf[NUMFMT_I64_MAX];
    int n = i64_to_str(buf, value);
    hash_set(&h, argv[2].ptr, argv[2].len, buf, (size_t)n);
    hcmd_store(cs, &argv[1], e, &h);
    resp_int(call->out, value);
    cmd_key_written(cs, argv[1].ptr, argv[1].len, "hincrby");
}

/* Long double arithmetic and Redis's human-friendly formatting, as INCRBYFLOAT. */
static void hincrbyfloat_exec(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    struct cmd_shard *cs = cmd_shard(call);
    long double incr, value = 0;
    if (!str_to_ld(argv[3].ptr, argv[3].len, &incr)) {
        resp_error(call->out, ERR_NOT_FLOAT);
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        resp_error(call->out, "ERR value is NaN or Infinity");
        return;
    }
    struct entry *e;
    struct hash_val h;
    if (!hcmd_lookup_create(call, &argv[1], &e, &h))
        return;
    struct hash_str v;
    if (e && hash_get(&h, argv[2].ptr, argv[2].len, &v) && !str_to_ld(v.s, v.len, &value)) {
        resp_error(call->out, "ERR hash value is not a float");
        return;
    }
    value += incr;
    char buf[NUMFMT_LD_MAX];
    int n = 0;
    if (!isnan(value) && !isinf(value))
        n = ld_to_str_human(buf, sizeof buf, value);
    if (n <= 0) {
        if (!e)
            hash_free(&h);
        resp_error(call->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    hash_set(&h, argv[2].ptr, argv[2].len, buf, (size_t)n);
    hcmd_store(cs, &argv[1], e, &h);
    resp_bulk(call->out, buf, (size_t)n);
    cmd_key_written(cs, argv[1].ptr, argv[1].len, "hincrbyfloat");
    /* The result, not the increment (as Redis propagates it): long double arithmetic
     * and its formatting may differ where the log is replayed. */
    rt_str rec[4] = {effect_word("HSET"), argv[1], argv[2], {buf, (size_t)n}};
    effect_log(cs, 4, rec);
}

/* ---- The table ---- */

#define K1 {1, 1, 1, 0}
#define KEYS(nm, ex) {.name = nm, .route = RT_ROUTE_KEYS, .keys = K1, .exec = ex}
#define W_FAST "@write @hash @fast"
#define R_FAST "@read @hash @fast"
#define R_SLOW "@read @hash @slow"
#define G "hash"

const struct cmd_def cmd_hashes_table[] = {
    {"hset", -4, "write denyoom fast", W_FAST, KEYS("hset", hset_exec), G, "2.0.0",
     "Set the string value of a hash field",
     "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the "
     "command is called with multiple field/value pairs."},
    {"hsetnx", 4, "write denyoom fast", W_FAST, KEYS("hsetnx", hsetnx_exec), G, "2.0.0",
     "Set the value of a hash field, only if the field does not exist", "O(1)"},
    {"hmset", -4, "write denyoom fast", W_FAST, KEYS("hmset", hset_exec), G, "2.0.0",
     "Set multiple hash fields to multiple values",
     "O(N) where N is the number of fields being set."},
    {"hdel", -3, "write fast", W_FAST, KEYS("hdel", hdel_exec), G, "2.0.0",
     "Delete one or more hash fields", "O(N) where N is the number of fields to be removed."},
    {"hincrby", 4, "write denyoom fast", W_FAST, KEYS("hincrby", hincrby_exec), G, "2.0.0",
     "Increment the integer value of a hash field by the given number", "O(1)"},
    {"hincrbyfloat", 4, "write denyoom fast", W_FAST, KEYS("hincrbyfloat", hincrbyfloat_exec),
     G, "2.6.0", "Increment the float value of a hash field by the given amount", "O(1)"},
    {"hget", 3, "readonly fast", R_FAST, KEYS("hget", hget_exec), G, "2.0.0",
     "Get the value of a hash field", "O(1)"},
    {"hmget", -3, "readonly fast", R_FAST, KEYS("hmget", hmget_exec), G, "2.0.0",
     "Get the values of all the given hash fields",
     "O(N) where N is the number of fields being requested."},
    {"hlen", 2, "readonly fast", R_FAST, KEYS("hlen", hlen_exec), G, "2.0.0",
     "Get the number of fields in a hash", "O(1)"},
    {"hstrlen", 3, "readonly fast", R_FAST, KEYS("hstrlen", hstrlen_exec), G, "3.2.0",
     "Get the length of the value of a hash field", "O(1)"},
    {"hexists", 3, "readonly fast", R_FAST, KEYS("hexists", hexists_exec), G, "2.0.0",
     "Determine if a hash field exists", "O(1)"},
    {"hkeys", 2, "readonly", R_SLOW, KEYS("hkeys", hkeys_exec), G, "2.0.0",
     "Get all the fields in a hash", "O(N) where N is the size of the hash."},
    {"hvals", 2, "readonly", R_SLOW, KEYS("hvals", hvals_exec), G, "2.0.0",
     "Get all the values in a hash", "O(N) where N is the size of the hash."},
    {"hgetall", 2, "readonly", R_SLOW, KEYS("hgetall", hgetall_exec), G, "2.0.0",
     "Get all the fields and values in a hash", "O(N) where N is the size of the hash."},
    {"hrandfield", -2, "readonly", R_SLOW, KEYS("hrandfield", hrandfield_exec), G, "6.2.0",
     "Get one or multiple random fields from a hash",
     "O(N) where N is the number of fields returned"},
    {"hscan", -3, "readonly", R_SLOW, KEYS("hscan", hscan_exec), G, "2.8.0",
     "Incrementally iterate hash fields and associated values",
     "O(1) for every call. O(N) for a complete iteration, including enough command calls for "
     "the cursor to return back to 0. N is the number of elements inside the collection.."},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
