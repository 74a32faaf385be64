#!/bin/sh
# bench/compare.sh - hive beside Erlang/OTP, Go and CAF on the same workloads
# (`make bench-compare`), and hive's own scaling over worker counts
# (`make bench-scaling`). POSIX sh + awk: nothing beyond a fresh Debian.
#
#   sh bench/compare.sh            compare: install + build the peers, run
#                                  every workload interleaved (hive, erlang,
#                                  go, caf, hive, ...) REPS times, one table
#   sh bench/compare.sh scaling    hive only: fjthrput, fib, skynet at
#                                  1, 2, ... nproc workers and 2 x nproc
#
# Environment (the Makefile passes its variables through):
#   BENCH=a,b         workloads to run (default: all of ALL below; names as hive-bench's;
#                     dist_pingpong needs dist/ built and erl: two nodes on this machine)
#   REPS=3            rounds per workload (each round runs every runtime once)
#   WORKERS=N         workers/schedulers/threads for every runtime (default: nproc)
#   BENCH_JSON=file   also write JSON records (hive-bench's format), one per
#                     workload and runtime ("hive", "erlang", "go", "caf")
#   PEERS="erlang go caf"   which peers to run
#   PEER_TIMEOUT=60   seconds one peer run may take; a timeout is reported and
#                     that peer skips the workload's remaining rounds
#   CAF_FLAGS=...     extra CAF options, e.g. --scheduler.policy=sharing
#   HTTP_DURATION=5 HTTP_CONNS=64 WRK_THREADS=2   the `http` workload: wrk on
#                     loopback against examples/http_server (hive) and
#                     bench/peers/go/http (Go net/http), each server started
#                     fresh per round with WORKERS threads; ns_per_op = 1e9 /
#                     requests per second, plus p50_us and p99_us (wrk's
#                     latency percentiles). Skipped, with a message, without
#                     wrk (Debian package wrk, installed by `.ci/deps peers`).
#   HIVE_CMAKE_FLAGS  extra cmake flags for hive's release build
#   HIVE_BENCH_BIN    a hive-bench to use instead of building one
#   SKIP_DEPS=1       do not run .ci/deps peers
#
# One peer run prints `WORKLOAD NS_PER_OP OPS ok|FAIL [key=value ...]`
# (bench/peers/); hive's side is `hive-bench --only=W --repetitions=1 --json`,
# whose record gives that round's median (benchmarks registered with a fixed
# repetition count run those repetitions each round). A workload's median is
# the median over the rounds, its spread the min..max over every repetition.
# A ratio is peer / hive on the time of one whole run (ns/op x ops), so > 1
# means hive is faster.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

MODE=${1:-compare}
ALL="pingpong counting threadring fjcreate fjthrput fib chameneos big skynet idle_processes http dist_pingpong"
HTTP_DURATION=${HTTP_DURATION:-5}
HTTP_CONNS=${HTTP_CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
REPS=${REPS:-3}
NPROC=$(nproc 2>/dev/null || echo 1)
WORKERS=${WORKERS:-$NPROC}
PEERS=${PEERS:-erlang go caf}
PEER_TIMEOUT=${PEER_TIMEOUT:-60}
CAF_FLAGS=${CAF_FLAGS:-}
BENCH_JSON=${BENCH_JSON:-}
OUT=$ROOT/build/compare
PEERS_OUT=$ROOT/build/peers

die() {
    echo "compare.sh: $*" >&2
    exit 1
}
note() { echo "compare.sh: $*" >&2; }

case "$REPS" in '' | *[!0-9]* | 0) die "REPS must be a positive integer, not '$REPS'" ;; esac
case "$WORKERS" in '' | *[!0-9]* | 0) die "WORKERS must be a positive integer, not '$WORKERS'" ;; esac

