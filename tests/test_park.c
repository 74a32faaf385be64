/* test_park.c - no lost wake-ups. The parked workers' timed backstop is
 * switched off here, so a wake-up the protocol loses strands its work and
 * the test fails at its deadline instead of being rescued 10 ms later.
 *
 * Storms: all workers asleep, then many foreign threads inject work at once
 * (spawns) or wake parked tasks at once (unpark); every task must run. More
 * workers than cores, repeated many rounds. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "sched/park.h"
#include "sched/worker.h"
#include "tests/kept_task.h"
#include "tests/latch.h"
#include "tests/scale.h"

#define WORKERS 4
#define THREADS 6
#define DEADLINE 60.0

static latch_t done;

static void start(void)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    cfg.workers = WORKERS;
    assert_int_equal(hive_runtime_start(&cfg, NULL), 0);
}

/* Wait (bounded) until every worker sleeps. */
static void wait_all_asleep(void)
{
    for (long i = 0; i < 10000000 && hive__sched_sleeping() < WORKERS; i++)
        sched_yield();
    assert_int_equal(hive__sched_sleeping(), WORKERS);
}

static void count_down(void *arg) { latch_count_down(&done); }

static long per_thread;

static void *spawn_burst(void *arg)
{
    for (long i = 0; i < per_thread; i++)
        while (hive__task_spawn(count_down, NULL, 0) != 0)
            sched_yield();
    return NULL;
}

/* All workers asleep; six foreign threads each spawn a burst at once. */
static void spawn_storm_onto_sleeping_workers(void **state)
{
    long rounds = hive_test_scaled(200);
    per_thread = 50;
    hive__idle_set_backstop_ms(0);
    start();
    for (long r = 0; r < rounds; r++) {
        wait_all_asleep();
        latch_init(&done, THREADS * per_thread);
        pthread_t th[THREADS];
        for (int i = 0; i < THREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, spawn_burst, NULL), 0);
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        if (!latch_wait(&done, DEADLINE))
            fail_msg("round %ld: %ld tasks never ran", r, (long)atomic_load(&done.count));
        latch_destroy(&done);
    }
    while (hive__sched_live_tasks() != 0)
        sched_yield();
    assert_int_equal(hive_runtime_stop(), 0);
    hive__idle_set_backstop_ms(HIVE__PARK_BACKSTOP_MS);
}

/* ---- unpark storm ------------------------------------------------------ */

#define NPARKED 64
static hive__task_t *_Atomic parked[NPARKED];
static _Atomic int go[NPARKED];
static _Atomic int ready_count;
static long unpark_rounds;

static void parker(void *arg)
{
    int i = (int)(uintptr_t)arg;
    atomic_store(&parked[i], hive__task_self());
    for (long r = 1; r <= unpark_rounds; r++) {
        atomic_fetch_add(&ready_count, 1);
        while (atomic_load(&go[i]) < r)
            hive__task_park();
        latch_count_down(&done);
    }
}

static void *unpark_all(void *arg)
{
    int first = (int)(uintptr_t)arg;
    for (int i = first; i < NPARKED; i += THREADS) {
        atomic_fetch_add(&go[i], 1);
        hive__task_unpark(atomic_load(&parked[i]));
    }
    return NULL;
}

/* 64 tasks park; once all workers sleep, six foreign threads raise each
 * task's flag and unpark it, all at once. Every task must wake. */
static void unpark_storm_onto_sleeping_workers(void **state)
{
    unpark_rounds = hive_test_scaled(100);
    hive__idle_set_backstop_ms(0);
    for (int i = 0; i < NPARKED; i++) {
        atomic_store(&parked[i], NULL);
        atomic_store(&go[i], 0);
    }
    atomic_store(&ready_count, 0);
    start();
    hive__task_t *kept[NPARKED];
    for (int i = 0; i < NPARKED; i++)
        assert_non_null(kept[i] = spawn_kept(parker, (void *)(uintptr_t)i));
    for (long r = 1; r <= unpark_rounds; r++) {
        /* Every task is about to park for round r. */
        for (long k = 0; k < 100000000 && atomic_load(&ready_count) < r * NPARKED; k++)
            sched_yield();
        assert_int_equal(atomic_load(&ready_count), r * NPARKED);
        wait_all_asleep();
        latch_init(&done, NPARKED);
        pthread_t th[THREADS];
        for (int i = 0; i < THREADS; i++)
            assert_int_equal(pthread_create(&th[i], NULL, unpark_all, (void *)(uintptr_t)i), 0);
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        if (!latch_wait(&done, DEADLINE))
            fail_msg("round %ld: %ld tasks never woke", r, (long)atomic_load(&done.count));
        latch_destroy(&done);
    }
    while (hive__sched_live_tasks() != 0)
        sched_yield();
    assert_int_equal(hive_runtime_stop(), 0);
    for (int i = 0; i < NPARKED; i++)
        hive__task_free(kept[i]);
    hive__idle_set_backstop_ms(HIVE__PARK_BACKSTOP_MS);
}

/* One task at a time from a foreign thread, each injected just as the
 * workers are falling asleep after the previous one (a varying spin sweeps
 * the moment through the park protocol's window). 20,000 rounds; a lost
 * wake-up strands the task and the round misses its deadline. */
static void inject_while_workers_fall_asleep(void **state)
{
    long rounds = hive_test_scaled(20000);
    hive__idle_set_backstop_ms(0);
    start();
    unsigned seed = 42;
    for (long r = 0; r < rounds; r++) {
        latch_init(&done, 1);
        for (volatile int spin = rand_r(&seed) % 2000; spin > 0; spin--)
            ;
        assert_int_equal(hive__task_spawn(count_down, NULL, 0), 0);
        if (!latch_wait(&done, 10.0))
            fail_msg("round %ld: the task never ran", r);
        latch_destroy(&done);
    }
    while (hive__sched_live_tasks() != 0)
        sched_yield();
    assert_int_equal(hive_runtime_stop(), 0);
    hive__idle_set_backstop_ms(HIVE__PARK_BACKSTOP_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inject_while_workers_fall_asleep),
        cmocka_unit_test(spawn_storm_onto_sleeping_workers),
        cmocka_unit_test(unpark_storm_onto_sleeping_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
