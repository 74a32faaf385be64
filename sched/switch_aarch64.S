/* switch_aarch64.S - the fiber context switch for AArch64 (AAPCS64).
 *
 *   void *hive__ctx_switch(void **save_sp, void *load_sp, void *arg);
 *
 * Saves exactly what AAPCS64 makes callee-saved - x19-x28, the frame pointer
 * x29, the link register x30, the low halves d8-d15 of v8-v15 - plus FPCR
 * (rounding mode, flush-to-zero), stores sp in *save_sp, loads load_sp,
 * restores the same frame from there and returns `arg` in x0 to the x30 it
 * restored.
 *
 * Frame layout at *save_sp (176 bytes, low to high), shared with
 * hive__ctx_prepare() in fiber.c:
 *   [0] x19 x20 [16] x21 x22 [32] x23 x24 [48] x25 x26 [64] x27 x28
 *   [80] x29 x30 [96] d8 d9 [112] d10 d11 [128] d12 d13 [144] d14 d15
 *   [160] FPCR  [168] padding
 *
 * BTI/PAC: the entry points start with `bti c` (hint 34, a no-op on older
 * cores). Return addresses are saved as the callers left them in x30: hive
 * neither signs nor authenticates them here, so PAC-signed callers are
 * unaffected. The GNU property note marks the object BTI/PAC compatible when
 * the compiler builds with branch protection.
 */
#define HIVE_BTI_C hint 34

    .text
    .globl  hive__ctx_switch
    .hidden hive__ctx_switch
    .type   hive__ctx_switch, %function
    .p2align 4
hive__ctx_switch:
    .cfi_startproc
    HIVE_BTI_C
    sub     sp, sp, #176
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
    mrs     x9, fpcr
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1
    ldr     x9, [sp, #160]
    msr     fpcr, x9
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
    add     sp, sp, #176
    mov     x0, x2
    ret
    .cfi_endproc
    .size   hive__ctx_switch, .-hive__ctx_switch

/* First code a new fiber runs, reached by the `ret` of hive__ctx_switch:
 * hive__ctx_prepare() left the entry function in x19 and its data in x20;
 * x0 holds the `arg` of the switch. The entry function never returns. */
    .globl  hive__ctx_entry
    .hidden hive__ctx_entry
    .type   hive__ctx_entry, %function
    .p2align 4
hive__ctx_entry:
    .cfi_startproc
    .cfi_undefined x30
    HIVE_BTI_C
    mov     x1, x0
    mov     x0, x20
    blr     x19
    brk     #0
    .cfi_endproc
    .size   hive__ctx_entry, .-hive__ctx_entry

#include "sched/gnu_notes.h"
