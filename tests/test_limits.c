/* test_limits.c - exhaustion of the configured limits, and pids whose slot
 * is reused.
 *
 * What it proves:
 *  - max_timers: with that many timers pending, hive_send_after returns
 *    -EAGAIN; a timer that fires or is cancelled gives its place back at
 *    once, and failed calls (-ESRCH) take none.
 *  - max_names: with that many names registered, hive_register returns
 *    -EAGAIN; unregistering, or the named process ending, gives a place
 *    back, and refused registrations (-EBUSY, -ESRCH) take none.
 *  - (max_processes is test_process's spawn_limit_is_refused_with_eagain.)
 *  - A pid whose slot now holds a newer process never reaches it: sends,
 *    pointer sends, exit signals, kills, names, timers and links to the old
 *    pid say -ESRCH / noproc, monitors of it fire DOWN noproc at once, and
 *    the new process receives nothing and, when it ends, sends nothing over
 *    the links and monitors that were aimed at the old pid.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "tests/rt.h"

#define WAIT 10000
enum { T_STOP = 1, T_TICK, T_CHECK, T_COUNT, T_HELLO };

static int start(long max_timers, long max_names, long max_processes)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    cfg.workers = 2;
    if (max_timers > 0)
        cfg.max_timers = max_timers;
    if (max_names > 0)
        cfg.max_names = max_names;
    if (max_processes > 0)
        cfg.max_processes = max_processes;
    hive_diag_t d;
    int rc = hive_runtime_start(&cfg, &d);
    if (rc)
        fprintf(stderr, "runtime start: %s\n", d.message);
    return rc;
}

static void wait_until_dead(hive_pid_t pid)
{
    for (long i = 0; hive_is_alive(pid); i++) {
        assert_true(i < 100000000);
        sched_yield();
    }
}

/* Waits for T_STOP; on T_CHECK replies with how many other messages it got. */
static void counter(void *arg)
{
    long others = 0;
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        hive_pid_t from = hive_msg_from(m);
        hive_msg_free(m);
        if (tag == T_STOP)
            return;
        if (tag == T_CHECK)
            hive_send(from, T_COUNT, &others, sizeof others);
        else
            others++;
    }
}

