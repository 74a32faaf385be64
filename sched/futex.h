/* futex.h - waiting on a 32-bit word and waking one waiter (Linux futex,
 * process-private): the sleeps of parked workers (park.c), of attached
 * threads in a receive (core/process.c) and of the reclaim thread (rcu.c).
 *
 * hive__futex_wait returns when *w does not hold val (at once if it already
 * does not), when woken, on a signal, or after ns nanoseconds (UINT64_MAX:
 * no limit; 0: at once, without a system call): callers loop on their own
 * condition. hive__futex_wake wakes one waiter; the kernel uses the address
 * as a key only and reads nothing there, so the word may be gone by then
 * (a waiter that saw its condition and returned). The orderings that make
 * a wake-up impossible to lose are the callers' (see each).
 */
#ifndef HIVE_SCHED_FUTEX_H
#define HIVE_SCHED_FUTEX_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline void hive__futex_wait(_Atomic uint32_t *w, uint32_t val, uint64_t ns)
{
    if (ns == 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, val, ns == UINT64_MAX ? NULL : &ts,
            NULL, 0);
}

static inline void hive__futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#endif
