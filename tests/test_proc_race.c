/* test_proc_race.c - sends racing with the receiver's death, and names
 * racing with their owner's exit. Meant for ASan and TSan as much as for
 * the counts: a sender that touched a freed process, a message freed twice
 * or never, a name left behind by a dead process all show here.
 *
 * 1. Pointer messages to dying receivers. 64 slots each hold the pid of a
 *    short-lived receiver that takes 0-3 messages (some with a 1 ms timeout)
 *    and returns, after spawning its successor into the slot. Meanwhile
 *    sender processes and unattached foreign threads send malloc'd pointers
 *    (hive_send_ptr, dtor counting frees) to whatever pid a random slot
 *    holds. After the senders finish, every receiver is stopped and the
 *    runtime stopped (its rcu_barrier runs the last deferred frees). Every
 *    pointer is freed exactly once, by the one who owns it:
 *      sends that returned 0   == taken and freed by a receiver
 *                                 + freed by the dtor (unread at death);
 *      sends that said -ESRCH  == freed by the sender itself.
 * 2. Names racing with exit. For each of 8 names a chain of processes
 *    registers the name, maybe takes a message, maybe unregisters, and
 *    exits at once, its successor already trying to register (-EBUSY until
 *    the name is released), until the lookers are done. Lookers (processes
 *    and a foreign thread) look the name up and send to the pid found,
 *    pointers and named bytes sends.
 *    Every message a registrant takes must carry its own name (whereis never
 *    names another process); pointer accounting as in 1; at the end no name
 *    is registered and each can be registered again (no ghost entry).
 *
 * 3. (test_proc_race starvation) a process that yields keeps getting turns
 *    while every worker runs chains of processes that spawn their successor
 *    and return.
 *
 * Usage: test_proc_race [sends per sender] [lookups per looker]; scaled by
 * hive_test_scaled. test_proc_race starvation: part 3 only. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <hive/hive.h>

#include "tests/rt.h"
#include "tests/scale.h"

#define WORKERS 4
#define WAIT_S 60.0 /* deadline for anything that should end promptly */

enum { T_PTR = 1, T_BYTES, T_STOP, T_DONE };

static long sends_per_sender = 20000;
static long lookups = 20000; /* per looker */
static hive_pid_t me;

/* ---- payloads and who freed them ------------------------------------- */

#define MAGIC_LIVE 0x6c697665u /* "live" */
#define MAGIC_DEAD 0x64656164u /* "dead" */

typedef struct payload {
    _Atomic uint32_t magic;
    int name; /* part 2: the name it was sent to; else -1 */
} payload_t;

static struct {
    _Atomic long allocated;
    _Atomic long sent_ok, sent_esrch, send_other;
    _Atomic long freed_by_receiver, freed_by_dtor, freed_by_sender;
    _Atomic long freed_twice; /* a payload found not live when freed */
    _Atomic long wrong_name;  /* part 2: a message for another name */
} C;

static payload_t *payload_new(int name)
{
    payload_t *p = malloc(sizeof *p);
    atomic_init(&p->magic, MAGIC_LIVE);
    p->name = name;
    atomic_fetch_add(&C.allocated, 1);
    return p;
}

static void payload_free(payload_t *p, _Atomic long *counter)
{
    if (atomic_exchange(&p->magic, MAGIC_DEAD) != MAGIC_LIVE)
        atomic_fetch_add(&C.freed_twice, 1);
    atomic_fetch_add(counter, 1);
    free(p);
}

static void payload_dtor(void *p)
{
    payload_free(p, &C.freed_by_dtor);
}

/* Send one pointer; on -ESRCH the pointer is still ours: free it. */
static void send_payload(hive_pid_t to, int name)
{
    payload_t *p = payload_new(name);
    int rc = hive_send_ptr(to, T_PTR, p, payload_dtor);
    if (rc == 0) {
        atomic_fetch_add(&C.sent_ok, 1);
        return;
    }
    atomic_fetch_add(rc == -ESRCH ? &C.sent_esrch : &C.send_other, 1);
    payload_free(p, &C.freed_by_sender);
}

