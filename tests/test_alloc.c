/* test_alloc.c - what a stopped runtime leaves for the next: the kept
 * jemalloc arenas (mailbox/alloc.c) and the depot of process structs
 * (core/process.c).
 *
 * What it proves:
 * 1. Workers allocate from hive's kept arenas, WORKERS_PER_ARENA (8)
 *    workers to one: the 10 workers of a runtime name two arenas (workers
 *    0-7 one, 8-9 another), and a later runtime's workers name the same
 *    two, so an arena outlives the workers that used it.
 * 2. A stop leaves the kept arena its pages: after a runtime whose worker
 *    started 20,000 actors stops, the arena holds at least a quarter of
 *    their structs' pages as dirty (free, still backed) pages and has
 *    purged fewer than that (jemalloc's own counters). A worker's own
 *    arena was purged when the worker ended, so each runtime faulted in
 *    afresh what the last had used (sup_tree_start: ~1,800 page faults per
 *    repetition instead of ~60-250). Fails when workers do not allocate
 *    from the kept arena.
 * 3. The dead processes' structs outlive the runtime: the next runtime's
 *    first spawn takes one from the depot (its reserve refills from it).
 *    Fails when a stop empties the depot.
 * 4. The depot holds a burst while the runtime runs and keeps little after
 *    it stops: (PDEPOT_KEEP + 3) batches' worth of actors, alive together
 *    and then stopped together, all reach the depot (more than a stop
 *    keeps; fails with a bound as low as what a stop keeps, when most of a
 *    burst went back to jemalloc); a worker whose reserve is empty then
 *    takes PRESERVE batches from it, not the whole depot (fails with the
 *    old take-all refill, which left the depot to fill up again behind a
 *    hoarded reserve and refuse what came back); and the stop trims it to
 *    PDEPOT_KEEP (fails without the trim).
 * 1 and 2 skip in builds without jemalloc (the sanitizer builds), 3 and 4
 * under ASan (no depot there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/process.h"
#include "mailbox/alloc.h"
#include "tests/rt.h"

enum { TAG_ARENA = 1, TAG_FAULTS };

/* ---- 1. which arena each worker uses ---- */

static void report_arena(void *arg)
{
    hive_pid_t to = (hive_pid_t)(uintptr_t)arg;
    long a = hive__alloc_worker_arena();
    hive_send(to, TAG_ARENA, &a, sizeof a);
}

/* Each worker's kept arena (-1: none), in a[0..n). */
static void worker_arenas(int n, long *a)
{
    hive_pid_t me;
    assert_int_equal(rt_start_attached(n, 0, 0, &me), 0);
    for (int i = 0; i < n; i++) {
        hive_spawn_opts_t o = {.worker = i, .pinned = true};
        assert_int_equal(hive_spawn_opts(report_arena, (void *)(uintptr_t)me, &o, NULL), 0);
        a[i] = rt_receive_long(TAG_ARENA, 10000);
        /* one at a time: the answer is worker i's */
    }
    assert_int_equal(rt_stop_attached(), 0);
}

static void workers_share_kept_arenas_across_runtimes(void **state)
{
    (void)state;
    long first[10], again[10];
    worker_arenas(10, first);
    if (first[0] < 0)
        skip(); /* no jemalloc in this build */
    for (int i = 1; i < 8; i++)
        assert_int_equal(first[i], first[0]);
    assert_int_equal(first[9], first[8]);
    assert_true(first[8] >= 0);
    assert_int_not_equal(first[8], first[0]);
    worker_arenas(10, again);
    for (int i = 0; i < 10; i++)
        assert_int_equal(again[i], first[i]);
}

/* ---- 2. a stop leaves the kept arena its pages ---- */

enum { ACTORS = 20000 };

static hive_next_t idle(void *state, hive_msg_t *m)
{
    (void)m;
    return hive_continue(state);
}

static hive_pid_t actors[ACTORS];

/* Start ACTORS idle actors, then stop half of them (the rest end with the
 * runtime); report how many started and stopped. */
