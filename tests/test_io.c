/* test_io.c - hive_io_wait and hive_blocking: readiness and timeout, messages
 * that do not interrupt a wait, many processes on many sockets, two waiters
 * on one fd on one worker, kill during an fd wait (the interest leaves the
 * epoll set) and during a blocking call (the call finishes on the pool, its
 * result dropped, the caller's stack kept until then), the pool not stalling
 * the workers, and the pool saturated (jobs queue). Bad input returns codes.
 * Every wait is on a condition with a deadline, never a sleep. */
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "sched/worker.h"
#include "tests/latch.h"

#define WAIT_S 60.0

static int start(int workers, int blocking_threads)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    cfg.workers = workers;
    if (blocking_threads > 0)
        cfg.blocking_threads = blocking_threads;
    hive_diag_t d;
    int rc = hive_runtime_start(&cfg, &d);
    if (rc)
        fprintf(stderr, "runtime start: %s\n", d.message);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait (deadline WAIT_S) until cond(arg) holds. */
static bool eventually(bool (*cond)(void *), void *arg)
{
    double end = now_s() + WAIT_S;
    while (!cond(arg)) {
        if (now_s() > end)
            return false;
        usleep(1000);
    }
    return true;
}

static bool registered_is(void *n) { return hive__sched_poll_registered() == *(long *)n; }
static bool is_dead(void *pid) { return !hive_is_alive(*(hive_pid_t *)pid); }

/* ---- bad input ------------------------------------------------------------ */

static _Atomic int proc_rc[8];
static latch_t done;

static void bad_input_proc(void *arg)
{
    int fds[2];
    if (pipe(fds) != 0)
        return;
    close(fds[1]);
    int closed = fds[1];
    atomic_store(&proc_rc[0], hive_io_wait(closed, HIVE_IO_READ, 100));
    atomic_store(&proc_rc[1], hive_io_wait(fds[0], 0, 100));
    atomic_store(&proc_rc[2], hive_io_wait(fds[0], 8, 100));
    atomic_store(&proc_rc[3], (int)hive_io_read(fds[0], NULL, 4, 100));
    atomic_store(&proc_rc[4], (int)hive_io_read(closed, (char[4]){0}, 4, 100));
    atomic_store(&proc_rc[5], hive_blocking(NULL, NULL, NULL));
    atomic_store(&proc_rc[6], hive_io_accept(-3, NULL, NULL, 100));
    close(fds[0]);
    latch_count_down(&done);
}

static void bad_input_returns_codes(void **state)
{
    assert_int_equal(hive_io_wait(-1, HIVE_IO_READ, 0), -EBADF);
    assert_int_equal(hive_io_wait(0, 0, 0), -EINVAL);
    assert_int_equal(hive_io_set_nonblocking(-1), -EBADF);
    assert_int_equal(hive_io_connect(-1, NULL, 0, 0), -EINVAL);
    assert_int_equal(hive_blocking(NULL, NULL, NULL), -EINVAL);
    assert_int_equal(start(2, 0), 0);
    latch_init(&done, 1);
    assert_int_equal(hive_spawn(bad_input_proc, NULL, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), -EBADF);
    assert_int_equal(atomic_load(&proc_rc[1]), -EINVAL);
    assert_int_equal(atomic_load(&proc_rc[2]), -EINVAL);
    assert_int_equal(atomic_load(&proc_rc[3]), -EINVAL);
    assert_int_equal(atomic_load(&proc_rc[4]), -EBADF);
    assert_int_equal(atomic_load(&proc_rc[5]), -EINVAL);
    assert_int_equal(atomic_load(&proc_rc[6]), -EBADF);
    long zero = 0;
    assert_true(eventually(registered_is, &zero));
    assert_int_equal(hive_runtime_stop(), 0);
}

/* ---- readiness and timeout ------------------------------------------------ */

static int pipe_fds[2];

static void wait_read_proc(void *arg)
{
    int64_t timeout = (int64_t)(intptr_t)arg;
    atomic_store(&proc_rc[0], hive_io_wait(pipe_fds[0], HIVE_IO_READ, timeout));
    latch_count_down(&done);
}

static void io_wait_wakes_on_readiness_not_on_messages(void **state)
{
    assert_int_equal(start(2, 0), 0);
    assert_int_equal(pipe2(pipe_fds, O_NONBLOCK), 0);
    latch_init(&done, 1);
    atomic_store(&proc_rc[0], 12345);
    hive_pid_t pid;
    assert_int_equal(hive_spawn(wait_read_proc, (void *)(intptr_t)HIVE_INFINITY, &pid), 0);
    long one = 1, zero = 0;
    assert_true(eventually(registered_is, &one));
    /* A message does not end the wait. */
    assert_int_equal(hive_send(pid, 7, "x", 1), 0);
    assert_false(latch_wait(&done, 0.05));
    assert_int_equal(write(pipe_fds[1], "a", 1), 1);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), HIVE_IO_READ);
    assert_true(eventually(registered_is, &zero));
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    assert_int_equal(hive_runtime_stop(), 0);
}

