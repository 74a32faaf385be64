/* stack.h - fiber stacks: mmap'd slabs, guard pages within a VMA budget,
 * per-thread pools.
 *
 * A stack is `size` usable bytes with one guard page below it. Stacks are
 * carved from slabs (one mmap holds HIVE__STACKS_PER_SLAB stacks) and never
 * unmapped, so a fault address can always be matched against them, even from
 * a signal handler. Making and recycling a stack in the steady state costs no
 * system call: each thread keeps a small cache, refilled from and spilled to
 * a global pool.
 *
 * Guard pages cost kernel VMAs: a PROT_NONE page between two RW stacks splits
 * the mapping, two VMAs per stack, and vm.max_map_count (65530 by default)
 * caps a process's VMAs. hive spends (max_map_count - 16384) / 2 guarded
 * stacks at most, rounded down to whole slabs (24,512 on a default kernel), leaving 16,384 VMAs to the rest
 * of the program. Slabs made beyond that budget are one VMA with no guard
 * pages: an overflow there is not caught. hive says so once on stderr when it
 * first happens and counts it in hive__stack_stats; raising vm.max_map_count
 * keeps every stack guarded. (A canary at the bottom of each unguarded stack
 * was rejected: writing it costs a resident page per stack, doubling what an
 * idle process costs.) A single frame larger than the guard page could step
 * over it: hive builds with -fstack-clash-protection, and code that runs on
 * fibers (your process functions) should too.
 *
 * Threads: alloc/free from any thread (the cache is per thread). guard_lookup
 * is async-signal-safe and lock-free.
 */
#ifndef HIVE_SCHED_STACK_H
#define HIVE_SCHED_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HIVE__STACK_DEFAULT_SIZE (64 * 1024)
#define HIVE__STACKS_PER_SLAB 64

typedef struct hive__stack {
    char *lo;        /* lowest usable byte (just above the guard page) */
    size_t size;     /* usable bytes; the stack grows down from lo + size */
    uint8_t guarded; /* 1: a PROT_NONE page sits below lo */
} hive__stack_t;

typedef struct hive__stack_stats {
    size_t guarded;      /* stacks made with a guard page */
    size_t unguarded;    /* stacks made past the VMA budget (canary only) */
    size_t guard_budget; /* how many guarded stacks the budget allows */
    size_t slabs;        /* slabs mapped */
    size_t pooled;       /* stacks in the global pool right now */
} hive__stack_stats_t;

/* Get a stack of at least `size` bytes (0 = the default size), rounded up to
 * whole pages. 0, -EINVAL (size over 1 GiB) or -ENOMEM. */
int hive__stack_alloc(size_t size, hive__stack_t *out);
/* Return a stack to the pool (its memory stays mapped for reuse). */
void hive__stack_free(const hive__stack_t *s);
/* Hand the calling thread's cached stacks to the global pool (thread exit). */
void hive__stack_thread_flush(void);
/* Set the default size (runtime start). */
void hive__stack_set_default_size(size_t size);
size_t hive__stack_default_size(void);

/* Is `addr` inside the guard page of a stack hive made? If so and out is not
 * NULL, *out describes that stack. Async-signal-safe. */
bool hive__stack_guard_lookup(const void *addr, hive__stack_t *out);

void hive__stack_stats(hive__stack_stats_t *out);
/* Tests: pretend max_map_count is `vmas` (0 = read /proc again). Applies to
 * slabs made afterwards. */
void hive__stack_set_vma_budget_for_test(size_t vmas);

#endif
