/* What the command set may see of a connection, on its origin shard. */
#include "rt/internal.h"

#include <stdlib.h>
#include <string.h>

uint64_t rt_client_id(const struct rt_client *c) { return (c->id << 6) | c->sh->id; }
int rt_client_proto(const struct rt_client *c) { return c->proto; }
void rt_client_set_proto(struct rt_client *c, int proto) { c->proto = (uint8_t)proto; }
const char *rt_client_name(const struct rt_client *c) { return c->name ? c->name : ""; }

void rt_client_set_name(struct rt_client *c, const char *name, size_t len)
{
    free(c->name);
    c->name = NULL;
    if (!len)
        return;
    c->name = malloc(len + 1);
    if (!c->name)
        abort();
    memcpy(c->name, name, len);
    c->name[len] = 0;
}

void rt_client_describe(const struct rt_client *c, const struct rt_client_info *info,
                        struct buf *out)
{
    const char *flags = info->flags && *info->flags ? info->flags : "N";
    long long multi = info->multi;
    int64_t now = c->sh->now_ms;
    /* As Redis's fields: obl the unsent output a 16 KB reply buffer would hold, omem the
     * rest (what the output limits count), oll the blocks referenced and not written. */
    size_t omem = out_counted(c), obl = out_pending(c) - omem;
    size_t qbuf = c->in.len, oll = c->out.n - c->out.head;
    size_t tot = c->in.cap + c->out.buf.cap + c->out.ref_bytes + c->inflight_bytes +
                 c->out.cap * sizeof *c->out.refs +
                 c->pq_cap * sizeof *c->pq + sizeof *c;
    buf_printf(out,
               "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 "
               "sub=%u psub=%u ssub=%u multi=%lld qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=0 "
               "rbs=%zu rbp=0 obl=%zu oll=%zu omem=%zu tot-mem=%zu events=r%s cmd=%s "
               "user=default redir=-1 resp=%d",
               (unsigned long long)rt_client_id(c), c->addr, c->laddr, c->fd,
               rt_client_name(c), (long long)((now - c->created_ms) / 1000),
               (long long)((now - c->last_ms) / 1000), flags, info->sub, info->psub, info->ssub, multi, qbuf, c->in.cap - c->in.len,
               c->out.buf.cap, obl, oll, omem, tot,
               out_pending(c) ? "w" : "", c->last_cmd && c->last_cmd->name ? c->last_cmd->name : "NULL",
               c->proto);
}

void rt_shard_foreach_client(struct rt_shard *sh, void (*fn)(struct rt_client *, void *),
                             void *arg)
{
    for (uint32_t i = 0; i < sh->conns_cap; i++)
        if (sh->conns[i] && sh->conns[i]->fd >= 0)
            fn(sh->conns[i], arg);
}

void *rt_client_data(const struct rt_client *c) { return c->data; }
void rt_client_set_data(struct rt_client *c, void *data) { c->data = data; }
void rt_client_set_intercept(struct rt_client *c, bool on) { c->intercept = on; }
