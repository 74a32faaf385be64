%% hivebench.erl - hive's benchmark workloads written for Erlang/OTP.
%%
%% The same ten workloads as hive-bench (bench/savina.c and the process
%% benchmarks), with the same sizes, written the way Erlang is written:
%% one process per actor, plain `!` and `receive`, no tuning of the VM beyond
%% what the workload needs (+P for a million processes). Each run verifies
%% its own result.
%%
%%   erlc -o OUT hivebench.erl
%%   erl -noshell +S W:W +P 2000000 -pa OUT -run hivebench main WORKLOAD REPS
%%
%% One line per repetition on stdout:
%%   WORKLOAD NS_PER_OP OPS ok|FAIL [key=value ...]
%% NS_PER_OP is wall time / OPS, where OPS counts what hive's record counts
%% (round trips, messages, hops, processes, meetings, pings).
-module(hivebench).
-export([main/1, dist_pong/0]).

-define(IDLE, 1000000).
-define(WORKLOADS, [pingpong, counting, threadring, fjcreate, fjthrput, fib,
                    chameneos, big, skynet, idle_processes, dist_pingpong]).

main([Name, Reps]) ->
    W = list_to_atom(Name),
    case lists:member(W, ?WORKLOADS) of
        true ->
            [report(W, run(W)) || _ <- lists:seq(1, list_to_integer(Reps))],
            halt(0);
        false ->
            io:format(standard_error, "unknown workload ~s~n", [Name]),
            halt(2)
    end;
main(_) ->
    io:format(standard_error, "usage: hivebench WORKLOAD REPS~n", []),
    halt(2).

report(W, {Ns, Ops, Ok, Extra}) ->
    ExtraS = [io_lib:format(" ~s=~p", [K, V]) || {K, V} <- Extra],
    io:format("~s ~.3f ~b ~s~s~n",
              [W, Ns / Ops, Ops, case Ok of true -> "ok"; _ -> "FAIL" end, ExtraS]).

now_ns() -> erlang:monotonic_time(nanosecond).

%% Run Fun in a fresh process (so every workload starts with a small heap
%% and an empty mailbox) and return its result.
in_process(Fun) ->
    Self = self(),
    Ref = make_ref(),
    spawn_link(fun() -> Self ! {Ref, Fun()} end),
    receive {Ref, R} -> R end.

run(W) -> in_process(fun() -> run1(W) end).

%% ---- pingpong: 1,000,000 round trips between two processes ------------
run1(pingpong) ->
    N = 1000000,
    Pong = spawn(fun pong/0),
    T0 = now_ns(),
    ping(Pong, N),
    T = now_ns() - T0,
    Pong ! {ping, self(), stop},
    {T, N, true, []};

