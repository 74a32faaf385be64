/* worker.h - tasks and the workers that run them.
 *
 * A task is a fiber plus what the scheduler needs to queue it. The layers
 * above embed it (a process is a task with a mailbox) and are told when it
 * ends through task->on_exit.
 *
 * Per worker (one pinned OS thread each; nothing here is shared unless said):
 *   - a Chase-Lev deque of runnable tasks (thieves take from its top);
 *   - a LIFO slot holding the task most recently woken or spawned by this
 *     worker, run next so that request/response pairs and a parent waiting
 *     for its new child stay on one core (stealable unless the task is
 *     pinned, and limited to HIVE__LIFO_STREAK runs in a row while other
 *     tasks wait here, so it cannot starve them);
 *   - a private FIFO of runnable tasks pinned to this worker, which thieves
 *     never see (the deque's oldest task and its oldest take turns);
 *   - the scheduler loop's own context and a stack cache (stack.c);
 *   - an I/O poller (poll.h): an epoll set harvested every
 *     HIVE__POLL_INTERVAL dispatches and when local work runs out, and
 *     slept in instead of the futex while fds are registered.
 * Shared by all workers: the injection queue (work from foreign threads,
 * checked every HIVE__INJECT_INTERVAL dispatches and whenever local work runs
 * out) and the idle bookkeeping (park.c).
 *
 * Fairness without preemption: every runtime call that may switch charges
 * the running task's budget (HIVE__BUDGET units per dispatch); when it runs
 * out the task yields: it goes to the bottom of its worker's deque and the
 * worker's next pick is the oldest task (the top), so tasks rotate. Every
 * HIVE__INJECT_INTERVAL dispatches the oldest task also gets a turn anyway,
 * so a chain of tasks that each spawn a successor cannot starve the rest.
 *
 * Threads: functions named task_* / sched_* without further note are for
 * the running task (a fiber on a worker). hive__task_ready and
 * hive__task_spawn may be called from any thread: from a worker the task
 * goes to that worker's queues, from a foreign thread to the injection queue.
 */
#ifndef HIVE_SCHED_WORKER_H
#define HIVE_SCHED_WORKER_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sched/deque.h"
#include "sched/fiber.h"
#include "sched/inject.h"
#include "sched/park.h"
#include "sched/poll.h"
#include "sched/timer.h"
#include "sched/topology.h"
#include "sched/tls.h"

#define HIVE__BUDGET 128
#define HIVE__LIFO_STREAK 16
#define HIVE__INJECT_INTERVAL 61
#define HIVE__TIMER_INTERVAL 16

typedef struct hive__task hive__task_t;
typedef struct hive__worker hive__worker_t;

/* Why a task's fiber went back to the scheduler. */
enum { HIVE__SUSPEND_YIELD = 1, HIVE__SUSPEND_PARK, HIVE__SUSPEND_RELEASE, HIVE__SUSPEND_NEXT };

/* The task's park state: a one-token semaphore (Go's notesleep, Rust's
 * thread::park): unpark stores a token, park consumes it or sleeps. WARM:
 * parked by hive__task_park_release() with its stack still attached (its
 * worker's warm slot, worker.c); RELEASING: that worker is taking the stack
 * away (an unparker's token then waits for it to finish). */
enum {
    HIVE__PARK_EMPTY = 0,
    HIVE__PARK_PARKED,
    HIVE__PARK_NOTIFIED,
    HIVE__PARK_WARM,
    HIVE__PARK_RELEASING
};

