/* test_subject.c - subjects, typed subjects and selectors (hive/subject.h):
 * fresh subjects are distinct and only their owner receives from them; a
 * typed subject carries its struct (and the compile-fail test next to this
 * one, typed_send_wrong_type.c, shows a wrong type does not compile);
 * typed calls; a selector takes the oldest message across its subjects,
 * runs the entry's handler or returns its index, and leaves other
 * messages queued; a late reply to an abandoned alias is dropped; the
 * monitor a call leaves on its callee serves the next call to it, is
 * replaced when another process is called, goes when the caller ends or
 * (an actor) goes idle, and never shows as a DOWN outside a call. */
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

static hive_pid_t me;

static int setup(void **state)
{
    return rt_start_attached(2, 0, 0, &me);
}

static int teardown(void **state) { return rt_stop_attached(); }

struct point {
    int x, y;
};
struct sum {
    long total;
};
typedef HIVE_SUBJECT_OF(struct point) point_subject_t;
typedef HIVE_CALL_SUBJECT_OF(struct point, struct sum) adder_subject_t;

static void test_subjects(void **state)
{
    hive_subject_t a, b;
    assert_int_equal(hive_subject_new(&a), 0);
    assert_int_equal(hive_subject_new(&b), 0);
    assert_int_equal(a.pid, me);
    assert_int_not_equal(a.tag, b.tag);
    assert_true(a.tag >= HIVE_TAG_SUBJECT_BASE && a.tag < HIVE_TAG_ALIAS_BASE);
    assert_int_equal(hive_subject_send(b, "b", 2), 0);
    assert_int_equal(hive_subject_send(a, "a", 2), 0);
    hive_msg_t *m;
    assert_int_equal(hive_subject_receive(a, WAIT, &m), 0); /* skips b's */
    assert_string_equal(hive_msg_data(m), "a");
    hive_msg_free(m);
    assert_int_equal(hive_subject_receive(b, WAIT, &m), 0);
    hive_msg_free(m);
    assert_int_equal(hive_subject_receive(hive_subject(me + 1, a.tag), 0, &m), -EPERM);
    assert_int_equal(hive_subject_new(NULL), -EINVAL);
}

static void test_typed(void **state)
{
    point_subject_t s;
    assert_int_equal(hive_typed_subject_new(&s), 0);
    struct point p = {3, 4}, got = {0, 0};
    const struct point *cp = &p;
    assert_int_equal(hive_typed_send(s, &p), 0);
    assert_int_equal(hive_typed_send(s, cp), 0); /* const is fine */
    assert_int_equal(hive_typed_receive(s, &got, WAIT), 0);
    assert_int_equal(got.x, 3);
    assert_int_equal(got.y, 4);
    assert_int_equal(hive_typed_receive(s, &got, WAIT), 0);
    /* A raw send of the wrong size is refused at receive, not copied. */
    assert_int_equal(hive_subject_send(s.raw, "x", 1), 0);
    assert_int_equal(hive_typed_receive(s, &got, WAIT), -EMSGSIZE);
}

static hive_next_t adder(void *state, hive_msg_t *m)
{
    adder_subject_t self;
    struct point p;
    memcpy(&p, hive_msg_data(m), sizeof p);
    struct sum r = {p.x + p.y};
    hive_typed_reply(self, m, &r);
    return hive_continue(state);
}

static void test_typed_call(void **state)
{
    hive_actor_spec_t spec = {.handle = adder};
    adder_subject_t s;
    hive_subject_t raw;
    assert_int_equal(hive_actor_start(&spec, NULL, &raw, NULL), 0);
    hive_typed_subject(&s, raw);
    struct point p = {20, 22};
    struct sum r = {0};
    assert_int_equal(hive_typed_call(s, &p, &r, WAIT), 0);
    assert_int_equal(r.total, 42);
    assert_int_equal(hive_actor_stop(raw.pid, hive_reason_normal(), WAIT), 0);
}

static int handled_a;
static bool on_a(void *ctx, hive_msg_t *m)
{
    handled_a += *(const int *)hive_msg_data(m);
    return false; /* hive_select frees it */
}

