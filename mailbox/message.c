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
 * from another worker) fills its list; the sending worker's stays empty.
 *
 * The depot carries nodes from the one to the other. Before it, the full
 * end freed each node to jemalloc and the empty end took each from it: in
 * actor_cast with the two on two workers, jemalloc's free, malloc and the
 * arena lock its thread caches flush and refill through were ~12% of the
 * time (perf). Now the full end writes the addresses of its overflow, per
 * class, into a batch record of its own (spill: no atomic) and leaves every
 * full record (DEPOT_BATCH nodes) in the class's depot (mailbox/depot.h: a
 * lock-free stack, one CAS); the empty end, before it calls jemalloc, takes
 * one record with one exchange and hands its nodes out one by one
 * (reserve). Addresses in a record, not a list threaded through the nodes:
 * the taker's first touch of a node is then the sender's write of a new
 * message, which the core does not wait for, where reading a link out of a
 * node last written on another core stalled every allocation (a first
 * version did: actor_cast got slower). The depot is shared by all workers
 * and touched once per DEPOT_BATCH messages, so it is no hot line even on
 * many cores. Bounded: past DEPOT_MAX records a class's overflow goes to
 * jemalloc as before (a foreign thread streaming to a worker makes its
 * nodes with jemalloc and would otherwise fill the depot for ever).
 * Records are jemalloc blocks: one made per DEPOT_BATCH spilled nodes, an
 * emptied one kept as the taker's next spill record or freed.
 *
 * Memory held: CACHE_CAP nodes per class per worker, and a spill and a
 * reserve record of up to DEPOT_BATCH each (108 KiB at most), returned
 * when the worker stops; the depot, DEPOT_MAX records per class at most
 * (1.1 MiB), emptied by each worker as it stops (every thread that can
 * fill it detaches after its last push, and each detach empties it:
 * nothing is left once all have).
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
 * use after hive_msg_free is still reported) and nothing is spilled (a
 * node past the bin's bound goes back to malloc, which ASan watches, so
 * the depot stays empty); the test hook that fails allocations is asked
 * before the cache, so a cached node never hides an injected failure.
 */
#include "mailbox/message.h"

#include <stddef.h>
#include <string.h>

#include "mailbox/alloc.h"
#include "mailbox/depot.h"

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

/* A batch: the addresses of DEPOT_BATCH blocks of one class, in a record of
 * their own, so that whoever takes them writes each block before reading
 * it (a block freed on another core, read first, is a stall; written
 * first, a store the core does not wait for). */
enum { DEPOT_BATCH = 64, DEPOT_MAX = 64 };
typedef struct batch {
    hive__depot_rec_t rec; /* first: in the depot */
    uint32_t n;
    void *slot[DEPOT_BATCH];
} batch_t;

/* initial-exec: see tls_worker in sched/worker.c. Per class: the bin, the
 * batch being filled with the bin's overflow (spill), the batch taken from
 * the depot and being used up (reserve). */
static __thread bin_t bins[NCLASSES] __attribute__((tls_model("initial-exec")));
static __thread batch_t *spill[NCLASSES] __attribute__((tls_model("initial-exec")));
static __thread batch_t *reserve[NCLASSES] __attribute__((tls_model("initial-exec")));
static __thread bool caching __attribute__((tls_model("initial-exec")));
static __thread size_t batches_taken __attribute__((tls_model("initial-exec"))); /* tests */

/* The depot: per class, batches of spare nodes. */
static hive__depot_t depot[NCLASSES];

static inline size_t class_of(size_t size) { return (size + CLASS_STEP - 1) / CLASS_STEP; }

/* Give a chain of class-c blocks (linked through next) to the allocator. */
static void free_chain(size_t c, block_t *k)
{
    while (k) {
        UNPOISON(k, c * CLASS_STEP);
        block_t *next = k->next;
        hive__free(k, c * CLASS_STEP);
        k = next;
    }
}

/* Give a batch's blocks to the allocator, and the record too unless keep. */
static void free_batch(size_t c, batch_t *r, bool keep)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n; i++)
        hive__free(r->slot[i], c * CLASS_STEP);
    r->n = 0;
    if (!keep)
        hive__free(r, sizeof *r);
}

/* The bin is empty: a block from this thread's reserve, refilled from the
 * depot when it runs out; NULL when both are empty. */
