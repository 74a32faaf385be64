/* timer.h - per-worker timers: a binary min-heap of deadlines per worker.
 *
 * A timer belongs to the worker that added it (its heap); that worker fires
 * it from its scheduler loop between dispatches, and wakes from parking in
 * time for the earliest deadline. No thread per timer, no global lock.
 * Timers added from a foreign thread go to worker 0 through a lock-free
 * inbox (inject.h) and a targeted wake-up.
 *
 * A timer's state goes PENDING -> FIRED or PENDING -> CANCELLED exactly once
 * (a CAS decides a fire/cancel race). It is reference counted: the heap holds
 * one reference, the creator another; release() runs when both are dropped.
 * A cancel on the owning worker removes the timer from the heap at once; a
 * cancel from elsewhere leaves it to be discarded when its deadline comes.
 *
 *   add        any thread (a worker, or foreign)
 *   cancel     any thread holding a reference
 *   put        any thread holding a reference (drops it)
 *   heap_*     the owning worker only
 */
#ifndef HIVE_SCHED_TIMER_H
#define HIVE_SCHED_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/inject.h"

enum { HIVE__TIMER_PENDING = 0, HIVE__TIMER_FIRED, HIVE__TIMER_CANCELLED };

typedef struct hive__timer hive__timer_t;

struct hive__timer {
    uint64_t deadline;          /* CLOCK_MONOTONIC, ns */
    _Atomic int state;
    _Atomic int refs;
    int heap_index;             /* owner only; -1 when not in a heap */
    _Atomic int owner;          /* worker id whose heap holds it, or -1 */
    void (*fire)(hive__timer_t *t);    /* owner worker, scheduler stack */
    void (*release)(hive__timer_t *t); /* when the last reference goes */
    hive__inject_node_t inbox;
};

typedef struct hive__timer_heap {
    hive__timer_t **a;
    int n, cap;
    hive__inject_t inbox;       /* added by foreign threads */
} hive__timer_heap_t;

uint64_t hive__now_ns(void);

/* Prepare t: two references (the heap's and the caller's). */
void hive__timer_init(hive__timer_t *t, uint64_t deadline, void (*fire)(hive__timer_t *),
                      void (*release)(hive__timer_t *));
/* Hand t to a heap: the calling worker's, else worker 0's inbox. 0, or
 * -ENOMEM (t then holds only the caller's reference), -EPERM (stopped). */
int hive__timer_add(hive__timer_t *t);
/* PENDING -> CANCELLED. True when it was pending (it will never fire). */
bool hive__timer_cancel(hive__timer_t *t);
/* Drop a reference. */
void hive__timer_put(hive__timer_t *t);

void hive__timer_heap_init(hive__timer_heap_t *h);
/* Fire what is due at `now`, take in the inbox. Owner only. */
void hive__timer_heap_run(hive__timer_heap_t *h, int owner, uint64_t now);
/* The earliest deadline, or UINT64_MAX. Owner only. */
uint64_t hive__timer_heap_next(hive__timer_heap_t *h);
/* Something to do soon: timers pending or inbox non-empty. Owner only. */
bool hive__timer_heap_busy(hive__timer_heap_t *h);
/* Drop every timer (runtime stop; the workers have exited). */
void hive__timer_heap_destroy(hive__timer_heap_t *h);

#endif
