/* test_explore.c - an interleaving explorer for the Chase-Lev deque
 * (sched/deque.c), the Vyukov MPSC queue (mailbox/mpsc.c) and the batch
 * depot (mailbox/depot.c).
 *
 * What it proves: for each scenario below, in every schedule it runs, no
 * item is lost, none is taken twice, thieves take items oldest first and
 * each producer's nodes leave the queue in the order pushed. Scenarios
 * follow Tokio's loom tests for its run queue (basic, steal while the owner
 * overflows - here: grows -, several stealers, chained steals) plus
 * producer/consumer races on the mailbox queue, and givers and takers
 * racing on the depot (a record is never held by two at once, none is
 * lost, a refused put leaves the record with its giver).
 *
 * How: this executable compiles deque.c and mpsc.c itself with
 * -DHIVE_EXPLORE=1, so HIVE_STEP() (mailbox/explore.h) before each shared
 * atomic step suspends the logical thread (a hive fiber) back to the driver.
 * The driver decides which logical thread performs its next step:
 *   - DFS: every schedule, by re-running the scenario with the choice
 *     sequence of the previous run advanced like an odometer (stateless
 *     model checking). Optionally bounded to K preemptions (switching away
 *     from a thread that could have continued), as CHESS does: every
 *     schedule with at most K preemptions is run. Bound -1 is exhaustive.
 *   - random: seeded uniform choices, for scenarios too big for DFS.
 * Each count printed is the number of distinct schedules run.
 *
 * What it cannot see: every schedule runs under sequential consistency on
 * one OS thread, so a reordering that only weak memory allows (a missing
 * release/acquire or fence) is invisible here; ThreadSanitizer runs and the
 * ordering argument at each atomic cover those. It also sees only the steps
 * marked with HIVE_STEP() (owner-only reads of bottom and array are not).
 *
 * Tests that can fail (checked by hand when this was written): with the CAS
 * in hive__deque_steal() replaced by a plain store, deque_last_item and
 * deque_multi_stealer report an item taken twice; without the "a producer
 * is in its window" check in hive__mpsc_pop(), mpsc_1_producer_x3 reports
 * the stub handed out; with hive__depot_get() not pushing the rest back,
 * depot_unbounded reports a record lost (a push made a plain store instead
 * of a CAS links a record into a cycle, and the run hangs until ctest's
 * timeout).
 *
 * Usage: test_explore [long]   (long: higher preemption bounds and 100x the
 * random schedules; ctest label stress). HIVE_EXPLORE_SEED=n changes the
 * random schedules' seed (printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include "mailbox/depot.h"
#include "mailbox/mpsc.h"
#include "sched/deque.h"
#include "sched/fiber.h"
#include "tests/scale.h"

#define MAXT 4
#define MAXDEPTH 4096
#define MAXITEMS 64

/* ---- the driver --------------------------------------------------------- */

/* A logical thread is one fiber for the whole program: between runs it
 * waits suspended at the end of its loop (creating a fiber per run costs a
 * TSan fiber each time, which made TSan runs take minutes). */
typedef struct lthread {
    hive__fiber_t f;
    hive__stack_t st;
    void (*fn)(int id);
    int id;
    bool finished; /* fn returned in this run */
} lthread_t;

typedef struct scenario {
    const char *name;
    int nthreads;
    void (*setup)(void);
    void (*thread)(int id);
    /* After every thread finished, on the driver's stack: drain what is
     * left and check. Returns NULL or what went wrong. */
    const char *(*check)(void);
} scenario_t;

static hive__ctx_t main_ctx;
static lthread_t th[MAXT];
static lthread_t *cur;

typedef struct choice {
    uint8_t pick; /* index into the options at this point */
    uint8_t n;    /* how many options there were */
} choice_t;

static choice_t trail[MAXDEPTH];
static int trail_len, depth;
static bool random_mode;
static uint64_t rng;
static int bound, preemptions;
static long failures;
static char first_failure[512];

void hive__explore_step(void)
{
    if (cur)
        hive__fiber_suspend(&cur->f);
}

static void entry(void *arg)
{
    lthread_t *t = arg;
    for (;;) {
        t->fn(t->id);
        t->finished = true;
        hive__fiber_suspend(&t->f); /* resumed by the next run */
    }
}

