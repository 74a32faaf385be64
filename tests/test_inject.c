/* test_inject.c - the injection queue: take_all returns what was pushed,
 * oldest first; under 8 producers and 3 takers every node is taken exactly
 * once and each producer's nodes keep their order within a batch. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sched/inject.h"
#include "tests/scale.h"

typedef struct item {
    hive__inject_node_t node;
    int producer;
    long seq;
    _Atomic int taken;
} item_t;

static void take_all_returns_oldest_first(void **state)
{
    hive__inject_t q;
    hive__inject_init(&q);
    item_t it[5];
    assert_true(hive__inject_empty(&q));
    assert_null(hive__inject_take_all(&q));
    for (int i = 0; i < 5; i++) {
        it[i].seq = i;
        hive__inject_push(&q, &it[i].node);
    }
    assert_false(hive__inject_empty(&q));
    int i = 0;
    for (hive__inject_node_t *n = hive__inject_take_all(&q); n; n = n->next, i++)
        assert_ptr_equal(n, &it[i].node);
    assert_int_equal(i, 5);
    assert_true(hive__inject_empty(&q));
}

#define PRODUCERS 8
#define TAKERS 3
static hive__inject_t q;
static item_t *items;
static long per_producer;
static _Atomic int producers_left;
static _Atomic long taken_total, out_of_order;

static void *produce(void *arg)
{
    int p = (int)(uintptr_t)arg;
    for (long i = 0; i < per_producer; i++) {
        item_t *it = &items[p * per_producer + i];
        it->producer = p;
        it->seq = i;
        hive__inject_push(&q, &it->node);
    }
    atomic_fetch_sub(&producers_left, 1);
    return NULL;
}

static void *take(void *arg)
{
    long last[PRODUCERS];
    for (;;) {
        bool finished = atomic_load(&producers_left) == 0;
        hive__inject_node_t *n = hive__inject_take_all(&q);
        if (!n && finished)
            break;
        for (int p = 0; p < PRODUCERS; p++)
            last[p] = -1;
        for (; n; n = n->next) {
            item_t *it = (item_t *)(void *)n;
            atomic_fetch_add(&it->taken, 1);
            atomic_fetch_add(&taken_total, 1);
            if (it->seq <= last[it->producer])
                atomic_fetch_add(&out_of_order, 1);
            last[it->producer] = it->seq;
        }
    }
    return NULL;
}

static void many_producers_and_takers_lose_nothing(void **state)
{
    per_producer = hive_test_scaled(200000);
    items = calloc((size_t)(PRODUCERS * per_producer), sizeof *items);
    assert_non_null(items);
    hive__inject_init(&q);
    atomic_store(&producers_left, PRODUCERS);
    pthread_t pt[PRODUCERS], tt[TAKERS];
    for (int i = 0; i < TAKERS; i++)
        assert_int_equal(pthread_create(&tt[i], NULL, take, NULL), 0);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&pt[i], NULL, produce, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < TAKERS; i++)
        pthread_join(tt[i], NULL);
    long lost = 0, twice = 0;
    for (long i = 0; i < PRODUCERS * per_producer; i++) {
        int t = atomic_load(&items[i].taken);
        lost += t == 0;
        twice += t > 1;
    }
    printf("# %ld nodes: taken %ld, lost %ld, twice %ld, out of order %ld\n",
           PRODUCERS * per_producer, atomic_load(&taken_total), lost, twice,
           atomic_load(&out_of_order));
    assert_int_equal(lost, 0);
    assert_int_equal(twice, 0);
    assert_int_equal(atomic_load(&out_of_order), 0);
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(take_all_returns_oldest_first),
        cmocka_unit_test(many_producers_and_takers_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
