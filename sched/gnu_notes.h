/* gnu_notes.h - the ELF notes every hand-written assembly file of hive ends
 * with (sched/switch_*.S, and the bench/ and tests/ helpers that switch
 * stacks the same way). #include it at the end of a .S file.
 *
 * - .note.GNU-stack: the object does not need an executable stack.
 * - .note.gnu.property (NT_GNU_PROPERTY_TYPE_0), when the compiler builds
 *   with branch protection, so the linker keeps the marking of the rest:
 *   x86-64: GNU_PROPERTY_X86_FEATURE_1_AND = IBT only. Never SHSTK: a
 *   context switch returns on another stack, which a hardware shadow stack
 *   refuses, so a program linking hive runs with shadow stacks off rather
 *   than crashing. (tests/cet_marking.sh checks this on hive's objects.)
 *   AArch64: GNU_PROPERTY_AARCH64_FEATURE_1_AND = BTI (1) and PAC (2) as the
 *   compiler builds; the switches save x30 as their callers left it and
 *   neither sign nor authenticate it.
 */
#ifndef HIVE_SCHED_GNU_NOTES_H
#define HIVE_SCHED_GNU_NOTES_H

#if defined(__x86_64__)

    .section .note.GNU-stack, "", @progbits

#if defined(__CET__)
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4
    .long   16
    .long   5
    .asciz  "GNU"
    .long   0xc0000002
    .long   4
    .long   (__CET__ & 1)
    .p2align 3
#endif

#elif defined(__aarch64__)

    .section .note.GNU-stack, "", %progbits

#if defined(__ARM_FEATURE_BTI_DEFAULT) || defined(__ARM_FEATURE_PAC_DEFAULT)
#if defined(__ARM_FEATURE_BTI_DEFAULT)
#define HIVE_GNU_BTI 1
#else
#define HIVE_GNU_BTI 0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT)
#define HIVE_GNU_PAC 2
#else
#define HIVE_GNU_PAC 0
#endif
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4
    .long   16
    .long   5
    .asciz  "GNU"
    .long   0xc0000000
    .long   4
    .long   (HIVE_GNU_BTI | HIVE_GNU_PAC)
    .long   0
    .p2align 3
#endif

#endif
#endif
