/* Entries and string values: allocation, encodings (int / embstr / raw), the public
 * entry_* readers, and the dump format used to move a value between shards. */
#include "store/entry.h"
#include "store/object.h"

#include <stdlib.h>

#include "base/log.h"

/* ---- Allocation ---- */

static _Noreturn void oom(size_t n)
{
    log_msg(LOG_WARNING, "store: out of memory allocating %zu bytes", n);
    abort();
}

void *store_xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        oom(n);
    return p;
}

void *store_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        oom(n);
    return q;
}

void *store_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p)
        oom(n * size);
    return p;
}

/* Never less than sizeof(struct entry), so the whole struct type is always backed by the
 * allocation even when key and value are empty. */
size_t store_ent_size(size_t klen, size_t varea)
{
    if (klen > UINT32_MAX) {
        log_msg(LOG_WARNING, "store: key of %zu bytes is too long", klen);
        abort();
    }
    size_t n = ENT_HDR + ent_key_space(klen) + varea;
    return n < sizeof(struct entry) ? sizeof(struct entry) : n;
}

struct entry *store_ent_alloc(const char *key, size_t klen, uint8_t tag, size_t varea)
{
    struct entry *e = store_xmalloc(store_ent_size(klen, varea));
    e->next = NULL;
    e->expire = ENT_NO_EXPIRE;
    e->atime = 0;
    e->ttl_pos = 0;
    e->tag = tag;
    e->meta = 0;
    e->vlen = 0;
    char *k = e->data;
    if (klen < ENT_KLEN_LONG) {
        e->klen = (uint8_t)klen;
    } else {
        uint32_t n = (uint32_t)klen;
        e->klen = ENT_KLEN_LONG;
        memcpy(k, &n, sizeof n);
        k += sizeof n;
    }
    if (klen)
        memcpy(k, key, klen);
    return e;
}

struct entry *store_ent_realloc(struct entry *e, size_t varea)
{
    return store_xrealloc(e, store_ent_size(ent_klen(e), varea));
}

void store_ent_free_value(struct entry *e)
{
    switch (ent_type(e)) {
    case VT_STRING:
        if (ent_enc(e) == SE_RAW)
            rt_block_unref(ent_ptr(e)); /* a huge one goes to lazyfree.c's hook */
        return;
    default:
        store_obj_free(e);
        return;
    }
}

/* ---- Integers ---- */

/* Redis's string2ll: optional '-', no leading zeros (except "0" itself), no spaces or '+',
 * at most 20 bytes, within int64. */
