#!/usr/bin/env bash
# The engine-only build (-DNETADAPT_ENGINE_ONLY=ON, scripts/gpu-check.sh on a CUDA machine)
# configures without gRPC or CLI11 and nothing in it links or includes them:
#
#   check_engine_only.sh SOURCE_DIR BUILD_DIR [CMAKE_ARG...]
#
# find_package(gRPC) and find_package(CLI11) fail (CMAKE_DISABLE_FIND_PACKAGE_<Pkg>); then no
# generated build rule may name gRPC (a library, grpc_cpp_plugin, a *.grpc.pb.* file). Configure
# only (seconds): compiling the engine and its torch tests takes long, and scripts/gpu-check.sh
# --device=cpu does it. Exit 0: configured without gRPC; 1: a problem (printed).
set -euo pipefail
src=$(cd "$1" && pwd)
build=$2
shift 2
mkdir -p "${build}"
build=$(cd "${build}" && pwd)
generator=()
if [[ " $* " != *" -G"* ]] && command -v ninja > /dev/null; then
  generator=(-G Ninja)
fi
rm -rf "${build}/tree"
if ! cmake -S "${src}" -B "${build}/tree" "${generator[@]}" --no-warn-unused-cli \
       -DNETADAPT_ENGINE_ONLY=ON -DCMAKE_DISABLE_FIND_PACKAGE_gRPC=ON \
       -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON "$@" > "${build}/configure.log" 2>&1; then
  cat "${build}/configure.log"
  echo "check_engine_only: FAILED: -DNETADAPT_ENGINE_ONLY=ON does not configure without gRPC"
  exit 1
fi
if grep -rIohE --include=build.ninja --include=build.make --include=link.txt \
     '[^ ]*(grpc|gpr)[^ ]*' "${build}/tree" | sort -u | head -20 | grep .; then
  echo "check_engine_only: FAILED: the engine-only tree names gRPC (above)"
  exit 1
fi
for target in netadapt_torch train_bench profiler_bench model_test; do
  # The phony rule of each target: `build T: phony` (Ninja) or `T:` (Makefiles).
  if ! grep -qsE "^(build )?${target}: " "${build}/tree/build.ninja" "${build}/tree/Makefile"; then
    echo "check_engine_only: FAILED: no target ${target} in the engine-only build"
    exit 1
  fi
done
echo "check_engine_only: OK: the engine, its torch tests, train_bench and profiler_bench" \
     "configure without gRPC"
