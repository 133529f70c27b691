/* The key arguments of a command, from its key spec (rt.h struct rt_keyspec). */
#include <corekv/rt.h>

/* A keynum count as Redis accepts it for routing: a plain decimal in 1 .. max. */
static int keynum_count(const rt_str *a, int max)
{
    if (a->len == 0 || a->len > 10)
        return 0;
    long long v = 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->ptr[i] < '0' || a->ptr[i] > '9')
            return 0;
        v = v * 10 + (a->ptr[i] - '0');
    }
    return v >= 1 && v <= max ? (int)v : 0;
}

void rt_keys_begin(struct rt_keyiter *it, const struct rt_cmd *cmd, int argc,
                   const rt_str *argv)
{
    const struct rt_keyspec *k = &cmd->keys;
    int last = k->last < 0 ? argc + k->last : k->last;
    if (last >= argc)
        last = argc - 1;
    it->step = k->step < 1 ? 1 : k->step;
    it->i = k->first;
    it->last = k->first >= 1 ? last : 0;
    it->kn_next = it->kn_end = 0;
    if (k->numkeys > 0 && k->numkeys < argc) {
        int n = keynum_count(&argv[k->numkeys], argc - k->numkeys - 1);
        if (n) {
            it->kn_next = k->numkeys + 1;
            it->kn_end = it->kn_next + n;
        }
    }
}

int rt_keys_next(struct rt_keyiter *it)
{
    if (it->i >= 1 && it->i <= it->last) {
        int pos = it->i;
        it->i += it->step;
        return pos;
    }
    if (it->kn_next < it->kn_end)
        return it->kn_next++;
    return -1;
}