/* Take a received pointer message: the receiver owns the payload now. */
static void take_payload(hive_msg_t *m, int my_name)
{
    payload_t *p = hive_msg_take_ptr(m);
    hive_msg_free(m);
    if (!p)
        return;
    if (p->name != my_name)
        atomic_fetch_add(&C.wrong_name, 1);
    payload_free(p, &C.freed_by_receiver);
}

static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static _Atomic uint32_t seed_source = 1;
static uint32_t new_seed(void)
{
    return atomic_fetch_add(&seed_source, 0x9e3779b9u) | 1u;
}

static void reset_counters(void)
{
    memset(&C, 0, sizeof C);
}

static void wait_for_process_count(long n, const char *what)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (hive_process_count() != n) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > (time_t)WAIT_S)
            fail_msg("%s: %ld processes left, want %ld", what, hive_process_count(), n);
        sched_yield();
    }
}

/* Wait for n T_DONE messages from processes that finished their part. */
static void wait_for_done(int n, const char *who)
{
    for (int i = 0; i < n; i++) {
        hive_msg_t *m;
        int rc = hive_receive_tag(T_DONE, (int64_t)(10 * WAIT_S * 1000), &m);
        if (rc != 0)
            fail_msg("%s: %d of %d done: %s", who, i, n, hive_strerror(rc));
        hive_msg_free(m);
    }
}

/* every_path: the race must have taken each way a payload can end. */
static void check_pointer_accounting(bool every_path)
{
    long ok = atomic_load(&C.sent_ok), esrch = atomic_load(&C.sent_esrch);
    long by_recv = atomic_load(&C.freed_by_receiver), by_dtor = atomic_load(&C.freed_by_dtor);
    long by_sender = atomic_load(&C.freed_by_sender);
    printf("# pointers: %ld sent (%ld taken by receivers, %ld freed by dtor), "
           "%ld refused with ESRCH (freed by sender), %ld other errors, %ld freed twice\n",
           ok, by_recv, by_dtor, esrch, atomic_load(&C.send_other), atomic_load(&C.freed_twice));
    assert_int_equal(atomic_load(&C.send_other), 0);
    assert_int_equal(atomic_load(&C.freed_twice), 0);
    assert_int_equal(ok, by_recv + by_dtor);
    assert_int_equal(esrch, by_sender);
    assert_int_equal(atomic_load(&C.allocated), by_recv + by_dtor + by_sender);
    assert_true(by_recv > 0);
    if (every_path) { /* the race really ran */
        assert_true(by_dtor > 0);
        assert_true(esrch > 0);
    }
}

/* ---- 1. pointer messages to receivers that die --------------------------- */

#define SLOTS 64
#define PROC_SENDERS 6
#define THREAD_SENDERS 2

static _Atomic hive_pid_t slots[SLOTS];
static _Atomic bool stopping;
static _Atomic long receivers_spawned;

static void receiver(void *arg)
{
    int slot = (int)(intptr_t)arg;
    /* The successor publishes itself: a later receiver of this slot is
     * always spawned after this store, so the slot never goes back. */
    atomic_store(&slots[slot], hive_self());
    uint32_t s = new_seed();
    int want = (int)(rnd(&s) % 4);
    for (int i = 0; i < want; i++) {
        hive_msg_t *m;
        int64_t timeout = rnd(&s) % 4 == 0 ? 1 : HIVE_INFINITY;
        if (hive_receive(timeout, &m) != 0)
            continue; /* timed out: that counts as one of its turns */
        if (hive_msg_tag(m) == T_STOP) {
            hive_msg_free(m);
            return;
        }
        take_payload(m, -1);
    }
    if (atomic_load(&stopping))
        return;
    if (hive_spawn(receiver, arg, NULL) == 0)
        atomic_fetch_add(&receivers_spawned, 1);
}

static void send_to_random_slots(long n)
{
    uint32_t s = new_seed();
    for (long i = 0; i < n; i++) {
        send_payload(atomic_load(&slots[rnd(&s) % SLOTS]), -1);
        if (rnd(&s) % 64 == 0)
            hive_yield();
    }
}

static void proc_sender(void *arg)
{
    send_to_random_slots(sends_per_sender);
    hive_send(me, T_DONE, NULL, 0);
}

static void *thread_sender(void *arg)
{
    send_to_random_slots(sends_per_sender);
    return NULL;
}

