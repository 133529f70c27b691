/* The command set's per-connection state (rt_client_data): MULTI/WATCH (multi.c) and
 * pub/sub (pubsub_*.c) share the one pointer the runtime keeps per connection.
 *
 * Invariants: the state exists exactly while one of its parts is in use (a MULTI, a
 * watched key, a pub/sub client state) and is freed by client_state_settle as soon as
 * none is; the connection's commands are intercepted (rt_client_set_intercept) exactly
 * while it exists. */
#ifndef COREKV_CMD_CLIENT_STATE_H
#define COREKV_CMD_CLIENT_STATE_H

#include <stdbool.h>

#include "cmd/multi.h"

struct ps_client;

struct client_state {
    /* Zeroed (not in MULTI, nothing watched, nothing queued) when unused. */
    struct txn_client txn;
    struct ps_client *ps; /* NULL when the connection has no pub/sub state */
};

/* The connection's state, or NULL. */
static inline struct client_state *client_state_get(const struct rt_client *c)
{
    return (struct client_state *)rt_client_data(c);
}

/* The connection's state, created (empty) when missing. Call client_state_settle after
 * changing it. */
struct client_state *client_state_ensure(struct rt_client *c);

/* After any change: free the state when every part is empty, and intercept the
 * connection's commands exactly while it exists. */
void client_state_settle(struct rt_client *c);

/* The rt_commands hooks: both parts see every close and every intercepted command. */
void client_state_close(void *shard, struct rt_client *c);
bool client_state_intercept(void *shard, struct rt_client *c, const struct rt_cmd *cmd,
                            int argc, const rt_str *argv, struct buf *out);

#endif
