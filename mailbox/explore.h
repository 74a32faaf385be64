/* explore.h - HIVE_STEP(): a yield point before each atomic step of the
 * lock-free structures (sched/deque.c, mailbox/mpsc.c), for the interleaving
 * explorer (tests/test_explore.c).
 *
 * Empty unless the translation unit is compiled with HIVE_EXPLORE defined:
 * the library's own objects never are, so the production hot path is
 * untouched. The explorer compiles deque.c and mpsc.c into its own
 * executable with -DHIVE_EXPLORE=1 and defines hive__explore_step(), which
 * switches from the logical thread (a fiber) back to its driver; the driver
 * then picks which logical thread performs its next atomic step. It runs
 * every schedule it picks under sequential consistency: weak-memory
 * reorderings are outside what it can see (TSan and the ordering comments
 * cover those).
 *
 * Lives in mailbox/, the lowest layer, so that both mailbox/ and sched/ may
 * include it.
 */
#ifndef HIVE_MAILBOX_EXPLORE_H
#define HIVE_MAILBOX_EXPLORE_H

#if defined(HIVE_EXPLORE) && HIVE_EXPLORE
void hive__explore_step(void);
#define HIVE_STEP() hive__explore_step()
#else
#define HIVE_STEP() ((void)0)
#endif

#endif
