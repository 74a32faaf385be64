/* test_config.c - core/config.c: defaults, each source alone (struct, env,
 * INI file), the precedence struct > env > file > default one pair at a time,
 * every refusal and the words it uses (file:line, the variable, the field),
 * out aliasing in, a NULL diag, and that a failed resolve writes nothing. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <hive/config.h>

#include "core/config_internal.h"

static const char *const env_vars[] = {"HIVE_CONFIG",     "HIVE_WORKERS",     "HIVE_CPUS",
                                       "HIVE_PIN",        "HIVE_STACK_SIZE",  "HIVE_STEAL_BATCH",
                                       "HIVE_IDLE_SPIN",  "HIVE_MAX_PROCESSES",
                                       "HIVE_MAX_MESSAGE_SIZE", "HIVE_BLOCKING_THREADS",
                                       "HIVE_MAX_TIMERS", "HIVE_MAX_NAMES"};
#define NENV (sizeof env_vars / sizeof env_vars[0])
static char *saved_env[NENV];

static char ini_path[64]; /* the temp file of the running test, "" when none */
static hive_diag_t diag;

/* Every test starts with no HIVE_* variable set; the caller's are restored
 * when the group ends. */
static int group_setup(void **state)
{
    for (size_t i = 0; i < NENV; i++) {
        const char *v = getenv(env_vars[i]);
        saved_env[i] = v != NULL ? strdup(v) : NULL;
    }
    return 0;
}

static int group_teardown(void **state)
{
    for (size_t i = 0; i < NENV; i++) {
        if (saved_env[i] != NULL)
            setenv(env_vars[i], saved_env[i], 1);
        else
            unsetenv(env_vars[i]);
        free(saved_env[i]);
    }
    return 0;
}

static int setup(void **state)
{
    for (size_t i = 0; i < NENV; i++)
        unsetenv(env_vars[i]);
    ini_path[0] = '\0';
    memset(&diag, 0, sizeof diag);
    return 0;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < NENV; i++)
        unsetenv(env_vars[i]);
    if (ini_path[0] != '\0')
        unlink(ini_path);
    return 0;
}

/* Write text to a fresh temp file; its path is ini_path. */
static const char *write_ini(const char *text)
{
    if (ini_path[0] != '\0')
        unlink(ini_path);
    strcpy(ini_path, "/tmp/hive-test-config-XXXXXX");
    int fd = mkstemp(ini_path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return ini_path;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, haystack);
}

/* Resolve cfg, expecting success; the result in *out. */
static void resolve_ok(const hive_config_t *cfg, hive_config_t *out)
{
    int rc = hive_config_resolve(cfg, out, &diag);
    if (rc != 0)
        fail_msg("hive_config_resolve: %d: %s", rc, diag.message);
    assert_int_equal(diag.code, 0);
    assert_string_equal(diag.message, "");
}

/* Resolve cfg, expecting `code` and a message containing each of the
 * NULL-terminated strings; out must come back untouched. */
static void resolve_fails(const hive_config_t *cfg, int code, ...)
{
    hive_config_t out;
    memset(&out, 0x5a, sizeof out);
    hive_config_t before = out;
    int rc = hive_config_resolve(cfg, &out, &diag);
    if (rc != code)
        fail_msg("expected %d, got %d (\"%s\")", code, rc, diag.message);
    assert_int_equal(diag.code, code);
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        assert_contains(diag.message, s);
    va_end(ap);
    assert_memory_equal(&out, &before, sizeof out);
}

/* The oracle for the defaults, from the kernel rather than hwloc: the
 * allowed CPUs as a list, and how many distinct (package, core) they cover. */
