/* test_deque_stress.c - 1 owner + N thieves: every pushed item is taken
 * exactly once, none lost, none twice, across growth of the array.
 *
 * Usage: test_deque_stress [thieves] [items]. The owner pushes `items`
 * integers in bursts (so the array grows and shrinks in use), popping some
 * itself; thieves steal concurrently. Each taker marks the item in a shared
 * array with an atomic increment: at the end every mark must be exactly 1.
 * Thieves are QSBR readers (old arrays are freed through RCU)
 * and report quiescent states as workers do.
 *
 * Never reported empty: the owner pushes a base of N items (10^6, or
 * items/10 if more), then, while two thieves steal exactly N items between
 * them, pushes bursts of 1..64 more and pops them back. The deque always
 * holds at least one item, so no steal may return NULL (empty) - only an
 * item or ABORT (a lost race) - no size() may say 0, every owner pop must
 * return the item it pushed last, and every base item is stolen once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include "sched/deque.h"
#include "tests/scale.h"

static int nthieves = 4;
static long nitems = 200000;
static hive__deque_t dq;
static _Atomic unsigned char *marks;
static _Atomic bool done;
static _Atomic long taken_by_thieves;

static void take(void *x)
{
    uintptr_t i = ((uintptr_t)x >> 3) - 1; /* items are (i + 1) << 3: never NULL or ABORT */
    atomic_fetch_add_explicit(&marks[i], 1, memory_order_relaxed);
}

static void *thief(void *arg)
{
    rcu_register_thread();
    long mine = 0, spins = 0;
    for (;;) {
        void *x = hive__deque_steal(&dq);
        if (x && x != HIVE__DEQUE_ABORT) {
            take(x);
            mine++;
        } else if (!x && atomic_load_explicit(&done, memory_order_acquire)) {
            break;
        }
        if (++spins % 64 == 0)
            rcu_quiescent_state();
    }
    atomic_fetch_add(&taken_by_thieves, mine);
    rcu_unregister_thread();
    return NULL;
}

static void every_item_taken_exactly_once(void **state)
{
    marks = calloc((size_t)nitems, 1);
    assert_non_null(marks);
    assert_int_equal(hive__deque_init(&dq, 2), 0);
    pthread_t th[64];
    for (int i = 0; i < nthieves; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thief, NULL), 0);
    long pushed = 0, popped = 0;
    unsigned seed = 12345;
    while (pushed < nitems) {
        long burst = 1 + rand_r(&seed) % 512;
        for (long k = 0; k < burst && pushed < nitems; k++) {
            pushed++;
            assert_int_equal(hive__deque_push(&dq, (void *)((uintptr_t)pushed << 3)), 0);
        }
        long pops = rand_r(&seed) % (burst + 1);
        for (long k = 0; k < pops; k++) {
            void *x = hive__deque_pop(&dq);
            if (!x)
                break;
            take(x);
            popped++;
        }
        rcu_quiescent_state();
    }
    void *x;
    while ((x = hive__deque_pop(&dq))) {
        take(x);
        popped++;
    }
    atomic_store_explicit(&done, true, memory_order_release);
    rcu_thread_offline();
    for (int i = 0; i < nthieves; i++)
        pthread_join(th[i], NULL);
    rcu_thread_online();
    long twice = 0, lost = 0;
    for (long i = 0; i < nitems; i++) {
        unsigned char m = atomic_load(&marks[i]);
        if (m == 0)
            lost++;
        else if (m > 1)
            twice++;
    }
    printf("# %ld items, %d thieves: owner popped %ld, thieves stole %ld, lost %ld, twice %ld\n",
           nitems, nthieves, popped, atomic_load(&taken_by_thieves), lost, twice);
    assert_int_equal(lost, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(popped + atomic_load(&taken_by_thieves), nitems);
    hive__deque_destroy(&dq);
    free((void *)marks);
}

/* ---- never reported empty ----------------------------------------------- */

static long nbase;
enum { RESERVE = 16 };
static _Atomic long stolen_total, empty_steals, empty_sizes, aborts_seen;
static _Atomic int thieves_done;

