/* inject.h - the injection queue: work handed to the workers by threads that
 * are not workers (the embedding server's threads, timers of other layers);
 * also the queue of batches waiting for hive's reclaim thread (sched/rcu.c).
 *
 * A lock-free intrusive stack with a take-all pop (Treiber's push; the pop
 * swaps the head for NULL, so there is no ABA: no node is ever popped alone).
 * The taker reverses the batch, so work is taken in the order it was pushed.
 *
 *   operation   caller        may run at the same time as
 *   push        any thread    push, take_all, empty
 *   take_all    any thread    push, take_all, empty
 *   empty       any thread    everything (a hint)
 */
#ifndef HIVE_SCHED_INJECT_H
#define HIVE_SCHED_INJECT_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct hive__inject_node {
    struct hive__inject_node *next;
} hive__inject_node_t;

typedef struct hive__inject {
    _Alignas(64) _Atomic(hive__inject_node_t *) head;
} hive__inject_t;

void hive__inject_init(hive__inject_t *q);
/* Add n (its next field is overwritten). */
void hive__inject_push(hive__inject_t *q, hive__inject_node_t *n);
/* Take everything pushed so far, oldest first (a NULL-terminated list). */
hive__inject_node_t *hive__inject_take_all(hive__inject_t *q);
bool hive__inject_empty(hive__inject_t *q);

#endif
