#!/usr/bin/env bash
# The README's main command. For now the main job is the filter-count search benchmark (the
# step the NetAdapt paper profiled) on AlexNet and MobileNet; it becomes the end-to-end demo
# (local cluster, Fashion-MNIST, NetAdapt to half the latency) when the distributed job lands.
# Usage: scripts/demo.sh [simplify_bench flags...]   e.g. scripts/demo.sh --json
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_dir=${NETADAPT_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build_dir" -j "$(nproc)" --target simplify_bench
exec "$build_dir/bench/simplify_bench" "$@"
