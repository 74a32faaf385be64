/* test_sched.c - the scheduler through the runtime: every task runs exactly
 * once, work spreads by stealing, fairness (yield loops, a yield behind the
 * tasks it started but not behind those it woke, a yielded task taken from
 * a stuck worker, long computations, the injection queue, the LIFO slot,
 * pinned beside unpinned), park/unpark
 * ping-pong, handoffs (the loop keeps its turns), start/stop cycles, pinned
 * workers and pinned processes (never stolen), idle CPU, and refused
 * configs.
 *
 * Runs with more workers than the machine has cores where it matters:
 * oversubscription shakes out races. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include <hive/hive.h>

#include "sched/rcu.h"
#include "sched/worker.h"
#include "tests/kept_task.h"
#include "tests/latch.h"
#include "tests/scale.h"

#define DEADLINE 120.0

static void start(int workers, hive_pin_t pin)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    cfg.workers = workers;
    cfg.pin = pin;
    hive_diag_t diag;
    int rc = hive_runtime_start(&cfg, &diag);
    if (rc != 0)
        fprintf(stderr, "start: %s\n", diag.message);
    assert_int_equal(rc, 0);
    assert_int_equal(hive_runtime_workers(), workers);
}

static void stop(void)
{
    assert_int_equal(hive_runtime_stop(), 0);
    assert_int_equal(hive_runtime_workers(), 0);
}

/* ---- a million tasks from one worker --------------------------------- */

static latch_t done;
static _Atomic unsigned char *runs;
static long ntasks;

static void mark(void *arg)
{
    atomic_fetch_add_explicit(&runs[(uintptr_t)arg], 1, memory_order_relaxed);
    latch_count_down(&done);
}

static void spawner(void *arg)
{
    for (long i = 0; i < ntasks; i++)
        assert_int_equal(hive__task_spawn(mark, (void *)(uintptr_t)i, 0), 0);
    latch_count_down(&done);
}

static uint64_t total_stolen(int n, int *workers_that_ran)
{
    uint64_t stolen = 0;
    *workers_that_ran = 0;
    for (int i = 0; i < n; i++) {
        hive__worker_stats_t s;
        hive__worker_stats(i, &s);
        stolen += s.stolen;
        *workers_that_ran += s.runs > 0;
    }
    return stolen;
}

/* 1,000,000 tasks spawned by one task all run exactly once, and the other
 * workers steal part of them (the steal counters say so). */
