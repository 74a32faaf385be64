/* acceptor.h - the part echo_server.c and http_server.c share: a listening
 * socket, an acceptor process that starts one process per connection, and a
 * main() body that runs the runtime until SIGINT or SIGTERM.
 *
 * Structure (Erlang's "acceptor + one process per connection", under a
 * supervision tree):
 *
 *     server (supervisor, rest_for_one)
 *       |-- connections (dynamic supervisor: a temporary handler per
 *       |                connection, stopped with brutal_kill)
 *       `-- acceptor    (permanent worker)
 *
 *   - the acceptor waits for connections with hive_io_accept (its worker
 *     runs other processes meanwhile) and asks `connections` to start a
 *     handler for each;
 *   - a handler that crashes (hive_panic, a stack overflow, a kill) ends
 *     only its connection: `connections` forgets it (temporary) and no other
 *     connection notices. Each handler closes its socket in a hive_on_exit
 *     handler, which also logs an abnormal end, so a crash never leaks the
 *     fd;
 *   - if the acceptor itself crashes, `server` restarts it (the listening
 *     socket stays open); if `connections` fails, rest_for_one restarts it
 *     and then the acceptor, which looks it up by name again.
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

static int listen_fd = -1;

static void close_fd(void *arg, const hive_reason_t *reason)
{
    close((int)(intptr_t)arg);
    if (reason->kind != HIVE_EXIT_NORMAL && reason->kind != HIVE_EXIT_SHUTDOWN &&
        reason->kind != HIVE_EXIT_KILLED) {
        char why[160];
        atomic_fetch_add_explicit(&crashes, 1, memory_order_relaxed);
        fprintf(stderr, "%s: a connection handler ended: %s\n", opts.name,
                hive_reason_format(reason, why, sizeof why));
    }
}

/* A handler's first call: its socket is closed however it ends. */
static void own_socket(int fd)
{
    if (hive_on_exit(close_fd, (void *)(intptr_t)fd) != 0)
        close(fd); /* no memory for the handler: close now, hive_io fails */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* The connections supervisor's template: one handler per accepted fd. */
static int start_handler(void *fd, hive_pid_t *pid)
{
    return hive_spawn_link(opts.handler, fd, pid);
}

static void acceptor(void *arg)
{
    int lfd = listen_fd;
    hive_pid_t conns = hive_whereis("connections");
    for (;;) {
        int c = hive_io_accept(lfd, NULL, NULL, HIVE_INFINITY);
        if (c >= 0) {
            atomic_fetch_add_explicit(&connections, 1, memory_order_relaxed);
            int rc = hive_supervisor_start_child(conns, (void *)(intptr_t)c, NULL, 5000);
            if (rc != 0) {
                close(c); /* at the process limit, or connections is restarting */
                if (rc == -ESRCH || rc == -ECONNRESET)
                    hive_panic("connections supervisor gone"); /* rest_for_one restarts us */
            }
        } else if (c == -EMFILE || c == -ENFILE || c == -ENOBUFS || c == -ENOMEM) {
            hive_sleep(10); /* out of fds: let handlers finish, then retry */
        } else {
            fprintf(stderr, "%s: accept: %s\n", opts.name, hive_strerror(c));
            hive_sleep(10);
        }
    }
}

static int start_acceptor(void *arg, hive_pid_t *pid)
{
    return hive_spawn_link(acceptor, arg, pid);
}

/* The tree (see the top of this file). */
static const hive_sup_spec_t connections_spec = {
    .dynamic = true,
    .template_ = {.id = "handler", .start = start_handler, .restart = HIVE_TEMPORARY,
                  .shutdown_ms = HIVE_SHUTDOWN_BRUTAL_KILL},
    .intensity = 1000, .period_s = 1, /* temporary children never restart anyway */
    .name = "connections",
};

static int start_server_tree(hive_pid_t *root)
{
    static hive_child_spec_t kids[2];
    kids[0] = hive_supervisor_child("connections", &connections_spec);
    kids[1] = (hive_child_spec_t){.id = "acceptor", .start = start_acceptor,
                                  .restart = HIVE_PERMANENT,
                                  .shutdown_ms = HIVE_SHUTDOWN_BRUTAL_KILL};
    hive_sup_spec_t spec = {.strategy = HIVE_REST_FOR_ONE, .intensity = 10, .period_s = 10,
                            .children = kids, .nchildren = 2, .name = "server"};
    hive_reason_t why;
    int rc = hive_supervisor_start(&spec, root, &why);
    if (rc) {
        char buf[160];
        fprintf(stderr, "%s: cannot start the supervision tree: %s (%s)\n", opts.name,
                hive_strerror(rc), hive_reason_format(&why, buf, sizeof buf));
    }
    return rc;
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
    listen_fd = lfd;
    hive_pid_t root;
    hive_thread_attach(NULL); /* this thread starts and stops the tree */
    if (start_server_tree(&root) != 0)
        return 1;
    printf("%s: listening on %s:%d\n", opts.name, opts.host, bound_port(lfd));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    /* The tree stops in order: the acceptor first, then every handler
     * (their on-exit handlers close the sockets), then the supervisors. */
    hive_supervisor_stop(root, 10000);
    hive_thread_detach();
    hive_runtime_stop();
    close(lfd);
    fprintf(stderr, "%s: stopped by signal %d after %ld connections, %ld handler crashes\n",
            opts.name, sig, atomic_load_explicit(&connections, memory_order_relaxed),
            atomic_load_explicit(&crashes, memory_order_relaxed));
    return 0;
}

#endif
