/* hive_info.c - the hive-info command: what a configuration means on this machine.
 *
 * Resolves the configuration exactly as hive_runtime_start would (flags play
 * the part of the embedder's struct, so they beat env and file), then prints
 * each key with the source that set it, the hwloc topology, and the plan:
 * which CPU and core each worker gets and the order it steals in.
 *
 * Exit status: 0 ok; 2 the configuration is refused (message on stderr);
 * 64 (EX_USAGE) bad command line; 1 anything else (topology unreadable).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hive/config.h>

#include "core/config_internal.h"
#include "sched/topology.h"

#define EXIT_CONFIG 2
#define EXIT_USAGE 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hive-info [--config FILE] [--workers N] [--cpus LIST]\n"
            "                 [--pin compact|scatter|none] [--help]\n"
            "Prints the effective hive configuration (and where each value came\n"
            "from), the machine's topology, and the worker -> CPU placement.\n"
            "Flags beat HIVE_* environment variables, which beat the config file\n"
            "(--config, else $HIVE_CONFIG), which beats the defaults.\n");
}

/* Copy a flag's text into a fixed field; refuse (exit 2) when it does not fit. */
static int copy_flag(char *dst, size_t size, const char *flag, const char *value)
{
    if (strlen(value) >= size) {
        fprintf(stderr, "hive-info: %s: longer than %zu characters\n", flag, size - 1);
        return EXIT_CONFIG;
    }
    strcpy(dst, value);
    return 0;
}

static int parse_flags(int argc, char **argv, hive_config_t *cfg)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"workers", required_argument, NULL, 'w'},
        {"cpus", required_argument, NULL, 'C'},   {"pin", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int opt, rc;
    opterr = 0; /* we print our own message */
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if ((rc = copy_flag(cfg->config_file, sizeof cfg->config_file, "--config",
                                optarg)) != 0)
                return rc;
            break;
        case 'w': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || errno == ERANGE || v > INT_MAX) {
                fprintf(stderr, "hive-info: --workers: expected a whole number, got '%s'\n",
                        optarg);
                return EXIT_CONFIG;
            }
            if (v < 0) { /* -1 would read as "unset" */
                fprintf(stderr, "hive-info: --workers: must be at least 1, got %ld\n", v);
                return EXIT_CONFIG;
            }
            cfg->workers = (int)v;
            break;
        }
        case 'C':
            if ((rc = copy_flag(cfg->cpus, sizeof cfg->cpus, "--cpus", optarg)) != 0)
                return rc;
            if (cfg->cpus[0] == '\0') {
                fprintf(stderr, "hive-info: --cpus: the list is empty\n");
                return EXIT_CONFIG;
            }
            break;
        case 'p':
            if (strcmp(optarg, "compact") == 0)
                cfg->pin = HIVE_PIN_COMPACT;
            else if (strcmp(optarg, "scatter") == 0)
                cfg->pin = HIVE_PIN_SCATTER;
            else if (strcmp(optarg, "none") == 0)
                cfg->pin = HIVE_PIN_NONE;
            else {
                fprintf(stderr,
                        "hive-info: --pin: expected compact, scatter or none, got '%s'\n",
                        optarg);
                return EXIT_CONFIG;
            }
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            if (optopt != 0)
                fprintf(stderr, "hive-info: option '%s' needs a value\n", argv[optind - 1]);
            else
                fprintf(stderr, "hive-info: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hive-info: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return EXIT_USAGE;
    }
    return 0;
}

static void print_source(const hive__config_origin_t *o, hive__config_key_t k)
{
    static const char *flag[HIVE__KEY_COUNT] = {
        [HIVE__KEY_WORKERS] = "--workers", [HIVE__KEY_CPUS] = "--cpus",
        [HIVE__KEY_PIN] = "--pin",
    };
    switch (o->source[k]) {
    case HIVE__SRC_STRUCT: printf("%s", flag[k] != NULL ? flag[k] : "struct"); break;
    case HIVE__SRC_ENV: printf("env %s", hive__config_key_env(k)); break;
    case HIVE__SRC_FILE: printf("file %s:%d", o->file, o->line[k]); break;
    default:
        if (k == HIVE__KEY_WORKERS)
            printf("default (one per core in cpus)");
        else if (k == HIVE__KEY_CPUS)
            printf("default (every CPU this process may use)");
        else
            printf("default");
        break;
    }
    putchar('\n');
}

