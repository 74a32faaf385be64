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

#include "mailbox/mpsc.h"
#include "sched/timer.h"
#include "sched/worker.h"

typedef struct hive__name hive__name_t;

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
    hive__timer_t *timeout;
    /* Written by the receiver, read by senders. */
    _Atomic uint32_t wait_mode;
    _Atomic uint32_t wait_ntags;
    _Atomic uint64_t wait_tags[HIVE__WAIT_TAGS_MAX];
    _Atomic uint64_t wakeups;   /* times a blocked receive was woken (tests) */
    _Atomic(hive__name_t *) name; /* registry.c; HIVE__NAME_GONE once exited */
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

#endif
