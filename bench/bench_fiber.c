/* bench_fiber.c - hive's fibers: one context switch, and a fiber's whole life.
 *
 *   switch        a fiber resumed and suspended in a loop through
 *                 hive__fiber_resume/hive__fiber_suspend; ns per single
 *                 switch (one round trip is two). Compared with switch_bare
 *                 (bench_floor.c): DESIGN.md wants it within 2x.
 *   fiber_create  a pooled stack, hive__fiber_init, run to completion (the
 *                 function returns), destroy, free the stack; ns per fiber.
 *
 * Plain C because sched/fiber.h is C (it uses _Noreturn). Everything runs on
 * the benchmark's thread; the fibers' work is a counter checked at the end,
 * so a switch that went to the wrong place shows up as a failed run.
 */
#include <stdbool.h>

#include "bench/harness.h"
#include "sched/fiber.h"
#include "sched/stack.h"

typedef struct {
    hive__fiber_t f;
    long rounds; /* the fiber suspends this many times, then returns */
    long count;  /* rounds it actually ran */
} looper_t;

static void looper_fn(void *arg)
{
    looper_t *l = arg;
    while (l->count < l->rounds) {
        l->count++;
        hive__fiber_suspend(&l->f);
    }
}

static int bench_switch(long ops, hive_bench_t *b)
{
    /* Every resume is followed by a switch back (a suspend, or the return on
     * the last one), so ops switches take ops/2 resumes, rounded up. */
    long resumes = (ops + 1) / 2;
    looper_t l = {.rounds = resumes - 1};
    hive__ctx_t self;
    hive__stack_t st;

    hive_bench_pause(b);
    hive__ctx_init_thread(&self);
    if (hive__stack_alloc(0, &st) != 0)
        return hive_bench_fail(b, "hive__stack_alloc failed");
    if (hive__fiber_init(&l.f, &st, looper_fn, &l) != 0) {
        hive__stack_free(&st);
        return hive_bench_fail(b, "hive__fiber_init failed");
    }
    hive_bench_resume(b);

    long n = 0;
    while (!l.f.done) {
        hive__fiber_resume(&self, &l.f);
        n++;
    }

    hive_bench_pause(b);
    hive__fiber_destroy(&l.f);
    hive__stack_free(&st);
    if (n != resumes || l.count != l.rounds)
        return hive_bench_fail(b, "%ld resumes and %ld rounds, expected %ld and %ld", n,
                               l.count, resumes, l.rounds);
    return 0;
}
HIVE_BENCH("switch", "hive", "fiber resume+suspend, ns per switch", bench_switch);

static void count_fn(void *arg) { ++*(long *)arg; }

static int bench_fiber_create(long ops, hive_bench_t *b)
{
    hive__ctx_t self;
    hive__ctx_init_thread(&self);
    hive_bench_params(b, "pooled %zu KiB stack, init, run to return, destroy, free",
                      hive__stack_default_size() / 1024);
    long ran = 0;
    for (long i = 0; i < ops; i++) {
        hive__stack_t st;
        hive__fiber_t f;
        if (hive__stack_alloc(0, &st) != 0)
            return hive_bench_fail(b, "hive__stack_alloc failed at %ld", i);
        if (hive__fiber_init(&f, &st, count_fn, &ran) != 0)
            return hive_bench_fail(b, "hive__fiber_init failed at %ld", i);
        hive__fiber_resume(&self, &f);
        if (!f.done)
            return hive_bench_fail(b, "fiber %ld not done after its function returned", i);
        hive__fiber_destroy(&f);
        hive__stack_free(&st);
    }
    if (ran != ops)
        return hive_bench_fail(b, "%ld fibers ran, expected %ld", ran, ops);
    return 0;
}
HIVE_BENCH("fiber_create", "hive", "pooled stack, init, run to return, destroy, free",
           bench_fiber_create);
