#!/usr/bin/env bash
# Installs the Debian (bookworm) packages netadapt needs to build, test and run its demo.
# Idempotent and non-interactive: packages already present are skipped, so a second run
# costs one dpkg query. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  cmake g++ make pkg-config ninja-build
  # RPC and serialisation
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # base libraries
  libabsl-dev libspdlog-dev libeigen3-dev zlib1g-dev libssl-dev nlohmann-json3-dev libcli11-dev
  # the rbf-cubic fit's dense solve: LAPACK through OpenBLAS (threaded) and LAPACKE (the build
  # falls back to Eigen without them, 2.5x slower)
  libopenblas-dev liblapacke-dev
  # compute engine (CPU build; the worker image brings a CUDA LibTorch)
  libtorch-dev
  # ONNX export: onnx.proto compiled (libonnx_proto)
  libonnx-dev
  # image-folder datasets: JPEG through libjpeg-turbo, PNG through libpng
  libjpeg62-turbo-dev libpng-dev
  # demo and test data; python3-torch writes the state_dict files the import tests read, and
  # python3-torchvision the reference models zoo_torchvision_test compares the zoo with
  dataset-fashion-mnist python3-torch python3-torchvision
  # tests and benchmarks; python3-onnx runs the ONNX checker on exported models
  libgtest-dev libgmock-dev libbenchmark-dev python3-onnx
  # test tools: headless Chromium renders `netadapt report` pages (large, ~300 MB; the test
  # skips without it), docker-compose validates the compose files (`config`, no engine)
  chromium docker-compose
  # clang: the thread-safety analysis of the lock annotations (scripts/thread-safety.sh) and
  # the libFuzzer targets (scripts/fuzz.sh), both run by scripts/test.sh
  clang
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
