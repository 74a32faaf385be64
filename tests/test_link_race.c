/* test_link_race.c - links, monitors and exit signals when things happen at
 * the same moment (issue 5's races), on more workers than cores:
 *
 *  - two linked processes ending together (told to exit a varying few
 *    microseconds apart, or killing each other): each ends once, each
 *    monitor fires exactly once, a trapping peer sees the other's EXIT at
 *    most once;
 *  - monitors set on a process while it exits (watchers on other workers
 *    monitor it over and over from the moment its exit begins): exactly one
 *    DOWN per monitor, with the real reason or `noproc`;
 *  - link and unlink racing an exit (the exiting process has 32 more links,
 *    so its signal to the linker can leave after hive_unlink returned): the
 *    linker dies with the reason (or noproc) or lives on untouched;
 *    trapping, it gets one EXIT at most and none after hive_unlink
 *    returned; linking until the peer is gone gives exactly one EXIT;
 *  - a chain of 100,000 spawn_linked processes collapsing from its tail:
 *    the head (trapping, or monitoring) sees the tail's reason and the
 *    process count returns to its baseline;
 *  - random kills while pointer messages circulate: every pointer is freed
 *    exactly once (by its receiver, by hive's dtor with a dead receiver, or
 *    by a refused sender), and the names of killed processes are released.
 *
 * Every "exactly once" is checked after the processes involved have fully
 * ended (hive_process_count back at its baseline: proc_end, which fires the
 * links and monitors, has returned), by draining what is left with a zero
 * timeout. Nothing sleeps to synchronise: waits have deadlines, and a
 * message found only when the deadline passed (a lost wake-up) fails too.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "tests/rt.h"
#include "tests/scale.h"

#define WORKERS 4  /* more workers than this machine's cores */
#define WAIT 30000 /* ms: a deadline, never a delay */
#define TRAP 0x100 /* in a pair member's arg: trap exits */

enum {
    T_GO = 1,
    T_STOP,
    T_KILL,
    T_PID,
    T_OK,
    T_SAW,
    T_MARK,
    T_REPORT,
    T_COUNT,
    T_FIN,
    T_DATA,
    T_ALIVE
};

static hive_pid_t me; /* the attached test thread (always traps) */
static long baseline; /* hive_process_count() with only `me` attached */

