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
 * A timer added on a worker "after" a delay (hive__timer_add_after) waits
 * on the worker's fresh list, with no deadline and no clock read, until
 * the worker next runs its timers (every HIVE__TIMER_INTERVAL dispatches,
 * and before it runs out of work or sleeps): then its deadline becomes that
 * run's clock reading plus the delay, later than the add, so it never
 * fires early; it fires at most one timer interval late on top of the
 * heap's own lateness. Most receive timeouts are cancelled before that
 * (the reply came): they cost no clock read and no heap insert or removal,
 * only their drop from the fresh list.
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
    uint64_t deadline;          /* CLOCK_MONOTONIC, ns; on the fresh list, the delay */
    _Atomic int state;
    _Atomic int refs;
    int heap_index;             /* owner only; -1 when not in a heap, -2 on the fresh list */
    _Atomic int owner;          /* worker id whose heap holds it, or -1 */
    void (*fire)(hive__timer_t *t);    /* owner worker, scheduler stack */
    void (*release)(hive__timer_t *t); /* when the last reference goes */
    hive__inject_node_t inbox;
};

typedef struct hive__timer_heap {
    hive__timer_t **a;
    int n, cap;
    hive__inject_t inbox;       /* added by foreign threads */
    hive__timer_t *fresh;       /* added after a delay, deadline not yet set (owner) */
    int nfresh;                 /* on the fresh list: room for them is kept in `a` */
} hive__timer_heap_t;

uint64_t hive__now_ns(void);
/* hive__now_ns() + ns, saturating: a delay of centuries is "never", not a
 * wrap into the past. */
uint64_t hive__deadline_in(uint64_t ns);
/* ms (>= 0) in ns, saturating. */
static inline uint64_t hive__ms_to_ns(int64_t ms)
{
    return (uint64_t)ms > UINT64_MAX / 1000000u ? UINT64_MAX : (uint64_t)ms * 1000000u;
}
/* The deadline of a timeout in ms from now: UINT64_MAX ("never") for a
 * negative one (HIVE_INFINITY), saturating for a huge one. */
static inline uint64_t hive__deadline_ms(int64_t ms)
{
    return ms < 0 ? UINT64_MAX : hive__deadline_in(hive__ms_to_ns(ms));
}

/* Prepare t: two references (the heap's and the caller's). */
void hive__timer_init(hive__timer_t *t, uint64_t deadline, void (*fire)(hive__timer_t *),
                      void (*release)(hive__timer_t *));
/* Hand t to a heap: the calling worker's, else worker 0's inbox. 0, or
 * -ENOMEM (t then holds only the caller's reference), -EPERM (stopped). */
int hive__timer_add(hive__timer_t *t);
/* Hand t to a heap to fire after_ns from now (see above): the calling
 * worker's fresh list; from a foreign thread, hive__timer_add with the
 * deadline read from the clock now. Results as hive__timer_add. */
int hive__timer_add_after(hive__timer_t *t, uint64_t after_ns);
/* t has fired (its deadline passed; acquire: what fire() did is visible). */
static inline bool hive__timer_fired(hive__timer_t *t)
{
    /* acquire: pairs with the acq_rel CAS that fires it. */
    return atomic_load_explicit(&t->state, memory_order_acquire) == HIVE__TIMER_FIRED;
}
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
