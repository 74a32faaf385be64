/* rcu.c - RCU read-side for foreign threads (see rcu.h). */
#include "sched/rcu.h"

#include <pthread.h>
#include <stdbool.h>
#include <urcu-qsbr.h>

#include "sched/worker.h"

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static __thread bool registered;
static __thread int depth;

static void unregister_at_exit(void *unused)
{
    (void)unused;
    if (registered) {
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
    rcu_thread_offline();
}
