#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang + AddressSanitizer) in build-fuzz and runs
# each on its checked-in corpus for SECONDS (default 10). Exits non-zero when a target crashes,
# leaks or times out; the input that did it is kept in build-fuzz/crashes/<target>/.
# Usage: scripts/fuzz.sh [SECONDS]     NETADAPT_FUZZ_BUILD_DIR overrides the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
build_dir=${NETADAPT_FUZZ_BUILD_DIR:-build-fuzz}
cxx=${NETADAPT_FUZZ_CXX:-clang++}
if ! command -v "$cxx" > /dev/null; then
  echo "fuzz.sh: $cxx not found (apt-get install clang)" >&2
  exit 2
fi
targets=(network_def_fuzzer job_spec_fuzzer latency_table_fuzzer checkpoint_fuzzer
         torch_pickle_fuzzer journal_fuzzer onnx_import_fuzzer image_decode_fuzzer)

mkdir -p "$build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DNETADAPT_FUZZ=ON > "$build_dir/configure.log" 2>&1 ||
  { cat "$build_dir/configure.log" >&2; exit 1; }
cmake --build "$build_dir" --target fuzzers -j "${NETADAPT_FUZZ_JOBS:-$(nproc)}"

status=0
for target in "${targets[@]}"; do
  corpus="tests/fuzz/corpus/$target"
  # New inputs found in this run go to a scratch directory, not into the checked-in corpus.
  work="$build_dir/corpus/$target"
  crashes="$build_dir/crashes/$target"
  mkdir -p "$work" "$crashes"
  log="$build_dir/$target.log"
  if "$build_dir/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" \
       "$work" "$corpus" > "$log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    rate=$(grep -o 'exec/s: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    echo "fuzz: $target ok: ${execs:-?} runs in ${seconds}s (${rate:-?} exec/s), coverage ${cov:-?}"
  else
    echo "fuzz: $target FAILED (log $log, inputs in $crashes):" >&2
    grep -E 'ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -20 "$log" >&2
    status=1
  fi
done
exit $status
