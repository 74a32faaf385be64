/* bench_mailbox.c - the Vyukov MPSC queue (mailbox/mpsc.h) alone, no runtime.
 *
 *   mailbox_1p, mailbox_2p, mailbox_4p, mailbox_8p
 *       P producer threads each push their share of `ops` nodes into one
 *       queue while the benchmark thread, the single consumer, pops until it
 *       has all of them; ns per message (wall time / total messages).
 *
 * The nodes are one array allocated and written before the clock starts
 * (every page touched), each carrying its producer id and its sequence
 * number within that producer, so nothing is allocated or faulted in inside
 * the clock. The consumer spins with a cpu pause when pop returns NULL (the
 * queue empty, or a producer in its window): no parking, this measures the
 * queue. It checks, per message, that the node is one of ours, that it has
 * not been seen before (a mark per node) and that its producer's sequence
 * number is strictly greater than the last one seen from that producer
 * (FIFO per producer); at the end every node must be marked exactly once and
 * the queue empty. empty_pct says how many pops returned NULL.
 *
 * Threads are not pinned. P producers plus the spinning consumer are P + 1
 * runnable threads: beyond the usable CPUs (2 on the reference machine, so
 * from mailbox_2p on) the run is oversubscribed and a producer preempted in
 * its window stalls the consumer until it runs again; params says so.
 *
 * A lost node would leave the consumer spinning forever: once every
 * producer has returned from its last push, a pop that returns NULL is
 * final (no push is in its window), so the consumer stops and fails.
 */
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/harness.h"
#include "mailbox/mpsc.h"

enum { kMaxProducers = 8, kMessages = 2000000 };

typedef struct {
    hive__mpsc_node_t link; /* first: a popped link is the node */
    int producer;
    long seq; /* 0, 1, 2, ... within its producer */
} msg_t;

typedef struct mbox_bench mbox_bench_t;

typedef struct {
    mbox_bench_t *m;
    msg_t *first; /* this producer's nodes, in push order */
    long count;
} producer_t;

struct mbox_bench {
    hive__mpsc_t q;
    alignas(64) atomic_int ready; /* producers waiting for go */
    alignas(64) atomic_bool go;
    alignas(64) atomic_int finished; /* producers back from their last push */
};

static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static void *producer_main(void *arg)
{
    producer_t *p = arg;
    mbox_bench_t *m = p->m;
    /* relaxed: a count; the go flag carries the ordering. */
    atomic_fetch_add_explicit(&m->ready, 1, memory_order_relaxed);
    /* acquire: pairs with the release store of go (the clock is running). */
    while (!atomic_load_explicit(&m->go, memory_order_acquire))
        sched_yield(); /* may be oversubscribed: let the others get ready */
    for (long i = 0; i < p->count; i++)
        hive__mpsc_push(&m->q, &p->first[i].link);
    /* release: pairs with the consumer's acquire load; our pushes are all
     * linked, so a NULL pop after seeing every producer finished is final. */
    atomic_fetch_add_explicit(&m->finished, 1, memory_order_release);
    return NULL;
}

static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    return CPU_COUNT(&set);
}

