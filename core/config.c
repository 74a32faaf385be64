/* config.c - hive_config_t: defaults, environment, INI file, and their merge.
 *
 * Each source is read into a "layer" (values + which keys it set) and checked
 * on its own, so every refusal names the source's own words: the struct field,
 * the environment variable with its value, or file:line and the key. Then,
 * key by key, the highest layer that set it wins (struct > env > file >
 * default), and only the winning `cpus` is checked against the machine (a
 * file written for a bigger machine may be overridden by HIVE_CPUS on a
 * smaller one). Every source that is present must be well formed, even when
 * a higher one overrides it.
 *
 * The file is parsed by libinih through ini_parse_stream with our own line
 * reader, which counts lines so that each handler call knows its line (the
 * Debian build has no INI_HANDLER_LINENO) and which refuses an over-long line
 * instead of letting inih split it into two. inih keeps going after a handler
 * error; we keep the first one.
 *
 * An environment variable set to "" counts as unset (as POSIX treats LC_ALL=""),
 * so `HIVE_WORKERS= prog` clears it.
 */
#include <hive/config.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "core/config_internal.h"
#include "sched/topology.h"

#define WORKERS_MAX 1024          /* steal orders cost workers^2 ints */
#define STACK_MIN (16L * 1024)
#define STACK_MAX (1024L * 1024 * 1024)
#define STEAL_BATCH_MAX 4096
#define IDLE_SPIN_MAX 1000000
#define MAX_PROCESSES_MAX (1L << 28) /* the pid's slot field */
#define MAX_MESSAGE_MAX (1L << 30)
#define BLOCKING_THREADS_MAX 1024
#define MAX_TIMERS_MAX (1L << 28)
#define MAX_NAMES_MAX (1L << 28)

#define DEFAULT_PIN HIVE_PIN_COMPACT
#define DEFAULT_STACK_SIZE 65536L
#define DEFAULT_STEAL_BATCH 64
#define DEFAULT_IDLE_SPIN 64
#define DEFAULT_MAX_PROCESSES (1L << 22)
#define DEFAULT_MAX_MESSAGE_SIZE (64L << 20)
#define DEFAULT_BLOCKING_THREADS 16 /* Erlang's dirty I/O schedulers: 10 */
#define DEFAULT_MAX_TIMERS (1L << 20)
#define DEFAULT_MAX_NAMES (1L << 20)

typedef char reason_t[256];

static const struct key_info {
    const char *name;
    const char *env;
} keys[HIVE__KEY_COUNT] = {
    [HIVE__KEY_WORKERS] = {"workers", "HIVE_WORKERS"},
    [HIVE__KEY_CPUS] = {"cpus", "HIVE_CPUS"},
    [HIVE__KEY_PIN] = {"pin", "HIVE_PIN"},
    [HIVE__KEY_STACK_SIZE] = {"stack_size", "HIVE_STACK_SIZE"},
    [HIVE__KEY_STEAL_BATCH] = {"steal_batch", "HIVE_STEAL_BATCH"},
    [HIVE__KEY_IDLE_SPIN] = {"idle_spin", "HIVE_IDLE_SPIN"},
    [HIVE__KEY_MAX_PROCESSES] = {"max_processes", "HIVE_MAX_PROCESSES"},
    [HIVE__KEY_MAX_MESSAGE_SIZE] = {"max_message_size", "HIVE_MAX_MESSAGE_SIZE"},
    [HIVE__KEY_BLOCKING_THREADS] = {"blocking_threads", "HIVE_BLOCKING_THREADS"},
    [HIVE__KEY_MAX_TIMERS] = {"max_timers", "HIVE_MAX_TIMERS"},
    [HIVE__KEY_MAX_NAMES] = {"max_names", "HIVE_MAX_NAMES"},
};

/* One source's settings. */
struct layer {
    hive_config_t v;
    bool set[HIVE__KEY_COUNT];
    int line[HIVE__KEY_COUNT];
};

const char *hive__config_key_name(hive__config_key_t key)
{
    return key >= 0 && key < HIVE__KEY_COUNT ? keys[key].name : "?";
}

