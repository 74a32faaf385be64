/* test_switch_regs.c - hive__ctx_switch keeps every callee-saved register and
 * the FP control words of each context: rbx, rbp, r12-r15, MXCSR's control
 * bits and the x87 control word on x86-64; x19-x28, x29, d8-d15 and FPCR on
 * AArch64.
 *
 * The register check runs both sides in assembly (regs_<arch>.S): each side
 * loads its own pattern into every callee-saved register and switches straight
 * to the other, so no compiled code sits between the patterns and the switch
 * that could save and restore a register itself and hide a switch that does
 * not. The FP control check is plain C: compilers never save those words
 * around a call. Around the raw switches this file gives the sanitizers the
 * same fiber hooks fiber.c gives them.
 */
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sched/fiber.h"
#include "sched/stack.h"
#include "tests/scale.h"

#if HIVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if HIVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#include "mailbox/valgrind.h"

/* ---- the registers the ABI makes callee-saved (regs_<arch>.S order) ---- */

#if defined(__x86_64__)
#define NREGS 6
static const char *const reg_names[NREGS] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
#elif defined(__aarch64__)
#define NREGS 19
static const char *const reg_names[NREGS] = {
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
    "x29", "d8",  "d9",  "d10", "d11", "d12", "d13", "d14", "d15"};
#else
#error "hive: unsupported architecture"
#endif

void hive_test_regs_switch(const uint64_t in[NREGS], uint64_t out[NREGS], void **save_sp,
                           void *load_sp);

static hive__ctx_t main_ctx;

/* Switch from `from` to `to` through the assembly helper, with the same
 * sanitizer hooks as fiber.c's ctx_switch(). */
static void regs_switch(hive__ctx_t *from, hive__ctx_t *to, const uint64_t *in, uint64_t *out)
{
#if HIVE_ASAN
    __sanitizer_start_switch_fiber(&from->asan_fake, to->stack_lo, to->stack_size);
#endif
#if HIVE_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
    hive_test_regs_switch(in, out, &from->sp, to->sp);
#if HIVE_ASAN
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(from->asan_fake, &lo, &size);
#endif
}

/* A different value in every register, every round, on each side. */
static void pattern(int side, long round, uint64_t v[NREGS])
{
    for (int r = 0; r < NREGS; r++)
        v[r] = 0x9e3779b97f4a7c15u * (uint64_t)(r + 1) ^ (uint64_t)round << 20 ^
               (side ? 0xa5a5000000000000u : 0x5a5a000000000000u);
}

typedef struct {
    long round; /* -1: every register came back */
    int reg;
    uint64_t want, got;
} mismatch_t;

static void compare(mismatch_t *m, long round, const uint64_t *want, const uint64_t *got)
{
    for (int r = 0; r < NREGS && m->round < 0; r++) {
        if (want[r] != got[r]) {
            *m = (mismatch_t){round, r, want[r], got[r]};
        }
    }
}

static void assert_no_mismatch(const char *side, const mismatch_t *m)
{
    if (m->round >= 0)
        print_error("%s: %s changed across a switch in round %ld\n", side, reg_names[m->reg],
                    m->round);
    assert_int_equal(m->got, m->want);
    assert_int_equal(m->round, -1);
}

typedef struct {
    hive__fiber_t f;
    long rounds;
    mismatch_t bad;
} regs_fiber_t;

static void clobber_fn(void *arg)
{
    regs_fiber_t *t = arg;
    uint64_t in[NREGS], out[NREGS];
    for (long i = 0; i < t->rounds; i++) {
        pattern(1, i, in);
        regs_switch(&t->f.ctx, &main_ctx, in, out);
        compare(&t->bad, i, in, out);
    }
    /* Returning ends the fiber: hive__fiber_exit switches to main_ctx, into
     * main's last hive_test_regs_switch, which checks that path too. */
}

/* Main and a fiber switch back and forth, each loading its own values into
 * every callee-saved register right before each switch: after every switch
 * each side finds exactly its own values again, including after the switch
 * a finishing fiber makes. */
static void callee_saved_registers_survive_a_switch_to_a_clobbering_fiber(void **state)
{
    regs_fiber_t t = {.rounds = hive_test_scaled(100000), .bad = {.round = -1}};
    mismatch_t bad = {.round = -1};
    hive__stack_t st;
    uint64_t in[NREGS], out[NREGS];
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    assert_int_equal(hive__fiber_init(&t.f, &st, clobber_fn, &t), 0);
    t.f.resumer = &main_ctx; /* where the fiber goes when its function returns */
    for (long i = 0; i <= t.rounds; i++) {
        pattern(0, i, in);
        regs_switch(&main_ctx, &t.f.ctx, in, out);
        compare(&bad, i, in, out);
    }
    assert_true(t.f.done);
    assert_no_mismatch("main", &bad);
    assert_no_mismatch("fiber", &t.bad);
    hive__fiber_destroy(&t.f);
    hive__stack_free(&st);
}

