/* test_rcu_batch.c - hive's reclaim thread (sched/rcu.h: hive__rcu_defer_batch).
 *
 * What it proves:
 * 1. A batch waits for its grace period: deferred while a registered
 *    reader is online (inside hive__rcu_enter), it has not run 50 ms later;
 *    once the reader leaves, a barrier returns with it run. Fails if the
 *    thread runs batches without a synchronize_rcu.
 * 2. Every batch runs exactly once, with what its deferrer wrote visible:
 *    THREADS threads (more than the machine's cores) defer OPS batches each,
 *    in bursts with pauses between them, so the reclaim thread goes to
 *    sleep on its futex and is woken again and again: every batch must run
 *    on those wake-ups alone, before any barrier (a lost wake-up leaves
 *    batches unrun, and the 60 s wait for them fails). A batch carries a
 *    payload and its complement, written before
 *    the defer and checked by the callback (the release CAS / acquire
 *    exchange hand-over; TSan checks it too in the sanitizer job), and a
 *    run counter that must end at 1. After a barrier every batch has run.
 *
 * Usage: test_rcu_batch [threads] [batches per thread].
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sched/rcu.h"
#include "tests/scale.h"

static long threads = 8, ops = 20000;

/* ---- 1. the grace period ---- */

static _Atomic int ran, reader_online, reader_may_leave;

static void mark_ran(hive__rcu_batch_t *b)
{
    (void)b;
    atomic_store(&ran, 1);
}

static void *reader(void *arg)
{
    (void)arg;
    hive__rcu_enter(); /* registered and online: a read-side section */
    atomic_store(&reader_online, 1);
    while (!atomic_load(&reader_may_leave))
        usleep(1000);
    hive__rcu_leave();
    return NULL;
}

static void a_batch_waits_for_an_online_reader(void **state)
{
    (void)state;
    assert_int_equal(hive__rcu_reclaimer_start(NULL), 0);
    pthread_t r;
    assert_int_equal(pthread_create(&r, NULL, reader, NULL), 0);
    while (!atomic_load(&reader_online))
        usleep(1000);
    static hive__rcu_batch_t b; /* static: it outlives the test if the check fails */
    hive__rcu_defer_batch(&b, mark_ran);
    usleep(50000);
    int early = atomic_load(&ran); /* must be 0: the reader is still inside */
    atomic_store(&reader_may_leave, 1);
    pthread_join(r, NULL); /* the reader leaves before any check can end the test */
    hive__rcu_batch_barrier();
    assert_int_equal(early, 0);
    assert_int_equal(atomic_load(&ran), 1);
}

/* ---- 2. many deferring threads ---- */

typedef struct {
    hive__rcu_batch_t b; /* first */
    _Atomic int runs;
    long payload, check;
} item_t;

static item_t *items;
static _Atomic long done, bad;

static void run_item(hive__rcu_batch_t *b)
{
    item_t *it = (item_t *)(void *)b;
    if (it->check != ~it->payload || atomic_fetch_add(&it->runs, 1) != 0)
        atomic_fetch_add(&bad, 1);
    atomic_fetch_add(&done, 1);
}

static void *deferrer(void *arg)
{
    long t = (long)(intptr_t)arg;
    for (long i = 0; i < ops; i++) {
        item_t *it = &items[t * ops + i];
        it->payload = t * ops + i;
        it->check = ~it->payload;
        hive__rcu_defer_batch(&it->b, run_item);
        if (i % 64 == 63)
            usleep(100); /* a pause: the reclaim thread may fall asleep */
    }
    return NULL;
}

static void every_batch_runs_once_under_many_deferring_threads(void **state)
{
    (void)state;
    assert_int_equal(hive__rcu_reclaimer_start(NULL), 0);
    long n = threads * ops;
    items = calloc((size_t)n, sizeof *items);
    assert_non_null(items);
    unsigned long rounds0 = hive__rcu_batch_rounds();
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    assert_non_null(th);
    for (long t = 0; t < threads; t++)
        assert_int_equal(pthread_create(&th[t], NULL, deferrer, (void *)(intptr_t)t), 0);
    for (long t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    /* Before any barrier (whose own push would wake the thread and so hide
     * a wake-up lost earlier): every batch runs on the deferrers' own
     * wake-ups, within 60 s. */
    for (int i = 0; i < 60000 && atomic_load(&done) < n; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&done), n);
    hive__rcu_batch_barrier();
    print_message("%ld batches in %lu grace periods\n", n, hive__rcu_batch_rounds() - rounds0);
    assert_int_equal(atomic_load(&done), n);
    assert_int_equal(atomic_load(&bad), 0);
    for (long i = 0; i < n; i++)
        assert_int_equal(atomic_load(&items[i].runs), 1);
    free(th);
    free(items);
}

int main(int argc, char **argv)
{
    hive_test_args(argc, argv, &threads, &ops);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_batch_waits_for_an_online_reader),
        cmocka_unit_test(every_batch_runs_once_under_many_deferring_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
