// Models from a NetworkDef: initialisation, validation of tensors against the definition,
// and the functional forward pass. The network is run op by op with ATen functions on a
// name -> tensor map rather than as nested nn::Modules: the map is exactly PyTorch's
// state_dict, so checkpoints, state_dict import and pruning (which slices tensors and
// rebuilds the definition) need no module surgery.
#include "common/torch/model.h"

#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/adaptive_avg_pool2d.h>
#include <ATen/ops/avg_pool2d.h>
#include <ATen/ops/batch_norm.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/dropout.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/from_blob.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/max_pool2d.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/hardsigmoid.h>
#include <ATen/ops/hardswish.h>
#include <ATen/ops/relu6.h>
#include <ATen/ops/sigmoid.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/network_tensors.h"
#include "common/status_macros.h"
#include "common/torch/internal/model_state.h"
#include "common/torch/internal/torch_device.h"

namespace netadapt::engine {
namespace {

using common::Layer;
using common::LayerOp;
using common::TensorDtype;
using common::TensorRole;
using common::TensorSpec;

c10::ScalarType ScalarTypeOf(TensorDtype dtype) {
  return dtype == TensorDtype::kInt64 ? c10::kLong : c10::kFloat;
}

std::vector<int64_t> SizesOf(const at::Tensor& tensor) {
  return std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end());
}

// fan_in of a conv or linear weight: input features seen by one output.
int64_t FanIn(const Layer& layer) {
  if (layer.op == LayerOp::kLinear) return layer.in_channels;
  return int64_t{layer.in_channels / layer.groups} * layer.kernel.h * layer.kernel.w;
}

at::Tensor InitialValue(const TensorSpec& spec, const Layer& layer, at::Generator& generator) {
  const auto options = at::TensorOptions().dtype(ScalarTypeOf(spec.dtype));
  if (layer.op == LayerOp::kBatchNorm2d) {
    if (spec.field == "weight" || spec.field == "running_var") return at::ones(spec.shape, options);
    return at::zeros(spec.shape, options);
  }
  // nn.Conv2d / nn.Linear reset_parameters(): kaiming_uniform(a=sqrt(5)) for the weight and
  // uniform(+-1/sqrt(fan_in)) for the bias, both of which are uniform(+-1/sqrt(fan_in)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(FanIn(layer)));
  return at::empty(spec.shape, options).uniform_(-bound, bound, generator);
}

}  // namespace

absl::StatusOr<Model> Model::Create(const common::NetworkDef& def, const ModelOptions& options) {
  NETADAPT_ASSIGN_OR_RETURN(c10::Device device, internal::ParseDevice(options.device));
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorSpec> specs, common::NetworkTensors(def));
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  internal::NamedTensors tensors;
  for (const TensorSpec& spec : specs) {
    tensors[spec.name] = InitialValue(spec, def.layers[spec.layer_index], generator);
  }
  return internal::MakeModel(def, std::move(tensors), device, "initialisation");
}

