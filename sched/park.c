/* park.c - parking and waking workers without losing wake-ups. See park.h.
 *
 * The lost wake-up this must rule out: a producer makes work available while
 * the only worker that could run it is deciding to sleep. The producer does
 *   (P1) store the work;  (P2) seq_cst fence;  (P3) load idle->state
 * and the parking worker does
 *   (K1) RMW idle->state (one fewer unparked / searching);  (K2) seq_cst
 *   fence;  (K3) load every queue.
 * With two seq_cst fences, P3 not seeing K1 implies K3 sees P1 (C11 7.17.4:
 * the fences are totally ordered; whichever comes second sees the other
 * side's store). So either the producer sees a parked worker with nobody
 * searching and wakes one, or the parker sees the work and does not sleep.
 * If P3 sees a searcher instead, that searcher will either find the work or
 * itself park through K1-K3 after P1, and then see it. Sleepers wait on a
 * per-worker futex word that the waker sets before FUTEX_WAKE, so a wake
 * that comes before the wait is not lost either (the wait returns at once).
 *
 * A worker with fds registered sleeps in epoll_wait on its poller instead
 * (hive__idle_park_poll). It says so (p->in_poll) under idle->lock in the
 * same critical section that puts it on the sleepers list, and a waker reads
 * in_poll under that lock when it takes it off the list, so the waker knows
 * which of the two sleeps this episode uses. The waker sets the token (under
 * the lock) and then writes the poller's eventfd; the sleeper looks at the
 * token before every epoll_wait. An eventfd keeps its count until read, so
 * a kick that lands before the epoll_wait makes it return at once, exactly
 * as the futex word does for FUTEX_WAIT. A kick that lands after the sleeper
 * already left leaves a count behind: the next poll sleep returns once,
 * reads it and loops (spurious, never lost).
 */
#include "sched/park.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "mailbox/alloc.h"
#include "sched/poll.h"
#include "sched/fence.h"
#include "sched/futex.h"

#define SEARCHING_ONE ((uint64_t)1 << 32)
#define UNPARKED_ONE ((uint64_t)1)

static inline uint32_t n_searching(uint64_t s) { return (uint32_t)(s >> 32); }
static inline uint32_t n_unparked(uint64_t s) { return (uint32_t)s; }

/* relaxed: a tuning knob set by tests before the runtime starts. */
static _Atomic int backstop_ms = HIVE__PARK_BACKSTOP_MS;

void hive__idle_set_backstop_ms(int ms)
{
    atomic_store_explicit(&backstop_ms, ms, memory_order_relaxed); /* see backstop_ms */
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How long one sleep may last: the backstop or `deadline`, whichever is
 * first (ns; UINT64_MAX = no limit). */
static uint64_t wait_ns(uint64_t deadline)
{
    int ms = atomic_load_explicit(&backstop_ms, memory_order_relaxed); /* see backstop_ms */
    uint64_t wait = ms > 0 ? (uint64_t)ms * 1000000u : UINT64_MAX;
    if (deadline != UINT64_MAX) {
        uint64_t now = now_ns();
        uint64_t left = deadline > now ? deadline - now : 0;
        if (left < wait)
            wait = left;
    }
    return wait;
}

/* Wake a sleeper whose token is set: through its poller if it sleeps there
 * (via_poll, read under idle->lock), else its futex. */
static void kick(hive__parker_t *p, bool via_poll)
{
    if (via_poll)
        hive__poll_kick(p->poller);
    else
        hive__futex_wake(&p->word);
}

int hive__idle_init(hive__idle_t *idle, int nworkers, hive__parker_t **parkers)
{
    idle->sleepers = hive__alloc((size_t)nworkers * sizeof(int));
    if (!idle->sleepers)
        return -ENOMEM;
    atomic_init(&idle->state, (uint64_t)nworkers);
    atomic_init(&idle->wakeups, 0);
    pthread_mutex_init(&idle->lock, NULL);
    idle->nworkers = nworkers;
    idle->nsleepers = 0;
    idle->parkers = parkers;
    return 0;
}

void hive__idle_destroy(hive__idle_t *idle)
{
    hive__free(idle->sleepers, (size_t)idle->nworkers * sizeof(int));
    pthread_mutex_destroy(&idle->lock);
}

bool hive__idle_to_searching(hive__idle_t *idle, hive__parker_t *p)
{
    if (p->searching)
        return true;
    /* relaxed: a racy check; at worst slightly more than half search. */
    uint64_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);
    if (2 * n_searching(s) >= (uint32_t)idle->nworkers)
        return false;
    /* seq_cst: part of the StoreLoad protocol (file comment): a producer
     * that sees this searcher relies on it to look at its work. */
    atomic_fetch_add_explicit(&idle->state, SEARCHING_ONE, memory_order_seq_cst);
    p->searching = true;
    return true;
}

