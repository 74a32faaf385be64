/* bench_actor.c - actors on the public API (hive/actor.h), written as a user
 * would write them.
 *
 *   actor_call          a process calls an actor 1,000,000 times (8-byte
 *                       request, 8-byte reply), both pinned to worker 0;
 *                       ns per call (round trip, alias + monitor included)
 *   actor_call_xworker  the same, caller on worker 0 and actor on worker 1
 *   actor_cast          10,000,000 casts to a counting actor, then one call
 *                       reads the count; ns per message
 *   fjthrput_actors     Savina's fjthrput on actors: 60 actors x 100,000
 *                       casts from one driver; ns per message
 *   chameneos_actors    Savina's chameneos on actors: a mall actor and 100
 *                       creature actors, 200,000 meetings; ns per meeting
 *   idle_actors         1,000,000 actors started and left waiting for a
 *                       message; bytes_per_actor = VmRSS growth / actors
 *                       (an idle actor holds no stack); ns per actor
 *                       (start, then stop)
 *
 * Every run verifies its result and starts its own runtime outside the
 * clock (bench_rt.h); the benchmark's thread is attached and collects the
 * answer.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#include <hive/hive.h>

#include "bench/bench_rt.h"
#include "bench/harness.h"

enum { RESULT = 1, READY, DONE };

/* An actor's state on a cache line of its own. As plain statics the
 * counters shared a line with the driver's arguments, which the sender
 * reads on every iteration: each count the actor wrote cost the sender a
 * cache miss when the two ran on different workers (false sharing, ~100 ns
 * a message in actor_cast), a cost of the benchmark, not of the runtime. */
typedef struct {
    _Alignas(64) long n;
    char pad[64 - sizeof(long)];
} line_counter_t;

/* A counter: a cast (any message that is not a call) adds one; a call
 * answers the count; a message with value -1 stops it. */
static hive_next_t counter_handle(void *state, hive_msg_t *m)
{
    long *n = state;
    if (hive_msg_is_call(m)) {
        hive_reply(m, n, sizeof *n);
        return hive_continue(n);
    }
    if (bench_msg_long(m) == -1)
        return hive_stop();
    *n += 1;
    return hive_continue(n);
}

/* ---- actor_call, actor_call_xworker ------------------------------------ */

enum { CALLS = 1000000 };

typedef struct {
    hive_pid_t sink;
    hive_subject_t actor;
    long calls;
} call_arg_t;

static void caller(void *arg)
{
    const call_arg_t *c = arg;
    long good = 0;
    for (long i = 0; i < c->calls; i++) {
        long n = -1;
        if (hive_call_copy(c->actor, &i, sizeof i, &n, sizeof n, kBenchDeadlineMs, NULL) != 0)
            break;
        good += n == i + 1; /* the counter counted every request before it */
    }
    hive_send(c->sink, RESULT, &good, sizeof good);
}

/* The counter counts calls too: answer the count after this call. */
static hive_next_t call_counter_handle(void *state, hive_msg_t *m)
{
    long *n = state;
    *n += 1;
    hive_reply(m, n, sizeof *n);
    return hive_continue(n);
}

static int bench_actor_call(long ops, hive_bench_t *b)
{
    static call_arg_t c;
    static line_counter_t count;
    bool xworker = b->arg != NULL;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &c.sink) != 0)
        return -1;
    int wa = 0, wb = xworker && hive_runtime_workers() > 1 ? 1 : 0;
    hive_spawn_opts_t oa = {.worker = wa, .pinned = true}, ob = {.worker = wb, .pinned = true};
    hive_actor_spec_t spec = {.handle = call_counter_handle, .spawn = &ob};
    count.n = 0;
    c.calls = ops;
    int rc = hive_actor_start(&spec, &count.n, &c.actor, NULL);
    hive_bench_resume(b);

    long good = -1;
    if (rc == 0)
        rc = hive_spawn_opts(caller, &c, &oa, NULL);
    if (rc == 0)
        rc = bench_collect(RESULT, &good, sizeof good);

    hive_bench_pause(b);
    if (rc == 0)
        hive_actor_stop(c.actor.pid, hive_reason_normal(), kBenchDeadlineMs);
    int workers = hive_runtime_workers();
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "%s: %s", b->name, hive_strerror(rc));
    if (good != ops)
        return hive_bench_fail(b, "%s: %ld of %ld replies right", b->name, good, ops);
    hive_bench_params(b, "%ld calls, caller on worker %d, actor on worker %d of %d, ns per call",
                      ops, wa, wb, workers);
    return 0;
}
HIVE_BENCH_EX("actor_call", "hive", "1,000,000 calls, both on worker 0, ns per call",
              bench_actor_call, NULL, CALLS, 5, 0.0);