static int setup(void **state)
{
    (void)state;
    if (rt_start(WORKERS, 0, 0) != 0 || hive_thread_attach(&me) != 0)
        return -1;
    baseline = hive_process_count();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hive_thread_detach();
    return hive_runtime_stop();
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait until exactly n processes are alive: every process that ended has
 * gone through all of proc_end (links and monitors fired, name dropped). */
static void wait_count(long n)
{
    uint64_t end = now_ms() + WAIT;
    long c;
    while ((c = hive_process_count()) != n && now_ms() < end)
        sched_yield();
    assert_int_equal(c, n);
}

/* The oldest message with `tag`, waiting up to WAIT ms. A message found
 * only when the deadline passed was there all along but its wake-up was
 * lost: that fails too (the receive would have hung without a deadline). */
static hive_msg_t *expect(uint64_t tag)
{
    hive_msg_t *m = NULL;
    uint64_t start = now_ms();
    int rc = hive_receive_tag(tag, WAIT, &m);
    if (rc)
        fail_msg("waiting for tag %#llx: %s", (unsigned long long)tag, hive_strerror(rc));
    if (now_ms() - start >= WAIT)
        fail_msg("tag %#llx was found only at the deadline: a lost wake-up",
                 (unsigned long long)tag);
    return m;
}

static void expect_data(uint64_t tag, void *out, size_t len)
{
    hive_msg_t *m = expect(tag);
    assert_int_equal(hive_msg_size(m), len);
    memcpy(out, hive_msg_data(m), len);
    hive_msg_free(m);
}

static hive_down_info_t expect_down(void)
{
    hive_msg_t *m = expect(HIVE_TAG_DOWN);
    hive_down_info_t d;
    assert_int_equal(hive_down_info(m, &d), 0);
    hive_msg_free(m);
    return d;
}

/* Messages with `tag` queued right now (taken and freed). */
static int drain(uint64_t tag)
{
    int n = 0;
    hive_msg_t *m;
    while (hive_receive_tag(tag, 0, &m) == 0) {
        hive_msg_free(m);
        n++;
    }
    return n;
}

static void spin(long n)
{
    for (volatile long i = 0; i < n; i++)
        ;
}

static void block_forever(void)
{
    hive_msg_t *m;
    for (;;)
        if (hive_receive(HIVE_INFINITY, &m) == 0)
            hive_msg_free(m);
}

/* ---- two linked processes ending together ------------------------------ */

typedef struct saw {
    hive_pid_t self, from;
    hive_reason_t reason;
} saw_t;

/* A pair member: reports every EXIT it gets (only when trapping), ends with
 * user(code) on T_STOP, kills the pid in T_KILL. */
static void member_loop(int code)
{
    for (;;) {
        hive_msg_t *m;
        if (hive_receive(HIVE_INFINITY, &m) != 0)
            continue;
        uint64_t tag = hive_msg_tag(m);
        if (tag == HIVE_TAG_EXIT) {
            hive_exit_info_t e;
            hive_exit_info(m, &e);
            saw_t s = {.self = hive_self(), .from = e.from, .reason = e.reason};
            hive_send(me, T_SAW, &s, sizeof s);
        } else if (tag == T_STOP) {
            hive_msg_free(m);
            hive_exit(hive_reason_user(code, NULL));
        } else if (tag == T_KILL) {
            hive_pid_t victim;
            memcpy(&victim, hive_msg_data(m), sizeof victim);
            hive_kill(victim);
        }
        hive_msg_free(m);
    }
}

static void pair_b(void *arg)
{
    int v = (int)(intptr_t)arg;
    if (v & TRAP)
        hive_trap_exits(true);
    hive_send(me, T_OK, NULL, 0); /* trapping from now on, if asked */
    member_loop(v & 0xff);
}

/* A (code 1) spawn_links B (code 2) and tells the test B's pid. */
static void pair_a(void *arg)
{
    int v = (int)(intptr_t)arg;
    if (v & TRAP)
        hive_trap_exits(true);
    hive_pid_t b = HIVE_PID_NONE;
    if (hive_spawn_link(pair_b, (void *)(intptr_t)((v & TRAP) | 2), &b) != 0)
        b = HIVE_PID_NONE;
    hive_send(me, T_PID, &b, sizeof b);
    member_loop(1);
}

enum pair_mode { PAIR_STOP, PAIR_TRAP_STOP, PAIR_KILL };

typedef struct tally {
    long a, b; /* the two outcomes a race can have; both should occur */
} tally_t;

static void pair_round(enum pair_mode mode, long round, tally_t *t)
{
    hive_pid_t pid[2];
    hive_ref_t ref[2];
    assert_int_equal(
        hive_spawn(pair_a, (void *)(intptr_t)(mode == PAIR_TRAP_STOP ? TRAP : 0), &pid[0]), 0);
    expect_data(T_PID, &pid[1], sizeof pid[1]);
    assert_true(pid[1] != HIVE_PID_NONE);
    hive_msg_free(expect(T_OK));
    for (int i = 0; i < 2; i++)
        assert_int_equal(hive_monitor(pid[i], &ref[i]), 0);

    /* First A then B on even rounds, B then A on odd ones, a varying few
     * microseconds apart so that the second is told before, during and
     * after the first's exit signal reaches it. The second send may find
     * its target already gone (killed through the link): -ESRCH. */
    int first = (int)(round & 1), second = 1 - first;
    uint64_t tag = mode == PAIR_KILL ? T_KILL : T_STOP;
    size_t len = mode == PAIR_KILL ? sizeof(hive_pid_t) : 0;
    assert_int_equal(hive_send(pid[first], tag, &pid[second], len), 0);
    spin((round / 2) % 16 * 4000);
    int rc = hive_send(pid[second], tag, &pid[first], len);
    assert_true(rc == 0 || rc == -ESRCH);

    hive_down_info_t d[2];
    for (int i = 0; i < 2; i++) {
        hive_down_info_t x = expect_down();
        int k = x.ref == ref[0] ? 0 : 1;
        assert_int_equal(x.ref, ref[k]);
        assert_int_equal(x.pid, pid[k]);
        d[k] = x;
    }
    wait_count(baseline);
    /* Exactly two: no second DOWN for either ref is queued once both have
     * fully ended. */
    assert_int_equal(drain(HIVE_TAG_DOWN), 0);
    assert_true(d[0].ref != d[1].ref);

    for (int k = 0; k < 2; k++) {
        const hive_reason_t *r = &d[k].reason;
        switch (mode) {
        case PAIR_KILL:
            /* killed directly, or through the link with reason `killed` */
            assert_int_equal(r->kind, HIVE_EXIT_KILLED);
            break;
        case PAIR_STOP:
            /* its own reason, or the cascade's (the peer's) */
            assert_int_equal(r->kind, HIVE_EXIT_USER);
            assert_true(r->code == 1 || r->code == 2);
            if (k == second)
                *(r->code == second + 1 ? &t->a : &t->b) += 1;
            break;
        case PAIR_TRAP_STOP:
            /* trapping: only its own T_STOP ends it */
            assert_int_equal(r->kind, HIVE_EXIT_USER);
            assert_int_equal(r->code, k + 1);
            break;
        }
    }

    /* What each member saw of the other (a trapping member reports EXITs,
     * a non-trapping one never gets any): at most once, from the peer,
     * with the peer's reason. The reports were sent before the DOWNs. */
    int seen[2] = {0, 0};
    hive_msg_t *m;
    while (hive_receive_tag(T_SAW, 0, &m) == 0) {
        saw_t s;
        assert_int_equal(hive_msg_size(m), sizeof s);
        memcpy(&s, hive_msg_data(m), sizeof s);
        hive_msg_free(m);
        assert_int_equal(mode, PAIR_TRAP_STOP);
        int k = s.self == pid[0] ? 0 : 1;
        assert_int_equal(s.self, pid[k]);
        assert_int_equal(s.from, pid[1 - k]);
        assert_int_equal(s.reason.kind, HIVE_EXIT_USER);
        assert_int_equal(s.reason.code, 2 - k);
        seen[k]++;
    }
    assert_in_range(seen[0], 0, 1);
    assert_in_range(seen[1], 0, 1);
    if (mode == PAIR_TRAP_STOP)
        *(seen[0] + seen[1] ? &t->a : &t->b) += 1;
}

static void run_pairs(enum pair_mode mode, const char *what, const char *a, const char *b)
{
    long rounds = hive_test_scaled(3000);
    tally_t t = {0, 0};
    for (long i = 0; i < rounds; i++)
        pair_round(mode, i, &t);
    if (a)
        print_message("%ld rounds: %s: %ld %s, %ld %s\n", rounds, what, t.a, a, t.b, b);
}

/* Linked, not trapping, told to exit back to back: each ends once with its
 * own reason or the peer's; the test's two monitors fire exactly once each. */
static void linked_pair_exiting_together_each_ends_once(void **state)
{
    (void)state;
    run_pairs(PAIR_STOP, "the second one told", "died of its own reason", "died of the cascade");
}

/* Linked and trapping, told to exit back to back: each ends with its own
 * reason and sees the peer's EXIT at most once. */
static void trapping_pair_exiting_together_see_each_other_at_most_once(void **state)
{
    (void)state;
    run_pairs(PAIR_TRAP_STOP, "rounds where", "a member saw the peer's EXIT", "none did");
}

/* Linked, each kills the other at the same moment: both end `killed`, each
 * monitor fires exactly once. */
static void linked_pair_killing_each_other_each_ends_once(void **state)
{
    (void)state;
    run_pairs(PAIR_KILL, NULL, NULL, NULL);
}

/* ---- a monitor set on a process that is exiting ------------------------ */

enum { WATCHERS = 3 };

typedef struct watch_report {
    long made; /* monitors set */
    long real; /* DOWNs with x's reason */
    long noproc;
    long bad; /* DOWNs for an unknown ref, another pid or another reason */
} watch_report_t;

/* How an exiter ends: once its exit has begun (cleanup handlers run while
 * it is still alive) it lets the watchers, already running on other
 * workers, start monitoring it, then spins a while before its links and
 * monitors are taken. */
typedef struct exit_plan {
    long spin;
    hive_pid_t x;   /* the exiter, written by itself */
    _Atomic int go; /* its exit has begun */
} exit_plan_t;

static void exiting_now(void *arg, const hive_reason_t *r)
{
    (void)r;
    exit_plan_t *plan = arg;
    atomic_store(&plan->go, 1);
    spin(plan->spin);
}

/* Ends with user(5, "exiting") on T_STOP; arg: an exit_plan_t or NULL. */
static void exiter(void *arg)
{
    exit_plan_t *plan = arg;
    if (plan) {
        plan->x = hive_self();
        hive_on_exit(exiting_now, plan);
    }
    hive_send(me, T_OK, NULL, 0);
    hive_msg_t *m;
    while (hive_receive_tag(T_STOP, HIVE_INFINITY, &m) != 0)
        ;
    hive_msg_free(m);
    hive_exit(hive_reason_user(5, "exiting"));
}

/* When x's exit has begun, monitors x over and over until it is
 * gone - each call a new monitor, the last ones landing while x takes its
 * monitors - then collects one DOWN per monitor and reports; after T_FIN
 * (x has fully ended) it reports how many more DOWNs it finds. */

static void watcher(void *arg)
{
    exit_plan_t *plan = arg;
    while (!atomic_load(&plan->go))
        hive_yield(); /* runnable, so that it runs beside x */
    hive_pid_t x = plan->x;
    hive_msg_t *m;
    long cap = 64;
    hive_ref_t *refs = malloc(cap * sizeof *refs);
    watch_report_t r = {0, 0, 0, 0};
    for (bool gone = false; !gone;) {
        gone = !hive_is_alive(x); /* one more monitor after it is gone */
        if (r.made == cap && !(refs = realloc(refs, (cap *= 2) * sizeof *refs)))
            abort(); /* no cmocka asserts on a fiber */
        if (hive_monitor(x, &refs[r.made]) == 0)
            r.made++;
    }
    for (long got = 0; got < r.made; got++) {
        hive_down_info_t d;
        while (hive_receive_tag(HIVE_TAG_DOWN, HIVE_INFINITY, &m) != 0)
            ;
        hive_down_info(m, &d);
        hive_msg_free(m);
        bool known = false;
        for (long i = 0; i < r.made && !known; i++)
            if (refs[i] == d.ref) {
                known = true;
                refs[i] = 0; /* a second DOWN for it is unknown */
            }
        bool real = d.reason.kind == HIVE_EXIT_USER && d.reason.code == 5 &&
                    strcmp(d.reason.text, "exiting") == 0;
        if (!known || d.pid != x || !(real || d.reason.kind == HIVE_EXIT_NOPROC))
            r.bad++;
        else
            *(real ? &r.real : &r.noproc) += 1;
    }
    free(refs);
    hive_send(me, T_REPORT, &r, sizeof r);
    while (hive_receive_tag(T_FIN, HIVE_INFINITY, &m) != 0)
        ;
    hive_msg_free(m);
    long extra = drain(HIVE_TAG_DOWN);
    hive_send(me, T_COUNT, &extra, sizeof extra);
}

static void check_down(hive_ref_t ref, const hive_down_info_t *d, hive_pid_t x, tally_t *t)
{
    assert_int_equal(d->ref, ref);
    assert_int_equal(d->pid, x);
    if (d->reason.kind == HIVE_EXIT_NOPROC) {
        t->b++;
    } else {
        assert_int_equal(d->reason.kind, HIVE_EXIT_USER);
        assert_int_equal(d->reason.code, 5);
        assert_string_equal(d->reason.text, "exiting");
        t->a++;
    }
}

/* Three processes (over and over) and the test thread (once) monitor a
 * process at the moment it is told to exit (its exit lasts a varying
 * while): each monitor gets exactly one DOWN, with the real reason or
 * noproc - none lost in the middle of the exit, none twice. */
static void monitor_set_on_an_exiting_process_fires_once(void **state)
{
    (void)state;
    long rounds = hive_test_scaled(3000), monitors = rounds;
    tally_t t = {0, 0};
    for (long i = 0; i < rounds; i++) {
        static exit_plan_t plan; /* used by x and the watchers, who end in the round */
        hive_pid_t x, w[WATCHERS];
        plan.spin = (i % 4) * 3000;
        atomic_store(&plan.go, 0);
        assert_int_equal(hive_spawn_opts(exiter, &plan, &(hive_spawn_opts_t){.worker = 0}, &x), 0);
        hive_msg_free(expect(T_OK));
        assert_int_equal(plan.x, x);
        for (int k = 0; k < WATCHERS; k++) {
            hive_spawn_opts_t o = {.worker = (k + 1) % WORKERS};
            assert_int_equal(hive_spawn_opts(watcher, &plan, &o, &w[k]), 0);
        }

        assert_int_equal(hive_send(x, T_STOP, NULL, 0), 0);
        spin((i % 7) * 500); /* vary where in x's exit our own monitor lands */
        hive_ref_t ref;
        assert_int_equal(hive_monitor(x, &ref), 0);

        hive_down_info_t d = expect_down();
        check_down(ref, &d, x, &t);
        for (int k = 0; k < WATCHERS; k++) {
            watch_report_t r;
            expect_data(T_REPORT, &r, sizeof r);
            assert_int_equal(r.bad, 0);
            assert_int_equal(r.real + r.noproc, r.made);
            assert_true(r.noproc >= 1); /* its last monitor came after the end */
            t.a += r.real, t.b += r.noproc, monitors += r.made;
        }
        wait_count(baseline + WATCHERS); /* x has fully ended */
        for (int k = 0; k < WATCHERS; k++)
            assert_int_equal(hive_send(w[k], T_FIN, NULL, 0), 0);
        for (int k = 0; k < WATCHERS; k++) {
            long extra;
            expect_data(T_COUNT, &extra, sizeof extra);
            assert_int_equal(extra, 0);
        }
        assert_int_equal(drain(HIVE_TAG_DOWN), 0);
        wait_count(baseline);
    }
    print_message("%ld monitors: %ld DOWN with the real reason, %ld noproc\n", monitors, t.a, t.b);
    /* Both sides of the race happened: the test exercised it. */
    assert_true(t.a > 0);
    assert_true(t.b > 0);
}

/* ---- link and unlink racing an exit ------------------------------------ */

enum link_mode { LINK_UNLINK, TRAP_LINK_UNLINK, TRAP_LINK };
enum { BALLAST = 32 };

static void ballast(void *arg)
{
    (void)arg;
    block_forever(); /* ends in x's cascade */
}

/* An exiter with BALLAST more links: its exit sends that many exit signals,
 * so the one for a linker can leave well after the exit took its links -
 * after the linker's hive_unlink returned. */
static void hub(void *arg)
{
    for (int i = 0; i < BALLAST; i++)
        hive_spawn_link(ballast, NULL, NULL);
    exiter(arg);
}

typedef struct link_report {
    int before, after; /* EXITs from x before / after our mark */
    int noproc;        /* of which with reason noproc */
    int bad;           /* EXITs not from x or with another reason; other messages */
} link_report_t;

/* arg: mode | spin << 4, the spin between link and unlink (no hive call
 * there: x's signal waits in the mailbox until unlink looks). */
static void linker(void *arg)
{
    enum link_mode mode = (enum link_mode)((intptr_t)arg & 0xf);
    long gap = (long)((intptr_t)arg >> 4);
    hive_msg_t *m;
    while (hive_receive_tag(T_GO, HIVE_INFINITY, &m) != 0)
        ;
    hive_pid_t x;
    memcpy(&x, hive_msg_data(m), sizeof x);
    hive_msg_free(m);
    hive_ref_t ref = 0;
    if (mode != LINK_UNLINK) {
        hive_trap_exits(true);
        hive_monitor(x, &ref); /* its DOWN follows any link signal from x */
    }
    if (mode == TRAP_LINK) {
        /* Link and unlink until a link finds x gone or going: the last
         * link lands in the middle of x's exit. */
        while (hive_link(x) == 0 && hive_is_alive(x))
            hive_unlink(x);
    } else {
        hive_link(x); /* not trapping: x's reason (or noproc) may end us here */
        spin(gap);
        hive_unlink(x);
    }
    if (mode == LINK_UNLINK) {
        hive_send(me, T_ALIVE, NULL, 0); /* survived: nothing from x may end us now */
        return;
    }
    hive_send(hive_self(), T_MARK, NULL, 0); /* after hive_unlink (or hive_link) returned */
    for (;;) {
        hive_down_info_t d;
        if (hive_receive_tag(HIVE_TAG_DOWN, HIVE_INFINITY, &m) != 0)
            continue;
        hive_down_info(m, &d);
        hive_msg_free(m);
        if (d.ref == ref)
            break; /* x has fired its links: all it sent us is queued */
    }
    link_report_t r = {0, 0, 0, 0};
    bool marked = false;
    while (hive_receive(0, &m) == 0) {
        hive_exit_info_t e;
        if (hive_msg_tag(m) == T_MARK) {
            marked = true;
        } else if (hive_exit_info(m, &e) == 0) {
            *(marked ? &r.after : &r.before) += 1;
            bool real = e.reason.kind == HIVE_EXIT_USER && e.reason.code == 5;
            r.noproc += e.reason.kind == HIVE_EXIT_NOPROC;
            r.bad += e.from != x || !(real || e.reason.kind == HIVE_EXIT_NOPROC);
        } else {
            r.bad++;
        }
        hive_msg_free(m);
    }
    hive_send(me, T_REPORT, &r, sizeof r);
}

static void link_race(enum link_mode mode, tally_t *t)
{
    long rounds = hive_test_scaled(3000);
    for (long i = 0; i < rounds; i++) {
        hive_pid_t x, l;
        hive_ref_t lref;
        assert_int_equal(hive_spawn(hub, NULL, &x), 0);
        hive_msg_free(expect(T_OK));
        hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &lref};
        intptr_t arg = mode | (intptr_t)((i / 2) % 8 * 1000) << 4;
        assert_int_equal(hive_spawn_opts(linker, (void *)arg, &o, &l), 0);
        if (i & 1) {
            assert_int_equal(hive_send(x, T_STOP, NULL, 0), 0);
            assert_int_equal(hive_send(l, T_GO, &x, sizeof x), 0);
        } else {
            assert_int_equal(hive_send(l, T_GO, &x, sizeof x), 0);
            assert_int_equal(hive_send(x, T_STOP, NULL, 0), 0);
        }
        if (mode == LINK_UNLINK) {
            hive_down_info_t d = expect_down();
            assert_int_equal(d.ref, lref);
            bool survived = drain(T_ALIVE) == 1; /* sent before its DOWN */
            if (survived) {
                assert_int_equal(d.reason.kind, HIVE_EXIT_NORMAL);
                t->a++;
            } else {
                if (d.reason.kind != HIVE_EXIT_NOPROC) {
                    assert_int_equal(d.reason.kind, HIVE_EXIT_USER);
                    assert_int_equal(d.reason.code, 5);
                }
                t->b++;
            }
        } else {
            link_report_t r;
            expect_data(T_REPORT, &r, sizeof r);
            assert_int_equal(r.bad, 0);
            if (mode == TRAP_LINK) {
                assert_int_equal(r.before + r.after, 1); /* exactly one: reason or noproc */
                *(r.noproc ? &t->b : &t->a) += 1;
            } else {
                assert_int_equal(r.after, 0); /* nothing after hive_unlink returned */
                assert_in_range(r.before, 0, 1);
                *(r.before ? &t->a : &t->b) += 1;
            }
            hive_down_info_t d = expect_down();
            assert_int_equal(d.ref, lref);
            assert_int_equal(d.reason.kind, HIVE_EXIT_NORMAL);
        }
        wait_count(baseline);
        assert_int_equal(drain(HIVE_TAG_DOWN), 0);
    }
}