static void kernel_view(char *list, size_t len, int *ncores)
{
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    long seen[CPU_SETSIZE];
    int n = 0;
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (!CPU_ISSET(i, &set))
            continue;
        int j = i;
        while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, &set))
            j++;
        used += (size_t)snprintf(list + used, len - used, used ? ",%d" : "%d", i);
        if (j > i)
            used += (size_t)snprintf(list + used, len - used, "-%d", j);
        for (int c = i; c <= j; c++) {
            char path[128];
            long pkg = 0, core = c;
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
            FILE *f = fopen(path, "r");
            if (f != NULL) {
                if (fscanf(f, "%ld", &core) != 1)
                    core = c;
                fclose(f);
            }
            snprintf(path, sizeof path,
                     "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
            if ((f = fopen(path, "r")) != NULL) {
                if (fscanf(f, "%ld", &pkg) != 1)
                    pkg = 0;
                fclose(f);
            }
            long key = pkg * 1000000 + core;
            int k = 0;
            while (k < n && seen[k] != key)
                k++;
            if (k == n)
                seen[n++] = key;
        }
        i = j;
    }
    *ncores = n;
}

/* ---- defaults and each source alone ------------------------------------- */

/* Nothing set anywhere: one worker per core, every allowed CPU (spelled out),
 * compact, 64 KiB stacks, batch 64, spin 64. */
static void defaults_fill_every_field(void **state)
{
    hive_config_t in, out;
    hive_config_init(&in);
    resolve_ok(&in, &out);
    char list[1024];
    int ncores;
    kernel_view(list, sizeof list, &ncores);
    assert_int_equal(out.workers, ncores);
    assert_string_equal(out.cpus, list);
    assert_int_equal(out.pin, HIVE_PIN_COMPACT);
    assert_int_equal(out.stack_size, 65536);
    assert_int_equal(out.steal_batch, 64);
    assert_int_equal(out.idle_spin, 64);
    assert_string_equal(out.config_file, "");
}

static void struct_alone_sets_every_key(void **state)
{
    hive_config_t in, out;
    hive_config_init(&in);
    in.workers = 3;
    strcpy(in.cpus, "0");
    in.pin = HIVE_PIN_NONE;
    in.stack_size = 131072;
    in.steal_batch = 7;
    in.idle_spin = 0;
    resolve_ok(&in, &out);
    assert_int_equal(out.workers, 3);
    assert_string_equal(out.cpus, "0");
    assert_int_equal(out.pin, HIVE_PIN_NONE);
    assert_int_equal(out.stack_size, 131072);
    assert_int_equal(out.steal_batch, 7);
    assert_int_equal(out.idle_spin, 0);
}

static void env_alone_sets_every_key(void **state)
{
    setenv("HIVE_WORKERS", "5", 1);
    setenv("HIVE_CPUS", " 0 ", 1);
    setenv("HIVE_PIN", "scatter", 1);
    setenv("HIVE_STACK_SIZE", "1M", 1);
    setenv("HIVE_STEAL_BATCH", "4096", 1);
    setenv("HIVE_IDLE_SPIN", "1000000", 1);
    setenv("HIVE_MAX_PROCESSES", "1000", 1);
    setenv("HIVE_MAX_MESSAGE_SIZE", "1K", 1);
    setenv("HIVE_BLOCKING_THREADS", "3", 1);
    setenv("HIVE_MAX_TIMERS", "12", 1);
    setenv("HIVE_MAX_NAMES", "13", 1);
    hive_config_t in, out;
    hive_config_init(&in);
    hive__config_origin_t o;
    assert_int_equal(hive__config_resolve_ex(&in, &out, &o, &diag), 0);
    assert_int_equal(out.workers, 5);
    assert_string_equal(out.cpus, " 0 ");
    assert_int_equal(out.pin, HIVE_PIN_SCATTER);
    assert_int_equal(out.stack_size, 1048576);
    assert_int_equal(out.steal_batch, 4096);
    assert_int_equal(out.idle_spin, 1000000);
    assert_int_equal(out.max_processes, 1000);
    assert_int_equal(out.max_message_size, 1024);
    assert_int_equal(out.blocking_threads, 3);
    assert_int_equal(out.max_timers, 12);
    assert_int_equal(out.max_names, 13);
    for (int k = 0; k < HIVE__KEY_COUNT; k++)
        assert_int_equal(o.source[k], HIVE__SRC_ENV);
}

