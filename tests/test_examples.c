/* test_examples.c - examples/echo_server and examples/http_server under
 * concurrent clients and bad input. Each server runs as a child process (its
 * path is argv[1] / argv[2]); the test reads the port it prints, drives it
 * from client threads, and finally stops it with SIGTERM, which must end it
 * with status 0. The servers must survive: garbage, oversized headers, slow
 * clients (dropped after --timeout-ms while others are served), and a
 * handler that crashes (--allow-crash): only that connection ends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static const char *echo_path, *http_path;

typedef struct server {
    pid_t pid;
    int port;
} server_t;

static server_t start_server(const char *path)
{
    server_t s = {-1, -1};
    int out[2];
    if (pipe(out) != 0)
        return s;
    s.pid = fork();
    if (s.pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(path, path, "--timeout-ms", "400", "--allow-crash", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256];
    if (f && fgets(line, sizeof line, f)) {
        char *colon = strrchr(line, ':');
        if (colon)
            s.port = atoi(colon + 1);
    }
    if (f)
        fclose(f);
    return s;
}

static void stop_server(server_t s)
{
    assert_int_equal(kill(s.pid, SIGTERM), 0);
    int st = 0;
    assert_int_equal(waitpid(s.pid, &st, 0), s.pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* A blocking client socket with a 30 s receive timeout (a hung server fails
 * the test instead of hanging it). */
static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return true;
}

