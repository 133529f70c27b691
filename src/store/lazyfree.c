/* Huge values freed on the background thread: see lazyfree.h.
 *
 * One bio job per object (huge objects are rare, and the handover is what the shard
 * pays). bio needs a job's memory until the job is done, so the records of submitted
 * jobs stay in a FIFO and are freed once done. bio runs jobs in submission order and
 * this FIFO is appended under the same lock as the submission, so the finished records
 * are always a prefix of it: reaping costs nothing while jobs run. */
#include "store/lazyfree.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "base/block.h"
#include "persist/bio.h"
#include "store/entry.h"

struct lazy_job {
    struct bio_job job;
    struct lazy_job *next;
    enum val_type type; /* VT_STRING: obj is a struct rt_block */
    unsigned enc;
    void *obj;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct lazy_job *head, *tail; /* submitted, oldest first; guarded by mu */
static _Atomic uint64_t pending, freed;

static int run_free(void *arg)
{
    struct lazy_job *j = arg;
    if (j->type == VT_STRING)
        block_free(j->obj);
    else
        store_obj_free_now(j->type, j->enc, j->obj);
    atomic_fetch_sub_explicit(&pending, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&freed, 1, memory_order_relaxed);
    return 0;
}

/* Free the records of the jobs done (a prefix). Called with mu held. */
static void reap_locked(void)
{
    while (head && bio_done(&head->job)) {
        struct lazy_job *j = head;
        head = j->next;
        if (!head)
            tail = NULL;
        free(j);
    }
}

static void submit(enum val_type t, unsigned enc, void *obj)
{
    struct lazy_job *j = store_xmalloc(sizeof *j);
    *j = (struct lazy_job){.job = {.fn = run_free, .arg = j}, .type = t, .enc = enc, .obj = obj};
    atomic_fetch_add_explicit(&pending, 1, memory_order_relaxed);
    pthread_mutex_lock(&mu);
    reap_locked();
    if (tail)
        tail->next = j;
    else
        head = j;
    tail = j;
    bio_submit(&j->job); /* under mu: the FIFO's order is bio's order */
    pthread_mutex_unlock(&mu);
}

void lazyfree_obj(enum val_type t, unsigned enc, void *obj) { submit(t, enc, obj); }

static void release_block(struct rt_block *b) { submit(VT_STRING, 0, b); }

void lazyfree_init(void) { block_set_release(LAZYFREE_MIN_BLOCK, release_block); }

void store_lazyfree_drain(void)
{
    bio_drain();
    pthread_mutex_lock(&mu);
    reap_locked();
    pthread_mutex_unlock(&mu);
}

void store_lazyfree_stats(uint64_t *pending_objects, uint64_t *freed_objects)
{
    *pending_objects = atomic_load_explicit(&pending, memory_order_relaxed);
    *freed_objects = atomic_load_explicit(&freed, memory_order_relaxed);
}
