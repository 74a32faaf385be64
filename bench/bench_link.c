/* bench_link.c - links, monitors and exit cascades on the public API.
 *
 *   link_unlink        the attached benchmark thread links to and unlinks
 *                      from a live process; ns per link + unlink pair.
 *   monitor_demonitor  the same with monitor + demonitor; ns per pair.
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

/* b->arg: NULL = links, non-NULL = monitors. */
static int bench_link_pairs(long ops, hive_bench_t *b)
{
    bool monitors = b->arg != NULL;
    hive_pid_t self, peer;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &self) != 0)
        return -1;
    int rc = hive_spawn(idle_until_stop, NULL, &peer);
    hive_bench_resume(b);
    for (long i = 0; i < ops && rc == 0; i++) {
        if (monitors) {
            hive_ref_t ref;
            if ((rc = hive_monitor(peer, &ref)) == 0)
                rc = hive_demonitor(ref, 0);
        } else if ((rc = hive_link(peer)) == 0) {
            rc = hive_unlink(peer);
        }
    }
    hive_bench_pause(b);
    /* Verify: the peer is alive and nothing arrived from the links or
     * monitors undone above. */
    hive_msg_t *m;
    bool alive = hive_is_alive(peer);
    int stray = hive_receive(0, &m) == 0;
    if (stray)
        hive_msg_free(m);
    hive_send(peer, T_STOP, NULL, 0);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "%s: %s", monitors ? "monitor" : "link", hive_strerror(rc));
    if (!alive || stray)
        return hive_bench_fail(b, "peer alive %d, stray message %d", alive, stray);
    return 0;
}
HIVE_BENCH("link_unlink", "hive", "link + unlink with a live process, ns per pair",
           bench_link_pairs);
HIVE_BENCH_EX("monitor_demonitor", "hive", "monitor + demonitor of a live process, ns per pair",
              bench_link_pairs, (void *)1, 0, 5, 0.0);

/* ---- the chain -------------------------------------------------------- */

enum { CHAIN = 100000 };

static hive_pid_t bench_me;

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
HIVE_BENCH_EX("link_chain_exit", "hive",
              "spawn_link chain of 100,000; tail exits, cascade to the trapping head; ns per process",
              bench_chain, NULL, CHAIN, 3, 0.0);
