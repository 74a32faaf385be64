/* test_topology.c - sched/topology.c: CPU list parsing and its errors, worker
 * placement (compact, scatter, none) on this machine and on synthetic hwloc
 * machines ($HWLOC_SYNTHETIC) with packages, NUMA nodes, L3s and SMT, steal
 * orders, binding a thread to a CPU, and the printed tree. */
#include <pthread.h>
#include <sched.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "sched/topology.h"

static char err[512];

static hive__topology_t *load(void)
{
    hive__topology_t *t = NULL;
    err[0] = '\0';
    int rc = hive__topology_load(&t, err, sizeof err);
    if (rc != 0)
        fail_msg("hive__topology_load: %d %s", rc, err);
    return t;
}

/* A made-up machine: hwloc reads $HWLOC_SYNTHETIC itself; every PU of a
 * synthetic machine counts as allowed. */
static hive__topology_t *load_synthetic(const char *desc)
{
    setenv("HWLOC_SYNTHETIC", desc, 1);
    hive__topology_t *t = load();
    unsetenv("HWLOC_SYNTHETIC");
    return t;
}

/* The CPUs this process may use, by the kernel's account. */
static int allowed_cpus(int *cpus, int max)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    int n = 0;
    for (int i = 0; i < CPU_SETSIZE && n < max; i++)
        if (CPU_ISSET(i, &set))
            cpus[n++] = i;
    return n;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

static void assert_refused(hive__topology_t *t, const char *list, const char *why)
{
    err[0] = '\0';
    int rc = hive__topology_check_cpus(t, list, err, sizeof err);
    if (rc != -EINVAL)
        fail_msg("'%s': expected -EINVAL, got %d", list, rc);
    assert_contains(err, why);
}

/* Lists, ranges, blanks around items and duplicates are accepted. */
static void cpu_list_accepts_lists_ranges_blanks_and_duplicates(void **state)
{
    int cpus[CPU_SETSIZE];
    int n = allowed_cpus(cpus, CPU_SETSIZE);
    hive__topology_t *t = load();
    char list[64];
    snprintf(list, sizeof list, "%d", cpus[0]);
    assert_int_equal(hive__topology_check_cpus(t, list, err, sizeof err), 0);
    snprintf(list, sizeof list, " %d , %d-%d ,%d", cpus[0], cpus[0], cpus[0], cpus[0]);
    assert_int_equal(hive__topology_check_cpus(t, list, err, sizeof err), 0);
    if (n >= 2 && cpus[1] == cpus[0] + 1) {
        snprintf(list, sizeof list, "%d-%d,%d", cpus[0], cpus[1], cpus[1]);
        assert_int_equal(hive__topology_check_cpus(t, list, err, sizeof err), 0);
    }
    hive__topology_free(t);
}

/* Malformed lists are refused with the list and the place it went wrong. */
static void cpu_list_refuses_bad_syntax_naming_the_text(void **state)
{
    hive__topology_t *t = load();
    assert_refused(t, "0-x", "bad CPU list '0-x': expected a number at 'x'");
    assert_refused(t, "x", "expected a number at 'x'");
    assert_refused(t, "", "empty");
    assert_refused(t, "  ", "empty");
    assert_refused(t, "0,", "expected a number at the end");
    assert_refused(t, ",0", "expected a number at ',0'");
    assert_refused(t, "0-", "expected a number at the end");
    assert_refused(t, "-1", "expected a number at '-1'");
    assert_refused(t, "0;1", "expected ',' or '-' at ';1'");
    assert_refused(t, "0 1", "expected ',' or '-' at '1'");
    assert_refused(t, "1-0", "range 1-0 runs backwards");
    assert_refused(t, "99999999999", "number too large");
    /* Syntax is checked before existence: the bad text is what is named. */
    assert_refused(t, "4096,y", "expected a number at 'y'");
    hive__topology_free(t);
}

/* A CPU the machine lacks is named, with the CPUs it has. */
static void cpu_list_refuses_a_cpu_that_does_not_exist(void **state)
{
    hive__topology_t *t = load();
    assert_refused(t, "4096", "CPU 4096 does not exist (this machine has CPUs ");
    assert_refused(t, "0-99999", "does not exist");
    assert_refused(t, "2147483647", "CPU 2147483647 does not exist");
    hive__topology_free(t);
    /* On a synthetic 4-PU machine the message is exact. */
    t = load_synthetic("pack:1 core:2 pu:2");
    assert_refused(t, "1-4", "CPU 4 does not exist (this machine has CPUs 0-3)");
    hive__topology_free(t);
}

