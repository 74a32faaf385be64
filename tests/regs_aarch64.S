/* regs_aarch64.S - test helper: switch contexts with known values in every
 * callee-saved register, and report what the registers hold afterwards.
 *
 *   void hive_test_regs_switch(const uint64_t in[19], uint64_t out[19],
 *                              void **save_sp, void *load_sp);
 *
 * Loads in[0..18] into x19-x28, x29, d8-d15 (in that order), calls
 * hive__ctx_switch(save_sp, load_sp, NULL) directly (no C in between that
 * could save and restore a register itself and so hide a switch that does
 * not), and when that returns - after other code has run on this context's
 * behalf and clobbered everything - stores the same registers into out[0..18].
 * It saves and restores its own caller's callee-saved registers and x30, so
 * it obeys AAPCS64 itself. Both sides of a test use it, each with its own
 * pattern.
 */
    .text
    .globl  hive_test_regs_switch
    .type   hive_test_regs_switch, %function
    .p2align 4
hive_test_regs_switch:
    .cfi_startproc
    hint    34                  /* bti c */
    stp     x29, x30, [sp, #-176]!
    .cfi_def_cfa_offset 176
    .cfi_offset x29, -176
    .cfi_offset x30, -168
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8,  d9,  [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    str     x1, [sp, #160]      /* out, kept across the switch */
    mov     x9, x0              /* in */
    mov     x0, x2              /* save_sp */
    mov     x1, x3              /* load_sp */
    mov     x2, #0              /* arg = NULL */
    ldp     x19, x20, [x9, #0]
    ldp     x21, x22, [x9, #16]
    ldp     x23, x24, [x9, #32]
    ldp     x25, x26, [x9, #48]
    ldp     x27, x28, [x9, #64]
    ldr     x29, [x9, #80]
    ldp     d8,  d9,  [x9, #88]
    ldp     d10, d11, [x9, #104]
    ldp     d12, d13, [x9, #120]
    ldp     d14, d15, [x9, #136]
    bl      hive__ctx_switch
    ldr     x9, [sp, #160]
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    str     x29, [x9, #80]
    stp     d8,  d9,  [x9, #88]
    stp     d10, d11, [x9, #104]
    stp     d12, d13, [x9, #120]
    stp     d14, d15, [x9, #136]
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     d8,  d9,  [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x29, x30, [sp], #176
    .cfi_def_cfa_offset 0
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
    .size   hive_test_regs_switch, .-hive_test_regs_switch

#include "sched/gnu_notes.h"
