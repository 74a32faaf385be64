/* stack.c - fiber stacks carved from mmap'd slabs, with guard pages while the
 * VMA budget lasts, a per-thread cache and a global pool. See stack.h.
 *
 * Invariants: a slab is never unmapped, so the region table only grows and a
 * lookup needs no lock; every stack handed out is either in use by exactly one
 * fiber or sits in exactly one cache or pool.
 */
#include "sched/stack.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mailbox/alloc.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HIVE_HAVE_VALGRIND 1
#endif
#endif

#define MAX_STACK_SIZE ((size_t)1 << 30)
#define VMA_RESERVE 16384
#define CACHE_MAX 64
#define MAX_CLASSES 16

/* ---- region table: append-only, read lock-free from signal handlers ---- */

typedef struct region {
    char *base;      /* first byte of the slab */
    size_t stride;   /* guard page + stack */
    size_t guard;    /* bytes of guard at the start of each stride */
    uint32_t count;  /* stacks in the slab */
    uint8_t guarded;
} region_t;

#define CHUNK 1024
#define DIR_SIZE 4096 /* up to 4M slabs, 256M stacks */
static _Atomic(region_t *) dir[DIR_SIZE];
static atomic_size_t nregions;

/* ---- size classes and the global pool (slow path, under `lock`) ---- */

/* The pool is a LIFO array: pool[0, clean) hold no pages (fresh, or given
 * back with madvise), pool[clean, n) still hold the pages their last user
 * touched. A spill pushes dirty stacks without a system call; only when more
 * than DIRTY_MAX are dirty are the oldest of them given back. A worker that
 * takes stacks from the pool (refill) then gets warm ones: no page faults,
 * and no madvise on the other side, whose TLB shootdown interrupts every
 * CPU the process runs on (expensive in a VM). Stacks drift between workers
 * whenever a process blocks on one and ends on another.
 * 1024: when many processes end at once (a million blocked processes woken
 * and ending: bench idle_processes), the pages go back 512 stacks per
 * release (sorted, neighbours merged into one madvise) rather than 32, and
 * the shootdowns with them: idle_processes went from 4.5-5.1 to 3.0-3.7 us
 * per process in an A/B run. The price: up to 1024 stacks per size class
 * keep the pages their last user touched (mostly one or two: ~8 MiB; at
 * worst the whole stack, 64 MiB at the default size). */
#define DIRTY_MAX 1024

typedef struct klass {
    size_t size;
    hive__stack_t *pool;
    size_t n, cap;
    size_t clean;
} klass_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static klass_t classes[MAX_CLASSES];
static size_t nclasses;
static size_t guarded_made, unguarded_made, slabs_made, budget_vmas_for_test;
static bool budget_known, warned;
static size_t guard_budget;
/* relaxed: the default size is set at runtime start, before workers exist
 * (thread creation orders it); readers only need some valid size. */
static atomic_size_t default_size = HIVE__STACK_DEFAULT_SIZE;

/* ---- per-thread cache: stacks of one size, no locking ---- */

static __thread struct {
    size_t size;
    int n;
    hive__stack_t s[CACHE_MAX];
} cache;

