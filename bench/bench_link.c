/* bench_link.c - links, monitors and exit cascades on the public API.
 *
 *   link_unlink        a process links to and unlinks from another live
 *                      process; ns per link + unlink pair. Verified: the
 *                      calls succeed and, when the peer then ends, no EXIT
 *                      reaches the (trapping) driver.
 *   monitor_demonitor  the same with monitor + demonitor; ns per pair;
 *                      no DOWN from the undone monitors.
 *   link_chain_exit    a chain of 100,000 processes, each spawn_link-ed by
 *                      the previous one; the tail exits abnormally and the
 *                      cascade runs up to the head, which traps exits and
 *                      reports the reason; ns per process, from the tail's
 *                      exit until the head has its EXIT message.
 */
#include <string.h>

#include <hive/hive.h>

#include "bench/bench_rt.h"
#include "bench/harness.h"

enum { T_STOP = 1, T_READY, T_GO, T_RESULT };

static void idle_until_stop(void *arg)
{
    hive_msg_t *m;
    while (hive_receive_tag(T_STOP, HIVE_INFINITY, &m) != 0)
        ;
    hive_msg_free(m);
}

/* The pair benchmarks: a driver process links to (or monitors) a live
 * peer process and undoes it, ops times. It traps exits, so a link left
 * behind would show as an EXIT when the peer ends, and a monitor left
 * behind as a DOWN: after the clock stops the peer ends and the driver
 * checks that only its own final monitor's DOWN arrives. */
typedef struct pair_job {
    long ops;
    bool monitors;
    hive_pid_t peer;
} pair_job_t;

typedef struct pair_result {
    int rc;    /* first failing call's error, or 0 */
    int stray; /* EXIT / DOWN messages from the undone links or monitors */
} pair_result_t;

static hive_pid_t bench_me;

static void pair_driver(void *arg)
{
    const pair_job_t *job = arg;
    hive_trap_exits(true);
    hive_msg_t *m;
    if (hive_receive_tag(T_GO, HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
    pair_result_t r = {0, 0};
    for (long i = 0; i < job->ops && r.rc == 0; i++) {
        if (job->monitors) {
            hive_ref_t ref;
            if ((r.rc = hive_monitor(job->peer, &ref)) == 0)
                r.rc = hive_demonitor(ref, 0);
        } else if ((r.rc = hive_link(job->peer)) == 0) {
            r.rc = hive_unlink(job->peer);
        }
    }
    hive_send(bench_me, T_READY, NULL, 0); /* the clock stops here */
    /* Verify: end the peer, wait for our own monitor's DOWN (it follows
     * any EXIT from a link), then nothing else may be queued. */
    hive_ref_t last;
    if (r.rc == 0 && (r.rc = hive_monitor(job->peer, &last)) == 0) {
        hive_send(job->peer, T_STOP, NULL, 0);
        while (hive_receive(HIVE_INFINITY, &m) == 0) {
            hive_down_info_t d;
            bool done = hive_down_info(m, &d) == 0 && d.ref == last;
            r.stray += !done;
            hive_msg_free(m);
            if (done)
                break;
        }
        while (hive_receive(0, &m) == 0) {
            r.stray++;
            hive_msg_free(m);
        }
    }
    hive_send(bench_me, T_RESULT, &r, sizeof r);
}

/* b->arg: NULL = links, non-NULL = monitors. */
static int bench_link_pairs(long ops, hive_bench_t *b)
{
    static pair_job_t job; /* read by the driver, which ends before we return */
    job = (pair_job_t){.ops = ops, .monitors = b->arg != NULL};
    hive_pid_t driver;
    pair_result_t r = {0, 0};
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &bench_me) != 0)
        return -1;
    int rc = hive_spawn(idle_until_stop, NULL, &job.peer);
    if (rc == 0)
        rc = hive_spawn(pair_driver, &job, &driver);
    hive_bench_resume(b);
    if (rc == 0)
        rc = hive_send(driver, T_GO, NULL, 0);
    if (rc == 0)
        rc = bench_collect(T_READY, NULL, 0);
    hive_bench_pause(b);
    if (rc == 0)
        rc = bench_collect(T_RESULT, &r, sizeof r);
    bench_rt_stop();
    const char *what = job.monitors ? "monitor/demonitor" : "link/unlink";
    if (rc != 0 || r.rc != 0)
        return hive_bench_fail(b, "%s: %s", what, hive_strerror(rc ? rc : r.rc));
    if (r.stray)
        return hive_bench_fail(b, "%s: %d EXIT/DOWN messages after undoing", what, r.stray);
    return 0;
}
HIVE_BENCH("link_unlink", "hive", "link + unlink between two live processes, ns per pair",
           bench_link_pairs);
HIVE_BENCH_EX("monitor_demonitor", "hive",
              "monitor + demonitor between two live processes, ns per pair", bench_link_pairs,
              (void *)1, 0, 5, 0.0);

/* ---- the chain -------------------------------------------------------- */

enum { CHAIN = 100000 };

/* Link i of the chain: spawn_link the next, and the last tells the bench
 * thread it exists; then wait. The tail ends abnormally on T_GO. */
static void chain_link(void *arg)
{
    long left = (long)(intptr_t)arg;
    hive_msg_t *m;
    if (left > 1) {
        hive_spawn_link(chain_link, (void *)(intptr_t)(left - 1), NULL);
        idle_until_stop(NULL); /* the cascade kills us first */
        return;
    }
    hive_pid_t tail = hive_self();
    hive_send(bench_me, T_READY, &tail, sizeof tail);
    if (hive_receive_tag(T_GO, HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
    hive_exit(hive_reason_user(77, "tail"));
}

static void chain_head(void *arg)
{
    hive_trap_exits(true);
    hive_spawn_link(chain_link, (void *)(intptr_t)(CHAIN - 1), NULL);
    hive_msg_t *m;
    if (hive_receive_tag(HIVE_TAG_EXIT, HIVE_INFINITY, &m) != 0)
        return;
    hive_exit_info_t e;
    hive_exit_info(m, &e);
    hive_msg_free(m);
    hive_send(bench_me, T_RESULT, &e.reason, sizeof e.reason);
}

static int bench_chain(long ops, hive_bench_t *b)
{
    hive_bench_pause(b);
    if (bench_rt_start(b, CHAIN + 1000, &bench_me) != 0)
        return -1;
    hive_pid_t tail = HIVE_PID_NONE;
    hive_reason_t r = {0};
    int rc = hive_spawn(chain_head, NULL, NULL);
    if (rc == 0)
        rc = bench_collect(T_READY, &tail, sizeof tail);
    long alive = hive_process_count();
    hive_bench_resume(b);
    if (rc == 0)
        rc = hive_send(tail, T_GO, NULL, 0);
    if (rc == 0)
        rc = bench_collect(T_RESULT, &r, sizeof r);
    hive_bench_pause(b);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "chain: %s", hive_strerror(rc));
    if (alive < CHAIN + 1 || r.kind != HIVE_EXIT_USER || r.code != 77)
        return hive_bench_fail(b, "chain: %ld alive before, head saw kind %d code %d", alive,
                               (int)r.kind, r.code);
    return 0;
}
HIVE_BENCH_EX(
    "link_chain_exit", "hive",
    "spawn_link chain of 100,000; tail exits, cascade to the trapping head; ns per process",
    bench_chain, NULL, CHAIN, 3, 0.0);
