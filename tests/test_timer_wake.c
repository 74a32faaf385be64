/* test_timer_wake.c - a timer armed from a foreign thread wakes its parked
 * worker (regression test, issue 11).
 *
 * What it proves: hive_send_after from a thread that is not a worker puts
 * the timer in worker 0's timer inbox and wakes worker 0; if worker 0 was
 * deciding to park at that moment (its next deadline already computed, not
 * yet on the sleepers list), its last look for work must see the inbox, or
 * it sleeps through the timer. The runtime has one worker and nothing else
 * to run, so no other event wakes it: a missed inbox shows as a 1 ms timer
 * arriving seconds late (it did, before any_work() in sched/worker.c looked
 * at the worker's own timer inbox: found by test_alloc_fail's foreign-thread
 * sweep under TSan). Each round arms the next timer just as the worker goes
 * idle again, which is the race; two threads that burn CPU meanwhile get
 * the worker preempted inside its window now and then (the failure needed
 * a loaded machine). The deadline is generous (2 s for a 1 ms timer); a
 * correct runtime delivers each within a few milliseconds. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "tests/rt.h"
#include "tests/scale.h"

enum { T_TICK = 1 };

static _Atomic bool stop_burning;

static void *burn(void *arg)
{
    volatile unsigned long x = 0;
    while (!atomic_load_explicit(&stop_burning, memory_order_relaxed))
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
    return NULL;
}

static void timers_from_a_foreign_thread_are_never_slept_through(void **state)
{
    assert_int_equal(rt_start(1, 0, 0), 0);
    hive_pid_t me;
    assert_int_equal(hive_thread_attach(&me), 0);
    pthread_t burners[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&burners[i], NULL, burn, NULL), 0);
    long rounds = hive_test_scaled(2000);
    for (long i = 0; i < rounds; i++) {
        assert_int_equal(hive_send_after(me, i % 2, T_TICK, &i, sizeof i, NULL), 0);
        hive_msg_t *m;
        int rc = hive_receive_tag(T_TICK, 2000, &m);
        if (rc != 0)
            fail_msg("round %ld of %ld: the timer did not arrive within 2 s (%s)", i, rounds,
                     hive_strerror(rc));
        hive_msg_free(m);
    }
    atomic_store(&stop_burning, true);
    for (int i = 0; i < 2; i++)
        pthread_join(burners[i], NULL);
    printf("# %ld timers armed from a foreign thread, each delivered\n", rounds);
    assert_int_equal(hive_thread_detach(), 0);
    assert_int_equal(hive_runtime_stop(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timers_from_a_foreign_thread_are_never_slept_through),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
