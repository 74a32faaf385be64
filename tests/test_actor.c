/* test_actor.c - actors, calls, system messages (hive/actor.h, hive/subject.h).
 *
 * The behaviours of Gleam OTP's actor tests and of Erlang's gen_server call
 * semantics, one per test: init timeout (the half-started process is killed,
 * a linked starter survives), init failure and init crash (the reason comes
 * back), call timeout with the late reply never reaching the caller's
 * mailbox, call to a dead actor, callee dying mid-call, stop normal vs
 * abnormal as linked processes see it, named start conflict, get_state after
 * several messages, suspend/resume keeping order, unknown system requests,
 * hive_actor_stop running terminate, an EXIT from the parent of a trapping
 * actor, 100,000 concurrent calls each matched to its request, and idle
 * actors holding no stack (the pool's slab count stays far below one stack
 * per actor).
 *
 * The warm slot (sched/worker.c): of six actors that went idle one after
 * another on one worker, only the last keeps its stack (parked WARM), the
 * others hold none; and twelve actors cast to and called by six processes
 * on three workers (more than the two cores), so that idle actors are
 * evicted, woken warm on their worker and woken on another worker all the
 * time, count every cast and answer every call right (run under TSan by
 * the sanitizer build).
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

#include "core/process.h"
#include "sched/rcu.h"
#include "sched/stack.h"
#include "tests/latch.h"
#include "tests/rt.h"

#define WAIT 30000

static hive_pid_t me;

static int setup(void **state)
{
    return rt_start_attached(3, 0, 0, &me);
}

static int teardown(void **state) { return rt_stop_attached(); }

/* ---- a counter actor: casts add, calls read; some requests misbehave ---- */

enum { ADD = 1, GET, SLOW_GET, CRASH, STOP_NORMAL, STOP_ABNORMAL, LOG };

typedef struct counter {
    long n;
    long log[64];
    int nlog;
    int *terminated; /* set by terminate, if not NULL */
} counter_t;

static int counter_init(void *arg, void **state, hive_reason_t *fail)
{
    counter_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->terminated = arg;
    *state = c;
    return 0;
}

static hive_next_t counter_handle(void *state, hive_msg_t *m)
{
    counter_t *c = state;
    long v = 0;
    if (hive_msg_size(m) == sizeof v)
        memcpy(&v, hive_msg_data(m), sizeof v);
    switch ((int)v) {
    case GET:
        hive_reply(m, &c->n, sizeof c->n);
        break;
    case SLOW_GET:
        hive_sleep(300);
        hive_reply(m, &c->n, sizeof c->n);
        break;
    case CRASH:
        free(c); /* terminate does not run after a crash */
        hive_panic("asked to crash");
        break;
    case STOP_NORMAL:
        return hive_stop();
    case STOP_ABNORMAL:
        return hive_stop_abnormal(hive_reason_user(7, "bad"));
    default:
        if (v >= 1000 && c->nlog < 64)
            c->log[c->nlog++] = v; /* LOG: remember the order */
        c->n += 1;
        break;
    }
    return hive_continue(c);
}

static void counter_terminate(void *state, const hive_reason_t *r)
{
    counter_t *c = state;
    if (c->terminated)
        *c->terminated = r->kind == HIVE_EXIT_NORMAL ? 1 : 2;
    free(c);
}

static const hive_actor_spec_t counter_spec = {
    .init = counter_init, .handle = counter_handle, .terminate = counter_terminate};

static void cast(hive_subject_t s, long v)
{
    assert_int_equal(hive_subject_send(s, &v, sizeof v), 0);
}

static long get(hive_subject_t s)
{
    long v = GET, n = -1;
    assert_int_equal(hive_call_copy(s, &v, sizeof v, &n, sizeof n, WAIT, NULL), 0);
    return n;
}

static void test_start_cast_call(void **state)
{
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&counter_spec, NULL, &s, NULL), 0);
    assert_true(hive_is_alive(s.pid));
    for (int i = 0; i < 10; i++)
        cast(s, ADD);
    assert_int_equal(get(s), 10);
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_normal(), WAIT), 0);
    assert_false(hive_is_alive(s.pid));
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_normal(), WAIT), -ESRCH);
    /* Calling yourself could only hang: refused. */
    hive_subject_t mine;
    hive_subject_new(&mine);
    hive_msg_t *r;
    assert_int_equal(hive_call(mine, NULL, 0, HIVE_INFINITY, &r, NULL), -EDEADLK);
    assert_int_equal(hive_actor_stop(me, hive_reason_normal(), 0), -EDEADLK);
}

/* ---- init: timeout, failure, crash -------------------------------------- */