Model::Model(std::unique_ptr<internal::ModelState> state) : state_(std::move(state)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

const common::NetworkDef& Model::def() const { return state_->def; }

std::string Model::device() const { return state_->device.str(); }

int64_t Model::ParameterCount() const {
  int64_t count = 0;
  for (const auto& [name, tensor] : state_->tensors) {
    if (tensor.requires_grad()) count += tensor.numel();
  }
  return count;
}

absl::StatusOr<Model> Model::CopyTo(absl::string_view device) const {
  NETADAPT_ASSIGN_OR_RETURN(c10::Device target, internal::ParseDevice(device));
  internal::NamedTensors copies;
  {
    c10::NoGradGuard no_grad;
    for (const auto& [name, tensor] : state_->tensors) {
      copies[name] = tensor.detach().to(target, /*non_blocking=*/false, /*copy=*/true);
    }
  }
  return internal::MakeModel(state_->def, std::move(copies), target, "copy");
}

absl::StatusOr<std::vector<float>> Infer(const Model& model, const std::vector<float>& input,
                                         int batch) {
  const common::TensorShape& shape = model.def().input;
  const int64_t per_sample = shape.Elements();
  if (batch <= 0 || static_cast<int64_t>(input.size()) != batch * per_sample) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input: ", input.size(), " values, but ", batch, " samples of [", shape.channels, ", ",
        shape.height, ", ", shape.width, "] need ", int64_t{batch} * per_sample));
  }
  c10::NoGradGuard no_grad;
  const at::Tensor x =
      at::from_blob(const_cast<float*>(input.data()),
                    {batch, shape.channels, shape.height, shape.width},
                    at::TensorOptions().dtype(c10::kFloat))
          .to(model.state().device, /*non_blocking=*/false, /*copy=*/true);
  const at::Tensor y =
      internal::Forward(model.state(), x, /*training=*/false).to(c10::kCPU).contiguous();
  const float* data = y.data_ptr<float>();
  return std::vector<float>(data, data + y.numel());
}

namespace internal {

absl::StatusOr<Model> MakeModel(const common::NetworkDef& def, NamedTensors tensors,
                                c10::Device device, absl::string_view source) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorSpec> specs, common::NetworkTensors(def));
  std::vector<std::string> missing;
  std::set<std::string> expected;
  for (const TensorSpec& spec : specs) {
    expected.insert(spec.name);
    auto it = tensors.find(spec.name);
    if (it == tensors.end() || !it->second.defined()) {
      missing.push_back(spec.name);
      continue;
    }
    const at::Tensor& tensor = it->second;
    if (SizesOf(tensor) != spec.shape) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor ", spec.name, " has shape ", common::ShapeString(SizesOf(tensor)),
          " but the network definition needs ", common::ShapeString(spec.shape)));
    }
    if (tensor.scalar_type() != ScalarTypeOf(spec.dtype)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor ", spec.name, " has dtype ",
                       c10::toString(tensor.scalar_type()), " but the network definition needs ",
                       c10::toString(ScalarTypeOf(spec.dtype))));
    }
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": missing tensors ",
                                                   absl::StrJoin(missing, ", ")));
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, tensor] : tensors) {
    if (expected.count(name) == 0) unexpected.push_back(name);
  }
  if (!unexpected.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": tensors not in the network definition: ", absl::StrJoin(unexpected, ", ")));
  }

  auto state = std::make_unique<ModelState>();
  state->def = def;
  state->inputs = common::InputIndices(def);
  state->device = device;
  c10::NoGradGuard no_grad;
  for (const TensorSpec& spec : specs) {
    at::Tensor tensor = tensors[spec.name].detach().to(device).contiguous();
    if (spec.role == TensorRole::kParameter) tensor.set_requires_grad(true);
    state->tensors[spec.name] = std::move(tensor);
  }
  return Model(std::move(state));
}

namespace {

const at::Tensor& TensorOf(const ModelState& model, const Layer& layer, const char* field) {
  return model.tensors.at(absl::StrCat(layer.name, ".", field));
}

at::Tensor OptionalBias(const ModelState& model, const Layer& layer) {
  return layer.bias ? TensorOf(model, layer, "bias") : at::Tensor();
}

}  // namespace