/* ---- FP control words ---- */

#if defined(__x86_64__)
typedef struct {
    uint32_t mxcsr;
    uint16_t x87cw;
} fpmode_t;
/* MXCSR: all exceptions masked (0x1f80) plus RC (13-14), FTZ (15), DAZ (6).
 * x87 CW: all exceptions masked (0x007f) plus PC (8-9) and RC (10-11).
 * Valgrind's CPU keeps only the rounding-control bits (FTZ, DAZ and x87
 * precision read back as the defaults) and does not round SSE arithmetic by
 * them, so under valgrind only RC is compared and the arithmetic is not. */
static uint32_t mxcsr_control = 0xffc0;
static uint16_t x87_control = 0x0f3f;
static int full_fp_model = 1;

static void fp_model_init(void)
{
    if (RUNNING_ON_VALGRIND) {
        mxcsr_control = 0x6000;
        x87_control = 0x0c00;
        full_fp_model = 0;
    }
}
static const fpmode_t mode_main = {0x1f80 | 0x6000 | 0x8000 | 0x0040, /* RZ, FTZ, DAZ */
                                   0x007f | 0x0000 | 0x0400};         /* 24-bit, down */
static const fpmode_t mode_fiber = {0x1f80 | 0x4000,                  /* RU */
                                    0x007f | 0x0300 | 0x0800};        /* 64-bit, up */
static const fpmode_t mode_other = {0x1f80 | 0x2000 | 0x0040,         /* RD, DAZ */
                                    0x007f | 0x0200 | 0x0c00};        /* 53-bit, zero */

static fpmode_t fpmode_get(void)
{
    fpmode_t m;
    __asm__ volatile("stmxcsr %0" : "=m"(m.mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(m.x87cw));
    return m;
}

static void fpmode_set(fpmode_t m)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(m.mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(m.x87cw));
}

static int fpmode_eq(fpmode_t a, fpmode_t b)
{
    return (a.mxcsr & mxcsr_control) == (b.mxcsr & mxcsr_control) &&
           (a.x87cw & x87_control) == (b.x87cw & x87_control);
}

/* For messages: MXCSR in the high half, the x87 control word in the low. */
static unsigned long long fpmode_bits(fpmode_t m)
{
    return (unsigned long long)m.mxcsr << 16 | m.x87cw;
}

/* x87 precision control at work: 1/3 computed in long double fits a float
 * only when the precision is 24 bits. */
static int x87_is_24bit(void)
{
    volatile long double one = 1, three = 3;
    long double q = one / three;
    volatile float f = (float)q;
    return q == (long double)f;
}
#elif defined(__aarch64__)
typedef struct {
    uint64_t fpcr;
} fpmode_t;
/* FPCR: RMode (22-23), FZ (24), DN (25). */
#define FPCR_CONTROL 0x03c00000u
static const fpmode_t mode_main = {3u << 22 | 1u << 24}; /* RZ, FZ */
static const fpmode_t mode_fiber = {1u << 22};           /* RP */
static const fpmode_t mode_other = {2u << 22 | 1u << 25}; /* RM, DN */
static const int full_fp_model = 1;
static void fp_model_init(void) {}

static fpmode_t fpmode_get(void)
{
    fpmode_t m;
    __asm__ volatile("mrs %0, fpcr" : "=r"(m.fpcr));
    return m;
}

static void fpmode_set(fpmode_t m) { __asm__ volatile("msr fpcr, %0" : : "r"(m.fpcr)); }

static int fpmode_eq(fpmode_t a, fpmode_t b)
{
    return (a.fpcr & FPCR_CONTROL) == (b.fpcr & FPCR_CONTROL);
}

static unsigned long long fpmode_bits(fpmode_t m) { return m.fpcr; }
#endif

/* Fails the test, naming who found which mode, unless `seen` is `want`. */
static void assert_fpmode(const char *who, long round, fpmode_t seen, fpmode_t want)
{
    if (!fpmode_eq(seen, want)) {
        print_error("%s found FP control %#llx (round %ld), expected %#llx\n", who,
                    fpmode_bits(seen), round, fpmode_bits(want));
        fail();
    }
}

/* The rounding mode at work: 1/3 rounded up is larger than rounded to zero. */
static double third(void)
{
    volatile double one = 1, three = 3;
    return one / three;
}

