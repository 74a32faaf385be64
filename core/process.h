/* process.h - processes inside the runtime: the table, lookup, wake-up.
 *
 * A process is a task (sched/) with a mailbox (mailbox/), a pid and a name.
 * The process table maps a pid's slot to the process; a pid is
 * generation << 32 | (slot + 1), so a stale pid never matches the process
 * that later reuses its slot. Process structs are reclaimed through liburcu
 * (call_rcu): a sender that looked a process up inside a read-side section
 * never touches freed memory, even if the process dies meanwhile. Workers
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
#define HIVE__WAIT_TAGS_MAX 4

typedef struct hive__proc {
    hive__task_t task;          /* unused (no fiber) for attached threads */
    hive__mpsc_t mbox;
    hive_pid_t pid;
    _Atomic bool alive;
    bool is_thread;             /* an attached foreign thread */
    _Atomic uint32_t thread_word; /* attached threads: 1 = woken */
    hive_fn_t fn;
    void *arg;
    hive_reason_t reason;
    /* Receiver-only state: messages taken from mbox but skipped by a
     * selective receive, oldest first; the pending receive timeout. */
    hive_msg_t *saved_head, *saved_tail;
    hive__msg_list_t held;      /* received, not yet freed (fibers only) */
    hive__timer_t *timeout;
    /* Written by the receiver, read by senders. */
    _Atomic uint32_t wait_mode;
    _Atomic uint32_t wait_ntags;
    _Atomic uint64_t wait_tags[HIVE__WAIT_TAGS_MAX];
    _Atomic uint64_t wakeups;   /* times a blocked receive was woken (tests) */
    _Atomic(hive__name_t *) name; /* registry.c; HIVE__NAME_GONE once exited */
    /* Links and monitors (signal.c). sig_lock guards links, monitored_by
     * and the alive flag's one transition to false, so a link or monitor
     * set up concurrently with the exit either is seen by the exit or sees
     * the process dead. */
    _Atomic int sig_lock;
    hive__idmap_t links;        /* linked pids (value unused); sig_lock */
    hive__idmap_t monitored_by; /* ref -> watching pid; sig_lock */
    hive__idmap_t monitoring;   /* ref -> watched pid; owner only */
    bool trap_exit;             /* owner only */
    hive__cleanup_t *cleanups;  /* hive_on_exit handlers, newest first; owner */
    /* hive_io_wait (io.c): the fd being waited for and where it is
     * registered (io_worker -1: nowhere); owner only. io_state is set by
     * the owner and CASed by the worker that harvests the event. */
    _Atomic uint32_t io_state;
    int io_fd, io_regfd, io_worker;
    hive__job_t *job;           /* hive_blocking call in flight (blocking.c); owner */
    struct rcu_head rcu;
} hive__proc_t;

int hive__proc_table_init(long max_processes, long max_message_size);
/* Runtime stop, after the scheduler stopped: end every process left. */
void hive__proc_table_shutdown(void);

/* The live process with this pid, or NULL. Call inside an RCU read-side
 * section (a worker, or between hive__rcu_enter/leave); the result stays
 * valid until the section ends. */
hive__proc_t *hive__proc_lookup(hive_pid_t pid);
/* The calling process (fiber or attached thread), or NULL. */
hive__proc_t *hive__proc_self(void);
/* Deliver m to p's mailbox and wake p. Inside a read-side section. */
void hive__proc_deliver(hive__proc_t *p, hive_msg_t *m);
long hive__proc_max_message_size(void);
/* At the top of every API entry a process may call: ends the caller with
 * stack_overflow if the runtime would not have room to run (fault.h). */
void hive__proc_enter(void);
/* The scheduler's idle hook: flush this worker's batch of dead processes
 * to RCU (before parking and at exit). */
void hive__proc_idle_hook(void);
/* Act on signals waiting in the calling process's mailbox (its next hive
 * call): may end the process and not return. */
void hive__proc_checkpoint(hive__proc_t *p);

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

/* signal.c */
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
/* Deliver m (a signal) and wake p whatever it waits for. */
void hive__proc_deliver_signal(hive__proc_t *p, hive_msg_t *m);
/* Remove p's EXIT/DOWN-turned messages matching ref from its saved list. */
void hive__proc_flush_down(hive__proc_t *p, uint64_t ref);

#endif
