/* fiber.c - fibers on top of hive__ctx_switch, with sanitizer annotations.
 *
 * Every switch goes through ctx_switch() below, which tells ASan which stack
 * is about to run (__sanitizer_start_switch_fiber) and that the switch is done
 * (__sanitizer_finish_switch_fiber, on the side that resumes), and tells TSan
 * which fiber runs next (__tsan_switch_to_fiber with synchronisation, so the
 * handoff orders the two sides as a lock would). A fiber that finishes passes
 * NULL as its fake-stack slot so ASan frees its fake frames.
 *
 * The first frame of a new fiber is built by ctx_prepare() to match the
 * layout documented in switch_<arch>.S: its return address is
 * hive__ctx_entry, which calls fiber_main(fiber, arg).
 */
#include "sched/fiber.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if HIVE_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if HIVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static __thread hive__fiber_t *current __attribute__((tls_model("initial-exec"))); /* see tls_worker */

hive__fiber_t *hive__fiber_current(void) { return current; }

static inline void *ctx_switch(hive__ctx_t *from, hive__ctx_t *to, void *arg, bool from_dies)
{
#if HIVE_ASAN
    __sanitizer_start_switch_fiber(from_dies ? NULL : &from->asan_fake, to->stack_lo,
                                   to->stack_size);
#else
    (void)from_dies;
#endif
#if HIVE_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
    void *r = hive__ctx_switch(&from->sp, to->sp, arg);
#if HIVE_ASAN
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(from->asan_fake, &lo, &size);
#endif
    return r;
}

void hive__ctx_init_thread(hive__ctx_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
            c->stack_lo = lo;
            c->stack_size = size;
        }
        pthread_attr_destroy(&attr);
    }
#if HIVE_TSAN
    c->tsan = __tsan_get_current_fiber();
#endif
}

static _Noreturn void fiber_main(void *data, void *arg)
{
    hive__fiber_t *f = data;
    (void)arg;
#if HIVE_ASAN
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(NULL, &lo, &size);
#endif
    f->fn(f->arg);
    hive__fiber_exit(f);
}

/* Build the first frame (see the layout in switch_<arch>.S). */
static void ctx_prepare(hive__ctx_t *c, char *top, void (*entry)(void *, void *), void *data)
{
    top = (char *)((uintptr_t)top & ~(uintptr_t)15);
#if defined(__x86_64__)
    uint64_t *sp = (uint64_t *)(void *)(top - 16 - 64);
    /* sp[7] = return address at top-24, so the `ret` leaves rsp = top-16:
     * 16-byte aligned before the trampoline's call; top-16..top stay zero as
     * the outermost frame's return address. */
    memset(sp, 0, 80);
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    /* Fibers start with the creating thread's FP control settings, as a new
     * thread does. */
    memcpy((char *)sp, &mxcsr, 4);
    memcpy((char *)sp + 4, &fpucw, 2);
    sp[4] = (uint64_t)(uintptr_t)entry; /* r12 */
    sp[3] = (uint64_t)(uintptr_t)data;  /* r13 */
    sp[7] = (uint64_t)(uintptr_t)hive__ctx_entry;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(void *)(top - 16 - 176);
    memset(sp, 0, 176 + 16);
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    sp[0] = (uint64_t)(uintptr_t)entry; /* x19 */
    sp[1] = (uint64_t)(uintptr_t)data;  /* x20 */
    sp[11] = (uint64_t)(uintptr_t)hive__ctx_entry; /* x30 */
    sp[20] = fpcr;
#else
#error "hive: unsupported architecture"
#endif
    c->sp = sp;
}

int hive__fiber_init(hive__fiber_t *f, const hive__stack_t *stack, hive__fiber_fn fn,
                     void *arg)
{
    memset(f, 0, sizeof *f);
    f->stack = *stack;
    f->fn = fn;
    f->arg = arg;
    f->ctx.stack_lo = stack->lo;
    f->ctx.stack_size = stack->size;
#if HIVE_ASAN
    /* A recycled stack still carries the poisoned redzones of the frames of
     * the fiber that used it last. */
    __asan_unpoison_memory_region(stack->lo, stack->size);
#endif
#if HIVE_TSAN
    f->ctx.tsan = __tsan_create_fiber(0);
    if (!f->ctx.tsan)
        return -ENOMEM;
#endif
    ctx_prepare(&f->ctx, stack->lo + stack->size, fiber_main, f);
    return 0;
}

void hive__fiber_destroy(hive__fiber_t *f)
{
#if HIVE_TSAN
    if (f->ctx.tsan) {
        __tsan_destroy_fiber(f->ctx.tsan);
        f->ctx.tsan = NULL;
    }
#else
    (void)f;
#endif
}

void hive__fiber_resume(hive__ctx_t *self, hive__fiber_t *f)
{
    hive__fiber_t *prev = current;
    f->resumer = self;
    current = f;
    ctx_switch(self, &f->ctx, NULL, false);
    current = prev;
}

void hive__fiber_suspend(hive__fiber_t *f)
{
    ctx_switch(&f->ctx, f->resumer, NULL, false);
}

void hive__fiber_switch(hive__fiber_t *from, hive__fiber_t *to)
{
    to->resumer = from->resumer;
    current = to;
    ctx_switch(&from->ctx, &to->ctx, NULL, false);
}

_Noreturn void hive__fiber_abandon(hive__fiber_t *f)
{
    /* We are on the signal stack; f's own stack is not to be touched
     * again. The save slot just has to be writable. */
    static __thread hive__ctx_t scratch;
#if HIVE_ASAN
    scratch.asan_fake = NULL;
#endif
    f->done = true;
    ctx_switch(&scratch, f->resumer, NULL, true);
    __builtin_unreachable();
}

_Noreturn void hive__fiber_suspend_last(hive__fiber_t *f)
{
    ctx_switch(&f->ctx, f->resumer, NULL, true);
    __builtin_unreachable();
}

_Noreturn void hive__fiber_exit(hive__fiber_t *f)
{
    f->done = true;
    ctx_switch(&f->ctx, f->resumer, NULL, true);
    __builtin_unreachable();
}