/* Flush-to-zero at work: DBL_MIN / 4 is a subnormal, or 0 under FTZ. */
static double quarter_min(void)
{
    volatile double m = DBL_MIN, four = 4;
    return m / four;
}

typedef struct {
    hive__fiber_t f;
    long rounds;
    long bad_round; /* -1: the fiber always found its own mode */
    fpmode_t bad_seen; /* what it found instead */
    double third, quarter_min;
    int x87_24bit;
} fp_fiber_t;

static void fp_fn(void *arg)
{
    fp_fiber_t *t = arg;
    fpmode_set(mode_fiber);
    for (long i = 0; i < t->rounds; i++) {
        hive__fiber_suspend(&t->f);
        fpmode_t m = fpmode_get();
        if (!fpmode_eq(m, mode_fiber) && t->bad_round < 0) {
            t->bad_round = i;
            t->bad_seen = m;
        }
        t->third = third();
        t->quarter_min = quarter_min();
#if defined(__x86_64__)
        t->x87_24bit = x87_is_24bit();
#endif
    }
}

/* Main runs in one FP mode (round to zero, flush-to-zero, and on x86-64
 * 24-bit x87 precision rounding down), a fiber in another (round up, no
 * flushing, 64-bit x87 rounding up): switching back and forth, each finds its
 * own control words set and its arithmetic follows them. */
static void fp_control_words_are_per_context(void **state)
{
    fp_fiber_t t = {.rounds = hive_test_scaled(10000), .bad_round = -1, .bad_seen = mode_fiber};
    long bad_round = -1;
    fpmode_t bad_seen = mode_main;
    double main_third = 0, main_quarter_min = 0;
#if defined(__x86_64__)
    int main_x87_24bit = 1;
#endif
    hive__stack_t st;
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    const fpmode_t saved = fpmode_get();
    fpmode_set(mode_main);
    assert_int_equal(hive__fiber_init(&t.f, &st, fp_fn, &t), 0);
    for (long i = 0; !t.f.done; i++) {
        hive__fiber_resume(&main_ctx, &t.f);
        fpmode_t m = fpmode_get();
        if (!fpmode_eq(m, mode_main) && bad_round < 0) {
            bad_round = i;
            bad_seen = m;
        }
        if (i == t.rounds / 2) {
            main_third = third();
            main_quarter_min = quarter_min();
#if defined(__x86_64__)
            main_x87_24bit = x87_is_24bit();
#endif
        }
    }
    fpmode_set(saved);

    assert_fpmode("main", bad_round, bad_seen, mode_main);
    assert_fpmode("fiber", t.bad_round, t.bad_seen, mode_fiber);
    if (full_fp_model) {
        assert_true(t.third > main_third);
        assert_true(main_quarter_min == 0);
        assert_true(t.quarter_min > 0);
#if defined(__x86_64__)
        assert_true(main_x87_24bit);
        assert_false(t.x87_24bit);
#endif
    }
    hive__fiber_destroy(&t.f);
    hive__stack_free(&st);
}

typedef struct {
    hive__fiber_t f;
    fpmode_t seen;
} first_fiber_t;

static void first_fn(void *arg)
{
    first_fiber_t *t = arg;
    t->seen = fpmode_get();
}

/* A new fiber starts with the FP control words its creator had when it
 * created it (hive__fiber_init), as a new thread does - not with whatever its
 * resumer has set since, and not with the defaults. */
static void a_fiber_starts_with_its_creators_fp_control_words(void **state)
{
    first_fiber_t t = {0};
    hive__stack_t st;
    assert_int_equal(hive__stack_alloc(0, &st), 0);
    const fpmode_t saved = fpmode_get();
    fpmode_set(mode_other);
    int err = hive__fiber_init(&t.f, &st, first_fn, &t);
    fpmode_set(mode_main);
    hive__fiber_resume(&main_ctx, &t.f);
    fpmode_t after = fpmode_get();
    fpmode_set(saved);

    assert_int_equal(err, 0);
    assert_true(t.f.done);
    assert_fpmode("the new fiber", 0, t.seen, mode_other);
    assert_fpmode("main", 0, after, mode_main);
    hive__fiber_destroy(&t.f);
    hive__stack_free(&st);
}

int main(void)
{
    hive__ctx_init_thread(&main_ctx);
    fp_model_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(callee_saved_registers_survive_a_switch_to_a_clobbering_fiber),
        cmocka_unit_test(fp_control_words_are_per_context),
        cmocka_unit_test(a_fiber_starts_with_its_creators_fp_control_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
