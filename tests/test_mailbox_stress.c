/* test_mailbox_stress.c - many senders into one mailbox, through the public
 * API, with more workers (4) than this machine's cores so that workers are
 * preempted in the middle of sends, wake-ups and receives.
 *
 * 8 sender processes and 3 foreign threads that never attach send numbered
 * messages {sender, seq} to one receiver process at the same time. The
 * receiver counts every message and checks each sender's sequence; when it
 * has them all (or when nothing has come for WAIT_MS) it reports its totals
 * to the test's thread, which is attached. Claims: nothing is lost, nothing
 * arrives twice, order holds per sender - for senders on workers and for
 * sends injected from plain threads alike - and no wake-up is lost (a lost
 * one shows as the receiver timing out short of the total).
 *
 * Three ways (see run_mode_t): senders flat out and the receiver takes any
 * message; the receiver waits only for the data tag while every
 * NOISE_EVERY-th message carries a second tag it takes only at the end (the
 * selective-receive wait, where senders skip the wake-up for a tag the
 * receiver does not want; a wrong skip shows as a lost wake-up); and
 * senders that wait for an ack after every BURST messages, so the receiver
 * blocks again and again (a lost wake-up there stalls the run: found by
 * dropping the rescan before blocking in receive(), core/process.c).
 *
 * Usage: test_mailbox_stress [messages per sender]; scaled by hive_test_scaled. */
#include <pthread.h>
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

#define WORKERS 4
#define PROC_SENDERS 8
#define THREAD_SENDERS 3
#define SENDERS (PROC_SENDERS + THREAD_SENDERS)
/* Every tagged receive walks the skipped messages first (as Erlang's
 * receive does): few noise messages keep this test linear. */
#define NOISE_EVERY 512
#define WAIT_MS 30000    /* longest silence a receiver accepts before giving up */
#define REPORT_MS 120000 /* a whole run, under a sanitizer too */
#define ROUNDS 4         /* fresh receiver each round: more start-up and drain races */

enum { T_DATA = 1, T_NOISE, T_REPORT, T_ACK, T_SENT };

/* STREAM: senders send flat out, the receiver takes any message.
 * TAGGED: as STREAM, but the receiver waits for T_DATA only and some
 *         messages are T_NOISE, taken at the end.
 * ACKED:  after every BURST messages a sender waits for the receiver's ack,
 *         so the receiver runs dry and blocks over and over: each burst is
 *         a race between its block and the senders' wake-ups. The foreign
 *         threads attach to get their acks. */
typedef enum mode { STREAM, TAGGED, ACKED } run_mode_t;
#define BURST 2

static long per_sender = 20000;
static hive_pid_t me;
static hive_pid_t receiver_pid;
static run_mode_t mode;
static bool noisy; /* mode == TAGGED: senders also send T_NOISE */
static _Atomic long send_errors;

typedef struct msg {
    long sender;
    long seq;
} msg_t;

typedef struct report {
    long received;     /* T_DATA messages */
    long noise;        /* T_NOISE messages, taken after the data */
    long per[SENDERS]; /* T_DATA per sender */
    long out_of_order; /* a seq other than the sender's next (lost, twice, late) */
    long bad;          /* wrong size or sender id */
    int last_rc;       /* 0, or why the receiver stopped early */
} report_t;

static int setup(void **state)
{
    return rt_start_attached(WORKERS, 0, 0, &me);
}

static int teardown(void **state) { return rt_stop_attached(); }

static int send_one(long sender, long seq)
{
    msg_t v = {sender, seq};
    int rc;
    hive_msg_t *ack;
    /* T_NOISE every NOISE_EVERY-th message, numbered in the same sequence. */
    uint64_t tag = noisy && seq % NOISE_EVERY == NOISE_EVERY - 1 ? T_NOISE : T_DATA;
    while ((rc = hive_send(receiver_pid, tag, &v, sizeof v)) == -ENOMEM)
        hive_yield();
    if (rc == 0 && mode == ACKED && seq % BURST == BURST - 1 &&
        (rc = hive_receive_tag(T_ACK, WAIT_MS, &ack)) == 0)
        hive_msg_free(ack);
    if (rc != 0)
        atomic_fetch_add(&send_errors, 1);
    return rc;
}

static long data_per_sender(void)
{
    long n = 0;
    for (long i = 0; i < per_sender; i++)
        n += !(noisy && i % NOISE_EVERY == NOISE_EVERY - 1);
    return n;
}

/* The seq of a sender's data message after `seq` (noise takes some). */
static long next_data_seq(long seq)
{
    return noisy && (seq + 1) % NOISE_EVERY == NOISE_EVERY - 1 ? seq + 2 : seq + 1;
}

/* Take T_NOISE messages (waiting up to timeout_ms for each) until `upto`
 * have been taken in all, checking each sender's noise comes in order. */
static void take_noise(report_t *r, long *next_noise, int64_t timeout_ms, long upto)
{
    hive_msg_t *m;
    while (r->noise < upto && hive_receive_tag(T_NOISE, timeout_ms, &m) == 0) {
        msg_t v;
        if (hive_msg_size(m) != sizeof v) {
            r->bad++;
        } else {
            memcpy(&v, hive_msg_data(m), sizeof v);
            if (v.sender < 0 || v.sender >= SENDERS)
                r->bad++;
            else if (v.seq != next_noise[v.sender])
                r->out_of_order++;
            else
                next_noise[v.sender] += NOISE_EVERY;
        }
        r->noise++;
        hive_msg_free(m);
    }
}

