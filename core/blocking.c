/* blocking.c - hive_blocking: a pool of OS threads for calls that can only
 * block (Erlang's dirty I/O schedulers, Go's syscall hand-off).
 *
 * `blocking_threads` threads take jobs from one shared FIFO (a mutex and a
 * condition variable: a job costs a thread switch and a blocking call
 * anyway, so a lock-free queue would buy nothing). The caller parks on its
 * task's park token; the pool thread that finishes the job unparks it.
 *
 * A job is reference counted (the caller's reference and the pool's) and
 * its state moves QUEUED -> RUNNING -> DONE, or to ABANDONED when the caller
 * ends first; a CAS decides each race, so exactly one side acts:
 *   - pool takes it:      QUEUED -> RUNNING (else: abandoned, skip it);
 *   - pool finishes:      RUNNING -> DONE, then unpark the caller (inside an
 *                         RCU read section, so the process struct cannot be
 *                         freed under the unpark);
 *   - caller ends first:  QUEUED -> ABANDONED (fn never runs), or
 *                         RUNNING -> ABANDONED after handing the job its
 *                         stack: fn's arg may point into that stack, so the
 *                         pool thread frees it only once fn has returned.
 * The result of an abandoned job is dropped with it.
 *
 * Runtime stop stops the pool first (while the scheduler still runs, so the
 * unparks of jobs finishing meanwhile land in live queues): it waits for the
 * calls in progress to return, and leaves queued jobs to their callers'
 * exit (which abandons them).
 */
#include <hive/io.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

#include "core/process.h"
#include "mailbox/alloc.h"
#include "sched/rcu.h"
#include "sched/stack.h"

enum { QUEUED = 0, RUNNING, DONE, ABANDONED };

struct hive__job {
    hive__job_t *next;
    hive_blocking_fn_t fn;
    void *arg;
    long result;
    hive__task_t *task;
    _Atomic int state;
    _Atomic int refs;
    hive__stack_t stack; /* the caller's, when it ended while fn ran */
    bool has_stack;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    hive__job_t *head, *tail; /* under lock */
    bool stopping;            /* under lock */
    bool running;             /* under lock */
    int nthreads;
    pthread_t *threads;
} B = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void job_put(hive__job_t *j)
{
    /* acq_rel: release our uses of the job, acquire the other side's before
     * the last one frees it. */
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1)
        hive__free(j, sizeof *j);
}

static void run_job(hive__job_t *j)
{
    int expect = QUEUED;
    /* acquire: pairs with the release CAS in hive__blocking_proc_exit() (an
     * abandoned job is skipped); relaxed on failure: we only skip it. */
    if (!atomic_compare_exchange_strong_explicit(&j->state, &expect, RUNNING,
                                                 memory_order_acquire, memory_order_relaxed)) {
        job_put(j);
        return;
    }
    long r = j->fn(j->arg);
    j->result = r;
    hive__rcu_enter(); /* keeps the caller's process struct while we unpark it */
    expect = RUNNING;
    /* acq_rel: release publishes result to the caller (pairs with the
     * acquire load in hive_blocking()); acquire on failure pairs with the
     * release CAS in hive__blocking_proc_exit(), which handed us the stack. */
    if (atomic_compare_exchange_strong_explicit(&j->state, &expect, DONE, memory_order_acq_rel,
                                                memory_order_acquire)) {
        hive__task_unpark(j->task);
    } else if (j->has_stack) {
        hive__stack_free(&j->stack); /* fn is done with the dead caller's stack */
        j->has_stack = false;
    }
    hive__rcu_leave();
    job_put(j);
}

static void *pool_main(void *unused)
{
    pthread_mutex_lock(&B.lock);
    for (;;) {
        while (!B.head && !B.stopping)
            pthread_cond_wait(&B.cond, &B.lock);
        if (!B.head)
            break; /* stopping, nothing queued */
        hive__job_t *j = B.head;
        if (B.stopping) {
            break; /* leave queued jobs to their callers' exit */
        }
        B.head = j->next;
        if (!B.head)
            B.tail = NULL;
        pthread_mutex_unlock(&B.lock);
        run_job(j);
        pthread_mutex_lock(&B.lock);
    }
    pthread_mutex_unlock(&B.lock);
    hive__stack_thread_flush();
    return NULL;
}

