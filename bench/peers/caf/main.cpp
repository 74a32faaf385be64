// main.cpp - hive's benchmark workloads written for CAF 0.17 (C++ Actor Framework).
//
// The same ten workloads as hive-bench (bench/savina.c and the process
// benchmarks), with the same sizes, written the way CAF 0.17 is written:
// event-based actors (stateful_actor where an actor keeps state), atoms as
// message tags, `send`, and a scoped_actor on main's thread collecting the
// run_result (as hive's attached thread does). The scheduler is CAF's default
// (work stealing); only its thread count is set.
//
//   hivebench-caf WORKLOAD REPS [--scheduler.max-threads=N] [other CAF options]
//
// One line per repetition on stdout:
//   WORKLOAD NS_PER_OP OPS ok|FAIL [key=value ...]
// NS_PER_OP is wall time / OPS, where OPS counts what hive's record counts
// (round trips, messages, hops, processes, meetings, pings). Every actor of a
// repetition has ended before the next starts (await_all_actors_done).
#include <caf/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace caf;

using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using inc_atom = atom_constant<atom("inc")>;
using get_atom = atom_constant<atom("get")>;
using count_atom = atom_constant<atom("count")>;
using done_atom = atom_constant<atom("done")>;
using token_atom = atom_constant<atom("token")>;
using next_atom = atom_constant<atom("next")>;
using work_atom = atom_constant<atom("work")>;
using meet_atom = atom_constant<atom("meet")>;
using change_atom = atom_constant<atom("change")>;
using exit_atom = atom_constant<atom("exit")>;
using start_atom = atom_constant<atom("start")>;
using stats_atom = atom_constant<atom("stats")>;
using stop_atom = atom_constant<atom("stop")>;

