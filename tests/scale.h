/* scale.h - sizes tests for the build they run in.
 *
 * HIVE_TEST_SCALE (a divisor, default 1) shrinks iteration counts for slow
 * runs: .ci/run sets it for the valgrind pass. Sanitizer builds divide by a
 * further 10 under TSan. A test's claim is checked at every scale; only the
 * count changes. */
#ifndef HIVE_TESTS_SCALE_H
#define HIVE_TESTS_SCALE_H

#include <stdlib.h>

static inline long hive_test_scaled(long n)
{
    long div = 1;
    const char *s = getenv("HIVE_TEST_SCALE");
    if (s && atol(s) > 0)
        div = atol(s);
#if HIVE_TSAN
    div *= 10;
#endif
    long r = n / div;
    return r > 0 ? r : 1;
}

/* The stress tests' command line: [threads] [operations per thread], the
 * operations then scaled for the build as above. */
static inline void hive_test_args(int argc, char **argv, long *threads, long *ops)
{
    if (argc > 1)
        *threads = atol(argv[1]);
    if (argc > 2)
        *ops = atol(argv[2]);
    *ops = hive_test_scaled(*ops);
}

#endif
