// Latency timing of single layers and whole networks with LibTorch (the profiler agent's
// backend). The only torch translation unit of the profiler: everything above it (statistics,
// stopping rule, queueing, caching) is torch-free and tested without LibTorch.
#include "common/torch/layer_timer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/linear.h>
#include <c10/util/Optional.h>
#include <c10/core/GradMode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <chrono>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/torch/internal/model_state.h"
#include "common/torch/internal/torch_device.h"
#include "common/torch/model.h"

namespace netadapt::engine {
namespace {

using common::LayerOp;
using common::LayerShape;

// A failed allocation is the caller's problem to size (ResourceExhausted); anything else
// LibTorch throws is an internal error of the measurement.
absl::Status FromTorchError(const std::exception& e, absl::string_view what) {
  const absl::string_view message = e.what();
  if (absl::StrContains(message, "out of memory") ||
      absl::StrContains(message, "not enough memory") ||
      absl::StrContains(message, "DefaultCPUAllocator")) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": allocation failed: ", message));
  }
  return absl::InternalError(absl::StrCat(what, ": ", message));
}

absl::StatusOr<c10::ScalarType> ScalarTypeOf(absl::string_view dtype, const c10::Device& device) {
  if (dtype == "float32") return c10::kFloat;
  if (dtype == "float16") {
    if (device.is_cuda()) return c10::kHalf;
    return absl::InvalidArgumentError("dtype float16 is only measured on CUDA devices");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("dtype '", dtype, "' is not supported (float32, float16 on CUDA)"));
}

// Waits for the device's queued work, so that a timed interval covers the kernels it launched.
void Synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

class TorchRunner : public common::TimedRunner {
 public:
  TorchRunner(c10::Device device, std::string what) : device_(device), what_(std::move(what)) {}

  absl::StatusOr<double> RunOnceMs() final {
    try {
      c10::NoGradGuard no_grad;
      Synchronize(device_);
      const auto start = std::chrono::steady_clock::now();
      {
        at::Tensor output = Run();
        Synchronize(device_);
      }
      const auto end = std::chrono::steady_clock::now();
      return std::chrono::duration<double, std::milli>(end - start).count();
    } catch (const std::exception& e) {
      return FromTorchError(e, what_);
    }
  }

 protected:
  virtual at::Tensor Run() = 0;

  const c10::Device device_;
  const std::string what_;
};

class LayerRunner final : public TorchRunner {
 public:
  LayerRunner(const LayerShape& shape, c10::Device device, at::Tensor input, at::Tensor weight,
              c10::optional<at::Tensor> bias)
      : TorchRunner(device, shape.DebugString()),
        shape_(shape),
        input_(std::move(input)),
        weight_(std::move(weight)),
        bias_(std::move(bias)) {}

 private:
  at::Tensor Run() override {
    if (shape_.op == LayerOp::kLinear) return at::linear(input_, weight_, bias_);
    return at::conv2d(input_, weight_, bias_, {shape_.stride.h, shape_.stride.w},
                      {shape_.padding.h, shape_.padding.w}, {1, 1}, shape_.groups);
  }

  const LayerShape shape_;
  const at::Tensor input_;
  const at::Tensor weight_;
  const c10::optional<at::Tensor> bias_;
};

class NetworkRunner final : public TorchRunner {
 public:
  NetworkRunner(Model model, at::Tensor input, c10::Device device)
      : TorchRunner(device, absl::StrCat("network ", model.def().name)),
        model_(std::move(model)),
        input_(std::move(input)) {}

 private:
  at::Tensor Run() override {
    return internal::Forward(model_.state(), input_, /*training=*/false);
  }

  Model model_;
  const at::Tensor input_;
};

class TorchRunnerFactory final : public common::RunnerFactory {
 public:
  TorchRunnerFactory(c10::Device device, uint64_t seed) : device_(device), seed_(seed) {}

  absl::StatusOr<std::unique_ptr<common::TimedRunner>> ForLayer(
      const LayerShape& shape) override {
    NETADAPT_ASSIGN_OR_RETURN(c10::ScalarType type, ScalarTypeOf(shape.dtype, device_));
    if (shape.op != LayerOp::kConv2d && shape.op != LayerOp::kLinear) {
      return absl::InvalidArgumentError(
          absl::StrCat(shape.DebugString(), ": only conv2d and linear layers are timed"));
    }
    try {
      // Drawn on the CPU from the seed (the same values on every device), then moved.
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed_);
      const auto cpu = at::TensorOptions().dtype(c10::kFloat);
      auto draw = [&](std::vector<int64_t> sizes) {
        return at::empty(sizes, cpu).uniform_(-1, 1, generator).to(device_, type);
      };
      at::Tensor input, weight;
      if (shape.op == LayerOp::kLinear) {
        input = draw({shape.batch, shape.in_channels});
        weight = draw({shape.out_channels, shape.in_channels});
      } else {
        input = draw({shape.batch, shape.in_channels, shape.input_h, shape.input_w});
        weight = draw({shape.out_channels, shape.in_channels / shape.groups, shape.kernel.h,
                       shape.kernel.w});
      }
      c10::optional<at::Tensor> bias;
      if (shape.bias) bias = draw({shape.out_channels});
      Synchronize(device_);
      return std::make_unique<LayerRunner>(shape, device_, std::move(input), std::move(weight),
                                           std::move(bias));
    } catch (const std::exception& e) {
      return FromTorchError(e, shape.DebugString());
    }
  }

  absl::StatusOr<std::unique_ptr<common::TimedRunner>> ForNetwork(
      const common::NetworkDef& network, int batch) override {
    NETADAPT_ASSIGN_OR_RETURN(
        Model model, Model::Create(network, ModelOptions{device_.str(), seed_}));
    try {
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed_ + 1);
      at::Tensor input = at::empty({batch, network.input.channels, network.input.height,
                                    network.input.width},
                                   at::TensorOptions().dtype(c10::kFloat))
                             .uniform_(-1, 1, generator)
                             .to(device_);
      Synchronize(device_);
      return std::make_unique<NetworkRunner>(std::move(model), std::move(input), device_);
    } catch (const std::exception& e) {
      return FromTorchError(e, absl::StrCat("network ", network.name));
    }
  }

  std::string device() const override { return device_.str(); }

  std::vector<std::pair<std::string, std::string>> RuntimeVersions() const override {
    std::vector<std::pair<std::string, std::string>> versions = {{"libtorch", TORCH_VERSION}};
    if (!device_.is_cuda()) return versions;
    try {
      const long cudart = at::detail::getCUDAHooks().versionCUDART();
      versions.emplace_back("cuda", absl::StrCat(cudart / 1000, ".", cudart % 1000 / 10));
      if (at::globalContext().hasCuDNN()) {
        const long cudnn = at::globalContext().versionCuDNN();
        versions.emplace_back("cudnn", absl::StrCat(cudnn / 1000, ".", cudnn % 1000 / 100, ".",
                                                    cudnn % 100));
      }
    } catch (const std::exception&) {
      // Versions are informative; a build that cannot report them still measures.
    }
    return versions;
  }

  std::string AcceleratorName() const override { return ""; }

  int Threads() const override { return at::get_num_threads(); }

 private:
  const c10::Device device_;
  const uint64_t seed_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<common::RunnerFactory>> MakeTorchRunnerFactory(
    absl::string_view device, uint64_t seed) {
  NETADAPT_ASSIGN_OR_RETURN(c10::Device parsed, internal::ParseDevice(device));
  return std::make_unique<TorchRunnerFactory>(parsed, seed);
}

}  // namespace netadapt::engine
