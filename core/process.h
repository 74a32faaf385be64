/* process.h - processes inside the runtime: the table, lookup, wake-up.
 *
 * A process is a task (sched/) with a mailbox (mailbox/), a pid and a name.
 * The process table maps a pid's slot to the process; a pid is
 * generation << 32 | (slot + 1), so a stale pid never matches the process
 * that later reuses its slot. Process structs are reclaimed after a liburcu
 * grace period (hive's reclaim thread, sched/rcu.h; call_rcu for those that
 * end on a foreign thread): a sender that looked a process up inside a
 * read-side section never touches freed memory, even if the process dies
 * meanwhile. Workers
 * are always readers; foreign threads become readers per call (sched/rcu.h).
 *
 * Shared by all workers: the table (a slot array, lock-free lookups) and its
 * free-slot stack (one CAS per spawn and per exit - the one shared write on
 * the spawn path; a per-worker slot cache would remove it on 64+ cores).
 */
#ifndef HIVE_CORE_PROCESS_H
#define HIVE_CORE_PROCESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <urcu-qsbr.h>

#include <hive/message.h>
#include <hive/process.h>

#include "core/idmap.h"
#include "mailbox/message.h"
#include "mailbox/mpsc.h"
#include "sched/fault.h"
#include "sched/timer.h"
#include "sched/worker.h"

typedef struct hive__name hive__name_t;
typedef struct hive__job hive__job_t;

/* A process's I/O wait (io.c): p->io_state. */
enum { HIVE__IO_IDLE = 0, HIVE__IO_WAITING = 1 }; /* or READY_BIT | events */
typedef struct hive__cleanup hive__cleanup_t;

/* What a process blocked in receive waits for: senders wake it only for a
 * message that concerns it (see hive__proc_deliver). */
enum { HIVE__WAIT_NONE = 0, HIVE__WAIT_ANY, HIVE__WAIT_TAGS };
#define HIVE__WAIT_TAGS_MAX 3 /* more: the wait is for any message (the doorbell line's room) */

/* Layout (release builds, LP64): 384 bytes, six cache lines, allocated
 * 64-byte aligned. A sender reads the pid and alive (lookup) from the
 * fourth line, which the receiver does not write per message, and writes
 * the last line, the doorbell: the mailbox's head and stub, what a blocked
 * receive waits for, and nothing else the receiver writes per message: a
 * process busy receiving from another core does not pull either line away
 * from its senders at every charge, hold or pop. (The receiver still writes
 * head when a pop empties the mailbox: the queue's stub goes back in, which
 * a mailbox that is drained message by message pays once per message.)
 * The receiver's own end of the mailbox (tail) closes the line before. The
 * task's park state (written by wakers) stays in the task: it is touched
 * only when the receiver sleeps. Static asserts in process.c keep this. */
