/* bench_deque.c - the Chase-Lev deque (sched/deque.h) alone, no runtime.
 *
 *   deque_push_pop        the owner pushes one item and pops it back: every
 *                         pop takes the last item, the path that races a
 *                         thief with a seq_cst CAS on top; ns per push+pop.
 *   deque_push_pop16      push 16, pop the 16 (LIFO order checked): the fast
 *                         path of a worker with queued work; ns per pair.
 *   deque_steal           a helper owner keeps the deque non-empty (tops it
 *                         up to 64 items when 32 or fewer are left, never
 *                         pops);
 *                         the benchmark thread steals; ns per successful
 *                         steal. The owner never pops and there is a single
 *                         thief, so steals must come out in push order: each
 *                         stolen item is checked to be the next one, which
 *                         counts every item exactly once.
 *   deque_steal_contended the benchmark thread is the owner doing push+pop
 *                         pairs (as deque_push_pop) while a helper thief
 *                         steals without pause; ns per owner pair under that
 *                         pressure. Every item is marked by whoever took it
 *                         (owner and thief each have their own mark array):
 *                         each must be taken exactly once. stolen_pct says
 *                         how many the thief won.
 *
 * The two-thread benchmarks pin the benchmark thread and the helper to the
 * first two CPUs the process may use (restored afterwards), as bench_floor.c
 * does; with one CPU they run unpinned and spin with sched_yield. Deques are
 * sized so they never grow inside the clock. Thieves must be liburcu QSBR
 * readers (deque.h): the helper registers itself; the benchmark thread goes
 * through hive__rcu_enter()/hive__rcu_leave(), which nest and know whether
 * the thread is already registered (savina.c's attached thread is).
 */
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "bench/bench_pin.h"
#include "bench/harness.h"
#include "sched/deque.h"
#include "sched/rcu.h"

/* Items are (i + 1) << 3: never NULL, never HIVE__DEQUE_ABORT. */
static inline void *item(long i)
{
    return (void *)((uintptr_t)(i + 1) << 3);
}
static inline long index_of(void *x)
{
    return (long)((uintptr_t)x >> 3) - 1;
}

/* ---- pinning (as bench_floor.c) ------------------------------------------ */


static inline void relax(bool yield)
{
    if (yield)
        sched_yield();
}

/* ---- deque_push_pop, deque_push_pop16 ------------------------------------ */

static int bench_push_pop(long ops, hive_bench_t *b)
{
    const long batch = (long)(intptr_t)b->arg;
    hive__deque_t d;
    hive_bench_pause(b);
    if (hive__deque_init(&d, 64) != 0)
        return hive_bench_fail(b, "hive__deque_init failed");
    hive_bench_resume(b);

    long done = 0, bad = 0;
    while (done < ops) {
        long n = ops - done < batch ? ops - done : batch;
        for (long k = 0; k < n; k++)
            if (hive__deque_push(&d, item(done + k)) != 0)
                bad++;
        for (long k = n - 1; k >= 0; k--)
            if (hive__deque_pop(&d) != item(done + k)) /* LIFO: newest first */
                bad++;
        done += n;
    }

    hive_bench_pause(b);
    bool empty = hive__deque_pop(&d) == NULL;
    hive__deque_destroy(&d);
    if (bad || !empty)
        return hive_bench_fail(b, "%ld pushes or pops went wrong, deque %s at the end", bad,
                               empty ? "empty" : "NOT empty");
    return 0;
}
HIVE_BENCH_EX("deque_push_pop", "hive", "owner push 1 + pop 1 (pop takes the last item)",
              bench_push_pop, (void *)1, 0, 0, 0.0);
HIVE_BENCH_EX("deque_push_pop16", "hive", "owner push 16 + pop 16, ns per pair", bench_push_pop,
              (void *)16, 0, 0, 0.0);

/* ---- deque_steal ---------------------------------------------------------- */

enum { kStealFill = 64, kDequeCap = 1024 };

typedef struct {
    hive__deque_t d;
    long items;
    const pin_t *pin;
    alignas(64) atomic_int ready;
    alignas(64) atomic_bool done; /* deque_steal_contended: the owner finished */
    long taken;                   /* helper's count (its own thread writes it) */
    unsigned char *marks;         /* contended: the thief's marks */
} steal_t;

/* Owner: push items 0..items-1, topping the deque up to kStealFill items
 * whenever it holds kStealFill / 2 or fewer. */
static void *steal_owner(void *arg)
{
    steal_t *s = arg;
    pin_helper(s->pin);
    bool yield = !s->pin->pinned;
    /* release: pairs with the acquire in await_ready(). */
    atomic_store_explicit(&s->ready, 1, memory_order_release);
    /* Refill in bursts: one look at top (the thief's line) per burst, so
     * the owner's side costs little next to the steals being measured. */
    for (long i = 0; i < s->items;) {
        int64_t have;
        while ((have = hive__deque_size(&s->d)) > kStealFill / 2)
            relax(yield);
        for (int64_t k = have; k < kStealFill && i < s->items; k++, i++)
            if (hive__deque_push(&s->d, item(i)) != 0)
                return (void *)1;
    }
    return NULL;
}

static void await_ready(atomic_int *ready)
{
    /* acquire: pairs with the release store in the helper. */
    while (!atomic_load_explicit(ready, memory_order_acquire))
        sched_yield();
}

