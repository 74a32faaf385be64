/* task.c - tasks (hive/task.h): fn(arg) in a linked, monitored process whose
 * result comes back to the starter on a reply alias.
 *
 * After sending its result the task unlinks from its owner (a trapping
 * owner would otherwise get an EXIT `normal` per task).
 *
 * The result travels as a message tagged with the owner's alias, sent before
 * the task process ends; messages and signals keep their order between a
 * pair of processes, so the owner sees the result before the DOWN of a task
 * that finished, and a DOWN without a result means the task died. While the
 * alias is active the result may sit in the owner's mailbox for as long as
 * the owner likes; once the task is awaited to the end (or the owner gives
 * up), the alias is dropped and nothing more arrives.
 */
#include <errno.h>

#include "core/call.h"
#include "core/process.h"
#include "mailbox/alloc.h"
#include <hive/actor.h>
#include <hive/link.h>
#include <hive/task.h>

typedef struct task_start {
    hive_task_fn_t fn;
    void *arg;
    hive_pid_t owner;
    uint64_t alias;
} task_start_t;

static void task_main(void *arg)
{
    task_start_t *s = arg;
    void *result = s->fn(s->arg);
    hive_send(s->owner, s->alias, &result, sizeof result);
    /* The result is on its way: the link has done its job. Unlinking spares
     * a trapping owner an EXIT `normal` for every task. */
    hive_unlink(s->owner);
}

HIVE_API int hive_task_async(hive_task_fn_t fn, void *arg, hive_task_t *task)
{
    hive__proc_enter();
    if (!fn || !task)
        return -EINVAL;
    hive__proc_t *self = hive__proc_self();
    if (!self)
        return -EPERM;
    task_start_t s = {.fn = fn, .arg = arg, .owner = self->pid, .alias = hive__alias_new(self)};
    if (!s.alias)
        return -ENOMEM;
    hive_task_t t = {.owner = self->pid, .alias = s.alias};
    hive_spawn_opts_t opts = {.worker = -1, .link = true, .monitor = true, .monitor_ref = &t.ref};
    int rc = hive__spawn_attached(task_main, &opts, &s, sizeof s, &t.pid);
    if (rc) {
        hive__alias_drop(self, t.alias);
        return rc;
    }
    *task = t;
    return 0;
}

HIVE_API int hive_task_try_await(hive_task_t *task, int64_t timeout_ms, void **result,
                                 hive_reason_t *why)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    hive__proc_enter();
    if (!task)
        return -EINVAL;
    hive__proc_t *self = hive__proc_self();
    if (!self || self->pid != task->owner)
        return -EPERM; /* only the starter holds the alias the result goes to */
    if (task->done)
        return -EALREADY;
    const hive__reply_wait_t w = {.alias = task->alias, .ref = task->ref};
    hive_msg_t *m;
    int rc = hive__await_reply(&w, timeout_ms, &m);
    if (rc)
        return rc; /* -ETIMEDOUT: the task goes on; the alias stays */
    task->done = 1;
    hive__alias_drop(self, task->alias);
    if (hive_msg_tag(m) == task->alias) {
        if (result) {
            void *v = NULL;
            if (hive_msg_size(m) == sizeof v)
                v = *(void *const *)hive_msg_data(m);
            *result = v;
        }
        hive_msg_free(m);
        hive_demonitor(task->ref, HIVE_DEMONITOR_FLUSH);
        return 0;
    }
    hive_down_info_t d;
    hive_down_info(m, &d);
    hive_msg_free(m);
    if (why)
        *why = d.reason;
    return -ECONNRESET;
}

HIVE_API int hive_task_await(hive_task_t *task, int64_t timeout_ms, void **result,
                             hive_reason_t *why)
{
    int rc = hive_task_try_await(task, timeout_ms, result, why);
    if (rc == -ETIMEDOUT)
        hive_exit(hive_reason_user(ETIMEDOUT, "task await timed out"));
    return rc;
}

HIVE_API int hive_task_await_forever(hive_task_t *task, void **result, hive_reason_t *why)
{
    return hive_task_try_await(task, HIVE_INFINITY, result, why);
}
