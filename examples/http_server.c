/* http_server.c - a small HTTP/1.1 keep-alive server: one hive process per
 * connection (structure and supervision notes in acceptor.h).
 *
 * GET or HEAD / answers "Hello, World!\n"; anything else is 404. It keeps
 * connections alive (HTTP/1.1 default; HTTP/1.0 with Connection:
 * keep-alive), answers pipelined requests in order, and defends itself:
 *   - headers over 8 KiB: 431 and close;
 *   - a malformed request line or header, a bad Content-Length: 400 and close;
 *   - Transfer-Encoding (chunked bodies are not supported here): 501 and close;
 *   - a body over 1 MiB: 413 and close (smaller bodies are read and ignored);
 *   - a client that takes longer than --timeout-ms (default 10 s) to send a
 *     request's headers (slowloris) gets 408 and is closed; an idle
 *     keep-alive connection is closed after the same time.
 * With --allow-crash, GET /crash makes the handler panic (tests): only that
 * connection ends.
 *
 *   http_server [--host 127.0.0.1] [--port 0] [--timeout-ms 10000] [--allow-crash]
 *
 * Build: part of the hive build (examples/), or against an installed hive:
 *   cc http_server.c $(pkg-config --cflags --libs hive) -o http_server
 */
#define _GNU_SOURCE /* accept4, sigwait, pthread_sigmask */
#include <ctype.h>
#include <strings.h>
#include <time.h>

#include "acceptor.h"

#define MAX_HEADER 8192
#define MAX_BODY (1 << 20)

static const char hello[] = "Hello, World!\n";

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void respond(int fd, int status, const char *reason, const char *body, bool head,
                    bool close_after)
{
    char out[512];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n%s",
                     status, reason, blen, close_after ? "Connection: close\r\n" : "",
                     head || !body ? "" : body);
    hive_io_write(fd, out, (size_t)n, opts.timeout_ms);
}

/* Find the end of the header block ("\r\n\r\n") in buf[0..len): the offset
 * just past it, or 0. */
static size_t header_end(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

typedef struct request {
    char method[16];
    char target[256];
    int minor;            /* HTTP/1.<minor> */
    bool close;           /* the connection ends after the response */
    long content_length;
    bool chunked;
} request_t;

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
            return false;
    return true;
}

/* Parse the header block hdr[0..len) (ends in \r\n\r\n). 0, or the status
 * to answer with before closing. */
static int parse(char *hdr, size_t len, request_t *rq)
{
    memset(rq, 0, sizeof *rq);
    char *line = hdr, *end = hdr + len - 2; /* the final empty line */
    char *eol = memchr(line, '\r', (size_t)(end - line));
    if (!eol || eol[1] != '\n')
        return 400;
    /* METHOD SP TARGET SP HTTP/1.x */
    char *sp1 = memchr(line, ' ', (size_t)(eol - line));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || !is_token(line, (size_t)(sp1 - line)) ||
        (size_t)(sp1 - line) >= sizeof rq->method)
        return 400;
    size_t tlen = (size_t)(sp2 - sp1 - 1);
    if (tlen == 0 || sp1[1] != '/')
        return 400;
    if (tlen >= sizeof rq->target)
        return 414;
    if (eol - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return 400;
    memcpy(rq->method, line, (size_t)(sp1 - line));
    memcpy(rq->target, sp1 + 1, tlen);
    rq->minor = sp2[8] - '0';
    rq->close = rq->minor == 0;
    for (line = eol + 2; line < end; line = eol + 2) {
        eol = memchr(line, '\r', (size_t)(end + 2 - line));
        if (!eol || eol[1] != '\n')
            return 400;
        char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon || !is_token(line, (size_t)(colon - line)))
            return 400;
        size_t nlen = (size_t)(colon - line);
        char *v = colon + 1;
        while (v < eol && (*v == ' ' || *v == '\t'))
            v++;
        size_t vlen = (size_t)(eol - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (nlen == 10 && !strncasecmp(line, "connection", 10)) {
            if (vlen == 5 && !strncasecmp(v, "close", 5))
                rq->close = true;
            else if (vlen == 10 && !strncasecmp(v, "keep-alive", 10))
                rq->close = false;
        } else if (nlen == 14 && !strncasecmp(line, "content-length", 14)) {
            long n = 0;
            if (vlen == 0 || vlen > 9)
                return vlen > 9 ? 413 : 400;
            for (size_t i = 0; i < vlen; i++) {
                if (!isdigit((unsigned char)v[i]))
                    return 400;
                n = n * 10 + (v[i] - '0');
            }
            rq->content_length = n;
        } else if (nlen == 17 && !strncasecmp(line, "transfer-encoding", 17)) {
            rq->chunked = true;
        }
    }
    if (rq->chunked)
        return 501;
    if (rq->content_length > MAX_BODY)
        return 413;
    return 0;
}

static const char *reason_of(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    default: return "Error";
    }
}

static void http_handler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    own_socket(fd);
    char buf[MAX_HEADER];
    size_t have = 0;
    for (;;) {
        /* Read until the header block is complete, within the deadline. */
        int64_t deadline = now_ms() + opts.timeout_ms;
        size_t hend;
        while ((hend = header_end(buf, have)) == 0) {
            if (have == sizeof buf) {
                respond(fd, 431, reason_of(431), "headers too large\n", false, true);
                return;
            }
            int64_t left = deadline - now_ms();
            ssize_t n = left > 0 ? hive_io_read(fd, buf + have, sizeof buf - have, left)
                                 : -ETIMEDOUT;
            if (n == -ETIMEDOUT && have > 0)
                respond(fd, 408, reason_of(408), "request timeout\n", false, true);
            if (n <= 0)
                return; /* closed, idle too long, or an error */
            have += (size_t)n;
        }
        request_t rq;
        int status = parse(buf, hend, &rq);
        if (status) {
            respond(fd, status, reason_of(status), "bad request\n", false, true);
            return;
        }
        /* Skip the body: what is buffered, then the rest from the socket. */
        long body = rq.content_length;
        size_t inbuf = have - hend < (size_t)body ? have - hend : (size_t)body;
        hend += inbuf;
        body -= (long)inbuf;
        while (body > 0) {
            char sink[4096];
            ssize_t n = hive_io_read(fd, sink, body < 4096 ? (size_t)body : 4096, opts.timeout_ms);
            if (n <= 0)
                return;
            body -= n;
        }
        bool head = !strcmp(rq.method, "HEAD");
        if (opts.allow_crash && !strcmp(rq.target, "/crash"))
            hive_panic("crash requested by the client");
        if ((head || !strcmp(rq.method, "GET")) && !strcmp(rq.target, "/"))
            respond(fd, 200, "OK", hello, head, rq.close);
        else
            respond(fd, 404, "Not Found", "not found\n", head, rq.close);
        if (rq.close)
            return;
        /* Pipelined bytes after this request move to the front. */
        memmove(buf, buf + hend, have - hend);
        have -= hend;
    }
}

int main(int argc, char **argv)
{
    opts = (server_opts_t){.name = "http_server", .host = "127.0.0.1", .timeout_ms = 10000,
                           .handler = http_handler};
    return serve(argc, argv);
}