static ssize_t recv_n(int fd, char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return got ? (ssize_t)got : r;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Read until the peer closes (or 30 s pass): what arrived, NUL-terminated. */
static size_t recv_until_close(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    return got;
}

static bool closed_by_peer(int fd)
{
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

/* ---- echo ------------------------------------------------------------------ */

#define CLIENTS 32
#define ROUNDS 50

static int port;
static _Atomic int failures;

static void *echo_client(void *arg)
{
    int fd = dial(port);
    if (fd < 0) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    for (int r = 0; r < ROUNDS; r++) {
        char out[64], in[64];
        int len = snprintf(out, sizeof out, "client %ld round %d\n", (long)(intptr_t)arg, r);
        if (!send_all(fd, out, (size_t)len) || recv_n(fd, in, (size_t)len) != len ||
            memcmp(in, out, (size_t)len) != 0) {
            atomic_fetch_add(&failures, 1);
            break;
        }
    }
    close(fd);
    return NULL;
}

static void run_clients(void *(*fn)(void *))
{
    pthread_t th[CLIENTS];
    for (long i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fn, (void *)(intptr_t)i), 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
}

static void echo_server_concurrent_clients_and_bad_input(void **state)
{
    server_t s = start_server(echo_path);
    assert_true(s.port > 0);
    port = s.port;
    atomic_store(&failures, 0);
    /* A slow client that never speaks, and one that sends binary garbage. */
    int slow = dial(port), junk = dial(port);
    assert_true(slow >= 0 && junk >= 0);
    char bin[1000];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (char)(i * 131);
    assert_true(send_all(junk, bin, sizeof bin));
    run_clients(echo_client);
    assert_int_equal(atomic_load(&failures), 0);
    char back[sizeof bin];
    assert_int_equal(recv_n(junk, back, sizeof bin), (ssize_t)sizeof bin);
    assert_memory_equal(back, bin, sizeof bin);
    assert_true(closed_by_peer(slow)); /* dropped after --timeout-ms */
    /* A crashing handler ends only its own connection. */
    int other = dial(port), crasher = dial(port);
    assert_true(send_all(crasher, "crash\n", 6));
    assert_true(closed_by_peer(crasher));
    assert_true(send_all(other, "still here\n", 11));
    char buf[16];
    assert_int_equal(recv_n(other, buf, 11), 11);
    assert_memory_equal(buf, "still here\n", 11);
    close(other);
    close(crasher);
    close(slow);
    close(junk);
    run_clients(echo_client); /* and new connections are served */
    assert_int_equal(atomic_load(&failures), 0);
    stop_server(s);
}

/* ---- http ------------------------------------------------------------------ */

static const char get[] = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/* Read one response with a Content-Length body; returns the status or -1. */
static int read_response(int fd, char *body, size_t cap)
{
    char hdr[2048];
    size_t n = 0;
    while (n < 4 || memcmp(hdr + n - 4, "\r\n\r\n", 4) != 0) {
        if (n + 1 >= sizeof hdr || recv(fd, hdr + n, 1, 0) != 1)
            return -1;
        n++;
    }
    hdr[n] = '\0';
    int status = 0;
    if (sscanf(hdr, "HTTP/1.1 %d", &status) != 1)
        return -1;
    const char *cl = strstr(hdr, "Content-Length: ");
    size_t len = cl ? (size_t)atol(cl + 16) : 0;
    if (len >= cap || recv_n(fd, body, len) != (ssize_t)len)
        return -1;
    body[len] = '\0';
    return status;
}

static void *http_client(void *arg)
{
    int fd = dial(port);
    if (fd < 0) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    for (int r = 0; r < ROUNDS; r++) {
        char body[64];
        if (!send_all(fd, get, sizeof get - 1) || read_response(fd, body, sizeof body) != 200 ||
            strcmp(body, "Hello, World!\n") != 0) {
            atomic_fetch_add(&failures, 1);
            break;
        }
    }
    close(fd);
    return NULL;
}

/* Send `req`, expect `status` and the connection closed. */
static void expect_status_and_close(const char *req, size_t len, int status)
{
    int fd = dial(port);
    assert_true(fd >= 0);
    assert_true(send_all(fd, req, len));
    char body[256];
    assert_int_equal(read_response(fd, body, sizeof body), status);
    assert_true(closed_by_peer(fd));
    close(fd);
}

static void http_server_keep_alive_clients_and_bad_input(void **state)
{
    server_t s = start_server(http_path);
    assert_true(s.port > 0);
    port = s.port;
    atomic_store(&failures, 0);
    /* A slowloris client: headers trickle in and never end. */
    int slow = dial(port);
    assert_true(send_all(slow, "GET / HTTP/1.1\r\nX-Slow: 1", 25));
    run_clients(http_client);
    assert_int_equal(atomic_load(&failures), 0);
    char buf[4096];
    recv_until_close(slow, buf, sizeof buf);
    assert_non_null(strstr(buf, "408")); /* timed out, answered, closed */
    close(slow);

    /* Garbage, a bad header line, a huge header block, chunked, a huge body. */
    expect_status_and_close("\x01\x02garbage\r\n\r\n", 13, 400);
    expect_status_and_close("GET / HTTP/1.1\r\nno colon here\r\n\r\n", 33, 400);
    expect_status_and_close("GET / FTP/9.9\r\n\r\n", 17, 400);
    static char huge[20000];
    memcpy(huge, "GET / HTTP/1.1\r\nX-Big: ", 23);
    memset(huge + 23, 'a', sizeof huge - 23);
    int fd = dial(port);
    send_all(fd, huge, sizeof huge); /* the server may close before it is all sent */
    char body[256];
    assert_int_equal(read_response(fd, body, sizeof body), 431);
    close(fd);
    expect_status_and_close("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 48, 501);
    expect_status_and_close("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 46, 413);

    /* Keep-alive with a body and pipelining, then Connection: close. */
    fd = dial(port);
    const char two[] = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                       "GET /nope HTTP/1.1\r\n\r\n"
                       "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    assert_true(send_all(fd, two, sizeof two - 1));
    assert_int_equal(read_response(fd, body, sizeof body), 404); /* POST / is not served */
    assert_int_equal(read_response(fd, body, sizeof body), 404);
    assert_int_equal(read_response(fd, body, sizeof body), 200);
    assert_true(closed_by_peer(fd));
    close(fd);

    /* A crashing handler ends its own connection only. */
    int other = dial(port), crasher = dial(port);
    assert_true(send_all(other, get, sizeof get - 1));
    assert_int_equal(read_response(other, body, sizeof body), 200);
    const char crash[] = "GET /crash HTTP/1.1\r\n\r\n";
    assert_true(send_all(crasher, crash, sizeof crash - 1));
    assert_true(closed_by_peer(crasher));
    assert_true(send_all(other, get, sizeof get - 1));
    assert_int_equal(read_response(other, body, sizeof body), 200);
    close(other);
    close(crasher);
    run_clients(http_client);
    assert_int_equal(atomic_load(&failures), 0);
    stop_server(s);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_examples ECHO_SERVER HTTP_SERVER\n");
        return 2;
    }
    echo_path = argv[1];
    http_path = argv[2];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_server_concurrent_clients_and_bad_input),
        cmocka_unit_test(http_server_keep_alive_clients_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