# ---- hive's release build -----------------------------------------------
build_hive() {
    if [ -n "${HIVE_BENCH_BIN:-}" ]; then
        HIVE_BENCH=$HIVE_BENCH_BIN
        [ -x "$HIVE_BENCH" ] || die "HIVE_BENCH_BIN=$HIVE_BENCH is not executable"
        return
    fi
    HIVE_BENCH=$ROOT/build/release/bench/hive-bench
    # shellcheck disable=SC2086
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DHIVE_BUILD_TESTS=OFF \
        ${HIVE_CMAKE_FLAGS:-} >/dev/null || die "cmake configure failed"
    cmake --build build/release -j"$NPROC" --target hive-bench http_server >"$OUT/hive-build.log" 2>&1 ||
        { tail -20 "$OUT/hive-build.log" >&2; die "building hive-bench failed (log: $OUT/hive-build.log)"; }
}

# ---- the peers: install, build; PEER_STATE_<peer> = ok or why not --------
set_state() { eval "STATE_$1=\$2"; }
state() { eval "echo \"\${STATE_$1:-not requested}\""; }

build_peers() {
    mkdir -p "$PEERS_OUT"
    if [ "${SKIP_DEPS:-0}" != 1 ]; then
        sh .ci/deps peers >"$OUT/deps.log" 2>&1 ||
            note "installing the peers failed or needs root (see $OUT/deps.log); running what is there"
    fi
    for p in $PEERS; do
        case "$p" in
        erlang)
            if ! command -v erlc >/dev/null || ! command -v erl >/dev/null; then
                set_state erlang "not installed (erlang-nox)"
            elif mkdir -p "$PEERS_OUT/erlang" &&
                erlc -o "$PEERS_OUT/erlang" bench/peers/hivebench.erl >"$OUT/erlang-build.log" 2>&1; then
                set_state erlang ok
            else
                set_state erlang "build failed ($OUT/erlang-build.log)"
            fi
            ;;
        go)
            # Standard library only: no module is fetched (GOPROXY=off).
            if ! command -v go >/dev/null; then
                set_state go "not installed (golang-go)"
            elif mkdir -p "$PEERS_OUT/go" && (cd bench/peers/go &&
                GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$PEERS_OUT/go/cache" GOPATH="$PEERS_OUT/go/path" \
                    go build -o "$PEERS_OUT/go/hivebench-go" . &&
                    go build -o "$PEERS_OUT/go/hivebench-go-http" ./http) >"$OUT/go-build.log" 2>&1; then
                set_state go ok
            else
                set_state go "build failed ($OUT/go-build.log)"
            fi
            ;;
        caf)
            rm -f "$PEERS_OUT/caf/hivebench-caf"
            if cmake -S bench/peers -B "$PEERS_OUT/caf" -DCMAKE_BUILD_TYPE=Release >"$OUT/caf-build.log" 2>&1 &&
                cmake --build "$PEERS_OUT/caf" -j"$NPROC" >>"$OUT/caf-build.log" 2>&1 &&
                [ -x "$PEERS_OUT/caf/hivebench-caf" ]; then
                set_state caf ok
            elif grep -q "CAF not found" "$OUT/caf-build.log"; then
                set_state caf "not installed (libcaf-dev)"
            else
                set_state caf "build failed ($OUT/caf-build.log)"
            fi
            ;;
        *) die "unknown peer '$p' (known: erlang go caf)" ;;
        esac
        note "peer $p: $(state "$p")"
    done
}

# ---- one run of one runtime -> lines in $RESULTS --------------------------
# Result line: workload runtime round ns_per_op min max ops status [key=value...]
# status: ok, FAIL, timeout, error:<rc>.

