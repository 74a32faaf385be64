/* actor.c - actors: init with a timeout, the message loop, system messages.
 *
 * Start (OTP's proc_lib handshake):
 *   starter                               actor process
 *   alias + monitor, spawn  ------------>  subject, trap_exits, register name,
 *                                          init(arg) ... ack {rc, subject, reason}
 *   wait ack | DOWN | timeout  <--------
 * A linked starter that receives EXITs as messages (a supervisor) sets up
 * no monitor and waits for the ack or the EXIT instead (OTP's
 * proc_lib:start_link). On timeout the starter kills the half-started
 * process (a monitoring starter unlinks first, so that it does not die of
 * it) and waits for its end. If init returns an error the actor acks the
 * error and exits with that reason (unlinking first from a monitoring
 * starter), so hive_actor_start returns -HIVE_EINIT with the reason. If
 * init crashes, the starter's monitor fires (or its EXIT comes) and the
 * result is the same; a linked, non-trapping starter then dies with it, as
 * in Erlang.
 *
 * The loop. The actor's process entry is actor_main(): the first run does
 * the start-up above, every run then loops: take the oldest message (only
 * system messages while suspended), answer system messages, hand the rest to
 * handle(). When nothing is there the wait is hive__receive_or_release(): the
 * fiber is abandoned and its stack goes back to the worker's pool; the next
 * message makes the process runnable again and it starts afresh in
 * actor_main(), which finds a->running and goes straight to the loop. So
 * every piece of state the loop needs lives in the actor struct, never on
 * the stack across a wait. A handler blocked in hive_call (or any receive)
 * keeps its stack: only the loop's own wait releases it.
 *
 * System messages carry HIVE__TAG_SYSTEM (reserved: users cannot send one)
 * and a request {op, reason}; they are calls (reply alias), except stop,
 * whose sender waits for the DOWN instead (OTP's proc_lib:stop).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/call.h"
#include "core/process.h"
#include "core/registry.h"
#include "mailbox/alloc.h"
#include "mailbox/message.h"
#include <hive/actor.h>
#include <hive/link.h>
#include <hive/registry.h>

#define DEFAULT_INIT_TIMEOUT_MS 5000

enum { SYS_GET_STATE = 1, SYS_GET_STATUS, SYS_SUSPEND, SYS_RESUME, SYS_STOP };

/* Lives in the actor's process allocation (hive__proc_attach), so an idle
 * actor is one block: keep it small (64 bytes: with the 384-byte process,
 * 448, a jemalloc size class). */
typedef struct actor {
    hive_actor_handle_fn handle;
    hive_actor_terminate_fn terminate;
    union {
        void *arg;   /* until init */
        void *state; /* from init on */
    };
    hive_pid_t starter;
    union {
        struct { /* until running */
            hive_actor_init_fn init;
            uint64_t ack_alias;
            const char *name; /* spec->name: valid until the ack (the starter waits) */
        };
        uint64_t handled; /* from running on (over init, which is done) */
    };
    bool running;     /* init done: the loop is all that is left */
    bool suspended;
    bool trap_exits;
    bool link;
    bool by_link; /* the starter learns of our end from the link (no monitor) */
} actor_t;

_Static_assert(sizeof(actor_t) <= 64, "an idle actor should stay in one 448-byte block");
#if !HIVE_ASAN && !HIVE_TSAN && defined(__LP64__)
_Static_assert(sizeof(hive__proc_t) + sizeof(actor_t) <= 448,
               "an idle actor should stay in one 448-byte block (bench idle_actors)");
#endif

#define ACTOR_SUBJECT_TAG HIVE__ACTOR_SUBJECT_TAG

typedef struct ack {
    int rc;
    hive_reason_t reason;
} ack_t;

typedef struct sys_req {
    uint32_t op;
    hive_reason_t reason; /* SYS_STOP */
} sys_req_t;

typedef struct sys_reply {
    int rc;
    hive_actor_status_t status;
} sys_reply_t;

static void actor_main(void *arg);

static actor_t *self_actor(void)
{
    hive__proc_t *p = hive__proc_self();
    return p && p->fn == actor_main ? hive__proc_attach(p) : NULL;
}

HIVE_API hive_next_t hive_stop_abnormal(hive_reason_t reason)
{
    /* The reason waits in the process's own exit reason until the loop
     * ends the actor (at once, when the handler returns). */
    hive__proc_t *p = hive__proc_self();
    if (self_actor())
        hive__proc_set_reason(p, &reason);
    hive_next_t n = {0, HIVE_NEXT_STOP_ABNORMAL};
    return n;
}

