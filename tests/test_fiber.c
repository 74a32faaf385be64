/* test_fiber.c - fibers: start, suspend/resume, finish, recycle, deep
 * recursion, ten million switches, a hundred thousand fibers alive at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sched/fiber.h"
#include "sched/stack.h"
#include "tests/scale.h"

static hive__ctx_t main_ctx;

typedef struct {
    hive__fiber_t f;
    long steps;
    long limit;
} counter_t;

static void count_fn(void *arg)
{
    counter_t *c = arg;
    while (c->steps < c->limit) {
        c->steps++;
        hive__fiber_suspend(&c->f);
    }
}

/* A fiber runs until it suspends, continues where it left off, and is marked
 * done when its function returns. */
static void fiber_suspends_resumes_and_finishes(void **state)
{
    counter_t c = {.limit = 3};
    hive__stack_t st;
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    assert_int_equal(hive__fiber_init(&c.f, &st, count_fn, &c), 0);
    for (long i = 1; i <= 3; i++) {
        hive__fiber_resume(&main_ctx, &c.f);
        assert_int_equal(c.steps, i);
        assert_false(c.f.done);
    }
    hive__fiber_resume(&main_ctx, &c.f);
    assert_true(c.f.done);
    hive__fiber_destroy(&c.f);
    hive__stack_free(&st);
}

/* One fiber switched into and out of ten million times (scaled down under
 * sanitizers/valgrind by HIVE_TEST_SCALE) keeps its count exactly. */
static void ten_million_switches(void **state)
{
    long n = hive_test_scaled(10000000);
    counter_t c = {.limit = n};
    hive__stack_t st;
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    assert_int_equal(hive__fiber_init(&c.f, &st, count_fn, &c), 0);
    long resumes = 0;
    while (!c.f.done) {
        hive__fiber_resume(&main_ctx, &c.f);
        resumes++;
    }
    assert_int_equal(c.steps, n);
    assert_int_equal(resumes, n + 1);
    hive__fiber_destroy(&c.f);
    hive__stack_free(&st);
}

static uintptr_t lowest_sp;

static long recurse(const char *limit, long depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    if ((uintptr_t)&pad[0] < lowest_sp)
        lowest_sp = (uintptr_t)&pad[0];
    if ((const char *)&pad[0] - limit < 2048)
        return depth + pad[0] * 0;
    return recurse(limit, depth + 1) + pad[0] * 0;
}

typedef struct {
    hive__fiber_t f;
    long depth;
} deep_t;

static void deep_fn(void *arg)
{
    deep_t *d = arg;
    d->depth = recurse(d->f.stack.lo, 0);
}

/* Recursion on a fiber can use its stack down to the last 2 KiB above the
 * guard page without faulting. */
static void deep_recursion_uses_nearly_the_whole_stack(void **state)
{
    deep_t d = {0};
    hive__stack_t st;
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    assert_int_equal(hive__fiber_init(&d.f, &st, deep_fn, &d), 0);
    lowest_sp = UINTPTR_MAX;
    hive__fiber_resume(&main_ctx, &d.f);
    assert_true(d.f.done);
    assert_true(d.depth > 10);
    assert_true(lowest_sp >= (uintptr_t)st.lo);
    assert_true(lowest_sp - (uintptr_t)st.lo < 2048 + 512);
    hive__fiber_destroy(&d.f);
    hive__stack_free(&st);
}

static void park_fn(void *arg)
{
    hive__fiber_t *f = arg;
    hive__fiber_suspend(f);
}

/* 100,000 fibers alive at once, each suspended in the middle of its
 * function, then each finished; their stacks all come back to the pool. */
static void hundred_thousand_fibers_alive(void **state)
{
    long n = hive_test_scaled(100000);
#if HIVE_TSAN
    n = n < 4000 ? n : 4000; /* each fiber is a TSan thread; TSan allows 8128 */
#endif
    hive__fiber_t *fs = calloc((size_t)n, sizeof *fs);
    assert_non_null(fs);
    for (long i = 0; i < n; i++) {
        hive__stack_t st;
        assert_int_equal(hive__stack_alloc(0, &st), 0);
        assert_int_equal(hive__fiber_init(&fs[i], &st, park_fn, &fs[i]), 0);
        hive__fiber_resume(&main_ctx, &fs[i]);
        assert_false(fs[i].done);
    }
    for (long i = 0; i < n; i++) {
        hive__fiber_resume(&main_ctx, &fs[i]);
        assert_true(fs[i].done);
        hive__fiber_destroy(&fs[i]);
        hive__stack_free(&fs[i].stack);
    }
    hive__stack_thread_flush();
    hive__stack_stats_t s;
    hive__stack_stats(&s);
    assert_true(s.pooled >= (size_t)n);
    free(fs);
}

static void recycle_fn(void *arg) { (*(long *)arg)++; }

/* Making, running and recycling fibers reuses stacks: a million rounds map
 * no new slab after the first. */
static void fibers_recycle_stacks_without_mapping(void **state)
{
    long ran = 0, n = hive_test_scaled(1000000);
    hive__stack_stats_t before, after;
    hive__fiber_t f;
    hive__stack_t st;
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    hive__stack_free(&st);
    hive__stack_stats(&before);
    for (long i = 0; i < n; i++) {
        assert_int_equal(hive__stack_alloc(0, &st), 0);
        assert_int_equal(hive__fiber_init(&f, &st, recycle_fn, &ran), 0);
        hive__fiber_resume(&main_ctx, &f);
        hive__fiber_destroy(&f);
        hive__stack_free(&st);
    }
    hive__stack_stats(&after);
    assert_int_equal(ran, n);
    assert_int_equal(after.slabs, before.slabs);
}

int main(void)
{
    hive__ctx_init_thread(&main_ctx);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fiber_suspends_resumes_and_finishes),
        cmocka_unit_test(ten_million_switches),
        cmocka_unit_test(deep_recursion_uses_nearly_the_whole_stack),
        cmocka_unit_test(fibers_recycle_stacks_without_mapping),
        cmocka_unit_test(hundred_thousand_fibers_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
