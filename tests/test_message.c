/* test_message.c - message nodes and the per-worker node cache
 * (mailbox/message.c), on the test's own thread.
 *
 * What it proves:
 *  - a thread that has not attached keeps nothing: its frees go to the
 *    allocator (a foreign thread's cache would be lost when it exits);
 *  - an attached thread reuses a freed node for the next message of the
 *    same class (64, 96 or 128 bytes), newest first, and never for another
 *    class: a 96-byte node is not handed out for a 128-byte message (under
 *    ASan, a node too small for its message would be an overflow report);
 *  - a reused node's header is fresh and its payload the new one, for
 *    every payload size from 0 to past the largest class;
 *  - the cache is bounded (a stream of frees with no allocations holds at
 *    most 256 nodes per class, plus a batch of 64 being filled for the
 *    depot), the depot too (64 batches per class: the rest goes to the
 *    allocator), and detach returns every node, the depot's included;
 *  - a thread whose cache is empty takes its nodes from the depot, where
 *    another thread's overflow went (not from the allocator);
 *  - four one-way streams at once through real mailboxes (each node made
 *    on a sender, freed on its receiver, back to a sender through the
 *    shared depot) never hand out a node twice: every payload arrives
 *    intact and in order, every message arrives, the senders did take
 *    batches from the depot, and nothing is left once all detach (8
 *    threads on 2 cores; under TSan in the sanitizer build);
 *  - the test hook that fails allocations is asked first: a cached node
 *    never hides an injected failure;
 *  - under ASan, a node in the cache is poisoned: reading a freed message
 *    is reported (checked only in ASan builds, in a death-test child).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "mailbox/message.h"
#include "mailbox/mpsc.h"

static hive_msg_t *new_msg(size_t len, unsigned char fill)
{
    unsigned char buf[256];
    memset(buf, fill, len);
    hive_msg_t *m = hive__msg_new_bytes(7, 0, buf, len);
    assert_non_null(m);
    return m;
}

static void unattached_threads_keep_nothing(void **state)
{
    hive_msg_t *m = new_msg(8, 1);
    hive_msg_free(m);
    assert_int_equal(hive__msg_cache_count(), 0);
}

static void nodes_are_reused_within_their_class_only(void **state)
{
    hive__msg_cache_attach();
    hive_msg_t *a = new_msg(8, 1);   /* 64 */
    hive_msg_t *b = new_msg(40, 2);  /* 96 */
    hive_msg_free(a);
    hive_msg_free(b);
    assert_int_equal(hive__msg_cache_count(), 2);
    hive_msg_t *c = new_msg(72, 3);  /* 128: neither */
    assert_ptr_not_equal(c, a);
    assert_ptr_not_equal(c, b);
    hive_msg_t *d = new_msg(33, 4);  /* 89 bytes: the 96 class */
    assert_ptr_equal(d, b);
    hive_msg_t *e = new_msg(0, 5);   /* 56 bytes: the 64 class */
    assert_ptr_equal(e, a);
    assert_int_equal(hive__msg_cache_count(), 0);
    hive_msg_free(c);
    hive_msg_free(d);
    hive_msg_free(e);
    hive__msg_cache_detach();
    assert_int_equal(hive__msg_cache_count(), 0);
}

static void a_reused_node_carries_only_the_new_message(void **state)
{
    hive__msg_cache_attach();
    for (size_t len = 0; len <= 160; len++) {
        hive_msg_t *old = new_msg(len, 0xAA);
        hive_msg_free(old);
        size_t len2 = len > 0 ? len - 1 : 0;
        hive_msg_t *m = new_msg(len2, (unsigned char)len);
        assert_int_equal(hive_msg_tag(m), 7);
        assert_int_equal(hive_msg_size(m), len2);
        const unsigned char *d = hive_msg_data(m);
        for (size_t i = 0; i < len2; i++)
            assert_int_equal(d[i], (unsigned char)len);
        hive_msg_free(m);
    }
    hive__msg_cache_detach();
}

static void the_cache_is_bounded_and_detach_empties_it(void **state)
{
    enum { N = 1000 };
    static hive_msg_t *ms[N];
    for (int i = 0; i < N; i++)
        ms[i] = new_msg(8, 1); /* made before attaching: all from the allocator */
    hive__msg_cache_attach();
    for (int i = 0; i < N; i++)
        hive_msg_free(ms[i]);
#if HIVE_ASAN
    assert_int_equal(hive__msg_cache_count(), 256); /* no depot under ASan */
    assert_int_equal(hive__msg_depot_count(), 0);
#else
    /* 256 in the bin; of the other 744, 11 batches of 64 in the depot and
     * 40 in the batch being filled. */
    assert_int_equal(hive__msg_cache_count(), 256 + 40);
    assert_int_equal(hive__msg_depot_count(), 11 * 64);
#endif
    hive__msg_cache_detach();
    assert_int_equal(hive__msg_cache_count(), 0);
    assert_int_equal(hive__msg_depot_count(), 0);
    hive_msg_free(new_msg(8, 1)); /* detached: not kept */
    assert_int_equal(hive__msg_cache_count(), 0);
}