static _Noreturn void actor_end(actor_t *a, const hive_reason_t *reason)
{
    hive_reason_t r = *reason;
    if (a->terminate)
        a->terminate(a->state, &r);
    hive_exit(r);
    __builtin_unreachable();
}

/* ---- system messages ---------------------------------------------------- */

static void sys_handle(actor_t *a, hive_msg_t *m)
{
    sys_req_t req = {0};
    if (hive_msg_size(m) == sizeof req)
        memcpy(&req, hive_msg_data(m), sizeof req);
    sys_reply_t r = {0};
    switch (req.op) {
    case SYS_GET_STATE:
        r.status.state = a->state;
        break;
    case SYS_GET_STATUS:
        r.status.pid = hive_self();
        hive__registry_name_of(hive__proc_self(), r.status.name, sizeof r.status.name);
        r.status.suspended = a->suspended;
        r.status.handled = a->handled;
        r.status.state = a->state;
        break;
    case SYS_SUSPEND:
        a->suspended = true;
        break;
    case SYS_RESUME:
        a->suspended = false;
        break;
    case SYS_STOP:
        hive_msg_free(m);
        actor_end(a, &req.reason);
    default:
        r.rc = -EOPNOTSUPP;
        break;
    }
    if (hive_msg_is_call(m))
        hive_reply(m, &r, sizeof r);
    hive_msg_free(m);
}

static int sys_call(hive_pid_t pid, uint32_t op, int64_t timeout_ms, sys_reply_t *out)
{
    hive__proc_enter();
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    sys_req_t req = {.op = op};
    hive_msg_t *m = hive__msg_new_bytes(HIVE__TAG_SYSTEM, hive_self(), &req, sizeof req);
    if (!m)
        return -ENOMEM;
    hive_msg_t *reply;
    int rc = hive__call_msg(hive_subject(pid, HIVE__TAG_SYSTEM), m, timeout_ms, &reply, NULL);
    if (rc)
        return rc;
    sys_reply_t r = {.rc = -EPROTO};
    if (hive_msg_size(reply) == sizeof r)
        memcpy(&r, hive_msg_data(reply), sizeof r);
    hive_msg_free(reply);
    if (out)
        *out = r;
    return r.rc;
}

HIVE_API int hive_sys_get_state(hive_pid_t actor, int64_t timeout_ms, void **state)
{
    if (!state)
        return -EINVAL;
    sys_reply_t r;
    int rc = sys_call(actor, SYS_GET_STATE, timeout_ms, &r);
    if (rc == 0)
        *state = r.status.state;
    return rc;
}

HIVE_API int hive_sys_get_status(hive_pid_t actor, int64_t timeout_ms,
                                 hive_actor_status_t *status)
{
    if (!status)
        return -EINVAL;
    sys_reply_t r;
    int rc = sys_call(actor, SYS_GET_STATUS, timeout_ms, &r);
    if (rc == 0)
        *status = r.status;
    return rc;
}

HIVE_API int hive_sys_suspend(hive_pid_t actor, int64_t timeout_ms)
{
    return sys_call(actor, SYS_SUSPEND, timeout_ms, NULL);
}

HIVE_API int hive_sys_resume(hive_pid_t actor, int64_t timeout_ms)
{
    return sys_call(actor, SYS_RESUME, timeout_ms, NULL);
}

HIVE_API int hive_sys_request(hive_pid_t actor, uint32_t op, int64_t timeout_ms)
{
    if (op == SYS_STOP)
        return -EINVAL; /* hive_actor_stop: it waits for the end, not a reply */
    return sys_call(actor, op, timeout_ms, NULL);
}

