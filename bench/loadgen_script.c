/* loadgen's script: the commands given on the command line, compiled once into a list of
 * rendering steps (fixed bytes, random digits, random keys), so that sending a script
 * costs a few memcpys and no formatting; and the parsing and checking of the replies. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline, strndup */
#endif
#include "loadgen.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#define MAX_DEPTH 32            /* deepest nesting of arrays accepted */
#define MAX_KEYS_PER_WORD 16    /* __keyN__ in one word at most */

const char shape_help[] =
    "SHAPE: ?    any reply but an error (the default)\n"
    "       +    simple string; +TEXT exactly TEXT (no spaces)\n"
    "       -    error reply, expected: not a failure; -TEXT one that starts with TEXT\n"
    "       :    integer;  $  bulk string (not null);  nil  null bulk string or array\n"
    "       *    array of anything; *[S1 S2 ...] array of exactly these shapes\n";

uint64_t keyspace = 100000;
uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- expected reply shapes --------------------------------------------- */

struct shape {
    char kind;            /* '?', '+', '-', ':', '$', 'n' (nil), '*' */
    const char *text;     /* '+': the exact text, '-': a prefix; NULL: any */
    size_t text_len;
    struct shape *items;  /* '*': the element shapes; NULL: any elements */
    size_t nitems, items_cap;
};

static const char *skip_spaces(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static bool ends_token(char c) { return !c || c == ' ' || c == '\t' || c == ']'; }

/* Parses the shape at *s into out and moves *s past it. */
static void parse_shape(const char **s, struct shape *out, const char *source)
{
    const char *p = skip_spaces(*s);
    memset(out, 0, sizeof *out);
    out->kind = *p;
    if (!strncmp(p, "nil", 3)) {
        out->kind = 'n';
        p += 3;
    } else if (*p == '+' || *p == '-') {
        const char *text = ++p;
        while (!ends_token(*p))
            p++;
        if (p > text) {
            out->text = text;
            out->text_len = (size_t)(p - text);
        }
    } else if (*p == '?' || *p == ':' || *p == '$') {
        p++;
    } else if (*p == '*' && p[1] == '[') {
        out->items = grow(NULL, 0, &out->items_cap, sizeof *out->items); /* [] too */
        for (p = skip_spaces(p + 2); *p != ']'; p = skip_spaces(p)) {
            if (!*p)
                die("\"%s\": missing ]\n%s", source, shape_help);
            out->items = grow(out->items, out->nitems, &out->items_cap, sizeof *out->items);
            parse_shape(&p, &out->items[out->nitems++], source);
        }
        p++;
    } else if (*p == '*') {
        p++;
    } else {
        die("\"%s\": no shape at \"%s\"\n%s", source, p, shape_help);
    }
    if (!ends_token(*p))
        die("\"%s\": junk in the shape at \"%s\"\n%s", source, p, shape_help);
    *s = p;
}

/* ---- key lists ------------------------------------------------------------ */

struct key_list {
    struct { char *text; size_t len; } *keys;
    size_t n, cap, longest;
};

static struct key_list *key_lists;
static size_t nkey_lists, key_lists_cap;

void script_load_key_list(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("%s: %s", path, strerror(errno));
    key_lists = grow(key_lists, nkey_lists, &key_lists_cap, sizeof *key_lists);
    struct key_list *kl = &key_lists[nkey_lists++];
    memset(kl, 0, sizeof *kl);
    char *line = NULL;
    size_t cap = 0;
    for (ssize_t n; (n = getline(&line, &cap, f)) > 0;) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n > 0) {
            kl->keys = grow(kl->keys, kl->n, &kl->cap, sizeof *kl->keys);
            kl->keys[kl->n].text = strndup(line, (size_t)n);
            kl->keys[kl->n++].len = (size_t)n;
            if ((size_t)n > kl->longest)
                kl->longest = (size_t)n;
        }
    }
    free(line);
    fclose(f);
    if (kl->n == 0)
        die("%s: no keys", path);
}