HIVE_BENCH_EX("actor_call_xworker", "hive",
              "1,000,000 calls, caller on worker 0, actor on worker 1, ns per call",
              bench_actor_call, (void *)1, CALLS, 5, 0.0);

/* ---- actor_cast ------------------------------------------------------- */

enum { CASTS = 10000000 };

typedef struct {
    hive_pid_t sink;
    hive_subject_t actor;
    long casts;
} cast_arg_t;

static void caster(void *arg)
{
    cast_arg_t *c = arg;
    long one = 1, n = -1;
    for (long i = 0; i < c->casts; i++)
        if (hive_subject_send(c->actor, &one, sizeof one) != 0)
            break;
    hive_call_copy(c->actor, NULL, 0, &n, sizeof n, kBenchDeadlineMs, NULL);
    hive_send(c->sink, RESULT, &n, sizeof n);
}

static int bench_actor_cast(long ops, hive_bench_t *b)
{
    static cast_arg_t c;
    static line_counter_t count;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &c.sink) != 0)
        return -1;
    hive_actor_spec_t spec = {.handle = counter_handle};
    count.n = 0;
    c.casts = ops;
    int rc = hive_actor_start(&spec, &count.n, &c.actor, NULL);
    hive_bench_resume(b);

    long n = -1;
    if (rc == 0)
        rc = hive_spawn(caster, &c, NULL);
    if (rc == 0)
        rc = bench_collect(RESULT, &n, sizeof n);

    hive_bench_pause(b);
    if (rc == 0)
        hive_actor_stop(c.actor.pid, hive_reason_normal(), kBenchDeadlineMs);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "actor_cast: %s", hive_strerror(rc));
    if (n != ops)
        return hive_bench_fail(b, "actor_cast: counted %ld of %ld", n, ops);
    return 0;
}
HIVE_BENCH_EX("actor_cast", "hive", "10,000,000 casts to a counting actor, ns per message",
              bench_actor_cast, NULL, CASTS, 5, 0.0);

/* ---- fjthrput_actors ---------------------------------------------------- */

enum { FJ_ACTORS = 60, FJ_MESSAGES = 100000 };

typedef struct {
    hive_pid_t sink;
    long count;
} fj_state_t;

static hive_next_t fj_handle(void *state, hive_msg_t *m)
{
    fj_state_t *s = state;
    if (++s->count == FJ_MESSAGES)
        hive_send(s->sink, DONE, &s->count, sizeof s->count);
    return hive_continue(s);
}

typedef struct {
    hive_subject_t actors[FJ_ACTORS];
} fj_driver_t;

static void fj_driver(void *arg)
{
    const fj_driver_t *d = arg;
    for (long i = 0; i < FJ_MESSAGES; i++)
        for (int a = 0; a < FJ_ACTORS; a++)
            hive_subject_send(d->actors[a], NULL, 0);
}

static int bench_fjthrput_actors(long ops, hive_bench_t *b)
{
    static fj_driver_t d;
    static fj_state_t st[FJ_ACTORS];
    hive_pid_t sink;
    hive_bench_pause(b);
    if (bench_rt_start(b, 0, &sink) != 0)
        return -1;
    hive_actor_spec_t spec = {.handle = fj_handle};
    int rc = 0;
    for (int a = 0; a < FJ_ACTORS && rc == 0; a++) {
        st[a] = (fj_state_t){sink, 0};
        rc = hive_actor_start(&spec, &st[a], &d.actors[a], NULL);
    }
    hive_bench_resume(b);

    if (rc == 0)
        rc = hive_spawn(fj_driver, &d, NULL);
    long total = 0;
    for (int a = 0; a < FJ_ACTORS && rc == 0; a++) {
        long n = 0;
        rc = bench_collect(DONE, &n, sizeof n);
        total += n;
    }

    hive_bench_pause(b);
    bench_rt_stop(); /* ends the actors */
    if (rc != 0)
        return hive_bench_fail(b, "fjthrput_actors: %s", hive_strerror(rc));
    if (total != ops)
        return hive_bench_fail(b, "fjthrput_actors: %ld messages counted, expected %ld", total,
                               ops);
    return 0;
}
HIVE_BENCH_EX("fjthrput_actors", "hive", "60 actors x 100,000 casts, ns per message",
              bench_fjthrput_actors, NULL, (long)FJ_ACTORS *FJ_MESSAGES, 0, 0.0);

