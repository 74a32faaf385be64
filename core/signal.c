/* signal.c - links, monitors and exit signals, with Erlang's semantics
 * (see include/hive/link.h).
 *
 * Who touches what: a process's `links` and `monitored_by` are changed by
 * others (they link to it, monitor it) under its sig_lock; its exit takes
 * both maps under that lock in the same critical section that marks it
 * dead. So a link or monitor set up concurrently with an exit is either
 * taken by the exit (and fired) or finds the process dead (and the caller
 * gets `noproc`): every link and monitor fires exactly once.
 *
 * Signals are messages of a signal kind in the receiver's mailbox, acted on
 * by the receiver at its next hive call (hive__signal_take): an exit signal
 * through a link counts only if the receiver still has that link (so after
 * hive_unlink nothing from the old link arrives), and a DOWN only if the
 * receiver still monitors that ref (so after hive_demonitor none arrives).
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hive/link.h>

#include "core/process.h"
#include "core/registry.h"
#include "mailbox/alloc.h"
#include "mailbox/message.h"
#include "sched/rcu.h"

typedef struct hive__cleanup {
    struct hive__cleanup *next;
    void (*fn)(void *arg, const hive_reason_t *reason);
    void *arg;
} cleanup_t;

/* Refs need only be unique. Each thread (worker or attached) takes them
 * from a block of its own and goes to the shared counter once per
 * REF_BLOCK refs: a monitor, which every hive_call sets up, writes no line
 * that other cores write (on 64 cores a shared counter per call would be
 * the one contended line of the call path). */
enum { REF_BLOCK = 4096 };
static _Atomic uint64_t next_ref = 1;
/* initial-exec: see tls_worker in sched/worker.c. */
static __thread uint64_t ref_next __attribute__((tls_model("initial-exec")));
static __thread uint64_t ref_end __attribute__((tls_model("initial-exec")));

static uint64_t new_ref(void)
{
    if (ref_next == ref_end) {
        /* relaxed: the counter hands out disjoint blocks; nothing else is
         * published through it. */
        ref_next = atomic_fetch_add_explicit(&next_ref, REF_BLOCK, memory_order_relaxed);
        ref_end = ref_next + REF_BLOCK;
    }
    return ref_next++;
}

/* ---- the signal lock: short critical sections, never across a switch ---- */

void hive__sig_lock(hive__proc_t *p)
{
    for (int spins = 0;; spins++) {
        int expect = 0;
        /* acquire: pairs with the release in hive__sig_unlock(). */
        if (atomic_compare_exchange_weak_explicit(&p->sig_lock, &expect, 1,
                                                  memory_order_acquire, memory_order_relaxed))
            return;
        if (spins > 64)
            sched_yield(); /* the holder may be preempted (more workers than cores) */
    }
}

void hive__sig_unlock(hive__proc_t *p)
{
    /* release: publishes the maps changed under the lock. */
    atomic_store_explicit(&p->sig_lock, 0, memory_order_release);
}

/* ---- sending ------------------------------------------------------------ */

bool hive__signal_send(hive_pid_t to, uint32_t kind, const void *data, size_t len)
{
    hive__proc_t *p = hive__proc_lookup(to);
    if (!p)
        return false;
    hive_msg_t *m = hive__msg_new_bytes(0, HIVE_PID_NONE, data, len);
    if (!m) {
        /* Out of memory for a signal: the one thing that must not be lost.
         * Spin until the allocator recovers rather than break the semantics. */
        while (!(m = hive__msg_new_bytes(0, HIVE_PID_NONE, data, len)))
            sched_yield();
    }
    m->kind = kind;
    m->tag = kind == HIVE__MSG_SIG_DOWN ? HIVE_TAG_DOWN : HIVE_TAG_EXIT;
    m->from = kind == HIVE__MSG_SIG_DOWN ? ((const hive_down_info_t *)data)->pid
                                        : ((const hive_exit_info_t *)data)->from;
    hive__proc_deliver_signal(p, m);
    return true;
}

static void exit_signal(hive_pid_t to, uint32_t kind, hive_pid_t from, const hive_reason_t *r)
{
    hive_exit_info_t info = {.from = from, .reason = *r};
    hive__signal_send(to, kind, &info, sizeof info);
}

