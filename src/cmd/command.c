/* COMMAND [COUNT | LIST | INFO | DOCS | GETKEYS | GETKEYSANDFLAGS | HELP], in Redis 7's
 * shapes (sets and maps in RESP3).
 *
 * Every definition carries first/last/step; from them COMMAND INFO derives one "range"
 * key specification (flags "RW" for writes, "RO access" as most of Redis's readers
 * have) so that clients reading key specs find the keys where the runtime routes by
 * them. A key spec with numkeys adds Redis's "keynum" spec (SINTERCARD, LMPOP, ZMPOP,
 * ZUNION..., the sources of the *STORE variants), with the flags Redis gives them:
 * a destination before the count is "OW update", popped keys "RW access delete", the
 * others "RO access"; such commands are "movablekeys". SORT / SORT_RO report Redis's
 * two "unknown" specs (BY/GET patterns, STORE) and GETKEYS finds their STORE key.
 * Tips and subcommands are not described; internal commands ("__info", ...) do not
 * exist for COMMAND. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/glob.h"
#include "cmd/cmd.h"
#include "cmd/server.h"

static const struct cmd_def *public_def(const rt_str *name)
{
    const struct cmd_def *d = cmd_lookup(name->ptr, name->len);
    return d && !(d->rt.flags & RT_CMD_INTERNAL) ? d : NULL;
}

static bool is_sort(const struct cmd_def *d)
{
    return strcmp(d->name, "sort") == 0 || strcmp(d->name, "sort_ro") == 0;
}

/* Whether the command's keys depend on its arguments (Redis's "movablekeys"). */
static bool movable(const struct cmd_def *d) { return d->rt.keys.numkeys > 0 || is_sort(d); }

static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* A space-separated word list as a set of status strings, plus `extra` when given and
 * not in the list already. */
static void reply_words_extra(struct buf *b, const char *list, const char *extra, int proto)
{
    if (extra && has_word(list, extra))
        extra = NULL;
    int64_t n = extra != NULL;
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        n++;
        while (*p && *p != ' ')
            p++;
    }
    resp_set(b, n, proto);
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) {
            buf_putc(b, '+');
            buf_append(b, p, (size_t)(e - p));
            buf_append(b, "\r\n", 2);
        }
        p = e;
    }
    if (extra)
        resp_simple(b, extra);
}

static void reply_words(struct buf *b, const char *list, int proto)
{
    reply_words_extra(b, list, NULL, proto);
}

/* The access flags of a key: from the range part of the key spec or its keynum part. */
enum key_flags { KF_RW, KF_RO, KF_OW, KF_RW_DELETE, KF_NOT_KEY };

/* Shard channels (SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE) sit where keys do, for cluster
 * routing, but are not keys: Redis flags them not_key and GETKEYS skips them. */
static bool channels_not_keys(const struct cmd_def *d) { return has_word(d->flags, "pubsub"); }

static enum key_flags key_flags_of(const struct cmd_def *d, bool from_range)
{
    if (channels_not_keys(d))
        return KF_NOT_KEY;
    if (is_sort(d))
        return from_range ? KF_RO : KF_OW;
    if (d->rt.keys.numkeys > 0) {
        if (from_range)
            return KF_OW; /* the destination of ZUNIONSTORE and friends */
        return (d->rt.flags & RT_CMD_WRITE) && d->rt.keys.first <= 0 ? KF_RW_DELETE : KF_RO;
    }
    return d->rt.flags & RT_CMD_WRITE ? KF_RW : KF_RO;
}

static void reply_key_flags(struct buf *b, enum key_flags f, int proto)
{
    static const char *const words[][3] = {
        [KF_RW] = {"RW"}, [KF_RO] = {"RO", "access"}, [KF_OW] = {"OW", "update"},
        [KF_RW_DELETE] = {"RW", "access", "delete"}, [KF_NOT_KEY] = {"not_key"},
    };
    int n = 0;
    while (n < 3 && words[f][n])
        n++;
    resp_set(b, n, proto);
    for (int i = 0; i < n; i++)
        resp_simple(b, words[f][i]);
}

/* One key spec: the key search starts at argument `index` and takes keys up to
 * `lastkey` (relative; negative counts from the end) every `keystep`. */
