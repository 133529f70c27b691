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

/* Append "$<len>\r\n" (both protocols share this shape) for a value of len bytes and
 * return where its bytes go: one reservation for header, value and trailer. */
static inline char *str_bulk_head(struct buf *out, size_t len, size_t reserve)
{
    char digits[20];
    int nd = 0;
    size_t v = len;
    do {
        digits[nd++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *w = buf_reserve(out, reserve + (size_t)nd + 5);
    *w++ = '$';
    while (nd)
        *w++ = digits[--nd];
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

/* Reply a string entry's value as a bulk string into call->out. A raw string's block
 * goes by reference when the runtime can send it so (rt_reply_block: big, and the reply
 * written straight into the connection's output); otherwise the bytes are copied once,
 * straight into out (integers are formatted once, into a stack buffer). */
static inline void str_reply_entry(struct rt_call *call, const struct entry *e)
{
    struct buf *out = call->out;
    struct rt_block *b = entry_str_block(e);
    if (b) {
        out->len = (size_t)(str_bulk_head(out, rt_block_len(b), 0) - out->data);
        rt_reply_block(call->client, out, b);
        buf_append(out, "\r\n", 2);
        return;
    }
    char tmp[24];
    size_t len;
    const char *p = entry_str(e, tmp, &len);
    char *w = str_bulk_head(out, len, len);
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
