/* idmap.c - open-addressing id map (see idmap.h). */
#include "core/idmap.h"

#include <errno.h>
#include <string.h>

#include "mailbox/alloc.h"

#define EMPTY 0
#define GONE UINT64_MAX

/* The table: keys[cap] then vals[cap], one allocation. */
struct hive__idmap_block {
    uint32_t cap; /* a power of two */
    uint32_t n;   /* live entries */
    uint32_t used; /* live + deleted */
    uint32_t pad_;
    uint64_t kv[]; /* keys: kv[0..cap), values: kv[cap..2cap) */
};

static size_t block_size(uint32_t cap) { return sizeof(hive__idmap_block_t) + 2 * cap * sizeof(uint64_t); }
static uint64_t *keys(const hive__idmap_block_t *b) { return (uint64_t *)b->kv; }
static uint64_t *vals(const hive__idmap_block_t *b) { return (uint64_t *)b->kv + b->cap; }

static uint32_t slot_of(uint64_t key, uint32_t cap)
{
    key ^= key >> 33; /* spread slot and generation bits */
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key & (cap - 1);
}

/* Rehash into a table of ncap slots (a power of two that holds o's live
 * entries within the load limit). */
static int rehash(hive__idmap_t *m, uint32_t ncap)
{
    hive__idmap_block_t *o = m->b;
    hive__idmap_block_t *b = hive__zalloc(block_size(ncap));
    if (!b)
        return -ENOMEM;
    b->cap = ncap;
    uint64_t *nk = keys(b), *nv = vals(b);
    for (uint32_t i = 0; o && i < o->cap; i++) {
        uint64_t k = keys(o)[i];
        if (k == EMPTY || k == GONE)
            continue;
        uint32_t s = slot_of(k, ncap);
        while (nk[s] != EMPTY)
            s = (s + 1) & (ncap - 1);
        nk[s] = k;
        nv[s] = vals(o)[i];
        b->n++;
    }
    b->used = b->n;
    hive__idmap_free(m);
    m->b = b;
    return 0;
}

static int grow(hive__idmap_t *m)
{
    hive__idmap_block_t *o = m->b;
    return rehash(m, o ? (o->n * 2 + 2 > o->cap ? o->cap * 2 : o->cap) : 4);
}

int hive__idmap_reserve(hive__idmap_t *m, uint32_t n)
{
    hive__idmap_block_t *b = m->b;
    if (n == 0)
        return 0;
    uint64_t live = b ? b->n : 0, used = b ? b->used : 0;
    /* The load limit put() keeps: (used + 1) * 4 <= cap * 3 before a key
     * takes a fresh slot; so n more keys fit while (used + n) * 4 <= cap * 3. */
    if (b && (used + n) * 4 <= (uint64_t)b->cap * 3)
        return 0;
    uint64_t cap = b ? b->cap : 4; /* never smaller: a rehash drops tombstones */
    while ((live + n) * 4 > cap * 3)
        cap *= 2;
    return cap > (UINT32_MAX >> 2) + 1 ? -ENOMEM : rehash(m, (uint32_t)cap);
}

/* 0 and UINT64_MAX mark empty and deleted slots: they are never keys.
 * Looking one up must miss (an empty slot would "match" 0, and a table of
 * tombstones has no empty slot to stop the probe), and storing one is
 * refused: a caller passing HIVE_PID_NONE or a garbage id must not corrupt
 * the map or spin in it. */
static bool reserved(uint64_t key) { return key == EMPTY || key == GONE; }

static int64_t find(const hive__idmap_t *m, uint64_t key)
{
    const hive__idmap_block_t *b = m->b;
    if (!b || reserved(key))
        return -1;
    const uint64_t *k = keys(b);
    for (uint32_t s = slot_of(key, b->cap);; s = (s + 1) & (b->cap - 1)) {
        if (k[s] == key)
            return s;
        if (k[s] == EMPTY)
            return -1;
    }
}

