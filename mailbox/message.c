/* message.c - building, reading and freeing message nodes (see message.h).
 *
 * The node cache. Most messages are small (a 56-byte header and a few words
 * of payload) and most are freed by a worker that soon makes another: a
 * counting actor frees a node per message while its sender, on the same
 * worker, makes one. jemalloc's thread cache holds only some tens of nodes
 * of a size before it flushes to its arena, and a sender that runs its
 * whole budget before the receiver frees any overflows it every round
 * (callgrind, actor_cast: ~105 of ~500 instructions per message were
 * allocator calls, a third of them the flush and refill). So each worker
 * thread keeps, per class (64, 96, 128 bytes), a LIFO list of up to
 * CACHE_CAP freed nodes, linked through their first word: a hit is a few
 * loads and stores, no atomic. Other blocks made and freed once per message
 * use it too (a call's wait timer). Per worker and unshared: nothing here
 * is touched by two threads, so many cores add no contention. A worker
 * that frees more than it makes (the receiving end of a one-way stream
 * from another worker) fills its list and then frees to jemalloc, which
 * sends the node home to its arena as before; the sending worker, whose
 * list stays empty, allocates from jemalloc as before. Memory held:
 * CACHE_CAP x (64 + 96 + 128) bytes = 72 KiB per worker at most, returned
 * when the worker stops.
 *
 * Every node of up to HIVE__MSG_CACHED_MAX bytes is allocated at its class
 * size on every thread (jemalloc would round 72 bytes to 80, not 96), so a
 * cached node fits any message of its class, whichever thread made it.
 *
 * Fibers move between workers: the thread-local cache must not be reached
 * through an address computed before a switch. Neither function switches,
 * and both are out of line (noinline) so no caller that switches can keep
 * their thread pointer.
 *
 * Sanitizers: under ASan a cached node is poisoned but for its link (a
 * use after hive_msg_free is still reported); the test hook that fails
 * allocations is asked before the cache, so a cached node never hides an
 * injected failure.
 */
#include "mailbox/message.h"

#include <stddef.h>
#include <string.h>

#include "mailbox/alloc.h"

#if HIVE_ASAN
#include <sanitizer/asan_interface.h>
/* All but the link (the first word): LeakSanitizer does not follow pointers
 * stored in poisoned memory, so a runtime left running at exit (the fuzz
 * replay) had every cached node but the first of each list reported as
 * leaked. */
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((char *)(p) + sizeof(void *), (n) - sizeof(void *))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

_Static_assert(sizeof(hive_msg_t) == 56, "a message with 8 bytes of payload fills one 64-byte line");

/* ---- node cache ---- */

enum { CLASS_STEP = 32, CACHE_CAP = 256 };
/* class (size + 31) / 32: 2 = 64 bytes, 3 = 96, 4 = 128; 0 and 1 unused
 * (no node is under 57 bytes). */
#define NCLASSES (HIVE__MSG_CACHED_MAX / CLASS_STEP + 1)

/* A cached block: its first word links it (any block is >= 57 bytes). */
typedef struct block {
    struct block *next;
} block_t;

typedef struct {
    block_t *head;
    uint32_t n;
} bin_t;

/* initial-exec: see tls_worker in sched/worker.c. */
static __thread bin_t bins[NCLASSES] __attribute__((tls_model("initial-exec")));
static __thread bool caching __attribute__((tls_model("initial-exec")));

static inline size_t class_of(size_t size) { return (size + CLASS_STEP - 1) / CLASS_STEP; }

__attribute__((noinline)) void *hive__msg_alloc(size_t size)
{
    if (size > HIVE__MSG_CACHED_MAX)
        return hive__alloc(size);
    size_t c = class_of(size);
    if (hive__alloc_failing(size))
        return NULL;
    bin_t *b = &bins[c];
    block_t *k = b->head;
    if (k) {
        UNPOISON(k, c * CLASS_STEP);
        b->head = k->next;
        b->n--;
        return k;
    }
    return hive__alloc_api.malloc(c * CLASS_STEP);
}

