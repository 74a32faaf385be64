/* deque.h - Chase-Lev work-stealing deque of pointers.
 *
 * Chase & Lev, "Dynamic Circular Work-Stealing Deque" (SPAA 2005), with the
 * C11 memory orderings of Lê, Pop, Cohen & Zappa Nardelli, "Correct and
 * Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013); the ordering
 * argument sits at each atomic in deque.c.
 *
 * Who may call what, concurrently:
 *
 *   operation     caller            may run at the same time as
 *   push          the owner only    steal, size (any number of thieves)
 *   pop           the owner only    steal, size
 *   steal         any thread        push, pop, steal, size
 *   size          any thread        everything (an estimate)
 *   init/destroy  one thread        nothing
 *
 * The owner pushes and pops at the bottom (LIFO: the newest work is hot in
 * cache); thieves take from the top (FIFO: the oldest, usually the biggest
 * piece of a fork-join tree). Indices are signed 64-bit and only grow, so
 * they never wrap in practice; the array is circular and grows by doubling.
 *
 * Reclaiming a grown-out-of array: a thief may still be reading the old array
 * after the owner switched to the new one. Old arrays are retired through
 * liburcu QSBR (call_rcu), so every thread that calls steal must be a
 * registered QSBR reader that is online (the workers are; tests register
 * their threads). In TSan builds old arrays are kept until destroy instead:
 * TSan cannot see liburcu's grace periods (its barriers are inline assembly)
 * and would report the deferred free as a race.
 */
#ifndef HIVE_SCHED_DEQUE_H
#define HIVE_SCHED_DEQUE_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct hive__deque_array hive__deque_array_t;

typedef struct hive__deque {
    _Alignas(64) _Atomic int64_t top;    /* thieves CAS it */
    _Alignas(64) _Atomic int64_t bottom; /* written by the owner only */
    _Atomic(hive__deque_array_t *) array;
    hive__deque_array_t *retired; /* TSan builds: old arrays, freed at destroy */
} hive__deque_t;

/* steal() result when it lost a race with another thief or the owner: the
 * deque was not empty, try again. */
#define HIVE__DEQUE_ABORT ((void *)1)

/* capacity: initial slots, rounded up to a power of two (>= 2). 0 or -ENOMEM. */
int hive__deque_init(hive__deque_t *d, int64_t capacity);
/* Frees the arrays; the deque must be empty of work the caller still wants. */
void hive__deque_destroy(hive__deque_t *d);

/* Owner: add x (not NULL, not HIVE__DEQUE_ABORT) at the bottom. 0, or -ENOMEM when growing failed
 * (x is then not in the deque). */
int hive__deque_push(hive__deque_t *d, void *x);
/* Owner: take the newest item, or NULL when empty. */
void *hive__deque_pop(hive__deque_t *d);
/* Anyone: take the oldest item; NULL when empty, HIVE__DEQUE_ABORT when a
 * race was lost. */
void *hive__deque_steal(hive__deque_t *d);
/* Anyone: how many items there were at some recent moment (>= 0). */
int64_t hive__deque_size(hive__deque_t *d);
/* Owner: the item pop() would take next, or NULL; a hint only (a thief may
 * take it first): to fetch its memory ahead, never to use it. */
void *hive__deque_peek(hive__deque_t *d);

#endif
