#include "common/torch/pruning.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/network_blocks.h"
#include "common/status_macros.h"
#include "common/torch/internal/model_state.h"

namespace netadapt::engine {
namespace {

using common::Block;
using common::BlockDependent;
using common::Layer;

// Kept filter indices: the `width` largest L2 norms, ties to the lower index, ascending.
std::vector<int> ChooseFilters(const at::Tensor& weight, int width) {
  const at::Tensor norms = weight.detach().flatten(1).norm(2, {1}).to(c10::kCPU).contiguous();
  const float* norm = norms.data_ptr<float>();
  std::vector<int> order(norms.numel());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return norm[a] > norm[b]; });
  order.resize(width);
  std::sort(order.begin(), order.end());
  return order;
}

// Input-feature indices of the consumer for the kept channels: channel c owns features
// [c * per_channel, (c + 1) * per_channel) (flatten is channel-major).
std::vector<int64_t> ConsumerFeatures(const std::vector<int>& kept, int per_channel) {
  std::vector<int64_t> features;
  features.reserve(kept.size() * per_channel);
  for (int c : kept) {
    for (int k = 0; k < per_channel; ++k) features.push_back(int64_t{c} * per_channel + k);
  }
  return features;
}

at::Tensor IndexTensor(const std::vector<int64_t>& indices, c10::Device device) {
  return at::from_blob(const_cast<int64_t*>(indices.data()),
                       {static_cast<int64_t>(indices.size())}, at::TensorOptions(c10::kLong))
      .to(device, /*non_blocking=*/false, /*copy=*/true);
}

void Slice(internal::NamedTensors& tensors, const Layer& layer, const char* field, int64_t dim,
           const at::Tensor& index) {
  auto it = tensors.find(absl::StrCat(layer.name, ".", field));
  if (it == tensors.end()) return;  // e.g. no bias
  it->second = it->second.detach().index_select(dim, index);
}

}  // namespace

absl::StatusOr<PruneResult> PruneBlock(const Model& model, int block, int width) {
  const internal::ModelState& state = model.state();
  NETADAPT_ASSIGN_OR_RETURN(std::vector<Block> blocks, common::FindBlocks(state.def));
  if (block < 0 || block >= static_cast<int>(blocks.size())) {
    return absl::InvalidArgumentError(absl::StrCat("block: ", block, " is out of range; ",
                                                   state.def.name, " has ", blocks.size(),
                                                   " blocks"));
  }
  const Block& target = blocks[block];
  const Layer& layer = state.def.layers[target.layer_index];
  if (width < 1 || width > layer.out_channels) {
    return absl::InvalidArgumentError(absl::StrCat("width: ", width, " is not in [1, ",
                                                   layer.out_channels, "] for block ", block,
                                                   " (", layer.name, ")"));
  }

  c10::NoGradGuard no_grad;
  const std::vector<int> kept =
      ChooseFilters(state.tensors.at(absl::StrCat(layer.name, ".weight")), width);
  const at::Tensor channels =
      IndexTensor(std::vector<int64_t>(kept.begin(), kept.end()), state.device);

  internal::NamedTensors tensors;
  for (const auto& [name, tensor] : state.tensors) tensors[name] = tensor.detach();
  Slice(tensors, layer, "weight", 0, channels);
  Slice(tensors, layer, "bias", 0, channels);
  for (const BlockDependent& dep : target.dependents) {
    const Layer& dependent = state.def.layers[dep.layer_index];
    switch (dep.kind) {
      case BlockDependent::Kind::kBatchNorm:
        for (const char* field : {"weight", "bias", "running_mean", "running_var"}) {
          Slice(tensors, dependent, field, 0, channels);
        }
        break;
      case BlockDependent::Kind::kDepthwiseConv:
        Slice(tensors, dependent, "weight", 0, channels);
        Slice(tensors, dependent, "bias", 0, channels);
        break;
      case BlockDependent::Kind::kConsumer:
        Slice(tensors, dependent, "weight", 1,
              dep.features_per_channel == 1
                  ? channels
                  : IndexTensor(ConsumerFeatures(kept, dep.features_per_channel), state.device));
        break;
    }
  }
  NETADAPT_ASSIGN_OR_RETURN(
      Model pruned, internal::MakeModel(common::WithBlockWidth(state.def, target, width),
                                        std::move(tensors), state.device, "pruning"));
  return PruneResult{std::move(pruned), kept};
}

}  // namespace netadapt::engine
