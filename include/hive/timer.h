/* hive/timer.h - timers that send messages.
 *
 * Timers live on per-worker heaps (no thread per timer). A timer whose
 * destination process ends is cancelled. */
#ifndef HIVE_TIMER_H
#define HIVE_TIMER_H

#include <stdint.h>

#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t hive_timer_ref_t;

/* hive_send_after - in `ms` milliseconds, send {tag, copy of data} to `to`.
 * Any thread. 0 with *ref set (ref may be NULL), -ESRCH (no such process),
 * -EINVAL (ms < 0, data NULL with len > 0, or a tag of hive's own:
 * HIVE_TAG_RESERVED and up), -EMSGSIZE, -EAGAIN (max_timers timers are pending; one that
 * fired or was cancelled no longer counts), -ENOMEM, -EPERM (runtime not
 * running). */
HIVE_API int hive_send_after(hive_pid_t to, int64_t ms, uint64_t tag, const void *data,
                             size_t len, hive_timer_ref_t *ref);

/* hive_cancel_timer - 1 when the timer was cancelled before it fired (its
 * message will never be sent), 0 when it had already fired or been
 * cancelled, or the ref is unknown. Any thread. */
HIVE_API int hive_cancel_timer(hive_timer_ref_t ref);

#ifdef __cplusplus
}
#endif
#endif