/* End every receiver: stop respawning, then send T_STOP to whatever each
 * slot holds until only the test's thread is left. */
static void stop_receivers(void)
{
    atomic_store(&stopping, true);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (hive_process_count() > 1) {
        for (int i = 0; i < SLOTS; i++)
            hive_send(atomic_load(&slots[i]), T_STOP, NULL, 0); /* -ESRCH is fine */
        for (int spin = 0; spin < 1000 && hive_process_count() > 1; spin++)
            sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > (time_t)WAIT_S)
            fail_msg("receivers did not stop: %ld processes left", hive_process_count());
    }
}

static void sends_racing_with_receiver_death_free_every_pointer_once(void **state)
{
    reset_counters();
    atomic_store(&stopping, false);
    atomic_store(&receivers_spawned, 0);
    assert_int_equal(rt_start(WORKERS, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    for (int i = 0; i < SLOTS; i++) {
        atomic_store(&slots[i], HIVE_PID_NONE); /* until the receiver stores itself */
        assert_int_equal(hive_spawn(receiver, (void *)(intptr_t)i, NULL), 0);
    }
    pthread_t th[THREAD_SENDERS];
    for (int t = 0; t < THREAD_SENDERS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, thread_sender, NULL), 0);
    for (int s = 0; s < PROC_SENDERS; s++)
        assert_int_equal(hive_spawn(proc_sender, NULL, NULL), 0);
    for (int t = 0; t < THREAD_SENDERS; t++)
        pthread_join(th[t], NULL);
    wait_for_done(PROC_SENDERS, "senders");
    stop_receivers();
    assert_int_equal(hive_process_count(), 1);
    assert_int_equal(hive_thread_detach(), 0);
    /* Frees of dead receivers' mailboxes wait for a grace period; stop
     * runs rcu_barrier, so after it every dtor has run. */
    assert_int_equal(hive_runtime_stop(), 0);
    printf("# %d process + %d thread senders x %ld sends, %ld receivers\n", PROC_SENDERS,
           THREAD_SENDERS, sends_per_sender, SLOTS + atomic_load(&receivers_spawned));
    check_pointer_accounting(true);
    assert_int_equal(atomic_load(&C.sent_ok) + atomic_load(&C.sent_esrch),
                     (PROC_SENDERS + THREAD_SENDERS) * sends_per_sender);
}

/* ---- 2. names racing with exit ----------------------------------------- */

#define NAMES 8
#define LOOKERS 4

static _Atomic bool names_stop;
static _Atomic long registrants;
static _Atomic long registered_ok, unregistered_ok, register_refused;
static _Atomic long named_sent, named_received;
static _Atomic int chains_done;

static void name_of(int i, char *buf, size_t len)
{
    snprintf(buf, len, "race-%d", i);
}

static void registrant(void *arg)
{
    int name = (int)(intptr_t)arg;
    char nm[32];
    name_of(name, nm, sizeof nm);
    uint32_t s = new_seed();
    /* The predecessor may still hold the name: -EBUSY until it is gone. */
    int rc;
    while ((rc = hive_register(nm, hive_self())) == -EBUSY)
        hive_yield();
    if (rc == 0)
        atomic_fetch_add(&registered_ok, 1);
    else
        atomic_fetch_add(&register_refused, 1);
    /* The successor starts before we end, on a random worker (through its
     * inbox), so its hive_register races our exit from another core. */
    hive_spawn_opts_t o = {.worker = (int)(rnd(&s) % (uint32_t)hive_runtime_workers())};
    if (!atomic_load(&names_stop) && hive_spawn_opts(registrant, arg, &o, NULL) == 0)
        atomic_fetch_add(&registrants, 1);
    else
        atomic_fetch_add(&chains_done, 1);
    /* Hold the name for a moment (0-3 turns), so lookers find it often. */
    for (int turns = (int)(rnd(&s) % 4); turns > 0; turns--)
        hive_yield();
    uint32_t how = rnd(&s) % 4;
    switch (how) {
    case 0: /* exit at once */ return;
    case 1: /* give the name back first */
        if (hive_unregister(nm) == 0)
            atomic_fetch_add(&unregistered_ok, 1);
        return;
    default: { /* wait up to 1 ms for a message (case 2) or not (3), take
                * what has come, then exit */
        hive_msg_t *m;
        int64_t first_wait = how == 2 ? 1 : 0;
        while (hive_receive(first_wait, &m) == 0) {
            first_wait = 0;
            if (hive_msg_tag(m) == T_PTR) {
                take_payload(m, name);
                continue;
            }
            int got = -1;
            if (hive_msg_size(m) == sizeof got)
                memcpy(&got, hive_msg_data(m), sizeof got);
            if (got != name)
                atomic_fetch_add(&C.wrong_name, 1);
            atomic_fetch_add(&named_received, 1);
            hive_msg_free(m);
        }
        return;
    }
    }
}

static void look_up_and_send(void)
{
    uint32_t s = new_seed();
    char nm[32];
    for (long i = 0; i < lookups; i++) {
        int name = (int)(rnd(&s) % NAMES);
        name_of(name, nm, sizeof nm);
        if (rnd(&s) % 2) {
            hive_pid_t pid = hive_whereis(nm);
            if (pid != HIVE_PID_NONE)
                send_payload(pid, name);
        } else if (hive_send_named(nm, T_BYTES, &name, sizeof name) == 0) {
            atomic_fetch_add(&named_sent, 1);
        }
        if (rnd(&s) % 16 == 0)
            hive_yield();
    }
}

static void looker(void *arg)
{
    look_up_and_send();
    hive_send(me, T_DONE, NULL, 0);
}

static void *looker_thread(void *arg)
{
    look_up_and_send();
    return NULL;
}

static void names_racing_with_exit_are_all_released(void **state)
{
    reset_counters();
    atomic_store(&names_stop, false);
    atomic_store(&registrants, NAMES);
    atomic_store(&registered_ok, 0);
    atomic_store(&unregistered_ok, 0);
    atomic_store(&register_refused, 0);
    atomic_store(&named_sent, 0);
    atomic_store(&named_received, 0);
    atomic_store(&chains_done, 0);
    assert_int_equal(rt_start(WORKERS, 0, 0), 0);
    assert_int_equal(hive_thread_attach(&me), 0);
    for (int i = 0; i < LOOKERS; i++)
        assert_int_equal(hive_spawn(looker, NULL, NULL), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, looker_thread, NULL), 0);
    for (int i = 0; i < NAMES; i++)
        assert_int_equal(hive_spawn(registrant, (void *)(intptr_t)i, NULL), 0);
    pthread_join(th, NULL);
    wait_for_done(LOOKERS, "lookers");
    atomic_store(&names_stop, true);
    wait_for_process_count(1, "registrants");
    assert_int_equal(atomic_load(&chains_done), NAMES);

    char nm[32];
    for (int i = 0; i < NAMES; i++) {
        name_of(i, nm, sizeof nm);
        assert_int_equal(hive_whereis(nm), HIVE_PID_NONE);
        /* No ghost entry holds the name: it can be taken again. */
        assert_int_equal(hive_register(nm, me), 0);
        assert_int_equal(hive_whereis(nm), me);
        assert_int_equal(hive_unregister(nm), 0);
    }
    assert_int_equal(hive_thread_detach(), 0);
    assert_int_equal(hive_runtime_stop(), 0);
    printf("# names: %d lookers x %ld lookups, %ld registrations (%ld refused), %ld unregistered "
           "before exit, "
           "%ld named sends (%ld taken), %ld wrong-name messages\n",
           LOOKERS + 1, lookups, atomic_load(&registered_ok), atomic_load(&register_refused),
           atomic_load(&unregistered_ok), atomic_load(&named_sent), atomic_load(&named_received),
           atomic_load(&C.wrong_name));
    assert_int_equal(atomic_load(&C.wrong_name), 0);
    assert_int_equal(atomic_load(&register_refused), 0);
    /* Every registrant got its name in the end. */
    assert_int_equal(atomic_load(&registered_ok), atomic_load(&registrants));
    assert_true(atomic_load(&named_received) <= atomic_load(&named_sent));
    check_pointer_accounting(false);
}

