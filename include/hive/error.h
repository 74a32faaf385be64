/* hive/error.h - how hive reports failure.
 *
 * Every hive function that can fail returns an int: 0 (or a non-negative
 * value where documented) on success, a negative errno value on failure:
 *   -EINVAL     a bad argument (null pointer, out-of-range value, bad config)
 *   -ESRCH      no such process (a dead or never-existing pid)
 *   -ENOMEM     out of memory (or a configured limit such as the spawn limit)
 *   -ETIMEDOUT  a deadline passed
 *   -EALREADY / -EBUSY / -EPERM  state errors, as each function documents
 * There is no global error state. Functions that can explain a failure in
 * more words take a hive_diag_t (may be NULL) and fill its message.
 */
#ifndef HIVE_ERROR_H
#define HIVE_ERROR_H

#include <errno.h>
#include <stddef.h>

#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A human-readable explanation of a failure, for calls whose error code alone
 * would not say enough (which config key, which file and line). */
typedef struct hive_diag {
    int code;           /* the negative errno value returned, 0 when none */
    char message[512];  /* NUL-terminated; "" when there is nothing to add */
} hive_diag_t;

/* hive_strerror - the name and meaning of a (negative) hive error code, e.g.
 * "ESRCH: no such process". Never NULL; the string is static. Any thread. */
HIVE_API const char *hive_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
