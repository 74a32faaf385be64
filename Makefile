# Makefile - thin wrapper over CMake/ctest. The two commands that matter:
#   make bench   release build + the benchmark suite (table; BENCH_JSON=file for JSON)
#   make test    debug build + the whole default test suite through ctest
# Both install missing Debian packages first when run as root (.ci/deps).
#
#   make bench BENCH=switch,pingpong   run a subset (comma-separated names)
#   make bench BENCH_JSON=out.json     also write one JSON record per benchmark
#   make bench WORKERS=2               worker count for the scheduler benchmarks
#   make test-release                  the suite on the Release (LTO) build
#   make test-asan / test-tsan / test-valgrind   the suite under each tool
#   make stress                        the long stress tests (ctest label stress, then
#                                      label stress_tsan in the TSan build)
#   make fuzz                          each libFuzzer target for FUZZ_SECONDS (60) s
#   make lint / format                 ordering-comment + layering check; clang-format
JOBS ?= $(shell nproc)
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)
BENCH ?=
BENCH_JSON ?=
WORKERS ?=
CMAKE_COMMON = -DHIVE_WERROR=ON

FUZZ_SECONDS ?= 60

.PHONY: all deps test bench test-release test-asan test-tsan test-valgrind stress fuzz lint format clean

all: test

deps:
	@sh .ci/deps

build/debug/CMakeCache.txt: | deps
	cmake -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug $(CMAKE_COMMON)

test: deps build/debug/CMakeCache.txt
	cmake --build build/debug -j$(JOBS)
	ctest --test-dir build/debug -L "unit|example" $(CTEST_FLAGS)

bench: deps
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DHIVE_BUILD_TESTS=OFF $(CMAKE_COMMON) >/dev/null
	cmake --build build/release -j$(JOBS) --target hive-bench
	build/release/bench/hive-bench $(if $(BENCH),--only=$(BENCH)) \
		$(if $(BENCH_JSON),--json=$(abspath $(BENCH_JSON))) $(if $(WORKERS),--workers=$(WORKERS))

# Peers side by side (bench/compare.sh): installs erlang-nox golang-go
# libcaf-dev when root, builds bench/peers/, runs hive and each peer
# interleaved REPS times and prints one table of ratios (BENCH=, BENCH_JSON=,
# WORKERS=, REPS=3, PEERS="erlang go caf", PEER_TIMEOUT=60 apply).
# bench-scaling: fjthrput, fib, skynet at 1..nproc workers and 2 x nproc.
.PHONY: bench-compare bench-scaling
bench-compare:
	BENCH="$(BENCH)" WORKERS="$(WORKERS)" HIVE_CMAKE_FLAGS="$(CMAKE_COMMON)" \
		$(if $(BENCH_JSON),BENCH_JSON="$(abspath $(BENCH_JSON))") \
		$(if $(REPS),REPS="$(REPS)") sh bench/compare.sh compare

bench-scaling:
	BENCH="$(BENCH)" HIVE_CMAKE_FLAGS="$(CMAKE_COMMON)" sh bench/compare.sh scaling

# The suite on the optimised build users link (Release, LTO): the debug run
# cannot see what only optimisation changes (a test's tail call made a loop,
# a storm fast enough to exceed its intensity; both found this way).
test-release: deps
	cmake -S . -B build/release-test -DCMAKE_BUILD_TYPE=Release -DHIVE_BUILD_BENCH=OFF $(CMAKE_COMMON)
	cmake --build build/release-test -j$(JOBS)
	ctest --test-dir build/release-test -L "unit|example" $(CTEST_FLAGS)

test-asan: deps
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DHIVE_ASAN=ON -DHIVE_BUILD_BENCH=OFF $(CMAKE_COMMON)
	cmake --build build/asan -j$(JOBS)
	ctest --test-dir build/asan -L "unit|example" $(CTEST_FLAGS)

test-tsan: deps
	cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DHIVE_TSAN=ON -DHIVE_BUILD_BENCH=OFF $(CMAKE_COMMON)
	cmake --build build/tsan -j$(JOBS)
	ctest --test-dir build/tsan -L "unit|example" $(CTEST_FLAGS)

test-valgrind: deps build/debug/CMakeCache.txt
	cmake -S . -B build/debug >/dev/null
	cmake --build build/debug -j$(JOBS)
	ctest --test-dir build/debug -L valgrind --no-tests=error $(CTEST_FLAGS)

stress: deps build/debug/CMakeCache.txt
	cmake --build build/debug -j$(JOBS)
	ctest --test-dir build/debug -L stress $(CTEST_FLAGS)
	cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DHIVE_TSAN=ON -DHIVE_BUILD_BENCH=OFF $(CMAKE_COMMON)
	cmake --build build/tsan -j$(JOBS)
	ctest --test-dir build/tsan -L stress_tsan $(CTEST_FLAGS)

# Each libFuzzer target (tests/fuzz/fuzz_*.c) for FUZZ_SECONDS, built with
# clang-14 -fsanitize=fuzzer,address,undefined. New inputs go to
# build/fuzz/corpus-<target> (the seed corpus in tests/fuzz/corpus is read,
# not written); a crash leaves build/fuzz/crash-* - copy it into
# tests/fuzz/corpus/<target>/ so the replay test keeps it found.
fuzz:
	@sh .ci/deps fuzz
	CC=clang-14 CXX=clang++-14 cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DHIVE_FUZZ=ON \
		-DHIVE_BUILD_BENCH=OFF -DHIVE_BUILD_EXAMPLES=OFF $(CMAKE_COMMON)
	cmake --build build/fuzz -j$(JOBS) --target fuzz_config fuzz_scenario
	@for t in config scenario; do \
		mkdir -p build/fuzz/corpus-$$t && \
		echo "== fuzz_$$t for $(FUZZ_SECONDS) s (log: build/fuzz/fuzz_$$t.log)" && \
		build/fuzz/tests/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-timeout=30 -artifact_prefix=build/fuzz/ \
			build/fuzz/corpus-$$t tests/fuzz/corpus/$$t >build/fuzz/fuzz_$$t.log 2>&1; \
		rc=$$?; \
		grep -E '^(#[0-9]+.*(DONE|INITED)|stat::(number_of_executed_units|average_exec_per_sec|new_units_added))' \
			build/fuzz/fuzz_$$t.log; \
		if [ $$rc -ne 0 ]; then tail -40 build/fuzz/fuzz_$$t.log; exit 1; fi; \
	done

lint:
	@sh .ci/lint

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')

clean:
	rm -rf build
