/* fuzz_scenario.c - libFuzzer target: the input drives a random sequence of
 * API calls across several processes, and invariants are checked after
 * each step.
 *
 * The runtime (2 workers) is started by the first input and stopped and
 * started again after every 16th (a start and stop cost ~50 ms, which
 * would make them most of the fuzzing time). The fuzzer's thread is an
 * attached driver; up to NSLOTS agent processes run agent(), which obeys
 * command messages from the driver and acknowledges each. Every input byte
 * pair is one step (op, argument):
 *   spawn an agent (optionally linked to another), send a pointer message
 *   from the driver or from one agent to another, have an agent receive
 *   with a timeout of 0-3 ms, link, unlink, monitor, demonitor, trap exits
 *   on/off, exit (normal or with a reason), kill from the driver, send an
 *   exit signal, register / unregister a name, arm / cancel a timer.
 * Invariants, checked as they happen and after each step:
 *   - each message is delivered at most once (ids are unique per input);
 *   - each monitor fires at most once (one DOWN per ref);
 *   - no process outlives a kill: after hive_kill returns 0 the driver's
 *     DOWN for that process arrives within the deadline and it is dead;
 *   - counts balance at shutdown: with every agent ended, every pointer
 *     message a send accepted was freed exactly once, by the agent that
 *     took it or by its destructor (messages a dead process left unread
 *     are freed after an RCU grace period: at once when the runtime is
 *     stopped, within the deadline otherwise), and no process is left
 *     (hive_process_count() back to the driver alone).
 * A broken invariant, or an agent that does not answer within the deadline,
 * aborts (libFuzzer reports a crash; replay.c fails the ctest).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hive/hive.h>

#define NSLOTS 4
#define MAX_IDS 4096
#define MAX_REFS 1024
#define DEADLINE_MS 10000

enum { T_CMD = 1, T_ACK, T_DATA, T_TICK };

enum op {
    OP_SPAWN,
    OP_SEND,
    OP_AGENT_SEND,
    OP_RECEIVE,
    OP_LINK,
    OP_UNLINK,
    OP_MONITOR,
    OP_DEMONITOR,
    OP_TRAP,
    OP_EXIT,
    OP_KILL,
    OP_SEND_EXIT,
    OP_REGISTER,
    OP_UNREGISTER,
    OP_TIMER,
    OP_CANCEL,
    OP_COUNT
};

typedef struct cmd {
    int op;
    int arg;
    hive_pid_t target;
    long id;
} cmd_t;

typedef struct payload {
    long id;
} payload_t;

static _Atomic int delivered[MAX_IDS]; /* per message id: times taken */
static _Atomic int downs[MAX_REFS];    /* per agent monitor: DOWNs seen */
static _Atomic long sent_ok, taken, dtors;
static _Atomic long next_ref_slot;
static hive_pid_t driver;

static void fail(const char *what, long a, long b)
{
    fprintf(stderr, "fuzz_scenario: invariant broken: %s (%ld, %ld)\n", what, a, b);
    abort();
}

static void payload_dtor(void *p)
{
    atomic_fetch_add(&dtors, 1);
    free(p);
}

static void take_data(hive_msg_t *m)
{
    payload_t *p = hive_msg_take_ptr(m);
    if (!p)
        fail("a data message without its pointer", 0, 0);
    if (p->id < 0 || p->id >= MAX_IDS)
        fail("a message id out of range", p->id, 0);
    if (atomic_fetch_add(&delivered[p->id], 1) != 0)
        fail("a message delivered twice", p->id, 0);
    atomic_fetch_add(&taken, 1);
    free(p);
}

/* Counted as accepted before the call: a process killed while it sends
 * ends inside hive_send_ptr after the message went out (signals act at the
 * next hive call, and the send's own checkpoint is one), so it never sees
 * the 0; a refusal takes the count back. */
static int send_data(hive_pid_t to, long id)
{
    payload_t *p = malloc(sizeof *p);
    p->id = id;
    atomic_fetch_add(&sent_ok, 1);
    int rc = hive_send_ptr(to, T_DATA, p, payload_dtor);
    if (rc != 0) {
        atomic_fetch_sub(&sent_ok, 1);
        free(p);
    }
    return rc;
}

/* Agent-side monitors: ref -> slot in downs[] (small linear table, per agent). */
typedef struct agent_state {
    hive_ref_t refs[64];
    int slots[64];
    bool gone[64]; /* demonitored: no DOWN may come for it */
    int n;
} agent_state_t;

static void note_down(agent_state_t *st, hive_msg_t *m)
{
    hive_down_info_t d;
    if (hive_down_info(m, &d) != 0)
        fail("a DOWN message that does not decode", 0, 0);
    for (int i = 0; i < st->n; i++)
        if (st->refs[i] == d.ref) {
            if (st->gone[i])
                fail("a DOWN after hive_demonitor returned", (long)d.ref, 0);
            if (atomic_fetch_add(&downs[st->slots[i]], 1) != 0)
                fail("a monitor fired twice", (long)d.ref, 0);
            return;
        }
    fail("a DOWN for a ref this process never made", (long)d.ref, 0);
}