static void test_selector(void **state)
{
    hive_subject_t a, b, c;
    hive_subject_new(&a);
    hive_subject_new(&b);
    hive_subject_new(&c);
    hive_selector_t *sel;
    assert_int_equal(hive_selector_new(&sel), 0);
    assert_int_equal(hive_selector_add(sel, a, on_a, NULL), 0);
    assert_int_equal(hive_selector_add(sel, b, NULL, NULL), 1);
    assert_int_equal(hive_selector_add(sel, b, NULL, NULL), -EINVAL);
    assert_int_equal(hive_selector_add(sel, hive_subject(me + 1, 5), NULL, NULL), -EPERM);
    int one = 1, two = 2;
    hive_subject_send(c, &one, sizeof one); /* not selected: stays queued */
    hive_subject_send(b, &two, sizeof two);
    hive_subject_send(a, &one, sizeof one);
    hive_msg_t *m;
    assert_int_equal(hive_select(sel, WAIT, &m), 1); /* oldest first: b */
    assert_int_equal(*(const int *)hive_msg_data(m), 2);
    hive_msg_free(m);
    assert_int_equal(hive_select(sel, WAIT, &m), 0); /* a, through its handler */
    assert_null(m);
    assert_int_equal(handled_a, 1);
    assert_int_equal(hive_select(sel, 0, &m), -ETIMEDOUT);
    assert_int_equal(hive_subject_receive(c, 0, &m), 0); /* c's is still there */
    hive_msg_free(m);
    hive_selector_free(sel);
}

/* A reply sent to an alias nobody waits on any more is dropped. */
static void replier(void *arg)
{
    hive_msg_t *m;
    hive_receive(HIVE_INFINITY, &m);
    hive_sleep(100);
    hive_reply(m, "late", 5);
    hive_msg_free(m);
}

static void test_late_reply_dropped(void **state)
{
    hive_pid_t p;
    assert_int_equal(hive_spawn(replier, NULL, &p), 0);
    hive_msg_t *r;
    assert_int_equal(hive_call(hive_subject(p, 9), "q", 2, 10, &r, NULL), -ETIMEDOUT);
    assert_true(rt_wait_dead(p));
    hive_msg_t *m;
    assert_int_equal(hive_receive(200, &m), -ETIMEDOUT);
    assert_int_equal(hive_reply(NULL, "x", 1), -EINVAL);
}

/* ---- the monitor a call keeps -------------------------------------------- */

enum { ECHO_DIE = -1 };

/* Answers each call with its long; a call carrying ECHO_DIE ends it with
 * reason user 7 instead of an answer. */
static void echo_server(void *arg)
{
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        long v = 0;
        if (hive_msg_size(m) == sizeof v)
            memcpy(&v, hive_msg_data(m), sizeof v);
        if (v == ECHO_DIE)
            hive_exit(hive_reason_user(7, "asked to"));
        hive_reply(m, &v, sizeof v);
        hive_msg_free(m);
    }
}

/* How many monitors watch pid (-1: no such process). */
static long watchers(hive_pid_t pid)
{
    long n = -1;
    hive__rcu_enter();
    hive__proc_t *p = hive__proc_lookup(pid);
    if (p) {
        hive__sig_lock(p);
        n = hive__idmap_count(&p->monitored_by);
        hive__sig_unlock(p);
    }
    hive__rcu_leave();
    return n;
}

static int echo_call(hive_pid_t to, long v, hive_reason_t *why)
{
    long got = -2;
    int rc = hive_call_copy(hive_subject(to, 1), &v, sizeof v, &got, sizeof got, WAIT, why);
    if (rc == 0)
        assert_int_equal(got, v);
    return rc;
}

static void one_call_then_end(void *arg)
{
    assert_int_equal(echo_call(*(const hive_pid_t *)arg, 5, NULL), 0);
}