static void start_actors(void *arg)
{
    hive_pid_t to = (hive_pid_t)(uintptr_t)arg;
    hive_actor_spec_t spec = {.handle = idle};
    long ok = 0;
    for (int i = 0; i < ACTORS; i++) {
        hive_subject_t s = {0};
        ok += hive_actor_start(&spec, NULL, &s, NULL) == 0;
        actors[i] = s.pid;
    }
    for (int i = 0; i < ACTORS / 2; i++)
        ok += hive_actor_stop(actors[i], hive_reason_normal(), 10000) == 0;
    hive_send(to, TAG_ARENA, &ok, sizeof ok);
}

static void a_stop_leaves_the_kept_arena_its_pages(void **state)
{
    (void)state;
    long a[1];
    worker_arenas(1, a);
    size_t dirty0, dirty1;
    uint64_t purged0, purged1;
    if (a[0] < 0 || hive__alloc_arena_pages((int)a[0], &dirty0, &purged0) != 0)
        skip(); /* no jemalloc, or no statistics in it */
    hive_pid_t me;
    assert_int_equal(rt_start_attached(2, 0, 0, &me), 0);
    hive_spawn_opts_t o = {.worker = 1, .pinned = true};
    assert_int_equal(hive_spawn_opts(start_actors, (void *)(uintptr_t)me, &o, NULL), 0);
    assert_int_equal(rt_receive_long(TAG_ARENA, 60000), ACTORS + ACTORS / 2);
    assert_int_equal(rt_stop_attached(), 0);
    assert_int_equal(hive__alloc_arena_pages((int)a[0], &dirty1, &purged1), 0);
    printf("kept arena %ld: dirty pages %zu -> %zu, purged %llu -> %llu\n", a[0], dirty0, dirty1,
           (unsigned long long)purged0, (unsigned long long)purged1);
    /* The actors' structs alone were ~ACTORS * 448 bytes: most of those
     * pages are free now, and still there. Without the kept arena the
     * worker's own arena lost them when the worker ended. */
    assert_true(dirty1 >= dirty0 + (size_t)ACTORS * 448 / 4096 / 4);
    assert_true(purged1 - purged0 < (uint64_t)ACTORS * 448 / 4096 / 4);
}

/* ---- 3. process structs outlive a runtime ---- */

enum { CHURN = 2000 };

static void nothing(void *arg) { (void)arg; }

/* Spawn n processes that end at once and tell `to` how many started. */
static void spawn_ended(void *to, int n)
{
    long ok = 0;
    for (int i = 0; i < n; i++)
        ok += hive_spawn(nothing, NULL, NULL) == 0;
    hive_send((hive_pid_t)(uintptr_t)to, TAG_ARENA, &ok, sizeof ok);
}

static void churn(void *to) { spawn_ended(to, CHURN); }

/* Then, in a next runtime, one more: report whether it came from a
 * reserve refilled from the depot. */
static void first_spawn(void *arg)
{
    hive_pid_t to = (hive_pid_t)(uintptr_t)arg;
    size_t before = hive__proc_pmem_refills();
    long refilled = hive_spawn(nothing, NULL, NULL) == 0 && hive__proc_pmem_refills() > before;
    hive_send(to, TAG_ARENA, &refilled, sizeof refilled);
}

static void run_one(void (*fn)(void *), long want)
{
    hive_pid_t me;
    assert_int_equal(rt_start_attached(1, 0, 0, &me), 0);
    assert_int_equal(hive_spawn(fn, (void *)(uintptr_t)me, NULL), 0);
    assert_int_equal(rt_receive_long(TAG_ARENA, 60000), want);
    assert_int_equal(rt_stop_attached(), 0);
}

/* The dead processes' structs (a depot of clean structs, core/process.c)
 * are kept when the runtime stops: the next runtime's first spawn takes
 * one of them (its worker's reserve refills from the depot), rather than
 * asking jemalloc for memory it may have to fault in. */
static void a_later_runtime_spawns_from_the_last_ones_structs(void **state)
{
    (void)state;
#if HIVE_ASAN
    skip(); /* no depot under ASan: every dead struct is freed, for ASan to see */
#endif
    run_one(churn, CHURN);
    run_one(first_spawn, 1);
}