/* ---- compiling the script ------------------------------------------------- */

/* A word split into fixed text, __rand__ and __keyN__ parts. */
enum part_kind { PART_TEXT, PART_RAND, PART_KEY };

struct part {
    enum part_kind kind;
    const char *text;     /* PART_TEXT */
    size_t len;
    unsigned list;        /* PART_KEY: which -k list */
};

/* The script compiles into steps. Every byte whose value is known in advance (array
 * headers, fixed words, the length header of a word whose length cannot vary, the
 * fixed text inside a word) is in a STEP_FIXED run; a __rand__ is a STEP_RAND of
 * RAND_DIGITS digits; only a word holding a __keyN__ (whose length varies) is a
 * STEP_WORD, rendered with its own header. */
enum step_kind { STEP_FIXED, STEP_RAND, STEP_WORD };

struct step {
    enum step_kind kind;
    size_t start, len;        /* STEP_FIXED: a slice of fixed_bytes */
    struct part *parts;       /* STEP_WORD */
    size_t nparts;
};

static struct buf fixed_bytes;     /* every STEP_FIXED run, end to end */
static struct step *steps;
static size_t nsteps, steps_cap, max_bytes;

static struct {
    const char *source;
    struct shape expect;
} *commands;
static size_t ncommands;

size_t script_commands(void) { return ncommands; }
size_t script_max_bytes(void) { return max_bytes; }
const char *script_source(size_t i) { return commands[i].source; }

static void add_fixed(const void *p, size_t n)
{
    if (!n)
        return;
    if (!nsteps || steps[nsteps - 1].kind != STEP_FIXED) {
        steps = grow(steps, nsteps, &steps_cap, sizeof *steps);
        steps[nsteps++] = (struct step){STEP_FIXED, fixed_bytes.len, 0, NULL, 0};
    }
    buf_append(&fixed_bytes, p, n);
    steps[nsteps - 1].len += n;
    max_bytes += n;
}

static void add_header(char type, size_t n)
{
    char head[32];
    add_fixed(head, (size_t)snprintf(head, sizeof head, "%c%zu\r\n", type, n));
}

/* Splits the word [s, end) into parts and adds the steps that render it. */
static void compile_word(const char *s, const char *end, const char *source)
{
    struct part *parts = NULL;
    size_t nparts = 0, cap = 0, len = 0, nkeys = 0;
    const char *text = s;
    for (const char *p = s; p < end; p++) {
        struct part token = {PART_RAND, NULL, RAND_DIGITS, 0};
        int used = 0;
        if (end - p >= 8 && !memcmp(p, "__rand__", 8))
            used = 8;
        else if (end - p > 7 && !memcmp(p, "__key", 5) && p[5] >= '0' && p[5] <= '9' &&
                 sscanf(p, "__key%4u__%n", &token.list, &used) == 1 && used && p + used <= end)
            token.kind = PART_KEY;
        if (!used)
            continue;
        if (token.kind == PART_KEY) {
            if (token.list >= nkey_lists)
                die("\"%s\": __key%u__ but %zu -k list(s)", source, token.list, nkey_lists);
            token.len = key_lists[token.list].longest;
            if (nkeys++ == MAX_KEYS_PER_WORD)
                die("\"%s\": more than %d __keyN__ in one word", source, MAX_KEYS_PER_WORD);
        }
        if (p > text) {
            parts = grow(parts, nparts, &cap, sizeof *parts);
            parts[nparts++] = (struct part){PART_TEXT, text, (size_t)(p - text), 0};
        }
        parts = grow(parts, nparts, &cap, sizeof *parts);
        parts[nparts++] = token;
        text = p + used;
        p = text - 1;
    }
    if (end > text) {
        parts = grow(parts, nparts, &cap, sizeof *parts);
        parts[nparts++] = (struct part){PART_TEXT, text, (size_t)(end - text), 0};
    }
    for (size_t i = 0; i < nparts; i++)
        len += parts[i].len;
    if (nkeys) {
        steps = grow(steps, nsteps, &steps_cap, sizeof *steps);
        steps[nsteps++] = (struct step){STEP_WORD, 0, 0, parts, nparts};
        max_bytes += 32 + len; /* header, longest keys, CRLF */
        return;
    }
    add_header('$', len);
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].kind == PART_TEXT) {
            add_fixed(parts[i].text, parts[i].len);
        } else {
            steps = grow(steps, nsteps, &steps_cap, sizeof *steps);
            steps[nsteps++] = (struct step){STEP_RAND, 0, RAND_DIGITS, NULL, 0};
            max_bytes += RAND_DIGITS;
        }
    }
    add_fixed("\r\n", 2);
    free(parts);
}

