/* kept_task.h - tasks whose memory outlives their run, for tests that
 * unpark a peer that may already have finished (the scheduler's
 * hive__task_unpark needs a live task; pids make this safe for processes).
 * The test frees them with hive__task_free after hive_runtime_stop(). */
#ifndef HIVE_TESTS_KEPT_TASK_H
#define HIVE_TESTS_KEPT_TASK_H

#include "sched/worker.h"

static void kept_task_exited(hive__task_t *t) { (void)t; }

static inline hive__task_t *spawn_kept(void (*fn)(void *), void *arg)
{
    hive__task_t *t = NULL;
    if (hive__task_new(fn, arg, 0, &t) != 0)
        return NULL;
    t->on_exit = kept_task_exited;
    hive__task_start(t);
    return t;
}

#endif
