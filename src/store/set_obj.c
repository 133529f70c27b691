/* The object contract of sets (object.h): free, len, each, dump, restore.
 *
 * Dump payload (after entry_dump's type and encoding bytes): varint member count, then
 * each member as a length-prefixed byte string, in the set's own order. Restore rebuilds
 * the dumped encoding exactly (no thresholds applied: the encoding is kept) and rejects
 * an empty set, a duplicate member, a non-integer in an intset, and trailing bytes. */
#include "store/set.h"

#include "base/numfmt.h"
#include "store/intset.h"
#include "store/listpack.h"

void set_obj_free(void *obj, enum obj_enc enc)
{
    struct set_val s = {obj, enc};
    set_free(&s);
}

size_t set_obj_len(const void *obj, enum obj_enc enc)
{
    struct set_val s = {(void *)obj, enc};
    return set_card(&s);
}

void set_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg)
{
    struct set_val s = {(void *)obj, enc};
    struct set_iter it;
    struct set_elem e;
    set_iter_init(&it, &s);
    while (set_iter_next(&it, &e))
        if (!fn(arg, e.s, e.len, NULL, 0, 0.0))
            break;
    set_iter_done(&it);
}

void set_obj_dump(const void *obj, enum obj_enc enc, struct buf *out)
{
    struct set_val s = {(void *)obj, enc};
    store_put_varint(out, set_card(&s));
    struct set_iter it;
    struct set_elem e;
    set_iter_init(&it, &s);
    while (set_iter_next(&it, &e))
        store_put_bytes(out, e.s, e.len);
    set_iter_done(&it);
}

void *set_obj_restore(const char *p, size_t len, enum obj_enc *enc)
{
    const char *end = p + len;
    uint64_t n;
    if (*enc != OBJ_INTSET && *enc != OBJ_LISTPACK && *enc != OBJ_HASHTABLE)
        return NULL;
    /* Every member takes at least its one-byte length: n is bounded by the payload. */
    if (!store_get_varint(&p, end, &n) || n == 0 || n > (uint64_t)(end - p))
        return NULL;
    struct set_val s = set_new(*enc, *enc == OBJ_HASHTABLE ? (size_t)n : 0);
    for (uint64_t i = 0; i < n; i++) {
        const char *m;
        size_t mlen;
        int64_t v;
        bool added;
        if (!store_get_bytes(&p, end, &m, &mlen))
            goto bad;
        switch (s.enc) {
        case OBJ_INTSET:
            if (!str_to_i64(m, mlen, &v))
                goto bad;
            s.o = intset_add(s.o, v, &added);
            break;
        case OBJ_LISTPACK:
            added = !set_has(&s, m, mlen);
            if (added) {
                if (lp_bytes(s.o) + mlen + 16 > LP_MAX_SAFETY_SIZE)
                    goto bad;
                s.o = lp_append(s.o, m, mlen);
            }
            break;
        default:
            added = fd_add(s.o, m, mlen, "", 0) != NULL;
            break;
        }
        if (!added)
            goto bad; /* a duplicate member: not a set */
    }
    if (p != end)
        goto bad;
    return s.o;
bad:
    set_free(&s);
    return NULL;
}