/* "WORD WORD ... [=> SHAPE]" */
static void compile_command(const char *source)
{
    const char *arrow = strstr(source, "=>");
    const char *end = arrow ? arrow : source + strlen(source);
    size_t nwords = 0;
    for (const char *p = skip_spaces(source); p < end; nwords++) {
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        p = skip_spaces(p);
    }
    if (nwords == 0)
        die("\"%s\": no command", source);
    add_header('*', nwords);
    for (const char *p = skip_spaces(source), *e; p < end; p = skip_spaces(e)) {
        for (e = p; e < end && *e != ' ' && *e != '\t';)
            e++;
        compile_word(p, e, source);
    }
    commands[ncommands].source = source;
    struct shape *expect = &commands[ncommands++].expect;
    memset(expect, 0, sizeof *expect);
    expect->kind = '?';
    if (arrow) {
        const char *s = arrow + 2;
        parse_shape(&s, expect, source);
        if (*skip_spaces(s))
            die("\"%s\": more than one shape after =>\n%s", source, shape_help);
    }
}

void script_compile(size_t n, char **sources)
{
    commands = xrealloc(NULL, n * sizeof *commands);
    for (size_t i = 0; i < n; i++)
        compile_command(sources[i]);
}

/* ---- rendering ------------------------------------------------------------ */

static const char digit_pairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* A random number below -r in RAND_DIGITS zero-padded digits (its low digits if -r
 * is longer). */
static char *put_rand(char *out)
{
    uint64_t v = rng_next() % keyspace;
    for (int i = RAND_DIGITS / 2 - 1; i >= 0; i--, v /= 100)
        memcpy(out + 2 * i, digit_pairs + 2 * (v % 100), 2);
    return out + RAND_DIGITS;
}

static char *put_word(char *out, const struct step *st)
{
    size_t len = 0, chosen[MAX_KEYS_PER_WORD], nchosen = 0;
    for (size_t i = 0; i < st->nparts; i++) {
        const struct part *part = &st->parts[i];
        if (part->kind == PART_KEY) {
            size_t k = (size_t)(rng_next() % key_lists[part->list].n);
            chosen[nchosen++] = k;
            len += key_lists[part->list].keys[k].len;
        } else {
            len += part->len;
        }
    }
    out += sprintf(out, "$%zu\r\n", len);
    nchosen = 0;
    for (size_t i = 0; i < st->nparts; i++) {
        const struct part *part = &st->parts[i];
        if (part->kind == PART_TEXT) {
            memcpy(out, part->text, part->len);
            out += part->len;
        } else if (part->kind == PART_RAND) {
            out = put_rand(out);
        } else {
            const struct key_list *kl = &key_lists[part->list];
            size_t k = chosen[nchosen++];
            memcpy(out, kl->keys[k].text, kl->keys[k].len);
            out += kl->keys[k].len;
        }
    }
    memcpy(out, "\r\n", 2);
    return out + 2;
}

