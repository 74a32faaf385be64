/* test_depot.c - the batch depot (mailbox/depot.h) under many threads.
 *
 * 1. Single thread: put and get in LIFO order, the bound refuses a put past
 *    `max` (the record stays the caller's), drain hands over every record
 *    and zeroes the count; take hands over at most its max, newest first,
 *    leaves the rest in order and counts what it took.
 * 2. Stress: THREADS threads (more than the machine's cores) pass RECORDS
 *    records around through one depot whose bound is below RECORDS, so
 *    puts are refused too; each thread keeps what it holds on a private
 *    list. A record carries an owner word: a thread that gets a record must
 *    find it unowned (exchange), so a record handed to two threads at once
 *    (a lost CAS race, an ABA in the pop) fails the test; at the end every
 *    record is held exactly once (by a thread or the depot). Run under
 *    TSan by the sanitizer job: the release/acquire hand-over is what
 *    makes the payload written before a put visible to the getter.
 *
 * Usage: test_depot [threads] [ops per thread].
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mailbox/depot.h"
#include "tests/scale.h"

typedef struct rec {
    hive__depot_rec_t d; /* first */
    _Atomic int owner;   /* 0: in the depot or on nobody's list */
    long payload, check; /* written before each put (check = ~payload),
                          * compared after each get */
    struct rec *mine;    /* a holder's private list */
} rec_t;

static void single_thread_contract(void **state)
{
    hive__depot_t d = {0};
    rec_t r[3] = {0};
    assert_null(hive__depot_get(&d));
    assert_null(hive__depot_drain(&d));
    assert_true(hive__depot_put(&d, &r[0].d, 2));
    assert_true(hive__depot_put(&d, &r[1].d, 2));
    assert_false(hive__depot_put(&d, &r[2].d, 2)); /* full: still ours */
    assert_int_equal(hive__depot_count(&d), 2);
    assert_ptr_equal(hive__depot_get(&d), &r[1].d); /* newest first */
    assert_int_equal(hive__depot_count(&d), 1);
    assert_true(hive__depot_put(&d, &r[2].d, 2));
    hive__depot_rec_t *all = hive__depot_drain(&d);
    assert_ptr_equal(all, &r[2].d);
    assert_ptr_equal(all->next, &r[0].d);
    assert_null(all->next->next);
    assert_int_equal(hive__depot_count(&d), 0);
    assert_null(hive__depot_get(&d));
    assert_null(hive__depot_take(&d, 4));
}

static void take_hands_over_at_most_max(void **state)
{
    hive__depot_t d = {0};
    rec_t r[5] = {0};
    for (int i = 0; i < 5; i++)
        assert_true(hive__depot_put(&d, &r[i].d, 8));
    hive__depot_rec_t *got = hive__depot_take(&d, 3); /* newest first */
    assert_ptr_equal(got, &r[4].d);
    assert_ptr_equal(got->next, &r[3].d);
    assert_ptr_equal(got->next->next, &r[2].d);
    assert_null(got->next->next->next); /* the chain ends at max */
    assert_int_equal(hive__depot_count(&d), 2);
    /* The rest stayed, in order, below a later put. */
    assert_true(hive__depot_put(&d, &r[4].d, 8));
    got = hive__depot_take(&d, 8); /* more than there is: all of it */
    assert_ptr_equal(got, &r[4].d);
    assert_ptr_equal(got->next, &r[1].d);
    assert_ptr_equal(got->next->next, &r[0].d);
    assert_null(got->next->next->next);
    assert_int_equal(hive__depot_count(&d), 0);
    assert_null(hive__depot_take(&d, 1));
}

enum { RECORDS = 256, MAX = 64 };

static long threads = 8, ops = 2000000;
static hive__depot_t depot;
static rec_t recs[RECORDS];
static _Atomic long twice, torn;

typedef struct {
    int id;
    rec_t *held; /* private list through mine */
    long nheld;
} worker_t;

static void take(worker_t *w, rec_t *r)
{
    if (atomic_exchange_explicit(&r->owner, w->id, memory_order_relaxed) != 0)
        atomic_fetch_add(&twice, 1);
    if (r->check != ~r->payload || r->payload / 1000 != r - recs)
        atomic_fetch_add(&torn, 1);
    r->mine = w->held;
    w->held = r;
    w->nheld++;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    unsigned seed = (unsigned)w->id * 2654435761u;
    for (long i = 0; i < ops; i++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) & 1) {
            /* Get one, a few, or the whole depot. */
            unsigned pick = (seed >> 17) % 32;
            hive__depot_rec_t *got = pick == 0   ? hive__depot_drain(&depot)
                                     : pick < 12 ? hive__depot_take(&depot, 2 + (int)pick % 3)
                                                 : hive__depot_get(&depot);
            bool all = pick < 12;
            while (got) {
                hive__depot_rec_t *next = all ? got->next : NULL;
                take(w, (rec_t *)got);
                got = next;
            }
        } else if (w->held) {
            rec_t *r = w->held;
            w->held = r->mine;
            w->nheld--;
            r->payload = (long)(r - recs) * 1000 + (long)(seed % 1000);
            r->check = ~r->payload;
            atomic_store_explicit(&r->owner, 0, memory_order_relaxed);
            if (!hive__depot_put(&depot, &r->d, MAX)) {
                atomic_store_explicit(&r->owner, w->id, memory_order_relaxed);
                r->mine = w->held; /* refused: still ours */
                w->held = r;
                w->nheld++;
            }
        }
    }
    return NULL;
}

static void records_pass_between_threads_without_loss_or_double_ownership(void **state)
{
    worker_t *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *ts = calloc((size_t)threads, sizeof *ts);
    assert_non_null(ws);
    assert_non_null(ts);
    for (int i = 0; i < RECORDS; i++) {
        recs[i].payload = (long)i * 1000;
        recs[i].check = ~recs[i].payload;
        /* Half start in the depot (up to its bound), the rest on thread 0. */
        if (i >= RECORDS / 2 || !hive__depot_put(&depot, &recs[i].d, MAX)) {
            atomic_store(&recs[i].owner, 1);
            recs[i].mine = ws[0].held;
            ws[0].held = &recs[i];
            ws[0].nheld++;
        }
    }
    for (long i = 0; i < threads; i++) {
        ws[i].id = (int)i + 1;
        assert_int_equal(pthread_create(&ts[i], NULL, run, &ws[i]), 0);
    }
    for (long i = 0; i < threads; i++)
        pthread_join(ts[i], NULL);

    int seen[RECORDS] = {0};
    long held = 0, in_depot = 0;
    for (long i = 0; i < threads; i++)
        for (rec_t *r = ws[i].held; r; r = r->mine, held++)
            seen[r - recs]++;
    for (hive__depot_rec_t *r = hive__depot_drain(&depot); r; r = r->next, in_depot++)
        seen[(rec_t *)r - recs]++;
    print_message("# %ld threads x %ld ops: %ld held, %ld in the depot, %ld taken twice, %ld torn\n",
                  threads, ops, held, in_depot, (long)twice, (long)torn);
    assert_int_equal(twice, 0);
    assert_int_equal(torn, 0);
    assert_int_equal(held + in_depot, RECORDS);
    for (int i = 0; i < RECORDS; i++)
        assert_int_equal(seen[i], 1);
    free(ws);
    free((void *)ts);
}

int main(int argc, char **argv)
{
    hive_test_args(argc, argv, &threads, &ops);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_thread_contract),
        cmocka_unit_test(take_hands_over_at_most_max),
        cmocka_unit_test(records_pass_between_threads_without_loss_or_double_ownership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
