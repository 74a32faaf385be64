/* hive/runtime.h - starting and stopping the runtime.
 *
 * One runtime per OS process (as one BEAM per node). The embedding program
 * starts it, uses it from any of its threads, and stops it; start and stop may
 * be repeated. Per worker (one OS thread per selected core): a run queue, a
 * LIFO slot, a stack pool. Shared by all workers: the injection queue for
 * work from foreign threads and the sleepers list used to wake parked workers.
 */
#ifndef HIVE_RUNTIME_H
#define HIVE_RUNTIME_H

#include <hive/config.h>
#include <hive/error.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

/* hive_runtime_start - resolve `cfg` (NULL = all defaults, see config.h),
 * start one pinned worker thread per configured CPU and return 0. Nothing is
 * started when the configuration is refused: -EINVAL with the reason in
 * *diag (may be NULL; the reason then goes to stderr). -EALREADY if the
 * runtime is running. Call from a thread that is not a worker. */
HIVE_API int hive_runtime_start(const hive_config_t *cfg, hive_diag_t *diag);

/* hive_runtime_stop - stop the workers and free the runtime's memory.
 * Fibers still runnable are dropped without running again. An Erlang node
 * (hive/node.h) is stopped first, as by hive_node_stop. Attached threads
 * blocked in a receive (a call, an await) are woken with -ESHUTDOWN and are
 * detached from then on. Other hive calls from other threads must not run
 * during the stop (as with any library's teardown: the tables they would
 * read are being freed); after it they return -EPERM. Returns 0, or
 * -EALREADY when not running, -EPERM when called from a worker. */
HIVE_API int hive_runtime_stop(void);

/* hive_runtime_workers - how many workers the running runtime has (0 when it
 * is not running). Any thread. */
HIVE_API int hive_runtime_workers(void);

/* hive_yield - let the other runnable fibers of this worker run, then
 * continue. A caller that started processes since it last began running
 * lets as many dispatches go by (up to 256) before it runs again, so they
 * usually run first; otherwise it runs again after a few others. hive is
 * cooperative: a long computation inside a process must
 * call hive_yield() (or any hive call that charges the budget: send, receive,
 * spawn) every few microseconds of work, or the fibers queued behind it wait
 * until another worker steals them. From a foreign thread it is sched_yield().
 */
HIVE_API void hive_yield(void);

#ifdef __cplusplus
}
#endif
#endif