run_hive() { # workload round
    j=$OUT/hive-$1-$2.json
    rm -f "$j"
    # shellcheck disable=SC2086
    timeout 900 "$HIVE_BENCH" --only="$1" --repetitions=1 --workers="$WORKERS" --json="$j" \
        >"$OUT/hive-$1-$2.out" 2>&1
    rc=$?
    if [ ! -s "$j" ]; then
        echo "$1 hive $2 - - - - error:$rc" >>"$RESULTS"
        tail -5 "$OUT/hive-$1-$2.out" | sed 's/^/    hive: /' >&2
        return
    fi
    awk -v w="$1" -v round="$2" -v params="$OUT/params-$1" '
        function num(key,   m) {
            if (match($0, "\"" key "\": [-0-9.eE+]+")) {
                m = substr($0, RSTART, RLENGTH); sub(/.*: /, "", m); return m
            }
            return "-"
        }
        /"name": / {
            ok = $0 ~ /"ok": true/ ? "ok" : "FAIL"
            extra = ""
            b = num("bytes_per_process"); if (b != "-") extra = " bytes_per_process=" b
            print w, "hive", round, num("ns_per_op"), num("min_ns_per_op"), num("max_ns_per_op"), \
                num("ops"), ok extra
            if (match($0, /"params": ".*", "workers": /)) {
                p = substr($0, RSTART + 11, RLENGTH - 11 - 14)
                print p > params
            }
            wk = num("workers"); if (wk != "-") print wk > (params ".workers")
        }' "$j" >>"$RESULTS"
}

# shellcheck disable=SC2086 # CAF_FLAGS: several options, split on purpose
run_peer() { # peer workload round
    case "$1" in
    erlang) set -- "$@" erl -noshell +S "$WORKERS:$WORKERS" +P 2000000 -pa "$PEERS_OUT/erlang" \
        -run hivebench main "$2" 1 ;;
    go) set -- "$@" env GOMAXPROCS="$WORKERS" "$PEERS_OUT/go/hivebench-go" "$2" 1 ;;
    caf) set -- "$@" "$PEERS_OUT/caf/hivebench-caf" "$2" 1 --scheduler.max-threads="$WORKERS" $CAF_FLAGS ;;
    esac
    peer=$1 w=$2 round=$3
    shift 3
    log=$OUT/$peer-$w-$round.out
    timeout "$PEER_TIMEOUT" "$@" >"$log" 2>&1
    rc=$?
    line=$(grep "^$w " "$log" | tail -1)
    if [ $rc -eq 124 ]; then
        echo "$w $peer $round - - - - timeout" >>"$RESULTS"
    elif [ -z "$line" ]; then
        echo "$w $peer $round - - - - error:$rc" >>"$RESULTS"
        tail -3 "$log" | sed "s/^/    $peer: /" >&2
    else
        # WORKLOAD NS OPS STATUS [extras] -> the result line (min = max = ns)
        echo "$line" | awk -v peer="$peer" -v round="$round" -v rc="$rc" '{
            st = $4; if (rc != 0 && st == "ok") st = "error:" rc
            ex = ""; for (i = 5; i <= NF; i++) ex = ex " " $i
            print $1, peer, round, $2, $2, $2, $3, st ex }' >>"$RESULTS"
    fi
}

# ---- http: wrk against a fresh server per round ------------------------------
# wrk's "50%  1.23ms" -> microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") print n; else if (u == "ms") print n * 1000; else if (u == "s") print n * 1e6
        else print "-" }'
}

