/* fault.c - SIGSEGV on a guard page ends only the offending process (see
 * fault.h). Everything here runs in a signal handler or prepares for one:
 * the handler reads only data prepared in advance (library ranges, the
 * worker's thread-local state, the append-only stack region table) and calls
 * only async-signal-safe functions (write, sigaction, the context switch).
 */
#include "sched/fault.h"

#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "sched/stack.h"
#include "sched/worker.h"

#define ALTSTACK_SIZE (64 * 1024)
#define MAX_RANGES 64

/* Executable segments of libraries an overflow must not be contained in. */
static struct range {
    uintptr_t lo, hi;
} ranges[MAX_RANGES];
static int nranges;
static struct sigaction previous;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static __thread void *altstack;

static const char *const unsafe_libs[] = {
    "libc.so", "libjemalloc", "ld-linux", "liburcu", "libhwloc", "libhive.so",
    "libpthread", "libgcc_s", "libstdc++", "libtsan", "libasan", "libubsan", "libinih",
};

static int collect(struct dl_phdr_info *info, size_t size, void *unused)
{
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    bool unsafe = false;
    for (size_t i = 0; i < sizeof unsafe_libs / sizeof unsafe_libs[0] && !unsafe; i++)
        unsafe = strstr(name, unsafe_libs[i]) != NULL;
    if (!unsafe)
        return 0;
    for (int i = 0; i < info->dlpi_phnum && nranges < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            ranges[nranges].lo = info->dlpi_addr + ph->p_vaddr;
            ranges[nranges].hi = ranges[nranges].lo + ph->p_memsz;
            nranges++;
        }
    }
    return 0;
}

static bool pc_in_libraries(uintptr_t pc)
{
    for (int i = 0; i < nranges; i++)
        if (pc >= ranges[i].lo && pc < ranges[i].hi)
            return true;
    return false;
}

static void say(const char *s) { (void)!write(2, s, strlen(s)); }

static void say_hex(uintptr_t v)
{
    char buf[19] = "0x";
    for (int i = 0; i < 16; i++)
        buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    buf[18] = '\0';
    say(buf);
}

static uintptr_t fault_pc(void *ucv)
{
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    return 0;
#endif
}

/* Not ours to contain: let the previous handler, or the default action,
 * have it. Returning re-executes the faulting instruction. */
static void pass_on(int sig, siginfo_t *info, void *uc)
{
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(sig, info, uc);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
}

static void on_segv(int sig, siginfo_t *info, void *uc)
{
    hive__task_t *t = hive__task_self();
    hive__stack_t guard_of;
    uintptr_t pc = fault_pc(uc);
    bool guard = t && t->has_stack && hive__stack_guard_lookup(info->si_addr, &guard_of) &&
                 guard_of.lo == t->fiber.stack.lo;
    if (guard && !pc_in_libraries(pc)) {
        /* Contained: never return to the fiber. SA_NODEFER left SIGSEGV
         * unblocked, and leaving the alternate stack frees it. */
        t->overflowed = true;
        hive__fiber_abandon(&t->fiber);
    }
    say("hive: fatal SIGSEGV at ");
    say_hex((uintptr_t)info->si_addr);
    say(" (pc ");
    say_hex(pc);
    if (guard)
        say("): stack overflow inside a system library or the runtime, which may hold a "
            "lock; it cannot be contained\n");
    else if (t)
        say("): not a stack overflow; a bad memory access in a hive process\n");
    else
        say(")\n");
    pass_on(sig, info, uc);
}

static void find_libraries(void) { dl_iterate_phdr(collect, NULL); }

int hive__fault_install(void)
{
    pthread_once(&once, find_libraries);
    /* At every runtime start: a program (or a test framework) may have put
     * its own handler in place since; keep it as the one we pass on to. */
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur) != 0)
        return -errno;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous) != 0)
        return -errno;
    return 0;
}

int hive__fault_thread_init(void)
{
    altstack = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
    if (altstack == MAP_FAILED) {
        altstack = NULL;
        return -ENOMEM;
    }
    stack_t ss = {.ss_sp = altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    return sigaltstack(&ss, NULL) == 0 ? 0 : -errno;
}

void hive__fault_thread_fini(void)
{
    if (!altstack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(altstack, ALTSTACK_SIZE);
    altstack = NULL;
}

bool hive__stack_low(void)
{
    hive__task_t *t = hive__task_self();
    if (!t || !t->has_stack)
        return false;
    /* The frame's address, not a local's: under ASan's use-after-return
     * checking (detect_stack_use_after_return=1, the default in newer
     * toolchains) locals live on a heap "fake stack" anywhere in memory. */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = (uintptr_t)t->fiber.stack.lo;
    return sp < lo + HIVE__STACK_RESERVE;
}
