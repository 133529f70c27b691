/* Connections, whichever reactor moves their bytes: admission, the table of slots,
 * what happens after bytes arrive or leave, the dirty list, closing.
 *
 * A connection lives on the shard that accepted it. Its identity is (shard, id), with
 * ids never reused; the slot is only an index into this shard's table, checked against
 * the id, so a late reply for a closed connection finds nothing and is dropped. */
#include "rt/internal.h"

#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"

static uint32_t slot_alloc(struct rt_shard *sh)
{
    if (!sh->nfree) {
        uint32_t old = sh->conns_cap, cap = old ? old * 2 : 64;
        struct rt_client **nc = realloc(sh->conns, cap * sizeof *nc);
        uint32_t *nf = realloc(sh->free_slots, cap * sizeof *nf);
        if (!nc || !nf)
            abort();
        sh->conns = nc;
        sh->free_slots = nf;
        for (uint32_t i = cap; i > old; i--) {
            sh->conns[i - 1] = NULL;
            sh->free_slots[sh->nfree++] = i - 1;
        }
        sh->conns_cap = cap;
    }
    return sh->free_slots[--sh->nfree];
}

static void reject(int fd)
{
    static const char msg[] = "-ERR max number of clients reached\r\n";
    ssize_t w = write(fd, msg, sizeof msg - 1);
    (void)w;
    close(fd);
}

void conn_admit(struct rt_shard *sh, int fd)
{
    uint64_t n = atomic_fetch_add(&sh->rt->clients, 1);
    if (n >= OPT_LOAD(sh->rt, maxclients)) {
        atomic_fetch_sub(&sh->rt->clients, 1);
        sh->stats.rejected_connections++;
        reject(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct rt_client *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->fd = fd;
    c->sh = sh;
    c->slot = slot_alloc(sh);
    c->id = sh->next_conn_id++;
    c->proto = 2;
    c->created_ms = c->last_ms = sh->now_ms;
    reqparse_init(&c->parser);
    net_describe(fd, true, c->addr, sizeof c->addr);
    net_describe(fd, false, c->laddr, sizeof c->laddr);
    sh->conns[c->slot] = c;
    sh->stats.connections_received++;
    sh->stats.connected_clients++; /* before a failure's conn_close counts it out */
    if (!sh->io->added(sh, c))
        conn_close(sh, c);
}

struct rt_client *conn_find(struct rt_shard *sh, uint32_t slot, uint64_t id)
{
    if (slot >= sh->conns_cap)
        return NULL;
    struct rt_client *c = sh->conns[slot];
    return c && c->id == id ? c : NULL;
}

void conn_close(struct rt_shard *sh, struct rt_client *c)
{
    wait_client_gone(sh, c); /* its blocking command ends (its step runs later) */
    if (sh->rt->cmds->client_close)
        sh->rt->cmds->client_close(sh->ctx, c);
    c->data = NULL;
    sh->io->closed(sh, c);
    sh->conns[c->slot] = NULL;
    sh->free_slots[sh->nfree++] = c->slot;
    atomic_fetch_sub(&sh->rt->clients, 1);
    sh->stats.connected_clients--;
    buf_free(&c->in);
    out_release(sh, c);
    reqparse_free(&c->parser);
    reply_free_all(c);
    free(c->name);
    /* A dirty-list entry may still point here: conn_flush_dirty checks the slot. */
    c->fd = -1;
    if (c->in_dirty)
        c->closing = true; /* freed by conn_flush_dirty */
    else
        free(c);
}

void conn_close_all(struct rt_shard *sh)
{
    for (uint32_t i = 0; i < sh->conns_cap; i++)
        if (sh->conns[i])
            conn_close(sh, sh->conns[i]);
    conn_flush_dirty(sh);
    free(sh->conns);
    free(sh->free_slots);
    free(sh->dirty);
    free(sh->resume);
    sh->resume = NULL;
    sh->conns = NULL;
    sh->free_slots = NULL;
    sh->dirty = NULL;
    sh->conns_cap = sh->nfree = 0;
}

/* Every emit ends here (reply_complete, run_local): the output limit's one compare. */
void conn_mark_dirty(struct rt_shard *sh, struct rt_client *c)
{
    if (__builtin_expect(out_tripped(sh, c), 0))
        out_check_limits(sh, c); /* may kill: then it is dirty already */
    if (c->in_dirty)
        return;
    if (sh->ndirty == sh->dirty_cap) {
        size_t cap = sh->dirty_cap ? sh->dirty_cap * 2 : 64;
        struct rt_client **nd = realloc(sh->dirty, cap * sizeof *nd);
        if (!nd)
            abort();
        sh->dirty = nd;
        sh->dirty_cap = cap;
    }
    sh->dirty[sh->ndirty++] = c;
    c->in_dirty = true;
}

bool conn_written(struct rt_shard *sh, struct rt_client *c)
{
    if (!out_pending(c)) {
        c->soft_since_ms = 0; /* drained: a later overrun starts the soft clock afresh */
        buf_shrink(&c->out.buf, 64 * 1024);
        /* pq_len == 0 also means no multi-shard command is outstanding (each holds
         * its reply slot), so no held input is left to run. */
        if ((c->closing || c->eof) && c->pq_len == 0) {
            conn_close(sh, c);
            return false;
        }
    } else if (out_tripped(sh, c) || c->soft_since_ms) {
        /* Still behind: the soft limit's clock is looked at with each attempt. */
        if (out_check_limits(sh, c)) {
            conn_close(sh, c);
            return false;
        }
    }
    return true;
}

void conn_flush_dirty(struct rt_shard *sh)
{
    for (size_t i = 0; i < sh->ndirty; i++) {
        struct rt_client *c = sh->dirty[i];
        c->in_dirty = false;
        if (c->fd < 0) {
            free(c); /* closed while queued here */
            continue;
        }
        if (__builtin_expect(c->out_killed, 0))
            conn_close(sh, c); /* over its output limit: closed unwritten */
        else
            sh->io->write(sh, c);
    }
    sh->ndirty = 0;
}

void conn_received(struct rt_shard *sh, struct rt_client *c, size_t got)
{
    c->last_ms = sh->now_ms;
    if (got)
        conn_process(sh, c);
    if (c->eof && c->block_id) {
        /* A blocked client that goes away is freed at once, as Redis does: its
         * command stops waiting and takes nothing. */
        conn_close(sh, c);
        return;
    }
    if (c->eof || c->closing)
        sh->io->interest(sh, c); /* stop reading; replies due are still sent */
    conn_mark_dirty(sh, c);
}

void conn_resume(struct rt_shard *sh, struct rt_client *c)
{
    if (c->processing)
        return; /* conn_process's loop goes on by itself */
    if (sh->nresume == sh->resume_cap) {
        size_t cap = sh->resume_cap ? sh->resume_cap * 2 : 16;
        struct conn_ref *nr = realloc(sh->resume, cap * sizeof *nr);
        if (!nr)
            abort();
        sh->resume = nr;
        sh->resume_cap = cap;
    }
    sh->resume[sh->nresume++] = (struct conn_ref){c->slot, c->id};
}

void conn_run_resumed(struct rt_shard *sh)
{
    /* Running held input may finish more transactions and append here: index loop. */
    for (size_t i = 0; i < sh->nresume; i++) {
        struct rt_client *c = conn_find(sh, sh->resume[i].slot, sh->resume[i].id);
        if (c && !conn_waits(c) && !c->closing) {
            conn_process(sh, c);
            conn_mark_dirty(sh, c);
        }
    }
    sh->nresume = 0;
}