typedef struct hive__proc {
    hive__task_t task;          /* first (hive__task_upper); unused (no fiber) for attached threads */
    /* The entry (read at every start: an actor restarts from it after
     * releasing its stack); once the process is dead, the RCU head. */
    union {
        struct {
            hive_fn_t fn;
            void *arg;
        };
        struct rcu_head rcu;
    };
    hive_reason_t *reason;      /* why it ended; NULL = normal (hive__proc_set_reason) */
    /* Receiver-only state: messages taken from mbox but skipped by a
     * selective receive, oldest first; the pending receive timeout. */
    hive_msg_t *saved_head, *saved_tail;
    hive__msg_list_t held;      /* received, not yet freed (fibers only) */
    /* A line senders read (lookup: pid, alive) and the receiver does not
     * write per message: it stays in the senders' caches while a busy
     * receiver pops, and a sender's push then takes the doorbell line in
     * one transfer, not a read and then an upgrade. */
    hive_pid_t pid;
    _Atomic(hive__name_t *) name; /* registry.c; HIVE__NAME_GONE once exited */
    /* Links and monitors (signal.c). sig_lock guards links, monitored_by
     * and the alive flag's one transition to false, so a link or monitor
     * set up concurrently with the exit either is seen by the exit or sees
     * the process dead. */
    hive__idmap_t links;        /* linked pids (value unused); sig_lock */
    hive__idmap_t monitored_by; /* ref -> watching pid; sig_lock */
    hive__idmap_t monitoring;   /* ref -> watched pid; owner only */
    /* Calls (core/call.c), owner only: reply aliases now active (a message
     * with an alias tag not in here is dropped when popped), and counters
     * for fresh alias and subject tags (unique per process is enough: an
     * alias or subject only ever addresses this process). */
    uint64_t alias_one;         /* the common case: one active alias, no table */
    hive__idmap_t aliases;      /* any further ones */
    _Atomic bool alive;         /* see sig_lock */
    uint32_t next_subject;      /* in alive's padding; written when a subject is made */
    uint64_t next_alias;
    /* The monitor a call left on its callee (call.c), kept for the next
     * call to the same process until the caller goes idle (an actor
     * waiting for its next message without a stack); 0 = none. Its DOWN
     * reaches the caller only while it waits in a call (`calling`): any
     * other time the signal is dropped when popped and the cache
     * forgotten (signal.c). Owner only. */
    uint64_t call_ref;
    /* hive_io_wait (io.c): the fd being waited for and where it is
     * registered (io_worker, below: -1 = nowhere); owner only. */
    int io_fd, io_regfd;
    hive__job_t *job;           /* hive_blocking call in flight (blocking.c); owner */
    /* Small fields, packed (a million idle actors pay for every byte). */
    _Atomic int sig_lock;
    _Atomic uint32_t thread_word; /* attached threads: 1 = woken */
    _Atomic uint32_t wakeups;   /* times a blocked receive was woken (tests) */
    /* hive_io_wait (io.c): set by the owner, CASed by the worker that
     * harvests the event. */
    _Atomic uint32_t io_state;
    uint16_t attach_size;       /* bytes of attachment after the struct */
    int16_t io_worker;          /* see io_fd; workers are at most 1024 */
    bool reason_static;         /* reason points at a constant (a kind alone, or no memory) */
    bool trap_exit;             /* owner only */
    /* An attached foreign thread. Read by the receiver at every receive, so
     * not in the doorbell line, whose head each sender writes: there it
     * cost a streaming receiver a cache miss per message (counting). */
    bool is_thread;
    bool calling;               /* waiting in a call (call.c); owner only */
    /* The mailbox: tail ends this line, head and stub open the doorbell. */
    hive__mpsc_t mbox;
    /* The rest of the doorbell line: what a sender reads after its push,
     * written by the receiver only when it blocks - and, as the receiver
     * writes it then anyway, the receiver's own rarely-touched fields. */
    _Atomic uint64_t wait_tags[HIVE__WAIT_TAGS_MAX];
    hive__timer_t *timeout;     /* the pending receive timeout */
    hive__cleanup_t *cleanups;  /* hive_on_exit handlers, newest first; owner */
    _Atomic uint8_t wait_mode;  /* HIVE__WAIT_*: what a blocked receive waits for */
    _Atomic uint8_t wait_ntags; /* wait_tags in use (<= HIVE__WAIT_TAGS_MAX) */
} hive__proc_t;

/* An actor's or a task's own state (core/actor.c, core/task.c) lives right
 * after its process struct, in the same allocation: one block per actor. */
static inline void *hive__proc_attach(hive__proc_t *p) { return p->attach_size ? p + 1 : NULL; }

int hive__proc_table_init(long max_processes, long max_message_size);
/* Runtime stop, after the scheduler stopped: end every process left. */
void hive__proc_table_shutdown(void);

/* The live process with this pid, or NULL. Call inside an RCU read-side
 * section (a worker, or between hive__rcu_enter/leave); the result stays
 * valid until the section ends. */
/* A timeout argument: ms >= 0, or HIVE_INFINITY. Every API call that takes
 * one refuses anything else with -EINVAL before it does anything (a
 * negative other than -1 used to wait for ever, as if infinite): checked
 * where a call first acts (receive(), hive_call, sys_call, the io calls,
 * ...); calls that only forward to one of those leave it to them. */
static inline bool hive__timeout_ok(int64_t ms) { return ms >= 0 || ms == HIVE_INFINITY; }

hive__proc_t *hive__proc_lookup(hive_pid_t pid);
/* The calling process (fiber or attached thread), or NULL. */
hive__proc_t *hive__proc_self(void);
/* The caller has no skipped message and nothing in its mailbox (false for
 * a caller that is not a process). */
bool hive__proc_nothing_queued(void);
/* Deliver m to p's mailbox and wake p. Inside a read-side section. */
void hive__proc_deliver(hive__proc_t *p, hive_msg_t *m);
long hive__proc_max_message_size(void);
/* At the top of every API entry a process may call: ends the caller with
 * stack_overflow if the runtime would not have room to run (fault.h).
 * Returns the calling process (hive__proc_self), found once for the call. */
