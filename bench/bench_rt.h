/* bench_rt.h - a hive runtime around a benchmark's clock, for workloads
 * written on the public API (bench_process.c, savina.c).
 *
 * bench_rt_start starts a runtime with b->workers_requested workers (0: one
 * per usable CPU) and attaches the benchmark's thread, so the workload can
 * send its verified result back; bench_collect receives that result. */
#ifndef HIVE_BENCH_RT_H
#define HIVE_BENCH_RT_H

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <stdio.h>

#include <hive/hive.h>

#if defined(__has_include)
#if __has_include(<jemalloc/jemalloc.h>)
#include <jemalloc/jemalloc.h>
#define BENCH_HAVE_JEMALLOC 1
#endif
#endif

#include "bench/harness.h"

enum { kBenchDeadlineMs = 120000 }; /* a workload that hangs fails instead */

static inline int bench_cpus_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

/* Start a runtime (max_processes 0 = the default) and attach this thread. */
static inline int bench_rt_start(hive_bench_t *b, long max_processes, hive_pid_t *self)
{
    hive_config_t cfg;
    hive_diag_t diag;
    hive_config_init(&cfg);
    cfg.workers = b->workers_requested > 0 ? b->workers_requested : bench_cpus_allowed();
    if (max_processes > 0)
        cfg.max_processes = max_processes;
    int rc = hive_runtime_start(&cfg, &diag);
    if (rc != 0)
        return hive_bench_fail(b, "hive_runtime_start: %s %s", hive_strerror(rc), diag.message);
    if ((rc = hive_thread_attach(self)) != 0) {
        hive_runtime_stop();
        return hive_bench_fail(b, "hive_thread_attach: %s", hive_strerror(rc));
    }
    hive_bench_workers(b, hive_runtime_workers());
    return 0;
}

static inline void bench_rt_stop(void)
{
    hive_thread_detach();
    hive_runtime_stop();
}

/* Receive one message with `tag` on the attached thread, copying its
 * payload (exactly len bytes) to out. 0 or a negative errno. */
static inline int bench_collect(uint64_t tag, void *out, size_t len)
{
    hive_msg_t *m;
    int rc = hive_receive_tag(tag, kBenchDeadlineMs, &m);
    if (rc != 0)
        return rc;
    if (hive_msg_size(m) != len)
        rc = -EINVAL;
    else if (len)
        memcpy(out, hive_msg_data(m), len);
    hive_msg_free(m);
    return rc;
}

/* VmRSS in bytes, or -1. */
static inline long bench_vm_rss(void)
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

/* Give the allocator's cached free pages back, so that a repetition does not
 * reuse the previous one's pages unseen and report too little. */
static inline void bench_purge_allocator(void)
{
#ifdef BENCH_HAVE_JEMALLOC
    char cmd[64];
    snprintf(cmd, sizeof cmd, "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    mallctl(cmd, NULL, NULL, NULL, 0);
#endif
}


/* Wait (outside the clock) until only `n` processes are left; false on a
 * timeout. Exits finish just after a process's last message. */
static inline bool bench_wait_process_count(long n)
{
    struct timespec start, now, pause = {0, 100000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (hive_process_count() > n) {
        nanosleep(&pause, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > kBenchDeadlineMs / 1000)
            return false;
    }
    return true;
}

static inline long bench_msg_long(const hive_msg_t *m)
{
    long v = 0;
    if (hive_msg_size(m) == sizeof v)
        memcpy(&v, hive_msg_data(m), sizeof v);
    return v;
}

#endif
