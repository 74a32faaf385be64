/* bench_process.c - processes and messages on hive's public API, written as
 * a user would write them (hive/hive.h only; no internals).
 *
 *   send_recv         one process sends itself a message and receives it;
 *                     ns per send + receive (no context switch in between).
 *   pingpong          two processes on worker 0 bounce a message 1,000,000
 *                     times; ns per round trip.
 *   pingpong_xworker  the same, pinned to workers 0 and 1 (spawn option
 *                     .pinned: a woken process goes back to its own worker),
 *                     so every message crosses cores; both sample
 *                     sched_getcpu() every kSample round trips and params says
 *                     how often they were on different CPUs. Paired with
 *                     cacheline_rtt in harness.cc's kRatios.
 *   counting          a producer sends 10,000,000 messages to one counter,
 *                     then asks for the count; ns per message.
 *   threadring        503 processes in a ring pass a token 10,000,000 hops;
 *                     ns per hop. Verifies the holder (hops mod 503) and
 *                     that the processes' own hop counts sum to the total.
 *   fjcreate          a process spawns 1,000,000 processes that each bump a
 *                     counter and return; ns per process (spawn + run + exit).
 *   skynet            a 10-ary tree of 1,111,111 processes 6 levels deep;
 *                     leaves send their number up, parents sum; ns per
 *                     process. Verifies the total 499999500000.
 *   idle_processes    1,000,000 processes blocked in receive; ns per process
 *                     (spawn, block, wake with a message, exit) and
 *                     bytes_per_process from VmRSS (/proc/self/status) once
 *                     all are blocked, against VmRSS before the first spawn.
 *
 * Each call starts its own runtime (workers: --workers=N, else every CPU this
 * process may use) outside the clock, attaches the benchmark's thread to
 * collect the answer (so the clock stops when the answer reached it), and
 * stops the runtime outside the clock. A wait for an answer longer than
 * kBenchDeadlineMs fails the run instead of hanging it.
 *
 * On a shared machine a figure may say more about the neighbours than about
 * hive, so every run also records, over its clocked time, how much CPU this
 * process's threads got (cpu_pct, 100 = one CPU) and how long they waited
 * for a CPU while runnable (runq_wait_pct, from /proc/self/task/ * /schedstat):
 * a runq_wait_pct far above 0 means the machine was busy with others.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <hive/hive.h>

#include "bench/bench_pin.h"
#include "bench/bench_rt.h"
#include "bench/harness.h"



/* ---- shared: runtime around the clock ------------------------------- */

/* Clocked time and the CPU time and run-queue wait of all our threads in
 * it: hive_bench_resume/pause plus a schedstat reading on each side. */
