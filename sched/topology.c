/* topology.c - the machine as hwloc 2 sees it, CPU lists, and worker placement.
 *
 * Discovery runs once (hwloc_topology_load costs milliseconds) and keeps two
 * CPU sets: `exists`, every PU in the topology (disallowed ones included, so
 * that "does not exist" and "not allowed" are told apart), and `allowed`, the
 * PUs this process may run on (cgroup cpuset ∩ the union of its threads'
 * affinity masks). A synthetic topology ($HWLOC_SYNTHETIC, read by hwloc
 * itself) is not this system: then every PU of it counts as allowed, which
 * lets tests and hive-info plan for a machine they are not running on.
 *
 * Placement works on "units": a Core, or a PU that has no Core above it (some
 * platforms report none). compact takes units in hwloc's logical order, a
 * depth-first walk, so neighbours share caches; scatter interleaves the
 * children of every tree node round-robin, so consecutive units differ at the
 * highest level first (package, then NUMA/L3 group, then L2). Either way the
 * first PU of every unit is used before any unit's second hardware thread.
 * Steal orders are a bucket sort by distance class of the rotation i+1, i+2,
 * ..., so O(n) per worker and ties spread over victims.
 *
 * Invariant: after load nothing here writes to the topology; hwloc queries
 * are read-only, so any thread may use it (hwloc documents that).
 */
#include "sched/topology.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

struct hive__topology {
    hwloc_topology_t topo;
    hwloc_bitmap_t exists;  /* PUs of the machine, OS indexes */
    hwloc_bitmap_t allowed; /* PUs this process may use, subset of exists */
};

/* Distance classes, as documented in topology.h. */
enum { DIST_L2 = 0, DIST_L3 = 1, DIST_NUMA = 2, DIST_PACKAGE = 3, DIST_OTHER = 4,
       DIST_CLASSES = 5 };

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- loading ----------------------------------------------------------- */

/* The CPUs the process may run on: hwloc's process binding is the union of
 * every thread's mask, which stays right when the caller is itself a pinned
 * worker; sched_getaffinity (this thread only) is the fallback. */
static int process_cpus(hwloc_topology_t topo, hwloc_bitmap_t out)
{
    if (hwloc_get_cpubind(topo, out, HWLOC_CPUBIND_PROCESS) == 0 &&
        !hwloc_bitmap_iszero(out))
        return 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -errno;
    hwloc_bitmap_zero(out);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            hwloc_bitmap_set(out, (unsigned)i);
    return 0;
}

int hive__topology_load(hive__topology_t **out, char *err, size_t errlen)
{
    *out = NULL;
    hive__topology_t *t = calloc(1, sizeof *t);
    if (t == NULL) {
        errf(err, errlen, "out of memory loading the topology");
        return -ENOMEM;
    }
    if (hwloc_topology_init(&t->topo) != 0) {
        free(t);
        errf(err, errlen, "hwloc_topology_init failed: %s", strerror(errno));
        return -ENOMEM;
    }
    /* Keep disallowed PUs so a CPU list naming one gets the precise error. */
    hwloc_topology_set_flags(t->topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    if (hwloc_topology_load(t->topo) != 0) {
        errf(err, errlen, "hwloc could not discover the machine: %s", strerror(errno));
        hive__topology_free(t);
        return -EIO;
    }
    t->exists = hwloc_bitmap_dup(hwloc_topology_get_topology_cpuset(t->topo));
    t->allowed = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t->topo));
    if (t->exists == NULL || t->allowed == NULL) {
        hive__topology_free(t);
        errf(err, errlen, "out of memory loading the topology");
        return -ENOMEM;
    }
    hwloc_bitmap_and(t->allowed, t->allowed, t->exists);
    if (hwloc_topology_is_thissystem(t->topo)) {
        hwloc_bitmap_t bind = hwloc_bitmap_alloc();
        int rc = bind == NULL ? -ENOMEM : process_cpus(t->topo, bind);
        if (rc != 0) {
            hwloc_bitmap_free(bind);
            hive__topology_free(t);
            errf(err, errlen, "cannot read this process's CPU affinity: %s", strerror(-rc));
            return rc == -ENOMEM ? -ENOMEM : -EIO;
        }
        hwloc_bitmap_and(t->allowed, t->allowed, bind);
        hwloc_bitmap_free(bind);
    }
    if (hwloc_bitmap_iszero(t->allowed)) {
        hive__topology_free(t);
        errf(err, errlen, "this process may not run on any CPU hwloc knows");
        return -EIO;
    }
    *out = t;
    return 0;
}

