/* fiber.h - green threads: a stack, a saved stack pointer, an entry function.
 *
 * A context (hive__ctx_t) is anything one can switch to: a fiber, or an OS
 * thread's own stack (the worker's scheduler loop). hive__ctx_switch in
 * switch_<arch>.S does the register work; this layer adds what sanitizers
 * and valgrind need to follow a switch (ASan's start/finish_switch_fiber,
 * TSan's fiber handles, valgrind's stack registration in stack.c).
 *
 * Fibers are asymmetric: hive__fiber_resume() runs a fiber until it calls
 * hive__fiber_suspend() or its function returns; both go back to whoever
 * resumed it last, which may be a different thread each time (fibers migrate
 * between workers). A fiber is run by one thread at a time: the caller must
 * guarantee it (the scheduler does, through its queues).
 */
#ifndef HIVE_SCHED_FIBER_H
#define HIVE_SCHED_FIBER_H

#include <stdbool.h>
#include <stddef.h>

#include "sched/stack.h"

typedef struct hive__ctx {
    void *sp;          /* saved stack pointer while not running */
    void *stack_lo;    /* bounds, for ASan; NULL for a thread not yet known */
    size_t stack_size;
#if HIVE_ASAN
    void *asan_fake;   /* ASan fake-stack handle saved across a switch */
#endif
#if HIVE_TSAN
    void *tsan;        /* TSan fiber (or the thread's own TSan context) */
#endif
} hive__ctx_t;

typedef void (*hive__fiber_fn)(void *arg);

typedef struct hive__fiber {
    hive__ctx_t ctx;
    hive__ctx_t *resumer;  /* where suspend / return go back to */
    hive__stack_t stack;
    hive__fiber_fn fn;
    void *arg;
    bool done;             /* fn returned; the fiber must not be resumed */
} hive__fiber_t;

/* The assembly entry points (switch_<arch>.S). */
void *hive__ctx_switch(void **save_sp, void *load_sp, void *arg);
void hive__ctx_entry(void);

/* Describe the calling OS thread's own stack as a context to switch from and
 * back to. Call once per thread before its first resume. */
void hive__ctx_init_thread(hive__ctx_t *c);

/* Prepare f to run fn(arg) on `stack` the first time it is resumed. Does not
 * allocate (the stack comes from hive__stack_alloc). 0 or -ENOMEM (TSan). */
int hive__fiber_init(hive__fiber_t *f, const hive__stack_t *stack, hive__fiber_fn fn,
                     void *arg);
/* Release what init took besides the stack (TSan's fiber). Not while f runs. */
void hive__fiber_destroy(hive__fiber_t *f);

/* Run f from context `self` until f suspends or finishes (then f->done). */
void hive__fiber_resume(hive__ctx_t *self, hive__fiber_t *f);
/* From inside f: go back to f's resumer; returns when f is resumed again. */
void hive__fiber_suspend(hive__fiber_t *f);
/* From inside `from`: switch straight to `to` (suspended, not done), which
 * takes over from's resumer; returns when `from` is resumed again. The
 * caller guarantees, as for resume, that `to` runs nowhere else. */
void hive__fiber_switch(hive__fiber_t *from, hive__fiber_t *to);
/* From inside f: go back to f's resumer for good, without returning from
 * fn; as if fn had returned (f->done). Used by exits that unwind nothing. */
_Noreturn void hive__fiber_exit(hive__fiber_t *f);
/* From inside f: go back to f's resumer for good, but not done: f will
 * only be destroyed (its stack released), never resumed. Tells ASan the
 * fiber is gone, so that its fake stack is freed rather than leaked. */
_Noreturn void hive__fiber_suspend_last(hive__fiber_t *f);

/* From a signal handler running on behalf of f (on another stack): switch
 * to f's resumer for good, as if f had ended (f->done). */
_Noreturn void hive__fiber_abandon(hive__fiber_t *f);

/* The fiber running on this thread, or NULL on the thread's own stack. */
hive__fiber_t *hive__fiber_current(void);

#endif
