/* bench_floor.c - the physical floors hive's own numbers are judged against.
 *
 *   switch_bare      bench_bare_switch (switch_bare_<arch>.S): callee-saved
 *                    registers and the stack pointer, nothing else; ns per
 *                    single switch, measured as bench_fiber.c's `switch`.
 *   switch_ucontext  glibc swapcontext, same loop (it also saves the signal
 *                    mask, one system call per switch).
 *   cacheline_rtt    two threads on two CPUs bouncing one cache line; ns per
 *                    round trip: the floor for a message between cores.
 *   futex_wake       two threads on two CPUs waking each other through a
 *                    private futex; ns per round trip (A wakes B, B wakes A):
 *                    the floor for waking a parked worker and hearing back.
 *
 * The two-thread floors pin the benchmark's thread and a helper to the first
 * two CPUs this process may use (the benchmark thread's own mask is restored
 * afterwards); with a single CPU they run unpinned, spin with sched_yield,
 * and say so in params. Each call starts and joins its helper with the clock
 * paused. Every floor checks its count at the end, so a broken handoff is a
 * failed run rather than a fast one.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench/bench_pin.h"
#include "bench/harness.h"

#if defined(__x86_64__)
#define BENCH_ARCH "x86-64"
#elif defined(__aarch64__)
#define BENCH_ARCH "AArch64"
#else
#error "hive-bench: switch_bare has x86-64 and AArch64 versions only"
#endif

/* ---- switch_bare ---------------------------------------------------------- */

void bench_bare_switch(void **save_sp, void *load_sp);
void bench_bare_entry(void);

typedef struct {
    void *main_sp, *fiber_sp;
    long rounds, count;
    bool done;
} bare_t;

/* One benchmark thread at a time (the harness runs them in turn): static
 * stacks are enough, and cost no allocation inside the measurement. */
static alignas(64) char bare_stack[64 * 1024];

static void bare_fn(void *arg)
{
    bare_t *t = arg;
    while (t->count < t->rounds) {
        t->count++;
        bench_bare_switch(&t->fiber_sp, t->main_sp);
    }
    t->done = true;
    /* As a returning fiber would: back for good, never resumed again. */
    bench_bare_switch(&t->fiber_sp, t->main_sp);
    __builtin_trap();
}

/* The first frame bench_bare_switch pops, as its .S file lays it out. */
static void *bare_prepare(char *stack, size_t size, void (*fn)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* r15 r14 r13 r12 rbx rbp ret; the ret leaves rsp = top - 16, aligned
     * for bench_bare_entry's call. rbp = 0 ends frame-pointer walks. */
    uint64_t *sp = (uint64_t *)(top - 72);
    memset(sp, 0, 72);
    sp[2] = (uint64_t)(uintptr_t)arg;              /* r13 */
    sp[3] = (uint64_t)(uintptr_t)fn;               /* r12 */
    sp[6] = (uint64_t)(uintptr_t)bench_bare_entry; /* return address */
#else
    /* x19..x28, x29 = 0, x30 = entry, d8..d15; sp = top after the ret. */
    uint64_t *sp = (uint64_t *)(top - 160);
    memset(sp, 0, 160);
    sp[0] = (uint64_t)(uintptr_t)fn;                /* x19 */
    sp[1] = (uint64_t)(uintptr_t)arg;               /* x20 */
    sp[11] = (uint64_t)(uintptr_t)bench_bare_entry; /* x30 */
#endif
    return sp;
}

static int bench_switch_bare(long ops, hive_bench_t *b)
{
    /* The same accounting as `switch`: a resume and its switch back. */
    long resumes = (ops + 1) / 2;
    bare_t t = {.rounds = resumes - 1};
    t.fiber_sp = bare_prepare(bare_stack, sizeof bare_stack, bare_fn, &t);
    long n = 0;
    while (!t.done) {
        bench_bare_switch(&t.main_sp, t.fiber_sp);
        n++;
    }
    if (n != resumes || t.count != t.rounds)
        return hive_bench_fail(b, "%ld resumes and %ld rounds, expected %ld and %ld", n,
                               t.count, resumes, t.rounds);
    return 0;
}
HIVE_BENCH("switch_bare", "baseline", "callee-saved regs + sp only (" BENCH_ARCH ")",
           bench_switch_bare);

/* ---- switch_ucontext ------------------------------------------------------ */

/* makecontext passes only ints: the state is file-level. */
static struct {
    ucontext_t main, fiber;
    long rounds, count;
    bool done;
} uc;
static alignas(64) char uc_stack[64 * 1024];

static void uc_fn(void)
{
    while (uc.count < uc.rounds) {
        uc.count++;
        swapcontext(&uc.fiber, &uc.main);
    }
    uc.done = true; /* returning goes to uc_link, uc.main */
}

