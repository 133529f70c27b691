/* One background thread for slow file work (fsync, close, unlink): the shard threads hand it
 * jobs so the loop never blocks on the disk. Not a hot path: a few jobs per second per shard,
 * so one mutex and two condition variables guard the queue.
 *
 * A job is caller-owned memory: fn(arg) runs on the background thread, its result lands in
 * rc, then done becomes true (release store). Jobs run one at a time in submission order.
 * The caller keeps the job alive (and does not resubmit it) until bio_done() is true. */
#ifndef COREKV_PERSIST_BIO_H
#define COREKV_PERSIST_BIO_H

#include <stdbool.h>

struct bio_job {
    int (*fn)(void *arg);
    void *arg;
    int rc;
    _Atomic bool done;
    struct bio_job *next; /* queue link, owned by bio while the job is queued */
};

/* Queue j (fn and arg set by the caller; rc and done are reset here). The thread is
 * started on first use (and again after bio_shutdown). Thread-safe. */
void bio_submit(struct bio_job *j);
/* Has j run? (acquire: j->rc and fn's effects are visible once this returns true). */
bool bio_done(const struct bio_job *j);
/* Block until j has run. */
void bio_wait(const struct bio_job *j);
/* Block until every job submitted before the call has run (shutdown). */
void bio_drain(void);
/* Drain, then stop and join the thread (at exit; tests). A later submit starts it again. */
void bio_shutdown(void);

#endif