/* ---- 3. a yielding process is not starved by spawn-and-exit chains ----- */

/* Found while writing part 2: a worker took new tasks from the bottom of
 * its deque (newest first) and gave the top a turn only when the running
 * task yielded or its LIFO slot's streak ended. A process that spawns its
 * successor and returns does neither, so a chain of them on every worker
 * kept a process that once called hive_yield() off the CPU for ever. (A
 * new task now runs from the LIFO slot, whose streak is limited; the
 * every-61-dispatches turn of the oldest is what this test holds.) */

static _Atomic bool chains_stop;
static _Atomic long chain_links, yielder_turns;

static void chain_link(void *arg)
{
    atomic_fetch_add(&chain_links, 1);
    if (!atomic_load(&chains_stop))
        hive_spawn(chain_link, arg, NULL);
}

/* Turns the yielder must get. Without the fix it got 1 in 10 s; with it,
 * one per 61 dispatches (sanitizer builds dispatch far more slowly: under
 * TSan beside the other tests of a ctest -j2 run, 200 turns took up to 46 s
 * of the 60 allowed, so 50 there: still 50 times what starvation gave). */
#if HIVE_ASAN || HIVE_TSAN
#define YIELDER_TURNS 50
#else
#define YIELDER_TURNS 1000
#endif