static void file_alone_sets_every_key(void **state)
{
    const char *path = write_ini("; hive settings\n"
                                 "[hive]\n"
                                 "workers = 6\n"
                                 "cpus = 0-0\n"
                                 "pin = none   ; inline comment\n"
                                 "stack_size = 64K\n"
                                 "# another comment\n"
                                 "steal_batch = 1\n"
                                 "idle_spin = 10\n"
                                 "max_processes = 77\n"
                                 "max_message_size = 2M\n"
                                 "blocking_threads = 1024\n"
                                 "max_timers = 5\n"
                                 "max_names = 6\n");
    hive_config_t in, out;
    hive_config_init(&in);
    strcpy(in.config_file, path);
    hive__config_origin_t o;
    assert_int_equal(hive__config_resolve_ex(&in, &out, &o, &diag), 0);
    assert_int_equal(out.workers, 6);
    assert_string_equal(out.cpus, "0-0");
    assert_int_equal(out.pin, HIVE_PIN_NONE);
    assert_int_equal(out.stack_size, 65536);
    assert_int_equal(out.steal_batch, 1);
    assert_int_equal(out.idle_spin, 10);
    assert_int_equal(out.max_processes, 77);
    assert_int_equal(out.max_message_size, 2 * 1024 * 1024);
    assert_int_equal(out.blocking_threads, 1024);
    assert_int_equal(out.max_timers, 5);
    assert_int_equal(out.max_names, 6);
    assert_string_equal(out.config_file, path);
    for (int k = 0; k < HIVE__KEY_COUNT; k++)
        assert_int_equal(o.source[k], HIVE__SRC_FILE);
    assert_int_equal(o.line[HIVE__KEY_WORKERS], 3);
    assert_int_equal(o.line[HIVE__KEY_IDLE_SPIN], 9);
    assert_string_equal(o.file, path);
}

/* $HIVE_CONFIG names the file when config_file is ""; config_file beats it. */
static void hive_config_env_names_the_file(void **state)
{
    const char *path = write_ini("[hive]\nsteal_batch = 9\n");
    setenv("HIVE_CONFIG", path, 1);
    hive_config_t in, out;
    hive_config_init(&in);
    resolve_ok(&in, &out);
    assert_int_equal(out.steal_batch, 9);

    setenv("HIVE_CONFIG", "/nonexistent/hive.ini", 1);
    strcpy(in.config_file, path);
    resolve_ok(&in, &out); /* the struct's file is read, not $HIVE_CONFIG's */
    assert_int_equal(out.steal_batch, 9);
}

/* ---- precedence, one pair at a time -------------------------------------- */

static void struct_beats_env(void **state)
{
    setenv("HIVE_STEAL_BATCH", "11", 1);
    hive_config_t in, out;
    hive_config_init(&in);
    in.steal_batch = 22;
    resolve_ok(&in, &out);
    assert_int_equal(out.steal_batch, 22);
}

static void struct_beats_file(void **state)
{
    hive_config_t in, out;
    hive_config_init(&in);
    strcpy(in.config_file, write_ini("[hive]\npin = scatter\n"));
    in.pin = HIVE_PIN_NONE;
    resolve_ok(&in, &out);
    assert_int_equal(out.pin, HIVE_PIN_NONE);
}

static void env_beats_file(void **state)
{
    setenv("HIVE_IDLE_SPIN", "33", 1);
    hive_config_t in, out;
    hive_config_init(&in);
    strcpy(in.config_file, write_ini("[hive]\nidle_spin = 44\nsteal_batch = 5\n"));
    resolve_ok(&in, &out);
    assert_int_equal(out.idle_spin, 33);
    assert_int_equal(out.steal_batch, 5); /* the file still sets what env does not */
}

static void file_beats_default(void **state)
{
    hive_config_t in, out;
    hive_config_init(&in);
    strcpy(in.config_file, write_ini("[hive]\nstack_size = 32768\n"));
    resolve_ok(&in, &out);
    assert_int_equal(out.stack_size, 32768);
    assert_int_equal(out.idle_spin, 64); /* untouched keys keep their default */
}

/* The default worker count follows the winning cpus, not all CPUs. */
static void default_workers_follow_cpus(void **state)
{
    setenv("HIVE_CPUS", "0", 1);
    hive_config_t in, out;
    hive_config_init(&in);
    resolve_ok(&in, &out);
    assert_int_equal(out.workers, 1);
}