static int bench_mailbox(long ops, hive_bench_t *b)
{
    const int np = (int)(intptr_t)b->arg;
    hive_bench_pause(b);

    msg_t *nodes = malloc((size_t)ops * sizeof *nodes);
    unsigned char *seen = calloc((size_t)ops, 1);
    mbox_bench_t *m = aligned_alloc(64, sizeof *m);
    if (!nodes || !seen || !m) {
        free(nodes);
        free(seen);
        free(m);
        return hive_bench_fail(b, "out of memory for %ld nodes", ops);
    }
    memset(seen, 0, (size_t)ops); /* fault the pages in outside the clock */
    hive__mpsc_init(&m->q);
    atomic_init(&m->ready, 0);
    atomic_init(&m->go, false);
    atomic_init(&m->finished, 0);

    producer_t prod[kMaxProducers];
    long at = 0;
    for (int p = 0; p < np; p++) {
        long count = ops / np + (p < ops % np ? 1 : 0);
        prod[p] = (producer_t){.m = m, .first = nodes + at, .count = count};
        for (long i = 0; i < count; i++) {
            nodes[at + i].producer = p;
            nodes[at + i].seq = i;
            atomic_init(&nodes[at + i].link.next, NULL);
        }
        at += count;
    }

    pthread_t th[kMaxProducers];
    int started = 0;
    for (; started < np; started++)
        if (pthread_create(&th[started], NULL, producer_main, &prod[started]) != 0)
            break;
    if (started < np) {
        /* release: pairs with the producers' acquire; they push what they
         * have and finish; drain nothing, just join. */
        atomic_store_explicit(&m->go, true, memory_order_release);
        for (int p = 0; p < started; p++)
            pthread_join(th[p], NULL);
        free(nodes);
        free(seen);
        free(m);
        return hive_bench_fail(b, "pthread_create failed (%d of %d started)", started, np);
    }
    /* relaxed: only waiting until all are parked on go, nothing to read. */
    while (atomic_load_explicit(&m->ready, memory_order_relaxed) < np)
        sched_yield();
    long last[kMaxProducers];
    for (int p = 0; p < np; p++)
        last[p] = -1;
    hive_bench_resume(b);
    /* release: pairs with the producers' acquire load of go. */
    atomic_store_explicit(&m->go, true, memory_order_release);

    long got = 0, empty = 0, foreign = 0, twice = 0, disorder = 0;
    bool stuck = false;
    while (got < ops) {
        hive__mpsc_node_t *n = hive__mpsc_pop(&m->q);
        if (!n) {
            empty++;
            /* acquire: pairs with the producers' release increments; after
             * it every push is linked, so one more NULL pop is final. */
            if (atomic_load_explicit(&m->finished, memory_order_acquire) == np &&
                (n = hive__mpsc_pop(&m->q)) == NULL) {
                stuck = true;
                break;
            }
            if (!n) {
                cpu_pause();
                continue;
            }
        }
        /* Which node: by address, so a stray pointer is caught, not read. */
        uintptr_t off = (uintptr_t)n - (uintptr_t)&nodes[0].link;
        got++;
        if (off % sizeof(msg_t) != 0 || off / sizeof(msg_t) >= (uintptr_t)ops) {
            foreign++;
            continue;
        }
        long idx = (long)(off / sizeof(msg_t));
        msg_t *x = &nodes[idx];
        if (x->producer < 0 || x->producer >= np) {
            foreign++;
            continue;
        }
        if (seen[idx]++)
            twice++;
        if (x->seq <= last[x->producer])
            disorder++;
        last[x->producer] = x->seq;
    }

    hive_bench_pause(b);
    for (int p = 0; p < np; p++)
        pthread_join(th[p], NULL);
    long missing = 0;
    for (long i = 0; i < ops; i++)
        missing += seen[i] == 0;
    bool left = !hive__mpsc_empty(&m->q);
    free(nodes);
    free(seen);
    free(m);

    int cpus = usable_cpus();
    hive_bench_workers(b, np + 1);
    if (np + 1 > cpus)
        hive_bench_params(b,
                          "%d producer%s + 1 spinning consumer, %ld msgs, ns per msg; "
                          "OVERSUBSCRIBED: %d threads on %d cpu%s",
                          np, np == 1 ? "" : "s", ops, np + 1, cpus, cpus == 1 ? "" : "s");
    else
        hive_bench_params(b, "%d producer%s + 1 spinning consumer, %ld msgs, ns per msg; %d cpus",
                          np, np == 1 ? "" : "s", ops, cpus);
    hive_bench_counter(b, "empty_pct", 100.0 * (double)empty / (double)(got + empty));
    if (stuck || foreign || twice || disorder || missing || left)
        return hive_bench_fail(b,
                               "%s after %ld of %ld; %ld foreign, %ld popped twice, "
                               "%ld out of producer order, %ld never popped, queue %s",
                               stuck ? "consumer stuck (queue empty)" : "done", got, ops, foreign,
                               twice, disorder, missing, left ? "NOT empty" : "empty");
    return 0;
}

#define MAILBOX_PARAMS(p) \
    p " + 1 spinning consumer, 2e6 msgs, ns per msg; > 1 producer oversubscribes 2 cpus"
HIVE_BENCH_EX("mailbox_1p", "hive", MAILBOX_PARAMS("1 producer"), bench_mailbox, (void *)1,
              kMessages, 5, 0.0);
HIVE_BENCH_EX("mailbox_2p", "hive", MAILBOX_PARAMS("2 producers"), bench_mailbox, (void *)2,
              kMessages, 5, 0.0);
HIVE_BENCH_EX("mailbox_4p", "hive", MAILBOX_PARAMS("4 producers"), bench_mailbox, (void *)4,
              kMessages, 5, 0.0);
HIVE_BENCH_EX("mailbox_8p", "hive", MAILBOX_PARAMS("8 producers"), bench_mailbox, (void *)8,
              kMessages, 5, 0.0);
