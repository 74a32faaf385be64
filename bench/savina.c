/* savina.c - Savina workloads on hive's public API, written as a user would.
 *
 *   fjthrput   fork-join throughput: 60 processes, a driver process sends
 *              each of them 100,000 messages round-robin; ns per message
 *              (ops = 6,000,000). Savina's per-message sin() is left out
 *              (compilers fold a constant argument differently per language).
 *   fib        one process per call of fib(27) (base n <= 2 answers 1, as
 *              Savina): every call spawns two children that send their
 *              results to the parent; 392,835 processes; ns per process.
 *              Verifies fib(27) = 196418.
 *   chameneos  100 chameneos meet through a broker (the mall) 200,000 times;
 *              ns per meeting. Verifies the mall's count and that the
 *              creatures' meetings sum to 2 x 200,000.
 *   big        120 processes each send 20,000 pings to random peers (self
 *              included), every ping answered with a pong before the next;
 *              ns per ping (ops = 2,400,000). Verifies pings sent, pings
 *              received and pongs received all equal 120 x 20,000.
 *
 * The same workloads, with the same sizes, are in bench/peers/ for Erlang, Go
 * and CAF (`make bench-compare`). Each run starts its own runtime (with
 * --workers=N if given) outside the clock; the benchmark's thread attaches
 * (hive_thread_attach) and collects the result, so the clock stops when the
 * answer has reached it. A receive that waits more than kBenchDeadlineMs fails the
 * run instead of hanging it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <hive/hive.h>

#include "bench/bench_rt.h"
#include "bench/harness.h"



/* ---- shared: runtime around the clock ------------------------------- */

/* ---- fjthrput ------------------------------------------------------- */

enum { FJ_ACTORS = 60, FJ_MESSAGES = 100000 };
enum { FJ_WORK = 1, FJ_DONE };

typedef struct {
    hive_pid_t sink;
    hive_pid_t actors[FJ_ACTORS];
} fj_t;

static void fj_actor(void *arg)
{
    const fj_t *fj = arg;
    long count = 0;
    hive_msg_t *m;
    while (count < FJ_MESSAGES && hive_receive(HIVE_INFINITY, &m) == 0) {
        count += hive_msg_tag(m) == FJ_WORK;
        hive_msg_free(m);
    }
    hive_send(fj->sink, FJ_DONE, &count, sizeof count);
}

static void fj_driver(void *arg)
{
    const fj_t *fj = arg;
    for (long i = 0; i < FJ_MESSAGES; i++)
        for (int a = 0; a < FJ_ACTORS; a++)
            hive_send(fj->actors[a], FJ_WORK, NULL, 0);
}

static int bench_fjthrput(long ops, hive_bench_t *b)
{
    static fj_t fj; /* read by the processes; 480 bytes of pids */
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &fj.sink) != 0)
        return -1;
    hive_bench_resume(b);

    int rc = 0;
    for (int a = 0; a < FJ_ACTORS && rc == 0; a++)
        rc = hive_spawn(fj_actor, &fj, &fj.actors[a]);
    if (rc == 0)
        rc = hive_spawn(fj_driver, &fj, NULL);
    long total = 0;
    for (int a = 0; a < FJ_ACTORS && rc == 0; a++) {
        long n = 0;
        rc = bench_collect(FJ_DONE, &n, sizeof n);
        total += n;
    }

    hive_bench_pause(b);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "fjthrput: %s", hive_strerror(rc));
    if (total != ops)
        return hive_bench_fail(b, "fjthrput: %ld messages counted, expected %ld", total, ops);
    return 0;
}
HIVE_BENCH_EX("fjthrput", "hive", "60 processes x 100,000 messages, ns per message", bench_fjthrput,
              NULL, (long)FJ_ACTORS *FJ_MESSAGES, 0, 0.0);

/* ---- fib ------------------------------------------------------------ */

enum { FIB_N = 27, FIB_RESULT = 196418, FIB_CALLS = 2 * FIB_RESULT - 1 };
enum { FIB_ANSWER = 1 };

typedef struct {
    int n;
    hive_pid_t parent;
} fib_req_t;

/* The request lives on the parent's stack: the parent waits for both
 * answers, so it outlives the child's read of it at start. A failed spawn
 * poisons the answer (negative), which verification catches. */