static void io_wait_times_out(void **state)
{
    assert_int_equal(start(2, 0), 0);
    assert_int_equal(pipe2(pipe_fds, O_NONBLOCK), 0);
    latch_init(&done, 1);
    double t0 = now_s();
    assert_int_equal(hive_spawn(wait_read_proc, (void *)(intptr_t)30, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), -ETIMEDOUT);
    assert_true(now_s() - t0 >= 0.029); /* not early (a lower bound only) */
    long zero = 0;
    assert_true(eventually(registered_is, &zero));
    /* Timeout 0 just looks. */
    latch_init(&done, 1);
    assert_int_equal(hive_spawn(wait_read_proc, (void *)(intptr_t)0, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), -ETIMEDOUT);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    assert_int_equal(hive_runtime_stop(), 0);
}

/* Closing an fd while a process waits on it does not wake it (epoll drops
 * the entry silently): the wait ends at its timeout, and the registration
 * no longer counts. */
static void fd_closed_during_wait_ends_at_timeout(void **state)
{
    assert_int_equal(start(2, 0), 0);
    assert_int_equal(pipe2(pipe_fds, O_NONBLOCK), 0);
    latch_init(&done, 1);
    assert_int_equal(hive_spawn(wait_read_proc, (void *)(intptr_t)200, NULL), 0);
    long one = 1, zero = 0;
    assert_true(eventually(registered_is, &one));
    close(pipe_fds[0]);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), -ETIMEDOUT);
    assert_true(eventually(registered_is, &zero));
    close(pipe_fds[1]);
    assert_int_equal(hive_runtime_stop(), 0);
}

static void regular_file_is_always_ready(void **state)
{
    assert_int_equal(start(1, 0), 0);
    char path[] = "/tmp/hive-test-io-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    pipe_fds[0] = fd;
    latch_init(&done, 1);
    assert_int_equal(hive_spawn(wait_read_proc, (void *)(intptr_t)HIVE_INFINITY, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), HIVE_IO_READ);
    close(fd);
    assert_int_equal(hive_runtime_stop(), 0);
}

/* Two processes pinned to one worker wait on one fd: the second registers a
 * dup (the set refuses the same fd twice); both see the readiness. */
static void two_waiters_one_fd_one_worker(void **state)
{
    assert_int_equal(start(2, 0), 0);
    assert_int_equal(pipe2(pipe_fds, O_NONBLOCK), 0);
    latch_init(&done, 2);
    hive_spawn_opts_t o = {.worker = 0, .pinned = true};
    assert_int_equal(hive_spawn_opts(wait_read_proc, (void *)(intptr_t)HIVE_INFINITY, &o, NULL), 0);
    assert_int_equal(hive_spawn_opts(wait_read_proc, (void *)(intptr_t)HIVE_INFINITY, &o, NULL), 0);
    long two = 2, zero = 0;
    assert_true(eventually(registered_is, &two));
    assert_int_equal(write(pipe_fds[1], "a", 1), 1);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), HIVE_IO_READ);
    assert_true(eventually(registered_is, &zero));
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    assert_int_equal(hive_runtime_stop(), 0);
}

/* ---- many processes on many sockets --------------------------------------- */

#define PAIRS 200
#define ROUNDS 20

static int pairs[PAIRS][2];
static _Atomic int failures;

static void echo_proc(void *arg)
{
    int fd = pairs[(intptr_t)arg][0];
    char buf[64];
    for (;;) {
        ssize_t n = hive_io_read(fd, buf, sizeof buf, HIVE_INFINITY);
        if (n <= 0)
            break;
        if (hive_io_write(fd, buf, (size_t)n, HIVE_INFINITY) != n)
            atomic_fetch_add(&failures, 1);
    }
    latch_count_down(&done);
}

