/* bench_pin.h - two-thread benchmarks pinned to two CPUs: the benchmark
 * thread on one, its helper thread on another (bench_floor.c,
 * bench_deque.c). With a single usable CPU they run unpinned and say so in
 * params. */
#ifndef HIVE_BENCH_PIN_H
#define HIVE_BENCH_PIN_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>

#include "bench/harness.h"

typedef struct {
    bool pinned;
    int cpu_a, cpu_b; /* the benchmark thread's and the helper's */
    int ncpus;        /* CPUs this process may use */
    cpu_set_t saved;  /* the benchmark thread's mask before */
} pin_t;

/* Pick two CPUs and move the calling thread to the first. */
static inline void pin_begin(pin_t *p)
{
    cpu_set_t set;
    memset(p, 0, sizeof *p);
    p->cpu_a = p->cpu_b = -1;
    pthread_getaffinity_np(pthread_self(), sizeof p->saved, &p->saved);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    p->ncpus = CPU_COUNT(&set);
    for (int c = 0; c < CPU_SETSIZE && p->cpu_b < 0; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        if (p->cpu_a < 0)
            p->cpu_a = c;
        else
            p->cpu_b = c;
    }
    if (p->cpu_b < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(p->cpu_a, &set);
    p->pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

static inline void pin_helper(const pin_t *p)
{
    if (!p->pinned)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(p->cpu_b, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static inline void pin_end(hive_bench_t *b, const pin_t *p, const char *what)
{
    if (p->pinned) {
        pthread_setaffinity_np(pthread_self(), sizeof p->saved, &p->saved);
        hive_bench_params(b, "%s, cpus %d,%d", what, p->cpu_a, p->cpu_b);
    } else {
        hive_bench_params(b, "%s, UNPINNED (%d cpu%s usable)", what, p->ncpus,
                          p->ncpus == 1 ? "" : "s");
    }
    hive_bench_workers(b, 2);
}

/* cacheline_rtt's measurement on its own (bench_floor.c): ns per round trip
 * between the first two usable CPUs, or -1 when there are not two. For a
 * benchmark that wants its floor measured in the same moment as itself (the
 * host may move the vCPUs between benchmarks). Restores the caller's mask. */
double bench_floor_rtt_ns(long rounds);

#endif
