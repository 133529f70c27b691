/* Transactions, shared by multi.c (the connection state, MULTI, DISCARD, WATCH,
 * UNWATCH, RESET, queueing) and multi_exec.c (EXEC). Not part of the family contract
 * in cmd.h. */
#ifndef COREKV_CMD_MULTI_H
#define COREKV_CMD_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmd/cmd.h"

/* One queued command: its definition and a copy of its arguments (the argv array, then
 * the bytes, in the same allocation). */
struct queued_cmd {
    const struct rt_cmd *cmd;
    int argc;
    rt_str argv[];
};

/* A watched key and the version its owner replied. key is owned (never NULL). Each
 * one holds a ref on the owner's watch entry until it is given back. */
struct watched_key {
    char *key;
    size_t len;
    unsigned shard;
    uint64_t version;
};

/* A connection's transaction state (in its client_state): it exists exactly while the
 * connection is in MULTI or watches a key, and then its commands are intercepted. */
struct txn_client {
    bool in_multi;
    bool dirty; /* a command failed to queue: EXEC aborts */
    struct queued_cmd **queue;
    size_t nqueued, queue_cap;
    struct watched_key *watched;
    size_t nwatched, watched_cap;
};

/* After any change to st: free it when nothing is left, and turn interception on or
 * off to match. st must not be used afterwards. */
void multi_settle(struct rt_client *c, struct txn_client *st);
void multi_queue_free(struct queued_cmd **queue, size_t n);
void multi_watched_free(struct watched_key *w, size_t n);

/* Send "verb key [version] key [version] ..." for the keys of each owning shard, in
 * ascending shard order and, within a shard, in the order of w; one message per run of
 * at most MULTI_KEYS_PER_MESSAGE keys. emit is multi_emit_part (arg: the rt_txn) or
 * multi_emit_post (arg: the rt_shard). */
#define MULTI_KEYS_PER_MESSAGE 4096
typedef void multi_emit_fn(void *arg, unsigned shard, int argc, const rt_str *argv);
void multi_emit_part(void *txn, unsigned shard, int argc, const rt_str *argv);
void multi_emit_post(void *rt_shard, unsigned shard, int argc, const rt_str *argv);
void multi_per_shard(const struct watched_key *w, size_t n, const char *verb, bool versions,
                     multi_emit_fn *emit, void *arg);
/* Give every registration of w[0..*n) back to its owner ("__unwatch") and free them. */
void multi_unwatch_all(struct rt_shard *sh, struct watched_key **w, size_t *n);

/* For CLIENT LIST: "x" and the number of queued commands in MULTI, else "N" and -1. */
void multi_client_flags(const struct rt_client *c, const char **flags, long long *multi);

/* EXEC's step (multi_exec.c). */
void multi_exec_step(struct rt_txn *t, unsigned phase);

#endif
