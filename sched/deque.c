/* deque.c - Chase-Lev work-stealing deque (Chase & Lev 2005; C11 orderings
 * from Lê et al., PPoPP 2013, Fig. 1). See deque.h for who may call what.
 *
 * The one subtle race is between pop() and steal() over the last item: the
 * owner announces its claim by decrementing bottom, the thief announces its
 * claim by reading top then bottom. Each side must see the other's store
 * before its load (StoreLoad), which only seq_cst fences give: hence the
 * seq_cst fence in pop() between the bottom store and the top load, and the
 * one in steal() between the top load and the bottom load. Whoever then wins
 * the CAS on top takes the item.
 *
 * HIVE_STEP() (mailbox/explore.h) marks each step another thread can see,
 * for the interleaving explorer; it is empty in the library's own build.
 *
 * TSan does not model standalone fences, so under HIVE_TSAN the release
 * fence in push() becomes a release store of bottom (which steal() reads with
 * acquire), giving TSan the happens-before edge the fence gives the hardware.
 */
#include "sched/deque.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#if !HIVE_TSAN
#include <urcu-qsbr.h>
#endif

#include "mailbox/alloc.h"
#include "mailbox/explore.h"
#include "sched/rcu.h"
#include "sched/fence.h"

struct hive__deque_array {
#if !HIVE_TSAN
    struct rcu_head rcu;
#endif
    hive__deque_array_t *next_retired;
    int64_t size; /* power of two */
    _Atomic(void *) buf[];
};

static size_t array_bytes(int64_t size)
{
    return sizeof(hive__deque_array_t) + (size_t)size * sizeof(_Atomic(void *));
}

static hive__deque_array_t *array_new(int64_t size)
{
    hive__deque_array_t *a = hive__alloc(array_bytes(size));
    if (a) {
        a->size = size;
        a->next_retired = NULL;
    }
    return a;
}

static void array_free(hive__deque_array_t *a)
{
    hive__free(a, array_bytes(a->size));
}

#if !HIVE_TSAN
static void array_free_rcu(struct rcu_head *h)
{
    hive__rcu_callback_begin();
    array_free(caa_container_of(h, hive__deque_array_t, rcu));
}
#endif

/* relaxed on slots: a slot's contents are published by the release on
 * bottom (push) and read after the acquire on bottom (steal) or by the owner
 * itself (pop); the slot atomics only keep concurrent access defined. */
static inline void *slot_get(hive__deque_array_t *a, int64_t i)
{
    return atomic_load_explicit(&a->buf[i & (a->size - 1)], memory_order_relaxed);
}

static inline void slot_put(hive__deque_array_t *a, int64_t i, void *x)
{
    atomic_store_explicit(&a->buf[i & (a->size - 1)], x, memory_order_relaxed); /* see slot_get */
}

int hive__deque_init(hive__deque_t *d, int64_t capacity)
{
    int64_t size = 2;
    while (size < capacity)
        size *= 2;
    memset(d, 0, sizeof *d);
    hive__deque_array_t *a = array_new(size);
    if (!a)
        return -ENOMEM;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    atomic_init(&d->array, a);
    return 0;
}

void hive__deque_destroy(hive__deque_t *d)
{
    array_free(atomic_load_explicit(&d->array, memory_order_relaxed)); /* no concurrency */
    while (d->retired) {
        hive__deque_array_t *n = d->retired->next_retired;
        array_free(d->retired);
        d->retired = n;
    }
}

/* Owner: double the array, copying the live range [t, b). */
static hive__deque_array_t *grow(hive__deque_t *d, hive__deque_array_t *a, int64_t t, int64_t b)
{
    hive__deque_array_t *na = array_new(a->size * 2);
    if (!na)
        return NULL;
    for (int64_t i = t; i < b; i++)
        slot_put(na, i, slot_get(a, i));
    /* release: the copied slots are visible before the new array is; pairs
     * with the acquire load of array in hive__deque_steal(). */
    HIVE_STEP();
    atomic_store_explicit(&d->array, na, memory_order_release);
    /* A thief that loaded `a` before the store above may still read it: it
     * reads only slots in [t, b), which hold the same items in both arrays,
     * so what it takes is right; `a` must just stay mapped until it is done. */
#if HIVE_TSAN
    a->next_retired = d->retired;
    d->retired = a;
#else
    call_rcu(&a->rcu, array_free_rcu);
#endif
    return na;
}