static void down_signal(hive_pid_t to, hive_ref_t ref, hive_pid_t pid, const hive_reason_t *r)
{
    hive_down_info_t info = {.ref = ref, .pid = pid, .reason = *r};
    hive__signal_send(to, HIVE__MSG_SIG_DOWN, &info, sizeof info);
}

static const hive_reason_t noproc = {.kind = HIVE_EXIT_NOPROC};

/* ---- receiving ---------------------------------------------------------- */

static _Noreturn void die(hive__proc_t *p, hive_msg_t *m, const hive_reason_t *r)
{
    hive__proc_set_reason(p, r);
    hive__msg_discard(m);
    hive__fiber_exit(&p->task.fiber);
}

hive_msg_t *hive__signal_take(hive__proc_t *p, hive_msg_t *m)
{
    uint32_t kind = m->kind;
    m->kind = HIVE__MSG_BYTES; /* as a message, if it becomes one */
    if (kind == HIVE__MSG_SIG_DOWN) {
        hive_down_info_t d;
        memcpy(&d, m->data, sizeof d);
        if (!hive__idmap_del(&p->monitoring, d.ref, NULL)) {
            hive__msg_discard(m); /* demonitored meanwhile */
            return NULL;
        }
        if (d.ref == p->call_ref) {
            /* The monitor a call left for the next one (call.c): news to
             * a call waiting on it, to nobody else. Used up either way. */
            p->call_ref = 0;
            if (!p->calling) {
                hive__msg_discard(m);
                return NULL;
            }
        }
        return m;
    }
    hive_exit_info_t e;
    memcpy(&e, m->data, sizeof e);
    if (kind == HIVE__MSG_SIG_LINK_EXIT) {
        hive__sig_lock(p);
        bool linked = hive__idmap_del(&p->links, e.from, NULL);
        hive__sig_unlock(p);
        if (!linked) {
            hive__msg_discard(m); /* unlinked meanwhile */
            return NULL;
        }
    } else if (e.reason.kind == HIVE_EXIT_KILLED && !p->is_thread) {
        die(p, m, &e.reason); /* kill: cannot be trapped */
    }
    if (p->trap_exit || p->is_thread)
        return m; /* EXIT message */
    if (e.reason.kind == HIVE_EXIT_NORMAL) {
        hive__msg_discard(m);
        return NULL;
    }
    die(p, m, &e.reason); /* the cascade */
}

/* ---- the end of a process ----------------------------------------------- */

/* Take monitor ref off target's list of watchers (a read-side section). */
static void unwatch(hive_pid_t target, uint64_t ref)
{
    hive__proc_t *t = hive__proc_lookup(target);
    if (t) {
        hive__sig_lock(t);
        hive__idmap_del(&t->monitored_by, ref, NULL);
        hive__sig_unlock(t);
    }
}

void hive__signal_exit(hive__proc_t *p)
{
    /* Cleanup handlers first, newest first, while names and links still
     * stand (a handler may want to tell someone). */
    while (p->cleanups) {
        cleanup_t *c = p->cleanups;
        p->cleanups = c->next;
        c->fn(c->arg, hive__proc_reason(p));
        hive__free(c, sizeof *c);
    }
    /* Messages it held, before anyone hears of the death (a DOWN must not
     * arrive while what the dead process held is still unfreed). */
    hive__msg_free_held(&p->held);
    /* The name goes before the process is seen dead, so a name is free
     * again by the time hive_is_alive() says false (registry.h). */
    hive__registry_drop(p);
    hive__sig_lock(p);
    /* seq_cst: under the lock, dead before anyone can add a link or monitor
     * we would not fire; after the name went (see above). */
    atomic_store_explicit(&p->alive, false, memory_order_seq_cst);
    hive__idmap_t links = hive__idmap_take(&p->links);
    hive__idmap_t mons = hive__idmap_take(&p->monitored_by);
    hive__sig_unlock(p);

    uint32_t pos = 0;
    uint64_t key, val;
    while (hive__idmap_next(&links, &pos, &key, NULL))
        exit_signal(key, HIVE__MSG_SIG_LINK_EXIT, p->pid, hive__proc_reason(p));
    pos = 0;
    while (hive__idmap_next(&mons, &pos, &key, &val))
        down_signal(val, key, p->pid, hive__proc_reason(p));
    /* Monitors we hold: remove them from their targets, which would
     * otherwise keep them until they end. */
    pos = 0;
    while (hive__idmap_next(&p->monitoring, &pos, &key, &val))
        unwatch(val, key);
    hive__idmap_free(&links);
    hive__idmap_free(&mons);
    hive__idmap_free(&p->monitoring);
}

