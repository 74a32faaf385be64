/* fault.h - containing a process's stack overflow.
 *
 * When a fiber touches the guard page below its stack, the kernel raises
 * SIGSEGV; hive's handler runs on the worker's alternate signal stack. If
 * the fault is on the guard page of the fiber the worker is running, and
 * the faulting instruction is not inside the runtime's libraries (libc,
 * the allocator, the loader, liburcu, hwloc, libhive), the fiber is
 * abandoned: the handler switches straight to the worker's scheduler, which
 * ends the task with t->overflowed set (a process then ends with reason
 * stack_overflow) and carries on. Anything else - a fault elsewhere, or an
 * overflow inside a library that may hold a lock - is fatal as usual, after
 * one line on stderr saying what it was; a handler installed before hive's
 * (a sanitizer's, the program's) gets the signal first-hand.
 *
 * hive's own code never runs out of stack on a fiber: its entry points
 * check for HIVE__STACK_RESERVE bytes of headroom first (hive__stack_low)
 * and end the process cleanly with stack_overflow when there is less.
 */
#ifndef HIVE_SCHED_FAULT_H
#define HIVE_SCHED_FAULT_H

#include <stdbool.h>

/* HIVE__STACK_EXTRA: what a fiber's stack gets on top of the size asked
 * for (sched/worker.c give_stack): under ASan, the reserve's growth, so that
 * a stack_size that works in a plain build (16K, the minimum, included)
 * leaves the code above hive the same headroom in a sanitized one instead
 * of ending at the first hive call with stack_overflow. */
#define HIVE__STACK_RESERVE_PLAIN (8 * 1024)
#if HIVE_ASAN
#define HIVE__STACK_RESERVE (32 * 1024) /* ASan's frames are several times larger */
#else
#define HIVE__STACK_RESERVE HIVE__STACK_RESERVE_PLAIN
#endif
#define HIVE__STACK_EXTRA (HIVE__STACK_RESERVE - HIVE__STACK_RESERVE_PLAIN)

/* Install the SIGSEGV handler (at each runtime start, unless it is still in
 * place; the handler it replaces gets what is not ours) and record, once,
 * the address ranges of the libraries where an overflow cannot be
 * contained. Not thread-safe against another thread's sigaction. */
int hive__fault_install(void);
/* Per worker thread: an alternate signal stack for the handler. */
int hive__fault_thread_init(void);
void hive__fault_thread_fini(void);

/* On a fiber: fewer than HIVE__STACK_RESERVE bytes of stack left. */
bool hive__stack_low(void);

#endif
