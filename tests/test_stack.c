/* test_stack.c - fiber stacks: guard pages within the VMA budget, the guard
 * page lookup a SIGSEGV handler relies on, and a real stack overflow caught on
 * a guard page while the process carries on.
 *
 * The budget test must run first, in a fresh process: main() sets a VMA
 * budget for exactly one guarded slab before anything allocates a stack, and
 * the test sets it back to the real one when it is done. The overflow tests
 * catch SIGSEGV on an alternate signal stack and abandon the faulting fiber by
 * switching straight back to its resumer from the handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "sched/fiber.h"
#include "sched/stack.h"

#if HIVE_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if HIVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define SLAB HIVE__STACKS_PER_SLAB
/* Two VMAs per guarded stack (stack.h): room for exactly one guarded slab
 * beyond the 16,384 VMAs hive leaves to the rest of the program. */
#define ONE_SLAB_BUDGET_VMAS (16384 + 2 * SLAB)

static hive__ctx_t main_ctx;
static size_t page;

/* ---- the VMA budget ---- */

static hive__stack_t budget_stacks[3 * SLAB]; /* kept: their slabs must stay empty */

static int count_occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* With a budget for one slab, the first 64 stacks get guard pages and the
 * next 128 (two more slabs) do not; the stats count both kinds and the
 * budget, and hive warns on stderr once, not once per unguarded slab. */
static void only_stacks_within_the_vma_budget_get_guard_pages(void **state)
{
    hive__stack_stats_t s;
    hive__stack_stats(&s);
    /* Precondition: nothing has made a stack yet in this process. */
    assert_int_equal(s.guarded + s.unguarded, 0);
    assert_int_equal(s.guard_budget, SLAB);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    close(fds[1]);
    int errs[3 * SLAB];
    for (int i = 0; i < 3 * SLAB; i++)
        errs[i] = hive__stack_alloc(0, &budget_stacks[i]);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    char out[4096];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof out - 1 && (r = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);

    for (int i = 0; i < 3 * SLAB; i++) {
        const hive__stack_t *st = &budget_stacks[i];
        assert_int_equal(errs[i], 0);
        bool want = i < SLAB;
        assert_int_equal(st->guarded, want);
        assert_int_equal(hive__stack_guard_lookup(st->lo - 1, NULL), want);
        assert_int_equal(hive__stack_guard_lookup(st->lo - page, NULL), want);
    }
    hive__stack_stats(&s);
    assert_int_equal(s.guarded, SLAB);
    assert_int_equal(s.unguarded, 2 * SLAB);
    assert_int_equal(s.guard_budget, SLAB);
    assert_int_equal(s.slabs, 3);
    assert_int_equal(count_occurrences(out, "hive: vm.max_map_count allows 64 stacks"), 1);
    assert_int_equal(count_occurrences(out, "hive:"), 1);

    /* Back to the real budget for the tests that follow. */
    hive__stack_set_vma_budget_for_test(0);
}

/* ---- guard page lookup ---- */

static void assert_lookup_names(const void *addr, const hive__stack_t *st)
{
    hive__stack_t found = {0};
    assert_true(hive__stack_guard_lookup(addr, &found));
    assert_ptr_equal(found.lo, st->lo);
    assert_int_equal(found.size, st->size);
    assert_int_equal(found.guarded, 1);
}

static void assert_lookup_finds_exactly_the_guard(const hive__stack_t *st)
{
    assert_int_equal(st->guarded, 1);
    assert_lookup_names(st->lo - 1, st);
    assert_lookup_names(st->lo - page, st);
    assert_lookup_names(st->lo - page / 2, st);
    assert_true(hive__stack_guard_lookup(st->lo - 1, NULL));
    assert_false(hive__stack_guard_lookup(st->lo, NULL));
    assert_false(hive__stack_guard_lookup(st->lo + st->size / 2, NULL));
    assert_false(hive__stack_guard_lookup(st->lo + st->size - 1, NULL));
    /* Just below the guard page: the top of another stack, or no stack. */
    assert_false(hive__stack_guard_lookup(st->lo - page - 1, NULL));
}

/* An address in a stack's guard page - its first byte, its last, the middle -
 * is recognised and names that stack (a whole slab of neighbours, each its
 * own); the stack's own bytes and addresses in no stack are not. */
