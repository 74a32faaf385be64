/* latch.h - a countdown latch for tests: tasks count down, the test's
 * thread waits for zero with a deadline (never a sleep to synchronise). */
#ifndef HIVE_TESTS_LATCH_H
#define HIVE_TESTS_LATCH_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

typedef struct latch {
    _Atomic long count;
    pthread_mutex_t m;
    pthread_cond_t c;
} latch_t;

static inline void latch_init(latch_t *l, long n)
{
    atomic_init(&l->count, n);
    pthread_mutex_init(&l->m, NULL);
    pthread_cond_init(&l->c, NULL);
}

/* Under the mutex: the waiter sees zero only after the last count-down has
 * left its critical section, so the test may destroy (or re-init) the latch
 * as soon as latch_wait returns. Decremented outside it, the last one could
 * still be about to lock the mutex the test had just destroyed (TSan, in
 * test_park's inject_while_workers_fall_asleep). */
static inline void latch_count_down(latch_t *l)
{
    pthread_mutex_lock(&l->m);
    if (atomic_fetch_sub(&l->count, 1) == 1)
        pthread_cond_broadcast(&l->c);
    pthread_mutex_unlock(&l->m);
}

/* True when the count reached zero within `seconds`. */
static inline bool latch_wait(latch_t *l, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)((seconds - (long)seconds) * 1e9);
    ts.tv_sec += (time_t)seconds + ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&l->m);
    while (atomic_load(&l->count) > 0)
        if (pthread_cond_timedwait(&l->c, &l->m, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&l->m);
    return atomic_load(&l->count) <= 0;
}

static inline void latch_destroy(latch_t *l)
{
    pthread_mutex_destroy(&l->m);
    pthread_cond_destroy(&l->c);
}

#endif