/* Under idle->lock: take sleepers[i] off the list and count it unparked and
 * searching again, as a woken worker starts out. */
static hive__parker_t *unlist_locked(hive__idle_t *idle, int i)
{
    hive__parker_t *p = idle->parkers[idle->sleepers[i]];
    idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
    /* relaxed: under the lock; see hive__idle_wake_worker(). */
    atomic_store_explicit(&p->listed, false, memory_order_relaxed);
    /* seq_cst: the woken worker starts out searching, so that producers
     * that see it searching rely on it (file comment). */
    atomic_fetch_add_explicit(&idle->state, SEARCHING_ONE | UNPARKED_ONE, memory_order_seq_cst);
    p->searching = true; /* handed over with the token, or by the worker itself */
    return p;
}

/* Under idle->lock: take sleepers[i] off the list and set its token. The
 * caller wakes it after unlocking (kick, with *via_poll). */
static hive__parker_t *wake_locked(hive__idle_t *idle, int i, bool *via_poll)
{
    hive__parker_t *p = unlist_locked(idle, i);
    *via_poll = p->in_poll;
    /* release: the token publishes p->searching and the state above to the
     * woken worker; pairs with the acquire load of word in
     * hive__idle_park(). */
    atomic_store_explicit(&p->word, 1, memory_order_release);
    return p;
}

/* Under idle->lock: pop a sleeper and set its token (NULL: none). */
static hive__parker_t *pop_sleeper_locked(hive__idle_t *idle, bool *via_poll)
{
    return idle->nsleepers ? wake_locked(idle, idle->nsleepers - 1, via_poll) : NULL;
}

/* Under idle->lock: where worker id is on the sleepers list, or -1. */
static int find_sleeper_locked(const hive__idle_t *idle, int id)
{
    for (int i = 0; i < idle->nsleepers; i++)
        if (idle->sleepers[i] == id)
            return i;
    return -1;
}

static void wake_one(hive__idle_t *idle)
{
    pthread_mutex_lock(&idle->lock);
    /* relaxed: under the lock; the seq_cst fence/RMW before us ordered it. */
    uint64_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);
    hive__parker_t *p = NULL;
    bool via_poll = false;
    if (n_searching(s) == 0)
        p = pop_sleeper_locked(idle, &via_poll);
    pthread_mutex_unlock(&idle->lock);
    if (p) {
        atomic_fetch_add_explicit(&idle->wakeups, 1, memory_order_relaxed); /* stats */
        kick(p, via_poll);
    }
}

void hive__idle_from_searching(hive__idle_t *idle, hive__parker_t *p)
{
    if (!p->searching)
        return;
    p->searching = false;
    /* seq_cst: StoreLoad with the producers' notify (file comment). */
    uint64_t prev = atomic_fetch_sub_explicit(&idle->state, SEARCHING_ONE, memory_order_seq_cst);
    if (n_searching(prev) == 1)
        hive__idle_notify(idle);
}

void hive__idle_notify(hive__idle_t *idle)
{
    /* (P2) seq_cst fence: the caller's store of the work (P1) is ordered
     * before the state load (P3); pairs with the fence (K2) in
     * hive__idle_park(). */
    hive__fence_seq_cst();
    /* (P3) relaxed: ordered by the fence above. */
    uint64_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);
    if (n_searching(s) != 0 || n_unparked(s) >= (uint32_t)idle->nworkers)
        return; /* a searcher will see the work, or everyone is awake */
    wake_one(idle);
}

