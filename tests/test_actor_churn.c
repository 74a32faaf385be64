/* test_actor_churn.c - the actor loop's stack release, under churn: 24
 * processes on 4 workers (more than the cores) call, cast to, suspend and
 * resume, read the state of, and kill and restart 32 echo actors, with call
 * timeouts of 1 ms (so late replies are dropped as stale) and 30 s. Proves:
 * every reply that arrives answers its own request (bad == 0), no call
 * hangs, suspend/resume always gets an answer from a live actor, a caller
 * never finds a message it did not ask for (the monitor a call keeps on its
 * callee fires as actors are killed: its DOWN must stay invisible), and
 * (under ASan) nothing leaks; under TSan, no race in the release path
 * (and in the warm slot, sched/worker.c, which the release path now goes
 * through). Arguments (optional): workers and operations per process; the
 * stress labels run it with 8 workers, 4 per core. */
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

#include "tests/latch.h"
#include "tests/rt.h"

#define NA 32
#define NC 24
static long ops = 1500;
static int workers = 4;

static _Atomic hive_pid_t apid[NA];
static _Atomic uint64_t atag[NA];
static _Atomic long ok, bad, timeouts, gone, stray;
static latch_t done;

static hive_next_t echo(void *state, hive_msg_t *m)
{
    uint64_t v[2] = {0, 0};
    if (hive_msg_size(m) == sizeof v)
        memcpy(v, hive_msg_data(m), sizeof v);
    if (v[1] % 7 == 0)
        hive_yield();
    if (hive_msg_is_call(m))
        hive_reply(m, v, sizeof v);
    return hive_continue(state);
}

static void restart(int i)
{
    hive_actor_spec_t spec = {.handle = echo};
    hive_subject_t s;
    if (hive_actor_start(&spec, NULL, &s, NULL) == 0) {
        atomic_store(&atag[i], s.tag);
        atomic_store(&apid[i], s.pid);
    }
}

static void caller(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    uint64_t me = hive_self();
    for (long k = 0; k < ops; k++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % NA);
        int op = (int)((seed >> 20) % 100);
        hive_subject_t s = hive_subject(atomic_load(&apid[i]), atomic_load(&atag[i]));
        uint64_t req[2] = {me, (uint64_t)k}, rep[2];
        if (op < 50) {
            int rc = hive_call_copy(s, req, sizeof req, rep, sizeof rep, op < 10 ? 1 : 30000, NULL);
            if (rc == 0)
                atomic_fetch_add(rep[0] == me && rep[1] == (uint64_t)k ? &ok : &bad, 1);
            else if (rc == -ETIMEDOUT)
                atomic_fetch_add(&timeouts, 1);
            else
                atomic_fetch_add(&gone, 1);
        } else if (op < 85) {
            hive_subject_send(s, req, sizeof req);
        } else if (op < 92) {
            if (hive_sys_suspend(s.pid, 30000) == 0) {
                hive_subject_send(s, req, sizeof req);
                if (hive_sys_resume(s.pid, 30000) == -ETIMEDOUT)
                    atomic_fetch_add(&bad, 1); /* a suspended actor left so */
            }
        } else if (op < 96) {
            void *st;
            hive_sys_get_state(s.pid, 1000, &st);
        } else {
            hive_kill(s.pid);
            restart(i);
        }
        hive_msg_t *m;
        if (hive_receive(0, &m) == 0) { /* nothing is ever ours to take */
            atomic_fetch_add(&stray, 1);
            hive_msg_free(m);
        }
    }
    latch_count_down(&done);
}

static void churn(void **state)
{
    assert_int_equal(rt_start(workers, 0, 0), 0);
    hive_pid_t me;
    assert_int_equal(hive_thread_attach(&me), 0);
    for (int i = 0; i < NA; i++)
        restart(i);
    latch_init(&done, NC);
    for (int c = 0; c < NC; c++)
        assert_int_equal(hive_spawn(caller, (void *)(uintptr_t)(c + 1), NULL), 0);
    assert_true(latch_wait(&done, 600));
    printf("# ok %ld bad %ld timeouts %ld gone %ld stray %ld\n", atomic_load(&ok),
           atomic_load(&bad), atomic_load(&timeouts), atomic_load(&gone), atomic_load(&stray));
    assert_int_equal(atomic_load(&bad), 0);
    assert_int_equal(atomic_load(&stray), 0);
    for (int i = 0; i < NA; i++)
        hive_actor_stop(atomic_load(&apid[i]), hive_reason_normal(), 5000);
    latch_destroy(&done);
    hive_thread_detach();
    assert_int_equal(hive_runtime_stop(), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        workers = atoi(argv[1]);
    if (argc > 2)
        ops = atol(argv[2]);
    if (workers < 1 || ops < 1) {
        fprintf(stderr, "usage: %s [workers >= 1] [ops per process >= 1]\n", argv[0]);
        return 2;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(churn)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
