/* echo_server.c - a TCP echo server: one hive process per connection.
 *
 * Each connection's process reads with hive_io_read and writes back with
 * hive_io_write; while it waits for its socket it is parked and its worker
 * runs the others, so two workers serve thousands of connections. A client
 * silent for --timeout-ms (default 30 s) is dropped. With --allow-crash, a
 * line "crash" makes the handler panic: only that connection ends (see
 * acceptor.h for the structure and where supervisors will plug in).
 *
 *   echo_server [--host 127.0.0.1] [--port 0] [--timeout-ms 30000] [--allow-crash]
 *
 * Build: part of the hive build (examples/), or against an installed hive:
 *   cc echo_server.c $(pkg-config --cflags --libs hive) -o echo_server
 */
#define _GNU_SOURCE /* accept4, sigwait, pthread_sigmask */
#include "acceptor.h"

static void echo_handler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    own_socket(fd);
    char buf[4096];
    for (;;) {
        ssize_t n = hive_io_read(fd, buf, sizeof buf, opts.timeout_ms);
        if (n <= 0)
            return; /* end of file, timeout or error: the on-exit handler closes */
        if (opts.allow_crash && n >= 5 && memcmp(buf, "crash", 5) == 0)
            hive_panic("crash requested by the client");
        if (hive_io_write(fd, buf, (size_t)n, opts.timeout_ms) != n)
            return;
    }
}

int main(int argc, char **argv)
{
    opts = (server_opts_t){.name = "echo_server", .host = "127.0.0.1", .timeout_ms = 30000,
                           .handler = echo_handler};
    return serve(argc, argv);
}
