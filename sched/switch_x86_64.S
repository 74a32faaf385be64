/* switch_x86_64.S - the fiber context switch for x86-64 System V.
 *
 *   void *hive__ctx_switch(void **save_sp, void *load_sp, void *arg);
 *
 * Pushes exactly what the System V ABI makes callee-saved - rbx, rbp, r12-r15,
 * and the control bits of MXCSR and the x87 control word - onto the current
 * stack, stores the stack pointer in *save_sp, loads load_sp, pops the same
 * frame from there and returns `arg` in rax on the other side. The control
 * words are loaded only when the other side's differ from ours. Nothing else
 * is saved: the caller-saved registers (rax, rcx, rdx, rsi, rdi, r8-r11,
 * xmm0-15) are dead across a call by the ABI, so the compiler already spilled
 * whatever it needed.
 *
 * Frame layout at *save_sp (low to high), shared with hive__ctx_prepare() in
 * fiber.c which builds the first frame of a new fiber:
 *   [0] MXCSR (4 bytes) + x87 CW (2 bytes)   [8] r15  [16] r14  [24] r13
 *   [32] r12  [40] rbx  [48] rbp  [56] return address
 *
 * CET: with -fcf-protection the entry points start with endbr64 (they may be
 * called indirectly). The object is marked IBT-compatible but deliberately
 * not SHSTK-compatible: a switch returns on a different stack than it was
 * called on, which a hardware shadow stack refuses, so a binary that links
 * hive runs with shadow stacks off rather than crashing.
 */
#if defined(__CET__) && (__CET__ & 1)
#define HIVE_ENDBR endbr64
#else
#define HIVE_ENDBR
#endif

    .text
    .globl  hive__ctx_switch
    .hidden hive__ctx_switch
    .type   hive__ctx_switch, @function
    .p2align 4
hive__ctx_switch:
    .cfi_startproc
    HIVE_ENDBR
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movl    (%rsp), %ecx        /* our MXCSR and x87 CW, kept for the compare */
    movzwl  4(%rsp), %r8d
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    /* Load the other side's control settings only when they differ from
     * ours (almost never): LDMXCSR and FLDCW are slow, the compares are
     * not. Only MXCSR's control bits (6-15) count; its status flags are
     * caller-saved. rcx, r8, r9 are caller-saved scratch. */
    movl    (%rsp), %r9d
    xorl    %ecx, %r9d
    testl   $0xffc0, %r9d
    jnz     3f
1:  cmpw    4(%rsp), %r8w
    jne     4f
2:  addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    movq    %rdx, %rax
    ret
3:  ldmxcsr (%rsp)
    jmp     1b
4:  fldcw   4(%rsp)
    jmp     2b
    .cfi_endproc
    .size   hive__ctx_switch, .-hive__ctx_switch

/* First code a new fiber runs, reached by the `ret` of hive__ctx_switch.
 * hive__ctx_prepare() left the entry function in r12 and its data in r13;
 * rax holds the `arg` of the switch. The stack is 16-byte aligned here, as a
 * call requires. The entry function never returns. */
    .globl  hive__ctx_entry
    .hidden hive__ctx_entry
    .type   hive__ctx_entry, @function
    .p2align 4
hive__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip
    HIVE_ENDBR
    movq    %r13, %rdi
    movq    %rax, %rsi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   hive__ctx_entry, .-hive__ctx_entry

#include "sched/gnu_notes.h"
