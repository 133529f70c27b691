/* COMMAND [COUNT | LIST | INFO | DOCS | GETKEYS | GETKEYSANDFLAGS | HELP], in Redis 7's
 * shapes (sets and maps in RESP3).
 *
 * Every definition carries first/last/step; from them COMMAND INFO derives one "range"
 * key specification (flags "RW" for writes, "RO access" as most of Redis's readers
 * have) so that clients reading key specs find the keys where the runtime routes by
 * them. Tips and subcommands are not described; internal commands ("__info", ...) do
 * not exist for COMMAND. */
#include <ctype.h>
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

/* A space-separated word list as a set of status strings. */
static void reply_words(struct buf *b, const char *list, int proto)
{
    int64_t n = 0;
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
}

static void reply_key_flags(struct buf *b, const struct cmd_def *d, int proto)
{
    if (d->rt.flags & RT_CMD_WRITE) {
        resp_set(b, 1, proto);
        resp_simple(b, "RW");
    } else {
        resp_set(b, 2, proto);
        resp_simple(b, "RO");
        resp_simple(b, "access");
    }
}

/* One key spec: the key search starts at argument `index` and takes keys up to
 * `lastkey` (relative; negative counts from the end) every `keystep`. */
static void reply_keyspec(struct buf *b, const struct cmd_def *d, int index, int lastkey,
                          int keystep, int proto)
{
    resp_map(b, 3, proto);
    resp_bulk_cstr(b, "flags");
    reply_key_flags(b, d, proto);
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
    resp_bulk_cstr(b, "range");
    resp_bulk_cstr(b, "spec");
    resp_map(b, 3, proto);
    resp_bulk_cstr(b, "lastkey");
    resp_int(b, lastkey);
    resp_bulk_cstr(b, "keystep");
    resp_int(b, keystep);
    resp_bulk_cstr(b, "limit");
    resp_int(b, 0);
}

/* As Redis describes them: keys at fixed positions (GET, RENAME) get one spec each;
 * a run to the end of the arguments (MGET, MSET) gets one range spec. */
static void reply_keyspecs(struct buf *b, const struct cmd_def *d, int proto)
{
    const struct rt_keyspec *k = &d->rt.keys;
    if (k->first <= 0) {
        resp_set(b, 0, proto);
        return;
    }
    if (k->last < 0) {
        resp_set(b, 1, proto);
        reply_keyspec(b, d, k->first, k->last, k->step, proto);
        return;
    }
    int step = k->step > 0 ? k->step : 1;
    resp_set(b, (k->last - k->first) / step + 1, proto);
    for (int i = k->first; i <= k->last; i += step)
        reply_keyspec(b, d, i, 0, 1, proto);
}

static void reply_info(struct buf *b, const struct cmd_def *d, int proto)
{
    resp_array(b, 10);
    resp_bulk_cstr(b, d->name);
    resp_int(b, d->arity);
    reply_words(b, d->flags, proto);
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

/* The definition whose keys GETKEYS lists, with the walk over them begun; NULL with an
 * error written when there are none. */
static const struct cmd_def *command_keys(struct rt_call *call, const rt_str *argv, int argc,
                                          struct rt_keyiter *it)
{
    const struct cmd_def *d = full_command_def(argv, argc);
    if (!d) {
        resp_error(call->out, "ERR Invalid command specified");
        return NULL;
    }
    const struct rt_keyspec *k = &d->rt.keys;
    if (k->first <= 0 && k->numkeys <= 0) {
        resp_error(call->out, "ERR The command has no key arguments");
        return NULL;
    }
    if (d->arity >= 0 ? argc != d->arity : argc < -d->arity) {
        resp_error(call->out, "ERR Invalid number of arguments specified for command");
        return NULL;
    }
    int last = k->last >= 0 ? k->last : argc + k->last;
    struct rt_keyiter probe;
    rt_keys_begin(&probe, &d->rt, argc, argv);
    if ((k->first > 0 && (last >= argc || last < k->first || k->first >= argc)) ||
        rt_keys_next(&probe) < 0) {
        resp_error(call->out, "ERR Invalid arguments specified for command");
        return NULL;
    }
    rt_keys_begin(it, &d->rt, argc, argv);
    return d;
}

static void getkeys(struct rt_call *call, bool with_flags)
{
    const rt_str *argv = call->argv + 2;
    int argc = call->argc - 2;
    struct rt_keyiter it;
    const struct cmd_def *d = command_keys(call, argv, argc, &it);
    if (!d)
        return;
    struct rt_keyiter count = it;
    int n = 0;
    while (rt_keys_next(&count) >= 0)
        n++;
    resp_array(call->out, n);
    for (int i; (i = rt_keys_next(&it)) >= 0;) {
        if (with_flags) {
            resp_array(call->out, 2);
            resp_bulk(call->out, argv[i].ptr, argv[i].len);
            reply_key_flags(call->out, d, call->proto);
        } else {
            resp_bulk(call->out, argv[i].ptr, argv[i].len);
        }
    }
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
