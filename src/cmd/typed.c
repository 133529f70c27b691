/* Typed key lookup and argument parsing shared by the aggregate families. */
#include "cmd/typed.h"

#include "base/numfmt.h"

int key_typed(struct rt_call *call, const rt_str *key, enum val_type t, bool write,
              struct entry **ep)
{
    struct store *s = cmd_shard(call)->store;
    struct entry *e = store_find(s, key->ptr, key->len, true);
    if (!write)
        store_count_lookup(s, e != NULL);
    *ep = e;
    if (!e)
        return 0;
    if (entry_type(e) != t) {
        resp_error(call->out, ERR_WRONGTYPE);
        *ep = NULL;
        return -1;
    }
    return 1;
}

bool arg_i64(struct rt_call *call, const rt_str *a, int64_t *v)
{
    if (str_to_i64(a->ptr, a->len, v))
        return true;
    resp_error(call->out, ERR_NOT_INT);
    return false;
}

bool arg_double(struct rt_call *call, const rt_str *a, double *v)
{
    if (str_to_double(a->ptr, a->len, v))
        return true;
    resp_error(call->out, ERR_NOT_FLOAT);
    return false;
}

bool arg_count(struct rt_call *call, const rt_str *a, int64_t *v)
{
    if (str_to_i64(a->ptr, a->len, v) && *v >= 0)
        return true;
    resp_error(call->out, "ERR value is out of range, must be positive");
    return false;
}
