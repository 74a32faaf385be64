#!/bin/sh
# test_hive_info.sh - the hive-info command: prints the config and a worker ->
# CPU table by default (exit 0); refuses a bad config with exit 2 and a message
# naming the key, the variable or file:line; bad usage exits 64.
# Usage: test_hive_info.sh path/to/hive-info
set -u
HIVE_INFO=${1:?usage: test_hive_info.sh path/to/hive-info}
unset HIVE_CONFIG HIVE_WORKERS HIVE_CPUS HIVE_PIN HIVE_STACK_SIZE HIVE_STEAL_BATCH \
    HIVE_IDLE_SPIN HIVE_MAX_PROCESSES HIVE_MAX_MESSAGE_SIZE HIVE_MAX_TIMERS HIVE_MAX_NAMES \
    HWLOC_SYNTHETIC
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hive-info-test.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat "$TMP/out"
    echo "--- stderr"; cat "$TMP/err"
    failures=$((failures + 1))
}

# expect NAME STATUS PATTERN [STREAM] -- CMD...: CMD exits STATUS and its
# stdout (or stderr) matches the grep -E PATTERN.
expect() {
    name=$1 want=$2 pattern=$3 stream=$4
    shift 5
    "$@" >"$TMP/out" 2>"$TMP/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$name: exit $got, expected $want"
    elif ! grep -Eq -- "$pattern" "$TMP/$stream"; then
        fail "$name: $stream does not match /$pattern/"
    else
        echo "ok: $name"
    fi
}

expect "defaults print the config" 0 '^  workers +[1-9][0-9]* +default' out -- "$HIVE_INFO"
expect "defaults print a worker -> cpu table" 0 '^  0 +[0-9]+ +[0-9]+ ' out -- "$HIVE_INFO"
expect "defaults print the topology" 0 'Core L#0: PU P#' out -- "$HIVE_INFO"
expect "flags beat env" 0 '^  workers +3 +--workers' out -- \
    env HIVE_WORKERS=2 "$HIVE_INFO" --workers 3
expect "env is named as the source" 0 '^  pin +none +env HIVE_PIN' out -- \
    env HIVE_PIN=none "$HIVE_INFO"
expect "--workers 0 is refused naming workers" 2 "config field 'workers'" err -- \
    "$HIVE_INFO" --workers 0
expect "a CPU that does not exist is refused" 2 "HIVE_CPUS='99999': CPU 99999 does not exist" \
    err -- env HIVE_CPUS=99999 "$HIVE_INFO"
expect "a bad --pin is refused" 2 "--pin" err -- "$HIVE_INFO" --pin sideways

printf '[hive]\nworkers = 1\nwrokers = 2\n' >"$TMP/bad.ini"
expect "unknown key in a file names file:line" 2 "$TMP/bad.ini:3: key 'wrokers': unknown key" \
    err -- "$HIVE_INFO" --config "$TMP/bad.ini"
expect "HIVE_CONFIG names the file too" 2 "$TMP/bad.ini:3:" err -- \
    env HIVE_CONFIG="$TMP/bad.ini" "$HIVE_INFO"
printf '[hive]\nsteal_batch = 8\n' >"$TMP/good.ini"
expect "a file's value is shown with file:line" 0 "steal_batch +8 +file $TMP/good.ini:2" out -- \
    "$HIVE_INFO" --config "$TMP/good.ini"
expect "max_timers and its source are shown" 0 '^  max_timers +500 +env HIVE_MAX_TIMERS' out -- \
    env HIVE_MAX_TIMERS=500 "$HIVE_INFO"
expect "max_names defaults to 1048576" 0 '^  max_names +1048576 +default' out -- "$HIVE_INFO"
expect "a bad max_names is refused naming it" 2 "HIVE_MAX_NAMES='0'" err -- \
    env HIVE_MAX_NAMES=0 "$HIVE_INFO"
expect "a missing file is refused" 2 "$TMP/none.ini" err -- "$HIVE_INFO" --config "$TMP/none.ini"

expect "an unknown flag is a usage error" 64 '^usage: hive-info' err -- "$HIVE_INFO" --frobnicate
expect "a flag without its value is a usage error" 64 'needs a value' err -- "$HIVE_INFO" --workers
expect "a stray argument is a usage error" 64 'unexpected argument' err -- "$HIVE_INFO" extra
expect "--help prints usage" 0 '^usage: hive-info' out -- "$HIVE_INFO" --help

if [ "$failures" -ne 0 ]; then
    echo "$failures hive-info check(s) failed"
    exit 1
fi
echo "all hive-info checks passed"
