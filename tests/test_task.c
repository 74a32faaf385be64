/* test_task.c - tasks (hive/task.h): a result comes back to the starter;
 * try_await times out without harm and can be repeated; await times out by
 * ending the caller; await_forever; a crashing task takes a non-trapping
 * awaiter down with its reason, and gives a trapping one -ECONNRESET with
 * the reason; only the starter may await; a task awaited to the end cannot
 * be awaited again; a late result after the owner stopped waiting does not
 * pollute anything (the alias is dropped). */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "tests/rt.h"

#define WAIT 30000

static hive_pid_t me;

static int setup(void **state)
{
    return rt_start_attached(3, 0, 0, &me);
}

static int teardown(void **state) { return rt_stop_attached(); }

static void *square(void *arg)
{
    long v = (long)(intptr_t)arg;
    return (void *)(intptr_t)(v * v);
}

static void *slow(void *arg)
{
    hive_sleep((int64_t)(intptr_t)arg);
    return (void *)(intptr_t)7;
}

static void *crash(void *arg)
{
    hive_panic("task failed: %d", 5);
    return NULL;
}

static void test_async_await(void **state)
{
    hive_task_t t[10];
    for (long i = 0; i < 10; i++)
        assert_int_equal(hive_task_async(square, (void *)(intptr_t)i, &t[i]), 0);
    for (long i = 9; i >= 0; i--) { /* await in any order */
        void *v = NULL;
        assert_int_equal(hive_task_await(&t[i], WAIT, &v, NULL), 0);
        assert_int_equal((intptr_t)v, i * i);
        assert_int_equal(hive_task_await(&t[i], WAIT, &v, NULL), -EALREADY);
    }
    hive_msg_t *m;
    assert_int_equal(hive_receive(0, &m), -ETIMEDOUT); /* nothing left over */
}

static void test_try_await_then_forever(void **state)
{
    hive_task_t t;
    assert_int_equal(hive_task_async(slow, (void *)(intptr_t)200, &t), 0);
    void *v = NULL;
    assert_int_equal(hive_task_try_await(&t, 10, &v, NULL), -ETIMEDOUT);
    assert_true(hive_is_alive(t.pid)); /* the task goes on */
    assert_int_equal(hive_task_await_forever(&t, &v, NULL), 0);
    assert_int_equal((intptr_t)v, 7);
}

/* await with a timeout ends the caller; the task (linked) then gets the
 * caller's exit signal and dies too, as in Gleam/Elixir. */
static void await_too_short(void *arg)
{
    hive_task_t t;
    hive_task_async(slow, (void *)(intptr_t)10000, &t);
    *(hive_pid_t *)arg = t.pid;
    void *v;
    hive_task_await(&t, 10, &v, NULL);
    hive_panic("await returned after a timeout");
}

static hive_down_info_t run_and_watch(hive_fn_t fn, void *arg)
{
    hive_pid_t p;
    hive_ref_t ref;
    hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &ref};
    assert_int_equal(hive_spawn_opts(fn, arg, &o, &p), 0);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, WAIT, &m), 0);
    hive_down_info_t d;
    hive_down_info(m, &d);
    hive_msg_free(m);
    return d;
}

static void test_await_timeout_ends_caller(void **state)
{
    hive_pid_t task = HIVE_PID_NONE;
    hive_down_info_t d = run_and_watch(await_too_short, &task);
    assert_int_equal(d.reason.kind, HIVE_EXIT_USER);
    assert_int_equal(d.reason.code, ETIMEDOUT);
    assert_true(rt_wait_dead(task));
}

static void awaits_crash(void *arg)
{
    hive_task_t t;
    hive_task_async(crash, NULL, &t);
    void *v;
    hive_task_await(&t, WAIT, &v, NULL);
    hive_exit(hive_reason_user(1, "survived a crashing task"));
}

static void test_crash_propagates(void **state)
{
    /* Not trapping: the awaiter dies with the task's reason. */
    hive_down_info_t d = run_and_watch(awaits_crash, NULL);
    assert_int_equal(d.reason.kind, HIVE_EXIT_PANIC);
    assert_string_equal(d.reason.text, "task failed: 5");
    /* Trapping (this attached thread always is): -ECONNRESET and the reason. */
    hive_task_t t;
    assert_int_equal(hive_task_async(crash, NULL, &t), 0);
    void *v;
    hive_reason_t why;
    assert_int_equal(hive_task_await(&t, WAIT, &v, &why), -ECONNRESET);
    assert_int_equal(why.kind, HIVE_EXIT_PANIC);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_EXIT, WAIT, &m), 0); /* the link's EXIT */
    hive_msg_free(m);
}

static hive_task_t shared_task;
static _Atomic int other_rc = 1;

static void other_awaiter(void *arg)
{
    void *v;
    atomic_store(&other_rc, hive_task_try_await(&shared_task, 0, &v, NULL));
}

static void test_only_owner_awaits(void **state)
{
    assert_int_equal(hive_task_async(slow, (void *)(intptr_t)50, &shared_task), 0);
    hive_pid_t p;
    assert_int_equal(hive_spawn(other_awaiter, NULL, &p), 0);
    while (atomic_load(&other_rc) == 1)
        sched_yield();
    assert_int_equal(atomic_load(&other_rc), -EPERM);
    void *v;
    assert_int_equal(hive_task_await(&shared_task, WAIT, &v, NULL), 0);
    assert_int_equal(hive_task_async(NULL, NULL, &shared_task), -EINVAL);
    assert_int_equal(hive_task_try_await(NULL, 0, &v, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_async_await),
        cmocka_unit_test(test_try_await_then_forever),
        cmocka_unit_test(test_await_timeout_ends_caller),
        cmocka_unit_test(test_crash_propagates),
        cmocka_unit_test(test_only_owner_awaits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
