/* timer.c - per-worker timer heaps (see timer.h).
 *
 * The heap is a plain array-backed binary min-heap on deadline, touched only
 * by its worker. Cross-thread traffic is limited to the state CAS (fire vs
 * cancel), the reference count, and the inbox for foreign threads' timers.
 */
#include "sched/timer.h"

#include <errno.h>
#include <stddef.h>
#include <time.h>

#include "mailbox/alloc.h"
#include "sched/worker.h"

uint64_t hive__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

uint64_t hive__deadline_in(uint64_t ns) { return sat_add(hive__now_ns(), ns); }

void hive__timer_init(hive__timer_t *t, uint64_t deadline, void (*fire)(hive__timer_t *),
                      void (*release)(hive__timer_t *))
{
    t->deadline = deadline;
    atomic_init(&t->state, HIVE__TIMER_PENDING);
    atomic_init(&t->refs, 2);
    t->heap_index = -1;
    atomic_init(&t->owner, -1);
    t->fire = fire;
    t->release = release;
}

void hive__timer_put(hive__timer_t *t)
{
    /* acq_rel: release orders our uses of t before the free; acquire (on
     * the last drop) sees every other holder's uses before release(). */
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        t->release(t);
}

bool hive__timer_cancel(hive__timer_t *t)
{
    int expect = HIVE__TIMER_PENDING;
    /* acq_rel: decides the race with the CAS in fire_due(); whoever wins
     * owns the outcome. */
    bool was_pending = atomic_compare_exchange_strong_explicit(
        &t->state, &expect, HIVE__TIMER_CANCELLED, memory_order_acq_rel, memory_order_acquire);
    hive__worker_t *w = hive__worker_self();
    /* relaxed: owner is written once, by the owning worker; if it names us,
     * we wrote it ourselves, and only then is heap_index ours to read. */
    if (was_pending && w &&
        hive__worker_id(w) == atomic_load_explicit(&t->owner, memory_order_relaxed) &&
        t->heap_index >= 0) {
        /* On the owning worker: take it out of the heap now, so cancelled
         * long timeouts do not pile up. */
        hive__timer_heap_t *h = hive__worker_timers(w);
        int i = t->heap_index;
        hive__timer_t *last = h->a[--h->n];
        t->heap_index = -1;
        if (i < h->n) {
            h->a[i] = last;
            last->heap_index = i;
            /* Restore the heap property in whichever direction it broke. */
            while (i > 0 && h->a[(i - 1) / 2]->deadline > h->a[i]->deadline) {
                int p = (i - 1) / 2;
                hive__timer_t *tmp = h->a[p];
                h->a[p] = h->a[i];
                h->a[i] = tmp;
                h->a[p]->heap_index = p;
                h->a[i]->heap_index = i;
                i = p;
            }
            for (;;) {
                int l = 2 * i + 1, r = l + 1, m = i;
                if (l < h->n && h->a[l]->deadline < h->a[m]->deadline)
                    m = l;
                if (r < h->n && h->a[r]->deadline < h->a[m]->deadline)
                    m = r;
                if (m == i)
                    break;
                hive__timer_t *tmp = h->a[m];
                h->a[m] = h->a[i];
                h->a[i] = tmp;
                h->a[m]->heap_index = m;
                h->a[i]->heap_index = i;
                i = m;
            }
        }
        hive__timer_put(t); /* the heap's reference */
    }
    return was_pending;
}

static void sift_up(hive__timer_heap_t *h, int i)
{
    hive__timer_t *t = h->a[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (h->a[p]->deadline <= t->deadline)
            break;
        h->a[i] = h->a[p];
        h->a[i]->heap_index = i;
        i = p;
    }
    h->a[i] = t;
    t->heap_index = i;
}

static hive__timer_t *pop_min(hive__timer_heap_t *h)
{
    hive__timer_t *top = h->a[0];
    hive__timer_t *last = h->a[--h->n];
    top->heap_index = -1;
    if (h->n == 0)
        return top;
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = l;
        if (l >= h->n)
            break;
        if (r < h->n && h->a[r]->deadline < h->a[l]->deadline)
            m = r;
        if (h->a[m]->deadline >= last->deadline)
            break;
        h->a[i] = h->a[m];
        h->a[i]->heap_index = i;
        i = m;
    }
    h->a[i] = last;
    last->heap_index = i;
    return top;
}

/* Room in the array for the heap, every timer on the fresh list, and one
 * more: a fresh timer's move into the heap never needs memory, so it can
 * neither fail nor be fired early for want of it. */
static int reserve_one(hive__timer_heap_t *h)
{
    if (h->n + h->nfresh >= h->cap) {
        int ncap = h->cap ? h->cap * 2 : 64;
        hive__timer_t **na = hive__alloc((size_t)ncap * sizeof *na);
        if (!na)
            return -ENOMEM;
        for (int i = 0; i < h->n; i++)
            na[i] = h->a[i];
        hive__free(h->a, (size_t)h->cap * sizeof *na);
        h->a = na;
        h->cap = ncap;
    }
    return 0;
}

static int heap_insert(hive__timer_heap_t *h, hive__timer_t *t, int owner)
{
    if (reserve_one(h) != 0)
        return -ENOMEM;
    atomic_store_explicit(&t->owner, owner, memory_order_relaxed); /* see cancel */
    h->a[h->n++] = t;
    sift_up(h, h->n - 1);
    return 0;
}

