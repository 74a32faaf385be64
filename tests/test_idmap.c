/* test_idmap.c - the id map under links and monitors (core/idmap.c), and
 * the ids it cannot hold (regression test, issue 11).
 *
 * What it proves: 0 and UINT64_MAX, the map's empty and deleted marks, are
 * never taken for keys: looking them up finds nothing, deleting them
 * changes nothing, storing them is refused; so hive_unlink(HIVE_PID_NONE),
 * hive_demonitor(0) and the like, however often, leave a process's real
 * links and monitors working. Before the fix, each hive_unlink(0) turned an
 * empty slot into a tombstone and decremented the count: the first one
 * dropped the process's real link, and once no empty slot was left the
 * next lookup probed for ever (found by the scenario fuzzer: an agent that
 * unlinked a never-spawned slot's pid ten times stopped answering). Also:
 * growth keeps every entry, delete/re-insert cycles do not fill the table
 * with tombstones, and a put that reuses a tombstone never makes a second
 * copy of a key (random churn against a model). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "core/idmap.h"
#include "tests/rt.h"

static void reserved_ids_are_never_keys(void **state)
{
    hive__idmap_t m = {0};
    assert_int_equal(hive__idmap_put(&m, 0, 1), -EINVAL);
    assert_int_equal(hive__idmap_put(&m, UINT64_MAX, 1), -EINVAL);
    assert_int_equal(hive__idmap_put(&m, 42, 7), 0);
    for (int i = 0; i < 100; i++) {
        assert_false(hive__idmap_del(&m, 0, NULL));
        assert_false(hive__idmap_del(&m, UINT64_MAX, NULL));
        assert_false(hive__idmap_get(&m, 0, NULL));
        assert_false(hive__idmap_get(&m, UINT64_MAX, NULL));
    }
    assert_int_equal(hive__idmap_count(&m), 1);
    uint64_t v = 0;
    assert_true(hive__idmap_get(&m, 42, &v));
    assert_int_equal(v, 7);
    assert_false(hive__idmap_get(&m, 43, NULL)); /* a miss still ends */
    hive__idmap_free(&m);
}

static void growth_and_churn_keep_every_entry(void **state)
{
    hive__idmap_t m = {0};
    for (uint64_t k = 1; k <= 1000; k++)
        assert_int_equal(hive__idmap_put(&m, k, k * 3), 0);
    for (int round = 0; round < 50; round++) /* tombstones are reclaimed by growth */
        for (uint64_t k = 1; k <= 1000; k += 2) {
            assert_true(hive__idmap_del(&m, k, NULL));
            assert_int_equal(hive__idmap_put(&m, k, k * 3), 0);
        }
    assert_int_equal(hive__idmap_count(&m), 1000);
    for (uint64_t k = 1; k <= 1000; k++) {
        uint64_t v;
        assert_true(hive__idmap_get(&m, k, &v));
        assert_int_equal(v, k * 3);
    }
    assert_false(hive__idmap_get(&m, 1001, NULL));
    hive__idmap_free(&m);
}

/* A put reuses the first tombstone on its probe, but only after the probe
 * has shown that the key is not further along: random puts, overwrites and
 * deletes of a few keys (so probes cross tombstones all the time) against a
 * plain array. A put that stored a second copy of a key would show as a
 * count too high, or as a value that survives the key's delete. */
static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* reserve(n) makes room for n more keys: the n puts that follow never
 * move the table (no growth, no rehash), whatever was there before -
 * nothing, live keys, or tombstones - and every key stays findable. */
static void reserve_makes_room_once(void **state)
{
    for (uint32_t n = 1; n <= 300; n = n * 3 + 1) {
        for (int before = 0; before < 3; before++) {
            hive__idmap_t m = {0};
            uint64_t next = 1;
            if (before >= 1) /* live keys */
                for (int i = 0; i < 5; i++)
                    assert_int_equal(hive__idmap_put(&m, next++, 7), 0);
            if (before == 2) /* and tombstones */
                for (int i = 0; i < 7; i++) {
                    assert_int_equal(hive__idmap_put(&m, 1000 + i, 0), 0);
                    assert_true(hive__idmap_del(&m, 1000 + i, NULL));
                }
            uint32_t had = hive__idmap_count(&m);
            assert_int_equal(hive__idmap_reserve(&m, n), 0);
            const void *table = m.b;
            assert_non_null(table);
            for (uint32_t i = 0; i < n; i++)
                assert_int_equal(hive__idmap_put(&m, 5000 + i, i), 0);
            assert_ptr_equal(m.b, table);
            assert_int_equal(hive__idmap_count(&m), had + n);
            for (uint32_t i = 0; i < n; i++) {
                uint64_t v = ~0ull;
                assert_true(hive__idmap_get(&m, 5000 + i, &v));
                assert_int_equal(v, i);
            }
            for (uint64_t k = 1; k < next; k++)
                assert_true(hive__idmap_get(&m, k, NULL));
            /* Already room: a second reserve keeps the table. */
            assert_int_equal(hive__idmap_reserve(&m, 0), 0);
            assert_ptr_equal(m.b, table);
            hive__idmap_free(&m);
        }
    }
    hive__idmap_t e = {0};
    assert_int_equal(hive__idmap_reserve(&e, 0), 0);
    assert_null(e.b); /* nothing asked, nothing allocated */
}

