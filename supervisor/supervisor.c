/* supervisor.c - static and dynamic supervisors (hive/supervisor.h).
 *
 * A supervisor is an actor (core/actor.c) that traps exits: init starts the
 * children, the handler gets their EXIT messages and the API's requests, and
 * terminate stops the children when the supervisor itself is stopped. The
 * rules are OTP's supervisor module:
 *
 *   - children start in spec order and stop in the reverse order;
 *   - a child is stopped by: monitor and unlink (one step,
 *     hive__unlink_monitor, which hands the child's emptied link table to
 *     its watchers), drop a queued EXIT from it,
 *     then exit signal `shutdown` and wait for the DOWN up to its shutdown
 *     time (then kill), or kill at once (brutal_kill), or wait for ever
 *     (infinity); the monitor, not the link, tells us it is gone;
 *   - a restart is counted before it is made: more than `intensity` within
 *     `period_s` and the supervisor stops its children and exits with
 *     `shutdown`, never looping;
 *   - a child that cannot be restarted (its start fails) is marked
 *     restarting and tried again through a message to ourselves, each try
 *     counted like a restart (OTP's try_again_restart), so a child that can
 *     never start ends in the intensity limit, not in a busy loop;
 *   - a dynamic supervisor keeps its children in an array with a pid index
 *     (100,000 children: O(1) lookup and removal, order not kept) and stops
 *     them all at once when it ends: every exit signal first, then the
 *     DOWNs (OTP's simple_one_for_one does the same).
 *
 * The supervisor's state is owned by its process; nothing here is shared.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/call.h"
#include "core/idmap.h"
#include "core/process.h"
#include "core/registry.h"
#include "mailbox/alloc.h"
#include <hive/actor.h>
#include <hive/link.h>
#include <hive/supervisor.h>

#define DEFAULT_WORKER_SHUTDOWN_MS 5000

enum { REQ_WHICH = 1, REQ_COUNT, REQ_START_CHILD, REQ_TERMINATE_CHILD, REQ_RETRY };

typedef struct req {
    uint32_t op;
    size_t max;
    void *arg;
    hive_pid_t pid;
} req_t;

typedef struct resp {
    int rc;
    hive_pid_t pid;
    hive_child_counts_t counts;
} resp_t;

typedef struct which_reply {
    long n;
    size_t k;
    hive_child_info_t e[];
} which_reply_t;

typedef struct child {
    hive_child_spec_t spec; /* spec.id: our own copy (static children) */
    hive_pid_t pid;         /* HIVE_PID_NONE, HIVE_CHILD_RESTARTING or a pid */
} child_t;

typedef struct sup {
    hive_strategy_t strategy;
    int intensity, period_s;
    hive_auto_shutdown_t auto_shutdown;
    bool dynamic;
    hive_child_spec_t tmpl;
    child_t *kids;
    size_t n, cap;
    hive__idmap_t by_pid;   /* pid -> index in kids */
    uint64_t *restarts;     /* ring: times (ns) of the restarts within the period */
    size_t rhead, nrestarts, restarts_cap;
    bool retry_pending;
} sup_t;

static const hive_reason_t shutdown_reason = {.kind = HIVE_EXIT_SHUTDOWN};

