/* hive/actor.h - actors: a process whose loop is hive's (gen_server).
 *
 * An actor is started from a spec: init runs in the new process (within a
 * timeout) and makes the state; then each message that arrives is handed to
 * handle(state, msg), which returns the next state with hive_continue() or
 * ends the actor with hive_stop() / hive_stop_abnormal(). The runtime owns
 * the loop, so an actor waiting for its next message holds no stack: its
 * stack goes back to the pool between messages (unless its handler is
 * blocked, e.g. inside a hive_call; and the last actor to go idle on each
 * worker keeps its stack until another takes its place, so a busy server
 * actor does not pay for it at every message), and a million idle actors
 * cost a million small structs.
 *
 *     static int init(void *arg, void **state, hive_reason_t *fail)
 *     { *state = calloc(1, sizeof(long)); return *state ? 0 : -ENOMEM; }
 *     static hive_next_t handle(void *state, hive_msg_t *m)
 *     {
 *         long *n = state;
 *         if (hive_msg_is_call(m)) hive_reply(m, n, sizeof *n);   // a call: answer it
 *         else *n += 1;                                          // a cast
 *         return hive_continue(state);
 *     }
 *     hive_actor_spec_t spec = {.init = init, .handle = handle, .name = "counter"};
 *     hive_subject_t counter;
 *     hive_actor_start(&spec, NULL, &counter, NULL);
 *     hive_subject_send(counter, NULL, 0);                        // cast
 *     hive_msg_t *r; hive_call(counter, NULL, 0, 1000, &r, NULL); // call
 *
 * System messages (OTP's sys): any actor answers hive_sys_get_state,
 * hive_sys_get_status, hive_sys_suspend and hive_sys_resume without its code
 * doing anything; a suspended actor queues its messages (in order) and runs
 * no handler until resumed; an unknown request gets -EOPNOTSUPP.
 */
#ifndef HIVE_ACTOR_H
#define HIVE_ACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <hive/message.h>
#include <hive/process.h>
#include <hive/subject.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An actor whose init failed (returned non-zero, stopped or crashed): the
 * start call's `why` holds the reason. Also a task that crashed. */
#define HIVE_EINIT 1000

/* What a handler returns: the next state, and whether to go on. */
typedef struct hive_next {
    void *state;
    int action; /* HIVE_NEXT_* */
} hive_next_t;
/* HIVE_NEXT_STOP_ABNORMAL comes only from hive_stop_abnormal(), which holds
 * the reason. */
enum { HIVE_NEXT_CONTINUE = 0, HIVE_NEXT_STOP = 1, HIVE_NEXT_STOP_ABNORMAL = 2 };

static inline hive_next_t hive_continue(void *state)
{
    hive_next_t n = {state, HIVE_NEXT_CONTINUE};
    return n;
}
/* Stop with reason `normal`: linked processes that do not trap exits are
 * untouched. */
static inline hive_next_t hive_stop(void)
{
    hive_next_t n = {0, HIVE_NEXT_STOP};
    return n;
}
/* Stop with `reason` (linked processes die with it unless they trap exits).
 * Call it from a handler. */
HIVE_API hive_next_t hive_stop_abnormal(hive_reason_t reason);

/* init: runs first in the new process; sets *state and returns 0, or
 * returns non-zero (and may fill *fail; the default is user code = the
 * return value) to fail the start. */
typedef int (*hive_actor_init_fn)(void *arg, void **state, hive_reason_t *fail);
/* handle: one message (it may keep it with hive_msg_take_ptr; the message
 * is freed after handle returns). */
typedef hive_next_t (*hive_actor_handle_fn)(void *state, hive_msg_t *msg);
/* terminate: runs when handle stops the actor or hive_actor_stop ends it,
 * and when it dies of an exit signal while trapping exits; not after a kill. */
typedef void (*hive_actor_terminate_fn)(void *state, const hive_reason_t *reason);

typedef struct hive_actor_spec {
    hive_actor_init_fn init;           /* NULL: the state is `arg` */
    hive_actor_handle_fn handle;       /* required */
    hive_actor_terminate_fn terminate; /* may be NULL */
    const char *name;                  /* registered before init; NULL: none */
    int64_t init_timeout_ms;           /* 0: 5000; HIVE_INFINITY: none */
    bool link;                         /* link starter and actor (start_link) */
    bool trap_exits;                   /* EXIT messages go to handle; an EXIT
                                          from the linked starter stops the
                                          actor with that reason, as in OTP */
    const hive_spawn_opts_t *spawn;    /* stack, worker, pinned; NULL: defaults */
} hive_actor_spec_t;

/* hive_actor_start - start an actor and wait for its init. A process or
 * attached thread. With spec->link, a starter that receives EXITs as
 * messages (it traps exits, or it is a thread) takes the EXIT of an actor
 * whose start failed: none is left in its mailbox for it to mistake for a
 * running actor's end.
 *   0            running; *subject (may be NULL) is where to send to it
 *   -HIVE_EINIT  init failed (returned non-zero or crashed); *why (may be
 *                NULL) holds the reason; the process has ended
 *   -ETIMEDOUT   init did not finish in time; the process was killed
 *   -EBUSY       spec->name is taken
 *   -EINVAL, -EPERM, -ENOMEM, -EAGAIN as hive_spawn */
HIVE_API int hive_actor_start(const hive_actor_spec_t *spec, void *arg, hive_subject_t *subject,
                              hive_reason_t *why);

/* True if m came from hive_call (answer it with hive_reply). */
HIVE_API bool hive_msg_is_call(const hive_msg_t *m);

/* hive_actor_stop - stop the actor with `reason` (any kind, noproc too; its
 * terminate runs) and wait until it has ended. 0 (it ended, with `reason`
 * or one of its own), -ESRCH (it had ended before the call), -ETIMEDOUT
 * (it did not end in time), -EDEADLK (the caller itself), -EPERM. A process
 * or attached thread. */
HIVE_API int hive_actor_stop(hive_pid_t actor, hive_reason_t reason, int64_t timeout_ms);

/* ---- system messages (OTP's sys) ---------------------------------------- */

typedef struct hive_actor_status {
    hive_pid_t pid;
    char name[64];     /* "" when unnamed */
    bool suspended;
    uint64_t handled;  /* messages handled so far */
    void *state;
} hive_actor_status_t;

/* Each: 0, -ETIMEDOUT (no answer: not an actor, or busy), -ESRCH (dead),
 * -ECONNRESET (it died meanwhile), -EPERM. A process or attached thread. */
HIVE_API int hive_sys_get_state(hive_pid_t actor, int64_t timeout_ms, void **state);
HIVE_API int hive_sys_get_status(hive_pid_t actor, int64_t timeout_ms,
                                 hive_actor_status_t *status);
/* Suspend: messages queue, the handler is not called; system messages are
 * still answered. Resume: handling goes on, in the order messages came. */
HIVE_API int hive_sys_suspend(hive_pid_t actor, int64_t timeout_ms);
HIVE_API int hive_sys_resume(hive_pid_t actor, int64_t timeout_ms);
/* A raw system request by number (the four above are 1-4; stop is 5):
 * an actor answers an unknown one with -EOPNOTSUPP. */
HIVE_API int hive_sys_request(hive_pid_t actor, uint32_t op, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
