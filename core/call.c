/* call.c - subjects, calls and replies, selectors (hive/subject.h).
 *
 * A subject is {pid, tag}; fresh subject tags and reply aliases come from
 * per-process counters (process.h): they need only be unique among the tags
 * of the one process they address, so making one costs no shared write.
 *
 * A call (Erlang's gen:call with an alias):
 *   1. take a fresh alias (active in the caller's alias set) and monitor the
 *      callee (one lookup of the callee serves this and step 2);
 *   2. send the request, carrying the alias in the message's reply field;
 *   3. receive the oldest message that is the reply (tag = alias) or the
 *      DOWN of that monitor, with the timeout;
 *   4. drop the alias (no flush needed: see hive__call_msg).
 * A reply sent after step 4 reaches a process whose alias set no longer holds
 * the tag, and the receiving side frees it when it pops it (process.c's
 * stale_reply): a late reply never shows up in the caller's mailbox. The
 * monitor is what turns "the callee died" into an error instead of a hang.
 *
 * The monitor outlives the call: a client calls the same server again and
 * again, and a monitor made and removed per call took two spin locks on the
 * callee and four hash-table operations (60-80 ns of a ~280 ns call here).
 * So the caller keeps its last call's monitor (p->call_ref) and reuses it
 * when it next calls the same process, and replaces it when it calls
 * another. Its DOWN is only news during a call: signal.c hands it to the
 * waiting call (p->calling), and at any other time drops it when popped and
 * forgets the cache, so a user never sees a DOWN it did not ask for. The
 * callee's watcher list holds one entry per caller that last called it and
 * is still busy: the monitor goes when that caller ends (its monitors are
 * undone at exit), moves on to another callee, or - an actor - goes idle
 * without a stack (process.c): a server called once by a million idle
 * actors does not keep a million watchers, nor wake them all when it ends.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core/call.h"
#include "core/process.h"
#include "mailbox/alloc.h"
#include "mailbox/message.h"
#include "sched/rcu.h"
#include <hive/link.h>
#include <hive/subject.h>

/* ---- subjects ------------------------------------------------------- */

HIVE_API int hive_subject_new(hive_subject_t *out)
{
    if (!out)
        return -EINVAL;
    hive__proc_t *p = hive__proc_self();
    if (!p)
        return -EPERM;
    out->pid = p->pid;
    out->tag = HIVE_TAG_SUBJECT_BASE + ++p->next_subject;
    return 0;
}

HIVE_API int hive_subject_send(hive_subject_t s, const void *data, size_t len)
{
    return hive_send(s.pid, s.tag, data, len);
}

HIVE_API int hive_subject_send_ptr(hive_subject_t s, void *ptr, void (*dtor)(void *))
{
    return hive_send_ptr(s.pid, s.tag, ptr, dtor);
}

HIVE_API int hive_subject_receive(hive_subject_t s, int64_t timeout_ms, hive_msg_t **out)
{
    if (!out)
        return -EINVAL;
    if (s.pid != hive_self() || s.pid == HIVE_PID_NONE)
        return -EPERM;
    return hive_receive_tag(s.tag, timeout_ms, out);
}

static int copy_out(hive_msg_t *m, void *out, size_t size)
{
    int rc = 0;
    if (hive_msg_size(m) != size)
        rc = -EMSGSIZE;
    else
        hive__msg_copy(out, hive_msg_data(m), size);
    hive_msg_free(m);
    return rc;
}

HIVE_API int hive_subject_receive_copy(hive_subject_t s, void *out, size_t size,
                                       int64_t timeout_ms)
{
    if (!out && size)
        return -EINVAL;
    hive_msg_t *m;
    int rc = hive_subject_receive(s, timeout_ms, &m);
    return rc ? rc : copy_out(m, out, size);
}

/* ---- calls ------------------------------------------------------------ */

static bool is_exit_from(const hive_msg_t *m, hive_pid_t pid)
{
    hive_exit_info_t e;
    return hive_exit_info(m, &e) == 0 && e.from == pid;
}

