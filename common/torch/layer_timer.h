#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/latency_stats.h"

namespace netadapt::engine {

// LibTorch runners for latency measurement on `device` ("cpu", "cuda", "cuda:N"): a conv2d or
// linear layer built from a common::LayerShape (random weights and input drawn from `seed`,
// allocated once on the device) or a whole NetworkDef's forward pass. Each RunOnceMs runs
// under NoGradGuard, times with std::chrono::steady_clock and, on CUDA, synchronises the
// device before and after the run so the time covers the kernels, not just their launch.
// Supported dtypes: float32 everywhere, float16 on CUDA (InvalidArgument otherwise).
// InvalidArgument/FailedPrecondition for a device this process cannot use (see CheckDevice).
absl::StatusOr<std::unique_ptr<common::RunnerFactory>> MakeTorchRunnerFactory(
    absl::string_view device, uint64_t seed = 0);

}  // namespace netadapt::engine
