/* rcu.h - being an RCU reader from any thread, telling TSan about it, and
 * hive's own reclaim thread for batches of dead objects (below).
 *
 * hive uses liburcu's QSBR flavour: a registered, online thread is inside a
 * read-side critical section until it reports a quiescent state. Workers are
 * registered for their whole life and report every 8 dispatches. A foreign
 * thread (the embedder's) that calls into hive becomes a reader for the
 * duration of the call: hive__rcu_enter() registers it on first use and puts
 * it online, hive__rcu_leave() puts it offline again, so an idle foreign
 * thread never holds up a grace period. The registration is dropped when the
 * thread exits. Calls nest.
 *
 * ThreadSanitizer cannot see a grace period (liburcu is not instrumented),
 * so it would report every deferred free as racing with the readers that
 * used the object before. In TSan builds each quiescent state and each
 * going-offline releases one token, and each RCU callback acquires it first
 * (hive__rcu_callback_begin; hive's reclaim thread once per grace period,
 * before it runs that round's batches): the happens-before edge a grace
 * period really provides. Everywhere else these are no-ops.
 */
#ifndef HIVE_SCHED_RCU_H
#define HIVE_SCHED_RCU_H

#include <pthread.h>
#include <sched.h>

#include "sched/inject.h"

void hive__rcu_enter(void);
void hive__rcu_leave(void);

/* Workers: report a quiescent state / go offline / come back online. */
void hive__rcu_quiescent(void);
void hive__rcu_offline(void);
void hive__rcu_online(void);
/* Make liburcu's call_rcu thread and hive's reclaim thread (below) now,
 * if they are not there yet, and let them run on any of `cpus` (runtime
 * start, before the workers exist). 0, or -EAGAIN: no thread could be
 * made (the runtime does not start). */
int hive__rcu_reclaimer_start(const cpu_set_t *cpus);

/* hive's own reclaim thread for batches of dead objects (the process
 * structs of core/process.c). liburcu's call_rcu thread ends grace periods
 * in rounds 10 ms apart, so a spawn-heavy load had ~80,000 dead processes
 * (30 MB) waiting at a time, each cold in every cache when it came back.
 * This thread starts a grace period (synchronize_rcu) as soon as a batch is
 * waiting and runs each batch's function after it, in rounds that follow
 * each other without a pause; it sleeps on a futex while nothing waits.
 * Made once per program by the first runtime start and kept, like
 * liburcu's thread. */
typedef struct hive__rcu_batch {
    hive__inject_node_t node; /* in the thread's queue (sched/inject.h) */
    void (*fn)(struct hive__rcu_batch *b);
} hive__rcu_batch_t;

/* Run fn(b) after a grace period, on the reclaim thread. Any thread, once
 * a runtime has started. */
void hive__rcu_defer_batch(hive__rcu_batch_t *b, void (*fn)(hive__rcu_batch_t *b));
/* Return once every batch deferred before the call has run. Not from a
 * worker nor from a batch's function; an online reader goes offline for
 * the wait (as liburcu's rcu_barrier). */
void hive__rcu_batch_barrier(void);
/* Grace periods the reclaim thread has ended (tests). */
unsigned long hive__rcu_batch_rounds(void);
/* The reclaim thread (tests: its CPU mask); the caller itself if none. */
pthread_t hive__rcu_reclaimer_thread(void);

#if HIVE_TSAN
void hive__rcu_callback_begin(void);
#else
static inline void hive__rcu_callback_begin(void) {}
#endif

#endif
