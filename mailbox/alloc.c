/* alloc.c - hive's allocation layer: jemalloc's sized API, or libc under
 * sanitizers; a failure hook for allocation-failure tests. See alloc.h. */
#include "mailbox/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if HIVE_USE_JEMALLOC
#include <dlfcn.h>
#include <jemalloc/jemalloc.h>
#endif

/* relaxed: the hook is set by a test before the code under test runs and the
 * test's own thread start / runtime start orders it; a stale read only means
 * one allocation is or is not failed around the moment it changes. */
static _Atomic(hive__alloc_fail_fn) fail_hook;

void hive__alloc_set_fail_hook(hive__alloc_fail_fn fn)
{
    atomic_store_explicit(&fail_hook, fn, memory_order_relaxed); /* see fail_hook */
}

static inline bool should_fail(size_t size)
{
    hive__alloc_fail_fn fn = atomic_load_explicit(&fail_hook, memory_order_relaxed); /* see fail_hook */
    return fn && fn(size);
}

#if HIVE_USE_JEMALLOC
/* jemalloc's own malloc(), not the program's. jemalloc 5.3's mallocx() has
 * no fast path (about 90 instructions a call, measured with callgrind: three
 * of them per hive_call), while its malloc() pops the thread cache in about
 * 30. Calling malloc() by name would bind to whichever malloc the program
 * uses (glibc's, when the program links libhive.so: libc comes first in
 * the lookup order), so the symbol is looked up in jemalloc's own library,
 * found through mallocx (only jemalloc defines it). Its blocks are
 * jemalloc's, so sdallocx frees them. If the lookup fails, mallocx. */
typedef void *(*malloc_fn)(size_t);

static void *via_mallocx(size_t size) { return mallocx(size, 0); }

static void *resolve_malloc(size_t size);
/* relaxed: every thread that resolves stores the same pointer; a thread
 * that reads the old one resolves again. */
static _Atomic(malloc_fn) je_malloc = resolve_malloc;

static void *resolve_malloc(size_t size)
{
    malloc_fn fn = via_mallocx;
    Dl_info info;
    if (dladdr((void *)mallocx, &info) && info.dli_fname) {
        void *lib = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (lib) {
            void *sym = dlsym(lib, "malloc");
            Dl_info at;
            /* Only if the symbol really is in that library. */
            if (sym && dladdr(sym, &at) && at.dli_fbase == info.dli_fbase)
                fn = (malloc_fn)sym;
            dlclose(lib); /* NOLOAD took a reference; the library stays */
        }
    }
    atomic_store_explicit(&je_malloc, fn, memory_order_relaxed); /* see je_malloc */
    return fn(size);
}
#endif

void *hive__alloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (should_fail(size))
        return NULL;
#if HIVE_USE_JEMALLOC
    return atomic_load_explicit(&je_malloc, memory_order_relaxed)(size); /* see je_malloc */
#else
    return malloc(size);
#endif
}

void *hive__zalloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (should_fail(size))
        return NULL;
#if HIVE_USE_JEMALLOC
    /* Small blocks (idmap tables, process structs): jemalloc's malloc and
     * a memset, about half the instructions of mallocx(MALLOCX_ZERO)
     * (callgrind). Large ones (tables sized by max_processes): mallocx,
     * which can hand out fresh zero pages without touching them. */
    if (size <= 4096) {
        void *p = atomic_load_explicit(&je_malloc, memory_order_relaxed)(size); /* see je_malloc */
        return p ? memset(p, 0, size) : NULL;
    }
    return mallocx(size, MALLOCX_ZERO);
#else
    return calloc(1, size);
#endif
}

void hive__free(void *p, size_t size)
{
    if (!p)
        return;
#if HIVE_USE_JEMALLOC
    sdallocx(p, size ? size : 1, 0);
#else
    (void)size;
    free(p);
#endif
}