static void the_depot_is_bounded(void **state)
{
    enum { N = 256 + 64 * 70 };
    static hive_msg_t *ms[N];
    for (int i = 0; i < N; i++)
        ms[i] = new_msg(8, 1);
    hive__msg_cache_attach();
    for (int i = 0; i < N; i++)
        hive_msg_free(ms[i]);
#if HIVE_ASAN
    assert_int_equal(hive__msg_depot_count(), 0);
#else
    assert_int_equal(hive__msg_depot_count(), 64 * 64); /* the other 6 batches: freed */
#endif
    hive__msg_cache_detach();
    assert_int_equal(hive__msg_depot_count(), 0);
}

#if !HIVE_ASAN
/* A thread that frees 256 + 64 nodes: its overflow, one batch, goes to the
 * depot; it stays attached (a detach would empty the depot). */
enum { OVERFLOW = 64 };
static hive_msg_t *overflowed[256 + OVERFLOW];
static pthread_barrier_t overflow_done, taken;

static void *overflow_thread(void *arg)
{
    (void)arg;
    hive__msg_cache_attach();
    for (int i = 0; i < 256 + OVERFLOW; i++)
        hive_msg_free(overflowed[i]);
    pthread_barrier_wait(&overflow_done);
    pthread_barrier_wait(&taken);
    hive__msg_cache_detach();
    return NULL;
}
#endif

static void a_thread_with_an_empty_cache_takes_from_the_depot(void **state)
{
#if HIVE_ASAN
    skip(); /* no depot under ASan */
#else
    for (int i = 0; i < 256 + OVERFLOW; i++)
        overflowed[i] = new_msg(8, 1);
    pthread_barrier_init(&overflow_done, NULL, 2);
    pthread_barrier_init(&taken, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, overflow_thread, NULL), 0);
    pthread_barrier_wait(&overflow_done);
    assert_int_equal(hive__msg_depot_count(), OVERFLOW);

    hive__msg_cache_attach();
    for (int i = 0; i < OVERFLOW; i++) {
        hive_msg_t *m = new_msg(8, 2);
        bool spilled = false; /* one of the nodes the other thread overflowed */
        for (int j = 256; j < 256 + OVERFLOW; j++)
            spilled |= m == overflowed[j];
        assert_true(spilled);
        overflowed[i] = m; /* the first 256 are the other thread's now: reuse the slots */
    }
    assert_int_equal(hive__msg_depot_count(), 0);
    for (int i = 0; i < OVERFLOW; i++)
        hive_msg_free(overflowed[i]);
    hive__msg_cache_detach();
    pthread_barrier_wait(&taken);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&overflow_done);
    pthread_barrier_destroy(&taken);
#endif
}

/* ---- the stress: pairs of threads, each a one-way stream ---- */

/* Even threads only send (to the next, odd, thread), odd threads only
 * receive and free: a receiver's cache overflows at once and every batch
 * it fills goes to the depot, shared by all the pairs, from which the
 * senders, whose caches stay empty, take theirs. */
enum { THREADS = 8, PER_SENDER = 300000 };

typedef struct {
    hive__mpsc_t q;
    long received;
    size_t batches_taken;
    pthread_t thread;
    int id;
} stream_end_t;

static stream_end_t ends[THREADS];
static _Atomic int stream_failures;

typedef struct {
    long seq;
    unsigned char fill[32]; /* a payload of 40 bytes: the 96-byte class */
} stream_payload_t;

static void send_all(stream_end_t *me)
{
    stream_end_t *to = &ends[me->id + 1];
    for (long seq = 0; seq < PER_SENDER; seq++) {
        stream_payload_t p = {.seq = seq};
        memset(p.fill, (unsigned char)(seq + me->id), sizeof p.fill);
        hive_msg_t *m = hive__msg_new_bytes(1, 0, &p, sizeof p);
        if (!m) {
            atomic_fetch_add(&stream_failures, 1);
            return;
        }
        hive__mpsc_push(&to->q, &m->node);
        if (seq % 512 == 0)
            sched_yield(); /* let the receiver run on an oversubscribed machine */
    }
}

