/* inject.c - lock-free injection queue: Treiber push, take-all pop. See
 * inject.h. The only shared word is head. */
#include "sched/inject.h"

#include <stddef.h>

void hive__inject_init(hive__inject_t *q) { atomic_init(&q->head, NULL); }

void hive__inject_push(hive__inject_t *q, hive__inject_node_t *n)
{
    /* relaxed: the value is only a guess for the CAS below. */
    hive__inject_node_t *old = atomic_load_explicit(&q->head, memory_order_relaxed);
    do {
        n->next = old;
        /* release: n's contents (and everything the pusher wrote before,
         * e.g. the task it describes) are visible to whoever takes n; pairs
         * with the acquire exchange in hive__inject_take_all(). relaxed on
         * failure: retry with the fresh head. */
    } while (!atomic_compare_exchange_weak_explicit(&q->head, &old, n, memory_order_release,
                                                    memory_order_relaxed));
}

hive__inject_node_t *hive__inject_take_all(hive__inject_t *q)
{
    /* relaxed peek: skip the RMW (and its cache-line ownership) when empty. */
    if (!atomic_load_explicit(&q->head, memory_order_relaxed))
        return NULL;
    /* acquire: pairs with the release CAS in hive__inject_push(); all nodes
     * in the chain were published by their pushers' releases, which the
     * chain of CASes on head carries (release sequence). */
    hive__inject_node_t *n = atomic_exchange_explicit(&q->head, NULL, memory_order_acquire);
    hive__inject_node_t *rev = NULL;
    while (n) {
        hive__inject_node_t *next = n->next;
        n->next = rev;
        rev = n;
        n = next;
    }
    return rev;
}

bool hive__inject_empty(hive__inject_t *q)
{
    /* relaxed: a hint; callers that must not miss work use a fence first
     * (see the park protocol in park.c). */
    return atomic_load_explicit(&q->head, memory_order_relaxed) == NULL;
}
