/* alloc.c - hive's allocation layer: jemalloc (not the program's malloc), or
 * libc under sanitizers; a failure hook for allocation-failure tests. See
 * alloc.h. */
#include "mailbox/alloc.h"
#include "mailbox/valgrind.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if HIVE_USE_JEMALLOC
#include <dlfcn.h>
#include <jemalloc/jemalloc.h>
#include <pthread.h>
#endif

/* relaxed: the hook is set by a test before the code under test runs and the
 * test's own thread start / runtime start orders it; a stale read only means
 * one allocation is or is not failed around the moment it changes. */
_Atomic(hive__alloc_fail_fn) hive__alloc_fail_hook;

void hive__alloc_set_fail_hook(hive__alloc_fail_fn fn)
{
    /* relaxed: see hive__alloc_fail_hook. */
    atomic_store_explicit(&hive__alloc_fail_hook, fn, memory_order_relaxed);
}

#if HIVE_USE_JEMALLOC
/* jemalloc's own malloc, calloc and free, not the program's. jemalloc
 * 5.3's mallocx() has no fast path (about 90 instructions a call, counted
 * with callgrind: three of them per hive_call), while its malloc() pops the
 * thread cache in about 30. Calling malloc() by name would bind to whichever
 * malloc the program uses (glibc's, when the program links libhive.so: libc
 * comes first in the lookup order), so the three are looked up in
 * jemalloc's own library, found through mallocx (only jemalloc defines it).
 * All three or none: a tool that replaces the allocator (valgrind's
 * memcheck) redirects jemalloc's malloc, calloc and free too, but not
 * sdallocx, so mixing them with the x-API would free its blocks with the
 * wrong allocator. If the lookup fails: mallocx, dallocx. Workers allocate
 * with mallocx from their kept arena instead (below), freed with the same
 * free as everything else. */

static void *x_malloc(size_t n) { return mallocx(n, 0); }
static void *x_calloc(size_t k, size_t n) { return mallocx(k * n, MALLOCX_ZERO); }
static void x_free(void *p) { dallocx(p, 0); }

/* jemalloc's own malloc and calloc once resolve() found them, else the
 * x-API. */
static void *(*own_malloc)(size_t) = x_malloc;
static void *(*own_calloc)(size_t, size_t) = x_calloc;

/* MALLOCX_ARENA(its kept arena) on a worker thread, 0 elsewhere (see "Kept
 * arenas" below). initial-exec: see tls_worker in sched/worker.c. */
static __thread int kept_flags __attribute__((tls_model("initial-exec")));

static void *k_malloc(size_t n)
{
    return kept_flags ? mallocx(n ? n : 1, kept_flags) : own_malloc(n);
}

static void *k_calloc(size_t k, size_t n)
{
    if (!kept_flags)
        return own_calloc(k, n);
    if (n && k > SIZE_MAX / n)
        return NULL;
    size_t size = k * n;
    return mallocx(size ? size : 1, kept_flags | MALLOCX_ZERO);
}

/* Until resolve() has run (at load: a constructor), and if it fails. */
hive__alloc_api_t hive__alloc_api = {k_malloc, k_calloc, x_free};

static void *find(void *lib, const Dl_info *in, const char *name)
{
    void *sym = dlsym(lib, name);
    Dl_info at;
    /* Only if the symbol really is in that library. */
    return sym && dladdr(sym, &at) && at.dli_fbase == in->dli_fbase ? sym : NULL;
}

/* At load time, after jemalloc's own initialisation (a dependency's
 * constructors run first) and before any thread of ours exists: the plain
 * stores below happen before every thread's first allocation. */
__attribute__((constructor)) static void resolve(void)
{
    Dl_info info;
    if (!dladdr((void *)mallocx, &info) || !info.dli_fname)
        return;
    void *lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!lib)
        return;
    void *m = find(lib, &info, "malloc"), *c = find(lib, &info, "calloc");
    void *f = find(lib, &info, "free");
    if (m && c && f) {
        own_malloc = (void *(*)(size_t))m;
        own_calloc = (void *(*)(size_t, size_t))c;
        hive__alloc_api.free = (void (*)(void *))f;
    }
    dlclose(lib); /* NOLOAD took a reference; the library stays */
}

