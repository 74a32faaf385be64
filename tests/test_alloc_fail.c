/* test_alloc_fail.c - the allocation-failure sweep.
 *
 * What it proves: when any one allocation the runtime makes fails, the API
 * call that needed it returns -ENOMEM (never another error, never a crash,
 * never a hang), nothing leaks (run under ASan: LeakSanitizer checks after
 * every run), and the runtime keeps working: the same call made again
 * succeeds and the rest of the scenario runs to the end.
 *
 * How: mailbox/alloc.c asks a test hook before each allocation; ours counts
 * allocations and fails the k-th. For k = 1, 2, ... the scenario runs on a
 * fresh one-worker runtime (one worker: the count does not depend on
 * timing), until a run makes fewer than k allocations. The scenario, in one
 * process: spawn, send (bytes and pointer), link, monitor (nine of one
 * process, so both sides' maps grow), demonitor, spawn with link and monitor, send_after and cancel, register and send_named, receive with
 * a timeout that expires, sleep, on_exit, trap_exit, exit (a child returns),
 * kill, and the EXIT / DOWN messages those produce. Each step that returns
 * -ENOMEM must be one in which the k-th allocation failed, and is made again
 * (it must then succeed). A failure absorbed by the runtime (the call still
 * succeeded: e.g. a deque that could not grow hands its task to the
 * injection queue, a signal is retried) is listed at the end.
 *
 * A second sweep fails the k-th allocation of hive_runtime_start: it
 * returns -ENOMEM, leaks nothing, and a later start works. A third does the
 * same for a foreign thread's calls (attach, spawn, send, receive, name,
 * timer, detach).
 *
 * Found by this sweep (core/process.c): a receive with a timeout, or a
 * sleep, whose timer could not be allocated waited past its deadline (for
 * ever when no message came); they now return -ENOMEM. */
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

#include "mailbox/alloc.h"
#include "tests/latch.h"
#include "tests/rt.h"

#if HIVE_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* ---- the hook ------------------------------------------------------------ */

static _Atomic bool armed;
static _Atomic long allocs;      /* allocations seen while armed */
static _Atomic long fail_at;     /* fail this one (1-based); 0 = none */
static _Atomic bool failed_now;  /* the k-th failed during the current step */
static _Atomic bool failed_ever; /* ... during this run */

static bool hook(size_t size)
{
    (void)size;
    if (!atomic_load(&armed))
        return false;
    long n = atomic_fetch_add(&allocs, 1) + 1;
    if (n != atomic_load(&fail_at))
        return false;
    atomic_store(&failed_now, true);
    atomic_store(&failed_ever, true);
    return true;
}

/* ---- the scenario ---------------------------------------------------------- */

enum { T_DATA = 1, T_PTR, T_STOP, T_TIMER, T_LATE, T_NEVER, T_NAMED };

#define MAX_ABSORBED 64
static struct {
    char error[256]; /* the first thing that went wrong, "" if none */
    int steps;
    const char *absorbed[MAX_ABSORBED]; /* steps that absorbed the failure */
    int nabsorbed;
} R;
static latch_t done;
static _Atomic int dtor_runs;
static _Atomic bool go; /* the spawn's own step is recorded: start */

static void count_dtor(void *p)
{
    atomic_fetch_add(&dtor_runs, 1);
    free(p);
}

static void echo(void *arg)
{
    hive_msg_t *m;
    int rc;
    while ((rc = hive_receive(5000, &m)) == 0 || rc == -ENOMEM) {
        if (rc)
            continue; /* no timer for the timeout: ask again */
        uint64_t tag = hive_msg_tag(m);
        hive_msg_free(m);
        if (tag == T_STOP)
            return;
    }
}

static void blocker(void *arg)
{
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
}

static void on_exit_handler(void *arg, const hive_reason_t *r)
{
    (void)arg, (void)r;
}

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failf(const char *fmt, ...)
{
    if (R.error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R.error, sizeof R.error, fmt, ap);
    va_end(ap);
}

/* Check one step's result: `ok` is the result it must have when nothing
 * fails. -ENOMEM only in the step the failure hit; then once more. */
