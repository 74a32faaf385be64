/* test_wakeup.c - how a blocked receiver is woken: once per arrival that
 * concerns it (messages it does not wait for leave it asleep), and into the
 * waker's LIFO slot, so it runs next on the waker's worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "core/process.h"
#include "sched/rcu.h"
#include "tests/rt.h"

enum { T_X = 1, T_Y, T_REPORT, T_ORDER, T_GO };

static hive_pid_t me;

static void wait_for_x(void *arg)
{
    hive_msg_t *m;
    if (hive_receive_tag(T_X, HIVE_INFINITY, &m) != 0)
        return;
    hive_msg_free(m);
    uint64_t blocked = atomic_load(&hive__proc_self()->wakeups);
    hive_send(me, T_REPORT, &blocked, sizeof blocked);
}

/* A receiver waiting for tag X sleeps through 1,000 messages of tag Y and
 * wakes once, for X. */
static void unrelated_messages_do_not_wake_a_selective_receiver(void **state)
{
    assert_int_equal(rt_start(2, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    hive_pid_t r;
    assert_int_equal(hive_spawn(wait_for_x, NULL, &r), 0);
    /* Wait (bounded) until it is blocked in receive. */
    hive__proc_t *p = NULL;
    for (long i = 0; i < 100000000; i++) {
        hive__rcu_enter();
        p = hive__proc_lookup(r);
        uint32_t mode = p ? atomic_load(&p->wait_mode) : 0;
        hive__rcu_leave();
        if (mode != HIVE__WAIT_NONE)
            break;
    }
    /* One Y at a time, each time waiting (bounded) until the receiver is
     * parked again: a receiver woken by a Y would run, count a wake-up and
     * park again before the next Y. */
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(hive_send(r, T_Y, NULL, 0), 0);
        for (long k = 0; k < 100000000; k++) {
            hive__rcu_enter();
            hive__proc_t *q = hive__proc_lookup(r);
            int ps = q ? atomic_load(&q->task.park_state) : HIVE__PARK_PARKED;
            hive__rcu_leave();
            if (ps == HIVE__PARK_PARKED)
                break;
        }
    }
    assert_int_equal(hive_send(r, T_X, NULL, 0), 0);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(T_REPORT, 30000, &m), 0);
    uint64_t blocked;
    memcpy(&blocked, hive_msg_data(m), sizeof blocked);
    hive_msg_free(m);
    assert_int_equal(blocked, 1);
    hive_thread_detach();
    assert_int_equal(hive_runtime_stop(), 0);
}

static _Atomic int order[3], norder;

static void note(int who) { atomic_store(&order[atomic_fetch_add(&norder, 1)], who); }

