/* tls.h - thread-local reads that stay right on a fiber that migrates.
 *
 * A fiber may suspend on one worker thread and resume on another. A
 * compiler that reads a thread-local variable twice in one function may
 * compute the thread's TLS address once (on AArch64 it reads tpidr_el0 once
 * and keeps it in a register; on x86-64 it may do the same with %fs:0), so
 * after a switch in between, the second read would be the old thread's
 * variable. Until now the runtime's "who am I" reads were out-of-line
 * functions behind a compiler barrier; at several calls per message their
 * call overhead and the registers callers saved around them were ~3% of an
 * actor call's instructions (callgrind).
 *
 * Here the thread pointer is read with a volatile asm (never merged with
 * another read, never cached; its "memory" clobber keeps it after any
 * switch before it, as a call does) and the variable is found at a fixed
 * offset from it: initial-exec TLS lives in the static TLS block, at the
 * same offset from the thread pointer in every thread, so the offset is
 * measured once, at load (hive__tls_offset), and every read is a register
 * read, a load of the offset and a load of the variable.
 *
 * x86-64: %fs:0 holds the thread pointer itself (the TLS ABI requires it).
 * AArch64: tpidr_el0 is the thread pointer.
 */
#ifndef HIVE_SCHED_TLS_H
#define HIVE_SCHED_TLS_H

#include <stddef.h>

static inline char *hive__thread_pointer(void)
{
    char *tp;
#if defined(__x86_64__)
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp) : : "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp) : : "memory");
#else
#error "hive: thread pointer read for this architecture"
#endif
    return tp;
}

/* The offset of initial-exec thread-local `var` from the thread pointer;
 * the same in every thread. Measure it once (a constructor). */
#define hive__tls_offset(var) ((ptrdiff_t)((char *)&(var) - hive__thread_pointer()))

/* The calling thread's copy of a thread-local of type T at offset off. */
#define hive__tls_read(T, off) (*(T *)(hive__thread_pointer() + (off)))

#endif