static bool is_reply_or_down(const hive_msg_t *m, void *ctx)
{
    const hive__reply_wait_t *w = ctx;
    if (m->tag == w->alias)
        return true;
    if (!w->ref)
        return is_exit_from(m, w->linked);
    hive_down_info_t d;
    return hive_down_info(m, &d) == 0 && d.ref == w->ref;
}

int hive__await_reply(const hive__reply_wait_t *w, int64_t timeout_ms, hive_msg_t **out)
{
    /* The tags let only the two by; the predicate picks our DOWN (EXIT). */
    const uint64_t tags[2] = {w->alias, w->ref ? HIVE_TAG_DOWN : HIVE_TAG_EXIT};
    return hive__receive_answer(tags, 2, is_reply_or_down, (void *)w, timeout_ms, out);
}

static bool is_exit_of(const hive_msg_t *m, void *ctx)
{
    return is_exit_from(m, *(const hive_pid_t *)ctx);
}

int hive__await_exit(hive_pid_t pid, int64_t timeout_ms, hive_exit_info_t *out)
{
    /* A look (timeout 0) at nothing queued finds nothing: spare it the
     * receive (a supervisor looks once per child it stops). */
    if (timeout_ms == 0 && hive__proc_nothing_queued())
        return -ETIMEDOUT;
    const uint64_t tag = HIVE_TAG_EXIT;
    hive_msg_t *m;
    int rc = hive__receive(&tag, 1, is_exit_of, &pid, timeout_ms, &m);
    if (rc)
        return rc;
    if (out)
        hive_exit_info(m, out);
    hive_msg_free(m);
    return 0;
}

static bool is_down_of(const hive_msg_t *m, void *ctx)
{
    hive_down_info_t d;
    return hive_down_info(m, &d) == 0 && d.ref == *(const hive_ref_t *)ctx;
}

int hive__await_down(hive_ref_t ref, int64_t timeout_ms, hive_down_info_t *out)
{
    const uint64_t tag = HIVE_TAG_DOWN;
    hive_msg_t *m;
    int rc = hive__receive_answer(&tag, 1, is_down_of, &ref, timeout_ms, &m);
    if (rc)
        return rc;
    if (out)
        hive_down_info(m, out);
    hive_msg_free(m);
    return 0;
}

void hive__call_monitor_drop(hive__proc_t *p)
{
    if (p->call_ref) {
        hive__demonitor_quiet(p, p->call_ref);
        p->call_ref = 0;
    }
}

/* The monitor for a call from p to t (inside a read-side section): the one
 * the last call left if it watches t, else a new one (the old one, on
 * another process, is removed). 0 with *ref, or monitor_proc's error. */
static int call_monitor(hive__proc_t *p, hive__proc_t *t, hive_ref_t *ref)
{
    if (p->call_ref) {
        uint64_t watched;
        /* acquire: as monitor_proc's check under t's lock; a callee seen
         * ending gets the slow path, whose monitor says noproc. */
        if (hive__idmap_get(&p->monitoring, p->call_ref, &watched) && watched == t->pid &&
            atomic_load_explicit(&t->alive, memory_order_acquire)) {
            *ref = p->call_ref;
            return 0;
        }
        hive__call_monitor_drop(p);
    }
    int rc = hive__monitor_proc(p, t, ref);
    if (rc == 0)
        p->call_ref = *ref;
    return rc;
}

