/* Time to live: the EXPIRE family, the TTL family and PERSIST.
 *
 * TTLs are absolute Unix milliseconds in the store. "Now" is the store's clock for the
 * current batch, as Redis 7 uses one time snapshot per command. */
#include "cmd/keys.h"

#include "base/numfmt.h"
#include "cmd/effect.h"

enum {
    EXP_NX = 1 << 0,
    EXP_XX = 1 << 1,
    EXP_GT = 1 << 2,
    EXP_LT = 1 << 3,
};

/* Options after the time: every word must be known (the first unknown one is the
 * error), and only then are the combinations checked, as Redis does. */
static bool parse_expire_flags(struct rt_call *call, int *flags)
{
    for (int i = 3; i < call->argc; i++) {
        const rt_str *a = &call->argv[i];
        if (arg_is(a, "nx")) {
            *flags |= EXP_NX;
        } else if (arg_is(a, "xx")) {
            *flags |= EXP_XX;
        } else if (arg_is(a, "gt")) {
            *flags |= EXP_GT;
        } else if (arg_is(a, "lt")) {
            *flags |= EXP_LT;
        } else {
            resp_errorf(call->out, "ERR Unsupported option %.*s", (int)keys_cstrlen(a), a->ptr);
            return false;
        }
    }
    if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_error(call->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return false;
    }
    if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
        resp_error(call->out, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* Whether the options let the new deadline replace the current one (-1: none). A key
 * without a TTL counts as an infinite one for GT and LT. */
static bool flags_allow(int flags, int64_t current, int64_t when)
{
    if ((flags & EXP_NX) && current != STORE_NO_TTL)
        return false;
    if ((flags & EXP_XX) && current == STORE_NO_TTL)
        return false;
    if ((flags & EXP_GT) && (current == STORE_NO_TTL || when <= current))
        return false;
    if ((flags & EXP_LT) && current != STORE_NO_TTL && when >= current)
        return false;
    return true;
}

static void expire_generic(struct rt_call *call, bool relative, bool seconds, const char *name)
{
    struct cmd_shard *cs = cmd_shard(call);
    int flags = 0;
    if (!parse_expire_flags(call, &flags))
        return;
    int64_t when;
    if (!str_to_i64(call->argv[2].ptr, call->argv[2].len, &when)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    /* Negative times are allowed (they delete the key); only arithmetic overflow of the
     * unit conversion or of adding the base time is an error. */
    if (seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) {
            resp_errorf(call->out, "ERR invalid expire time in '%s' command", name);
            return;
        }
        when *= 1000;
    }
    int64_t now = store_now(cs->store);
    int64_t base = relative ? now : 0;
    if (when > INT64_MAX - base) {
        resp_errorf(call->out, "ERR invalid expire time in '%s' command", name);
        return;
    }
    when += base;

    const rt_str *k = &call->argv[1];
    struct entry *e = store_find(cs->store, k->ptr, k->len, true);
    if (!e || !flags_allow(flags, entry_expire(e), when)) {
        resp_int(call->out, 0);
        return;
    }
    /* Logged as what happened, with an absolute time: a relative one would restart at
     * replay, and replay's stopped clock would not see a deadline already past. */
    if (when <= now) {
        /* A deadline already past deletes the key now (Redis propagates it as DEL). */
        store_delete_entry(cs->store, e);
        cmd_key_written(cs, k->ptr, k->len, "del");
        effect_log_key(cs, "DEL", k);
    } else {
        store_set_expire(cs->store, e, when);
        cmd_key_written(cs, k->ptr, k->len, "expire");
        effect_log_pexpireat(cs, k, when);
    }
    resp_int(call->out, 1);
}

void keys_expire_exec(struct rt_call *call) { expire_generic(call, true, true, "expire"); }
void keys_pexpire_exec(struct rt_call *call) { expire_generic(call, true, false, "pexpire"); }
void keys_expireat_exec(struct rt_call *call) { expire_generic(call, false, true, "expireat"); }
void keys_pexpireat_exec(struct rt_call *call) { expire_generic(call, false, false, "pexpireat"); }

/* -2 missing, -1 no TTL, else the remaining (or absolute) time. Seconds are rounded to
 * the nearest, computed without overflow for deadlines near INT64_MAX (Redis's
 * (ms + 500) / 1000 yields the same values there). A read lookup without touch. */
static void ttl_generic(struct rt_call *call, bool ms, bool absolute)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    struct entry *e = store_find(cs->store, k->ptr, k->len, false);
    store_count_lookup(cs->store, k->ptr, k->len, e != NULL);
    if (!e) {
        resp_int(call->out, -2);
        return;
    }
    int64_t exp = entry_expire(e);
    if (exp == STORE_NO_TTL) {
        resp_int(call->out, -1);
        return;
    }
    int64_t t = absolute ? exp : exp - store_now(cs->store);
    if (t < 0)
        t = 0;
    resp_int(call->out, ms ? t : t / 1000 + (t % 1000 + 500) / 1000);
}

void keys_ttl_exec(struct rt_call *call) { ttl_generic(call, false, false); }
void keys_pttl_exec(struct rt_call *call) { ttl_generic(call, true, false); }
void keys_expiretime_exec(struct rt_call *call) { ttl_generic(call, false, true); }
void keys_pexpiretime_exec(struct rt_call *call) { ttl_generic(call, true, true); }

void keys_persist_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    struct entry *e = store_find(cs->store, k->ptr, k->len, true);
    if (!e || entry_expire(e) == STORE_NO_TTL) {
        resp_int(call->out, 0);
        return;
    }
    store_set_expire(cs->store, e, STORE_NO_TTL);
    cmd_key_written(cs, k->ptr, k->len, "persist");
    resp_int(call->out, 1);
}
