/* The list family: pushes, pops, reads and edits of one key, and the family's table
 * (the commands whose keys may span shards, LMOVE / RPOPLPUSH / LMPOP, live in
 * lists_move.c).
 *
 * Replies, errors and their order follow Redis's t_list.c: which arguments are parsed
 * before the key is looked up decides which error a client sees when several apply.
 * Reads use read lookups (keyspace hits/misses), writes use write lookups. The list
 * object API is store/list.h; encodings convert there. */
#include "cmd/lists.h"

#include <limits.h>

#include "base/numfmt.h"

/* ---- Pushes ---- */

/* LPUSH / RPUSH / LPUSHX / RPUSHX (Redis's pushGenericCommand): the conversion check
 * sees every element before the first is pushed. */
static void push_generic(struct rt_call *call, enum list_end where, bool xx)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    struct entry *e;
    if (key_typed(call, k, VT_LIST, true, &e) < 0)
        return;
    if (!e) {
        if (xx) {
            resp_int(call->out, 0);
            return;
        }
        e = list_create(cs->store, k->ptr, k->len);
    }
    size_t bytes = 0;
    for (int j = 2; j < call->argc; j++)
        bytes += call->argv[j].len;
    list_grow(e, bytes, (size_t)(call->argc - 2));
    for (int j = 2; j < call->argc; j++)
        list_push(e, where, call->argv[j].ptr, call->argv[j].len);
    resp_int(call->out, (int64_t)list_len(e));
    cmd_key_written(cs, k->ptr, k->len, where == LIST_HEAD ? "lpush" : "rpush");
}

static void lpush_exec(struct rt_call *call) { push_generic(call, LIST_HEAD, false); }
static void rpush_exec(struct rt_call *call) { push_generic(call, LIST_TAIL, false); }
static void lpushx_exec(struct rt_call *call) { push_generic(call, LIST_HEAD, true); }
static void rpushx_exec(struct rt_call *call) { push_generic(call, LIST_TAIL, true); }

/* ---- Pops ---- */

/* After elements were popped from e (Redis's listElementsRemoved): the pop event, and
 * the key deleted (with its "del" event) when the list is left empty. */
static void popped(struct cmd_shard *cs, const rt_str *k, struct entry *e, enum list_end where)
{
    cmd_key_written(cs, k->ptr, k->len, where == LIST_HEAD ? "lpop" : "rpop");
    if (list_len(e) == 0) {
        store_delete_entry(cs->store, e);
        cmd_key_written(cs, k->ptr, k->len, "del");
    }
}

/* LPOP / RPOP key [count]: without a count a bulk, with one an array (nil array for a
 * missing key, empty array for a count of 0). */
static void pop_generic(struct rt_call *call, enum list_end where)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    if (call->argc > 3) {
        resp_errorf(call->out, "ERR wrong number of arguments for '%s' command",
                    call->cmd->name);
        return;
    }
    bool hascount = call->argc == 3;
    int64_t count = 0;
    /* Redis's getPositiveLongFromObjectOrReply: one message for a negative count and
     * for one that is not an integer. */
    if (hascount && !arg_count(call, &call->argv[2], &count))
        return;
    struct entry *e;
    int r = key_typed(call, k, VT_LIST, true, &e);
    if (r < 0)
        return;
    if (!e) {
        if (hascount)
            resp_null_array(call->out, call->proto);
        else
            resp_null(call->out, call->proto);
        return;
    }
    if (hascount && count == 0) {
        resp_array(call->out, 0);
        return;
    }
    if (!hascount) {
        list_pop(e, where, 1, lists_reply_elem, call->out);
    } else {
        size_t len = list_len(e);
        size_t n = (uint64_t)count < len ? (size_t)count : len;
        resp_array(call->out, (int64_t)n);
        list_pop(e, where, n, lists_reply_elem, call->out);
    }
    popped(cs, k, e, where);
}

static void lpop_exec(struct rt_call *call) { pop_generic(call, LIST_HEAD); }
static void rpop_exec(struct rt_call *call) { pop_generic(call, LIST_TAIL); }

/* ---- Reads ---- */

static void llen_exec(struct rt_call *call)
{
    struct entry *e;
    if (key_typed(call, &call->argv[1], VT_LIST, false, &e) < 0)
        return;
    resp_int(call->out, e ? (int64_t)list_len(e) : 0);
}

/* LINDEX: the key is looked up before the index is parsed, as Redis. */
static void lindex_exec(struct rt_call *call)
{
    struct entry *e;
    int64_t index;
    int r = key_typed(call, &call->argv[1], VT_LIST, false, &e);
    if (r < 0)
        return;
    if (!e) {
        resp_null(call->out, call->proto);
        return;
    }
    if (!arg_i64(call, &call->argv[2], &index))
        return;
    if (!list_index(e, index, lists_reply_elem, call->out))
        resp_null(call->out, call->proto);
}