static void print_config(const hive_config_t *c, const hive__config_origin_t *o)
{
    char value[HIVE_CPUS_MAX + 32];
    printf("Configuration:\n");
    for (int k = 0; k < HIVE__KEY_COUNT; k++) {
        switch ((hive__config_key_t)k) {
        case HIVE__KEY_WORKERS: snprintf(value, sizeof value, "%d", c->workers); break;
        case HIVE__KEY_CPUS:
            snprintf(value, sizeof value, "%s", c->cpus[0] != '\0' ? c->cpus : "(all allowed)");
            break;
        case HIVE__KEY_PIN: snprintf(value, sizeof value, "%s", hive_pin_name(c->pin)); break;
        case HIVE__KEY_STACK_SIZE: snprintf(value, sizeof value, "%ld", c->stack_size); break;
        case HIVE__KEY_STEAL_BATCH: snprintf(value, sizeof value, "%d", c->steal_batch); break;
        case HIVE__KEY_IDLE_SPIN: snprintf(value, sizeof value, "%d", c->idle_spin); break;
        case HIVE__KEY_MAX_PROCESSES: snprintf(value, sizeof value, "%ld", c->max_processes); break;
        case HIVE__KEY_MAX_MESSAGE_SIZE:
            snprintf(value, sizeof value, "%ld", c->max_message_size);
            break;
        case HIVE__KEY_BLOCKING_THREADS:
            snprintf(value, sizeof value, "%d", c->blocking_threads);
            break;
        case HIVE__KEY_MAX_TIMERS: snprintf(value, sizeof value, "%ld", c->max_timers); break;
        case HIVE__KEY_MAX_NAMES: snprintf(value, sizeof value, "%ld", c->max_names); break;
        default: value[0] = '\0'; break;
        }
        printf("  %-16s %-12s ", hive__config_key_name((hive__config_key_t)k), value);
        print_source(o, (hive__config_key_t)k);
    }
    if (o->file[0] != '\0')
        printf("  config file  %s (from %s)\n", o->file,
               o->file_from_env ? "HIVE_CONFIG" : "--config");
    else
        printf("  config file  (none)\n");
}

static void print_placement(hive__topology_t *t, const hive__placement_t *p, hive_pin_t pin)
{
    printf("\nPlacement (pin %s): worker -> CPU (OS index) -> core; steal order, "
           "nearest first, distance class in ()\n", hive_pin_name(pin));
    printf("  %-6s %-5s %-5s %s\n", "worker", "cpu", "core", "steal order");
    for (int i = 0; i < p->nworkers; i++) {
        if (p->cpu[i] < 0)
            printf("  %-6d %-5s %-5s ", i, "any", "-");
        else
            printf("  %-6d %-5d %-5d ", i, p->cpu[i], hive__topology_core_of(t, p->cpu[i]));
        for (int k = 0; k < p->nworkers - 1; k++)
            printf("%s%d(%d)", k ? " " : "", p->steal_order[i][k], p->steal_distance[i][k]);
        if (p->nworkers == 1)
            printf("(none)");
        putchar('\n');
    }
    printf("  distance: 0 same core/L2, 1 L3, 2 NUMA node, 3 package, 4 other or unpinned\n");
}

int main(int argc, char **argv)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    int rc = parse_flags(argc, argv, &cfg);
    if (rc != 0)
        return rc;

    hive__config_origin_t origin;
    hive_diag_t diag;
    if ((rc = hive__config_resolve_ex(&cfg, &cfg, &origin, &diag)) != 0) {
        fprintf(stderr, "hive-info: %s\n", diag.message[0] ? diag.message : hive_strerror(rc));
        return rc == -EINVAL || rc == -ENOENT ? EXIT_CONFIG : 1;
    }

    char err[512];
    hive__topology_t *t;
    if ((rc = hive__topology_load(&t, err, sizeof err)) != 0) {
        fprintf(stderr, "hive-info: %s\n", err);
        return 1;
    }
    hive__placement_t plan;
    if ((rc = hive__topology_place(t, cfg.cpus, cfg.pin, cfg.workers, &plan, err,
                                   sizeof err)) != 0) {
        fprintf(stderr, "hive-info: %s\n", err);
        hive__topology_free(t);
        return rc == -EINVAL ? EXIT_CONFIG : 1;
    }
    print_config(&cfg, &origin);
    printf("\nTopology:\n");
    hive__topology_print(t, stdout);
    print_placement(t, &plan, cfg.pin);
    hive__placement_free(&plan);
    hive__topology_free(t);
    return fflush(stdout) == 0 ? 0 : 1;
}
