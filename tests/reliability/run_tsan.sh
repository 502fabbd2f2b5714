#!/usr/bin/env bash
# ThreadSanitizer on the C part: configures a build of the plugin with the
# C stub shim (no libtorch, which is not TSan-instrumented), everything
# compiled with -fsanitize=thread, and runs the tests that share one
# context between threads or run callbacks: reliability_concurrency_stub
# (4 threads + a thread of bad inputs, first use of a model from 4 threads)
# and reliability_cancel_loop_stub (callbacks at every stage). Fails on any
# TSan report.
#
#   tests/reliability/run_tsan.sh
# Environment: CUTOUT_TSAN_BUILD (default <repo>/build-tsan),
# CUTOUT_TSAN_JOBS (default: the number of cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${CUTOUT_TSAN_BUILD:-$root/build-tsan}"
jobs="${CUTOUT_TSAN_JOBS:-$(nproc 2>/dev/null || echo 2)}"
testdata="${CUTOUT_TESTDATA:-$root/tests/data/photos}"

echo "== ThreadSanitizer build (stub shim) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCUTOUT_WITH_TORCH=OFF -DCUTOUT_BUILD_EXAMPLES=OFF -DCUTOUT_TESTDATA="$testdata" \
  -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$build" -j "$jobs" --target reliability_concurrency_stub reliability_cancel_loop_stub

echo "== tests under ThreadSanitizer"
export TSAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=66:second_deadlock_stack=1"
export CUTOUT_MODEL_PATH=
(cd "$build" && ctest --output-on-failure \
  -R '^(reliability_concurrency_stub|reliability_cancel_loop_stub)$')