static void receive_all(stream_end_t *me)
{
    unsigned char from = (unsigned char)(me->id - 1);
    while (me->received < PER_SENDER) {
        hive__mpsc_node_t *n = hive__mpsc_pop(&me->q);
        if (!n) {
            sched_yield();
            continue;
        }
        hive_msg_t *m = hive__msg_of(n);
        const stream_payload_t *p = hive_msg_data(m);
        bool ok = hive_msg_size(m) == sizeof *p && p->seq == me->received;
        for (size_t i = 0; ok && i < sizeof p->fill; i++)
            ok = p->fill[i] == (unsigned char)(me->received + from);
        if (!ok)
            atomic_fetch_add(&stream_failures, 1);
        me->received++;
        hive_msg_free(m);
    }
}

static void *stream_thread(void *arg)
{
    stream_end_t *me = arg;
    hive__msg_cache_attach();
    if (me->id % 2 == 0)
        send_all(me);
    else
        receive_all(me);
    me->batches_taken = hive__msg_depot_taken();
    hive__msg_cache_detach();
    return NULL;
}

static void one_way_streams_recycle_through_the_depot_and_never_share_a_node(void **state)
{
    for (int i = 0; i < THREADS; i++) {
        hive__mpsc_init(&ends[i].q);
        ends[i].id = i;
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&ends[i].thread, NULL, stream_thread, &ends[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(ends[i].thread, NULL);
    assert_int_equal(atomic_load(&stream_failures), 0);
    size_t taken = 0;
    for (int i = 0; i < THREADS; i += 2) {
        assert_int_equal(ends[i + 1].received, PER_SENDER);
        taken += ends[i].batches_taken;
    }
#if !HIVE_ASAN
    /* Most of the senders' nodes came back through the depot (it is
     * bounded, and the senders may run ahead of the receivers: not all). */
    assert_true(taken > 0);
#endif
    assert_int_equal(hive__msg_depot_count(), 0);
}

static bool fail_all(size_t size)
{
    (void)size;
    return true;
}

/* hive__msg_copy (every send's payload copy, a call's reply copy) copies
 * exactly n bytes for every length from 0 to 40 - the inline short paths
 * (overlapping word moves, three bytes for 1..3) and the library past 32 -
 * from any alignment, and writes nothing before or after. */
static void the_payload_copy_is_exact_at_every_length(void **state)
{
    unsigned char src[64], dst[80];
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n <= 40; n++) {
            for (size_t i = 0; i < sizeof src; i++)
                src[i] = (unsigned char)(i * 7 + off + n + 1);
            memset(dst, 0xA5, sizeof dst);
            hive__msg_copy(dst + 8 + off, src + off, n);
            for (size_t i = 0; i < sizeof dst; i++) {
                bool inside = i >= 8 + off && i < 8 + off + n;
                unsigned char want = inside ? src[i - 8] : 0xA5;
                if (dst[i] != want)
                    fail_msg("length %zu, offset %zu: byte %zu is %u, not %u", n, off, i,
                             dst[i], want);
            }
        }
    }
}

static void the_failure_hook_comes_before_the_cache(void **state)
{
    hive__msg_cache_attach();
    hive_msg_free(new_msg(8, 1));
    assert_int_equal(hive__msg_cache_count(), 1);
    hive__alloc_set_fail_hook(fail_all);
    assert_null(hive__msg_new_bytes(7, 0, "x", 1));
    hive__alloc_set_fail_hook(NULL);
    assert_int_equal(hive__msg_cache_count(), 1);
    hive__msg_cache_detach();
}

/* ASan builds: a child reads the tag of a message it freed into its cache;
 * ASan must stop it with an error exit. Elsewhere there is nothing to see. */
static void a_cached_node_is_poisoned_under_asan(void **state)
{
#if HIVE_ASAN
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2); /* the expected report is not the test's output */
        hive__msg_cache_attach();
        hive_msg_t *m = new_msg(8, 1);
        hive_msg_free(m);
        volatile uint64_t tag = *(volatile uint64_t *)&m->tag;
        (void)tag;
        _exit(0); /* not poisoned */
    }
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unattached_threads_keep_nothing),
        cmocka_unit_test(nodes_are_reused_within_their_class_only),
        cmocka_unit_test(a_reused_node_carries_only_the_new_message),
        cmocka_unit_test(the_cache_is_bounded_and_detach_empties_it),
        cmocka_unit_test(the_depot_is_bounded),
        cmocka_unit_test(a_thread_with_an_empty_cache_takes_from_the_depot),
        cmocka_unit_test(one_way_streams_recycle_through_the_depot_and_never_share_a_node),
        cmocka_unit_test(the_payload_copy_is_exact_at_every_length),
        cmocka_unit_test(the_failure_hook_comes_before_the_cache),
        cmocka_unit_test(a_cached_node_is_poisoned_under_asan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