/* Not trapping: link + unlink while the peer exits abnormally. The linker
 * dies with the peer's reason or noproc, or (unlinked in time) lives on
 * and then nothing from the old link reaches it. */
static void link_unlink_racing_an_exit_kills_or_spares_the_linker(void **state)
{
    (void)state;
    tally_t t = {0, 0};
    link_race(LINK_UNLINK, &t);
    print_message("linker survived %ld times, died %ld times\n", t.a, t.b);
}

/* Trapping: link + unlink while the peer exits: at most one EXIT, none
 * after hive_unlink returned. */
static void trapping_link_unlink_racing_an_exit_gets_one_exit_at_most(void **state)
{
    (void)state;
    tally_t t = {0, 0};
    link_race(TRAP_LINK_UNLINK, &t);
    print_message("one EXIT %ld times, none %ld times\n", t.a, t.b);
}

/* Trapping: link (and unlink, and link again) while the peer exits, until
 * a link finds it gone: exactly one EXIT (its reason or noproc) - a link
 * made in the middle of the exit is neither lost nor fired twice. */
static void trapping_link_racing_an_exit_gets_exactly_one_exit(void **state)
{
    (void)state;
    tally_t t = {0, 0};
    link_race(TRAP_LINK, &t);
    print_message("the EXIT had x's reason %ld times, noproc %ld times\n", t.a, t.b);
}

