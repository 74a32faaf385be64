/* io.c - hive_io_wait and the non-blocking I/O helpers (see hive/io.h).
 *
 * A wait registers the fd (EPOLLONESHOT, the process's pid as token) in the
 * poller of the worker the process runs on (sched/poll.h), publishes
 * p->io_state = WAITING and parks on the task's park token. Three things end
 * the wait, and the park token makes each wake-up one resumption:
 *   - readiness: the worker that harvests the event calls hive__io_ready(),
 *     which finds the process by pid (a dead or reused pid finds nothing)
 *     and CASes WAITING -> READY|events; only the CAS winner unparks it;
 *   - the timeout: a timer unparks it (process.c's wait timer, p->timeout);
 *   - an exit signal: delivery wakes it (process.c wake()), the checkpoint
 *     ends it, and the exit path (hive__io_proc_exit) removes the interest.
 * After any wake the process looks at io_state, the clock and its mailbox,
 * and parks again if none of them ends the wait (a trapped EXIT is queued as
 * a message and the wait goes on).
 *
 * The registration lives only while the process waits: ADD on entry, DEL on
 * the way out, so an fd is never left in a set after its wait, whoever
 * closes it later. An event harvested just before the DEL can still reach a
 * later wait of the same process: that wait then returns early (readiness
 * is a hint, as epoll's is; the helpers retry on EAGAIN). Two processes that
 * wait on one fd from one worker would collide in its set (EEXIST): the
 * second registers a dup of the fd instead, a separate epoll entry.
 */
#include <hive/io.h>
#include <hive/message.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/process.h"

#define READY_BIT (1u << 31)

static uint32_t to_epoll(unsigned events)
{
    return (events & HIVE_IO_READ ? EPOLLIN | EPOLLRDHUP : 0u) |
           (events & HIVE_IO_WRITE ? EPOLLOUT : 0u);
}

static unsigned from_epoll(uint32_t ev, unsigned wanted)
{
    unsigned r = 0;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        r |= HIVE_IO_READ;
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        r |= HIVE_IO_WRITE;
    return r & wanted;
}

void hive__io_ready(uint64_t token, uint32_t events)
{
    hive__proc_t *p = hive__proc_lookup(token); /* a worker: inside a read section */
    if (!p || p->is_thread)
        return;
    uint32_t expect = HIVE__IO_WAITING;
    /* acq_rel: release publishes nothing the waiter needs besides the value
     * itself, acquire pairs with the release store of WAITING in
     * hive_io_wait() so that we never complete an older wait. Only the CAS
     * winner unparks: one resumption per wait. */
    if (atomic_compare_exchange_strong_explicit(&p->io_state, &expect, READY_BIT | events,
                                                memory_order_acq_rel, memory_order_relaxed))
        hive__task_unpark(&p->task);
}

static void unregister(hive__proc_t *p)
{
    if (p->io_worker < 0)
        return;
    hive__worker_poll_del(p->io_worker, p->io_regfd); /* -ESRCH after stop: the set is gone */
    if (p->io_regfd != p->io_fd)
        close(p->io_regfd); /* the dup made for a collision */
    p->io_worker = -1;
}

void hive__io_proc_exit(hive__proc_t *p)
{
    unregister(p);
    /* relaxed: the process is gone; a late hive__io_ready() finds no pid. */
    atomic_store_explicit(&p->io_state, HIVE__IO_IDLE, memory_order_relaxed);
}