static void fib_call(void *arg)
{
    const fib_req_t *rq = arg;
    int n = rq->n;
    hive_pid_t parent = rq->parent;
    long r = 1;
    if (n > 2) {
        fib_req_t a = {n - 1, hive_self()}, c = {n - 2, hive_self()};
        int spawned = (hive_spawn(fib_call, &a, NULL) == 0) + (hive_spawn(fib_call, &c, NULL) == 0);
        r = spawned == 2 ? 0 : -(1L << 40);
        for (int i = 0; i < spawned; i++) {
            hive_msg_t *m;
            long v = -(1L << 40);
            if (hive_receive_tag(FIB_ANSWER, HIVE_INFINITY, &m) == 0) {
                memcpy(&v, hive_msg_data(m), sizeof v);
                hive_msg_free(m);
            }
            r += v;
        }
    }
    hive_send(parent, FIB_ANSWER, &r, sizeof r);
}

static int bench_fib(long ops, hive_bench_t *b)
{
    fib_req_t root;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &root.parent) != 0)
        return -1;
    root.n = FIB_N;
    hive_bench_resume(b);

    long r = 0;
    int rc = hive_spawn(fib_call, &root, NULL);
    if (rc == 0)
        rc = bench_collect(FIB_ANSWER, &r, sizeof r);

    hive_bench_pause(b);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "fib: %s", hive_strerror(rc));
    if (r != FIB_RESULT)
        return hive_bench_fail(b, "fib(%d) = %ld, expected %d", FIB_N, r, FIB_RESULT);
    return 0;
}
HIVE_BENCH_EX("fib", "hive", "fib(27), a process per call (392,835), ns per process", bench_fib,
              NULL, FIB_CALLS, 0, 0.0);

/* ---- chameneos ------------------------------------------------------ */

enum { CH_CREATURES = 100, CH_MEETINGS = 200000 };
enum { CH_MEET = 1, CH_CHANGE, CH_EXIT, CH_COUNT, CH_RESULT };
enum { RED, YELLOW, BLUE, FADED };

typedef struct {
    int color;
    hive_pid_t who;
} ch_meet_t;

typedef struct {
    hive_pid_t mall;
    int color;
} ch_init_t;

typedef struct {
    long meetings; /* done by the mall */
    long sum;      /* reported by the creatures */
} ch_result_t;

static int ch_complement(int a, int b)
{
    return a == b ? a : 3 - a - b;
}

static void ch_creature(void *arg)
{
    const ch_init_t *init = arg; /* on the mall's stack; the mall outlives us */
    hive_pid_t mall = init->mall, self = hive_self();
    int color = init->color;
    long meetings = 0;
    ch_meet_t me = {color, self};
    hive_send(mall, CH_MEET, &me, sizeof me);
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        ch_meet_t other;
        memcpy(&other, hive_msg_data(m), sizeof other);
        hive_msg_free(m);
        if (tag == CH_EXIT)
            break;
        color = ch_complement(color, other.color);
        meetings++;
        me.color = color;
        if (tag == CH_MEET) /* the mall paired us: tell the partner */
            hive_send(other.who, CH_CHANGE, &me, sizeof me);
        hive_send(mall, CH_MEET, &me, sizeof me);
    }
    hive_send(mall, CH_COUNT, &meetings, sizeof meetings);
}

static void ch_mall(void *arg)
{
    hive_pid_t sink = *(const hive_pid_t *)arg;
    ch_init_t init[CH_CREATURES];
    for (int i = 0; i < CH_CREATURES; i++) {
        init[i] = (ch_init_t){hive_self(), i % 3};
        if (hive_spawn(ch_creature, &init[i], NULL) != 0) {
            ch_result_t r = {-1, -1}; /* creatures already started keep init alive: */
            hive_send(sink, CH_RESULT, &r, sizeof r);
            for (;;) /* never return while they may still read init[] */
                hive_sleep(1000);
        }
    }
    long left = CH_MEETINGS, faded = 0;
    ch_result_t res = {0, 0};
    ch_meet_t waiting = {0, HIVE_PID_NONE};
    hive_msg_t *m;
    while (faded < CH_CREATURES && hive_receive(HIVE_INFINITY, &m) == 0) {
        if (hive_msg_tag(m) == CH_COUNT) {
            long n;
            memcpy(&n, hive_msg_data(m), sizeof n);
            res.sum += n;
            faded++;
        } else {
            ch_meet_t in;
            memcpy(&in, hive_msg_data(m), sizeof in);
            if (left == 0) {
                hive_send(in.who, CH_EXIT, &in, sizeof in);
            } else if (waiting.who == HIVE_PID_NONE) {
                waiting = in;
            } else {
                left--;
                res.meetings++;
                hive_send(waiting.who, CH_MEET, &in, sizeof in);
                waiting.who = HIVE_PID_NONE;
            }
        }
        hive_msg_free(m);
    }
    hive_send(sink, CH_RESULT, &res, sizeof res);
}

