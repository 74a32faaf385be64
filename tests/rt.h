/* rt.h - starting and stopping the runtime in tests. */
#ifndef HIVE_TESTS_RT_H
#define HIVE_TESTS_RT_H

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <hive/hive.h>

/* Start with `workers` workers (more than cores is fine) and optionally a
 * process limit and message size limit (<= 0: defaults). */
static inline int rt_start(int workers, long max_processes, long max_message_size)
{
    hive_config_t cfg;
    hive_config_init(&cfg);
    cfg.workers = workers;
    if (max_processes > 0)
        cfg.max_processes = max_processes;
    if (max_message_size > 0)
        cfg.max_message_size = max_message_size;
    hive_diag_t d;
    int rc = hive_runtime_start(&cfg, &d);
    if (rc)
        fprintf(stderr, "runtime start: %s\n", d.message);
    return rc;
}

/* rt_start, then attach the calling thread (the test) as a process: *me. */
static inline int rt_start_attached(int workers, long max_processes, long max_message_size,
                                    hive_pid_t *me)
{
    if (rt_start(workers, max_processes, max_message_size) != 0)
        return -1;
    return hive_thread_attach(me);
}

/* The other half: detach the test thread, stop the runtime. */
static inline int rt_stop_attached(void)
{
    hive_thread_detach();
    return hive_runtime_stop();
}

/* Wait (yielding) until pid has ended; true if it did. The count of
 * yields, not a clock, bounds the wait: tests assert behaviour, not time. */
static inline bool rt_wait_dead(hive_pid_t pid)
{
    for (long i = 0; i < 200000000 && hive_is_alive(pid); i++)
        sched_yield();
    return !hive_is_alive(pid);
}

/* The long carried by the next message of tag (cmocka: include it first);
 * the test fails if none comes within timeout_ms or it carries no long. */
static inline long rt_receive_long(uint64_t tag, int64_t timeout_ms)
{
    hive_msg_t *m = NULL;
    int rc = hive_receive_tag(tag, timeout_ms, &m);
    if (rc != 0)
        fail_msg("waiting for tag %llu: %s", (unsigned long long)tag, hive_strerror(rc));
    long v;
    assert_int_equal(hive_msg_size(m), sizeof v);
    memcpy(&v, hive_msg_data(m), sizeof v);
    hive_msg_free(m);
    return v;
}

/* The next DOWN (cmocka: include it first); the test fails if none comes
 * within timeout_ms or it is not the one of monitor `ref`. */
static inline hive_down_info_t rt_receive_down(hive_ref_t ref, int64_t timeout_ms)
{
    hive_msg_t *m = NULL;
    int rc = hive_receive_tag(HIVE_TAG_DOWN, timeout_ms, &m);
    if (rc != 0)
        fail_msg("waiting for a DOWN: %s", hive_strerror(rc));
    hive_down_info_t d;
    assert_int_equal(hive_down_info(m, &d), 0);
    hive_msg_free(m);
    assert_int_equal(d.ref, ref);
    return d;
}

#endif
