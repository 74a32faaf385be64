/* topology.h - the machine as hwloc sees it, and where workers go.
 *
 * Loaded once per runtime start (hwloc topology discovery costs milliseconds),
 * read-only afterwards, so any thread may query it. Placement turns the
 * config's cpus / pin / workers into one CPU per worker and, for each worker,
 * the order in which it tries victims when stealing: nearest first (shares
 * L2, then L3, then NUMA node, then package, then the rest).
 */
#ifndef HIVE_SCHED_TOPOLOGY_H
#define HIVE_SCHED_TOPOLOGY_H

#include <stdio.h>

#include <hive/config.h>

typedef struct hive__topology hive__topology_t;

/* A plan for nworkers workers. cpu[i] is the OS index of the PU worker i is
 * bound to, or -1 when pin is none (then every worker floats over `allowed`).
 * steal_order[i] lists the other nworkers-1 workers, nearest to i first;
 * steal_distance[i][k] is the distance class of steal_order[i][k]
 * (0 = shares L2 or is the same core, 1 = L3, 2 = NUMA node, 3 = package,
 * 4 = other). More workers than PUs is allowed (CPUs are reused in order). */
typedef struct hive__placement {
    int nworkers;
    int *cpu;
    int **steal_order;
    int **steal_distance;
} hive__placement_t;

/* Discover the machine. 0, or -ENOMEM / -EIO with a message in err. */
int hive__topology_load(hive__topology_t **out, char *err, size_t errlen);
void hive__topology_free(hive__topology_t *t);

/* Cores (not hardware threads) among the CPUs this process may run on, or
 * among `cpus` when it is not "". */
int hive__topology_ncores(hive__topology_t *t, const char *cpus);

/* Check a CPU list ("0-3,8,10-11"): well formed, every CPU exists and is in
 * the process's affinity mask. 0 or -EINVAL with a message in err naming the
 * offending CPU or character. */
int hive__topology_check_cpus(hive__topology_t *t, const char *cpus, char *err,
                              size_t errlen);

/* The CPUs `cpus` names that this process may use ("" = all it may use) as
 * a canonical list ("0-3,8") in buf. 0, -EINVAL (bad list) or -ENAMETOOLONG
 * (does not fit in len). */
int hive__topology_cpu_list(hive__topology_t *t, const char *cpus, char *buf,
                            size_t len);

/* Logical index of the core holding PU `cpu` (OS index), or -EINVAL. */
int hive__topology_core_of(hive__topology_t *t, int cpu);

/* Plan nworkers (>0) workers over `cpus` ("" = all allowed) with `pin`. */
int hive__topology_place(hive__topology_t *t, const char *cpus, hive_pin_t pin,
                         int nworkers, hive__placement_t *out, char *err,
                         size_t errlen);
void hive__placement_free(hive__placement_t *p);

/* Bind the calling thread to PU `cpu` (OS index). 0 or -errno. */
int hive__topology_bind_self(hive__topology_t *t, int cpu);

/* Print the machine (packages, NUMA nodes, caches, cores, PUs) for hive-info. */
void hive__topology_print(hive__topology_t *t, FILE *f);

#endif