HIVE_API int hive_actor_stop(hive_pid_t actor, hive_reason_t reason, int64_t timeout_ms)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    hive__proc_enter();
    hive__proc_t *self = hive__proc_self();
    if (!self)
        return -EPERM;
    if (actor == self->pid)
        return -EDEADLK; /* it would wait for its own end */
    hive_ref_t ref;
    int rc = hive__monitor_live(self, actor, &ref); /* -ESRCH: already ended */
    if (rc)
        return rc;
    sys_req_t req = {.op = SYS_STOP, .reason = reason};
    hive_msg_t *m = hive__msg_new_bytes(HIVE__TAG_SYSTEM, hive_self(), &req, sizeof req);
    if (!m) {
        hive_demonitor(ref, HIVE_DEMONITOR_FLUSH);
        return -ENOMEM;
    }
    hive__send_msg(actor, m); /* if it is gone already, the DOWN says so */
    hive_down_info_t d;
    if ((rc = hive__await_down(ref, timeout_ms, &d)) != 0) {
        hive_demonitor(ref, HIVE_DEMONITOR_FLUSH);
        return rc;
    }
    return 0; /* whatever it ended with (noproc is a reason like any other) */
}

/* ---- the actor process -------------------------------------------------- */

static void ack(actor_t *a, int rc, const hive_reason_t *reason)
{
    ack_t k = {.rc = rc};
    if (reason)
        k.reason = *reason;
    hive_send(a->starter, a->ack_alias, &k, sizeof k);
}

/* Init failed cleanly: tell the starter, then end without taking it along. */
static _Noreturn void fail_start(actor_t *a, int rc, const hive_reason_t *reason)
{
    if (a->link && !a->by_link) /* a starter waiting by link wants the EXIT */
        hive_unlink(a->starter);
    ack(a, rc, reason);
    hive_exit(*reason);
    __builtin_unreachable();
}

static void start_up(actor_t *a)
{
    hive_subject_t s;
    hive_subject_new(&s); /* the first: ACTOR_SUBJECT_TAG */
    if (a->trap_exits)
        hive_trap_exits(true);
    if (a->name) {
        int rc = hive_register(a->name, hive_self());
        a->name = NULL; /* the starter's string: not ours to keep */
        if (rc) {
            hive_reason_t r = hive_reason_user(rc, "name taken");
            fail_start(a, rc, &r);
        }
    }
    if (a->init) {
        hive_reason_t fail = {.kind = HIVE_EXIT_USER, .code = 0};
        void *arg = a->arg;
        int rc = a->init(arg, &a->state, &fail);
        if (rc) {
            if (fail.kind == HIVE_EXIT_USER && fail.code == 0 && !fail.text[0])
                fail.code = rc;
            fail_start(a, -HIVE_EINIT, &fail);
        }
    } /* else the state is arg (the same field) */
    a->running = true;
    a->handled = 0; /* over init; ack_alias is still there for the ack */
    ack(a, 0, NULL);
}

/* An EXIT from the linked starter (parent) of a trapping actor ends it. */
static void check_parent_exit(actor_t *a, hive_msg_t *m)
{
    hive_exit_info_t e;
    if (!a->trap_exits || !a->link || hive_exit_info(m, &e) != 0 || e.from != a->starter)
        return;
    hive_msg_free(m);
    actor_end(a, &e.reason);
}

static void actor_main(void *arg)
{
    actor_t *a = arg;
    if (!a->running)
        start_up(a);
    static const uint64_t sys_tag = HIVE__TAG_SYSTEM;
    for (;;) {
        hive_msg_t *m = a->suspended ? hive__receive_or_release(&sys_tag, 1)
                                     : hive__receive_or_release(NULL, 0);
        if (m->tag == HIVE__TAG_SYSTEM) {
            sys_handle(a, m);
            continue;
        }
        if (m->tag == HIVE_TAG_EXIT)
            check_parent_exit(a, m);
        a->handled++;
        hive_next_t next = a->handle(a->state, m);
        hive_msg_free(m);
        if (next.action != HIVE_NEXT_CONTINUE) {
            hive_reason_t r = next.action == HIVE_NEXT_STOP_ABNORMAL
                                  ? *hive__proc_reason(hive__proc_self())
                                  : hive_reason_normal();
            actor_end(a, &r);
        }
        a->state = next.state;
    }
}

/* ---- starting --------------------------------------------------------- */


/* The end of the process a start waits on (w), which a kill or a failed
 * init is bringing: its DOWN, for a monitoring starter. A starter waiting by
 * link (w->ref 0) monitors it now (a rare path: the success path has none)
 * so that a child whose init unlinked itself from us cannot leave us
 * waiting for an EXIT that never comes; its EXIT, if it was linked, is sent
 * before its DOWN (hive__signal_exit), so it is here by then and is taken
 * too. */
