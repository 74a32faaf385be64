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

typedef struct hive__idmap_block hive__idmap_block_t;
/* One pointer: a process carries four of these, and a million processes
 * should not pay for four empty tables each. */
typedef struct hive__idmap {
    hive__idmap_block_t *b; /* NULL when the map has never held anything */
} hive__idmap_t;

/* Insert or overwrite. 0, -ENOMEM or -EINVAL (key 0 or UINT64_MAX; the
 * map is unchanged then). del and get of those keys find nothing. */
int hive__idmap_put(hive__idmap_t *m, uint64_t key, uint64_t val);
/* Make room for n more entries (at least: puts of up to n new keys do
 * not grow the table): a map about to be filled is sized once rather
 * than doubled and rehashed on the way. 0 or -ENOMEM (the map unchanged). */
int hive__idmap_reserve(hive__idmap_t *m, uint32_t n);
/* Remove key; true if it was there (its value to *val if val). The table
 * stays allocated when the map empties (hot maps churn); see trim. */
bool hive__idmap_del(hive__idmap_t *m, uint64_t key, uint64_t *val);
bool hive__idmap_get(const hive__idmap_t *m, uint64_t key, uint64_t *val);
/* Take the whole map out of *m (which becomes empty): the caller walks the
 * taken copy with hive__idmap_next and frees it with hive__idmap_free. */
hive__idmap_t hive__idmap_take(hive__idmap_t *m);
/* Iterate: start with *pos = 0; false at the end. */
bool hive__idmap_next(const hive__idmap_t *m, uint32_t *pos, uint64_t *key, uint64_t *val);
void hive__idmap_free(hive__idmap_t *m);
/* Give `from`'s table to `to` if `from` is empty and `to` has none (true
 * then): a map about to get its first entry takes a table another map no
 * longer needs instead of allocating one. */
bool hive__idmap_adopt(hive__idmap_t *to, hive__idmap_t *from);
/* Free the table if the map is empty (maps that rarely refill). */
void hive__idmap_trim(hive__idmap_t *m);
uint32_t hive__idmap_count(const hive__idmap_t *m);

#endif
