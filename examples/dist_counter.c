/* dist_counter.c - a hive node serving a counter actor to Erlang.
 *
 * Starts the runtime, becomes the Erlang node `counter@<host>` (cookie from
 * argv[2], else ~/.erlang.cookie; registered with epmd) and runs an actor
 * registered as `counter`. It answers Erlang terms:
 *     {From, incr}   -> From ! {ok, N}      (N: the count after the incr)
 *     {From, get}    -> From ! {count, N}
 *     anything else  -> From ! {error, badarg} when From is a pid; ignored
 *                       otherwise (a malformed term never crashes it)
 * From an Erlang shell (see README.md):
 *     $ erl -sname shell -setcookie demo
 *     1> C = {counter, 'counter@myhost'}.
 *     2> C ! {self(), incr}, C ! {self(), incr}, C ! {self(), get}.
 *     3> flush().
 *
 *     $ build/release/examples/dist_counter [name] [cookie] [seconds]
 * runs until SIGINT/SIGTERM, or for `seconds` when given (0: for ever).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hive/hive.h>

static void reply(const hive_rpid_t *to, const char *tag, long long n)
{
    hive_term_buf_t b;
    if (hive_term_buf_init(&b))
        return;
    if (n < 0) {
        hive_term_put_tuple(&b, 2);
        hive_term_put_atom(&b, tag);
        hive_term_put_atom(&b, "badarg");
    } else {
        hive_term_put_tagged_long(&b, tag, n);
    }
    hive_node_send(to, &b);
    hive_term_buf_free(&b);
}

static hive_next_t handle(void *state, hive_msg_t *m)
{
    long long *count = state;
    hive_dist_msg_t d;
    hive_term_reader_t r;
    size_t arity;
    hive_rpid_t from;
    char req[32];
    if (hive_dist_msg(m, &d) || hive_term_reader_init(&r, d.term, d.len) ||
        hive_term_get_tuple(&r, &arity) || arity != 2 || hive_term_get_pid(&r, &from))
        return hive_continue(state); /* not {Pid, _}: nobody to answer */
    if (hive_term_get_atom(&r, req, sizeof req))
        reply(&from, "error", -1);
    else if (!strcmp(req, "incr"))
        reply(&from, "ok", ++*count);
    else if (!strcmp(req, "get"))
        reply(&from, "count", *count);
    else
        reply(&from, "error", -1);
    return hive_continue(state);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

int main(int argc, char **argv)
{
    static long long count;
    hive_diag_t diag;
    if (hive_runtime_start(NULL, &diag)) {
        fprintf(stderr, "dist_counter: %s\n", diag.message);
        return 1;
    }
    hive_node_config_t cfg;
    hive_node_config_init(&cfg);
    cfg.name = argc > 1 ? argv[1] : "counter";
    cfg.cookie = argc > 2 ? argv[2] : NULL;
    int rc = hive_node_start(&cfg, &diag);
    if (rc) {
        fprintf(stderr, "dist_counter: %s: %s\n", hive_strerror(rc), diag.message);
        hive_runtime_stop();
        return 1;
    }
    /* Starting an actor waits for its init: main attaches as a process. */
    hive_actor_spec_t spec = {.handle = handle, .name = "counter"};
    rc = hive_thread_attach(NULL);
    if (!rc)
        rc = hive_actor_start(&spec, &count, NULL, NULL);
    if (rc) {
        fprintf(stderr, "dist_counter: actor: %s\n", hive_strerror(rc));
        hive_node_stop();
        hive_runtime_stop();
        return 1;
    }
    printf("dist_counter: node %s serving {counter, '%s'}\n", hive_node_name(), hive_node_name());
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    long seconds = argc > 3 ? atol(argv[3]) : 0;
    time_t end = time(NULL) + seconds;
    while (!stop && (seconds == 0 || time(NULL) < end)) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    hive_node_stop();
    hive_thread_detach();
    hive_runtime_stop();
    printf("dist_counter: stopped at count %lld\n", count);
    return 0;
}
