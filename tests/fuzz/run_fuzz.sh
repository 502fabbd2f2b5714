#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, every object with fuzzer-no-link +
# AddressSanitizer + UndefinedBehaviorSanitizer, the C stub shim instead of
# libtorch) and runs each one for a bounded time on a scratch copy of its
# corpus. Fails when a target finds a crash, a leak or a hang; the input is
# left in BUILD/fuzz/artifacts-TARGET/ (add it to tests/fuzz/regressions/TARGET/
# once the bug is fixed).
#
#   tests/fuzz/run_fuzz.sh                  every target, 60 s each (what CI runs)
#   tests/fuzz/run_fuzz.sh 3600 node_tensors   one target for an hour
#   CUTOUT_FUZZ_MERGE=1 tests/fuzz/run_fuzz.sh 600
#        afterwards merges the inputs that add coverage into tests/fuzz/corpus/
#
# Environment: CUTOUT_FUZZ_BUILD (build directory, default <repo>/build-fuzz),
# CUTOUT_FUZZ_JOBS (build parallelism, default: the number of cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-60}"
[ "$#" -gt 0 ] && shift
targets=("$@")
[ "${#targets[@]}" -eq 0 ] && targets=(nodes_json node_tensors any_node image_decode)
build="${CUTOUT_FUZZ_BUILD:-$root/build-fuzz}"
jobs="${CUTOUT_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"
fuzz_dir="$root/tests/fuzz"

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
echo "== fuzz build (clang, libFuzzer + ASan + UBSan, stub shim) in $build"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCUTOUT_WITH_TORCH=OFF -DCUTOUT_BUILD_EXAMPLES=OFF -DCUTOUT_FUZZ=ON \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

# Per-target options: the longest input worth trying and a dictionary.
max_len() {
  case "$1" in
    nodes_json) echo 16384 ;;
    node_tensors | any_node) echo 4096 ;;
    image_decode) echo 65536 ;;
  esac
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export CUTOUT_MODEL_PATH=
failed=0
for t in "${targets[@]}"; do
  work="$build/fuzz/corpus-$t"
  artifacts="$build/fuzz/artifacts-$t"
  log="$build/fuzz/$t.log"
  mkdir -p "$work" "$artifacts"
  dict=()
  [ -f "$fuzz_dir/$t.dict" ] && dict=("-dict=$fuzz_dir/$t.dict")
  seeds=("$fuzz_dir/corpus/$t")
  [ -d "$fuzz_dir/regressions/$t" ] && seeds+=("$fuzz_dir/regressions/$t")
  echo "== fuzz $t for ${seconds} s"
  set +e
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "${dict[@]}" "$work" "${seeds[@]}" >"$log" 2>&1
  status=$?
  set -e
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "fuzz $t FAILED (exit $status); the end of $log:"
    tail -n 40 "$log"
    ls -1 "$artifacts"
  fi
  if [ "${CUTOUT_FUZZ_MERGE:-0}" = 1 ] && [ "$status" -eq 0 ]; then
    "$build/fuzz/fuzz_$t" -merge=1 -max_len="$(max_len "$t")" "$fuzz_dir/corpus/$t" "$work" \
      >>"$log" 2>&1
    echo "merged into tests/fuzz/corpus/$t: $(ls "$fuzz_dir/corpus/$t" | wc -l) inputs"
  fi
done
exit "$failed"
