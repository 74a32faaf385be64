/* fuzz_config.c - libFuzzer target for configuration parsing: the INI file,
 * the HIVE_* environment variables and the hive_config_t fields.
 *
 * Input: parts separated by NUL bytes. Part 0 is the INI file's text (given
 * through a memfd, so nothing touches the disk); parts 1..10 are the values
 * of HIVE_WORKERS, HIVE_CPUS, HIVE_PIN, HIVE_STACK_SIZE, HIVE_STEAL_BATCH,
 * HIVE_IDLE_SPIN, HIVE_MAX_PROCESSES, HIVE_MAX_MESSAGE_SIZE, HIVE_MAX_TIMERS,
 * HIVE_MAX_NAMES (absent: unset); part 11, if present, gives struct fields,
 * 4 bytes each (little-endian int32, in the order of the keys above, cpus
 * and pin excepted; 0x7fffffff leaves a field unset).
 *
 * Invariant (what the fuzzer checks): hive_config_resolve never crashes;
 * it returns 0 with every field set and in range, or a negative errno with
 * a message that says where the refused value came from: a struct field
 * ("config field 'KEY'"), a variable ("HIVE_KEY='value'"), or the file and
 * line ("/proc/self/fd/N:LINE: ..."). Any other outcome aborts.
 *
 * Built as a libFuzzer target with -DHIVE_FUZZ (make fuzz), and without
 * libFuzzer into a replay program (replay.c) that ctest runs over the seed
 * corpus in tests/fuzz/corpus/config. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <hive/config.h>

static const char *const env_names[] = {
    "HIVE_WORKERS",     "HIVE_CPUS",      "HIVE_PIN",           "HIVE_STACK_SIZE",
    "HIVE_STEAL_BATCH", "HIVE_IDLE_SPIN", "HIVE_MAX_PROCESSES", "HIVE_MAX_MESSAGE_SIZE",
    "HIVE_MAX_TIMERS",  "HIVE_MAX_NAMES",
};
#define NENV (sizeof env_names / sizeof env_names[0])

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "fuzz_config: %s (rc %d): '%s'\n", what, rc, msg);
    abort();
}

static int32_t get32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Split into parts at NUL bytes. */
    const uint8_t *part[NENV + 2];
    size_t len[NENV + 2];
    size_t nparts = 0, at = 0;
    while (nparts < NENV + 2 && at <= size) {
        const uint8_t *end = memchr(data + at, 0, size - at);
        size_t n = end ? (size_t)(end - (data + at)) : size - at;
        part[nparts] = data + at;
        len[nparts++] = n;
        at += n + 1;
        if (!end)
            break;
    }
    for (size_t i = 0; i < NENV; i++) {
        if (1 + i < nparts) {
            char *v = strndup((const char *)part[1 + i], len[1 + i]);
            setenv(env_names[i], v, 1);
            free(v);
        } else {
            unsetenv(env_names[i]);
        }
    }
    unsetenv("HIVE_CONFIG");

    hive_config_t in, out;
    hive_config_init(&in);
    int fd = memfd_create("hive.ini", 0);
    if (fd < 0)
        return 0;
    if (len[0] && write(fd, part[0], len[0]) != (ssize_t)len[0]) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    snprintf(in.config_file, sizeof in.config_file, "%s", path);
    if (nparts > NENV + 1) {
        const uint8_t *p = part[NENV + 1];
        size_t n = len[NENV + 1];
        long *longs[] = {&in.stack_size, &in.max_processes, &in.max_message_size, &in.max_timers,
                         &in.max_names};
        int *ints[] = {&in.workers, &in.steal_batch, &in.idle_spin};
        size_t k = 0;
        for (size_t i = 0; i < 3 && (k + 1) * 4 <= n; i++, k++)
            if (get32(p + 4 * k) != INT32_MAX)
                *ints[i] = get32(p + 4 * k);
        for (size_t i = 0; i < 5 && (k + 1) * 4 <= n; i++, k++)
            if (get32(p + 4 * k) != INT32_MAX)
                *longs[i] = get32(p + 4 * k);
    }

    hive_diag_t diag = {0};
    int rc = hive_config_resolve(&in, &out, &diag);
    close(fd);
    if (rc == 0) {
        if (out.workers < 1 || out.workers > 1024 || out.stack_size < 16 * 1024 ||
            out.steal_batch < 1 || out.idle_spin < 0 || out.max_processes < 1 ||
            out.max_message_size < 1 || out.max_timers < 1 || out.max_names < 1 ||
            out.pin == HIVE_PIN_UNSET)
            die("accepted a value out of range", rc, "");
        return 0;
    }
    if (rc > 0 || diag.code != rc || diag.message[0] == '\0')
        die("refused without a message", rc, diag.message);
    if (strncmp(diag.message, "config field '", 14) == 0)
        return 0;
    for (size_t i = 0; i < NENV; i++) {
        size_t n = strlen(env_names[i]);
        if (strncmp(diag.message, env_names[i], n) == 0 && diag.message[n] == '=')
            return 0;
    }
    size_t n = strlen(path);
    if (strncmp(diag.message, path, n) == 0 && diag.message[n] == ':')
        return 0;
    if (rc == -ENOMEM)
        return 0;
    die("refusal does not say where the value came from", rc, diag.message);
    return 0;
}
