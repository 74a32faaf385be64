/* test_link.c - links, monitors, exit signals and crash containment, one
 * Erlang rule per test: the cascade, `normal` ignored, trapping turns
 * signals into EXIT messages, kill cannot be trapped and links see
 * `killed`, noproc for dead pids, unlink and demonitor (with flush), order
 * of messages and signals, panic, spawn_link / spawn monitor, and cleanup
 * handlers on every exit path. */
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

#include "core/idmap.h"
#include "core/process.h"
#include "sched/rcu.h"
#include "tests/rt.h"

#define WAIT 30000

enum { T_GO = 1, T_STOP, T_DATA, T_PID, T_OK };

static hive_pid_t me;

static int setup(void **state)
{
    return rt_start_attached(3, 0, 0, &me);
}

static int teardown(void **state) { return rt_stop_attached(); }

static hive_msg_t *expect(uint64_t tag)
{
    hive_msg_t *m = NULL;
    int rc = hive_receive_tag(tag, WAIT, &m);
    if (rc)
        fail_msg("waiting for tag %#llx: %s", (unsigned long long)tag, hive_strerror(rc));
    return m;
}

static hive_exit_info_t expect_exit(void)
{
    hive_msg_t *m = expect(HIVE_TAG_EXIT);
    hive_exit_info_t e;
    assert_int_equal(hive_exit_info(m, &e), 0);
    hive_msg_free(m);
    return e;
}

static hive_down_info_t expect_down(void)
{
    hive_msg_t *m = expect(HIVE_TAG_DOWN);
    hive_down_info_t d;
    assert_int_equal(hive_down_info(m, &d), 0);
    hive_msg_free(m);
    return d;
}

static void block(void *arg)
{
    hive_msg_t *m;
    while (hive_receive_tag(T_STOP, HIVE_INFINITY, &m) != 0)
        ;
    hive_msg_free(m);
    hive_reason_t *r = arg;
    if (r)
        hive_exit(*r);
}

static void trapper(void *arg)
{
    hive_trap_exits(true);
    hive_send(me, T_OK, NULL, 0); /* signals sent from now on are trapped */
    block(arg);
}

/* ---- the cascade ---------------------------------------------------- */

static void linker(void *arg)
{
    hive_pid_t peer = *(hive_pid_t *)arg;
    hive_link(peer);
    hive_send(me, T_OK, NULL, 0);
    block(NULL);
}

/* A crash cascades along links to non-trapping processes with the same
 * reason; the attached test thread (always trapping) sees it as EXIT. */
static void abnormal_exit_cascades_through_links(void **state)
{
    hive_reason_t boom = hive_reason_user(7, "boom");
    hive_pid_t a, b;
    assert_int_equal(hive_spawn(block, &boom, &a), 0);
    assert_int_equal(hive_spawn(linker, &a, &b), 0);
    hive_msg_free(expect(T_OK));
    assert_int_equal(hive_link(b), 0);
    assert_int_equal(hive_send(a, T_STOP, NULL, 0), 0);
    hive_exit_info_t e = expect_exit();
    assert_int_equal(e.from, b);
    assert_int_equal(e.reason.kind, HIVE_EXIT_USER);
    assert_int_equal(e.reason.code, 7);
    assert_string_equal(e.reason.text, "boom");
    assert_true(rt_wait_dead(a));
    assert_true(rt_wait_dead(b));
}

/* `normal` does not kill a linked process that does not trap. */
static void normal_exit_is_ignored_by_links(void **state)
{
    hive_pid_t a, b;
    assert_int_equal(hive_spawn(block, NULL, &a), 0);
    assert_int_equal(hive_spawn(linker, &a, &b), 0);
    hive_msg_free(expect(T_OK));
    assert_int_equal(hive_send(a, T_STOP, NULL, 0), 0);
    assert_true(rt_wait_dead(a));
    assert_int_equal(hive_send(b, T_DATA, NULL, 0), 0); /* a runtime call for b */
    assert_true(hive_is_alive(b));
    hive_kill(b);
    assert_true(rt_wait_dead(b));
}

