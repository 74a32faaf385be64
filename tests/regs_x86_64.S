/* regs_x86_64.S - test helper: switch contexts with known values in every
 * callee-saved register, and report what the registers hold afterwards.
 *
 *   void hive_test_regs_switch(const uint64_t in[6], uint64_t out[6],
 *                              void **save_sp, void *load_sp);
 *
 * Loads in[0..5] into rbx, rbp, r12, r13, r14, r15, calls
 * hive__ctx_switch(save_sp, load_sp, NULL) directly (no C in between that
 * could save and restore a register itself and so hide a switch that does
 * not), and when that returns - after other code has run on this context's
 * behalf and clobbered everything - stores rbx, rbp, r12-r15 into out[0..5]
 * in the same order. It saves and restores its own caller's callee-saved
 * registers, so it obeys the System V ABI itself. Both sides of a test use
 * it: the main context and the fiber each load their own pattern.
 */
#if defined(__CET__) && (__CET__ & 1)
#define HIVE_ENDBR endbr64
#else
#define HIVE_ENDBR
#endif

    .text
    .globl  hive_test_regs_switch
    .type   hive_test_regs_switch, @function
    .p2align 4
hive_test_regs_switch:
    .cfi_startproc
    HIVE_ENDBR
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset rbx, 0
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r12, 0
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r13, 0
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r14, 0
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset r15, 0
    /* Keep `out` across the switch; the seventh push also leaves rsp
     * 16-byte aligned for the call. */
    pushq   %rsi
    .cfi_adjust_cfa_offset 8
    movq    %rdi, %rax          /* in */
    movq    %rdx, %rdi          /* save_sp */
    movq    %rcx, %rsi          /* load_sp */
    xorl    %edx, %edx          /* arg = NULL */
    movq    0(%rax), %rbx
    movq    8(%rax), %rbp
    movq    16(%rax), %r12
    movq    24(%rax), %r13
    movq    32(%rax), %r14
    movq    40(%rax), %r15
    callq   hive__ctx_switch
    movq    (%rsp), %rax        /* out */
    movq    %rbx, 0(%rax)
    movq    %rbp, 8(%rax)
    movq    %r12, 16(%rax)
    movq    %r13, 24(%rax)
    movq    %r14, 32(%rax)
    movq    %r15, 40(%rax)
    addq    $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq    %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore r15
    popq    %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore r14
    popq    %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore r13
    popq    %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore r12
    popq    %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbx
    popq    %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore rbp
    ret
    .cfi_endproc
    .size   hive_test_regs_switch, .-hive_test_regs_switch

#include "sched/gnu_notes.h"