void hive__idle_wake_worker(hive__idle_t *idle, int id)
{
    hive__parker_t *p = idle->parkers[id];
    /* The common case, a worker that is awake, takes no lock: the caller
     * stored the work for worker `id` (its inbox, its timer inbox) before
     * calling (W1), and a parking worker sets `listed` (K1') before its
     * fence (K2) and its last look at its own queues (K3, any_work()).
     * (W2) seq_cst fence, then (W3) the load of listed. If W3 reads true,
     * the locked path below wakes it. If W3 reads false, either W2 precedes
     * the K2 of the worker's next park (then that park's K3 sees W1 and it
     * does not sleep), or W3 read a clear of listed that came after an
     * earlier K1' - the worker was taken off the list (woken, or it found
     * work) and is awake: it looks at its queues again before it parks,
     * and that park's K1' comes after the clear W3 read, so its K2 follows
     * W2 and its K3 sees W1. relaxed: ordered by the fences. */
    hive__fence_seq_cst();
    if (!atomic_load_explicit(&p->listed, memory_order_relaxed))
        return;
    bool via_poll = false;
    pthread_mutex_lock(&idle->lock);
    int i = find_sleeper_locked(idle, id);
    if (i >= 0)
        wake_locked(idle, i, &via_poll);
    pthread_mutex_unlock(&idle->lock);
    if (i >= 0)
        kick(p, via_poll);
}

void hive__idle_wake_all(hive__idle_t *idle)
{
    for (;;) {
        bool via_poll = false;
        pthread_mutex_lock(&idle->lock);
        hive__parker_t *p = pop_sleeper_locked(idle, &via_poll);
        pthread_mutex_unlock(&idle->lock);
        if (!p)
            return;
        kick(p, via_poll);
    }
}

/* Take worker `id` off the sleepers list if it is still there (under lock).
 * False when a waker already popped it: its token is set or about to be. */
static bool unregister_self(hive__idle_t *idle, int id)
{
    pthread_mutex_lock(&idle->lock);
    int i = find_sleeper_locked(idle, id);
    if (i >= 0)
        unlist_locked(idle, i);
    pthread_mutex_unlock(&idle->lock);
    return i >= 0;
}

void hive__idle_park(hive__idle_t *idle, int id, uint64_t deadline, bool (*has_work)(void *),
                     void *ctx)
{
    hive__idle_park_poll(idle, id, deadline, has_work, ctx, NULL, NULL);
}

void hive__idle_park_poll(hive__idle_t *idle, int id, uint64_t deadline,
                          bool (*has_work)(void *), void *ctx,
                          int (*block)(void *ctx, uint64_t wait_ns), void *block_ctx)
{
    hive__parker_t *p = idle->parkers[id];
    pthread_mutex_lock(&idle->lock);
    p->in_poll = block != NULL && p->poller != NULL; /* read by wakers under the lock */
    /* (K1) seq_cst: no longer unparked (nor searching). */
    atomic_fetch_sub_explicit(&idle->state, UNPARKED_ONE | (p->searching ? SEARCHING_ONE : 0),
                              memory_order_seq_cst);
    p->searching = false;
    idle->sleepers[idle->nsleepers++] = id;
    /* (K1') relaxed: ordered for hive__idle_wake_worker() by the fence K2. */
    atomic_store_explicit(&p->listed, true, memory_order_relaxed);
    pthread_mutex_unlock(&idle->lock);
    /* (K2) seq_cst fence: the state change is ordered before the queue
     * loads (K3) in has_work(); pairs with the fence (P2) in
     * hive__idle_notify(). */
    hive__fence_seq_cst();
    for (;;) {
        /* acquire: pairs with the release store of the token in
         * pop_sleeper_locked(). */
        if (atomic_load_explicit(&p->word, memory_order_acquire) != 0)
            break;
        if ((has_work(ctx) || (deadline != UINT64_MAX && now_ns() >= deadline)) &&
            unregister_self(idle, id))
            return;
        if (p->in_poll) {
            uint64_t wait = wait_ns(deadline);
            if (wait != 0 && block(block_ctx, wait) > 0 && unregister_self(idle, id))
                return; /* it made a process runnable here: run it */
        } else {
            hive__futex_wait(&p->word, 0, wait_ns(deadline)); /* backstop or deadline */
        }
    }
    /* relaxed: only this worker clears its token, after seeing it set. */
    atomic_store_explicit(&p->word, 0, memory_order_relaxed);
}

int hive__idle_sleeping(hive__idle_t *idle)
{
    pthread_mutex_lock(&idle->lock);
    int n = idle->nsleepers;
    pthread_mutex_unlock(&idle->lock);
    return n;
}
