/* hive/io.h - waiting for file descriptors, and calls that must block.
 *
 * A process that waits for a socket must not block its worker: hive_io_wait
 * parks the process until the fd is ready and the worker runs others
 * meanwhile. Each worker polls its own epoll set (between runs of processes,
 * and in place of sleeping when idle); there is no poller thread. The
 * helpers below (accept, read, write, connect) use non-blocking fds and
 * retry through hive_io_wait on EAGAIN.
 *
 * A call that can only block the OS thread (a blocking library, a disk read,
 * DNS) goes through hive_blocking: it runs on a separate pool of OS threads
 * (`blocking_threads`, see hive/config.h) while the caller is parked, like
 * Erlang's dirty schedulers. Jobs queue when every pool thread is busy.
 *
 * A process that ends while waiting (hive_kill included) ends cleanly: its
 * fd interest is removed, and a blocking call in progress runs to its end on
 * the pool, its result dropped. The caller's stack stays valid until then,
 * so `arg` may point into it.
 *
 * Thread rules: on a foreign (or attached) thread every call here simply
 * blocks that thread (poll(2), or fn run inline): the same code works in and
 * out of processes.
 */
#ifndef HIVE_IO_H
#define HIVE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <hive/error.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIVE_IO_READ 1u  /* readable (or the peer closed, or an error) */
#define HIVE_IO_WRITE 2u /* writable (or an error) */

/* hive_io_wait - park until fd is ready for `events` (HIVE_IO_READ and/or
 * HIVE_IO_WRITE) or timeout_ms passes (0 = just look, HIVE_INFINITY = no
 * limit). Returns the ready events (> 0), or -ETIMEDOUT, -EBADF (fd not
 * open), -EINVAL (no or unknown events, negative fd is -EBADF). Exit
 * signals still end the process while it waits; ordinary messages do not
 * interrupt the wait. Readiness is a hint, as with epoll: the next
 * non-blocking call may still say EAGAIN (wait again). One process should
 * wait on a given fd at a time. Closing the fd does not wake a process
 * waiting on it (epoll forgets the fd): the wait ends at its timeout, or
 * end the waiter with an exit signal. Any thread. */
HIVE_API int hive_io_wait(int fd, unsigned events, int64_t timeout_ms);

/* hive_io_set_nonblocking - set O_NONBLOCK on fd. 0 or -EBADF. Any thread. */
HIVE_API int hive_io_set_nonblocking(int fd);

/* The helpers: fd must be non-blocking (the helpers do not change it).
 * timeout_ms bounds each wait for readiness (HIVE_INFINITY: none).
 *
 * hive_io_accept - a new connection, non-blocking and close-on-exec: its fd
 * (>= 0), or -ETIMEDOUT, -EBADF, -EINVAL, or accept4's error (-EMFILE, ...).
 * addr/addrlen as for accept(2), may be NULL. */
HIVE_API int hive_io_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
                            int64_t timeout_ms);
/* hive_io_read - read up to len bytes: how many (> 0), 0 at end of file, or
 * -ETIMEDOUT, -EBADF, -EINVAL (buf NULL with len > 0), read's error
 * (-ECONNRESET, ...). */
HIVE_API ssize_t hive_io_read(int fd, void *buf, size_t len, int64_t timeout_ms);
/* hive_io_write - write all len bytes: len, or -ETIMEDOUT (some may have
 * been written), -EBADF, -EINVAL, write's error (-EPIPE: hive never raises
 * SIGPIPE here, it sends with MSG_NOSIGNAL on sockets). */
HIVE_API ssize_t hive_io_write(int fd, const void *buf, size_t len, int64_t timeout_ms);
/* hive_io_connect - connect a non-blocking socket: 0, -ETIMEDOUT, -EBADF,
 * -EINVAL, or the connection's error (-ECONNREFUSED, ...). */
HIVE_API int hive_io_connect(int fd, const struct sockaddr *addr, socklen_t addrlen,
                             int64_t timeout_ms);

typedef long (*hive_blocking_fn_t)(void *arg);

/* hive_blocking - run fn(arg) on the blocking pool and park the calling
 * process until it returns; its return value goes to *result (may be NULL).
 * 0, -EINVAL (fn NULL), -EPERM (a process calling while the runtime
 * stops: fn does not run), -ENOMEM. On a foreign or attached thread fn runs
 * inline and the call returns 0, whether or not the runtime runs (as the
 * other calls here: the same code works in and out of processes). A
 * process killed meanwhile ends at once; fn still runs to its end and its
 * result is dropped. Any thread. */
HIVE_API int hive_blocking(hive_blocking_fn_t fn, void *arg, long *result);

#ifdef __cplusplus
}
#endif
#endif