int hive__timer_add(hive__timer_t *t)
{
    hive__worker_t *w = hive__worker_self();
    if (w) {
        if (heap_insert(hive__worker_timers(w), t, hive__worker_id(w)) != 0) {
            hive__timer_put(t); /* the heap's reference: it never got one */
            return -ENOMEM;
        }
        return 0;
    }
    hive__worker_t *w0 = hive__worker_by_id(0);
    if (!w0) {
        hive__timer_put(t);
        return -EPERM;
    }
    hive__inject_push(&hive__worker_timers(w0)->inbox, &t->inbox);
    hive__sched_wake_worker(0);
    return 0;
}

int hive__timer_add_after(hive__timer_t *t, uint64_t after_ns)
{
    hive__worker_t *w = hive__worker_self();
    if (!w) {
        t->deadline = hive__deadline_in(after_ns);
        return hive__timer_add(t);
    }
    hive__timer_heap_t *h = hive__worker_timers(w);
    if (reserve_one(h) != 0) {
        hive__timer_put(t); /* the heap's reference: it never got one */
        return -ENOMEM;
    }
    h->nfresh++;
    t->deadline = after_ns;
    t->heap_index = -2;
    /* relaxed: see cancel (owner written once, by the owning worker). */
    atomic_store_explicit(&t->owner, hive__worker_id(w), memory_order_relaxed);
    t->inbox.next = h->fresh ? &h->fresh->inbox : NULL;
    h->fresh = t;
    return 0;
}

void hive__timer_heap_init(hive__timer_heap_t *h)
{
    h->a = NULL;
    h->n = h->cap = 0;
    hive__inject_init(&h->inbox);
    h->fresh = NULL;
    h->nfresh = 0;
}

static hive__timer_t *timer_of(hive__inject_node_t *n)
{
    return (hive__timer_t *)(void *)((char *)n - offsetof(hive__timer_t, inbox));
}

/* The next timer on a fresh list (linked through inbox.next), t taken off
 * the list. */
static hive__timer_t *fresh_next(hive__timer_t *t)
{
    hive__timer_t *next = t->inbox.next ? timer_of(t->inbox.next) : NULL;
    t->heap_index = -1;
    return next;
}

/* Into the heap; without memory for the heap, fire it now rather than
 * lose it. */
static void take_in(hive__timer_heap_t *h, hive__timer_t *t, int owner, uint64_t now)
{
    if (heap_insert(h, t, owner) != 0) {
        t->deadline = now;
        int expect = HIVE__TIMER_PENDING;
        /* acq_rel: decides the race with hive__timer_cancel(), as below. */
        if (atomic_compare_exchange_strong_explicit(&t->state, &expect, HIVE__TIMER_FIRED,
                                                    memory_order_acq_rel, memory_order_acquire))
            t->fire(t);
        hive__timer_put(t);
    }
}

void hive__timer_heap_run(hive__timer_heap_t *h, int owner, uint64_t now)
{
    /* The fresh list: `now` was read after each of these was added. One
     * cancelled meanwhile only drops the heap's reference (relaxed: if a
     * cancel lands just after this load, the timer goes into the heap and
     * is discarded when its deadline comes, as any cancel from elsewhere). */
    for (hive__timer_t *t = h->fresh; t;) {
        hive__timer_t *next = fresh_next(t);
        h->nfresh--; /* its reserved room: take_in needs no memory */
        if (atomic_load_explicit(&t->state, memory_order_relaxed) != HIVE__TIMER_PENDING) {
            hive__timer_put(t); /* the heap's reference */
        } else {
            t->deadline = sat_add(now, t->deadline);
            take_in(h, t, owner, now);
        }
        t = next;
    }
    h->fresh = NULL;
    for (hive__inject_node_t *n = hive__inject_take_all(&h->inbox); n;) {
        hive__inject_node_t *next = n->next;
        take_in(h, timer_of(n), owner, now);
        n = next;
    }
    while (h->n > 0 && h->a[0]->deadline <= now) {
        hive__timer_t *t = pop_min(h);
        int expect = HIVE__TIMER_PENDING;
        /* acq_rel: decides the race with hive__timer_cancel(). */
        if (atomic_compare_exchange_strong_explicit(&t->state, &expect, HIVE__TIMER_FIRED,
                                                    memory_order_acq_rel, memory_order_acquire))
            t->fire(t);
        hive__timer_put(t); /* the heap's reference */
    }
}

uint64_t hive__timer_heap_next(hive__timer_heap_t *h)
{
    if (!hive__inject_empty(&h->inbox) || h->fresh)
        return 0;
    return h->n ? h->a[0]->deadline : UINT64_MAX;
}

bool hive__timer_heap_busy(hive__timer_heap_t *h)
{
    return h->n > 0 || h->fresh || !hive__inject_empty(&h->inbox);
}

void hive__timer_heap_destroy(hive__timer_heap_t *h)
{
    for (hive__timer_t *t = h->fresh; t;) {
        hive__timer_t *next = fresh_next(t);
        hive__timer_cancel(t);
        hive__timer_put(t);
        t = next;
    }
    h->fresh = NULL;
    h->nfresh = 0;
    for (hive__inject_node_t *n = hive__inject_take_all(&h->inbox); n;) {
        hive__inject_node_t *next = n->next;
        hive__timer_t *t = timer_of(n);
        hive__timer_cancel(t);
        hive__timer_put(t);
        n = next;
    }
    while (h->n > 0) {
        hive__timer_t *t = pop_min(h);
        hive__timer_cancel(t);
        hive__timer_put(t);
    }
    hive__free(h->a, (size_t)h->cap * sizeof *h->a);
    h->a = NULL;
    h->cap = 0;
}