typedef struct {
    double wall, run, wait; /* accumulated ns */
    double t0, run0, wait0;
} meter_t;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Sum of (run, wait) ns over this process's threads (schedstat fields 1, 2). */
static void sched_totals(double *run, double *wait)
{
    *run = *wait = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%.20s/schedstat", e->d_name);
        FILE *f = fopen(path, "r");
        unsigned long long r, w;
        if (f && fscanf(f, "%llu %llu", &r, &w) == 2) {
            *run += (double)r;
            *wait += (double)w;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
}

static void clock_on(hive_bench_t *b, meter_t *m)
{
    sched_totals(&m->run0, &m->wait0);
    m->t0 = now_ns();
    hive_bench_resume(b);
}

static void clock_off(hive_bench_t *b, meter_t *m)
{
    hive_bench_pause(b);
    double t = now_ns(), run, wait;
    sched_totals(&run, &wait);
    m->wall += t - m->t0;
    m->run += run - m->run0;
    m->wait += wait - m->wait0;
    if (m->wall > 0) {
        hive_bench_counter(b, "cpu_pct", 100 * m->run / m->wall);
        hive_bench_counter(b, "runq_wait_pct", 100 * m->wait / m->wall);
    }
}

/* Set params to the text plus the meter's reading (the last repetition's;
 * the JSON's cpu_pct and runq_wait_pct are medians). */
__attribute__((format(printf, 3, 4))) static void report(hive_bench_t *b, const meter_t *m,
                                                         const char *fmt, ...)
{
    char text[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    double wall = m->wall > 0 ? m->wall : 1;
    hive_bench_params(b, "%s [cpu %.0f%%, runq wait %.0f%%]", text, 100 * m->run / wall,
                      100 * m->wait / wall);
}

/* ---- send_recv ------------------------------------------------------ */

enum { SR_MSG = 1, SR_RESULT };

typedef struct {
    hive_pid_t sink;
    long ops;
} sr_arg_t;

static void sr_proc(void *arg)
{
    const sr_arg_t *a = arg;
    hive_pid_t self = hive_self(), sink = a->sink;
    long n = a->ops, good = 0;
    for (long i = 0; i < n; i++) {
        hive_msg_t *m;
        if (hive_send(self, SR_MSG, &i, sizeof i) != 0 || hive_receive(0, &m) != 0)
            break;
        good += bench_msg_long(m) == i;
        hive_msg_free(m);
    }
    hive_send(sink, SR_RESULT, &good, sizeof good);
}

#define SR_PARAMS "a process sends itself 8 bytes and receives them; ns per pair"

static int bench_send_recv(long ops, hive_bench_t *b)
{
    sr_arg_t a = {HIVE_PID_NONE, ops};
    meter_t mt = {0};
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &a.sink) != 0)
        return -1;
    clock_on(b, &mt);

    long good = -1;
    int rc = hive_spawn(sr_proc, &a, NULL);
    if (rc == 0)
        rc = bench_collect(SR_RESULT, &good, sizeof good);

    clock_off(b, &mt);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "send_recv: %s", hive_strerror(rc));
    if (good != ops)
        return hive_bench_fail(b, "send_recv: %ld of %ld messages came back intact", good, ops);
    report(b, &mt, SR_PARAMS);
    return 0;
}
HIVE_BENCH("send_recv", "hive", SR_PARAMS, bench_send_recv);

/* ---- pingpong, pingpong_xworker -------------------------------------- */

enum { PP_ROUNDS = 1000000, kSample = 1024, PP_SAMPLES = PP_ROUNDS / kSample + 1 };
enum { PP_PING = 1, PP_PONG, PP_STOP, PP_DONE_A, PP_DONE_B };

typedef struct {
    hive_pid_t sink, ponger;
    long rounds;
    /* sched_getcpu() every kSample round trips, index by round / kSample;
     * each side writes its own array before its DONE message (which orders
     * it for the sink's read). */
    short cpu_a[PP_SAMPLES], cpu_b[PP_SAMPLES];
    int end_cpu_a, end_cpu_b;
} pp_t;

static void pp_ponger(void *arg)
{
    pp_t *pp = arg;
    long rounds = 0;
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        long v = bench_msg_long(m);
        hive_pid_t from = hive_msg_from(m);
        hive_msg_free(m);
        if (tag == PP_STOP)
            break;
        if (v % kSample == 0)
            pp->cpu_b[v / kSample] = (short)sched_getcpu();
        hive_send(from, PP_PONG, &v, sizeof v);
        rounds++;
    }
    pp->end_cpu_b = sched_getcpu();
    hive_send(pp->sink, PP_DONE_B, &rounds, sizeof rounds);
}

static void pp_pinger(void *arg)
{
    pp_t *pp = arg;
    long good = 0;
    for (long i = 0; i < pp->rounds; i++) {
        if (i % kSample == 0)
            pp->cpu_a[i / kSample] = (short)sched_getcpu();
        hive_msg_t *m;
        if (hive_send(pp->ponger, PP_PING, &i, sizeof i) != 0 ||
            hive_receive_tag(PP_PONG, HIVE_INFINITY, &m) != 0)
            break;
        good += bench_msg_long(m) == i;
        hive_msg_free(m);
    }
    pp->end_cpu_a = sched_getcpu();
    hive_send(pp->ponger, PP_STOP, NULL, 0);
    hive_send(pp->sink, PP_DONE_A, &good, sizeof good);
}