static void await_end(const hive__reply_wait_t *w)
{
    hive_ref_t ref = w->ref;
    if (!ref && hive_monitor(w->linked, &ref) != 0) {
        hive__await_exit(w->linked, HIVE_INFINITY, NULL); /* no memory: by the link alone */
        return;
    }
    hive__await_down(ref, HIVE_INFINITY, NULL);
    if (!w->ref)
        hive__await_exit(w->linked, 0, NULL);
}

HIVE_API int hive_actor_start(const hive_actor_spec_t *spec, void *arg, hive_subject_t *subject,
                              hive_reason_t *why)
{
    hive__proc_enter();
    if (!spec || !spec->handle || (spec->name && !spec->name[0]) ||
        !hive__timeout_ok(spec->init_timeout_ms))
        return -EINVAL;
    hive__proc_t *self = hive__proc_self();
    if (!self)
        return -EPERM;
    /* A linked starter that gets EXITs as messages (a supervisor traps
     * exits; a thread always gets them) learns of a death during init from
     * the link, as OTP's proc_lib:start_link does: no monitor to set up,
     * take down and trim for each child (a monitor table in each process,
     * made and freed). Any other starter monitors. A child whose init
     * unlinks itself from us and then dies is noticed only at the init
     * timeout (the start then fails with -ETIMEDOUT): OTP's start_link
     * would wait for ever. */
    bool by_link = spec->link && (self->trap_exit || self->is_thread);
    actor_t a = {
        .init = spec->init,
        .handle = spec->handle,
        .terminate = spec->terminate,
        .arg = arg,
        .starter = self->pid,
        .trap_exits = spec->trap_exits,
        .link = spec->link,
        .by_link = by_link,
        .name = spec->name,
    };
    hive__reply_wait_t w = {.alias = hive__alias_new(self)};
    if (!w.alias)
        return -ENOMEM;
    a.ack_alias = w.alias;
    hive_spawn_opts_t opts = spec->spawn ? *spec->spawn : (hive_spawn_opts_t){.worker = -1};
    opts.link = spec->link;
    opts.monitor = !by_link;
    opts.monitor_ref = by_link ? NULL : &w.ref;
    hive_pid_t pid;
    int rc = hive__spawn_attached(actor_main, &opts, &a, sizeof a, &pid);
    if (rc) {
        hive__alias_drop(self, w.alias);
        return rc;
    }
    w.linked = pid;
    int64_t timeout = spec->init_timeout_ms ? spec->init_timeout_ms : DEFAULT_INIT_TIMEOUT_MS;
    hive_msg_t *m;
    rc = hive__await_reply(&w, timeout, &m);
    if (rc) {
        /* Timed out (half-started), or no timer could be had. Unlink first
         * (monitoring starter) so that the kill does not reach us; wait for
         * the end (a kill cannot be trapped), as the failure path below
         * does: a name it took is free again, and it no longer reads
         * spec->name, once we return. */
        if (!by_link && spec->link)
            hive_unlink(pid);
        hive_kill(pid);
        await_end(&w);
        hive__alias_drop(self, w.alias);
        if (why && rc == -ETIMEDOUT)
            *why = (hive_reason_t){.kind = HIVE_EXIT_KILLED};
        return rc;
    }
    if (m->tag == w.alias) {
        ack_t k = {.rc = -EPROTO};
        if (hive_msg_size(m) == sizeof k)
            memcpy(&k, hive_msg_data(m), sizeof k);
        hive_msg_free(m);
        hive__alias_drop(self, w.alias);
        if (k.rc == 0) {
            if (!by_link) {
                hive_demonitor(w.ref, HIVE_DEMONITOR_FLUSH);
                hive__sig_trim(pid); /* an idle actor keeps no empty monitor table */
            }
            if (subject)
                *subject = hive_subject(pid, ACTOR_SUBJECT_TAG);
            return 0;
        }
        /* Failed: wait for the end, so that a name it took is free again
         * and a restart right away does not find it still alive. */
        await_end(&w);
        if (why)
            *why = k.reason;
        return k.rc;
    }
    /* DOWN (EXIT): it died during init (crashed, or was killed). */
    hive_reason_t reason;
    if (by_link) {
        hive_exit_info_t e;
        hive_exit_info(m, &e);
        reason = e.reason;
    } else {
        hive_down_info_t d;
        hive_down_info(m, &d);
        reason = d.reason;
    }
    hive_msg_free(m);
    hive__alias_drop(self, w.alias);
    if (why)
        *why = reason;
    return -HIVE_EINIT;
}
