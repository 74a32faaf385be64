/* rcu.h - being an RCU reader from any thread, and telling TSan about it.
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
 * (hive__rcu_callback_begin): the happens-before edge a grace period really
 * provides. Everywhere else these are no-ops.
 */
#ifndef HIVE_SCHED_RCU_H
#define HIVE_SCHED_RCU_H

#include <sched.h>

void hive__rcu_enter(void);
void hive__rcu_leave(void);

/* Workers: report a quiescent state / go offline / come back online. */
void hive__rcu_quiescent(void);
void hive__rcu_offline(void);
void hive__rcu_online(void);
/* Make liburcu's call_rcu thread now (if it is not there yet) and let it
 * run on any of `cpus` (runtime start, before the workers exist). */
void hive__rcu_reclaimer_cpus(const cpu_set_t *cpus);

#if HIVE_TSAN
void hive__rcu_callback_begin(void);
#else
static inline void hive__rcu_callback_begin(void) {}
#endif

#endif