static int bench_chameneos(long ops, hive_bench_t *b)
{
    hive_pid_t self;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &self) != 0)
        return -1;
    hive_bench_resume(b);

    ch_result_t r = {0, 0};
    int rc = hive_spawn(ch_mall, &self, NULL);
    if (rc == 0)
        rc = bench_collect(CH_RESULT, &r, sizeof r);

    hive_bench_pause(b);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "chameneos: %s", hive_strerror(rc));
    if (r.meetings != ops || r.sum != 2 * ops)
        return hive_bench_fail(b,
                               "chameneos: %ld meetings, creatures counted %ld; expected %ld, %ld",
                               r.meetings, r.sum, ops, 2 * ops);
    return 0;
}
HIVE_BENCH_EX("chameneos", "hive", "100 chameneos, 200,000 meetings via a broker, ns per meeting",
              bench_chameneos, NULL, CH_MEETINGS, 0, 0.0);

/* ---- big ------------------------------------------------------------ */

enum { BIG_PROCS = 120, BIG_PINGS = 20000 };
enum { BIG_START = 1, BIG_PING, BIG_PONG, BIG_DONE, BIG_EXIT, BIG_STATS };

typedef struct {
    hive_pid_t sink;
    hive_pid_t pids[BIG_PROCS];
} big_t;

typedef struct {
    const big_t *big;
    int id;
} big_arg_t;

typedef struct {
    long sent, pongs, pinged;
} big_stats_t;

static void big_proc(void *arg)
{
    const big_arg_t *a = arg;
    const big_t *big = a->big;
    uint64_t rng = 0x9E3779B97F4A7C15ull * (uint64_t)(a->id + 1); /* xorshift64 */
    big_stats_t st = {0, 0, 0};
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        hive_pid_t from = hive_msg_from(m);
        hive_msg_free(m);
        if (tag == BIG_PING) {
            st.pinged++;
            hive_send(from, BIG_PONG, NULL, 0);
            continue;
        }
        if (tag == BIG_EXIT)
            break;
        if (tag == BIG_PONG)
            st.pongs++;
        if (st.sent == BIG_PINGS) { /* after the last pong */
            hive_send(big->sink, BIG_DONE, NULL, 0);
            continue;
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        hive_send(big->pids[rng % BIG_PROCS], BIG_PING, NULL, 0);
        st.sent++;
    }
    hive_send(big->sink, BIG_STATS, &st, sizeof st);
}

static int bench_big(long ops, hive_bench_t *b)
{
    static big_t big;
    static big_arg_t args[BIG_PROCS];
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &big.sink) != 0)
        return -1;
    hive_bench_resume(b);

    int rc = 0;
    for (int i = 0; i < BIG_PROCS && rc == 0; i++) {
        args[i] = (big_arg_t){&big, i};
        rc = hive_spawn(big_proc, &args[i], &big.pids[i]);
    }
    for (int i = 0; i < BIG_PROCS && rc == 0; i++)
        rc = hive_send(big.pids[i], BIG_START, NULL, 0);
    for (int i = 0; i < BIG_PROCS && rc == 0; i++)
        rc = bench_collect(BIG_DONE, NULL, 0);
    for (int i = 0; i < BIG_PROCS && rc == 0; i++)
        rc = hive_send(big.pids[i], BIG_EXIT, NULL, 0);
    big_stats_t sum = {0, 0, 0};
    for (int i = 0; i < BIG_PROCS && rc == 0; i++) {
        big_stats_t st;
        rc = bench_collect(BIG_STATS, &st, sizeof st);
        sum.sent += st.sent;
        sum.pongs += st.pongs;
        sum.pinged += st.pinged;
    }

    hive_bench_pause(b);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "big: %s", hive_strerror(rc));
    if (sum.sent != ops || sum.pongs != ops || sum.pinged != ops)
        return hive_bench_fail(b, "big: %ld pings sent, %ld received, %ld pongs; expected %ld",
                               sum.sent, sum.pinged, sum.pongs, ops);
    return 0;
}
HIVE_BENCH_EX("big", "hive", "120 processes x 20,000 pings to random peers, ns per ping", bench_big,
              NULL, (long)BIG_PROCS *BIG_PINGS, 0, 0.0);
