/* alloc.h - the allocation layer every part of hive allocates through.
 *
 * It sits in mailbox/, the lowest layer, because message nodes are its
 * hottest user; sched/ and core/ use it too. Release builds call jemalloc
 * (its own malloc, calloc and free, looked up in its library: thread caches
 * make a free on another thread cheap) without replacing the program's
 * malloc. Sanitizer builds use libc malloc so ASan sees every block.
 * Every block is freed with the size it was allocated with (unused today:
 * kept so that a sized free can come back without touching the callers).
 *
 * Any thread may call any of these. hive__alloc returns NULL on failure (or
 * when a test's failure hook says so); callers turn that into -ENOMEM.
 */
#ifndef HIVE_MAILBOX_ALLOC_H
#define HIVE_MAILBOX_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Tests: when set, the hook is asked before each allocation and a true
 * answer makes that allocation fail. Not for production use. */
typedef bool (*hive__alloc_fail_fn)(size_t size);
void hive__alloc_set_fail_hook(hive__alloc_fail_fn fn);

/* For the inline fast paths below (alloc.c): the allocator's entry points
 * (jemalloc's own, or libc's), and the test hook. */
typedef struct hive__alloc_api {
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void (*free)(void *);
} hive__alloc_api_t;
extern hive__alloc_api_t hive__alloc_api;
extern _Atomic(hive__alloc_fail_fn) hive__alloc_fail_hook;

/* Inline: a message send is one allocation, and a call into this layer
 * only to load a pointer and call through it cost the send path its
 * inlining (callgrind: +8% instructions on pingpong). */
static inline bool hive__alloc_failing(size_t size)
{
    /* relaxed: see hive__alloc_fail_hook in alloc.c. */
    hive__alloc_fail_fn fn = atomic_load_explicit(&hive__alloc_fail_hook, memory_order_relaxed);
    return __builtin_expect(fn != NULL, 0) && fn(size);
}

static inline void *hive__alloc(size_t size)
{
    if (size == 0)
        size = 1;
    return hive__alloc_failing(size) ? NULL : hive__alloc_api.malloc(size);
}

void *hive__zalloc(size_t size);

/* Worker threads, first thing: allocate from hive's kept jemalloc arena for
 * worker `id` from now on (no thread is bound to it, so it outlives the
 * thread with its pages; see "Kept arenas" in alloc.c). No-op without
 * jemalloc or under valgrind; best effort. */
void hive__alloc_worker_enter(int id);
/* The kept arena the calling thread allocates from, or -1 (not a worker,
 * or no jemalloc). For tests. */
int hive__alloc_worker_arena(void);
/* jemalloc's count of an arena's dirty pages (free, still backed) and of
 * the pages it purged so far: 0, or -1 (no jemalloc, no statistics). For
 * tests. */
int hive__alloc_arena_pages(int arena, size_t *dirty, uint64_t *purged);

static inline void hive__free(void *p, size_t size)
{
    (void)size;
    if (p)
        hive__alloc_api.free(p);
}

#endif