void hive__topology_free(hive__topology_t *t)
{
    if (t == NULL)
        return;
    hwloc_bitmap_free(t->exists);
    hwloc_bitmap_free(t->allowed);
    if (t->topo != NULL)
        hwloc_topology_destroy(t->topo);
    free(t);
}

/* ---- CPU lists ----------------------------------------------------------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int parse_cpu_number(const char **pp, const char *list, long *out, char *err,
                            size_t errlen)
{
    const char *p = *pp;
    if (*p < '0' || *p > '9') {
        if (*p == '\0')
            errf(err, errlen, "bad CPU list '%s': expected a number at the end", list);
        else
            errf(err, errlen, "bad CPU list '%s': expected a number at '%s'", list, p);
        return -EINVAL;
    }
    long v = 0;
    const char *start = p;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (v > INT_MAX) {
            errf(err, errlen, "bad CPU list '%s': number too large at '%s'", list, start);
            return -EINVAL;
        }
    }
    *out = v;
    *pp = p;
    return 0;
}

/* Walk "a, b-c, ..." calling visit(lo, hi) per item; syntax errors only.
 * visit may fail too (it writes its own message). */
typedef int (*cpu_range_fn)(void *ctx, long lo, long hi);

static int walk_cpu_list(const char *list, cpu_range_fn visit, void *ctx, char *err,
                         size_t errlen)
{
    const char *p = skip_ws(list);
    if (*p == '\0') {
        errf(err, errlen, "bad CPU list '%s': the list is empty", list);
        return -EINVAL;
    }
    for (;;) {
        long lo, hi;
        int rc = parse_cpu_number(&p, list, &lo, err, errlen);
        if (rc != 0)
            return rc;
        p = skip_ws(p);
        hi = lo;
        if (*p == '-') {
            p = skip_ws(p + 1);
            if ((rc = parse_cpu_number(&p, list, &hi, err, errlen)) != 0)
                return rc;
            p = skip_ws(p);
            if (lo > hi) {
                errf(err, errlen, "bad CPU list '%s': range %ld-%ld runs backwards", list,
                     lo, hi);
                return -EINVAL;
            }
        }
        if (visit != NULL && (rc = visit(ctx, lo, hi)) != 0)
            return rc;
        if (*p == '\0')
            return 0;
        if (*p != ',') {
            errf(err, errlen, "bad CPU list '%s': expected ',' or '-' at '%s'", list, p);
            return -EINVAL;
        }
        p = skip_ws(p + 1);
    }
}

struct cpu_check {
    hive__topology_t *t;
    hwloc_bitmap_t set; /* CPUs named so far */
    char *err;
    size_t errlen;
};

static int check_range(void *ctx, long lo, long hi)
{
    struct cpu_check *c = ctx;
    int last = hwloc_bitmap_last(c->t->exists);
    char have[256];
    /* Stops at last + 1, so a huge range costs nothing. */
    for (long i = lo; i <= hi; i++) {
        if (i > last || !hwloc_bitmap_isset(c->t->exists, (unsigned)i)) {
            hwloc_bitmap_list_snprintf(have, sizeof have, c->t->exists);
            errf(c->err, c->errlen, "CPU %ld does not exist (this machine has CPUs %s)", i,
                 have);
            return -EINVAL;
        }
        if (!hwloc_bitmap_isset(c->t->allowed, (unsigned)i)) {
            hwloc_bitmap_list_snprintf(have, sizeof have, c->t->allowed);
            errf(c->err, c->errlen,
                 "CPU %ld is not in this process's affinity mask (allowed: %s)", i, have);
            return -EINVAL;
        }
        hwloc_bitmap_set(c->set, (unsigned)i);
    }
    return 0;
}

