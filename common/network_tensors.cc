#include "common/network_tensors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

TensorSpec Spec(const Layer& layer, int index, absl::string_view field,
                std::vector<int64_t> shape, TensorRole role = TensorRole::kParameter,
                TensorDtype dtype = TensorDtype::kFloat32) {
  TensorSpec spec;
  spec.name = absl::StrCat(layer.name, ".", field);
  spec.layer_index = index;
  spec.field = std::string(field);
  spec.shape = std::move(shape);
  spec.role = role;
  spec.dtype = dtype;
  return spec;
}

}  // namespace

absl::StatusOr<std::vector<TensorSpec>> NetworkTensors(const NetworkDef& network) {
  NETADAPT_RETURN_IF_ERROR(Validate(network));
  std::vector<TensorSpec> specs;
  for (int i = 0; i < static_cast<int>(network.layers.size()); ++i) {
    const Layer& layer = network.layers[i];
    switch (layer.op) {
      case LayerOp::kConv2d:
        specs.push_back(Spec(layer, i, "weight",
                             {layer.out_channels, layer.in_channels / layer.groups,
                              layer.kernel.h, layer.kernel.w}));
        if (layer.bias) specs.push_back(Spec(layer, i, "bias", {layer.out_channels}));
        break;
      case LayerOp::kLinear:
        specs.push_back(Spec(layer, i, "weight", {layer.out_channels, layer.in_channels}));
        if (layer.bias) specs.push_back(Spec(layer, i, "bias", {layer.out_channels}));
        break;
      case LayerOp::kBatchNorm2d:
        specs.push_back(Spec(layer, i, "weight", {layer.num_features}));
        specs.push_back(Spec(layer, i, "bias", {layer.num_features}));
        specs.push_back(Spec(layer, i, "running_mean", {layer.num_features}, TensorRole::kBuffer));
        specs.push_back(Spec(layer, i, "running_var", {layer.num_features}, TensorRole::kBuffer));
        specs.push_back(Spec(layer, i, "num_batches_tracked", {}, TensorRole::kBuffer,
                             TensorDtype::kInt64));
        break;
      default:
        break;  // no tensors
    }
  }
  return specs;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace netadapt::common
