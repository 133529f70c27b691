/* The per-connection state shared by MULTI/WATCH and pub/sub (client_state.h). */
#include "cmd/client_state.h"

#include <stdlib.h>

#include "cmd/pubsub.h"

struct client_state *client_state_ensure(struct rt_client *c)
{
    struct client_state *st = client_state_get(c);
    if (!st) {
        st = cmd_xcalloc(1, sizeof *st);
        rt_client_set_data(c, st);
    }
    return st;
}

static bool txn_in_use(const struct txn_client *t)
{
    return t->in_multi || t->nwatched || t->nqueued;
}

void client_state_settle(struct rt_client *c)
{
    struct client_state *st = client_state_get(c);
    if (!st) {
        rt_client_set_intercept(c, false);
        return;
    }
    if (txn_in_use(&st->txn) || st->ps) {
        rt_client_set_intercept(c, true);
        return;
    }
    /* multi_settle has freed the queue and the watch list of an unused txn part. */
    free(st->txn.queue);
    free(st->txn.watched);
    free(st);
    rt_client_set_data(c, NULL);
    rt_client_set_intercept(c, false);
}

void client_state_close(void *shard, struct rt_client *c)
{
    if (!client_state_get(c))
        return;
    pubsub_client_close(shard, c);
    multi_client_close(shard, c);
    /* Both parts are empty now: this frees the state (the runtime forgets the pointer). */
    client_state_settle(c);
}

/* Pub/sub first: as in Redis, a command refused in RESP2 subscribed mode is refused
 * before MULTI could queue it. A command that failed to resolve (cmd == NULL) is seen by
 * both. */
bool client_state_intercept(void *shard, struct rt_client *c, const struct rt_cmd *cmd,
                            int argc, const rt_str *argv, struct buf *out)
{
    if (cmd && pubsub_intercept(shard, c, cmd, argc, argv, out))
        return true;
    return multi_intercept(shard, c, cmd, argc, argv, out);
}