static void guard_lookup_recognises_exactly_the_guard_page(void **state)
{
    hive__stack_t st[SLAB];
    for (int i = 0; i < SLAB; i++) {
        assert_int_equal(hive__stack_alloc(0, &st[i]), 0);
        assert_int_equal(st[i].size, hive__stack_default_size());
        st[i].lo[0] = 1; /* usable from lo to lo + size - 1 */
        st[i].lo[st[i].size - 1] = 1;
    }
    for (int i = 0; i < SLAB; i++)
        assert_lookup_finds_exactly_the_guard(&st[i]);

    int local;
    void *heap = malloc(64);
    assert_non_null(heap);
    assert_false(hive__stack_guard_lookup(&local, NULL));
    assert_false(hive__stack_guard_lookup(heap, NULL));
    assert_false(hive__stack_guard_lookup(&main_ctx, NULL));
    assert_false(hive__stack_guard_lookup(NULL, NULL));
    assert_false(hive__stack_guard_lookup((void *)16, NULL));
    assert_false(hive__stack_guard_lookup((void *)UINTPTR_MAX, NULL));
    free(heap);
    for (int i = 0; i < SLAB; i++)
        hive__stack_free(&st[i]);
}

/* Stacks of other sizes - rounded up to whole pages - have their guard page
 * recognised just the same, and described with their own size. */
static void guard_lookup_works_for_stacks_of_other_sizes(void **state)
{
    const size_t sizes[] = {page, 3 * page + 1, 256 * 1024, 1024 * 1024};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        hive__stack_t st;
        assert_int_equal(hive__stack_alloc(sizes[k], &st), 0);
        assert_true(st.size >= sizes[k]);
        assert_int_equal(st.size % page, 0);
        assert_true(st.size < sizes[k] + page);
        st.lo[0] = 1;
        st.lo[st.size - 1] = 1;
        assert_lookup_finds_exactly_the_guard(&st);
        hive__stack_free(&st);
    }
}

/* ---- a real overflow, caught on the guard page ---- */

static struct {
    volatile sig_atomic_t faults;
    volatile sig_atomic_t recognised;
    void *volatile addr;
    hive__stack_t found;
} seen;

/* Where the abandoned fiber's stack pointer goes. Not a local of the handler:
 * with ASan's detect_stack_use_after_return the handler's locals live on the
 * dying fiber's fake stack, which __sanitizer_start_switch_fiber(NULL, ...)
 * frees before the switch writes the slot. */
static void *dead_sp;

/* SIGSEGV on the alternate stack: record whether the fault is a guard page,
 * then abandon the faulting fiber by switching to its resumer. The handler
 * never returns, so it unblocks SIGSEGV itself. A fault outside any fiber is
 * not ours: fall back to the default action and let it crash. */
static void segv_handler(int sig, siginfo_t *info, void *uctx)
{
    (void)uctx;
    hive__fiber_t *f = hive__fiber_current();
    if (!f) {
        signal(sig, SIG_DFL);
        return;
    }
    hive__stack_t found = {0};
    seen.recognised = hive__stack_guard_lookup(info->si_addr, &found);
    seen.found = found;
    seen.addr = info->si_addr;
    seen.faults++;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    hive__ctx_t *to = f->resumer;
#if HIVE_ASAN
    /* Leaving the alternate stack for good: unpoison what this handler's
     * frames poisoned there, and tell ASan where we go (the fiber dies). */
    __asan_handle_no_return();
    __sanitizer_start_switch_fiber(NULL, to->stack_lo, to->stack_size);
#endif
#if HIVE_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
    hive__ctx_switch(&dead_sp, to->sp, NULL);
}

typedef struct {
    struct sigaction old_action;
    stack_t old_altstack;
    void *altstack;
    size_t altstack_size;
} catcher_t;

static void catch_segv(catcher_t *c)
{
    c->altstack_size = 256 * 1024; /* room for sanitizer runtimes too */
    c->altstack = mmap(NULL, c->altstack_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(c->altstack != MAP_FAILED);
    stack_t ss = {.ss_sp = c->altstack, .ss_size = c->altstack_size};
    assert_int_equal(sigaltstack(&ss, &c->old_altstack), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &sa, &c->old_action), 0);
    memset(&seen, 0, sizeof seen);
}

static void uncatch_segv(catcher_t *c)
{
    assert_int_equal(sigaction(SIGSEGV, &c->old_action, NULL), 0);
    assert_int_equal(sigaltstack(&c->old_altstack, NULL), 0);
#if HIVE_ASAN
    __asan_unpoison_memory_region(c->altstack, c->altstack_size);
#endif
    munmap(c->altstack, c->altstack_size);
}

static volatile long never = -1; /* the compiler cannot see the recursion end */
static volatile uintptr_t deepest; /* lowest frame reached */

static long recurse_forever(long depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    deepest = (uintptr_t)&pad[0];
    if (depth == never)
        return 0;
    long r = recurse_forever(depth + 1);
    pad[1] = (char)r; /* a use after the call: no tail call, every frame stays */
    return r + pad[1];
}

