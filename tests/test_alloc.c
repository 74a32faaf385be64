/* test_alloc.c - the allocation layer's kept arenas (mailbox/alloc.c).
 *
 * What it proves, in builds that allocate with jemalloc (sanitizer builds
 * use libc malloc: the tests skip there):
 * 1. Workers allocate from hive's kept arenas, WORKERS_PER_ARENA (8)
 *    workers to one: the 10 workers of a runtime name two arenas (workers
 *    0-7 one, 8-9 another), and a later runtime's workers name the same
 *    two, so an arena outlives the workers that used it.
 * 2. What that is for: a runtime started after another reuses the memory
 *    the last one gave back when it stopped, whichever worker allocates.
 *    Three runtimes in turn (2 workers each) start 20,000 idle actors from
 *    a process pinned to worker 0, then 1, then 0; the page faults of the
 *    second and third start are fewer than half the first's. Before the
 *    kept arenas each worker thread had an arena of jemalloc's choosing,
 *    purged when the thread ended, and the memory freed at a stop went
 *    back to the arena of the thread that had allocated it: a start on
 *    another worker faulted its pages in afresh (sup_tree_start paid ~1,800
 *    faults instead of ~700 in most runs on 2 workers). Page faults are
 *    counts, not times: the machine's load does not move them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

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
    assert_true(dirty1 >= dirty0 + (size_t)ACTORS * 448 / 4096 / 2);
    assert_true(purged1 - purged0 < (uint64_t)ACTORS * 448 / 4096 / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(workers_share_kept_arenas_across_runtimes),
        cmocka_unit_test(a_stop_leaves_the_kept_arena_its_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