static bool is_pid(hive_pid_t p) { return p != HIVE_PID_NONE && p != HIVE_CHILD_RESTARTING; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static char *dup_id(const char *id)
{
    if (!id)
        return NULL;
    size_t len = strlen(id) + 1;
    char *c = hive__alloc(len);
    if (c)
        memcpy(c, id, len);
    return c;
}

static void free_id(const char *id)
{
    if (id)
        hive__free((void *)id, strlen(id) + 1);
}

/* ---- the child list ------------------------------------------------------ */

static int kids_reserve(sup_t *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 8;
    while (cap < n)
        cap *= 2;
    child_t *k = hive__alloc(cap * sizeof *k);
    if (!k)
        return -ENOMEM;
    if (s->n)
        memcpy(k, s->kids, s->n * sizeof *k);
    hive__free(s->kids, s->cap * sizeof *s->kids);
    s->kids = k;
    s->cap = cap;
    return 0;
}

static long find(const sup_t *s, hive_pid_t pid)
{
    uint64_t i;
    return is_pid(pid) && hive__idmap_get(&s->by_pid, pid, &i) ? (long)i : -1;
}

static void set_pid(sup_t *s, size_t i, hive_pid_t pid)
{
    if (is_pid(s->kids[i].pid))
        hive__idmap_del(&s->by_pid, s->kids[i].pid, NULL);
    s->kids[i].pid = pid;
    if (is_pid(pid) && hive__idmap_put(&s->by_pid, pid, i) != 0) {
        /* No memory for the index: the child runs but we could not find its
         * EXIT. Stop it rather than lose track of it. */
        hive_unlink(pid);
        hive_kill(pid);
        s->kids[i].pid = HIVE_CHILD_RESTARTING;
    }
}

/* Forget child i (temporary children, dynamic children). */
static void remove_child(sup_t *s, size_t i)
{
    set_pid(s, i, HIVE_PID_NONE);
    if (!s->dynamic)
        free_id(s->kids[i].spec.id);
    if (s->dynamic) { /* order does not matter: move the last one here */
        size_t last = s->n - 1;
        if (i != last) {
            s->kids[i] = s->kids[last];
            if (is_pid(s->kids[i].pid))
                hive__idmap_put(&s->by_pid, s->kids[i].pid, i); /* overwrite: no growth */
        }
    } else { /* keep the start order */
        memmove(&s->kids[i], &s->kids[i + 1], (s->n - i - 1) * sizeof *s->kids);
        for (size_t j = i; j + 1 < s->n; j++)
            if (is_pid(s->kids[j].pid))
                hive__idmap_put(&s->by_pid, s->kids[j].pid, j);
    }
    s->n--;
}

/* ---- starting and stopping one child ------------------------------------ */

/* 0 (running or ignored) or the start function's error. */
static int start_child(sup_t *s, size_t i)
{
    child_t *c = &s->kids[i];
    hive_pid_t pid = HIVE_PID_NONE;
    int rc = c->spec.start(c->spec.arg, &pid);
    if (rc < 0)
        return rc;
    if (rc > 0 || !is_pid(pid)) { /* ignore */
        set_pid(s, i, HIVE_PID_NONE);
        return 0;
    }
    /* The start function should have linked it (spawn_link, an actor's
     * .link); link if it did not (a child already gone sends EXIT noproc). */
    if (!hive__linked_to(hive__proc_self(), pid))
        hive_link(pid);
    set_pid(s, i, pid);
    return 0;
}

static int64_t shutdown_of(const hive_child_spec_t *c)
{
    if (c->shutdown_ms != 0)
        return c->shutdown_ms;
    return c->type == HIVE_SUPERVISOR ? HIVE_SHUTDOWN_INFINITY : DEFAULT_WORKER_SHUTDOWN_MS;
}

static void shutdown_pid(hive_pid_t pid, int64_t shutdown)
{
    hive_ref_t ref;
    if (hive__unlink_monitor(pid, &ref) != 0) {
        hive_unlink(pid);
        hive_kill(pid); /* no memory for a monitor: do not wait, do not leave it */
        return;
    }
    /* An EXIT that came before the unlink: not news any more. */
    while (hive__await_exit(pid, 0, NULL) == 0)
        ;
    if (shutdown == HIVE_SHUTDOWN_BRUTAL_KILL) {
        hive_kill(pid);
        hive__await_down(ref, HIVE_INFINITY, NULL);
        return;
    }
    hive_send_exit(pid, shutdown_reason);
    if (hive__await_down(ref, shutdown < 0 ? HIVE_INFINITY : shutdown, NULL) == -ETIMEDOUT) {
        hive_kill(pid); /* it ignored shutdown (trapping exits) for too long */
        hive__await_down(ref, HIVE_INFINITY, NULL);
    }
}

static void stop_child(sup_t *s, size_t i)
{
    hive_pid_t pid = s->kids[i].pid;
    set_pid(s, i, HIVE_PID_NONE);
    if (is_pid(pid))
        shutdown_pid(pid, shutdown_of(&s->kids[i].spec));
}

/* Dynamic: every child at once. */
static void stop_all_dynamic(sup_t *s)
{
    int64_t shutdown = shutdown_of(&s->tmpl);
    hive__idmap_t refs = {0}; /* monitor ref -> pid */
    for (size_t i = 0; i < s->n; i++) {
        hive_pid_t pid = s->kids[i].pid;
        set_pid(s, i, HIVE_PID_NONE);
        if (!is_pid(pid))
            continue;
        hive_ref_t ref;
        if (hive__unlink_monitor(pid, &ref) != 0) {
            hive_unlink(pid);
            hive_kill(pid);
            continue;
        }
        if (hive__idmap_put(&refs, ref, pid) != 0) {
            hive_demonitor(ref, HIVE_DEMONITOR_FLUSH);
            hive_kill(pid);
            continue;
        }
        if (shutdown == HIVE_SHUTDOWN_BRUTAL_KILL)
            hive_kill(pid);
        else
            hive_send_exit(pid, shutdown_reason);
    }
    uint64_t deadline = shutdown > 0 ? now_ns() + (uint64_t)shutdown * 1000000u : UINT64_MAX;
    bool killed = shutdown == HIVE_SHUTDOWN_BRUTAL_KILL;
    const uint64_t tag = HIVE_TAG_DOWN;
    while (hive__idmap_count(&refs) > 0) {
        int64_t left = HIVE_INFINITY;
        if (!killed && deadline != UINT64_MAX) {
            uint64_t now = now_ns();
            left = now >= deadline ? 0 : (int64_t)((deadline - now) / 1000000u) + 1;
        }
        hive_msg_t *m;
        if (hive__receive(&tag, 1, NULL, NULL, left, &m) == 0) {
            hive_down_info_t d;
            if (hive_down_info(m, &d) == 0)
                hive__idmap_del(&refs, d.ref, NULL);
            hive_msg_free(m);
            continue;
        }
        /* Time is up: kill whoever is left, then wait for them. */
        uint32_t pos = 0;
        uint64_t ref, pid;
        while (hive__idmap_next(&refs, &pos, &ref, &pid))
            hive_kill(pid);
        killed = true;
    }
    hive__idmap_free(&refs);
    /* EXITs that came before the unlinks: not news any more. */
    const uint64_t etag = HIVE_TAG_EXIT;
    hive_msg_t *m;
    while (hive__receive(&etag, 1, NULL, NULL, 0, &m) == 0)
        hive_msg_free(m);
    for (size_t i = s->n; i-- > 0;)
        if (s->kids[i].spec.restart == HIVE_TEMPORARY || s->dynamic)
            remove_child(s, i);
}

/* Every child, in reverse start order. */
static void stop_all(sup_t *s)
{
    if (s->dynamic) {
        stop_all_dynamic(s);
        return;
    }
    for (size_t i = s->n; i-- > 0;)
        stop_child(s, i);
}

/* ---- restart decisions ------------------------------------------------ */

static bool should_restart(const child_t *c, const hive_reason_t *r)
{
    switch (c->spec.restart) {
    case HIVE_PERMANENT:
        return true;
    case HIVE_TRANSIENT:
        return r->kind != HIVE_EXIT_NORMAL && r->kind != HIVE_EXIT_SHUTDOWN;
    default:
        return false;
    }
}

/* Count a restart; false when it goes over the intensity. The times sit in
 * a ring, oldest first: expired ones leave from the front, so a restart
 * costs O(1) amortised however high the intensity. */
static bool add_restart(sup_t *s)
{
    uint64_t now = now_ns(), period = (uint64_t)s->period_s * 1000000000u;
    while (s->nrestarts && now - s->restarts[s->rhead] > period) {
        s->rhead = (s->rhead + 1) % s->restarts_cap;
        s->nrestarts--;
    }
    if (s->nrestarts + 1 > (size_t)s->intensity)
        return false; /* this one would be restart intensity + 1 */
    if (s->nrestarts == s->restarts_cap) {
        size_t cap = s->restarts_cap ? s->restarts_cap * 2 : 4;
        uint64_t *r = hive__alloc(cap * sizeof *r);
        if (!r)
            return false; /* cannot keep count: stop rather than loop blindly */
        for (size_t i = 0; i < s->nrestarts; i++)
            r[i] = s->restarts[(s->rhead + i) % s->restarts_cap];
        hive__free(s->restarts, s->restarts_cap * sizeof *s->restarts);
        s->restarts = r;
        s->restarts_cap = cap;
        s->rhead = 0;
    }
    s->restarts[(s->rhead + s->nrestarts++) % s->restarts_cap] = now;
    return true;
}

static bool auto_shutdown_due(const sup_t *s)
{
    if (s->auto_shutdown == HIVE_ANY_SIGNIFICANT)
        return true;
    if (s->auto_shutdown != HIVE_ALL_SIGNIFICANT)
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (s->kids[i].spec.significant && s->kids[i].pid != HIVE_PID_NONE)
            return false;
    return true;
}

static void schedule_retry(sup_t *s)
{
    if (s->retry_pending)
        return;
    req_t r = {.op = REQ_RETRY};
    if (hive_send(hive_self(), HIVE__ACTOR_SUBJECT_TAG, &r, sizeof r) == 0)
        s->retry_pending = true;
}

/* Start, in order, every child from `from` on that is marked restarting. */
static void start_marked(sup_t *s, size_t from)
{
    for (size_t i = from; i < s->n; i++) {
        if (s->kids[i].pid != HIVE_CHILD_RESTARTING)
            continue;
        if (start_child(s, i) != 0) {
            schedule_retry(s); /* the rest stay marked, tried in order later */
            return;
        }
    }
}

static hive_next_t give_up(sup_t *s)
{
    stop_all(s);
    return hive_stop_abnormal(shutdown_reason);
}

/* Child i ended with r (its pid is already cleared). */
static hive_next_t child_exited(sup_t *s, size_t i, const hive_reason_t *r)
{
    child_t *c = &s->kids[i];
    if (!should_restart(c, r)) {
        bool significant = c->spec.significant;
        if (c->spec.restart == HIVE_TEMPORARY || s->dynamic)
            remove_child(s, i);
        if (significant && auto_shutdown_due(s))
            return give_up(s);
        return hive_continue(s);
    }
    if (!add_restart(s))
        return give_up(s);
    size_t first = i;
    if (!s->dynamic && s->strategy != HIVE_ONE_FOR_ONE) {
        size_t from = s->strategy == HIVE_ONE_FOR_ALL ? 0 : i + 1;
        for (size_t j = s->n; j-- > from;) /* reverse start order */
            if (j != i)
                stop_child(s, j);
        /* Temporary children stopped by the strategy are not restarted. */
        for (size_t j = s->n; j-- > from;)
            if (j != i && s->kids[j].spec.restart == HIVE_TEMPORARY) {
                remove_child(s, j);
                if (j < i)
                    i--;
            }
        first = s->strategy == HIVE_ONE_FOR_ALL ? 0 : i;
        for (size_t j = first; j < s->n; j++)
            s->kids[j].pid = HIVE_CHILD_RESTARTING;
    } else {
        s->kids[i].pid = HIVE_CHILD_RESTARTING;
    }
    start_marked(s, first);
    return hive_continue(s);
}

/* ---- the actor -------------------------------------------------------- */

static void sup_free(sup_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (!s->dynamic)
            free_id(s->kids[i].spec.id);
    free_id(s->tmpl.id);
    hive__free(s->kids, s->cap * sizeof *s->kids);
    hive__free(s->restarts, s->restarts_cap * sizeof *s->restarts);
    hive__idmap_free(&s->by_pid);
    hive__free(s, sizeof *s);
}

static void free_on_exit(void *s, const hive_reason_t *r) { sup_free(s); }

static int sup_init(void *arg, void **state, hive_reason_t *fail)
{
    const hive_sup_spec_t *spec = arg;
    sup_t *s = hive__zalloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    s->strategy = spec->dynamic ? HIVE_ONE_FOR_ONE : spec->strategy;
    s->intensity = spec->intensity;
    s->period_s = spec->period_s;
    if (s->intensity == 0 && s->period_s == 0) { /* OTP's default */
        s->intensity = 1;
        s->period_s = 5;
    }
    s->auto_shutdown = spec->auto_shutdown;
    s->dynamic = spec->dynamic;
    if (s->dynamic) {
        s->tmpl = spec->template_;
        s->tmpl.id = dup_id(spec->template_.id ? spec->template_.id : "");
        int rc = s->tmpl.id ? hive_on_exit(free_on_exit, s) : -ENOMEM;
        if (rc)
            sup_free(s);
        else
            *state = s;
        return rc;
    }
    int rc = kids_reserve(s, spec->nchildren);
    /* The pid index and the link table, sized once for every child rather
     * than doubled and rehashed on the way (best effort: a put that finds
     * no memory later is handled where it happens). */
    if (rc == 0 && spec->nchildren <= UINT32_MAX) {
        hive__idmap_reserve(&s->by_pid, (uint32_t)spec->nchildren);
        hive__links_reserve(hive__proc_self(), (uint32_t)spec->nchildren);
    }
    for (size_t i = 0; i < spec->nchildren && rc == 0; i++) {
        s->kids[i] = (child_t){.spec = spec->children[i], .pid = HIVE_PID_NONE};
        s->kids[i].spec.id = dup_id(spec->children[i].id);
        s->n = i + 1;
        if (!s->kids[i].spec.id) {
            rc = -ENOMEM;
            break;
        }
        if ((rc = start_child(s, i)) != 0) {
            *fail = hive_reason_user(rc, "");
            snprintf(fail->text, sizeof fail->text, "child %s failed to start: %s",
                     spec->children[i].id, hive_strerror(rc));
        }
    }
    if (rc) {
        stop_all(s); /* the ones already started, in reverse order */
        sup_free(s);
        return rc;
    }
    /* Freed on every way out, kill included (terminate does not run then). */
    if ((rc = hive_on_exit(free_on_exit, s)) != 0) {
        stop_all(s);
        sup_free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static void sup_terminate(void *state, const hive_reason_t *r)
{
    stop_all(state); /* the state itself goes in free_on_exit */
}

static void reply_which(sup_t *s, hive_msg_t *m, size_t max)
{
    size_t k = max < s->n ? max : s->n;
    size_t bytes = sizeof(which_reply_t) + k * sizeof(hive_child_info_t);
    which_reply_t *w = malloc(bytes);
    if (!w) {
        resp_t r = {.rc = -ENOMEM};
        hive_reply(m, &r, sizeof r);
        return;
    }
    w->n = (long)s->n;
    w->k = k;
    for (size_t i = 0; i < k; i++) {
        hive_child_info_t *e = &w->e[i];
        snprintf(e->id, sizeof e->id, "%s", s->dynamic ? "" : s->kids[i].spec.id);
        e->pid = s->kids[i].pid;
        e->type = s->kids[i].spec.type;
    }
    if (hive_reply_ptr(m, w, free) != 0)
        free(w);
}

static hive_next_t handle_request(sup_t *s, hive_msg_t *m, const req_t *q)
{
    resp_t r = {0};
    switch (q->op) {
    case REQ_RETRY:
        s->retry_pending = false;
        for (size_t i = 0; i < s->n; i++) {
            if (s->kids[i].pid != HIVE_CHILD_RESTARTING)
                continue;
            if (!add_restart(s))
                return give_up(s);
            start_marked(s, i);
            break;
        }
        return hive_continue(s);
    case REQ_WHICH:
        reply_which(s, m, q->max);
        return hive_continue(s);
    case REQ_COUNT:
        r.counts.specs = (long)s->n;
        for (size_t i = 0; i < s->n; i++) {
            r.counts.active += is_pid(s->kids[i].pid);
            if (s->kids[i].spec.type == HIVE_SUPERVISOR)
                r.counts.supervisors++;
            else
                r.counts.workers++;
        }
        break;
    case REQ_START_CHILD:
        if (!s->dynamic) {
            r.rc = -EOPNOTSUPP;
            break;
        }
        if ((r.rc = kids_reserve(s, s->n + 1)) != 0)
            break;
        s->kids[s->n] = (child_t){.spec = s->tmpl, .pid = HIVE_PID_NONE};
        s->kids[s->n].spec.arg = q->arg;
        s->n++;
        r.rc = start_child(s, s->n - 1);
        r.pid = s->kids[s->n - 1].pid;
        if (r.rc == 0 && !is_pid(r.pid))
            r.rc = 1; /* ignored */
        if (r.rc != 0)
            remove_child(s, s->n - 1);
        break;
    case REQ_TERMINATE_CHILD: {
        long i = find(s, q->pid);
        if (i < 0) {
            r.rc = -ENOENT;
            break;
        }
        stop_child(s, (size_t)i);
        if (s->dynamic || s->kids[i].spec.restart == HIVE_TEMPORARY)
            remove_child(s, (size_t)i);
        break;
    }
    default:
        r.rc = -EOPNOTSUPP;
        break;
    }
    if (hive_msg_is_call(m))
        hive_reply(m, &r, sizeof r);
    return hive_continue(s);
}

static hive_next_t sup_handle(void *state, hive_msg_t *m)
{
    sup_t *s = state;
    hive_exit_info_t e;
    if (hive_exit_info(m, &e) == 0) {
        long i = find(s, e.from);
        if (i < 0)
            return hive_continue(s); /* not (any more) a child of ours */
        set_pid(s, (size_t)i, HIVE_PID_NONE);
        return child_exited(s, (size_t)i, &e.reason);
    }
    req_t q;
    if (hive_msg_size(m) == sizeof q) {
        memcpy(&q, hive_msg_data(m), sizeof q);
        return handle_request(s, m, &q);
    }
    if (hive_msg_is_call(m)) {
        resp_t r = {.rc = -EOPNOTSUPP};
        hive_reply(m, &r, sizeof r);
    }
    return hive_continue(s);
}

/* ---- the API ---------------------------------------------------------- */

static int check_child(const hive_child_spec_t *c, const hive_sup_spec_t *spec, hive_reason_t *why,
                       const char *what)
{
    const char *bad = NULL;
    if (!c->start)
        bad = "has no start function";
    else if ((unsigned)c->restart > HIVE_TEMPORARY)
        bad = "has a bad restart type";
    else if ((unsigned)c->type > HIVE_SUPERVISOR)
        bad = "has a bad type";
    else if (c->shutdown_ms < HIVE_SHUTDOWN_BRUTAL_KILL)
        bad = "has a bad shutdown";
    else if (c->significant && c->restart == HIVE_PERMANENT)
        bad = "is significant and permanent (a permanent child never ends for good)";
    else if (c->significant && spec->auto_shutdown == HIVE_AUTO_SHUTDOWN_NEVER)
        bad = "is significant but auto_shutdown is never";
    if (!bad)
        return 0;
    if (why) {
        *why = hive_reason_user(EINVAL, "");
        snprintf(why->text, sizeof why->text, "%s %s %s", what, c->id ? c->id : "(no id)", bad);
    }
    return -EINVAL;
}

/* Ids are unique: a hash set of them, so that a wide supervisor is not
 * quadratic. (A sort was ~200 instructions per child in strcmp and qsort,
 * callgrind, sup_tree_start; a set is a hash of the id and, unless two
 * hashes collide, no strcmp.) */
static int check_unique_ids(const hive_sup_spec_t *spec, hive_reason_t *why)
{
    size_t n = spec->nchildren;
    if (n < 2)
        return 0;
    typedef struct {
        uint64_t h;
        const char *id; /* NULL: a free slot */
    } entry_t;
    if (n > SIZE_MAX / (4 * sizeof(entry_t)))
        return -ENOMEM;
    size_t cap = 4;
    while (cap < 2 * n) /* at most half full */
        cap *= 2;
    entry_t *set = hive__zalloc(cap * sizeof *set);
    if (!set)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *id = spec->children[i].id;
        uint64_t h = hive__name_hash(id, strlen(id));
        size_t at = h & (cap - 1);
        for (; set[at].id; at = (at + 1) & (cap - 1))
            if (set[at].h == h && strcmp(set[at].id, id) == 0) {
                rc = -EINVAL;
                if (why) {
                    *why = hive_reason_user(EINVAL, "");
                    snprintf(why->text, sizeof why->text, "two children have id %s", id);
                }
                break;
            }
        set[at] = (entry_t){.h = h, .id = id};
    }
    hive__free(set, cap * sizeof *set);
    return rc;
}

static int check_spec(const hive_sup_spec_t *spec, hive_reason_t *why)
{
    if (!spec || (unsigned)spec->strategy > HIVE_REST_FOR_ONE || spec->intensity < 0 ||
        spec->period_s < 0 || (spec->intensity > 0 && spec->period_s == 0) ||
        (unsigned)spec->auto_shutdown > HIVE_ALL_SIGNIFICANT ||
        (!spec->dynamic && spec->nchildren && !spec->children)) {
        if (why)
            *why = hive_reason_user(EINVAL, "bad supervisor flags");
        return -EINVAL;
    }
    if (spec->dynamic)
        return check_child(&spec->template_, spec, why, "template");
    for (size_t i = 0; i < spec->nchildren; i++) {
        const hive_child_spec_t *c = &spec->children[i];
        /* An id names the child in which_children (hive_child_info_t.id)
         * and in a start failure's reason: it must say something, and fit. */
        if (!c->id || !*c->id || strnlen(c->id, HIVE_CHILD_ID_MAX + 1) > HIVE_CHILD_ID_MAX) {
            if (why) {
                *why = hive_reason_user(EINVAL, "");
                if (!c->id || !*c->id)
                    snprintf(why->text, sizeof why->text, "a child has %s id",
                             c->id ? "an empty" : "no");
                else
                    snprintf(why->text, sizeof why->text,
                             "child %.40s... has an id longer than %d bytes", c->id,
                             HIVE_CHILD_ID_MAX);
            }
            return -EINVAL;
        }
        int rc = check_child(c, spec, why, "child");
        if (rc)
            return rc;
    }
    return check_unique_ids(spec, why);
}

HIVE_API int hive_supervisor_start(const hive_sup_spec_t *spec, hive_pid_t *pid,
                                   hive_reason_t *why)
{
    int rc = check_spec(spec, why);
    if (rc)
        return rc;
    hive_actor_spec_t a = {
        .init = sup_init,
        .handle = sup_handle,
        .terminate = sup_terminate,
        .name = spec->name,
        .init_timeout_ms = HIVE_INFINITY, /* children take what they take */
        .link = spec->link,
        .trap_exits = true,
    };
    hive_subject_t s;
    rc = hive_actor_start(&a, (void *)spec, &s, why);
    if (rc == 0 && pid)
        *pid = s.pid;
    return rc;
}

static int start_sup_child(void *arg, hive_pid_t *pid)
{
    if (!arg) /* hive_supervisor_child(id, NULL): nothing to start */
        return -EINVAL;
    hive_sup_spec_t spec = *(const hive_sup_spec_t *)arg;
    spec.link = true;
    return hive_supervisor_start(&spec, pid, NULL);
}

HIVE_API hive_child_spec_t hive_supervisor_child(const char *id, const hive_sup_spec_t *spec)
{
    return (hive_child_spec_t){
        .id = id,
        .start = start_sup_child,
        .arg = (void *)spec,
        .restart = HIVE_PERMANENT,
        .shutdown_ms = HIVE_SHUTDOWN_INFINITY,
        .type = HIVE_SUPERVISOR,
    };
}

HIVE_API int hive_supervisor_stop(hive_pid_t sup, int64_t timeout_ms)
{
    return hive_actor_stop(sup, shutdown_reason, timeout_ms);
}

static int request(hive_pid_t sup, const req_t *q, int64_t timeout_ms, hive_msg_t **reply)
{
    return hive_call(hive_subject(sup, HIVE__ACTOR_SUBJECT_TAG), q, sizeof *q, timeout_ms, reply,
                     NULL);
}

static int simple_request(hive_pid_t sup, const req_t *q, int64_t timeout_ms, resp_t *out)
{
    hive_msg_t *m;
    int rc = request(sup, q, timeout_ms, &m);
    if (rc)
        return rc;
    resp_t r = {.rc = -EPROTO};
    if (hive_msg_size(m) == sizeof r)
        memcpy(&r, hive_msg_data(m), sizeof r);
    hive_msg_free(m);
    *out = r;
    return r.rc;
}

HIVE_API long hive_supervisor_which_children(hive_pid_t sup, hive_child_info_t *out, size_t max,
                                             int64_t timeout_ms)
{
    if (!out && max)
        return -EINVAL;
    req_t q = {.op = REQ_WHICH, .max = max};
    hive_msg_t *m;
    int rc = request(sup, &q, timeout_ms, &m);
    if (rc)
        return rc;
    which_reply_t *w = hive_msg_take_ptr(m);
    long n;
    if (w) {
        if (w->k)
            memcpy(out, w->e, w->k * sizeof *out);
        n = w->n;
        free(w);
    } else {
        resp_t r = {.rc = -EPROTO};
        if (hive_msg_size(m) == sizeof r)
            memcpy(&r, hive_msg_data(m), sizeof r);
        n = r.rc;
    }
    hive_msg_free(m);
    return n;
}

HIVE_API int hive_supervisor_count_children(hive_pid_t sup, hive_child_counts_t *out,
                                            int64_t timeout_ms)
{
    if (!out)
        return -EINVAL;
    req_t q = {.op = REQ_COUNT};
    resp_t r;
    int rc = simple_request(sup, &q, timeout_ms, &r);
    if (rc == 0)
        *out = r.counts;
    return rc;
}

HIVE_API int hive_supervisor_start_child(hive_pid_t sup, void *arg, hive_pid_t *pid,
                                         int64_t timeout_ms)
{
    req_t q = {.op = REQ_START_CHILD, .arg = arg};
    resp_t r;
    int rc = simple_request(sup, &q, timeout_ms, &r);
    if (rc == 0 && pid)
        *pid = r.pid;
    return rc;
}

HIVE_API int hive_supervisor_terminate_child(hive_pid_t sup, hive_pid_t child,
                                             int64_t timeout_ms)
{
    req_t q = {.op = REQ_TERMINATE_CHILD, .pid = child};
    resp_t r;
    return simple_request(sup, &q, timeout_ms, &r);
}
