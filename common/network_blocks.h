#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/network_def.h"

namespace netadapt::common {

// A layer whose width follows a block's output count.
struct BlockDependent {
  enum class Kind {
    kBatchNorm,      // num_features follows.
    kDepthwiseConv,  // in, out and groups follow.
    kConsumer,       // the next conv or linear: its inputs follow (x features_per_channel).
  };
  int layer_index = 0;
  Kind kind = Kind::kBatchNorm;
  // kConsumer only: inputs per block channel; H*W when a flatten sits between, else 1.
  int features_per_channel = 1;
};

// A prunable unit: a conv (groups = 1) or linear layer whose output count can shrink, plus
// every layer that count touches, in layer order. The last dependent is always the consumer.
struct Block {
  int layer_index = 0;  // index into NetworkDef::layers
  std::vector<BlockDependent> dependents;

  // Index of the consumer layer.
  int ConsumerIndex() const { return dependents.back().layer_index; }
};

// The blocks of a valid network, in layer order (block b is result[b]). A conv or linear layer
// is a block unless its output reaches the network output without another conv or linear (the
// classifier), or its outputs feed a grouped, non-depthwise conv (which ties channel groups;
// not supported yet). InvalidArgument when `network` fails Validate().
absl::StatusOr<std::vector<Block>> FindBlocks(const NetworkDef& network);

// FindBlocks for a network that passed InferShapes, with the shapes it returned.
std::vector<Block> FindBlocks(const NetworkDef& network, const std::vector<TensorShape>& shapes);

// A copy of `network` with block `block`'s output count set to `width` and every dependent
// resized to match. `width` must be positive; `block` must come from FindBlocks(network).
NetworkDef WithBlockWidth(const NetworkDef& network, const Block& block, int width);

}  // namespace netadapt::common