/* ---- the API ---------------------------------------------------------- */

/* Link p (the caller) and pid. */
static int link_to(hive__proc_t *p, hive_pid_t pid)
{
    hive__sig_lock(p);
    int rc = hive__idmap_put(&p->links, pid, 0);
    hive__sig_unlock(p);
    if (rc)
        return rc;
    hive__proc_t *t = hive__proc_lookup(pid);
    bool linked = false;
    if (t) {
        hive__sig_lock(t);
        /* acquire: alive only turns false under this lock; relaxed would do,
         * acquire documents that we read it under the lock. */
        if (atomic_load_explicit(&t->alive, memory_order_acquire))
            linked = (rc = hive__idmap_put(&t->links, p->pid, 0)) == 0;
        hive__sig_unlock(t);
    }
    if (!linked) {
        hive__sig_lock(p);
        hive__idmap_del(&p->links, pid, NULL);
        hive__sig_unlock(p);
        if (rc)
            return rc;
        /* Erlang: linking to a process that does not exist sends the caller
         * an exit signal `noproc` (through the link, so it may be trapped). */
        hive__sig_lock(p);
        hive__idmap_put(&p->links, pid, 0);
        hive__sig_unlock(p);
        exit_signal(p->pid, HIVE__MSG_SIG_LINK_EXIT, pid, &noproc);
    }
    return 0;
}

HIVE_API int hive_link(hive_pid_t pid)
{
    hive__proc_t *p = hive__proc_enter();
    if (!p)
        return -EPERM;
    if (pid == p->pid)
        return -EINVAL;
    hive__rcu_enter();
    int rc = link_to(p, pid);
    hive__rcu_leave();
    hive__task_charge(1);
    hive__proc_checkpoint(p);
    return rc;
}

HIVE_API int hive_unlink(hive_pid_t pid)
{
    hive__proc_t *p = hive__proc_enter();
    if (!p)
        return -EPERM;
    hive__sig_lock(p);
    hive__idmap_del(&p->links, pid, NULL);
    hive__idmap_trim(&p->links);
    hive__sig_unlock(p);
    hive__rcu_enter();
    hive__proc_t *t = hive__proc_lookup(pid);
    if (t) {
        hive__sig_lock(t);
        hive__idmap_del(&t->links, p->pid, NULL);
        hive__idmap_trim(&t->links); /* an idle process keeps no empty table */
        hive__sig_unlock(t);
    }
    hive__rcu_leave();
    hive__task_charge(1);
    hive__proc_checkpoint(p);
    return 0;
}

int hive__unlink_monitor(hive_pid_t pid, hive_ref_t *ref)
{
    hive__proc_t *p = hive__proc_enter();
    if (!p)
        return -EPERM;
    uint64_t r = new_ref();
    if (hive__idmap_put(&p->monitoring, r, pid) != 0)
        return -ENOMEM;
    hive__sig_lock(p);
    hive__idmap_del(&p->links, pid, NULL);
    hive__idmap_trim(&p->links);
    hive__sig_unlock(p);
    int rc = -ESRCH;
    hive__rcu_enter();
    hive__proc_t *t = hive__proc_lookup(pid);
    if (t) {
        /* One critical section for both: t's end sees the monitor and not
         * the link, or has already taken both maps (then our EXIT is on
         * its way and the monitor fires noproc, as below). */
        hive__sig_lock(t);
        hive__idmap_del(&t->links, p->pid, NULL);
        /* acquire: see link_to(). */
        if (atomic_load_explicit(&t->alive, memory_order_acquire)) {
            /* A supervised child's only link was to us: its emptied table
             * becomes its watcher table (no allocation, no free). */
            hive__idmap_adopt(&t->monitored_by, &t->links);
            rc = hive__idmap_put(&t->monitored_by, r, p->pid);
        }
        hive__idmap_trim(&t->links); /* an idle process keeps no empty table */
        hive__sig_unlock(t);
    }
    if (rc == -ESRCH)
        down_signal(p->pid, r, pid, &noproc); /* gone already: DOWN at once */
    hive__rcu_leave();
    if (rc && rc != -ESRCH) {
        hive__idmap_del(&p->monitoring, r, NULL);
        return rc;
    }
    *ref = r;
    hive__task_charge(1);
    hive__proc_checkpoint(p);
    return 0;
}