run_http() { # runtime round
    rt=$1 round=$2 log=$OUT/http-$1-$2
    case "$rt" in
    hive) set -- env HIVE_WORKERS="$WORKERS" "$ROOT/build/release/examples/http_server" --port 0 ;;
    go) set -- env GOMAXPROCS="$WORKERS" "$PEERS_OUT/go/hivebench-go-http" ;;
    *) echo "http $rt $round - - - - no-http-peer" >>"$RESULTS"; return ;;
    esac
    "$@" >"$log.server" 2>&1 &
    spid=$!
    port="" tries=0
    while [ -z "$port" ] && [ $tries -lt 100 ]; do
        port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log.server" 2>/dev/null | head -1)
        [ -n "$port" ] || { sleep 0.1; tries=$((tries + 1)); }
    done
    if [ -z "$port" ]; then
        kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
        echo "http $rt $round - - - - error:no-server" >>"$RESULTS"
        tail -3 "$log.server" | sed "s/^/    $rt: /" >&2
        return
    fi
    timeout $((HTTP_DURATION + 30)) wrk -t"$WRK_THREADS" -c"$HTTP_CONNS" -d"${HTTP_DURATION}s" \
        --latency "http://127.0.0.1:$port/" >"$log.wrk" 2>&1
    rc=$?
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$log.wrk")
    reqs=$(awk '/requests in/ {print $1}' "$log.wrk")
    p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$log.wrk")")
    p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$log.wrk")")
    bad=$(awk '/Non-2xx|Socket errors/ {print}' "$log.wrk")
    if [ $rc -ne 0 ] || [ -z "$rps" ]; then
        echo "http $rt $round - - - - error:$rc" >>"$RESULTS"
        tail -3 "$log.wrk" | sed "s/^/    wrk: /" >&2
        return
    fi
    st=ok
    [ -z "$bad" ] || { st=FAIL; note "$rt: $bad"; }
    ns=$(awk -v r="$rps" 'BEGIN { printf "%.1f", 1e9 / r }')
    echo "http $rt $round $ns $ns $ns $reqs $st p50_us=$p50 p99_us=$p99 rps=$rps" >>"$RESULTS"
}

