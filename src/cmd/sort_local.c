/* SORT / SORT_RO on one shard: the whole command where every key it touches lives
 * (__sort, and SORT itself when the step sends it there), the internal parts of the
 * multi-shard step (sort.h), and the command table. */
#include <stdlib.h>
#include <string.h>

#include "cmd/effect.h"
#include "cmd/server.h"
#include "cmd/sort.h"
#include "store/hash.h"
#include "store/list.h"
#include "store/zset.h"

/* ---- One shard ---- */

static bool load_elem(void *arg, const char *s, size_t len, const char *val, size_t vlen,
                      double score)
{
    (void)val, (void)vlen, (void)score;
    sort_job_add(arg, s, len);
    return true;
}

/* Load the sort key's elements; false after replying WRONGTYPE. */
static bool load_key(struct cmd_shard *cs, struct sort_job *j, struct buf *out)
{
    const rt_str *k = j->o.key;
    struct entry *e = store_find(cs->store, k->ptr, k->len, true);
    store_count_lookup(cs->store, k->ptr, k->len, e != NULL);
    j->type = 0;
    if (!e)
        return true;
    enum val_type t = entry_type(e);
    if (t != VT_LIST && t != VT_SET && t != VT_ZSET) {
        resp_error(out, ERR_WRONGTYPE);
        return false;
    }
    if (t == VT_ZSET && entry_obj_enc(e) == OBJ_LISTPACK) {
        /* Redis converts a sorted set to a skiplist before sorting it (SORT_RO too). */
        struct zs z = zs_of(e);
        zs_to_skiplist(&z);
        zs_put(e, &z);
    }
    const void *obj = entry_obj(e);
    enum obj_enc enc = entry_obj_enc(e);
    if (t == VT_LIST)
        list_obj_each(obj, enc, load_elem, j);
    else if (t == VT_SET)
        set_obj_each(obj, enc, load_elem, j);
    else
        zset_obj_each(obj, enc, load_elem, j);
    j->type = (int)t;
    return true;
}

/* A pattern key's value: a string, or a hash's field. */
static bool read_value(struct store *s, const char *key, size_t klen, const char *field,
                       size_t flen, bool hash, struct buf *tmp)
{
    struct entry *e = store_find(s, key, klen, true);
    store_count_lookup(s, key, klen, e != NULL);
    if (!e)
        return false;
    tmp->len = 0;
    if (hash) {
        if (entry_type(e) != VT_HASH)
            return false;
        struct hash_val h = hash_of(e);
        struct hash_str v;
        if (!hash_get(&h, field, flen, &v))
            return false;
        buf_append(tmp, v.s, v.len);
        return true;
    }
    if (entry_type(e) != VT_STRING)
        return false;
    char ibuf[24];
    size_t len;
    const char *p = entry_str(e, ibuf, &len);
    buf_append(tmp, p, len);
    return true;
}

static void resolve_local(struct store *s, struct sort_job *j)
{
    struct buf tmp = {0};
    for (size_t i = 0; i < j->nlk; i++) {
        struct sort_lk *l = &j->lk[i];
        if (l->kind != LK_KEY)
            continue;
        bool found = read_value(s, j->lk_bytes.data + l->koff, l->klen,
                                j->lk_bytes.data + l->foff, l->flen, l->hash, &tmp);
        sort_lk_set(j, i, found, tmp.data, tmp.len);
    }
    buf_free(&tmp);
}


/* Make dst the list of items (or delete it when there are none); returns the count.
 * The log gets the result (DEL, then RPUSH of the items) rather than the SORT: its order
 * may depend on a set's iteration order, which differs from one run to the next. */
static int64_t store_list(struct cmd_shard *cs, const rt_str *dst, const rt_str *items, size_t n)
{
    if (!n) {
        if (store_delete(cs->store, dst->ptr, dst->len)) {
            cmd_key_written(cs, dst->ptr, dst->len, "del");
            effect_log_key(cs, "DEL", dst);
        }
        return 0;
    }
    /* Replaces an existing dst in place, as Redis's setKey (no "new" keyspace event). */
    struct entry *e = list_create(cs->store, dst->ptr, dst->len);
    for (size_t i = 0; i < n; i++) {
        list_grow(e, items[i].len, 1);
        list_push(e, LIST_TAIL, items[i].ptr, items[i].len);
    }
    cmd_key_written(cs, dst->ptr, dst->len, "sortstore");
    effect_log_key(cs, "DEL", dst);
    struct effect fx;
    rt_str head[2] = {effect_word("RPUSH"), *dst};
    effect_begin(&fx, cs, 2, head);
    for (size_t i = 0; i < n; i++)
        effect_item(&fx, items[i].ptr, items[i].len);
    effect_end(&fx);
    return (int64_t)n;
}

