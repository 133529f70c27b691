/* A bio job that holds the background thread until the test opens the gate, so a job
 * submitted after it stays visibly pending (test_bio.c, test_aof.c). */
#ifndef COREKV_TESTS_BIO_GATE_H
#define COREKV_TESTS_BIO_GATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

static atomic_bool gate_open;

static inline int wait_gate(void *arg)
{
    (void)arg;
    while (!atomic_load(&gate_open))
        usleep(1000);
    return 7;
}

#endif