# ---- the table and the JSON -----------------------------------------------
report() {
    awk -v peers="$PEERS" -v workloads="$SELECTED" -v reps="$REPS" -v workers="$WORKERS" \
        -v json="$BENCH_JSON" -v out="$OUT" -v states="$PEER_STATES" -v tmo="$PEER_TIMEOUT" \
        -v wrk_t="$WRK_THREADS" -v http_c="$HTTP_CONNS" -v http_d="$HTTP_DURATION" '
    function sort(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    }
    function median(k,   n, i, a) {
        n = cnt[k]; if (n == 0) return ""
        for (i = 1; i <= n; i++) a[i] = val[k, i]
        sort(a, n)
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function xmedian(k,   n, i, a) {
        n = xcnt[k]; if (n == 0) return ""
        for (i = 1; i <= n; i++) a[i] = xval[k, i]
        sort(a, n)
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function emedian(k, name,   kk, n, i, a) {
        kk = k SUBSEP name; n = ecnt[kk]; if (n == 0) return ""
        for (i = 1; i <= n; i++) a[i] = eval_[kk, i]
        sort(a, n)
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(ns) {
        if (ns == "") return "-"
        return ns < 100 ? sprintf("%.1f", ns) : sprintf("%.0f", ns)
    }
    function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    function jnum(v) { return v == "" ? "null" : sprintf("%.6g", v) }
    BEGIN {
        np = split(peers, P, " "); nw = split(workloads, W, " ")
        ns = split(states, S, "|")
        for (i = 1; i <= ns; i++) { split(S[i], kv, "="); why[kv[1]] = substr(S[i], length(kv[1]) + 2) }
    }
    {
        k = $1 SUBSEP $2
        runs[k]++
        if ($8 ~ /^ok/ || $8 == "FAIL") {
            if ($8 == "FAIL") failed[k] = 1
            cnt[k]++; val[k, cnt[k]] = $4
            if (!(k in lo) || $5 < lo[k]) lo[k] = $5
            if (!(k in hi) || $6 > hi[k]) hi[k] = $6
            ops[k] = $7
            for (i = 9; i <= NF; i++) if ($i ~ /^bytes_per_process=/) {
                split($i, kv, "="); xcnt[k]++; xval[k, xcnt[k]] = kv[2]
            } else if ($i ~ /^(p50_us|p99_us|rps)=/) {
                split($i, kv, "="); kk = k SUBSEP kv[1]; ecnt[kk]++; eval_[kk, ecnt[kk]] = kv[2]
            }
        } else if (!(k in err)) err[k] = $8
    }
    END {
        # Header
        hdr = sprintf("%-15s %22s", "workload", "hive ns/op (min..max)")
        for (p = 1; p <= np; p++) hdr = hdr sprintf("  %-30s", P[p] " ns/op (min..max) ratio")
        sub(/ +$/, "", hdr); print hdr
        line = hdr; gsub(/./, "-", line); print line
        nj = 0
        for (i = 1; i <= nw; i++) {
            w = W[i]; hk = w SUBSEP "hive"
            hm = median(hk)
            if (hm == "") cell = (hk in err) ? err[hk] : "-"
            else cell = fmt(hm) " (" fmt(lo[hk]) ".." fmt(hi[hk]) ")" (failed[hk] ? " FAIL" : "")
            row = sprintf("%-15s %22s", w, cell)
            if (hm != "") { jrt[++nj] = "hive"; jw[nj] = w }
            for (p = 1; p <= np; p++) {
                pk = w SUBSEP P[p]; pm = median(pk)
                if (why[P[p]] != "ok") cell = why[P[p]]
                else if (pm == "") cell = (pk in err) ? err[pk] (err[pk] == "timeout" ? ">" tmo "s" : "") : "-"
                else {
                    cell = fmt(pm) " (" fmt(lo[pk]) ".." fmt(hi[pk]) ")"
                    if (hm != "" && hm > 0) {
                        # http: ops is how many requests fit in the duration
                        if (w == "http") r = pm / hm; else r = (pm * ops[pk]) / (hm * ops[hk])
                        ratio[pk] = r
                        cell = cell sprintf(" %.2fx", r)
                        if (ops[pk] != ops[hk] && w != "http") cell = cell "?ops"
                        if (r < 1) behind[++nb] = sprintf("%s: %s %.2fx (hive %s ns/op, %s %s)", w, P[p], r, fmt(hm), P[p], fmt(pm))
                    }
                    if (failed[pk]) cell = cell " FAIL"
                    if (cnt[pk] < runs[pk]) cell = cell " (" cnt[pk] "/" runs[pk] " ran)"
                    jrt[++nj] = P[p]; jw[nj] = w
                }
                row = row sprintf("  %-30s", cell)
            }
            sub(/ +$/, "", row); print row
        }
        print ""
        print "ratio = peer time / hive time for the same run (>1: hive is faster); medians over " reps " rounds,"
        print "runtimes interleaved (hive, " peers ") in each round; " workers " workers/schedulers/threads each."
        # Memory
        mem = ""
        for (i = 1; i <= nw; i++) if (W[i] == "idle_processes") {
            mem = "idle_processes memory, resident bytes per process: hive " xmedian("idle_processes" SUBSEP "hive")
            for (p = 1; p <= np; p++) { v = xmedian("idle_processes" SUBSEP P[p]); if (v != "") mem = mem ", " P[p] " " v }
        }
        if (mem != "") print mem
        for (i = 1; i <= nw; i++) if (W[i] == "http") {
            line = ""
            split("hive " peers, R, " ")
            for (p = 1; p <= np + 1; p++) {
                k = "http" SUBSEP R[p]; v = emedian(k, "rps"); if (v == "") continue
                line = line (line == "" ? "" : "; ") sprintf("%s %.0f req/s, p50 %s us, p99 %s us", R[p], v, emedian(k, "p50_us"), emedian(k, "p99_us"))
            }
            if (line != "") print "http (wrk, loopback, medians): " line
        }
        if (nb) { print ""; print "where hive is not ahead:"; for (i = 1; i <= nb; i++) print "  " behind[i] }

        if (json == "") exit 0
        printf "[\n" > json
        for (j = 1; j <= nj; j++) {
            w = jw[j]; rt = jrt[j]; k = w SUBSEP rt
            params = ""
            if (rt == "hive") { pf = out "/params-" w; if ((getline params < pf) > 0) close(pf); wk = workers
                                wf = pf ".workers"; if ((getline wk < wf) > 0) close(wf) }
            else { params = "bench/peers " rt ", same workload as hive"; wk = workers }
            if (w == "http") params = sprintf("wrk -t%s -c%s -d%ss --latency, loopback, %s", wrk_t, http_c, http_d, rt == "hive" ? "examples/http_server" : "bench/peers/go/http (net/http)")
            m = median(k)
            printf "  {\"name\": %s, \"runtime\": %s, \"params\": %s, \"workers\": %d, \"ns_per_op\": %s, \"min_ns_per_op\": %s, \"max_ns_per_op\": %s, \"ops_per_sec\": %s, \"ops\": %d, \"repetitions\": %d, \"ok\": %s", \
                jstr(w), jstr(rt), (rt == "hive" ? "\"" params "\"" : jstr(params)), wk, jnum(m), jnum(lo[k]), jnum(hi[k]), \
                jnum(m > 0 ? 1e9 / m : ""), ops[k], cnt[k], (failed[k] || cnt[k] < runs[k]) ? "false" : "true" > json
            if (failed[k]) printf ", \"fail\": \"did not verify\"" > json
            else if (cnt[k] < runs[k]) printf ", \"fail\": %s", jstr(err[k] " in " runs[k] - cnt[k] " of " runs[k] " runs") > json
            x = xmedian(k); if (x != "") printf ", \"bytes_per_process\": %s", jnum(x) > json
            x = emedian(k, "p50_us"); if (x != "") printf ", \"p50_us\": %s", jnum(x) > json
            x = emedian(k, "p99_us"); if (x != "") printf ", \"p99_us\": %s", jnum(x) > json
            if (rt != "hive" && (k in ratio)) printf ", \"ratio_vs_hive\": %s", jnum(ratio[k]) > json
            printf "}%s\n", (j < nj ? "," : "") > json
        }
        printf "]\n" > json
        close(json)
        print "compare.sh: wrote " json > "/dev/stderr"
    }' "$RESULTS"
}

# ---- scaling ----------------------------------------------------------------
scaling() {
    set -- 1
    k=2
    while [ $k -le "$NPROC" ]; do
        set -- "$@" $k
        k=$((k + 1))
    done
    set -- "$@" $((2 * NPROC))
    names=${BENCH:-fjthrput,fib,skynet}
    : >"$RESULTS"
    for k in "$@"; do
        note "hive-bench --only=$names --workers=$k"
        j=$OUT/scaling-$k.json
        rm -f "$j"
        timeout 1800 "$HIVE_BENCH" --only="$names" --workers="$k" --json="$j" >"$OUT/scaling-$k.out" 2>&1
        [ -s "$j" ] || { tail -5 "$OUT/scaling-$k.out" >&2; note "no results at $k workers"; continue; }
        awk -v k="$k" '
            /"name": / {
                n = $0; sub(/.*"name": "/, "", n); sub(/".*/, "", n)
                v = "-"; if (match($0, /"ns_per_op": [-0-9.eE+]+/)) { v = substr($0, RSTART, RLENGTH); sub(/.*: /, "", v) }
                wk = k; if (match($0, /"workers": [0-9]+/)) { wk = substr($0, RSTART, RLENGTH); sub(/.*: /, "", wk) }
                ok = $0 ~ /"ok": true/ ? "ok" : "FAIL"
                print n, k, wk, v, ok
            }' "$j" >>"$RESULTS"
    done
    awk -v points="$*" -v nproc="$NPROC" '
        BEGIN { npt = split(points, K, " ") }
        { key = $1 SUBSEP $2; ns[key] = $4; st[key] = $5; wk[key] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++nn] = $1 } }
        END {
            hdr = sprintf("%-10s", "workload")
            for (i = 1; i <= npt; i++) hdr = hdr sprintf("  %22s", K[i] " worker" (K[i] > 1 ? "s" : "") (K[i] > nproc ? " (over)" : ""))
            print hdr; l = hdr; gsub(/./, "-", l); print l
            for (n = 1; n <= nn; n++) {
                w = order[n]; base = ns[w SUBSEP 1]; row = sprintf("%-10s", w)
                for (i = 1; i <= npt; i++) {
                    key = w SUBSEP K[i]
                    if (!(key in ns) || ns[key] == "-") { row = row sprintf("  %22s", "-"); continue }
                    c = sprintf("%.1f ns", ns[key])
                    if (base != "" && base > 0) c = c sprintf(" %.2fx", base / ns[key])
                    if (st[key] != "ok") c = c " FAIL"
                    row = row sprintf("  %22s", c)
                }
                print row
            }
            print ""
            print "ns per operation (median of hive-bench'"'"'s repetitions) and speed-up vs 1 worker;"
            print "this machine has " nproc " CPUs: the last column oversubscribes them (2 workers per CPU)."
        }' "$RESULTS"
}

