/* depot.c - the batch depot (see depot.h for the algorithm and its
 * orderings). HIVE_STEP() marks each shared step for the interleaving
 * explorer (mailbox/explore.h); empty in the library's own build. */
#include "mailbox/depot.h"

#include <stddef.h>

#include "mailbox/explore.h"

/* Push the chain first..last (linked through next). */
static void push_chain(hive__depot_t *d, hive__depot_rec_t *first, hive__depot_rec_t *last)
{
    /* relaxed: the value only seeds the CAS, which checks it. */
    hive__depot_rec_t *head = atomic_load_explicit(&d->head, memory_order_relaxed);
    do {
        last->next = head;
        HIVE_STEP();
        /* release: publishes the records' contents to the taker's acquire
         * exchange; relaxed on failure: we only retry. */
    } while (!atomic_compare_exchange_weak_explicit(&d->head, &head, first, memory_order_release,
                                                    memory_order_relaxed));
}

bool hive__depot_put(hive__depot_t *d, hive__depot_rec_t *r, int max)
{
    HIVE_STEP();
    /* relaxed: a bound, approximate under races. */
    if (atomic_fetch_add_explicit(&d->records, 1, memory_order_relaxed) >= max) {
        /* relaxed: as above. */
        atomic_fetch_sub_explicit(&d->records, 1, memory_order_relaxed);
        return false;
    }
    push_chain(d, r, r);
    return true;
}

/* Give back `rest`, a chain the caller took with its exchange. Usually
 * nobody has pushed since, and a CAS from an empty head puts the chain back
 * as it is: no record of it is read (each would be a cache miss). An empty
 * stack has no ABA to fear: whatever it held before, the chain is its whole
 * content now. Else push it on top, which needs its last record. */
static void push_back(hive__depot_t *d, hive__depot_rec_t *rest)
{
    hive__depot_rec_t *empty = NULL;
    HIVE_STEP();
    /* release: as push_chain's CAS; relaxed on failure: we then push. */
    if (atomic_compare_exchange_strong_explicit(&d->head, &empty, rest, memory_order_release,
                                                memory_order_relaxed))
        return;
    hive__depot_rec_t *last = rest;
    while (last->next)
        last = last->next;
    push_chain(d, rest, last);
}

hive__depot_rec_t *hive__depot_take(hive__depot_t *d, int max)
{
    /* relaxed: a hint, so an empty depot costs no locked instruction. */
    if (!atomic_load_explicit(&d->head, memory_order_relaxed))
        return NULL;
    HIVE_STEP();
    /* acquire: pairs with the pushes' release CAS (see depot.h). */
    hive__depot_rec_t *r = atomic_exchange_explicit(&d->head, NULL, memory_order_acquire);
    if (!r)
        return NULL;
    int n = 1;
    hive__depot_rec_t *last = r;
    while (n < max && last->next) {
        last = last->next;
        n++;
    }
    hive__depot_rec_t *rest = last->next;
    last->next = NULL;
    /* relaxed: a bound, lowered by what was taken (a put counts itself
     * before it pushes). Only a drain racing with this can leave it low
     * (see hive__depot_drain); never high for long. */
    atomic_fetch_sub_explicit(&d->records, n, memory_order_relaxed);
    if (rest)
        push_back(d, rest);
    return r;
}

hive__depot_rec_t *hive__depot_get(hive__depot_t *d) { return hive__depot_take(d, 1); }

hive__depot_rec_t *hive__depot_drain(hive__depot_t *d)
{
    /* relaxed: a hint, as in hive__depot_get. */
    if (!atomic_load_explicit(&d->head, memory_order_relaxed))
        return NULL;
    HIVE_STEP();
    /* acquire: as in hive__depot_get. */
    hive__depot_rec_t *all = atomic_exchange_explicit(&d->head, NULL, memory_order_acquire);
    /* relaxed: a bound. Zeroed rather than lowered by one per record, so
     * that no record is read here (a drain may take hundreds, each a cache
     * miss). A put between its count and its push, a refused put between
     * its count and its undo, or a get racing with this leaves the count
     * low (never high) until the depot is next drained empty: the depot may
     * then briefly hold a few records past its bound, never refuse for
     * ever. */
    if (all)
        atomic_store_explicit(&d->records, 0, memory_order_relaxed);
    return all;
}

int hive__depot_count(hive__depot_t *d)
{
    /* relaxed: an estimate (see hive__depot_drain: it may read low). */
    int n = atomic_load_explicit(&d->records, memory_order_relaxed);
    return n > 0 ? n : 0;
}