static void trap_and_report(void *arg)
{
    hive_trap_exits(true);
    hive_pid_t victim = *(hive_pid_t *)arg;
    hive_link(victim);
    hive_send(me, T_OK, NULL, 0);
    hive_msg_t *m;
    if (hive_receive_tag(HIVE_TAG_EXIT, HIVE_INFINITY, &m) == 0)
        hive_send(me, T_DATA, hive_msg_data(m), hive_msg_size(m)); /* forward */
    hive_msg_free(m);
}

/* A trapping process gets {from, reason} as a message and lives on. */
static void trapping_turns_exit_signals_into_messages(void **state)
{
    hive_reason_t boom = hive_reason_user(3, NULL);
    hive_pid_t a, t;
    assert_int_equal(hive_spawn(block, &boom, &a), 0);
    assert_int_equal(hive_spawn(trap_and_report, &a, &t), 0);
    hive_msg_free(expect(T_OK));
    assert_int_equal(hive_send(a, T_STOP, NULL, 0), 0);
    hive_msg_t *m = expect(T_DATA);
    hive_exit_info_t e;
    memcpy(&e, hive_msg_data(m), sizeof e);
    hive_msg_free(m);
    assert_int_equal(e.from, a);
    assert_int_equal(e.reason.code, 3);
    assert_true(rt_wait_dead(t)); /* it returned normally after reporting */
}

/* kill cannot be trapped; the victim's links see `killed` (trappable). */
static void kill_cannot_be_trapped_and_links_see_killed(void **state)
{
    hive_pid_t t;
    assert_int_equal(hive_spawn(trapper, NULL, &t), 0);
    hive_msg_free(expect(T_OK));
    assert_int_equal(hive_link(t), 0);
    /* A plain exit signal is trapped: t lives. */
    assert_int_equal(hive_send_exit(t, hive_reason_user(1, NULL)), 0);
    assert_int_equal(hive_send(t, T_DATA, NULL, 0), 0);
    assert_int_equal(hive_kill(t), 0);
    hive_exit_info_t e = expect_exit();
    assert_int_equal(e.from, t);
    assert_int_equal(e.reason.kind, HIVE_EXIT_KILLED);
    assert_true(rt_wait_dead(t));
    assert_int_equal(hive_kill(t), -ESRCH);
}

/* send_exit with a reason ends a non-trapping process with it. */
static void send_exit_ends_a_non_trapping_process(void **state)
{
    hive_pid_t a;
    hive_ref_t ref;
    assert_int_equal(hive_spawn(block, NULL, &a), 0);
    assert_int_equal(hive_monitor(a, &ref), 0);
    assert_int_equal(hive_send_exit(a, hive_reason_normal()), 0); /* ignored */
    assert_int_equal(hive_send_exit(a, hive_reason_user(9, "x")), 0);
    hive_down_info_t d = expect_down();
    assert_int_equal(d.ref, ref);
    assert_int_equal(d.pid, a);
    assert_int_equal(d.reason.code, 9);
}

/* ---- noproc, unlink, monitors ------------------------------------------- */

static void dead_pids_give_noproc(void **state)
{
    hive_pid_t a;
    assert_int_equal(hive_spawn(block, NULL, &a), 0);
    assert_int_equal(hive_send(a, T_STOP, NULL, 0), 0);
    assert_true(rt_wait_dead(a));
    assert_int_equal(hive_link(a), 0);
    hive_exit_info_t e = expect_exit();
    assert_int_equal(e.from, a);
    assert_int_equal(e.reason.kind, HIVE_EXIT_NOPROC);
    hive_ref_t ref;
    assert_int_equal(hive_monitor(a, &ref), 0);
    hive_down_info_t d = expect_down();
    assert_int_equal(d.ref, ref);
    assert_int_equal(d.reason.kind, HIVE_EXIT_NOPROC);
    assert_int_equal(hive_link(me), -EINVAL);
}

static void link_to_dead_then_noproc_kills(void *arg)
{
    hive_pid_t dead = *(hive_pid_t *)arg;
    hive_link(dead); /* not trapping: the noproc signal ends us here */
    hive_send(me, T_DATA, NULL, 0);
}