%% ---- dist_pingpong: 20,000 round trips to a process on another node ----
%% The second node is a peer on this machine (peer:start, shortnames); this
%% node becomes distributed first if it is not (epmd started if needed).
%% hive's side is bench/bench_dist.c: a hive process <-> an Erlang process.
run1(dist_pingpong) ->
    N = 20000,
    ok = ensure_distributed(),
    Dir = filename:dirname(code:which(?MODULE)),
    {ok, Peer, Node} = peer:start(#{name => peer:random_name(), args => ["-pa", Dir]}),
    Pong = spawn(Node, ?MODULE, dist_pong, []),
    dist_ping(Pong, 100), % the connection is up and warm
    T0 = now_ns(),
    dist_ping(Pong, N),
    T = now_ns() - T0,
    peer:stop(Peer),
    {T, N, true, []};

%% ---- counting: 10,000,000 messages (each carrying its index) to one process
run1(counting) ->
    N = 10000000,
    Self = self(),
    T0 = now_ns(),
    %% off_heap: the producer outruns the counter, and a queue of millions
    %% of on-heap messages makes every GC of the counter walk it.
    Counter = spawn(fun() -> process_flag(message_queue_data, off_heap), counter(0, 0) end),
    spawn(fun() -> produce(Counter, 0, N), Counter ! {get, Self} end),
    {Count, Sum} = receive {count, C, S} -> {C, S} end,
    {now_ns() - T0, N, Count =:= N andalso Sum =:= N * (N - 1) div 2, []};

%% ---- threadring: 503 processes, 10,000,000 hops --------------------------
run1(threadring) ->
    Procs = 503, Hops = 10000000,
    Self = self(),
    T0 = now_ns(),
    First = ring(Procs, Self),
    First ! {token, Hops},
    Last = receive {done, Id} -> Id end,
    T = now_ns() - T0,
    First ! stop,
    {T, Hops, Last =:= Hops rem Procs, []};

%% ---- fjcreate: spawn + exit 1,000,000 processes --------------------------
%% As hive's: a process spawns them, each bumps a shared counter and exits,
%% the last one tells the waiting process (no million-message mailbox).
run1(fjcreate) ->
    N = 1000000,
    Self = self(),
    T0 = now_ns(),
    Ran = atomics:new(1, []),
    spawn(fun() ->
              spawn_n(fun() -> last_of(Ran, N) andalso (Self ! fjc_done) end, N),
              Self ! {fjc_spawned, N}
          end),
    receive {fjc_spawned, N} -> ok end,
    receive fjc_done -> ok end,
    {now_ns() - T0, N, atomics:get(Ran, 1) =:= N, []};

%% ---- fjthrput: 60 processes x 100,000 messages ---------------------------
run1(fjthrput) ->
    Actors = 60, Msgs = 100000,
    Self = self(),
    T0 = now_ns(),
    Pids = [spawn(fun() -> fj_actor(Self, Msgs) end) || _ <- lists:seq(1, Actors)],
    spawn(fun() -> fj_drive(Pids, Msgs) end),
    Total = lists:sum([receive {fj_done, C} -> C end || _ <- Pids]),
    {now_ns() - T0, Actors * Msgs, Total =:= Actors * Msgs, []};

%% ---- fib: a process per call, fib(27) = 196418 ---------------------------
run1(fib) ->
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> fib(27, Self) end),
    R = receive {fib, V} -> V end,
    {now_ns() - T0, 2 * 196418 - 1, R =:= 196418, []};

%% ---- chameneos: 100 creatures, 200,000 meetings via a mall --------------
run1(chameneos) ->
    Creatures = 100, Meetings = 200000,
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> mall_start(Self, Creatures, Meetings) end),
    {Done, Sum} = receive {chameneos, D, S} -> {D, S} end,
    {now_ns() - T0, Meetings, Done =:= Meetings andalso Sum =:= 2 * Meetings, []};

%% ---- big: 120 processes x 20,000 pings to random peers ------------------
run1(big) ->
    N = 120, M = 20000,
    Self = self(),
    T0 = now_ns(),
    Pids = list_to_tuple([spawn(fun() -> big_wait(Self, M, I) end)
                          || I <- lists:seq(1, N)]),
    [P ! {start, Pids} || P <- tuple_to_list(Pids)],
    [receive big_done -> ok end || _ <- lists:seq(1, N)],
    [P ! big_exit || P <- tuple_to_list(Pids)],
    Stats = [receive {big_stats, S, Po, Pi} -> {S, Po, Pi} end || _ <- lists:seq(1, N)],
    T = now_ns() - T0,
    {Sent, Pongs, Pinged} = lists:foldl(fun({A, B, C}, {X, Y, Z}) -> {A + X, B + Y, C + Z} end,
                                        {0, 0, 0}, Stats),
    {T, N * M, Sent =:= N * M andalso Pongs =:= N * M andalso Pinged =:= N * M, []};

%% ---- skynet: 1,111,111 processes, sum 499999500000 -----------------------
run1(skynet) ->
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> skynet(Self, 0, 1000000, 10) end),
    Sum = receive {skynet, S} -> S end,
    {now_ns() - T0, 1111111, Sum =:= 499999500000, []};

