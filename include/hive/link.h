/* hive/link.h - links, monitors, exit signals, crash containment.
 *
 * Erlang's semantics. When a process ends with reason R:
 *  - every linked process gets an exit signal R. A process that does not
 *    trap exits ignores `normal` and otherwise ends with the same reason (the
 *    cascade); a trapping process gets an EXIT message {from, R} instead;
 *  - every process monitoring it gets one DOWN message {ref, pid, R}.
 * hive_send_exit sends an exit signal directly; a signal with reason
 * `killed` (hive_kill) cannot be trapped, and the victim's links then see
 * `killed` (which they can trap). Linking to, or monitoring, a process that
 * does not exist gives an exit signal / DOWN with reason `noproc`.
 *
 * Signals travel in the receiver's mailbox, so between a pair of processes
 * messages and signals keep their order. A process acts on signals at its
 * next hive call (send, receive, spawn, yield, sleep, link, ...): a process
 * that computes without calling hive is killed only when it next does, and
 * a process killed while it holds a lock of yours leaves it held (cleanup
 * handlers are where to release such things).
 *
 * An attached foreign thread (hive/thread.h) is never ended by a signal: it
 * always receives exit signals as EXIT messages.
 */
#ifndef HIVE_LINK_H
#define HIVE_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include <hive/message.h>
#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t hive_ref_t;

#define HIVE_TAG_EXIT UINT64_C(0xFFFFFFFFFFFFFF01) /* payload: hive_exit_info_t */
#define HIVE_TAG_DOWN UINT64_C(0xFFFFFFFFFFFFFF02) /* payload: hive_down_info_t */

typedef struct hive_exit_info {
    hive_pid_t from;
    hive_reason_t reason;
} hive_exit_info_t;

typedef struct hive_down_info {
    hive_ref_t ref;
    hive_pid_t pid;
    hive_reason_t reason;
} hive_down_info_t;

/* Decode an EXIT / DOWN message. 0, or -EINVAL if m is not one. Any thread. */
HIVE_API int hive_exit_info(const hive_msg_t *m, hive_exit_info_t *out);
HIVE_API int hive_down_info(const hive_msg_t *m, hive_down_info_t *out);

/* hive_link / hive_unlink - bidirectional links. A process or attached
 * thread. 0 (a dead pid: the caller gets an exit signal `noproc`), -EINVAL
 * (linking to itself, or to HIVE_PID_NONE), -EPERM (not a process),
 * -ENOMEM. After hive_unlink returns, the link no longer affects the
 * caller; unlinking a pid that is not linked does nothing. */
HIVE_API int hive_link(hive_pid_t pid);
HIVE_API int hive_unlink(hive_pid_t pid);
/* hive_spawn_link - hive_spawn and link atomically (the child cannot end
 * before the link exists). A process or attached thread. */
HIVE_API int hive_spawn_link(hive_fn_t fn, void *arg, hive_pid_t *pid);

/* hive_monitor - watch pid: one DOWN message when it ends (at once, reason
 * `noproc`, if it does not exist). A process or attached thread. 0 with
 * *ref set, -EPERM, -EINVAL, -ENOMEM. */
HIVE_API int hive_monitor(hive_pid_t pid, hive_ref_t *ref);
#define HIVE_DEMONITOR_FLUSH 1
/* hive_demonitor - stop watching: no DOWN for ref is received after it
 * returns; with HIVE_DEMONITOR_FLUSH a DOWN already queued is removed too.
 * 0, or -EPERM. */
HIVE_API int hive_demonitor(hive_ref_t ref, int flags);

/* hive_trap_exits - turn exit signals (except kill) into EXIT messages for
 * the calling process. Returns the previous setting (0/1), or -EPERM. */
HIVE_API int hive_trap_exits(bool on);

/* hive_send_exit - send an exit signal with `reason` to pid (reason kind
 * HIVE_EXIT_KILLED is hive_kill). Any thread. 0 or -ESRCH. */
HIVE_API int hive_send_exit(hive_pid_t pid, hive_reason_t reason);
/* hive_kill - end pid with reason `killed`; it cannot trap this. */
HIVE_API int hive_kill(hive_pid_t pid);

/* hive_panic - end the calling process with reason `panic` and the
 * formatted message (truncated to the reason's text). A process only: from
 * elsewhere it returns -EPERM and does nothing. */
HIVE_API int hive_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* hive_on_exit - register fn(arg, reason) to run when the calling process
 * ends, whatever the path (return, hive_exit, panic, stack overflow, exit
 * signal, kill, runtime stop). Handlers run in reverse order of
 * registration, on the runtime's stack after the process's own stack is
 * gone: hive_self() there is HIVE_PID_NONE; they may send. A process only.
 * 0, -EPERM, -ENOMEM. */
HIVE_API int hive_on_exit(void (*fn)(void *arg, const hive_reason_t *reason), void *arg);

#ifdef __cplusplus
}
#endif
#endif
