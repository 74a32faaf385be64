/* acceptor.h - the part echo_server.c and http_server.c share: a listening
 * socket, an acceptor process that starts one process per connection, and a
 * main() body that runs the runtime until SIGINT or SIGTERM.
 *
 * Structure (Erlang's "acceptor + one process per connection"):
 *   - the acceptor waits for connections with hive_io_accept (its worker
 *     runs other processes meanwhile) and spawns a handler per connection,
 *     linked to it;
 *   - the acceptor traps exits: a handler that crashes (hive_panic, a stack
 *     overflow, a kill) reaches it as an EXIT message, which it logs and
 *     drops; no other connection notices. Each handler closes its socket in
 *     a hive_on_exit handler, so a crash never leaks the fd.
 *
 * SUPERVISOR(issue 9): when supervisors land, the acceptor becomes the
 * child of a static supervisor (restart: permanent) and the handlers the
 * children of a dynamic supervisor (restart: temporary, shutdown:
 * brutal_kill); `serve()` below is where that tree gets started, and
 * reap_exits() goes away (the supervisor traps the exits instead).
 */
#ifndef HIVE_EXAMPLES_ACCEPTOR_H
#define HIVE_EXAMPLES_ACCEPTOR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hive/hive.h>

typedef struct server_opts {
    const char *name;     /* for messages: "http_server" */
    const char *host;     /* "127.0.0.1" */
    int port;             /* 0: any free port (printed) */
    int64_t timeout_ms;   /* a client silent this long is dropped */
    int allow_crash;      /* handlers may be asked to crash (tests) */
    void (*handler)(void *fd_as_ptr);
} server_opts_t;

static server_opts_t opts;
static _Atomic long connections, crashes;

static void close_fd(void *arg, const hive_reason_t *reason)
{
    (void)reason;
    close((int)(intptr_t)arg);
}

/* A handler's first call: its socket is closed however it ends. */
static void own_socket(int fd)
{
    if (hive_on_exit(close_fd, (void *)(intptr_t)fd) != 0)
        close(fd); /* no memory for the handler: close now, hive_io fails */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Drop the EXIT messages of ended handlers; log the crashed ones. */
static void reap_exits(void)
{
    hive_msg_t *m;
    while (hive_receive_tag(HIVE_TAG_EXIT, 0, &m) == 0) {
        hive_exit_info_t e;
        if (hive_exit_info(m, &e) == 0 && e.reason.kind != HIVE_EXIT_NORMAL) {
            char why[160];
            atomic_fetch_add_explicit(&crashes, 1, memory_order_relaxed);
            fprintf(stderr, "%s: handler %llx ended: %s\n", opts.name,
                    (unsigned long long)e.from, hive_reason_format(&e.reason, why, sizeof why));
        }
        hive_msg_free(m);
    }
}

static void acceptor(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    hive_trap_exits(true);
    for (;;) {
        /* Wake at least once a second to reap exits even when idle. */
        int c = hive_io_accept(lfd, NULL, NULL, 1000);
        if (c >= 0) {
            atomic_fetch_add_explicit(&connections, 1, memory_order_relaxed);
            if (hive_spawn_link(opts.handler, (void *)(intptr_t)c, NULL) != 0)
                close(c); /* at the process limit: refuse this one */
        } else if (c == -EMFILE || c == -ENFILE || c == -ENOBUFS || c == -ENOMEM) {
            hive_sleep(10); /* out of fds: let handlers finish, then retry */
        } else if (c != -ETIMEDOUT) {
            fprintf(stderr, "%s: accept: %s\n", opts.name, hive_strerror(c));
            hive_sleep(10);
        }
        reap_exits();
    }
}

static int listen_tcp(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        close(fd);
        return -EINVAL;
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4096) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    return getsockname(fd, (struct sockaddr *)&a, &len) == 0 ? ntohs(a.sin_port) : -1;
}

/* Parse the common flags; 0, or prints usage and returns 64. */
static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            opts.port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc)
            opts.host = argv[++i];
        else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
            opts.timeout_ms = atol(argv[++i]);
        else if (!strcmp(argv[i], "--allow-crash"))
            opts.allow_crash = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--host ADDR] [--port N] [--timeout-ms MS] [--allow-crash]\n"
                    "  serves until SIGINT or SIGTERM; HIVE_WORKERS etc. configure hive\n",
                    opts.name);
            return 64;
        }
    }
    if (opts.port < 0 || opts.port > 65535 || opts.timeout_ms <= 0) {
        fprintf(stderr, "%s: bad --port or --timeout-ms\n", opts.name);
        return 64;
    }
    return 0;
}

/* main(): listen, start hive and the acceptor, serve until a signal. */
static int serve(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc)
        return rc;
    /* Workers inherit this mask: only sigwait below sees these signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is an error code, not a signal */

    int lfd = listen_tcp(opts.host, opts.port);
    if (lfd < 0) {
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", opts.name, opts.host, opts.port,
                hive_strerror(lfd));
        return 1;
    }
    hive_diag_t diag;
    if ((rc = hive_runtime_start(NULL, &diag)) != 0) {
        fprintf(stderr, "%s: %s\n", opts.name, diag.message);
        return 1;
    }
    /* SUPERVISOR(issue 9): start the supervision tree here instead. */
    if ((rc = hive_spawn(acceptor, (void *)(intptr_t)lfd, NULL)) != 0) {
        fprintf(stderr, "%s: cannot start the acceptor: %s\n", opts.name, hive_strerror(rc));
        return 1;
    }
    printf("%s: listening on %s:%d\n", opts.name, opts.host, bound_port(lfd));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    hive_runtime_stop(); /* ends every handler: their on-exit handlers close the sockets */
    close(lfd);
    fprintf(stderr, "%s: stopped by signal %d after %ld connections, %ld handler crashes\n",
            opts.name, sig, atomic_load_explicit(&connections, memory_order_relaxed),
            atomic_load_explicit(&crashes, memory_order_relaxed));
    return 0;
}

#endif