typedef struct {
    hive__fiber_t f;
    long steps;
} probe_t;

static void overflow_fn(void *arg) { (void)recurse_forever(0); }

static void steps_fn(void *arg)
{
    probe_t *p = arg;
    for (int i = 0; i < 3; i++) {
        p->steps++;
        hive__fiber_suspend(&p->f);
    }
}

/* Run a fiber that suspends three times, to completion, on `st`. */
static void assert_fiber_runs_fine(const hive__stack_t *st)
{
    probe_t p = {0};
    assert_int_equal(hive__fiber_init(&p.f, st, steps_fn, &p), 0);
    while (!p.f.done)
        hive__fiber_resume(&main_ctx, &p.f);
    assert_int_equal(p.steps, 3);
    hive__fiber_destroy(&p.f);
}

/* Overflow a fiber on `st` and check the handler saw its guard page. */
static void overflow_and_check(const hive__stack_t *st)
{
    hive__fiber_t f;
    sig_atomic_t before = seen.faults;
    assert_int_equal(st->guarded, 1);
    assert_int_equal(hive__fiber_init(&f, st, overflow_fn, NULL), 0);
    hive__fiber_resume(&main_ctx, &f);
    assert_false(f.done); /* abandoned, not finished */
    assert_null(hive__fiber_current());
    hive__fiber_destroy(&f);

    assert_int_equal(seen.faults, before + 1);
    assert_true(seen.recognised);
    assert_true((char *)seen.addr >= st->lo - page);
    assert_true((char *)seen.addr < st->lo);
    assert_ptr_equal(seen.found.lo, st->lo);
    assert_int_equal(seen.found.size, st->size);
    /* The recursion really went down to the bottom of the stack. */
    assert_true(deepest >= (uintptr_t)st->lo);
    assert_true(deepest < (uintptr_t)st->lo + 4096);

    sigset_t cur;
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
    assert_false(sigismember(&cur, SIGSEGV));
}

/* A fiber recursing without bound faults on its guard page; a SIGSEGV handler
 * on an alternate stack recognises the page as that stack's guard and
 * abandons the fiber. The process carries on: a fiber runs fine on the same
 * (recycled) stack, and a second overflow is caught the same way. */
static void stack_overflow_is_caught_on_the_guard_page(void **state)
{
    catcher_t c;
    catch_segv(&c);
    hive__stack_t a, b;
    assert_int_equal(hive__stack_alloc(0, &a), 0);
    overflow_and_check(&a);
    assert_fiber_runs_fine(&a);
    hive__stack_free(&a);

    assert_int_equal(hive__stack_alloc(0, &b), 0);
    overflow_and_check(&b);
    assert_fiber_runs_fine(&b);
    hive__stack_free(&b);
    assert_int_equal(seen.faults, 2);
    uncatch_segv(&c);
}

/* Writes to the read-only page it is given: an access fault, like a guard
 * page's, in memory hive did not make. (A wild pointer such as (int *)16
 * would do for the handler too, but valgrind counts it as an error.) */
static void wild_fn(void *arg)
{
    volatile char *p = arg;
    p[8] = 1;
}

/* A SIGSEGV in a fiber at an address that is no guard page - a write to a
 * read-only page - reaches the same handler but is not taken for a stack
 * overflow. */
static void a_fault_elsewhere_is_not_taken_for_an_overflow(void **state)
{
    catcher_t c;
    catch_segv(&c);
    char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(ro != MAP_FAILED);
    hive__stack_t st;
    hive__fiber_t f;
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    assert_int_equal(hive__fiber_init(&f, &st, wild_fn, ro), 0);
    hive__fiber_resume(&main_ctx, &f);
    assert_false(f.done);
    hive__fiber_destroy(&f);
    assert_int_equal(seen.faults, 1);
    assert_false(seen.recognised);
    assert_ptr_equal(seen.addr, ro + 8);
    assert_fiber_runs_fine(&st);
    hive__stack_free(&st);
    munmap(ro, page);
    uncatch_segv(&c);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    /* Before any stack exists: see only_stacks_within_the_vma_budget_get_guard_pages. */
    hive__stack_set_vma_budget_for_test(ONE_SLAB_BUDGET_VMAS);
    hive__ctx_init_thread(&main_ctx);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_stacks_within_the_vma_budget_get_guard_pages),
        cmocka_unit_test(guard_lookup_recognises_exactly_the_guard_page),
        cmocka_unit_test(guard_lookup_works_for_stacks_of_other_sizes),
        cmocka_unit_test(stack_overflow_is_caught_on_the_guard_page),
        cmocka_unit_test(a_fault_elsewhere_is_not_taken_for_an_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