/* ---- 4. the depot holds a burst; a stop trims it ---- */

static hive_next_t stop_on_cast(void *state, hive_msg_t *m)
{
    (void)m;
    return hive_stop();
}

/* Start n actors (alive together: their structs are n distinct ones,
 * however fast or slow the run), then cast each the message that stops
 * it; report how many started. */
static void start_then_stop(void *arg)
{
    hive_pid_t to = (hive_pid_t)(uintptr_t)arg;
    int n = (hive__proc_depot_keep() + 3) * hive__proc_depot_batch();
    hive_subject_t *s = calloc((size_t)n, sizeof *s);
    hive_actor_spec_t spec = {.handle = stop_on_cast};
    long ok = 0;
    for (int i = 0; s && i < n; i++)
        ok += hive_actor_start(&spec, NULL, &s[i], NULL) == 0;
    for (int i = 0; s && i < n; i++)
        hive_subject_send(s[i], NULL, 0);
    free(s);
    hive_send(to, TAG_ARENA, &ok, sizeof ok);
}

/* Start one actor (the worker's empty reserve refills from the depot of
 * its class) and report the depot's batches just before and after, while
 * this worker is busy (an idle one puts its reserve back); stop it. */
static void start_one_and_count(void *arg)
{
    hive_pid_t to = (hive_pid_t)(uintptr_t)arg;
    hive_actor_spec_t spec = {.handle = stop_on_cast};
    hive_subject_t s;
    long n[2] = {hive__proc_depot_batches(), -1};
    if (hive_actor_start(&spec, NULL, &s, NULL) == 0) {
        n[1] = hive__proc_depot_batches();
        hive_subject_send(s, NULL, 0);
    }
    hive_send(to, TAG_ARENA, n, sizeof n);
}

static void the_depot_holds_a_burst_and_a_stop_trims_it(void **state)
{
    (void)state;
#if HIVE_ASAN
    skip(); /* no depot under ASan */
#endif
    int keep = hive__proc_depot_keep(), batch = hive__proc_depot_batch();
    assert_true(hive__proc_depot_max() > keep + 3);
    hive_pid_t me;
    assert_int_equal(rt_start_attached(2, 0, 0, &me), 0);
    long base = hive_process_count();
    assert_int_equal(hive_spawn(start_then_stop, (void *)(uintptr_t)me, NULL), 0);
    assert_int_equal(rt_receive_long(TAG_ARENA, 60000), (long)(keep + 3) * batch);
    /* Bounded waits (60 s each): every actor ends, then the grace periods
     * hand their batches over (the workers flush their last ones as they
     * go idle). Nothing spawns meanwhile, so no struct is taken back. */
    for (int i = 0; i < 6000 && hive_process_count() > base; i++)
        hive_sleep(10);
    assert_int_equal(hive_process_count(), base);
    int most = 0;
    for (int i = 0; i < 6000 && (most = hive__proc_depot_batches()) < keep + 2; i++)
        hive_sleep(10);
    print_message("depot: %d batches of up to %d while running\n", most, batch);
    assert_true(most > keep);
    assert_int_equal(hive_spawn(start_one_and_count, (void *)(uintptr_t)me, NULL), 0);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(TAG_ARENA, 60000, &m), 0);
    const long *n = hive_msg_data(m);
    print_message("depot: %ld batches, %ld after a refill\n", n[0], n[1]);
    assert_true(n[1] >= 0 && n[1] < n[0] && n[1] >= n[0] - hive__proc_depot_take());
    hive_msg_free(m);
    assert_int_equal(rt_stop_attached(), 0);
    assert_int_equal(hive__proc_depot_batches(), keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workers_share_kept_arenas_across_runtimes),
        cmocka_unit_test(a_stop_leaves_the_kept_arena_its_pages),
        cmocka_unit_test(a_later_runtime_spawns_from_the_last_ones_structs),
        cmocka_unit_test(the_depot_holds_a_burst_and_a_stop_trims_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
