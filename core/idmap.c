/* idmap.c - open-addressing id map (see idmap.h). */
#include "core/idmap.h"

#include <errno.h>
#include <string.h>

#include "mailbox/alloc.h"

#define EMPTY 0
#define GONE UINT64_MAX

static uint32_t slot_of(uint64_t key, uint32_t cap)
{
    key ^= key >> 33; /* spread slot and generation bits */
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key & (cap - 1);
}

static int grow(hive__idmap_t *m)
{
    uint32_t ncap = m->cap ? (m->n * 2 + 2 > m->cap ? m->cap * 2 : m->cap) : 8;
    uint64_t *nk = hive__zalloc(ncap * sizeof *nk);
    uint64_t *nv = hive__alloc(ncap * sizeof *nv);
    if (!nk || !nv) {
        hive__free(nk, ncap * sizeof *nk);
        hive__free(nv, ncap * sizeof *nv);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < m->cap; i++) {
        uint64_t k = m->keys[i];
        if (k == EMPTY || k == GONE)
            continue;
        uint32_t s = slot_of(k, ncap);
        while (nk[s] != EMPTY)
            s = (s + 1) & (ncap - 1);
        nk[s] = k;
        nv[s] = m->vals[i];
    }
    uint32_t n = m->n; /* hive__idmap_free() zeroes *m, counts included */
    hive__idmap_free(m);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    m->n = n;
    m->used = n;
    return 0;
}

/* 0 and UINT64_MAX mark empty and deleted slots: they are never keys.
 * Looking one up must miss (an empty slot would "match" 0, and a table of
 * tombstones has no empty slot to stop the probe), and storing one is
 * refused: a caller passing HIVE_PID_NONE or a garbage id must not corrupt
 * the map or spin in it. */
static bool reserved(uint64_t key) { return key == EMPTY || key == GONE; }

static int64_t find(const hive__idmap_t *m, uint64_t key)
{
    if (!m->cap || reserved(key))
        return -1;
    for (uint32_t s = slot_of(key, m->cap);; s = (s + 1) & (m->cap - 1)) {
        if (m->keys[s] == key)
            return s;
        if (m->keys[s] == EMPTY)
            return -1;
    }
}

int hive__idmap_put(hive__idmap_t *m, uint64_t key, uint64_t val)
{
    if (reserved(key))
        return -EINVAL;
    int64_t at = find(m, key);
    if (at >= 0) {
        m->vals[at] = val;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = grow(m);
        if (rc)
            return rc;
    }
    uint32_t s = slot_of(key, m->cap);
    while (m->keys[s] != EMPTY && m->keys[s] != GONE)
        s = (s + 1) & (m->cap - 1);
    if (m->keys[s] == EMPTY)
        m->used++;
    m->keys[s] = key;
    m->vals[s] = val;
    m->n++;
    return 0;
}

bool hive__idmap_del(hive__idmap_t *m, uint64_t key, uint64_t *val)
{
    int64_t at = find(m, key);
    if (at < 0)
        return false;
    if (val)
        *val = m->vals[at];
    m->keys[at] = GONE;
    m->n--;
    if (m->n == 0) /* reset tombstones for free */
        memset(m->keys, 0, m->cap * sizeof *m->keys), m->used = 0;
    return true;
}

bool hive__idmap_get(const hive__idmap_t *m, uint64_t key, uint64_t *val)
{
    int64_t at = find(m, key);
    if (at >= 0 && val)
        *val = m->vals[at];
    return at >= 0;
}

hive__idmap_t hive__idmap_take(hive__idmap_t *m)
{
    hive__idmap_t t = *m;
    memset(m, 0, sizeof *m);
    return t;
}

bool hive__idmap_next(const hive__idmap_t *m, uint32_t *pos, uint64_t *key, uint64_t *val)
{
    for (; *pos < m->cap; (*pos)++) {
        uint64_t k = m->keys[*pos];
        if (k != EMPTY && k != GONE) {
            *key = k;
            if (val)
                *val = m->vals[*pos];
            (*pos)++;
            return true;
        }
    }
    return false;
}

void hive__idmap_free(hive__idmap_t *m)
{
    if (m->cap) {
        hive__free(m->keys, m->cap * sizeof *m->keys);
        hive__free(m->vals, m->cap * sizeof *m->vals);
    }
    memset(m, 0, sizeof *m);
}