static int slow_init(void *arg, void **state, hive_reason_t *fail)
{
    hive_sleep(10000);
    return 0;
}

static int failing_init(void *arg, void **state, hive_reason_t *fail)
{
    *fail = hive_reason_user(42, "no database");
    return -1;
}

static int crashing_init(void *arg, void **state, hive_reason_t *fail)
{
    hive_panic("init blew up");
    return 0;
}

static _Atomic hive_pid_t starter_result_pid;
static _Atomic int starter_result_rc;

static void linked_starter(void *arg)
{
    hive_actor_spec_t spec = {.init = slow_init, .handle = counter_handle,
                              .init_timeout_ms = 50, .link = true};
    hive_reason_t why;
    int rc = hive_actor_start(&spec, NULL, NULL, &why);
    atomic_store(&starter_result_rc, rc);
    atomic_store(&starter_result_pid, hive_self());
    hive_msg_t *m;
    hive_receive(HIVE_INFINITY, &m); /* stay alive until told */
    hive_msg_free(m);
}

static void test_init_timeout(void **state)
{
    hive_actor_spec_t spec = {.init = slow_init, .handle = counter_handle, .init_timeout_ms = 50};
    hive_reason_t why;
    long before = hive_process_count();
    assert_int_equal(hive_actor_start(&spec, NULL, NULL, &why), -ETIMEDOUT);
    for (int i = 0; i < 100000 && hive_process_count() > before; i++)
        sched_yield();
    /* The half-started one was killed. <=, not ==: a process the previous
     * test stopped may still be leaving the table when `before` is read (a
     * DOWN is sent just before the slot is freed). */
    assert_true(hive_process_count() <= before);

    /* A linked starter is not taken down by the kill of its half-started actor. */
    atomic_store(&starter_result_rc, 1);
    hive_pid_t st;
    assert_int_equal(hive_spawn(linked_starter, NULL, &st), 0);
    while (atomic_load(&starter_result_rc) == 1)
        sched_yield();
    assert_int_equal(atomic_load(&starter_result_rc), -ETIMEDOUT);
    hive_sleep(50);
    assert_true(hive_is_alive(st));
    hive_send(st, 1, NULL, 0);
    assert_true(rt_wait_dead(st));
}

/* A named actor whose init times out is gone, name and all, by the time the
 * start returns: a restart right away (what a supervisor does) finds the
 * name free, and the half-started actor no longer reads the caller's spec. */
static void test_init_timeout_frees_name(void **state)
{
    hive_actor_spec_t spec = {.init = slow_init, .handle = counter_handle,
                              .init_timeout_ms = 20, .name = "slow_named"};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(hive_actor_start(&spec, NULL, NULL, NULL), -ETIMEDOUT);
        assert_int_equal(hive_whereis("slow_named"), HIVE_PID_NONE);
    }
    hive_msg_t *m;
    assert_int_equal(hive_receive(0, &m), -ETIMEDOUT); /* no DOWN or ack left over */
}

static void test_init_failure(void **state)
{
    hive_actor_spec_t spec = {.init = failing_init, .handle = counter_handle, .link = true};
    hive_reason_t why;
    assert_int_equal(hive_actor_start(&spec, NULL, NULL, &why), -HIVE_EINIT);
    assert_int_equal(why.kind, HIVE_EXIT_USER);
    assert_int_equal(why.code, 42);
    assert_string_equal(why.text, "no database");

    spec.init = crashing_init;
    spec.link = false;
    assert_int_equal(hive_actor_start(&spec, NULL, NULL, &why), -HIVE_EINIT);
    assert_int_equal(why.kind, HIVE_EXIT_PANIC);
    assert_string_equal(why.text, "init blew up");
    /* This thread was linked to the first (failing) actor: its EXIT was the
     * start's to take (a thread gets EXITs as messages, so the start waited
     * by the link), and nothing else is left in the mailbox. */
    hive_msg_t *m;
    assert_int_equal(hive_receive(0, &m), -ETIMEDOUT);
}

/* A linked starter that traps exits (a supervisor) waits by the link, with
 * no monitor (OTP's proc_lib:start_link): it gets the same results as a
 * monitoring one for an init that times out, fails, crashes or meets a
 * taken name, each start takes the EXIT it caused (none is left for the
 * starter's loop to mistake for a running child's), every refused actor is
 * gone when the start returns, and a started one stays linked. An init
 * that unlinks itself and crashes sends no EXIT: the start fails at its
 * init timeout instead of waiting for ever. */
enum { T_RESULT = 77 };

/* An init that unlinks itself from its starter (arg), then crashes: no
 * EXIT reaches a starter waiting by the link. */