static void a_non_trapping_process_linking_a_dead_pid_dies_noproc(void **state)
{
    hive_pid_t a, b;
    assert_int_equal(hive_spawn(block, NULL, &a), 0);
    assert_int_equal(hive_send(a, T_STOP, NULL, 0), 0);
    assert_true(rt_wait_dead(a));
    hive_ref_t ref;
    assert_int_equal(hive_spawn_opts(link_to_dead_then_noproc_kills, &a,
                                     &(hive_spawn_opts_t){.worker = -1, .monitor = true,
                                                          .monitor_ref = &ref},
                                     &b),
                     0);
    hive_down_info_t d = expect_down();
    assert_int_equal(d.pid, b);
    assert_int_equal(d.reason.kind, HIVE_EXIT_NOPROC);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(T_DATA, 100, &m), -ETIMEDOUT);
}

/* spawn's monitor option needs somewhere to put the ref, as hive_monitor
 * does: without one the monitor used to be made anyway, its DOWN arriving
 * with a ref the caller never saw and could not demonitor. Refused, and no
 * process is started. */
static void spawn_monitor_without_a_ref_is_refused(void **state)
{
    hive_pid_t a = HIVE_PID_NONE;
    long before = hive_process_count();
    hive_spawn_opts_t o = {.worker = -1, .monitor = true};
    assert_int_equal(hive_spawn_opts(block, NULL, &o, &a), -EINVAL);
    assert_int_equal(a, HIVE_PID_NONE);
    o.link = true;
    assert_int_equal(hive_spawn_opts(block, NULL, &o, &a), -EINVAL);
    assert_int_equal(a, HIVE_PID_NONE);
    assert_int_equal(hive_process_count(), before);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, 0, &m), -ETIMEDOUT);
    assert_int_equal(hive_receive_tag(HIVE_TAG_EXIT, 0, &m), -ETIMEDOUT);
}

/* After unlink, the old link has no effect; after demonitor, no DOWN. */
static void unlink_and_demonitor_stop_the_signals(void **state)
{
    hive_pid_t a;
    hive_reason_t boom = hive_reason_user(1, NULL);
    assert_int_equal(hive_spawn(block, &boom, &a), 0);
    hive_ref_t r1, r2;
    assert_int_equal(hive_link(a), 0);
    assert_int_equal(hive_monitor(a, &r1), 0);
    assert_int_equal(hive_monitor(a, &r2), 0);
    assert_int_equal(hive_unlink(a), 0);
    assert_int_equal(hive_demonitor(r1, 0), 0);
    assert_int_equal(hive_send(a, T_STOP, NULL, 0), 0);
    hive_down_info_t d = expect_down(); /* only r2's */
    assert_int_equal(d.ref, r2);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, 50, &m), -ETIMEDOUT);
    assert_int_equal(hive_receive_tag(HIVE_TAG_EXIT, 0, &m), -ETIMEDOUT);
}

static void demonitor_flush_removes_a_queued_down(void **state)
{
    hive_pid_t a;
    hive_ref_t r;
    assert_int_equal(hive_spawn(block, NULL, &a), 0);
    assert_int_equal(hive_monitor(a, &r), 0);
    assert_int_equal(hive_send(a, T_STOP, NULL, 0), 0);
    assert_true(rt_wait_dead(a));
    /* Let the DOWN arrive and become a message, then flush it. */
    assert_int_equal(hive_send(me, T_DATA, NULL, 0), 0);
    hive_msg_free(expect(T_DATA));
    assert_int_equal(hive_demonitor(r, HIVE_DEMONITOR_FLUSH), 0);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, 50, &m), -ETIMEDOUT);
}

/* ---- order, panic, spawn_link, cleanup ---------------------------------- */

static void send_then_die(void *arg)
{
    for (long i = 0; i < 100; i++)
        hive_send(me, T_DATA, &i, sizeof i);
    hive_exit(hive_reason_user(5, NULL));
}

/* Messages sent before an exit signal arrive before it. */
static void messages_and_signals_keep_their_order(void **state)
{
    hive_pid_t a;
    assert_int_equal(hive_spawn_link(send_then_die, NULL, &a), 0);
    long expect_i = 0;
    for (;;) {
        hive_msg_t *m;
        assert_int_equal(hive_receive(WAIT, &m), 0);
        if (hive_msg_tag(m) == HIVE_TAG_EXIT) {
            hive_msg_free(m);
            break;
        }
        long i;
        memcpy(&i, hive_msg_data(m), sizeof i);
        hive_msg_free(m);
        assert_int_equal(i, expect_i++);
    }
    assert_int_equal(expect_i, 100);
}