static void receiver(void *arg)
{
    report_t *r = calloc(1, sizeof *r);
    long next[SENDERS] = {0}, next_noise[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        next_noise[i] = NOISE_EVERY - 1;
    long total = data_per_sender() * SENDERS;
    while (r->received < total) {
        hive_msg_t *m;
        int rc = noisy ? hive_receive_tag(T_DATA, WAIT_MS, &m) : hive_receive(WAIT_MS, &m);
        if (rc != 0) {
            r->last_rc = rc;
            break;
        }
        msg_t v;
        if (hive_msg_tag(m) != T_DATA || hive_msg_size(m) != sizeof v) {
            r->bad++;
            hive_msg_free(m);
            continue;
        }
        memcpy(&v, hive_msg_data(m), sizeof v);
        hive_pid_t from = hive_msg_from(m);
        hive_msg_free(m);
        if (mode == ACKED && v.seq % BURST == BURST - 1 && hive_send(from, T_ACK, NULL, 0) != 0)
            r->bad++;
        if (v.sender < 0 || v.sender >= SENDERS) {
            r->bad++;
            continue;
        }
        if (v.seq != next[v.sender])
            r->out_of_order++;
        next[v.sender] = next_data_seq(v.seq);
        r->per[v.sender]++;
        r->received++;
    }
    /* The rest of the noise. */
    if (noisy && r->last_rc == 0)
        take_noise(r, next_noise, WAIT_MS, (per_sender - data_per_sender()) * SENDERS);
    hive_send_ptr(me, T_REPORT, r, free);
}

static void proc_sender(void *arg)
{
    long id = (long)(intptr_t)arg;
    for (long i = 0; i < per_sender; i++)
        if (send_one(id, i) != 0)
            break;
    /* Tell the test's thread: the next run may change `mode` once every
     * sender is past its last read of it. */
    hive_send(me, T_SENT, NULL, 0);
}

static _Atomic bool threads_go;

static void *thread_sender(void *arg)
{
    long id = (long)(intptr_t)arg;
    if (mode == ACKED && hive_thread_attach(NULL) != 0) {
        atomic_fetch_add(&send_errors, 1);
        return NULL;
    }
    while (!atomic_load(&threads_go))
        sched_yield();
    for (long i = 0; i < per_sender; i++)
        if (send_one(id, i) != 0)
            break;
    if (mode == ACKED)
        hive_thread_detach();
    return NULL;
}

static void run(run_mode_t m_)
{
    mode = m_;
    noisy = mode == TAGGED;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    atomic_store(&send_errors, 0);
    atomic_store(&threads_go, false);
    assert_int_equal(hive_spawn(receiver, NULL, &receiver_pid), 0);
    pthread_t th[THREAD_SENDERS];
    for (long t = 0; t < THREAD_SENDERS; t++)
        assert_int_equal(
            pthread_create(&th[t], NULL, thread_sender, (void *)(intptr_t)(PROC_SENDERS + t)), 0);
    for (long s = 0; s < PROC_SENDERS; s++)
        assert_int_equal(hive_spawn(proc_sender, (void *)(intptr_t)s, NULL), 0);
    atomic_store(&threads_go, true);
    for (int t = 0; t < THREAD_SENDERS; t++)
        pthread_join(th[t], NULL);

    hive_msg_t *m;
    int rc = hive_receive_tag(T_REPORT, REPORT_MS, &m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0)
        fail_msg("no report from the receiver: %s", hive_strerror(rc));
    report_t *r = hive_msg_take_ptr(m);
    hive_msg_free(m);
    for (int i = 0; i < PROC_SENDERS; i++) {
        if ((rc = hive_receive_tag(T_SENT, REPORT_MS, &m)) != 0)
            fail_msg("sender %d of %d did not finish: %s", i, PROC_SENDERS, hive_strerror(rc));
        hive_msg_free(m);
    }
    long want = data_per_sender();
    static const char *const names[] = {"stream", "tagged", "acked"};
    printf("# %s: %d workers, %d process + %d thread senders x %ld: received %ld (+%ld noise), "
           "out of order %ld, bad %ld, stopped by %s, %.2f s\n",
           names[mode], WORKERS, PROC_SENDERS, THREAD_SENDERS, per_sender, r->received, r->noise,
           r->out_of_order, r->bad, r->last_rc ? hive_strerror(r->last_rc) : "nothing",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    assert_int_equal(atomic_load(&send_errors), 0);
    assert_int_equal(r->last_rc, 0);
    assert_int_equal(r->bad, 0);
    assert_int_equal(r->out_of_order, 0);
    for (int s = 0; s < SENDERS; s++)
        assert_int_equal(r->per[s], want);
    assert_int_equal(r->received, want * SENDERS);
    assert_int_equal(r->noise, (per_sender - want) * SENDERS);
    free(r);
    /* Exactly: nothing more comes (no message delivered twice). */
    assert_false(hive_receive(0, &m) == 0);
}

static void every_message_arrives_once_in_order_from_processes_and_threads(void **state)
{
    for (int round = 0; round < ROUNDS; round++)
        run(STREAM);
}

static void tagged_receive_under_load_skips_other_tags_and_loses_no_wakeup(void **state)
{
    for (int round = 0; round < ROUNDS; round++)
        run(TAGGED);
}

static void receiver_that_runs_dry_after_every_burst_is_always_woken(void **state)
{
    for (int round = 0; round < 4 * ROUNDS; round++)
        run(ACKED);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        per_sender = atol(argv[1]);
    if (per_sender < 1) {
        fprintf(stderr, "usage: %s [messages per sender]\n", argv[0]);
        return 2;
    }
    per_sender = hive_test_scaled(per_sender);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            every_message_arrives_once_in_order_from_processes_and_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(
            tagged_receive_under_load_skips_other_tags_and_loses_no_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(receiver_that_runs_dry_after_every_burst_is_always_woken,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