/* The part both forms share: flags, begin_search at `index`, and find_keys of `type`
 * up to its spec map of three entries (which the caller writes). */
static void reply_spec_head(struct buf *b, const struct cmd_def *d, bool range, int index,
                            int proto)
{
    resp_map(b, 3, proto);
    resp_bulk_cstr(b, "flags");
    reply_key_flags(b, key_flags_of(d, range), proto);
    resp_bulk_cstr(b, "begin_search");
    resp_map(b, 2, proto);
    resp_bulk_cstr(b, "type");
    resp_bulk_cstr(b, "index");
    resp_bulk_cstr(b, "spec");
    resp_map(b, 1, proto);
    resp_bulk_cstr(b, "index");
    resp_int(b, index);
    resp_bulk_cstr(b, "find_keys");
    resp_map(b, 2, proto);
    resp_bulk_cstr(b, "type");
    resp_bulk_cstr(b, range ? "range" : "keynum");
    resp_bulk_cstr(b, "spec");
    resp_map(b, 3, proto);
}

static void reply_keyspec(struct buf *b, const struct cmd_def *d, int index, int lastkey,
                          int keystep, int proto)
{
    reply_spec_head(b, d, true, index, proto);
    resp_bulk_cstr(b, "lastkey");
    resp_int(b, lastkey);
    resp_bulk_cstr(b, "keystep");
    resp_int(b, keystep);
    resp_bulk_cstr(b, "limit");
    resp_int(b, 0);
}

/* The keynum spec: the count at argument `index`, the keys right after it. */
static void reply_keynum_spec(struct buf *b, const struct cmd_def *d, int index, int proto)
{
    reply_spec_head(b, d, false, index, proto);
    resp_bulk_cstr(b, "keynumidx");
    resp_int(b, 0);
    resp_bulk_cstr(b, "firstkey");
    resp_int(b, 1);
    resp_bulk_cstr(b, "keystep");
    resp_int(b, 1);
}

/* SORT's keys that only its arguments' contents reveal, as Redis describes them. */
static void reply_unknown_spec(struct buf *b, const char *notes, enum key_flags f, int proto)
{
    resp_map(b, 4, proto);
    resp_bulk_cstr(b, "notes");
    resp_bulk_cstr(b, notes);
    resp_bulk_cstr(b, "flags");
    reply_key_flags(b, f, proto);
    static const char *const parts[] = {"begin_search", "find_keys"};
    for (int i = 0; i < 2; i++) {
        resp_bulk_cstr(b, parts[i]);
        resp_map(b, 2, proto);
        resp_bulk_cstr(b, "type");
        resp_bulk_cstr(b, "unknown");
        resp_bulk_cstr(b, "spec");
        resp_map(b, 0, proto);
    }
}

/* As Redis describes them: keys at fixed positions (GET, RENAME) get one spec each;
 * a run to the end of the arguments (MGET, MSET) gets one range spec; then the keynum
 * spec, or SORT's unknown ones. */
static void reply_keyspecs(struct buf *b, const struct cmd_def *d, int proto)
{
    const struct rt_keyspec *k = &d->rt.keys;
    int step = k->step > 0 ? k->step : 1;
    int64_t nrange = k->first <= 0 ? 0 : k->last < 0 ? 1 : (k->last - k->first) / step + 1;
    int64_t extra = k->numkeys > 0;
    bool sort = is_sort(d), sort_ro = sort && strcmp(d->name, "sort_ro") == 0;
    if (sort)
        extra = sort_ro ? 1 : 2;
    resp_set(b, nrange + extra, proto);
    if (k->first > 0 && k->last < 0)
        reply_keyspec(b, d, k->first, k->last, k->step, proto);
    else if (k->first > 0)
        for (int i = k->first; i <= k->last; i += step)
            reply_keyspec(b, d, i, 0, 1, proto);
    if (k->numkeys > 0)
        reply_keynum_spec(b, d, k->numkeys, proto);
    if (sort) {
        reply_unknown_spec(b,
                           "For the optional BY/GET keyword. It is marked 'unknown' because the "
                           "key names derive from the content of the key we sort",
                           KF_RO, proto);
        if (!sort_ro)
            reply_unknown_spec(b,
                               "For the optional STORE keyword. It is marked 'unknown' because "
                               "the keyword can appear anywhere in the argument array",
                               KF_OW, proto);
    }
}

