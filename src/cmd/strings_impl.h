/* Private to the string family (strings.c, strings_num.c, strings_multi.c): the
 * handlers the table in strings.c points at, and the reply and parsing helpers they
 * share. */
#ifndef COREKV_CMD_STRINGS_IMPL_H
#define COREKV_CMD_STRINGS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

/* strings_num.c */
void str_incr(struct rt_call *call);
void str_decr(struct rt_call *call);
void str_incrby(struct rt_call *call);
void str_decrby(struct rt_call *call);
void str_incrbyfloat(struct rt_call *call);

/* strings_multi.c */
void str_mget(struct rt_call *call);
void str_mget_step(struct rt_txn *t, unsigned phase);
void str_mset(struct rt_call *call);
void str_mset_step(struct rt_txn *t, unsigned phase);
void str_msetnx(struct rt_call *call);
void str_msetnx_step(struct rt_txn *t, unsigned phase);
void str_count_existing(struct rt_call *call);

/* Append "$<len>\r\n<bytes>\r\n" for a string entry straight into out: one reservation,
 * no intermediate copy of the value (integers are formatted once, into a stack buffer).
 * Both protocols share this shape. */
static inline void str_reply_entry(struct buf *out, const struct entry *e)
{
    char tmp[24];
    size_t len;
    const char *p = entry_str(e, tmp, &len);
    char digits[20];
    int nd = 0;
    size_t v = len;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *w = buf_reserve(out, len + (size_t)nd + 5);
    *w++ = '$';
    while (nd)
        *w++ = digits[--nd];
    *w++ = '\r';
    *w++ = '\n';
    if (len)
        memcpy(w, p, len);
    w += len;
    *w++ = '\r';
    *w++ = '\n';
    out->len = (size_t)(w - out->data);
}

/* A live string entry for a write command, or NULL when absent. Sets *wrongtype (and
 * replies WRONGTYPE) when the key holds another type. No keyspace hit/miss counting:
 * Redis's lookupKeyWrite does not count. */
static inline struct entry *str_lookup_write(struct rt_call *call, const rt_str *key,
                                             bool *wrongtype)
{
    struct entry *e = store_find(cmd_shard(call)->store, key->ptr, key->len, true);
    *wrongtype = false;
    if (e && entry_type(e) != VT_STRING) {
        resp_error(call->out, ERR_WRONGTYPE);
        *wrongtype = true;
        return NULL;
    }
    return e;
}

/* Redis compares option words as C strings, so an argument matches `word` when its
 * bytes up to the first NUL (or its end) equal the word, case-insensitively. */
static inline bool str_opt_is(const rt_str *a, const char *word)
{
    size_t n = strlen(word);
    if (a->len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a->ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != word[i])
            return false;
    }
    return a->len == n || a->ptr[n] == '\0';
}

#endif
