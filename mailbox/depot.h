/* depot.h - a bounded lock-free stack of batch records, where one thread
 * leaves a batch of spare blocks for any other thread to take whole.
 *
 * Two users: message nodes (mailbox/message.c: the receiving end of a
 * one-way stream frees what the sending end allocates) and dead processes'
 * structs (core/process.c: the RCU callback that ends their grace period
 * hands them to the workers that spawn). Each moves blocks between threads
 * a batch at a time, so the shared line is touched once per batch, not per
 * block, however many cores take part.
 *
 *   Algorithm: a Treiber stack whose only pop takes everything (exchange
 *   with NULL), so no record is read after another thread may have taken
 *   it and there is no ABA: a push links its record to the head it read
 *   and CASes; if the head changed it retries, and if it changed back to
 *   the same record (taken and put back) the link is still right, since it
 *   names that record, not what followed it. A taker keeps up to the
 *   records it asked for and pushes the rest back as one chain.
 *   Orderings: the push CAS is release, so a record's contents (and the
 *   blocks it names) written before it are visible to whoever takes it; the
 *   take exchange is acquire (a later push's CAS read the earlier one's
 *   value, an RMW in its release sequence, so the taker sees every record
 *   it took). A take of up to n records puts the rest back with a CAS
 *   from an empty head when nobody pushed meanwhile (no ABA: an empty
 *   stack is empty whatever it held before), else as a chain pushed on
 *   top. The record count is relaxed: a bound, read approximately.
 *
 * A record starts with hive__depot_rec_t; what follows is its owner's.
 */
#ifndef HIVE_MAILBOX_DEPOT_H
#define HIVE_MAILBOX_DEPOT_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct hive__depot_rec {
    struct hive__depot_rec *next; /* while in the depot */
} hive__depot_rec_t;

/* Zero-initialised is empty. A cache line of its own: it is the one line
 * every thread that gives or takes a batch touches. */
typedef struct hive__depot {
    _Alignas(64) _Atomic(hive__depot_rec_t *) head;
    _Atomic int records;
} hive__depot_t;

/* Leave r, unless the depot already holds `max` records (false: r is still
 * the caller's). */
bool hive__depot_put(hive__depot_t *d, hive__depot_rec_t *r, int max);
/* One record, or NULL. A relaxed look first: an empty depot costs no
 * locked instruction. */
hive__depot_rec_t *hive__depot_get(hive__depot_t *d);
/* Up to max (>= 1) records, newest first, as a chain through next ending
 * in NULL; NULL if none. The records taken are read, the rest is not when
 * nobody gave one meanwhile (see depot.c). */
hive__depot_rec_t *hive__depot_take(hive__depot_t *d, int max);
/* Every record, as a chain through next; none is read (see depot.c). */
hive__depot_rec_t *hive__depot_drain(hive__depot_t *d);
/* Records in it now (approximate while others give and take). */
int hive__depot_count(hive__depot_t *d);

#endif