/* b->arg: NULL = both on worker 0; non-NULL = workers 0 and 1. */
static int bench_pingpong(long ops, hive_bench_t *b)
{
    static pp_t pp;
    bool xworker = b->arg != NULL;
    meter_t mt = {0};
    hive_bench_pause(b);
    /* The floor in the same moment, outside the clock: this VM's host moves
     * its vCPUs, and a cache-line round trip measured minutes apart (the
     * cacheline_rtt benchmark) can differ by 5x. */
    double floor_ns = xworker ? bench_floor_rtt_ns(200000) : -1;
    memset(&pp, -1, sizeof pp);
    pp.rounds = ops;
    if (bench_rt_start(b, 0, &pp.sink) != 0)
        return -1;
    int wa = 0, wb = xworker && hive_runtime_workers() > 1 ? 1 : 0;
    hive_spawn_opts_t oa = {.worker = wa, .pinned = xworker},
                      ob = {.worker = wb, .pinned = xworker};
    int rc = hive_spawn_opts(pp_ponger, &pp, &ob, &pp.ponger);
    clock_on(b, &mt);

    long good = -1, rounds = -1;
    if (rc == 0)
        rc = hive_spawn_opts(pp_pinger, &pp, &oa, NULL);
    if (rc == 0)
        rc = bench_collect(PP_DONE_A, &good, sizeof good);
    if (rc == 0)
        rc = bench_collect(PP_DONE_B, &rounds, sizeof rounds);

    clock_off(b, &mt);
    int workers = hive_runtime_workers();
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "pingpong: %s", hive_strerror(rc));
    if (good != ops || rounds != ops)
        return hive_bench_fail(b, "pingpong: %ld good pongs, ponger answered %ld; expected %ld",
                               good, rounds, ops);
    long samples = (ops + kSample - 1) / kSample, apart = 0;
    for (long i = 0; i < samples && i < PP_SAMPLES; i++)
        apart += pp.cpu_a[i] != pp.cpu_b[i];
    if (samples > PP_SAMPLES)
        samples = PP_SAMPLES;
    hive_bench_counter(b, "apart_pct", samples ? 100.0 * (double)apart / (double)samples : 0);
    if (floor_ns > 0) {
        hive_bench_counter(b, "floor_rtt_ns", floor_ns);
        /* This repetition against its own floor: the harness reports the
         * median of these, not a ratio of two medians taken across reps
         * in which the host may have moved the vCPUs. */
        hive_bench_counter(b, "x_floor_rtt", mt.wall / (double)ops / floor_ns);
    }
    report(b, &mt,
           "%ld round trips, started on workers %d,%d of %d; on different CPUs in "
           "%ld of %ld samples (%.0f%%); cpus at start %d,%d, at end %d,%d",
           ops, wa, wb, workers, apart, samples,
           samples ? 100.0 * (double)apart / (double)samples : 0.0, pp.cpu_a[0], pp.cpu_b[0],
           pp.end_cpu_a, pp.end_cpu_b);
    return 0;
}
HIVE_BENCH_EX("pingpong", "hive", "1,000,000 round trips, both on worker 0, ns per round trip",
              bench_pingpong, NULL, PP_ROUNDS, 5, 0.0);
HIVE_BENCH_EX("pingpong_xworker", "hive",
              "1,000,000 round trips, pinned to workers 0 and 1, ns per round trip",
              bench_pingpong, (void *)1, PP_ROUNDS, 5, 0.0);

/* ---- counting ------------------------------------------------------- */

enum { CNT_MESSAGES = 10000000 };
enum { CNT_INC = 1, CNT_GET, CNT_RESULT };

typedef struct {
    hive_pid_t sink, counter;
    long n;
} cnt_t;

static void cnt_counter(void *arg)
{
    const cnt_t *c = arg;
    long count = 0, sum = 0;
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        if (tag == CNT_INC) {
            count++;
            sum += bench_msg_long(m);
        }
        hive_msg_free(m);
        if (tag == CNT_GET)
            break;
    }
    long r[2] = {count, sum};
    hive_send(c->sink, CNT_RESULT, r, sizeof r);
}

static void cnt_producer(void *arg)
{
    const cnt_t *c = arg;
    for (long i = 0; i < c->n; i++)
        if (hive_send(c->counter, CNT_INC, &i, sizeof i) != 0)
            break;
    hive_send(c->counter, CNT_GET, NULL, 0);
}

#define CNT_PARAMS "10,000,000 messages to one counting process, ns per message"