struct hive__task {
    hive__fiber_t fiber;
    hive__inject_node_t inject;  /* link in the injection queue */
    hive__worker_t *worker;      /* the worker running it, while it runs */
    void (*fn)(void *);
    void *arg;
    /* Called on the scheduler's stack after fn returned and the fiber is
     * gone; must free the task (default: hive__task_free). */
    void (*on_exit)(hive__task_t *t);
    /* Small fields, packed: a process embeds its task, and a million idle
     * actors pay for every byte. */
    _Atomic int park_state;      /* HIVE__PARK_* */
    uint32_t stack_size;         /* requested; 0 = the default (<= 1 GiB) */
    int16_t start_error;         /* no stack could be had: fn never ran */
    int16_t pinned;              /* runs only on this worker; -1 = anywhere */
    uint8_t suspend_reason;      /* set by the task before it suspends */
    bool has_stack;              /* the fiber and its stack exist (first run) */
    bool restarted;              /* released its stack while parked: the next
                                    run starts fn afresh (hive__task_park_release) */
    bool overflowed;             /* ended by touching its guard page (fault.c) */
    bool embedded;               /* first member of the layer above's object
                                    (a process): hive__task_upper() */
    bool rerun;                  /* fn was started again after a release: not
                                    its first run (set before it starts) */
    int16_t budget;              /* units left this dispatch (hive__task_charge) */
    int16_t warm_at;             /* 1 + the id of the worker whose warm slot may
                                    name it (worker.c); 0: none. Written only
                                    by whoever owns the task at the time */
};

/* The layer above's object around t (a process), or NULL for a bare task. */
static inline void *hive__task_upper(hive__task_t *t) { return t->embedded ? (void *)t : NULL; }

typedef struct hive__worker_stats {
    uint64_t runs;        /* dispatches */
    uint64_t steals;      /* successful steal operations on other workers */
    uint64_t stolen;      /* tasks taken by those steals */
    uint64_t lifo_runs;   /* dispatches from the LIFO slot */
    uint64_t injected;    /* tasks taken from the injection queue */
    uint64_t parks;       /* times the worker went to sleep */
    uint64_t polls;       /* epoll harvests that found fd events */
    uint64_t handoffs;    /* dispatches by a task switching straight to the next */
} hive__worker_stats_t;

/* Called by each worker on its own thread before it parks and before it
 * exits (the layer above flushes per-worker batches there). */
typedef void (*hive__idle_hook_t)(void);

typedef struct hive__sched_params {
    int nworkers;
    const hive__placement_t *placement; /* cpus and steal order; NULL = none */
    hive__topology_t *topology;         /* for binding; NULL = do not bind */
    int steal_batch;                    /* most tasks one steal takes */
    int idle_spin;                      /* search rounds before parking */
    size_t stack_size;                  /* default stack size */
    hive__idle_hook_t idle_hook;        /* may be NULL */
    hive__poll_ready_fn io_ready;       /* fd events; NULL = no registrations */
} hive__sched_params_t;

/* Start / stop the workers (the runtime's owner thread). stop drops tasks
 * still queued - their on_exit runs with t->fiber.done false, on the
 * stopping thread - and returns how many were dropped. */
int hive__sched_start(const hive__sched_params_t *params);
long hive__sched_stop(void);
bool hive__sched_running(void);
int hive__sched_nworkers(void);

/* Make a task, ready to be started. Its stack is taken when it first runs;
 * if none can be had then, fn never runs, start_error says why and on_exit
 * is called as for a task that ended. */
int hive__task_new(void (*fn)(void *), void *arg, size_t stack_size, hive__task_t **out);
/* Initialise a task embedded in a larger object (a process): as
 * hive__task_new without the allocation. The caller sets on_exit. */
void hive__task_init(hive__task_t *t, void (*fn)(void *), void *arg, size_t stack_size);
/* Release what running gave the task (fiber, stack), not its memory. */
void hive__task_release_stack(hive__task_t *t);
/* Like release_stack, but hand the stack to the caller instead of freeing
 * it (someone still uses memory on it). False when the task had none. */
bool hive__task_take_stack(hive__task_t *t, hive__stack_t *out);
/* Free a task made by hive__task_new whose fiber is not running. */
void hive__task_free(hive__task_t *t);
/* Make it runnable for the first time. Any thread. */
void hive__task_start(hive__task_t *t);
/* The same, on worker `id` (its inbox; the worker is woken). Any thread. */
void hive__task_start_on(hive__task_t *t, int id);
/* new + start. 0, -ENOMEM, -EINVAL, or -EPERM when the runtime is stopped. */
int hive__task_spawn(void (*fn)(void *), void *arg, size_t stack_size);

