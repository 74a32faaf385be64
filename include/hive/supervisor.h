/* hive/supervisor.h - supervisors: start, watch and restart children.
 *
 * Erlang/OTP's supervisor, in C. A supervisor is an actor that traps exits.
 * It starts its children in spec order, links to each, and when one ends it
 * decides from the child's restart type and the strategy what to restart:
 *
 *   restart    permanent: always restarted; transient: restarted unless it
 *              ended `normal` or `shutdown`; temporary: never (and forgotten)
 *   strategy   one_for_one: only that child; one_for_all: all children are
 *              stopped (in reverse start order) and started again (in spec
 *              order); rest_for_one: the children started after it are
 *              stopped (reverse order), then it and they start again
 *   intensity  more than `intensity` restarts within `period_s` seconds:
 *              the supervisor stops every child (reverse order) and exits
 *              with reason `shutdown`; its own supervisor then decides
 *   shutdown   how a child is stopped: HIVE_SHUTDOWN_BRUTAL_KILL (killed at
 *              once), a timeout in ms (exit signal `shutdown`, then killed
 *              if it has not ended in time), HIVE_SHUTDOWN_INFINITY (wait as
 *              long as it takes; the default for supervisor children);
 *              the default for workers is 5000 ms
 *   auto_shutdown  never | any_significant | all_significant: a supervisor
 *              whose significant child (transient or temporary) ended and
 *              was not restarted exits with `shutdown` (any), or when all of
 *              them have (all)
 *
 * If a child fails to start while the supervisor starts, the children
 * already started are stopped in reverse order and hive_supervisor_start
 * returns the error. When the supervisor itself is stopped (its parent's
 * exit signal, hive_supervisor_stop), it stops its children in reverse
 * order, each within its shutdown, before it ends.
 *
 * A dynamic supervisor (OTP's simple_one_for_one, Elixir's
 * DynamicSupervisor) has no children at start: every child comes from one
 * template through hive_supervisor_start_child(sup, arg).
 *
 *     static int start_worker(void *arg, hive_pid_t *pid)
 *     { return hive_spawn_link(worker_main, arg, pid); }
 *     hive_child_spec_t kids[] = {
 *         {.id = "db", .start = start_worker, .restart = HIVE_PERMANENT},
 *         {.id = "cache", .start = start_worker, .restart = HIVE_TRANSIENT},
 *     };
 *     hive_sup_spec_t spec = {.strategy = HIVE_ONE_FOR_ONE, .intensity = 3,
 *                             .period_s = 5, .children = kids, .nchildren = 2};
 *     hive_pid_t sup;
 *     hive_supervisor_start(&spec, &sup, NULL);
 */
#ifndef HIVE_SUPERVISOR_H
#define HIVE_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hive_restart { HIVE_PERMANENT = 0, HIVE_TRANSIENT, HIVE_TEMPORARY } hive_restart_t;
typedef enum hive_child_type { HIVE_WORKER = 0, HIVE_SUPERVISOR } hive_child_type_t;
typedef enum hive_strategy {
    HIVE_ONE_FOR_ONE = 0,
    HIVE_ONE_FOR_ALL,
    HIVE_REST_FOR_ONE,
} hive_strategy_t;
typedef enum hive_auto_shutdown {
    HIVE_AUTO_SHUTDOWN_NEVER = 0,
    HIVE_ANY_SIGNIFICANT,
    HIVE_ALL_SIGNIFICANT,
} hive_auto_shutdown_t;

/* shutdown_ms: 0 = the default (5000 for a worker, infinity for a
 * supervisor), > 0 = a timeout, or one of these. */
#define HIVE_SHUTDOWN_BRUTAL_KILL ((int64_t)-2)
#define HIVE_SHUTDOWN_INFINITY ((int64_t)-1)

/* Start a child: runs in the supervisor. Return 0 with *pid set to a
 * process linked to the caller (hive_spawn_link, an actor started with
 * .link; the supervisor links anyway), 1 to ignore (no child now, kept in
 * the list as not running), or a negative error. */