/* ---- a 100,000-process chain collapsing -------------------------------- */

static long chain_length(void)
{
#if HIVE_TSAN
    return hive_test_scaled(40000); /* 4,000: TSan caps live fibers near 8k */
#else
    return hive_test_scaled(100000);
#endif
}

/* Node `left` of the chain spawn_links node left - 1; node 1, the tail,
 * says how many processes are alive and exits abnormally. */
static void chain_node(void *arg)
{
    long left = (long)(intptr_t)arg;
    if (left <= 1) {
        long alive = hive_process_count();
        hive_send(me, T_COUNT, &alive, sizeof alive);
        hive_exit(hive_reason_user(77, "tail"));
    }
    if (hive_spawn_link(chain_node, (void *)(intptr_t)(left - 1), NULL) != 0)
        hive_exit(hive_reason_user(99, "spawn_link failed"));
    block_forever(); /* not trapping: the cascade ends us */
}

typedef struct head_report {
    hive_pid_t first;
    hive_exit_info_t exit;
} head_report_t;

static void chain_head(void *arg)
{
    hive_trap_exits(true);
    head_report_t r = {0};
    if (hive_spawn_link(chain_node, arg, &r.first) != 0)
        return;
    hive_msg_t *m;
    while (hive_receive_tag(HIVE_TAG_EXIT, HIVE_INFINITY, &m) != 0)
        ;
    hive_exit_info(m, &r.exit);
    hive_msg_free(m);
    hive_send(me, T_REPORT, &r, sizeof r);
}