static void receiver(void *arg)
{
    hive_msg_t *m;
    if (hive_receive_tag(T_X, HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
    note(1);
}

static void queued(void *arg) { note(2); }

static void waker(void *arg)
{
    hive_pid_t r = *(hive_pid_t *)arg;
    hive_msg_t *m;
    if (hive_receive_tag(T_GO, HIVE_INFINITY, &m) == 0) /* r is blocked by now */
        hive_msg_free(m);
    hive_spawn(queued, NULL, NULL); /* queued on this worker's deque */
    hive_send(r, T_X, NULL, 0);     /* r into the LIFO slot */
    hive_yield();                   /* r runs before the queued task */
    note(3);
}

/* On one worker: the woken receiver runs right after the waker gives up the
 * worker, ahead of a task queued earlier (it went to the LIFO slot). */
static void woken_receiver_runs_next_on_the_wakers_worker(void **state)
{
    assert_int_equal(rt_start(1, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    atomic_store(&norder, 0);
    hive_pid_t r, w;
    assert_int_equal(hive_spawn(receiver, NULL, &r), 0);
    assert_int_equal(hive_spawn(waker, &r, &w), 0);
    for (long i = 0; i < 100000000; i++) { /* r blocked in receive */
        hive__rcu_enter();
        hive__proc_t *p = hive__proc_lookup(r);
        uint32_t mode = p ? atomic_load(&p->wait_mode) : 0;
        hive__rcu_leave();
        if (mode != HIVE__WAIT_NONE)
            break;
    }
    assert_int_equal(hive_send(w, T_GO, NULL, 0), 0);
    for (long i = 0; i < 100000000 && atomic_load(&norder) < 3; i++)
        ;
    assert_int_equal(atomic_load(&norder), 3);
    assert_int_equal(atomic_load(&order[0]), 1);
    hive_thread_detach();
    assert_int_equal(hive_runtime_stop(), 0);
}

/* From a process: send the test thread {done, its own wake-ups so far}. */
static void report_wakeups(uint64_t done)
{
    uint64_t out[2] = {done, atomic_load(&hive__proc_self()->wakeups)};
    hive_send(me, T_REPORT, out, sizeof out);
}

/* On the test thread: the next such report. */
static void receive_report(uint64_t out[2])
{
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(T_REPORT, 30000, &m), 0);
    assert_int_equal(hive_msg_size(m), 2 * sizeof out[0]);
    memcpy(out, hive_msg_data(m), 2 * sizeof out[0]);
    hive_msg_free(m);
}

/* A call to a process on the caller's own worker is answered before the
 * caller parks: the caller steps aside for the callee it just woke (the
 * worker's LIFO slot) instead of publishing a wait, arming its timeout and
 * being woken by the reply. 1,000 calls, caller and actor pinned to worker
 * 0: almost no wake-up (each call used to cost one). */
static hive_next_t echo_handle(void *state, hive_msg_t *m)
{
    hive_reply(m, NULL, 0);
    return hive_continue(state);
}

static hive_subject_t echo;

static void call_echo(void *arg)
{
    uint64_t done = 0;
    for (int i = 0; i < 1000; i++) {
        hive_msg_t *r;
        if (hive_call(echo, NULL, 0, 30000, &r, NULL) == 0) {
            done++;
            hive_msg_free(r);
        }
    }
    report_wakeups(done);
}

static void a_call_on_one_worker_needs_no_wake_up(void **state)
{
    assert_int_equal(rt_start(2, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    hive_spawn_opts_t on0 = {.worker = 0, .pinned = true};
    hive_actor_spec_t spec = {.handle = echo_handle, .spawn = &on0};
    assert_int_equal(hive_actor_start(&spec, NULL, &echo, NULL), 0);
    assert_int_equal(hive_spawn_opts(call_echo, NULL, &on0, NULL), 0);
    uint64_t out[2];
    receive_report(out);
    assert_int_equal(out[0], 1000);
    /* A few may still park: the idle worker 1 may take the woken actor
     * from worker 0's LIFO slot (it sends it home, pinned, too late). */
    if (out[1] >= 100)
        fail_msg("%llu wake-ups in 1,000 calls", (unsigned long long)out[1]);
    hive_thread_detach();
    assert_int_equal(hive_runtime_stop(), 0);
}

/* The same for a process's end: a parent that tells its child (on its
 * worker) to stop and waits for the DOWN, as a supervisor stopping a
 * child does, finds it there without being woken (one wake-up each before). */
static void end_on_message(void *arg)
{
    hive_msg_t *m;
    if (hive_receive(HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
}

static void stop_children(void *arg)
{
    uint64_t done = 0;
    for (int i = 0; i < 200; i++) {
        hive_ref_t ref;
        hive_pid_t child;
        hive_spawn_opts_t o = {.worker = 0, .pinned = true, .monitor = true, .monitor_ref = &ref};
        if (hive_spawn_opts(end_on_message, NULL, &o, &child) != 0 ||
            hive_send(child, T_GO, NULL, 0) != 0)
            break;
        hive_msg_t *m;
        if (hive_receive_tag(HIVE_TAG_DOWN, 30000, &m) == 0) {
            done++;
            hive_msg_free(m);
        }
    }
    report_wakeups(done);
}

static void a_down_on_one_worker_needs_no_wake_up(void **state)
{
    assert_int_equal(rt_start(2, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    hive_spawn_opts_t on0 = {.worker = 0, .pinned = true};
    assert_int_equal(hive_spawn_opts(stop_children, NULL, &on0, NULL), 0);
    uint64_t out[2];
    receive_report(out);
    assert_int_equal(out[0], 200);
    if (out[1] >= 20) /* a few: as above */
        fail_msg("%llu wake-ups for 200 DOWNs", (unsigned long long)out[1]);
    hive_thread_detach();
    assert_int_equal(hive_runtime_stop(), 0);
}

/* A process that stepped aside for the task it just woke is not stuck
 * behind it: that task computes for seconds without a hive call, the
 * answer comes from a process on the other worker, and the other worker
 * takes the waiting process (as it takes a stuck worker's LIFO slot). */
static atomic_bool q_stop, q_done;

static void compute_long(void *arg)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while (!atomic_load(&q_stop) && t.tv_sec - t0.tv_sec < 5);
    atomic_store(&q_done, true);
}

static void end_soon(void *arg) { hive_sleep(50); }

static void wait_beside_a_long_task(void *arg)
{
    hive_ref_t ref;
    hive_spawn_opts_t on1 = {.worker = 1, .pinned = true, .monitor = true, .monitor_ref = &ref};
    /* The long task pinned here: unpinned, the other worker could take it
     * from the LIFO slot before we step aside, and then run it for
     * seconds where end_soon (pinned there) waits its turn (a failure once
     * in ~15 runs). */
    hive_spawn_opts_t on0 = {.worker = 0, .pinned = true};
    uint64_t out[2] = {0, 0};
    if (hive_spawn_opts(end_soon, NULL, &on1, NULL) == 0 &&
        hive_spawn_opts(compute_long, NULL, &on0, NULL) == 0) {
        hive_msg_t *m;
        if (hive_receive_tag(HIVE_TAG_DOWN, 30000, &m) == 0) {
            out[0] = 1;
            hive_msg_free(m);
        }
        out[1] = atomic_load(&q_done);
    }
    atomic_store(&q_stop, true);
    hive_send(me, T_REPORT, out, sizeof out);
}

static void a_process_beside_a_long_task_is_taken_by_another_worker(void **state)
{
    assert_int_equal(rt_start(2, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    hive_spawn_opts_t on0 = {.worker = 0}; /* starts there; may move */
    assert_int_equal(hive_spawn_opts(wait_beside_a_long_task, NULL, &on0, NULL), 0);
    uint64_t out[2];
    receive_report(out);
    assert_int_equal(out[0], 1);
    if (out[1])
        fail_msg("the DOWN was seen only after the long task ended");
    for (int i = 0; i < 1000 && !atomic_load(&q_done); i++)
        usleep(10000);
    hive_thread_detach();
    assert_int_equal(hive_runtime_stop(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unrelated_messages_do_not_wake_a_selective_receiver),
        cmocka_unit_test(woken_receiver_runs_next_on_the_wakers_worker),
        cmocka_unit_test(a_call_on_one_worker_needs_no_wake_up),
        cmocka_unit_test(a_down_on_one_worker_needs_no_wake_up),
        cmocka_unit_test(a_process_beside_a_long_task_is_taken_by_another_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