static int unlinking_init(void *arg, void **state, hive_reason_t *fail)
{
    hive_unlink((hive_pid_t)(uintptr_t)arg);
    hive_panic("unlinked, then crashed");
    return 0;
}

static void report(hive_pid_t to, long v) { hive_send(to, T_RESULT, &v, sizeof v); }

static void trapping_starter(void *arg)
{
    hive_pid_t test = (hive_pid_t)(uintptr_t)arg;
    hive_trap_exits(true);
    hive_reason_t why;
    hive_actor_spec_t spec = {.init = slow_init, .handle = counter_handle,
                              .init_timeout_ms = 30, .link = true, .name = "by_link"};
    long before = hive_process_count();
    report(test, hive_actor_start(&spec, NULL, NULL, &why));            /* -ETIMEDOUT */
    report(test, why.kind == HIVE_EXIT_KILLED);                         /* 1 */
    report(test, hive_whereis("by_link") == HIVE_PID_NONE);             /* 1: gone */
    spec.init = failing_init;
    report(test, hive_actor_start(&spec, NULL, NULL, &why));            /* -HIVE_EINIT */
    report(test, why.code);                                             /* 42 */
    spec.init = crashing_init;
    report(test, hive_actor_start(&spec, NULL, NULL, &why));            /* -HIVE_EINIT */
    report(test, why.kind == HIVE_EXIT_PANIC);                          /* 1 */
    report(test, hive_process_count() <= before);                       /* 1: none left */
    /* Unlinked in init, then crashed: noticed at the init timeout, no hang. */
    spec.init = unlinking_init;
    report(test, hive_actor_start(&spec, (void *)(uintptr_t)hive_self(), NULL, &why));
    spec.init = NULL;
    hive_subject_t s;
    report(test, hive_actor_start(&spec, NULL, &s, NULL));              /* 0 */
    report(test, hive_actor_start(&spec, NULL, NULL, &why));            /* -EBUSY */
    hive_msg_t *m;
    report(test, hive_receive(0, &m));                                  /* -ETIMEDOUT */
    hive_actor_stop(s.pid, hive_reason_user(7, "bye"), WAIT);
    /* Still linked to the running one: its end comes as an EXIT. */
    report(test, hive_receive_tag(HIVE_TAG_EXIT, WAIT, &m));            /* 0 */
    hive_exit_info_t e;
    report(test, hive_exit_info(m, &e) == 0 && e.from == s.pid && e.reason.code == 7);
    hive_msg_free(m);
}

static long next_result(void) { return rt_receive_long(T_RESULT, WAIT); }

static void test_trapping_starter_waits_by_link(void **state)
{
    hive_pid_t st;
    assert_int_equal(hive_spawn(trapping_starter, (void *)(uintptr_t)hive_self(), &st), 0);
    assert_int_equal(next_result(), -ETIMEDOUT);
    assert_int_equal(next_result(), 1);
    assert_int_equal(next_result(), 1);
    assert_int_equal(next_result(), -HIVE_EINIT);
    assert_int_equal(next_result(), 42);
    assert_int_equal(next_result(), -HIVE_EINIT);
    assert_int_equal(next_result(), 1);
    assert_int_equal(next_result(), 1);
    assert_int_equal(next_result(), -ETIMEDOUT);
    assert_int_equal(next_result(), 0);
    assert_int_equal(next_result(), -EBUSY);
    assert_int_equal(next_result(), -ETIMEDOUT);
    assert_int_equal(next_result(), 0);
    assert_int_equal(next_result(), 1);
    assert_true(rt_wait_dead(st));
}

/* ---- calls ------------------------------------------------------------- */

static void test_call_timeout_late_reply_dropped(void **state)
{
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&counter_spec, NULL, &s, NULL), 0);
    long v = SLOW_GET;
    hive_msg_t *r = (hive_msg_t *)1;
    assert_int_equal(hive_call(s, &v, sizeof v, 20, &r, NULL), -ETIMEDOUT);
    assert_null(r);
    /* The actor replies ~280 ms later; the reply must never show up. */
    assert_int_equal(get(s), 0); /* returns after the slow reply was sent */
    hive_msg_t *m;
    assert_int_equal(hive_receive(100, &m), -ETIMEDOUT);
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_normal(), WAIT), 0);
}

static void test_call_dead_actor(void **state)
{
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&counter_spec, NULL, &s, NULL), 0);
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_normal(), WAIT), 0);
    long v = GET;
    hive_msg_t *r;
    hive_reason_t why;
    assert_int_equal(hive_call(s, &v, sizeof v, WAIT, &r, &why), -ESRCH);
    assert_int_equal(why.kind, HIVE_EXIT_NOPROC);
    hive_msg_t *m;
    assert_int_equal(hive_receive(0, &m), -ETIMEDOUT); /* no DOWN left behind */
}

