#!/usr/bin/env bash
# The CUDA path, on a machine with an NVIDIA GPU, CUDA, CMake and a CUDA LibTorch but without
# gRPC (and perhaps without Abseil, protobuf, spdlog or GoogleTest): builds the engine alone
# (-DNETADAPT_ENGINE_ONLY=ON: netadapt_common, netadapt_torch and their torch tests,
# train_bench, and the profiler's measurement code with profiler_bench; no gRPC), runs the torch
# tests (the CUDA ones among them run on the GPU), train_bench --device=cuda:0 and
# profiler_bench --device=cuda:0, and prints a short summary (docs/BENCHMARKS.md).
#
#   scripts/gpu-check.sh --fetch          on a Debian bookworm machine (apt): downloads the
#                                         Debian packages the build needs into
#                                         scripts/gpu-check-deps/debs (about 30 MB)
#   scripts/gpu-check.sh [--torch=DIR] [--deps=DIR] [--build=DIR] [--device=cuda:0] [--jobs=N]
#                                         on the GPU machine: unpacks them into DIR/prefix
#                                         beside this script, builds, runs, summarises
#
# Copy the repository (or scripts/, with the sources) and scripts/gpu-check-deps together.
# --torch: LibTorch's CMake prefix (default: $NETADAPT_TORCH_PREFIX, else
#   `python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'`). It must use the C++11
#   string ABI (PyTorch's cxx11-abi LibTorch zip, or a wheel of PyTorch 2.7 or later): the
#   Debian libraries do. --deps: the folder of --fetch (default scripts/gpu-check-deps);
#   without one, the libraries must be installed (the build then says which one is missing).
# --build (default build-gpu-check), --jobs (default: every core), --device (default cuda:0).
#
# Without an NVIDIA GPU (no working nvidia-smi, or LibTorch sees no CUDA device) it says so and
# exits 0, building nothing. --device=cpu builds and runs the same on the CPU (to try the
# script's build on any machine). Exit 1 when the build or a check fails, 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The Debian packages (bookworm) of the engine-only build's dependencies, -dev and runtime.
debian_packages=(
  libprotobuf-dev libprotobuf32 libprotobuf-lite32 protobuf-compiler libprotoc32
  libabsl-dev libabsl20220623
  libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  libeigen3-dev zlib1g-dev libssl-dev libssl3
  nlohmann-json3-dev libgtest-dev libgmock-dev
  libonnx-dev libonnx1 libonnxifi
  libjpeg62-turbo-dev libjpeg62-turbo libpng-dev libpng16-16
)

torch_prefix=${NETADAPT_TORCH_PREFIX:-}
deps=scripts/gpu-check-deps
build=build-gpu-check
device=cuda:0
jobs=$(nproc)
fetch=0
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$ d'; exit 2; }
for arg in "$@"; do
  case $arg in
    --fetch) fetch=1 ;;
    --torch=*) torch_prefix=${arg#*=} ;;
    --deps=*) deps=${arg#*=} ;;
    --build=*) build=${arg#*=} ;;
    --device=*) device=${arg#*=} ;;
    --jobs=*) jobs=${arg#*=} ;;
    -h|--help) usage ;;
    *) echo "gpu-check: unknown argument ${arg}" >&2; usage ;;
  esac
done
log() { echo "gpu-check: $*"; }
die() { log "FAILED: $*"; exit 1; }

if ((fetch)); then
  command -v apt-get > /dev/null || die "--fetch needs apt-get (a Debian bookworm machine)"
  mkdir -p "${deps}/debs"
  (cd "${deps}/debs" && apt-get download "${debian_packages[@]}") ||
    die "apt-get download (run apt-get update first?)"
  log "$(ls "${deps}/debs" | wc -l) packages, $(du -sh "${deps}/debs" | cut -f1), in ${deps}/debs:" \
      "copy them with the repository to the GPU machine"
  exit 0
fi

# ---- a GPU? ---------------------------------------------------------------------------------
if [[ ${device} == cuda* ]]; then
  if ! command -v nvidia-smi > /dev/null; then
    log "no NVIDIA GPU here (nvidia-smi not found): nothing to check. Run this on a machine" \
        "with a GPU, CUDA and a CUDA LibTorch (--device=cpu tries the build on the CPU)."
    exit 0
  fi
  if ! gpus=$(nvidia-smi -L 2>&1) || [[ -z ${gpus} ]]; then
    log "no NVIDIA GPU here (nvidia-smi -L: ${gpus:-no device}): nothing to check."
    exit 0
  fi
  log "${gpus}"
fi

# ---- LibTorch -------------------------------------------------------------------------------
python=$(command -v python3 || true)
if [[ -z ${torch_prefix} && -n ${python} ]]; then
  torch_prefix=$("${python}" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null ||
                 true)