%% ---- idle_processes: 1,000,000 processes blocked in receive --------------
%% As hive's: timed = spawn them, wait until every one waits in receive, then
%% send each a message and wait until all have exited; ns per process.
%% Memory: the resident set growth per process once all are blocked (the
%% list of a million pids, 16 bytes each, is part of it).
run1(idle_processes) ->
    N = ?IDLE,
    Self = self(),
    Ready = atomics:new(1, []),
    Left = atomics:new(1, []),
    garbage_collect(),
    Rss0 = rss_bytes(),
    T0 = now_ns(),
    Pids = spawn_idle(N, Self, Ready, Left, []),
    receive idle_ready -> ok end,
    T1 = now_ns(),
    Rss1 = rss_bytes(),
    Alive = erlang:system_info(process_count),
    T2 = now_ns(),
    [P ! stop || P <- Pids],
    receive idle_done -> ok end,
    T = (T1 - T0) + (now_ns() - T2),
    {T, N, length(Pids) =:= N andalso Alive >= N,
     [{bytes_per_process, (Rss1 - Rss0) div N}]}.

%% ---- pieces --------------------------------------------------------------

ensure_distributed() ->
    case node() of
        nonode@nohost ->
            os:cmd("epmd -daemon"),
            Name = list_to_atom("hivebench" ++ os:getpid()),
            {ok, _} = net_kernel:start([Name, shortnames]),
            ok;
        _ -> ok
    end.

dist_pong() ->
    receive {From, I} -> From ! {self(), I}, dist_pong() end.

dist_ping(_, 0) -> ok;
dist_ping(Pong, I) ->
    Pong ! {self(), I},
    receive {Pong, I} -> dist_ping(Pong, I - 1) end.

ping(_, 0) -> ok;
ping(Pong, N) ->
    Pong ! {ping, self()},
    receive pong -> ping(Pong, N - 1) end.

pong() ->
    receive
        {ping, From} -> From ! pong, pong();
        {ping, _, stop} -> ok
    end.

counter(N, Sum) ->
    receive
        {inc, I} -> counter(N + 1, Sum + I);
        {get, From} -> From ! {count, N, Sum}
    end.

produce(_, N, N) -> ok;
produce(Counter, I, N) -> Counter ! {inc, I}, produce(Counter, I + 1, N).

%% Builds the ring 0 -> 1 -> ... -> Procs-1 -> 0; returns process 0.
ring(Procs, Main) ->
    First = spawn(fun() -> receive {next, Next} -> ring_node(0, Next, Main) end end),
    Last = lists:foldl(fun(Id, Next) -> spawn(fun() -> ring_node(Id, Next, Main) end) end,
                       First, lists:seq(Procs - 1, 1, -1)),
    First ! {next, Last},
    First.

ring_node(Id, Next, Main) ->
    receive
        {token, 0} -> Main ! {done, Id}, ring_node(Id, Next, Main);
        {token, K} -> Next ! {token, K - 1}, ring_node(Id, Next, Main);
        stop -> Next ! stop
    end.

spawn_n(_, 0) -> ok;
spawn_n(F, N) -> spawn(F), spawn_n(F, N - 1).

%% true for the caller that brings the counter to N.
last_of(Counter, N) -> atomics:add_get(Counter, 1, 1) =:= N.

fj_actor(Sink, Msgs) -> fj_actor(Sink, Msgs, 0).
fj_actor(Sink, Msgs, Msgs) -> Sink ! {fj_done, Msgs};
fj_actor(Sink, Msgs, C) -> receive work -> fj_actor(Sink, Msgs, C + 1) end.

fj_drive(_, 0) -> ok;
fj_drive(Pids, M) ->
    [P ! work || P <- Pids],
    fj_drive(Pids, M - 1).

fib(N, Parent) when N =< 2 -> Parent ! {fib, 1};
fib(N, Parent) ->
    Self = self(),
    spawn(fun() -> fib(N - 1, Self) end),
    spawn(fun() -> fib(N - 2, Self) end),
    receive {fib, A} -> receive {fib, B} -> Parent ! {fib, A + B} end end.

%% Chameneos: colours 0 red, 1 yellow, 2 blue.
complement(C, C) -> C;
complement(A, B) -> 3 - A - B.

