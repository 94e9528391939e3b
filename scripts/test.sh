#!/usr/bin/env bash
# Installs every dependency, then builds and runs all tests the way CI does:
#   1. g++ build, warnings as errors: unit tests, integration suites, fuzz-corpus replay (ctest)
#   2. clang++ build, warnings as errors (the code must build with both compilers), and the
#      clang-built shim's exports and dependencies
#   3. ASan+UBSan build: unit tests, integration suites and fuzz replay again
#   4. TSan build: the VDir, session and store unit tests
#   5. formatting (clang-format) and shellcheck of the bash suites
# usage: scripts/test.sh [--quick]   (--quick: step 1 only)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

step() { printf '\n==== %s\n' "$*"; }

step "g++ build (-Werror)"
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_C_COMPILER=gcc -DVRIFT_WERROR=ON >/dev/null
cmake --build build/gcc -j "$jobs"
step "tests (g++ build)"
ctest --test-dir build/gcc --output-on-failure -j "$jobs"
[ "$quick" -eq 1 ] && exit 0

step "clang++ build (-Werror)"
cmake -S . -B build/clang -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_C_COMPILER=clang -DVRIFT_WERROR=ON -DVRIFT_FUZZ=ON >/dev/null
cmake --build build/clang -j "$jobs"
# The clang-built shim, too, exports only the interposed symbols and needs only libc.
bash tests/shim/check_exports.sh build/clang/src/vrift/libvrift_shim.so src/vrift/shim/exports.map

step "ASan+UBSan build and tests"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVRIFT_SANITIZE=ON -DVRIFT_BENCH=OFF >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j "$jobs"

step "TSan: the VDir (lock-free readers vs a writer), the daemon core, the tree check and ingest threads"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVRIFT_TSAN=ON -DVRIFT_BENCH=OFF >/dev/null
cmake --build build/tsan -j "$jobs" --target vrift_unit_tests
TSAN_OPTIONS=halt_on_error=1 build/tsan/tests/vrift_unit_tests --gtest_filter='Vdir*:Session*:Tree*:Store*:SkeletonWatch*:ProjectIngestTest*'

step "format and lint"
files=$(git ls-files '*.cpp' '*.h' | grep -v '^tests/fuzz/corpus/')
clang-format --dry-run --Werror $files
shellcheck -S warning scripts/*.sh tests/integration/*.sh bench/*.sh
echo "all checks passed"