__attribute__((noinline)) static void *take_reserved(size_t c)
{
    batch_t *r = reserve[c];
    if (r && r->n)
        return r->slot[--r->n];
    batch_t *t = (batch_t *)hive__depot_get(&depot[c]);
    if (!t)
        return NULL;
    if (r && !spill[c])
        spill[c] = r; /* the empty record: the next spill fills it */
    else
        hive__free(r, sizeof *r);
    reserve[c] = t;
    batches_taken++;
    return t->slot[--t->n];
}

#if !HIVE_ASAN
/* A full bin's overflow: into this thread's spill batch, which goes to the
 * depot when full (or, when the depot is full, back to the allocator). */
__attribute__((noinline, cold)) static void spill_one(size_t c, void *p)
{
    batch_t *s = spill[c];
    if (!s) {
        /* Past the failure hook: bookkeeping of a free, not an allocation a
         * test's "fail the Nth" sweep should count (a failure is handled). */
        if (!(s = hive__alloc_api.malloc(sizeof *s))) {
            hive__free(p, c * CLASS_STEP);
            return;
        }
        s->n = 0;
        spill[c] = s;
    }
    s->slot[s->n++] = p;
    if (s->n < DEPOT_BATCH)
        return;
    if (hive__depot_put(&depot[c], &s->rec, DEPOT_MAX))
        spill[c] = NULL;
    else
        free_batch(c, s, true); /* full (see DEPOT_MAX): keep the record */
}
#endif

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
    void *p = caching ? take_reserved(c) : NULL;
    return p ? p : hive__alloc_api.malloc(c * CLASS_STEP);
}

/* The free, inline in hive_msg_free() where nothing before it can switch
 * fibers (the bins it computes are then this thread's: see the top of this
 * file); hive__msg_dealloc() out of line everywhere else (-17 instructions
 * per actor call). */
__attribute__((always_inline)) static inline void msg_dealloc(void *p, size_t size)
{
    if (size > HIVE__MSG_CACHED_MAX) {
        hive__free(p, size);
        return;
    }
    size_t c = class_of(size);
    bin_t *b = &bins[c];
    if (!caching) {
        hive__free(p, c * CLASS_STEP);
        return;
    }
    if (b->n >= CACHE_CAP) {
#if HIVE_ASAN
        hive__free(p, c * CLASS_STEP); /* not spilled: ASan sees the block freed */
#else
        spill_one(c, p);
#endif
        return;
    }
    block_t *k = p;
    k->next = b->head;
    b->head = k;
    b->n++;
    POISON(k, c * CLASS_STEP);
}

__attribute__((noinline)) void hive__msg_dealloc(void *p, size_t size) { msg_dealloc(p, size); }

void hive__msg_cache_attach(void) { caching = true; }

void hive__msg_cache_detach(void)
{
    caching = false;
    for (size_t c = 0; c < NCLASSES; c++) {
        free_chain(c, bins[c].head);
        bins[c] = (bin_t){0};
        free_batch(c, spill[c], false);
        free_batch(c, reserve[c], false);
        spill[c] = reserve[c] = NULL;
        /* Empty the depot too (see the top: the last thread to detach
         * leaves it empty). */
        hive__depot_rec_t *r = hive__depot_drain(&depot[c]);
        while (r) {
            hive__depot_rec_t *next = r->next;
            free_batch(c, (batch_t *)r, false);
            r = next;
        }
    }
}

size_t hive__msg_cache_count(void)
{
    size_t n = 0;
    for (size_t c = 0; c < NCLASSES; c++)
        n += bins[c].n + (spill[c] ? spill[c]->n : 0) + (reserve[c] ? reserve[c]->n : 0);
    return n;
}

size_t hive__msg_depot_taken(void) { return batches_taken; }

size_t hive__msg_depot_count(void)
{
    size_t n = 0;
    for (size_t c = 0; c < NCLASSES; c++)
        n += (size_t)hive__depot_count(&depot[c]) * DEPOT_BATCH;
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
    if (m->kind == HIVE__MSG_PTR && ptr_of(m)->ptr && ptr_of(m)->dtor) {
        /* The destructor may switch fibers (a send that yields), and
         * resume on another thread: the free computes its thread's bins
         * afresh, out of line. */
        ptr_of(m)->dtor(ptr_of(m)->ptr);
        hive__msg_dealloc(m, node_size(m));
        return;
    }
    msg_dealloc(m, node_size(m));
}
