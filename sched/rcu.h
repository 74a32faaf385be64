/* rcu.h - being an RCU reader from any thread.
 *
 * hive uses liburcu's QSBR flavour: a registered, online thread is inside a
 * read-side critical section until it reports a quiescent state. Workers are
 * registered for their whole life and report at every dispatch. A foreign
 * thread (the embedder's) that calls into hive becomes a reader for the
 * duration of the call: hive__rcu_enter() registers it on first use and puts
 * it online, hive__rcu_leave() puts it offline again, so an idle foreign
 * thread never holds up a grace period. The registration is dropped when the
 * thread exits. Calls nest.
 */
#ifndef HIVE_SCHED_RCU_H
#define HIVE_SCHED_RCU_H

void hive__rcu_enter(void);
void hive__rcu_leave(void);

#endif