/* adopt moves an emptied table only: never a table with entries, never
 * over a table the receiver has. */
static void adopt_moves_only_an_empty_table(void **state)
{
    hive__idmap_t a = {0}, b = {0};
    assert_false(hive__idmap_adopt(&b, &a)); /* nothing to move */
    assert_int_equal(hive__idmap_put(&a, 7, 1), 0);
    assert_false(hive__idmap_adopt(&b, &a)); /* a still holds 7 */
    assert_true(hive__idmap_del(&a, 7, NULL));
    const void *table = a.b;
    assert_true(hive__idmap_adopt(&b, &a));
    assert_null(a.b);
    assert_ptr_equal(b.b, table);
    assert_int_equal(hive__idmap_put(&b, 9, 2), 0);
    assert_ptr_equal(b.b, table); /* used as is */
    assert_int_equal(hive__idmap_put(&a, 8, 1), 0);
    assert_true(hive__idmap_del(&a, 8, NULL));
    assert_false(hive__idmap_adopt(&b, &a)); /* b has a table */
    assert_true(hive__idmap_get(&b, 9, NULL));
    hive__idmap_free(&a);
    hive__idmap_free(&b);
}

static void random_churn_matches_a_model(void **state)
{
    enum { KEYS = 24 };
    uint64_t x = 88172645463325252ull;
    uint64_t key[KEYS], model[KEYS] = {0}; /* model: 0 = absent */
    for (int i = 0; i < KEYS; i++)
        key[i] = xorshift(&x) | 1; /* random ids: they share home slots */
    long present = 0;
    hive__idmap_t m = {0};
    for (int i = 0; i < 200000; i++) {
        uint64_t r = xorshift(&x);
        int j = (int)(r % KEYS);
        if ((r >> 40) % 3 == 0) {
            uint64_t got = 0;
            assert_int_equal(hive__idmap_del(&m, key[j], &got), model[j] != 0);
            assert_int_equal(got, model[j]);
            present -= model[j] != 0;
            model[j] = 0;
        } else {
            uint64_t v = 1 + (r >> 20) % 1000;
            assert_int_equal(hive__idmap_put(&m, key[j], v), 0);
            present += model[j] == 0;
            model[j] = v;
        }
        assert_int_equal(hive__idmap_count(&m), present);
    }
    for (int j = 0; j < KEYS; j++) {
        uint64_t v = 0;
        assert_int_equal(hive__idmap_get(&m, key[j], &v), model[j] != 0);
        assert_int_equal(v, model[j]);
    }
    hive__idmap_free(&m);
}

enum { T_GO = 1, T_DONE };
static hive_pid_t me;

static void unlinker(void *arg)
{
    hive_pid_t partner = *(hive_pid_t *)arg;
    if (hive_link(partner) != 0 || hive_link(HIVE_PID_NONE) != -EINVAL)
        return;
    hive_ref_t ref;
    if (hive_monitor(partner, &ref) != 0)
        return;
    for (int i = 0; i < 100; i++) {
        hive_unlink(HIVE_PID_NONE);
        hive_unlink((hive_pid_t)UINT64_MAX);
        hive_demonitor(0, 0);
        hive_demonitor(UINT64_MAX, HIVE_DEMONITOR_FLUSH);
    }
    hive_send(me, T_DONE, NULL, 0);
    hive_msg_t *m;
    hive_receive(HIVE_INFINITY, &m); /* the partner's exit ends us (link) */
}

static void partner_fn(void *arg)
{
    hive_msg_t *m;
    if (hive_receive_tag(T_GO, HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
    hive_exit(hive_reason_user(7, "partner"));
}

static void unlinking_none_leaves_real_links_working(void **state)
{
    assert_int_equal(rt_start(2, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    hive_pid_t partner, u;
    assert_int_equal(hive_spawn(partner_fn, NULL, &partner), 0);
    hive_ref_t ref;
    hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &ref};
    assert_int_equal(hive_spawn_opts(unlinker, &partner, &o, &u), 0);
    hive_msg_t *m;
    assert_int_equal(hive_receive_tag(T_DONE, 10000, &m), 0); /* it did not hang */
    hive_msg_free(m);
    assert_int_equal(hive_send(partner, T_GO, NULL, 0), 0);
    /* The link to the partner survived: the unlinker dies with its reason. */
    assert_int_equal(hive_receive_tag(HIVE_TAG_DOWN, 10000, &m), 0);
    hive_down_info_t d;
    assert_int_equal(hive_down_info(m, &d), 0);
    hive_msg_free(m);
    assert_int_equal(d.pid, u);
    assert_int_equal(d.reason.kind, HIVE_EXIT_USER);
    assert_int_equal(d.reason.code, 7);
    assert_int_equal(hive_thread_detach(), 0);
    assert_int_equal(hive_runtime_stop(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reserved_ids_are_never_keys),
        cmocka_unit_test(growth_and_churn_keep_every_entry),
        cmocka_unit_test(reserve_makes_room_once),
        cmocka_unit_test(adopt_moves_only_an_empty_table),
        cmocka_unit_test(random_churn_matches_a_model),
        cmocka_unit_test(unlinking_none_leaves_real_links_working),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