static int step_result(const char *name, int rc, int ok)
{
    bool hit = atomic_exchange(&failed_now, false);
    R.steps++;
    if (rc == -ENOMEM) {
        if (!hit)
            failf("%s: -ENOMEM with no allocation failed", name);
        return rc;
    }
    if (rc != ok)
        failf("%s: returned %d (%s), expected %d", name, rc, hive_strerror(rc), ok);
    if (hit && R.nabsorbed < MAX_ABSORBED)
        R.absorbed[R.nabsorbed++] = name;
    return rc;
}

#define STEP(name, ok, call)                            \
    do {                                                \
        if (step_result(name, (call), (ok)) == -ENOMEM) \
            step_result(name " (again)", (call), (ok)); \
    } while (0)

/* Take the next EXIT or DOWN message and check who it is from. */
static void expect_signal(const char *name, uint64_t tag, hive_pid_t from, hive_exit_kind_t kind)
{
    hive_msg_t *m = NULL;
    int rc = hive_receive_tag(tag, 5000, &m);
    if (rc == -ENOMEM) /* its timer could not be made: a valid answer */
        rc = hive_receive_tag(tag, 5000, &m);
    if (rc != 0) {
        failf("%s: no message (%s)", name, hive_strerror(rc));
        return;
    }
    hive_pid_t who;
    hive_exit_kind_t k;
    if (tag == HIVE_TAG_EXIT) {
        hive_exit_info_t e;
        hive_exit_info(m, &e);
        who = e.from, k = e.reason.kind;
    } else {
        hive_down_info_t d;
        hive_down_info(m, &d);
        who = d.pid, k = d.reason.kind;
    }
    hive_msg_free(m);
    if (who != from || k != kind)
        failf("%s: from %llx reason %d, expected %llx reason %d", name, (unsigned long long)who,
              (int)k, (unsigned long long)from, (int)kind);
}

static void scenario(void *arg)
{
    hive_pid_t a = HIVE_PID_NONE, b = HIVE_PID_NONE;
    hive_ref_t ref_a = 0, ref_b = 0;
    hive_timer_ref_t late = 0;
    hive_msg_t *m = NULL;
    static const char payload[200] = "payload";
    while (!atomic_load(&go))
        hive_yield();

    STEP("on_exit", 0, hive_on_exit(on_exit_handler, NULL));
    STEP("trap_exits", 0, hive_trap_exits(true) < 0 ? -1 : 0);
    STEP("spawn", 0, hive_spawn(echo, NULL, &a));
    STEP("send bytes", 0, hive_send(a, T_DATA, payload, sizeof payload));
    STEP("send small", 0, hive_send(a, T_DATA, "x", 1));
    void *ptr = malloc(16);
    int rc = hive_send_ptr(a, T_PTR, ptr, count_dtor);
    if (rc != 0)
        free(ptr); /* failure: still ours */
    if (step_result("send_ptr", rc, 0) == -ENOMEM) {
        ptr = malloc(16);
        if ((rc = hive_send_ptr(a, T_PTR, ptr, count_dtor)) != 0)
            free(ptr);
        step_result("send_ptr (again)", rc, 0);
    }
    STEP("link", 0, hive_link(a));
    STEP("monitor", 0, hive_monitor(a, &ref_a));
    /* Enough monitors that both sides' id maps grow (8 slots, then 16). */
    hive_ref_t more[8];
    for (int i = 0; i < 8; i++)
        STEP("monitor more", 0, hive_monitor(a, &more[i]));
    for (int i = 0; i < 8; i++)
        STEP("demonitor", 0, hive_demonitor(more[i], HIVE_DEMONITOR_FLUSH));
    hive_spawn_opts_t o = {.worker = -1, .link = true, .monitor = true, .monitor_ref = &ref_b};
    STEP("spawn link+monitor", 0, hive_spawn_opts(blocker, NULL, &o, &b));
    STEP("register", 0, hive_register("sweep", a));
    STEP("send_named", 0, hive_send_named("sweep", T_NAMED, payload, 64));
    STEP("send_after", 0, hive_send_after(hive_self(), 1, T_TIMER, payload, 32, NULL));
    STEP("send_after late", 0, hive_send_after(hive_self(), 60000, T_LATE, NULL, 0, &late));
    STEP("cancel_timer", 1, hive_cancel_timer(late));
    STEP("receive timer", 0, hive_receive_tag(T_TIMER, 5000, &m));
    hive_msg_free(m);
    m = NULL;
    STEP("receive timeout", -ETIMEDOUT, hive_receive_tag(T_NEVER, 2, &m));
    STEP("sleep", 0, hive_sleep(1));
    STEP("send stop", 0, hive_send(a, T_STOP, NULL, 0));
    expect_signal("EXIT of a", HIVE_TAG_EXIT, a, HIVE_EXIT_NORMAL);
    expect_signal("DOWN of a", HIVE_TAG_DOWN, a, HIVE_EXIT_NORMAL);
    if (hive_whereis("sweep") != HIVE_PID_NONE)
        failf("a's name outlived it");
    STEP("kill", 0, hive_kill(b));
    expect_signal("EXIT of b", HIVE_TAG_EXIT, b, HIVE_EXIT_KILLED);
    expect_signal("DOWN of b", HIVE_TAG_DOWN, b, HIVE_EXIT_KILLED);
    /* The runtime still works: one more round trip with a fresh process. */
    hive_pid_t c;
    STEP("spawn after", 0, hive_spawn(echo, NULL, &c));
    STEP("monitor after", 0, hive_monitor(c, &ref_a));
    STEP("send after", 0, hive_send(c, T_STOP, NULL, 0));
    expect_signal("DOWN of c", HIVE_TAG_DOWN, c, HIVE_EXIT_NORMAL);
    latch_count_down(&done);
}