/* ---- chameneos_actors -------------------------------------------------- */

enum { CH_CREATURES = 100, CH_MEETINGS = 200000 };
enum { CH_MEET = 1, CH_CHANGE, CH_EXIT, CH_COUNT };

typedef struct {
    int color;
    hive_subject_t who;
} ch_meet_t;

typedef struct {
    hive_subject_t mall, self;
    int color;
    long meetings;
} creature_t;

typedef struct {
    hive_pid_t sink;
    hive_subject_t self;
    long left, faded, meetings, sum;
    ch_meet_t waiting;
    bool have_waiting;
    creature_t creatures[CH_CREATURES];
} mall_t;

static int ch_complement(int a, int b) { return a == b ? a : 3 - a - b; }

static int creature_init(void *arg, void **state, hive_reason_t *fail)
{
    creature_t *c = arg;
    *state = c;
    hive_subject_new(&c->self); /* the actor's own subject: the one start returns */
    ch_meet_t me = {c->color, c->self};
    return hive_subject_send(c->mall, &me, sizeof me);
}

static hive_next_t creature_handle(void *state, hive_msg_t *m)
{
    creature_t *c = state;
    ch_meet_t other = {0, {HIVE_PID_NONE, 0}};
    int tag = 0;
    if (hive_msg_size(m) == sizeof other + sizeof tag) {
        memcpy(&tag, hive_msg_data(m), sizeof tag);
        memcpy(&other, (const char *)hive_msg_data(m) + sizeof tag, sizeof other);
    }
    if (tag == CH_EXIT) {
        long v[2] = {CH_COUNT, c->meetings};
        hive_subject_send(c->mall, v, sizeof v);
        return hive_stop();
    }
    c->color = ch_complement(c->color, other.color);
    c->meetings++;
    ch_meet_t me = {c->color, c->self};
    if (tag == CH_MEET) { /* the mall paired us: tell the partner */
        char buf[sizeof tag + sizeof me];
        int t = CH_CHANGE;
        memcpy(buf, &t, sizeof t);
        memcpy(buf + sizeof t, &me, sizeof me);
        hive_subject_send(other.who, buf, sizeof buf);
    }
    hive_subject_send(c->mall, &me, sizeof me);
    return hive_continue(c);
}

static void send_tagged(hive_subject_t to, int tag, const ch_meet_t *m)
{
    char buf[sizeof tag + sizeof *m];
    memcpy(buf, &tag, sizeof tag);
    memcpy(buf + sizeof tag, m, sizeof *m);
    hive_subject_send(to, buf, sizeof buf);
}

