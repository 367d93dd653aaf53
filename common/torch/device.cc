#include "common/torch/device.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <torch/version.h>
#include <torch/cuda.h>

#include <malloc.h>

#include <algorithm>
#include <climits>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "common/torch/internal/torch_device.h"

namespace netadapt::engine {

int CudaDeviceCount() { return static_cast<int>(torch::cuda::device_count()); }

absl::Status CheckDevice(absl::string_view device) {
  return internal::ParseDevice(device).status();
}

void SetIntraOpThreads(int threads) {
  if (threads <= 0) {
    threads = static_cast<int>(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
  }
  at::set_num_threads(threads);
}

void KeepFreedHostMemory() {
  // Allocations below 1 GiB come from the heap (not fresh mmaps) and the heap is trimmed only
  // beyond 4 GiB of free memory at its top.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<long long>(4LL << 30, INT_MAX)));
  mallopt(M_TOP_PAD, 256 << 20);
}

std::string TorchBuildDescription() {
  std::string description = absl::StrCat("libtorch ", TORCH_VERSION);
  if (!at::hasCUDA()) return absl::StrCat(description, " (CPU)");
  return absl::StrCat(description, " (CUDA, ", CudaDeviceCount(), " GPUs, cuDNN ",
                      at::globalContext().hasCuDNN() ? "yes" : "no", ")");
}

namespace internal {

absl::StatusOr<c10::Device> ParseDevice(absl::string_view device) {
  if (device == "cpu") return c10::Device(c10::kCPU);
  if (device != "cuda" && !absl::StartsWith(device, "cuda:")) {
    return absl::InvalidArgumentError(
        absl::StrCat("device: \"", device, "\" is not \"cpu\", \"cuda\" or \"cuda:N\""));
  }
  int index = 0;
  if (device != "cuda") {
    absl::string_view digits = device.substr(5);
    if (digits.empty() || !absl::SimpleAtoi(digits, &index) || index < 0 || index > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("device: \"", device, "\" has no valid GPU index after \"cuda:\""));
    }
  }
  const int count = CudaDeviceCount();
  if (count == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("device: \"", device, "\" requested but this LibTorch has no usable CUDA"));
  }
  if (index >= count) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device: \"", device, "\" requested but only ", count, " GPU(s) are visible"));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace internal
}  // namespace netadapt::engine
