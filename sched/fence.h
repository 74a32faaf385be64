/* fence.h - the full (StoreLoad) fence of hive's Dekker-style handshakes.
 *
 * hive__fence_seq_cst() is atomic_thread_fence(memory_order_seq_cst): every
 * argument that names a seq_cst fence (park.c, deque.c, core/process.c)
 * holds for it unchanged. On x86-64 it is a locked no-op RMW on the stack
 * instead of the MFENCE that compilers emit: a locked instruction orders all
 * earlier loads and stores before all later ones for write-back memory (Intel
 * SDM vol. 3, 8.2.2; AMD APM vol. 2, 7.4.2), which is all hive uses, and
 * it costs a fraction of MFENCE, which also waits for non-temporal and
 * write-combining stores (Linux's smp_mb() is the same instruction). The
 * stack line is already ours, so the RMW touches nothing shared. Under
 * ThreadSanitizer the C11 fence stays, so that TSan sees it.
 */
#ifndef HIVE_SCHED_FENCE_H
#define HIVE_SCHED_FENCE_H

#include <stdatomic.h>

#if defined(__SANITIZE_THREAD__)
#define HIVE__FENCE_C11 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HIVE__FENCE_C11 1
#endif
#endif

static inline void hive__fence_seq_cst(void)
{
#if defined(__x86_64__) && !HIVE_TSAN && !defined(HIVE__FENCE_C11)
    __asm__ volatile("lock orq $0, (%%rsp)" ::: "memory", "cc");
#else
    /* seq_cst: the fence itself; its pairings are argued at each caller. */
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

#endif