static void test_callee_dies_mid_call(void **state)
{
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&counter_spec, NULL, &s, NULL), 0);
    long v = CRASH;
    hive_msg_t *r;
    hive_reason_t why;
    assert_int_equal(hive_call(s, &v, sizeof v, WAIT, &r, &why), -ECONNRESET);
    assert_int_equal(why.kind, HIVE_EXIT_PANIC);
    assert_string_equal(why.text, "asked to crash");
    hive_msg_t *m;
    assert_int_equal(hive_receive(0, &m), -ETIMEDOUT);
}

/* ---- stop: normal vs abnormal, as a linked process sees it --------------- */

typedef struct watcher_arg {
    hive_subject_t actor;
    bool trap;
    long stop_with;
    _Atomic int result; /* 0 pending, 1 survived, 2 got EXIT normal, 3 EXIT user 7 */
} watcher_arg_t;

static void watcher(void *arg)
{
    watcher_arg_t *w = arg;
    hive_trap_exits(w->trap);
    hive_link(w->actor.pid);
    cast(w->actor, w->stop_with);
    hive_msg_t *m;
    if (hive_receive_tag(HIVE_TAG_EXIT, 2000, &m) == 0) {
        hive_exit_info_t e;
        hive_exit_info(m, &e);
        atomic_store(&w->result, e.reason.kind == HIVE_EXIT_NORMAL ? 2 : e.reason.code == 7 ? 3 : 9);
        hive_msg_free(m);
        return;
    }
    atomic_store(&w->result, 1);
}

static int run_watcher(bool trap, long stop_with, int *terminated)
{
    watcher_arg_t w = {.trap = trap, .stop_with = stop_with};
    assert_int_equal(hive_actor_start(&counter_spec, terminated, &w.actor, NULL), 0);
    hive_pid_t wp;
    hive_ref_t ref;
    assert_int_equal(hive_spawn(watcher, &w, &wp), 0);
    assert_int_equal(hive_monitor(wp, &ref), 0);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, WAIT, &m), 0);
    hive_down_info_t d;
    hive_down_info(m, &d);
    hive_msg_free(m);
    assert_true(rt_wait_dead(w.actor.pid));
    int r = atomic_load(&w.result);
    if (r == 0) /* the watcher died before it could say: the cascade */
        return d.reason.kind == HIVE_EXIT_USER && d.reason.code == 7 ? 4 : 8;
    return r;
}

static void test_stop_normal_and_abnormal(void **state)
{
    int terminated = 0;
    /* Normal stop: a non-trapping linked process is untouched... */
    assert_int_equal(run_watcher(false, STOP_NORMAL, &terminated), 1);
    assert_int_equal(terminated, 1);
    /* ...a trapping one gets EXIT normal. */
    assert_int_equal(run_watcher(true, STOP_NORMAL, &terminated), 2);
    /* Abnormal: a non-trapping linked process dies with the reason... */
    terminated = 0;
    assert_int_equal(run_watcher(false, STOP_ABNORMAL, &terminated), 4);
    assert_int_equal(terminated, 2);
    /* ...a trapping one gets EXIT with it. */
    assert_int_equal(run_watcher(true, STOP_ABNORMAL, &terminated), 3);
}

static void test_named_conflict(void **state)
{
    hive_actor_spec_t spec = counter_spec;
    spec.name = "the_counter";
    hive_subject_t s, s2;
    assert_int_equal(hive_actor_start(&spec, NULL, &s, NULL), 0);
    assert_int_equal(hive_whereis("the_counter"), s.pid);
    long before = hive_process_count();
    assert_int_equal(hive_actor_start(&spec, NULL, &s2, NULL), -EBUSY);
    /* The refused actor is gone (its count drops just after its DOWN). */
    for (int i = 0; i < 1000000 && hive_process_count() > before; i++)
        sched_yield();
    assert_true(hive_process_count() <= before); /* <=: see test_init_timeout */
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_normal(), WAIT), 0);
    assert_int_equal(hive_whereis("the_counter"), HIVE_PID_NONE);
    assert_int_equal(hive_actor_start(&spec, NULL, &s2, NULL), 0); /* free again */
    assert_int_equal(hive_actor_stop(s2.pid, hive_reason_normal(), WAIT), 0);
}

/* ---- system messages ------------------------------------------------------ */