const char *hive__config_key_env(hive__config_key_t key)
{
    return key >= 0 && key < HIVE__KEY_COUNT ? keys[key].env : "?";
}

HIVE_API const char *hive_pin_name(hive_pin_t pin)
{
    switch (pin) {
    case HIVE_PIN_COMPACT: return "compact";
    case HIVE_PIN_SCATTER: return "scatter";
    case HIVE_PIN_NONE: return "none";
    default: return "unset";
    }
}

HIVE_API void hive_config_init(hive_config_t *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->workers = HIVE_CONFIG_UNSET;
    cfg->pin = HIVE_PIN_UNSET;
    cfg->stack_size = HIVE_CONFIG_UNSET;
    cfg->steal_batch = HIVE_CONFIG_UNSET;
    cfg->idle_spin = HIVE_CONFIG_UNSET;
    cfg->max_processes = HIVE_CONFIG_UNSET;
    cfg->max_message_size = HIVE_CONFIG_UNSET;
    cfg->blocking_threads = HIVE_CONFIG_UNSET;
    cfg->max_timers = HIVE_CONFIG_UNSET;
    cfg->max_names = HIVE_CONFIG_UNSET;
}

static int fail(hive_diag_t *diag, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(hive_diag_t *diag, int code, const char *fmt, ...)
{
    if (diag != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(diag->message, sizeof diag->message, fmt, ap);
        va_end(ap);
        diag->code = code;
    }
    return code;
}

static void reasonf(char *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reasonf(char *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r, sizeof(reason_t), fmt, ap);
    va_end(ap);
}

/* ---- values: text -> checked value -------------------------------------- */

static int check_range(long v, long min, long max, char *reason)
{
    if (v >= min && v <= max)
        return 0;
    reasonf(reason, "must be between %ld and %ld, got %ld", min, max, v);
    return -EINVAL;
}

/* A whole number, optionally followed by one of `suffixes` (K, M: x1024,
 * x1024^2, any case) when suffixes is not NULL. Surrounding blanks are fine. */
static int parse_number(const char *text, bool suffixes, long *out, char *reason)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0') {
        reasonf(reason, "expected a number, got nothing");
        return -EINVAL;
    }
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p) {
        reasonf(reason, "expected a whole number, got '%s'", text);
        return -EINVAL;
    }
    if (errno == ERANGE) {
        reasonf(reason, "number '%s' is out of range", text);
        return -EINVAL;
    }
    long scale = 1;
    if (suffixes && (*end == 'K' || *end == 'k'))
        scale = 1024, end++;
    else if (suffixes && (*end == 'M' || *end == 'm'))
        scale = 1024 * 1024, end++;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0') {
        reasonf(reason, "unexpected '%s' after the number%s", end,
                suffixes ? " (suffixes: K, M)" : "");
        return -EINVAL;
    }
    if (v > LONG_MAX / scale || v < LONG_MIN / scale) {
        reasonf(reason, "number '%s' is out of range", text);
        return -EINVAL;
    }
    *out = v * scale;
    return 0;
}

