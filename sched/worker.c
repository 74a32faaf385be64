/* worker.c - the scheduler: pinned worker threads running tasks from their
 * own Chase-Lev deque and LIFO slot, stealing half of a victim's deque
 * (nearest victims first) when they run dry, and parking through park.c.
 * Design in worker.h; the park protocol's argument in park.c.
 *
 * A task's fiber never runs on two workers at once: a task is in at most one
 * place at a time - one deque slot, one LIFO slot, the injection queue, its
 * worker's pinned FIFO (owner only), or running - and every move between
 * places is a single atomic handover (deque CAS, LIFO exchange or CAS,
 * injection exchange). A task that parks is
 * published as PARKED only after its fiber switched out - by the scheduler
 * loop (run_task), or by the task it switched straight to (settle_slow(),
 * see "Handoff") - never by the fiber itself, so a waker cannot start it
 * while its stack is still in use (Go's gopark does the same on g0).
 *
 * Migration and TLS: a fiber may resume on another worker thread, so code
 * running on a fiber must not keep a thread-local address across a switch.
 * hive__worker_self() and hive__task_self() read the thread pointer afresh
 * at each call (sched/tls.h).
 */
#include "sched/worker.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <urcu-qsbr.h>

#include "mailbox/alloc.h"
#include "mailbox/message.h"
#include "sched/fault.h"
#include "sched/rcu.h"

#define DEQUE_INITIAL 256

struct hive__worker {
    hive__deque_t deque;
    /* A slot word (see slot_word()): a task, tagged when pinned. */
    _Alignas(64) _Atomic(uintptr_t) lifo;
    hive__parker_t parker;
    hive__timer_heap_t timers;
    hive__inject_t inbox; /* tasks started on this worker by others */
    hive__poller_t poller;
    uint32_t poll_tick;   /* dispatches since the last zero-timeout poll */
    uint32_t timer_tick;  /* dispatches since the timers were last run */
    uint32_t qs_tick;     /* dispatches, for the RCU quiescent state */
    struct epoll_event events[HIVE__POLL_BATCH];
    int id;
    int cpu;
    pthread_t thread;
    hive__ctx_t sched_ctx;
    /* A task that stepped aside for the LIFO slot's (hive__task_yield_to_next)
     * and runs right after it. Set and taken by the owner; a thief takes it
     * only as it takes the LIFO slot, from a worker stuck in one task. */
    _Atomic(uintptr_t) resume; /* a slot word, as lifo */
    /* The actor that last went idle here, parked with its stack (WARM)
     * rather than without: see "The warm slot" above run_task(). Written by
     * the owner (plain load and store) and, to take out a task that woke
     * and runs elsewhere, by that worker's CAS. */
    _Atomic(hive__task_t *) warm;
    _Atomic uint32_t tick;  /* dispatches; written by the owner, read by thieves */
    uint32_t *seen_tick;    /* thief memo: each victim's tick at our last look */
    int lifo_streak;
    int chain;      /* handoffs since the loop last dispatched (see "Handoff") */
    int inject_due; /* dispatches until the injection queue's turn */
    bool fair_next;
    bool pinned_turn; /* flipped at each fair turn: the pinned FIFO's when true */
    /* Runnable tasks pinned to this worker (FIFO through their inject
     * links; owner only): where the deque would hold them if thieves could
     * not take them from it. */
    hive__inject_node_t *pinned_head, *pinned_tail;
    /* A task that switched straight to the next one (why: its
     * suspend_reason): settled by that next task as it starts
     * (settle_pending()). */
    hive__task_t *settle_task;
    /* A task that yielded while others waited here (a slot word, as
     * lifo), and the dispatches left before it runs again (see "Yield"
     * above find_local; owner only). */
    _Atomic(uintptr_t) yielded;
    int yield_left;
    int run_spawns; /* tasks the running task started here since it was dispatched */
    const int *steal_order;
    /* Statistics and task counts: written by this worker only (relaxed
     * load + store, no RMW), read approximately by anyone. */
    _Atomic uint64_t runs, steals, stolen, lifo_runs, injected, parks, polls, handoffs;
    _Atomic uint64_t spawned, exited;
};

static struct {
    hive__worker_t *workers;
    hive__parker_t **parkers;
    int n;
    hive__inject_t inject;
    hive__idle_t idle;
    int steal_batch;
    int idle_spin;
    bool oversubscribed; /* more workers than CPUs to run them: never spin */
    hive__topology_t *topology;
    hive__idle_hook_t idle_hook;
    hive__poll_ready_fn io_ready;
    _Atomic bool stopping;
    _Atomic bool running;
    _Atomic uint64_t foreign_spawned;
    /* start handshake */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    int started;
    int start_error;
} S = {.start_lock = PTHREAD_MUTEX_INITIALIZER, .start_cond = PTHREAD_COND_INITIALIZER};

/* initial-exec: in libhive.so the default (dynamic) model made every
 * hive__worker_self() - several per message - a call to __tls_get_addr.
 * Static TLS is safe for a library loaded with the program, and these few
 * bytes fit the surplus glibc keeps for libraries opened later. */
static __thread hive__worker_t *tls_worker __attribute__((tls_model("initial-exec")));