int hive__blocking_start(int nthreads)
{
    B.threads = hive__zalloc((size_t)nthreads * sizeof *B.threads);
    if (!B.threads)
        return -ENOMEM;
    pthread_mutex_lock(&B.lock);
    B.stopping = false;
    B.head = B.tail = NULL;
    pthread_mutex_unlock(&B.lock);
    int n = 0;
    for (; n < nthreads; n++)
        if (pthread_create(&B.threads[n], NULL, pool_main, NULL) != 0)
            break;
    B.nthreads = n;
    if (n < nthreads) {
        hive__blocking_stop();
        return -EAGAIN;
    }
    pthread_mutex_lock(&B.lock);
    B.running = true;
    pthread_mutex_unlock(&B.lock);
    return 0;
}

void hive__blocking_stop(void)
{
    if (!B.threads)
        return;
    pthread_mutex_lock(&B.lock);
    B.stopping = true;
    B.running = false;
    pthread_cond_broadcast(&B.cond);
    pthread_mutex_unlock(&B.lock);
    for (int i = 0; i < B.nthreads; i++)
        pthread_join(B.threads[i], NULL);
    /* What is still queued: drop the pool's references; the callers are
     * parked and abandon their jobs when the runtime ends them. */
    pthread_mutex_lock(&B.lock);
    hive__job_t *j = B.head;
    B.head = B.tail = NULL;
    pthread_mutex_unlock(&B.lock);
    while (j) {
        hive__job_t *next = j->next;
        job_put(j);
        j = next;
    }
    hive__free(B.threads, (size_t)B.nthreads * sizeof *B.threads);
    B.threads = NULL;
    B.nthreads = 0;
}

void hive__blocking_proc_exit(hive__proc_t *p)
{
    hive__job_t *j = p->job;
    if (!j)
        return;
    p->job = NULL;
    int expect = QUEUED;
    /* release: pairs with the acquire CAS in run_job(), which then skips
     * the job; acquire on failure: we read the state it moved to. */
    if (!atomic_compare_exchange_strong_explicit(&j->state, &expect, ABANDONED,
                                                 memory_order_release, memory_order_acquire) &&
        expect == RUNNING) {
        /* fn runs and may use our stack: hand it over, then abandon. */
        j->has_stack = hive__task_take_stack(&p->task, &j->stack);
        /* release: publishes the stack hand-over; pairs with the acquire
         * on failure of run_job()'s RUNNING -> DONE CAS. acquire on
         * failure: the DONE side's writes. */
        if (!atomic_compare_exchange_strong_explicit(&j->state, &expect, ABANDONED,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire)) {
            /* Done meanwhile: fn no longer uses the stack; free it here. */
            if (j->has_stack)
                hive__stack_free(&j->stack);
            j->has_stack = false;
        }
    }
    job_put(j);
}

HIVE_API int hive_blocking(hive_blocking_fn_t fn, void *arg, long *result)
{
    hive__proc_enter();
    if (!fn)
        return -EINVAL;
    hive__proc_t *p = hive__proc_self();
    if (!p || p->is_thread) {
        long r = fn(arg); /* a foreign thread may block itself */
        if (result)
            *result = r;
        return 0;
    }
    hive__job_t *j = hive__zalloc(sizeof *j);
    if (!j)
        return -ENOMEM;
    j->fn = fn;
    j->arg = arg;
    j->task = &p->task;
    atomic_init(&j->state, QUEUED);
    atomic_init(&j->refs, 2);
    pthread_mutex_lock(&B.lock);
    bool ok = B.running && !B.stopping;
    if (ok) {
        if (B.tail)
            B.tail->next = j;
        else
            B.head = j;
        B.tail = j;
        p->job = j;
        pthread_cond_signal(&B.cond);
    }
    pthread_mutex_unlock(&B.lock);
    if (!ok) {
        hive__free(j, sizeof *j);
        return -EPERM;
    }
    /* acquire: pairs with the release half of run_job()'s DONE CAS. */
    while (atomic_load_explicit(&j->state, memory_order_acquire) != DONE) {
        hive__task_park();
        hive__proc_checkpoint(p); /* a kill ends us here: blocking_proc_exit */
    }
    p->job = NULL;
    if (result)
        *result = j->result;
    job_put(j);
    hive__task_charge(1);
    return 0;
}