/* One run with the k-th allocation failing (0: none). Returns how many
 * allocations it made. */
static long run(long k)
{
    memset(&R, 0, sizeof R);
    atomic_store(&dtor_runs, 0);
    assert_int_equal(rt_start(1, 0, 0), 0);
    latch_init(&done, 1);
    atomic_store(&allocs, 0);
    atomic_store(&fail_at, k);
    atomic_store(&failed_now, false);
    atomic_store(&failed_ever, false);
    atomic_store(&go, false);
    atomic_store(&armed, true);
    /* The spawn from this thread is a step too (the scenario records the
     * rest); the scenario only starts once it returned. */
    int rc = step_result("spawn from a thread", hive_spawn(scenario, NULL, NULL), 0);
    if (rc == -ENOMEM) { /* the very first allocation was the k-th */
        assert_true(atomic_load(&failed_ever));
        rc = hive_spawn(scenario, NULL, NULL);
    }
    assert_int_equal(rc, 0);
    atomic_store(&go, true);
    bool finished = latch_wait(&done, 60);
    atomic_store(&armed, false);
    if (!finished)
        fail_msg("k=%ld: the scenario hung (at step %d)", k, R.steps);
    assert_int_equal(hive_runtime_stop(), 0);
    if (R.error[0])
        fail_msg("k=%ld: %s", k, R.error);
    latch_destroy(&done);
    long n = atomic_load(&allocs);
#if HIVE_ASAN
    if (__lsan_do_recoverable_leak_check() != 0)
        fail_msg("k=%ld: leaks (see above)", k);
#endif
    return n;
}

static void every_allocation_failure_is_enomem_or_absorbed(void **state)
{
    hive__alloc_set_fail_hook(hook);
    long total = run(0);
    printf("# scenario: %d steps, %ld allocations with nothing failed\n", R.steps, total);
    assert_true(total > 10);
    long k;
    int absorbed_runs = 0;
    for (k = 1;; k++) {
        long n = run(k);
        if (!atomic_load(&failed_ever)) /* fewer than k allocations: done */
            break;
        if (R.nabsorbed) {
            absorbed_runs++;
            printf("# k=%ld: absorbed in", k);
            for (int i = 0; i < R.nabsorbed; i++)
                printf(" [%s]", R.absorbed[i]);
            printf("\n");
        }
        if (k > 10 * total + 100)
            fail_msg("the sweep does not end (k=%ld, %ld allocations)", k, n);
    }
    printf("# sweep: k = 1..%ld failed one allocation each; %d of them absorbed by the "
           "runtime, the rest returned -ENOMEM to the caller\n",
           k - 1, absorbed_runs);
    hive__alloc_set_fail_hook(NULL);
}

