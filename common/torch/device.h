#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace netadapt::engine {

// Checks a device string the way a task carries it: "cpu", "cuda" or "cuda:N".
// InvalidArgument for a malformed string; FailedPrecondition when this LibTorch has no CUDA
// or the GPU index does not exist, so a worker rejects a task it cannot run instead of
// crashing inside LibTorch.
absl::Status CheckDevice(absl::string_view device);

// Whether this LibTorch build can run on CUDA and how many GPUs it sees (0 on CPU builds).
int CudaDeviceCount();

// Sets LibTorch's intra-op thread count for this process; 0 means one per core.
void SetIntraOpThreads(int threads);

// Makes glibc keep freed tensor memory for reuse instead of unmapping it. LibTorch's CPU
// allocator takes each activation and gradient from malloc; above glibc's mmap threshold every
// one is a fresh mapping, and the page faults of re-touching it cost ~15% of a training step
// (measured with perf on train_bench). For processes that train (workers, benchmarks): the
// price is that the process keeps its peak memory. Call once, early in main.
void KeepFreedHostMemory();

// "libtorch 1.13.1 (CPU)" / "libtorch 2.1.0 (CUDA 12.1, cuDNN 8902)", for logs and fingerprints.
std::string TorchBuildDescription();

}  // namespace netadapt::engine
