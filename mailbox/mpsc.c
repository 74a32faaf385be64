/* mpsc.c - Vyukov's intrusive MPSC queue. See mpsc.h.
 *
 * head is the newest node (producers exchange it); tail is the oldest node
 * not yet handed out (consumer only). A node's next goes from NULL to its
 * successor exactly once, written by the producer that pushed the successor.
 * HIVE_STEP() (mailbox/explore.h) marks each shared step for the interleaving
 * explorer; it is empty in the library's own build.
 */
#include "mailbox/mpsc.h"

#include <stddef.h>

#include "mailbox/explore.h"

void hive__mpsc_init(hive__mpsc_t *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
}

void hive__mpsc_push(hive__mpsc_t *q, hive__mpsc_node_t *n)
{
    /* relaxed: n is not yet shared; the release below publishes it. */
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* seq_cst (acq_rel would do for the queue alone): release publishes n
     * (and the message it heads) to the next producer, who links after it;
     * acquire orders our link store below after the previous producer's
     * initialisation of prev. seq_cst because this exchange is also (S1) of
     * the receiver wake-up handshake (core/process.c, hive__proc_deliver):
     * the sender's seq_cst load (S3) follows it in the single total order,
     * which spares the sender a separate fence. On x86 it is the same xchg. */
    HIVE_STEP();
    hive__mpsc_node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_seq_cst);
    /* release: publishes n's contents to the consumer; pairs with the
     * acquire loads of next in hive__mpsc_pop(). Until this store lands the
     * consumer cannot reach n (the window, see mpsc.h). */
    HIVE_STEP();
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

hive__mpsc_node_t *hive__mpsc_pop(hive__mpsc_t *q)
{
    hive__mpsc_node_t *tail = q->tail;
    /* acquire: pairs with the release store of next in hive__mpsc_push(). */
    HIVE_STEP();
    hive__mpsc_node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (!next)
            return NULL;
        q->tail = next;
        tail = next;
        /* acquire: as above. */
        HIVE_STEP();
        next = atomic_load_explicit(&tail->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    /* tail is the last linked node. If head moved past it, a producer is in
     * its window: report empty for now; its wake-up will follow. acquire:
     * pairs with the producers' exchange. */
    HIVE_STEP();
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL;
    /* Put the stub back behind tail so tail itself can be handed out. */
    hive__mpsc_push(q, &q->stub);
    /* acquire: pairs with the release store of next in hive__mpsc_push()
     * (ours of the stub, or a producer's that got in first). */
    HIVE_STEP();
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}