static void test_call_monitor_is_kept_for_the_next_call(void **state)
{
    hive_pid_t a, b;
    assert_int_equal(hive_spawn(echo_server, NULL, &a), 0);
    assert_int_equal(hive_spawn(echo_server, NULL, &b), 0);
    assert_int_equal(watchers(a), 0);

    /* Calls to one server share one monitor. */
    for (long i = 0; i < 100; i++)
        assert_int_equal(echo_call(a, i, NULL), 0);
    assert_int_equal(watchers(a), 1);

    /* Calling another moves it. */
    assert_int_equal(echo_call(b, 1, NULL), 0);
    assert_int_equal(watchers(a), 0);
    assert_int_equal(watchers(b), 1);

    /* b ends between calls: no DOWN reaches us, the next call says noproc. */
    hive_ref_t mine;
    assert_int_equal(hive_monitor(b, &mine), 0); /* our own monitor: one DOWN */
    assert_int_equal(hive_kill(b), 0);
    assert_true(rt_wait_dead(b));
    hive_msg_t *m;
    assert_int_equal(hive_receive(WAIT, &m), 0);
    hive_down_info_t d;
    assert_int_equal(hive_down_info(m, &d), 0);
    assert_true(d.ref == mine);
    hive_msg_free(m);
    assert_int_equal(hive_receive(100, &m), -ETIMEDOUT); /* not the call's */
    hive_reason_t why;
    assert_int_equal(echo_call(b, 2, &why), -ESRCH);
    assert_int_equal(why.kind, HIVE_EXIT_NOPROC);

    /* A callee that dies in the call it shares a kept monitor with: the
     * call gets its reason (the monitor was made two calls ago). */
    assert_int_equal(echo_call(a, 3, NULL), 0);
    assert_int_equal(echo_call(a, 4, NULL), 0);
    assert_int_equal(echo_call(a, ECHO_DIE, &why), -ECONNRESET);
    assert_int_equal(why.kind, HIVE_EXIT_USER);
    assert_int_equal(why.code, 7);
    assert_int_equal(hive_receive(100, &m), -ETIMEDOUT);

    /* A caller that ends takes its kept monitor with it. */
    hive_pid_t c, caller;
    assert_int_equal(hive_spawn(echo_server, NULL, &c), 0);
    assert_int_equal(hive_spawn(one_call_then_end, &c, &caller), 0);
    assert_true(rt_wait_dead(caller));
    /* Its monitors are undone just after it is seen dead. */
    for (int i = 0; i < 10000 && watchers(c) != 0; i++)
        hive_sleep(1);
    assert_int_equal(watchers(c), 0);
    assert_int_equal(hive_kill(c), 0);
    assert_true(rt_wait_dead(c));
}

/* An actor whose handler calls a server: the monitor its call kept goes
 * when the actor waits for its next message without a stack, so a server
 * called once by many idle actors keeps no watcher for each. */
static hive_next_t calling_handle(void *state, hive_msg_t *m)
{
    hive_pid_t server;
    if (hive_msg_size(m) == sizeof server) {
        memcpy(&server, hive_msg_data(m), sizeof server);
        assert_int_equal(echo_call(server, 11, NULL), 0);
        assert_int_equal(echo_call(server, 12, NULL), 0);
        hive_send(me, 77, NULL, 0);
    }
    return hive_continue(state);
}

static void test_idle_actor_keeps_no_call_monitor(void **state)
{
    hive_pid_t server;
    assert_int_equal(hive_spawn(echo_server, NULL, &server), 0);
    enum { N = 8 };
    hive_subject_t actors[N];
    for (int i = 0; i < N; i++) {
        hive_actor_spec_t spec = {.handle = calling_handle};
        assert_int_equal(hive_actor_start(&spec, NULL, &actors[i], NULL), 0);
        assert_int_equal(hive_subject_send(actors[i], &server, sizeof server), 0);
    }
    for (int i = 0; i < N; i++) {
        hive_msg_t *m;
        assert_int_equal(hive_receive_tag(77, WAIT, &m), 0);
        hive_msg_free(m);
    }
    for (int i = 0; i < 10000 && watchers(server) != 0; i++)
        hive_sleep(1);
    assert_int_equal(watchers(server), 0);
    for (int i = 0; i < N; i++) { /* nor an emptied table of its own */
        void *st;
        /* A round trip orders the actor's last idle step before our look. */
        assert_int_equal(hive_sys_get_state(actors[i].pid, WAIT, &st), 0);
        hive__rcu_enter();
        hive__proc_t *a = hive__proc_lookup(actors[i].pid);
        assert_non_null(a);
        assert_null(a->monitoring.b);
        hive__rcu_leave();
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(hive_actor_stop(actors[i].pid, hive_reason_normal(), WAIT), 0);
    assert_int_equal(hive_kill(server), 0);
    assert_true(rt_wait_dead(server));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subjects),
        cmocka_unit_test(test_typed),
        cmocka_unit_test(test_typed_call),
        cmocka_unit_test(test_selector),
        cmocka_unit_test(test_late_reply_dropped),
        cmocka_unit_test(test_call_monitor_is_kept_for_the_next_call),
        cmocka_unit_test(test_idle_actor_keeps_no_call_monitor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
