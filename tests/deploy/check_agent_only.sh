#!/usr/bin/env bash
# The Jetson agent's build (deploy/jetson/Dockerfile: -DNETADAPT_AGENT_ONLY=ON) configures and
# builds where ONNX, GoogleTest, nlohmann/json, CLI11 and LAPACK (OpenBLAS, LAPACKE: the
# rbf-cubic fit falls back to Eigen there) are absent, as on the L4T image:
#
#   check_agent_only.sh SOURCE_DIR BUILD_DIR [CMAKE_ARG...]
#
# They are hidden twice: find_package of any of them fails (CMAKE_DISABLE_FIND_PACKAGE_<Pkg>),
# and their headers are shadowed by a prefix, first on the include path, whose headers stop
# the compile with #error. Then no link line may name their libraries, and netadapt-profiler
# and netadapt-lut must build. BUILD_DIR is kept between runs (incremental: a rerun compiles
# only what changed); the first run compiles the agent's part of the tree at -O0 without
# debug information, the cheapest compile that still proves it.
# Exit 0: configured and built; 1: a problem (printed).
set -euo pipefail
src=$(cd "$1" && pwd)
build=$2
shift 2
mkdir -p "${build}"
build=$(cd "${build}" && pwd)

# Headers of the hidden packages, each an #error naming the package.
hidden="${build}/hidden-include"
mkdir -p "${hidden}"/{gtest,gmock,onnx,nlohmann,CLI}
for header in gtest/gtest.h gmock/gmock.h onnx/onnx_pb.h onnx/onnx-ml.pb.h onnx/onnx.pb.h \
              nlohmann/json.hpp nlohmann/json_fwd.hpp CLI/CLI.hpp lapacke.h; do
  printf '#error "%s is hidden: the agent-only build must not need it (tests/deploy/check_agent_only.sh)"\n' \
    "${header}" > "${hidden}/${header}"
done

# The generator of the calling build (ctest passes -G); else Ninja where there is one.
generator=()
if [[ " $* " != *" -G"* ]] && command -v ninja > /dev/null; then
  generator=(-G Ninja)
fi

packages=(ONNX GTest GMock nlohmann_json CLI11 benchmark LAPACK BLAS)
disable=()
for p in "${packages[@]}"; do
  disable+=("-DCMAKE_DISABLE_FIND_PACKAGE_${p}=ON")
done

echo "check_agent_only: configure ${src} in ${build} (hidden: ${packages[*]})"
cmake -S "${src}" -B "${build}/tree" "${generator[@]}" --no-warn-unused-cli \
  -DNETADAPT_AGENT_ONLY=ON -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O0 -I${hidden}" \
  "${disable[@]}" "$@" > "${build}/configure.log" 2>&1 || {
  cat "${build}/configure.log"
  echo "check_agent_only: FAILED: -DNETADAPT_AGENT_ONLY=ON does not configure without ${packages[*]}"
  exit 1
}

# No target of the agent-only tree may link a hidden package's library. The generator's
# files name every library a link line uses (Ninja: build.ninja; Makefiles: link.txt).
if grep -rIlE --include=build.ninja --include=link.txt \
     'onnx|gtest|gmock|benchmark|openblas|lapack' "${build}/tree" > "${build}/bad-links.txt"; then
  grep -rIohE --include=build.ninja --include=link.txt \
    '[^ ]*(onnx|gtest|gmock|benchmark|openblas|lapack)[^ ]*' "${build}/tree" | sort -u | head -20
  echo "check_agent_only: FAILED: the agent-only tree links a hidden package's library"
  exit 1
fi

echo "check_agent_only: build netadapt-profiler netadapt-lut"
if ! cmake --build "${build}/tree" --target netadapt-profiler netadapt-lut \
       > "${build}/build.log" 2>&1; then
  grep -E 'error|Error|FAILED' "${build}/build.log" | head -40
  echo "check_agent_only: FAILED: the agent does not build without ${packages[*]}" \
       "(${build}/build.log)"
  exit 1
fi
for binary in profiler-agent/netadapt-profiler profiler-agent/netadapt-lut; do
  [[ -x "${build}/tree/${binary}" ]] || { echo "check_agent_only: FAILED: no ${binary}"; exit 1; }
done
echo "check_agent_only: OK: the agent configures and builds without ${packages[*]}"