static bool parse_i64_strict(const char *p, size_t len, int64_t *out)
{
    if (len == 0 || len > ENT_INT_MAX_DIGITS)
        return false;
    if (len == 1 && p[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = p[0] == '-';
    if (neg && ++i == len)
        return false;
    if (p[i] < '1' || p[i] > '9')
        return false;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

/* Decimal form of v into buf (at least 21 bytes, not NUL-terminated); returns the length. */
static size_t format_i64(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}

/* Fewest bytes holding v as a sign-extended little-endian number. */
static size_t int_bytes(int64_t v)
{
    size_t n = 1;
    while (n < 8) {
        int64_t lim = (int64_t)1 << (8 * n - 1);
        if (v >= -lim && v < lim)
            break;
        n++;
    }
    return n;
}

static void int_put(char *p, int64_t v, size_t n)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(unsigned char)(u >> (8 * i));
}

static int64_t int_get(const char *p, size_t n)
{
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++)
        u |= (uint64_t)(unsigned char)p[i] << (8 * i);
    if (n < 8 && (u >> (8 * n - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * n);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- String values ---- */

void store_strval_classify(struct strval *v, const char *p, size_t len)
{
    v->p = p;
    v->len = len;
    v->i = 0;
    if (parse_i64_strict(p, len, &v->i))
        v->enc = SE_INT;
    else if (len <= ENT_EMBSTR_MAX)
        v->enc = SE_EMBSTR;
    else
        v->enc = SE_RAW;
}

size_t store_strval_area(const struct strval *v)
{
    switch (v->enc) {
    case SE_INT:
        return int_bytes(v->i);
    case SE_EMBSTR:
        return v->len;
    default:
        return sizeof(void *);
    }
}

void store_strval_put(struct entry *e, const struct strval *v)
{
    ent_set_meta(e, VT_STRING, v->enc);
    switch (v->enc) {
    case SE_INT:
        e->vlen = (uint8_t)int_bytes(v->i);
        int_put(ent_val(e), v->i, e->vlen);
        break;
    case SE_EMBSTR:
        e->vlen = (uint8_t)v->len;
        if (v->len)
            memcpy(ent_val(e), v->p, v->len);
        break;
    default: {
        struct rt_block *b = block_alloc(v->len);
        b->len = v->len;
        if (v->len)
            memcpy(b->data, v->p, v->len);
        e->vlen = 0;
        ent_set_ptr(e, b);
        break;
    }
    }
}

/* ---- Public readers ---- */

const char *entry_key(const struct entry *e, size_t *klen)
{
    *klen = ent_klen(e);
    return ent_key(e);
}

enum val_type entry_type(const struct entry *e) { return ent_type(e); }

int64_t entry_expire(const struct entry *e)
{
    return ent_has_ttl(e) ? e->expire : STORE_NO_TTL;
}

enum str_enc entry_str_enc(const struct entry *e) { return ent_enc(e); }

const char *entry_str(const struct entry *e, char tmp[24], size_t *len)
{
    switch (ent_enc(e)) {
    case SE_INT:
        *len = format_i64(tmp, int_get(ent_cval(e), e->vlen));
        return tmp;
    case SE_EMBSTR:
        *len = e->vlen;
        return ent_cval(e);
    default: {
        const struct rt_block *b = ent_ptr(e);
        *len = b->len;
        return b->data;
    }
    }
}

bool entry_str_int(const struct entry *e, int64_t *v)
{
    if (ent_enc(e) == SE_INT) {
        *v = int_get(ent_cval(e), e->vlen);
        return true;
    }
    char tmp[24];
    size_t len;
    const char *p = entry_str(e, tmp, &len);
    return parse_i64_strict(p, len, v);
}

size_t entry_str_len(const struct entry *e)
{
    switch (ent_enc(e)) {
    case SE_INT: {
        char tmp[24];
        return format_i64(tmp, int_get(ent_cval(e), e->vlen));
    }
    case SE_EMBSTR:
        return e->vlen;
    default:
        return ((const struct rt_block *)ent_ptr(e))->len;
    }
}

struct rt_block *entry_str_block(const struct entry *e)
{
    return ent_type(e) == VT_STRING && ent_enc(e) == SE_RAW ? ent_ptr(e) : NULL;
}

/* ---- Dump format ----
 *
 *   byte 0   value type (enum val_type)
 *   byte 1   encoding within the type
 *   payload  VT_STRING/SE_INT:          the value, zigzag LEB128 varint
 *            VT_STRING/SE_EMBSTR|RAW:   length as LEB128 varint, then the bytes
 * The dump is exactly that long: trailing bytes make it invalid. The encoding is kept on
 * restore so a value's OBJECT ENCODING survives a move between shards. Aggregates carry
 * their type's payload (object.h) under their type and encoding bytes. */

void entry_dump(const struct entry *e, struct buf *out)
{
    if (ent_type(e) != VT_STRING) {
        store_obj_dump(e, out);
        return;
    }
    char hdr[2] = {(char)ent_type(e), (char)ent_enc(e)};
    buf_append(out, hdr, sizeof hdr);
    if (ent_enc(e) == SE_INT) {
        int64_t v = int_get(ent_cval(e), e->vlen);
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        store_put_varint(out, (u << 1) ^ (v < 0 ? ~(uint64_t)0 : 0));
        return;
    }
    char tmp[24];
    size_t len;
    const char *p = entry_str(e, tmp, &len);
    store_put_varint(out, len);
    buf_append(out, p, len);
}

bool store_dump_parse(const char *dump, size_t len, struct strval *v)
{
    if (len < 2 || dump[0] != (char)VT_STRING)
        return false;
    const char *p = dump + 2, *end = dump + len;
    uint64_t n;
    if (!store_get_varint(&p, end, &n))
        return false;
    switch (dump[1]) {
    case SE_INT: {
        uint64_t u = (n >> 1) ^ ((n & 1) ? ~(uint64_t)0 : 0);
        memcpy(&v->i, &u, sizeof u);
        v->enc = SE_INT;
        v->p = NULL;
        v->len = 0;
        return p == end;
    }
    case SE_EMBSTR:
    case SE_RAW:
        if (n != (uint64_t)(end - p))
            return false;
        if (dump[1] == SE_EMBSTR && n > ENT_EMBSTR_MAX)
            return false;
        v->enc = (enum str_enc)dump[1];
        v->p = p;
        v->len = (size_t)n;
        v->i = 0;
        return true;
    default:
        return false;
    }
}
