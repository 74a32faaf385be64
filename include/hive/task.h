/* hive/task.h - tasks: run a function in another process, await its result.
 *
 * hive_task_async(fn, arg, &t) starts fn(arg) in a new process linked to
 * and monitored by the caller (Elixir's Task.async, Gleam's task.async).
 * The caller, and only the caller, awaits the value fn returns:
 *   - hive_task_await(&t, timeout, &v): the result, or on timeout the
 *     caller ends (reason user "task await timeout"), as Gleam's await panics;
 *   - hive_task_try_await: -ETIMEDOUT instead, and the task may be awaited
 *     again;
 *   - hive_task_await_forever: no timeout.
 * A task that crashes takes its awaiter down through the link with the same
 * reason (Erlang's propagation); an awaiter that traps exits gets
 * -ECONNRESET from await instead, with the task's reason in *why.
 * A hive_task_t is a plain value: no memory to free.
 */
#ifndef HIVE_TASK_H
#define HIVE_TASK_H

#include <stdint.h>

#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*hive_task_fn_t)(void *arg);

typedef struct hive_task {
    hive_pid_t pid;    /* the task's process */
    hive_pid_t owner;  /* who started it (the only one who may await) */
    uint64_t alias;    /* where its result goes */
    uint64_t ref;      /* the owner's monitor of it */
    int done;          /* awaited to the end */
} hive_task_t;

/* 0, -EINVAL, -EPERM (not a process or attached thread), -ENOMEM, -EAGAIN. */
HIVE_API int hive_task_async(hive_task_fn_t fn, void *arg, hive_task_t *task);
/* 0 with *result (may be NULL); -ETIMEDOUT (the task goes on; await again);
 * -ECONNRESET (the task ended without a result; *why, may be NULL, gets its
 * reason); -EPERM (the caller is not the task's owner); -EALREADY (already
 * awaited to the end); -EINVAL. */
HIVE_API int hive_task_try_await(hive_task_t *task, int64_t timeout_ms, void **result,
                                 hive_reason_t *why);
/* As try_await, but a timeout ends the caller. */
HIVE_API int hive_task_await(hive_task_t *task, int64_t timeout_ms, void **result,
                             hive_reason_t *why);
HIVE_API int hive_task_await_forever(hive_task_t *task, void **result, hive_reason_t *why);

#ifdef __cplusplus
}
#endif
#endif