static void assert_chain_was_whole(long n, long extra)
{
    long alive;
    expect_data(T_COUNT, &alive, sizeof alive);
    assert_true(alive >= baseline + extra + n); /* all n nodes at once */
}

static void assert_tail_reason(const hive_reason_t *r)
{
    assert_int_equal(r->kind, HIVE_EXIT_USER);
    assert_int_equal(r->code, 77);
    assert_string_equal(r->text, "tail");
}

/* A trapping head spawn_links a chain of n; the tail's exit cascades back
 * and reaches the head as one EXIT with the tail's reason. */
static void chain_collapses_to_a_trapping_head(void **state)
{
    (void)state;
    long n = chain_length();
    hive_pid_t h;
    hive_ref_t ref;
    hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &ref};
    assert_int_equal(hive_spawn_opts(chain_head, (void *)(intptr_t)n, &o, &h), 0);
    assert_chain_was_whole(n, 1);
    head_report_t r;
    expect_data(T_REPORT, &r, sizeof r);
    assert_int_equal(r.exit.from, r.first);
    assert_tail_reason(&r.exit.reason);
    hive_down_info_t d = expect_down();
    assert_int_equal(d.pid, h);
    assert_int_equal(d.reason.kind, HIVE_EXIT_NORMAL);
    wait_count(baseline);
    print_message("chain of %ld collapsed\n", n);
}

