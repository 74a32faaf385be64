/* test_subject.c - subjects, typed subjects and selectors (hive/subject.h):
 * fresh subjects are distinct and only their owner receives from them; a
 * typed subject carries its struct (and the compile-fail test next to this
 * one, typed_send_wrong_type.c, shows a wrong type does not compile);
 * typed calls; a selector takes the oldest message across its subjects,
 * runs the entry's handler or returns its index, and leaves other
 * messages queued; a late reply to an abandoned alias is dropped. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subjects),
        cmocka_unit_test(test_typed),
        cmocka_unit_test(test_typed_call),
        cmocka_unit_test(test_selector),
        cmocka_unit_test(test_late_reply_dropped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
