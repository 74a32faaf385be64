/* bench_sched.c - the scheduler (sched/worker.h) under internal tasks: spawn,
 * fork-join, wake-up of parked workers.
 *
 *   spawn_run         a task spawns a child that reads the clock first thing
 *                     and joins it, again and again; ns per spawn+run+join
 *                     round. The spawn-to-first-instruction latency (clock
 *                     before hive__task_spawn to the child's first clock
 *                     read) is the counter run_latency_ns (median of the
 *                     last 65536 rounds; p99 in run_latency_p99_ns).
 *   spawn_throughput  a task spawns children in batches of 10,000, each
 *                     child decrements the batch's counter (the last one
 *                     wakes the parent), the parent joins each batch; ns
 *                     per child task.
 *   fib_tasks         fork-join fib(30): every call with n >= 3 is a task
 *                     that spawns fib(n-1) and fib(n-2) as tasks and joins
 *                     them; n <= 2 answers directly (1,664,079 tasks).
 *                     Verifies 832040 and the task count; ns per task.
 *   skynet_tasks      skynet: a 10-ary tree of tasks 6 levels deep, the
 *                     1,000,000 leaves return their index, every node sums
 *                     its children (1,111,111 tasks). Verifies the sum
 *                     499999500000 and the task count; ns per task.
 *   wake              every worker parked (hive__sched_sleeping() = workers),
 *                     then the benchmark thread (foreign) spawns a task that
 *                     stores hive__now_ns() into an atomic the benchmark
 *                     thread spins on. The clock runs only from the spawn to
 *                     the store being seen (paused while the workers go back
 *                     to sleep), so ns/op includes one harness resume/pause
 *                     pair; the counter wake_latency_ns is the median of
 *                     (task's clock - clock before the spawn) alone.
 *
 * Every call starts its own runtime (workers = --workers=N, else every CPU
 * this process may use) and stops it with the clock paused. The benchmark's
 * thread is foreign: it spawns the root task (injection queue) and sleeps on
 * a futex until the root posts the result. Worker statistics are summed over
 * the workers before the stop: steals, stolen, parks, lifo_runs, injected
 * per call are JSON counters (steals/parks also in params).
 *
 * Joining children safely: a task is freed when its function returns, so a
 * child must not touch its parent after the parent may have returned. A join
 * counts the children plus one for the parent. The parent spawns, then drops
 * its own unit; if that did not bring the count to zero, a child will, and
 * that child unparks the parent: the parent parks exactly once and cannot
 * return before the unpark. A child that does not bring the count to zero
 * never touches the parent again.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <hive/config.h>
#include <hive/runtime.h>

#include "bench/harness.h"
#include "sched/timer.h"
#include "sched/worker.h"

enum { kDeadlineMs = 120000 };

/* ---- runtime around the clock ------------------------------------------ */

static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return (int)sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}

/* Start a runtime for this call (clock paused by the caller). */
static int rt_start(hive_bench_t *b, int *workers)
{
    hive_config_t cfg;
    hive_diag_t diag;
    hive_config_init(&cfg);
    cfg.workers = b->workers_requested > 0 ? b->workers_requested : usable_cpus();
    int rc = hive_runtime_start(&cfg, &diag);
    if (rc != 0)
        return hive_bench_fail(b, "hive_runtime_start(%d workers): %s %s", cfg.workers,
                               hive_strerror(rc), diag.message);
    *workers = hive_runtime_workers();
    hive_bench_workers(b, *workers);
    return 0;
}

/* Sum the workers' statistics (call before hive_runtime_stop); *busiest
 * (may be NULL) gets the largest share of the dispatches one worker did. */
static hive__worker_stats_t rt_stats(int workers, double *busiest)
{
    hive__worker_stats_t sum = {0}, w;
    uint64_t most = 0;
    for (int i = 0; i < workers; i++) {
        hive__worker_stats(i, &w);
        most = w.runs > most ? w.runs : most;
        sum.runs += w.runs;
        sum.steals += w.steals;
        sum.stolen += w.stolen;
        sum.lifo_runs += w.lifo_runs;
        sum.injected += w.injected;
        sum.parks += w.parks;
    }
    if (busiest)
        *busiest = sum.runs ? (double)most / (double)sum.runs : 0;
    return sum;
}