static void yielder(void *arg)
{
    for (int i = 0; i < YIELDER_TURNS; i++) {
        atomic_fetch_add(&yielder_turns, 1);
        hive_yield();
    }
    atomic_store(&chains_stop, true);
}

static void a_process_that_yields_is_not_starved_by_spawn_and_exit_chains(void **state)
{
    atomic_store(&chains_stop, false);
    atomic_store(&chain_links, 0);
    atomic_store(&yielder_turns, 0);
    assert_int_equal(rt_start(WORKERS, 0, 0), 0);
    assert_int_equal(hive_spawn(yielder, NULL, NULL), 0);
    for (int i = 0; i < 2 * WORKERS; i++)
        assert_int_equal(hive_spawn(chain_link, NULL, NULL), 0);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (!atomic_load(&chains_stop) && t.tv_sec - t0.tv_sec < 60);
    bool finished = atomic_load(&chains_stop);
    atomic_store(&chains_stop, true); /* end the chains either way */
    wait_for_process_count(0, "chains");
    assert_int_equal(hive_runtime_stop(), 0);
    printf("# yielder: %ld of %d turns while %ld chain links ran\n", atomic_load(&yielder_turns),
           YIELDER_TURNS, atomic_load(&chain_links));
    assert_true(finished);
}

/* ---- 4. the process table's slots near max_processes -------------------- */

/* Spawns and exits on every worker and from foreign threads, with the table
 * at its limit most of the time: slots move between the workers' caches and
 * the shared stack, and spawns that find their own cache empty go looking in
 * the others (process.c: slot_alloc, steal_slot). Afterwards the table must
 * hold exactly max_processes again - a slot lost in a cache or handed out
 * twice would show - and no live count may have exceeded the limit. */
enum { SLOT_MAX = 256, SLOT_CHURNERS = 8 };
static _Atomic long slot_spawned, slot_refused, slot_errors, slot_over;
static _Atomic bool slot_stop;

static void slot_child(void *arg)
{
    /* Live some turns, so that the table fills up: a new process runs
     * next on its parent's worker (the LIFO slot), and with 8 turns the
     * live count stayed under the limit (14M spawns, none refused). */
    for (int i = 0; i < 64; i++)
        hive_yield();
    if (hive_process_count() > SLOT_MAX)
        atomic_fetch_add(&slot_over, 1);
}

/* One spawn against the limit, counted by its outcome. */
static void slot_try_spawn(void)
{
    int rc = hive_spawn(slot_child, NULL, NULL);
    if (rc == 0)
        atomic_fetch_add(&slot_spawned, 1);
    else if (rc == -EAGAIN)
        atomic_fetch_add(&slot_refused, 1);
    else
        atomic_fetch_add(&slot_errors, 1);
}

static void slot_churner(void *arg)
{
    while (!atomic_load(&slot_stop)) {
        slot_try_spawn();
        hive_yield();
    }
    hive_send((hive_pid_t)(uintptr_t)arg, T_DONE, NULL, 0);
}

static void *slot_thread(void *arg)
{
    while (!atomic_load(&slot_stop)) {
        slot_try_spawn();
        sched_yield();
    }
    return NULL;
}

