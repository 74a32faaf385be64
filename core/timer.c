/* timer.c - hive_send_after / hive_cancel_timer over the per-worker timer
 * heaps (sched/timer.c).
 *
 * A send timer is found by its ref through a cds_lfht, so a ref stays safe
 * to use after the timer fired and was freed (the lookup just misses). The
 * timer's two references are the heap's and the table's; whoever removes it
 * from the table (the fire, or a successful cancel) drops the table's. The
 * entry is freed after a grace period because lookups may still see it.
 *
 * A timer whose destination has ended is cancelled in effect: at its
 * deadline nothing is sent, and hive_cancel_timer reports it as not pending.
 * Its memory is released at its deadline (a cancel from another worker does
 * not reach into the owning worker's heap).
 *
 * max_timers bounds the timers in the table (pending): a slot is reserved
 * before anything is allocated and given back by whoever removes the timer
 * from the table (its fire, a successful cancel, a failed send_after), so
 * a timer that fired or was cancelled frees its slot at once.
 */
#include <errno.h>
#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include <hive/timer.h>

#include "core/process.h"
#include "core/timers.h"
#include "mailbox/alloc.h"
#include "mailbox/message.h"
#include "sched/rcu.h"

typedef struct send_timer {
    hive__timer_t t;
    struct cds_lfht_node node;
    hive_timer_ref_t ref;
    hive_pid_t to;
    hive_msg_t *msg;
    struct rcu_head rcu;
} send_timer_t;

static struct cds_lfht *timers;
static _Atomic uint64_t next_ref = 1;
static long max_timers;
/* relaxed: a counter of reserved slots; nothing is published through it. */
static _Atomic long ntimers;

static bool reserve(void)
{
    /* relaxed: see ntimers. */
    if (atomic_fetch_add_explicit(&ntimers, 1, memory_order_relaxed) < max_timers)
        return true;
    atomic_fetch_sub_explicit(&ntimers, 1, memory_order_relaxed); /* see ntimers */
    return false;
}

static void unreserve(void)
{
    atomic_fetch_sub_explicit(&ntimers, 1, memory_order_relaxed); /* see ntimers */
}

static unsigned long hash_ref(uint64_t x)
{
    x ^= x >> 33; /* splitmix64's finaliser */
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (unsigned long)x;
}

static int match_ref(struct cds_lfht_node *node, const void *key)
{
    return caa_container_of(node, send_timer_t, node)->ref == *(const uint64_t *)key;
}

static void free_rcu(struct rcu_head *h)
{
    send_timer_t *st = caa_container_of(h, send_timer_t, rcu);
    hive__rcu_callback_begin();
    if (st->msg)
        hive__msg_discard(st->msg);
    hive__free(st, sizeof *st);
}

static void release(hive__timer_t *t)
{
    hive__rcu_enter(); /* the last put may come from the stopping thread */
    call_rcu(&((send_timer_t *)(void *)t)->rcu, free_rcu);
    hive__rcu_leave();
}

/* On the owning worker, once: deliver the message if its process lives. */
static void fire(hive__timer_t *t)
{
    send_timer_t *st = (send_timer_t *)(void *)t;
    if (cds_lfht_del(timers, &st->node) != 0)
        return; /* shutdown got there first */
    unreserve();
    hive__proc_t *p = hive__proc_lookup(st->to);
    if (p) {
        hive__proc_deliver(p, st->msg);
        st->msg = NULL;
    }
    hive__timer_put(t); /* the table's reference */
}

int hive__timers_init(long max)
{
    max_timers = max;
    atomic_store_explicit(&ntimers, 0, memory_order_relaxed); /* no worker runs yet */
    timers = cds_lfht_new(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    return timers ? 0 : -ENOMEM;
}

void hive__timers_shutdown(void)
{
    if (!timers)
        return;
    /* The heaps are gone (their references dropped); drop the table's. */
    hive__rcu_enter();
    /* Not cds_lfht_for_each_entry: on an empty table it forms a pointer
     * from NULL, which UBSan rightly rejects. */
    struct cds_lfht_iter it;
    cds_lfht_first(timers, &it);
    for (struct cds_lfht_node *n; (n = cds_lfht_iter_get_node(&it)); cds_lfht_next(timers, &it)) {
        send_timer_t *st = caa_container_of(n, send_timer_t, node);
        if (cds_lfht_del(timers, n) == 0)
            hive__timer_put(&st->t);
    }
    hive__rcu_leave();
    rcu_barrier();
    cds_lfht_destroy(timers, NULL);
    timers = NULL;
}

HIVE_API int hive_send_after(hive_pid_t to, int64_t ms, uint64_t tag, const void *data,
                             size_t len, hive_timer_ref_t *ref)
{
    if (!timers || !hive__sched_running())
        return -EPERM;
    /* Tags HIVE_TAG_RESERVED and up are hive's (EXIT, DOWN, system
     * messages, node traffic): refused as hive_send refuses them, or a
     * timer would forge an exit signal or an actor's system stop. */
    if (ms < 0 || (len && !data) || tag >= HIVE_TAG_RESERVED)
        return -EINVAL;
    if (len > (size_t)hive__proc_max_message_size())
        return -EMSGSIZE;
    if (!reserve())
        return -EAGAIN;
    send_timer_t *st = hive__alloc(sizeof *st);
    hive_msg_t *m = st ? hive__msg_new_bytes(tag, hive_self(), data, len) : NULL;
    if (!m) {
        hive__free(st, sizeof *st);
        unreserve();
        return -ENOMEM;
    }
    st->msg = m;
    st->to = to;
    /* relaxed: only uniqueness matters. */
    st->ref = atomic_fetch_add_explicit(&next_ref, 1, memory_order_relaxed);
    cds_lfht_node_init(&st->node);
    /* saturating: INT64_MAX ms means "never", not a wrap into the past. */
    hive__timer_init(&st->t, hive__deadline_in(hive__ms_to_ns(ms)), fire, release);
    int rc = 0;
    hive__rcu_enter();
    if (!hive__proc_lookup(to)) {
        rc = -ESRCH;
    } else {
        cds_lfht_add(timers, hash_ref(st->ref), &st->node);
        if (ref)
            *ref = st->ref;
        if ((rc = hive__timer_add(&st->t)) != 0) { /* it dropped the heap's ref */
            cds_lfht_del(timers, &st->node);
            hive__timer_put(&st->t);
        }
    }
    hive__rcu_leave();
    if (rc)
        unreserve();
    if (rc == -ESRCH) {
        hive__msg_discard(m);
        hive__free(st, sizeof *st);
    }
    return rc;
}

HIVE_API int hive_cancel_timer(hive_timer_ref_t ref)
{
    if (!timers)
        return 0;
    int was = 0;
    hive__rcu_enter();
    struct cds_lfht_iter it;
    cds_lfht_lookup(timers, hash_ref(ref), match_ref, &ref, &it);
    struct cds_lfht_node *n = cds_lfht_iter_get_node(&it);
    if (n) {
        send_timer_t *st = caa_container_of(n, send_timer_t, node);
        if (hive__timer_cancel(&st->t)) {
            was = hive__proc_lookup(st->to) != NULL; /* a dead target's timer was moot */
            if (cds_lfht_del(timers, &st->node) == 0) {
                unreserve();
                hive__timer_put(&st->t);
            }
        }
    }
    hive__rcu_leave();
    return was;
}
