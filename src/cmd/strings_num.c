/* INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. All keep the key's TTL, as Redis updates
 * the value in place. */
#include <math.h>
#include <stdint.h>

#include "base/numfmt.h"
#include "cmd/effect.h"
#include "cmd/strings_impl.h"

/* Redis's incrDecrCommand: the key's value must parse strictly as an int64 and the
 * sum must not overflow (checked before adding). */
static void incr_by(struct rt_call *call, int64_t incr)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    bool wrongtype;
    struct entry *e = str_lookup_write(call, k, &wrongtype);
    if (wrongtype)
        return;
    int64_t value = 0;
    if (e && !entry_str_int(e, &value)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
        (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
        resp_error(call->out, ERR_OVERFLOW);
        return;
    }
    value += incr;
    store_set_int(cs->store, k->ptr, k->len, value);
    cmd_key_written(cs, k->ptr, k->len, "incrby");
    resp_int(call->out, value);
}

void str_incr(struct rt_call *call) { incr_by(call, 1); }
void str_decr(struct rt_call *call) { incr_by(call, -1); }

void str_incrby(struct rt_call *call)
{
    int64_t incr;
    if (!str_to_i64(call->argv[2].ptr, call->argv[2].len, &incr)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    incr_by(call, incr);
}

void str_decrby(struct rt_call *call)
{
    int64_t incr;
    if (!str_to_i64(call->argv[2].ptr, call->argv[2].len, &incr)) {
        resp_error(call->out, ERR_NOT_INT);
        return;
    }
    /* Negating INT64_MIN would overflow. */
    if (incr == INT64_MIN) {
        resp_error(call->out, "ERR decrement would overflow");
        return;
    }
    incr_by(call, -incr);
}

/* INCRBYFLOAT key increment: long double arithmetic, the result stored and replied in
 * Redis's human-friendly form ("%.17Lf" trimmed). The key's value is checked before
 * the increment, as Redis does. */
void str_incrbyfloat(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1], *arg = &call->argv[2];
    bool wrongtype;
    struct entry *e = str_lookup_write(call, k, &wrongtype);
    if (wrongtype)
        return;
    long double value = 0, incr;
    if (e) {
        int64_t iv;
        if (entry_str_enc(e) == SE_INT && entry_str_int(e, &iv)) {
            value = (long double)iv;
        } else {
            char tmp[24];
            size_t len;
            const char *p = entry_str(e, tmp, &len);
            if (!str_to_ld(p, len, &value)) {
                resp_error(call->out, ERR_NOT_FLOAT);
                return;
            }
        }
    }
    if (!str_to_ld(arg->ptr, arg->len, &incr)) {
        resp_error(call->out, ERR_NOT_FLOAT);
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        resp_error(call->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[NUMFMT_LD_MAX];
    int n = ld_to_str_human(buf, sizeof buf, value);
    store_set_str(cs->store, k->ptr, k->len, buf, (size_t)n, STORE_NO_TTL, true);
    cmd_key_written(cs, k->ptr, k->len, "incrbyfloat");
    /* The result, not the increment: long double arithmetic and its formatting may
     * differ where the log is replayed (Redis propagates the same SET). */
    rt_str rec[4] = {effect_word("SET"), *k, {buf, (size_t)n}, effect_word("KEEPTTL")};
    effect_log(cs, 4, rec);
    resp_bulk(call->out, buf, (size_t)n);
}
