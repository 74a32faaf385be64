/* registry.c - process names over cds_lfht; see registry.h for the
 * protocol that keeps names and process lifetimes in step. */
#include "core/registry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include <hive/registry.h>

#include "mailbox/alloc.h"
#include "sched/rcu.h"

/* liburcu-cds is not built with TSan: it cannot see that cds_lfht_add_unique
 * publishes an entry (rcu_assign_pointer) to a later cds_lfht_lookup, so it
 * would report every lookup's read of the name as a race with the writer.
 * Tell it: release the entry before adding it, acquire it on every match. */
#if HIVE_TSAN
#include <sanitizer/tsan_interface.h>
#define TSAN_PUBLISH(e) __tsan_release(e)
#define TSAN_FOUND(e) __tsan_acquire((void *)(e))
#else
#define TSAN_PUBLISH(e) ((void)0)
#define TSAN_FOUND(e) ((void)0)
#endif

struct hive__name {
    struct cds_lfht_node node;
    hive_pid_t pid;
    struct rcu_head rcu;
    size_t len;
    char name[];
};

static struct cds_lfht *names;
static long max_names;
/* relaxed: a counter of reserved names; nothing is published through it.
 * A name is counted from hive_register's reservation until whoever's
 * cds_lfht_del removes it (or the registration fails). */
static _Atomic long nnames;

static bool reserve(void)
{
    /* relaxed: see nnames. */
    if (atomic_fetch_add_explicit(&nnames, 1, memory_order_relaxed) < max_names)
        return true;
    atomic_fetch_sub_explicit(&nnames, 1, memory_order_relaxed); /* see nnames */
    return false;
}

/* A name left the table (our cds_lfht_del succeeded) or never entered it. */
static void unreserve(void)
{
    atomic_fetch_sub_explicit(&nnames, 1, memory_order_relaxed); /* see nnames */
}

static int match_name(struct cds_lfht_node *node, const void *key)
{
    const hive__name_t *e = caa_container_of(node, hive__name_t, node);
    TSAN_FOUND(e); /* pairs with TSAN_PUBLISH in hive_register() */
    return strcmp(e->name, key) == 0;
}

static void free_name_rcu(struct rcu_head *h)
{
    hive__name_t *e = caa_container_of(h, hive__name_t, rcu);
    hive__rcu_callback_begin();
    hive__free(e, sizeof *e + e->len + 1);
}

int hive__registry_init(long max)
{
    max_names = max;
    atomic_store_explicit(&nnames, 0, memory_order_relaxed); /* no worker runs yet */
    names = cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    return names ? 0 : -ENOMEM;
}

void hive__registry_shutdown(void)
{
    if (!names)
        return;
    /* Every process has ended (and dropped its name); entries removed by
     * hive_unregister are already on their way out. */
    hive__rcu_enter();
    /* Not cds_lfht_for_each_entry: see core/timer.c. */
    struct cds_lfht_iter it;
    cds_lfht_first(names, &it);
    for (struct cds_lfht_node *n; (n = cds_lfht_iter_get_node(&it)); cds_lfht_next(names, &it)) {
        hive__name_t *e = caa_container_of(n, hive__name_t, node);
        if (cds_lfht_del(names, n) == 0)
            call_rcu(&e->rcu, free_name_rcu);
    }
    hive__rcu_leave();
    rcu_barrier();
    cds_lfht_destroy(names, NULL);
    names = NULL;
}

void hive__registry_drop(hive__proc_t *p)
{
    /* acq_rel: takes the entry hive_register published with its CAS. */
    hive__name_t *e = atomic_exchange_explicit(&p->name, HIVE__NAME_GONE, memory_order_acq_rel);
    if (e && e != HIVE__NAME_GONE && cds_lfht_del(names, &e->node) == 0) {
        unreserve();
        call_rcu(&e->rcu, free_name_rcu);
    }
}

size_t hive__registry_name_of(hive__proc_t *p, char *buf, size_t len)
{
    if (len == 0)
        return 0;
    buf[0] = 0;
    hive__rcu_enter();
    /* acquire: pairs with hive_register's publishing CAS; RCU keeps the
     * entry readable even if it is dropped meanwhile. */
    hive__name_t *e = atomic_load_explicit(&p->name, memory_order_acquire);
    if (e && e != HIVE__NAME_GONE)
        snprintf(buf, len, "%.*s", (int)e->len, e->name);
    hive__rcu_leave();
    return strlen(buf);
}

