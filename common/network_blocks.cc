#include "common/network_blocks.h"

#include <optional>

#include "common/status_macros.h"

namespace netadapt::common {
namespace {

// Walks forward from the layer at `start` and collects what its output count touches.
// nullopt when the outputs are not prunable.
std::optional<Block> TraceBlock(const NetworkDef& network, const std::vector<TensorShape>& shapes,
                                int start) {
  Block block;
  block.layer_index = start;
  int features_per_channel = 1;
  for (size_t i = start + 1; i < network.layers.size(); ++i) {
    const Layer& layer = network.layers[i];
    switch (layer.op) {
      case LayerOp::kBatchNorm2d:
        block.dependents.push_back({static_cast<int>(i), BlockDependent::Kind::kBatchNorm, 1});
        break;
      case LayerOp::kConv2d:
        if (features_per_channel != 1) return std::nullopt;  // conv after flatten
        if (layer.IsDepthwise()) {
          block.dependents.push_back(
              {static_cast<int>(i), BlockDependent::Kind::kDepthwiseConv, 1});
          break;
        }
        if (layer.groups != 1) return std::nullopt;
        block.dependents.push_back({static_cast<int>(i), BlockDependent::Kind::kConsumer, 1});
        return block;
      case LayerOp::kLinear:
        block.dependents.push_back(
            {static_cast<int>(i), BlockDependent::Kind::kConsumer, features_per_channel});
        return block;
      case LayerOp::kFlatten: {
        // One channel becomes H*W features of the flattened vector.
        const TensorShape& before = shapes[i - 1];
        features_per_channel *= before.height * before.width;
        break;
      }
      case LayerOp::kRelu:
      case LayerOp::kRelu6:
      case LayerOp::kDropout:
      case LayerOp::kMaxPool2d:
      case LayerOp::kAvgPool2d:
      case LayerOp::kAdaptiveAvgPool2d:
        break;  // channel-wise: the count passes through
    }
  }
  return std::nullopt;  // reaches the network output: the classifier
}

}  // namespace

absl::StatusOr<std::vector<Block>> FindBlocks(const NetworkDef& network) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorShape> shapes, InferShapes(network));
  return FindBlocks(network, shapes);
}

std::vector<Block> FindBlocks(const NetworkDef& network, const std::vector<TensorShape>& shapes) {
  std::vector<Block> blocks;
  for (size_t i = 0; i < network.layers.size(); ++i) {
    const Layer& layer = network.layers[i];
    const bool candidate = (layer.op == LayerOp::kConv2d && layer.groups == 1) ||
                           layer.op == LayerOp::kLinear;
    if (!candidate) continue;
    if (std::optional<Block> block = TraceBlock(network, shapes, static_cast<int>(i))) {
      blocks.push_back(*std::move(block));
    }
  }
  return blocks;
}

NetworkDef WithBlockWidth(const NetworkDef& network, const Block& block, int width) {
  NETADAPT_CHECK(width > 0);
  NetworkDef result = network;
  result.layers[block.layer_index].out_channels = width;
  for (const BlockDependent& dep : block.dependents) {
    Layer& layer = result.layers[dep.layer_index];
    switch (dep.kind) {
      case BlockDependent::Kind::kBatchNorm:
        layer.num_features = width;
        break;
      case BlockDependent::Kind::kDepthwiseConv:
        layer.in_channels = width;
        layer.out_channels = width;
        layer.groups = width;
        break;
      case BlockDependent::Kind::kConsumer:
        layer.in_channels = width * dep.features_per_channel;
        break;
    }
  }
  return result;
}

}  // namespace netadapt::common