static void timers_at_the_limit_are_refused_until_one_fires_or_is_cancelled(void **state)
{
    assert_int_equal(start(4, 0, 0), 0);
    hive_pid_t me;
    assert_int_equal(hive_thread_attach(&me), 0);
    hive_timer_ref_t r[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(hive_send_after(me, 60000, T_TICK, NULL, 0, &r[i]), 0);
    /* Refused timers (a dead pid, a bad argument) take no place. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(hive_send_after((hive_pid_t)1 << 40 | 7, 1, T_TICK, NULL, 0, NULL),
                         -ESRCH);
        assert_int_equal(hive_send_after(me, -1, T_TICK, NULL, 0, NULL), -EINVAL);
    }
    assert_int_equal(hive_send_after(me, 1, T_HELLO, NULL, 0, &r[3]), 0);
    assert_int_equal(hive_send_after(me, 60000, T_TICK, NULL, 0, NULL), -EAGAIN);
    /* The short one fires: its place is free again. */
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(T_HELLO, WAIT, &m), 0);
    hive_msg_free(m);
    assert_int_equal(hive_send_after(me, 60000, T_TICK, NULL, 0, &r[3]), 0);
    assert_int_equal(hive_send_after(me, 60000, T_TICK, NULL, 0, NULL), -EAGAIN);
    /* A cancel frees one. */
    assert_int_equal(hive_cancel_timer(r[0]), 1);
    assert_int_equal(hive_cancel_timer(r[0]), 0); /* and only once */
    assert_int_equal(hive_send_after(me, 60000, T_TICK, NULL, 0, &r[0]), 0);
    assert_int_equal(hive_send_after(me, 60000, T_TICK, NULL, 0, NULL), -EAGAIN);
    for (int i = 0; i < 4; i++)
        assert_int_equal(hive_cancel_timer(r[i]), 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(hive_send_after(me, 60000, T_TICK, NULL, 0, &r[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(hive_cancel_timer(r[i]), 1);
    assert_int_equal(hive_thread_detach(), 0);
    assert_int_equal(hive_runtime_stop(), 0);
}

static void names_at_the_limit_are_refused_until_one_is_released(void **state)
{
    assert_int_equal(start(0, 3, 0), 0);
    hive_pid_t p[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(hive_spawn(counter, NULL, &p[i]), 0);
    assert_int_equal(hive_register("n0", p[0]), 0);
    assert_int_equal(hive_register("n1", p[1]), 0);
    /* Refusals take no place. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(hive_register("n0", p[2]), -EBUSY);
        assert_int_equal(hive_register("other", p[0]), -EALREADY);
        assert_int_equal(hive_register("ghost", (hive_pid_t)1 << 40 | 7), -ESRCH);
    }
    assert_int_equal(hive_register("n2", p[2]), 0);
    assert_int_equal(hive_register("n3", p[3]), -EAGAIN);
    /* Unregistering frees a place. */
    assert_int_equal(hive_unregister("n1"), 0);
    assert_int_equal(hive_register("n3", p[3]), 0);
    assert_int_equal(hive_register("n1", p[1]), -EAGAIN);
    /* So does the end of a named process. */
    assert_int_equal(hive_send(p[0], T_STOP, NULL, 0), 0);
    wait_until_dead(p[0]);
    assert_int_equal(hive_register("n1", p[1]), 0);
    assert_int_equal(hive_whereis("n1"), p[1]);
    for (int i = 1; i < 4; i++)
        assert_int_equal(hive_send(p[i], T_STOP, NULL, 0), 0);
    for (int i = 1; i < 4; i++)
        wait_until_dead(p[i]);
    assert_int_equal(hive_runtime_stop(), 0);
}

static void free_dtor(void *p)
{
    free(p);
}

static long ask_count(hive_pid_t p)
{
    assert_int_equal(hive_send(p, T_CHECK, NULL, 0), 0);
    return rt_receive_long(T_COUNT, WAIT);
}

static void a_reused_slot_is_never_reached_through_the_old_pid(void **state)
{
    /* The attached thread and one more process: every spawn takes the slot
     * the last one left. */
    assert_int_equal(start(0, 0, 2), 0);
    hive_pid_t me;
    assert_int_equal(hive_thread_attach(&me), 0);
    hive_pid_t old, fresh;
    assert_int_equal(hive_spawn(counter, NULL, &old), 0);
    assert_int_equal(hive_send(old, T_STOP, NULL, 0), 0);
    wait_until_dead(old);
    int rc;
    for (long i = 0; (rc = hive_spawn(counter, NULL, &fresh)) == -EAGAIN; i++) {
        assert_true(i < 100000000); /* the slot is freed just after the death shows */
        sched_yield();
    }
    assert_int_equal(rc, 0);
    assert_int_equal((uint32_t)fresh, (uint32_t)old); /* same slot */
    assert_true(fresh != old);                        /* another generation */

    /* Everything aimed at the old pid. */
    assert_false(hive_is_alive(old));
    assert_int_equal(hive_send(old, T_HELLO, "x", 1), -ESRCH);
    void *ptr = malloc(8);
    assert_int_equal(hive_send_ptr(old, T_HELLO, ptr, free_dtor), -ESRCH);
    free(ptr);
    assert_int_equal(hive_send_exit(old, hive_reason_user(1, "stale")), -ESRCH);
    assert_int_equal(hive_kill(old), -ESRCH);
    assert_int_equal(hive_register("stale", old), -ESRCH);
    assert_int_equal(hive_send_after(old, 1, T_HELLO, NULL, 0, NULL), -ESRCH);
    /* A link to the old pid: an EXIT noproc from it, at once. */
    assert_int_equal(hive_link(old), 0);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_EXIT, WAIT, &m), 0);
    hive_exit_info_t e;
    assert_int_equal(hive_exit_info(m, &e), 0);
    hive_msg_free(m);
    assert_int_equal(e.from, old);
    assert_int_equal(e.reason.kind, HIVE_EXIT_NOPROC);
    /* A monitor of the old pid: DOWN noproc at once. */
    hive_ref_t stale_ref;
    assert_int_equal(hive_monitor(old, &stale_ref), 0);
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, WAIT, &m), 0);
    hive_down_info_t d;
    assert_int_equal(hive_down_info(m, &d), 0);
    hive_msg_free(m);
    assert_int_equal(d.ref, stale_ref);
    assert_int_equal(d.pid, old);
    assert_int_equal(d.reason.kind, HIVE_EXIT_NOPROC);

    /* The new process got none of it and is alive. */
    assert_true(hive_is_alive(fresh));
    assert_int_equal(ask_count(fresh), 0);
    /* When it ends, the only signal is from the monitor made on its own pid
     * (links are fired before monitors: a stray EXIT would come first). */
    hive_ref_t ref;
    assert_int_equal(hive_monitor(fresh, &ref), 0);
    assert_int_equal(hive_send(fresh, T_STOP, NULL, 0), 0);
    assert_int_equal(hive_receive(WAIT, &m), 0);
    assert_int_equal(hive_msg_tag(m), HIVE_TAG_DOWN);
    assert_int_equal(hive_down_info(m, &d), 0);
    hive_msg_free(m);
    assert_int_equal(d.ref, ref);
    assert_int_equal(d.pid, fresh);
    /* Nothing else follows (a bounded look for something that must not
     * come). */
    assert_int_equal(hive_receive(50, &m), -ETIMEDOUT);
    assert_int_equal(hive_thread_detach(), 0);
    assert_int_equal(hive_runtime_stop(), 0);
}

/* A failed test leaves the runtime running: stop it for the next. */
static int teardown(void **state)
{
    hive_thread_detach();
    hive_runtime_stop();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(timers_at_the_limit_are_refused_until_one_fires_or_is_cancelled,
                                  teardown),
        cmocka_unit_test_teardown(names_at_the_limit_are_refused_until_one_is_released, teardown),
        cmocka_unit_test_teardown(a_reused_slot_is_never_reached_through_the_old_pid, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
