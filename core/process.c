/* process.c - processes: the pid table, spawn and exit, send and receive,
 * sleep, and foreign threads attached as pseudo-processes.
 *
 * Pids: generation << 32 | (slot + 1). Free slots sit in per-worker caches
 * (see shard_t) and, a batch at a time, on a shared Treiber stack whose head
 * carries a 32-bit tag, so a slot popped and pushed back between a thief's
 * two reads cannot fool its CAS (ABA); a batch goes on with one CAS, its
 * links written before the release that publishes them.
 *
 * Lifetime of a process struct: published in its slot at spawn (release);
 * at exit (proc_end) it is marked dead, unnamed, removed from its slot and
 * deferred past a grace period (in a batch, to hive's reclaim thread,
 * sched/rcu.h; from a foreign thread, to call_rcu). After the grace period
 * no sender can still be inside hive__proc_deliver() for it (senders look
 * up and deliver inside one read-side section), so the reclaimer frees what
 * its mailbox holds and then the struct (or leaves it for reuse). A
 * message that arrives after the exit is thus freed, not leaked, and a
 * sender never writes to freed memory.
 *
 * Wake-ups: a receiver about to block publishes what it waits for (any
 * message, up to HIVE__WAIT_TAGS_MAX tags, or "anything" for a predicate)
 * and rescans; a sender, after linking its message, reads that and wakes the
 * receiver only if the message concerns it. The two sides are a Dekker pair
 * (receiver: release store, seq_cst fence, load; sender: the push's seq_cst
 * exchange, then a seq_cst load; argued at hive__proc_deliver).
 * A fiber process waits with the task park token (sched/worker.h), an
 * attached thread on a futex word; the token is binary, so a wake-up is
 * delivered at most once however many matching messages arrive, and the
 * receiver scans only messages it has not looked at yet.
 */
#include "core/process.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/registry.h"
#include <hive/link.h>
#include "mailbox/alloc.h"
#include "mailbox/depot.h"
#include "mailbox/message.h"
#include "sched/fault.h"
#include "sched/fence.h"
#include "sched/futex.h"
#include "sched/rcu.h"

#define MAX_STACK ((size_t)1 << 30)
/* The config's minimum stack_size too (core/config.c): below it a process
 * dies of stack_overflow at once, so a spawn asking for less is refused. */
#define MIN_STACK ((size_t)16 * 1024)

/* Spawns and exits happen on every worker, and often a process ends on
 * another worker than the one that spawned it. So what they write is kept
 * per shard (one per worker; the last is shared by foreign threads and by
 * workers beyond): the live-process count (a spawn adds one to its shard,
 * an exit takes one from its own; hive_process_count() sums), and a cache
 * of up to SLOT_CACHE free slots. The shared free-slot stack sees a shard
 * only SLOT_BATCH slots at a time: one CAS on that line was a cache-line
 * transfer per spawn and per exit between busy workers (fjcreate, fib,
 * skynet: a third of their CPU time in proc_new/proc_end).
 *
 * A shard is guarded by its own spin lock: its worker takes it, uncontended,
 * and so does, rarely, a spawn that found every other source empty and
 * looks into each shard for a free slot (steal_slot), so that
 * max_processes stays exact: a spawn fails with EAGAIN only when no slot is
 * free anywhere. Nothing is held across a switch. */
#define SHARDS 64
#define SLOT_CACHE 28
#define SLOT_BATCH (SLOT_CACHE / 2)

typedef struct shard {
    _Alignas(64) _Atomic int lock;
    uint32_t n;                 /* free slots in slot[]; lock */
    _Atomic long count;         /* slots taken - slots freed here; lock */
    uint32_t slot[SLOT_CACHE];  /* lock */
} shard_t;

/* One slot of the pid table: the process in it, its generation and its
 * free-stack link side by side, in one 16-byte entry. A slot usually ends
 * on another worker than the one that reuses it, and the spawn that reuses
 * it reads the link (global_pop), bumps the generation and stores the
 * process: as three arrays that was three cache misses per spawn, two of
 * them lines the exiting worker had just written (fjcreate on 2 workers:
 * half of proc_new's samples); in one entry it is one miss (wall time alone
 * within this VM's noise). Same bytes as the three arrays. */
typedef struct slot_entry {
    _Atomic(hive__proc_t *) proc;
    _Atomic uint32_t gen;
    _Atomic uint32_t next_free;    /* free-stack link, slot + 1 (0 = end) */
} slot_entry_t;
#if defined(__LP64__)
_Static_assert(sizeof(slot_entry_t) == 16, "four slots per cache line, never split");
#endif

static struct {
    /* Read by every lookup; written at runtime start only. */
    slot_entry_t *slots;
    uint32_t max;
    long max_msg;
    _Atomic uint64_t epoch;        /* bumped at runtime start and stop: stale thread TLS */
    _Atomic int thread_receivers;  /* attached threads inside receive(): stop waits for them */
    uint32_t gen_base;             /* this run's first generation (see table_init) */
    /* The shared free stack: off the line above, which spawns and exits
     * used to take from every sender's lookup. */
    _Alignas(64) _Atomic uint64_t free_head; /* tag << 32 | (slot + 1) */
    _Atomic uint32_t next_unused;  /* slots never used yet start here */
    _Atomic uint64_t moves;        /* batches moved between a shard and the rest */
    shard_t shard[SHARDS];
} T;

static shard_t *my_shard(void)
{
    hive__worker_t *w = hive__worker_self();
    return &T.shard[w ? hive__worker_id(w) % (SHARDS - 1) : SHARDS - 1];
}