static void lrange_exec(struct rt_call *call)
{
    int64_t start, end;
    if (!arg_i64(call, &call->argv[2], &start) || !arg_i64(call, &call->argv[3], &end))
        return;
    struct entry *e;
    int r = key_typed(call, &call->argv[1], VT_LIST, false, &e);
    if (r < 0)
        return;
    size_t s, t;
    if (!e || !index_range(start, end, list_len(e), &s, &t)) {
        resp_array(call->out, 0);
        return;
    }
    resp_array(call->out, (int64_t)(t - s + 1));
    list_range(e, s, t - s + 1, false, lists_reply_elem, call->out);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
struct lpos_state {
    int64_t rank, count, matches, found;
    bool with_count;
    int64_t arraylen;
    struct buf *arr;
};

static bool lpos_match(void *arg, size_t index)
{
    struct lpos_state *st = arg;
    st->matches++;
    if (st->matches < st->rank)
        return true;
    if (!st->with_count) {
        st->found = (int64_t)index;
        return false;
    }
    st->arraylen++;
    resp_int(st->arr, (int64_t)index);
    return !(st->count && st->matches - st->rank + 1 >= st->count);
}

#define ERR_RANK_ZERO                                                                      \
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... " \
    "or use negative to start from the end of the list"

static void lpos_exec(struct rt_call *call)
{
    const rt_str *argv = call->argv;
    struct lpos_state st = {.rank = 1, .count = -1, .found = -1};
    int64_t maxlen = 0;
    for (int j = 3; j < call->argc; j++) {
        bool more = j < call->argc - 1;
        if (arg_is(&argv[j], "rank") && more) {
            j++;
            if (!arg_i64_range(call, &argv[j], -INT64_MAX, INT64_MAX, &st.rank))
                return;
            if (st.rank == 0) {
                resp_error(call->out, ERR_RANK_ZERO);
                return;
            }
        } else if (arg_is(&argv[j], "count") && more) {
            j++;
            if (!str_to_i64(argv[j].ptr, argv[j].len, &st.count) || st.count < 0) {
                resp_error(call->out, "ERR COUNT can't be negative");
                return;
            }
        } else if (arg_is(&argv[j], "maxlen") && more) {
            j++;
            if (!str_to_i64(argv[j].ptr, argv[j].len, &maxlen) || maxlen < 0) {
                resp_error(call->out, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            resp_error(call->out, ERR_SYNTAX);
            return;
        }
    }
    bool from_tail = st.rank < 0;
    if (from_tail)
        st.rank = -st.rank;
    st.with_count = st.count != -1;

    struct entry *e;
    int r = key_typed(call, &argv[1], VT_LIST, false, &e);
    if (r < 0)
        return;
    if (!e) {
        if (st.with_count)
            resp_array(call->out, 0);
        else
            resp_null(call->out, call->proto);
        return;
    }
    struct buf arr = {0};
    st.arr = &arr;
    list_find(e, argv[2].ptr, argv[2].len, from_tail, (size_t)maxlen, lpos_match, &st);
    if (st.with_count) {
        resp_array(call->out, st.arraylen);
        buf_append(call->out, arr.data, arr.len);
    } else if (st.found != -1) {
        resp_int(call->out, st.found);
    } else {
        resp_null(call->out, call->proto);
    }
    buf_free(&arr);
}

/* ---- Edits ---- */

/* LSET: the key, then the index; "no such key" for a missing key. */
static void lset_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1], *v = &call->argv[3];
    struct entry *e;
    int64_t index;
    int r = key_typed(call, k, VT_LIST, true, &e);
    if (r < 0)
        return;
    if (!e) {
        resp_error(call->out, ERR_NO_KEY);
        return;
    }
    if (!arg_i64(call, &call->argv[2], &index))
        return;
    if (!list_set(e, index, v->ptr, v->len)) {
        resp_error(call->out, "ERR index out of range");
        return;
    }
    resp_ok(call->out);
    cmd_key_written(cs, k->ptr, k->len, "lset");
}

/* LINSERT key BEFORE|AFTER pivot element: :length, :-1 without the pivot, :0 without
 * the key. */
static void linsert_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *argv = call->argv;
    bool after;
    if (arg_is(&argv[2], "after")) {
        after = true;
    } else if (arg_is(&argv[2], "before")) {
        after = false;
    } else {
        resp_error(call->out, ERR_SYNTAX);
        return;
    }
    struct entry *e;
    int r = key_typed(call, &argv[1], VT_LIST, true, &e);
    if (r < 0)
        return;
    if (!e) {
        resp_int(call->out, 0);
        return;
    }
    if (!list_insert(e, after, argv[3].ptr, argv[3].len, argv[4].ptr, argv[4].len)) {
        resp_int(call->out, -1);
        return;
    }
    cmd_key_written(cs, argv[1].ptr, argv[1].len, "linsert");
    resp_int(call->out, (int64_t)list_len(e));
}