/* The set a CPU list names, checked; "" names every allowed CPU. The caller
 * frees *out. Syntax is checked over the whole list before any CPU is, so
 * "99,x" is reported as bad syntax. */
static int cpu_set_of(hive__topology_t *t, const char *cpus, hwloc_bitmap_t *out,
                      char *err, size_t errlen)
{
    *out = NULL;
    hwloc_bitmap_t set = cpus == NULL || cpus[0] == '\0' ? hwloc_bitmap_dup(t->allowed)
                                                         : hwloc_bitmap_alloc();
    if (set == NULL) {
        errf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (cpus != NULL && cpus[0] != '\0') {
        struct cpu_check c = {t, set, err, errlen};
        int rc = walk_cpu_list(cpus, NULL, NULL, err, errlen);
        if (rc == 0)
            rc = walk_cpu_list(cpus, check_range, &c, err, errlen);
        if (rc != 0) {
            hwloc_bitmap_free(set);
            return rc;
        }
    }
    *out = set;
    return 0;
}

int hive__topology_check_cpus(hive__topology_t *t, const char *cpus, char *err,
                              size_t errlen)
{
    if (cpus == NULL || cpus[0] == '\0') {
        errf(err, errlen, "bad CPU list '': the list is empty");
        return -EINVAL;
    }
    hwloc_bitmap_t set;
    int rc = cpu_set_of(t, cpus, &set, err, errlen);
    hwloc_bitmap_free(set);
    return rc;
}

int hive__topology_cpu_list(hive__topology_t *t, const char *cpus, char *buf, size_t len)
{
    hwloc_bitmap_t set;
    int rc = cpu_set_of(t, cpus, &set, NULL, 0);
    if (rc != 0)
        return rc;
    int n = hwloc_bitmap_list_snprintf(buf, len, set);
    hwloc_bitmap_free(set);
    if (n < 0)
        return -EINVAL;
    return (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- units (cores) ------------------------------------------------------ */

static bool is_unit(hwloc_obj_t o)
{
    return o->type == HWLOC_OBJ_CORE || o->type == HWLOC_OBJ_PU;
}

/* Units under o that have a PU in set, into out (room for all of them):
 * depth-first, or interleaved round-robin across o's children at every level
 * when scatter. Returns how many, or -ENOMEM. */
static int collect_units(hwloc_obj_t o, hwloc_const_bitmap_t set, bool scatter,
                         hwloc_obj_t *out)
{
    if (!hwloc_bitmap_intersects(o->cpuset, set))
        return 0;
    if (is_unit(o)) {
        out[0] = o;
        return 1;
    }
    if (!scatter) {
        int n = 0;
        for (unsigned c = 0; c < o->arity; c++)
            n += collect_units(o->children[c], set, false, out + n);
        return n;
    }
    /* Each child's list lands in its own stretch of out; then interleave. */
    int *start = calloc(o->arity + 1, sizeof *start);
    hwloc_obj_t *tmp = NULL;
    if (start == NULL)
        return -ENOMEM;
    int n = 0;
    for (unsigned c = 0; c < o->arity; c++) {
        int k = collect_units(o->children[c], set, true, out + n);
        if (k < 0) {
            free(start);
            return k;
        }
        start[c] = n;
        n += k;
    }
    start[o->arity] = n;
    if (o->arity > 1 && n > 1) {
        tmp = malloc((size_t)n * sizeof *tmp);
        if (tmp == NULL) {
            free(start);
            return -ENOMEM;
        }
        int m = 0;
        for (int round = 0; m < n; round++)
            for (unsigned c = 0; c < o->arity; c++)
                if (start[c] + round < start[c + 1])
                    tmp[m++] = out[start[c] + round];
        memcpy(out, tmp, (size_t)n * sizeof *tmp);
        free(tmp);
    }
    free(start);
    return n;
}

static int count_units(hwloc_obj_t o, hwloc_const_bitmap_t set)
{
    if (!hwloc_bitmap_intersects(o->cpuset, set))
        return 0;
    if (is_unit(o))
        return 1;
    int n = 0;
    for (unsigned c = 0; c < o->arity; c++)
        n += count_units(o->children[c], set);
    return n;
}

int hive__topology_ncores(hive__topology_t *t, const char *cpus)
{
    hwloc_bitmap_t set;
    if (cpu_set_of(t, cpus, &set, NULL, 0) != 0)
        set = hwloc_bitmap_dup(t->allowed); /* bad list: count what we may use */
    if (set == NULL)
        return 1;
    int n = count_units(hwloc_get_root_obj(t->topo), set);
    hwloc_bitmap_free(set);
    return n > 0 ? n : 1;
}

int hive__topology_core_of(hive__topology_t *t, int cpu)
{
    hwloc_obj_t pu = cpu < 0 ? NULL : hwloc_get_pu_obj_by_os_index(t->topo, (unsigned)cpu);
    if (pu == NULL)
        return -EINVAL;
    hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_CORE, pu);
    return (int)(core != NULL ? core->logical_index : pu->logical_index);
}

/* ---- placement ----------------------------------------------------------- */

/* The PUs of set in placement order: the r-th PU (logical order) of every
 * unit, for r = 0, 1, ..., units in the order pin gives. */
static int order_pus(hive__topology_t *t, hwloc_const_bitmap_t set, bool scatter,
                     unsigned **pus_out, int *npus_out)
{
    hwloc_obj_t root = hwloc_get_root_obj(t->topo);
    int nunits = count_units(root, set);
    int npus = hwloc_bitmap_weight(set);
    hwloc_obj_t *units = malloc((size_t)(nunits > 0 ? nunits : 1) * sizeof *units);
    unsigned *pus = malloc((size_t)(npus > 0 ? npus : 1) * sizeof *pus);
    hwloc_bitmap_t in_unit = hwloc_bitmap_alloc();
    int rc = -ENOMEM;
    if (units == NULL || pus == NULL || in_unit == NULL)
        goto out;
    if ((rc = collect_units(root, set, scatter, units)) < 0)
        goto out;
    int m = 0;
    for (int round = 0; m < npus; round++) {
        int before = m;
        for (int u = 0; u < nunits; u++) {
            hwloc_bitmap_and(in_unit, units[u]->cpuset, set);
            hwloc_obj_t pu = NULL;
            for (int r = 0; r <= round; r++) {
                pu = hwloc_get_next_obj_inside_cpuset_by_type(t->topo, in_unit,
                                                              HWLOC_OBJ_PU, pu);
                if (pu == NULL)
                    break;
            }
            if (pu != NULL)
                pus[m++] = pu->os_index;
        }
        if (m == before)
            break; /* PUs of set that no unit holds: cannot happen with hwloc */
    }
    *pus_out = pus;
    *npus_out = m;
    pus = NULL;
    rc = m > 0 ? 0 : -EINVAL;
out:
    free(units);
    free(pus);
    hwloc_bitmap_free(in_unit);
    return rc;
}

/* Where a PU sits, for distance classes. */
struct where {
    hwloc_obj_t core, l2, l3, numa, package;
};

static struct where where_is(hive__topology_t *t, unsigned os)
{
    struct where w = {0};
    hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t->topo, os);
    if (pu == NULL)
        return w;
    w.core = hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_CORE, pu);
    if (w.core == NULL)
        w.core = pu;
    w.l2 = hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_L2CACHE, pu);
    w.l3 = hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_L3CACHE, pu);
    w.package = hwloc_get_ancestor_obj_by_type(t->topo, HWLOC_OBJ_PACKAGE, pu);
    /* NUMA nodes hang off the tree as memory children; find the first whose
     * CPUs include this PU. */
    for (hwloc_obj_t n = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, NULL);
         n != NULL; n = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, n))
        if (hwloc_bitmap_isset(n->cpuset, os)) {
            w.numa = n;
            break;
        }
    return w;
}