static void handle(agent_state_t *st, hive_msg_t *m)
{
    uint64_t tag = hive_msg_tag(m);
    if (tag == T_DATA)
        take_data(m);
    else if (tag == HIVE_TAG_DOWN)
        note_down(st, m);
    hive_msg_free(m); /* EXIT messages, ticks, ... */
}

static void agent(void *arg)
{
    agent_state_t st = {.n = 0};
    hive_msg_t *m;
    for (;;) {
        if (hive_receive(HIVE_INFINITY, &m) != 0)
            continue;
        if (hive_msg_tag(m) != T_CMD) {
            handle(&st, m);
            continue;
        }
        cmd_t c;
        memcpy(&c, hive_msg_data(m), sizeof c);
        hive_msg_free(m);
        int rc = 0;
        switch (c.op) {
        case OP_AGENT_SEND: rc = send_data(c.target, c.id); break;
        case OP_RECEIVE:
            if ((rc = hive_receive_tag(T_DATA, c.arg % 4, &m)) == 0)
                handle(&st, m);
            break;
        case OP_LINK: rc = hive_link(c.target); break;
        case OP_UNLINK: rc = hive_unlink(c.target); break;
        case OP_MONITOR:
            if (st.n < 64) {
                hive_ref_t ref;
                long slot = atomic_fetch_add(&next_ref_slot, 1);
                if (slot < MAX_REFS && (rc = hive_monitor(c.target, &ref)) == 0) {
                    st.gone[st.n] = false;
                    st.refs[st.n] = ref;
                    st.slots[st.n++] = (int)slot;
                }
            }
            break;
        case OP_DEMONITOR:
            if (st.n > 0) {
                int i = c.arg % st.n;
                /* Without FLUSH a DOWN already received as a message may
                 * still sit in the mailbox: only a flush promises none. */
                if ((rc = hive_demonitor(st.refs[i], HIVE_DEMONITOR_FLUSH)) == 0)
                    st.gone[i] = true;
            }
            break;
        case OP_TRAP: rc = hive_trap_exits(c.arg & 1) < 0 ? -1 : 0; break;
        case OP_EXIT:
            hive_exit(c.arg & 1 ? hive_reason_user(c.arg, "fuzz") : hive_reason_normal());
            break;
        case OP_REGISTER: {
            char name[16];
            snprintf(name, sizeof name, "n%d", c.arg % 3);
            rc = hive_register(name, hive_self());
            break;
        }
        default: break;
        }
        if (rc == -ENOMEM ||
            (rc == -EINVAL && c.target != hive_self() && c.target != HIVE_PID_NONE))
            fail("an agent's call failed unexpectedly", c.op, rc);
        hive_send(driver, T_ACK, &c.id, sizeof c.id);
    }
}

/* ---- the driver ----------------------------------------------------------- */

typedef struct slot {
    hive_pid_t pid;
    hive_ref_t ref; /* the driver's monitor */
    bool live;
} slot_t;

static slot_t slots[NSLOTS];
static long next_id;
static hive_timer_ref_t timers[8];

typedef struct match_ctx {
    hive_ref_t ref;
    long ack;
} match_ctx_t;

/* The driver waits either for an ACK with id `ack` or for the DOWN of its
 * monitor `ref`. */
static bool ack_or_down(const hive_msg_t *m, void *p)
{
    match_ctx_t *c = p;
    if (hive_msg_tag(m) == T_ACK) {
        long id;
        memcpy(&id, hive_msg_data(m), sizeof id);
        return id == c->ack;
    }
    hive_down_info_t d;
    return hive_down_info(m, &d) == 0 && d.ref == c->ref;
}

/* Wait for slot s's ACK of `ack` (-1: only its DOWN). False if it died. */
static bool await(int s, long ack)
{
    match_ctx_t c = {.ref = slots[s].ref, .ack = ack};
    for (;;) {
        hive_msg_t *m;
        int rc = hive_receive_match(ack_or_down, &c, DEADLINE_MS, &m);
        if (rc != 0)
            fail(ack < 0 ? "a killed process did not end in time" : "an agent did not answer", s,
                 rc);
        bool down = hive_msg_tag(m) == HIVE_TAG_DOWN;
        hive_msg_free(m);
        if (!down)
            return true;
        slots[s].live = false;
        if (hive_is_alive(slots[s].pid))
            fail("a process is alive after its DOWN", s, 0);
        return false;
    }
}

static void command(int s, int op, int arg, hive_pid_t target)
{
    if (!slots[s].live)
        return;
    cmd_t c = {.op = op, .arg = arg, .target = target, .id = next_id++};
    if (hive_send(slots[s].pid, T_CMD, &c, sizeof c) != 0) {
        await(s, -1); /* it is dying: its DOWN comes */
        return;
    }
    await(s, c.id);
}

static void spawn(int s, int link_to)
{
    if (slots[s].live)
        return;
    hive_spawn_opts_t o = {.worker = -1, .monitor = true, .monitor_ref = &slots[s].ref};
    if (hive_spawn_opts(agent, NULL, &o, &slots[s].pid) != 0)
        fail("spawn failed", s, 0);
    slots[s].live = true;
    if (link_to >= 0 && link_to != s && slots[link_to].live)
        command(s, OP_LINK, 0, slots[link_to].pid);
}

