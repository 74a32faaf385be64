%% dist_gen_server - the Erlang gen_server test_node.c calls from hive.
-module(dist_gen_server).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2]).

start() -> gen_server:start({local, adder}, ?MODULE, 0, []).

init(N) -> {ok, N}.

handle_call({add, A, B}, _From, N) -> {reply, {sum, A + B}, N + 1};
handle_call(count, _From, N) -> {reply, N, N}.

handle_cast(_, N) -> {noreply, N}.
