/* park.h - idle workers: the searching/parked bookkeeping and the futex
 * handshake that puts a worker to sleep and wakes it without losing work.
 *
 * The protocol is Tokio's "idle" state, itself after Go's: one atomic word
 * counts the workers that are searching (stealing) and those not parked;
 * sleeping workers sit on a mutex-protected list. At most half the workers
 * search at once; a worker that makes work available wakes a sleeper only
 * when nobody is searching; the last searcher to find work wakes one more.
 * The StoreLoad argument that makes a lost wake-up impossible is written at
 * hive__idle_notify() and hive__idle_park() in park.c. A parked worker also
 * wakes every HIVE__PARK_BACKSTOP_MS on its own and looks for work, so a
 * wake-up missed through a bug costs latency, never a hang.
 *
 *   operation             caller
 *   init/destroy          the runtime owner, no workers running
 *   to_searching,
 *   from_searching, park  the worker itself
 *   notify, wake_all      any thread
 */
#ifndef HIVE_SCHED_PARK_H
#define HIVE_SCHED_PARK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define HIVE__PARK_BACKSTOP_MS 10

struct hive__poller;

typedef struct hive__parker {
    _Alignas(64) _Atomic uint32_t word; /* 1 = woken (a token), 0 = none */
    bool searching;                     /* owned by the worker */
    /* A worker with fds to watch sleeps in its poller's epoll_wait instead
     * of the futex; wakers then kick the poller's eventfd. in_poll is
     * written by the parker and read by wakers, both under idle->lock. */
    struct hive__poller *poller;        /* NULL: always the futex */
    bool in_poll;
    /* On the sleepers list: written under idle->lock, read without it by
     * hive__idle_wake_worker() (the argument is there). */
    _Atomic bool listed;
} hive__parker_t;

typedef struct hive__idle {
    /* searching << 32 | unparked: one word, so both change together. */
    _Alignas(64) _Atomic uint64_t state;
    pthread_mutex_t lock;
    int nworkers;
    int nsleepers;
    int *sleepers;              /* worker ids, under lock */
    hive__parker_t **parkers;   /* by worker id */
    _Atomic uint64_t wakeups;   /* statistics: futex wakes sent */
} hive__idle_t;

int hive__idle_init(hive__idle_t *idle, int nworkers, hive__parker_t **parkers);
void hive__idle_destroy(hive__idle_t *idle);

/* May worker `p` start searching? Refused when half the workers already are. */
bool hive__idle_to_searching(hive__idle_t *idle, hive__parker_t *p);
/* Worker `p` stops searching (it found work): if it was the last searcher it
 * wakes a sleeper, because more work may be waiting behind what it found. */
void hive__idle_from_searching(hive__idle_t *idle, hive__parker_t *p);

/* Work was just made available (pushed to a deque, a LIFO slot or the
 * injection queue): wake one parked worker if nobody is searching. */
void hive__idle_notify(hive__idle_t *idle);
/* Tests: set the backstop period (0 = none: a parked worker then waits for
 * a wake-up only, so a lost one hangs the test instead of costing 10 ms). */
void hive__idle_set_backstop_ms(int ms);
/* How many workers sleep right now. */
int hive__idle_sleeping(hive__idle_t *idle);

/* Wake every parked worker (shutdown). */
void hive__idle_wake_all(hive__idle_t *idle);

/* Worker `id` has found nothing: sleep until notified or until `deadline`
 * (CLOCK_MONOTONIC ns; UINT64_MAX = none: its next timer). has_work() is
 * asked after the worker is registered as a sleeper (and at every backstop
 * timeout); if it says yes, the worker unregisters and returns at once.
 * Returns with the worker unparked and searching (p->searching). */
void hive__idle_park(hive__idle_t *idle, int id, uint64_t deadline, bool (*has_work)(void *),
                     void *ctx);
/* The same, sleeping in block(ctx, wait_ns) instead of the futex (wait_ns:
 * how long at most, UINT64_MAX = no limit); block returns > 0 when it made
 * work runnable (the worker then returns as for has_work). The parker's
 * poller is kicked, not the futex, by whoever wakes it meanwhile. */
void hive__idle_park_poll(hive__idle_t *idle, int id, uint64_t deadline,
                          bool (*has_work)(void *), void *ctx,
                          int (*block)(void *ctx, uint64_t wait_ns), void *block_ctx);
/* Wake worker `id` if it sleeps (its timers changed). Any thread. */
void hive__idle_wake_worker(hive__idle_t *idle, int id);

#endif
