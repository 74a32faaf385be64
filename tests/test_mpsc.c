/* test_mpsc.c - the Vyukov MPSC queue (mailbox/mpsc.h) on its own.
 *
 * Single-threaded: FIFO order, pop on an empty queue, the queue drained and
 * refilled (each refill goes through the stub re-insertion path), nodes
 * reused after they were popped, and the producer's window (exchange done,
 * link not yet stored) in which pop says NULL but empty() says "not empty".
 *
 * Stress: `producers` threads push `items` numbered nodes each into one
 * queue drained by one consumer thread. When pop returns NULL the consumer
 * waits on a futex word that every producer sets after each push: the
 * mailbox's wake-up protocol in miniature. Checked: every node arrives
 * exactly once, each producer's nodes in the order pushed, and the consumer
 * is never left waiting while the queue holds something (a wait that times
 * out while hive__mpsc_empty() is false fails the test).
 *
 * Usage: test_mpsc [producers] [items] [seconds]; items is scaled by
 * hive_test_scaled. With seconds, the stress round is repeated with fresh
 * nodes until that much time has passed (the 60 s TSan run of make stress). */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mailbox/mpsc.h"
#include "tests/scale.h"

static int nproducers = 8;
static long nitems = 200000;
static long seconds; /* > 0: repeat the stress round this long */

typedef struct item {
    hive__mpsc_node_t node; /* first: a node pointer is an item pointer */
    int producer;
    long seq;
} item_t;

static item_t *item_of(hive__mpsc_node_t *n)
{
    return (item_t *)(void *)n;
}

/* ---- single-threaded contract ----------------------------------------- */

static void pop_on_empty_returns_null(void **state)
{
    hive__mpsc_t q;
    hive__mpsc_init(&q);
    assert_true(hive__mpsc_empty(&q));
    assert_null(hive__mpsc_pop(&q));
    assert_null(hive__mpsc_pop(&q)); /* and stays so */
    assert_true(hive__mpsc_empty(&q));
}

static void nodes_come_out_in_the_order_pushed(void **state)
{
    hive__mpsc_t q;
    hive__mpsc_init(&q);
    item_t it[100];
    for (int i = 0; i < 100; i++) {
        it[i].seq = i;
        hive__mpsc_push(&q, &it[i].node);
        assert_false(hive__mpsc_empty(&q));
    }
    for (int i = 0; i < 100; i++) {
        hive__mpsc_node_t *n = hive__mpsc_pop(&q);
        assert_ptr_equal(n, &it[i].node);
        assert_int_equal(item_of(n)->seq, i);
        assert_int_equal(hive__mpsc_empty(&q), i == 99);
    }
    assert_null(hive__mpsc_pop(&q));
    assert_true(hive__mpsc_empty(&q));
}

/* Draining to empty and pushing again: the last node can only be handed out
 * once the stub is pushed back behind it. One node at a time makes every
 * pop take that path; the stub itself must never come out. Popped nodes
 * are pushed again at once (the queue keeps no reference to them). */
static void push_after_drain_reinserts_the_stub(void **state)
{
    hive__mpsc_t q;
    hive__mpsc_init(&q);
    item_t a = {.seq = 1}, b = {.seq = 2}, c = {.seq = 3};
    for (int round = 0; round < 1000; round++) {
        hive__mpsc_push(&q, &a.node);
        assert_false(hive__mpsc_empty(&q));
        assert_ptr_equal(hive__mpsc_pop(&q), &a.node);
        assert_true(hive__mpsc_empty(&q));
        assert_null(hive__mpsc_pop(&q));
    }
    /* Drain to one, push more while the last node is the tail, then the
     * same after the stub went back in. */
    hive__mpsc_push(&q, &a.node);
    hive__mpsc_push(&q, &b.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &a.node);
    hive__mpsc_push(&q, &c.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &b.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &c.node); /* stub re-inserted here */
    hive__mpsc_push(&q, &a.node);
    hive__mpsc_push(&q, &b.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &a.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &b.node);
    assert_null(hive__mpsc_pop(&q));
    assert_true(hive__mpsc_empty(&q));
}

/* A producer between its exchange on head and its link store: pop cannot
 * reach the node and says NULL (also when it would otherwise re-insert the
 * stub), empty() says the queue holds something; once the link lands the
 * node comes out, in order. The window is made by hand, as push does it. */