/* Stacks are whole pages: round up, then the limits apply. */
static int check_stack_size(long v, long *out, char *reason)
{
    if (v < STACK_MIN || v > STACK_MAX) {
        reasonf(reason, "must be between 16K and 1024M (bytes), got %ld", v);
        return -EINVAL;
    }
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    v = (v + page - 1) / page * page;
    if (v > STACK_MAX) {
        reasonf(reason, "must be at most 1024M (bytes) once rounded up to a page, got %ld", v);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_pin(const char *text, hive_pin_t *out, char *reason)
{
    static const hive_pin_t pins[] = {HIVE_PIN_COMPACT, HIVE_PIN_SCATTER, HIVE_PIN_NONE};
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        const char *name = hive_pin_name(pins[i]);
        if (n == strlen(name) && strncasecmp(p, name, n) == 0) {
            *out = pins[i];
            return 0;
        }
    }
    reasonf(reason, "expected compact, scatter or none, got '%s'", text);
    return -EINVAL;
}

/* Set key in layer from text; 0 or -EINVAL with reason. */
static int set_from_text(struct layer *l, hive__config_key_t key, const char *text,
                         char *reason)
{
    long v = 0;
    int rc;
    switch (key) {
    case HIVE__KEY_WORKERS:
        if ((rc = parse_number(text, false, &v, reason)) != 0 ||
            (rc = check_range(v, 1, WORKERS_MAX, reason)) != 0)
            return rc;
        l->v.workers = (int)v;
        break;
    case HIVE__KEY_CPUS:
        /* Syntax and the machine are checked after the merge, by topology. */
        if (strlen(text) >= sizeof l->v.cpus) {
            reasonf(reason, "CPU list longer than %zu characters", sizeof l->v.cpus - 1);
            return -EINVAL;
        }
        strcpy(l->v.cpus, text);
        break;
    case HIVE__KEY_PIN:
        if ((rc = parse_pin(text, &l->v.pin, reason)) != 0)
            return rc;
        break;
    case HIVE__KEY_STACK_SIZE:
        if ((rc = parse_number(text, true, &v, reason)) != 0 ||
            (rc = check_stack_size(v, &l->v.stack_size, reason)) != 0)
            return rc;
        break;
    case HIVE__KEY_STEAL_BATCH:
        if ((rc = parse_number(text, false, &v, reason)) != 0 ||
            (rc = check_range(v, 1, STEAL_BATCH_MAX, reason)) != 0)
            return rc;
        l->v.steal_batch = (int)v;
        break;
    case HIVE__KEY_IDLE_SPIN:
        if ((rc = parse_number(text, false, &v, reason)) != 0 ||
            (rc = check_range(v, 0, IDLE_SPIN_MAX, reason)) != 0)
            return rc;
        l->v.idle_spin = (int)v;
        break;
    case HIVE__KEY_MAX_PROCESSES:
        if ((rc = parse_number(text, false, &v, reason)) != 0 ||
            (rc = check_range(v, 1, MAX_PROCESSES_MAX, reason)) != 0)
            return rc;
        l->v.max_processes = v;
        break;
    case HIVE__KEY_MAX_MESSAGE_SIZE:
        if ((rc = parse_number(text, true, &v, reason)) != 0 ||
            (rc = check_range(v, 1, MAX_MESSAGE_MAX, reason)) != 0)
            return rc;
        l->v.max_message_size = v;
        break;
    case HIVE__KEY_BLOCKING_THREADS:
        if ((rc = parse_number(text, false, &v, reason)) != 0 ||
            (rc = check_range(v, 1, BLOCKING_THREADS_MAX, reason)) != 0)
            return rc;
        l->v.blocking_threads = (int)v;
        break;
    case HIVE__KEY_MAX_TIMERS:
        if ((rc = parse_number(text, false, &v, reason)) != 0 ||
            (rc = check_range(v, 1, MAX_TIMERS_MAX, reason)) != 0)
            return rc;
        l->v.max_timers = v;
        break;
    case HIVE__KEY_MAX_NAMES:
        if ((rc = parse_number(text, false, &v, reason)) != 0 ||
            (rc = check_range(v, 1, MAX_NAMES_MAX, reason)) != 0)
            return rc;
        l->v.max_names = v;
        break;
    default:
        return -EINVAL;
    }
    l->set[key] = true;
    return 0;
}

/* ---- the three sources ----------------------------------------------------- */

/* The caller's struct: a field other than its "unset" value is set. */
static int read_struct(const hive_config_t *in, struct layer *l, hive_diag_t *diag)
{
    reason_t reason;
    int k = -1;
    if (memchr(in->config_file, '\0', sizeof in->config_file) == NULL)
        return fail(diag, -EINVAL, "config field 'config_file': not NUL-terminated");
    if (memchr(in->cpus, '\0', sizeof in->cpus) == NULL) {
        reasonf(reason, "not NUL-terminated");
        k = HIVE__KEY_CPUS;
        goto bad;
    }
    if (in->workers != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_WORKERS;
        if (check_range(in->workers, 1, WORKERS_MAX, reason) != 0)
            goto bad;
        l->v.workers = in->workers;
        l->set[k] = true;
    }
    if (in->cpus[0] != '\0') {
        strcpy(l->v.cpus, in->cpus);
        l->set[HIVE__KEY_CPUS] = true;
    }
    if (in->pin != HIVE_PIN_UNSET) {
        k = HIVE__KEY_PIN;
        if (in->pin != HIVE_PIN_COMPACT && in->pin != HIVE_PIN_SCATTER &&
            in->pin != HIVE_PIN_NONE) {
            reasonf(reason, "%d is not a hive_pin_t value", (int)in->pin);
            goto bad;
        }
        l->v.pin = in->pin;
        l->set[k] = true;
    }
    if (in->stack_size != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_STACK_SIZE;
        if (check_stack_size(in->stack_size, &l->v.stack_size, reason) != 0)
            goto bad;
        l->set[k] = true;
    }
    if (in->steal_batch != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_STEAL_BATCH;
        if (check_range(in->steal_batch, 1, STEAL_BATCH_MAX, reason) != 0)
            goto bad;
        l->v.steal_batch = in->steal_batch;
        l->set[k] = true;
    }
    if (in->idle_spin != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_IDLE_SPIN;
        if (check_range(in->idle_spin, 0, IDLE_SPIN_MAX, reason) != 0)
            goto bad;
        l->v.idle_spin = in->idle_spin;
        l->set[k] = true;
    }
    if (in->max_processes != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_MAX_PROCESSES;
        if (check_range(in->max_processes, 1, MAX_PROCESSES_MAX, reason) != 0)
            goto bad;
        l->v.max_processes = in->max_processes;
        l->set[k] = true;
    }
    if (in->max_message_size != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_MAX_MESSAGE_SIZE;
        if (check_range(in->max_message_size, 1, MAX_MESSAGE_MAX, reason) != 0)
            goto bad;
        l->v.max_message_size = in->max_message_size;
        l->set[k] = true;
    }
    if (in->blocking_threads != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_BLOCKING_THREADS;
        if (check_range(in->blocking_threads, 1, BLOCKING_THREADS_MAX, reason) != 0)
            goto bad;
        l->v.blocking_threads = in->blocking_threads;
        l->set[k] = true;
    }
    if (in->max_timers != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_MAX_TIMERS;
        if (check_range(in->max_timers, 1, MAX_TIMERS_MAX, reason) != 0)
            goto bad;
        l->v.max_timers = in->max_timers;
        l->set[k] = true;
    }
    if (in->max_names != HIVE_CONFIG_UNSET) {
        k = HIVE__KEY_MAX_NAMES;
        if (check_range(in->max_names, 1, MAX_NAMES_MAX, reason) != 0)
            goto bad;
        l->v.max_names = in->max_names;
        l->set[k] = true;
    }
    return 0;
bad:
    return fail(diag, -EINVAL, "config field '%s': %s", keys[k].name, reason);
}

static int read_env(struct layer *l, hive_diag_t *diag)
{
    for (int k = 0; k < HIVE__KEY_COUNT; k++) {
        const char *text = getenv(keys[k].env);
        reason_t reason;
        if (text == NULL || text[0] == '\0')
            continue;
        if (set_from_text(l, (hive__config_key_t)k, text, reason) != 0)
            return fail(diag, -EINVAL, "%s='%s': %s", keys[k].env, text, reason);
    }
    return 0;
}

struct file_ctx {
    FILE *f;
    struct layer *l;
    int line;     /* the line inih is parsing */
    int newlines; /* complete lines read so far */
    int err_line; /* line of the first error we found, 0 when none */
    char err[384];
};

static void file_error(struct file_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void file_error(struct file_ctx *c, const char *fmt, ...)
{
    if (c->err_line != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err_line = c->line;
}

/* fgets for inih that keeps the line count and ends the parse (as EOF) at a
 * line too long for inih's buffer, which inih would otherwise split. */
static char *file_reader(char *buf, int num, void *stream)
{
    struct file_ctx *c = stream;
    c->line = c->newlines + 1;
    char *s = fgets(buf, num, c->f);
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    if (n > 0 && s[n - 1] == '\n') {
        c->newlines++;
    } else if (!feof(c->f)) {
        file_error(c, "line longer than %d characters", num - 3);
        return NULL; /* inih sees the end of the file */
    }
    return s;
}

static int file_handler(void *user, const char *section, const char *name,
                        const char *value)
{
    struct file_ctx *c = user;
    if (c->err_line != 0)
        return 1; /* keep the first error only */
    if (strcasecmp(section, "hive") != 0) {
        if (section[0] == '\0')
            file_error(c, "key '%s': outside a section (hive's keys live in [hive])", name);
        else
            file_error(c, "key '%s': in unknown section [%s] (hive's keys live in [hive])",
                       name, section);
        return 0;
    }
    int k = 0;
    while (k < HIVE__KEY_COUNT && strcasecmp(name, keys[k].name) != 0)
        k++;
    if (k == HIVE__KEY_COUNT) {
        file_error(c, "key '%s': unknown key (known: workers, cpus, pin, stack_size, "
                      "steal_batch, idle_spin, max_processes, max_message_size, "
                      "blocking_threads, max_timers, max_names)", name);
        return 0;
    }
    if (c->l->set[k]) {
        file_error(c, "key '%s': set twice (first on line %d)", name, c->l->line[k]);
        return 0;
    }
    reason_t reason;
    if (set_from_text(c->l, (hive__config_key_t)k, value, reason) != 0) {
        file_error(c, "key '%s': %s", name, reason);
        return 0;
    }
    c->l->line[k] = c->line;
    return 1;
}

static int read_file(const char *path, const char *named_by, struct layer *l,
                     hive_diag_t *diag)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        return fail(diag, e == ENOENT || e == ENOTDIR ? -ENOENT : -EIO,
                    "cannot open config file '%s' (named by %s): %s", path, named_by,
                    strerror(e));
    }
    struct file_ctx c = {.f = f, .l = l};
    int bad_line = ini_parse_stream(file_reader, &c, file_handler, &c);
    int read_error = ferror(f);
    fclose(f);
    if (read_error)
        return fail(diag, -EIO, "cannot read config file '%s'", path);
    if (bad_line == -2)
        return fail(diag, -ENOMEM, "out of memory parsing config file '%s'", path);
    /* inih reports the first bad line, ours or its own syntax error. */
    if (c.err_line != 0 && (bad_line <= 0 || c.err_line <= bad_line))
        return fail(diag, -EINVAL, "%s:%d: %s", path, c.err_line, c.err);
    if (bad_line > 0)
        return fail(diag, -EINVAL,
                    "%s:%d: syntax error (expected 'key = value', '[section]' or a "
                    "comment)", path, bad_line);
    return 0;
}

/* ---- merge ----------------------------------------------------------------- */

int hive__config_resolve_ex(const hive_config_t *in, hive_config_t *out,
                            hive__config_origin_t *origin, hive_diag_t *diag)
{
    if (diag != NULL) {
        diag->code = 0;
        diag->message[0] = '\0';
    }
    if (in == NULL || out == NULL)
        return fail(diag, -EINVAL, "hive_config_resolve: in and out must not be NULL");

    /* Layers, highest precedence first; each starts all-unset. */
    enum { L_STRUCT, L_ENV, L_FILE, L_COUNT };
    static const hive__config_source_t layer_source[L_COUNT] = {
        HIVE__SRC_STRUCT, HIVE__SRC_ENV, HIVE__SRC_FILE};
    struct layer layers[L_COUNT];
    memset(layers, 0, sizeof layers);
    for (int i = 0; i < L_COUNT; i++)
        hive_config_init(&layers[i].v);

    int rc = read_struct(in, &layers[L_STRUCT], diag);
    if (rc != 0)
        return rc;

    hive__config_origin_t o;
    memset(&o, 0, sizeof o);
    const char *path = in->config_file;
    const char *named_by = "config_file";
    if (path[0] == '\0' && getenv("HIVE_CONFIG") != NULL) {
        path = getenv("HIVE_CONFIG");
        named_by = "HIVE_CONFIG";
        o.file_from_env = 1;
    }
    if (path[0] != '\0') {
        if (strlen(path) >= sizeof o.file)
            return fail(diag, -EINVAL, "%s: config file path longer than %zu characters",
                        named_by, sizeof o.file - 1);
        strcpy(o.file, path);
        if ((rc = read_file(o.file, named_by, &layers[L_FILE], diag)) != 0)
            return rc;
    }
    if ((rc = read_env(&layers[L_ENV], diag)) != 0)
        return rc;

    /* Key by key, the highest layer that set it. */
    hive_config_t r;
    hive_config_init(&r);
    memcpy(r.config_file, in->config_file, sizeof r.config_file);
    int from[HIVE__KEY_COUNT];
    for (int k = 0; k < HIVE__KEY_COUNT; k++) {
        from[k] = -1;
        for (int i = 0; i < L_COUNT && from[k] < 0; i++)
            if (layers[i].set[k])
                from[k] = i;
        o.source[k] = from[k] < 0 ? HIVE__SRC_DEFAULT : layer_source[from[k]];
        o.line[k] = from[k] == L_FILE ? layers[L_FILE].line[k] : 0;
    }
#define PICK(field, key, dflt) \
    r.field = from[key] < 0 ? (dflt) : layers[from[key]].v.field
    PICK(pin, HIVE__KEY_PIN, DEFAULT_PIN);
    PICK(stack_size, HIVE__KEY_STACK_SIZE, DEFAULT_STACK_SIZE);
    PICK(steal_batch, HIVE__KEY_STEAL_BATCH, DEFAULT_STEAL_BATCH);
    PICK(idle_spin, HIVE__KEY_IDLE_SPIN, DEFAULT_IDLE_SPIN);
    PICK(max_processes, HIVE__KEY_MAX_PROCESSES, DEFAULT_MAX_PROCESSES);
    PICK(max_message_size, HIVE__KEY_MAX_MESSAGE_SIZE, DEFAULT_MAX_MESSAGE_SIZE);
    PICK(blocking_threads, HIVE__KEY_BLOCKING_THREADS, DEFAULT_BLOCKING_THREADS);
    PICK(max_timers, HIVE__KEY_MAX_TIMERS, DEFAULT_MAX_TIMERS);
    PICK(max_names, HIVE__KEY_MAX_NAMES, DEFAULT_MAX_NAMES);
#undef PICK

    /* cpus and the default workers need the machine. */
    hive__topology_t *topo;
    char err[sizeof diag->message - 64];
    if ((rc = hive__topology_load(&topo, err, sizeof err)) != 0)
        return fail(diag, rc, "cannot read the machine's topology: %s", err);
    int c = from[HIVE__KEY_CPUS];
    if (c >= 0) {
        const char *cpus = layers[c].v.cpus;
        if ((rc = hive__topology_check_cpus(topo, cpus, err, sizeof err)) != 0) {
            hive__topology_free(topo);
            if (c == L_STRUCT)
                return fail(diag, rc, "config field 'cpus': %s", err);
            if (c == L_ENV)
                return fail(diag, rc, "HIVE_CPUS='%s': %s", cpus, err);
            return fail(diag, rc, "%s:%d: key 'cpus': %s", o.file, o.line[HIVE__KEY_CPUS],
                        err);
        }
        strcpy(r.cpus, cpus);
    } else if (hive__topology_cpu_list(topo, "", r.cpus, sizeof r.cpus) != 0) {
        /* An allowed set too ragged to spell in HIVE_CPUS_MAX characters:
         * "" means the same thing, every allowed CPU. */
        r.cpus[0] = '\0';
    }
    r.workers = from[HIVE__KEY_WORKERS] < 0 ? hive__topology_ncores(topo, r.cpus)
                                            : layers[from[HIVE__KEY_WORKERS]].v.workers;
    hive__topology_free(topo);

    *out = r;
    if (origin != NULL)
        *origin = o;
    return 0;
}

HIVE_API int hive_config_resolve(const hive_config_t *in, hive_config_t *out,
                                 hive_diag_t *diag)
{
    return hive__config_resolve_ex(in, out, NULL, diag);
}