namespace {

using clk = std::chrono::steady_clock;

struct run_result {
    double ns;
    long ops;
    bool ok;
    std::string extra;
};

double since(clk::time_point t0)
{
    return std::chrono::duration<double, std::nano>(clk::now() - t0).count();
}

// ---- pingpong: 1,000,000 round trips between two actors --------------------

behavior pong_actor(event_based_actor *self)
{
    return {[=](ping_atom, int v) { return std::make_tuple(pong_atom::value, v); }};
}

behavior ping_actor(event_based_actor *self, actor pong, int n, actor sink)
{
    self->send(pong, ping_atom::value, n);
    return {[=](pong_atom, int v) {
        if (v == 1) {
            self->send(sink, done_atom::value);
            self->quit();
        } else {
            self->send(pong, ping_atom::value, v - 1);
        }
    }};
}

run_result pingpong(actor_system &sys, scoped_actor &self)
{
    const int n = 1000000;
    auto pong = sys.spawn(pong_actor);
    auto t0 = clk::now();
    sys.spawn(ping_actor, pong, n, actor{self});
    bool ok = false;
    self->receive([&](done_atom) { ok = true; });
    double ns = since(t0);
    anon_send_exit(pong, exit_reason::user_shutdown);
    return {ns, n, ok, ""};
}

// ---- counting: 10,000,000 messages (each carrying its index) to one actor ---

struct counter_state {
    long count = 0, sum = 0;
};

behavior counter_actor(stateful_actor<counter_state> *self)
{
    return {[=](inc_atom, long i) {
                self->state.count++;
                self->state.sum += i;
            },
            [=](get_atom, actor sink) {
                self->send(sink, count_atom::value, self->state.count, self->state.sum);
                self->quit();
            }};
}

void producer_actor(event_based_actor *self, actor counter, long n, actor sink)
{
    for (long i = 0; i < n; i++)
        self->send(counter, inc_atom::value, i);
    self->send(counter, get_atom::value, sink);
}

run_result counting(actor_system &sys, scoped_actor &self)
{
    const long n = 10000000;
    auto t0 = clk::now();
    auto counter = sys.spawn(counter_actor);
    sys.spawn(producer_actor, counter, n, actor{self});
    long count = -1, sum = -1;
    self->receive([&](count_atom, long c, long s) {
        count = c;
        sum = s;
    });
    return {since(t0), n, count == n && sum == n * (n - 1) / 2, ""};
}

// ---- threadring: 503 actors, 10,000,000 hops -------------------------------

behavior ring_actor(event_based_actor *self, int id, actor sink)
{
    return {[=](next_atom, actor next) {
        self->become([=](token_atom, int k) {
            if (k == 0)
                self->send(sink, done_atom::value, id);
            else
                self->send(next, token_atom::value, k - 1);
        });
    }};
}

run_result threadring(actor_system &sys, scoped_actor &self)
{
    const int procs = 503, hops = 10000000;
    auto t0 = clk::now();
    std::vector<actor> ring;
    for (int i = 0; i < procs; i++)
        ring.push_back(sys.spawn(ring_actor, i, actor{self}));
    for (int i = 0; i < procs; i++)
        self->send(ring[i], next_atom::value, ring[(i + 1) % procs]);
    self->send(ring[0], token_atom::value, hops);
    int last = -1;
    self->receive([&](done_atom, int id) { last = id; });
    double ns = since(t0);
    for (auto &a : ring)
        anon_send_exit(a, exit_reason::user_shutdown);
    return {ns, hops, last == hops % procs, ""};
}

// ---- fjcreate: spawn + exit 1,000,000 actors -------------------------------
// As hive's: an actor spawns them, each bumps a shared counter and ends (an
// actor whose function returns no behavior terminates); the last tells main.

struct fjc_shared {
    std::atomic<long> ran{0};
    long n;
    actor sink;
};

void fjc_child(event_based_actor *self, fjc_shared *f)
{
    if (f->ran.fetch_add(1, std::memory_order_relaxed) + 1 == f->n)
        self->send(f->sink, done_atom::value);
}

void fjc_driver(event_based_actor *self, fjc_shared *f)
{
    for (long i = 0; i < f->n; i++)
        self->spawn(fjc_child, f);
    self->send(f->sink, count_atom::value, f->n);
}

run_result fjcreate(actor_system &sys, scoped_actor &self)
{
    fjc_shared f;
    f.n = 1000000;
    f.sink = actor{self};
    auto t0 = clk::now();
    sys.spawn(fjc_driver, &f);
    self->receive([](count_atom, long) {});
    self->receive([](done_atom) {});
    double ns = since(t0);
    f.sink = nullptr;
    return {ns, f.n, f.ran.load() == f.n, ""};
}

// ---- fjthrput: 60 actors x 100,000 messages --------------------------------

struct fj_state {
    long count = 0;
};

behavior fj_actor(stateful_actor<fj_state> *self, long msgs, actor sink)
{
    return {[=](work_atom) {
        if (++self->state.count == msgs) {
            self->send(sink, done_atom::value, self->state.count);
            self->quit();
        }
    }};
}

void fj_driver(event_based_actor *self, std::vector<actor> actors, long msgs)
{
    for (long i = 0; i < msgs; i++)
        for (auto &a : actors)
            self->send(a, work_atom::value);
}

run_result fjthrput(actor_system &sys, scoped_actor &self)
{
    const int n = 60;
    const long msgs = 100000;
    auto t0 = clk::now();
    std::vector<actor> actors;
    for (int i = 0; i < n; i++)
        actors.push_back(sys.spawn(fj_actor, msgs, actor{self}));
    sys.spawn(fj_driver, actors, msgs);
    long total = 0;
    int i = 0;
    self->receive_for(i, n)([&](done_atom, long c) { total += c; });
    return {since(t0), n * msgs, total == n * msgs, ""};
}

// ---- fib: an actor per call, fib(27) = 196418 ------------------------------

struct sum_state {
    long sum = 0;
    int answers = 0;
};

// Also skynet's node: `fanout` children, each answering with a long.
behavior fib_actor(stateful_actor<sum_state> *self, int n, actor parent)
{
    if (n <= 2) {
        self->send(parent, 1L);
        self->quit();
        return {};
    }
    self->spawn(fib_actor, n - 1, actor{self});
    self->spawn(fib_actor, n - 2, actor{self});
    return {[=](long v) {
        self->state.sum += v;
        if (++self->state.answers == 2) {
            self->send(parent, self->state.sum);
            self->quit();
        }
    }};
}

run_result fib(actor_system &sys, scoped_actor &self)
{
    auto t0 = clk::now();
    sys.spawn(fib_actor, 27, actor{self});
    long r = -1;
    self->receive([&](long v) { r = v; });
    return {since(t0), 2 * 196418 - 1, r == 196418, ""};
}

// ---- chameneos: 100 creatures, 200,000 meetings via a mall -----------------

int complement(int a, int b)
{
    return a == b ? a : 3 - a - b;
}

struct creature_state {
    int colour;
    long meetings = 0;
};

behavior creature_actor(stateful_actor<creature_state> *self, actor mall, int colour)
{
    self->state.colour = colour;
    self->send(mall, meet_atom::value, colour, actor{self});
    return {[=](meet_atom, int other, actor partner) {
                auto &st = self->state;
                st.colour = complement(st.colour, other);
                st.meetings++;
                self->send(partner, change_atom::value, st.colour);
                self->send(mall, meet_atom::value, st.colour, actor{self});
            },
            [=](change_atom, int other) {
                auto &st = self->state;
                st.colour = complement(st.colour, other);
                st.meetings++;
                self->send(mall, meet_atom::value, st.colour, actor{self});
            },
            [=](exit_atom) {
                self->send(mall, count_atom::value, self->state.meetings);
                self->quit();
            }};
}

struct mall_state {
    long left, done = 0, sum = 0;
    int faded = 0;
    actor waiting;
    int waiting_colour = 0;
};

behavior mall_actor(stateful_actor<mall_state> *self, int creatures, long meetings, actor sink)
{
    self->state.left = meetings;
    for (int i = 0; i < creatures; i++)
        self->spawn(creature_actor, actor{self}, i % 3);
    return {[=](meet_atom, int colour, actor who) {
                auto &st = self->state;
                if (st.left == 0) {
                    self->send(who, exit_atom::value);
                } else if (!st.waiting) {
                    st.waiting = who;
                    st.waiting_colour = colour;
                } else {
                    self->send(st.waiting, meet_atom::value, colour, who);
                    st.waiting = nullptr;
                    st.left--;
                    st.done++;
                }
            },
            [=](count_atom, long n) {
                auto &st = self->state;
                st.sum += n;
                if (++st.faded == creatures) {
                    self->send(sink, done_atom::value, st.done, st.sum);
                    self->quit();
                }
            }};
}

run_result chameneos(actor_system &sys, scoped_actor &self)
{
    const int creatures = 100;
    const long meetings = 200000;
    auto t0 = clk::now();
    sys.spawn(mall_actor, creatures, meetings, actor{self});
    long done = -1, sum = -1;
    self->receive([&](done_atom, long d, long s) {
        done = d;
        sum = s;
    });
    return {since(t0), meetings, done == meetings && sum == 2 * meetings, ""};
}

// ---- big: 120 actors x 20,000 pings to random peers ------------------------

struct big_state {
    long sent = 0, pongs = 0, pinged = 0;
    std::minstd_rand rng;
    std::vector<actor> peers;
};

behavior big_actor(stateful_actor<big_state> *self, int id, long m, actor sink)
{
    auto send_ping = [=] {
        auto &st = self->state;
        if (st.sent == m) {
            self->send(sink, done_atom::value);
            return;
        }
        st.sent++;
        auto &peers = st.peers;
        self->send(peers[st.rng() % peers.size()], ping_atom::value, actor{self});
    };
    self->state.rng.seed(static_cast<unsigned>(id + 1));
    return {[=](start_atom, std::vector<actor> peers) {
                self->state.peers = std::move(peers);
                send_ping();
            },
            [=](ping_atom, actor from) {
                self->state.pinged++;
                self->send(from, pong_atom::value);
            },
            [=](pong_atom) {
                self->state.pongs++;
                send_ping();
            },
            [=](exit_atom) {
                auto &st = self->state;
                self->send(sink, stats_atom::value, st.sent, st.pongs, st.pinged);
                st.peers.clear();
                self->quit();
            }};
}

run_result big(actor_system &sys, scoped_actor &self)
{
    const int n = 120;
    const long m = 20000;
    auto t0 = clk::now();
    std::vector<actor> peers;
    for (int i = 0; i < n; i++)
        peers.push_back(sys.spawn(big_actor, i, m, actor{self}));
    for (auto &a : peers)
        self->send(a, start_atom::value, peers);
    int i = 0;
    self->receive_for(i, n)([](done_atom) {});
    for (auto &a : peers)
        self->send(a, exit_atom::value);
    long sent = 0, pongs = 0, pinged = 0;
    i = 0;
    self->receive_for(i, n)([&](stats_atom, long s, long po, long pi) {
        sent += s;
        pongs += po;
        pinged += pi;
    });
    double ns = since(t0);
    peers.clear();
    long want = n * m;
    return {ns, want, sent == want && pongs == want && pinged == want, ""};
}

// ---- skynet: 1,111,111 actors, sum 499999500000 ----------------------------

behavior skynet_actor(stateful_actor<sum_state> *self, long num, long size, long div, actor parent)
{
    if (size == 1) {
        self->send(parent, num);
        self->quit();
        return {};
    }
    long sub = size / div;
    for (long i = 0; i < div; i++)
        self->spawn(skynet_actor, num + i * sub, sub, div, actor{self});
    return {[=](long v) {
        self->state.sum += v;
        if (++self->state.answers == div) {
            self->send(parent, self->state.sum);
            self->quit();
        }
    }};
}

run_result skynet(actor_system &sys, scoped_actor &self)
{
    auto t0 = clk::now();
    sys.spawn(skynet_actor, 0L, 1000000L, 10L, actor{self});
    long sum = -1;
    self->receive([&](long v) { sum = v; });
    return {since(t0), 1111111, sum == 499999500000L, ""};
}

// ---- idle_processes: 1,000,000 actors waiting for a message ----------------
// As hive's: timed = spawn them, wait until every one has run its
// initialisation and waits for a message, then send each a message and wait
// until all have ended; ns per actor. Memory: the resident set growth per
// actor once all wait (the vector of handles is touched before).

long rss_bytes()
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * 4096;
}