__attribute__((noinline)) void hive__msg_dealloc(void *p, size_t size)
{
    if (size > HIVE__MSG_CACHED_MAX) {
        hive__free(p, size);
        return;
    }
    size_t c = class_of(size);
    bin_t *b = &bins[c];
    if (!caching || b->n >= CACHE_CAP) {
        hive__free(p, c * CLASS_STEP);
        return;
    }
    block_t *k = p;
    k->next = b->head;
    b->head = k;
    b->n++;
    POISON(k, c * CLASS_STEP);
}

void hive__msg_cache_attach(void) { caching = true; }

void hive__msg_cache_detach(void)
{
    caching = false;
    for (size_t c = 0; c < NCLASSES; c++) {
        bin_t *b = &bins[c];
        while (b->head) {
            block_t *k = b->head;
            UNPOISON(k, c * CLASS_STEP);
            b->head = k->next;
            hive__free(k, c * CLASS_STEP);
        }
        b->n = 0;
    }
}

size_t hive__msg_cache_count(void)
{
    size_t n = 0;
    for (size_t c = 0; c < NCLASSES; c++)
        n += bins[c].n;
    return n;
}

/* ---- messages ---- */

static size_t node_size(const hive_msg_t *m)
{
    return sizeof *m + (m->kind == HIVE__MSG_PTR ? sizeof(hive__msg_ptr_t) : m->len);
}

static hive__msg_ptr_t *ptr_of(hive_msg_t *m) { return (hive__msg_ptr_t *)(void *)m->data; }

hive_msg_t *hive__msg_new_ptr(uint64_t tag, hive_pid_t from, void *ptr, void (*dtor)(void *))
{
    hive_msg_t *m = hive__msg_alloc(sizeof *m + sizeof(hive__msg_ptr_t));
    if (!m)
        return NULL;
    hive__msg_init(m, tag, from, HIVE__MSG_PTR, 0);
    ptr_of(m)->ptr = ptr;
    ptr_of(m)->dtor = dtor;
    return m;
}

void hive__msg_discard(hive_msg_t *m)
{
    hive__msg_dealloc(m, node_size(m));
}

HIVE_API uint64_t hive_msg_tag(const hive_msg_t *m) { return m ? m->tag : 0; }

HIVE_API hive_pid_t hive_msg_from(const hive_msg_t *m) { return m ? m->from : HIVE_PID_NONE; }

HIVE_API const void *hive_msg_data(const hive_msg_t *m)
{
    return m && m->kind == HIVE__MSG_BYTES && m->len ? m->data : NULL;
}

HIVE_API size_t hive_msg_size(const hive_msg_t *m)
{
    return m && m->kind == HIVE__MSG_BYTES ? m->len : 0;
}

HIVE_API void *hive_msg_take_ptr(hive_msg_t *m)
{
    if (!m || m->kind != HIVE__MSG_PTR)
        return NULL;
    void *p = ptr_of(m)->ptr;
    ptr_of(m)->ptr = NULL;
    return p;
}

void hive__msg_hold(hive__msg_list_t *l, hive_msg_t *m)
{
    m->next = l->head;
    if (m->next)
        m->next->pprev = &m->next;
    l->head = m;
    m->pprev = &l->head;
}

static void unhold(hive_msg_t *m)
{
    *m->pprev = m->next;
    if (m->next)
        m->next->pprev = m->pprev;
    m->pprev = NULL;
}

void hive__msg_free_held(hive__msg_list_t *l)
{
    while (l->head)
        hive_msg_free(l->head);
}

HIVE_API void hive_msg_free(hive_msg_t *m)
{
    if (!m)
        return;
    if (m->pprev)
        unhold(m);
    if (m->kind == HIVE__MSG_PTR && ptr_of(m)->ptr && ptr_of(m)->dtor)
        ptr_of(m)->dtor(ptr_of(m)->ptr);
    hive__msg_dealloc(m, node_size(m));
}