static inline void bump(_Atomic uint64_t *c, uint64_t by)
{
    /* relaxed load + store: single writer (the owning worker); readers
     * want an estimate. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

/* The running task (run_task sets it around each dispatch; NULL in the
 * scheduler loop and on other threads), the worker's only record of it.
 * Read through hive__task_self(). */
static __thread hive__task_t *tls_task __attribute__((tls_model("initial-exec")));

ptrdiff_t hive__tls_worker_off, hive__tls_task_off;

/* Before any thread of ours exists (a constructor): plain stores. An
 * early priority, so that in a static link the program's own constructors
 * (C++ static initialisers too), which may already call into hive, run
 * after it; in a shared library ours run before the program's anyway.
 * Until it has run the offsets are 0 and every "who am I" would read the
 * word at the thread pointer. */
__attribute__((constructor(101))) static void measure_tls(void)
{
    hive__tls_worker_off = hive__tls_offset(tls_worker);
    hive__tls_task_off = hive__tls_offset(tls_task);
}

int hive__worker_id(const hive__worker_t *w) { return w->id; }

hive__timer_heap_t *hive__worker_timers(hive__worker_t *w) { return &w->timers; }

hive__worker_t *hive__worker_by_id(int id)
{
    return hive__sched_running() && id >= 0 && id < S.n ? &S.workers[id] : NULL;
}

void hive__sched_wake_worker(int id)
{
    if (hive__sched_running() && id >= 0 && id < S.n)
        hive__idle_wake_worker(&S.idle, id);
}

bool hive__sched_running(void)
{
    return atomic_load_explicit(&S.running, memory_order_acquire); /* pairs with start/stop */
}

int hive__sched_nworkers(void) { return hive__sched_running() ? S.n : 0; }

/* ---- queues ---------------------------------------------------------- */

static bool stopping(void)
{
    /* acquire: pairs with the release store in hive__sched_stop(). */
    return atomic_load_explicit(&S.stopping, memory_order_acquire);
}

static void start_on(hive__task_t *t, int id);

/* ---- pinned tasks and the slot words ----------------------------------
 *
 * A pinned task runs only on its worker, so no place a thief looks may
 * offer it: one stolen is only sent home through the inbox (a cross-core
 * round trip and a wake-up for nothing). actor_call, caller and actor both
 * pinned to worker 0, lost ~15% on 2 workers to the idle worker stealing
 * them ~25,000 times per 1,000,000 calls and sending each back. So a
 * pinned task waits in its worker's private FIFO where others wait in the
 * deque, and in the LIFO and resume slots it is tagged (bit 0 of the slot
 * word, free in an aligned pointer): thieves take only untagged words.
 *
 * Bit 1 says the task may be switched to directly by a task of the
 * worker that owns the slot (see "Handoff"): it has a stack and is not
 * warm on another worker. Both stay true while it sits in a slot (it does
 * not run, and only a WARM task is evicted), so the owner decides from
 * the word alone, without touching a task that a thief may be taking. */
#define SLOT_PINNED ((uintptr_t)1)
#define SLOT_DIRECT ((uintptr_t)2)

/* The word for t in a slot of w (w's own thread only). */
static inline uintptr_t slot_word(const hive__worker_t *w, hive__task_t *t)
{
    if (!t)
        return 0;
    bool direct = t->has_stack && (!t->warm_at || t->warm_at == w->id + 1);
    return (uintptr_t)t | (t->pinned >= 0 ? SLOT_PINNED : 0) | (direct ? SLOT_DIRECT : 0);
}

static inline hive__task_t *slot_task(uintptr_t word)
{
    return (hive__task_t *)(word & ~(SLOT_PINNED | SLOT_DIRECT));
}

/* A word a thief may take: a task, not pinned. */
static inline bool slot_stealable(uintptr_t word) { return word && !(word & SLOT_PINNED); }

/* The owner's take and put of its own slots. Only the owner stores a task
 * in its slots (make_ready() runs on the waker's own worker; a pinned task
 * woken elsewhere goes home through the inbox), and a thief writes one only
 * to empty it, with a CAS from a stealable word it saw (steal_slot()). So
 * a word no thief may take - empty, pinned, or any word on a lone worker -
 * stays until the owner changes it, and the owner changes it with a plain
 * load and store, no locked instruction: an empty slot filled (a task
 * woken or spawned), a pinned task taken. The release store publishes a
 * stealable word to the thief that takes it (its CAS reads the latest
 * store); a word taken with a plain load was stored by the owner itself
 * (program order), after it got the task with whatever acquire that took.
 * Anything else keeps the exchange: a thief may take the word meanwhile.
 * Locked instructions per actor call (caller and actor pinned, 2 workers):
 * 11.5 -> 8.2; pingpong -12% on 1 and on 2 workers (alternating runs). */
static inline bool slot_thieves_may_take(uintptr_t word) { return S.n > 1 && slot_stealable(word); }

/* Empty w's slot; the word it held (0: none). Owner only. */
static inline uintptr_t slot_take_own(_Atomic(uintptr_t) *slot)
{
    /* relaxed: see above; a stealable word is taken by the exchange. */
    uintptr_t word = atomic_load_explicit(slot, memory_order_relaxed);
    if (!word)
        return 0;
    if (!slot_thieves_may_take(word)) {
        atomic_store_explicit(slot, 0, memory_order_relaxed); /* relaxed: see above */
        return word;
    }
    /* acquire: pairs with the release that stored the word (slot_put_own(),
     * settle()); may find 0: a thief took it since. */
    return atomic_exchange_explicit(slot, 0, memory_order_acquire);
}

/* Put word in w's slot; the word it replaced (0: none). Owner only. */
static inline uintptr_t slot_put_own(_Atomic(uintptr_t) *slot, uintptr_t word)
{
    /* relaxed: see above. */
    uintptr_t prev = atomic_load_explicit(slot, memory_order_relaxed);
    if (!slot_thieves_may_take(prev)) {
        /* release: publishes the task (its saved context, its new state)
         * to a thief that takes the word: pairs with steal_slot()'s CAS. */
        atomic_store_explicit(slot, word, memory_order_release);
        return prev;
    }
    /* acq_rel: release as above; acquire as in slot_take_own(). */
    return atomic_exchange_explicit(slot, word, memory_order_acq_rel);
}

static hive__task_t *task_of(hive__inject_node_t *n)
{
    return (hive__task_t *)(void *)((char *)n - offsetof(hive__task_t, inject));
}

/* Work this worker just queued where another could take it: wake one if
 * need be (park.c's notify). With one worker there is nobody to wake - the
 * caller is that worker, awake - and the check's fence was 10% of
 * fjcreate's samples on 1 worker. A foreign thread's injection notifies
 * always (it may find the one worker asleep). */
static inline void notify_thieves(void)
{
    if (S.n > 1)
        hive__idle_notify(&S.idle);
}

static void pinned_push(hive__worker_t *w, hive__task_t *t)
{
    t->inject.next = NULL;
    if (w->pinned_tail)
        w->pinned_tail->next = &t->inject;
    else
        w->pinned_head = &t->inject;
    w->pinned_tail = &t->inject;
}

static hive__task_t *pinned_pop(hive__worker_t *w)
{
    hive__inject_node_t *n = w->pinned_head;
    if (!n)
        return NULL;
    if (!(w->pinned_head = n->next))
        w->pinned_tail = NULL;
    return task_of(n);
}

/* Owner: queue t here - a pinned task in the private FIFO (or home, if it
 * is pinned elsewhere: one injected while stopping), any other on the
 * deque; if that cannot grow, the injection queue takes the task instead,
 * so nothing is ever lost. True if another worker could run it. */
static bool push_local(hive__worker_t *w, hive__task_t *t)
{
    if (t->pinned == w->id) {
        pinned_push(w, t);
        return false; /* nobody else's to take: no worker need wake for it */
    }
    if (t->pinned >= 0 && !stopping())
        start_on(t, t->pinned);
    else if (hive__deque_push(&w->deque, t) != 0)
        hive__inject_push(&S.inject, &t->inject);
    return true;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* Take a whole injection queue (the shared one or our inbox): run the
 * oldest, queue the rest so that our own pops see them oldest first. */
static hive__task_t *take_queue(hive__worker_t *w, hive__inject_t *q)
{
    hive__inject_node_t *n = hive__inject_take_all(q);
    if (!n)
        return NULL;
    hive__task_t *first = task_of(n);
    uint64_t count = 1;
    bool stealable = false;
    hive__inject_node_t *rev = NULL;
    for (n = n->next; n; count++) {
        hive__inject_node_t *next = n->next;
        if (task_of(n)->pinned == w->id) {
            pinned_push(w, task_of(n)); /* oldest first, as the FIFO runs them */
        } else {
            n->next = rev;
            rev = n;
        }
        n = next;
    }
    while (rev) {
        /* Read the link first: once queued, the task may be stolen, run,
         * park and be injected again (or push_local may inject it), which
         * rewrites this very link. */
        hive__inject_node_t *next = rev->next;
        stealable |= push_local(w, task_of(rev));
        rev = next;
    }
    bump(&w->injected, count);
    if (stealable)
        notify_thieves();
    return first;
}

static hive__task_t *take_inject(hive__worker_t *w)
{
    hive__task_t *t = take_queue(w, &w->inbox);
    return t ? t : take_queue(w, &S.inject);
}

static hive__task_t *steal_own_top(hive__worker_t *w)
{
    for (;;) {
        void *x = hive__deque_steal(&w->deque);
        if (x != HIVE__DEQUE_ABORT)
            return x;
    }
}

/* The owner's take of its resume slot's task, or NULL (slot_take_own():
 * the release that stored it is settle()'s, after the task's context was
 * saved). Thieves use steal_slot(). */
static hive__task_t *take_resume(hive__worker_t *w)
{
    return slot_task(slot_take_own(&w->resume));
}

/* A thief's take of v's LIFO, resume or yield slot: only a stealable word, and
 * only the word it saw (an exchange could take a pinned task stored since).
 * A relaxed peek first; acquire on success pairs with the release with
 * which the word was stored (slot_put_own() in make_ready(), settle(),
 * yield_behind()). */
static hive__task_t *steal_slot(_Atomic(uintptr_t) *slot)
{
    uintptr_t word = atomic_load_explicit(slot, memory_order_relaxed);
    if (!slot_stealable(word))
        return NULL;
    /* acquire: see above; relaxed on failure: we take nothing. */
    if (!atomic_compare_exchange_strong_explicit(slot, &word, 0, memory_order_acquire,
                                                 memory_order_relaxed))
        return NULL;
    return slot_task(word);
}

/* Nothing waits in this worker's deque or pinned FIFO. */
static inline bool nothing_queued(hive__worker_t *w)
{
    return !w->pinned_head && hive__deque_size(&w->deque) <= 0;
}

/* Is a turn due that the LIFO and resume slots must yield to - the end of
 * the LIFO streak (HIVE__LIFO_STREAK runs of the two slots in a row), or a
 * fair turn for the oldest task? Only while a task waits: in this worker's
 * deque or pinned FIFO, or (resume_waiting) in the resume slot while the
 * LIFO slot's task is about to run - a pair waking each other through the
 * LIFO slot would otherwise keep a process that stepped aside there waiting
 * for ever. With nobody waiting there is nobody to starve (the injection
 * queue has its own turn, counted apart): the streak starts over and the
 * fair turn lapses. A request/response pair alone on its worker
 * (actor_call) went through the loop instead of a handoff every 8 round
 * trips for nothing. */
static inline bool slot_turn_over(hive__worker_t *w, bool resume_waiting)
{
    if (w->lifo_streak < HIVE__LIFO_STREAK && !w->fair_next)
        return false;
    if (resume_waiting || !nothing_queued(w))
        return true;
    w->lifo_streak = 0;
    w->fair_next = false;
    return false;
}

/* A task waits in w's resume slot (relaxed: the owner's own slot). */
static inline bool resume_waits(hive__worker_t *w)
{
    return atomic_load_explicit(&w->resume, memory_order_relaxed) != 0;
}

/* One more dispatch on w (its loop's or a handoff's): the tick thieves
 * watch to tell a stuck worker. relaxed: the owner is the only writer;
 * thieves only compare values. */
static inline void count_dispatch(hive__worker_t *w)
{
    atomic_store_explicit(&w->tick, atomic_load_explicit(&w->tick, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Fetch the lines of a task that is to run here soon (NULL: none), whose
 * memory was last written on another core: the worker that spawned or woke
 * it. A stolen task's first lines were a serial cache miss each as it
 * started (the struct's fields, its mailbox, its pid), most of a child's
 * cost in fjcreate on the thief; fetched as the task is stolen, and the
 * next task to pop as one is popped, they overlap with other work
 * (fjcreate on 2 workers -10..15%). The span covers a process struct
 * (core/process.h: 384 bytes); a prefetch past a smaller object reads
 * memory it need not, never faults. */
#define PREFETCH_TASK_BYTES 384

static inline void prefetch_task(const void *t)
{
    if (t)
        for (int off = 0; off < PREFETCH_TASK_BYTES; off += 64)
            __builtin_prefetch((const char *)t + off, 1, 3);
}

/* ---- Yield -------------------------------------------------------------
 *
 * A task that yields (its budget ran out, or hive_yield) after starting
 * tasks on its worker lets them run before it runs again: it waits in the
 * worker's yield slot for as many dispatches of the loop as it started
 * tasks (those still queued here, at most YIELD_WAIT_MAX), or until nothing
 * else is left. Those dispatches usually go to its children (they are the
 * newest in the deque), though a fair turn, the injection queue's turn or
 * a child's own child may take some, and handoffs do not count. Before, it
 * went back to the bottom of the deque and ran again after one or two
 * others: a process spawning a million in a loop (fjcreate) ran its
 * children only as thieves took them - each a cross-core transfer of a
 * struct just written here - and on one worker held nearly all of them
 * alive at once, every struct fresh from malloc since none had died to be
 * reused (fjcreate on 1 worker 170-183 -> ~130 ns, on 2 -20%). Only the
 * tasks it started: a producer that yields after waking consumers with
 * messages (fjthrput, counting) still runs again at once, and the
 * consumers, run later, drain longer mailboxes per wake-up; behind every
 * queued task (Erlang's rule) fjthrput took 2.2x as long and counting
 * 1.5x. The slot is stealable as the LIFO slot is, from a worker stuck in
 * one task: a task spinning until the yielded one does something must not
 * wait for ever. A pinned task yields into its pinned FIFO as before. */
#define YIELD_WAIT_MAX (2 * HIVE__BUDGET)

/* The owner's take of its yield slot (NULL: empty, or a thief took it). */
static hive__task_t *take_yielded(hive__worker_t *w)
{
    w->yield_left = 0;
    return slot_task(slot_take_own(&w->yielded));
}

/* t yielded on w: into the yield slot if tasks it started wait here
 * (true), else false and the caller queues it as before. */
static bool yield_behind(hive__worker_t *w, hive__task_t *t)
{
    /* relaxed: the owner's own slots (a thief only empties them). */
    int64_t waiting = hive__deque_size(&w->deque) +
                      (atomic_load_explicit(&w->lifo, memory_order_relaxed) != 0);
    if (waiting > w->run_spawns)
        waiting = w->run_spawns;
    if (t->pinned >= 0 || waiting == 0 || /* relaxed: as above */
        atomic_load_explicit(&w->yielded, memory_order_relaxed))
        return false;
    slot_put_own(&w->yielded, slot_word(w, t));
    w->yield_left = 1 + (int)(waiting < YIELD_WAIT_MAX ? waiting : YIELD_WAIT_MAX);
    /* A sleeping worker could otherwise not come for it should this one get
     * stuck in a child (one that spins until t acts); one fence per yield. */
    notify_thieves();
    return true;
}

static hive__task_t *find_local(hive__worker_t *w)
{
    hive__task_t *t;
    count_dispatch(w);
    if (w->yield_left > 0 && --w->yield_left == 0 && (t = take_yielded(w)))
        return t; /* its turn: as many dispatches went to others as it started tasks */
    /* Every HIVE__INJECT_INTERVAL dispatches (handoffs count): the
     * injection queue's turn, then the oldest task's. The owner takes the
     * newest task (the bottom): the fair turn gives the oldest (the top)
     * its go, or a task that spawns its successor and exits would keep
     * every task above it waiting for ever. */
    if (--w->inject_due <= 0) {
        w->inject_due = HIVE__INJECT_INTERVAL;
        w->fair_next = true;
        if ((t = take_inject(w)))
            return t;
    }
    t = slot_task(slot_take_own(&w->lifo)); /* see slot_take_own() */
    if (t) {
        if (w->lifo_streak < HIVE__LIFO_STREAK || !slot_turn_over(w, resume_waits(w))) {
            w->lifo_streak++;
            bump(&w->lifo_runs, 1);
            return t;
        }
        /* The LIFO slot has had its turn: queue it and run the oldest. */
        push_local(w, t);
        w->fair_next = true;
    } else if ((w->lifo_streak < HIVE__LIFO_STREAK || !slot_turn_over(w, false)) &&
               (t = take_resume(w))) {
        /* Counted with the LIFO slot's runs: a pair handing work to each
         * other through the two must not keep the deque waiting. */
        w->lifo_streak++;
        return t;
    }
    if ((t = take_resume(w))) {
        push_local(w, t);
        w->fair_next = true;
    }
    w->lifo_streak = 0;
    if (w->fair_next) {
        /* The oldest task's turn: of the deque and the pinned FIFO in
         * alternation, so neither waits for ever while the other is busy. */
        w->fair_next = false;
        w->pinned_turn = !w->pinned_turn;
        if (w->pinned_turn && (t = pinned_pop(w)))
            return t;
        if ((t = steal_own_top(w)))
            return t;
    }
    if ((t = hive__deque_pop(&w->deque))) {
        prefetch_task(hive__deque_peek(&w->deque)); /* the next one's turn comes soon */
        return t;
    }
    if ((t = pinned_pop(w)))
        return t;
    if ((t = take_inject(w)))
        return t;
    return take_yielded(w); /* nothing else here: no need to wait longer */
}

/* Take up to half of v's deque (at most steal_batch): run the first, keep
 * the rest. Each item costs one CAS: O(batch), never a walk of v's queue.
 * Each is fetched as it is taken (prefetch_task). */
static hive__task_t *steal_from(hive__worker_t *w, hive__worker_t *v)
{
    int64_t n = hive__deque_size(&v->deque);
    if (n > 0) {
        int64_t want = (n + 1) / 2;
        if (want > S.steal_batch)
            want = S.steal_batch;
        hive__task_t *first = NULL;
        int64_t got = 0;
        int aborts = 0;
        while (got < want) {
            void *x = hive__deque_steal(&v->deque);
            if (x == HIVE__DEQUE_ABORT) {
                if (got == 0 && ++aborts < 8)
                    continue;
                break;
            }
            if (!x)
                break;
            prefetch_task(x);
            if (!first)
                first = x;
            else
                push_local(w, x);
            got++;
        }
        if (got) {
            bump(&w->steals, 1);
            bump(&w->stolen, (uint64_t)got);
            return first;
        }
    }
    /* The LIFO slot is stealable, but only from a victim that has not
     * dispatched anything since our last look (Go waits ~3 us for the same
     * reason): a worker stuck in a long computation must not hold the task
     * it just woke, while a busy request/response pair should stay on its
     * worker instead of bouncing between cores. relaxed: a heuristic. */
    uint32_t vt = atomic_load_explicit(&v->tick, memory_order_relaxed);
    bool stuck = w->seen_tick[v->id] == vt;
    w->seen_tick[v->id] = vt;
    /* The resume slot likewise: a process that stepped aside for a task
     * that then computes for long must not wait for it when its answer
     * comes from elsewhere; and the yield slot (see "Yield"). No slot gives
     * up a pinned task. */
    hive__task_t *t = NULL;
    if (stuck && !(t = steal_slot(&v->lifo)) && !(t = steal_slot(&v->resume)))
        t = steal_slot(&v->yielded);
    if (t) {
        bump(&w->steals, 1);
        bump(&w->stolen, 1);
    }
    return t;
}

/* One step of a spin: a pause, and every SPIN_YIELD_EVERY steps a
 * sched_yield(), so that on a machine shared with other processes (whose
 * threads our affinity count cannot see) a spinner gives its CPU to whoever
 * is waiting for it; on an idle CPU the call returns at once. */
#define SPIN_YIELD_EVERY 256

static inline void spin_pause(int i)
{
    if (i % SPIN_YIELD_EVERY == SPIN_YIELD_EVERY - 1)
        sched_yield();
    else
        cpu_relax();
}

/* idle_spin x per_round pauses, at most max (idle_spin may be 10^6). */
static inline int spin_rounds(int per_round, int max)
{
    return S.idle_spin < max / per_round ? S.idle_spin * per_round : max;
}

/* Pauses of spin_local() per unit of idle_spin, and at most (a few tens of
 * microseconds whatever idle_spin says: timers due on this worker and fd
 * events wait for the spin to end). */
#define SPIN_LOCAL_PER_ROUND 16
#define SPIN_LOCAL_MAX 2048

/* Local work ran out: before stealing or sleeping, watch our own queues a
 * little while (idle_spin x SPIN_LOCAL_PER_ROUND looks, a pause each: some
 * 10-30 us). The next message of a request/response exchange across workers
 * (a process pinned here, an actor whose caller runs elsewhere) usually
 * arrives within a microsecond; caught while spinning it costs a cache-line
 * transfer, caught asleep a futex wake on each side (several us in a VM).
 * Reads only - no shared counter moves, so a spinner costs other workers
 * nothing - and it still counts as unparked, so it also watches the other
 * deques and stops to steal as soon as one holds work. Off when the
 * workers outnumber their CPUs: there the spinner would hold the CPU the
 * sender needs. */
/* Anything this worker could run (a hint: relaxed loads; find_local()
 * takes what is there with the proper orderings). */
static bool local_work(hive__worker_t *w)
{
    return atomic_load_explicit(&w->lifo, memory_order_relaxed) ||
           atomic_load_explicit(&w->resume, memory_order_relaxed) || w->pinned_head ||
           atomic_load_explicit(&w->yielded, memory_order_relaxed) || /* relaxed: a hint */
           hive__deque_size(&w->deque) > 0 || !hive__inject_empty(&w->inbox) ||
           !hive__inject_empty(&S.inject) || !hive__inject_empty(&w->timers.inbox) ||
           stopping();
}

/* Another worker's deque holds work to steal (a hint, relaxed). */
static bool stealable_work(hive__worker_t *w)
{
    for (int i = 0; i < S.n; i++)
        if (i != w->id && hive__deque_size(&S.workers[i].deque) > 0)
            return true;
    return false;
}

/* True when there is work to look for: here (find_local) or in another
 * worker's deque (search steals it at once, not after the spin). */
static bool spin_local(hive__worker_t *w)
{
    if (S.oversubscribed)
        return false;
    int rounds = spin_rounds(SPIN_LOCAL_PER_ROUND, SPIN_LOCAL_MAX);
    for (int i = 0; i < rounds; i++) {
        if (local_work(w) || ((i & 7) == 0 && stealable_work(w)))
            return true;
        spin_pause(i);
    }
    return false;
}

static hive__task_t *search(hive__worker_t *w)
{
    if (S.n < 2 && hive__inject_empty(&S.inject))
        return NULL;
    if (!hive__idle_to_searching(&S.idle, &w->parker))
        return NULL;
    for (int round = 0; round <= S.idle_spin && !stopping(); round++) {
        hive__task_t *t = NULL;
        for (int k = 0; k < S.n - 1 && !t; k++)
            t = steal_from(w, &S.workers[w->steal_order[k]]);
        if (!t)
            t = take_inject(w);
        if (t) {
            hive__idle_from_searching(&S.idle, &w->parker);
            return t;
        }
        if (round % 8 == 7) {
            if (S.oversubscribed)
                sched_yield(); /* let the victims' owners run */
            else
                for (int k = 0; k < 32; k++)
                    cpu_relax();
        }
    }
    return NULL; /* still counted as searching: park() hands that back */
}

/* park.c's has_work, the parking worker's last look (K3 in park.c): is
 * there anything this worker could take? `self` is the parking worker: its
 * own inbox and timer inbox count, other workers' deques and LIFO slots
 * (stealable) and the injection queue too, and another's yield slot only if
 * that worker looks stuck (no dispatch since our last look): we could take
 * it from no other, and it waits there for up to YIELD_WAIT_MAX dispatches,
 * which we would spend in a search-and-park loop. A foreign thread's timer lands in
 * the timer inbox and a pinned task in the inbox, and the sender then wakes
 * this worker by id (hive__idle_wake_worker); if that wake came before we
 * joined the sleepers list it found nobody, and - for a timer - the deadline
 * we park with was read before the timer arrived: without this check we
 * slept through it until something else woke us (found by test_alloc_fail
 * under TSan: a 1 ms timer armed from a foreign thread arrived after 5 s).
 * The fences W2/K2 order the sender's push before this load (park.c).
 * Other workers' inboxes are theirs to drain, not ours: counting them would
 * only make us park and unpark in a loop until their owner takes them. */
static bool any_work(void *self)
{
    hive__worker_t *me = self;
    if (stopping() || !hive__inject_empty(&S.inject) || !hive__inject_empty(&me->timers.inbox) ||
        !hive__inject_empty(&me->inbox) || me->pinned_head)
        return true;
    for (int i = 0; i < S.n; i++) {
        /* relaxed: ordered after the (K2) fence in hive__idle_park(). A
         * pinned task in another worker's slot is not ours to take. */
        hive__worker_t *v = &S.workers[i];
        uintptr_t lifo = atomic_load_explicit(&v->lifo, memory_order_relaxed);
        uintptr_t yielded = atomic_load_explicit(&v->yielded, memory_order_relaxed);
        bool stuck = me->seen_tick[i] == atomic_load_explicit(&v->tick, memory_order_relaxed);
        if (hive__deque_size(&v->deque) > 0 ||
            (v == me ? lifo != 0 || yielded != 0
                     : slot_stealable(lifo) || (stuck && slot_stealable(yielded))))
            return true;
    }
    return false;
}

/* Make t runnable: a woken or new task goes to this worker's LIFO slot and
 * runs next here (the previous occupant moves to the deque); from a foreign
 * thread, or while stopping, to the injection queue. Then maybe wake a
 * parked worker. A new task too (Go's newproc puts it in runnext): a parent
 * that spawns and then waits for its child's first answer (an actor's
 * init, a supervisor starting a child, spawn-and-join) has it run on its
 * worker at once, where the deque would offer it first to a spinning thief
 * and make every such start a cross-core round trip (spawn_run: 250 ->
 * 160 ns on 2 workers; sup_tree_start -15%). A loop that spawns many moves
 * each earlier child to the deque, where thieves see it as before. */
static void make_ready(hive__task_t *t)
{
    hive__worker_t *w = hive__worker_self();
    if (t->pinned >= 0 && (!w || w->id != t->pinned) && !stopping()) {
        start_on(t, t->pinned);
        return;
    }
    if (w && !stopping()) {
        /* Published to whoever takes it from the slot: slot_put_own(). With
         * no previous occupant t runs next here and no one else need wake
         * (Tokio); a pinned one goes to our FIFO, likewise. */
        hive__task_t *prev = slot_task(slot_put_own(&w->lifo, slot_word(w, t)));
        if (prev && push_local(w, prev))
            notify_thieves();
        return;
    }
    hive__inject_push(&S.inject, &t->inject);
    hive__idle_notify(&S.idle);
}

/* ---- tasks ----------------------------------------------------------- */

/* Hand t to worker id's inbox and wake it. */
static void start_on(hive__task_t *t, int id)
{
    hive__inject_push(&S.workers[id].inbox, &t->inject);
    hive__idle_wake_worker(&S.idle, id);
}

void hive__task_init(hive__task_t *t, void (*fn)(void *), void *arg, size_t stack_size)
{
    memset(t, 0, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->stack_size = (uint32_t)stack_size;
    t->on_exit = hive__task_free;
    t->pinned = -1;
    atomic_init(&t->park_state, HIVE__PARK_EMPTY);
}

int hive__task_new(void (*fn)(void *), void *arg, size_t stack_size, hive__task_t **out)
{
    if (!fn || !out)
        return -EINVAL;
    if (stack_size > ((size_t)1 << 30))
        return -EINVAL;
    hive__task_t *t = hive__alloc(sizeof *t);
    if (!t)
        return -ENOMEM;
    hive__task_init(t, fn, arg, stack_size);
    *out = t;
    return 0;
}

void hive__task_release_stack(hive__task_t *t)
{
    if (t->has_stack) {
        hive__fiber_destroy(&t->fiber);
        hive__stack_free(&t->fiber.stack);
        t->has_stack = false;
    }
}

bool hive__task_take_stack(hive__task_t *t, hive__stack_t *out)
{
    if (!t->has_stack)
        return false;
    *out = t->fiber.stack;
    hive__fiber_destroy(&t->fiber);
    t->has_stack = false;
    return true;
}

void hive__task_free(hive__task_t *t)
{
    hive__task_release_stack(t);
    hive__free(t, sizeof *t);
}

/* A task gets its stack when it first runs, from the running worker's cache:
 * a million queued tasks cost a million small structs, not a million
 * stacks. 0, or the error that kept it from starting. */
static int give_stack(hive__task_t *t)
{
    hive__stack_t st;
    size_t size = t->stack_size;
    if (HIVE__STACK_EXTRA) /* a sanitized build only: see fault.h */
        size = (size ? size : hive__stack_default_size()) + HIVE__STACK_EXTRA;
    int err = hive__stack_alloc(size, &st);
    if (err)
        return err;
    if ((err = hive__fiber_init(&t->fiber, &st, t->fn, t->arg)) != 0) {
        hive__stack_free(&st);
        return err;
    }
    t->has_stack = true;
    return 0;
}

void hive__task_start(hive__task_t *t)
{
    hive__worker_t *w = hive__worker_self();
    if (w) {
        bump(&w->spawned, 1);
        w->run_spawns++;
    } else {
        atomic_fetch_add_explicit(&S.foreign_spawned, 1, memory_order_relaxed); /* a count */
    }
    make_ready(t);
}

void hive__task_start_on(hive__task_t *t, int id)
{
    hive__worker_t *w = hive__worker_self();
    if (w && w->id == id) {
        hive__task_start(t);
        return;
    }
    if (w)
        bump(&w->spawned, 1);
    else
        atomic_fetch_add_explicit(&S.foreign_spawned, 1, memory_order_relaxed); /* a count */
    start_on(t, id);
}

int hive__task_spawn(void (*fn)(void *), void *arg, size_t stack_size)
{
    if (!hive__sched_running())
        return -EPERM;
    hive__task_t *t;
    int err = hive__task_new(fn, arg, stack_size, &t);
    if (err)
        return err;
    hive__task_start(t);
    hive__task_charge(1);
    return 0;
}

static void settle_slow(void);

/* Every fiber back from a switch calls this first: the task that switched
 * straight to it may be waiting to be settled. */
static inline void settle_pending(void)
{
    if (__builtin_expect(hive__worker_self()->settle_task != NULL, 0))
        settle_slow();
}

static hive__task_t *handoff_next(hive__worker_t *w, bool resume_too);
static void handoff(hive__worker_t *w, hive__task_t *from, int reason, hive__task_t *to);

void hive__task_yield(void)
{
    hive__task_t *t = hive__task_self();
    if (!t) {
        sched_yield();
        return;
    }
    t->suspend_reason = HIVE__SUSPEND_YIELD;
    hive__fiber_suspend(&t->fiber);
    settle_pending();
}

void hive__task_charge(int units)
{
    hive__task_t *t = hive__task_self();
    if (t)
        hive__task_charge_self(t, units);
}

/* Pauses of hive__task_spin_wait() per unit of idle_spin, and at most (the
 * waiting process's own timeout is armed only after the spin). */
#define SPIN_WAIT_PER_ROUND 4
#define SPIN_WAIT_MAX 512

/* The spin itself, out of line: most waits find local work at once (a
 * caller waiting in the resume slot for an actor going idle) and should not
 * pay for setting it up (callgrind, actor_call on 2 workers: 40
 * instructions a call for a spin that returned at once). */
__attribute__((noinline)) static bool spin_wait_loop(hive__worker_t *w, bool (*ready)(void *ctx),
                                                     void *ctx)
{
    int rounds = spin_rounds(SPIN_WAIT_PER_ROUND, SPIN_WAIT_MAX);
    for (int i = 0; i < rounds; i++) {
        if ((i & 15) == 15 && local_work(w))
            return false;
        if (ready(ctx))
            return true;
        spin_pause(i);
    }
    return false;
}

bool hive__task_spin_wait(bool (*ready)(void *ctx), void *ctx)
{
    hive__worker_t *w = hive__worker_self();
    /* One worker: only foreign threads could answer; not worth a spin.
     * Nor with something else to run here. */
    if (!w || S.n < 2 || S.oversubscribed || local_work(w) || !hive__task_self())
        return false;
    return spin_wait_loop(w, ready, ctx);
}

bool hive__task_yield_to_next(void)
{
    hive__worker_t *w = hive__worker_self();
    hive__task_t *t = hive__task_self();
    /* relaxed: hints (the slots are taken with slot_take_own()) */
    if (!w || !t || atomic_load_explicit(&w->resume, memory_order_relaxed) ||
        !atomic_load_explicit(&w->lifo, memory_order_relaxed))
        return false;
    hive__task_t *next = handoff_next(w, false);
    if (next) {
        handoff(w, t, HIVE__SUSPEND_NEXT, next);
        return true;
    }
    t->suspend_reason = HIVE__SUSPEND_NEXT;
    hive__fiber_suspend(&t->fiber);
    settle_pending();
    return true;
}

/* A token already there: consume it (true). A plain load first, so the
 * common case (no token: the task will suspend) costs no locked
 * instruction; a token that lands after the load is seen by run_task()'s
 * CAS, which then runs the task again at once. acquire: a token left by
 * hive__task_unpark() (release) publishes what the unparker wrote. */
static bool take_token(hive__task_t *t)
{
    return atomic_load_explicit(&t->park_state, memory_order_relaxed) == HIVE__PARK_NOTIFIED &&
           atomic_exchange_explicit(&t->park_state, HIVE__PARK_EMPTY, memory_order_acquire) ==
               HIVE__PARK_NOTIFIED;
}

void hive__task_park(void)
{
    hive__task_t *t = hive__task_self();
    if (take_token(t))
        return;
    hive__task_t *next = handoff_next(hive__worker_self(), true);
    if (next) {
        handoff(hive__worker_self(), t, HIVE__SUSPEND_PARK, next);
    } else {
        t->suspend_reason = HIVE__SUSPEND_PARK;
        hive__fiber_suspend(&t->fiber);
        settle_pending();
    }
    /* Back: either run_task() saw a token arrive and reran us (state is
     * EMPTY), or an unparker made us runnable (state is NOTIFIED): consume.
     * acquire: pairs with the unparker's release exchange. */
    atomic_exchange_explicit(&t->park_state, HIVE__PARK_EMPTY, memory_order_acquire);
}

void hive__task_park_release(void)
{
    hive__task_t *t = hive__task_self();
    if (take_token(t))
        return;
    t->suspend_reason = HIVE__SUSPEND_RELEASE;
#if HIVE_ASAN
    /* ASan: never resumed (run_task() restarts it even when a token is
     * already there), so leave as a dying fiber: an abandoned fiber's fake
     * stack (use-after-return checking) leaks: test_actor grew to 2.6 GB. */
    hive__fiber_suspend_last(&t->fiber);
#else
    hive__task_t *next = handoff_next(hive__worker_self(), true);
    if (next) {
        handoff(hive__worker_self(), t, HIVE__SUSPEND_RELEASE, next);
    } else {
        hive__fiber_suspend(&t->fiber);
        settle_pending();
    }
    /* Back only when a token came before the release: consume it.
     * acquire: pairs with the unparker's release exchange. */
    atomic_exchange_explicit(&t->park_state, HIVE__PARK_EMPTY, memory_order_acquire);
#endif
}

void hive__task_unpark(hive__task_t *t)
{
    /* acq_rel: release publishes the unparker's writes (a message, a result)
     * to t; acquire pairs with the release CAS (park_parked(), park_warm(),
     * from run_task() or settle_slow()) that published PARKED or WARM after
     * t's context was saved, before we hand t to a queue. */
    int prev = atomic_exchange_explicit(&t->park_state, HIVE__PARK_NOTIFIED, memory_order_acq_rel);
    /* RELEASING: the worker taking t's stack sees the token when it
     * publishes PARKED, and makes t ready itself (evict()). */
    if (prev == HIVE__PARK_PARKED || prev == HIVE__PARK_WARM)
        make_ready(t);
}

/* ---- the loop -------------------------------------------------------- */

static void finish_task(hive__worker_t *w, hive__task_t *t)
{
    bump(&w->exited, 1);
    t->on_exit(t);
}

/* Drop the stack of t, parked by hive__task_park_release() (nothing on it
 * is needed: the caller's promise): its next run starts fn afresh. */
static void release_to_restart(hive__task_t *t)
{
    hive__task_release_stack(t);
    t->restarted = true;
}

/* ---- the warm slot ----------------------------------------------------
 *
 * An actor waiting for its next message gives its stack back
 * (hive__task_park_release()): a million idle actors hold no stack. But an
 * actor that is called again and again (a server) would pay at every
 * message for dropping its stack, getting one again and restarting its
 * fiber: ~150 instructions of a ~1,640-instruction call round trip
 * (callgrind). So a releasing park is lazy: the task parks WARM, stack
 * kept, in its worker's warm slot (one per worker), and only when another
 * actor takes the slot is the previous one's stack dropped (evict()). Woken
 * while warm, it simply resumes. At most one stack per worker is held this
 * way.
 *
 * Ownership: a task in a slot is a parked task like any other; an unparker
 * who finds it WARM makes it ready, and whoever runs it first takes it out
 * of the slot (unwarm_remote(), or unwarm_here() on its own worker). The
 * evicting worker takes it over with a CAS WARM -> RELEASING (failing if
 * it woke, or already went), drops the stack, then publishes PARKED with a
 * CAS; if a token came in between (the
 * unparker saw RELEASING and left it), the evictor makes it ready. A slot
 * may briefly name a task that has woken (its runner's CAS lost to the
 * owner's replacing it): the evictor's CAS then fails. Such a stale name
 * never outlives the owner's dispatch: a task leaves the slot before it
 * runs, and the owner reads the slot only in its loop or in a settle on
 * its behalf (settle_slow(), with no RCU quiescent state in between either
 * way, and processes are freed after a grace period), so the task's memory
 * is still there. Orderings: the slot is
 * relaxed (it only names candidates; the park-state CASes decide, and
 * they carry the acquire/release of a park and an unpark: warm_at and the
 * stack fields are written before a release and read after an acquire). */

/* t, which w does not run, leaves the slot of the worker it names. */
static void unwarm_remote(hive__task_t *t)
{
    hive__task_t *expect = t;
    /* relaxed: see above. */
    atomic_compare_exchange_strong_explicit(&S.workers[t->warm_at - 1].warm, &expect, NULL,
                                            memory_order_relaxed, memory_order_relaxed);
    t->warm_at = 0;
}

/* t, named by w's own slot (warm_at), runs again on w: out of the slot. */
static void unwarm_here(hive__worker_t *w, hive__task_t *t)
{
    t->warm_at = 0;
    /* relaxed: see above; only the owner stores, and another worker's CAS
     * can only take out a task other than t, not put one in. */
    if (atomic_load_explicit(&w->warm, memory_order_relaxed) == t)
        atomic_store_explicit(&w->warm, NULL, memory_order_relaxed);
}

#if !HIVE_ASAN /* ASan: no warm slot (a releasing park leaves its fiber) */
/* x has lost w's slot: drop its stack, if it still waits warm. */
static void evict(hive__worker_t *w, hive__task_t *x)
{
    int expect = HIVE__PARK_WARM;
    /* acquire: the park's release (its stack and warm_at); relaxed on
     * failure: x woke (or was taken already) and is not ours. */
    if (!atomic_compare_exchange_strong_explicit(&x->park_state, &expect, HIVE__PARK_RELEASING,
                                                 memory_order_acquire, memory_order_relaxed))
        return;
    /* Ours until PARKED is published. It may have parked warm again on
     * another worker since w's slot was read: out of that slot too. */
    if (x->warm_at && x->warm_at != w->id + 1)
        unwarm_remote(x);
    x->warm_at = 0;
    release_to_restart(x);
    expect = HIVE__PARK_RELEASING;
    /* release: the stack fields, to whoever unparks x; acquire on failure:
     * the token's publisher's writes. */
    if (!atomic_compare_exchange_strong_explicit(&x->park_state, &expect, HIVE__PARK_PARKED,
                                                 memory_order_acq_rel, memory_order_acquire))
        make_ready(x); /* a token came while we held it: it starts afresh */
}
#endif

#if !HIVE_ASAN
/* t left its fiber to park releasing (HIVE__SUSPEND_RELEASE), its context
 * saved: park it warm in w's slot (see above), evicting the last occupant.
 * False when a token came first: t is to run again, stack kept (cheaper
 * than releasing it), and is in no slot. */
static bool park_warm(hive__worker_t *w, hive__task_t *t)
{
    /* acquire: the token's publisher's writes. */
    if (atomic_load_explicit(&t->park_state, memory_order_acquire) == HIVE__PARK_NOTIFIED)
        return false;
    /* relaxed: the slot (see above). */
    hive__task_t *x = atomic_load_explicit(&w->warm, memory_order_relaxed);
    t->warm_at = (int16_t)(w->id + 1);
    atomic_store_explicit(&w->warm, t, memory_order_relaxed); /* relaxed: as above */
    int expect = HIVE__PARK_EMPTY;
    /* release: t's stack and warm_at, to its unparker or evictor; acquire
     * on failure: the token's publisher's writes. */
    bool parked = atomic_compare_exchange_strong_explicit(
        &t->park_state, &expect, HIVE__PARK_WARM, memory_order_acq_rel, memory_order_acquire);
    if (x && x != t)
        evict(w, x);
    if (!parked)
        unwarm_here(w, t); /* a token came in between */
    return parked;
}
#endif

/* t left its fiber to park (HIVE__SUSPEND_PARK), its context saved:
 * publish PARKED. release: pairs with the acquire in hive__task_unpark(),
 * which then owns t. acquire on failure: the token's publisher's writes.
 * False when a token came in between the task's check and here: t is to
 * run again. */
static bool park_parked(hive__task_t *t)
{
    int expect = HIVE__PARK_EMPTY;
    /* release / acquire: see above. */
    return atomic_compare_exchange_strong_explicit(&t->park_state, &expect, HIVE__PARK_PARKED,
                                                   memory_order_acq_rel, memory_order_acquire);
}

/* t's fiber switched out to wait (reason: HIVE__SUSPEND_NEXT, _RELEASE or
 * _PARK), its context saved: put it where it waits - run_task() calls this
 * for the task that came back to the loop, settle_slow() for one that
 * switched straight to the next (see "Handoff"). False when a token came
 * first: t is to run again, and is in no queue. */
__attribute__((always_inline)) static inline bool settle(hive__worker_t *w, hive__task_t *t,
                                                          int reason)
{
    if (reason == HIVE__SUSPEND_NEXT) {
        /* Stepped aside for the LIFO slot's task only: it runs next after
         * it, from the resume slot, which a thief takes only from a stuck
         * worker. (Pushed on the deque with a fairness turn, as a yield is,
         * a fork-join parent lost its depth-first order - fib 300 -> 700
         * ns - and a pinned caller was stolen by the idle worker and sent
         * home.) release: publishes t's saved context to whoever takes it. */
        atomic_store_explicit(&w->resume, slot_word(w, t), memory_order_release);
        return true;
    }
    if (reason == HIVE__SUSPEND_RELEASE) {
#if !HIVE_ASAN /* ASan: the fiber left for good (hive__task_park_release) */
        return park_warm(w, t); /* false: it runs again, stack kept */
#else
        /* Drop the stack before publishing PARKED: from then on an
         * unparker may hand t to another worker, which gives it a new one.
         * Nothing on the old stack is needed (the caller's promise). */
        release_to_restart(t);
#endif
    }
    return park_parked(t);
}

/* ---- handoff ----------------------------------------------------------
 *
 * A process that steps aside for the task in the LIFO slot (a caller
 * waiting for the answer to the request it just sent) or parks (an actor
 * done with its message, a receiver with nothing to take) while the LIFO
 * or resume slot holds the task this worker runs next would go back to the
 * scheduler loop, which would pick that very task: two context switches
 * and a pass of the loop, find_local() and run_task() per dispatch, some
 * 170 of an actor call's ~1,450 instructions per side (callgrind). Instead
 * its fiber switches straight to the next task's, doing what the loop
 * would have done on the way (the same choice, the same counts), and the
 * next task, first thing as it runs, settles the previous one - publishes
 * it in the resume slot, or parks it - as run_task() would have. Not
 * before: until its context is saved no other worker may find it (the
 * rule the loop keeps, see the top of this file).
 *
 * Only to a task that has a stack (it is suspended in one of the wrappers
 * above, each of which settles when it is back), is not warm on another
 * worker and runs here; at most HANDOFF_CHAIN in a row, and never when the
 * loop has a turn due (the injection queue's or the fair one, or the LIFO
 * streak's end): the loop then runs as before. It counts the handoffs of
 * its last dispatch as dispatches, so the timers, the poller and the RCU
 * quiescent state come as often as without them, at most HANDOFF_CHAIN
 * dispatches late.
 *
 * Stack: both sides run this on stacks that entered hive through an API
 * call with HIVE__STACK_RESERVE of headroom checked (fault.h); the
 * handoff and the settle (a park CAS, an eviction that returns a stack to
 * the cache, a make_ready) stay far within it, as the loop's own path
 * from a park did. */
#define HANDOFF_CHAIN 8

/* The task w runs next, taken from its slot, if it may be switched to
 * directly; else NULL, and nothing taken. resume_too: the caller parks, so
 * the resume slot's task is next when the LIFO slot is empty (as in
 * find_local()); a task stepping aside goes to the resume slot itself. */
static hive__task_t *handoff_next(hive__worker_t *w, bool resume_too)
{
    if (w->chain >= HANDOFF_CHAIN || w->inject_due <= 1)
        return NULL;
    _Atomic(uintptr_t) *slot = &w->lifo;
    /* relaxed: peeks; the take below takes. */
    uintptr_t word = atomic_load_explicit(slot, memory_order_relaxed);
    if (!word && resume_too) {
        slot = &w->resume;
        word = atomic_load_explicit(slot, memory_order_relaxed);
    }
    if (!(word & SLOT_DIRECT))
        return NULL; /* nothing, or the loop's to run (no stack yet, warm elsewhere) */
    if (slot_turn_over(w, slot == &w->lifo && resume_waits(w)))
        return NULL;
    /* Only this worker fills its slots: the take finds the word peeked, or
     * 0 if a thief took it since (slot_take_own()). */
    hive__task_t *t = slot_task(slot_take_own(slot));
    if (!t)
        return NULL;
    count_dispatch(w);
    w->inject_due--;
    w->lifo_streak++;
    w->chain++;
    if (slot == &w->lifo)
        bump(&w->lifo_runs, 1);
    return t;
}

/* From the running task `from`, suspending for `reason`, straight into
 * `to` (from handoff_next()). Returns when `from` runs again, anywhere. */
__attribute__((noinline)) static void handoff(hive__worker_t *w, hive__task_t *from, int reason,
                                              hive__task_t *to)
{
    if (to->warm_at)
        unwarm_here(w, to);
    to->budget = HIVE__BUDGET;
    w->run_spawns = 0;
    to->worker = w;
    to->suspend_reason = 0;
    bump(&w->runs, 1);
    bump(&w->handoffs, 1);
    from->suspend_reason = reason;
    w->settle_task = from;
    tls_task = to;
    hive__fiber_switch(&from->fiber, &to->fiber);
    /* Back, maybe on another worker: w and the thread-locals are stale. */
    settle_pending();
}

/* What run_task() does when a task's fiber has switched out, for the task
 * that switched straight to the one running now (which calls this). */
__attribute__((noinline)) static void settle_slow(void)
{
    hive__worker_t *w = hive__worker_self();
    hive__task_t *t = w->settle_task;
    w->settle_task = NULL;
    /* Its suspend_reason is still the handoff's: nothing runs it before
     * this settle makes it findable. */
    if (!settle(w, t, t->suspend_reason))
        make_ready(t); /* a token came: it runs again */
}
static void run_task(hive__worker_t *w, hive__task_t *t)
{
    if (t->pinned >= 0 && t->pinned != w->id) {
        start_on(t, t->pinned); /* stolen or injected: it runs only at home */
        return;
    }
    if (t->warm_at == w->id + 1) {
        unwarm_here(w, t);
    } else if (t->warm_at) {
        /* Woken warm, but on another worker: its stack's lines are in the
         * other core's cache; restart it on a fresh stack from ours, as
         * every wake did before the slot (resuming it there instead
         * measured no better, within this VM's noise). */
        unwarm_remote(t);
        release_to_restart(t);
    }
    for (;;) {
        if (!t->has_stack) {
            if ((t->start_error = give_stack(t)) != 0) {
                finish_task(w, t); /* never ran (again): on_exit sees start_error */
                return;
            }
            if (t->restarted) {
                /* Starting afresh after a release: the token that woke us
                 * is consumed here, as hive__task_park() would have.
                 * acquire: pairs with the unparker's release exchange. */
                atomic_exchange_explicit(&t->park_state, HIVE__PARK_EMPTY,
                                         memory_order_acquire);
                t->restarted = false;
                t->rerun = true;
            }
        }
        tls_task = t;
        t->budget = HIVE__BUDGET;
        w->run_spawns = 0;
        t->worker = w;
        t->suspend_reason = 0;
        w->chain = 0;
        bump(&w->runs, 1);
        hive__fiber_resume(&w->sched_ctx, &t->fiber);
        /* The task that came back: t, or one that t (or a successor)
         * switched to directly (see "Handoff"). */
        t = tls_task;
        tls_task = NULL;
        if (t->fiber.done) {
            finish_task(w, t);
            return;
        }
        if (t->suspend_reason == HIVE__SUSPEND_YIELD) {
            if (yield_behind(w, t))
                return;
            push_local(w, t);
            w->fair_next = true;
            /* The fair turn goes to the other queue first: a yielding
             * task alone in its queue would be taken straight back. */
            w->pinned_turn = t->pinned >= 0;
            return;
        }
        if (settle(w, t, t->suspend_reason))
            return;
        /* A token came in between the task's check and here: run it again
         * (stack kept, or afresh on a new stack if it was released). */
    }
}

/* Harvest w's poller (timeout_ms: 0 = just look). Its events make processes
 * runnable here (the ready callback unparks them onto our LIFO slot). */
static int poll_once(hive__worker_t *w, int timeout_ms)
{
    int n = hive__poll_harvest(&w->poller, timeout_ms, S.io_ready, w->events);
    if (n > 0)
        bump(&w->polls, 1);
    return n;
}

/* park.c's block: sleep in epoll_wait for at most wait_ns. The worker is
 * offline (RCU) while it sleeps and comes online to hand out events, whose
 * callback looks processes up. */
static int poll_block(void *ctx, uint64_t wait_ns)
{
    hive__worker_t *w = ctx;
    int ms = -1;
    if (wait_ns != UINT64_MAX)
        ms = wait_ns >= (uint64_t)INT32_MAX * 1000000u ? INT32_MAX
                                                       : (int)((wait_ns + 999999u) / 1000000u);
    int got = hive__poll_wait(&w->poller, ms, w->events);
    if (got == 0)
        return 0;
    hive__rcu_online();
    int n = hive__poll_dispatch(&w->poller, w->events, got, S.io_ready);
    hive__rcu_offline();
    if (n > 0)
        bump(&w->polls, 1);
    return n;
}

static void worker_park(hive__worker_t *w)
{
    bump(&w->parks, 1);
    if (S.idle_hook)
        S.idle_hook();
    hive__rcu_offline(); /* a sleeping reader must not hold up grace periods */
    uint64_t deadline = hive__timer_heap_next(&w->timers);
    if (S.io_ready && hive__poll_registered(&w->poller) > 0)
        hive__idle_park_poll(&S.idle, w->id, deadline, any_work, w, poll_block, w);
    else
        hive__idle_park(&S.idle, w->id, deadline, any_work, w);
    hive__rcu_online();
}

static void signal_started(int err)
{
    pthread_mutex_lock(&S.start_lock);
    S.started++;
    if (err && !S.start_error)
        S.start_error = err;
    pthread_cond_broadcast(&S.start_cond);
    pthread_mutex_unlock(&S.start_lock);
}

static void *worker_main(void *arg)
{
    hive__worker_t *w = arg;
    tls_worker = w;
    int err = 0;
    if (S.topology && w->cpu >= 0)
        err = hive__topology_bind_self(S.topology, w->cpu);
    hive__alloc_worker_enter(w->id);
    rcu_register_thread();
    hive__msg_cache_attach();
    hive__ctx_init_thread(&w->sched_ctx);
    if (!err)
        err = hive__fault_thread_init();
    signal_started(err);
    while (!stopping()) {
        /* Timers: every HIVE__TIMER_INTERVAL dispatches, and whenever local
         * work runs out (below): a clock read per dispatch would cost more
         * than many dispatches, and a timer is late by at most a few. */
        bool timers = hive__timer_heap_busy(&w->timers);
        if (timers && ++w->timer_tick >= HIVE__TIMER_INTERVAL) {
            w->timer_tick = 0;
            hive__timer_heap_run(&w->timers, w->id, hive__now_ns());
        }
        bool io = S.io_ready && hive__poll_registered(&w->poller) > 0;
        if (io && ++w->poll_tick >= HIVE__POLL_INTERVAL) {
            w->poll_tick = 0;
            poll_once(w, 0);
        }
        hive__task_t *t = find_local(w);
        if (!t && timers) {
            hive__timer_heap_run(&w->timers, w->id, hive__now_ns());
            t = find_local(w);
        }
        if (!t && io && poll_once(w, 0) > 0)
            t = find_local(w);
        if (!t && spin_local(w))
            t = find_local(w);
        if (!t)
            t = search(w);
        else if (w->parker.searching)
            /* Woken (a woken worker starts out searching) and found work
             * here: stop counting as a searcher, or notify() would rely on
             * us and wake no sleeper while we run it. */
            hive__idle_from_searching(&S.idle, &w->parker);
        if (t) {
            run_task(w, t);
            /* The handoffs of that run count as dispatches for the timers,
             * the poller and the quiescent state, which are then due as
             * often as without them (a pass of the loop may cover up to
             * 1 + HANDOFF_CHAIN dispatches). */
            uint32_t more = (uint32_t)w->chain;
            w->timer_tick += more;
            w->poll_tick += more;
            /* A quiescent state every 8 dispatches: a call into liburcu
             * and a thread-local lookup each time would cost more than the
             * few microseconds it holds a grace period up. */
            w->qs_tick += 1 + more;
            if (w->qs_tick >= 8) {
                w->qs_tick = 0;
                hive__rcu_quiescent();
            }
        } else {
            worker_park(w);
        }
    }
    hive__idle_from_searching(&S.idle, &w->parker);
    if (S.idle_hook)
        S.idle_hook();
    hive__stack_thread_flush();
    hive__msg_cache_detach();
    hive__fault_thread_fini();
    hive__rcu_offline();
    rcu_unregister_thread();
    tls_worker = NULL;
    return NULL;
}

static void free_workers(int ninit)
{
    for (int i = 0; i < ninit; i++) {
        hive__free(S.workers[i].seen_tick, (size_t)S.n * sizeof *S.workers[i].seen_tick);
        hive__deque_destroy(&S.workers[i].deque);
        hive__timer_heap_destroy(&S.workers[i].timers);
        hive__poll_destroy(&S.workers[i].poller);
    }
    hive__free(S.workers, (size_t)S.n * sizeof *S.workers);
    hive__free(S.parkers, (size_t)S.n * sizeof *S.parkers);
    S.workers = NULL;
    S.parkers = NULL;
}

/* Drop every queued task (after the workers stopped): their on_exit runs
 * as for a task that ended (t->fiber.done is false). Returns how many. */
static long drain(void)
{
    long dropped = 0;
    for (int i = 0; i < S.n; i++) {
        hive__worker_t *w = &S.workers[i];
        /* acquire: the workers are joined; this only keeps the access atomic. */
        hive__task_t *t = slot_task(atomic_exchange_explicit(&w->lifo, 0, memory_order_acquire));
        if (t) {
            t->on_exit(t);
            dropped++;
        }
        if ((t = take_resume(w))) {
            t->on_exit(t);
            dropped++;
        }
        /* acquire: as lifo above. */
        if ((t = slot_task(atomic_exchange_explicit(&w->yielded, 0, memory_order_acquire)))) {
            t->on_exit(t);
            dropped++;
        }
        while ((t = pinned_pop(w))) {
            t->on_exit(t);
            dropped++;
        }
        while ((t = hive__deque_pop(&w->deque))) {
            t->on_exit(t);
            dropped++;
        }
    }
    for (int i = 0; i <= S.n; i++) {
        hive__inject_t *q = i < S.n ? &S.workers[i].inbox : &S.inject;
        for (hive__inject_node_t *n = hive__inject_take_all(q); n;) {
            hive__inject_node_t *next = n->next;
            task_of(n)->on_exit(task_of(n));
            dropped++;
            n = next;
        }
    }
    return dropped;
}

int hive__sched_start(const hive__sched_params_t *p)
{
    if (hive__sched_running())
        return -EALREADY;
    if (p->nworkers < 1 || p->steal_batch < 1 || p->idle_spin < 0)
        return -EINVAL;
    int ferr = hive__fault_install();
    if (ferr)
        return ferr;
    S.n = p->nworkers;
    S.steal_batch = p->steal_batch;
    S.idle_spin = p->idle_spin;
    cpu_set_t cpus;
    bool have_cpus = sched_getaffinity(0, sizeof cpus, &cpus) == 0;
    S.oversubscribed = !have_cpus || S.n > CPU_COUNT(&cpus);
    /* The RCU reclaim threads float over every CPU we may use (rcu.c says
     * why): the starting thread's and the placement's, should the caller
     * have pinned itself to fewer. */
    cpu_set_t reclaim;
    CPU_ZERO(&reclaim);
    if (have_cpus)
        CPU_OR(&reclaim, &reclaim, &cpus);
    for (int i = 0; p->placement && i < S.n; i++)
        if (p->placement->cpu[i] >= 0 && p->placement->cpu[i] < CPU_SETSIZE)
            CPU_SET(p->placement->cpu[i], &reclaim);
    int rerr = hive__rcu_reclaimer_start(CPU_COUNT(&reclaim) ? &reclaim : NULL);
    if (rerr)
        return rerr;
    S.topology = p->topology;
    S.idle_hook = p->idle_hook;
    S.io_ready = p->io_ready;
    atomic_store_explicit(&S.stopping, false, memory_order_relaxed); /* no workers yet */
    atomic_store_explicit(&S.foreign_spawned, 0, memory_order_relaxed);
    hive__stack_set_default_size(p->stack_size ? p->stack_size : HIVE__STACK_DEFAULT_SIZE);
    S.workers = hive__zalloc((size_t)S.n * sizeof *S.workers);
    S.parkers = hive__zalloc((size_t)S.n * sizeof *S.parkers);
    if (!S.workers || !S.parkers) {
        free_workers(0);
        return -ENOMEM;
    }
    int ninit = 0;
    for (; ninit < S.n; ninit++) {
        hive__worker_t *w = &S.workers[ninit];
        if (hive__deque_init(&w->deque, DEQUE_INITIAL) != 0)
            break;
        w->id = ninit;
        w->cpu = p->placement ? p->placement->cpu[ninit] : -1;
        w->steal_order = p->placement ? p->placement->steal_order[ninit] : NULL;
        w->seen_tick = hive__zalloc((size_t)S.n * sizeof *w->seen_tick);
        if (!w->seen_tick) {
            hive__deque_destroy(&w->deque);
            break;
        }
        if (hive__poll_init(&w->poller) != 0) {
            hive__free(w->seen_tick, (size_t)S.n * sizeof *w->seen_tick);
            hive__deque_destroy(&w->deque);
            break;
        }
        w->parker.poller = &w->poller;
        hive__timer_heap_init(&w->timers);
        hive__inject_init(&w->inbox);
        S.parkers[ninit] = &w->parker;
    }
    if (ninit < S.n || hive__idle_init(&S.idle, S.n, S.parkers) != 0) {
        free_workers(ninit);
        return -ENOMEM;
    }
    hive__inject_init(&S.inject);
    S.started = 0;
    S.start_error = 0;
    int created = 0, err = 0;
    for (; created < S.n; created++) {
        if (pthread_create(&S.workers[created].thread, NULL, worker_main,
                           &S.workers[created]) != 0) {
            err = -EAGAIN;
            break;
        }
    }
    pthread_mutex_lock(&S.start_lock);
    while (S.started < created)
        pthread_cond_wait(&S.start_cond, &S.start_lock);
    if (!err)
        err = S.start_error;
    pthread_mutex_unlock(&S.start_lock);
    /* release: pairs with the acquire in hive__sched_running(). */
    atomic_store_explicit(&S.running, true, memory_order_release);
    if (err) {
        /* Stop what started; nothing half-started stays behind. */
        atomic_store_explicit(&S.stopping, true, memory_order_release);
        hive__idle_wake_all(&S.idle);
        for (int i = 0; i < created; i++)
            pthread_join(S.workers[i].thread, NULL);
        atomic_store_explicit(&S.running, false, memory_order_release); /* see start */
        hive__idle_destroy(&S.idle);
        free_workers(S.n);
        return err;
    }
    return 0;
}

long hive__sched_stop(void)
{
    if (!hive__sched_running())
        return -EALREADY;
    if (hive__worker_self())
        return -EPERM;
    /* release: pairs with the acquire in stopping(); workers finish the task
     * they run and leave their loops. */
    atomic_store_explicit(&S.stopping, true, memory_order_release);
    hive__idle_wake_all(&S.idle);
    for (int i = 0; i < S.n; i++)
        pthread_join(S.workers[i].thread, NULL);
    long dropped = drain();
    atomic_store_explicit(&S.running, false, memory_order_release); /* see start */
    hive__idle_destroy(&S.idle);
    free_workers(S.n);
    rcu_barrier(); /* run the deferred frees of grown-out-of deque arrays */
    return dropped;
}

void hive__worker_stats(int id, hive__worker_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!hive__sched_running() || id < 0 || id >= S.n)
        return;
    hive__worker_t *w = &S.workers[id];
    /* relaxed: statistics, each read on its own. */
    out->runs = atomic_load_explicit(&w->runs, memory_order_relaxed);
    out->steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
    out->stolen = atomic_load_explicit(&w->stolen, memory_order_relaxed);
    /* relaxed: statistics. */
    out->lifo_runs = atomic_load_explicit(&w->lifo_runs, memory_order_relaxed);
    out->injected = atomic_load_explicit(&w->injected, memory_order_relaxed);
    out->parks = atomic_load_explicit(&w->parks, memory_order_relaxed);
    out->polls = atomic_load_explicit(&w->polls, memory_order_relaxed); /* statistics */
    out->handoffs = atomic_load_explicit(&w->handoffs, memory_order_relaxed); /* statistics */
}

int hive__worker_poll_add(int fd, uint32_t events, uint64_t token, int *worker)
{
    hive__worker_t *w = hive__worker_self();
    if (!w || !S.io_ready)
        return -EPERM;
    int rc = hive__poll_add(&w->poller, fd, events, token);
    if (rc == 0)
        *worker = w->id;
    return rc;
}

int hive__worker_poll_del(int id, int fd)
{
    hive__worker_t *w = hive__worker_by_id(id);
    return w ? hive__poll_del(&w->poller, fd) : -ESRCH;
}

long hive__sched_poll_registered(void)
{
    long n = 0;
    for (int i = 0; i < hive__sched_nworkers(); i++)
        n += hive__poll_registered(&S.workers[i].poller);
    return n;
}

int hive__sched_sleeping(void)
{
    return hive__sched_running() ? hive__idle_sleeping(&S.idle) : 0;
}

long hive__sched_live_tasks(void)
{
    if (!hive__sched_running())
        return 0;
    /* relaxed: an estimate while running; exact once the tasks are quiet
     * (a test waits for that). */
    uint64_t made = atomic_load_explicit(&S.foreign_spawned, memory_order_relaxed), gone = 0;
    for (int i = 0; i < S.n; i++) {
        made += atomic_load_explicit(&S.workers[i].spawned, memory_order_relaxed);
        gone += atomic_load_explicit(&S.workers[i].exited, memory_order_relaxed);
    }
    return (long)(made - gone);
}
