/* supervision_tree.c - a small supervision tree you can watch recover from
 * injected crashes.
 *
 *     app (one_for_one)
 *       |-- counter     an actor that counts ticks (permanent)
 *       |-- storage     a supervisor (rest_for_one)
 *       |     |-- db     a worker (permanent)
 *       |     `-- cache  a worker that depends on db (permanent): when db
 *       |                dies, cache is restarted after it (rest_for_one)
 *       `-- chaos       every 150 ms crashes or kills one of counter, db,
 *                       cache (temporary: stopped for good at the end)
 *
 * Every start and every crash is printed as it happens; once a second the
 * tree is printed (which_children). After N seconds (argv[1], default 3)
 * the tree is stopped in order and the program checks that every child was
 * running again at the end: the exit status is 0 if the tree recovered.
 *
 *     $ build/release/examples/supervision_tree 3
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hive/hive.h>

enum { TICK = 1, CRASH };

static _Atomic long starts, crashes;

static void say(const char *fmt, const char *who, const char *extra)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    static struct timespec t0;
    if (!t0.tv_sec)
        t0 = ts;
    double t = (double)(ts.tv_sec - t0.tv_sec) + (double)(ts.tv_nsec - t0.tv_nsec) / 1e9;
    printf("[%6.3f] ", t);
    printf(fmt, who, extra);
    putchar('\n');
    fflush(stdout);
}

static void on_end(void *name, const hive_reason_t *r)
{
    char why[160];
    if (r->kind != HIVE_EXIT_SHUTDOWN) {
        atomic_fetch_add(&crashes, 1);
        say("%-8s died: %s", name, hive_reason_format(r, why, sizeof why));
    }
}

/* ---- counter: an actor ---------------------------------------------------- */

static int counter_init(void *arg, void **state, hive_reason_t *fail)
{
    static long count;
    count = 0;
    *state = &count;
    hive_register("counter", hive_self());
    hive_on_exit(on_end, "counter");
    atomic_fetch_add(&starts, 1);
    say("%-8s started%s", "counter", "");
    return 0;
}

static hive_next_t counter_handle(void *state, hive_msg_t *m)
{
    long *n = state;
    if (hive_msg_tag(m) == CRASH)
        hive_panic("counter crashed at %ld ticks", *n);
    if (hive_msg_is_call(m))
        hive_reply(m, n, sizeof *n);
    else
        ++*n;
    return hive_continue(n);
}

static int start_counter(void *arg, hive_pid_t *pid)
{
    hive_actor_spec_t spec = {.init = counter_init, .handle = counter_handle, .link = true};
    hive_subject_t s;
    int rc = hive_actor_start(&spec, NULL, &s, NULL);
    if (rc == 0)
        *pid = s.pid;
    return rc;
}

/* ---- db and cache: plain workers ------------------------------------------- */

static void worker(void *name)
{
    hive_register(name, hive_self());
    hive_on_exit(on_end, name);
    hive_msg_t *m;
    while (hive_receive(HIVE_INFINITY, &m) == 0) {
        uint64_t tag = hive_msg_tag(m);
        hive_msg_free(m);
        if (tag == CRASH)
            hive_panic("%s crashed", (const char *)name);
    }
}

/* Runs in the supervisor, in start order. */
static int start_worker(void *name, hive_pid_t *pid)
{
    int rc = hive_spawn_link(worker, name, pid);
    if (rc == 0) {
        atomic_fetch_add(&starts, 1);
        say("%-8s started%s", name, "");
    }
    return rc;
}

/* ---- chaos --------------------------------------------------------------- */

static void chaos(void *arg)
{
    static const char *const victims[] = {"counter", "db", "cache"};
    unsigned seed = (unsigned)(uintptr_t)hive_self();
    for (;;) {
        hive_sleep(150);
        hive_send_named("counter", TICK, NULL, 0);
        const char *v = victims[rand_r(&seed) % 3];
        hive_pid_t pid = hive_whereis(v);
        if (pid == HIVE_PID_NONE)
            continue; /* being restarted right now */
        if (rand_r(&seed) % 2) {
            say("chaos    kills %s%s", v, "");
            hive_kill(pid);
        } else {
            say("chaos    asks %s to crash%s", v, "");
            hive_send(pid, CRASH, NULL, 0);
        }
    }
}