at::Tensor Forward(const ModelState& model, const at::Tensor& input, bool training,
                   at::Generator* dropout_generator) {
  const std::vector<Layer>& layers = model.def.layers;
  const int n = static_cast<int>(layers.size());
  // Each output is held until its last reader has run, so a chain keeps one tensor alive.
  std::vector<int> last_use(n, -1);
  for (int i = 0; i < n; ++i) {
    for (int k : model.inputs[i]) {
      if (k != common::kNetworkInput) last_use[k] = i;
    }
  }
  std::vector<at::Tensor> outputs(n);
  auto in = [&](int i, size_t k) -> const at::Tensor& {
    const int source = model.inputs[i][k];
    return source == common::kNetworkInput ? input : outputs[source];
  };
  for (int i = 0; i < n; ++i) {
    const Layer& layer = layers[i];
    const at::Tensor& x = in(i, 0);
    at::Tensor y;
    switch (layer.op) {
      case LayerOp::kConv2d:
        y = at::conv2d(x, TensorOf(model, layer, "weight"), OptionalBias(model, layer),
                       {layer.stride.h, layer.stride.w}, {layer.padding.h, layer.padding.w},
                       /*dilation=*/{1, 1}, layer.groups);
        break;
      case LayerOp::kLinear:
        y = at::linear(x, TensorOf(model, layer, "weight"), OptionalBias(model, layer));
        break;
      case LayerOp::kBatchNorm2d: {
        if (training) {
          // nn.BatchNorm2d counts the batches it has seen; kept for state_dict fidelity.
          c10::NoGradGuard no_grad;
          TensorOf(model, layer, "num_batches_tracked").add_(1);
        }
        y = at::batch_norm(x, TensorOf(model, layer, "weight"), TensorOf(model, layer, "bias"),
                           TensorOf(model, layer, "running_mean"),
                           TensorOf(model, layer, "running_var"), training, /*momentum=*/0.1,
                           layer.eps, /*cudnn_enabled=*/true);
        break;
      }
      case LayerOp::kRelu:
        y = at::relu(x);
        break;
      case LayerOp::kRelu6:
        y = at::relu6(x);
        break;
      case LayerOp::kSigmoid:
        y = at::sigmoid(x);
        break;
      case LayerOp::kHardsigmoid:
        y = at::hardsigmoid(x);
        break;
      case LayerOp::kHardswish:
        y = at::hardswish(x);
        break;
      case LayerOp::kMaxPool2d:
        y = at::max_pool2d(x, {layer.kernel.h, layer.kernel.w}, {layer.stride.h, layer.stride.w},
                           {layer.padding.h, layer.padding.w}, /*dilation=*/{1, 1},
                           layer.ceil_mode);
        break;
      case LayerOp::kAvgPool2d:
        y = at::avg_pool2d(x, {layer.kernel.h, layer.kernel.w}, {layer.stride.h, layer.stride.w},
                           {layer.padding.h, layer.padding.w}, layer.ceil_mode);
        break;
      case LayerOp::kAdaptiveAvgPool2d:
        y = at::adaptive_avg_pool2d(x, {layer.output_size.h, layer.output_size.w});
        break;
      case LayerOp::kFlatten:
        y = x.flatten(1);
        break;
      case LayerOp::kDropout:
        if (training && dropout_generator != nullptr && x.is_cpu() && layer.p > 0 &&
            layer.p < 1) {
          // at::dropout has no generator argument: the same inverted dropout, drawn from ours.
          const at::Tensor keep =
              at::empty_like(x, x.options().requires_grad(false))
                  .bernoulli_(1.0 - layer.p, *dropout_generator);
          y = x * keep / (1.0 - layer.p);
        } else {
          y = at::dropout(x, layer.p, training);
        }
        break;
      case LayerOp::kAdd:
        y = x + in(i, 1);
        for (size_t k = 2; k < model.inputs[i].size(); ++k) y = y + in(i, k);
        break;
      case LayerOp::kMul:
        y = x * in(i, 1);  // broadcasts a [N, C, 1, 1] gate
        break;
      case LayerOp::kConcat: {
        std::vector<at::Tensor> parts;
        for (size_t k = 0; k < model.inputs[i].size(); ++k) parts.push_back(in(i, k));
        y = at::cat(parts, 1);
        break;
      }
    }
    outputs[i] = std::move(y);
    for (int k : model.inputs[i]) {
      if (k != common::kNetworkInput && last_use[k] == i) outputs[k].reset();
    }
  }
  return outputs[n - 1];
}

}  // namespace internal
}  // namespace netadapt::engine