static void push_in_its_window_is_invisible_to_pop_but_not_to_empty(void **state)
{
    hive__mpsc_t q;
    hive__mpsc_init(&q);
    item_t a = {.seq = 1}, b = {.seq = 2}, c = {.seq = 3};

    /* Window on an empty queue. */
    atomic_store(&b.node.next, NULL);
    hive__mpsc_node_t *prev = atomic_exchange(&q.head, &b.node);
    assert_null(hive__mpsc_pop(&q));
    assert_false(hive__mpsc_empty(&q));
    atomic_store(&prev->next, &b.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &b.node);
    assert_true(hive__mpsc_empty(&q));

    /* Window behind a linked node: a comes out, then pop must not push the
     * stub behind a (head moved on) and must not return the stub. */
    hive__mpsc_push(&q, &a.node);
    atomic_store(&c.node.next, NULL);
    prev = atomic_exchange(&q.head, &c.node);
    assert_ptr_equal(prev, &a.node);
    assert_null(hive__mpsc_pop(&q)); /* a is the last linked node; c unreachable */
    assert_null(hive__mpsc_pop(&q)); /* asking again changes nothing */
    assert_false(hive__mpsc_empty(&q));
    /* Nothing was queued behind the unlinked node: pushing the stub now
     * would queue it twice once the consumer asks again. */
    assert_null(atomic_load(&c.node.next));
    assert_ptr_equal(atomic_load(&q.head), &c.node);
    atomic_store(&prev->next, &c.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &a.node);
    assert_ptr_equal(hive__mpsc_pop(&q), &c.node);
    assert_null(hive__mpsc_pop(&q));
    assert_true(hive__mpsc_empty(&q));
}

/* ---- stress: producers, one consumer, a futex wake-up ------------------- */

static hive__mpsc_t sq;
/* 1 = a producer pushed since the consumer last looked. The consumer clears
 * it before its last look; a producer sets it after its push and wakes the
 * consumer when it was clear. Both are seq_cst exchanges on one word, so
 * either the consumer's clear reads the producer's 1 (and its pop then sees
 * the producer's link store), or the producer's set reads the consumer's 0
 * (and it wakes the consumer, whose FUTEX_WAIT then returns). */
static _Atomic uint32_t pushed_flag;
static _Atomic long wakes_sent;
static item_t **items; /* items[producer][seq] */
static _Atomic bool go;

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Wait while *w == 0, at most `ms`; true if it timed out with *w still 0. */
static bool futex_wait_zero(_Atomic uint32_t *w, long ms)
{
    struct timespec dl, now;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (atomic_load(w) == 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left_ns = (dl.tv_sec - now.tv_sec) * 1000000000L + (dl.tv_nsec - now.tv_nsec);
        if (left_ns <= 0)
            return true;
        struct timespec ts = {left_ns / 1000000000L, left_ns % 1000000000L};
        syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
    }
    return false;
}

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    while (!atomic_load(&go))
        sched_yield(); /* start together: the point is contention */
    long wakes = 0;
    unsigned seed = (unsigned)id * 7919u + 1;
    for (long i = 0; i < nitems; i++) {
        /* Now and then let the consumer catch up, so the queue often runs
         * dry and the wait / wake-up path runs, not just the busy one. */
        if (rand_r(&seed) % 16 == 0)
            sched_yield();
        item_t *it = &items[id][i];
        it->producer = id;
        it->seq = i;
        hive__mpsc_push(&sq, &it->node);
        if (atomic_exchange(&pushed_flag, 1) == 0) {
            futex_wake(&pushed_flag);
            wakes++;
        }
    }
    atomic_fetch_add(&wakes_sent, wakes);
    return NULL;
}

typedef struct consumer_result {
    long received;
    long bad_producer;  /* a node whose producer id is out of range */
    long out_of_order;  /* a producer's seq not the one expected next */
    long stuck_waits;   /* waits that timed out while the queue was not empty */
    long idle_timeouts; /* waits that timed out on an empty queue (slow run) */
    long waits;
} consumer_result_t;

#define STUCK_MS 3000
#define TOTAL_DEADLINE_S 600