static void block_until_stop(void *arg)
{
    hive_msg_t *m;
    if (hive_receive_tag(T_STOP, HIVE_INFINITY, &m) == 0)
        hive_msg_free(m);
}

/* Spawn blockers until refused: how many fit. */
static void slot_fill(void *arg)
{
    static hive_pid_t got[SLOT_MAX];
    long n = 0;
    int rc = 0;
    while (n < SLOT_MAX && (rc = hive_spawn(block_until_stop, NULL, &got[n])) == 0)
        n++;
    long r = rc == -EAGAIN ? n : -1;
    for (long i = 0; i < n; i++)
        hive_send(got[i], T_STOP, NULL, 0);
    hive_send((hive_pid_t)(uintptr_t)arg, T_DONE, &r, sizeof r);
}

static void the_slot_caches_lose_no_slot_under_churn_at_the_limit(void **state)
{
    assert_int_equal(rt_start(WORKERS, SLOT_MAX, 0), 0);
    hive_pid_t self;
    assert_int_equal(hive_thread_attach(&self), 0); /* holds one slot */
    atomic_store(&slot_stop, false);
    atomic_store(&slot_spawned, 0);
    atomic_store(&slot_refused, 0);
    atomic_store(&slot_errors, 0);
    atomic_store(&slot_over, 0);
    for (int i = 0; i < SLOT_CHURNERS; i++)
        assert_int_equal(hive_spawn(slot_churner, (void *)(uintptr_t)self, NULL), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, slot_thread, NULL), 0);
    /* Until the limit was hit often and many slots went round. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long want = hive_test_scaled(200000);
    do {
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((atomic_load(&slot_spawned) < want || atomic_load(&slot_refused) < 1000) &&
             t.tv_sec - t0.tv_sec < 20);
    atomic_store(&slot_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    wait_for_done(SLOT_CHURNERS, "churners");
    wait_for_process_count(1, "children");
    printf("# slots: %ld spawned, %ld refused at the limit of %d\n", atomic_load(&slot_spawned),
           atomic_load(&slot_refused), SLOT_MAX);
    assert_true(atomic_load(&slot_refused) > 0); /* the limit was reached */
    assert_int_equal(atomic_load(&slot_errors), 0); /* only ever 0 or -EAGAIN */
    assert_int_equal(atomic_load(&slot_over), 0);
    /* Every slot is free again, wherever it waits: exactly SLOT_MAX - 1 fit
     * (we hold one), whichever worker fills. */
    for (int round = 0; round < 4; round++) {
        hive_spawn_opts_t o = {.worker = round % WORKERS, .pinned = true};
        assert_int_equal(hive_spawn_opts(slot_fill, (void *)(uintptr_t)self, &o, NULL), 0);
        hive_msg_t *m;
        assert_int_equal(hive_receive_tag(T_DONE, WAIT_S * 1000, &m), 0);
        long r = -2;
        memcpy(&r, hive_msg_data(m), sizeof r);
        hive_msg_free(m);
        assert_int_equal(r, SLOT_MAX - 2); /* the filler holds one too */
        wait_for_process_count(1, "fillers");
    }
    hive_thread_detach();
    assert_int_equal(hive_runtime_stop(), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "starvation") == 0) {
        /* Its own ctest entry (test_spawn_chain_fairness): a scheduler
         * property, kept apart from the race results above. */
        const struct CMUnitTest fairness[] = {
            cmocka_unit_test(a_process_that_yields_is_not_starved_by_spawn_and_exit_chains),
        };
        return cmocka_run_group_tests(fairness, NULL, NULL);
    }
    if (argc > 1)
        sends_per_sender = atol(argv[1]);
    if (argc > 2)
        lookups = atol(argv[2]);
    if (sends_per_sender < 1 || lookups < 1) {
        fprintf(stderr, "usage: %s [sends per sender] [lookups per looker]\n", argv[0]);
        return 2;
    }
    sends_per_sender = hive_test_scaled(sends_per_sender);
    lookups = hive_test_scaled(lookups);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sends_racing_with_receiver_death_free_every_pointer_once),
        cmocka_unit_test(names_racing_with_exit_are_all_released),
        cmocka_unit_test(the_slot_caches_lose_no_slot_under_churn_at_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
