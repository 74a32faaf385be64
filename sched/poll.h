/* poll.h - the per-worker I/O poller: one epoll set and one eventfd per
 * worker, no poller thread.
 *
 * A process that waits for a file descriptor registers it (EPOLLONESHOT, the
 * layer above's 64-bit token as epoll data) in the set of the worker it runs
 * on, and parks. The worker harvests its set with a zero timeout between
 * dispatches (every HIVE__POLL_INTERVAL dispatches and whenever its local
 * work runs out) and, when it has nothing to run and fds are registered, it
 * sleeps in epoll_wait instead of on its futex (park.c: the eventfd is how a
 * waker interrupts that sleep). Each harvested event is handed to the
 * layer above's `ready` callback on the harvesting worker, which makes the
 * waiting process runnable through the ordinary unpark path - so the process
 * may be resumed on any worker afterwards, and readiness, timeout and kill
 * all end the wait through the one park token (exactly one resumption).
 *
 * The set belongs to its worker, but epoll_ctl may be called on it from any
 * thread (the kernel serialises it): a dying process removes its interest
 * from whichever worker's set holds it.
 *
 *   init / destroy      the runtime owner (workers not running)
 *   add / del           any thread (add: normally the running process, on
 *                       its own worker's set)
 *   harvest             the owning worker (or any thread with its own buffer)
 *   registered          any thread (an estimate; exact for the owner as to
 *                       its own adds)
 */
#ifndef HIVE_SCHED_POLL_H
#define HIVE_SCHED_POLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define HIVE__POLL_INTERVAL 31 /* dispatches between two zero-timeout polls */
#define HIVE__POLL_BATCH 64    /* events taken by one epoll_wait */

/* Called for each ready registration with its token and what is ready
 * (EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP bits), on the harvesting
 * thread, inside an RCU read-side section. */
typedef void (*hive__poll_ready_fn)(uint64_t token, uint32_t events);

typedef struct hive__poller {
    int epfd;                  /* -1 before init */
    int kickfd;                /* eventfd in the set: wakes a sleeping owner */
    _Atomic int registered;    /* fds in the set (not counting kickfd) */
} hive__poller_t;

int hive__poll_init(hive__poller_t *p);
void hive__poll_destroy(hive__poller_t *p);

/* Watch fd for `events` (EPOLLIN/EPOLLOUT), once, reporting `token`.
 * 0, or a negative errno from epoll_ctl: -EEXIST (fd already in this set),
 * -EPERM (fd does not support polling, e.g. a regular file), -EBADF. */
int hive__poll_add(hive__poller_t *p, int fd, uint32_t events, uint64_t token);
/* Stop watching fd, which the caller added. 0 or a negative errno
 * (-EBADF: closed meanwhile); either way it no longer counts. */
int hive__poll_del(hive__poller_t *p, int fd);

/* Wait up to timeout_ms (0 = just look, -1 = for ever) and call ready() for
 * every event; a kick only ends the wait. Returns how many fd events were
 * handled. `out` is the caller's buffer of HIVE__POLL_BATCH events. */
int hive__poll_harvest(hive__poller_t *p, int timeout_ms, hive__poll_ready_fn ready, void *out);

/* The two halves of harvest: wait (events into out, their count) and hand
 * them out (fd events handled). A sleeper waits offline, dispatches online. */
int hive__poll_wait(hive__poller_t *p, int timeout_ms, void *out);
int hive__poll_dispatch(hive__poller_t *p, void *out, int n, hive__poll_ready_fn ready);

/* Interrupt the owner's epoll_wait (park.c). Any thread. */
void hive__poll_kick(hive__poller_t *p);

static inline int hive__poll_registered(hive__poller_t *p)
{
    /* acquire: pairs with the release add in hive__poll_add() (the epoll_ctl
     * is done). For the owner a hint: its own adds are sequenced before its
     * read, dels from other threads only make it conservative. */
    return atomic_load_explicit(&p->registered, memory_order_acquire);
}

#endif