static void runtime_start_fails_cleanly(void **state)
{
    hive__alloc_set_fail_hook(hook);
    long k;
    for (k = 1;; k++) {
        atomic_store(&allocs, 0);
        atomic_store(&fail_at, k);
        atomic_store(&failed_ever, false);
        atomic_store(&armed, true);
        int rc = rt_start(1, 0, 0);
        atomic_store(&armed, false);
        if (rc == 0) {
            assert_int_equal(hive_runtime_stop(), 0);
            if (!atomic_load(&failed_ever))
                break;
            continue; /* absorbed */
        }
        if (rc != -ENOMEM)
            fail_msg("k=%ld: start returned %d (%s)", k, rc, hive_strerror(rc));
        assert_true(atomic_load(&failed_ever));
#if HIVE_ASAN
        if (__lsan_do_recoverable_leak_check() != 0)
            fail_msg("k=%ld: a failed start leaked", k);
#endif
    }
    printf("# runtime start: k = 1..%ld each failed one allocation: -ENOMEM, no leak\n", k - 1);
    hive__alloc_set_fail_hook(NULL);
    assert_int_equal(rt_start(1, 0, 0), 0);
    assert_int_equal(hive_runtime_stop(), 0);
}

/* The same sweep for a foreign thread: attach, spawn, send, a reply
 * received on the attached thread, a name, a timer, detach. */
static void reply_echo(void *arg)
{
    hive_msg_t *m;
    int rc;
    while ((rc = hive_receive(5000, &m)) == 0 || rc == -ENOMEM) {
        if (rc)
            continue;
        uint64_t tag = hive_msg_tag(m);
        hive_pid_t from = hive_msg_from(m);
        hive_msg_free(m);
        if (tag == T_STOP)
            return;
        while (hive_send(from, T_DATA, "pong", 4) == -ENOMEM)
            ;
    }
}

static void thread_steps(void)
{
    hive_pid_t me = HIVE_PID_NONE, e = HIVE_PID_NONE;
    hive_msg_t *m = NULL;
    STEP("attach", 0, hive_thread_attach(&me));
    STEP("spawn from thread", 0, hive_spawn(reply_echo, NULL, &e));
    STEP("send from thread", 0, hive_send(e, T_DATA, "ping", 4));
    STEP("receive on thread", 0, hive_receive_tag(T_DATA, 5000, &m));
    hive_msg_free(m);
    STEP("register from thread", 0, hive_register("thread", me));
    STEP("timer from thread", 0, hive_send_after(me, 1, T_TIMER, NULL, 0, NULL));
    STEP("timer arrives", 0, hive_receive_tag(T_TIMER, 5000, &m));
    hive_msg_free(m);
    STEP("stop echo", 0, hive_send(e, T_STOP, NULL, 0));
    STEP("detach", 0, hive_thread_detach());
}

static void foreign_thread_calls_fail_cleanly(void **state)
{
    hive__alloc_set_fail_hook(hook);
    long k;
    for (k = 1;; k++) {
        memset(&R, 0, sizeof R);
        assert_int_equal(rt_start(1, 0, 0), 0);
        atomic_store(&allocs, 0);
        atomic_store(&fail_at, k);
        atomic_store(&failed_now, false);
        atomic_store(&failed_ever, false);
        atomic_store(&armed, true);
        thread_steps();
        atomic_store(&armed, false);
        for (long i = 0; hive_process_count() > 0; i++) { /* the echo's end completes */
            if (i > 100000000)
                fail_msg("k=%ld: the echo process did not end", k);
            sched_yield();
        }
        assert_int_equal(hive_runtime_stop(), 0);
        if (R.error[0])
            fail_msg("k=%ld: %s", k, R.error);
#if HIVE_ASAN
        if (__lsan_do_recoverable_leak_check() != 0)
            fail_msg("k=%ld: leaks (see above)", k);
#endif
        if (!atomic_load(&failed_ever))
            break;
    }
    printf("# foreign thread: k = 1..%ld each failed one allocation, every call -ENOMEM or "
           "absorbed\n",
           k - 1);
    hive__alloc_set_fail_hook(NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_allocation_failure_is_enomem_or_absorbed),
        cmocka_unit_test(runtime_start_fails_cleanly),
        cmocka_unit_test(foreign_thread_calls_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