struct idle_shared {
    std::atomic<long> ready{0}, left{0};
    long n;
    actor sink;
};

behavior idle_actor(event_based_actor *self, idle_shared *d)
{
    if (d->ready.fetch_add(1, std::memory_order_relaxed) + 1 == d->n)
        self->send(d->sink, start_atom::value);
    return {[=](stop_atom) {
        if (d->left.fetch_sub(1, std::memory_order_relaxed) == 1)
            self->send(d->sink, done_atom::value);
        self->quit();
    }};
}

run_result idle_processes(actor_system &sys, scoped_actor &self)
{
    idle_shared d;
    d.n = 1000000;
    d.left = d.n;
    d.sink = actor{self};
    std::vector<actor> actors(d.n);
    long rss0 = rss_bytes();
    auto t0 = clk::now();
    for (auto &a : actors)
        a = sys.spawn(idle_actor, &d);
    self->receive([](start_atom) {});
    double ns = since(t0);
    long rss1 = rss_bytes();
    t0 = clk::now();
    for (auto &a : actors)
        self->send(a, stop_atom::value);
    self->receive([](done_atom) {});
    ns += since(t0);
    actors.clear();
    d.sink = nullptr;
    return {ns, d.n, true, " bytes_per_process=" + std::to_string((rss1 - rss0) / d.n)};
}

