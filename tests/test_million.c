/* test_million.c - a million processes blocked in receive at once.
 *
 * On a default kernel (vm.max_map_count 65530) only ~32,000 stacks can each
 * have their own guard-page mapping; past that the stack allocator must
 * carve unguarded slabs (it warns once on stderr: expected here) rather
 * than fail. The test spawns N processes (default 1,000,000; 10,000 under
 * ASan, 4,000 under TSan, whose live-fiber limit is ~8k) from the attached
 * test thread; each counts itself and blocks in hive_receive_tag(T_STOP,
 * HIVE_INFINITY). Once all N are blocked and hive_process_count() is N + 1
 * (the test thread is a pseudo-process) it prints the resident memory per
 * process, then sends each a T_STOP and waits until the count is back to 1.
 * Claims: every spawn succeeds, all N really are blocked at the same time,
 * every one is woken by its message and ends, none is left behind.
 *
 * Usage: test_million [processes]. The count is not scaled: the claim is
 * about this many at once. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "tests/rt.h"

#if HIVE_TSAN
#define DEFAULT_N 4000L
#elif HIVE_ASAN
#define DEFAULT_N 10000L
#else
#define DEFAULT_N 1000000L
#endif
#define WAIT_S 120 /* deadline for each phase */

enum { T_STOP = 1 };

static long n = DEFAULT_N;
static hive_pid_t *pids;
static _Atomic long blocked, woken, receive_errors;

static void blocker(void *arg)
{
    hive_msg_t *m;
    atomic_fetch_add_explicit(&blocked, 1, memory_order_relaxed);
    if (hive_receive_tag(T_STOP, HIVE_INFINITY, &m) != 0) {
        atomic_fetch_add(&receive_errors, 1);
        return;
    }
    hive_msg_free(m);
    atomic_fetch_add_explicit(&woken, 1, memory_order_relaxed);
}

/* VmRSS of this process in bytes, or -1. */
static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wait until cond(): true, or false after WAIT_S seconds. */
static bool wait_until(bool (*cond)(void))
{
    double deadline = now_s() + WAIT_S;
    while (!cond()) {
        if (now_s() > deadline)
            return false;
        sched_yield();
    }
    return true;
}

static bool all_blocked(void)
{
    return atomic_load(&blocked) == n && hive_process_count() == n + 1;
}

static bool all_ended(void)
{
    return hive_process_count() == 1;
}

static void a_million_processes_block_in_receive_at_once_and_all_end(void **state)
{
    pids = malloc((size_t)n * sizeof *pids);
    assert_non_null(pids);
    assert_int_equal(rt_start(HIVE_CONFIG_UNSET, n + n / 10 + 16, 0), 0); /* a worker per core */
    hive_pid_t me;
    assert_int_equal(hive_thread_attach(&me), 0);
    long rss0 = rss_bytes();

    double t0 = now_s();
    long spawn_errors = 0;
    int first_error = 0;
    for (long i = 0; i < n; i++) {
        int rc = hive_spawn(blocker, NULL, &pids[i]);
        if (rc != 0) {
            if (!spawn_errors++)
                first_error = rc;
            pids[i] = HIVE_PID_NONE;
        }
    }
    if (spawn_errors)
        fail_msg("%ld of %ld spawns failed, the first with %s", spawn_errors, n,
                 hive_strerror(first_error));
    if (!wait_until(all_blocked))
        fail_msg("after %d s: %ld of %ld blocked, %ld processes", WAIT_S, atomic_load(&blocked), n,
                 hive_process_count());
    double t1 = now_s();
    long rss1 = rss_bytes();
    printf("# %ld processes blocked in receive (%d workers): spawned in %.2f s; "
           "VmRSS %.1f MiB, %.0f bytes per process (%.0f above the empty runtime)\n",
           n, hive_runtime_workers(), t1 - t0, (double)rss1 / 1048576.0, (double)rss1 / (double)n,
           (double)(rss1 - rss0) / (double)n);

    long send_errors = 0;
    for (long i = 0; i < n; i++)
        send_errors += hive_send(pids[i], T_STOP, NULL, 0) != 0;
    assert_int_equal(send_errors, 0);
    if (!wait_until(all_ended))
        fail_msg("after %d s: %ld processes left, %ld woken", WAIT_S, hive_process_count(),
                 atomic_load(&woken));
    double t2 = now_s();
    printf("# woken and ended in %.2f s\n", t2 - t1);
    assert_int_equal(atomic_load(&receive_errors), 0);
    assert_int_equal(atomic_load(&woken), n);
    for (long i = 0; i < n; i += n / 100 + 1)
        assert_false(hive_is_alive(pids[i]));
    assert_int_equal(hive_thread_detach(), 0);
    assert_int_equal(hive_runtime_stop(), 0);
    free(pids);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        n = atol(argv[1]);
    if (n < 1) {
        fprintf(stderr, "usage: %s [processes]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_million_processes_block_in_receive_at_once_and_all_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