/* Out of line: inlined, the rare growth made every put save and restore
 * half the registers (callgrind: 19 of a put's ~50 instructions). */
static __attribute__((noinline)) int put_grown(hive__idmap_t *m, uint64_t key, uint64_t val)
{
    int rc = grow(m);
    if (rc)
        return rc;
    hive__idmap_block_t *b = m->b;
    uint64_t *k = keys(b);
    uint32_t s = slot_of(key, b->cap);
    while (k[s] != EMPTY) /* a fresh table has no tombstones */
        s = (s + 1) & (b->cap - 1);
    b->used++;
    k[s] = key;
    vals(b)[s] = val;
    b->n++;
    return 0;
}

int hive__idmap_put(hive__idmap_t *m, uint64_t key, uint64_t val)
{
    if (reserved(key))
        return -EINVAL;
    hive__idmap_block_t *b = m->b;
    if (b) {
        /* One probe: the key's slot if it is there, else the first
         * tombstone on the way (reused: `used` does not grow) or the empty
         * slot that ends the probe (used if the load allows). */
        uint64_t *k = keys(b);
        uint32_t mask = b->cap - 1, s = slot_of(key, b->cap), tomb = UINT32_MAX;
        for (; k[s] != EMPTY; s = (s + 1) & mask) {
            if (k[s] == key) {
                vals(b)[s] = val;
                return 0;
            }
            if (k[s] == GONE && tomb == UINT32_MAX)
                tomb = s;
        }
        if (tomb != UINT32_MAX || (b->used + 1) * 4 <= b->cap * 3) {
            if (tomb != UINT32_MAX)
                s = tomb;
            else
                b->used++;
            k[s] = key;
            vals(b)[s] = val;
            b->n++;
            return 0;
        }
    }
    return put_grown(m, key, val);
}

bool hive__idmap_del(hive__idmap_t *m, uint64_t key, uint64_t *val)
{
    int64_t at = find(m, key);
    if (at < 0)
        return false;
    hive__idmap_block_t *b = m->b;
    if (val)
        *val = vals(b)[at];
    keys(b)[at] = GONE;
    b->n--;
    if (b->n == 0) /* reset tombstones for free */
        memset(keys(b), 0, b->cap * sizeof(uint64_t)), b->used = 0;
    return true;
}

bool hive__idmap_get(const hive__idmap_t *m, uint64_t key, uint64_t *val)
{
    int64_t at = find(m, key);
    if (at >= 0 && val)
        *val = vals(m->b)[at];
    return at >= 0;
}

hive__idmap_t hive__idmap_take(hive__idmap_t *m)
{
    hive__idmap_t t = *m;
    m->b = NULL;
    return t;
}

bool hive__idmap_next(const hive__idmap_t *m, uint32_t *pos, uint64_t *key, uint64_t *val)
{
    const hive__idmap_block_t *b = m->b;
    for (; b && *pos < b->cap; (*pos)++) {
        uint64_t k = keys(b)[*pos];
        if (k != EMPTY && k != GONE) {
            *key = k;
            if (val)
                *val = vals(b)[*pos];
            (*pos)++;
            return true;
        }
    }
    return false;
}

void hive__idmap_free(hive__idmap_t *m)
{
    /* No store into a map that never held anything: a dead process's maps
     * are freed where its lines are cold (a store would own the line). */
    if (m->b) {
        hive__free(m->b, block_size(m->b->cap));
        m->b = NULL;
    }
}

bool hive__idmap_adopt(hive__idmap_t *to, hive__idmap_t *from)
{
    if (to->b || !from->b || from->b->n != 0)
        return false;
    /* An emptied table holds no tombstones either (del resets them). */
    to->b = from->b;
    from->b = NULL;
    return true;
}

void hive__idmap_trim(hive__idmap_t *m)
{
    if (m->b && m->b->n == 0)
        hive__idmap_free(m);
}

uint32_t hive__idmap_count(const hive__idmap_t *m) { return m->b ? m->b->n : 0; }