int hive__deque_push(hive__deque_t *d, void *x)
{
    /* relaxed: only the owner writes bottom. */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    /* acquire: pairs with the CAS on top in hive__deque_steal(), so the slot
     * a thief emptied is no longer read by it before we reuse it. */
    HIVE_STEP();
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    /* relaxed: only the owner writes array. */
    hive__deque_array_t *a = atomic_load_explicit(&d->array, memory_order_relaxed);
    if (b - t > a->size - 1) {
        a = grow(d, a, t, b);
        if (!a)
            return -ENOMEM;
    }
    HIVE_STEP();
    slot_put(a, b, x);
#if HIVE_TSAN
    /* release: publishes the slot; pairs with the acquire load of bottom in
     * hive__deque_steal(). */
    HIVE_STEP();
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
#else
    /* release fence: the slot store above is visible before the bottom store
     * below; pairs with the acquire load of bottom in hive__deque_steal(). */
    atomic_thread_fence(memory_order_release);
    /* relaxed: ordered by the fence above. */
    HIVE_STEP();
    atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
#endif
    return 0;
}

void *hive__deque_pop(hive__deque_t *d)
{
    /* relaxed: only the owner writes bottom and array. */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    hive__deque_array_t *a = atomic_load_explicit(&d->array, memory_order_relaxed);
    /* relaxed store + seq_cst fence: claim slot b before reading top. The
     * fence pairs with the seq_cst fence in hive__deque_steal(): either the
     * thief sees the smaller bottom, or we see its incremented top. */
    HIVE_STEP();
    atomic_store_explicit(&d->bottom, b, memory_order_relaxed);
    hive__fence_seq_cst();
    /* relaxed: ordered by the fence above. */
    HIVE_STEP();
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    void *x = NULL;
    if (t <= b) {
        HIVE_STEP();
        x = slot_get(a, b);
        if (t == b) {
            /* The last item: race the thieves for it on top. seq_cst: the
             * CAS is totally ordered with the thieves' CAS on top (see
             * hive__deque_steal()); relaxed on failure, nothing was read. */
            HIVE_STEP();
            if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1,
                                                         memory_order_seq_cst,
                                                         memory_order_relaxed))
                x = NULL;
            /* relaxed: the deque is empty either way; owner-only. */
            HIVE_STEP();
            atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        }
    } else {
        /* Empty: undo the claim. relaxed: owner-only. */
        HIVE_STEP();
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

void *hive__deque_steal(hive__deque_t *d)
{
    /* acquire: pairs with the CAS on top by other thieves and pop(), so the
     * slot we read below is not an older, already-taken one. */
    HIVE_STEP();
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    /* seq_cst fence: read top before bottom; pairs with the seq_cst fence
     * in hive__deque_pop() (see the file comment). */
    hive__fence_seq_cst();
    /* acquire: pairs with the release fence (release store under TSan) on
     * bottom in hive__deque_push(): the slot below holds the pushed item. */
    HIVE_STEP();
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_acquire);
    if (t >= b)
        return NULL;
    /* acquire: pairs with the release store of array in grow(); the paper's
     * consume, strengthened as compilers do anyway. */
    HIVE_STEP();
    hive__deque_array_t *a = atomic_load_explicit(&d->array, memory_order_acquire);
    /* Read the item before the CAS: once top moves, the owner may overwrite
     * the slot. */
    HIVE_STEP();
    void *x = slot_get(a, t);
    /* seq_cst: totally ordered with pop()'s CAS for the last item and with
     * other thieves; relaxed on failure, we return without using x. */
    HIVE_STEP();
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return HIVE__DEQUE_ABORT;
    return x;
}

int64_t hive__deque_size(hive__deque_t *d)
{
    /* relaxed: an estimate; callers use it only to size a steal or to decide
     * whether to look closer. */
    HIVE_STEP();
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    HIVE_STEP();
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    return b > t ? b - t : 0;
}

void *hive__deque_peek(hive__deque_t *d)
{
    /* relaxed: only the owner writes bottom and array; top only grows, so
     * a stale top only makes a taken item look present (a hint). */
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    int64_t t = atomic_load_explicit(&d->top, memory_order_relaxed);
    if (t > b)
        return NULL;
    /* relaxed: as above. */
    return slot_get(atomic_load_explicit(&d->array, memory_order_relaxed), b);
}
