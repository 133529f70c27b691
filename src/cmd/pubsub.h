/* Pub/sub across shards: SUBSCRIBE and friends, PUBLISH, PUBSUB, sharded channels.
 * Used by the keyspace notifications (notify.c) to publish events, by the command table
 * (table.c) for the per-shard state and the connection hooks, by CLIENT LIST and INFO. */
#ifndef COREKV_CMD_PUBSUB_H
#define COREKV_CMD_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

/* Publish a message from this shard on a (non-sharded) channel to every subscriber of
 * the channel and of every matching pattern, on every shard, without a reply: the
 * keyspace notifications' path. Subscribers on other shards get it within the same
 * loop iteration's flush (no waiting for other traffic). */
void pubsub_publish(struct cmd_shard *cs, const char *ch, size_t chlen, const char *msg,
                    size_t mlen);

/* The family's commands (SUBSCRIBE ..., PUBLISH, internal parts) and PUBSUB's
 * subcommands ("pubsub|channels" ...). */
extern const struct cmd_def cmd_pubsub_table[];
extern const struct cmd_def cmd_pubsub_subs[];

/* Per-shard state: created on the shard's thread before it serves, freed after its
 * connections are closed. */
void pubsub_shard_init(struct cmd_shard *cs);
void pubsub_shard_fini(struct cmd_shard *cs);

/* Connection hooks (through client_state.c): a closing connection's subscriptions go;
 * RESET drops them without acks; in RESP2 subscribed mode only (P|S)SUBSCRIBE,
 * (P|S)UNSUBSCRIBE, PING, QUIT and RESET run (true: handled, one reply in out). */
void pubsub_client_close(void *shard, struct rt_client *c);
void pubsub_client_reset(void *shard, struct rt_client *c);
bool pubsub_intercept(void *shard, struct rt_client *c, const struct rt_cmd *cmd, int argc,
                      const rt_str *argv, struct buf *out);

/* CLIENT LIST: the subscription counts, and whether the client is in subscribed mode
 * (flag P). */
struct pubsub_client_counts {
    unsigned sub, psub, ssub;
    bool subscribed;
};
void pubsub_client_counts(const struct rt_client *c, struct pubsub_client_counts *out);

/* INFO: channels, patterns and shard channels with subscribers, on all shards (from
 * this shard's replicated view). */
struct pubsub_info {
    uint64_t channels, patterns, shard_channels;
};
void pubsub_info(struct cmd_shard *cs, struct pubsub_info *out);

#endif