# ---- main -----------------------------------------------------------------
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"

case "$MODE" in
scaling)
    [ "${SKIP_DEPS:-0}" = 1 ] || sh .ci/deps || die ".ci/deps failed"
    build_hive
    scaling
    exit 0
    ;;
compare) ;;
*) die "usage: compare.sh [compare|scaling]" ;;
esac

SELECTED=$ALL
if [ -n "${BENCH:-}" ]; then
    SELECTED=$(echo "$BENCH" | tr ',' ' ')
    for w in $SELECTED; do
        case " $ALL " in *" $w "*) ;; *) die "unknown workload '$w' (known: $ALL)" ;; esac
    done
fi

build_peers
build_hive
PEER_STATES=""
for p in $PEERS; do PEER_STATES="$PEER_STATES|$p=$(state "$p")"; done

# A workload hive-bench does not have (yet) is reported and skipped.
KNOWN="$("$HIVE_BENCH" --list | cut -f1 | tr '\n' ' ') http"
case " $SELECTED " in
*" http "*)
    if ! command -v wrk >/dev/null; then
        note "wrk is not installed (Debian package wrk; \`.ci/deps peers\` installs it as root): the http workload is skipped"
        SELECTED=$(echo " $SELECTED " | sed 's/ http / /')
    fi ;;
