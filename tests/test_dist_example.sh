#!/bin/sh
# test_dist_example.sh - examples/dist_counter served to a real Erlang
# node: the README's shell session, run by `erl -eval`. Skips (exit 0 with
# a message) without erl/epmd. Usage: test_dist_example.sh <dist_counter>
set -u
bin=$1
if ! command -v erl >/dev/null 2>&1 || ! command -v epmd >/dev/null 2>&1; then
    echo "test_dist_example: SKIPPED: erl/epmd not installed (Debian: erlang-nox)"
    exit 0
fi
epmd -daemon || exit 1
# `epmd -daemon` returns before the daemon listens: wait until it answers.
i=0
until epmd -names >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "epmd does not answer"; exit 1; }
    sleep 0.05
done
name=ctr$$
"$bin" "$name" democookie 60 >"/tmp/$name.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null' EXIT
host=$(hostname -s)
# Wait (deadline 20 s) until the node is registered with epmd.
i=0
until epmd -names | grep -q "name $name "; do
    i=$((i + 1)); [ $i -gt 200 ] && { echo "node did not start"; cat "/tmp/$name.log"; exit 1; }
    sleep 0.1
done
erl -sname shell$$ -setcookie democookie -noshell -noinput -eval "
    C = {counter, '$name@$host'},
    C ! {self(), incr}, C ! {self(), incr}, C ! {self(), get}, C ! {self(), bogus}, C ! junk,
    R = [receive X -> X after 5000 -> timeout end || _ <- [1,2,3,4]],
    case R of
        [{ok,1},{ok,2},{count,2},{error,badarg}] -> halt(0);
        _ -> io:format(\"got ~p~n\", [R]), halt(1)
    end." || exit 1
echo "test_dist_example: ok"
