/* alloc.c - hive's allocation layer: jemalloc's sized API, or libc under
 * sanitizers; a failure hook for allocation-failure tests. See alloc.h. */
#include "mailbox/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if HIVE_USE_JEMALLOC
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

void *hive__alloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (should_fail(size))
        return NULL;
#if HIVE_USE_JEMALLOC
    return mallocx(size, 0);
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