/* Foreign threads, attached threads, timeout 0: poll(2) on the thread. */
static int wait_poll(int fd, unsigned events, int64_t timeout_ms)
{
    struct pollfd pfd = {.fd = fd,
                         .events = (short)((events & HIVE_IO_READ ? POLLIN : 0) |
                                           (events & HIVE_IO_WRITE ? POLLOUT : 0))};
    uint64_t deadline = hive__deadline_ms(timeout_ms);
    for (;;) {
        int ms = -1;
        if (deadline != UINT64_MAX) {
            uint64_t now = hive__now_ns();
            uint64_t left = deadline > now ? deadline - now : 0;
            ms = left / 1000000u > INT32_MAX ? INT32_MAX : (int)((left + 999999u) / 1000000u);
        }
        int n = poll(&pfd, 1, ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        if (pfd.revents & POLLNVAL)
            return -EBADF;
        unsigned r = 0;
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
            r |= HIVE_IO_READ;
        if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
            r |= HIVE_IO_WRITE;
        r &= events;
        if (r)
            return (int)r;
    }
}

HIVE_API int hive_io_wait(int fd, unsigned events, int64_t timeout_ms)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    hive__proc_enter();
    if (fd < 0)
        return -EBADF;
    if (events == 0 || (events & ~(HIVE_IO_READ | HIVE_IO_WRITE)))
        return -EINVAL;
    hive__proc_t *p = hive__proc_self();
    if (!p || p->is_thread || timeout_ms == 0) {
        int r = wait_poll(fd, events, timeout_ms);
        hive__proc_checkpoint(p);
        return r;
    }
    /* release: pairs with the acquire of the CAS in hive__io_ready(), which
     * can only see this wait's event after the epoll_ctl below. */
    atomic_store_explicit(&p->io_state, HIVE__IO_WAITING, memory_order_release);
    int regfd = fd, worker = -1;
    int rc = hive__worker_poll_add(fd, to_epoll(events), p->pid, &worker);
    if (rc == -EEXIST) {
        /* Another process on this worker waits on fd: watch a dup. */
        regfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        rc = regfd < 0 ? -errno : hive__worker_poll_add(regfd, to_epoll(events), p->pid, &worker);
        if (rc && regfd >= 0)
            close(regfd);
    }
    if (rc == 0)
        p->io_worker = (int16_t)worker; /* < 1024 (config.c's WORKERS_MAX) */
    if (rc) {
        /* relaxed: never registered, no one else saw WAITING. */
        atomic_store_explicit(&p->io_state, HIVE__IO_IDLE, memory_order_relaxed);
        if (rc == -EPERM) /* a regular file or the like: always ready */
            return (int)events;
        return rc;
    }
    p->io_fd = fd;
    p->io_regfd = regfd;
    uint64_t deadline = hive__deadline_ms(timeout_ms);
    hive__timer_t *tm = deadline != UINT64_MAX ? hive__proc_arm_timeout(p, deadline) : NULL;
    uint32_t s;
    for (;;) {
        /* acquire: pairs with the acq_rel CAS in hive__io_ready(). */
        s = atomic_load_explicit(&p->io_state, memory_order_acquire);
        if (s & READY_BIT)
            break;
        if (deadline != UINT64_MAX && hive__now_ns() >= deadline)
            break;
        hive__task_park();
        hive__proc_checkpoint(p); /* a kill ends us here; hive__io_proc_exit cleans up */
    }
    /* acquire: as above; a readiness that raced with the timeout still counts. */
    s = atomic_exchange_explicit(&p->io_state, HIVE__IO_IDLE, memory_order_acquire);
    unregister(p);
    hive__proc_disarm_timeout(p, tm);
    hive__task_charge(1);
    if (s & READY_BIT) {
        unsigned r = from_epoll(s & ~READY_BIT, events);
        return r ? (int)r : (int)events; /* an error or hang-up: let the call report it */
    }
    return -ETIMEDOUT;
}

HIVE_API int hive_io_set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* A call on fd just failed with errno: 0 to try it again (interrupted, or
 * fd became ready for `events` within timeout_ms), else the error. */
static int retry_after(int fd, unsigned events, int64_t timeout_ms)
{
    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return -errno;
    int r = hive_io_wait(fd, events, timeout_ms);
    return r < 0 ? r : 0;
}

HIVE_API int hive_io_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int64_t timeout_ms)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    for (;;) {
        int c = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0)
            return c;
        if (errno == ECONNABORTED)
            continue;
        int r = retry_after(fd, HIVE_IO_READ, timeout_ms);
        if (r < 0)
            return r;
    }
}

HIVE_API ssize_t hive_io_read(int fd, void *buf, size_t len, int64_t timeout_ms)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    if (!buf && len)
        return -EINVAL;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        int r = retry_after(fd, HIVE_IO_READ, timeout_ms);
        if (r < 0)
            return r;
    }
}

HIVE_API ssize_t hive_io_write(int fd, const void *buf, size_t len, int64_t timeout_ms)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    if (!buf && len)
        return -EINVAL;
    size_t done = 0;
    bool sock = true;
    while (done < len) {
        ssize_t n = sock ? send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL)
                         : write(fd, (const char *)buf + done, len - done);
        if (n < 0 && sock && errno == ENOTSOCK) {
            sock = false;
            continue;
        }
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        /* n == 0: nothing taken, wait for room as for EAGAIN. */
        int r = n < 0 ? retry_after(fd, HIVE_IO_WRITE, timeout_ms)
                      : hive_io_wait(fd, HIVE_IO_WRITE, timeout_ms);
        if (r < 0)
            return r;
    }
    return (ssize_t)len;
}

HIVE_API int hive_io_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                             int64_t timeout_ms)
{
    if (!hive__timeout_ok(timeout_ms))
        return -EINVAL;
    if (!addr)
        return -EINVAL;
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    int r = hive_io_wait(fd, HIVE_IO_WRITE, timeout_ms);
    if (r < 0)
        return r;
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return -errno;
    return -err;
}