static _Atomic int panic_after;

static void panicker(void *arg)
{
    hive_panic("bad value %d", 42);
    atomic_store(&panic_after, 1);
}

/* panic ends only the caller, with its message; the runtime goes on. */
static void panic_ends_only_the_caller_with_its_message(void **state)
{
    hive_pid_t a;
    hive_ref_t r;
    hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &r};
    assert_int_equal(hive_spawn_opts(panicker, NULL, &o, &a), 0);
    hive_down_info_t d = expect_down();
    assert_int_equal(d.pid, a);
    assert_int_equal(d.reason.kind, HIVE_EXIT_PANIC);
    assert_string_equal(d.reason.text, "bad value 42");
    assert_int_equal(atomic_load(&panic_after), 0);
    assert_int_equal(hive_panic("from a thread"), -EPERM);
    hive_pid_t b;
    assert_int_equal(hive_spawn(block, NULL, &b), 0); /* the runtime goes on */
    hive_kill(b);
}

static _Atomic int cleanup_log[8], cleanup_n;

static void note_cleanup(void *arg, const hive_reason_t *r)
{
    int v = (int)(intptr_t)arg * 10 + (int)r->kind;
    atomic_store(&cleanup_log[atomic_fetch_add(&cleanup_n, 1)], v);
}

static void with_cleanups(void *arg)
{
    hive_on_exit(note_cleanup, (void *)1);
    hive_on_exit(note_cleanup, (void *)2);
    int how = (int)(intptr_t)arg;
    if (how == 2)
        hive_send(me, T_OK, NULL, 0); /* handlers are in place */
    if (how == 1)
        hive_panic("x");
    if (how == 2)
        block(NULL); /* killed while blocked */
    if (how == 3) {
        volatile int spin = 0; /* killed at its next runtime call */
        while (hive_send(me, T_OK, NULL, 0) == 0 && ++spin < 100000000)
            hive_yield();
    }
}

/* Cleanup handlers run in reverse order on return, panic, kill while
 * blocked, kill while running, each with the reason. */
static void cleanup_handlers_run_in_reverse_on_every_exit_path(void **state)
{
    const int kinds[4] = {HIVE_EXIT_NORMAL, HIVE_EXIT_PANIC, HIVE_EXIT_KILLED,
                          HIVE_EXIT_KILLED};
    for (int how = 0; how < 4; how++) {
        atomic_store(&cleanup_n, 0);
        hive_pid_t a;
        hive_ref_t r;
        hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &r};
        assert_int_equal(hive_spawn_opts(with_cleanups, (void *)(intptr_t)how, &o, &a), 0);
        if (how >= 2) {
            hive_msg_free(expect(T_OK)); /* its handlers are registered */
            hive_kill(a);
        }
        hive_down_info_t d = expect_down();
        assert_int_equal(d.reason.kind, kinds[how]);
        assert_int_equal(atomic_load(&cleanup_n), 2);
        assert_int_equal(atomic_load(&cleanup_log[0]), 20 + kinds[how]);
        assert_int_equal(atomic_load(&cleanup_log[1]), 10 + kinds[how]);
        hive_msg_t *m;
        while (hive_receive_tag(T_OK, 0, &m) == 0)
            hive_msg_free(m);
    }
}

static _Atomic int held_freed;
static void count_free(void *p) { atomic_fetch_add(&held_freed, 1); }

static void hold_then_block(void *arg)
{
    hive_msg_t *m;
    if (hive_receive_tag(T_DATA, HIVE_INFINITY, &m) != 0) /* held, never freed */
        return;
    hive_send(me, T_OK, NULL, 0);
    block(NULL); /* killed here */
}

/* A message a process received and still holds when it is killed is freed
 * with it (its pointer's destructor runs): nothing leaks. */
static void messages_held_by_a_killed_process_are_freed(void **state)
{
    atomic_store(&held_freed, 0);
    hive_pid_t a;
    hive_ref_t r;
    hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &r};
    assert_int_equal(hive_spawn_opts(hold_then_block, NULL, &o, &a), 0);
    static int payload;
    assert_int_equal(hive_send_ptr(a, T_DATA, &payload, count_free), 0);
    hive_msg_free(expect(T_OK));
    assert_int_equal(hive_kill(a), 0);
    hive_down_info_t d = expect_down();
    assert_int_equal(d.reason.kind, HIVE_EXIT_KILLED);
    assert_int_equal(atomic_load(&held_freed), 1);
}