/* Where worker.c's thread-locals (the thread's worker, its running task)
 * sit from the thread pointer (sched/tls.h); measured at load. */
extern ptrdiff_t hive__tls_worker_off, hive__tls_task_off;
/* The running task, or NULL on a foreign thread / the scheduler loop.
 * Inline and safe across a migration (sched/tls.h). */
static inline hive__task_t *hive__task_self(void)
{
    return hive__tls_read(hive__task_t *, hive__tls_task_off);
}
/* The calling thread's worker, or NULL when it is not a worker thread. */
static inline hive__worker_t *hive__worker_self(void)
{
    return hive__tls_read(hive__worker_t *, hive__tls_worker_off);
}
int hive__worker_id(const hive__worker_t *w);

/* Running task: go to the back of the queue. */
void hive__task_yield(void);
/* Running task: charge `units` of budget; yield when it runs out. */
void hive__task_charge(int units);
/* The same for a caller that has its running task at hand (t is the
 * running task): no thread-local lookup. */
static inline void hive__task_charge_self(hive__task_t *t, int units)
{
    t->budget = (int16_t)(t->budget - units);
    if (t->budget <= 0)
        hive__task_yield();
}
/* Running task: sleep until hive__task_unpark(self) (returns at once if a
 * token is already there). */
void hive__task_park(void);
/* Running task, about to park for want of something a task on another
 * worker will send: while this worker has nothing else to run, spin a few
 * microseconds until ready(ctx) holds. True if it did; false when the spin
 * ran out, local work appeared, or spinning is off (idle_spin 0, more
 * workers than CPUs): park then. A cross-worker request/response that comes
 * back while spinning costs cache-line transfers instead of a park, a wake
 * and, with the worker asleep, a futex call on each side. */
bool hive__task_spin_wait(bool (*ready)(void *ctx), void *ctx);
/* Running task, about to park: if the task this worker would run next is
 * in its LIFO slot (the one the caller just woke or spawned), yield to it
 * and return true once the caller runs again; else false at once. A
 * request to a process on this worker is then often answered before the
 * caller ever parks: no wait published, no timer, no wake-up. */
bool hive__task_yield_to_next(void);
/* Running task: as hive__task_park, but if the task must sleep its fiber
 * is abandoned and its stack goes back to the pool: when unparked it starts
 * again from its entry function on a fresh stack. Returns (with the stack
 * kept) only if a token was already there or came in before the release.
 * The caller must hold nothing on its stack that it needs afterwards: this is
 * how an idle actor holds no stack (core/actor.c). */
void hive__task_park_release(void);
/* Any thread: give t its token; if t was parked, make it runnable (on this
 * worker's LIFO slot, or the injection queue from a foreign thread). */
void hive__task_unpark(hive__task_t *t);

/* The worker's timer heap (owner use, and timer.c). */
hive__timer_heap_t *hive__worker_timers(hive__worker_t *w);
/* Worker `id` of the running runtime, or NULL. */
hive__worker_t *hive__worker_by_id(int id);
/* Wake worker `id` if it is parked (its timers changed). Any thread. */
void hive__sched_wake_worker(int id);

/* Register fd in the calling worker's poller (EPOLLONESHOT); the worker's
 * id goes to *worker (for the del). 0, -EPERM (not on a worker), or the
 * poller's errors (-EEXIST, -EPERM for a regular file, -EBADF, ...). */
int hive__worker_poll_add(int fd, uint32_t events, uint64_t token, int *worker);
/* Remove fd from worker `id`'s poller. Any thread; 0, or -ENOENT, -EBADF,
 * -ESRCH (no such worker: the runtime stopped, its sets are gone). */
int hive__worker_poll_del(int id, int fd);
/* fds registered in every worker's poller (tests). */
long hive__sched_poll_registered(void);

/* Statistics of worker `id` (approximate while running). */
void hive__worker_stats(int id, hive__worker_stats_t *out);
/* Workers asleep right now. */
int hive__sched_sleeping(void);
/* Tasks alive (made and not yet exited). */
long hive__sched_live_tasks(void);

#endif