/* ---- Kept arenas ----------------------------------------------------------
 *
 * jemalloc gives each thread an arena of its choosing and, when the last
 * thread bound to an arena ends (or moves to another), purges every free
 * page of that arena at once. Each runtime stop ended the workers, so their
 * arenas lost their pages, and the memory freed as the runtime stopped
 * (dead processes' structs, after the workers were gone) went back to the
 * arena of the thread that had allocated it, which a later runtime's
 * workers might not use: a start faulted much of its memory in afresh.
 * sup_tree_start (a fresh runtime per repetition, 10,000 workers built by
 * whichever worker ran the root) paid ~1,800 page faults and ~620 ns per
 * child in most runs on 2 workers, ~760 faults and ~460 ns in the others.
 *
 * So a worker allocates (mallocx with MALLOCX_ARENA) from an arena that
 * hive creates once and keeps for the life of the process, shared by
 * WORKERS_PER_ARENA workers (on 2 workers one arena, on 64 eight): no thread
 * is bound to it, so no thread's end purges it, and whichever worker of
 * whichever later runtime allocates finds the pages the last one freed.
 * Frees stay plain: jemalloc returns a block to the arena it came from.
 * Sharing is cheap: a worker reaches the arena's locks only when its
 * jemalloc thread cache fills or runs dry (mallocx still goes through the
 * thread cache), and hive's hottest blocks (message nodes, process structs)
 * come from its own per-worker caches and depots. The pages are jemalloc's
 * to decay (10 s of allocator activity by default), as with any live
 * thread's. The price: mallocx has no fast path (~90 instructions against
 * malloc's ~30), paid only where hive's own caches miss. Not under
 * valgrind, which replaces malloc and free but not mallocx; if mallctl
 * fails, a worker allocates as before. */
#define WORKERS_PER_ARENA 8
#define KEPT_ARENAS 64

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned kept_arena[KEPT_ARENAS]; /* jemalloc's index + 1; kept_lock */
static __thread int kept_index = -1;     /* this worker's, for tests */

void hive__alloc_worker_enter(int id)
{
    /* Not under valgrind, nor when this build cannot tell (no header):
     * valgrind would replace the free of a mallocx'd block. */
    if (id < 0 || !HIVE_VALGRIND_DETECTABLE || RUNNING_ON_VALGRIND)
        return;
    int slot = (id / WORKERS_PER_ARENA) % KEPT_ARENAS;
    pthread_mutex_lock(&kept_lock);
    if (!kept_arena[slot]) {
        unsigned a;
        size_t sz = sizeof a;
        if (mallctl("arenas.create", &a, &sz, NULL, 0) == 0)
            kept_arena[slot] = a + 1;
    }
    unsigned a = kept_arena[slot];
    pthread_mutex_unlock(&kept_lock);
    if (a) {
        kept_flags = MALLOCX_ARENA(a - 1);
        kept_index = (int)(a - 1);
    }
}

int hive__alloc_worker_arena(void) { return kept_index; }

int hive__alloc_arena_pages(int arena, size_t *dirty, uint64_t *purged)
{
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    char name[64];
    if (arena < 0 || mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
        return -1;
    snprintf(name, sizeof name, "stats.arenas.%d.pdirty", arena);
    sz = sizeof *dirty;
    if (mallctl(name, dirty, &sz, NULL, 0) != 0)
        return -1;
    snprintf(name, sizeof name, "stats.arenas.%d.dirty_purged", arena);
    sz = sizeof *purged;
    return mallctl(name, purged, &sz, NULL, 0) == 0 ? 0 : -1;
}
#else
hive__alloc_api_t hive__alloc_api = {malloc, calloc, free};

void hive__alloc_worker_enter(int id) { (void)id; }
int hive__alloc_worker_arena(void) { return -1; }
int hive__alloc_arena_pages(int arena, size_t *dirty, uint64_t *purged)
{
    (void)arena, (void)dirty, (void)purged;
    return -1;
}
#endif

void *hive__zalloc(size_t size)
{
    /* Small blocks (idmap tables, process structs): malloc and a memset,
     * fewer instructions than calloc's general path (callgrind). Large ones
     * (tables sized by max_processes): calloc, which can hand out fresh zero
     * pages without touching them. */
    if (size > 4096)
        return hive__alloc_failing(size) ? NULL : hive__alloc_api.calloc(1, size);
    void *p = hive__alloc(size);
    return p && size ? memset(p, 0, size) : p;
}