static int check_name(const char *name, size_t *len)
{
    if (!name)
        return -EINVAL;
    *len = strnlen(name, HIVE_NAME_MAX + 1);
    return *len == 0 || *len > HIVE_NAME_MAX ? -EINVAL : 0;
}

static hive__name_t *find(const char *name, size_t len)
{
    struct cds_lfht_iter it;
    cds_lfht_lookup(names, (unsigned long)hive__name_hash(name, len), match_name, name, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    return n ? caa_container_of(n, hive__name_t, node) : NULL;
}

HIVE_API int hive_register(const char *name, hive_pid_t pid)
{
    size_t len;
    int rc = check_name(name, &len);
    if (rc)
        return rc;
    if (!names)
        return -EPERM;
    if (!reserve())
        return -EAGAIN;
    hive__name_t *e = hive__alloc(sizeof *e + len + 1);
    if (!e) {
        unreserve();
        return -ENOMEM;
    }
    memcpy(e->name, name, len + 1);
    e->len = len;
    e->pid = pid;
    cds_lfht_node_init(&e->node);
    TSAN_PUBLISH(e); /* pairs with TSAN_FOUND in match_name() */
    hive__rcu_enter();
    hive__proc_t *p = hive__proc_lookup(pid);
    if (!p) {
        rc = -ESRCH;
    } else if (cds_lfht_add_unique(names, (unsigned long)hive__name_hash(name, len), match_name, e->name,
                                   &e->node) != &e->node) {
        rc = -EBUSY;
    } else {
        hive__name_t *expect = NULL;
        /* acq_rel: publishes e to hive__registry_drop(); acquire on failure
         * to read what is there. */
        if (!atomic_compare_exchange_strong_explicit(&p->name, &expect, e, memory_order_acq_rel,
                                                     memory_order_acquire)) {
            rc = expect == HIVE__NAME_GONE ? -ESRCH : -EALREADY;
            if (cds_lfht_del(names, &e->node) == 0) {
                unreserve();
                call_rcu(&e->rcu, free_name_rcu);
            }
            e = NULL; /* freed through RCU */
        }
    }
    hive__rcu_leave();
    if (rc && e) {
        unreserve(); /* never entered the table */
        hive__free(e, sizeof *e + len + 1);
    }
    return rc;
}

HIVE_API int hive_unregister(const char *name)
{
    size_t len;
    int rc = check_name(name, &len);
    if (rc)
        return rc;
    if (!names)
        return -EPERM;
    hive__rcu_enter();
    hive__name_t *e = find(name, len);
    rc = -ENOENT;
    if (e && cds_lfht_del(names, &e->node) == 0) {
        hive__proc_t *p = hive__proc_lookup(e->pid);
        hive__name_t *expect = e;
        /* acq_rel: pairs with the CAS in hive_register(). If it fails the
         * process is exiting and its drop finds the entry already deleted. */
        if (p)
            atomic_compare_exchange_strong_explicit(&p->name, &expect, NULL,
                                                    memory_order_acq_rel, memory_order_acquire);
        unreserve();
        call_rcu(&e->rcu, free_name_rcu);
        rc = 0;
    }
    hive__rcu_leave();
    return rc;
}

HIVE_API hive_pid_t hive_whereis(const char *name)
{
    size_t len;
    if (check_name(name, &len) || !names)
        return HIVE_PID_NONE;
    hive__rcu_enter();
    hive__name_t *e = find(name, len);
    hive_pid_t pid = e && hive__proc_lookup(e->pid) ? e->pid : HIVE_PID_NONE;
    hive__rcu_leave();
    return pid;
}

HIVE_API int hive_send_named(const char *name, uint64_t tag, const void *data, size_t len)
{
    hive_pid_t pid = hive_whereis(name);
    if (pid == HIVE_PID_NONE) {
        size_t n;
        return check_name(name, &n) ? -EINVAL : names ? -ESRCH : -EPERM;
    }
    return hive_send(pid, tag, data, len);
}
