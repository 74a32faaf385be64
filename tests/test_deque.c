/* test_deque.c - Chase-Lev deque, single-threaded contract: LIFO for the
 * owner (peek shows what pop takes next), FIFO for steal, growth keeps
 * every item, and the index sweep: for
 * every fill level across a wrap of the circular array a steal takes the
 * oldest and pop the newest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include "sched/deque.h"

#define ITEM(i) ((void *)(uintptr_t)((i) * 2 + 16))
#define INDEX(p) (((uintptr_t)(p) - 16) / 2)

static void empty_deque_pops_and_steals_nothing(void **state)
{
    hive__deque_t d;
    assert_int_equal(hive__deque_init(&d, 4), 0);
    assert_null(hive__deque_pop(&d));
    assert_null(hive__deque_steal(&d));
    assert_null(hive__deque_peek(&d));
    assert_int_equal(hive__deque_size(&d), 0);
    hive__deque_destroy(&d);
}

static void owner_pops_newest_thief_steals_oldest(void **state)
{
    hive__deque_t d;
    assert_int_equal(hive__deque_init(&d, 4), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(hive__deque_push(&d, ITEM(i)), 0);
    assert_ptr_equal(hive__deque_steal(&d), ITEM(0));
    assert_ptr_equal(hive__deque_peek(&d), ITEM(2)); /* what pop takes next */
    assert_ptr_equal(hive__deque_pop(&d), ITEM(2));
    assert_ptr_equal(hive__deque_peek(&d), ITEM(1));
    assert_ptr_equal(hive__deque_pop(&d), ITEM(1));
    assert_null(hive__deque_peek(&d));
    assert_null(hive__deque_pop(&d));
    assert_null(hive__deque_steal(&d));
    hive__deque_destroy(&d);
}

/* Growing from 2 slots to 2^17 keeps every item, in order. */
static void growth_keeps_every_item_in_order(void **state)
{
    hive__deque_t d;
    assert_int_equal(hive__deque_init(&d, 2), 0);
    const int n = 100000;
    for (int i = 0; i < n; i++)
        assert_int_equal(hive__deque_push(&d, ITEM(i)), 0);
    assert_int_equal(hive__deque_size(&d), n);
    for (int i = 0; i < n / 2; i++)
        assert_ptr_equal(hive__deque_steal(&d), ITEM(i));
    for (int i = n - 1; i >= n / 2; i--)
        assert_ptr_equal(hive__deque_pop(&d), ITEM(i));
    assert_null(hive__deque_pop(&d));
    hive__deque_destroy(&d);
}

/* Go's runq sweep: for every start offset (so top and bottom wrap around the
 * 8-slot array) and every fill level 0..8, steals take items oldest first,
 * pops newest first, and together they see each item exactly once. */
static void every_fill_level_across_wraparound(void **state)
{
    hive__deque_t d;
    assert_int_equal(hive__deque_init(&d, 8), 0);
    uintptr_t next = 0;
    for (int offset = 0; offset < 8; offset++) {
        for (int fill = 0; fill <= 8; fill++) {
            for (int steals = 0; steals <= fill; steals++) {
                /* Move the indices: push/pop `offset` items first. */
                for (int i = 0; i < offset; i++)
                    assert_int_equal(hive__deque_push(&d, ITEM(next + i)), 0);
                for (int i = 0; i < offset; i++)
                    assert_non_null(hive__deque_steal(&d));
                uintptr_t base = next + (uintptr_t)offset;
                for (int i = 0; i < fill; i++)
                    assert_int_equal(hive__deque_push(&d, ITEM(base + i)), 0);
                assert_int_equal(hive__deque_size(&d), fill);
                for (int i = 0; i < steals; i++)
                    assert_ptr_equal(hive__deque_steal(&d), ITEM(base + i));
                for (int i = fill - 1; i >= steals; i--)
                    assert_ptr_equal(hive__deque_pop(&d), ITEM(base + i));
                assert_null(hive__deque_pop(&d));
                assert_null(hive__deque_steal(&d));
                next = base + (uintptr_t)fill;
            }
        }
    }
    hive__deque_destroy(&d);
}

int main(void)
{
    rcu_register_thread();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_deque_pops_and_steals_nothing),
        cmocka_unit_test(owner_pops_newest_thief_steals_oldest),
        cmocka_unit_test(growth_keeps_every_item_in_order),
        cmocka_unit_test(every_fill_level_across_wraparound),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    rcu_barrier();
    rcu_unregister_thread();
    return r;
}