static void million_tasks_from_one_worker_run_once_and_spread(void **state)
{
    ntasks = hive_test_scaled(1000000);
    runs = calloc((size_t)ntasks, 1);
    latch_init(&done, ntasks + 1);
    start(4, HIVE_PIN_COMPACT);
    assert_int_equal(hive__task_spawn(spawner, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    int ran;
    uint64_t stolen = total_stolen(4, &ran);
    printf("# %ld tasks: %llu stolen, %d of 4 workers ran tasks\n", ntasks,
           (unsigned long long)stolen, ran);
    /* Let the last tasks leave their fibers before counting. */
    while (hive__sched_live_tasks() != 0)
        sched_yield();
    stop();
    for (long i = 0; i < ntasks; i++)
        if (runs[i] != 1)
            fail_msg("task %ld ran %d times", i, runs[i]);
    assert_true(stolen > 0);
    assert_true(ran >= 2);
    free((void *)runs);
    latch_destroy(&done);
}

/* ---- fairness -------------------------------------------------------- */

static _Atomic bool flag;
static _Atomic long spins;

static void yield_until_flag(void *arg)
{
    while (!atomic_load(&flag)) {
        atomic_fetch_add(&spins, 1);
        hive_yield();
    }
    latch_count_down(&done);
}

static void set_flag(void *arg)
{
    atomic_store(&flag, true);
    latch_count_down(&done);
}

static void spawn_yielders_then_setter(void *arg)
{
    for (int i = 0; i < 3; i++)
        hive__task_spawn(yield_until_flag, NULL, 0);
    hive_yield();
    hive__task_spawn(set_flag, NULL, 0);
    latch_count_down(&done);
}

/* On one worker, three tasks yielding in a loop do not starve a task queued
 * after them: yields rotate through the deque. */
static void yield_loop_cannot_starve_others(void **state)
{
    atomic_store(&flag, false);
    latch_init(&done, 5);
    start(1, HIVE_PIN_COMPACT);
    assert_int_equal(hive__task_spawn(spawn_yielders_then_setter, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    latch_destroy(&done);
}

/* ---- a yield goes behind the queued tasks ---------------------------- */

enum { BEHIND = 40, STUCK_ROUNDS = 200 };
static _Atomic long behind_ran;
static long behind_seen;

static void count_behind(void *arg)
{
    atomic_fetch_add(&behind_ran, 1);
    latch_count_down(&done);
}

static hive_pid_t woken[BEHIND];

/* Start BEHIND tasks (arg NULL) or wake the BEHIND processes in woken[]
 * with a message each (arg non-NULL), then yield and note how many of
 * them ran before we did. */
static void start_or_wake_then_yield(void *arg)
{
    for (int i = 0; i < BEHIND; i++)
        assert_int_equal(arg ? hive_send(woken[i], 1, NULL, 0)
                             : hive__task_spawn(count_behind, NULL, 0),
                         0);
    hive_yield();
    behind_seen = atomic_load(&behind_ran);
    latch_count_down(&done);
}

/* On one worker, a task that yields after starting BEHIND tasks runs
 * again only after all of them ran (it went back to the bottom of the
 * deque and ran again after two of them). */
static void a_yield_goes_behind_the_queued_tasks(void **state)
{
    atomic_store(&behind_ran, 0);
    latch_init(&done, BEHIND + 1);
    start(1, HIVE_PIN_COMPACT);
    assert_int_equal(hive__task_spawn(start_or_wake_then_yield, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    assert_int_equal(behind_seen, BEHIND);
    latch_destroy(&done);
}

static void receive_one(void *arg)
{
    hive_msg_t *m;
    if (hive_receive(HIVE_INFINITY, &m) == 0) {
        hive_msg_free(m);
        atomic_fetch_add(&behind_ran, 1);
    }
    latch_count_down(&done);
}

/* But a task that yields after waking BEHIND processes with messages (a
 * producer) runs again before most of them: they run later and find more
 * messages waiting (see "Yield" in sched/worker.c). */
static void a_yield_after_waking_does_not_wait_for_the_woken(void **state)
{
    atomic_store(&behind_ran, 0);
    latch_init(&done, BEHIND + 1);
    start(1, HIVE_PIN_COMPACT);
    for (int i = 0; i < BEHIND; i++)
        assert_int_equal(hive_spawn(receive_one, NULL, &woken[i]), 0);
    for (int i = 0; i < 2000 && hive__sched_live_tasks() > 0; i++) {
        hive__worker_stats_t st;
        hive__worker_stats(0, &st);
        if (st.runs >= BEHIND) /* each has run up to its receive */
            break;
        usleep(1000);
    }
    usleep(20000); /* and parked there */
    assert_int_equal(hive_spawn(start_or_wake_then_yield, (void *)1, NULL), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    assert_true(behind_seen <= 2);
    latch_destroy(&done);
}

static _Atomic bool behind_flag, behind_timed_out;

static void noop_task(void *arg) { (void)arg; }

/* Spins (never yields) until the task that spawned it sets the flag. */
static void spin_until_behind_flag(void *arg)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(&behind_flag)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10) {
            atomic_store(&behind_timed_out, true);
            break;
        }
    }
    latch_count_down(&done);
}

/* Queue three tasks, then the spinner (it runs next here: the LIFO slot),
 * then yield - behind the spinner, which waits for us. */
static void spawn_spinner_then_yield(void *arg)
{
    for (int i = 0; i < 3; i++)
        assert_int_equal(hive__task_spawn(noop_task, NULL, 0), 0);
    assert_int_equal(hive__task_spawn(spin_until_behind_flag, NULL, 0), 0);
    hive_yield();
    atomic_store(&behind_flag, true);
    latch_count_down(&done);
}

/* A task waiting for its turn after a yield is not stranded behind a task
 * that never yields and waits for it: the other worker takes it from the
 * stuck worker, as it would take it from the deque. */
static void a_yielded_task_is_taken_from_a_stuck_worker(void **state)
{
    start(2, HIVE_PIN_COMPACT);
    for (int r = 0; r < STUCK_ROUNDS; r++) {
        atomic_store(&behind_flag, false);
        latch_init(&done, 2);
        assert_int_equal(hive__task_spawn(spawn_spinner_then_yield, NULL, 0), 0);
        assert_true(latch_wait(&done, DEADLINE));
        latch_destroy(&done);
        assert_false(atomic_load(&behind_timed_out));
    }
    stop();
}

static void spin_without_yield(void *arg)
{
    /* Queue work behind us on our own deque, then compute without ever
     * calling the runtime. Only another worker can run what we queued. */
    for (int i = 0; i < 100; i++)
        hive__task_spawn(mark, (void *)(uintptr_t)i, 0);
    hive__task_spawn(set_flag, NULL, 0);
    while (!atomic_load_explicit(&flag, memory_order_acquire))
        ;
    latch_count_down(&done);
}

/* A worker stuck in a long computation does not stall the tasks queued
 * behind it: another worker steals them. */
static void long_computation_does_not_stall_queued_tasks(void **state)
{
    atomic_store(&flag, false);
    ntasks = 100;
    runs = calloc(100, 1);
    latch_init(&done, 100 + 2);
    start(2, HIVE_PIN_COMPACT);
    assert_int_equal(hive__task_spawn(spin_without_yield, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    for (int i = 0; i < 100; i++)
        assert_int_equal(runs[i], 1);
    free((void *)runs);
    latch_destroy(&done);
}

/* ---- pinned processes ------------------------------------------------ */

enum { PIN_PAIRS = 4, PIN_PING = 1, PIN_PONG };
static long pin_rounds;
static _Atomic long pin_away; /* dispatches of a pinned process off worker 0 */

static void note_worker(void)
{
    if (hive__worker_id(hive__worker_self()) != 0)
        atomic_fetch_add(&pin_away, 1);
}

/* Echoes each ping with a pong until a ping that says it is the last. */
static void ponger(void *arg)
{
    hive_msg_t *m;
    while (hive_receive_tag(PIN_PING, HIVE_INFINITY, &m) == 0) {
        hive_pid_t from = hive_msg_from(m);
        bool last = hive_msg_size(m) != 0;
        hive_msg_free(m);
        note_worker();
        hive_send(from, PIN_PONG, NULL, 0);
        if (last)
            break;
    }
    latch_count_down(&done);
}

/* One round trip with the ponger `to`: a ping (the last if `last`: the
 * ponger then ends) and its pong. False if either failed. */
static bool ping(hive_pid_t to, bool last)
{
    char one = 1;
    hive_msg_t *m;
    if (hive_send(to, PIN_PING, &one, last ? 1 : 0) != 0 ||
        hive_receive_tag(PIN_PONG, HIVE_INFINITY, &m) != 0)
        return false;
    hive_msg_free(m);
    return true;
}

static void pin_pinger(void *arg)
{
    hive_pid_t ponger = (hive_pid_t)(uintptr_t)arg;
    for (long i = 0; i < pin_rounds; i++) {
        if (!ping(ponger, i == pin_rounds - 1))
            break;
        note_worker();
        if (i % 64 == 0)
            hive_yield(); /* through the queues, not only the LIFO slot */
    }
    latch_count_down(&done);
}

/* Processes pinned to worker 0 that wake each other all the time (through
 * the LIFO slot, the queues behind it and yields) are never taken by the
 * other workers, idle and looking for work: nothing is stolen, and every
 * dispatch of them is on worker 0. A thief that took one could only send it
 * home - before pinned tasks were kept out of thieves' reach, 4 pairs x
 * 20,000 round trips saw ~150,000 such steals. Four workers on two
 * cores: the thieves' looks interleave with worker 0 at every point. */
static void pinned_processes_are_never_stolen(void **state)
{
    pin_rounds = hive_test_scaled(20000);
    atomic_store(&pin_away, 0);
    latch_init(&done, 2 * PIN_PAIRS);
    start(4, HIVE_PIN_COMPACT);
    hive_spawn_opts_t on0 = {.worker = 0, .pinned = true};
    for (int i = 0; i < PIN_PAIRS; i++) {
        hive_pid_t pong;
        assert_int_equal(hive_spawn_opts(ponger, NULL, &on0, &pong), 0);
        assert_int_equal(hive_spawn_opts(pin_pinger, (void *)(uintptr_t)pong, &on0, NULL), 0);
    }
    assert_true(latch_wait(&done, DEADLINE));
    int ran;
    uint64_t stolen = total_stolen(4, &ran);
    print_message("%d pinned pairs x %ld round trips: %llu stolen, %ld dispatches away\n",
                  PIN_PAIRS, pin_rounds, (unsigned long long)stolen, atomic_load(&pin_away));
    stop();
    assert_int_equal(atomic_load(&pin_away), 0);
    assert_int_equal(stolen, 0);
    latch_destroy(&done);
}

static void nothing(void *arg) {}

/* On worker 0: three yield loops, then the task that ends them, queued on
 * the other side (pinned or not) - spawned, then pushed out of the LIFO
 * slot into its queue by one more spawn. */
static void pinned_driver(void *arg)
{
    bool loopers_pinned = arg != NULL;
    hive_spawn_opts_t on0 = {.worker = 0, .pinned = true};
    for (int i = 0; i < 3; i++)
        hive_spawn_opts(yield_until_flag, NULL, loopers_pinned ? &on0 : NULL, NULL);
    while (atomic_load(&spins) < 1000)
        hive_yield();
    hive_spawn_opts(set_flag, NULL, loopers_pinned ? NULL : &on0, NULL);
    hive_spawn_opts(nothing, NULL, loopers_pinned ? NULL : &on0, NULL);
    latch_count_down(&done);
}

/* On one worker, pinned tasks wait in their own queue beside the deque:
 * neither starves the other. Yield loops in one queue, the task that ends
 * them queued in the other, both ways round. */
static void pinned_and_unpinned_queues_take_turns(void **state)
{
    for (int round = 0; round < 2; round++) {
        atomic_store(&flag, false);
        atomic_store(&spins, 0);
        latch_init(&done, 5);
        start(1, HIVE_PIN_COMPACT);
        assert_int_equal(hive_spawn(pinned_driver, round == 0 ? (void *)1 : NULL, NULL), 0);
        assert_true(latch_wait(&done, 30.0));
        stop();
        latch_destroy(&done);
    }
}

/* ---- handoff --------------------------------------------------------- */

static _Atomic bool ho_stop;
static _Atomic long ho_rounds;

static void ho_pinger(void *arg)
{
    hive_pid_t pong;
    if (hive_spawn(ponger, NULL, &pong) != 0)
        return;
    for (;;) {
        bool end = atomic_load(&ho_stop);
        if (!ping(pong, end))
            break;
        atomic_fetch_add(&ho_rounds, 1);
        if (end)
            break;
    }
    latch_count_down(&done);
}

static latch_t duties;

static void ho_sleeper(void *arg)
{
    hive_sleep(20); /* a timer, due while the pairs never let the worker idle */
    latch_count_down(&duties);
}

static void ho_yielder(void *arg)
{
    for (int i = 0; i < 100; i++)
        hive_yield(); /* a turn on the deque each time */
    latch_count_down(&duties);
}

static void ho_count_down(void *arg) { latch_count_down(&duties); }

/* Worker 0's statistics, printed; then the runtime stops. */
static hive__worker_stats_t ho_stats_then_stop(void)
{
    hive__worker_stats_t st;
    hive__worker_stats(0, &st);
    print_message("%ld round trips, %llu dispatches, %llu of them handoffs\n",
                  atomic_load(&ho_rounds), (unsigned long long)st.runs,
                  (unsigned long long)st.handoffs);
    stop();
    return st;
}

/* On one worker, two ping-pong pairs hand the worker to each other
 * directly (a parking process switches straight to the one it woke): the
 * scheduler loop still gets its turns, and with them a timer fires, a
 * task spawned from a foreign thread (the injection queue) runs and a
 * yielding process gets its turns on the deque - each while the pairs
 * never stop. The worker's statistics show the handoffs happened. */
static void handoff_chains_leave_the_loop_its_duties(void **state)
{
    atomic_store(&ho_stop, false);
    atomic_store(&ho_rounds, 0);
    latch_init(&done, 4);
    latch_init(&duties, 3);
    start(1, HIVE_PIN_COMPACT);
    for (int i = 0; i < 2; i++)
        assert_int_equal(hive_spawn(ho_pinger, NULL, NULL), 0);
    while (atomic_load(&ho_rounds) < 1000)
        sched_yield();
    assert_int_equal(hive_spawn(ho_sleeper, NULL, NULL), 0);
    assert_int_equal(hive_spawn(ho_yielder, NULL, NULL), 0);
    assert_int_equal(hive__task_spawn(ho_count_down, NULL, 0), 0);
    assert_true(latch_wait(&duties, DEADLINE));
    atomic_store(&ho_stop, true);
    assert_true(latch_wait(&done, DEADLINE));
    hive__worker_stats_t st = ho_stats_then_stop();
    assert_true(st.handoffs > 0);
    assert_true(st.handoffs < st.runs);
    latch_destroy(&duties);
    latch_destroy(&done);
}

/* One pair alone on one worker: nothing waits in the deque or the pinned
 * FIFO, so neither the LIFO streak's end nor a fair turn sends the pair
 * through the loop - only the handoff chain's limit (8) and the injection
 * queue's turn do: at least 80% of the dispatches are handoffs (8 of 9 at
 * most). When the streak and the fair turn applied with nobody waiting,
 * a round trip went through the loop every 8 (72%). */
static void a_lone_pair_hands_off_without_idle_turns(void **state)
{
    atomic_store(&ho_stop, false);
    atomic_store(&ho_rounds, 0);
    latch_init(&done, 2);
    start(1, HIVE_PIN_COMPACT);
    assert_int_equal(hive_spawn(ho_pinger, NULL, NULL), 0);
    while (atomic_load(&ho_rounds) < 100000)
        sched_yield();
    atomic_store(&ho_stop, true);
    assert_true(latch_wait(&done, DEADLINE));
    hive__worker_stats_t st = ho_stats_then_stop();
    assert_true(st.handoffs * 100 >= st.runs * 80);
    latch_destroy(&done);
}

/* A process that stepped aside in the resume slot (a caller whose callee
 * it just woke) is not starved by a pair waking each other through the
 * LIFO slot. On one worker: A calls actor B with a 50 ms timeout and steps
 * aside for it; B's handler, instead of replying, ping-pongs with process
 * C until a flag is set, each waking the other into the LIFO slot. Nothing
 * waits in the deque or the pinned FIFO, so only the resume slot's waiter
 * ends the LIFO streak: A runs, arms its timeout, times out and sets the
 * flag. When the streak ignored the resume slot, A never ran again and
 * this test hung (found in review). */
static _Atomic bool starve_stop;
static hive_pid_t starve_c;

static hive_next_t starve_handle(void *state, hive_msg_t *req)
{
    for (;;) {
        bool end = atomic_load(&starve_stop);
        if (!ping(starve_c, end) || end)
            break;
    }
    hive_reply(req, NULL, 0);
    return hive_continue(state);
}

static void starve_caller(void *arg)
{
    hive_actor_spec_t spec = {.handle = starve_handle};
    hive_subject_t b;
    if (hive_actor_start(&spec, NULL, &b, NULL) != 0)
        return;
    hive_msg_t *r = NULL;
    int rc = hive_call(b, NULL, 0, 50, &r, NULL);
    hive_msg_free(r);
    atomic_store(&starve_stop, true);
    if (rc == -ETIMEDOUT && hive_actor_stop(b.pid, hive_reason_normal(), 10000) == 0)
        latch_count_down(&done);
}

static void a_process_in_the_resume_slot_is_not_starved(void **state)
{
    atomic_store(&starve_stop, false);
    latch_init(&done, 2);
    start(1, HIVE_PIN_COMPACT);
    assert_int_equal(hive_spawn(ponger, NULL, &starve_c), 0);
    assert_int_equal(hive_spawn(starve_caller, NULL, NULL), 0);
    assert_true(latch_wait(&done, 30.0));
    stop();
    latch_destroy(&done);
}

/* The injection queue is checked even while local work never runs out: on
 * one worker a task yields forever, and a task spawned from a foreign
 * thread (through the injection queue) still runs and stops it. */
static void injection_queue_is_checked_while_local_work_remains(void **state)
{
    atomic_store(&flag, false);
    atomic_store(&spins, 0);
    latch_init(&done, 2);
    start(1, HIVE_PIN_COMPACT);
    assert_int_equal(hive__task_spawn(yield_until_flag, NULL, 0), 0);
    /* Wait (with a deadline) until the yielder is really looping. */
    for (int i = 0; i < 100000 && atomic_load(&spins) < 1000; i++)
        sched_yield();
    assert_true(atomic_load(&spins) >= 1000);
    assert_int_equal(hive__task_spawn(set_flag, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    latch_destroy(&done);
}

/* ---- park / unpark ----------------------------------------------------- */

typedef struct pp {
    hive__task_t *peer;
    _Atomic long *turn; /* whose turn: even = ping, odd = pong */
    long rounds;
    int parity;
    _Atomic(hive__task_t *) *slot;
} pp_t;

static _Atomic long turn;
static hive__task_t *_Atomic tasks[2];

static void pinger(void *arg)
{
    pp_t *p = arg;
    atomic_store(&tasks[p->parity], hive__task_self());
    while (!atomic_load(&tasks[1 - p->parity]))
        hive_yield();
    hive__task_t *peer = atomic_load(&tasks[1 - p->parity]);
    for (long i = 0; i < p->rounds; i++) {
        while ((atomic_load(&turn) & 1) != p->parity)
            hive__task_park();
        atomic_fetch_add(&turn, 1);
        hive__task_unpark(peer);
    }
    latch_count_down(&done);
}

/* Two tasks hand a turn back and forth through park/unpark 200,000 times
 * over 3 workers; neither misses a wake-up (a miss would hang: the deadline
 * catches it) and the turn count is exact. */
static void park_unpark_ping_pong_never_loses_a_wakeup(void **state)
{
    long rounds = hive_test_scaled(200000);
    pp_t a = {.rounds = rounds, .parity = 0}, b = {.rounds = rounds, .parity = 1};
    atomic_store(&turn, 0);
    atomic_store(&tasks[0], NULL);
    atomic_store(&tasks[1], NULL);
    latch_init(&done, 2);
    start(3, HIVE_PIN_COMPACT);
    hive__task_t *ta = spawn_kept(pinger, &a), *tb = spawn_kept(pinger, &b);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_true(latch_wait(&done, DEADLINE));
    assert_int_equal(atomic_load(&turn), 2 * rounds);
    while (hive__sched_live_tasks() != 0)
        sched_yield();
    stop();
    hive__task_free(ta);
    hive__task_free(tb);
    latch_destroy(&done);
}

static void stop_pingpong(void *arg)
{
    atomic_store(&flag, true);
    latch_count_down(&done);
}

static void endless_pinger(void *arg)
{
    pp_t *p = arg;
    atomic_store(&tasks[p->parity], hive__task_self());
    while (!atomic_load(&tasks[1 - p->parity]))
        hive_yield();
    hive__task_t *peer = atomic_load(&tasks[1 - p->parity]);
    if (p->parity == 0)
        hive__task_spawn(stop_pingpong, NULL, 0); /* queued behind the pair */
    while (!atomic_load(&flag)) {
        while ((atomic_load(&turn) & 1) != p->parity && !atomic_load(&flag))
            hive__task_park();
        atomic_fetch_add(&turn, 1);
        hive__task_unpark(peer);
    }
    hive__task_unpark(peer);
    latch_count_down(&done);
}

/* A ping-pong pair on one worker always wakes its partner into the LIFO
 * slot; the streak limit still lets the task queued behind them run. */
static void lifo_slot_cannot_starve_the_deque(void **state)
{
    pp_t a = {.parity = 0}, b = {.parity = 1};
    atomic_store(&flag, false);
    atomic_store(&turn, 0);
    atomic_store(&tasks[0], NULL);
    atomic_store(&tasks[1], NULL);
    latch_init(&done, 3);
    start(1, HIVE_PIN_COMPACT);
    hive__task_t *ta = spawn_kept(endless_pinger, &a), *tb = spawn_kept(endless_pinger, &b);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_true(latch_wait(&done, DEADLINE));
    while (hive__sched_live_tasks() != 0)
        sched_yield();
    stop();
    hive__task_free(ta);
    hive__task_free(tb);
    latch_destroy(&done);
}

/* ---- lifecycle, pinning, idle ---------------------------------------- */

static void count_down(void *arg) { latch_count_down(&done); }

/* Start, run work, stop - five times in one process. */
static void start_stop_cycles(void **state)
{
    for (int cycle = 0; cycle < 5; cycle++) {
        latch_init(&done, 1000);
        start(1 + cycle % 3, HIVE_PIN_COMPACT);
        for (int i = 0; i < 1000; i++)
            assert_int_equal(hive__task_spawn(count_down, NULL, 0), 0);
        assert_true(latch_wait(&done, DEADLINE));
        stop();
        latch_destroy(&done);
    }
    assert_int_equal(hive_runtime_stop(), -EALREADY);
}

static int ncpus_allowed(void)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    return CPU_COUNT(&set);
}

#define MAXW 8
static _Atomic int seen_cpu[MAXW];   /* the one CPU worker i may run on, or -2 */
static _Atomic int seen_count[MAXW]; /* CPUs in worker i's mask */

static void record_affinity(void *arg)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    int id = hive__worker_id(hive__worker_self());
    int only = -2;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            only = only == -2 ? c : -1;
    atomic_store(&seen_cpu[id], only);
    atomic_store(&seen_count[id], CPU_COUNT(&set));
    latch_count_down(&done);
}

/* With compact pinning each worker thread's affinity mask is exactly one
 * CPU, and the workers use distinct CPUs while there are enough; with pin
 * none the mask is the process's. */
static void workers_are_pinned_as_configured(void **state)
{
    int n = ncpus_allowed() < MAXW ? ncpus_allowed() : MAXW;
    for (int i = 0; i < MAXW; i++)
        atomic_store(&seen_cpu[i], -3);
    latch_init(&done, 2000);
    start(n, HIVE_PIN_COMPACT);
    for (int i = 0; i < 2000; i++)
        assert_int_equal(hive__task_spawn(record_affinity, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    for (int i = 0; i < n; i++) {
        int c = atomic_load(&seen_cpu[i]);
        if (c == -3)
            continue; /* this worker ran none of the tasks */
        assert_true(c >= 0);
        for (int j = 0; j < i; j++)
            assert_true(atomic_load(&seen_cpu[j]) != c);
    }
    latch_destroy(&done);

    for (int i = 0; i < MAXW; i++)
        atomic_store(&seen_cpu[i], -3);
    latch_init(&done, 200);
    start(2, HIVE_PIN_NONE);
    for (int i = 0; i < 200; i++)
        assert_int_equal(hive__task_spawn(record_affinity, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    for (int i = 0; i < 2; i++)
        if (atomic_load(&seen_cpu[i]) != -3)
            assert_int_equal(atomic_load(&seen_count[i]), ncpus_allowed());
    latch_destroy(&done);
}

/* liburcu's call_rcu thread, which frees every dead process, floats over
 * the workers' CPUs. liburcu makes it on the first call_rcu, and it used to
 * be a pinned worker's (freeing its first dead processes): the thread kept
 * that worker's one CPU and took its share of it alone. */
static void noop_process(void *arg) { (void)arg; }

static void rcu_reclaimers_float_over_every_allowed_cpu(void **state)
{
    int allowed = ncpus_allowed();
    if (allowed < 2)
        skip(); /* one CPU: nothing to float over */
    /* One pinned worker: the reclaim threads must not be confined to its
     * CPU, which it keeps busy. */
    start(1, HIVE_PIN_COMPACT);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(hive_spawn(noop_process, NULL, NULL), 0);
    for (int i = 0; i < 2000 && hive_process_count() > 0; i++)
        usleep(1000);
    assert_int_equal(hive_process_count(), 0);
    usleep(50000); /* the worker goes idle and hands its dead on */
    cpu_set_t set;
    pthread_t reclaimer = get_call_rcu_thread(get_default_call_rcu_data());
    assert_int_equal(pthread_getaffinity_np(reclaimer, sizeof set, &set), 0);
    assert_int_equal(CPU_COUNT(&set), allowed);
    assert_int_equal(pthread_getaffinity_np(hive__rcu_reclaimer_thread(), sizeof set, &set), 0);
    assert_int_equal(CPU_COUNT(&set), allowed);
    stop();
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An idle runtime sleeps: over one idle second the process uses under 5% of
 * one CPU (the parked workers' backstop wake-ups cost microseconds). */
static void idle_runtime_uses_almost_no_cpu(void **state)
{
    latch_init(&done, 10);
    start(4, HIVE_PIN_COMPACT);
    for (int i = 0; i < 10; i++)
        assert_int_equal(hive__task_spawn(count_down, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    struct timespec settle = {0, 100 * 1000000L}; /* let the searchers give up */
    nanosleep(&settle, NULL);
    double c0 = cpu_seconds();
    struct timespec one = {1, 0};
    nanosleep(&one, NULL);
    double used = cpu_seconds() - c0;
    printf("# idle second: %.4f s of CPU\n", used);
    stop();
    assert_true(used < 0.05);
    latch_destroy(&done);
}

/* ---- errors ------------------------------------------------------------ */

static void refused_config_starts_nothing(void **state)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    cfg.workers = 0;
    hive_diag_t diag;
    assert_int_equal(hive_runtime_start(&cfg, &diag), -EINVAL);
    assert_int_equal(diag.code, -EINVAL);
    assert_non_null(strstr(diag.message, "workers"));
    assert_int_equal(hive_runtime_workers(), 0);
    assert_int_equal(hive__task_spawn(count_down, NULL, 0), -EPERM);
}

static _Atomic int stop_rc, start_rc;

static void call_owner_functions_from_a_task(void *arg)
{
    atomic_store(&stop_rc, hive_runtime_stop());
    atomic_store(&start_rc, hive_runtime_start(NULL, NULL));
    latch_count_down(&done);
}

/* A task cannot stop or start the runtime it runs on: -EPERM, no deadlock. */
static void owner_calls_from_a_worker_are_refused(void **state)
{
    latch_init(&done, 1);
    start(2, HIVE_PIN_COMPACT);
    assert_int_equal(hive_runtime_start(NULL, NULL), -EALREADY);
    assert_int_equal(hive__task_spawn(call_owner_functions_from_a_task, NULL, 0), 0);
    assert_true(latch_wait(&done, DEADLINE));
    stop();
    assert_int_equal(atomic_load(&stop_rc), -EPERM);
    assert_int_equal(atomic_load(&start_rc), -EPERM);
    latch_destroy(&done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(million_tasks_from_one_worker_run_once_and_spread),
        cmocka_unit_test(yield_loop_cannot_starve_others),
        cmocka_unit_test(a_yield_goes_behind_the_queued_tasks),
        cmocka_unit_test(a_yield_after_waking_does_not_wait_for_the_woken),
        cmocka_unit_test(a_yielded_task_is_taken_from_a_stuck_worker),
        cmocka_unit_test(long_computation_does_not_stall_queued_tasks),
        cmocka_unit_test(injection_queue_is_checked_while_local_work_remains),
        cmocka_unit_test(park_unpark_ping_pong_never_loses_a_wakeup),
        cmocka_unit_test(lifo_slot_cannot_starve_the_deque),
        cmocka_unit_test(pinned_processes_are_never_stolen),
        cmocka_unit_test(pinned_and_unpinned_queues_take_turns),
        cmocka_unit_test(handoff_chains_leave_the_loop_its_duties),
        cmocka_unit_test(a_lone_pair_hands_off_without_idle_turns),
        cmocka_unit_test(a_process_in_the_resume_slot_is_not_starved),
        cmocka_unit_test(start_stop_cycles),
        cmocka_unit_test(workers_are_pinned_as_configured),
        cmocka_unit_test(rcu_reclaimers_float_over_every_allowed_cpu),
        cmocka_unit_test(idle_runtime_uses_almost_no_cpu),
        cmocka_unit_test(refused_config_starts_nothing),
        cmocka_unit_test(owner_calls_from_a_worker_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