static uint64_t next_rand(void)
{
    rng ^= rng << 13; /* xorshift64 */
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Which thread runs next. options[0] is the thread that ran last when it
 * can go on (continuing it is no preemption), then the others in order. */
static int choose(const int *options, int n, bool last_enabled)
{
    if (n == 1)
        return options[0];
    if (!random_mode && bound >= 0 && last_enabled && preemptions >= bound)
        return options[0]; /* out of preemptions: the last thread goes on */
    int pick;
    if (random_mode) {
        pick = (int)(next_rand() % (uint64_t)n);
        if (trail_len < MAXDEPTH) /* recorded only to print a failing run */
            trail[trail_len++] = (choice_t){.pick = (uint8_t)pick, .n = (uint8_t)n};
    } else if (depth < trail_len) {
        pick = trail[depth].pick;
        if (trail[depth].n != n) { /* the scenario is not deterministic */
            fprintf(stderr, "explore: replay diverged at step %d\n", depth);
            abort();
        }
        depth++;
    } else {
        if (trail_len == MAXDEPTH) {
            fprintf(stderr, "explore: schedule deeper than %d steps\n", MAXDEPTH);
            abort();
        }
        trail[trail_len++] = (choice_t){.pick = 0, .n = (uint8_t)n};
        pick = 0;
        depth++;
    }
    if (pick != 0 && last_enabled)
        preemptions++;
    return options[pick];
}

static void run_once(const scenario_t *sc)
{
    sc->setup();
    for (int i = 0; i < sc->nthreads; i++) {
        th[i].fn = sc->thread;
        th[i].id = i;
        th[i].finished = false;
    }
    depth = 0;
    preemptions = 0;
    if (random_mode)
        trail_len = 0;
    int last = -1;
    for (;;) {
        int options[MAXT], n = 0;
        bool last_enabled = last >= 0 && !th[last].finished;
        if (last_enabled)
            options[n++] = last;
        for (int i = 0; i < sc->nthreads; i++)
            if (i != last && !th[i].finished)
                options[n++] = i;
        if (n == 0)
            break;
        int k = choose(options, n, last_enabled);
        cur = &th[k];
        hive__fiber_resume(&main_ctx, &th[k].f);
        cur = NULL;
        last = k;
    }
    const char *bad = sc->check();
    if (bad && failures++ == 0) {
        int len = snprintf(first_failure, sizeof first_failure, "%s: %s; schedule:", sc->name, bad);
        for (int i = 0; i < trail_len && len < (int)sizeof first_failure - 8; i++)
            len += snprintf(first_failure + len, sizeof first_failure - (size_t)len, " %d/%d",
                            trail[i].pick, trail[i].n);
    }
    rcu_quiescent_state(); /* deque arrays retired by grow() may go */
}

/* Odometer step: the deepest choice with options left moves on. */
static bool backtrack(void)
{
    while (trail_len > 0 && trail[trail_len - 1].pick + 1 >= trail[trail_len - 1].n)
        trail_len--;
    if (trail_len == 0)
        return false;
    trail[trail_len - 1].pick++;
    return true;
}

/* Every schedule with at most `preemption_bound` preemptions (-1: all), or
 * max_runs of them. Returns the number run; *complete says whether that was
 * all of them. */
static long explore_dfs(const scenario_t *sc, int preemption_bound, long max_runs, bool *complete)
{
    random_mode = false;
    bound = preemption_bound;
    trail_len = 0;
    long runs = 0;
    bool more;
    do {
        run_once(sc);
        runs++;
    } while ((more = backtrack()) && runs < max_runs);
    *complete = !more;
    return runs;
}

static long explore_random(const scenario_t *sc, long runs, uint64_t seed)
{
    random_mode = true;
    rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    for (long i = 0; i < runs; i++)
        run_once(sc);
    return runs;
}

static bool long_mode;
static long total_schedules;

static void report(const char *how, const scenario_t *sc, long runs, bool complete)
{
    total_schedules += runs;
    printf("# explore %-22s %-26s %9ld schedules%s\n", sc->name, how, runs,
           complete ? " (all of them)" : "");
}

static void dfs(const scenario_t *sc, int preemption_bound, long max_runs)
{
    bool complete;
    long runs = explore_dfs(sc, preemption_bound, max_runs, &complete);
    char how[64];
    if (preemption_bound < 0)
        snprintf(how, sizeof how, "dfs, unbounded");
    else
        snprintf(how, sizeof how, "dfs, <= %d preemptions", preemption_bound);
    report(how, sc, runs, complete);
    if (failures)
        fail_msg("%ld schedule(s) failed; first: %s", failures, first_failure);
}

static void random_runs(const scenario_t *sc, long runs)
{
    const char *s = getenv("HIVE_EXPLORE_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 12345;
    explore_random(sc, runs, seed);
    char how[64];
    snprintf(how, sizeof how, "random, seed %llu", (unsigned long long)seed);
    report(how, sc, runs, false);
    if (failures)
        fail_msg("%ld schedule(s) failed; first: %s", failures, first_failure);
}

/* ---- deque scenarios ------------------------------------------------------ */

#define ITEM(i) ((void *)(uintptr_t)(((i) + 1) << 4))
#define INDEX(p) ((int)(((uintptr_t)(p) >> 4) - 1))

static hive__deque_t d1, d2;
static bool d_live;
static int seen[MAXITEMS];
static int nitems;
/* What each logical thread took, in order (for the FIFO check). */
static int took[MAXT][MAXITEMS], ntook[MAXT];
static const char *thread_error;

static void deque_reset(int items)
{
    if (d_live) {
        hive__deque_destroy(&d1);
        hive__deque_destroy(&d2);
    }
    if (hive__deque_init(&d1, 2) || hive__deque_init(&d2, 2))
        abort();
    d_live = true;
    nitems = items;
    memset(seen, 0, sizeof seen);
    memset(ntook, 0, sizeof ntook);
    thread_error = NULL;
}

static void took_item(int tid, void *x)
{
    int i = INDEX(x);
    if (i < 0 || i >= nitems) {
        thread_error = "a deque returned something never pushed";
        return;
    }
    seen[i]++;
    took[tid][ntook[tid]++] = i;
}

/* Steal once from d into thread tid's record; true if it took something. */
static bool steal_into(int tid, hive__deque_t *d, void **out)
{
    void *x = hive__deque_steal(d);
    if (!x || x == HIVE__DEQUE_ABORT)
        return false;
    took_item(tid, x);
    if (out)
        *out = x;
    return true;
}

static void pop_into(int tid, hive__deque_t *d)
{
    void *x = hive__deque_pop(d);
    if (x)
        took_item(tid, x);
}

static const char *deque_check(void)
{
    if (thread_error)
        return thread_error;
    void *x;
    for (hive__deque_t *d = &d1; d; d = d == &d1 ? &d2 : NULL)
        while ((x = hive__deque_pop(d)))
            took_item(MAXT - 1, x);
    if (thread_error)
        return thread_error;
    for (int i = 0; i < nitems; i++) {
        if (seen[i] == 0)
            return "an item was lost";
        if (seen[i] > 1)
            return "an item was taken twice";
    }
    return NULL;
}

/* Thieves of d1 (not chained) take items oldest first. */
static const char *thieves_fifo(int first_thief, int nthieves)
{
    for (int t = first_thief; t < first_thief + nthieves; t++)
        for (int k = 1; k < ntook[t]; k++)
            if (took[t][k] <= took[t][k - 1])
                return "a thief took a newer item before an older one";
    return NULL;
}

/* basic: the owner pushes 2, pops 1, pushes 1, pops 1; one thief steals
 * once (twice in long mode) (loom: basic). Small enough for every
 * schedule: 10^4 of them with one steal, 7 x 10^6 with two. */
static int basic_steals;
static void basic_setup(void)
{
    deque_reset(3);
}
static void basic_thread(int id)
{
    if (id == 0) {
        hive__deque_push(&d1, ITEM(0));
        hive__deque_push(&d1, ITEM(1));
        pop_into(0, &d1);
        hive__deque_push(&d1, ITEM(2));
        pop_into(0, &d1);
    } else {
        for (int k = 0; k < basic_steals; k++)
            steal_into(1, &d1, NULL);
    }
}
static const char *basic_check(void)
{
    const char *bad = deque_check();
    return bad ? bad : thieves_fifo(1, 1);
}
static const scenario_t basic = {"deque_basic", 2, basic_setup, basic_thread, basic_check};

/* last item: push one, pop it, against one steal: exactly one wins. */
static void last_setup(void)
{
    deque_reset(1);
}
static void last_thread(int id)
{
    if (id == 0) {
        hive__deque_push(&d1, ITEM(0));
        pop_into(0, &d1);
    } else {
        steal_into(1, &d1, NULL);
    }
}
static const scenario_t last_item = {"deque_last_item", 2, last_setup, last_thread, deque_check};

/* steal while the owner overflows: a 2-slot array grows twice (to 8) under
 * a thief's feet (loom: steal_overflow; Tokio moves half to its injection
 * queue, hive doubles the array). */
static void overflow_setup(void)
{
    deque_reset(5);
}
static void overflow_thread(int id)
{
    if (id == 0) {
        for (int i = 0; i < 5; i++)
            hive__deque_push(&d1, ITEM(i));
        pop_into(0, &d1);
    } else {
        for (int k = 0; k < 3; k++)
            steal_into(1, &d1, NULL);
    }
}
static const char *overflow_check(void)
{
    const char *bad = deque_check();
    return bad ? bad : thieves_fifo(1, 1);
}
static const scenario_t steal_overflow = {"deque_steal_overflow", 2, overflow_setup,
                                          overflow_thread, overflow_check};

/* several stealers: two thieves race each other and the owner's pop for
 * three items (loom: multi_stealer). */
static void multi_setup(void)
{
    deque_reset(3);
}
static void multi_thread(int id)
{
    if (id == 0) {
        for (int i = 0; i < 3; i++)
            hive__deque_push(&d1, ITEM(i));
        pop_into(0, &d1);
        pop_into(0, &d1);
    } else {
        steal_into(id, &d1, NULL);
        steal_into(id, &d1, NULL);
    }
}
static const char *multi_check(void)
{
    const char *bad = deque_check();
    return bad ? bad : thieves_fifo(1, 2);
}
static const scenario_t multi_stealer = {"deque_multi_stealer", 3, multi_setup, multi_thread,
                                         multi_check};

/* chained steals: thief 1 steals from the owner's deque into its own and
 * pops from it while thief 2 steals from thief 1's deque (loom:
 * chained_steal; the scheduler's steal-into-own-queue). */
static void chain_setup(void)
{
    deque_reset(3);
}
static void chain_thread(int id)
{
    if (id == 0) {
        for (int i = 0; i < 3; i++)
            hive__deque_push(&d1, ITEM(i));
        pop_into(0, &d1);
    } else if (id == 1) {
        for (int k = 0; k < 2; k++) {
            void *x = hive__deque_steal(&d1);
            if (x && x != HIVE__DEQUE_ABORT)
                hive__deque_push(&d2, x); /* not taken yet: it moved */
        }
        pop_into(1, &d2);
    } else {
        steal_into(2, &d2, NULL);
        steal_into(2, &d2, NULL);
    }
}
static const scenario_t chained_steal = {"deque_chained_steal", 3, chain_setup, chain_thread,
                                         deque_check};

/* ---- mpsc scenarios --------------------------------------------------------- */

typedef struct node {
    hive__mpsc_node_t n;
    int producer, seq;
} node_t;

static hive__mpsc_t q;
static node_t nodes[MAXT][MAXITEMS];
static int per_producer, nproducers;
static int got_seq[MAXT]; /* next seq expected from each producer */
static int got_total;
static const char *mpsc_error;

static void mpsc_reset(int producers, int each)
{
    hive__mpsc_init(&q);
    nproducers = producers;
    per_producer = each;
    memset(got_seq, 0, sizeof got_seq);
    got_total = 0;
    mpsc_error = NULL;
    for (int p = 0; p < producers; p++)
        for (int i = 0; i < each; i++)
            nodes[p][i] = (node_t){.producer = p, .seq = i};
}

static void mpsc_took(hive__mpsc_node_t *n)
{
    if (n == &q.stub) {
        mpsc_error = "pop handed out the stub";
        return;
    }
    node_t *x = (node_t *)(void *)n;
    if (x->seq != got_seq[x->producer])
        mpsc_error = x->seq < got_seq[x->producer] ? "a node came out twice"
                                                   : "a producer's nodes came out of order";
    got_seq[x->producer] = x->seq + 1;
    got_total++;
}

/* The consumer is the last logical thread; it pops `tries` times. */
static int consumer_tries;
static void mpsc_thread(int id)
{
    if (id < nproducers) {
        for (int i = 0; i < per_producer; i++)
            hive__mpsc_push(&q, &nodes[id][i].n);
        return;
    }
    for (int k = 0; k < consumer_tries; k++) {
        hive__mpsc_node_t *n = hive__mpsc_pop(&q);
        if (n)
            mpsc_took(n);
    }
}

static const char *mpsc_check(void)
{
    hive__mpsc_node_t *n;
    while (!mpsc_error && (n = hive__mpsc_pop(&q)))
        mpsc_took(n);
    if (mpsc_error)
        return mpsc_error;
    if (got_total != nproducers * per_producer)
        return "a node was lost";
    if (!hive__mpsc_empty(&q))
        return "the queue says non-empty after everything came out";
    return NULL;
}

static void mpsc_2x2_setup(void)
{
    mpsc_reset(2, 2), consumer_tries = 3;
}
static const scenario_t mpsc_2x2 = {"mpsc_2_producers_x2", 3, mpsc_2x2_setup, mpsc_thread,
                                    mpsc_check};
static void mpsc_3x1_setup(void)
{
    mpsc_reset(3, 1), consumer_tries = 3;
}
static const scenario_t mpsc_3x1 = {"mpsc_3_producers_x1", 4, mpsc_3x1_setup, mpsc_thread,
                                    mpsc_check};
static void mpsc_1x3_setup(void)
{
    mpsc_reset(1, 3), consumer_tries = 4;
}
static const scenario_t mpsc_1x3 = {"mpsc_1_producer_x3", 2, mpsc_1x3_setup, mpsc_thread,
                                    mpsc_check};
static void mpsc_3x3_setup(void)
{
    mpsc_reset(3, 3), consumer_tries = 8;
}
static const scenario_t mpsc_3x3 = {"mpsc_3_producers_x3", 4, mpsc_3x3_setup, mpsc_thread,
                                    mpsc_check};

/* ---- depot scenarios ------------------------------------------------------------- */

/* Records 0..DREC-1; owner[i] counts who holds record i (the depot, a
 * thread, or nobody yet): every record must end held exactly once. */
#define DREC 5
static hive__depot_t dep;
static hive__depot_rec_t drec[DREC];
static int dheld[DREC];     /* times taken out of the depot */
static int dgiven[DREC];    /* times put in successfully */
static int dmax;
static const char *depot_error;

static void depot_reset(int max)
{
    dep = (hive__depot_t){0};
    memset(drec, 0, sizeof drec);
    memset(dheld, 0, sizeof dheld);
    memset(dgiven, 0, sizeof dgiven);
    dmax = max;
    depot_error = NULL;
}

static void depot_took(hive__depot_rec_t *r, bool chain)
{
    for (; r; r = chain ? r->next : NULL) {
        int i = (int)(r - drec);
        if (i < 0 || i >= DREC) {
            depot_error = "a foreign pointer came out of the depot";
            return;
        }
        if (++dheld[i] > dgiven[i])
            depot_error = "a record came out more often than it went in";
    }
}

static void depot_give(int i)
{
    if (hive__depot_put(&dep, &drec[i], dmax))
        dgiven[i]++;
}

/* Two givers (records 0-1 and 2-3, the second giver then takes one back
 * and gives record 4) and a taker that takes one and then drains. */
static void depot_thread(int id)
{
    if (id == 0) {
        depot_give(0);
        depot_give(1);
    } else if (id == 1) {
        depot_give(2);
        depot_give(3);
        depot_took(hive__depot_get(&dep), false);
        depot_give(4);
    } else {
        depot_took(hive__depot_get(&dep), false);
        depot_took(hive__depot_drain(&dep), true);
    }
}

static const char *depot_check(void)
{
    depot_took(hive__depot_drain(&dep), true);
    if (depot_error)
        return depot_error;
    for (int i = 0; i < DREC; i++)
        if (dheld[i] != dgiven[i])
            return "a record put in never came out";
    if (hive__depot_get(&dep))
        return "the depot is not empty after a drain";
    return NULL;
}

static void depot_free_setup(void) { depot_reset(100); }
static const scenario_t depot_free = {"depot_unbounded", 3, depot_free_setup, depot_thread,
                                      depot_check};
static void depot_bounded_setup(void) { depot_reset(2); }
static const scenario_t depot_bounded = {"depot_bound_2", 3, depot_bounded_setup, depot_thread,
                                         depot_check};

/* ---- the tests ---------------------------------------------------------------- */

static void reset_failures(void)
{
    failures = 0;
    first_failure[0] = 0;
}

static void deque_every_schedule_of_small_scenarios(void **state)
{
    reset_failures();
    dfs(&last_item, -1, 10000000);
    basic_steals = long_mode ? 2 : 1;
    dfs(&basic, -1, 10000000);
}

static void deque_loom_scenarios_bounded(void **state)
{
    reset_failures();
    int k = long_mode ? 5 : 3;
    long cap = long_mode ? 50000000 : 2000000;
    dfs(&steal_overflow, k, cap);
    dfs(&multi_stealer, k, cap);
    dfs(&chained_steal, k, cap);
}

static void deque_random_schedules(void **state)
{
    reset_failures();
    long n = hive_test_scaled(long_mode ? 5000000 : 100000);
    random_runs(&steal_overflow, n);
    random_runs(&multi_stealer, n);
    random_runs(&chained_steal, n);
}

static void mpsc_every_schedule_of_small_scenarios(void **state)
{
    reset_failures();
    dfs(&mpsc_1x3, -1, 10000000);
    dfs(&mpsc_2x2, long_mode ? -1 : 3, 10000000);
    dfs(&mpsc_3x1, long_mode ? -1 : 3, 10000000);
}

static void mpsc_random_schedules(void **state)
{
    reset_failures();
    long n = hive_test_scaled(long_mode ? 5000000 : 100000);
    random_runs(&mpsc_3x3, n);
    if (long_mode)
        dfs(&mpsc_3x3, 3, 50000000);
}

static void depot_every_schedule_bounded(void **state)
{
    reset_failures();
    int k = long_mode ? 6 : 3;
    dfs(&depot_free, k, long_mode ? 50000000 : 2000000);
    dfs(&depot_bounded, k, long_mode ? 50000000 : 2000000);
    random_runs(&depot_bounded, hive_test_scaled(long_mode ? 5000000 : 100000));
}

static int teardown(void **state)
{
    printf("# explore total: %ld schedules\n", total_schedules);
    return 0;
}

int main(int argc, char **argv)
{
    long_mode = argc > 1 && strcmp(argv[1], "long") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    rcu_register_thread();
    hive__ctx_init_thread(&main_ctx);
    for (int i = 0; i < MAXT; i++)
        if (hive__stack_alloc(64 * 1024, &th[i].st) != 0 ||
            hive__fiber_init(&th[i].f, &th[i].st, entry, &th[i]) != 0)
            return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deque_every_schedule_of_small_scenarios),
        cmocka_unit_test(deque_loom_scenarios_bounded),
        cmocka_unit_test(deque_random_schedules),
        cmocka_unit_test(mpsc_every_schedule_of_small_scenarios),
        cmocka_unit_test(mpsc_random_schedules),
        cmocka_unit_test(depot_every_schedule_bounded),
    };
    int r = cmocka_run_group_tests(tests, NULL, teardown);
    if (d_live) {
        hive__deque_destroy(&d1);
        hive__deque_destroy(&d2);
    }
    for (int i = 0; i < MAXT; i++) {
        hive__fiber_destroy(&th[i].f);
        hive__stack_free(&th[i].st);
    }
    rcu_barrier();
    rcu_unregister_thread();
    return r;
}