HIVE_API int hive_spawn_link(hive_fn_t fn, void *arg, hive_pid_t *pid)
{
    hive_spawn_opts_t o = {.worker = -1, .link = true};
    return hive_spawn_opts(fn, arg, &o, pid);
}

int hive__signal_spawn_opts(hive__proc_t *parent, hive__proc_t *child, bool link, bool monitor,
                            uint64_t *ref)
{
    if (monitor && !ref)
        return -EINVAL; /* as hive_monitor: a DOWN whose ref no one knows */
    /* The child is not published yet: its maps are ours alone. */
    if (link) {
        int rc = hive__idmap_put(&child->links, parent->pid, 0);
        if (rc)
            return rc;
        hive__sig_lock(parent);
        rc = hive__idmap_put(&parent->links, child->pid, 0);
        hive__sig_unlock(parent);
        if (rc)
            return rc;
    }
    if (monitor) {
        uint64_t r = new_ref();
        if (hive__idmap_put(&child->monitored_by, r, parent->pid) != 0 ||
            hive__idmap_put(&parent->monitoring, r, child->pid) != 0) {
            if (link) {
                hive__sig_lock(parent);
                hive__idmap_del(&parent->links, child->pid, NULL);
                hive__sig_unlock(parent);
            }
            return -ENOMEM;
        }
        if (ref)
            *ref = r;
    }
    return 0;
}

int hive__monitor_proc(hive__proc_t *p, hive__proc_t *t, hive_ref_t *ref)
{
    uint64_t r = new_ref();
    if (hive__idmap_put(&p->monitoring, r, t->pid) != 0)
        return -ENOMEM;
    int rc = -ESRCH;
    hive__sig_lock(t);
    /* acquire: see link_to(). */
    if (atomic_load_explicit(&t->alive, memory_order_acquire))
        rc = hive__idmap_put(&t->monitored_by, r, p->pid);
    hive__sig_unlock(t);
    if (rc) {
        hive__idmap_del(&p->monitoring, r, NULL);
        return rc;
    }
    *ref = r;
    return 0;
}

int hive__monitor_live(hive__proc_t *p, hive_pid_t pid, uint64_t *ref)
{
    hive__rcu_enter();
    hive__proc_t *t = hive__proc_lookup(pid);
    int rc = t ? hive__monitor_proc(p, t, ref) : -ESRCH;
    hive__rcu_leave();
    return rc;
}

HIVE_API int hive_monitor(hive_pid_t pid, hive_ref_t *ref)
{
    hive__proc_t *p = hive__proc_enter();
    if (!p)
        return -EPERM;
    if (!ref)
        return -EINVAL;
    int rc = hive__monitor_live(p, pid, ref);
    if (rc == -ESRCH) {
        /* Gone already: the monitor fires at once, DOWN noproc (sent to
         * ourselves through a lookup: inside a read section). */
        uint64_t r = new_ref();
        rc = hive__idmap_put(&p->monitoring, r, pid);
        if (rc == 0) {
            *ref = r;
            hive__rcu_enter();
            down_signal(p->pid, r, pid, &noproc);
            hive__rcu_leave();
        }
    }
    if (rc)
        return rc;
    hive__task_charge(1);
    hive__proc_checkpoint(p);
    return 0;
}