/* The test thread monitors the chain's first node: one DOWN with the
 * tail's reason; every node is gone afterwards. */
static void chain_collapses_to_a_monitoring_head(void **state)
{
    (void)state;
    long n = chain_length();
    hive_pid_t first;
    hive_ref_t ref;
    hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &ref};
    assert_int_equal(hive_spawn_opts(chain_node, (void *)(intptr_t)n, &o, &first), 0);
    assert_chain_was_whole(n, 0);
    hive_down_info_t d = expect_down();
    assert_int_equal(d.ref, ref);
    assert_int_equal(d.pid, first);
    assert_tail_reason(&d.reason);
    wait_count(baseline);
    assert_int_equal(drain(HIVE_TAG_DOWN), 0);
}

/* ---- random kills while messages flow ---------------------------------- */

/* Pointer messages circulate among STORM_N processes: each one, blocked in
 * receive, frees the message it gets and sends a new one to a random peer;
 * a new process adds STORM_TOKENS messages, which makes up on average for
 * those its killed predecessor took with it. Blocking (not polling) keeps
 * idle workers free to steal, so no worker ends up alone with a backlog. */
enum { STORM_N = 16, STORM_TOKENS = 4, STORM_TRIES = 4 };

static _Atomic hive_pid_t storm_pid[STORM_N];
/* made: pointers allocated; refused: given up after STORM_TRIES refused
 * sends (freed by the sender); got: received and freed by the receiver;
 * dtor: freed by hive with their dead receiver. */