/* LREM key count element */
static void lrem_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1], *v = &call->argv[3];
    int64_t count;
    if (!arg_i64(call, &call->argv[2], &count))
        return;
    struct entry *e;
    int r = key_typed(call, k, VT_LIST, true, &e);
    if (r < 0)
        return;
    if (!e) {
        resp_int(call->out, 0);
        return;
    }
    size_t removed = list_rem(e, count, v->ptr, v->len);
    if (removed)
        cmd_key_written(cs, k->ptr, k->len, "lrem");
    if (list_len(e) == 0) {
        store_delete_entry(cs->store, e);
        cmd_key_written(cs, k->ptr, k->len, "del");
    }
    resp_int(call->out, (int64_t)removed);
}

/* LTRIM key start stop: always +OK; the "ltrim" event even when nothing was removed. */
static void ltrim_exec(struct rt_call *call)
{
    struct cmd_shard *cs = cmd_shard(call);
    const rt_str *k = &call->argv[1];
    int64_t start, end;
    if (!arg_i64(call, &call->argv[2], &start) || !arg_i64(call, &call->argv[3], &end))
        return;
    struct entry *e;
    int r = key_typed(call, k, VT_LIST, true, &e);
    if (r < 0)
        return;
    if (!e) {
        resp_ok(call->out);
        return;
    }
    size_t llen = list_len(e), s, t;
    size_t ltrim = llen, rtrim = 0;
    if (index_range(start, end, llen, &s, &t)) {
        ltrim = s;
        rtrim = llen - t - 1;
    }
    list_trim(e, ltrim, rtrim);
    cmd_key_written(cs, k->ptr, k->len, "ltrim");
    if (list_len(e) == 0) {
        store_delete_entry(cs->store, e);
        cmd_key_written(cs, k->ptr, k->len, "del");
    }
    resp_ok(call->out);
}

/* ---- The table ---- */

#define KEYS_ONE {1, 1, 1, 0}
#define KEYS_TWO {1, 2, 1, 0}
#define KEYS_NUMKEYS {0, 0, 0, 1}
#define KEYS_ONE_INTERNAL {1, 1, 1, 0}

#define ROUTE_KEYS(nm, spec, ex, st) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = spec, .exec = ex, .step = st}
#define ROUTE_INTERNAL(nm, ex) \
    {.name = nm, .route = RT_ROUTE_KEYS, .keys = KEYS_ONE, .flags = RT_CMD_INTERNAL, .exec = ex}

#define LIST_WRITE_FAST "@write @list @fast"
#define LIST_WRITE_SLOW "@write @list @slow"
#define LIST_READ_SLOW "@read @list @slow"
#define PUSH_COMPLEXITY                                                                   \
    "O(1) for each element added, so O(N) to add N elements when the command is called " \
    "with multiple arguments."

