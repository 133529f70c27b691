/* The background I/O thread: jobs run in submission order, one at a time, from any number
 * of submitting threads; done flags, results, bio_wait, bio_drain; shutdown and restart. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "bio_gate.h"

#include "persist/bio.h"

static int order[1000];
static atomic_int norder;

static int record_order(void *arg)
{
    order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)arg;
    return (int)(intptr_t)arg * 2;
}

struct submitter {
    struct bio_job jobs[100];
    int base;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < 100; i++) {
        s->jobs[i].fn = record_order;
        s->jobs[i].arg = (void *)(intptr_t)(s->base + i);
        bio_submit(&s->jobs[i]);
    }
    return NULL;
}

static void test_bio(void **state)
{
    (void)state;
    atomic_store(&gate_open, false);
    atomic_store(&norder, 0);
    struct bio_job gate = {.fn = wait_gate};
    bio_submit(&gate);
    struct bio_job jobs[50];
    for (int i = 0; i < 50; i++) {
        jobs[i] = (struct bio_job){.fn = record_order, .arg = (void *)(intptr_t)i};
        bio_submit(&jobs[i]);
    }
    usleep(20000);
    assert_false(bio_done(&gate));
    assert_false(bio_done(&jobs[0]));
    assert_int_equal(atomic_load(&norder), 0);
    atomic_store(&gate_open, true);
    bio_wait(&gate);
    assert_int_equal(gate.rc, 7);
    bio_drain();
    for (int i = 0; i < 50; i++) {
        assert_true(bio_done(&jobs[i]));
        assert_int_equal(jobs[i].rc, i * 2);
        assert_int_equal(order[i], i); /* submission order */
    }

    /* Several threads at once: each one's jobs in its own order, none lost. */
    bio_shutdown();
    atomic_store(&norder, 0);
    static struct submitter subs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        subs[i].base = i * 1000;
        pthread_create(&t[i], NULL, submit_many, &subs[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    bio_drain();
    assert_int_equal(atomic_load(&norder), 400);
    int last[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 400; i++) {
        int who = order[i] / 1000, seq = order[i] % 1000;
        assert_true(seq > last[who]);
        last[who] = seq;
    }
    bio_shutdown();
    bio_shutdown(); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bio),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    bio_shutdown();
    return rc;
}
