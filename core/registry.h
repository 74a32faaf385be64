/* registry.h - process names (liburcu's lock-free hash table, cds_lfht).
 *
 * A name entry is in the table and pointed to by its process's `name`; the
 * process's exit swaps that pointer for HIVE__NAME_GONE and deletes the
 * entry, so a name never outlives its process, and register cannot attach a
 * name to a process that is exiting (its CAS from NULL fails). Whoever's
 * cds_lfht_del succeeds frees the entry, after a grace period. */
#ifndef HIVE_CORE_REGISTRY_H
#define HIVE_CORE_REGISTRY_H

#include "core/process.h"

#define HIVE__NAME_GONE ((hive__name_t *)(uintptr_t)1)

/* FNV-1a of a name's len bytes: the registry's table, and a supervisor's
 * check that its children's ids are unique. */
static inline uint64_t hive__name_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* max_names: most names registered at once (hive_register then -EAGAIN). */
int hive__registry_init(long max_names);
void hive__registry_shutdown(void);
/* p is exiting: drop its name, if any. Inside a read-side section. */
void hive__registry_drop(hive__proc_t *p);
/* p's registered name into buf ("" when none); its length. */
size_t hive__registry_name_of(hive__proc_t *p, char *buf, size_t len);

#endif
