/* The reactors' interface, internal to src/rt/ (DESIGN.md section 11). Included by
 * internal.h, whose types it uses. */
#ifndef COREKV_RT_IO_H
#define COREKV_RT_IO_H

#include <stdbool.h>
#include <stddef.h>

struct rt_shard;
struct rt_client;

/* A reactor moves bytes between sockets and connections; everything else (parsing,
 * running, reply order, limits) is shared. All run on the shard's own thread. */
struct io_ops {
    const char *name; /* INFO's multiplexing_api and the start-up log */
    /* Make the shard's state (sh->io_state): poller, listener and waker interest. */
    bool (*open)(struct rt_shard *sh, char *err, size_t errlen);
    /* Wait up to timeout_ms (0: don't) for I/O and handle what came: accept, read and
     * run (conn_received), write completions. Returns the events handled, -1 on a
     * fatal error. */
    int (*poll)(struct rt_shard *sh, int timeout_ms);
    /* A connection was made (conn_admit): start reading. False: it cannot be watched. */
    bool (*added)(struct rt_shard *sh, struct rt_client *c);
    /* Whether the connection reads (closing, eof) changed. */
    void (*interest)(struct rt_shard *sh, struct rt_client *c);
    /* Send the output (conn_flush_dirty); ends with conn_written unless it closed. */
    void (*write)(struct rt_shard *sh, struct rt_client *c);
    /* The connection closes (conn_close): stop watching and release the fd, once no
     * operation of the reactor still uses it. */
    void (*closed)(struct rt_shard *sh, struct rt_client *c);
    /* Work the reactor has queued that a park must not sleep on. */
    bool (*busy)(const struct rt_shard *sh);
    void (*close)(struct rt_shard *sh);
};
extern const struct io_ops io_epoll_ops;
extern const struct io_ops io_uring_ops;
/* Whether this kernel (and its sandbox) allows the io_uring reactor; err says why not. */
bool io_uring_usable(char *err, size_t errlen);

/* A reactor is about to handle the events of this poll (once per poll with events):
 * refreshes the shard's clock and runs the command set's before_batch (loop.c). */
void io_events_begin(struct rt_shard *sh);

#endif
