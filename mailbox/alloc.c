/* alloc.c - hive's allocation layer: jemalloc (not the program's malloc), or
 * libc under sanitizers; a failure hook for allocation-failure tests. See
 * alloc.h. */
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
 * wrong allocator. If the lookup fails: mallocx, dallocx. */

static void *x_malloc(size_t n) { return mallocx(n, 0); }
static void *x_calloc(size_t k, size_t n) { return mallocx(k * n, MALLOCX_ZERO); }
static void x_free(void *p) { dallocx(p, 0); }

/* Until resolve() has run (at load: a constructor), and if it fails. */
hive__alloc_api_t hive__alloc_api = {x_malloc, x_calloc, x_free};

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
    if (m && c && f)
        hive__alloc_api = (hive__alloc_api_t){(void *(*)(size_t))m, (void *(*)(size_t, size_t))c,
                                              (void (*)(void *))f};
    dlclose(lib); /* NOLOAD took a reference; the library stays */
}
#else
hive__alloc_api_t hive__alloc_api = {malloc, calloc, free};
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