static void plain_process(void *arg)
{
    hive_msg_t *m;
    while (hive_receive_tag(12345, HIVE_INFINITY, &m) != 0)
        ;
}

static void test_get_state_and_status(void **state)
{
    hive_actor_spec_t spec = counter_spec;
    spec.name = "status_counter";
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&spec, NULL, &s, NULL), 0);
    for (int i = 0; i < 5; i++)
        cast(s, ADD);
    void *st = NULL;
    assert_int_equal(hive_sys_get_state(s.pid, WAIT, &st), 0);
    assert_non_null(st);
    assert_int_equal(((counter_t *)st)->n, 5); /* the 5 casts came before the request */
    hive_actor_status_t status;
    assert_int_equal(hive_sys_get_status(s.pid, WAIT, &status), 0);
    assert_int_equal(status.pid, s.pid);
    assert_string_equal(status.name, "status_counter");
    assert_false(status.suspended);
    assert_int_equal(status.handled, 5);
    assert_ptr_equal(status.state, st);
    /* Unknown request: an error reply, not silence. */
    assert_int_equal(hive_sys_request(s.pid, 99, WAIT), -EOPNOTSUPP);
    /* A process that is not an actor never answers: the caller times out. */
    hive_pid_t plain;
    assert_int_equal(hive_spawn(plain_process, NULL, &plain), 0);
    assert_int_equal(hive_sys_get_state(plain, 50, &st), -ETIMEDOUT);
    hive_kill(plain);
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_normal(), WAIT), 0);
}

static void test_suspend_resume_order(void **state)
{
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&counter_spec, NULL, &s, NULL), 0);
    assert_int_equal(hive_sys_suspend(s.pid, WAIT), 0);
    for (long i = 0; i < 20; i++)
        cast(s, 1000 + i);
    hive_actor_status_t st;
    assert_int_equal(hive_sys_get_status(s.pid, WAIT, &st), 0); /* answered while suspended */
    assert_true(st.suspended);
    assert_int_equal(st.handled, 0); /* queued, handler not called */
    assert_int_equal(hive_sys_resume(s.pid, WAIT), 0);
    assert_int_equal(get(s), 20);
    void *p;
    assert_int_equal(hive_sys_get_state(s.pid, WAIT, &p), 0);
    counter_t *c = p;
    assert_int_equal(c->nlog, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(c->log[i], 1000 + i); /* in the order sent */
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_normal(), WAIT), 0);
}

static void test_stop_runs_terminate(void **state)
{
    int terminated = 0;
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&counter_spec, &terminated, &s, NULL), 0);
    hive_ref_t ref;
    hive_monitor(s.pid, &ref);
    assert_int_equal(hive_actor_stop(s.pid, hive_reason_user(3, "bye"), WAIT), 0);
    assert_int_equal(terminated, 2);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, WAIT, &m), 0);
    hive_down_info_t d;
    hive_down_info(m, &d);
    hive_msg_free(m);
    assert_int_equal(d.reason.kind, HIVE_EXIT_USER);
    assert_int_equal(d.reason.code, 3);
}

/* Any reason stops an actor, noproc too (gen_server:stop(Pid, noproc, T) is
 * ok in OTP). hive_actor_stop read a DOWN with reason noproc as "it was not
 * there" and said -ESRCH though the actor had run terminate and ended;
 * -ESRCH is now kept for an actor that had ended before the call. */
static void test_stop_with_reason_noproc(void **state)
{
    int terminated = 0;
    hive_subject_t s;
    assert_int_equal(hive_actor_start(&counter_spec, &terminated, &s, NULL), 0);
    hive_ref_t ref;
    assert_int_equal(hive_monitor(s.pid, &ref), 0);
    hive_reason_t noproc = {.kind = HIVE_EXIT_NOPROC};
    assert_int_equal(hive_actor_stop(s.pid, noproc, WAIT), 0);
    assert_int_equal(terminated, 2);
    assert_int_equal(rt_receive_down(ref, WAIT).reason.kind, HIVE_EXIT_NOPROC);
    assert_int_equal(hive_actor_stop(s.pid, noproc, WAIT), -ESRCH);
}

/* A trapping actor linked to its starter ends, running terminate, when the
 * starter dies (OTP: an EXIT from the parent). */
static _Atomic hive_pid_t child_of_parent;
static int parent_terminated;

static void parent(void *arg)
{
    hive_actor_spec_t spec = counter_spec;
    spec.link = true;
    spec.trap_exits = true;
    hive_subject_t s;
    if (hive_actor_start(&spec, &parent_terminated, &s, NULL) == 0)
        atomic_store(&child_of_parent, s.pid);
    hive_panic("parent goes");
}