hive__proc_t *hive__proc_enter_slow(hive__task_t *t);
static inline hive__proc_t *hive__proc_enter(void)
{
    hive__task_t *t = hive__task_self();
    /* The frame's address, not a local's: under ASan's use-after-return
     * checking locals live on a heap "fake stack" (see hive__stack_low).
     * Inlined, it is the API function's own frame. */
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (__builtin_expect(!t || (t->has_stack && sp < (uintptr_t)t->fiber.stack.lo +
                                                         HIVE__STACK_RESERVE),
                         0))
        return hive__proc_enter_slow(t);
    return hive__task_upper(t);
}
/* The scheduler's idle hook (before parking and at exit): flush this
 * worker's batches of dead processes to RCU, put its reserve of reusable
 * structs back in the depot. */
void hive__proc_idle_hook(void);
/* Times a worker refilled its reserve of dead processes' structs from the
 * depot (tests: memory is being reused). */
size_t hive__proc_pmem_refills(void);
/* Batches of clean structs in the depot of the fullest class (tests), and
 * the bounds per class: while a runtime runs, and what a stop leaves. */
int hive__proc_depot_batches(void);
int hive__proc_depot_max(void);
int hive__proc_depot_keep(void);
/* Dead processes per batch (a batch goes to RCU and then the depot whole). */
int hive__proc_depot_batch(void);
/* Batches a worker whose reserve ran out takes from the depot at once. */
int hive__proc_depot_take(void);
/* Act on signals waiting in the calling process's mailbox (its next hive
 * call): may end the process and not return. */
void hive__proc_checkpoint_slow(hive__proc_t *p);
/* Inline: most calls find the mailbox empty (one call per send). */
static inline void hive__proc_checkpoint(hive__proc_t *p)
{
    if (p && !hive__mpsc_empty(&p->mbox))
        hive__proc_checkpoint_slow(p);
}

/* Receive the oldest message whose tag is one of tags[0..ntags) (tags NULL:
 * any tag) and, if fn, for which fn(m, ctx) holds. As hive_receive
 * otherwise (reserved tags included). */
int hive__receive(const uint64_t *tags, size_t ntags, hive_match_fn_t fn, void *ctx,
                  int64_t timeout_ms, hive_msg_t **out);
/* The same for the answer to something the caller just did (tags[0] a reply
 * alias, DOWN or EXIT): it steps aside for the process it woke first, and
 * takes the answer without receive()'s set-up when that brought it. */
int hive__receive_answer(const uint64_t *tags, size_t ntags, hive_match_fn_t fn, void *ctx,
                         int64_t timeout_ms, hive_msg_t **out);
/* The actor loop's wait: as hive__receive with no timeout, except that when
 * nothing matches the process releases its stack (hive__task_park_release)
 * and later starts over from its entry function. Returns only a message. */
hive_msg_t *hive__receive_or_release(const uint64_t *tags, size_t ntags);
/* hive_spawn_opts for a process that carries `size` bytes of its own
 * (copied from `init` into the process's allocation, see hive__proc_attach);
 * fn gets the attachment's address as its argument. */
int hive__spawn_attached(hive_fn_t fn, const hive_spawn_opts_t *opts, const void *init,
                         size_t size, hive_pid_t *pid);
/* Deliver m (any tag) to `to`; on failure m is discarded and -ESRCH
 * returned (a pointer message's pointer stays the caller's). */
int hive__send_msg(hive_pid_t to, hive_msg_t *m);
/* A fresh alias of p, active until dropped; 0 when out of memory. */
uint64_t hive__alias_new(hive__proc_t *p);
/* Deactivate: later replies to it are dropped, and one already taken from
 * the mailbox but not yet received is freed now. */
void hive__alias_drop(hive__proc_t *p, uint64_t alias);
/* Deactivate, when the caller knows that no message with this tag waits
 * in p's skipped list (nothing was taken from the mailbox since a receive
 * that would have returned one): no walk of the list. True if it was
 * active. */
bool hive__alias_end(hive__proc_t *p, uint64_t alias);
static inline bool hive__is_alias(uint64_t tag)
{
    return tag >= HIVE_TAG_ALIAS_BASE && tag < HIVE_TAG_RESERVED;
}

/* Set why p ends (its own code, or a signal acting on it); a plain normal
 * reason costs no memory. */
void hive__proc_set_reason(hive__proc_t *p, const hive_reason_t *r);
const hive_reason_t *hive__proc_reason(const hive__proc_t *p);
/* A timer that unparks p at `deadline` (kept in p->timeout, so that the
 * exit path cancels it), or NULL without memory: the caller then re-checks
 * the clock on every wake-up. disarm cancels and drops it (tm may be NULL). */