/* An empty variable counts as unset, as POSIX does for LC_ALL="". */
static void empty_env_var_is_unset(void **state)
{
    setenv("HIVE_WORKERS", "", 1);
    setenv("HIVE_CONFIG", "", 1);
    hive_config_t in, out;
    hive_config_init(&in);
    in.steal_batch = 3;
    resolve_ok(&in, &out);
    int ncores;
    char list[1024];
    kernel_view(list, sizeof list, &ncores);
    assert_int_equal(out.workers, ncores);
}

/* ---- values ------------------------------------------------------------- */

static void stack_size_takes_suffixes_and_rounds_to_pages(void **state)
{
    static const struct {
        const char *text;
        long bytes;
    } ok[] = {{"65536", 65536}, {"64K", 65536}, {"64k", 65536}, {"1M", 1048576},
              {"16K", 16384},   {"1024M", 1073741824L}};
    hive_config_t in, out;
    hive_config_init(&in);
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        setenv("HIVE_STACK_SIZE", ok[i].text, 1);
        resolve_ok(&in, &out);
        assert_int_equal(out.stack_size, ok[i].bytes);
    }
    long page = sysconf(_SC_PAGESIZE);
    setenv("HIVE_STACK_SIZE", "20000", 1);
    resolve_ok(&in, &out);
    assert_int_equal(out.stack_size, (20000 + page - 1) / page * page);
    assert_int_equal(out.stack_size % page, 0);
}

/* ---- refusals --------------------------------------------------------------- */

static void file_unknown_key_names_file_line_and_key(void **state)
{
    hive_config_t in;
    hive_config_init(&in);
    const char *path = write_ini("[hive]\nworkers = 2\nwrokers = 3\n");
    strcpy(in.config_file, path);
    char where[128];
    snprintf(where, sizeof where, "%s:3: key 'wrokers': unknown key", path);
    resolve_fails(&in, -EINVAL, where, NULL);
}

static void file_unknown_section_is_refused(void **state)
{
    hive_config_t in;
    hive_config_init(&in);
    const char *path = write_ini("[hive]\nworkers = 2\n\n[hiev]\nworkers = 3\n");
    strcpy(in.config_file, path);
    char where[128];
    snprintf(where, sizeof where, "%s:5: key 'workers': in unknown section [hiev]", path);
    resolve_fails(&in, -EINVAL, where, NULL);

    path = write_ini("workers = 3\n[hive]\n");
    strcpy(in.config_file, path);
    snprintf(where, sizeof where, "%s:1: key 'workers': outside a section", path);
    resolve_fails(&in, -EINVAL, where, NULL);
}

static void file_bad_number_names_file_line_and_key(void **state)
{
    hive_config_t in;
    hive_config_init(&in);
    const char *path = write_ini("[hive]\n\n; comment\nworkers = 4x\n");
    strcpy(in.config_file, path);
    char where[128];
    snprintf(where, sizeof where, "%s:4: key 'workers': unexpected 'x' after the number", path);
    resolve_fails(&in, -EINVAL, where, NULL);
}

static void file_syntax_error_and_duplicate_key_are_refused(void **state)
{
    hive_config_t in;
    hive_config_init(&in);
    const char *path = write_ini("[hive]\nworkers 4\n");
    strcpy(in.config_file, path);
    char where[128];
    snprintf(where, sizeof where, "%s:2: syntax error", path);
    resolve_fails(&in, -EINVAL, where, NULL);

    path = write_ini("[hive]\npin = none\nidle_spin = 1\npin = compact\n");
    strcpy(in.config_file, path);
    snprintf(where, sizeof where, "%s:4: key 'pin': set twice (first on line 2)", path);
    resolve_fails(&in, -EINVAL, where, NULL);

    /* The first error wins, whichever kind it is. */
    path = write_ini("[hive]\nbogus = 1\nworkers 4\n");
    strcpy(in.config_file, path);
    snprintf(where, sizeof where, "%s:2: key 'bogus'", path);
    resolve_fails(&in, -EINVAL, where, NULL);
}

static void file_bad_cpu_list_names_file_line(void **state)
{
    hive_config_t in;
    hive_config_init(&in);
    const char *path = write_ini("[hive]\ncpus = 0-x\n");
    strcpy(in.config_file, path);
    char where[128];
    snprintf(where, sizeof where,
             "%s:2: key 'cpus': bad CPU list '0-x': expected a number at 'x'", path);
    resolve_fails(&in, -EINVAL, where, NULL);
}