static void *consumer(void *arg)
{
    consumer_result_t *r = arg;
    long total = nproducers * nitems;
    long *next = calloc((size_t)nproducers, sizeof *next);
    time_t start = time(NULL);
    while (r->received < total) {
        hive__mpsc_node_t *n = hive__mpsc_pop(&sq);
        if (!n) {
            /* Clear the flag, look once more, then sleep until it is set. */
            atomic_exchange(&pushed_flag, 0);
            if ((n = hive__mpsc_pop(&sq)) == NULL) {
                r->waits++;
                if (futex_wait_zero(&pushed_flag, STUCK_MS)) {
                    if (!hive__mpsc_empty(&sq)) {
                        r->stuck_waits++;
                        break; /* a lost wake-up: the queue holds something */
                    }
                    r->idle_timeouts++;
                    if (time(NULL) - start > TOTAL_DEADLINE_S)
                        break;
                }
                continue;
            }
        }
        item_t *it = item_of(n);
        r->received++;
        if (it->producer < 0 || it->producer >= nproducers) {
            r->bad_producer++;
            continue;
        }
        if (it->seq != next[it->producer])
            r->out_of_order++;
        next[it->producer] = it->seq + 1;
    }
    free(next);
    return NULL;
}

static void stress_round(void);

static void every_item_arrives_once_in_producer_order_and_no_wakeup_is_lost(void **state)
{
    time_t start = time(NULL);
    long rounds = 0;
    do {
        stress_round();
        rounds++;
    } while (seconds > 0 && time(NULL) - start < seconds);
    if (seconds > 0)
        printf("# %ld rounds in %ld s: %ld messages from %d producers, all checked\n", rounds,
               (long)(time(NULL) - start), rounds * nproducers * nitems, nproducers);
}

static void stress_round(void)
{
    atomic_store(&wakes_sent, 0);
    hive__mpsc_init(&sq);
    atomic_store(&pushed_flag, 0);
    atomic_store(&go, false);
    items = calloc((size_t)nproducers, sizeof *items);
    assert_non_null(items);
    for (int p = 0; p < nproducers; p++) {
        items[p] = calloc((size_t)nitems, sizeof **items);
        assert_non_null(items[p]);
        for (long i = 0; i < nitems; i++)
            items[p][i].producer = -1;
    }
    consumer_result_t r = {0};
    pthread_t cth, pth[64];
    assert_int_equal(pthread_create(&cth, NULL, consumer, &r), 0);
    for (int p = 0; p < nproducers; p++)
        assert_int_equal(pthread_create(&pth[p], NULL, producer, (void *)(intptr_t)p), 0);
    atomic_store(&go, true);
    for (int p = 0; p < nproducers; p++)
        pthread_join(pth[p], NULL);
    pthread_join(cth, NULL);

    printf("# %d producers x %ld items: received %ld, consumer waits %ld, wakes sent %ld, "
           "idle timeouts %ld, stuck waits %ld, out of order %ld, bad nodes %ld\n",
           nproducers, nitems, r.received, r.waits, atomic_load(&wakes_sent), r.idle_timeouts,
           r.stuck_waits, r.out_of_order, r.bad_producer);
    assert_int_equal(r.stuck_waits, 0);
    assert_int_equal(r.bad_producer, 0);
    assert_int_equal(r.out_of_order, 0);
    assert_int_equal(r.received, nproducers * nitems);
    /* Nothing more: every node was handed out exactly once. */
    assert_null(hive__mpsc_pop(&sq));
    assert_true(hive__mpsc_empty(&sq));
    for (int p = 0; p < nproducers; p++)
        free(items[p]);
    free(items);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        nproducers = atoi(argv[1]);
    if (argc > 2)
        nitems = atol(argv[2]);
    if (argc > 3)
        seconds = atol(argv[3]);
    if (nproducers < 1 || nproducers > 64 || nitems < 1) {
        fprintf(stderr, "usage: %s [producers 1..64] [items]\n", argv[0]);
        return 2;
    }
    nitems = hive_test_scaled(nitems);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pop_on_empty_returns_null),
        cmocka_unit_test(nodes_come_out_in_the_order_pushed),
        cmocka_unit_test(push_after_drain_reinserts_the_stub),
        cmocka_unit_test(push_in_its_window_is_invisible_to_pop_but_not_to_empty),
        cmocka_unit_test(every_item_arrives_once_in_producer_order_and_no_wakeup_is_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