/* CPU time of the whole process (workers + the benchmark thread, which
 * sleeps while the tasks run), ns. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void report_stats(hive_bench_t *b, const hive__worker_stats_t *s)
{
    hive_bench_counter(b, "runs", (double)s->runs);
    hive_bench_counter(b, "steals", (double)s->steals);
    hive_bench_counter(b, "stolen", (double)s->stolen);
    hive_bench_counter(b, "parks", (double)s->parks);
    hive_bench_counter(b, "lifo_runs", (double)s->lifo_runs);
    hive_bench_counter(b, "injected", (double)s->injected);
}

/* ---- the root task's result, posted to the benchmark thread -------------- */

typedef struct {
    alignas(64) _Atomic uint32_t done; /* 0, then 1: a futex word */
} post_t;

static void post(post_t *p)
{
    /* release: publishes the root's results; pairs with the acquire load in
     * await_post(). */
    atomic_store_explicit(&p->done, 1, memory_order_release);
    syscall(SYS_futex, &p->done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait for post(); false after kDeadlineMs. */
static bool await_post(post_t *p)
{
    uint64_t deadline = hive__now_ns() + (uint64_t)kDeadlineMs * 1000000u;
    /* acquire: pairs with the release store in post(). */
    while (!atomic_load_explicit(&p->done, memory_order_acquire)) {
        uint64_t now = hive__now_ns();
        if (now >= deadline)
            return false;
        uint64_t left = deadline - now;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        syscall(SYS_futex, &p->done, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    }
    return true;
}

/* ---- joining children ----------------------------------------------------- */

typedef struct {
    _Atomic long pending; /* children not finished + 1 for the parent */
    hive__task_t *parent;
} join_t;

/* Running task: prepare to join `children` tasks. */
static void join_init(join_t *j, long children)
{
    atomic_init(&j->pending, children + 1);
    j->parent = hive__task_self();
}

/* A child is finished with everything the parent will read. */
static void join_done(join_t *j)
{
    hive__task_t *parent = j->parent; /* j lives on the parent's stack */
    /* acq_rel: release publishes this child's results to the parent (pairs
     * with the acquire in join_wait() or in the child that reaches zero);
     * acquire lets the last child order the others' writes before its
     * unpark, whose own release hands them on to the parent. */
    if (atomic_fetch_sub_explicit(&j->pending, 1, memory_order_acq_rel) == 1)
        hive__task_unpark(parent);
}

/* The parent: every child spawned (or accounted for); wait for them all. */
static void join_wait(join_t *j)
{
    /* acq_rel: acquire sees the children's results when we reach zero
     * ourselves; release is not needed but harmless. Otherwise the last
     * child unparks us and hive__task_park()'s acquire pairs with it. */
    if (atomic_fetch_sub_explicit(&j->pending, 1, memory_order_acq_rel) != 1)
        hive__task_park();
}

/* ---- spawn_run -------------------------------------------------------------- */

enum { kSamples = 65536 };

typedef struct {
    join_t *join;
    uint64_t started; /* the child's first clock read */
} probe_t;

static void probe_task(void *arg)
{
    probe_t *p = arg;
    p->started = hive__now_ns();
    join_done(p->join);
}

typedef struct {
    post_t post;
    long rounds;
    long ran, spawn_errors;
    uint32_t *samples; /* ns, the last kSamples rounds */
} spawn_run_t;

static void spawn_run_root(void *arg)
{
    spawn_run_t *s = arg;
    for (long i = 0; i < s->rounds; i++) {
        join_t j;
        probe_t p = {.join = &j, .started = 0};
        join_init(&j, 1);
        uint64_t t0 = hive__now_ns();
        if (hive__task_spawn(probe_task, &p, 0) != 0) {
            s->spawn_errors++;
            join_done(&j);
        }
        join_wait(&j);
        if (p.started) {
            s->ran++;
            uint64_t d = p.started - t0;
            s->samples[i % kSamples] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        }
    }
    post(&s->post);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Median and 99th percentile of n samples (sorts them). */
static void percentiles(uint32_t *v, long n, double *p50, double *p99)
{
    qsort(v, (size_t)n, sizeof *v, cmp_u32);
    *p50 = n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + (double)v[n / 2]) / 2) : 0;
    *p99 = n ? v[(long)((double)(n - 1) * 0.99)] : 0;
}

static int bench_spawn_run(long ops, hive_bench_t *b)
{
    int workers;
    spawn_run_t s = {.rounds = ops};
    hive_bench_pause(b);
    s.samples = calloc(kSamples, sizeof *s.samples);
    if (!s.samples)
        return hive_bench_fail(b, "out of memory");
    if (rt_start(b, &workers) != 0) {
        free(s.samples);
        return -1;
    }
    hive_bench_resume(b);

    int rc = hive__task_spawn(spawn_run_root, &s, 0);
    bool posted = rc == 0 && await_post(&s.post);

    hive_bench_pause(b);
    hive__worker_stats_t st = rt_stats(workers, NULL);
    hive_runtime_stop();
    long n = ops < kSamples ? ops : kSamples;
    double p50, p99;
    percentiles(s.samples, n, &p50, &p99);
    free(s.samples);
    report_stats(b, &st);
    hive_bench_counter(b, "run_latency_ns", p50);
    hive_bench_counter(b, "run_latency_p99_ns", p99);
    hive_bench_params(b,
                      "%d workers; spawn->first instruction median %.0f ns, p99 %.0f ns; "
                      "%.2f steals/round",
                      workers, p50, p99, (double)st.stolen / (double)ops);
    if (rc != 0)
        return hive_bench_fail(b, "spawning the root: %s", hive_strerror(rc));
    if (!posted)
        return hive_bench_fail(b, "no result after %d ms", kDeadlineMs);
    if (s.ran != ops || s.spawn_errors)
        return hive_bench_fail(b, "%ld of %ld children ran, %ld spawns failed", s.ran, ops,
                               s.spawn_errors);
    return 0;
}
HIVE_BENCH("spawn_run", "hive", "spawn a child + run it + join it, ns per round", bench_spawn_run);

/* ---- spawn_throughput ------------------------------------------------------ */

enum { kSpawnBatch = 10000 };

typedef struct {
    post_t post;
    long tasks;
    long spawn_errors;
    long ran; /* summed per batch from `count` */
} throughput_t;

typedef struct {
    join_t join;
    _Atomic long count; /* children that ran */
} batch_t;

static void count_task(void *arg)
{
    batch_t *bt = arg;
    /* relaxed: a count; join_done()'s release publishes it. */
    atomic_fetch_add_explicit(&bt->count, 1, memory_order_relaxed);
    join_done(&bt->join);
}

static void throughput_root(void *arg)
{
    throughput_t *s = arg;
    for (long done = 0; done < s->tasks;) {
        long n = s->tasks - done < kSpawnBatch ? s->tasks - done : kSpawnBatch;
        batch_t bt;
        atomic_init(&bt.count, 0);
        join_init(&bt.join, n);
        for (long k = 0; k < n; k++) {
            if (hive__task_spawn(count_task, &bt, 0) != 0) {
                s->spawn_errors++;
                join_done(&bt.join);
            }
        }
        join_wait(&bt.join);
        /* relaxed: ordered by the join's acquire. */
        s->ran += atomic_load_explicit(&bt.count, memory_order_relaxed);
        done += n;
    }
    post(&s->post);
}

/* What a timed run of one root task found. */
typedef struct run {
    int rc;      /* the root's spawn */
    bool posted; /* the root posted its result before the deadline */
    int workers;
    double cpus, busiest;
    hive__worker_stats_t st;
} run_t;

/* Start a runtime, run root(arg) as a task on the clock until it posts
 * `post`, stop the runtime and report its statistics (steals, parks, CPUs
 * used, the busiest worker's share). -1 when no runtime could start. */
static int run_root(hive_bench_t *b, void (*root)(void *), void *arg, post_t *post, run_t *r)
{
    hive_bench_pause(b);
    if (rt_start(b, &r->workers) != 0)
        return -1;
    uint64_t cpu0 = cpu_ns(), wall0 = hive__now_ns();
    hive_bench_resume(b);

    r->rc = hive__task_spawn(root, arg, 0);
    r->posted = r->rc == 0 && await_post(post);

    hive_bench_pause(b);
    r->cpus = (double)(cpu_ns() - cpu0) / (double)(hive__now_ns() - wall0);
    r->st = rt_stats(r->workers, &r->busiest);
    hive_runtime_stop();
    report_stats(b, &r->st);
    hive_bench_counter(b, "cpus_used", r->cpus);
    hive_bench_counter(b, "busiest_worker_pct", 100 * r->busiest);
    return 0;
}

static int bench_spawn_throughput(long ops, hive_bench_t *b)
{
    throughput_t s = {.tasks = ops};
    run_t r;
    if (run_root(b, throughput_root, &s, &s.post, &r) != 0)
        return -1;
    hive_bench_params(b,
                      "%d workers; batches of %d joined; %.3f stolen/task; busiest worker "
                      "%.0f%% of runs; %.2f cpus used",
                      r.workers, kSpawnBatch, (double)r.st.stolen / (double)ops, 100 * r.busiest,
                      r.cpus);
    if (r.rc != 0)
        return hive_bench_fail(b, "spawning the root: %s", hive_strerror(r.rc));
    if (!r.posted)
        return hive_bench_fail(b, "no result after %d ms", kDeadlineMs);
    if (s.ran != ops || s.spawn_errors)
        return hive_bench_fail(b, "%ld of %ld tasks ran, %ld spawns failed", s.ran, ops,
                               s.spawn_errors);
    return 0;
}
HIVE_BENCH("spawn_throughput", "hive", "spawn + run + exit, batches of 10,000 joined; ns per task",
           bench_spawn_throughput);

/* ---- fib_tasks ------------------------------------------------------------- */

enum { kFibN = 30, kFibCutoff = 3 }; /* n < kFibCutoff answers directly */

typedef struct {
    join_t *join; /* NULL for the root */
    int n;
    long errors;
    long value;
    long tasks; /* in this subtree, this one included */
} fib_t;

static void fib_task(void *arg);

static long fib_seq(int n)
{
    return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

/* Tasks in the tree of fib(n). */
static long fib_tree(int n)
{
    return n < kFibCutoff ? 1 : 1 + fib_tree(n - 1) + fib_tree(n - 2);
}

static void fib_body(fib_t *f)
{
    if (f->n < kFibCutoff) {
        f->value = fib_seq(f->n);
        f->tasks = 1;
        return;
    }
    join_t j;
    join_init(&j, 2);
    fib_t c[2] = {{.join = &j, .n = f->n - 1}, {.join = &j, .n = f->n - 2}};
    for (int k = 0; k < 2; k++) {
        if (hive__task_spawn(fib_task, &c[k], 0) != 0) {
            c[k].errors = 1;
            join_done(&j);
        }
    }
    join_wait(&j);
    f->value = c[0].value + c[1].value;
    f->tasks = 1 + c[0].tasks + c[1].tasks;
    f->errors = c[0].errors + c[1].errors;
}

static void fib_task(void *arg)
{
    fib_t *f = arg;
    fib_body(f);
    join_done(f->join);
}

/* ---- skynet_tasks ------------------------------------------------------------ */

enum { kSkynetLevels = 6, kSkynetFanout = 10 };

typedef struct {
    join_t *join;
    int level; /* 0 = the root; kSkynetLevels = a leaf */
    long index;
    long errors;
    long value;
    long tasks;
} skynet_t;

static void skynet_task(void *arg);

static void skynet_body(skynet_t *s)
{
    if (s->level == kSkynetLevels) {
        s->value = s->index;
        s->tasks = 1;
        return;
    }
    join_t j;
    join_init(&j, kSkynetFanout);
    skynet_t c[kSkynetFanout];
    for (int k = 0; k < kSkynetFanout; k++) {
        c[k] = (skynet_t){.join = &j, .level = s->level + 1, .index = s->index * kSkynetFanout + k};
        if (hive__task_spawn(skynet_task, &c[k], 0) != 0) {
            c[k].errors = 1;
            join_done(&j);
        }
    }
    join_wait(&j);
    s->value = 0;
    s->tasks = 1;
    s->errors = 0;
    for (int k = 0; k < kSkynetFanout; k++) {
        s->value += c[k].value;
        s->tasks += c[k].tasks;
        s->errors += c[k].errors;
    }
}

static void skynet_task(void *arg)
{
    skynet_t *s = arg;
    skynet_body(s);
    join_done(s->join);
}

/* 2*fib(30)-1 = 1,664,079 tasks for n < 3 direct (bench_tree checks it
 * against fib_tree(kFibN)). */
#define FIB_TASKS 1664079L
#define SKYNET_TASKS 1111111L /* 1 + 10 + ... + 10^6 */

/* ---- the tree benchmarks' driver -------------------------------------------- */

typedef struct {
    post_t post;
    bool skynet;
    fib_t fib;
    skynet_t sky;
} tree_t;

static void tree_root(void *arg)
{
    tree_t *t = arg;
    if (t->skynet)
        skynet_body(&t->sky);
    else
        fib_body(&t->fib);
    post(&t->post);
}

static int bench_tree(long ops, hive_bench_t *b)
{
    tree_t t = {.skynet = b->arg != NULL};
    t.fib.n = kFibN;
    const long want_value = t.skynet ? 499999500000L : 832040L;
    const long want_tasks = t.skynet ? SKYNET_TASKS : fib_tree(kFibN);
    if (ops != want_tasks)
        return hive_bench_fail(b, "registered with %ld ops, the tree has %ld tasks", ops,
                               want_tasks);
    run_t r;
    if (run_root(b, tree_root, &t, &t.post, &r) != 0)
        return -1;
    long value = t.skynet ? t.sky.value : t.fib.value;
    long tasks = t.skynet ? t.sky.tasks : t.fib.tasks;
    long errors = t.skynet ? t.sky.errors : t.fib.errors;
    if (t.skynet)
        hive_bench_params(b,
                          "%d workers; 10^6 leaves, 10-ary, 6 levels; %lu steals (%lu tasks), "
                          "%lu parks; busiest worker %.0f%% of runs; %.2f cpus used",
                          r.workers, (unsigned long)r.st.steals, (unsigned long)r.st.stolen,
                          (unsigned long)r.st.parks, 100 * r.busiest, r.cpus);
    else
        hive_bench_params(b,
                          "%d workers; fib(%d), n<%d direct, %ld tasks; %lu steals (%lu "
                          "tasks), %lu parks; busiest worker %.0f%% of runs; %.2f cpus used",
                          r.workers, kFibN, kFibCutoff, ops, (unsigned long)r.st.steals,
                          (unsigned long)r.st.stolen, (unsigned long)r.st.parks, 100 * r.busiest,
                          r.cpus);
    if (r.rc != 0)
        return hive_bench_fail(b, "spawning the root: %s", hive_strerror(r.rc));
    if (!r.posted)
        return hive_bench_fail(b, "no result after %d ms", kDeadlineMs);
    if (value != want_value || tasks != ops || errors)
        return hive_bench_fail(b, "result %ld (want %ld), %ld tasks (want %ld), %ld spawns failed",
                               value, want_value, tasks, ops, errors);
    return 0;
}

HIVE_BENCH_EX("fib_tasks", "hive", "fib(30) one task per call, n<3 direct; ns per task", bench_tree,
              NULL, FIB_TASKS, 5, 0.0);
HIVE_BENCH_EX("skynet_tasks", "hive", "skynet 10^6 leaves, 10-ary, 6 levels; ns per task",
              bench_tree, (void *)1, SKYNET_TASKS, 5, 0.0);

/* ---- wake ---------------------------------------------------------------------- */

enum { kWakeRounds = 2000, kSettleNs = 20000, kSleepWaitMs = 1000 };

typedef struct {
    alignas(64) _Atomic uint64_t ran_at; /* the task's clock; 0 = not yet */
} wake_t;

static void wake_task(void *arg)
{
    wake_t *w = arg;
    /* release: nothing rides on it but the value; pairs with the acquire
     * spin in bench_wake(). */
    atomic_store_explicit(&w->ran_at, hive__now_ns(), memory_order_release);
}

/* Wait until every worker sleeps, and has for kSettleNs (a worker counted
 * as sleeping may not have reached FUTEX_WAIT yet). false after kSleepWaitMs. */
static bool await_all_parked(int workers)
{
    uint64_t deadline = hive__now_ns() + (uint64_t)kSleepWaitMs * 1000000u;
    uint64_t since = 0;
    for (;;) {
        uint64_t now = hive__now_ns();
        if (hive__sched_sleeping() == workers) {
            if (!since)
                since = now;
            else if (now - since >= kSettleNs)
                return true;
        } else {
            since = 0;
        }
        if (now >= deadline)
            return false;
        sched_yield();
    }
}

static int bench_wake(long ops, hive_bench_t *b)
{
    int workers;
    hive_bench_pause(b);
    uint32_t *samples = calloc((size_t)ops, sizeof *samples);
    if (!samples)
        return hive_bench_fail(b, "out of memory");
    if (rt_start(b, &workers) != 0) {
        free(samples);
        return -1;
    }
    wake_t w;
    long timeouts = 0, errors = 0, ran = 0, lost = 0;
    for (long i = 0; i < ops; i++) {
        if (!await_all_parked(workers)) {
            timeouts++;
            break;
        }
        atomic_init(&w.ran_at, 0);
        hive_bench_resume(b);
        uint64_t t0 = hive__now_ns();
        if (hive__task_spawn(wake_task, &w, 0) != 0) {
            hive_bench_pause(b);
            errors++;
            break;
        }
        uint64_t at;
        unsigned spins = 0;
        /* acquire: pairs with the release store in wake_task(). */
        while (!(at = atomic_load_explicit(&w.ran_at, memory_order_acquire)))
            if (++spins % 4096 == 0 && hive__now_ns() - t0 > (uint64_t)kDeadlineMs * 1000000u)
                break; /* a lost wake-up fails the run instead of hanging it */
        hive_bench_pause(b);
        if (!at) {
            lost++;
            break;
        }
        samples[i] = (uint32_t)(at - t0 > UINT32_MAX ? UINT32_MAX : at - t0);
        ran++;
    }
    /* The last task may still be returning (it only stores); stop waits
     * for the worker to finish it. */
    hive__worker_stats_t st = rt_stats(workers, NULL);
    int sleeping = hive__sched_sleeping();
    hive_runtime_stop();
    double p50, p99;
    percentiles(samples, ran, &p50, &p99);
    free(samples);
    report_stats(b, &st);
    hive_bench_counter(b, "wake_latency_ns", p50);
    hive_bench_counter(b, "wake_latency_p99_ns", p99);
    hive_bench_params(b,
                      "%d workers all parked, foreign spawn -> task runs: median %.0f ns, "
                      "p99 %.0f ns",
                      workers, p50, p99);
    if (timeouts)
        return hive_bench_fail(b, "round %ld: workers not all parked after %d ms (%d of %d)", ran,
                               kSleepWaitMs, sleeping, workers);
    if (lost)
        return hive_bench_fail(b, "round %ld: the task did not run within %d ms", ran, kDeadlineMs);
    if (errors || ran != ops)
        return hive_bench_fail(b, "%ld of %ld wake tasks ran, spawn failed", ran, ops);
    return 0;
}
HIVE_BENCH_EX("wake", "hive", "all workers parked, foreign spawn -> task runs; ns per wake",
              bench_wake, NULL, kWakeRounds, 5, 0.0);
