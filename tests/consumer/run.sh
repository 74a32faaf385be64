#!/bin/sh
# run.sh - test_packaging: does an installed hive work for a user?
#
#   run.sh BUILD_DIR [C_COMPILER]
#
# Installs BUILD_DIR (`cmake --install`) into a temporary prefix, then builds
# tests/consumer/main.c against that prefix three ways and runs each binary:
#   1. CMake find_package(hive) + hive::hive           (CMAKE_PREFIX_PATH)
#   2. CMake find_package(hive) + hive::hive_static    (the config re-finds deps)
#   3. cc $(pkg-config --cflags --libs hive)           (PKG_CONFIG_PATH)
# and checks that libhive.so exports nothing but the public hive_* API.
# Every failure names the step; exit 0 only if all pass.
set -eu

build=${1:?usage: run.sh BUILD_DIR [C_COMPILER]}
cc=${2:-cc}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hive-packaging.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=$tmp/prefix
failed=0

fail() {
    echo "FAIL: $*" >&2
    failed=1
}
step() {
    echo "-- $*"
}

step "install $build into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log" >&2
    echo "FAIL: cmake --install" >&2
    exit 1
}

# The library directory is lib/ or lib/<multiarch>/ depending on the prefix
# GNUInstallDirs saw at configure time: find it rather than guess.
lib=$(dirname "$(find "$prefix" -name 'libhive.so' | head -n 1)")
if [ ! -f "$lib/libhive.so" ]; then
    echo "FAIL: no libhive.so installed under $prefix" >&2
    exit 1
fi
pcdir=$(dirname "$(find "$prefix" -name hive.pc | head -n 1)")

# What every consumer binary must print (main.c).
expect="workers>0: yes
stop: 0
ESRCH: no such process"

check_run() { # name binary
    out=$(LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$2" 2>&1) || {
        fail "$1: the consumer exited with $?: $out"
        return
    }
    if [ "$out" != "$expect" ]; then
        fail "$1: unexpected output:
$out
-- expected:
$expect"
        return
    fi
    echo "   $1: ok"
}

cmake_consumer() { # name extra-cmake-args...
    name=$1
    shift
    dir=$tmp/$name
    step "find_package(hive): $name"
    if ! cmake -S "$here" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF "$@" >"$dir.log" 2>&1 ||
        ! cmake --build "$dir" >>"$dir.log" 2>&1; then
        cat "$dir.log" >&2
        fail "$name: configuring or building tests/consumer with find_package(hive) failed"
        return
    fi
    check_run "$name" "$dir/consumer"
}

cmake_consumer shared
cmake_consumer static -DHIVE_CONSUMER_STATIC=ON

step "pkg-config --cflags --libs hive"
if [ -z "$pcdir" ]; then
    fail "pkg-config: no hive.pc installed under $prefix"
elif ! flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs hive 2>&1); then
    fail "pkg-config --cflags --libs hive: $flags"
else
    echo "   flags: $flags"
    # The flags must point into the prefix the package was installed to, not
    # into the prefix the build was configured with.
    case " $flags " in
    *" -I$prefix/"* | *" -I$prefix "*) ;;
    *) fail "pkg-config: hive.pc does not point at the install prefix $prefix (flags: $flags); its prefix must be relocatable (\${pcfiledir})" ;;
    esac
    # shellcheck disable=SC2086
    if "$cc" -std=c17 -Wall -Wextra -Werror -o "$tmp/consumer-pc" "$here/main.c" $flags \
        >"$tmp/pc.log" 2>&1; then
        check_run pkg-config "$tmp/consumer-pc"
    else
        cat "$tmp/pc.log" >&2
        fail "pkg-config: $cc main.c \$(pkg-config --cflags --libs hive) failed"
    fi
fi

# Only the public API leaves libhive.so: hive_* (not the hive__ internals).
# Linker-defined markers (_init, _fini, _edata, _end, __bss_start) and weak
# symbols (w/W/v/V) that some toolchains add are tolerated.
step "exported symbols of $lib/libhive.so"
if ! syms=$(nm -D --defined-only "$lib/libhive.so"); then
    fail "nm -D failed on $lib/libhive.so"
else
    extra=$(printf '%s\n' "$syms" | awk '
        NF < 3 { next }
        $2 ~ /^[wWvV]$/ { next }
        $3 ~ /^(_init|_fini|_edata|_end|__bss_start)$/ { next }
        $3 ~ /^hive_[A-Za-z0-9]/ { next }
        { print "   " $0 }')
    if [ -n "$extra" ]; then
        fail "libhive.so exports symbols outside the public hive_* API (mark them static or drop HIVE_API; assembly needs .hidden):
$extra"
    else
        echo "   $(printf '%s\n' "$syms" | grep -c ' hive_') hive_* symbols, nothing else"
    fi
fi

[ "$failed" -eq 0 ] && echo "test_packaging: all passed"
exit "$failed"
