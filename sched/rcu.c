/* rcu.c - RCU read-side for foreign threads, and hive's reclaim thread
 * for batches of dead objects (see rcu.h). */
#include "sched/rcu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <urcu-qsbr.h>

#include "sched/fence.h"
#include "sched/futex.h"
#include "sched/worker.h"

#if HIVE_TSAN
#include <sanitizer/tsan_interface.h>
static char tsan_grace_token;
#define QS_ANNOTATE() __tsan_release(&tsan_grace_token)
void hive__rcu_callback_begin(void) { __tsan_acquire(&tsan_grace_token); }
#else
#define QS_ANNOTATE() ((void)0)
#endif

void hive__rcu_quiescent(void)
{
    QS_ANNOTATE();
    rcu_quiescent_state();
}

void hive__rcu_offline(void)
{
    QS_ANNOTATE();
    rcu_thread_offline();
}

void hive__rcu_online(void) { rcu_thread_online(); }

/* ---- hive's reclaim thread (see rcu.h) -------------------------------- */

static struct {
    pthread_mutex_t lock; /* making the thread */
    pthread_t thread;
    bool made;
    /* Batches waiting for a grace period: the injection queue's Treiber
     * stack with a take-all pop (sched/inject.h), which hands them over
     * oldest first. */
    hive__inject_t pending;
    /* 1 while the thread is about to sleep or sleeps on it. */
    _Atomic uint32_t sleeping;
    _Atomic unsigned long rounds;
} B = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The lost wake-up to rule out: a batch pushed while the thread decides to
 * sleep. The thread does (T1) store sleeping = 1, (T2) a seq_cst fence,
 * (T3) look at the queue; a pusher does (D1) its push, (D2) a seq_cst
 * fence, (D3) load sleeping. The fences are totally ordered: if T2 comes
 * first, D3 sees T1's 1 and the pusher wakes the thread; if D2 comes
 * first, T3 sees the push and the thread does not sleep (C11 7.17.4, the
 * argument of sched/park.c). The pusher clears `sleeping` with an exchange
 * (so one pusher calls FUTEX_WAKE) before the wake, so a wake that comes
 * before the thread's FUTEX_WAIT makes that wait return at once (its
 * expected value, 1, is gone). */
_Static_assert(offsetof(hive__rcu_batch_t, node) == 0, "a queued node is its batch");

static void *reclaim_main(void *arg)
{
    (void)arg;
    for (;;) {
        hive__inject_node_t *n = hive__inject_take_all(&B.pending); /* oldest first */
        if (!n) {
            /* (T1) relaxed: ordered by the fence T2. */
            atomic_store_explicit(&B.sleeping, 1, memory_order_relaxed);
            hive__fence_seq_cst(); /* (T2) */
            if (hive__inject_empty(&B.pending)) /* (T3) */
                hive__futex_wait(&B.sleeping, 1, UINT64_MAX);
            /* relaxed: a pusher that reads this 0 comes before our next T1
             * (its push is then seen at T3); one that reads a stale 1 only
             * makes a spare FUTEX_WAKE. */
            atomic_store_explicit(&B.sleeping, 0, memory_order_relaxed);
            continue;
        }
        /* Every reader that could hold a pointer into these batches' objects
         * has passed a quiescent state when this returns. */
        synchronize_rcu();
        hive__rcu_callback_begin();
        /* relaxed: a statistic. */
        atomic_fetch_add_explicit(&B.rounds, 1, memory_order_relaxed);
        /* Oldest first, so a barrier runs after every batch deferred
         * before it. */
        while (n) {
            hive__inject_node_t *next = n->next; /* fn may free the batch */
            hive__rcu_batch_t *b = (hive__rcu_batch_t *)(void *)n;
            b->fn(b);
            n = next;
        }
    }
    return NULL;
}

/* A child of fork() has no reclaim thread: the next runtime start there
 * makes one (batches the parent had waiting stay with the parent). */
static void reclaim_forked(void)
{
    B.made = false;
    pthread_mutex_init(&B.lock, NULL);
    hive__inject_init(&B.pending);
    /* relaxed: one thread exists in the child. */
    atomic_store_explicit(&B.sleeping, 0, memory_order_relaxed);
}

static pthread_once_t reclaim_once = PTHREAD_ONCE_INIT;
static void reclaim_atfork(void) { pthread_atfork(NULL, NULL, reclaim_forked); }