static void file_too_long_line_is_refused(void **state)
{
    char text[1024] = "[hive]\ncpus = 0";
    for (int i = 0; i < 150; i++)
        strcat(text, ",0");
    strcat(text, "\n");
    hive_config_t in;
    hive_config_init(&in);
    const char *path = write_ini(text);
    strcpy(in.config_file, path);
    char where[128];
    snprintf(where, sizeof where, "%s:2: line longer than", path);
    resolve_fails(&in, -EINVAL, where, NULL);
}

static void missing_file_is_enoent_naming_the_path(void **state)
{
    hive_config_t in;
    hive_config_init(&in);
    strcpy(in.config_file, "/nonexistent/dir/hive.ini");
    resolve_fails(&in, -ENOENT, "'/nonexistent/dir/hive.ini'", "config_file", NULL);

    hive_config_init(&in);
    setenv("HIVE_CONFIG", "/nonexistent/other.ini", 1);
    resolve_fails(&in, -ENOENT, "'/nonexistent/other.ini'", "HIVE_CONFIG", NULL);
}

static void env_errors_name_the_variable_and_value(void **state)
{
    static const struct {
        const char *var, *value, *why;
    } cases[] = {
        {"HIVE_WORKERS", "abc", "HIVE_WORKERS='abc': expected a whole number"},
        {"HIVE_WORKERS", "0", "HIVE_WORKERS='0': must be between 1 and"},
        {"HIVE_WORKERS", "-3", "HIVE_WORKERS='-3': must be between 1 and"},
        {"HIVE_STEAL_BATCH", "99999999999999999999",
         "HIVE_STEAL_BATCH='99999999999999999999': number '99999999999999999999' is out of range"},
        {"HIVE_STEAL_BATCH", "0", "HIVE_STEAL_BATCH='0': must be between 1 and 4096"},
        {"HIVE_STEAL_BATCH", "4097", "must be between 1 and 4096, got 4097"},
        {"HIVE_IDLE_SPIN", "-5", "HIVE_IDLE_SPIN='-5': must be between 0 and 1000000"},
        {"HIVE_IDLE_SPIN", "1000001", "HIVE_IDLE_SPIN='1000001'"},
        {"HIVE_PIN", "diagonal", "HIVE_PIN='diagonal': expected compact, scatter or none"},
        {"HIVE_STACK_SIZE", "8K", "HIVE_STACK_SIZE='8K': must be between 16K and 1024M"},
        {"HIVE_STACK_SIZE", "2048M", "HIVE_STACK_SIZE='2048M': must be between"},
        {"HIVE_STACK_SIZE", "64Q", "HIVE_STACK_SIZE='64Q': unexpected 'Q'"},
        {"HIVE_STACK_SIZE", "9223372036854775807M", "is out of range"},
        {"HIVE_CPUS", "4096", "HIVE_CPUS='4096': CPU 4096 does not exist"},
        {"HIVE_CPUS", "0-x", "HIVE_CPUS='0-x': bad CPU list '0-x'"},
    };
    hive_config_t in;
    hive_config_init(&in);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv(cases[i].var, cases[i].value, 1);
        resolve_fails(&in, -EINVAL, cases[i].why, NULL);
        unsetenv(cases[i].var);
    }
}

/* A bad value is refused even where a higher source overrides it. */
static void overridden_bad_value_is_still_refused(void **state)
{
    setenv("HIVE_WORKERS", "many", 1);
    hive_config_t in;
    hive_config_init(&in);
    in.workers = 2;
    resolve_fails(&in, -EINVAL, "HIVE_WORKERS='many'", NULL);
}