static int mall_init(void *arg, void **state, hive_reason_t *fail)
{
    mall_t *mall = arg;
    *state = mall;
    hive_subject_new(&mall->self);
    hive_actor_spec_t spec = {.init = creature_init, .handle = creature_handle};
    for (int i = 0; i < CH_CREATURES; i++) {
        mall->creatures[i] = (creature_t){.mall = mall->self, .color = i % 3};
        int rc = hive_actor_start(&spec, &mall->creatures[i], NULL, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static hive_next_t mall_handle(void *state, hive_msg_t *m)
{
    mall_t *mall = state;
    if (hive_msg_size(m) == 2 * sizeof(long)) { /* a creature's count */
        long v[2];
        memcpy(v, hive_msg_data(m), sizeof v);
        mall->sum += v[1];
        if (++mall->faded == CH_CREATURES) {
            long r[2] = {mall->meetings, mall->sum};
            hive_send(mall->sink, RESULT, r, sizeof r);
            return hive_stop();
        }
        return hive_continue(mall);
    }
    ch_meet_t in;
    memcpy(&in, hive_msg_data(m), sizeof in);
    if (mall->left == 0) {
        send_tagged(in.who, CH_EXIT, &in);
    } else if (!mall->have_waiting) {
        mall->waiting = in;
        mall->have_waiting = true;
    } else {
        mall->left--;
        mall->meetings++;
        send_tagged(mall->waiting.who, CH_MEET, &in);
        mall->have_waiting = false;
    }
    return hive_continue(mall);
}

static int bench_chameneos_actors(long ops, hive_bench_t *b)
{
    static mall_t mall;
    hive_bench_pause(b);
    memset(&mall, 0, sizeof mall);
    if (bench_rt_start(b, 0, &mall.sink) != 0)
        return -1;
    mall.left = ops;
    hive_bench_resume(b);

    hive_actor_spec_t spec = {.init = mall_init, .handle = mall_handle,
                              .init_timeout_ms = kBenchDeadlineMs};
    int rc = hive_actor_start(&spec, &mall, NULL, NULL);
    long r[2] = {0, 0};
    if (rc == 0)
        rc = bench_collect(RESULT, r, sizeof r);

    hive_bench_pause(b);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "chameneos_actors: %s", hive_strerror(rc));
    if (r[0] != ops || r[1] != 2 * ops)
        return hive_bench_fail(b, "chameneos_actors: %ld meetings, creatures counted %ld", r[0],
                               r[1]);
    return 0;
}
HIVE_BENCH_EX("chameneos_actors", "hive", "100 chameneos actors, 200,000 meetings, ns per meeting",
              bench_chameneos_actors, NULL, CH_MEETINGS, 0, 0.0);

/* ---- idle_actors --------------------------------------------------------- */

enum { IDLE_ACTORS = 1000000, IDLE_MAX_PROCESSES = 1100000 };

typedef struct {
    hive_pid_t sink;
    long n;
    hive_subject_t actors[IDLE_ACTORS]; /* 16 MB: touched before the baseline */
} idle_t;

static long idle_count; /* every actor's state: they count nothing, so share */

static void idle_starter(void *arg)
{
    idle_t *d = arg;
    hive_actor_spec_t spec = {.handle = counter_handle};
    long started = 0;
    for (long i = 0; i < d->n; i++)
        started += hive_actor_start(&spec, &idle_count, &d->actors[i], NULL) == 0;
    hive_send(d->sink, READY, &started, sizeof started);
}

static void idle_stopper(void *arg)
{
    idle_t *d = arg;
    long stop = -1;
    for (long i = 0; i < d->n; i++)
        hive_subject_send(d->actors[i], &stop, sizeof stop);
}

static int bench_idle_actors(long ops, hive_bench_t *b)
{
    static idle_t d;
    hive_bench_pause(b);
    if (ops > IDLE_ACTORS)
        return hive_bench_fail(b, "idle_actors: at most %d", IDLE_ACTORS);
    memset(d.actors, 0, sizeof d.actors);
    d.n = ops;
    if (bench_rt_start(b, IDLE_MAX_PROCESSES, &d.sink) != 0)
        return -1;
    bench_purge_allocator();
    long rss0 = bench_vm_rss();
    hive_bench_resume(b);

    long started = -1;
    int rc = hive_spawn(idle_starter, &d, NULL);
    if (rc == 0)
        rc = bench_collect(READY, &started, sizeof started);

    hive_bench_pause(b);
    bench_wait_process_count(ops + 1); /* the starter has ended */
    long rss1 = bench_vm_rss();
    long alive = hive_process_count() - 1;
    hive_bench_resume(b);

    if (rc == 0)
        rc = hive_spawn(idle_stopper, &d, NULL);
    bool drained = rc == 0 && bench_wait_process_count(1);

    hive_bench_pause(b);
    bench_rt_stop();
    if (rc != 0)
        return hive_bench_fail(b, "idle_actors: %s", hive_strerror(rc));
    if (started != ops || !drained)
        return hive_bench_fail(b, "idle_actors: %ld started, not all stopped", started);
    if (rss0 < 0 || rss1 < 0)
        return hive_bench_fail(b, "idle_actors: cannot read VmRSS");
    double per = (double)(rss1 - rss0) / (double)ops;
    hive_bench_counter(b, "bytes_per_actor", per);
    hive_bench_params(b,
                      "%ld idle actors (%ld alive), %.0f bytes each (VmRSS +%.1f MiB); ns per "
                      "actor: start, then stop",
                      ops, alive, per, (double)(rss1 - rss0) / 1048576.0);
    return 0;
}
HIVE_BENCH_EX("idle_actors", "hive", "1,000,000 idle actors, bytes_per_actor",
              bench_idle_actors, NULL, IDLE_ACTORS, 3, 0.0);