fi
if [[ -z ${torch_prefix} ]]; then
  debian_torch=$(ls -d /usr/lib/*-linux-gnu/cmake/Torch 2>/dev/null | head -n1)
  if [[ ${device} == cpu && -n ${debian_torch} ]]; then
    torch_prefix=$(dirname "${debian_torch}")  # Debian's libtorch-dev (CPU only)
  else
    die "no LibTorch: give --torch=DIR (its CMake prefix, e.g. libtorch/share/cmake) or install" \
        "PyTorch for python3"
  fi
fi
[[ -f ${torch_prefix}/Torch/TorchConfig.cmake ]] ||
  die "${torch_prefix}/Torch/TorchConfig.cmake not found (--torch is LibTorch's CMake prefix)"
# TorchConfig.cmake names the ABI its LibTorch was built with (TORCH_CXX_FLAGS).
if grep -q '_GLIBCXX_USE_CXX11_ABI=0' "${torch_prefix}/Torch/TorchConfig.cmake"; then
  die "this LibTorch uses the pre-C++11 std::string ABI (_GLIBCXX_USE_CXX11_ABI=0), which" \
      "cannot link with the Debian libraries: use PyTorch's cxx11-abi LibTorch zip" \
      "(--torch=libtorch/share/cmake) or PyTorch 2.7 or later"
fi
log "LibTorch: ${torch_prefix}"
if [[ ${device} == cuda* && -n ${python} ]] &&
   [[ $("${python}" -c 'import torch; print(torch.cuda.is_available())' 2>/dev/null) == False ]]; then
  log "PyTorch sees no CUDA device (torch.cuda.is_available() is False): nothing to check."
  exit 0
fi

# ---- the Debian libraries, unpacked beside this script -------------------------------------
prefix_path=${torch_prefix}
if [[ -d ${deps}/debs ]]; then
  prefix=$(cd "${deps}" && pwd)/prefix
  if [[ ! -f ${prefix}/.unpacked ]]; then
    rm -rf "${prefix}"
    mkdir -p "${prefix}"
    for deb in "${deps}"/debs/*.deb; do
      dpkg-deb -x "${deb}" "${prefix}" || die "dpkg-deb -x ${deb}"
    done
    touch "${prefix}/.unpacked"
    log "unpacked $(ls "${deps}"/debs/*.deb | wc -l) Debian packages into ${prefix}"
  fi
  prefix_path="${prefix}/usr;${torch_prefix}"
  multiarch=$(ls -d "${prefix}"/usr/lib/*-linux-gnu | head -n1)
  # protoc and the tests load the unpacked shared libraries.
  export LD_LIBRARY_PATH="${multiarch}${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}"
  export PATH="${prefix}/usr/bin:${PATH}"
else
  log "no ${deps}/debs: using the installed libraries (gpu-check.sh --fetch makes the folder)"
fi

# ---- build ----------------------------------------------------------------------------------
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
mkdir -p "${build}"
t0=${SECONDS}
log "configure (${build}/configure.log)"
cmake -S "${root}" -B "${build}" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DNETADAPT_ENGINE_ONLY=ON -DCMAKE_PREFIX_PATH="${prefix_path}" \
  -DCMAKE_DISABLE_FIND_PACKAGE_gRPC=ON --no-warn-unused-cli > "${build}/configure.log" 2>&1 ||
  { tail -n 20 "${build}/configure.log"; die "configure"; }
log "build (${build}/build.log)"
cmake --build "${build}" -j "${jobs}" > "${build}/build.log" 2>&1 ||
  { grep -E 'error|FAILED' "${build}/build.log" | head -n 30; die "build"; }
build_s=$((SECONDS - t0))

# ---- run ------------------------------------------------------------------------------------
summary=()
status=0
t0=${SECONDS}
if ctest --test-dir "${build}" -L torch --output-on-failure -j "${jobs}" \
     > "${build}/ctest.log" 2>&1; then
  summary+=("torch tests      $(grep -E 'tests passed' "${build}/ctest.log")")
else
  status=1
  summary+=("torch tests      FAILED: $(grep -E 'tests passed|tests failed' "${build}/ctest.log")")
fi
tests_s=$((SECONDS - t0))
if "${build}/bench/train_bench" --device="${device}" --python= \
     > "${build}/train_bench.txt" 2>&1; then
  summary+=("train_bench      ${build}/train_bench.txt")
else
  status=1
  summary+=("train_bench      FAILED (${build}/train_bench.txt)")
fi
if "${build}/bench/profiler_bench" --device="${device}" > "${build}/profiler_bench.txt" 2>&1; then
  summary+=("profiler_bench   ${build}/profiler_bench.txt")
else
  status=1
  summary+=("profiler_bench   FAILED (${build}/profiler_bench.txt)")
fi

echo
log "summary (device ${device}; build ${build_s} s, tests ${tests_s} s)"
for line in "${summary[@]}"; do echo "  ${line}"; done
echo
echo "== train_bench --device=${device}"
cat "${build}/train_bench.txt"
echo
echo "== profiler_bench --device=${device}"
cat "${build}/profiler_bench.txt"
((status == 0)) && log "PASSED" || log "FAILED"
exit "${status}"