static void client_proc(void *arg)
{
    int i = (int)(intptr_t)arg, fd = pairs[i][1];
    for (int r = 0; r < ROUNDS; r++) {
        char out[32], in[32];
        int len = snprintf(out, sizeof out, "%d:%d", i, r);
        if (hive_io_write(fd, out, (size_t)len, HIVE_INFINITY) != len) {
            atomic_fetch_add(&failures, 1);
            break;
        }
        ssize_t got = 0;
        while (got < len) {
            ssize_t n = hive_io_read(fd, in + got, (size_t)(len - got), HIVE_INFINITY);
            if (n <= 0)
                break;
            got += n;
        }
        if (got != len || memcmp(in, out, (size_t)len) != 0)
            atomic_fetch_add(&failures, 1);
    }
    shutdown(fd, SHUT_WR); /* the echo process sees end of file */
    latch_count_down(&done);
}

static void many_processes_on_many_sockets(void **state)
{
    assert_int_equal(start(2, 0), 0);
    atomic_store(&failures, 0);
    latch_init(&done, 2 * PAIRS);
    for (int i = 0; i < PAIRS; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pairs[i]), 0);
        assert_int_equal(hive_spawn(echo_proc, (void *)(intptr_t)i, NULL), 0);
    }
    for (int i = 0; i < PAIRS; i++)
        assert_int_equal(hive_spawn(client_proc, (void *)(intptr_t)i, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&failures), 0);
    long zero = 0;
    assert_true(eventually(registered_is, &zero));
    for (int i = 0; i < PAIRS; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    assert_int_equal(hive_runtime_stop(), 0);
}

/* ---- kill during a wait ------------------------------------------------------ */

static void kill_during_fd_wait_removes_interest(void **state)
{
    assert_int_equal(start(2, 0), 0);
    assert_int_equal(pipe2(pipe_fds, O_NONBLOCK), 0);
    latch_init(&done, 1);
    hive_pid_t pid;
    assert_int_equal(hive_spawn(wait_read_proc, (void *)(intptr_t)HIVE_INFINITY, &pid), 0);
    long one = 1, zero = 0;
    assert_true(eventually(registered_is, &one));
    assert_int_equal(hive_kill(pid), 0);
    assert_true(eventually(is_dead, &pid));
    assert_true(eventually(registered_is, &zero));
    assert_false(latch_wait(&done, 0.01)); /* it never returned from the wait */
    /* Readiness after the death reaches no one. */
    assert_int_equal(write(pipe_fds[1], "a", 1), 1);
    assert_int_equal(hive_spawn(wait_read_proc, (void *)(intptr_t)HIVE_INFINITY, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&proc_rc[0]), HIVE_IO_READ);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    assert_int_equal(hive_runtime_stop(), 0);
}

static _Atomic int release_fn, fn_entered, fn_finished;

static long slow_writer(void *arg)
{
    atomic_store(&fn_entered, 1);
    while (!atomic_load(&release_fn))
        usleep(1000);
    memset(arg, 0xab, 256); /* the dead caller's stack: must still be ours */
    atomic_store(&fn_finished, 1);
    return 42;
}

static void blocking_caller(void *arg)
{
    char buf[256];
    long r = 0;
    hive_blocking(slow_writer, buf, &r);
    atomic_store(&proc_rc[0], (int)r); /* never reached when killed */
    latch_count_down(&done);
}

/* Fills its stack frame with a pattern, yields, checks it is intact. */
static void stack_user(void *arg)
{
    char buf[256];
    memset(buf, 0x5a, sizeof buf);
    hive_yield();
    hive_sleep(2);
    for (size_t i = 0; i < sizeof buf; i++)
        if (((volatile char *)buf)[i] != 0x5a) {
            atomic_fetch_add(&failures, 1);
            break;
        }
    latch_count_down(&done);
}

static bool fn_entered_set(void *unused) { return atomic_load(&fn_entered); }
static bool fn_finished_set(void *unused) { return atomic_load(&fn_finished); }