/* liburcu makes its call_rcu thread (the process's default one, which runs
 * every deferred free but the process structs': grown-out-of deque arrays,
 * registry entries) on the first call_rcu, from whichever thread calls,
 * and the new thread inherits that thread's CPU affinity. Made by a pinned
 * worker - as it always was - it then ran on that one worker's CPU alone,
 * taking it from the worker: with 2 workers fjcreate's threads waited for a
 * CPU 55-61% of the time, and with 1 worker the reclaimer had no other CPU
 * at all. On a 64-core server one worker in 64 would lose that share. So
 * the runtime start makes it first and lets it float over every CPU the
 * process may use, where the kernel puts it wherever there is room; hive's
 * own reclaim thread (below) likewise. Not over the workers' CPUs alone: a
 * runtime of one pinned worker then left its reclaim thread one CPU, the
 * busy worker's, and a grace period waited for the kernel to preempt the
 * worker (~15-20 ms in fjcreate on 1 worker, while the other CPU idled). */
int hive__rcu_reclaimer_start(const cpu_set_t *cpus)
{
    pthread_once(&reclaim_once, reclaim_atfork);
    struct call_rcu_data *crdp = get_default_call_rcu_data();
    if (crdp && cpus) /* best effort: without it the thread keeps its inherited mask */
        (void)pthread_setaffinity_np(get_call_rcu_thread(crdp), sizeof *cpus, cpus);
    pthread_mutex_lock(&B.lock);
    int rc = 0;
    if (!B.made) {
        sigset_t all, old;
        sigfillset(&all); /* the thread takes no signal meant for the program */
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&B.thread, NULL, reclaim_main, NULL) == 0)
            B.made = true;
        else
            rc = -EAGAIN;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (B.made && cpus)
        (void)pthread_setaffinity_np(B.thread, sizeof *cpus, cpus); /* best effort */
    pthread_mutex_unlock(&B.lock);
    return rc;
}

void hive__rcu_defer_batch(hive__rcu_batch_t *b, void (*fn)(hive__rcu_batch_t *b))
{
    b->fn = fn;
    hive__inject_push(&B.pending, &b->node); /* (D1) release: b's contents */
    hive__fence_seq_cst();                   /* (D2) */
    /* (D3) relaxed: ordered by the fence; the exchange lets one pusher
     * wake it. */
    if (atomic_load_explicit(&B.sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&B.sleeping, 0, memory_order_relaxed))
        hive__futex_wake(&B.sleeping);
}

typedef struct {
    hive__rcu_batch_t b;
    _Atomic uint32_t done;
} barrier_t;

static void barrier_done(hive__rcu_batch_t *b)
{
    barrier_t *x = (barrier_t *)(void *)b;
    /* release: the waiter's acquire load sees every earlier batch's work. */
    atomic_store_explicit(&x->done, 1, memory_order_release);
    /* x may be gone already (the waiter saw the store and returned): see
     * sched/futex.h. */
    hive__futex_wake(&x->done);
}

void hive__rcu_batch_barrier(void)
{
    pthread_mutex_lock(&B.lock);
    bool made = B.made;
    pthread_mutex_unlock(&B.lock);
    if (!made)
        return; /* nothing was ever deferred: no runtime has started */
    /* An online reader would hold up the grace period it waits for: off
     * line for the wait, as liburcu's own rcu_barrier does. */
    bool was_online = rcu_read_ongoing();
    if (was_online)
        rcu_thread_offline();
    barrier_t x = {.done = 0};
    hive__rcu_defer_batch(&x.b, barrier_done);
    /* acquire: pairs with the release store in barrier_done(). */
    while (!atomic_load_explicit(&x.done, memory_order_acquire))
        hive__futex_wait(&x.done, 0, UINT64_MAX);
    if (was_online)
        rcu_thread_online();
}

pthread_t hive__rcu_reclaimer_thread(void)
{
    pthread_mutex_lock(&B.lock);
    pthread_t t = B.made ? B.thread : pthread_self();
    pthread_mutex_unlock(&B.lock);
    return t;
}

unsigned long hive__rcu_batch_rounds(void)
{
    return atomic_load_explicit(&B.rounds, memory_order_relaxed); /* a statistic */
}

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static __thread bool registered;
static __thread int depth;

static void unregister_at_exit(void *unused)
{
    (void)unused;
    if (registered) {
        QS_ANNOTATE();
        rcu_unregister_thread();
        registered = false;
    }
}

static void make_key(void) { pthread_key_create(&exit_key, unregister_at_exit); }

void hive__rcu_enter(void)
{
    if (hive__worker_self())
        return; /* workers are always online */
    if (depth++ > 0)
        return;
    if (!registered) {
        pthread_once(&exit_once, make_key);
        rcu_register_thread(); /* registers online */
        registered = true;
        pthread_setspecific(exit_key, (void *)1);
        return;
    }
    rcu_thread_online();
}

void hive__rcu_leave(void)
{
    if (hive__worker_self())
        return;
    if (--depth > 0)
        return;
    hive__rcu_offline();
}