static void reserved_tags_are_refused(void **state)
{
    assert_int_equal(hive_send(me, HIVE_TAG_EXIT, NULL, 0), -EINVAL);
    assert_int_equal(hive_send_ptr(me, HIVE_TAG_DOWN, NULL, NULL), -EINVAL);
    /* The attached thread traps whatever it says; the flag still answers. */
    assert_int_equal(hive_trap_exits(true), 0);
    assert_int_equal(hive_trap_exits(false), 1);
}

/* Table counts of pid's links and watchers (-1: no such process). */
static void sig_counts(hive_pid_t pid, long *links, long *watchers, bool *has_links_table)
{
    *links = *watchers = -1;
    hive__rcu_enter();
    hive__proc_t *p = hive__proc_lookup(pid);
    if (p) {
        hive__sig_lock(p);
        *links = hive__idmap_count(&p->links);
        *watchers = hive__idmap_count(&p->monitored_by);
        *has_links_table = p->links.b != NULL;
        hive__sig_unlock(p);
    }
    hive__rcu_leave();
}

/* The supervisor's stop step (internal, core/process.h): unlink and
 * monitor at once. The child keeps no empty link table (its emptied one
 * became its watcher table), ends with a DOWN to us and no EXIT; on a pid
 * already gone the DOWN says noproc. */
static void unlink_monitor_turns_a_link_into_a_monitor(void **state)
{
    hive_pid_t c;
    assert_int_equal(hive_spawn_link(block, NULL, &c), 0);
    long links, watchers;
    bool table;
    sig_counts(c, &links, &watchers, &table);
    assert_int_equal(links, 1);
    assert_int_equal(watchers, 0);
    hive_ref_t ref;
    assert_int_equal(hive__unlink_monitor(c, &ref), 0);
    sig_counts(c, &links, &watchers, &table);
    assert_int_equal(links, 0);
    assert_false(table);
    assert_int_equal(watchers, 1);
    hive_reason_t why = hive_reason_user(3, "bye");
    assert_int_equal(hive_send_exit(c, why), 0);
    hive_down_info_t d = expect_down();
    assert_true(d.ref == ref && d.pid == c);
    assert_int_equal(d.reason.kind, HIVE_EXIT_USER);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_EXIT, 100, &m), -ETIMEDOUT); /* unlinked */

    /* Gone first: the DOWN says noproc, and its EXIT, still a signal in
     * our mailbox, is dropped as hive_unlink drops one. */
    assert_int_equal(hive_spawn_link(block, &why, &c), 0);
    assert_int_equal(hive_send(c, T_STOP, NULL, 0), 0);
    assert_true(rt_wait_dead(c));
    assert_int_equal(hive__unlink_monitor(c, &ref), 0);
    d = expect_down();
    assert_true(d.ref == ref && d.pid == c);
    assert_int_equal(d.reason.kind, HIVE_EXIT_NOPROC);
    assert_int_equal(hive_receive_tag(HIVE_TAG_EXIT, 100, &m), -ETIMEDOUT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(abnormal_exit_cascades_through_links),
        T(normal_exit_is_ignored_by_links),
        T(trapping_turns_exit_signals_into_messages),
        T(kill_cannot_be_trapped_and_links_see_killed),
        T(send_exit_ends_a_non_trapping_process),
        T(dead_pids_give_noproc),
        T(a_non_trapping_process_linking_a_dead_pid_dies_noproc),
        T(spawn_monitor_without_a_ref_is_refused),
        T(unlink_and_demonitor_stop_the_signals),
        T(demonitor_flush_removes_a_queued_down),
        T(messages_and_signals_keep_their_order),
        T(panic_ends_only_the_caller_with_its_message),
        T(cleanup_handlers_run_in_reverse_on_every_exit_path),
        T(messages_held_by_a_killed_process_are_freed),
        T(reserved_tags_are_refused),
        T(unlink_monitor_turns_a_link_into_a_monitor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