void hive__demonitor_quiet(hive__proc_t *p, hive_ref_t ref)
{
    uint64_t pid;
    if (!hive__idmap_del(&p->monitoring, ref, &pid))
        return; /* fired (its DOWN taken) or never set */
    hive__rcu_enter();
    unwatch(pid, ref);
    hive__rcu_leave();
}

HIVE_API int hive_demonitor(hive_ref_t ref, int flags)
{
    hive__proc_t *p = hive__proc_enter();
    if (!p)
        return -EPERM;
    hive__demonitor_quiet(p, ref);
    /* A DOWN signal still queued is dropped when met (the ref is gone); one
     * already turned into a message is removed by a flush. */
    if (flags & HIVE_DEMONITOR_FLUSH)
        hive__proc_flush_down(p, ref);
    return 0;
}

bool hive__linked_to(hive__proc_t *p, hive_pid_t pid)
{
    hive__sig_lock(p);
    bool linked = hive__idmap_get(&p->links, pid, NULL);
    hive__sig_unlock(p);
    return linked;
}

int hive__links_reserve(hive__proc_t *p, uint32_t n)
{
    hive__sig_lock(p);
    int rc = hive__idmap_reserve(&p->links, n);
    hive__sig_unlock(p);
    return rc;
}

void hive__sig_trim(hive_pid_t pid)
{
    hive__rcu_enter();
    hive__proc_t *t = hive__proc_lookup(pid);
    if (t) {
        hive__sig_lock(t);
        hive__idmap_trim(&t->monitored_by);
        hive__idmap_trim(&t->links);
        hive__sig_unlock(t);
    }
    hive__rcu_leave();
}

HIVE_API int hive_trap_exits(bool on)
{
    hive__proc_t *p = hive__proc_self();
    if (!p)
        return -EPERM;
    bool old = p->trap_exit;
    p->trap_exit = on;
    return old;
}

HIVE_API int hive_send_exit(hive_pid_t pid, hive_reason_t reason)
{
    hive__proc_t *self = hive__proc_enter();
    hive_pid_t from = self ? self->pid : HIVE_PID_NONE;
    hive__rcu_enter();
    hive_exit_info_t info = {.from = from, .reason = reason};
    bool sent = hive__signal_send(pid, HIVE__MSG_SIG_EXIT, &info, sizeof info);
    hive__rcu_leave();
    hive__task_charge(1);
    hive__proc_checkpoint(self); /* a process may have signalled itself */
    return sent ? 0 : -ESRCH;
}

HIVE_API int hive_kill(hive_pid_t pid)
{
    return hive_send_exit(pid, (hive_reason_t){.kind = HIVE_EXIT_KILLED});
}

HIVE_API int hive_panic(const char *fmt, ...)
{
    hive__proc_t *p = hive__proc_self();
    if (!p || p->is_thread)
        return -EPERM;
    hive_reason_t r = {.kind = HIVE_EXIT_PANIC};
    va_list ap;
    va_start(ap, fmt);
    if (fmt)
        vsnprintf(r.text, sizeof r.text, fmt, ap);
    va_end(ap);
    return hive_exit(r);
}

HIVE_API int hive_on_exit(void (*fn)(void *arg, const hive_reason_t *reason), void *arg)
{
    hive__proc_t *p = hive__proc_self();
    if (!p || p->is_thread)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    cleanup_t *c = hive__alloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fn = fn;
    c->arg = arg;
    c->next = p->cleanups;
    p->cleanups = c;
    return 0;
}

HIVE_API int hive_exit_info(const hive_msg_t *m, hive_exit_info_t *out)
{
    if (!m || !out || m->tag != HIVE_TAG_EXIT || m->kind != HIVE__MSG_BYTES ||
        m->len != sizeof *out)
        return -EINVAL;
    memcpy(out, m->data, sizeof *out);
    return 0;
}

HIVE_API int hive_down_info(const hive_msg_t *m, hive_down_info_t *out)
{
    if (!m || !out || m->tag != HIVE_TAG_DOWN || m->kind != HIVE__MSG_BYTES ||
        m->len != sizeof *out)
        return -EINVAL;
    memcpy(out, m->data, sizeof *out);
    return 0;
}