static int distance(const struct where *a, const struct where *b)
{
    if (a->core == NULL || b->core == NULL)
        return DIST_OTHER;
    if (a->core == b->core || (a->l2 != NULL && a->l2 == b->l2))
        return DIST_L2;
    if (a->l3 != NULL && a->l3 == b->l3)
        return DIST_L3;
    bool same_numa = a->numa != NULL && a->numa == b->numa;
    bool same_package = a->package != NULL && a->package == b->package;
    /* A NUMA node normally sits inside a package; one that spans packages
     * (AMD NPS0, one node for two sockets) shares no cache across them, so
     * there "same node, other package" is no nearer than "same package". */
    if (same_numa && (same_package || a->package == NULL || b->package == NULL))
        return DIST_NUMA;
    if (same_package || same_numa)
        return DIST_PACKAGE;
    return DIST_OTHER;
}

void hive__placement_free(hive__placement_t *p)
{
    if (p == NULL)
        return;
    if (p->steal_order != NULL)
        free(p->steal_order[0]);
    if (p->steal_distance != NULL)
        free(p->steal_distance[0]);
    free(p->steal_order);
    free(p->steal_distance);
    free(p->cpu);
    memset(p, 0, sizeof *p);
}

/* Rows of one n*(n-1) block, so freeing is two calls whatever n is. */
static int **alloc_rows(int n)
{
    int **rows = malloc((size_t)n * sizeof *rows);
    size_t cells = (size_t)n * (size_t)(n - 1);
    int *block = malloc((cells > 0 ? cells : 1) * sizeof *block);
    if (rows == NULL || block == NULL) {
        free(rows);
        free(block);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        rows[i] = block + (size_t)i * (size_t)(n - 1);
    return rows;
}

int hive__topology_place(hive__topology_t *t, const char *cpus, hive_pin_t pin,
                         int nworkers, hive__placement_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (nworkers <= 0) {
        errf(err, errlen, "cannot place %d workers: need at least 1", nworkers);
        return -EINVAL;
    }
    if (pin != HIVE_PIN_COMPACT && pin != HIVE_PIN_SCATTER && pin != HIVE_PIN_NONE) {
        errf(err, errlen, "cannot place workers: pin is %s", hive_pin_name(pin));
        return -EINVAL;
    }
    hwloc_bitmap_t set;
    int rc = cpu_set_of(t, cpus, &set, err, errlen);
    if (rc != 0)
        return rc;

    unsigned *pus = NULL;
    int npus = 0;
    struct where *where = NULL;
    hive__placement_t p = {.nworkers = nworkers};
    p.cpu = malloc((size_t)nworkers * sizeof *p.cpu);
    where = calloc((size_t)nworkers, sizeof *where);
    p.steal_order = alloc_rows(nworkers);
    p.steal_distance = alloc_rows(nworkers);
    rc = -ENOMEM;
    if (p.cpu == NULL || where == NULL || p.steal_order == NULL || p.steal_distance == NULL)
        goto fail;
    if (pin == HIVE_PIN_NONE) {
        for (int i = 0; i < nworkers; i++)
            p.cpu[i] = -1; /* where[i] stays empty: distance class 4 */
    } else {
        if ((rc = order_pus(t, set, pin == HIVE_PIN_SCATTER, &pus, &npus)) != 0)
            goto fail;
        for (int i = 0; i < nworkers; i++) {
            p.cpu[i] = (int)pus[i % npus];
            where[i] = where_is(t, pus[i % npus]);
        }
    }
    /* Bucket sort of the rotation i+1, i+2, ... by distance class. */
    for (int i = 0; i < nworkers; i++) {
        int k = 0;
        for (int d = 0; d < DIST_CLASSES; d++)
            for (int r = 1; r < nworkers; r++) {
                int j = (i + r) % nworkers;
                if (distance(&where[i], &where[j]) == d) {
                    p.steal_order[i][k] = j;
                    p.steal_distance[i][k] = d;
                    k++;
                }
            }
    }
    free(pus);
    free(where);
    hwloc_bitmap_free(set);
    *out = p;
    return 0;
fail:
    if (rc == -ENOMEM)
        errf(err, errlen, "out of memory placing %d workers", nworkers);
    else
        errf(err, errlen, "no CPU to place workers on");
    hive__placement_free(&p);
    free(pus);
    free(where);
    hwloc_bitmap_free(set);
    return rc;
}

/* ---- binding ------------------------------------------------------------ */

int hive__topology_bind_self(hive__topology_t *t, int cpu)
{
    hwloc_obj_t pu = cpu < 0 ? NULL : hwloc_get_pu_obj_by_os_index(t->topo, (unsigned)cpu);
    if (pu == NULL)
        return -EINVAL;
    if (hwloc_set_cpubind(t->topo, pu->cpuset, HWLOC_CPUBIND_THREAD) != 0)
        return errno != 0 ? -errno : -EINVAL;
    return 0;
}

/* ---- printing ------------------------------------------------------------ */

static void print_size(FILE *f, uint64_t bytes)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (v == (double)(uint64_t)v)
        fprintf(f, "%" PRIu64 " %s", (uint64_t)v, unit[u]);
    else
        fprintf(f, "%.1f %s", v, unit[u]);
}