/* A CPU outside the affinity mask is refused as such. Runs in a child so
 * that narrowing the mask cannot leak into other tests. */
static void cpu_list_refuses_a_cpu_outside_the_affinity_mask(void **state)
{
    int cpus[CPU_SETSIZE];
    if (allowed_cpus(cpus, CPU_SETSIZE) < 2)
        skip(); /* needs two CPUs to keep one out */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[0], &one);
        /* Narrow every thread of the child: the allowed set is the union of
         * all threads' masks, and sanitizer runtimes keep a thread of their
         * own. */
        DIR *tasks = opendir("/proc/self/task");
        if (!tasks)
            _exit(10);
        for (struct dirent *e; (e = readdir(tasks));)
            if (e->d_name[0] != '.' && sched_setaffinity(atoi(e->d_name), sizeof one, &one) != 0)
                _exit(10);
        closedir(tasks);
        hive__topology_t *t;
        if (hive__topology_load(&t, err, sizeof err) != 0)
            _exit(11);
        char list[32], want[128];
        snprintf(list, sizeof list, "%d", cpus[1]);
        snprintf(want, sizeof want, "CPU %d is not in this process's affinity mask (allowed: %d)",
                 cpus[1], cpus[0]);
        int rc = hive__topology_check_cpus(t, list, err, sizeof err);
        if (rc != -EINVAL || strstr(err, want) == NULL) {
            fprintf(stderr, "child: rc %d, message \"%s\", wanted \"%s\"\n", rc, err, want);
            _exit(12);
        }
        /* And the default ("" = allowed) shrinks with the mask. */
        if (hive__topology_ncores(t, "") != 1)
            _exit(13);
        hive__topology_free(t);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void assert_permutation_of_others(const hive__placement_t *p, int i)
{
    int n = p->nworkers;
    char *seen = calloc((size_t)n, 1);
    assert_non_null(seen);
    for (int k = 0; k < n - 1; k++) {
        int j = p->steal_order[i][k];
        assert_true(j >= 0 && j < n);
        assert_int_not_equal(j, i);
        assert_int_equal(seen[j], 0);
        seen[j] = 1;
        int d = p->steal_distance[i][k];
        assert_true(d >= 0 && d <= 4);
        if (k > 0)
            assert_true(d >= p->steal_distance[i][k - 1]); /* nearest first */
    }
    free(seen);
}

/* With no more workers than CPUs, compact and scatter give every worker its
 * own allowed CPU; each steal order holds every other worker exactly once. */
static void place_gives_distinct_allowed_cpus_on_this_machine(void **state)
{
    int cpus[CPU_SETSIZE];
    int n = allowed_cpus(cpus, CPU_SETSIZE);
    hive__topology_t *t = load();
    const hive_pin_t pins[] = {HIVE_PIN_COMPACT, HIVE_PIN_SCATTER};
    for (size_t pi = 0; pi < 2; pi++)
        for (int w = 1; w <= n && w <= 64; w++) {
            hive__placement_t p;
            assert_int_equal(hive__topology_place(t, "", pins[pi], w, &p, err, sizeof err), 0);
            assert_int_equal(p.nworkers, w);
            for (int i = 0; i < w; i++) {
                int found = 0;
                for (int k = 0; k < n; k++)
                    found |= cpus[k] == p.cpu[i];
                assert_true(found);
                for (int j = 0; j < i; j++)
                    assert_int_not_equal(p.cpu[i], p.cpu[j]);
                assert_permutation_of_others(&p, i);
            }
            hive__placement_free(&p);
        }
    hive__topology_free(t);
}

/* More workers than CPUs: the CPU order repeats, and workers sharing a CPU
 * are each other's nearest victims. */
static void place_wraps_around_when_workers_outnumber_cpus(void **state)
{
    int cpus[CPU_SETSIZE];
    int n = allowed_cpus(cpus, CPU_SETSIZE);
    if (n > 64)
        skip();
    hive__topology_t *t = load();
    hive__placement_t p;
    int w = 2 * n + 1;
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_COMPACT, w, &p, err, sizeof err), 0);
    for (int i = 0; i < w; i++) {
        assert_int_equal(p.cpu[i], p.cpu[i % n]);
        assert_permutation_of_others(&p, i);
        assert_int_equal(p.steal_distance[i][0], 0); /* its twin on the same CPU */
        assert_int_equal(p.cpu[p.steal_order[i][0]], p.cpu[i]);
    }
    hive__placement_free(&p);
    hive__topology_free(t);
}

/* pin none: nobody is bound, every victim is class 4, and worker i tries
 * i+1, i+2, ... so the first steals do not all hit worker 0. */