typedef int (*hive_child_start_fn)(void *arg, hive_pid_t *pid);

#define HIVE_CHILD_ID_MAX 63 /* bytes in a child's id, not counting the NUL */

typedef struct hive_child_spec {
    const char *id;             /* 1..HIVE_CHILD_ID_MAX bytes, unique within the
                                   supervisor; copied (a template's: unused) */
    hive_child_start_fn start;  /* required */
    void *arg;
    hive_restart_t restart;
    int64_t shutdown_ms;        /* see above */
    hive_child_type_t type;
    bool significant;           /* for auto_shutdown; not with permanent */
} hive_child_spec_t;

typedef struct hive_sup_spec {
    hive_strategy_t strategy;
    int intensity;              /* with period_s: both 0 = OTP's 1 in 5 s */
    int period_s;
    hive_auto_shutdown_t auto_shutdown;
    const hive_child_spec_t *children; /* static: copied at start */
    size_t nchildren;
    /* Dynamic: if `dynamic`, children is ignored and every child is started
     * from `template` by hive_supervisor_start_child (the template's arg is
     * replaced by start_child's). Strategy is one_for_one. */
    bool dynamic;
    hive_child_spec_t template_;
    const char *name;           /* register the supervisor; NULL: none */
    bool link;                  /* link to the caller (start_link) */
} hive_sup_spec_t;

/* hive_supervisor_start - start a supervisor and its children (in order).
 * A process or attached thread. 0 with *pid; -HIVE_EINIT if a child failed
 * to start (why: user code = the child's error, text = its id; the ones
 * started before it were stopped in reverse order); -EINVAL if the spec is
 * bad (why says which field; among them a child id that is NULL, empty,
 * longer than HIVE_CHILD_ID_MAX or not unique); -EBUSY (name taken),
 * -EPERM, -ENOMEM. */
HIVE_API int hive_supervisor_start(const hive_sup_spec_t *spec, hive_pid_t *pid,
                                   hive_reason_t *why);

/* A child spec that starts a supervisor (linked to its parent). The spec it
 * points at must stay valid for as long as the parent may restart it. */
HIVE_API hive_child_spec_t hive_supervisor_child(const char *id, const hive_sup_spec_t *spec);

/* Stop the supervisor (children first, reverse order) and wait until it has
 * ended. 0, -ESRCH, -ETIMEDOUT. */
HIVE_API int hive_supervisor_stop(hive_pid_t sup, int64_t timeout_ms);

/* ---- queries and dynamic children -------------------------------------- */

#define HIVE_CHILD_RESTARTING ((hive_pid_t)UINT64_MAX)

typedef struct hive_child_info {
    char id[HIVE_CHILD_ID_MAX + 1]; /* the spec's id ("" for dynamic children) */
    hive_pid_t pid;         /* HIVE_PID_NONE: not running; HIVE_CHILD_RESTARTING */
    hive_child_type_t type;
} hive_child_info_t;

typedef struct hive_child_counts {
    long specs, active, supervisors, workers;
} hive_child_counts_t;

/* which_children: up to `max` entries in start order; returns how many
 * children there are (which may exceed max), or a negative error. */
HIVE_API long hive_supervisor_which_children(hive_pid_t sup, hive_child_info_t *out, size_t max,
                                             int64_t timeout_ms);
HIVE_API int hive_supervisor_count_children(hive_pid_t sup, hive_child_counts_t *out,
                                            int64_t timeout_ms);
/* Dynamic supervisors: start a child from the template with `arg`. 0 with
 * *pid, 1 if the start function said ignore, or an error. */
HIVE_API int hive_supervisor_start_child(hive_pid_t sup, void *arg, hive_pid_t *pid,
                                         int64_t timeout_ms);
/* Stop a child (by its pid) per its shutdown and forget it. 0, -ENOENT. */
HIVE_API int hive_supervisor_terminate_child(hive_pid_t sup, hive_pid_t child,
                                             int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
