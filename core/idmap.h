/* idmap.h - a small open-addressing hash map from 64-bit ids (pids, refs)
 * to 64-bit values: a process's links and monitors.
 *
 * Linear probing over a power-of-two table, grown at 3/4 full (counting
 * tombstones). Key 0 marks an empty slot and UINT64_MAX a deleted one; pids
 * and refs are never either. Not thread-safe: the owner (or whoever holds
 * the owner's signal lock) uses it. An empty map holds no memory, so the
 * common process with no links and no monitors pays nothing.
 */
#ifndef HIVE_CORE_IDMAP_H
#define HIVE_CORE_IDMAP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct hive__idmap {
    uint64_t *keys;
    uint64_t *vals;
    uint32_t cap;  /* 0 or a power of two */
    uint32_t n;    /* live entries */
    uint32_t used; /* live + deleted */
} hive__idmap_t;

/* Insert or overwrite. 0, -ENOMEM or -EINVAL (key 0 or UINT64_MAX; the
 * map is unchanged then). del and get of those keys find nothing. */
int hive__idmap_put(hive__idmap_t *m, uint64_t key, uint64_t val);
/* Remove key; true if it was there (its value to *val if val). */
bool hive__idmap_del(hive__idmap_t *m, uint64_t key, uint64_t *val);
bool hive__idmap_get(const hive__idmap_t *m, uint64_t key, uint64_t *val);
/* Take the whole map out of *m (which becomes empty): the caller walks the
 * taken copy with hive__idmap_next and frees it with hive__idmap_free. */
hive__idmap_t hive__idmap_take(hive__idmap_t *m);
/* Iterate: start with *pos = 0; false at the end. */
bool hive__idmap_next(const hive__idmap_t *m, uint32_t *pos, uint64_t *key, uint64_t *val);
void hive__idmap_free(hive__idmap_t *m);

#endif