static int bench_switch_ucontext(long ops, hive_bench_t *b)
{
    long resumes = (ops + 1) / 2;
    uc.rounds = resumes - 1;
    uc.count = 0;
    uc.done = false;
    if (getcontext(&uc.fiber) != 0)
        return hive_bench_fail(b, "getcontext: %s", strerror(errno));
    uc.fiber.uc_stack.ss_sp = uc_stack;
    uc.fiber.uc_stack.ss_size = sizeof uc_stack;
    uc.fiber.uc_link = &uc.main;
    makecontext(&uc.fiber, uc_fn, 0);
    long n = 0;
    while (!uc.done) {
        swapcontext(&uc.main, &uc.fiber);
        n++;
    }
    if (n != resumes || uc.count != uc.rounds)
        return hive_bench_fail(b, "%ld resumes and %ld rounds, expected %ld and %ld", n,
                               uc.count, resumes, uc.rounds);
    return 0;
}
HIVE_BENCH("switch_ucontext", "baseline", "glibc swapcontext, ns per switch",
           bench_switch_ucontext);

/* ---- two threads on two CPUs ---------------------------------------------- */


/* Spin-wait step. On two CPUs a bare load loop, no pause/yield hint: this is
 * the hardware floor, and a hint (about 140 cycles on recent x86) would
 * measure the hint. On one CPU the other side can only run if we give way. */
static inline void relax(bool yield)
{
    if (yield)
        sched_yield();
}

/* Wait until the helper runs, so thread start-up stays out of the timing. */
static void await_ready(atomic_int *ready)
{
    /* acquire: pairs with the release in the helper's store of `ready`; not
     * strictly needed (no data rides on it), kept so the start reads as a
     * handoff. */
    while (!atomic_load_explicit(ready, memory_order_acquire))
        sched_yield();
}

/* ---- cacheline_rtt -------------------------------------------------------- */

typedef struct {
    /* 128 bytes apart: adjacent-line prefetchers fetch lines in pairs. */
    alignas(128) atomic_long line;
    alignas(128) atomic_int ready;
    long rounds;
    long seen; /* helper's count of the odd values it answered */
    const pin_t *pin;
} rtt_t;

static void *rtt_helper(void *arg)
{
    rtt_t *t = arg;
    pin_helper(t->pin);
    bool yield = !t->pin->pinned;
    /* release: pairs with the acquire in await_ready(). */
    atomic_store_explicit(&t->ready, 1, memory_order_release);
    for (long i = 1; i <= t->rounds; i++) {
        /* acquire: pairs with the release store of 2i-1 in
         * rtt_bounce(), as a receiver takes a message. */
        while (atomic_load_explicit(&t->line, memory_order_acquire) != 2 * i - 1)
            relax(yield);
        t->seen++;
        /* release: pairs with the acquire load of 2i in rtt_bounce(). */
        atomic_store_explicit(&t->line, 2 * i, memory_order_release);
    }
    return NULL;
}

/* Start the helper for `rounds` round trips on the CPUs `pin` chose (t is
 * static storage: alignas(128) on the stack is not worth it). */
static int rtt_start(rtt_t *t, pin_t *pin, long rounds, pthread_t *th)
{
    atomic_store_explicit(&t->line, 0, memory_order_relaxed);  /* helper not started */
    atomic_store_explicit(&t->ready, 0, memory_order_relaxed); /* helper not started */
    t->rounds = rounds;
    t->seen = 0;
    t->pin = pin;
    int err = pthread_create(th, NULL, rtt_helper, t);
    if (!err)
        await_ready(&t->ready);
    return err;
}

static void rtt_bounce(rtt_t *t, long rounds, bool yield)
{
    for (long i = 1; i <= rounds; i++) {
        /* release: pairs with the acquire load of 2i-1 in rtt_helper(). */
        atomic_store_explicit(&t->line, 2 * i - 1, memory_order_release);
        /* acquire: pairs with the release store of 2i in rtt_helper(). */
        while (atomic_load_explicit(&t->line, memory_order_acquire) != 2 * i)
            relax(yield);
    }
}

static rtt_t rtt; /* bench_cacheline_rtt and bench_floor_rtt_ns, never at once */

static int bench_cacheline_rtt(long ops, hive_bench_t *b)
{
    pin_t pin;
    pthread_t th;

    hive_bench_pause(b);
    pin_begin(&pin);
    int err = rtt_start(&rtt, &pin, ops, &th);
    if (err) {
        pin_end(b, &pin, "2 threads");
        return hive_bench_fail(b, "pthread_create: %s", strerror(err));
    }
    hive_bench_resume(b);

    rtt_bounce(&rtt, ops, !pin.pinned);

    hive_bench_pause(b);
    pthread_join(th, NULL);
    pin_end(b, &pin, "A writes odd, B answers even");
    /* relaxed: the join above already ordered the helper's last store. */
    long last = atomic_load_explicit(&rtt.line, memory_order_relaxed);
    if (rtt.seen != ops || last != 2 * ops)
        return hive_bench_fail(b, "helper answered %ld, line %ld; expected %ld and %ld",
                               rtt.seen, last, ops, 2 * ops);
    return 0;
}
HIVE_BENCH("cacheline_rtt", "baseline", "A writes odd, B answers even", bench_cacheline_rtt);

