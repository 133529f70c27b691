/* SPSC ring: FIFO order, full and empty, wrap-around, and a two-thread stress
 * (run under ThreadSanitizer by `make test`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "rt/ring.h"

static void *item(uintptr_t v) { return (void *)(v + 1); } /* never NULL */
static uintptr_t value(void *p) { return (uintptr_t)p - 1; }

static void test_capacity_rounds_up(void **state)
{
    (void)state;
    struct ring *r = ring_new(5);
    assert_non_null(r);
    for (uintptr_t i = 0; i < 8; i++)
        assert_true(ring_push(r, item(i)));
    assert_false(ring_push(r, item(99))); /* 8 slots: full */
    ring_free(r);
}

static void test_fifo_full_empty(void **state)
{
    (void)state;
    struct ring *r = ring_new(4);
    assert_true(ring_empty(r));
    assert_null(ring_pop(r));
    for (uintptr_t i = 0; i < 4; i++)
        assert_true(ring_push(r, item(i)));
    assert_false(ring_push(r, item(4)));
    assert_int_equal(value(ring_pop(r)), 0);
    assert_true(ring_push(r, item(4))); /* room again after one pop */
    for (uintptr_t i = 1; i <= 4; i++)
        assert_int_equal(value(ring_pop(r)), i);
    assert_null(ring_pop(r));
    assert_true(ring_empty(r));
    ring_free(r);
}

static void test_wrap_around(void **state)
{
    (void)state;
    struct ring *r = ring_new(2);
    uintptr_t next_in = 0, next_out = 0;
    /* Many laps around a 2-slot ring with varying fill levels. */
    for (int lap = 0; lap < 10000; lap++) {
        int push = 1 + lap % 2;
        for (int k = 0; k < push; k++)
            if (ring_push(r, item(next_in)))
                next_in++;
        void *p;
        while ((p = ring_pop(r)))
            assert_int_equal(value(p), next_out++);
    }
    assert_int_equal(next_in, next_out);
    assert_true(next_in > 10000);
    ring_free(r);
}

#define STRESS_ITEMS 500000u

static void *producer(void *arg)
{
    struct ring *r = arg;
    for (uintptr_t i = 0; i < STRESS_ITEMS; i++)
        while (!ring_push(r, item(i)))
            ; /* full: the consumer is behind */
    return NULL;
}

static void test_two_thread_stress(void **state)
{
    (void)state;
    struct ring *r = ring_new(64);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, r), 0);
    uintptr_t expect = 0;
    while (expect < STRESS_ITEMS) {
        void *p = ring_pop(r);
        if (!p)
            continue;
        if (value(p) != expect)
            fail_msg("out of order: got %lu, expected %lu", (unsigned long)value(p),
                     (unsigned long)expect);
        expect++;
    }
    pthread_join(t, NULL);
    assert_null(ring_pop(r));
    ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_rounds_up),
        cmocka_unit_test(test_fifo_full_empty),
        cmocka_unit_test(test_wrap_around),
        cmocka_unit_test(test_two_thread_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