static void struct_errors_name_the_field(void **state)
{
    hive_config_t in;
    hive_config_init(&in);
    in.workers = 0;
    resolve_fails(&in, -EINVAL, "config field 'workers': must be between 1 and", NULL);
    hive_config_init(&in);
    in.workers = -7;
    resolve_fails(&in, -EINVAL, "config field 'workers'", "got -7", NULL);
    hive_config_init(&in);
    in.stack_size = 1000;
    resolve_fails(&in, -EINVAL, "config field 'stack_size'", NULL);
    hive_config_init(&in);
    in.steal_batch = 0;
    resolve_fails(&in, -EINVAL, "config field 'steal_batch'", NULL);
    hive_config_init(&in);
    in.idle_spin = -2;
    resolve_fails(&in, -EINVAL, "config field 'idle_spin'", NULL);
    hive_config_init(&in);
    in.blocking_threads = 0;
    resolve_fails(&in, -EINVAL, "config field 'blocking_threads'", "got 0", NULL);
    hive_config_init(&in);
    in.pin = (hive_pin_t)42;
    resolve_fails(&in, -EINVAL, "config field 'pin'", NULL);
    hive_config_init(&in);
    strcpy(in.cpus, "4096");
    resolve_fails(&in, -EINVAL, "config field 'cpus': CPU 4096 does not exist", NULL);
    hive_config_init(&in);
    memset(in.cpus, '1', sizeof in.cpus);
    resolve_fails(&in, -EINVAL, "config field 'cpus': not NUL-terminated", NULL);
}

/* ---- calling conventions ----------------------------------------------------- */

/* out may be in: the explicit fields survive and the rest are filled. */
static void out_may_alias_in(void **state)
{
    setenv("HIVE_STEAL_BATCH", "17", 1);
    hive_config_t cfg;
    hive_config_init(&cfg);
    cfg.workers = 3;
    assert_int_equal(hive_config_resolve(&cfg, &cfg, &diag), 0);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.steal_batch, 17);
    assert_int_equal(cfg.pin, HIVE_PIN_COMPACT);
    assert_int_not_equal(cfg.cpus[0], '\0');
    /* A resolved config resolves to itself. */
    hive_config_t again = cfg;
    assert_int_equal(hive_config_resolve(&again, &again, &diag), 0);
    assert_memory_equal(&again, &cfg, sizeof cfg);

    /* On failure the aliased struct is left as it was. */
    hive_config_t bad = cfg;
    bad.steal_batch = 0;
    hive_config_t before = bad;
    assert_int_equal(hive_config_resolve(&bad, &bad, &diag), -EINVAL);
    assert_memory_equal(&bad, &before, sizeof bad);
}

static void diag_may_be_null(void **state)
{
    hive_config_t in, out;
    hive_config_init(&in);
    assert_int_equal(hive_config_resolve(&in, &out, NULL), 0);
    in.workers = 0;
    assert_int_equal(hive_config_resolve(&in, &out, NULL), -EINVAL);
    assert_int_equal(hive_config_resolve(NULL, &out, NULL), -EINVAL);
}

static void pin_names(void **state)
{
    assert_string_equal(hive_pin_name(HIVE_PIN_COMPACT), "compact");
    assert_string_equal(hive_pin_name(HIVE_PIN_SCATTER), "scatter");
    assert_string_equal(hive_pin_name(HIVE_PIN_NONE), "none");
    assert_string_equal(hive_pin_name(HIVE_PIN_UNSET), "unset");
    assert_string_equal(hive_pin_name((hive_pin_t)99), "unset");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(defaults_fill_every_field),
        T(struct_alone_sets_every_key),
        T(env_alone_sets_every_key),
        T(file_alone_sets_every_key),
        T(hive_config_env_names_the_file),
        T(struct_beats_env),
        T(struct_beats_file),
        T(env_beats_file),
        T(file_beats_default),
        T(default_workers_follow_cpus),
        T(empty_env_var_is_unset),
        T(stack_size_takes_suffixes_and_rounds_to_pages),
        T(file_unknown_key_names_file_line_and_key),
        T(file_unknown_section_is_refused),
        T(file_bad_number_names_file_line_and_key),
        T(file_syntax_error_and_duplicate_key_are_refused),
        T(file_bad_cpu_list_names_file_line),
        T(file_too_long_line_is_refused),
        T(missing_file_is_enoent_naming_the_path),
        T(env_errors_name_the_variable_and_value),
        T(overridden_bad_value_is_still_refused),
        T(struct_errors_name_the_field),
        T(out_may_alias_in),
        T(diag_may_be_null),
        T(pin_names),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
