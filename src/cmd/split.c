/* Splitting multi-key commands over their owner shards, and reducing the replies.
 *
 * split_keys_view is a counting sort of the key groups by owner: one pass to find each
 * group's shard, one to lay every part's argv out in a single array (each part a
 * contiguous run, sized by its actual count), then the parts are queued in ascending
 * shard order. The arguments point into the command's own argv; rt_txn_part copies
 * them, so the array is freed at once. */
#include "cmd/split.h"

#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "proto/resp.h"

unsigned split_keys_view(struct rt_txn *t, const char *verb, int first, int group, int take,
                         unsigned *map)
{
    int argc;
    const rt_str *argv = rt_txn_argv(t, &argc);
    struct rt_shard *sh = rt_txn_shard(t);
    if (group < 1 || take < 1 || take > group || first < 0 || first >= argc)
        return 0;
    size_t ngroups = (size_t)(argc - first) / (size_t)group;
    if (!ngroups)
        return 0;

    unsigned char *owner = cmd_xmalloc(ngroups);
    size_t count[RT_MAX_SHARDS] = {0};
    for (size_t g = 0; g < ngroups; g++) {
        const rt_str *key = &argv[first + g * (size_t)group];
        unsigned s = rt_key_shard(sh, key->ptr, key->len);
        owner[g] = (unsigned char)s;
        count[s]++;
    }

    /* Each part: the verb, then `take` arguments per group it owns. */
    size_t start[RT_MAX_SHARDS], fill[RT_MAX_SHARDS];
    unsigned part_of[RT_MAX_SHARDS];
    size_t total = 0;
    unsigned nparts = 0;
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++) {
        start[s] = fill[s] = total;
        if (count[s]) {
            part_of[s] = nparts++;
            total += 1 + count[s] * (size_t)take;
        }
    }
    rt_str *parts = cmd_xmalloc(total * sizeof *parts);
    rt_str v = {verb, strlen(verb)};
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++)
        if (count[s])
            parts[fill[s]++] = v;
    for (size_t g = 0; g < ngroups; g++) {
        unsigned s = owner[g];
        memcpy(&parts[fill[s]], &argv[first + g * (size_t)group], (size_t)take * sizeof *parts);
        fill[s] += (size_t)take;
        if (map)
            map[g] = part_of[s];
    }
    for (unsigned s = 0; s < RT_MAX_SHARDS; s++)
        if (count[s])
            rt_txn_part(t, s, (int)(fill[s] - start[s]), &parts[start[s]]);
    free(parts);
    free(owner);
    return nparts;
}

unsigned split_keys(struct rt_txn *t, const char *verb, int first, int group, unsigned *map)
{
    return split_keys_view(t, verb, first, group, group, map);
}

static const char internal_error[] = "-ERR internal error\r\n";

/* Finish with part i's reply when it is an error (the bytes as the part sent them);
 * returns true when it did. */
static bool finish_if_error(struct rt_txn *t, rt_str r)
{
    if (r.len && r.ptr[0] == '-') {
        rt_txn_finish(t, r.ptr, r.len);
        return true;
    }
    return false;
}

bool split_sum(struct rt_txn *t, int64_t *sum)
{
    unsigned n = rt_txn_nresults(t);
    int64_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        rt_str r = rt_txn_result(t, i);
        if (finish_if_error(t, r))
            return false;
        size_t pos = 0;
        struct resp_val v;
        if (!resp_read(r.ptr, r.len, &pos, &v) || v.type != RESP_INT) {
            rt_txn_finish(t, internal_error, sizeof internal_error - 1);
            return false;
        }
        if (__builtin_add_overflow(total, v.n, &total)) {
            rt_txn_finish(t, internal_error, sizeof internal_error - 1);
            return false;
        }
    }
    *sum = total;
    return true;
}

bool split_all_ok(struct rt_txn *t)
{
    unsigned n = rt_txn_nresults(t);
    for (unsigned i = 0; i < n; i++) {
        rt_str r = rt_txn_result(t, i);
        if (finish_if_error(t, r))
            return false;
        if (r.len != 5 || memcmp(r.ptr, "+OK\r\n", 5) != 0) {
            rt_txn_finish(t, internal_error, sizeof internal_error - 1);
            return false;
        }
    }
    return true;
}
