/* harness.h - how a benchmark plugs into hive-bench (C and C++).
 *
 * A benchmark is one function that runs `ops` operations and says whether
 * its result verified:
 *
 *     static int bench_switch(long ops, hive_bench_t *b)
 *     {
 *         ... set up; hive_bench_resume(b) if setup was paused ...
 *         for (long i = 0; i < ops; i++) ...;
 *         return count == ops ? 0 : hive_bench_fail(b, "count %ld", count);
 *     }
 *     HIVE_BENCH("switch", "hive", "fiber resume/suspend", bench_switch);
 *
 * The harness (harness.cc, on Google Benchmark) picks `ops` so that one call
 * lasts at least the benchmark's minimum time, then repeats that call
 * (5 repetitions by default) and reports the median, min and max ns per
 * operation. A workload with a fixed size (a Savina run of N messages) gives
 * HIVE_BENCH_EX a fixed `ops`: every repetition is then one call fn(ops).
 *
 * Each call is timed whole, setup included, unless fn brackets its setup
 * and teardown with hive_bench_pause()/hive_bench_resume() (they cost a few
 * hundred ns; use them around thread creation, not inside the loop).
 *
 * Names are exact and unique (`--only=` matches them literally). runtime is
 * "hive" for hive's own code, "baseline" for a reference floor (bare switch,
 * cache-line round trip) and later the peer's name ("go", "erlang", "caf").
 *
 * Threads: everything here is called from the benchmark's own thread (the
 * one running fn), never from helper threads fn starts.
 */
#ifndef HIVE_BENCH_HARNESS_H
#define HIVE_BENCH_HARNESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* One benchmark's view of the harness while fn runs. */
typedef struct hive_bench {
    const char *name;
    void *arg;             /* the `arg` given at registration */
    int workers_requested; /* --workers=N, 0 when not given (use a default) */
    void *impl_;           /* the harness's; not for benchmarks */
} hive_bench_t;

/* Returns 0 when the work verified, nonzero (see hive_bench_fail) if not. */
typedef int (*hive_bench_fn)(long ops, hive_bench_t *b);

/* Register a benchmark. ops > 0 fixes the operations per call (one call per
 * repetition); 0 lets the harness scale them to min_time. repetitions 0 = 5;
 * min_time 0 = the harness default (--min-time, 0.2 s). Call before main()
 * (HIVE_BENCH does); the table lists benchmarks in registration order. */
void hive_bench_register(const char *name, const char *runtime, const char *params,
                         hive_bench_fn fn, void *arg, long ops, int repetitions,
                         double min_time);

/* Stop / restart the clock inside fn (setup and teardown). Leaving fn with
 * the clock stopped is fine: the harness restarts it. */
void hive_bench_pause(hive_bench_t *b);
void hive_bench_resume(hive_bench_t *b);

/* Replace the registered params string with what the run found out
 * ("cpus 0,1" or "unpinned: 1 cpu"). printf-style; the last call wins. */
void hive_bench_params(hive_bench_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The worker (or thread) count to report; 1 when never called. */
void hive_bench_workers(hive_bench_t *b, int n);
/* An extra numeric result, written to the JSON record under `key` (median
 * over repetitions), e.g. bytes_per_process; the last value of a call wins.
 * Not "ok", "workers" or "ops": the harness's own. */
void hive_bench_counter(hive_bench_t *b, const char *key, double value);
/* Record why verification failed (shown under the table); returns -1 so
 * that `return hive_bench_fail(b, "...")` reads naturally. */
int hive_bench_fail(hive_bench_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

/* Registration from any C or C++ file, at file scope, one per line. The _EX
 * form sets the scale and the arg fn receives in b->arg, so one function can
 * be registered several times with different sizes. */
#define HIVE_BENCH(name, runtime, params, fn) \
    HIVE_BENCH_EX(name, runtime, params, fn, 0, 0, 0, 0.0)
#define HIVE_BENCH_EX(name, runtime, params, fn, arg, ops, repetitions, min_time)            \
    __attribute__((constructor)) static void HIVE_BENCH_CAT_(hive_bench_reg_, __LINE__)(void) \
    {                                                                                         \
        hive_bench_register(name, runtime, params, fn, arg, ops, repetitions, min_time);     \
    }                                                                                         \
    extern int hive_bench_wants_a_semicolon_
#define HIVE_BENCH_CAT_(a, b) HIVE_BENCH_CAT2_(a, b)
#define HIVE_BENCH_CAT2_(a, b) a##b

#endif