static int bench_counting(long ops, hive_bench_t *b)
{
    static cnt_t c;
    meter_t mt = {0};
    hive_bench_pause(b);
    c.n = ops;
    if (bench_rt_start(b, 0, &c.sink) != 0)
        return -1;
    clock_on(b, &mt);

    long r[2] = {-1, -1};
    int rc = hive_spawn(cnt_counter, &c, &c.counter);
    if (rc == 0)
        rc = hive_spawn(cnt_producer, &c, NULL);
    if (rc == 0)
        rc = bench_collect(CNT_RESULT, r, sizeof r);

    clock_off(b, &mt);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "counting: %s", hive_strerror(rc));
    long want_sum = ops * (ops - 1) / 2;
    if (r[0] != ops || r[1] != want_sum)
        return hive_bench_fail(b, "counting: counted %ld (sum %ld), expected %ld (sum %ld)", r[0],
                               r[1], ops, want_sum);
    report(b, &mt, CNT_PARAMS);
    return 0;
}
HIVE_BENCH_EX("counting", "hive", CNT_PARAMS, bench_counting, NULL, CNT_MESSAGES, 3, 0.0);

/* ---- threadring ----------------------------------------------------- */

enum { TR_PROCS = 503, TR_HOPS = 10000000 };
enum { TR_TOKEN = 1, TR_STOP, TR_HOLDER, TR_COUNT };

typedef struct {
    hive_pid_t sink;
    hive_pid_t pids[TR_PROCS];
} tr_t;

typedef struct {
    tr_t *ring;
    int id;
} tr_arg_t;

static void tr_proc(void *arg)
{
    const tr_arg_t *a = arg;
    tr_t *ring = a->ring;
    long id = a->id, hops = 0;
    hive_pid_t next = HIVE_PID_NONE; /* read at the first token: pids are complete then */
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        long left = bench_msg_long(m);
        hive_msg_free(m);
        if (tag == TR_STOP)
            break;
        if (left == 0) {
            hive_send(ring->sink, TR_HOLDER, &id, sizeof id);
            continue;
        }
        if (next == HIVE_PID_NONE)
            next = ring->pids[(id + 1) % TR_PROCS];
        left--;
        hops++;
        hive_send(next, TR_TOKEN, &left, sizeof left);
    }
    hive_send(ring->sink, TR_COUNT, &hops, sizeof hops);
}

#define TR_PARAMS "503 processes, 10,000,000 hops, ns per hop"

static int bench_threadring(long ops, hive_bench_t *b)
{
    static tr_t ring;
    static tr_arg_t args[TR_PROCS];
    meter_t mt = {0};
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &ring.sink) != 0)
        return -1;
    clock_on(b, &mt);

    int rc = 0;
    for (int i = 0; i < TR_PROCS && rc == 0; i++) {
        args[i] = (tr_arg_t){&ring, i};
        rc = hive_spawn(tr_proc, &args[i], &ring.pids[i]);
    }
    long holder = -1, total = 0;
    if (rc == 0)
        rc = hive_send(ring.pids[0], TR_TOKEN, &ops, sizeof ops);
    if (rc == 0)
        rc = bench_collect(TR_HOLDER, &holder, sizeof holder);
    for (int i = 0; i < TR_PROCS && rc == 0; i++)
        rc = hive_send(ring.pids[i], TR_STOP, NULL, 0);
    for (int i = 0; i < TR_PROCS && rc == 0; i++) {
        long n = 0;
        rc = bench_collect(TR_COUNT, &n, sizeof n);
        total += n;
    }

    clock_off(b, &mt);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "threadring: %s", hive_strerror(rc));
    if (holder != ops % TR_PROCS || total != ops)
        return hive_bench_fail(b,
                               "threadring: holder %ld after %ld hops counted; expected %ld, %ld",
                               holder, total, ops % TR_PROCS, ops);
    report(b, &mt, TR_PARAMS);
    return 0;
}
HIVE_BENCH_EX("threadring", "hive", TR_PARAMS, bench_threadring, NULL, TR_HOPS, 3, 0.0);

/* ---- fjcreate ------------------------------------------------------- */

enum { FJC_PROCS = 1000000 };
enum { FJC_SPAWNED = 1, FJC_DONE };

typedef struct {
    hive_pid_t sink;
    long n;
    _Atomic long ran;
} fjc_t;

static void fjc_child(void *arg)
{
    fjc_t *f = arg;
    /* relaxed: a count; the last child's send orders it for the sink. */
    if (atomic_fetch_add_explicit(&f->ran, 1, memory_order_relaxed) + 1 == f->n)
        hive_send(f->sink, FJC_DONE, NULL, 0);
}