double bench_floor_rtt_ns(long rounds)
{
    pin_t pin;
    pthread_t th;
    pin_begin(&pin);
    double ns = -1;
    if (pin.pinned && rtt_start(&rtt, &pin, rounds, &th) == 0) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rtt_bounce(&rtt, rounds, false);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_join(th, NULL);
        ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
             (double)rounds;
    }
    pthread_setaffinity_np(pthread_self(), sizeof pin.saved, &pin.saved);
    return ns;
}

/* ---- futex_wake ----------------------------------------------------------- */

static long futex(atomic_uint *addr, int op, unsigned val)
{
    return syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* Sleep until *w holds `want`; returns how many waits actually slept. */
static long futex_await(atomic_uint *w, unsigned want)
{
    long slept = 0;
    unsigned v;
    /* acquire: pairs with the release store in the other thread's
     * futex_post(), so what it wrote before posting is visible here. */
    while ((v = atomic_load_explicit(w, memory_order_acquire)) != want)
        if (futex(w, FUTEX_WAIT, v) == 0) /* EAGAIN: it changed meanwhile */
            slept++;
    return slept;
}

static void futex_post(atomic_uint *w, unsigned v)
{
    /* release: pairs with the acquire load in the other thread's
     * futex_await(). The kernel orders the store before the wake: FUTEX_WAIT
     * rechecks the word under the futex bucket lock, so no wake is lost. */
    atomic_store_explicit(w, v, memory_order_release);
    futex(w, FUTEX_WAKE, 1);
}

typedef struct {
    alignas(128) atomic_uint to_b; /* A -> B: round number */
    alignas(128) atomic_uint to_a; /* B -> A: round number, the acknowledgement */
    alignas(128) atomic_int ready;
    long rounds;
    long seen, slept_b;
    const pin_t *pin;
} fw_t;

static void *fw_helper(void *arg)
{
    fw_t *t = arg;
    pin_helper(t->pin);
    /* release: pairs with the acquire in await_ready(). */
    atomic_store_explicit(&t->ready, 1, memory_order_release);
    for (long i = 1; i <= t->rounds; i++) {
        t->slept_b += futex_await(&t->to_b, (unsigned)i);
        t->seen++;
        futex_post(&t->to_a, (unsigned)i);
    }
    return NULL;
}

static int bench_futex_wake(long ops, hive_bench_t *b)
{
    static fw_t t;
    pin_t pin;
    pthread_t th;

    hive_bench_pause(b);
    pin_begin(&pin);
    atomic_store_explicit(&t.to_a, 0, memory_order_relaxed);  /* helper not started */
    atomic_store_explicit(&t.to_b, 0, memory_order_relaxed);  /* helper not started */
    atomic_store_explicit(&t.ready, 0, memory_order_relaxed); /* helper not started */
    t.rounds = ops;
    t.seen = t.slept_b = 0;
    t.pin = &pin;
    int err = pthread_create(&th, NULL, fw_helper, &t);
    if (err) {
        pin_end(b, &pin, "2 threads");
        return hive_bench_fail(b, "pthread_create: %s", strerror(err));
    }
    await_ready(&t.ready);
    hive_bench_resume(b);

    long slept_a = 0;
    for (long i = 1; i <= ops; i++) {
        futex_post(&t.to_b, (unsigned)i);
        slept_a += futex_await(&t.to_a, (unsigned)i);
    }

    hive_bench_pause(b);
    pthread_join(th, NULL);
    pin_end(b, &pin, "A wakes B, B wakes A");
    /* How often a wait really slept: near 100% means every round trip paid
     * two real wake-ups; far below, the threads mostly caught each other
     * awake and the number is closer to two system calls. */
    hive_bench_counter(b, "slept_pct", 100.0 * (double)(slept_a + t.slept_b) / (2.0 * ops));
    /* relaxed: the join above already ordered the helper's last store. */
    unsigned last = atomic_load_explicit(&t.to_a, memory_order_relaxed);
    if (t.seen != ops || last != (unsigned)ops)
        return hive_bench_fail(b, "helper saw %ld rounds, ack %u; expected %ld", t.seen, last,
                               ops);
    return 0;
}
HIVE_BENCH("futex_wake", "baseline", "A wakes B, B wakes A", bench_futex_wake);
