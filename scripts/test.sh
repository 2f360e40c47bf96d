#!/usr/bin/env bash
# The whole test suite: installs dependencies, then builds twice (normal,
# and ASan+UBSan) and runs every unit, fuzz-corpus and integration test
# under both. Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/check-banned.sh
jobs=$(nproc)
run() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" "${CTEST_ARGS[@]}")
}
CTEST_ARGS=("$@")
echo "== normal build ==" >&2
run build
echo "== Release build (compile only: -O3 finds other warnings) ==" >&2
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$jobs"
echo "== ASan + UBSan build ==" >&2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run build-asan -DSTOW_SANITIZE=ON
echo "all tests passed in both builds" >&2
