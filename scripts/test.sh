#!/usr/bin/env bash
# The README's test command: install what is missing, configure, build, run every test.
# Usage: scripts/test.sh [ctest args...]   e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_dir=${NETADAPT_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build_dir" -j "$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" "$@"

# Clang's thread-safety analysis of the lock annotations (GCC ignores them): full runs only,
# skipped when clang is missing; a warning fails the run.
if [[ $# -eq 0 ]]; then
  if command -v clang++ > /dev/null; then
    scripts/thread-safety.sh "$build_dir"
  else
    echo "test.sh: clang++ not found: thread-safety analysis skipped (apt-get install clang)"
  fi
fi

# Last, a short run of each libFuzzer target on its corpus (docs/SECURITY.md): only for the full
# run (no ctest arguments), skipped when clang is missing or NETADAPT_SKIP_FUZZ=1; a crash
# found fails the run.
if [[ $# -eq 0 && ${NETADAPT_SKIP_FUZZ:-0} != 1 ]]; then
  if command -v clang++ > /dev/null; then
    scripts/fuzz.sh "${NETADAPT_FUZZ_SECONDS:-5}"
  else
    echo "test.sh: clang++ not found: fuzzing skipped (apt-get install clang)"
  fi
fi
