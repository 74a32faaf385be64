/* switch_bare_aarch64.S - the floor for a context switch on AArch64: the
 * least a correct switch must do, for bench_floor.c's switch_bare.
 *
 *   void bench_bare_switch(void **save_sp, void *load_sp);
 *
 * Saves what AAPCS64 makes callee-saved - x19-x28, x29, x30 and d8-d15 -
 * swaps sp, restores the same frame and returns to the restored x30. Unlike
 * hive's sched/switch_aarch64.S it keeps no FPCR and has no sanitizer hooks:
 * hive's switch is measured against this, and DESIGN.md wants it within 2x.
 *
 * Frame at *save_sp (160 bytes, low to high):
 *   [0] x19 x20 [16] x21 x22 [32] x23 x24 [48] x25 x26 [64] x27 x28
 *   [80] x29 x30 [96] d8 d9 [112] d10 d11 [128] d12 d13 [144] d14 d15
 * A new context's first frame (bench_floor.c) returns into bench_bare_entry
 * with the function in x19 and its argument in x20.
 */
#define BENCH_BTI_C hint 34

    .text
    .globl  bench_bare_switch
    .hidden bench_bare_switch
    .type   bench_bare_switch, %function
    .p2align 4
bench_bare_switch:
    .cfi_startproc
    BENCH_BTI_C
    sub     sp, sp, #160
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8,  d9,  [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8,  d9,  [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    ret
    .cfi_endproc
    .size   bench_bare_switch, .-bench_bare_switch

/* Reached by the first `ret` into a new context (sp 16-byte aligned). The
 * function never returns. */
    .globl  bench_bare_entry
    .hidden bench_bare_entry
    .type   bench_bare_entry, %function
    .p2align 4
bench_bare_entry:
    .cfi_startproc
    .cfi_undefined x30
    BENCH_BTI_C
    mov     x0, x20
    blr     x19
    brk     #0
    .cfi_endproc
    .size   bench_bare_entry, .-bench_bare_entry

#include "sched/gnu_notes.h"