static void fjc_driver(void *arg)
{
    fjc_t *f = arg;
    long spawned = 0;
    for (long i = 0; i < f->n; i++)
        spawned += hive_spawn(fjc_child, f, NULL) == 0;
    hive_send(f->sink, FJC_SPAWNED, &spawned, sizeof spawned);
}

#define FJC_PARAMS "a process spawns 1,000,000 that exit at once, ns per process"

static int bench_fjcreate(long ops, hive_bench_t *b)
{
    static fjc_t f;
    meter_t mt = {0};
    hive_bench_pause(b);
    f.n = ops;
    atomic_store_explicit(&f.ran, 0, memory_order_relaxed); /* before the spawns */
    if (bench_rt_start(b, 0, &f.sink) != 0)
        return -1;
    clock_on(b, &mt);

    long spawned = -1;
    int rc = hive_spawn(fjc_driver, &f, NULL);
    if (rc == 0)
        rc = bench_collect(FJC_SPAWNED, &spawned, sizeof spawned);
    if (rc == 0 && spawned == ops)
        rc = bench_collect(FJC_DONE, NULL, 0);

    clock_off(b, &mt);
    bool drained = rc == 0 && bench_wait_process_count(1);
    long left = hive_process_count() - 1;
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "fjcreate: %s", hive_strerror(rc));
    long ran = atomic_load_explicit(&f.ran, memory_order_relaxed); /* runtime stopped */
    if (spawned != ops || ran != ops || !drained)
        return hive_bench_fail(b, "fjcreate: %ld spawned, %ld ran, %ld still alive; expected %ld",
                               spawned, ran, left, ops);
    report(b, &mt, FJC_PARAMS);
    return 0;
}
HIVE_BENCH_EX("fjcreate", "hive", FJC_PARAMS, bench_fjcreate, NULL, FJC_PROCS, 3, 0.0);

/* ---- skynet --------------------------------------------------------- */

enum { SKY_LEAVES = 1000000, SKY_DIV = 10, SKY_PROCS = 1111111 };
enum { SKY_SUM = 1 };

typedef struct {
    long num, size;
    hive_pid_t parent;
} sky_t;

/* The argument lives on the parent's stack: the parent waits for every
 * child's answer, so it outlives the child's read of it at start. A failed
 * spawn poisons the sum (negative), which verification catches. */
static void sky_node(void *arg)
{
    const sky_t *a = arg;
    sky_t me = *a;
    long sum = me.num;
    if (me.size > 1) {
        sky_t kids[SKY_DIV];
        long step = me.size / SKY_DIV;
        int spawned = 0;
        sum = 0;
        for (int i = 0; i < SKY_DIV; i++) {
            kids[i] = (sky_t){me.num + i * step, step, hive_self()};
            if (hive_spawn(sky_node, &kids[i], NULL) == 0)
                spawned++;
            else
                sum = -(1L << 50);
        }
        for (int i = 0; i < spawned; i++) {
            hive_msg_t *m;
            if (hive_receive_tag(SKY_SUM, HIVE_INFINITY, &m) != 0) {
                sum = -(1L << 50);
                break;
            }
            sum += bench_msg_long(m);
            hive_msg_free(m);
        }
    }
    hive_send(me.parent, SKY_SUM, &sum, sizeof sum);
}

#define SKY_PARAMS "10-ary tree, 6 levels, 1,111,111 processes, ns per process"

static int bench_skynet(long ops, hive_bench_t *b)
{
    sky_t root = {0, SKY_LEAVES, HIVE_PID_NONE};
    meter_t mt = {0};
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &root.parent) != 0)
        return -1;
    clock_on(b, &mt);

    long sum = -1;
    int rc = hive_spawn(sky_node, &root, NULL);
    if (rc == 0)
        rc = bench_collect(SKY_SUM, &sum, sizeof sum);

    clock_off(b, &mt);
    bench_rt_stop();
    const long want = (long)SKY_LEAVES * (SKY_LEAVES - 1) / 2;
    if (rc != 0)
        return hive_bench_fail(b, "skynet: %s", hive_strerror(rc));
    if (sum != want)
        return hive_bench_fail(b, "skynet: sum %ld, expected %ld", sum, want);
    report(b, &mt, SKY_PARAMS);
    return 0;
}
HIVE_BENCH_EX("skynet", "hive", SKY_PARAMS, bench_skynet, NULL, SKY_PROCS, 3, 0.0);

