/* Effect records for the append-only log (effect.h). */
#include "cmd/effect.h"

#include "base/numfmt.h"

static void push_arg(struct effect *r, int at, const char *p, size_t len)
{
    buf_append(&r->bytes, p, len);
    r->lens[at] = len;
}

/* Append the record built so far, then keep only its head. */
static void flush(struct effect *r)
{
    int argc = r->nhead + r->nitems;
    rt_str argv[EFFECT_HEAD_MAX + EFFECT_BATCH];
    size_t off = 0, head = 0;
    for (int i = 0; i < argc; i++) {
        argv[i] = (rt_str){r->bytes.data + off, r->lens[i]};
        off += r->lens[i];
        if (i < r->nhead)
            head = off;
    }
    cmd_log_effect(r->cs, argc, argv);
    r->bytes.len = head;
    r->nitems = 0;
}

void effect_begin(struct effect *r, struct cmd_shard *cs, int nhead, const rt_str *head)
{
    r->cs = cs->logging ? cs : NULL;
    r->nhead = nhead;
    r->nitems = 0;
    r->bytes = (struct buf){0};
    if (!r->cs)
        return;
    if (nhead < 1 || nhead > EFFECT_HEAD_MAX)
        abort(); /* a programming error: the callers' heads are fixed */
    for (int i = 0; i < nhead; i++)
        push_arg(r, i, head[i].ptr, head[i].len);
}

void effect_item(struct effect *r, const char *p, size_t len)
{
    if (!r->cs)
        return;
    push_arg(r, r->nhead + r->nitems, p, len);
    if (++r->nitems == EFFECT_BATCH)
        flush(r);
}

void effect_end(struct effect *r)
{
    if (r->cs && r->nitems)
        flush(r);
    buf_free(&r->bytes);
    r->cs = NULL;
}

void effect_log(struct cmd_shard *cs, int argc, const rt_str *argv)
{
    if (cs->logging)
        cmd_log_effect(cs, argc, argv);
}

void effect_log_key(struct cmd_shard *cs, const char *verb, const rt_str *key)
{
    rt_str a[2] = {effect_word(verb), *key};
    effect_log(cs, 2, a);
}

void effect_log_pexpireat(struct cmd_shard *cs, const rt_str *key, int64_t when_ms)
{
    char t[NUMFMT_I64_MAX];
    rt_str a[3] = {effect_word("PEXPIREAT"), *key, {t, (size_t)i64_to_str(t, when_ms)}};
    effect_log(cs, 3, a);
}