static void kill_slot(int s)
{
    if (!slots[s].live)
        return;
    int rc = hive_kill(slots[s].pid);
    if (rc != 0 && rc != -ESRCH)
        fail("kill failed", s, rc);
    await(s, -1); /* no process outlives a kill */
}

/* Take what the driver's own mailbox holds: the DOWN of an agent that
 * ended (a link cascade, an exit signal), stray ACKs. */
static void drain_driver(void)
{
    hive_msg_t *m;
    while (hive_receive(0, &m) == 0) {
        hive_down_info_t d;
        if (hive_down_info(m, &d) == 0)
            for (int s = 0; s < NSLOTS; s++)
                if (slots[s].live && slots[s].ref == d.ref) {
                    slots[s].live = false;
                    if (hive_is_alive(slots[s].pid))
                        fail("a process is alive after its DOWN", s, 0);
                }
        hive_msg_free(m);
    }
}

static void step(uint8_t opb, uint8_t arg)
{
    int op = opb % OP_COUNT;
    int s = (opb / OP_COUNT) % NSLOTS;
    int t = arg % NSLOTS;
    if (getenv("HIVE_FUZZ_TRACE")) /* which step hangs or fails */
        fprintf(stderr, "step op %d slot %d (%s) arg %d\n", op, s,
                slots[s].live ? "live" : "dead", arg);
    hive_pid_t target = slots[t].pid; /* may be dead or never set: that is fine */
    switch (op) {
    case OP_SPAWN: spawn(s, arg & 4 ? t : -1); break;
    case OP_SEND:
        if (next_id < MAX_IDS)
            send_data(slots[s].pid, next_id++);
        break;
    case OP_AGENT_SEND:
        if (next_id < MAX_IDS - 1)
            command(s, op, arg, target);
        break;
    case OP_KILL: kill_slot(s); break;
    case OP_SEND_EXIT: {
        hive_reason_t r = arg & 1 ? hive_reason_user(arg, "fuzz") : hive_reason_normal();
        if (slots[s].live && hive_send_exit(slots[s].pid, r) == 0 && (arg & 1)) {
            /* An abnormal exit signal: it ends, or (trapping) gets an EXIT
             * message. Either way it must still answer or end. */
            command(s, OP_TRAP, 1, 0);
        }
        break;
    }
    case OP_UNREGISTER: {
        char name[16];
        snprintf(name, sizeof name, "n%d", arg % 3);
        hive_unregister(name);
        break;
    }
    case OP_TIMER: {
        int rc = hive_send_after(slots[s].pid, arg % 4, T_TICK, &arg, sizeof arg, &timers[arg % 8]);
        if (rc != 0 && rc != -ESRCH)
            fail("send_after failed", s, rc);
        break;
    }
    case OP_CANCEL: hive_cancel_timer(timers[arg % 8]); break;
    default: command(s, op, arg, target); break;
    }
    drain_driver();
}

static void reset(void)
{
    memset(slots, 0, sizeof slots);
    memset(timers, 0, sizeof timers);
    next_id = 0;
    for (int i = 0; i < MAX_IDS; i++)
        atomic_store(&delivered[i], 0);
    for (int i = 0; i < MAX_REFS; i++)
        atomic_store(&downs[i], 0);
    atomic_store(&sent_ok, 0);
    atomic_store(&taken, 0);
    atomic_store(&dtors, 0);
    atomic_store(&next_ref_slot, 0);
}

static bool running;
static long inputs;

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256)
        size = 256; /* 128 steps: enough to combine everything */
    reset();
    if (!running) {
        hive_config_t cfg;
        hive_config_init(&cfg);
        cfg.workers = 2;
        if (hive_runtime_start(&cfg, NULL) != 0)
            fail("runtime start", 0, 0);
        running = true;
    }
    if (hive_thread_attach(&driver) != 0)
        fail("attach", 0, 0);
    for (size_t i = 0; i + 1 < size; i += 2)
        step(data[i], data[i + 1]);
    /* Shutdown: end every agent, then the counts must balance. */
    for (int s = 0; s < NSLOTS; s++)
        kill_slot(s);
    drain_driver();
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (hive_process_count() != 1) { /* a process is counted until its end completes */
        if (ms_since(&t0) > DEADLINE_MS)
            fail("processes left after every agent ended", hive_process_count(), 1);
        sched_yield();
    }
    for (int i = 0; i < 8; i++)
        hive_cancel_timer(timers[i]);
    hive_thread_detach();
    if (++inputs % 16 == 0) {
        if (hive_runtime_stop() != 0)
            fail("runtime stop", 0, 0);
        running = false;
    }
    /* Unread messages of dead processes go after a grace period. */
    long sent, done;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while ((sent = atomic_load(&sent_ok)) != (done = atomic_load(&taken) + atomic_load(&dtors))) {
        if (!running || ms_since(&t0) > DEADLINE_MS)
            fail("messages accepted != taken + freed unread", sent, done);
        sched_yield();
    }
    return 0;
}