esac
start=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
nsel=$(echo "$SELECTED" | wc -w)
i=0
for w in $SELECTED; do
    i=$((i + 1))
    case " $KNOWN " in
    *" $w "*) have_hive=1 ;;
    *) have_hive=0; note "hive-bench has no '$w' benchmark: hive column empty" ;;
    esac
    skip=""
    r=1
    while [ $r -le "$REPS" ]; do
        printf '[%d/%d] %s round %d/%d:' "$i" "$nsel" "$w" "$r" "$REPS" >&2
        if [ "$w" = http ]; then
            run_http hive "$r"
            printf ' hive %s' "$(tail -1 "$RESULTS" | awk '{print $8 ~ /^ok/ ? sprintf("%.1f", $4) : $8}')" >&2
        elif [ $have_hive = 1 ]; then
            run_hive "$w" "$r"
            printf ' hive %s' "$(tail -1 "$RESULTS" | awk '{print $8 ~ /^ok/ ? sprintf("%.1f", $4) : $8}')" >&2
        fi
        for p in $PEERS; do
            [ "$(state "$p")" = ok ] || continue
            case " $skip " in *" $p "*) continue ;; esac
            if [ "$w" = http ]; then
                [ "$p" = go ] || continue # only Go has an http peer
                run_http "$p" "$r"
            else
                run_peer "$p" "$w" "$r"
            fi
            st=$(tail -1 "$RESULTS" | awk '{print $8}')
            printf ' %s %s' "$p" "$(tail -1 "$RESULTS" | awk '{print $8 ~ /^ok/ ? sprintf("%.1f", $4) : $8}')" >&2
            case "$st" in ok*) ;; *) skip="$skip $p" ;; esac # no more rounds for it
        done
        echo " ($(($(date +%s) - start)) s)" >&2
        r=$((r + 1))
    done
done

echo
echo "hive vs peers on $(uname -m), $NPROC CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //'))," \
    "$(($(date +%s) - start)) s; load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) at the end"
echo "(a load above 0 before the start means other work shares the CPUs: expect noise)"
[ -z "${BENCH_JSON}" ] || case "$BENCH_JSON" in /*) ;; *) BENCH_JSON=$ROOT/$BENCH_JSON ;; esac
report
