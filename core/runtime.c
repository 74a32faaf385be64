/* runtime.c - starting and stopping the runtime: resolve the config, plan
 * the workers over the machine's topology, start the scheduler. */
#include <hive/runtime.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/process.h"
#include "core/registry.h"
#include "core/timers.h"
#include "sched/topology.h"
#include "sched/worker.h"

/* The owner's calls (start/stop) are serialised; workers never take it. */
static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
static hive__topology_t *topology;
static hive__placement_t placement;
static hive_config_t current;
/* See hive__runtime_set_stop_hook. */
static _Atomic(void (*)(void)) stop_hook;

void hive__runtime_set_stop_hook(void (*fn)(void))
{
    /* release: pairs with the acquire in hive_runtime_stop, which then sees
     * what the layer set up before it asked to be stopped. */
    atomic_store_explicit(&stop_hook, fn, memory_order_release);
}

static int fail(hive_diag_t *diag, int code, const char *msg)
{
    if (diag) {
        diag->code = code;
        snprintf(diag->message, sizeof diag->message, "%s", msg);
    } else {
        fprintf(stderr, "hive: %s\n", msg);
    }
    return code;
}

HIVE_API int hive_runtime_start(const hive_config_t *cfg, hive_diag_t *diag)
{
    hive_config_t in;
    hive_diag_t local;
    char err[256];
    if (diag) {
        diag->code = 0;
        diag->message[0] = '\0';
    }
    if (hive__worker_self())
        return fail(diag, -EPERM, "hive_runtime_start called from a worker");
    if (cfg)
        in = *cfg;
    else
        hive_config_init(&in);
    pthread_mutex_lock(&owner_lock);
    int rc = -EALREADY;
    if (hive__sched_running()) {
        fail(diag, rc, "the runtime is already running");
        goto out;
    }
    hive_config_t resolved;
    if ((rc = hive_config_resolve(&in, &resolved, &local)) != 0) {
        fail(diag, rc, local.message);
        goto out;
    }
    if ((rc = hive__topology_load(&topology, err, sizeof err)) != 0) {
        fail(diag, rc, err);
        goto out;
    }
    rc = hive__topology_place(topology, resolved.cpus, resolved.pin, resolved.workers,
                              &placement, err, sizeof err);
    if (rc != 0) {
        fail(diag, rc, err);
        hive__topology_free(topology);
        topology = NULL;
        goto out;
    }
    hive__sched_params_t p = {
        .nworkers = resolved.workers,
        .placement = &placement,
        .topology = resolved.pin == HIVE_PIN_NONE ? NULL : topology,
        .steal_batch = resolved.steal_batch,
        .idle_spin = resolved.idle_spin,
        .stack_size = (size_t)resolved.stack_size,
        .idle_hook = hive__proc_idle_hook,
        .io_ready = hive__io_ready,
    };
    if ((rc = hive__proc_table_init(resolved.max_processes, resolved.max_message_size)) != 0 ||
        (rc = hive__registry_init(resolved.max_names)) != 0 ||
        (rc = hive__timers_init(resolved.max_timers)) != 0 ||
        (rc = hive__sched_start(&p)) != 0 ||
        (rc = hive__blocking_start(resolved.blocking_threads)) != 0) {
        if (hive__sched_running())
            hive__sched_stop();
        snprintf(err, sizeof err, "cannot start %d workers: %s", resolved.workers,
                 hive_strerror(rc));
        fail(diag, rc, err);
        hive__timers_shutdown();
        hive__registry_shutdown();
        hive__proc_table_shutdown();
        hive__placement_free(&placement);
        hive__topology_free(topology);
        topology = NULL;
        goto out;
    }
    current = resolved;
out:
    pthread_mutex_unlock(&owner_lock);
    return rc;
}

HIVE_API int hive_runtime_stop(void)
{
    if (hive__worker_self())
        return -EPERM;
    pthread_mutex_lock(&owner_lock);
    /* The layers above core first (the Erlang node), while their processes
     * still run. acquire: pairs with the release in
     * hive__runtime_set_stop_hook. */
    void (*hook)(void) = atomic_load_explicit(&stop_hook, memory_order_acquire);
    if (hook && hive__sched_running())
        hook();
    /* Then the blocking pool, while the scheduler can still take the
     * wake-ups of calls that finish meanwhile (blocking.c). */
    if (hive__sched_running())
        hive__blocking_stop();
    long r = hive__sched_stop();
    if (r >= 0) {
        /* Queued processes ended as the scheduler drained; end the parked
         * and attached ones, then the tables. */
        hive__proc_table_shutdown();
        hive__timers_shutdown();
        hive__registry_shutdown();
        hive__placement_free(&placement);
        hive__topology_free(topology);
        topology = NULL;
    }
    pthread_mutex_unlock(&owner_lock);
    return r < 0 ? (int)r : 0;
}

HIVE_API int hive_runtime_workers(void) { return hive__sched_nworkers(); }

HIVE_API void hive_yield(void)
{
    hive__proc_enter();
    hive__task_yield();
    hive__proc_checkpoint(hive__proc_self());
}