static void print_pus(hive__topology_t *t, FILE *f, hwloc_obj_t o)
{
    const char *sep = "";
    for (hwloc_obj_t pu =
             hwloc_get_next_obj_inside_cpuset_by_type(t->topo, o->cpuset, HWLOC_OBJ_PU, NULL);
         pu != NULL;
         pu = hwloc_get_next_obj_inside_cpuset_by_type(t->topo, o->cpuset, HWLOC_OBJ_PU, pu)) {
        fprintf(f, "%sPU P#%u%s", sep, pu->os_index,
                hwloc_bitmap_isset(t->allowed, pu->os_index) ? "" : " (not allowed)");
        sep = ", ";
    }
    fputc('\n', f);
}

static void print_obj(hive__topology_t *t, FILE *f, hwloc_obj_t o, int depth)
{
    int child_depth = depth + 1;
    switch (o->type) {
    case HWLOC_OBJ_MACHINE:
        fprintf(f, "%*sMachine (", depth * 2, "");
        print_size(f, o->total_memory);
        fprintf(f, " memory)\n");
        break;
    case HWLOC_OBJ_PACKAGE:
    case HWLOC_OBJ_DIE:
    case HWLOC_OBJ_GROUP:
        fprintf(f, "%*s%s L#%u\n", depth * 2, "", hwloc_obj_type_string(o->type),
                o->logical_index);
        break;
    case HWLOC_OBJ_NUMANODE:
        fprintf(f, "%*sNUMA node P#%u (", depth * 2, "", o->os_index);
        print_size(f, o->attr->numanode.local_memory);
        fprintf(f, ")\n");
        break;
    case HWLOC_OBJ_L3CACHE:
    case HWLOC_OBJ_L2CACHE:
        fprintf(f, "%*sL%u cache (", depth * 2, "", o->attr->cache.depth);
        print_size(f, o->attr->cache.size);
        fprintf(f, ")\n");
        break;
    case HWLOC_OBJ_CORE:
        fprintf(f, "%*sCore L#%u: ", depth * 2, "", o->logical_index);
        print_pus(t, f, o);
        return; /* its PUs are on this line */
    case HWLOC_OBJ_PU: /* a PU with no Core above it */
        fprintf(f, "%*s", depth * 2, "");
        print_pus(t, f, o);
        return;
    default: /* L1 caches, MemCache, ...: not worth a line; show what is inside */
        child_depth = depth;
        break;
    }
    for (hwloc_obj_t m = o->memory_first_child; m != NULL; m = m->next_sibling)
        print_obj(t, f, m, child_depth);
    for (unsigned c = 0; c < o->arity; c++)
        print_obj(t, f, o->children[c], child_depth);
}

void hive__topology_print(hive__topology_t *t, FILE *f)
{
    char list[512];
    print_obj(t, f, hwloc_get_root_obj(t->topo), 0);
    hwloc_bitmap_list_snprintf(list, sizeof list, t->allowed);
    fprintf(f, "This process may use PUs %s", list);
    hwloc_bitmap_list_snprintf(list, sizeof list, t->exists);
    fprintf(f, " (of %s)%s\n", list,
            hwloc_topology_is_thissystem(t->topo) ? "" : " [not this system: synthetic or "
                                                         "loaded topology]");
}
