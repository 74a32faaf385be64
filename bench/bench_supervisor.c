/* bench_supervisor.c - supervisors on the public API (hive/supervisor.h).
 *
 *   sup_restart     a one_for_one supervisor with one permanent worker; a
 *                   driver process asks the worker to crash, the supervisor
 *                   restarts it, the new worker tells the driver it runs;
 *                   100,000 times. ns per restart: from the crash request
 *                   to the replacement running (its first message reaching
 *                   the driver), the crash and the restart included.
 *   sup_tree_start  a tree of 10,000 workers: a root supervisor over 100
 *                   supervisors of 100 workers each (workers are actors
 *                   started with .link, as gen_servers under an OTP
 *                   supervisor: each start waits for the actor's init); ns
 *                   per worker for hive_supervisor_start of the whole tree.
 *   sup_tree_stop   the same tree stopped with hive_supervisor_stop (each
 *                   supervisor stops its children one by one, in reverse
 *                   order, waiting for each: OTP's order); ns per worker.
 *
 * Each run verifies its result (restart count; every worker alive after
 * the start and none left after the stop) and starts its own runtime
 * outside the clock (bench_rt.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hive/hive.h>

#include "bench/bench_rt.h"
#include "bench/harness.h"

enum { RESULT = 1, STARTED, CRASH };

/* ---- sup_restart -------------------------------------------------------- */

enum { RESTARTS = 100000 };

static hive_pid_t restart_driver;

static void crashing_worker(void *arg)
{
    hive_send(restart_driver, STARTED, NULL, 0);
    hive_msg_t *m;
    hive_receive_tag(CRASH, HIVE_INFINITY, &m);
    hive_panic("asked to crash");
}

static int start_crashing(void *arg, hive_pid_t *pid)
{
    return hive_spawn_link(crashing_worker, arg, pid);
}

typedef struct {
    hive_pid_t sink;
    long restarts;
} restart_arg_t;

static void driver(void *arg)
{
    restart_arg_t *r = arg;
    long seen = 0;
    hive_msg_t *m;
    while (hive_receive_tag(STARTED, kBenchDeadlineMs, &m) == 0) {
        hive_pid_t worker = hive_msg_from(m);
        hive_msg_free(m);
        if (seen++ == r->restarts)
            break; /* the first start is not a restart */
        hive_send(worker, CRASH, NULL, 0);
    }
    seen--;
    hive_send(r->sink, RESULT, &seen, sizeof seen);
}

static int bench_sup_restart(long ops, hive_bench_t *b)
{
    static restart_arg_t r;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &r.sink) != 0)
        return -1;
    r.restarts = ops;
    int rc = hive_spawn(driver, &r, &restart_driver);
    hive_child_spec_t kid = {.id = "w", .start = start_crashing, .restart = HIVE_PERMANENT,
                             .shutdown_ms = HIVE_SHUTDOWN_BRUTAL_KILL};
    hive_sup_spec_t spec = {.strategy = HIVE_ONE_FOR_ONE, .intensity = 100000000, .period_s = 1,
                            .children = &kid, .nchildren = 1};
    hive_pid_t sup = HIVE_PID_NONE;
    hive_bench_resume(b);

    if (rc == 0)
        rc = hive_supervisor_start(&spec, &sup, NULL);
    long seen = -1;
    if (rc == 0)
        rc = bench_collect(RESULT, &seen, sizeof seen);

    hive_bench_pause(b);
    if (sup != HIVE_PID_NONE)
        hive_supervisor_stop(sup, kBenchDeadlineMs);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "sup_restart: %s", hive_strerror(rc));
    if (seen != ops)
        return hive_bench_fail(b, "sup_restart: %ld restarts seen, expected %ld", seen, ops);
    return 0;
}
HIVE_BENCH_EX("sup_restart", "hive", "100,000 crash-and-restart cycles, ns per restart",
              bench_sup_restart, NULL, RESTARTS, 5, 0.0);

/* ---- sup_tree_start, sup_tree_stop ------------------------------------- */

enum { TREE_SUPS = 100, TREE_WORKERS = 100 };

/* A worker is an actor (a gen_server, as OTP trees are made of), started
 * with .link as start_link does: hive_actor_start returns once its init ran. */
static hive_next_t idle_handle(void *state, hive_msg_t *m) { return hive_continue(state); }

static int start_idle(void *arg, hive_pid_t *pid)
{
    hive_actor_spec_t spec = {.handle = idle_handle, .link = true};
    hive_subject_t s;
    int rc = hive_actor_start(&spec, arg, &s, NULL);
    if (rc == 0)
        *pid = s.pid;
    return rc;
}

static hive_child_spec_t leaf_kids[TREE_WORKERS];
static hive_sup_spec_t leaf_spec;
static hive_child_spec_t mid_kids[TREE_SUPS];
static char ids[TREE_WORKERS > TREE_SUPS ? TREE_WORKERS : TREE_SUPS][16];

static void tree_spec(hive_sup_spec_t *root)
{
    for (int i = 0; i < TREE_WORKERS; i++) {
        snprintf(ids[i], sizeof ids[i], "c%d", i);
        leaf_kids[i] = (hive_child_spec_t){.id = ids[i], .start = start_idle};
    }
    leaf_spec = (hive_sup_spec_t){.strategy = HIVE_ONE_FOR_ONE, .children = leaf_kids,
                                  .nchildren = TREE_WORKERS};
    for (int i = 0; i < TREE_SUPS; i++)
        mid_kids[i] = hive_supervisor_child(ids[i], &leaf_spec);
    *root = (hive_sup_spec_t){.strategy = HIVE_ONE_FOR_ONE, .children = mid_kids,
                              .nchildren = TREE_SUPS};
}

/* b->arg: NULL = time the start, non-NULL = time the stop. */
static int bench_sup_tree(long ops, hive_bench_t *b)
{
    bool stop = b->arg != NULL;
    hive_pid_t self;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &self) != 0)
        return -1;
    hive_sup_spec_t root;
    tree_spec(&root);
    long base = hive_process_count();
    if (!stop)
        hive_bench_resume(b);

    hive_pid_t sup = HIVE_PID_NONE;
    int rc = hive_supervisor_start(&root, &sup, NULL);

    if (!stop)
        hive_bench_pause(b);
    long alive = hive_process_count() - base;
    if (stop)
        hive_bench_resume(b);

    if (rc == 0)
        rc = hive_supervisor_stop(sup, kBenchDeadlineMs);

    if (stop)
        hive_bench_pause(b);
    /* The root's count drops just after its DOWN reached us. */
    bench_wait_process_count(base);
    long left = hive_process_count() - base;
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "%s: %s", b->name, hive_strerror(rc));
    long want = 1 + TREE_SUPS + (long)TREE_SUPS * TREE_WORKERS;
    if (alive != want || left != 0)
        return hive_bench_fail(b, "%s: %ld processes in the tree (expected %ld), %ld left after stop",
                               b->name, alive, want, left);
    return 0;
}
HIVE_BENCH_EX("sup_tree_start", "hive",
              "root over 100 supervisors x 100 workers: start, ns per worker", bench_sup_tree,
              NULL, (long)TREE_SUPS *TREE_WORKERS, 5, 0.0);
HIVE_BENCH_EX("sup_tree_stop", "hive",
              "root over 100 supervisors x 100 workers: stop, ns per worker", bench_sup_tree,
              (void *)1, (long)TREE_SUPS *TREE_WORKERS, 5, 0.0);
