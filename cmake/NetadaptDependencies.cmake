# Finds every dependency from Debian packages. A missing one stops the configure step
# with the package to install, so a fresh machine gets an actionable message instead
# of a compiler error later. scripts/install-deps.sh installs all of them.

macro(netadapt_require found_var package what)
  if(NOT ${found_var})
    message(FATAL_ERROR
      "netadapt: ${what} not found. Install the Debian package '${package}' "
      "(or run scripts/install-deps.sh, which installs everything).")
  endif()
endmacro()

find_package(Threads REQUIRED)

find_package(Protobuf QUIET)
netadapt_require(Protobuf_FOUND "libprotobuf-dev protobuf-compiler" "Protocol Buffers")
netadapt_require(Protobuf_PROTOC_EXECUTABLE "protobuf-compiler" "protoc")

# gRPC: every process, but not the engine-only build (NETADAPT_ENGINE_ONLY).
if(NOT NETADAPT_ENGINE_ONLY)
  find_package(gRPC CONFIG QUIET)
  netadapt_require(gRPC_FOUND "libgrpc++-dev" "gRPC C++")
  find_program(NETADAPT_GRPC_CPP_PLUGIN grpc_cpp_plugin)
  netadapt_require(NETADAPT_GRPC_CPP_PLUGIN "protobuf-compiler-grpc" "grpc_cpp_plugin")
endif()

find_package(absl CONFIG QUIET)
netadapt_require(absl_FOUND "libabsl-dev" "Abseil")

find_package(spdlog CONFIG QUIET)
netadapt_require(spdlog_FOUND "libspdlog-dev" "spdlog")

find_package(Eigen3 CONFIG QUIET)
netadapt_require(Eigen3_FOUND "libeigen3-dev" "Eigen 3")

find_package(ZLIB QUIET)
netadapt_require(ZLIB_FOUND "zlib1g-dev" "zlib (reads .gz datasets)")

find_package(OpenSSL QUIET COMPONENTS Crypto)
netadapt_require(OpenSSL_FOUND "libssl-dev" "OpenSSL libcrypto (sha256 of checkpoints and artifacts)")

# LAPACK for the rbf-cubic fit's dense solve (common/dense_solve.cc, library
# netadapt_dense_solve): OpenBLAS (threaded) with LAPACKE. Optional: without it the solve falls
# back to Eigen (about 2.5x slower on AlexNet's linear family, docs/BENCHMARKS.md). The agent-only
# build never fits a surface and never looks for it (the Jetson image stays free of it).
macro(netadapt_prefer found_var package what)
  if(NOT ${found_var})
    message(STATUS
      "netadapt: ${what} not found: falling back to ${ARGN}. Install the Debian package(s) "
      "'${package}' (scripts/install-deps.sh does) for the fast path.")
  endif()
endmacro()
option(NETADAPT_LAPACK "Solve the rbf-cubic fit with LAPACK (OpenBLAS) when found" ON)
set(NETADAPT_HAVE_LAPACK OFF)
if(NETADAPT_LAPACK AND NOT NETADAPT_AGENT_ONLY)
  set(BLA_VENDOR OpenBLAS)
  find_package(LAPACK QUIET)
  find_path(NETADAPT_LAPACKE_INCLUDE_DIR lapacke.h)
  find_library(NETADAPT_LAPACKE_LIBRARY lapacke)
  if(LAPACK_FOUND AND NETADAPT_LAPACKE_INCLUDE_DIR AND NETADAPT_LAPACKE_LIBRARY)
    set(NETADAPT_HAVE_LAPACK ON)
    list(REMOVE_DUPLICATES LAPACK_LIBRARIES)  # OpenBLAS is the BLAS and the LAPACK
    message(STATUS "netadapt: rbf-cubic fits solve with LAPACK: ${LAPACK_LIBRARIES} "
                   "${NETADAPT_LAPACKE_LIBRARY}")
  endif()
  netadapt_prefer(NETADAPT_HAVE_LAPACK "libopenblas-dev liblapacke-dev"
                  "OpenBLAS with LAPACKE" "Eigen for the rbf-cubic fit")
elseif(NOT NETADAPT_AGENT_ONLY)
  message(STATUS "netadapt: NETADAPT_LAPACK=OFF: rbf-cubic fits solve with Eigen")
endif()

# LibTorch: only common/torch/ and the torch tests/benchmarks link it (STYLE.md section 10).
find_package(Torch CONFIG QUIET)
netadapt_require(Torch_FOUND "libtorch-dev" "LibTorch")

# What the master, worker, CLI, tests and benchmarks need beyond the profiler agent.
if(NOT NETADAPT_AGENT_ONLY)
  # ONNX's compiled protobuf schema (target onnx_proto), for `netadapt export --format onnx`.
  find_package(ONNX CONFIG QUIET)
  netadapt_require(ONNX_FOUND "libonnx-dev" "ONNX (onnx.proto, for the ONNX export)")
  if(ONNX_FOUND AND NOT TARGET onnx_proto)
    message(FATAL_ERROR "netadapt: the ONNX package lacks the onnx_proto target; install the "
                        "Debian package 'libonnx-dev' (bookworm: 1.12).")
  endif()


  # CLI11 (header-only): the subcommands of the `netadapt` CLI (not in the engine-only build).
  if(NOT NETADAPT_ENGINE_ONLY)
    find_package(CLI11 CONFIG QUIET)
    netadapt_require(CLI11_FOUND "libcli11-dev" "CLI11 (the netadapt command line)")
  endif()

  # Image folders (common/image_codec.cc): JPEG through libjpeg-turbo, PNG through libpng.
  find_package(JPEG QUIET)
  netadapt_require(JPEG_FOUND "libjpeg62-turbo-dev" "libjpeg-turbo (JPEG image folders)")
  find_package(PNG QUIET)
  netadapt_require(PNG_FOUND "libpng-dev" "libpng (PNG image folders)")
endif()

# What only the tests and benchmarks need (NETADAPT_BUILD_TESTS, off in the images).
if(NETADAPT_BUILD_TESTS AND NOT NETADAPT_AGENT_ONLY)
  find_package(nlohmann_json CONFIG QUIET)
  netadapt_require(nlohmann_json_FOUND "nlohmann-json3-dev" "nlohmann/json (benchmarks)")

  find_package(GTest CONFIG QUIET)
  netadapt_require(GTest_FOUND "libgtest-dev libgmock-dev" "GoogleTest")
endif()
