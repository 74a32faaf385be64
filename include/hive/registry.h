/* hive/registry.h - process names.
 *
 * A name maps to one live process; a process has at most one name. The name
 * is released when its process ends. Names are at most HIVE_NAME_MAX bytes.
 * Lookups are lock-free (liburcu's lock-free hash table). */
#ifndef HIVE_REGISTRY_H
#define HIVE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <hive/process.h>
#include <hive/visibility.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HIVE_NAME_MAX 255

/* hive_register - give `pid` the name. Any thread. 0, -EBUSY (the name is
 * taken), -EALREADY (pid already has a name), -ESRCH (pid is dead),
 * -EINVAL (NULL, empty or too long name), -EAGAIN (max_names names are
 * registered), -ENOMEM, -EPERM (runtime not running). */
HIVE_API int hive_register(const char *name, hive_pid_t pid);
/* hive_unregister - drop the name. 0 or -ENOENT. Any thread. */
HIVE_API int hive_unregister(const char *name);
/* hive_whereis - the pid with that name, or HIVE_PID_NONE. Any thread. */
HIVE_API hive_pid_t hive_whereis(const char *name);
/* hive_send_named - hive_send to the process with that name; -ESRCH when no
 * process has it. */
HIVE_API int hive_send_named(const char *name, uint64_t tag, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
