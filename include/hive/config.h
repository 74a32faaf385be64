/* hive/config.h - runtime configuration.
 *
 * A configuration comes from four sources. For each key the first of these
 * that sets it wins:
 *   1. the hive_config_t the embedder passes (a field it set explicitly);
 *   2. environment variables (HIVE_WORKERS, HIVE_CPUS, HIVE_PIN, ...);
 *   3. the INI file named by config_file, else by $HIVE_CONFIG (section [hive]);
 *   4. built-in defaults.
 * hive_config_init() marks every field "unset" so that the lower sources
 * apply; set only the fields your program must decide.
 *
 *   key          env var          file key      default
 *   workers      HIVE_WORKERS     workers       one per core in `cpus`
 *   cpus         HIVE_CPUS        cpus          every CPU the process may use
 *   pin          HIVE_PIN         pin           compact
 *   stack_size   HIVE_STACK_SIZE  stack_size    65536 (bytes; K/M suffixes ok)
 *   steal_batch  HIVE_STEAL_BATCH steal_batch   64 (most fibers one steal takes)
 *   idle_spin    HIVE_IDLE_SPIN   idle_spin     64 (steal rounds before parking)
 *   max_processes HIVE_MAX_PROCESSES max_processes 4194304 (live processes)
 *   max_message_size HIVE_MAX_MESSAGE_SIZE max_message_size 64M (bytes)
 *   blocking_threads HIVE_BLOCKING_THREADS blocking_threads 16 (hive_blocking pool)
 *   max_timers   HIVE_MAX_TIMERS  max_timers    1048576 (pending send_after timers)
 *   max_names    HIVE_MAX_NAMES   max_names     1048576 (registered names)
 *
 * A malformed or impossible value (unknown key, bad number, zero workers, a
 * CPU that does not exist or is not allowed) is refused with -EINVAL and a
 * message naming the key and, for a file, file:line.
 */
#ifndef HIVE_CONFIG_H
#define HIVE_CONFIG_H

#include <stddef.h>

#include <hive/error.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How workers are pinned to CPUs (hwloc-based).
 *   compact  workers fill the cores that share caches first (one per core,
 *            then the second hardware thread of each core);
 *   scatter  consecutive workers go to different packages / NUMA nodes;
 *   none     workers are not pinned (they float over `cpus`). */
typedef enum hive_pin {
    HIVE_PIN_UNSET = 0,
    HIVE_PIN_COMPACT,
    HIVE_PIN_SCATTER,
    HIVE_PIN_NONE,
} hive_pin_t;

#define HIVE_CONFIG_UNSET (-1)
#define HIVE_CPUS_MAX 256
#define HIVE_PATH_MAX 1024

typedef struct hive_config {
    char config_file[HIVE_PATH_MAX]; /* "" = use $HIVE_CONFIG, or no file */
    int workers;                     /* > 0, or HIVE_CONFIG_UNSET */
    char cpus[HIVE_CPUS_MAX];        /* "0-3,8,10-11"; "" = unset */
    hive_pin_t pin;                  /* HIVE_PIN_UNSET = unset */
    long stack_size;                 /* bytes, >= 16 KiB; HIVE_CONFIG_UNSET */
    int steal_batch;                 /* >= 1; HIVE_CONFIG_UNSET */
    int idle_spin;                   /* >= 0; HIVE_CONFIG_UNSET */
    long max_processes;              /* spawn limit, like BEAM's +P; UNSET */
    long max_message_size;           /* bytes a message may carry; UNSET */
    int blocking_threads;            /* hive_blocking's OS threads, >= 1; UNSET */
    long max_timers;                 /* pending hive_send_after timers; UNSET */
    long max_names;                  /* registered names; UNSET */
} hive_config_t;

/* hive_config_init - mark every field of *cfg unset. Any thread. */
HIVE_API void hive_config_init(hive_config_t *cfg);

/* hive_config_resolve - apply the four sources to `in` and write the
 * effective configuration, every field set, to `out` (which may equal `in`).
 * Checks every value, including that the CPUs exist and may be used.
 * Returns 0, or -EINVAL / -ENOENT (config file missing) / -ENOMEM with the
 * explanation in *diag (may be NULL). Any thread. */
HIVE_API int hive_config_resolve(const hive_config_t *in, hive_config_t *out,
                                 hive_diag_t *diag);

/* hive_pin_name - "compact", "scatter", "none" or "unset". */
HIVE_API const char *hive_pin_name(hive_pin_t pin);

#ifdef __cplusplus
}
#endif
#endif