static void pin_none_floats_and_steals_in_rotation(void **state)
{
    hive__topology_t *t = load();
    hive__placement_t p;
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_NONE, 5, &p, err, sizeof err), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(p.cpu[i], -1);
        for (int k = 0; k < 4; k++) {
            assert_int_equal(p.steal_order[i][k], (i + 1 + k) % 5);
            assert_int_equal(p.steal_distance[i][k], 4);
        }
    }
    hive__placement_free(&p);
    hive__topology_free(t);
}

static void place_refuses_bad_arguments(void **state)
{
    hive__topology_t *t = load();
    hive__placement_t p;
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_COMPACT, 0, &p, err, sizeof err),
                     -EINVAL);
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_UNSET, 1, &p, err, sizeof err),
                     -EINVAL);
    assert_int_equal(hive__topology_place(t, "0-x", HIVE_PIN_COMPACT, 1, &p, err, sizeof err),
                     -EINVAL);
    assert_contains(err, "'0-x'");
    hive__placement_free(&p); /* harmless on a failed (zeroed) placement */
    hive__topology_free(t);
}

/* 2 packages x 2 NUMA nodes x 2 L3 x 2 cores x 2 PUs, OS indexes in
 * logical order: PU 2c and 2c+1 are core c's hardware threads. */
#define BIG "pack:2 numa:2 l3:2 core:2 pu:2"

/* compact: one PU per core in depth-first order (neighbours share an L3),
 * then the second hardware thread of each core. */
static void compact_fills_cores_in_cache_order_before_smt(void **state)
{
    hive__topology_t *t = load_synthetic(BIG);
    hive__placement_t p;
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_COMPACT, 32, &p, err, sizeof err), 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(p.cpu[i], 2 * i);          /* first PU of core i */
        assert_int_equal(p.cpu[16 + i], 2 * i + 1); /* then its sibling */
    }
    hive__placement_free(&p);
    hive__topology_free(t);

    /* Linux-style numbering (siblings n apart) gives the same cores. */
    t = load_synthetic("pack:1 core:4 pu:2(indexes=0,4,1,5,2,6,3,7)");
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_COMPACT, 8, &p, err, sizeof err), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(p.cpu[i], i);
    hive__placement_free(&p);
    hive__topology_free(t);
}

/* scatter: consecutive workers alternate packages, then NUMA nodes, then
 * L3s, then cores; hardware-thread siblings come last. */
static void scatter_spreads_over_packages_then_numa_then_l3(void **state)
{
    hive__topology_t *t = load_synthetic(BIG);
    hive__placement_t p;
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_SCATTER, 32, &p, err, sizeof err), 0);
    /* core = pack*8 + numa*4 + l3*2 + c; the first PU of core k is 2k. */
    static const int cores[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int i = 0; i < 16; i++) {
        assert_int_equal(p.cpu[i], 2 * cores[i]);
        assert_int_equal(p.cpu[16 + i], 2 * cores[i] + 1);
    }
    hive__placement_free(&p);
    hive__topology_free(t);
}

/* Distance classes: same core 0, same L3 1, same NUMA node 2, same package
 * 3, other package 4; ties in rotation order from i+1. */
