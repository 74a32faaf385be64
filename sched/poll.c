/* poll.c - the per-worker epoll set (see poll.h).
 *
 * epoll rather than io_uring: a readiness poller needs one epoll_ctl to arm a
 * wait and one epoll_wait per batch of events, both cheap and available on
 * every kernel hive targets; io_uring's poll_add would save the epoll_ctl but
 * needs a ring per worker and a newer kernel, and is often disabled in
 * containers. io_uring has not been measured against it yet (the HTTP
 * benchmark, bench/compare.sh http, is where to do it).
 *
 * EPOLLONESHOT: an event disarms its registration, so one readiness wakes one
 * waiter once, even if two workers harvest concurrently (a searching worker
 * may look into another's set). The registration itself stays until del.
 * The token, not a pointer, is the epoll data: an event harvested just before
 * its waiter died names a pid that no longer resolves, never freed memory.
 */
#include "sched/poll.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define KICK_TOKEN UINT64_MAX

int hive__poll_init(hive__poller_t *p)
{
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        return -errno;
    p->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->kickfd < 0) {
        int err = -errno;
        close(p->epfd);
        p->epfd = -1;
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = KICK_TOKEN};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->kickfd, &ev) != 0) {
        int err = -errno;
        close(p->kickfd);
        close(p->epfd);
        p->epfd = p->kickfd = -1;
        return err;
    }
    atomic_init(&p->registered, 0);
    return 0;
}

void hive__poll_destroy(hive__poller_t *p)
{
    if (p->epfd >= 0) {
        close(p->kickfd);
        close(p->epfd);
    }
    p->epfd = p->kickfd = -1;
}

int hive__poll_add(hive__poller_t *p, int fd, uint32_t events, uint64_t token)
{
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.u64 = token};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return -errno;
    /* release: pairs with the acquire load in hive__poll_registered(), so
     * a thread that sees the count also sees the registration done (tests
     * close a waited-on fd after seeing it). */
    atomic_fetch_add_explicit(&p->registered, 1, memory_order_release);
    return 0;
}

int hive__poll_del(hive__poller_t *p, int fd)
{
    int rc = epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 ? -errno : 0;
    /* Counted out even when the DEL fails: the caller removes its own add,
     * and -EBADF / -ENOENT mean the fd was closed (the kernel dropped the
     * entry, or keeps it for a dup we cannot name any more; its events
     * then carry a token no waiter matches). relaxed: a count (see
     * hive__poll_registered). */
    atomic_fetch_sub_explicit(&p->registered, 1, memory_order_relaxed);
    return rc;
}

int hive__poll_wait(hive__poller_t *p, int timeout_ms, void *out)
{
    int n;
    do
        n = epoll_wait(p->epfd, out, HIVE__POLL_BATCH, timeout_ms);
    while (n < 0 && errno == EINTR && timeout_ms == 0);
    return n < 0 ? 0 : n;
}

int hive__poll_harvest(hive__poller_t *p, int timeout_ms, hive__poll_ready_fn ready, void *out)
{
    return hive__poll_dispatch(p, out, hive__poll_wait(p, timeout_ms, out), ready);
}

int hive__poll_dispatch(hive__poller_t *p, void *out, int n, hive__poll_ready_fn ready)
{
    struct epoll_event *evs = out;
    int handled = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == KICK_TOKEN) {
            uint64_t v;
            ssize_t r = read(p->kickfd, &v, sizeof v); /* drain: stale kicks cost one loop */
            (void)r;
            continue;
        }
        ready(evs[i].data.u64, evs[i].events);
        handled++;
    }
    return handled;
}

void hive__poll_kick(hive__poller_t *p)
{
    uint64_t one = 1;
    ssize_t r = write(p->kickfd, &one, sizeof one); /* EAGAIN: a kick is pending anyway */
    (void)r;
}