static _Atomic long st_made, st_refused, st_got, st_dtor, st_name_fail;

static void storm_name(int slot, char *buf, size_t len)
{
    snprintf(buf, len, "storm.%d", slot);
}

static void storm_dtor(void *p)
{
    free(p);
    atomic_fetch_add(&st_dtor, 1);
}

static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* One new pointer message to a random peer (another if that one is dead). */
static void storm_send(uint64_t *x)
{
    long *p = malloc(sizeof *p);
    if (!p)
        abort(); /* no cmocka asserts on a fiber */
    *p = (long)*x;
    atomic_fetch_add(&st_made, 1);
    for (int i = 0; i < STORM_TRIES; i++) {
        hive_pid_t to = atomic_load(&storm_pid[xorshift(x) % STORM_N]);
        if (hive_send_ptr(to, T_DATA, p, storm_dtor) == 0)
            return; /* p is the receiver's now */
    }
    free(p); /* refused every time: still ours */
    atomic_fetch_add(&st_refused, 1);
}

/* Takes over its slot's name (the killed predecessor must release it),
 * adds its tokens, then passes messages on for ever. Between
 * hive_receive returning and the free there is no hive call, so a kill
 * cannot fall between them. */
static void storm_proc(void *arg)
{
    int slot = (int)(intptr_t)arg;
    char name[32];
    storm_name(slot, name, sizeof name);
    uint64_t end = now_ms() + WAIT;
    int rc;
    while ((rc = hive_register(name, hive_self())) == -EBUSY && now_ms() < end)
        hive_yield(); /* the predecessor is still ending */
    if (rc != 0) {
        atomic_fetch_add(&st_name_fail, 1);
        return;
    }
    uint64_t x = hive_self() * UINT64_C(0x9E3779B97F4A7C15) | 1;
    for (int i = 0; i < STORM_TOKENS; i++)
        storm_send(&x);
    for (;;) {
        hive_msg_t *m;
        if (hive_receive(HIVE_INFINITY, &m) != 0)
            continue;
        long *p = hive_msg_take_ptr(m);
        if (p) {
            free(p);
            atomic_fetch_add(&st_got, 1);
        }
        hive_msg_free(m);
        storm_send(&x);
    }
}

