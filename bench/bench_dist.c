/* bench_dist.c - dist_pingpong: round trips between a hive process and an
 * Erlang process on another node of this machine (dist/node.c), beside
 * hivebench.erl's dist_pingpong (Erlang to Erlang across two nodes).
 *
 * The Erlang side is one `erl -sname` node started on first use (kept for
 * the run, killed at exit) whose process `pong` answers {From, I} with
 * {self(), I}. Each call starts a runtime and a node with a fresh name (epmd
 * may not yet have forgotten the previous one), warms the connection up
 * with a first round trip (clock paused), then times `ops` round trips from
 * a hive process to the pong pid, each reply checked.
 * Skipped with a failure note when erl/epmd are absent. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdbool.h>

#include <hive/hive.h>

#include "bench/bench_rt.h"
#include "bench/harness.h"

#define COOKIE "hivebenchcookie"
#define DIST_OPS 20000

static pid_t peer_os_pid;
static bool peer_os_pid_registered;
static char peer_node[300];

/* The Erlang node lives for one repetition only: left running, its VM
 * (schedulers that spin before they sleep, timers) shared the two CPUs
 * with every benchmark after this one in `make bench` - cross-worker
 * round trips measured ~5x slower behind it in some runs. */
static void kill_peer(void)
{
    if (peer_os_pid > 0) {
        kill(peer_os_pid, SIGKILL);
        waitpid(peer_os_pid, NULL, 0);
        peer_os_pid = 0;
    }
}

/* epmd running and answering: `epmd -daemon` returns before the daemon
 * listens, and a node published in between is refused (the first round of
 * a `make bench-compare` on a machine with no epmd yet failed so). */
static int start_epmd(hive_bench_t *b)
{
    if (system("command -v erl >/dev/null && command -v epmd >/dev/null && epmd -daemon") != 0)
        return hive_bench_fail(b, "erl/epmd not installed (erlang-nox)");
    for (int i = 0; i < 200; i++) { /* 10 s */
        if (system("epmd -names >/dev/null 2>&1") == 0)
            return 0;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return hive_bench_fail(b, "epmd started but does not answer (epmd -names)");
}

static int start_peer(hive_bench_t *b, const char *host)
{
    static int starts;
    if (peer_os_pid > 0)
        return 0;
    char name[64];
    /* A new name each time: epmd may not have dropped the last one yet. */
    snprintf(name, sizeof name, "hbpong%d_%d", (int)getpid(), starts++);
    snprintf(peer_node, sizeof peer_node, "%s@%s", name, host);
    const char *code = "register(pong, self()),"
                       "L = fun L() -> receive {F, I} -> F ! {self(), I}, L() end end, L().";
    pid_t p = fork();
    if (p == 0) {
        execlp("erl", "erl", "-sname", name, "-setcookie", COOKIE, "-noshell", "-noinput", "-eval",
               code, (char *)NULL);
        _exit(127);
    }
    if (p < 0)
        return hive_bench_fail(b, "fork failed");
    if (!peer_os_pid_registered) {
        atexit(kill_peer); /* a failed or interrupted run leaves none behind */
        peer_os_pid_registered = true;
    }
    peer_os_pid = p;
    return 0;
}

/* One round trip to `to` (or to {pong, peer_node} when to is NULL); the
 * pong's pid goes to *pong. 0, or an error / -ETIMEDOUT. */
static int round_trip(const hive_rpid_t *to, hive_rpid_t *me, long long i, int64_t timeout_ms,
                      hive_rpid_t *pong)
{
    hive_term_buf_t t;
    if (hive_term_buf_init(&t))
        return -ENOMEM;
    hive_term_put_tuple(&t, 2);
    hive_term_put_pid(&t, me);
    hive_term_put_long(&t, i);
    int rc = to ? hive_node_send(to, &t) : hive_node_send_named("pong", peer_node, &t);
    hive_term_buf_free(&t);
    if (rc)
        return rc;
    hive_msg_t *m;
    if ((rc = hive_receive_tag(HIVE_TAG_DIST, timeout_ms, &m)))
        return rc;
    hive_dist_msg_t d;
    hive_term_reader_t r;
    size_t arity;
    long long v = -1;
    rc = hive_dist_msg(m, &d) || hive_term_reader_init(&r, d.term, d.len) ||
                 hive_term_get_tuple(&r, &arity) || arity != 2 || hive_term_get_pid(&r, pong) ||
                 hive_term_get_long(&r, &v) || v != i
             ? -EINVAL
             : 0;
    hive_msg_free(m);
    return rc;
}

/* The timed loop runs in a hive process (as the Erlang side's does in an
 * Erlang process); it reports how many round trips verified. */
typedef struct ping_job {
    hive_rpid_t pong;
    long ops;
    hive_pid_t report_to;
} ping_job_t;

static void ping_main(void *arg)
{
    ping_job_t *j = arg;
    hive_rpid_t me, pong = j->pong;
    long done = 0;
    if (hive_node_pid(hive_self(), &me) == 0)
        for (; done < j->ops; done++)
            if (round_trip(&pong, &me, done + 1, 10000, &pong))
                break;
    hive_send(j->report_to, 1, &done, sizeof done);
}

static int bench_dist_pingpong(long ops, hive_bench_t *b)
{
    static int calls;
    hive_bench_pause(b);
    hive_pid_t self;
    int rc = bench_rt_start(b, 0, &self);
    if (rc)
        return rc;
    if ((rc = start_epmd(b))) {
        bench_rt_stop();
        return rc;
    }
    hive_node_config_t cfg;
    hive_node_config_init(&cfg);
    char name[64];
    snprintf(name, sizeof name, "hbench%d_%d", (int)getpid(), calls++);
    cfg.name = name;
    cfg.cookie = COOKIE;
    hive_diag_t diag;
    if ((rc = hive_node_start(&cfg, &diag))) {
        bench_rt_stop();
        return hive_bench_fail(b, "hive_node_start: %s %s", hive_strerror(rc), diag.message);
    }
    int fail = start_peer(b, strchr(hive_node_name(), '@') + 1);
    hive_rpid_t me, pong;
    hive_node_pid(self, &me);
    /* Warm up: the peer may still be starting (connect refused, or the
     * name not yet registered: resend). */
    time_t deadline = time(NULL) + 30;
    while (!fail) {
        if (round_trip(NULL, &me, 0, 200, &pong) == 0)
            break;
        if (time(NULL) > deadline)
            fail = hive_bench_fail(b, "no answer from %s", peer_node);
        hive_sleep(50);
    }
    long done = 0;
    if (!fail) {
        hive_bench_params(b, "hive process <-> erlang process on node %s", peer_node);
        ping_job_t job = {pong, ops, self};
        hive_msg_t *m;
        hive_bench_resume(b);
        if (hive_spawn(ping_main, &job, NULL) == 0 &&
            hive_receive_tag(1, kBenchDeadlineMs, &m) == 0) {
            memcpy(&done, hive_msg_data(m), sizeof done);
            hive_msg_free(m);
        }
        hive_bench_pause(b);
    }
    hive_node_stop();
    bench_rt_stop();
    kill_peer();
    if (fail)
        return fail;
    return done == ops ? 0 : hive_bench_fail(b, "%ld of %ld round trips", done, ops);
}
HIVE_BENCH_EX("dist_pingpong", "hive", "hive process <-> erlang process, two nodes",
              bench_dist_pingpong, NULL, DIST_OPS, 0, 0.0);