static int start_chaos(void *arg, hive_pid_t *pid) { return hive_spawn_link(chaos, arg, pid); }

/* ---- the tree ------------------------------------------------------------- */

static hive_child_spec_t storage_kids[] = {
    {.id = "db", .start = start_worker, .arg = "db"},
    {.id = "cache", .start = start_worker, .arg = "cache"},
};
static const hive_sup_spec_t storage = {
    .strategy = HIVE_REST_FOR_ONE, .intensity = 100, .period_s = 1,
    .children = storage_kids, .nchildren = 2};

static void print_tree(hive_pid_t app)
{
    hive_child_info_t kids[8], sub[8];
    long n = hive_supervisor_which_children(app, kids, 8, 1000);
    printf("          tree: app");
    for (long i = 0; i < n && i < 8; i++) {
        printf(" | %s %s", kids[i].id,
               kids[i].pid == HIVE_CHILD_RESTARTING ? "restarting" : kids[i].pid ? "up" : "down");
        if (kids[i].type == HIVE_SUPERVISOR && kids[i].pid && kids[i].pid != HIVE_CHILD_RESTARTING) {
            long k = hive_supervisor_which_children(kids[i].pid, sub, 8, 1000);
            for (long j = 0; j < k && j < 8; j++)
                printf(" [%s %s]", sub[j].id, sub[j].pid ? "up" : "down");
        }
    }
    putchar('\n');
    fflush(stdout);
}

static bool all_running(hive_pid_t app)
{
    hive_child_counts_t c;
    if (hive_supervisor_count_children(app, &c, 1000) != 0 || c.active != c.specs)
        return false;
    hive_pid_t st = HIVE_PID_NONE;
    hive_child_info_t kids[8];
    long n = hive_supervisor_which_children(app, kids, 8, 1000);
    for (long i = 0; i < n && i < 8; i++)
        if (strcmp(kids[i].id, "storage") == 0)
            st = kids[i].pid;
    return st != HIVE_PID_NONE && hive_supervisor_count_children(st, &c, 1000) == 0 &&
           c.active == c.specs;
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 3;
    if (seconds <= 0) {
        fprintf(stderr, "usage: %s [seconds]\n", argv[0]);
        return 64;
    }
    hive_diag_t diag;
    if (hive_runtime_start(NULL, &diag) != 0) {
        fprintf(stderr, "%s\n", diag.message);
        return 1;
    }
    hive_thread_attach(NULL);
    hive_child_spec_t kids[] = {
        {.id = "counter", .start = start_counter},
        hive_supervisor_child("storage", &storage),
        {.id = "chaos", .start = start_chaos, .restart = HIVE_TEMPORARY,
         .shutdown_ms = HIVE_SHUTDOWN_BRUTAL_KILL},
    };
    hive_sup_spec_t app = {.strategy = HIVE_ONE_FOR_ONE, .intensity = 100, .period_s = 1,
                           .children = kids, .nchildren = 3};
    hive_pid_t root;
    hive_reason_t why;
    int rc = hive_supervisor_start(&app, &root, &why);
    if (rc) {
        char buf[160];
        fprintf(stderr, "start: %s (%s)\n", hive_strerror(rc), hive_reason_format(&why, buf, sizeof buf));
        return 1;
    }
    for (int s = 0; s < seconds; s++) {
        hive_sleep(1000);
        print_tree(root);
    }
    /* Stop chaos first, give the last restarts a moment, then check. */
    hive_child_info_t info[8];
    long n = hive_supervisor_which_children(root, info, 8, 1000);
    for (long i = 0; i < n && i < 8; i++)
        if (strcmp(info[i].id, "chaos") == 0)
            hive_supervisor_terminate_child(root, info[i].pid, 1000);
    bool ok = false;
    for (int i = 0; i < 100 && !(ok = all_running(root)); i++)
        hive_sleep(10);
    print_tree(root);
    hive_supervisor_stop(root, 10000);
    printf("%ld starts, %ld crashes; the tree %s\n", atomic_load(&starts), atomic_load(&crashes),
           ok ? "recovered from every one" : "did NOT recover");
    hive_thread_detach();
    hive_runtime_stop();
    return ok ? 0 : 1;
}