int hive__call_msg(hive_subject_t s, hive_msg_t *m, int64_t timeout_ms, hive_msg_t **reply,
                   hive_reason_t *why)
{
    hive__proc_t *p = hive__proc_self();
    if (!p || s.pid == p->pid) {
        hive__msg_discard(m);
        return p ? -EDEADLK : -EPERM; /* calling yourself can only hang */
    }
    hive__reply_wait_t w = {.alias = hive__alias_new(p)};
    if (!w.alias) {
        hive__msg_discard(m);
        return -ENOMEM;
    }
    m->reply = w.alias;
    /* One lookup for the monitor and the send. A fiber process runs on a
     * worker, which is always an RCU reader. */
    if (p->is_thread)
        hive__rcu_enter();
    hive__proc_t *t = hive__proc_lookup(s.pid);
    int rc = t ? call_monitor(p, t, &w.ref) : -ESRCH;
    if (rc == 0)
        hive__proc_deliver(t, m);
    if (p->is_thread)
        hive__rcu_leave();
    if (rc) {
        /* Gone before the request got there (or no memory): nothing was
         * set up and nothing is queued. */
        hive__alias_end(p, w.alias);
        hive__msg_discard(m);
        if (why && rc == -ESRCH)
            *why = (hive_reason_t){.kind = HIVE_EXIT_NOPROC};
        return rc;
    }
    hive_msg_t *got;
    p->calling = true;
    rc = hive__await_reply(&w, timeout_ms, &got);
    p->calling = false;
    /* Nothing is taken from the mailbox between the await and here, and
     * the await returns the first message that is our reply or our DOWN:
     * neither waits in the skipped list now. So the alias needs no walk of
     * it: a reply still in the mailbox is dropped when met (alias
     * inactive). The monitor stays for the next call (see the top); a DOWN
     * the await returned has used it up, and signal.c forgot it. (A kill
     * ends us inside the await with `calling` still set: the monitor goes
     * with the rest at exit.) */
    hive__alias_end(p, w.alias);
    if (rc == 0 && got->tag == w.alias) {
        *reply = got;
    } else if (rc == 0) {
        hive_down_info_t d;
        hive_down_info(got, &d);
        hive_msg_free(got);
        if (why)
            *why = d.reason;
        rc = d.reason.kind == HIVE_EXIT_NOPROC ? -ESRCH : -ECONNRESET;
    }
    return rc;
}

/* 0 with *self set, or the error. */
static int check_call(hive_subject_t s, size_t len, const void *req, hive_msg_t **reply,
                      hive__proc_t **self)
{
    *self = hive__proc_enter();
    if (!reply || (len && !req))
        return -EINVAL;
    *reply = NULL;
    if (len > (size_t)hive__proc_max_message_size())
        return -EMSGSIZE;
    if (!*self)
        return -EPERM;
    return s.tag >= HIVE_TAG_RESERVED ? -EINVAL : 0;
}

HIVE_API int hive_call(hive_subject_t s, const void *req, size_t len, int64_t timeout_ms,
                       hive_msg_t **reply, hive_reason_t *why)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    hive__proc_t *self;
    int rc = check_call(s, len, req, reply, &self);
    if (rc)
        return rc;
    hive_msg_t *m = hive__msg_new_bytes(s.tag, self->pid, req, len);
    return m ? hive__call_msg(s, m, timeout_ms, reply, why) : -ENOMEM;
}

HIVE_API int hive_call_ptr(hive_subject_t s, void *req, void (*dtor)(void *),
                           int64_t timeout_ms, hive_msg_t **reply, hive_reason_t *why)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    hive__proc_t *self;
    int rc = check_call(s, 0, NULL, reply, &self);
    if (rc)
        return rc;
    hive_msg_t *m = hive__msg_new_ptr(s.tag, self->pid, req, dtor);
    return m ? hive__call_msg(s, m, timeout_ms, reply, why) : -ENOMEM;
}

HIVE_API int hive_call_copy(hive_subject_t s, const void *req, size_t len, void *reply_out,
                            size_t reply_size, int64_t timeout_ms, hive_reason_t *why)
{
    if (!reply_out && reply_size)
        return -EINVAL;
    hive_msg_t *r;
    int rc = hive_call(s, req, len, timeout_ms, &r, why);
    return rc ? rc : copy_out(r, reply_out, reply_size);
}

HIVE_API bool hive_msg_is_call(const hive_msg_t *m) { return m && m->reply != 0; }

