/* The object contract of sorted sets (object.h): free, len, each, dump, restore.
 *
 * Dump payload: varint count, then count times (varint length, member bytes, score as
 * 8 bytes little-endian IEEE 754), ascending by (score, member). Restore trusts nothing:
 * counts are checked against the bytes present, order must be strictly ascending, no
 * member may repeat and no score may be NaN. */
#include <math.h>
#include <string.h>

#include "store/zset.h"
#include "store/zskiplist.h"

void zset_obj_free(void *obj, enum obj_enc enc)
{
    struct zs z = {obj, enc};
    zs_free(&z);
}

size_t zset_obj_len(const void *obj, enum obj_enc enc)
{
    struct zs z = {(void *)obj, enc};
    return zs_len(&z);
}

void zset_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg)
{
    struct zs z = {(void *)obj, enc};
    struct zs_iter it;
    zs_iter_rank(&it, &z, 0, false);
    const char *m;
    size_t ml;
    double sc;
    while (zs_iter_next(&it, &m, &ml, &sc))
        if (!fn(arg, m, ml, NULL, 0, sc))
            return;
}

void zset_obj_dump(const void *obj, enum obj_enc enc, struct buf *out)
{
    struct zs z = {(void *)obj, enc};
    store_put_varint(out, zs_len(&z));
    struct zs_iter it;
    zs_iter_rank(&it, &z, 0, false);
    const char *m;
    size_t ml;
    double sc;
    while (zs_iter_next(&it, &m, &ml, &sc)) {
        store_put_bytes(out, m, ml);
        uint64_t bits;
        memcpy(&bits, &sc, 8);
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)(bits >> (8 * i));
        buf_append(out, (const char *)b, 8);
    }
}

void *zset_obj_restore(const char *p, size_t len, enum obj_enc *enc)
{
    const char *end = p + len;
    uint64_t count;
    if (!store_get_varint(&p, end, &count) || count == 0 || count > len / 9)
        return NULL; /* each member takes at least 9 bytes; an empty zset never exists */
    struct zs z;
    /* A listpack stays one only while small (its checks are linear per member). */
    if (*enc == OBJ_LISTPACK && count <= (uint64_t)obj_limit(LIM_ZSET_LP_ENTRIES) &&
        count <= 1024)
        z = zs_create(0, 0);
    else if (*enc == OBJ_LISTPACK || *enc == OBJ_SKIPLIST)
        z = (struct zs){zsl_new((size_t)count), OBJ_SKIPLIST};
    else
        return NULL;
    const char *pm = NULL;
    size_t pl = 0;
    double ps = 0;
    for (uint64_t i = 0; i < count; i++) {
        const char *m;
        size_t ml;
        if (!store_get_bytes(&p, end, &m, &ml) || ml > UINT32_MAX || end - p < 8)
            goto bad;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++)
            bits |= (uint64_t)(unsigned char)p[k] << (8 * k);
        p += 8;
        double sc;
        memcpy(&sc, &bits, 8);
        /* Ascending (score, member) order, no NaN, no repeated member. */
        if (isnan(sc) || (i > 0 && zsl_cmp(ps, pm, pl, sc, m, ml) >= 0))
            goto bad;
        double old;
        if (zs_score(&z, m, ml, &old))
            goto bad;
        zs_add(&z, m, ml, sc, 0, NULL);
        pm = m;
        pl = ml;
        ps = sc;
    }
    if (p != end)
        goto bad;
    *enc = z.enc;
    return z.obj;
bad:
    zs_free(&z);
    return NULL;
}
