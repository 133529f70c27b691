/* CONFIG's client-output-buffer-limit: Redis 7's parsing of the value and its
 * formatting, over the runtime's limits (config_cobl.h). */
#include "cmd/config_cobl.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd/cmd.h"

#define MB (1024 * 1024)

enum { COBL_NORMAL, COBL_REPLICA, COBL_PUBSUB };
static _Atomic uint64_t replica_limit[3] = {256 * MB, 64 * MB, 60};

void cobl_save(struct rt *rt, struct cobl_saved *sv)
{
    rt_get_output_limit(rt, RT_CLASS_NORMAL, &sv->normal);
    rt_get_output_limit(rt, RT_CLASS_PUBSUB, &sv->pubsub);
    for (int i = 0; i < 3; i++)
        sv->replica[i] = atomic_load_explicit(&replica_limit[i], memory_order_relaxed);
}

void cobl_restore(struct rt *rt, const struct cobl_saved *sv)
{
    rt_set_output_limit(rt, RT_CLASS_NORMAL, &sv->normal);
    rt_set_output_limit(rt, RT_CLASS_PUBSUB, &sv->pubsub);
    for (int i = 0; i < 3; i++)
        atomic_store_explicit(&replica_limit[i], sv->replica[i], memory_order_relaxed);
}

void cobl_format(struct rt *rt, char *out, size_t n)
{
    struct cobl_saved sv;
    cobl_save(rt, &sv);
    snprintf(out, n, "normal %llu %llu %llu slave %llu %llu %llu pubsub %llu %llu %llu",
             (unsigned long long)sv.normal.hard, (unsigned long long)sv.normal.soft,
             (unsigned long long)sv.normal.soft_seconds, (unsigned long long)sv.replica[0],
             (unsigned long long)sv.replica[1], (unsigned long long)sv.replica[2],
             (unsigned long long)sv.pubsub.hard, (unsigned long long)sv.pubsub.soft,
             (unsigned long long)sv.pubsub.soft_seconds);
}

/* Redis's memtoull: digits then a unit, the product wrapping as unsigned. */
static bool cobl_memory(const char *s, size_t len, uint64_t *out)
{
    if (len && s[0] == '-')
        return false;
    size_t d = 0;
    while (d < len && s[d] >= '0' && s[d] <= '9')
        d++;
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000000}, {"mb", 1024 * 1024},
        {"g", 1000000000}, {"gb", 1024ull * 1024 * 1024},
    };
    uint64_t mul = 0;
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strlen(units[i].unit) == len - d && strncasecmp(s + d, units[i].unit, len - d) == 0)
            mul = units[i].mul;
    if (!mul || d >= 128)
        return false;
    uint64_t v = 0; /* strtoull: saturates */
    for (size_t i = 0; i < d; i++) {
        unsigned dig = (unsigned)(s[i] - '0');
        v = v > (UINT64_MAX - dig) / 10 ? UINT64_MAX : v * 10 + dig;
    }
    *out = v * mul;
    return true;
}

/* strtoll (leading white space, a sign, saturating) to the end of the token, cut to an
 * int, which must not be negative. */
static bool cobl_seconds(const char *s, size_t len, uint64_t *out)
{
    size_t i = 0;
    while (i < len && (s[i] == '\t' || s[i] == '\n' || s[i] == '\v' || s[i] == '\f' ||
                       s[i] == '\r' || s[i] == ' '))
        i++;
    bool neg = i < len && s[i] == '-';
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    size_t d = i;
    uint64_t mag = 0, cap = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned dig = (unsigned)(s[i] - '0');
        mag = mag > (cap - dig) / 10 ? cap : mag * 10 + dig;
    }
    if (i == d)
        return len == 0; /* no digits: strtoll stops at the token's start */
    if (i != len)
        return false;
    uint32_t low = (uint32_t)(neg ? (uint64_t)0 - mag : mag);
    if (low > INT32_MAX)
        return false;
    *out = low;
    return true;
}

/* Parse v; with rt, also set the limits. NULL when valid, else Redis's reason. */
const char *cobl_apply(struct rt *rt, const rt_str *v)
{
    if (!v->len)
        return NULL;
    size_t ntok = 1;
    for (size_t i = 0; i < v->len; i++)
        ntok += v->ptr[i] == ' ';
    if (ntok % 4)
        return "Wrong number of arguments in buffer limit configuration.";
    rt_str tok[4];
    size_t pos = 0;
    while (pos <= v->len) {
        for (int k = 0; k < 4; k++) {
            const char *sp = memchr(v->ptr + pos, ' ', v->len - pos);
            size_t end = sp ? (size_t)(sp - v->ptr) : v->len;
            const char *nul = memchr(v->ptr + pos, 0, end - pos);
            tok[k] = (rt_str){v->ptr + pos, nul ? (size_t)(nul - (v->ptr + pos)) : end - pos};
            pos = end + 1;
        }
        int cls = arg_is(&tok[0], "normal")                                   ? COBL_NORMAL
                  : arg_is(&tok[0], "slave") || arg_is(&tok[0], "replica") ? COBL_REPLICA
                  : arg_is(&tok[0], "pubsub")                                 ? COBL_PUBSUB
                                                                               : -1;
        if (cls < 0)
            return "Invalid client class specified in buffer limit configuration.";
        struct rt_output_limit l;
        if (!cobl_memory(tok[1].ptr, tok[1].len, &l.hard) ||
            !cobl_memory(tok[2].ptr, tok[2].len, &l.soft) ||
            !cobl_seconds(tok[3].ptr, tok[3].len, &l.soft_seconds))
            return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        if (!rt)
            continue;
        if (cls == COBL_REPLICA) {
            atomic_store_explicit(&replica_limit[0], l.hard, memory_order_relaxed);
            atomic_store_explicit(&replica_limit[1], l.soft, memory_order_relaxed);
            atomic_store_explicit(&replica_limit[2], l.soft_seconds, memory_order_relaxed);
        } else {
            rt_set_output_limit(rt, cls == COBL_NORMAL ? RT_CLASS_NORMAL : RT_CLASS_PUBSUB, &l);
        }
    }
    return NULL;
}