HIVE_API int hive_reply_subject(const hive_msg_t *request, hive_subject_t *out)
{
    if (!request || !request->reply || !out)
        return -EINVAL;
    *out = hive_subject(request->from, request->reply);
    return 0;
}

HIVE_API int hive_reply(const hive_msg_t *request, const void *data, size_t len)
{
    if (!request || !request->reply)
        return -EINVAL;
    return hive_send(request->from, request->reply, data, len);
}

HIVE_API int hive_reply_ptr(const hive_msg_t *request, void *ptr, void (*dtor)(void *))
{
    if (!request || !request->reply)
        return -EINVAL;
    return hive_send_ptr(request->from, request->reply, ptr, dtor);
}

/* ---- selectors -------------------------------------------------------- */

typedef struct entry {
    hive_select_fn_t fn;
    void *ctx;
} entry_t;

struct hive_selector {
    size_t n, cap;
    uint64_t *tags;
    entry_t *entries;
};

HIVE_API int hive_selector_new(hive_selector_t **out)
{
    if (!out)
        return -EINVAL;
    *out = hive__zalloc(sizeof **out);
    return *out ? 0 : -ENOMEM;
}

HIVE_API void hive_selector_free(hive_selector_t *sel)
{
    if (!sel)
        return;
    hive__free(sel->tags, sel->cap * sizeof *sel->tags);
    hive__free(sel->entries, sel->cap * sizeof *sel->entries);
    hive__free(sel, sizeof *sel);
}

HIVE_API int hive_selector_add_tag(hive_selector_t *sel, uint64_t tag, hive_select_fn_t fn,
                                   void *ctx)
{
    if (!sel)
        return -EINVAL;
    for (size_t i = 0; i < sel->n; i++)
        if (sel->tags[i] == tag)
            return -EINVAL; /* one entry per tag: which would get it? */
    if (sel->n == sel->cap) {
        size_t cap = sel->cap ? sel->cap * 2 : 4;
        uint64_t *tags = hive__alloc(cap * sizeof *tags);
        entry_t *entries = hive__alloc(cap * sizeof *entries);
        if (!tags || !entries) {
            hive__free(tags, cap * sizeof *tags);
            hive__free(entries, cap * sizeof *entries);
            return -ENOMEM;
        }
        if (sel->n) {
            memcpy(tags, sel->tags, sel->n * sizeof *tags);
            memcpy(entries, sel->entries, sel->n * sizeof *entries);
        }
        hive__free(sel->tags, sel->cap * sizeof *sel->tags);
        hive__free(sel->entries, sel->cap * sizeof *sel->entries);
        sel->tags = tags;
        sel->entries = entries;
        sel->cap = cap;
    }
    sel->tags[sel->n] = tag;
    sel->entries[sel->n] = (entry_t){fn, ctx};
    return (int)sel->n++;
}

HIVE_API int hive_selector_add(hive_selector_t *sel, hive_subject_t s, hive_select_fn_t fn,
                               void *ctx)
{
    if (!sel)
        return -EINVAL;
    if (s.pid != hive_self() || s.pid == HIVE_PID_NONE)
        return -EPERM; /* only the owner receives from a subject */
    return hive_selector_add_tag(sel, s.tag, fn, ctx);
}

HIVE_API int hive_select(hive_selector_t *sel, int64_t timeout_ms, hive_msg_t **out)
{
    if (out)
        *out = NULL;
    if (!sel || sel->n == 0)
        return -EINVAL;
    if (!out)
        for (size_t i = 0; i < sel->n; i++)
            if (!sel->entries[i].fn)
                return -EINVAL; /* nowhere to put a message for that entry */
    hive_msg_t *m;
    int rc = hive__receive(sel->tags, sel->n, NULL, NULL, timeout_ms, &m);
    if (rc)
        return rc;
    size_t i = 0;
    while (sel->tags[i] != m->tag)
        i++;
    const entry_t *e = &sel->entries[i];
    if (e->fn) {
        if (!e->fn(e->ctx, m))
            hive_msg_free(m);
    } else {
        *out = m;
    }
    return (int)i;
}
