/* rcu.c - RCU read-side for foreign threads (see rcu.h). */
#include "sched/rcu.h"

#include <pthread.h>
#include <stdbool.h>
#include <urcu-qsbr.h>

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

/* liburcu makes its call_rcu thread (the process's default one, which runs
 * every deferred free: dead processes, grown-out-of deque arrays, registry
 * entries) on the first call_rcu, from whichever thread calls, and the new
 * thread inherits that thread's CPU affinity. Made by a pinned worker - as
 * it always was - it then ran on that one worker's CPU alone, taking it
 * from the worker: with 2 workers fjcreate's threads waited for a CPU 55-61%
 * of the time, and with 1 worker the reclaimer had no other CPU at all. On
 * a 64-core server one worker in 64 would lose that share. So the runtime
 * start makes it first and lets it float over the workers' CPUs, where the
 * kernel puts it wherever there is room. */
void hive__rcu_reclaimer_cpus(const cpu_set_t *cpus)
{
    struct call_rcu_data *crdp = get_default_call_rcu_data();
    if (crdp) /* best effort: without it the thread keeps its inherited mask */
        (void)pthread_setaffinity_np(get_call_rcu_thread(crdp), sizeof *cpus, cpus);
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