mall_start(Main, Creatures, Meetings) ->
    Mall = self(),
    [spawn(fun() -> creature_start(Mall, I rem 3) end) || I <- lists:seq(0, Creatures - 1)],
    mall(Main, Creatures, Meetings, none, 0, 0, 0).

mall(Main, Creatures, _, _, Done, Creatures, Sum) ->
    Main ! {chameneos, Done, Sum};
mall(Main, Creatures, Left, Waiting, Done, Faded, Sum) ->
    receive
        {count, N} ->
            mall(Main, Creatures, Left, Waiting, Done, Faded + 1, Sum + N);
        {meet, _, From} when Left =:= 0 ->
            From ! exit,
            mall(Main, Creatures, 0, Waiting, Done, Faded, Sum);
        {meet, _, _} = Meet when Waiting =:= none ->
            mall(Main, Creatures, Left, Meet, Done, Faded, Sum);
        {meet, _, _} = Meet ->
            {meet, _, W} = Waiting,
            W ! Meet,
            mall(Main, Creatures, Left - 1, none, Done + 1, Faded, Sum)
    end.

creature_start(Mall, Colour) ->
    Mall ! {meet, Colour, self()},
    creature(Mall, Colour, 0).

creature(Mall, Colour, Meetings) ->
    receive
        {meet, Other, Partner} ->
            C = complement(Colour, Other),
            Partner ! {change, C},
            Mall ! {meet, C, self()},
            creature(Mall, C, Meetings + 1);
        {change, Other} ->
            C = complement(Colour, Other),
            Mall ! {meet, C, self()},
            creature(Mall, C, Meetings + 1);
        exit ->
            Mall ! {count, Meetings}
    end.

big_wait(Sink, M, Id) ->
    receive {start, Pids} ->
        rand:seed(exsss, {Id, Id * 7919, Id * 104729}),
        big_ping(Sink, Pids, M, 0, 0, 0)
    end.

%% Send the next ping, or tell the sink we are done; then keep answering.
big_ping(Sink, Pids, M, Sent, Pongs, Pinged) when Sent =:= M ->
    Sink ! big_done,
    big_loop(Sink, Pids, M, Sent, Pongs, Pinged);
big_ping(Sink, Pids, M, Sent, Pongs, Pinged) ->
    element(rand:uniform(tuple_size(Pids)), Pids) ! {ping, self()},
    big_loop(Sink, Pids, M, Sent + 1, Pongs, Pinged).

big_loop(Sink, Pids, M, Sent, Pongs, Pinged) ->
    receive
        {ping, From} ->
            From ! pong,
            big_loop(Sink, Pids, M, Sent, Pongs, Pinged + 1);
        pong ->
            big_ping(Sink, Pids, M, Sent, Pongs + 1, Pinged);
        big_exit ->
            Sink ! {big_stats, Sent, Pongs, Pinged}
    end.

skynet(Parent, Num, 1, _) ->
    Parent ! {skynet, Num};
skynet(Parent, Num, Size, Div) ->
    Self = self(),
    Sub = Size div Div,
    [spawn(fun() -> skynet(Self, Num + I * Sub, Sub, Div) end) || I <- lists:seq(0, Div - 1)],
    Parent ! {skynet, skynet_sum(Div, 0)}.

skynet_sum(0, Sum) -> Sum;
skynet_sum(N, Sum) -> receive {skynet, S} -> skynet_sum(N - 1, Sum + S) end.

spawn_idle(0, _, _, _, Acc) -> Acc;
spawn_idle(N, Main, Ready, Left, Acc) ->
    P = spawn(fun() -> idle(Main, Ready, Left) end),
    spawn_idle(N - 1, Main, Ready, Left, [P | Acc]).

idle(Main, Ready, Left) ->
    last_of(Ready, ?IDLE) andalso (Main ! idle_ready),
    receive stop -> ok end,
    last_of(Left, ?IDLE) andalso (Main ! idle_done).

rss_bytes() ->
    {ok, Bin} = file:read_file("/proc/self/statm"),
    [_, Rss | _] = string:lexemes(binary_to_list(Bin), " \n"),
    list_to_integer(Rss) * 4096.
