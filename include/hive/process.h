/* hive/process.h - processes: green threads with a pid and a mailbox.
 *
 * A process runs a function on its own fiber. It ends normally when the
 * function returns, or with a reason given to hive_exit(). A pid is a value
 * (slot + generation): it stays safe to use after the process is gone, and
 * never names a later process that reuses the slot.
 *
 * Thread rules: "process" means code running inside a hive process;
 * "any thread" includes the embedder's own threads (foreign threads).
 */
#ifndef HIVE_PROCESS_H
#define HIVE_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hive/error.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t hive_pid_t;
#define HIVE_PID_NONE ((hive_pid_t)0)

/* Why a process ended. */
typedef enum hive_exit_kind {
    HIVE_EXIT_NORMAL = 0,     /* returned, or hive_exit(hive_reason_normal()) */
    HIVE_EXIT_SHUTDOWN,       /* asked to stop by its supervisor */
    HIVE_EXIT_KILLED,         /* killed; cannot be trapped */
    HIVE_EXIT_NOPROC,         /* the process did not exist */
    HIVE_EXIT_STACK_OVERFLOW, /* touched its stack's guard page */
    HIVE_EXIT_PANIC,          /* hive_panic(); text holds the message */
    HIVE_EXIT_USER,           /* user-defined: code (and text) */
    HIVE_EXIT_NOMEM,          /* the runtime could not give it memory to start */
    HIVE_EXIT_NOCONNECTION,   /* the Erlang node it was linked to is lost (hive/node.h) */
} hive_exit_kind_t;

typedef struct hive_reason {
    hive_exit_kind_t kind;
    int code;        /* HIVE_EXIT_USER's code */
    char text[112];  /* panic message or user text, NUL-terminated, may be "" */
} hive_reason_t;

/* Reasons, by value. */
HIVE_API hive_reason_t hive_reason_normal(void);
HIVE_API hive_reason_t hive_reason_user(int code, const char *text);
/* Writes "normal", "killed", "panic: <text>", "user 42: <text>", ... into
 * buf (always NUL-terminated); returns buf. Any thread. */
HIVE_API const char *hive_reason_format(const hive_reason_t *r, char *buf, size_t len);

typedef void (*hive_fn_t)(void *arg);

typedef struct hive_spawn_opts {
    size_t stack_size;     /* 0 = the configured default; else 16K..1G */
    int worker;            /* start on this worker; -1 = the caller's (or any) */
    bool pinned;           /* run only on `worker` (>= 0), never stolen or moved:
                              for measuring, or for state tied to a CPU */
    bool link;             /* link caller and child before the child runs */
    bool monitor;          /* monitor the child; its ref goes to *monitor_ref */
    uint64_t *monitor_ref; /* hive_ref_t, see hive/link.h; required with monitor */
} hive_spawn_opts_t;

/* hive_spawn - start a process running fn(arg); its pid goes to *pid (may be
 * NULL). Any thread (link/monitor options: a process or attached thread).
 * 0, -EINVAL (fn NULL, bad option: monitor without monitor_ref too, as
 * hive_monitor; nothing is started), -EPERM (runtime not running, or
 * link/monitor from a plain thread), -EAGAIN (the max_processes limit is
 * reached), -ENOMEM. */
HIVE_API int hive_spawn(hive_fn_t fn, void *arg, hive_pid_t *pid);
HIVE_API int hive_spawn_opts(hive_fn_t fn, void *arg, const hive_spawn_opts_t *opts,
                             hive_pid_t *pid);

/* hive_self - the calling process's pid (or the attached foreign thread's,
 * see hive/thread.h); HIVE_PID_NONE elsewhere. Any thread. */
HIVE_API hive_pid_t hive_self(void);

/* hive_exit - end the calling process with `reason`. Its stack is dropped
 * without unwinding. A process only. From elsewhere it returns -EPERM. */
HIVE_API int hive_exit(hive_reason_t reason);

/* hive_is_alive - the pid names a process that has not ended. Any thread. */
HIVE_API bool hive_is_alive(hive_pid_t pid);

/* hive_sleep - let `ms` milliseconds pass; messages stay queued. A process
 * (its worker runs others meanwhile); on a foreign thread it sleeps the
 * thread. 0, -EINVAL for negative ms, -ENOMEM (a process: no timer could
 * be made; it did not sleep). */
HIVE_API int hive_sleep(int64_t ms);

/* hive_process_count - processes alive right now. Any thread. */
HIVE_API long hive_process_count(void);

#ifdef __cplusplus
}
#endif
#endif