static void test_parent_exit_stops_trapping_actor(void **state)
{
    hive_pid_t pp;
    assert_int_equal(hive_spawn(parent, NULL, &pp), 0);
    assert_true(rt_wait_dead(pp));
    hive_pid_t c = atomic_load(&child_of_parent);
    assert_int_not_equal(c, HIVE_PID_NONE);
    assert_true(rt_wait_dead(c));
    assert_int_equal(parent_terminated, 2);
}

/* ---- many concurrent calls ------------------------------------------------ */

static hive_next_t echo_handle(void *state, hive_msg_t *m)
{
    hive_reply(m, hive_msg_data(m), hive_msg_size(m));
    return hive_continue(state);
}

#define CALLERS 100
#define CALLS 1000

typedef struct caller_arg {
    hive_subject_t actors[4];
    latch_t done;
    _Atomic long ok, bad;
} caller_arg_t;

static void caller(void *arg)
{
    caller_arg_t *c = arg;
    uint64_t me_ = hive_self();
    for (long i = 0; i < CALLS; i++) {
        uint64_t req[2] = {me_, (uint64_t)i}, rep[2] = {0, 0};
        int rc = hive_call_copy(c->actors[i % 4], req, sizeof req, rep, sizeof rep, WAIT, NULL);
        if (rc == 0 && rep[0] == req[0] && rep[1] == req[1])
            atomic_fetch_add(&c->ok, 1);
        else
            atomic_fetch_add(&c->bad, 1);
    }
    latch_count_down(&c->done);
}