/* Kills a random storm process and spawns its replacement, `arg` times,
 * letting messages flow between kills (paced by progress, not by time);
 * reports how many steps went wrong. */
static void storm_killer(void *arg)
{
    long kills = (long)(intptr_t)arg, bad = 0;
    uint64_t x = 88172645463325252u;
    for (long k = 0; k < kills && !bad; k++) {
        long target = atomic_load(&st_got) + STORM_N;
        uint64_t end = now_ms() + WAIT;
        while (atomic_load(&st_got) < target && now_ms() < end)
            hive_yield();
        int s = (int)(xorshift(&x) % STORM_N);
        hive_pid_t p;
        bad += atomic_load(&st_got) < target;              /* no progress */
        bad += hive_kill(atomic_load(&storm_pid[s])) != 0; /* it was alive */
        bad += hive_spawn(storm_proc, (void *)(intptr_t)s, &p) != 0;
        atomic_store(&storm_pid[s], p);
    }
    hive_send(me, T_REPORT, &bad, sizeof bad);
}

static int storm_setup(void **state)
{
    atomic_store(&st_made, 0);
    atomic_store(&st_refused, 0);
    atomic_store(&st_got, 0);
    atomic_store(&st_dtor, 0);
    atomic_store(&st_name_fail, 0);
    for (int s = 0; s < STORM_N; s++)
        atomic_store(&storm_pid[s], HIVE_PID_NONE);
    return setup(state);
}

/* The test stops the runtime itself (to count after rcu_barrier); stop it
 * here only if the test failed first. */
static int storm_teardown(void **state)
{
    return hive_runtime_workers() > 0 ? teardown(state) : 0;
}

/* Sixteen processes pass pointer messages to random peers while a killer
 * process kills random ones and spawns replacements that take over the
 * slot's name. After the runtime stopped (its rcu_barrier ran every
 * deferred free): every pointer was freed exactly once - by its receiver,
 * by hive's dtor with a dead receiver, or by a sender that was refused -
 * and every killed process's name was released. */
static void kill_storm_loses_no_message_and_releases_names(void **state)
{
    for (int s = 0; s < STORM_N; s++) {
        hive_pid_t p;
        assert_int_equal(hive_spawn(storm_proc, (void *)(intptr_t)s, &p), 0);
        atomic_store(&storm_pid[s], p);
    }
    long kills = hive_test_scaled(5000), bad;
    assert_int_equal(hive_spawn(storm_killer, (void *)(intptr_t)kills, NULL), 0);
    expect_data(T_REPORT, &bad, sizeof bad);
    assert_int_equal(bad, 0);

    for (int s = 0; s < STORM_N; s++)
        assert_int_equal(hive_kill(atomic_load(&storm_pid[s])), 0);
    wait_count(baseline);
    assert_int_equal(atomic_load(&st_name_fail), 0);
    for (int s = 0; s < STORM_N; s++) {
        char name[32];
        storm_name(s, name, sizeof name);
        assert_int_equal(hive_whereis(name), HIVE_PID_NONE);
        /* Released, not just pointing at a dead pid: it can be taken. */
        assert_int_equal(hive_register(name, me), 0);
        assert_int_equal(hive_unregister(name), 0);
    }
    teardown(state);

    long made = atomic_load(&st_made), refused = atomic_load(&st_refused);
    long got = atomic_load(&st_got), dtor = atomic_load(&st_dtor);
    print_message("%ld kills: %ld messages sent, %ld refused; %ld received, %ld freed by dtor\n",
                  kills, made - refused, refused, got, dtor);
    assert_int_equal(made - refused, got + dtor);
    assert_true(got > 0);
    assert_true(dtor > 0); /* some died with messages unread */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(linked_pair_exiting_together_each_ends_once),
        T(trapping_pair_exiting_together_see_each_other_at_most_once),
        T(linked_pair_killing_each_other_each_ends_once),
        T(monitor_set_on_an_exiting_process_fires_once),
        T(link_unlink_racing_an_exit_kills_or_spares_the_linker),
        T(trapping_link_unlink_racing_an_exit_gets_one_exit_at_most),
        T(trapping_link_racing_an_exit_gets_exactly_one_exit),
        T(chain_collapses_to_a_trapping_head),
        T(chain_collapses_to_a_monitoring_head),
        cmocka_unit_test_setup_teardown(kill_storm_loses_no_message_and_releases_names, storm_setup,
                                        storm_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