const std::map<std::string, std::function<run_result(actor_system &, scoped_actor &)>> kWorkloads =
    {
        {"pingpong", pingpong},     {"counting", counting},
        {"threadring", threadring}, {"fjcreate", fjcreate},
        {"fjthrput", fjthrput},     {"fib", fib},
        {"chameneos", chameneos},   {"big", big},
        {"skynet", skynet},         {"idle_processes", idle_processes},
};

} // namespace

int main(int argc, char **argv)
{
    if (argc < 3 || !kWorkloads.count(argv[1]) || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: hivebench-caf WORKLOAD REPS [--scheduler.max-threads=N]\n");
        return 2;
    }
    std::string name = argv[1];
    int reps = atoi(argv[2]);
    actor_system_config cfg;
    if (auto err = cfg.parse(argc - 2, argv + 2)) {
        fprintf(stderr, "hivebench-caf: %s\n", to_string(err).c_str());
        return 2;
    }
    if (cfg.cli_helptext_printed)
        return 0;
    actor_system sys{cfg};
    for (int r = 0; r < reps; r++) {
        run_result res;
        {
            scoped_actor self{sys};
            res = kWorkloads.at(name)(sys, self);
        }
        sys.await_all_actors_done();
        printf("%s %.3f %ld %s%s\n", name.c_str(), res.ns / static_cast<double>(res.ops), res.ops,
               res.ok ? "ok" : "FAIL", res.extra.c_str());
        fflush(stdout);
    }
    return 0;
}