char *script_render(char *out)
{
    for (size_t i = 0; i < nsteps; i++) {
        const struct step *st = &steps[i];
        if (st->kind == STEP_FIXED) {
            memcpy(out, fixed_bytes.data + st->start, st->len);
            out += st->len;
        } else if (st->kind == STEP_RAND) {
            out = put_rand(out);
        } else {
            out = put_word(out, st);
        }
    }
    return out;
}

/* ---- reply parsing and checking ---------------------------------------- */

static void note_problem(struct verdict *v, const char *line, size_t len, bool is_error)
{
    *(is_error ? &v->error_replies : &v->unexpected_replies) += 1;
    if (!v->problem) {
        v->problem = line;
        v->problem_len = len;
        v->problem_is_error = is_error;
    }
}

/* A RESP number: the whole of [p, end), within a long long. */
static bool parse_int(const char *p, const char *end, long long *out)
{
    bool neg = p < end && *p == '-';
    p += neg;
    if (p == end || end - p > 19)
        return false;
    unsigned long long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > (unsigned long long)LLONG_MAX + neg)
        return false;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

static bool text_matches(const struct shape *want, const char *p, size_t len, bool prefix)
{
    return !want->text || ((prefix ? len >= want->text_len : len == want->text_len) &&
                           !memcmp(want->text, p, want->text_len));
}

/* Parses the reply at buf[*pos, len) and checks it against want (NULL: any but
 * an error), adding to *v; as script_check_reply. */
static bool parse_reply(const char *buf, size_t len, size_t *pos, const struct shape *want,
                        int depth, struct verdict *v)
{
    const char *line = buf + *pos, *nl = memchr(line, '\n', len - *pos);
    if (!nl)
        return false;
    int shown = (int)(nl - line < 40 ? nl - line : 40);
    if (nl - line < 2 || nl[-1] != '\r' || !memchr("+-:$*", *line, 5) || depth > MAX_DEPTH)
        die("protocol error at \"%.*s\"", shown, line);
    const char *body = line + 1, *eol = nl - 1;
    size_t line_len = (size_t)(eol - line), body_len = line_len - 1;
    size_t next = (size_t)(nl + 1 - buf);
    char kind = want ? want->kind : '?';
    long long n = 0;
    bool ok = kind == '?';
    if (*line != '+' && *line != '-' && (!parse_int(body, eol, &n) || (*line != ':' && n < -1)))
        die("protocol error: bad number in \"%.*s\"", shown, line);
    switch (*line) {
    case '+':
        ok |= kind == '+' && text_matches(want, body, body_len, false);
        break;
    case '-':
        if (kind == '-' && text_matches(want, body, body_len, true))
            v->expected_errors++;
        else
            note_problem(v, line, line_len, true);
        *pos = next;
        return true;
    case ':':
        ok |= kind == ':';
        break;
    case '$':
        if (n >= 0) {
            if (len - next < (size_t)n + 2)
                return false;
            if (memcmp(buf + next + n, "\r\n", 2))
                die("protocol error: a bulk string of %lld bytes without CRLF", n);
            next += (size_t)n + 2;
        }
        ok |= n >= 0 ? kind == '$' : kind == 'n';
        break;
    default: /* '*' */
        ok |= n >= 0 ? kind == '*' && (!want->items || want->nitems == (size_t)n) : kind == 'n';
        for (long long i = 0; i < n; i++) {
            const struct shape *item = ok && kind == '*' && want->items ? &want->items[i] : NULL;
            if (!parse_reply(buf, len, &next, item, depth + 1, v))
                return false;
        }
        break;
    }
    if (!ok)
        note_problem(v, line, line_len, false);
    *pos = next;
    return true;
}

bool script_check_reply(size_t i, const char *buf, size_t len, size_t *pos, struct verdict *v)
{
    return parse_reply(buf, len, pos, &commands[i].expect, 0, v);
}