const struct cmd_def cmd_lists_table[] = {
    {"lpush", -3, "write denyoom fast", LIST_WRITE_FAST,
     ROUTE_KEYS("lpush", KEYS_ONE, lpush_exec, NULL), "list", "1.0.0",
     "Prepend one or multiple elements to a list", PUSH_COMPLEXITY},
    {"rpush", -3, "write denyoom fast", LIST_WRITE_FAST,
     ROUTE_KEYS("rpush", KEYS_ONE, rpush_exec, NULL), "list", "1.0.0",
     "Append one or multiple elements to a list", PUSH_COMPLEXITY},
    {"lpushx", -3, "write denyoom fast", LIST_WRITE_FAST,
     ROUTE_KEYS("lpushx", KEYS_ONE, lpushx_exec, NULL), "list", "2.2.0",
     "Prepend an element to a list, only if the list exists", PUSH_COMPLEXITY},
    {"rpushx", -3, "write denyoom fast", LIST_WRITE_FAST,
     ROUTE_KEYS("rpushx", KEYS_ONE, rpushx_exec, NULL), "list", "2.2.0",
     "Append an element to a list, only if the list exists", PUSH_COMPLEXITY},
    {"lpop", -2, "write fast", LIST_WRITE_FAST, ROUTE_KEYS("lpop", KEYS_ONE, lpop_exec, NULL),
     "list", "1.0.0", "Remove and get the first elements in a list",
     "O(N) where N is the number of elements returned"},
    {"rpop", -2, "write fast", LIST_WRITE_FAST, ROUTE_KEYS("rpop", KEYS_ONE, rpop_exec, NULL),
     "list", "1.0.0", "Remove and get the last elements in a list",
     "O(N) where N is the number of elements returned"},
    {"llen", 2, "readonly fast", "@read @list @fast",
     ROUTE_KEYS("llen", KEYS_ONE, llen_exec, NULL), "list", "1.0.0", "Get the length of a list",
     "O(1)"},
    {"lrange", 4, "readonly", LIST_READ_SLOW, ROUTE_KEYS("lrange", KEYS_ONE, lrange_exec, NULL),
     "list", "1.0.0", "Get a range of elements from a list",
     "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest "
     "end (HEAD or TAIL) for large lists; and N is the number of elements in the specified "
     "range."},
    {"lindex", 3, "readonly", LIST_READ_SLOW, ROUTE_KEYS("lindex", KEYS_ONE, lindex_exec, NULL),
     "list", "1.0.0", "Get an element from a list by its index",
     "O(N) where N is the number of elements to traverse to get to the element at index. This "
     "makes asking for the first or the last element of the list O(1)."},
    {"lset", 4, "write denyoom", LIST_WRITE_SLOW, ROUTE_KEYS("lset", KEYS_ONE, lset_exec, NULL),
     "list", "1.0.0", "Set the value of an element in a list by its index",
     "O(N) where N is the length of the list. Setting either the first or the last element "
     "of the list is O(1)."},
    {"linsert", 5, "write denyoom", LIST_WRITE_SLOW,
     ROUTE_KEYS("linsert", KEYS_ONE, linsert_exec, NULL), "list", "2.2.0",
     "Insert an element before or after another element in a list",
     "O(N) where N is the number of elements to traverse before seeing the value pivot. This "
     "means that inserting somewhere on the left end on the list (head) can be considered "
     "O(1) and inserting somewhere on the right end (tail) is O(N)."},
    {"lrem", 4, "write", LIST_WRITE_SLOW, ROUTE_KEYS("lrem", KEYS_ONE, lrem_exec, NULL), "list",
     "1.0.0", "Remove elements from a list",
     "O(N+M) where N is the length of the list and M is the number of elements removed."},
    {"ltrim", 4, "write", LIST_WRITE_SLOW, ROUTE_KEYS("ltrim", KEYS_ONE, ltrim_exec, NULL),
     "list", "1.0.0", "Trim a list to the specified range",
     "O(N) where N is the number of elements to be removed by the operation."},
    {"lpos", -3, "readonly", LIST_READ_SLOW, ROUTE_KEYS("lpos", KEYS_ONE, lpos_exec, NULL),
     "list", "6.0.6", "Return the index of matching elements on a list",
     "O(N) where N is the number of elements in the list, for the average case. When "
     "searching for elements near the head or the tail of the list, or when the MAXLEN "
     "option is provided, the command may run in constant time."},
    {"lmpop", -4, "write movablekeys", LIST_WRITE_SLOW,
     ROUTE_KEYS("lmpop", KEYS_NUMKEYS, lists_lmpop_exec, lists_lmpop_step), "list", "7.0.0",
     "Pop elements from a list",
     "O(N+M) where N is the number of provided keys and M is the number of elements "
     "returned."},
    {"rpoplpush", 3, "write denyoom", LIST_WRITE_SLOW,
     ROUTE_KEYS("rpoplpush", KEYS_TWO, lists_rpoplpush_exec, lists_rpoplpush_step), "list",
     "1.2.0", "Remove the last element in a list, prepend it to another list and return it",
     "O(1)"},
    {"lmove", 5, "write denyoom", LIST_WRITE_SLOW,
     ROUTE_KEYS("lmove", KEYS_TWO, lists_lmove_exec, lists_lmove_step), "list", "6.2.0",
     "Pop an element from a list, push it to another list and return it", "O(1)"},

    /* Parts of multi-shard steps (lists_move.c). */
    {"__ltype", 3, "readonly", "@read @list", ROUTE_INTERNAL("__ltype", lists_itype_exec),
     "list", "", "", ""},
    {"__lpop", 4, "write", "@write @list", ROUTE_INTERNAL("__lpop", lists_ipop_exec), "list",
     "", "", ""},
    {"__lpush", 4, "write", "@write @list", ROUTE_INTERNAL("__lpush", lists_ipush_exec),
     "list", "", "", ""},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
