/* switch_bare_x86_64.S - the floor for a context switch on x86-64: the least
 * a correct switch must do, for bench_floor.c's switch_bare.
 *
 *   void bench_bare_switch(void **save_sp, void *load_sp);
 *
 * Pushes the six callee-saved general registers (rbx, rbp, r12-r15), swaps
 * rsp, pops them and returns on the other stack. Unlike hive's
 * sched/switch_x86_64.S it keeps no MXCSR/x87 control word and has no
 * sanitizer hooks around it: hive's switch is measured against this, and
 * DESIGN.md wants it within 2x.
 *
 * Frame at *save_sp (low to high): r15 r14 r13 r12 rbx rbp, return address.
 * A new context's first frame (bench_floor.c) returns into bench_bare_entry
 * with the function in r12 and its argument in r13.
 */
#if defined(__CET__) && (__CET__ & 1)
#define BENCH_ENDBR endbr64
#else
#define BENCH_ENDBR
#endif

    .text
    .globl  bench_bare_switch
    .hidden bench_bare_switch
    .type   bench_bare_switch, @function
    .p2align 4
bench_bare_switch:
    .cfi_startproc
    BENCH_ENDBR
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   bench_bare_switch, .-bench_bare_switch

/* Reached by the first `ret` into a new context, rsp 16-byte aligned. The
 * function never returns. */
    .globl  bench_bare_entry
    .hidden bench_bare_entry
    .type   bench_bare_entry, @function
    .p2align 4
bench_bare_entry:
    .cfi_startproc
    .cfi_undefined rip
    BENCH_ENDBR
    movq    %r13, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   bench_bare_entry, .-bench_bare_entry

#include "sched/gnu_notes.h"
