/* config_internal.h - what hive_config_resolve decided, and why (for hive-info).
 *
 * hive__config_resolve_ex is hive_config_resolve that also reports, for each
 * key, which source set it: the caller's struct, an environment variable,
 * the config file (with its line) or the built-in default. Any thread.
 */
#ifndef HIVE_CORE_CONFIG_INTERNAL_H
#define HIVE_CORE_CONFIG_INTERNAL_H

#include <hive/config.h>

typedef enum hive__config_key {
    HIVE__KEY_WORKERS,
    HIVE__KEY_CPUS,
    HIVE__KEY_PIN,
    HIVE__KEY_STACK_SIZE,
    HIVE__KEY_STEAL_BATCH,
    HIVE__KEY_IDLE_SPIN,
    HIVE__KEY_MAX_PROCESSES,
    HIVE__KEY_MAX_MESSAGE_SIZE,
    HIVE__KEY_BLOCKING_THREADS,
    HIVE__KEY_MAX_TIMERS,
    HIVE__KEY_MAX_NAMES,
    HIVE__KEY_COUNT,
} hive__config_key_t;

typedef enum hive__config_source {
    HIVE__SRC_DEFAULT,
    HIVE__SRC_FILE,
    HIVE__SRC_ENV,
    HIVE__SRC_STRUCT,
} hive__config_source_t;

typedef struct hive__config_origin {
    hive__config_source_t source[HIVE__KEY_COUNT];
    int line[HIVE__KEY_COUNT];  /* file line when source is FILE, else 0 */
    char file[HIVE_PATH_MAX];   /* the config file read, "" when none */
    int file_from_env;          /* 1 when $HIVE_CONFIG named it */
} hive__config_origin_t;

/* hive_config_resolve, plus where each value came from (origin may be NULL).
 * Same returns; *origin is written only on success. */
int hive__config_resolve_ex(const hive_config_t *in, hive_config_t *out,
                            hive__config_origin_t *origin, hive_diag_t *diag);

/* "workers", "cpus", ...: the file key and struct field name. */
const char *hive__config_key_name(hive__config_key_t key);
/* "HIVE_WORKERS", ...: the environment variable. */
const char *hive__config_key_env(hive__config_key_t key);

#endif