static void test_100k_concurrent_calls(void **state)
{
    static caller_arg_t c;
    hive_actor_spec_t spec = {.handle = echo_handle};
    for (int i = 0; i < 4; i++)
        assert_int_equal(hive_actor_start(&spec, NULL, &c.actors[i], NULL), 0);
    latch_init(&c.done, CALLERS);
    atomic_store(&c.ok, 0);
    atomic_store(&c.bad, 0);
    for (int i = 0; i < CALLERS; i++)
        assert_int_equal(hive_spawn(caller, &c, NULL), 0);
    assert_true(latch_wait(&c.done, 120));
    assert_int_equal(atomic_load(&c.ok), (long)CALLERS * CALLS);
    assert_int_equal(atomic_load(&c.bad), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(hive_actor_stop(c.actors[i].pid, hive_reason_normal(), WAIT), 0);
    latch_destroy(&c.done);
}

/* ---- idle actors hold no stack ---------------------------------------------- */

#define IDLE 20000

static void test_idle_actors_hold_no_stack(void **state)
{
    hive__stack_stats_t before, after;
    hive__stack_stats(&before);
    hive_subject_t *s = calloc(IDLE, sizeof *s);
    hive_actor_spec_t spec = {.handle = echo_handle};
    for (int i = 0; i < IDLE; i++)
        assert_int_equal(hive_actor_start(&spec, NULL, &s[i], NULL), 0);
    /* Every actor has run (init, then a call) and is now waiting. */
    for (int i = 0; i < IDLE; i++) {
        int v = i, r = -1;
        assert_int_equal(hive_call_copy(s[i], &v, sizeof v, &r, sizeof r, WAIT, NULL), 0);
        assert_int_equal(r, i);
    }
    hive__stack_stats(&after);
    /* One stack per idle actor would need IDLE / 64 = 312 more slabs. */
    size_t grown = after.slabs - before.slabs;
    print_message("idle actors: %d, slabs grown: %zu\n", IDLE, grown);
    assert_true(grown < 16);
    for (int i = 0; i < IDLE; i++)
        assert_int_equal(hive_actor_stop(s[i].pid, hive_reason_normal(), WAIT), 0);
    free(s);
}


/* ---- the warm slot ---------------------------------------------------------- */

/* Wait (bounded) until pid is parked, and say whether it holds a stack
 * (has_stack not NULL: only when nothing else can run on its worker, which
 * could evict it meanwhile). The park state is read with acquire (seq_cst)
 * before has_stack: the worker wrote has_stack before publishing the state
 * with release. */
static int parked_state(hive_pid_t pid, bool *has_stack)
{
    for (long i = 0; i < 100000000; i++) {
        hive__rcu_enter();
        hive__proc_t *p = hive__proc_lookup(pid);
        int ps = p ? atomic_load(&p->task.park_state) : -1;
        bool parked = ps == HIVE__PARK_PARKED || ps == HIVE__PARK_WARM;
        if (parked && has_stack)
            *has_stack = p->task.has_stack;
        hive__rcu_leave();
        if (parked)
            return ps;
        sched_yield();
    }
    return -1;
}

/* Counts its messages (casts only: a call would leave a demonitor signal
 * behind, which wakes the actor again at a moment of its own). */
static _Atomic long handled;

static hive_next_t tally_handle(void *state, hive_msg_t *m)
{
    (void)m;
    atomic_fetch_add(&handled, 1);
    return hive_continue(state);
}

static void test_only_the_last_idle_actor_of_a_worker_keeps_its_stack(void **state)
{
    enum { N = 6 };
    hive_subject_t s[N];
    hive_spawn_opts_t on0 = {.worker = 0, .pinned = true};
    hive_actor_spec_t spec = {.handle = tally_handle, .spawn = &on0};
    atomic_store(&handled, 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(hive_actor_start(&spec, NULL, &s[i], NULL), 0);
    bool stack;
    for (int i = 0; i < N; i++) /* the last ones may still be evicting */
        assert_int_not_equal(parked_state(s[i].pid, NULL), -1);
    long sent = 0;
    for (int round = 0; round < 2; round++) {
        /* One after another: each handles a cast and goes idle on worker 0,
         * and nothing else runs there meanwhile. */
        for (int i = 0; i < N; i++) {
            assert_int_equal(hive_subject_send(s[i], NULL, 0), 0);
            sent++;
            for (long k = 0; k < 100000000 && atomic_load(&handled) < sent; k++)
                sched_yield();
            assert_int_equal(atomic_load(&handled), sent);
            assert_int_not_equal(parked_state(s[i].pid, &stack), -1);
        }
        for (int i = 0; i < N; i++) {
            stack = true;
            int ps = parked_state(s[i].pid, &stack);
#if HIVE_ASAN
            /* No warm slot under ASan: every idle actor has left its fiber. */
            assert_int_equal(ps, HIVE__PARK_PARKED);
            assert_false(stack);
#else
            if (i == N - 1) {
                assert_int_equal(ps, HIVE__PARK_WARM);
                assert_true(stack);
            } else {
                assert_int_equal(ps, HIVE__PARK_PARKED);
                assert_false(stack);
            }
#endif
        }
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(hive_actor_stop(s[i].pid, hive_reason_normal(), WAIT), 0);
}

/* What an actor sees of itself while it handles a message: whether it
 * started over after releasing its stack, and the wait it has published
 * to senders. */
static _Atomic int seen_rerun, seen_wait_mode;

static hive_next_t probe_handle(void *state, hive_msg_t *m)
{
    (void)m;
    hive__proc_t *p = hive__proc_self();
    atomic_store(&seen_rerun, p->task.rerun);
    atomic_store(&seen_wait_mode, atomic_load(&p->wait_mode));
    atomic_fetch_add(&handled, 1);
    return hive_continue(state);
}

/* An idle actor publishes its wait (senders then wake it) and releases its
 * stack; woken, it starts over from its entry. While it then handles the
 * message, no wait is published: a sender meanwhile pushes and does not
 * wake it for nothing. (The wait is cleared once, as the actor starts over:
 * the actor loop no longer looks at the line every sender writes.) Two
 * actors on worker 0, one after the other idle, so that the first is
 * evicted from the warm slot and holds no stack. */
static void test_actor_started_over_publishes_no_wait(void **state)
{
    hive_subject_t a, b;
    hive_spawn_opts_t on0 = {.worker = 0, .pinned = true};
    hive_actor_spec_t spec = {.handle = probe_handle, .spawn = &on0};
    atomic_store(&handled, 0);
    assert_int_equal(hive_actor_start(&spec, NULL, &a, NULL), 0);
    assert_int_equal(hive_actor_start(&spec, NULL, &b, NULL), 0);
    long sent = 0;
    hive_subject_t order[] = {a, b, a};
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(parked_state(order[i].pid, NULL), -1);
        atomic_store(&seen_wait_mode, -1);
        assert_int_equal(hive_subject_send(order[i], NULL, 0), 0);
        sent++;
        for (long k = 0; k < 100000000 && atomic_load(&handled) < sent; k++)
            sched_yield();
        assert_int_equal(atomic_load(&handled), sent);
        assert_int_equal(atomic_load(&seen_wait_mode), HIVE__WAIT_NONE);
    }
    /* a has started over at least once by its last message (rerun stays
     * set once set): the clear at the restart is what the checks above saw. */
    assert_true(atomic_load(&seen_rerun));
    assert_int_equal(hive_actor_stop(a.pid, hive_reason_normal(), WAIT), 0);
    assert_int_equal(hive_actor_stop(b.pid, hive_reason_normal(), WAIT), 0);
}

/* A counter whose state lives on its stack frame's caller (actor.c keeps
 * the state pointer there): a cast adds its value, a call answers the
 * request plus one and the count so far. */
static hive_next_t adder_handle(void *state, hive_msg_t *m)
{
    long *n = state;
    if (hive_msg_is_call(m)) {
        long req = 0, rep[2];
        memcpy(&req, hive_msg_data(m), sizeof req);
        rep[0] = req + 1;
        rep[1] = *n;
        hive_reply(m, rep, sizeof rep);
    } else {
        *n += *(const long *)hive_msg_data(m);
    }
    return hive_continue(n);
}

enum { WARM_ACTORS = 12, WARM_SENDERS = 6, WARM_OPS = 20000 };

typedef struct {
    hive_subject_t actors[WARM_ACTORS];
    _Atomic long sent[WARM_ACTORS];
    latch_t done;
    _Atomic long bad;
} warm_arg_t;

static void warm_sender(void *arg)
{
    warm_arg_t *w = arg;
    uint64_t x = (uint64_t)hive_self() * 0x9E3779B97F4A7C15u;
    for (long i = 0; i < WARM_OPS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int a = (int)(x % WARM_ACTORS);
        if (i % 8 == 7) {
            long req = i, rep[2] = {0, -1};
            int rc = hive_call_copy(w->actors[a], &req, sizeof req, rep, sizeof rep, WAIT, NULL);
            if (rc != 0 || rep[0] != i + 1 || rep[1] < 0)
                atomic_fetch_add(&w->bad, 1);
        } else {
            long one = 1;
            if (hive_subject_send(w->actors[a], &one, sizeof one) == 0)
                atomic_fetch_add(&w->sent[a], 1);
            else
                atomic_fetch_add(&w->bad, 1);
        }
    }
    latch_count_down(&w->done);
}

static void test_warm_slot_churn_loses_nothing(void **state)
{
    static warm_arg_t w;
    static long counts[WARM_ACTORS];
    hive_actor_spec_t spec = {.handle = adder_handle};
    for (int i = 0; i < WARM_ACTORS; i++) {
        counts[i] = 0;
        atomic_store(&w.sent[i], 0);
        assert_int_equal(hive_actor_start(&spec, &counts[i], &w.actors[i], NULL), 0);
    }
    atomic_store(&w.bad, 0);
    latch_init(&w.done, WARM_SENDERS);
    for (int i = 0; i < WARM_SENDERS; i++)
        assert_int_equal(hive_spawn(warm_sender, &w, NULL), 0);
    assert_true(latch_wait(&w.done, 120));
    assert_int_equal(atomic_load(&w.bad), 0);
    for (int i = 0; i < WARM_ACTORS; i++) {
        /* A call after every cast (mailboxes are FIFO per sender, and this
         * thread sent none: so wait until the count settles). */
        long rep[2] = {0, -1}, req = 0;
        for (int k = 0; k < 1000 && rep[1] != atomic_load(&w.sent[i]); k++)
            assert_int_equal(
                hive_call_copy(w.actors[i], &req, sizeof req, rep, sizeof rep, WAIT, NULL), 0);
        assert_int_equal(rep[1], atomic_load(&w.sent[i]));
        assert_int_equal(hive_actor_stop(w.actors[i].pid, hive_reason_normal(), WAIT), 0);
    }
    latch_destroy(&w.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_cast_call),
        cmocka_unit_test(test_init_timeout),
        cmocka_unit_test(test_init_timeout_frees_name),
        cmocka_unit_test(test_init_failure),
        cmocka_unit_test(test_trapping_starter_waits_by_link),
        cmocka_unit_test(test_call_timeout_late_reply_dropped),
        cmocka_unit_test(test_call_dead_actor),
        cmocka_unit_test(test_callee_dies_mid_call),
        cmocka_unit_test(test_stop_normal_and_abnormal),
        cmocka_unit_test(test_named_conflict),
        cmocka_unit_test(test_get_state_and_status),
        cmocka_unit_test(test_suspend_resume_order),
        cmocka_unit_test(test_stop_runs_terminate),
        cmocka_unit_test(test_stop_with_reason_noproc),
        cmocka_unit_test(test_parent_exit_stops_trapping_actor),
        cmocka_unit_test(test_100k_concurrent_calls),
        cmocka_unit_test(test_idle_actors_hold_no_stack),
        cmocka_unit_test(test_only_the_last_idle_actor_of_a_worker_keeps_its_stack),
        cmocka_unit_test(test_warm_slot_churn_loses_nothing),
        cmocka_unit_test(test_actor_started_over_publishes_no_wait),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