hive__timer_t *hive__proc_arm_timeout(hive__proc_t *p, uint64_t deadline);
void hive__proc_disarm_timeout(hive__proc_t *p, hive__timer_t *tm);

/* io.c: the poller's ready callback (a worker, inside a read section); the
 * exit path's cleanup of a wait in progress. */
void hive__io_ready(uint64_t token, uint32_t events);
void hive__io_proc_exit(hive__proc_t *p);

/* blocking.c: the pool's lifecycle (runtime start/stop), and the exit
 * path's abandonment of a call in progress (before p's stack is released:
 * it may take the stack over until the call returns). */
int hive__blocking_start(int nthreads);
void hive__blocking_stop(void);
void hive__blocking_proc_exit(hive__proc_t *p);

/* runtime.c: a function hive_runtime_stop calls first, while processes
 * still run, for a layer above core whose state lives as long as a run
 * (dist/: the Erlang node). Any thread; NULL: none. */
void hive__runtime_set_stop_hook(void (*fn)(void));

/* signal.c */
/* Free pid's empty link and monitor tables (they stay allocated when they
 * empty, as hot maps churn): for a process about to sit idle (an actor). */
void hive__sig_trim(hive_pid_t pid);
/* call.c: remove the monitor the caller's last call kept (if any). */
void hive__call_monitor_drop(hive__proc_t *p);
/* hive_unlink(pid) and hive_monitor(pid) as one step, for a supervisor
 * stopping a child (OTP's monitor, unlink, flush): pid's end then sends a
 * DOWN and no EXIT, or ended before (the DOWN then says noproc, not its
 * reason, and an EXIT signal of it still queued is dropped, as after any
 * unlink). 0 with *ref; -EPERM; -ENOMEM with no monitor made - but the link
 * is gone too if the memory ran out for pid's watcher table (the caller
 * kills pid then, as the supervisor does). */
int hive__unlink_monitor(hive_pid_t pid, uint64_t *ref);
/* Room in p's (the caller's) link table for n more links: a supervisor
 * about to link to its children sizes it once. 0 or -ENOMEM. */
int hive__links_reserve(hive__proc_t *p, uint32_t n);
/* p (the caller) holds a link to pid (which may have ended since). */
bool hive__linked_to(hive__proc_t *p, hive_pid_t pid);
void hive__sig_lock(hive__proc_t *p);
void hive__sig_unlock(hive__proc_t *p);
/* Handle a signal popped from p's mailbox (p running): returns m turned
 * into an EXIT / DOWN message for p, or NULL (dropped and freed); ends p
 * (does not return) when the signal kills it. */
hive_msg_t *hive__signal_take(hive__proc_t *p, hive_msg_t *m);
/* p is ending with p->reason: run its cleanup handlers, free the messages
 * it held, drop its name, fire its links and monitors, drop its own
 * monitors. Called once, from proc_end. */
void hive__signal_exit(hive__proc_t *p);
/* Send a signal of `kind` (HIVE__MSG_SIG_*) with `data`. Inside a
 * read-side section. True if the target lives. */
bool hive__signal_send(hive_pid_t to, uint32_t kind, const void *data, size_t len);
/* spawn's link / monitor options, before the child is published. */
int hive__signal_spawn_opts(hive__proc_t *parent, hive__proc_t *child, bool link,
                            bool monitor, uint64_t *ref);
/* p (the caller) monitors t, which it looked up inside its read-side
 * section: hive_monitor's bookkeeping without its checkpoint. 0 with *ref
 * set, -ESRCH when t is dead (nothing set up, no DOWN queued), -ENOMEM. */
int hive__monitor_proc(hive__proc_t *p, hive__proc_t *t, uint64_t *ref);
/* hive__monitor_proc of pid, looked up here: -ESRCH when pid has ended, so
 * a DOWN with reason noproc then means that pid ended with that reason. */
int hive__monitor_live(hive__proc_t *p, hive_pid_t pid, uint64_t *ref);
/* hive_demonitor without a flush: a DOWN signal still queued is dropped
 * when met; one already turned into a message stays (the caller knows
 * there is none). Nothing when ref already fired. */
void hive__demonitor_quiet(hive__proc_t *p, uint64_t ref);
/* Deliver m (a signal) and wake p whatever it waits for. */
void hive__proc_deliver_signal(hive__proc_t *p, hive_msg_t *m);
/* Remove p's EXIT/DOWN-turned messages matching ref from its saved list. */
void hive__proc_flush_down(hive__proc_t *p, uint64_t ref);

#endif