/* The whole command on the shard that owns every key it touches. */
static void sort_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    struct sort_job j = {0};
    const char *err = sort_parse(call->argv, call->argc, arg_is(&call->argv[0], "sort_ro"), &j.o);
    if (err) {
        resp_error(call->out, err);
        goto done;
    }
    if (!load_key(cs, &j, call->out))
        goto done;
    sort_job_loaded(&j);
    if (sort_by_round(&j))
        resolve_local(cs->store, &j);
    sort_by_apply(&j);
    if (j.conv_error) {
        resp_error(call->out, ERR_SORT_CONV);
        goto done;
    }
    if (sort_get_round(&j))
        resolve_local(cs->store, &j);
    if (!j.o.store) {
        sort_reply(&j, call->out, call->proto);
        goto done;
    }
    size_t n = sort_output_len(&j);
    struct sort_items it = {cmd_xmalloc(n * sizeof(rt_str)), 0};
    sort_output(&j, sort_items_collect, &it);
    resp_int(call->out, store_list(cs, j.o.store, it.v, it.n));
    free(it.v);
done:
    sort_job_free(&j);
}

/* ---- Parts ---- */

/* __sortread key */
static void isortread_exec(struct rt_call *call)
{
    struct sort_job j = {0};
    j.o.key = &call->argv[1];
    if (load_key(cmd_shard(call), &j, call->out)) {
        resp_array(call->out, (int64_t)j.n + 1);
        resp_int(call->out, j.type);
        for (size_t i = 0; i < j.n; i++)
            resp_bulk(call->out, j.elems.data + j.v[i].off, j.v[i].len);
    }
    sort_job_free(&j);
}

/* __sortget key field [key field ...] */
static void isortget_exec(struct rt_call *call)
{
    if (!(call->argc & 1)) {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct store *s = cmd_shard(call)->store;
    struct buf tmp = {0};
    resp_array(call->out, (call->argc - 1) / 2);
    for (int i = 1; i + 1 < call->argc; i += 2) {
        const rt_str *k = &call->argv[i], *f = &call->argv[i + 1];
        if (read_value(s, k->ptr, k->len, f->ptr, f->len, f->len > 0, &tmp))
            resp_bulk(call->out, tmp.data, tmp.len);
        else
            resp_null(call->out, 2);
    }
    buf_free(&tmp);
}

/* __sortstore dst [elem ...] */
static void isortstore_exec(struct rt_call *call)
{
    resp_int(call->out, store_list(cmd_shard(call), &call->argv[1], call->argv + 2,
                                   (size_t)(call->argc - 2)));
}

#define SORT_SUMMARY "Sort the elements in a list, set or sorted set"
#define SORT_COMPLEXITY                                                                       \
    "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the " \
    "number of returned elements. When the elements are not sorted, complexity is O(N)."
#define SORT_RT(nm) \
    {.name = nm, .route = RT_ROUTE_PLAN, .keys = {1, 1, 1, 0}, .exec = sort_exec, .step = sort_step}
#define SORT_PART(nm, spec, fl, ex) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .flags = RT_CMD_INTERNAL | (fl), .exec = ex}

const struct cmd_def cmd_sort_table[] = {
    {"sort", -2, "write denyoom movablekeys", "@write @set @sortedset @list @slow @dangerous",
     SORT_RT("sort"), "generic", "1.0.0", SORT_SUMMARY, SORT_COMPLEXITY},
    {"sort_ro", -2, "readonly movablekeys", "@read @set @sortedset @list @slow @dangerous",
     SORT_RT("sort_ro"), "generic", "7.0.0", SORT_SUMMARY ". Read-only variant of SORT.",
     SORT_COMPLEXITY},
    {"__sort", -2, "write", "@write", SORT_PART("__sort", ((struct rt_keyspec){1, 1, 1, 0}),
                                                RT_CMD_WRITE, sort_exec),
     "generic", "", "", ""},
    {"__sortread", 2, "readonly", "@read",
     SORT_PART("__sortread", ((struct rt_keyspec){1, 1, 1, 0}), 0, isortread_exec), "generic",
     "", "", ""},
    {"__sortget", -3, "readonly", "@read",
     SORT_PART("__sortget", ((struct rt_keyspec){1, -1, 2, 0}), 0, isortget_exec), "generic",
     "", "", ""},
    {"__sortstore", -2, "write", "@write",
     SORT_PART("__sortstore", ((struct rt_keyspec){1, 1, 1, 0}), RT_CMD_WRITE, isortstore_exec),
     "generic", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
