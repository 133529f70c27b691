#include "persist/bio.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/log.h"

/* Everything below is guarded by mu. Invariant: a job is either in the queue (head..tail),
 * running (taken by the thread, done still false), or finished (done true); `completed`
 * counts finished jobs, `submitted` every job ever queued, so completed == submitted means
 * idle. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER; /* queue non-empty or stop */
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER; /* a job finished */
static struct bio_job *head, *tail;
static uint64_t submitted, completed;
static bool started, stopping;
static pthread_t thread;

static void finish(struct bio_job *j, int rc)
{
    pthread_mutex_lock(&mu);
    j->rc = rc;
    atomic_store_explicit(&j->done, true, memory_order_release);
    completed++;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&mu);
}

static void *bio_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!head && !stopping)
            pthread_cond_wait(&work_cv, &mu);
        if (!head)
            break; /* stopping, and nothing left to run */
        struct bio_job *j = head;
        head = j->next;
        if (!head)
            tail = NULL;
        pthread_mutex_unlock(&mu);
        int rc = j->fn(j->arg);
        finish(j, rc);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Called with mu held. The thread blocks every signal so SIGTERM and friends reach the
 * threads that handle them. */
static bool start_locked(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&thread, NULL, bio_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_msg(LOG_WARNING, "Can't start the background I/O thread: %s; running jobs inline",
                strerror(rc));
        return false;
    }
    pthread_setname_np(thread, "bio");
    started = true;
    return true;
}

void bio_submit(struct bio_job *j)
{
    j->rc = 0;
    j->next = NULL;
    atomic_store_explicit(&j->done, false, memory_order_relaxed);
    pthread_mutex_lock(&mu);
    submitted++;
    if (!started && !start_locked()) {
        pthread_mutex_unlock(&mu);
        finish(j, j->fn(j->arg)); /* no thread: the job still runs, synchronously */
        return;
    }
    if (tail)
        tail->next = j;
    else
        head = j;
    tail = j;
    pthread_cond_signal(&work_cv);
    pthread_mutex_unlock(&mu);
}

bool bio_done(const struct bio_job *j)
{
    return atomic_load_explicit(&j->done, memory_order_acquire);
}

void bio_wait(const struct bio_job *j)
{
    pthread_mutex_lock(&mu);
    while (!atomic_load_explicit(&j->done, memory_order_acquire))
        pthread_cond_wait(&done_cv, &mu);
    pthread_mutex_unlock(&mu);
}

void bio_drain(void)
{
    pthread_mutex_lock(&mu);
    uint64_t target = submitted;
    while (completed < target)
        pthread_cond_wait(&done_cv, &mu);
    pthread_mutex_unlock(&mu);
}

void bio_shutdown(void)
{
    pthread_mutex_lock(&mu);
    if (!started) {
        pthread_mutex_unlock(&mu);
        return;
    }
    stopping = true;
    pthread_cond_signal(&work_cv);
    pthread_t t = thread;
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL); /* the thread empties the queue before it leaves */
    pthread_mutex_lock(&mu);
    started = false;
    stopping = false;
    /* A job submitted while the thread was leaving still runs. */
    bool orphans = head && !start_locked();
    pthread_mutex_unlock(&mu);
    while (orphans) {
        pthread_mutex_lock(&mu);
        struct bio_job *j = head;
        if (j) {
            head = j->next;
            if (!head)
                tail = NULL;
        }
        pthread_mutex_unlock(&mu);
        if (!j)
            break;
        finish(j, j->fn(j->arg));
    }
}