static size_t page_size(void)
{
    static size_t ps;
    if (!ps)
        ps = (size_t)sysconf(_SC_PAGESIZE);
    return ps;
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

void hive__stack_set_default_size(size_t size)
{
    atomic_store_explicit(&default_size, round_up(size, page_size()),
                          memory_order_relaxed); /* see default_size */
}

size_t hive__stack_default_size(void)
{
    return atomic_load_explicit(&default_size, memory_order_relaxed); /* see default_size */
}

static size_t read_max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    unsigned long v = 65530;
    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

/* Called with lock held. */
static size_t budget_locked(void)
{
    if (!budget_known) {
        size_t vmas = budget_vmas_for_test ? budget_vmas_for_test : read_max_map_count();
        /* Guards come a slab at a time: round down to whole slabs. */
        guard_budget = vmas > VMA_RESERVE ? (vmas - VMA_RESERVE) / 2 / HIVE__STACKS_PER_SLAB *
                                                HIVE__STACKS_PER_SLAB
                                          : 0;
        budget_known = true;
    }
    return guard_budget;
}

void hive__stack_set_vma_budget_for_test(size_t vmas)
{
    pthread_mutex_lock(&lock);
    budget_vmas_for_test = vmas;
    budget_known = false;
    pthread_mutex_unlock(&lock);
}

static klass_t *class_locked(size_t size)
{
    for (size_t i = 0; i < nclasses; i++)
        if (classes[i].size == size)
            return &classes[i];
    if (nclasses == MAX_CLASSES)
        return NULL;
    classes[nclasses].size = size;
    return &classes[nclasses++];
}

static int pool_push_locked(klass_t *k, const hive__stack_t *s)
{
    if (k->n == k->cap) {
        size_t ncap = k->cap ? k->cap * 2 : 256;
        hive__stack_t *np = hive__alloc(ncap * sizeof *np);
        if (!np)
            return -ENOMEM;
        if (k->pool) {
            memcpy(np, k->pool, k->n * sizeof *np);
            hive__free(k->pool, k->cap * sizeof *np);
        }
        k->pool = np;
        k->cap = ncap;
    }
    k->pool[k->n++] = *s;
    return 0;
}

static int register_region_locked(const region_t *r)
{
    size_t i = atomic_load_explicit(&nregions, memory_order_relaxed); /* writers hold lock */
    if (i / CHUNK >= DIR_SIZE)
        return -ENOMEM;
    region_t *chunk = atomic_load_explicit(&dir[i / CHUNK], memory_order_relaxed); /* lock */
    if (!chunk) {
        chunk = mmap(NULL, CHUNK * sizeof(region_t), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (chunk == MAP_FAILED)
            return -ENOMEM;
        /* release: pairs with the acquire load of dir[] in guard_lookup(). */
        atomic_store_explicit(&dir[i / CHUNK], chunk, memory_order_release);
    }
    chunk[i % CHUNK] = *r;
    /* release: publishes chunk[i]; pairs with the acquire load of nregions in
     * hive__stack_guard_lookup(). */
    atomic_store_explicit(&nregions, i + 1, memory_order_release);
    return 0;
}

/* Map a slab of HIVE__STACKS_PER_SLAB stacks of `size` into k's pool. */
static int new_slab_locked(klass_t *k)
{
    size_t ps = page_size();
    size_t stride = k->size + ps;
    size_t n = HIVE__STACKS_PER_SLAB;
    bool guarded = guarded_made + n <= budget_locked();
    char *base = mmap(NULL, stride * n, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return -ENOMEM;
    if (guarded) {
        for (size_t i = 0; i < n; i++) {
            if (mprotect(base + i * stride, ps, PROT_NONE) != 0) {
                /* Out of VMAs after all (the rest of the program used them):
                 * undo and fall back to an unguarded slab. */
                for (size_t j = 0; j < i; j++)
                    mprotect(base + j * stride, ps, PROT_READ | PROT_WRITE);
                guarded = false;
                guard_budget = guarded_made;
                break;
            }
        }
    }
    if (!guarded && !warned) {
        warned = true;
        fprintf(stderr,
                "hive: vm.max_map_count allows %zu stacks with guard pages; stacks made "
                "from now on have no guard page, so a stack overflow there is not "
                "detected (raise vm.max_map_count to keep overflow detection)\n",
                guard_budget);
    }
    region_t r = {base, stride, ps, (uint32_t)n, guarded};
    int err = register_region_locked(&r);
    if (err) {
        munmap(base, stride * n);
        return err;
    }
    for (size_t i = n; i-- > 0;) {
        hive__stack_t s = {base + i * stride + ps, k->size, guarded};
#ifdef HIVE_HAVE_VALGRIND
        VALGRIND_STACK_REGISTER(s.lo, s.lo + s.size);
#endif
        if ((err = pool_push_locked(k, &s)) != 0)
            return err; /* the slab stays registered; its stacks are lost */
    }
    k->clean = k->n; /* fresh mappings: no pages yet */
    slabs_made++;
    if (guarded)
        guarded_made += n;
    else
        unguarded_made += n;
    return 0;
}

static int alloc_from_pool(size_t size, hive__stack_t *out);

int hive__stack_alloc(size_t size, hive__stack_t *out)
{
    if (size == 0)
        size = hive__stack_default_size();
    if (size > MAX_STACK_SIZE)
        return -EINVAL;
    size = round_up(size, page_size());
    if (cache.n > 0 && cache.size == size) {
        *out = cache.s[--cache.n];
        return 0;
    }
    return alloc_from_pool(size, out);
}

/* Out of line: inlined, the locked path made every cache hit (an idle
 * actor's wake-up) save and restore half the registers. */
static __attribute__((noinline)) int alloc_from_pool(size_t size, hive__stack_t *out)
{
    pthread_mutex_lock(&lock);
    klass_t *k = class_locked(size);
    int err = k ? 0 : -ENOMEM;
    if (k && k->n == 0)
        err = new_slab_locked(k);
    if (!err) {
        *out = k->pool[--k->n];
        /* Refill the cache with the same size, half a cache at most. */
        if (cache.n == 0)
            cache.size = size;
        while (cache.size == size && cache.n < CACHE_MAX / 2 && k->n > 0)
            cache.s[cache.n++] = k->pool[--k->n];
        if (k->clean > k->n)
            k->clean = k->n;
    }
    pthread_mutex_unlock(&lock);
    return err;
}

static int by_address(const void *a, const void *b)
{
    const char *x = ((const hive__stack_t *)a)->lo, *y = ((const hive__stack_t *)b)->lo;
    return x < y ? -1 : x > y;
}

/* Give the stacks' physical pages back to the kernel (their contents are
 * dead): one madvise per run of neighbours in a slab, not one per stack.
 * A run may span the guard pages between them; madvise does not care. */
static void release_pages(hive__stack_t *s, int n)
{
    qsort(s, (size_t)n, sizeof *s, by_address);
    for (int i = 0; i < n;) {
        char *lo = s[i].lo, *hi = s[i].lo + s[i].size;
        int j = i + 1;
        while (j < n && s[j].lo > hi && s[j].lo - hi <= (ptrdiff_t)page_size() &&
               s[j].size == s[i].size) {
            hi = s[j].lo + s[j].size;
            j++;
        }
        madvise(lo, (size_t)(hi - lo), MADV_DONTNEED);
        i = j;
    }
}

static void spill(const hive__stack_t *extra, int keep)
{
    hive__stack_t moved[CACHE_MAX + 1];
    int m = 0;
    while (cache.n > keep)
        moved[m++] = cache.s[--cache.n];
    if (extra)
        moved[m++] = *extra;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < m; i++) {
        klass_t *k = class_locked(moved[i].size);
        /* Classes only grow, and this size came from one; a failed push
         * loses the stack's address range, not correctness. */
        if (k && pool_push_locked(k, &moved[i]) == 0 && k->n - k->clean > DIRTY_MAX) {
            /* Give back the oldest dirty ones. Under the lock: nobody may
             * take a stack while its pages are being dropped. Rare: once
             * per DIRTY_MAX / 2 spilled stacks at most. */
            size_t excess = k->n - k->clean - DIRTY_MAX / 2;
            release_pages(k->pool + k->clean, (int)excess);
            k->clean += excess;
        }
    }
    pthread_mutex_unlock(&lock);
}

void hive__stack_free(const hive__stack_t *s)
{
    if (cache.n == 0)
        cache.size = s->size;
    if (cache.size == s->size && cache.n < CACHE_MAX) {
        cache.s[cache.n++] = *s;
        return;
    }
    spill(s, cache.size == s->size ? CACHE_MAX / 2 : cache.n);
}

void hive__stack_thread_flush(void)
{
    if (cache.n > 0)
        spill(NULL, 0);
}

bool hive__stack_guard_lookup(const void *addr, hive__stack_t *out)
{
    const char *a = addr;
    /* acquire: pairs with the release store of nregions in
     * register_region_locked(); every region below n is fully written. */
    size_t n = atomic_load_explicit(&nregions, memory_order_acquire);
    for (size_t i = 0; i < n; i++) {
        /* acquire: pairs with the release store of dir[] in
         * register_region_locked(). */
        const region_t *chunk = atomic_load_explicit(&dir[i / CHUNK], memory_order_acquire);
        const region_t *r = &chunk[i % CHUNK];
        if (a < r->base || a >= r->base + r->stride * r->count)
            continue;
        size_t off = (size_t)(a - r->base);
        if (!r->guarded || off % r->stride >= r->guard)
            return false;
        if (out) {
            out->lo = r->base + off / r->stride * r->stride + r->guard;
            out->size = r->stride - r->guard;
            out->guarded = 1;
        }
        return true;
    }
    return false;
}

void hive__stack_stats(hive__stack_stats_t *out)
{
    pthread_mutex_lock(&lock);
    out->guarded = guarded_made;
    out->unguarded = unguarded_made;
    out->guard_budget = budget_locked();
    out->slabs = slabs_made;
    out->pooled = 0;
    for (size_t i = 0; i < nclasses; i++)
        out->pooled += classes[i].n;
    pthread_mutex_unlock(&lock);
}