static int bench_steal(long ops, hive_bench_t *b)
{
    pin_t pin;
    steal_t s = {.items = ops, .pin = &pin};
    pthread_t th;
    hive_bench_pause(b);
    if (hive__deque_init(&s.d, kDequeCap) != 0)
        return hive_bench_fail(b, "hive__deque_init failed");
    pin_begin(&pin);
    bool yield = !pin.pinned;
    hive__rcu_enter();
    atomic_init(&s.ready, 0);
    if (pthread_create(&th, NULL, steal_owner, &s) != 0) {
        hive__rcu_leave();
        hive__deque_destroy(&s.d);
        pin_end(b, &pin, "");
        return hive_bench_fail(b, "pthread_create failed");
    }
    await_ready(&s.ready);
    hive_bench_resume(b);

    long got = 0, empty = 0, aborts = 0, wrong = 0;
    while (got < ops) {
        void *x = hive__deque_steal(&s.d);
        if (x == NULL) {
            empty++;
            relax(yield);
        } else if (x == HIVE__DEQUE_ABORT) {
            aborts++;
        } else {
            if (index_of(x) != got) /* one thief, no pops: FIFO exactly */
                wrong++;
            if (++got % 1024 == 0)
                hive__rcu_quiescent(); /* as a worker does per dispatch */
        }
    }

    hive_bench_pause(b);
    hive__rcu_leave();
    void *owner_rc;
    pthread_join(th, &owner_rc);
    bool left = hive__deque_steal(&s.d) != NULL;
    hive__deque_destroy(&s.d);
    pin_end(b, &pin, "owner tops up to 64 when <= 32 left, 1 thief; ns per successful steal");
    hive_bench_counter(b, "empty_pct", 100.0 * (double)empty / (double)(got + empty + aborts));
    if (owner_rc || wrong || aborts || left)
        return hive_bench_fail(b, "owner %s; %ld out of order, %ld aborts, %s left over",
                               owner_rc ? "push failed" : "ok", wrong, aborts,
                               left ? "items" : "nothing");
    return 0;
}
HIVE_BENCH("deque_steal", "hive", "owner tops up to 64 when <= 32 left, 1 thief; ns per steal",
           bench_steal);

/* ---- deque_steal_contended ------------------------------------------------ */

static void *contended_thief(void *arg)
{
    steal_t *s = arg;
    pin_helper(s->pin);
    bool yield = !s->pin->pinned;
    rcu_register_thread();
    /* release: pairs with the acquire in await_ready(). */
    atomic_store_explicit(&s->ready, 1, memory_order_release);
    long mine = 0, spins = 0;
    for (;;) {
        void *x = hive__deque_steal(&s->d);
        if (x && x != HIVE__DEQUE_ABORT) {
            s->marks[index_of(x)]++;
            mine++;
        } else if (!x) {
            /* acquire: pairs with the owner's release store of done, after
             * its last pop: an empty deque then stays empty. */
            if (atomic_load_explicit(&s->done, memory_order_acquire))
                break;
            relax(yield);
        }
        if (++spins % 1024 == 0)
            rcu_quiescent_state();
    }
    s->taken = mine;
    rcu_unregister_thread();
    return NULL;
}

static int bench_steal_contended(long ops, hive_bench_t *b)
{
    pin_t pin;
    steal_t s = {.items = ops, .pin = &pin};
    pthread_t th;
    hive_bench_pause(b);
    unsigned char *mine = calloc((size_t)ops, 1);
    s.marks = calloc((size_t)ops, 1);
    if (!mine || !s.marks || hive__deque_init(&s.d, kDequeCap) != 0) {
        free(mine);
        free(s.marks);
        return hive_bench_fail(b, "out of memory for %ld marks", ops);
    }
    pin_begin(&pin);
    atomic_init(&s.ready, 0);
    atomic_init(&s.done, false);
    if (pthread_create(&th, NULL, contended_thief, &s) != 0) {
        hive__deque_destroy(&s.d);
        free(mine);
        free(s.marks);
        pin_end(b, &pin, "");
        return hive_bench_fail(b, "pthread_create failed");
    }
    await_ready(&s.ready);
    hive_bench_resume(b);

    long popped = 0, bad = 0;
    for (long i = 0; i < ops; i++) {
        if (hive__deque_push(&s.d, item(i)) != 0)
            bad++;
        void *x = hive__deque_pop(&s.d);
        if (x) {
            mine[index_of(x)]++;
            popped++;
        }
    }

    hive_bench_pause(b);
    /* release: pairs with the thief's acquire load; the deque is empty. */
    atomic_store_explicit(&s.done, true, memory_order_release);
    pthread_join(th, NULL);
    long lost = 0, twice = 0;
    for (long i = 0; i < ops; i++) {
        int m = mine[i] + s.marks[i];
        lost += m == 0;
        twice += m > 1;
    }
    hive__deque_destroy(&s.d);
    free(mine);
    free(s.marks);
    pin_end(b, &pin, "owner push 1 + pop 1 while a thief steals non-stop; ns per pair");
    hive_bench_counter(b, "stolen_pct", 100.0 * (double)s.taken / (double)ops);
    if (bad || lost || twice || popped + s.taken != ops)
        return hive_bench_fail(b,
                               "%ld pushes failed, %ld items lost, %ld taken twice, "
                               "popped %ld + stolen %ld != %ld",
                               bad, lost, twice, popped, s.taken, ops);
    return 0;
}
HIVE_BENCH("deque_steal_contended", "hive",
           "owner push 1 + pop 1 while a thief steals non-stop; ns per pair",
           bench_steal_contended);
