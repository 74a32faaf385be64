/* mpsc.h - intrusive multi-producer single-consumer queue (Vyukov).
 *
 * Dmitry Vyukov's "Intrusive MPSC node-based queue" (1024cores.net): a
 * producer links its node with one atomic exchange on head and one store;
 * the consumer walks from tail. The queue keeps a stub node so it is never
 * structurally empty. Orderings are argued at each atomic in mpsc.c.
 *
 *   operation   caller               may run at the same time as
 *   push        any thread           push, pop, empty
 *   pop         the single consumer  push
 *   empty       the single consumer  push
 *   init        one thread           nothing
 *
 * The window: between a producer's exchange and its link store, the queue
 * holds a node the consumer cannot reach yet. pop() then returns NULL
 * although a push is under way; the producer's wake-up (which it sends after
 * its link store) makes the consumer look again, so no message is lost.
 */
#ifndef HIVE_MAILBOX_MPSC_H
#define HIVE_MAILBOX_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct hive__mpsc_node {
    _Atomic(struct hive__mpsc_node *) next;
} hive__mpsc_node_t;

/* Not padded to cache lines: every process has one, and a million idle
 * processes should not pay two cache lines each for it. The consumer's tail
 * comes first so that an embedder can end a cache line with it and start
 * the next with head and stub, which producers write (core/process.h does:
 * a busy mailbox then does not bounce one line between both sides). */
typedef struct hive__mpsc {
    hive__mpsc_node_t *tail;           /* the consumer */
    _Atomic(hive__mpsc_node_t *) head; /* producers */
    hive__mpsc_node_t stub;
} hive__mpsc_t;

void hive__mpsc_init(hive__mpsc_t *q);
/* Add n (its next field is overwritten). */
void hive__mpsc_push(hive__mpsc_t *q, hive__mpsc_node_t *n);
/* Take the oldest node, or NULL (empty, or a push is in its window). */
hive__mpsc_node_t *hive__mpsc_pop(hive__mpsc_t *q);
/* Nothing pushed and not yet popped (a push in its window counts as there). */
static inline bool hive__mpsc_empty(hive__mpsc_t *q)
{
    /* acquire: pairs with the producers' exchange on head. */
    return q->tail == &q->stub &&
           atomic_load_explicit(&q->head, memory_order_acquire) == &q->stub;
}

#endif