static void kill_during_blocking_call_drops_result(void **state)
{
    assert_int_equal(start(2, 2), 0);
    atomic_store(&release_fn, 0);
    atomic_store(&fn_entered, 0);
    atomic_store(&fn_finished, 0);
    atomic_store(&proc_rc[0], 0);
    atomic_store(&failures, 0);
    latch_init(&done, 1);
    hive_pid_t pid;
    assert_int_equal(hive_spawn(blocking_caller, NULL, &pid), 0);
    assert_true(eventually(fn_entered_set, NULL));
    assert_int_equal(hive_kill(pid), 0);
    assert_true(eventually(is_dead, &pid)); /* dead while fn still runs */
    assert_false(atomic_load(&fn_finished));
    /* New processes take stacks meanwhile: none may get the held one (fn
     * writes into it below; ASan or the counter would see the overlap). */
    latch_init(&done, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(hive_spawn(stack_user, NULL, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    atomic_store(&release_fn, 1);
    assert_true(eventually(fn_finished_set, NULL));
    assert_int_equal(atomic_load(&proc_rc[0]), 0); /* the result was dropped */
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(hive_runtime_stop(), 0);
}

/* ---- the pool keeps workers free, and queues when saturated ------------------- */

#define SLEEPERS 100

static _Atomic int sleepers_done, in_pool, peak;

static long sleep_100ms(void *arg)
{
    int now = atomic_fetch_add(&in_pool, 1) + 1;
    int p = atomic_load(&peak);
    while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
        ;
    usleep((useconds_t)(intptr_t)arg * 1000);
    atomic_fetch_sub(&in_pool, 1);
    return (long)(intptr_t)arg;
}

static void sleeper(void *arg)
{
    long r = 0;
    if (hive_blocking(sleep_100ms, arg, &r) != 0 || r != (long)(intptr_t)arg)
        atomic_fetch_add(&failures, 1);
    atomic_fetch_add(&sleepers_done, 1);
    latch_count_down(&done);
}

enum { PING = 1, PONG };
static _Atomic int ticks_when_done = -1;

static void ponger(void *arg)
{
    hive_msg_t *m;
    while (hive_receive_tag(PING, HIVE_INFINITY, &m) == 0) {
        hive_send(hive_msg_from(m), PONG, NULL, 0);
        hive_msg_free(m);
    }
}

static void ticker(void *arg)
{
    hive_pid_t pong = *(hive_pid_t *)arg;
    for (int i = 0; i < 200; i++) {
        hive_msg_t *m;
        hive_send(pong, PING, NULL, 0);
        if (hive_receive_tag(PONG, HIVE_INFINITY, &m) == 0)
            hive_msg_free(m);
        hive_yield();
    }
    atomic_store(&ticks_when_done, atomic_load(&sleepers_done));

}

static void blocking_calls_do_not_stall_workers(void **state)
{
    assert_int_equal(start(2, 16), 0);
    atomic_store(&failures, 0);
    atomic_store(&sleepers_done, 0);
    atomic_store(&ticks_when_done, -1);
    latch_init(&done, SLEEPERS);
    for (int i = 0; i < SLEEPERS; i++)
        assert_int_equal(hive_spawn(sleeper, (void *)(intptr_t)100, NULL), 0);
    static hive_pid_t pong;
    assert_int_equal(hive_spawn(ponger, NULL, &pong), 0);
    assert_int_equal(hive_spawn(ticker, &pong, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&failures), 0);
    /* 100 x 100 ms on 16 threads takes >= 700 ms; the ticker's 200 round
     * trips ran meanwhile, not after. */
    int seen = atomic_load(&ticks_when_done);
    assert_true(seen >= 0 && seen < SLEEPERS);
    hive_kill(pong);
    assert_int_equal(hive_runtime_stop(), 0);
}

static void saturated_pool_queues_jobs(void **state)
{
    assert_int_equal(start(2, 2), 0);
    atomic_store(&failures, 0);
    atomic_store(&peak, 0);
    atomic_store(&in_pool, 0);
    latch_init(&done, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(hive_spawn(sleeper, (void *)(intptr_t)20, NULL), 0);
    assert_true(latch_wait(&done, WAIT_S));
    assert_int_equal(atomic_load(&failures), 0);
    assert_int_equal(atomic_load(&peak), 2); /* never more than the pool's threads */
    assert_int_equal(hive_runtime_stop(), 0);
}

static long add_one(void *arg) { return (long)(intptr_t)arg + 1; }

/* The runtime is not running here: a foreign thread's call needs no pool
 * (io.h: the same code works in and out of processes), so 0, not -EPERM. */
static void blocking_on_foreign_thread_runs_inline(void **state)
{
    assert_int_equal(hive_runtime_workers(), 0);
    long r = 0;
    assert_int_equal(hive_blocking(add_one, (void *)(intptr_t)41, &r), 0);
    assert_int_equal(r, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_input_returns_codes),
        cmocka_unit_test(io_wait_wakes_on_readiness_not_on_messages),
        cmocka_unit_test(io_wait_times_out),
        cmocka_unit_test(fd_closed_during_wait_ends_at_timeout),
        cmocka_unit_test(regular_file_is_always_ready),
        cmocka_unit_test(two_waiters_one_fd_one_worker),
        cmocka_unit_test(many_processes_on_many_sockets),
        cmocka_unit_test(kill_during_fd_wait_removes_interest),
        cmocka_unit_test(kill_during_blocking_call_drops_result),
        cmocka_unit_test(blocking_calls_do_not_stall_workers),
        cmocka_unit_test(saturated_pool_queues_jobs),
        cmocka_unit_test(blocking_on_foreign_thread_runs_inline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