static void *steady_thief(void *arg)
{
    rcu_register_thread();
    long want = (long)(intptr_t)arg, got = 0, empties = 0, zero = 0, aborts = 0, spins = 0;
    while (got < want) {
        void *x = hive__deque_steal(&dq);
        if (!x) {
            empties++;
        } else if (x == HIVE__DEQUE_ABORT) {
            aborts++;
        } else {
            take(x);
            got++;
        }
        if (hive__deque_size(&dq) == 0)
            zero++;
        if (++spins % 64 == 0)
            rcu_quiescent_state();
    }
    atomic_fetch_add(&stolen_total, got);
    atomic_fetch_add(&empty_steals, empties);
    atomic_fetch_add(&empty_sizes, zero);
    atomic_fetch_add(&aborts_seen, aborts);
    atomic_fetch_add(&thieves_done, 1);
    rcu_unregister_thread();
    return NULL;
}

static void a_deque_that_is_not_empty_is_never_reported_empty(void **state)
{
    marks = calloc((size_t)nbase, 1);
    assert_non_null(marks);
    assert_int_equal(hive__deque_init(&dq, 2), 0);
    for (long i = 1; i <= nbase; i++)
        assert_int_equal(hive__deque_push(&dq, (void *)((uintptr_t)i << 3)), 0);
    /* Below the base items, a reserve the thieves never reach (together they
     * take exactly the nbase base items): the deque is truly never empty
     * while they look, even after their last steal. Without it a thief's
     * size() right after the last base item went could rightly say 0 when
     * the owner was between bursts (a Release build hit that window). */
    uintptr_t reserve = ((uintptr_t)nbase + 1 + 64) << 3;
    for (int k = 0; k < RESERVE; k++)
        assert_int_equal(hive__deque_push(&dq, (void *)(reserve + ((uintptr_t)k << 3))), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, steady_thief,
                                        (void *)(intptr_t)(nbase / 2 + (i == 0 ? nbase % 2 : 0))),
                         0);
    unsigned seed = 777;
    long bursts = 0, wrong_pops = 0;
    uintptr_t extra = ((uintptr_t)nbase + 1) << 3; /* extras: never marked */
    while (atomic_load_explicit(&thieves_done, memory_order_acquire) < 2) {
        int burst = 1 + rand_r(&seed) % 64;
        for (int k = 0; k < burst; k++)
            assert_int_equal(hive__deque_push(&dq, (void *)(extra + ((uintptr_t)k << 3))), 0);
        for (int k = burst - 1; k >= 0; k--)
            if (hive__deque_pop(&dq) != (void *)(extra + ((uintptr_t)k << 3)))
                wrong_pops++;
        bursts++;
        rcu_quiescent_state();
    }
    rcu_thread_offline();
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    rcu_thread_online();
    long lost = 0, twice = 0;
    for (long i = 0; i < nbase; i++) {
        unsigned char m = atomic_load(&marks[i]);
        lost += m == 0;
        twice += m > 1;
    }
    printf("# never empty: %ld base items stolen by 2 thieves while the owner pushed and "
           "popped %ld bursts: empty steals %ld, zero sizes %ld, aborts %ld, wrong pops %ld, "
           "lost %ld, twice %ld\n",
           atomic_load(&stolen_total), bursts, atomic_load(&empty_steals),
           atomic_load(&empty_sizes), atomic_load(&aborts_seen), wrong_pops, lost, twice);
    assert_int_equal(atomic_load(&empty_steals), 0);
    assert_int_equal(atomic_load(&empty_sizes), 0);
    assert_int_equal(wrong_pops, 0);
    assert_int_equal(lost, 0);
    assert_int_equal(twice, 0);
    for (int k = RESERVE - 1; k >= 0; k--)
        assert_ptr_equal(hive__deque_pop(&dq), (void *)(reserve + ((uintptr_t)k << 3)));
    assert_null(hive__deque_pop(&dq));
    hive__deque_destroy(&dq);
    free((void *)marks);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        nthieves = atoi(argv[1]);
    if (argc > 2)
        nitems = atol(argv[2]);
    if (nthieves < 1 || nthieves > 64 || nitems < 1) {
        fprintf(stderr, "usage: %s [thieves 1..64] [items]\n", argv[0]);
        return 2;
    }
    nbase = hive_test_scaled(nitems / 10 > 1000000 ? nitems / 10 : 1000000);
    nitems = hive_test_scaled(nitems);
    rcu_register_thread();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_item_taken_exactly_once),
        cmocka_unit_test(a_deque_that_is_not_empty_is_never_reported_empty),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    rcu_barrier();
    rcu_unregister_thread();
    return r;
}
