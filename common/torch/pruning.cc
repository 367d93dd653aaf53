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
using common::BlockMember;
using common::Layer;

// Kept channel indices: the `width` largest group importances, ties to the lower index,
// ascending. A channel's importance is the sum over the block's producers of its filter's
// squared L2 norm (Torch-Pruning's default grouping); with one producer that orders the
// channels as its L2 norms do. Summed in double: squares of distinct floats stay distinct.
std::vector<int> ChooseChannels(const internal::ModelState& state, const Block& block,
                                int width) {
  std::vector<double> importance(block.width, 0.0);
  for (int producer : block.producers) {
    const at::Tensor& weight =
        state.tensors.at(absl::StrCat(state.def.layers[producer].name, ".weight"));
    const at::Tensor norms =
        weight.detach().flatten(1).norm(2, {1}).to(c10::kCPU).contiguous();
    const float* norm = norms.data_ptr<float>();
    for (int c = 0; c < block.width; ++c) {
      importance[c] += static_cast<double>(norm[c]) * static_cast<double>(norm[c]);
    }
  }
  std::vector<int> order(block.width);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return importance[a] > importance[b]; });
  order.resize(width);
  std::sort(order.begin(), order.end());
  return order;
}

// Indices along an axis laid out as `layout` that survive when block `block` keeps `kept`:
// the block's segments keep the kept channels (each channel owns features_per_channel
// consecutive features: flatten is channel-major), every other segment keeps everything.
std::vector<int64_t> KeptIndices(const common::ChannelLayout& layout, int block,
                                 const std::vector<int>& kept) {
  std::vector<int64_t> indices;
  int64_t offset = 0;
  for (const common::ChannelSegment& segment : layout) {
    const int per_channel = segment.features_per_channel;
    if (segment.block == block) {
      for (int c : kept) {
        for (int k = 0; k < per_channel; ++k) {
          indices.push_back(offset + int64_t{c} * per_channel + k);
        }
      }
    } else {
      for (int64_t f = 0; f < int64_t{segment.channels} * per_channel; ++f) {
        indices.push_back(offset + f);
      }
    }
    offset += int64_t{segment.channels} * per_channel;
  }
  return indices;
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
  if (width < 1 || width > target.width) {
    return absl::InvalidArgumentError(
        absl::StrCat("width: ", width, " is not in [1, ", target.width, "] for block ", block,
                     " (", target.Description(state.def), ")"));
  }

  c10::NoGradGuard no_grad;
  const std::vector<int> kept = ChooseChannels(state, target, width);

  internal::NamedTensors tensors;
  for (const auto& [name, tensor] : state.tensors) tensors[name] = tensor.detach();
  for (const BlockMember& member : target.members) {
    const Layer& layer = state.def.layers[member.layer_index];
    const at::Tensor index = IndexTensor(KeptIndices(member.layout, block, kept), state.device);
    switch (member.kind) {
      case BlockMember::Kind::kProducer:
      case BlockMember::Kind::kDepthwiseConv:
        Slice(tensors, layer, "weight", 0, index);
        Slice(tensors, layer, "bias", 0, index);
        break;
      case BlockMember::Kind::kBatchNorm:
        for (const char* field : {"weight", "bias", "running_mean", "running_var"}) {
          Slice(tensors, layer, field, 0, index);
        }
        break;
      case BlockMember::Kind::kConsumer:
        Slice(tensors, layer, "weight", 1, index);
        break;
    }
  }
  NETADAPT_ASSIGN_OR_RETURN(
      Model pruned, internal::MakeModel(common::WithBlockWidth(state.def, target, width),
                                        std::move(tensors), state.device, "pruning"));
  return PruneResult{std::move(pruned), kept};
}

}  // namespace netadapt::engine