static void steal_order_is_nearest_first(void **state)
{
    hive__topology_t *t = load_synthetic(BIG);
    hive__placement_t p;
    assert_int_equal(hive__topology_place(t, "", HIVE_PIN_COMPACT, 32, &p, err, sizeof err), 0);
    /* Worker 0 is on core 0; worker 16 is its sibling, 1 shares its L3,
     * 2-3 its NUMA node, 4-7 its package, 8-15 the other package. */
    static const int want_order[] = {16, 1, 17, 2, 3, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23};
    static const int want_dist[] = {0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    for (int k = 0; k < 15; k++) {
        assert_int_equal(p.steal_order[0][k], want_order[k]);
        assert_int_equal(p.steal_distance[0][k], want_dist[k]);
    }
    for (int k = 15; k < 31; k++)
        assert_int_equal(p.steal_distance[0][k], 4);
    /* Worker 5 (core 5): its sibling 21 first, then core 4's workers, in
     * rotation order from 6: 20 comes before 4. */
    assert_int_equal(p.steal_order[5][0], 21);
    assert_int_equal(p.steal_order[5][1], 20);
    assert_int_equal(p.steal_order[5][2], 4);
    assert_int_equal(p.steal_distance[5][2], 1);
    for (int i = 0; i < 32; i++)
        assert_permutation_of_others(&p, i);
    hive__placement_free(&p);
    hive__topology_free(t);
}

/* Restricting cpus restricts placement and the core count. */
static void cpus_restrict_placement_and_core_count(void **state)
{
    hive__topology_t *t = load_synthetic(BIG);
    assert_int_equal(hive__topology_ncores(t, ""), 16);
    assert_int_equal(hive__topology_ncores(t, "0-1"), 1); /* two threads, one core */
    assert_int_equal(hive__topology_ncores(t, "0,2,4"), 3);
    hive__placement_t p;
    assert_int_equal(hive__topology_place(t, "8-11", HIVE_PIN_COMPACT, 4, &p, err, sizeof err),
                     0);
    assert_int_equal(p.cpu[0], 8);
    assert_int_equal(p.cpu[1], 10);
    assert_int_equal(p.cpu[2], 9);
    assert_int_equal(p.cpu[3], 11);
    hive__placement_free(&p);
    char list[64];
    assert_int_equal(hive__topology_cpu_list(t, "", list, sizeof list), 0);
    assert_string_equal(list, "0-31");
    assert_int_equal(hive__topology_cpu_list(t, " 3,1-2 , 0", list, sizeof list), 0);
    assert_string_equal(list, "0-3");
    assert_int_equal(hive__topology_cpu_list(t, "", list, 3), -ENAMETOOLONG);
    assert_int_equal(hive__topology_core_of(t, 5), 2);
    assert_int_equal(hive__topology_core_of(t, 999), -EINVAL);
    hive__topology_free(t);
}

struct bind_arg {
    hive__topology_t *t;
    int cpu;
    int rc;
    cpu_set_t after;
};

static void *bind_thread(void *arg)
{
    struct bind_arg *a = arg;
    a->rc = hive__topology_bind_self(a->t, a->cpu);
    sched_getaffinity(0, sizeof a->after, &a->after);
    return NULL;
}

/* bind_self pins the calling thread, and only it, to exactly that CPU. */
static void bind_self_pins_the_calling_thread_to_one_cpu(void **state)
{
    int cpus[CPU_SETSIZE];
    int n = allowed_cpus(cpus, CPU_SETSIZE);
    hive__topology_t *t = load();
    for (int k = 0; k < n && k < 4; k++) {
        struct bind_arg a = {.t = t, .cpu = cpus[k]};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, bind_thread, &a), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(a.rc, 0);
        assert_int_equal(CPU_COUNT(&a.after), 1);
        assert_true(CPU_ISSET(cpus[k], &a.after));
    }
    int mine[CPU_SETSIZE];
    assert_int_equal(allowed_cpus(mine, CPU_SETSIZE), n); /* main thread untouched */
    assert_int_equal(hive__topology_bind_self(t, -1), -EINVAL);
    assert_int_equal(hive__topology_bind_self(t, 99999), -EINVAL);
    hive__topology_free(t);
}

/* The printed tree shows caches, cores, PUs and what the process may use. */
static void print_shows_the_tree_and_allowed_pus(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    hive__topology_t *t = load_synthetic(BIG);
    hive__topology_print(t, f);
    hive__topology_free(t);
    fclose(f);
    assert_contains(buf, "Machine");
    assert_contains(buf, "Package L#1");
    assert_contains(buf, "NUMA node P#3");
    assert_contains(buf, "L3 cache (16 MiB)");
    assert_contains(buf, "Core L#15: PU P#30, PU P#31");
    assert_contains(buf, "may use PUs 0-31");
    free(buf);
}

int main(void)
{
    unsetenv("HWLOC_SYNTHETIC");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpu_list_accepts_lists_ranges_blanks_and_duplicates),
        cmocka_unit_test(cpu_list_refuses_bad_syntax_naming_the_text),
        cmocka_unit_test(cpu_list_refuses_a_cpu_that_does_not_exist),
        cmocka_unit_test(cpu_list_refuses_a_cpu_outside_the_affinity_mask),
        cmocka_unit_test(place_gives_distinct_allowed_cpus_on_this_machine),
        cmocka_unit_test(place_wraps_around_when_workers_outnumber_cpus),
        cmocka_unit_test(pin_none_floats_and_steals_in_rotation),
        cmocka_unit_test(place_refuses_bad_arguments),
        cmocka_unit_test(compact_fills_cores_in_cache_order_before_smt),
        cmocka_unit_test(scatter_spreads_over_packages_then_numa_then_l3),
        cmocka_unit_test(steal_order_is_nearest_first),
        cmocka_unit_test(cpus_restrict_placement_and_core_count),
        cmocka_unit_test(bind_self_pins_the_calling_thread_to_one_cpu),
        cmocka_unit_test(print_shows_the_tree_and_allowed_pus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