static void reply_info(struct buf *b, const struct cmd_def *d, int proto)
{
    resp_array(b, 10);
    resp_bulk_cstr(b, d->name);
    resp_int(b, d->arity);
    reply_words_extra(b, d->flags, movable(d) ? "movablekeys" : NULL, proto);
    resp_int(b, d->rt.keys.first);
    resp_int(b, d->rt.keys.last);
    resp_int(b, d->rt.keys.step);
    reply_words(b, d->acl, proto);
    resp_set(b, 0, proto); /* tips */
    reply_keyspecs(b, d, proto);
    const struct cmd_def *sub;
    size_t n = cmd_subcommands(d, &sub);
    if (!n) {
        resp_set(b, 0, proto);
        return;
    }
    resp_array(b, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        reply_info(b, &sub[i], proto);
}

static void reply_docs(struct buf *b, const struct cmd_def *d, int proto)
{
    const char *keys[] = {"summary", "since", "group", "complexity"};
    const char *vals[] = {d->summary, d->since, d->group, d->complexity};
    const struct cmd_def *sub;
    size_t nsub = cmd_subcommands(d, &sub);
    int64_t n = nsub > 0;
    for (int i = 0; i < 4; i++)
        n += vals[i] && *vals[i];
    resp_bulk_cstr(b, d->name);
    resp_map(b, n, proto);
    for (int i = 0; i < 4; i++) {
        if (vals[i] && *vals[i]) {
            resp_bulk_cstr(b, keys[i]);
            resp_bulk_cstr(b, vals[i]);
        }
    }
    if (nsub) {
        resp_bulk_cstr(b, "subcommands");
        resp_map(b, (int64_t)nsub, proto);
        for (size_t i = 0; i < nsub; i++)
            reply_docs(b, &sub[i], proto);
    }
}

static void reply_all_info(struct rt_call *call)
{
    size_t n = cmd_count();
    resp_array(call->out, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        reply_info(call->out, cmd_at(i), call->proto);
}

static void command_count(struct rt_call *call) { resp_int(call->out, (int64_t)cmd_count()); }

static void command_info(struct rt_call *call)
{
    if (call->argc == 2) {
        reply_all_info(call);
        return;
    }
    resp_array(call->out, call->argc - 2);
    for (int i = 2; i < call->argc; i++) {
        const struct cmd_def *d = public_def(&call->argv[i]);
        if (d)
            reply_info(call->out, d, call->proto);
        else
            resp_null(call->out, call->proto);
    }
}

static void command_docs(struct rt_call *call)
{
    if (call->argc == 2) {
        size_t n = cmd_count();
        resp_map(call->out, (int64_t)n, call->proto);
        for (size_t i = 0; i < n; i++)
            reply_docs(call->out, cmd_at(i), call->proto);
        return;
    }
    int64_t found = 0;
    for (int i = 2; i < call->argc; i++)
        found += public_def(&call->argv[i]) != NULL;
    resp_map(call->out, found, call->proto);
    for (int i = 2; i < call->argc; i++) {
        const struct cmd_def *d = public_def(&call->argv[i]);
        if (d)
            reply_docs(call->out, d, call->proto);
    }
}

enum list_filter { NONE, MODULE, ACLCAT, PATTERN };

static bool list_keeps(const struct cmd_def *d, enum list_filter filter, const rt_str *arg)
{
    switch (filter) {
    case NONE: return true;
    case MODULE: return false; /* no modules */
    case ACLCAT:
        for (const char *p = d->acl; p && (p = strchr(p, '@')) != NULL; p++) {
            size_t wl = strcspn(p + 1, " ");
            if (wl == arg->len && strncasecmp(p + 1, arg->ptr, wl) == 0)
                return true;
        }
        return false;
    case PATTERN: return glob_match(arg->ptr, arg->len, d->name, strlen(d->name), true);
    }
    return false;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern], subcommands
 * by their full names as Redis lists them. */
static void command_list(struct rt_call *call)
{
    enum list_filter filter = NONE;
    const rt_str *arg = NULL;
    for (int i = 2; i < call->argc; i++) {
        int more = call->argc - 1 - i;
        if (arg_is(&call->argv[i], "filterby") && more == 2) {
            const rt_str *ft = &call->argv[i + 1];
            if (arg_is(ft, "module"))
                filter = MODULE;
            else if (arg_is(ft, "aclcat"))
                filter = ACLCAT;
            else if (arg_is(ft, "pattern"))
                filter = PATTERN;
            else {
                resp_error(call->out, ERR_SYNTAX);
                return;
            }
            arg = &call->argv[i + 2];
            i += 2;
        } else {
            resp_error(call->out, ERR_SYNTAX);
            return;
        }
    }
    size_t n = cmd_count();
    struct buf names = {0};
    int64_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cmd_def *sub;
        size_t nsub = cmd_subcommands(cmd_at(i), &sub);
        for (size_t k = 0; k <= nsub; k++) {
            const struct cmd_def *d = k ? &sub[k - 1] : cmd_at(i);
            if (list_keeps(d, filter, arg)) {
                resp_bulk_cstr(&names, d->name);
                count++;
            }
        }
    }
    resp_array(call->out, count);
    buf_append(call->out, names.data, names.len);
    buf_free(&names);
}

/* The definition a full command runs: a container's subcommand ("object|encoding")
 * when there is one, else the command itself. */
static const struct cmd_def *full_command_def(const rt_str *argv, int argc)
{
    const struct cmd_def *d = public_def(&argv[0]);
    if (!d || argc < 2 || argv[0].len + argv[1].len + 1 > 64)
        return d;
    char name[65];
    size_t n = 0;
    for (size_t i = 0; i < argv[0].len; i++)
        name[n++] = (char)tolower((unsigned char)argv[0].ptr[i]);
    name[n++] = '|';
    for (size_t i = 0; i < argv[1].len; i++)
        name[n++] = (char)tolower((unsigned char)argv[1].ptr[i]);
    const struct cmd_def *sub = cmd_lookup(name, n);
    return sub ? sub : d;
}

/* The count of a keynum spec as Redis's getkeys procs of those commands read it
 * (atoi: leading digits, 0 when none). */
static long keynum_count(const rt_str *a)
{
    char tmp[32];
    size_t n = a->len < sizeof tmp - 1 ? a->len : sizeof tmp - 1;
    memcpy(tmp, a->ptr, n);
    tmp[n] = '\0';
    return strtol(tmp, NULL, 10);
}

/* The positions of a command's keys in argv (*n of them; the caller frees), or NULL
 * after replying Redis's GETKEYS error. *d receives the definition. */
static int *command_keys(struct rt_call *call, const rt_str *argv, int argc,
                         const struct cmd_def **dp, int *n)
{
    const struct cmd_def *d = *dp = full_command_def(argv, argc);
    if (!d) {
        resp_error(call->out, "ERR Invalid command specified");
        return NULL;
    }
    const struct rt_keyspec *k = &d->rt.keys;
    if ((k->first <= 0 && k->numkeys <= 0) || channels_not_keys(d)) {
        resp_error(call->out, "ERR The command has no key arguments");
        return NULL;
    }
    if (d->arity >= 0 ? argc != d->arity : argc < -d->arity) {
        resp_error(call->out, "ERR Invalid number of arguments specified for command");
        return NULL;
    }
    int last = k->last >= 0 ? k->last : argc + k->last;
    long nk = 0;
    if (k->numkeys > 0 && k->numkeys < argc)
        nk = keynum_count(&argv[k->numkeys]);
    /* A keynum count must be from 1 to the arguments after it, or there are no keys. */
    bool bad_count = k->numkeys > 0 && (nk < 1 || nk > argc - k->numkeys - 1);
    if ((k->first > 0 && (last >= argc || last < k->first || k->first >= argc)) || bad_count) {
        resp_error(call->out, "ERR Invalid arguments specified for command");
        return NULL;
    }
    int *pos = malloc(((size_t)argc + 1) * sizeof *pos);
    if (!pos)
        abort();
    *n = 0;
    int step = k->step > 0 ? k->step : 1;
    for (int i = k->first; k->first > 0 && i <= last; i += step)
        pos[(*n)++] = i;
    for (long i = 0; i < nk; i++)
        pos[(*n)++] = k->numkeys + 1 + (int)i;
    if (!*n) {
        free(pos);
        resp_error(call->out, "ERR Invalid arguments specified for command");
        return NULL;
    }
    return pos;
}

/* SORT's STORE key, found as Redis's sortGetKeys does (the last STORE with an argument
 * after it, skipping LIMIT's two and GET's and BY's one): its position, or -1. */
static int sort_store_pos(const struct cmd_def *d, const rt_str *argv, int argc)
{
    if (strcmp(d->name, "sort") != 0)
        return -1;
    int pos = -1;
    for (int i = 2; i < argc; i++) {
        if (arg_is(&argv[i], "limit"))
            i += 2;
        else if (arg_is(&argv[i], "get") || arg_is(&argv[i], "by"))
            i += 1;
        else if (arg_is(&argv[i], "store") && i + 1 < argc)
            pos = i + 1;
    }
    return pos;
}

/* Whether key position i comes from the range part of the key spec. */
static bool in_range(const struct cmd_def *d, int i, int argc)
{
    const struct rt_keyspec *k = &d->rt.keys;
    if (k->first <= 0 || i < k->first)
        return false;
    int last = k->last >= 0 ? k->last : argc + k->last;
    int step = k->step > 0 ? k->step : 1;
    return i <= last && (i - k->first) % step == 0;
}

static void reply_getkey(struct rt_call *call, const rt_str *a, enum key_flags f, bool with_flags)
{
    if (with_flags) {
        resp_array(call->out, 2);
        resp_bulk(call->out, a->ptr, a->len);
        reply_key_flags(call->out, f, call->proto);
    } else {
        resp_bulk(call->out, a->ptr, a->len);
    }
}

static void getkeys(struct rt_call *call, bool with_flags)
{
    const rt_str *argv = call->argv + 2;
    int argc = call->argc - 2;
    const struct cmd_def *d;
    int n;
    int *pos = command_keys(call, argv, argc, &d, &n);
    if (!pos)
        return;
    int store = sort_store_pos(d, argv, argc);
    resp_array(call->out, n + (store >= 0));
    for (int k = 0; k < n; k++)
        reply_getkey(call, &argv[pos[k]], key_flags_of(d, in_range(d, pos[k], argc)),
                     with_flags);
    if (store >= 0)
        reply_getkey(call, &argv[store], KF_OW, with_flags);
    free(pos);
}

static void command_getkeys(struct rt_call *call) { getkeys(call, false); }
static void command_getkeysandflags(struct rt_call *call) { getkeys(call, true); }

static void command_help(struct rt_call *call)
{
    static const char *const help[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
        NULL,
    };
    cmd_reply_help(call->out, help);
}

void cmd_command(struct rt_call *call) { reply_all_info(call); }

#define COMMAND_FLAGS "loading stale", "@slow @connection"
const struct cmd_def cmd_command_subs[] = {
    {"command|count", 2, COMMAND_FLAGS, CMD_ORIGIN(command_count), "server", "2.8.13",
     "Get total number of Redis commands", "O(1)"},
    {"command|info", -2, COMMAND_FLAGS, CMD_ORIGIN(command_info), "server", "2.8.13",
     "Get array of specific Redis command details, or all when no argument is given.",
     "O(N) where N is the number of commands to look up"},
    {"command|docs", -2, COMMAND_FLAGS, CMD_ORIGIN(command_docs), "server", "7.0.0",
     "Get array of specific Redis command documentation",
     "O(N) where N is the number of commands to look up"},
    {"command|list", -2, COMMAND_FLAGS, CMD_ORIGIN(command_list), "server", "7.0.0",
     "Get an array of Redis command names",
     "O(N) where N is the total number of Redis commands"},
    {"command|getkeys", -4, COMMAND_FLAGS, CMD_ORIGIN(command_getkeys), "server", "2.8.13",
     "Extract keys given a full Redis command",
     "O(N) where N is the number of arguments to the command"},
    {"command|getkeysandflags", -4, COMMAND_FLAGS, CMD_ORIGIN(command_getkeysandflags), "server",
     "7.0.0", "Extract keys and access flags given a full Redis command",
     "O(N) where N is the number of arguments to the command"},
    {"command|help", 2, COMMAND_FLAGS, CMD_ORIGIN(command_help), "server", "5.0.0",
     "Show helpful text about the different subcommands", "O(1)"},
    {NULL, 0, NULL, NULL, {0}, NULL, NULL, NULL, NULL},
};