/* ---- idle_processes ------------------------------------------------- */

enum { IDLE_PROCS = 1000000, IDLE_MAX_PROCESSES = 1100000 };
enum { IDLE_STOP = 1, IDLE_SPAWNED, IDLE_READY, IDLE_DONE };

typedef struct {
    hive_pid_t sink;
    long n;
    _Atomic long ready, left;
    hive_pid_t pids[IDLE_PROCS]; /* 8 MB: touched before the baseline */
} idle_t;

static void idle_proc(void *arg)
{
    idle_t *d = arg;
    /* relaxed: counts; the last one's send orders them for the sink. */
    if (atomic_fetch_add_explicit(&d->ready, 1, memory_order_relaxed) + 1 == d->n)
        hive_send(d->sink, IDLE_READY, NULL, 0);
    hive_msg_t *m;
    if (hive_receive(HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
    if (atomic_fetch_sub_explicit(&d->left, 1, memory_order_relaxed) == 1)
        hive_send(d->sink, IDLE_DONE, NULL, 0);
}

static void idle_spawner(void *arg)
{
    idle_t *d = arg;
    long spawned = 0;
    for (long i = 0; i < d->n; i++)
        spawned += hive_spawn(idle_proc, d, &d->pids[i]) == 0;
    hive_send(d->sink, IDLE_SPAWNED, &spawned, sizeof spawned);
}

static void idle_stopper(void *arg)
{
    idle_t *d = arg;
    for (long i = 0; i < d->n; i++)
        hive_send(d->pids[i], IDLE_STOP, NULL, 0);
}

static int bench_idle(long ops, hive_bench_t *b)
{
    static idle_t d;
    meter_t mt = {0};
    hive_bench_pause(b);
    if (ops > IDLE_PROCS)
        return hive_bench_fail(b, "idle_processes: at most %d processes", IDLE_PROCS);
    memset(d.pids, 0, sizeof d.pids);
    d.n = ops;
    atomic_store_explicit(&d.ready, 0, memory_order_relaxed); /* before the spawns */
    atomic_store_explicit(&d.left, ops, memory_order_relaxed);
    if (bench_rt_start(b, IDLE_MAX_PROCESSES, &d.sink) != 0)
        return -1;
    bench_purge_allocator();
    long rss0 = bench_vm_rss();
    clock_on(b, &mt);

    long spawned = -1;
    int rc = hive_spawn(idle_spawner, &d, NULL);
    if (rc == 0)
        rc = bench_collect(IDLE_SPAWNED, &spawned, sizeof spawned);
    if (rc == 0 && spawned == ops)
        rc = bench_collect(IDLE_READY, NULL, 0);

    clock_off(b, &mt);
    long rss1 = bench_vm_rss();
    long alive = hive_process_count() - 1; /* less the attached thread */
    clock_on(b, &mt);

    if (rc == 0 && spawned == ops)
        rc = hive_spawn(idle_stopper, &d, NULL);
    if (rc == 0 && spawned == ops)
        rc = bench_collect(IDLE_DONE, NULL, 0);

    clock_off(b, &mt);
    bool drained = rc == 0 && bench_wait_process_count(1);
    long left = hive_process_count() - 1;
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "idle_processes: %s", hive_strerror(rc));
    if (spawned != ops || !drained)
        return hive_bench_fail(b, "idle_processes: %ld spawned, %ld still alive after the stop",
                               spawned, left);
    if (rss0 < 0 || rss1 < 0)
        return hive_bench_fail(b, "idle_processes: cannot read VmRSS");
    double per = (double)(rss1 - rss0) / (double)ops;
    hive_bench_counter(b, "bytes_per_process", per);
    report(b, &mt,
           "%ld processes blocked in receive (%ld alive), %.0f bytes each (VmRSS "
           "+%.1f MiB); ns per process: spawn, block, wake, exit",
           ops, alive, per, (double)(rss1 - rss0) / 1048576.0);
    return 0;
}
HIVE_BENCH_EX("idle_processes", "hive", "1,000,000 processes blocked in receive, bytes_per_process",
              bench_idle, NULL, IDLE_PROCS, 3, 0.0);