static void shard_lock(shard_t *sh)
{
    for (;;) {
        int expect = 0;
        /* acquire: pairs with the release in shard_unlock(). */
        if (atomic_compare_exchange_weak_explicit(&sh->lock, &expect, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        /* relaxed: only waits for the holder's release. */
        while (atomic_load_explicit(&sh->lock, memory_order_relaxed))
            sched_yield(); /* the holder may be a preempted thread */
    }
}

static void shard_unlock(shard_t *sh)
{
    atomic_store_explicit(&sh->lock, 0, memory_order_release); /* see shard_lock */
}

/* Under sh's lock: its writers are serialised, so no read-modify-write.
 * relaxed: a count (hive_process_count() reads it unlocked). */
static void count_locked(shard_t *sh, long delta)
{
    atomic_store_explicit(&sh->count, atomic_load_explicit(&sh->count, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

static long count_sum(void)
{
    long sum = 0;
    for (int i = 0; i < SHARDS; i++)
        sum += atomic_load_explicit(&T.shard[i].count, memory_order_relaxed); /* a count */
    return sum;
}

/* initial-exec: see tls_worker in sched/worker.c. */
static __thread hive__proc_t *thread_proc __attribute__((tls_model("initial-exec")));
static __thread uint64_t thread_epoch __attribute__((tls_model("initial-exec")));

/* ---- the table ------------------------------------------------------- */

static void *map_array(size_t n, size_t size)
{
    void *p = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int hive__proc_table_init(long max_processes, long max_message_size)
{
    T.max = (uint32_t)max_processes;
    T.max_msg = max_message_size;
    T.slots = map_array(T.max, sizeof *T.slots);
    if (!T.slots)
        return -ENOMEM;
    /* Fresh zero pages; no worker runs yet (thread creation orders these). */
    atomic_store_explicit(&T.free_head, 0, memory_order_relaxed);
    atomic_store_explicit(&T.next_unused, 0, memory_order_relaxed);
    for (int i = 0; i < SHARDS; i++) {
        /* relaxed: as above, before any worker runs. */
        atomic_store_explicit(&T.shard[i].count, 0, memory_order_relaxed);
        atomic_store_explicit(&T.shard[i].lock, 0, memory_order_relaxed);
        T.shard[i].n = 0; /* slots of an earlier run are free again anyway */
    }
    /* Each run's generations start 2^20 above the last run's (the table's
     * per-slot counters start from zero pages every run): a pid kept from
     * an earlier run must not name the process that now holds its slot
     * (it did: start, spawn, stop, start, spawn gave the same pid, and a
     * kill of the old pid killed the new process). The same pid comes back
     * only after 4096 runs, or 2^20 reuses of one slot in a run. */
    static uint32_t runs;
    T.gen_base = ++runs << 20;
    atomic_fetch_add_explicit(&T.epoch, 1, memory_order_relaxed);
    return 0;
}

long hive__proc_max_message_size(void) { return T.max_msg; }

/* The shared free stack's top slot, or UINT32_MAX. */
static uint32_t global_pop(void)
{
    /* acquire: pairs with the release CAS in global_push(): the link we
     * read next was written before that push. */
    uint64_t h = atomic_load_explicit(&T.free_head, memory_order_acquire);
    while ((uint32_t)h != 0) {
        uint32_t slot = (uint32_t)h - 1;
        /* relaxed: ordered by the acquire above; if the slot was popped and
         * pushed again meanwhile, the tag makes our CAS fail. */
        uint32_t next = atomic_load_explicit(&T.slots[slot].next_free, memory_order_relaxed);
        uint64_t nh = (((h >> 32) + 1) << 32) | next;
        /* acquire on both: a retry needs the fresh link, as above. */
        if (atomic_compare_exchange_weak_explicit(&T.free_head, &h, nh, memory_order_acquire,
                                                  memory_order_acquire))
            return slot;
    }
    return UINT32_MAX;
}

/* Push s[0..n) (n >= 1) on the shared free stack with one CAS. */
static void global_push(const uint32_t *s, uint32_t n)
{
    for (uint32_t k = 0; k + 1 < n; k++) /* relaxed: published by the CAS */
        atomic_store_explicit(&T.slots[s[k]].next_free, s[k + 1] + 1, memory_order_relaxed);
    /* relaxed: a guess refreshed by the CAS. */
    uint64_t h = atomic_load_explicit(&T.free_head, memory_order_relaxed);
    uint64_t nh;
    do {
        /* relaxed: published by the release CAS below. */
        atomic_store_explicit(&T.slots[s[n - 1]].next_free, (uint32_t)h, memory_order_relaxed);
        nh = (((h >> 32) + 1) << 32) | (s[0] + 1);
        /* release: the links and the generation bumps are visible to whoever
         * pops these slots; pairs with the acquire loads in global_pop(). */
    } while (!atomic_compare_exchange_weak_explicit(&T.free_head, &h, nh, memory_order_release,
                                                    memory_order_relaxed));
}

/* Up to want never-used slots [*first, *first + return). */
static uint32_t unused_take(uint32_t want, uint32_t *first)
{
    /* relaxed: a counter; slot contents are published by the slot store. */
    uint32_t u = atomic_load_explicit(&T.next_unused, memory_order_relaxed), got;
    do {
        if (u >= T.max)
            return 0;
        got = T.max - u < want ? T.max - u : want;
        /* relaxed: a counter, as above. */
    } while (!atomic_compare_exchange_weak_explicit(&T.next_unused, &u, u + got,
                                                    memory_order_relaxed, memory_order_relaxed));
    *first = u;
    return got;
}

/* seq_cst: the moves counter orders the last-slot search against batches
 * moving between shards and the shared stack (steal_slot). */
static void moved(void) { atomic_fetch_add_explicit(&T.moves, 1, memory_order_seq_cst); }

/* A slot taken outside the caller's shard lock: count it there. */
static uint32_t counted(uint32_t slot)
{
    shard_t *sh = my_shard();
    shard_lock(sh);
    count_locked(sh, 1);
    shard_unlock(sh);
    return slot;
}

/* Under sh's lock: a slot from its cache, counted as live, or UINT32_MAX. */
static uint32_t shard_take(shard_t *sh)
{
    if (sh->n == 0)
        return UINT32_MAX;
    count_locked(sh, 1);
    return sh->slot[--sh->n];
}

/* Every other source was empty: look for a free slot in every shard, so
 * that a spawn fails only when max_processes are really alive. A batch
 * that moved while we looked (moves changed) may have passed behind us:
 * look again. */
static uint32_t steal_slot(void)
{
    for (;;) {
        uint64_t v = atomic_load_explicit(&T.moves, memory_order_seq_cst); /* see moved */
        uint32_t slot = global_pop(), first;
        if (slot != UINT32_MAX)
            return counted(slot);
        if (unused_take(1, &first))
            return counted(first);
        for (int i = 0; i < SHARDS; i++) {
            shard_t *sh = &T.shard[i];
            shard_lock(sh);
            slot = shard_take(sh);
            shard_unlock(sh);
            if (slot != UINT32_MAX)
                return slot;
        }
        if ((slot = global_pop()) != UINT32_MAX)
            return counted(slot);
        if (atomic_load_explicit(&T.moves, memory_order_seq_cst) == v) /* see moved */
            return UINT32_MAX;
    }
}

/* A free slot, counted as live, or UINT32_MAX when max_processes are
 * alive. Its generation is bumped by the spawn that takes it (proc_new). */
static uint32_t slot_alloc(void)
{
    shard_t *sh = my_shard();
    shard_lock(sh);
    if (sh->n == 0) {
        /* Refill half the cache: from the shared stack, else fresh slots. */
        uint32_t slot, first, got;
        while (sh->n < SLOT_BATCH && (slot = global_pop()) != UINT32_MAX)
            sh->slot[sh->n++] = slot;
        if (sh->n == 0 && (got = unused_take(SLOT_BATCH, &first)) > 0)
            while (got-- > 0) /* the lowest taken last: slots fill up in order */
                sh->slot[sh->n++] = first + got;
        if (sh->n)
            moved();
    }
    uint32_t slot = shard_take(sh);
    shard_unlock(sh);
    return slot != UINT32_MAX ? slot : steal_slot();
}

/* Give a slot back and count it gone. */
static void slot_free(uint32_t slot)
{
    shard_t *sh = my_shard();
    shard_lock(sh);
    count_locked(sh, -1);
    if (sh->n == SLOT_CACHE) {
        /* Full: the oldest half goes to the shared stack, in one CAS. */
        global_push(sh->slot, SLOT_BATCH);
        memmove(sh->slot, sh->slot + SLOT_BATCH, (SLOT_CACHE - SLOT_BATCH) * sizeof *sh->slot);
        sh->n -= SLOT_BATCH;
        moved();
    }
    sh->slot[sh->n++] = slot;
    shard_unlock(sh);
}

/* Inline here (send_from, per message), out of line for the other files:
 * GCC kept the call on the send path, ~10 instructions of a cast's ~370
 * (callgrind, actor_cast). */
static inline hive__proc_t *lookup(hive_pid_t pid)
{
    uint32_t slot = (uint32_t)pid - 1;
    if ((uint32_t)pid == 0 || !T.slots || slot >= T.max)
        return NULL;
    /* acquire: pairs with the release store in spawn: the struct is
     * initialised. RCU keeps it alive while we look. */
    hive__proc_t *p = atomic_load_explicit(&T.slots[slot].proc, memory_order_acquire);
    if (!p || p->pid != pid)
        return NULL;
    /* acquire: pairs with the seq_cst store in proc_end(). */
    return atomic_load_explicit(&p->alive, memory_order_acquire) ? p : NULL;
}

hive__proc_t *hive__proc_lookup(hive_pid_t pid) { return lookup(pid); }

/* The runtime stopped (or restarted) since this thread attached. relaxed:
 * the epoch only tells a stale attachment from a live one; a receive reads
 * it after the acquire exchange of thread_word, which the stop's wake
 * released. */
static bool thread_stopped(void)
{
    return thread_epoch != atomic_load_explicit(&T.epoch, memory_order_relaxed);
}

/* The calling thread's attachment, if it is from this runtime's run. */
static hive__proc_t *thread_self(void)
{
    return thread_proc && !thread_stopped() ? thread_proc : NULL;
}

/* An attached thread blocked in a receive while another thread stops the
 * runtime must neither sleep for ever nor use its pseudo-process after the
 * stop frees it. So a thread's receive counts itself in T.thread_receivers
 * for as long as it touches its process, and the stop (table_shutdown)
 * bumps the epoch, wakes every attached thread and waits for the count to
 * reach zero before it frees anything; a woken receiver sees the new epoch
 * and returns -ESHUTDOWN. Dekker: the receiver's increment and then its
 * epoch check, the stop's bump and then its count check, all seq_cst: one
 * of the two sees the other (a receiver that misses the bump is counted,
 * and woken below; one the stop misses sees the bump and leaves at once).
 * Fibers never count: the workers are gone before the table is. */
/* release: the receiver's last touches of its process come before the
 * stop's (seq_cst, so acquire) load of the count, and so before the free. */
__attribute__((noinline, cold)) static void thread_receive_leave(void)
{
    atomic_fetch_sub_explicit(&T.thread_receivers, 1, memory_order_release);
}

/* seq_cst both: the Dekker pair with table_shutdown's bump and count load
 * (argued above). */
__attribute__((noinline, cold)) static bool thread_receive_enter(void)
{
    atomic_fetch_add_explicit(&T.thread_receivers, 1, memory_order_seq_cst);
    if (thread_epoch == atomic_load_explicit(&T.epoch, memory_order_seq_cst))
        return true;
    thread_receive_leave();
    return false;
}

hive__proc_t *hive__proc_self(void)
{
    hive__task_t *t = hive__task_self();
    return t ? hive__task_upper(t) : thread_self();
}

static void save(hive__proc_t *p, hive_msg_t *m);

/* ---- lifecycle -------------------------------------------------------- */

static void free_saved(hive__proc_t *p)
{
    while (p->saved_head) {
        hive_msg_t *m = p->saved_head;
        p->saved_head = m->next;
        hive_msg_free(m);
    }
    p->saved_tail = NULL;
}

static void pmem_free(hive__proc_t *p);

/* After its grace period: what a dead process still holds, freed. */
static void proc_clean(hive__proc_t *p)
{
    /* After the grace period every delivery is complete: drain for good.
     * The rest was freed by proc_end() on its worker (proc_release_owned):
     * this runs on a reclaim thread, where every line of p is a miss. */
    hive__mpsc_node_t *n;
    while ((n = hive__mpsc_pop(&p->mbox)))
        hive_msg_free(hive__msg_of(n));
    /* Empty since hive__signal_exit() took them under sig_lock, but other
     * processes may look into them (hive_unlink, demonitor, under sig_lock)
     * until the grace period is over: not before. */
    hive__idmap_free(&p->links);
    hive__idmap_free(&p->monitored_by);
}

static void proc_free_rcu(struct rcu_head *h)
{
    hive__proc_t *p = caa_container_of(h, hive__proc_t, rcu);
    hive__rcu_callback_begin();
    proc_clean(p);
    pmem_free(p);
}

/* Free p's reason if it owns a copy (no 120-byte normal reason built on
 * the stack to say so). */
static void drop_reason(hive__proc_t *p)
{
    if (p->reason && !p->reason_static)
        hive__free(p->reason, sizeof *p->reason);
    p->reason = NULL;
    p->reason_static = false;
}

/* What only the dead process itself ever touched, freed while its lines are
 * still in the ending worker's cache: its skipped messages, its own maps and
 * its exit reason (read by nobody once its exit signals are out). The link
 * and monitor maps others lock and look into wait for the grace period
 * (proc_free_rcu). */
static void proc_release_owned(hive__proc_t *p)
{
    free_saved(p);
    hive__idmap_free(&p->monitoring);
    hive__idmap_free(&p->aliases);
    drop_reason(p);
}

/* Dead processes are freed after a grace period in batches: one deferral
 * to hive's reclaim thread (sched/rcu.h, which ends a grace period as soon
 * as a batch waits, where liburcu's call_rcu thread works in rounds 10 ms
 * apart) per BATCH exits on a worker instead of one call_rcu per exit
 * (each may wake the reclaim thread, a system call). A worker flushes its
 * batches when full and before it parks (hive__proc_idle_hook), so a quiet
 * runtime holds no dead process for long. Other threads free one by one.
 *
 * Process memory is then reused, not freed. Every struct of up to
 * PCLASSES - 1 lines is allocated at its size rounded up to whole lines (its
 * class), a worker keeps one batch per class, and the RCU callback, after it
 * cleaned each dead process of the batch (proc_clean), leaves the whole
 * batch in the class's depot (mailbox/depot.h: one CAS) instead of freeing
 * each struct to jemalloc; a spawning worker takes a batch from the depot
 * (its reserve) and hands out its structs one by one. Before, liburcu's
 * one thread freed every struct that any worker allocated, a remote free
 * into the allocating worker's arena: ~520 instructions and an arena lock
 * per process (callgrind, fjcreate), a third of fjcreate's instructions
 * and, with all workers spawning, a ceiling on the whole runtime's process
 * churn set by one thread. Now it costs that thread the cleaning only, and
 * a spawn a few loads. Reuse after the grace period is what freeing to
 * jemalloc allowed too: no lookup can still hold a struct that reaches
 * the depot. Bounded: PDEPOT_MAX batches per class in the depot while
 * the runtime runs (48 MiB of plain processes, see below; past it a batch
 * is freed as before), PDEPOT_KEEP (~3 MiB) after it stops, and in each
 * worker's reserve at most what it last took from the depot, kept as
 * jemalloc would keep the pages for its decay time. A parking or stopping
 * worker puts its reserve back. (Emptying the depot whenever the last
 * worker went to sleep made a crash-and-restart loop slower: workers sleep
 * between restarts, and the frees moved onto their path.) The depot also
 * outlives a runtime's stop (trimmed), for the next runtime to spawn
 * from: emptied into jemalloc at each stop, its structs came back only as jemalloc's
 * extent reuse allowed, and in some program runs hardly at all
 * (sup_tree_start, a fresh runtime per repetition on 2 workers: ~900 page
 * faults and ~480 ns per child in every repetition of such a run, against
 * ~60-250 faults and ~330-400 ns with the depot kept; mailbox/alloc.c's
 * kept arenas do the same for the rest). Off under ASan, which then sees
 * every struct freed.
 *
 * Measured with callgrind --fair-sched=yes (liburcu's thread gets its
 * turns), 2 workers: fjcreate 4.82 -> 3.14 G instructions, fib 903 -> 701
 * M, sup_restart 3.18 -> 3.03 G; wall time on the 2-vCPU VM within its
 * noise. */
#define BATCH 1020 /* a record of 8 KiB: see PDEPOT_MAX */
#define PCLASS_BYTES 64
#define PCLASSES 17 /* 1..16: structs of up to 1 KiB; 0: any other size */
/* The depot's bound while a runtime runs, and what it keeps after a stop.
 * When batches went through liburcu's call_rcu thread, which ends grace
 * periods in rounds 10 ms apart, dead structs came back in bursts of ~10
 * ms of exits: ~80,000 processes in fjcreate on 2 workers. With a bound
 * of 8,192 structs (64 batches of 128) the rest of each burst went to
 * jemalloc, and the spawns that followed took fresh memory from it: 1.93
 * of 3 million spawns, with the reclaim thread's remote frees and their
 * arena locks on a CPU the workers needed. hive's reclaim thread now ends
 * a grace period per batch or so (~0.35 ms apart in fjcreate), but a mass
 * exit (a large supervision tree stopping, a million idle actors killed)
 * still returns that many at once. 128 batches of 1,020 (130,560
 * structs: 48 MiB of plain processes, 56 of actors) hold a burst; a stop
 * trims the depot back to PDEPOT_KEEP batches (~3 MiB), what a next
 * runtime's start is likely to use. Few large batches rather than many
 * small ones: a parking worker puts its reserve back record by record (a
 * cold line each), which with 1,024 records of 128 could take a parking
 * worker hundreds of microseconds.
 *
 * A spawning worker takes PRESERVE batches at a time, not the whole
 * depot: one that took everything held up to PDEPOT_MAX batches while the
 * depot filled up again behind it, so the next returns were refused (freed
 * to jemalloc by the reclaim thread, arena locks and all) and, out of
 * step, later spawns found the depot empty and took fresh memory (a third
 * of fjcreate's structs on 2 workers; test_alloc checks that a refill
 * leaves the rest in the depot). */
#define PDEPOT_MAX 128
#define PDEPOT_KEEP 8
#define PRESERVE 4

typedef struct free_batch {
    hive__depot_rec_t rec; /* first: in the depot */
    hive__rcu_batch_t rb;  /* waiting for its grace period (sched/rcu.h) */
    uint16_t cls;
    int n;
    hive__proc_t *p[BATCH];
} free_batch_t;

#if defined(__LP64__)
_Static_assert(sizeof(free_batch_t) == 8192, "a batch record is 8 KiB, a jemalloc size class");
#endif

/* Per class: the batch of dead processes being filled, and the batch of
 * clean structs being handed out (workers only). */
static __thread free_batch_t *batch[PCLASSES];
static __thread free_batch_t *reserve[PCLASSES];
static hive__depot_t pdepot[PCLASSES];
static _Atomic size_t pmem_refills; /* reserves refilled from the depot (tests) */

size_t hive__proc_pmem_refills(void)
{
    /* relaxed: a statistic. */
    return atomic_load_explicit(&pmem_refills, memory_order_relaxed);
}

int hive__proc_depot_batches(void)
{
    int most = 0;
    for (size_t c = 1; c < PCLASSES; c++) {
        int n = hive__depot_count(&pdepot[c]);
        most = n > most ? n : most;
    }
    return most;
}

int hive__proc_depot_max(void) { return PDEPOT_MAX; }
int hive__proc_depot_keep(void) { return PDEPOT_KEEP; }
int hive__proc_depot_batch(void) { return BATCH; }
int hive__proc_depot_take(void) { return PRESERVE; }

/* The class of a struct of `size` bytes (with its attachment), 0 if none. */
static size_t pclass_of(size_t size)
{
#if HIVE_ASAN
    (void)size;
    return 0;
#else
    size_t c = (size + PCLASS_BYTES - 1) / PCLASS_BYTES;
    return c < PCLASSES ? c : 0;
#endif
}

/* Give p's memory back to the allocator (at the size it was made with). */
static void pmem_free(hive__proc_t *p)
{
    size_t size = sizeof *p + p->attach_size, c = pclass_of(size);
    hive__free(p, c ? c * PCLASS_BYTES : size);
}

/* The lines proc_clean() reads, fetched ahead: by the time a batch's
 * grace period is over its processes have long left every cache, and one
 * miss after another (mailbox tail, doorbell, link maps: ~3 per process)
 * kept liburcu's thread busy for most of an exit's cost in fjcreate, on a
 * CPU the workers need. Fetched PREFETCH_AHEAD processes ahead, the misses
 * overlap. */
#define PREFETCH_AHEAD 8

static void prefetch_dead(const hive__proc_t *p)
{
    __builtin_prefetch(&p->mbox.tail, 0, 0);
    __builtin_prefetch(&p->mbox.head, 0, 0);
    __builtin_prefetch(&p->links, 0, 0);
    __builtin_prefetch(&p->monitored_by, 0, 0);
}

/* Give a batch's structs and the record itself back to the allocator. */
static void batch_release(free_batch_t *b)
{
    for (int i = 0; i < b->n; i++)
        pmem_free(b->p[i]);
    hive__free(b, sizeof *b);
}

/* On hive's reclaim thread, the batch's grace period over (it has
 * acquired the grace token for TSan already). */
static void batch_free_rcu(hive__rcu_batch_t *h)
{
    free_batch_t *b = caa_container_of(h, free_batch_t, rb);
    for (int i = 0; i < b->n && i < PREFETCH_AHEAD; i++)
        prefetch_dead(b->p[i]);
    for (int i = 0; i < b->n; i++) {
        if (i + PREFETCH_AHEAD < b->n)
            prefetch_dead(b->p[i + PREFETCH_AHEAD]);
        proc_clean(b->p[i]);
    }
    if (!b->cls || !hive__depot_put(&pdepot[b->cls], &b->rec, PDEPOT_MAX))
        batch_release(b);
}

/* Give back the reserves: their structs to the depot (or the allocator). */
static void return_reserves(void)
{
    for (size_t c = 1; c < PCLASSES; c++) {
        free_batch_t *b = reserve[c];
        reserve[c] = NULL;
        while (b) {
            free_batch_t *next = (free_batch_t *)b->rec.next;
            if (b->n == 0 || !hive__depot_put(&pdepot[c], &b->rec, PDEPOT_MAX))
                batch_release(b);
            b = next;
        }
    }
}

/* After a stop: each class's depot back to PDEPOT_KEEP batches, the rest
 * to the allocator. Nothing else runs: the walk reads no record another
 * thread could take. */
static void trim_depot(void)
{
    for (size_t c = 1; c < PCLASSES; c++) {
        hive__depot_rec_t *r = hive__depot_drain(&pdepot[c]);
        for (int kept = 0; r; kept++) {
            hive__depot_rec_t *next = r->next;
            if (kept >= PDEPOT_KEEP || !hive__depot_put(&pdepot[c], r, PDEPOT_KEEP))
                batch_release((free_batch_t *)r);
            r = next;
        }
    }
}

void hive__proc_idle_hook(void)
{
    for (size_t c = 0; c < PCLASSES; c++) {
        if (!batch[c])
            continue;
        if (batch[c]->n > 0)
            hive__rcu_defer_batch(&batch[c]->rb, batch_free_rcu);
        else
            hive__free(batch[c], sizeof *batch[c]); /* a used-up reserve's record */
        batch[c] = NULL;
    }
    return_reserves();
}

/* Out of line, as pmem_new. */
__attribute__((noinline)) static void defer_free(hive__proc_t *p)
{
    if (!hive__worker_self()) {
        call_rcu(&p->rcu, proc_free_rcu);
        return;
    }
    size_t c = pclass_of(sizeof *p + p->attach_size);
    free_batch_t *b = batch[c];
    if (!b) {
        if (!(b = hive__alloc(sizeof *b))) {
            call_rcu(&p->rcu, proc_free_rcu); /* no memory for a batch: one by one */
            return;
        }
        b->n = 0;
        batch[c] = b;
    }
    b->cls = (uint16_t)c;
    b->p[b->n++] = p;
    if (b->n == BATCH) {
        hive__rcu_defer_batch(&b->rb, batch_free_rcu);
        batch[c] = NULL;
    }
}

/* A clean struct of class c from this worker's reserve (a chain of
 * batches), refilled from the depot when it runs out: PRESERVE batches at
 * once (see there). NULL when both are empty. */
static hive__proc_t *pmem_take(size_t c)
{
    free_batch_t *r = reserve[c];
    while (r && r->n == 0) {
        /* Used up: the record becomes the next batch of the dead. */
        free_batch_t *next = (free_batch_t *)r->rec.next;
        if (!batch[c])
            batch[c] = r;
        else
            hive__free(r, sizeof *r);
        reserve[c] = r = next;
    }
    if (!r) {
        if (!(reserve[c] = r = (free_batch_t *)hive__depot_take(&pdepot[c], PRESERVE)))
            return NULL;
        /* relaxed: a statistic for tests. */
        atomic_fetch_add_explicit(&pmem_refills, 1, memory_order_relaxed);
    }
    hive__proc_t *p = r->p[--r->n]; /* a record in the depot is never empty */
    /* The next spawn's struct, fetched now: its lines were last written on
     * another core (the worker it died on, the reclaim thread that cleaned
     * it), and the spawn that zeroes it had each of them to fetch while its
     * next locked instruction waited for those stores (fjcreate: the shard
     * lock's CAS in slot_alloc, a third of the spawn's own time). A spawn
     * later they are here. fjcreate and skynet on 2 workers -3..4%. The
     * hint asks for writing, but baseline x86-64 has no PREFETCHW and GCC
     * emits a read prefetch; PREFETCHW itself (inline asm) was tried and
     * measured no different. */
    if (r->n) {
        const char *q = (const char *)r->p[r->n - 1];
        for (size_t off = 0; off < c * PCLASS_BYTES; off += 64)
            __builtin_prefetch(q + off, 1, 3);
    }
    return p;
}

/* Memory for a process of `size` bytes, zeroed: a worker's reused struct
 * of its class, else the allocator's (at the class's size). The failure
 * hook is asked first, so a reused struct never hides an injected failure.
 * Out of line (and nothing in it switches): it runs on the spawning
 * process's fiber, which may resume on another worker thread after a
 * switch, so no caller that switches may keep the thread-local address of
 * batch[] or reserve[] (mailbox/message.c does the same for its caches). */
__attribute__((noinline)) static hive__proc_t *pmem_new(size_t size)
{
    size_t c = pclass_of(size);
    if (!c)
        return hive__zalloc(size);
    if (hive__alloc_failing(size))
        return NULL;
    hive__proc_t *p = hive__worker_self() ? pmem_take(c) : NULL;
    if (!p && !(p = hive__alloc_api.malloc(c * PCLASS_BYTES)))
        return NULL;
    memset(p, 0, size);
    return p;
}

/* End p: it is no longer alive, named, or in the table; its memory goes
 * after a grace period. Runs once per process: on the scheduler stack after
 * its fiber ended, on the stopping thread, or on a detaching thread. */
static void proc_end(hive__proc_t *p)
{
    hive__rcu_enter();
    hive__io_proc_exit(p); /* an fd it waited for leaves its worker's set */
    /* Cleanup handlers, the name, then dead (under sig_lock), links and
     * monitors fired: signal.c. */
    hive__signal_exit(p);
    if (p->timeout) {
        hive__timer_cancel(p->timeout);
        hive__timer_put(p->timeout);
        p->timeout = NULL;
    }
    proc_release_owned(p);
    uint32_t slot = (uint32_t)p->pid - 1;
    /* release: lookups that still find p see it dead (alive above). */
    atomic_store_explicit(&T.slots[slot].proc, NULL, memory_order_release);
    slot_free(slot);
    defer_free(p);
    hive__rcu_leave();
}

hive__proc_t *hive__proc_enter_slow(hive__task_t *t)
{
    if (!t)
        return thread_self(); /* an attached thread, or nobody */
    /* Too little stack left for the runtime: end the caller here, at a safe
     * point, rather than let a fault hit inside the runtime. */
    hive__proc_t *p = hive__task_upper(t);
    if (p) {
        hive__proc_set_reason(p, &(hive_reason_t){.kind = HIVE_EXIT_STACK_OVERFLOW});
        hive__fiber_exit(&p->task.fiber);
    }
    return NULL;
}

/* A reply to an alias no longer active (its call gave up): dropped. */
static bool stale_reply(hive__proc_t *p, hive_msg_t *m)
{
    if (!hive__is_alias(m->tag) || m->tag == p->alias_one ||
        hive__idmap_get(&p->aliases, m->tag, NULL))
        return false;
    hive_msg_free(m);
    return true;
}

void hive__proc_checkpoint_slow(hive__proc_t *p)
{
    hive__mpsc_node_t *n;
    while ((n = hive__mpsc_pop(&p->mbox))) {
        hive_msg_t *m = hive__msg_of(n);
        if (m->kind >= HIVE__MSG_SIG_LINK_EXIT && !(m = hive__signal_take(p, m)))
            continue;
        if (stale_reply(p, m))
            continue;
        save(p, m);
    }
}

/* Release a fiber process's stack, unless a blocking call it made is still
 * running on the pool with an argument that may live on that stack: the
 * call then takes the stack over and frees it when it returns. */
static void proc_release_stack(hive__proc_t *p)
{
    hive__blocking_proc_exit(p);
    hive__task_release_stack(&p->task);
}

static void proc_on_exit(hive__task_t *t)
{
    hive__proc_t *p = hive__task_upper(t);
    bool finished = t->fiber.done;
    proc_release_stack(p);
    if (t->start_error)
        hive__proc_set_reason(p, &(hive_reason_t){.kind = HIVE_EXIT_NOMEM});
    else if (t->overflowed)
        hive__proc_set_reason(p, &(hive_reason_t){.kind = HIVE_EXIT_STACK_OVERFLOW});
    else if (!finished)
        hive__proc_set_reason(p, &(hive_reason_t){.kind = HIVE_EXIT_SHUTDOWN}); /* runtime stop */
    proc_end(p);
}

static void proc_main(void *arg)
{
    hive__proc_t *p = arg;
    /* Killed before it first ran: no user code. Not when it starts again
     * after releasing its stack (an idle actor woken by a message): its
     * entry goes straight to a receive, which acts on signals in order, and
     * the checkpoint would only move the message that woke it to the
     * skipped list for that receive to take back (callgrind: ~120 of
     * actor_call's ~2,560 instructions). */
    if (!p->task.rerun)
        hive__proc_checkpoint(p);
    else /* relaxed: the wait published before the release (idle_wait(),
          * or receive() for the actor loop) is over; clearing it only
          * spares senders a spurious wake-up. Here, once a restart, not in
          * hive__receive_or_release() at every message: even the load
          * there, of the line every push writes, cost a receiver busy with
          * a sender on another core a cache miss per message (perf,
          * actor_cast: 16% of its samples). */
        atomic_store_explicit(&p->wait_mode, HIVE__WAIT_NONE, memory_order_relaxed);
    p->fn(p->arg); /* returning is a normal exit; reason is zeroed */
}

/* A process struct in a free slot, not yet visible. NULL with *err set. */
#if !HIVE_ASAN && !HIVE_TSAN && defined(__LP64__)
/* The layout process.h describes. jemalloc (release builds) puts every size
 * class from 256 bytes up at a multiple of 64 within a page-aligned slab, so
 * a process (384 bytes, 448 with an actor) starts on a line boundary. */
_Static_assert(sizeof(hive__proc_t) == 384, "a process is six cache lines");
_Static_assert(offsetof(hive__proc_t, mbox.head) == 320 && offsetof(hive__proc_t, mbox.tail) < 320,
               "the mailbox head opens the doorbell line, its tail stays out of it");
_Static_assert(offsetof(hive__proc_t, is_thread) < 320 && offsetof(hive__proc_t, wait_mode) > 320,
               "the doorbell line holds what senders read after a push, not is_thread");
_Static_assert(offsetof(hive__proc_t, pid) / 64 == 3 && offsetof(hive__proc_t, alive) / 64 == 3 &&
                   offsetof(hive__proc_t, held) / 64 == 2 &&
                   offsetof(hive__proc_t, saved_tail) / 64 == 2,
               "what a lookup reads shares no line with what a receiver writes per message");
#endif

static hive__proc_t *proc_new(int *err, size_t attach_size)
{
    if (!T.slots || !hive__sched_running()) {
        *err = -EPERM;
        return NULL;
    }
    /* The slot first: its lock's CAS would otherwise wait for the zeroing
     * stores below to reach the cache. */
    uint32_t slot = slot_alloc();
    if (slot == UINT32_MAX) {
        *err = -EAGAIN;
        return NULL;
    }
    hive__proc_t *p = pmem_new(sizeof *p + attach_size);
    if (!p) {
        slot_free(slot);
        *err = -ENOMEM;
        return NULL;
    }
    p->attach_size = (uint16_t)attach_size;
    /* A new generation for the slot: the pid of the slot's last process
     * names nobody now. Bumped here, by the one spawn that holds the slot,
     * not when it was freed: a process often ends on another worker than
     * the one that reuses its slot, and the bump at exit cost the spawn a
     * cache miss. relaxed: the slot is ours alone until published (the
     * shard lock or the shared stack's release/acquire ordered the last
     * holder's store before this load). */
    uint32_t gen = atomic_load_explicit(&T.slots[slot].gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&T.slots[slot].gen, gen, memory_order_relaxed);
    p->pid = ((uint64_t)(T.gen_base + gen) << 32) | (slot + 1);
    hive__mpsc_init(&p->mbox);
    atomic_init(&p->alive, true);
    atomic_init(&p->name, NULL);
    atomic_init(&p->thread_word, 0);
    atomic_init(&p->sig_lock, 0);
    atomic_init(&p->io_state, HIVE__IO_IDLE);
    p->io_fd = p->io_regfd = p->io_worker = -1;
    return p;
}

/* Give back a process struct that was never published. */
static void proc_unspawn(hive__proc_t *p)
{
    slot_free((uint32_t)p->pid - 1);
    hive__idmap_free(&p->links);
    hive__idmap_free(&p->monitored_by);
    hive__idmap_free(&p->aliases);
    drop_reason(p);
    pmem_free(p);
}

static void proc_publish(hive__proc_t *p)
{
    /* release: the initialised struct; pairs with the acquire load in
     * hive__proc_lookup(). */
    atomic_store_explicit(&T.slots[(uint32_t)p->pid - 1].proc, p, memory_order_release);
}

static int spawn(hive_fn_t fn, void *arg, const hive_spawn_opts_t *opts, const void *init,
                 size_t size, hive_pid_t *pid);

HIVE_API int hive_spawn_opts(hive_fn_t fn, void *arg, const hive_spawn_opts_t *opts,
                             hive_pid_t *pid)
{
    return spawn(fn, arg, opts, NULL, 0, pid);
}

int hive__spawn_attached(hive_fn_t fn, const hive_spawn_opts_t *opts, const void *init,
                         size_t size, hive_pid_t *pid)
{
    if (!init || size == 0 || size > UINT16_MAX)
        return -EINVAL;
    return spawn(fn, NULL, opts, init, size, pid);
}

static int spawn(hive_fn_t fn, void *arg, const hive_spawn_opts_t *opts, const void *init,
                 size_t size, hive_pid_t *pid)
{
    hive__proc_enter();
    size_t stack = opts ? opts->stack_size : 0;
    int worker = opts ? opts->worker : -1;
    bool bad_stack = stack > MAX_STACK || (stack && stack < MIN_STACK);
    if (!fn || bad_stack || worker < -1 || (opts && opts->pinned && worker < 0) ||
        (worker >= 0 && worker >= hive__sched_nworkers()))
        return hive__sched_running() || !fn || bad_stack ? -EINVAL : -EPERM;
    int err;
    hive__proc_t *p = proc_new(&err, size);
    if (!p)
        return err;
    p->fn = fn;
    p->arg = arg;
    if (size) {
        memcpy(hive__proc_attach(p), init, size);
        p->arg = hive__proc_attach(p);
    }
    hive__task_init(&p->task, proc_main, p, stack);
    if (opts && opts->pinned)
        p->task.pinned = worker;
    p->task.embedded = true; /* task is p's first member */
    p->task.on_exit = proc_on_exit;
    if (opts && (opts->link || opts->monitor)) {
        hive__proc_t *parent = hive__proc_self();
        int rc = parent ? hive__signal_spawn_opts(parent, p, opts->link, opts->monitor,
                                                  opts->monitor_ref)
                        : -EPERM;
        if (rc) {
            proc_unspawn(p);
            return rc;
        }
    }
    proc_publish(p);
    if (pid)
        *pid = p->pid;
    if (worker >= 0)
        hive__task_start_on(&p->task, worker);
    else
        hive__task_start(&p->task);
    hive__task_charge(1);
    hive__proc_checkpoint(hive__proc_self());
    return 0;
}

HIVE_API int hive_spawn(hive_fn_t fn, void *arg, hive_pid_t *pid)
{
    return hive_spawn_opts(fn, arg, NULL, pid);
}

HIVE_API hive_pid_t hive_self(void)
{
    hive__proc_t *p = hive__proc_self();
    return p ? p->pid : HIVE_PID_NONE;
}

HIVE_API int hive_exit(hive_reason_t reason)
{
    hive__proc_t *p = hive__proc_self();
    if (!p || p->is_thread)
        return -EPERM;
    hive__proc_set_reason(p, &reason);
    hive__fiber_exit(&p->task.fiber);
}

HIVE_API bool hive_is_alive(hive_pid_t pid)
{
    hive__rcu_enter();
    bool alive = hive__proc_lookup(pid) != NULL;
    hive__rcu_leave();
    return alive;
}

HIVE_API long hive_process_count(void)
{
    if (!T.slots)
        return 0;
    /* The shards are read one by one while processes may come and go: add
     * them up until two sums agree (a spawn counted on one shard and its
     * exit on another, read on either side of both, would show one process
     * too few or too many for a moment). */
    long sum = count_sum(), again;
    while ((again = count_sum()) != sum)
        sum = again;
    return sum < 0 ? 0 : sum;
}

/* ---- waiting ---------------------------------------------------------- */

static void futex_wait_word(_Atomic uint32_t *w, uint64_t deadline)
{
    uint64_t left = UINT64_MAX;
    if (deadline != UINT64_MAX) {
        uint64_t now = hive__now_ns();
        left = deadline > now ? deadline - now : 0;
    }
    hive__futex_wait(w, 0, left);
}

static void wake(hive__proc_t *p)
{
    if (p->is_thread) {
        /* release: publishes the delivery; pairs with the acquire exchange
         * and loads of thread_word in receive(). */
        atomic_store_explicit(&p->thread_word, 1, memory_order_release);
        hive__futex_wake(&p->thread_word);
    } else {
        hive__task_unpark(&p->task);
    }
}

void hive__proc_deliver_signal(hive__proc_t *p, hive_msg_t *m)
{
    hive__mpsc_push(&p->mbox, &m->node);
    wake(p); /* signals concern every receiver, whatever it waits for */
}

/* Free every message of p's skipped list for which drop(m, key) holds,
 * keeping the others in order. */
static void drop_saved(hive__proc_t *p, bool (*drop)(const hive_msg_t *m, uint64_t key),
                       uint64_t key)
{
    hive_msg_t *prev = NULL;
    for (hive_msg_t *m = p->saved_head; m;) {
        hive_msg_t *next = m->next;
        if (drop(m, key)) {
            if (prev)
                prev->next = next;
            else
                p->saved_head = next;
            if (p->saved_tail == m)
                p->saved_tail = prev;
            hive_msg_free(m);
        } else {
            prev = m;
        }
        m = next;
    }
}

static bool is_down_with_ref(const hive_msg_t *m, uint64_t ref)
{
    hive_down_info_t d;
    return m->tag == HIVE_TAG_DOWN && hive_down_info(m, &d) == 0 && d.ref == ref;
}

static bool has_tag(const hive_msg_t *m, uint64_t tag) { return m->tag == tag; }

void hive__proc_flush_down(hive__proc_t *p, uint64_t ref)
{
    hive__proc_checkpoint(p);
    drop_saved(p, is_down_with_ref, ref);
}

void hive__proc_deliver(hive__proc_t *p, hive_msg_t *m)
{
    /* Once linked, m belongs to the receiver, which may free it at once:
     * read what we need of it first. */
    uint64_t tag = m->tag;
    /* (S1) link the message: the push's exchange of the queue head is a
     * seq_cst read-modify-write (mailbox/mpsc.c). */
    hive__mpsc_push(&p->mbox, &m->node);
    /* (S3) seq_cst load, pairs with (R1)+(R2) in publish_wait(). C++20's
     * single total order S: if S3 does not read R1, S3 is coherence-ordered
     * before R1, which is sequenced before the fence R2, so S3 (and S1 before
     * it) precede R2 in S, and the receiver's rescan (R3), after R2, sees our
     * head exchange: it finds the message or sees the push in its window.
     * If S3 reads R1 (a release store), it synchronises with it and sees the
     * tags published before it: we wake the receiver if it wants ours. So a
     * wake-up is never lost, and the sender pays no fence (on x86 this load
     * is a plain mov after the push's xchg). */
    uint32_t mode = atomic_load_explicit(&p->wait_mode, memory_order_seq_cst);
    if (mode == HIVE__WAIT_NONE)
        return; /* not blocked in receive: it will look when it receives */
    if (mode == HIVE__WAIT_TAGS) {
        /* relaxed: written before (R1)'s release store, which S3 read. */
        uint32_t n = atomic_load_explicit(&p->wait_ntags, memory_order_relaxed);
        bool wanted = false;
        for (uint32_t i = 0; i < n && i < HIVE__WAIT_TAGS_MAX && !wanted; i++)
            wanted = atomic_load_explicit(&p->wait_tags[i], memory_order_relaxed) == tag;
        if (!wanted)
            return;
    }
    wake(p);
}

typedef struct wait_timer {
    hive__timer_t t;
    hive__task_t *task;
} wait_timer_t;

static void wait_timer_fire(hive__timer_t *t)
{
    hive__task_unpark(((wait_timer_t *)(void *)t)->task);
}

static void wait_timer_release(hive__timer_t *t)
{
    hive__msg_dealloc(t, sizeof(wait_timer_t)); /* one per wait: the node cache */
}

/* A timer that unparks the running task at `when` (a deadline, or with
 * `relative` a delay: see arm_after), or NULL (no memory: the caller then
 * returns -ENOMEM rather than wait past its deadline). */
static hive__timer_t *arm_at(hive__task_t *task, uint64_t when, bool relative)
{
    wait_timer_t *wt = hive__msg_alloc(sizeof *wt);
    if (!wt)
        return NULL;
    wt->task = task;
    hive__timer_init(&wt->t, when, wait_timer_fire, wait_timer_release);
    if ((relative ? hive__timer_add_after(&wt->t, when) : hive__timer_add(&wt->t)) != 0) {
        hive__timer_put(&wt->t);
        return NULL;
    }
    return &wt->t;
}

static hive__timer_t *arm(hive__task_t *task, uint64_t deadline)
{
    return arm_at(task, deadline, false);
}

/* A receive timeout: ms from now, the clock read later by the worker
 * (sched/timer.h: hive__timer_add_after), so a wait that ends before the
 * worker next runs its timers never reads the clock. */
static hive__timer_t *arm_after(hive__task_t *task, int64_t ms)
{
    return arm_at(task, hive__ms_to_ns(ms), true);
}

hive__timer_t *hive__proc_arm_timeout(hive__proc_t *p, uint64_t deadline)
{
    return p->timeout = arm(&p->task, deadline);
}

void hive__proc_disarm_timeout(hive__proc_t *p, hive__timer_t *tm)
{
    p->timeout = NULL;
    if (tm) {
        hive__timer_cancel(tm);
        hive__timer_put(tm);
    }
}

HIVE_API int hive_sleep(int64_t ms)
{
    hive__proc_enter();
    if (ms < 0)
        return -EINVAL;
    hive__task_t *t = hive__task_self();
    if (!t) {
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        return 0;
    }
    uint64_t deadline = hive__deadline_ms(ms);
    hive__timer_t *tm = arm(t, deadline);
    if (!tm && hive__now_ns() < deadline)
        return -ENOMEM; /* without a timer nothing would wake us at the deadline */
    hive__proc_t *p = hive__task_upper(t);
    if (p)
        p->timeout = tm;
    while (hive__now_ns() < deadline) {
        hive__task_park(); /* signals wake us too */
        hive__proc_checkpoint(p);
    }
    if (p)
        p->timeout = NULL;
    if (tm) {
        hive__timer_cancel(tm);
        hive__timer_put(tm);
    }
    return 0;
}

/* ---- receive ---------------------------------------------------------- */

typedef struct matcher {
    const uint64_t *tags; /* NULL: any tag */
    size_t ntags;
    hive_match_fn_t fn;   /* NULL, or a further test of messages the tags let by */
    void *ctx;
    bool release;         /* the actor loop: release the stack rather than park */
} matcher_t;

/* (R1) say what we wait for, (R2) fence; the caller then rescans (R3). */
static void publish_wait(hive__proc_t *p, const matcher_t *mt)
{
    uint32_t mode = HIVE__WAIT_ANY; /* any message, or a predicate only we can run */
    if (mt->tags && mt->ntags <= HIVE__WAIT_TAGS_MAX) { /* fn only narrows further */
        /* relaxed: published by the release store of the mode (R1). */
        for (size_t i = 0; i < mt->ntags; i++)
            atomic_store_explicit(&p->wait_tags[i], mt->tags[i], memory_order_relaxed);
        atomic_store_explicit(&p->wait_ntags, (uint8_t)mt->ntags, memory_order_relaxed);
        mode = HIVE__WAIT_TAGS;
    }
    /* (R1) release: a sender whose (S3) reads this mode also sees the tags
     * above (on weakly ordered CPUs it could otherwise see the mode without
     * them, skip a wanted wake-up, and lose it). (R2) seq_cst fence: pairs
     * with (S1)/(S3) in hive__proc_deliver(); the argument is there. */
    atomic_store_explicit(&p->wait_mode, (uint8_t)mode, memory_order_release);
    hive__fence_seq_cst();
}

static bool matches(const matcher_t *mt, const hive_msg_t *m)
{
    if (mt->tags) {
        size_t i = 0;
        while (i < mt->ntags && mt->tags[i] != m->tag)
            i++;
        if (i == mt->ntags)
            return false;
    }
    return !mt->fn || mt->fn(m, mt->ctx);
}

static void save(hive__proc_t *p, hive_msg_t *m)
{
    m->next = NULL;
    if (p->saved_tail)
        p->saved_tail->next = m;
    else
        p->saved_head = m;
    p->saved_tail = m;
}

static hive_msg_t *take_saved(hive__proc_t *p, const matcher_t *mt)
{
    hive_msg_t *prev = NULL;
    for (hive_msg_t *m = p->saved_head; m; prev = m, m = m->next) {
        if (!matches(mt, m))
            continue;
        if (prev)
            prev->next = m->next;
        else
            p->saved_head = m->next;
        if (p->saved_tail == m)
            p->saved_tail = prev;
        m->next = NULL;
        return m;
    }
    return NULL;
}

/* Move new arrivals to the saved list until one matches. Always inline:
 * with two callers (receive, hive__receive_or_release) GCC made it a call
 * and its pop another, +60 instructions on an actor call. */
__attribute__((always_inline)) static inline hive_msg_t *take_new_slow(hive__proc_t *p,
                                                                       const matcher_t *mt)
{
    hive__mpsc_node_t *n;
    while ((n = hive__mpsc_pop(&p->mbox))) {
        hive_msg_t *m = hive__msg_of(n);
        if (m->kind >= HIVE__MSG_SIG_LINK_EXIT && !(m = hive__signal_take(p, m)))
            continue;
        if (stale_reply(p, m))
            continue;
        if (matches(mt, m)) {
            m->next = NULL;
            return m;
        }
        save(p, m);
    }
    return NULL;
}

/* Inline: a receive looks several times (before it waits, after it
 * published the wait, after a spin, when woken) and most looks find the
 * mailbox empty; an inline test (pop would return NULL: nothing pushed)
 * spares each a call that saves half the registers (callgrind, actor_call:
 * 6 looks and ~200 instructions per call). */
static inline hive_msg_t *take_new(hive__proc_t *p, const matcher_t *mt)
{
    return hive__mpsc_empty(&p->mbox) ? NULL : take_new_slow(p, mt);
}

/* A message handed to a fiber process is held until it frees it, so that
 * its death frees what it still holds. */
static hive_msg_t *hold(hive__proc_t *p, hive_msg_t *m)
{
    if (!p->is_thread)
        hive__msg_hold(&p->held, m);
    return m;
}

static bool mbox_nonempty(void *p) { return !hive__mpsc_empty(&((hive__proc_t *)p)->mbox); }

/* A receive whose first tag is this waits for the answer to something it
 * just did (see receive()). */
static bool awaits_answer(uint64_t tag)
{
    return hive__is_alias(tag) || tag == HIVE_TAG_DOWN || tag == HIVE_TAG_EXIT;
}

/* A receive about to block: counted (a statistic for tests). relaxed: it
 * is only that. */
static inline void count_wakeup(hive__proc_t *p)
{
    atomic_store_explicit(&p->wakeups, atomic_load_explicit(&p->wakeups, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* The actor loop's wait: idle without a stack, keep no watcher on a callee
 * for a next call that may never come (call.c), nor the emptied table (a
 * million idle actors pay for every byte); then release the stack. May not
 * return: see hive__receive_or_release. */
static inline void park_release_idle(hive__proc_t *p)
{
    if (p->call_ref) {
        hive__call_monitor_drop(p);
        hive__idmap_trim(&p->monitoring);
    }
    hive__task_park_release();
}

static int receive(const matcher_t *mt, int64_t timeout_ms, hive_msg_t **out)
{
    hive__proc_t *p = hive__proc_enter();
    if (!out || !hive__timeout_ok(timeout_ms))
        return -EINVAL;
    *out = NULL;
    if (!p)
        return -EPERM;
    if (!p->is_thread)
        hive__task_charge_self(&p->task, 1);
    else if (!thread_receive_enter())
        return -EPERM; /* the runtime stopped a moment ago: not attached */
    hive_msg_t *m = p->saved_head ? take_saved(p, mt) : NULL;
    if (m) {
        *out = hold(p, m);
        if (p->is_thread)
            thread_receive_leave();
        return 0;
    }
    /* A fiber never reads the clock here: its timeout is a timer armed
     * "after" (arm_after), and it has timed out when that timer fired. An
     * attached thread reads it when a wait starts and after it is woken. A
     * call whose reply is already there never reads it. */
    uint64_t deadline = UINT64_MAX;
    bool waited = false;
    hive__timer_t *tm = NULL;
    int rc = -ETIMEDOUT;
    bool published = false, spun = false;
    for (;;) {
        if (p->is_thread) { /* acquire: pairs with the release in wake() */
            atomic_exchange_explicit(&p->thread_word, 0, memory_order_acquire);
            if (thread_stopped()) {
                rc = -ESHUTDOWN;
                break;
            }
        }
        if ((m = take_new(p, mt))) {
            *out = hold(p, m);
            rc = 0;
            break;
        }
        if (timeout_ms == 0)
            break;
        if (!p->is_thread) {
            if (waited && tm && hive__timer_fired(tm))
                break;
        } else if (timeout_ms > 0 && deadline == UINT64_MAX) {
            deadline = hive__deadline_ms(timeout_ms);
        } else if (waited && deadline != UINT64_MAX && hive__now_ns() >= deadline) {
            break;
        }
        waited = false;
        if (!published) {
            /* Before saying what we wait for (senders then pay for a
             * wake-up): if nothing else would run here, spin a moment for
             * the mailbox (a reply from another worker is often that
             * close). Anything new, wanted or not, is looked at again. */
            if (!spun && !p->is_thread) {
                spun = true;
                /* Waiting for an answer to something we just did (the
                 * reply to a request - a call, an actor's start, a task's
                 * await: the first tag is a reply alias - or a process's
                 * end: a DOWN or EXIT, as a supervisor stopping a child)
                 * while this worker has the process we just woke or
                 * spawned to run next: let it run first. Its answer is then
                 * here before we publish a wait, arm a timer or need a
                 * wake-up. Only for these: a process in a ring or a
                 * pipeline that stepped aside would come back to nothing
                 * (threadring ~10% slower when every receive did). Before
                 * the spin, which would give up at once with that process
                 * waiting here (a call paid ~45 instructions for asking). */
                if (mt->ntags && awaits_answer(mt->tags[0]) && hive__task_yield_to_next())
                    continue;
                if (hive__task_spin_wait(mbox_nonempty, p))
                    continue;
            }
            publish_wait(p, mt);
            published = true;
            continue; /* (R3) rescan before blocking */
        }
        if (!hive__mpsc_empty(&p->mbox)) {
            /* take_new found nothing, yet a push is in its window
             * (mailbox/mpsc.h): until its link store lands, the node before
             * it (possibly one we want) cannot be handed out either, and
             * its sender wakes us only if its own tag is one we wait for.
             * Look again after a yield rather than sleep. */
            if (p->is_thread)
                sched_yield();
            else
                hive__task_yield();
            waited = true;
            continue;
        }
        count_wakeup(p);
        if (p->is_thread) {
            /* acquire: as above; a delivery after our exchange shows here. */
            if (atomic_load_explicit(&p->thread_word, memory_order_acquire) == 0)
                futex_wait_word(&p->thread_word, deadline);
            waited = true;
            continue;
        }
        if (timeout_ms > 0 && !tm && !(p->timeout = tm = arm_after(&p->task, timeout_ms))) {
            /* Without a timer nothing wakes us at the deadline: a wait that
             * could outlive its timeout is refused instead. */
            rc = -ENOMEM;
            break;
        }
        if (mt->release)
            park_release_idle(p); /* may not return: see hive__receive_or_release */
        else
            hive__task_park();
        waited = true;
    }
    if (published) /* relaxed: a late sender's wake-up is only spurious */
        atomic_store_explicit(&p->wait_mode, HIVE__WAIT_NONE, memory_order_relaxed);
    if (tm) {
        p->timeout = NULL;
        hive__timer_cancel(tm);
        hive__timer_put(tm);
    }
    if (p->is_thread)
        thread_receive_leave();
    return rc;
}

HIVE_API int hive_receive(int64_t timeout_ms, hive_msg_t **out)
{
    matcher_t mt = {0};
    return receive(&mt, timeout_ms, out);
}

HIVE_API int hive_receive_tag(uint64_t tag, int64_t timeout_ms, hive_msg_t **out)
{
    matcher_t mt = {.tags = &tag, .ntags = 1};
    return receive(&mt, timeout_ms, out);
}

HIVE_API int hive_receive_tags(const uint64_t *tags, size_t n, int64_t timeout_ms,
                               hive_msg_t **out)
{
    if (!tags || n == 0)
        return -EINVAL;
    matcher_t mt = {.tags = tags, .ntags = n};
    return receive(&mt, timeout_ms, out);
}

int hive__receive(const uint64_t *tags, size_t ntags, hive_match_fn_t fn, void *ctx,
                  int64_t timeout_ms, hive_msg_t **out)
{
    matcher_t mt = {.tags = tags, .ntags = ntags, .fn = fn, .ctx = ctx};
    return receive(&mt, timeout_ms, out);
}

int hive__receive_answer(const uint64_t *tags, size_t ntags, hive_match_fn_t fn, void *ctx,
                         int64_t timeout_ms, hive_msg_t **out)
{
    matcher_t mt = {.tags = tags, .ntags = ntags, .fn = fn, .ctx = ctx};
    hive__proc_t *p = hive__proc_self();
    /* The common case of a call on one worker: nothing waits yet, nothing
     * was skipped, and the callee just woken is next here. Step aside for
     * it first; its answer is then usually there, taken without
     * receive()'s set-up (-25 instructions per actor call). Anything else
     * - no answer yet, a skipped message, a thread - is receive()'s. */
    if (p && !p->is_thread && !p->saved_head && timeout_ms != 0 && hive__mpsc_empty(&p->mbox) &&
        hive__task_yield_to_next()) {
        hive_msg_t *m = take_new(p, &mt);
        if (m) {
            hive__task_charge_self(&p->task, 1);
            *out = hold(p, m);
            return 0;
        }
    }
    return receive(&mt, timeout_ms, out);
}

/* receive() for the actor loop's wait when nothing is there and nothing
 * was skipped (no saved messages): the same steps - the charge, a spin
 * while the worker has nothing else to run, the published wait (R1, R2)
 * and the rescan (R3), a yield while a push is in its window, then the
 * release of the stack - without receive()'s generality (timeouts,
 * attached threads, saved messages, the entry check: the loop runs at
 * the top of its stack). A warm park that a token ends comes back here;
 * a released stack starts the actor over from its entry function.
 * -59 instructions per actor call (callgrind, 2 workers). */
__attribute__((noinline)) static hive_msg_t *idle_wait(hive__proc_t *p, const matcher_t *mt)
{
    hive__task_charge_self(&p->task, 1);
    hive_msg_t *m;
    if (hive__task_spin_wait(mbox_nonempty, p) && (m = take_new(p, mt)))
        return hold(p, m);
    publish_wait(p, mt);
    while (!(m = take_new(p, mt))) {
        if (!hive__mpsc_empty(&p->mbox)) {
            hive__task_yield(); /* a push in its window: see receive() */
            continue;
        }
        count_wakeup(p);
        park_release_idle(p);
    }
    /* relaxed: a late sender's wake-up is only spurious */
    atomic_store_explicit(&p->wait_mode, HIVE__WAIT_NONE, memory_order_relaxed);
    return hold(p, m);
}

hive_msg_t *hive__receive_or_release(const uint64_t *tags, size_t ntags)
{
    hive__proc_t *p = hive__proc_self();
    /* No wait is published here: idle_wait() clears its own, and one left
     * by a release is cleared when the actor starts over (proc_main). */
    matcher_t mt = {.tags = tags, .ntags = ntags, .release = true};
    hive_msg_t *m = NULL;
    /* The actor loop's common case: a message is there and none was
     * skipped. take_new acts on signals as receive() would; what is left of
     * receive() is its set-up (the entry check: the loop runs at the top of
     * its stack) and the charge, made here after the take. */
    if (!p->saved_head && (m = take_new(p, &mt)) != NULL) {
        hive__task_charge_self(&p->task, 1);
        return hold(p, m);
    }
    if (!p->saved_head)
        return idle_wait(p, &mt);
    while (receive(&mt, HIVE_INFINITY, &m) != 0)
        ;
    return m;
}

bool hive__proc_nothing_queued(void)
{
    hive__proc_t *p = hive__proc_self();
    return p && !p->saved_head && hive__mpsc_empty(&p->mbox);
}

uint64_t hive__alias_new(hive__proc_t *p)
{
    uint64_t a = HIVE_TAG_ALIAS_BASE + ++p->next_alias;
    if (!p->alias_one) {
        p->alias_one = a;
        return a;
    }
    return hive__idmap_put(&p->aliases, a, 1) == 0 ? a : 0;
}

bool hive__alias_end(hive__proc_t *p, uint64_t alias)
{
    if (p->alias_one == alias) {
        p->alias_one = 0;
        return true;
    }
    return hive__idmap_del(&p->aliases, alias, NULL);
}

void hive__alias_drop(hive__proc_t *p, uint64_t alias)
{
    if (hive__alias_end(p, alias))
        drop_saved(p, has_tag, alias);
}

HIVE_API int hive_receive_match(hive_match_fn_t match, void *ctx, int64_t timeout_ms,
                                hive_msg_t **out)
{
    if (!match)
        return -EINVAL;
    matcher_t mt = {.fn = match, .ctx = ctx};
    return receive(&mt, timeout_ms, out);
}

/* ---- send ----------------------------------------------------------- */

/* Deliver m to `to`; on failure m is discarded (a pointer message's
 * pointer stays the caller's). */
/* The sending side of a delivery; self is the caller's process (NULL for a
 * plain thread), whose own signals are looked at after the send. */
__attribute__((always_inline)) static inline int send_from(hive__proc_t *self, hive_pid_t to,
                                                          hive_msg_t *m)
{
    /* A fiber process runs on a worker, which is always an RCU reader. */
    bool fiber = self && !self->is_thread;
    if (!fiber)
        hive__rcu_enter();
    hive__proc_t *p = lookup(to);
    if (p)
        hive__proc_deliver(p, m);
    if (!fiber)
        hive__rcu_leave();
    if (!p) {
        hive__msg_discard(m);
        return -ESRCH;
    }
    if (fiber)
        hive__task_charge_self(&self->task, 1);
    hive__proc_checkpoint(self);
    return 0;
}

int hive__send_msg(hive_pid_t to, hive_msg_t *m)
{
    return send_from(hive__proc_self(), to, m);
}

static int check_send(size_t len, const void *data)
{
    if (!T.slots)
        return -EPERM;
    if (len && !data)
        return -EINVAL;
    if (len > (size_t)T.max_msg)
        return -EMSGSIZE;
    return 0;
}

/* Tags HIVE_TAG_RESERVED and up are hive's (EXIT, DOWN). */
static bool user_tag(uint64_t tag) { return tag < HIVE_TAG_RESERVED; }

HIVE_API int hive_send(hive_pid_t to, uint64_t tag, const void *data, size_t len)
{
    hive__proc_t *self = hive__proc_enter();
    int rc = check_send(len, data);
    if (rc)
        return rc;
    if (!user_tag(tag))
        return -EINVAL;
    hive_msg_t *m = hive__msg_new_bytes(tag, self ? self->pid : HIVE_PID_NONE, data, len);
    return m ? send_from(self, to, m) : -ENOMEM;
}

HIVE_API int hive_send_ptr(hive_pid_t to, uint64_t tag, void *ptr, void (*dtor)(void *))
{
    hive__proc_t *self = hive__proc_enter();
    int rc = check_send(0, NULL);
    if (rc)
        return rc;
    if (!user_tag(tag))
        return -EINVAL;
    hive_msg_t *m = hive__msg_new_ptr(tag, self ? self->pid : HIVE_PID_NONE, ptr, dtor);
    return m ? send_from(self, to, m) : -ENOMEM;
}

/* ---- attached foreign threads ------------------------------------------ */

HIVE_API int hive_thread_attach(hive_pid_t *pid)
{
    if (hive__worker_self())
        return -EPERM;
    if (hive__proc_self())
        return -EALREADY;
    int err;
    hive__proc_t *p = proc_new(&err, 0);
    if (!p)
        return err;
    p->is_thread = true;
    proc_publish(p);
    thread_proc = p;
    thread_epoch = atomic_load_explicit(&T.epoch, memory_order_relaxed); /* see hive__proc_self */
    if (pid)
        *pid = p->pid;
    return 0;
}

HIVE_API int hive_thread_detach(void)
{
    hive__proc_t *p = hive__proc_self();
    if (!p || !p->is_thread)
        return -EPERM;
    thread_proc = NULL;
    proc_end(p);
    return 0;
}

/* ---- runtime stop ----------------------------------------------------- */

void hive__proc_table_shutdown(void)
{
    if (!T.slots)
        return;
    /* Every attachment ends here: a thread still attached now finds itself
     * detached (thread_self), instead of using its freed pseudo-process
     * (hive_self, receive, detach after a stop read freed memory: ASan).
     * seq_cst: against a thread entering a receive (thread_receive_enter);
     * the attached threads' other later calls are ordered after the stop by
     * whatever told them it happened. */
    atomic_fetch_add_explicit(&T.epoch, 1, memory_order_seq_cst);
    /* The workers are gone: whatever is left is parked or attached. */
    uint32_t used = atomic_load_explicit(&T.next_unused, memory_order_relaxed); /* quiescent */
    /* Wake the attached threads blocked in a receive (-ESHUTDOWN), and
     * wait until none is left inside one. */
    while (atomic_load_explicit(&T.thread_receivers, memory_order_seq_cst) > 0) {
        for (uint32_t i = 0; i < used; i++) {
            /* acquire: pairs with the release in spawn, as a lookup */
            hive__proc_t *p = atomic_load_explicit(&T.slots[i].proc, memory_order_acquire);
            if (p && p->is_thread)
                wake(p);
        }
        sched_yield();
    }
    for (uint32_t i = 0; i < used; i++) {
        hive__proc_t *p = atomic_load_explicit(&T.slots[i].proc, memory_order_acquire); /* quiescent */
        if (!p)
            continue;
        if (!p->is_thread) {
            proc_release_stack(p);
            hive__proc_set_reason(p, &(hive_reason_t){.kind = HIVE_EXIT_SHUTDOWN});
        }
        proc_end(p);
    }
    hive__rcu_batch_barrier(); /* every batch of dead processes into the depot */
    rcu_barrier();             /* and every other deferred free */
    trim_depot(); /* it keeps PDEPOT_KEEP batches per class for the next runtime */
    munmap(T.slots, T.max * sizeof *T.slots);
    T.slots = NULL;
}

/* ---- reasons -------------------------------------------------------- */

static const hive_reason_t fallback[] = {
    {.kind = HIVE_EXIT_NORMAL},   {.kind = HIVE_EXIT_SHUTDOWN},
    {.kind = HIVE_EXIT_KILLED},   {.kind = HIVE_EXIT_NOPROC},
    {.kind = HIVE_EXIT_STACK_OVERFLOW}, {.kind = HIVE_EXIT_PANIC},
    {.kind = HIVE_EXIT_USER},     {.kind = HIVE_EXIT_NOMEM},
    {.kind = HIVE_EXIT_NOCONNECTION},
};

void hive__proc_set_reason(hive__proc_t *p, const hive_reason_t *r)
{
    /* A kind alone (no code, no text: normal, shutdown, killed, ...) is
     * one of the constants above: nothing to allocate for the common ends
     * (a supervisor's shutdown, a kill). */
    unsigned k = (unsigned)r->kind;
    if (r->code == 0 && !r->text[0] && k < sizeof fallback / sizeof fallback[0]) {
        drop_reason(p);
        if (k != HIVE_EXIT_NORMAL) {
            p->reason = (hive_reason_t *)&fallback[k];
            p->reason_static = true;
        }
        return;
    }
    if (!p->reason || p->reason_static) {
        p->reason = hive__alloc(sizeof *p->reason);
        p->reason_static = p->reason == NULL;
        if (!p->reason) {
            /* No memory for the text: the kind (and no text) must do. */
            p->reason = (hive_reason_t *)&fallback[k < sizeof fallback / sizeof fallback[0]
                                                       ? k : HIVE_EXIT_USER];
            return;
        }
    }
    *p->reason = *r;
}

const hive_reason_t *hive__proc_reason(const hive__proc_t *p)
{
    return p->reason ? p->reason : &fallback[HIVE_EXIT_NORMAL];
}

HIVE_API hive_reason_t hive_reason_normal(void) { return (hive_reason_t){.kind = HIVE_EXIT_NORMAL}; }

HIVE_API hive_reason_t hive_reason_user(int code, const char *text)
{
    hive_reason_t r = {.kind = HIVE_EXIT_USER, .code = code};
    if (text)
        snprintf(r.text, sizeof r.text, "%s", text);
    return r;
}

HIVE_API const char *hive_reason_format(const hive_reason_t *r, char *buf, size_t len)
{
    static const char *const names[] = {"normal", "shutdown", "killed", "noproc",
                                        "stack_overflow", "panic", "user", "nomem",
                                        "noconnection"};
    if (!buf || len == 0)
        return buf;
    if (!r || (unsigned)r->kind >= sizeof names / sizeof names[0]) {
        snprintf(buf, len, "unknown");
        return buf;
    }
    if (r->kind == HIVE_EXIT_USER)
        snprintf(buf, len, "user %d%s%s", r->code, r->text[0] ? ": " : "", r->text);
    else if (r->text[0])
        snprintf(buf, len, "%s: %s", names[r->kind], r->text);
    else
        snprintf(buf, len, "%s", names[r->kind]);
    return buf;
}
