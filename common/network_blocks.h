#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network_def.h"

namespace netadapt::common {

// Blocks are channel groups: what one NetAdapt proposal shrinks. In a chain a block is one conv
// or linear layer and what its output count touches; in a graph a residual add, a depthwise
// conv or a squeeze-excite gate ties the output channels of several producers together, and
// they are pruned as one. Groups are found from the NetworkDef alone (like Torch-Pruning's
// dependency graph, without tracing):
//   - every conv (groups = 1) and linear layer produces a new channel space;
//   - batchnorm, activations, pools and dropout pass their input's channels through;
//   - a depthwise conv ties its input and output channels;
//   - add ties all its inputs' channels, mul ties the gate's channels to the gated tensor's;
//   - concat lays its inputs' channels side by side (each keeps its own group, at an offset);
//   - flatten maps one channel to H*W features of the next linear layer.
// Channels tied to the network input or output, to a grouped (non-depthwise) conv, or to an add
// or mul whose operands are laid out differently (concats of different splits) are not
// prunable.

// A run of channels on one axis of a layer. A layer's input is a concatenation of segments,
// each belonging to one block or to none (block = -1: not prunable).
struct ChannelSegment {
  int block = -1;
  int channels = 0;
  int features_per_channel = 1;  // H*W after a flatten, else 1
  friend bool operator==(const ChannelSegment& a, const ChannelSegment& b) {
    return a.block == b.block && a.channels == b.channels &&
           a.features_per_channel == b.features_per_channel;
  }
};
using ChannelLayout = std::vector<ChannelSegment>;

// A layer whose shape follows a block's width.
struct BlockMember {
  enum class Kind {
    kProducer,       // conv or linear: out_channels is the block's width
    kBatchNorm,      // num_features follows
    kDepthwiseConv,  // in, out and groups follow
    kConsumer,       // conv or linear: in_channels follow (x features_per_channel)
  };
  int layer_index = 0;
  Kind kind = Kind::kProducer;
  // The channels of the axis that follows: the layer's input for batchnorm, depthwise convs and
  // consumers (a concat lays several blocks side by side), the output for producers.
  ChannelLayout layout;
  // That axis's size is fixed + per_width * width: the other blocks' segments stay.
  int fixed = 0;
  int per_width = 1;
  int Resized(int width) const { return fixed + per_width * width; }
};

// A prunable channel group.
struct Block {
  // The producers' layer indices, ascending; never empty.
  std::vector<int> producers;
  // Every layer the width touches, producers included, in layer order. A layer that consumes
  // and produces the block's channels appears twice (once per kind).
  std::vector<BlockMember> members;
  // The current width (every producer's out_channels).
  int width = 0;
  // A short label: the producer's name for a single producer, else the module prefix most of
  // the producers share ("layer1"), or the first producer's name when that says nothing.
  std::string name;

  // The first producer (the layer a chain's block is named by).
  int layer_index() const { return producers.front(); }
  // "layer1 (3 layers: conv1, layer1.0.conv2, layer1.1.conv2)" for a group, the layer's name
  // for a single producer.
  std::string Description(const NetworkDef& network) const;
};

// The blocks of a valid network, ordered by their first producer (in a chain, block b is the
// b-th prunable conv or linear layer, as before groups existed). InvalidArgument when
// `network` fails Validate().
absl::StatusOr<std::vector<Block>> FindBlocks(const NetworkDef& network);

// FindBlocks for a network that passed InferShapes, with the shapes it returned.
std::vector<Block> FindBlocks(const NetworkDef& network, const std::vector<TensorShape>& shapes);

// A copy of `network` with block `block`'s width set to `width` and every member resized to
// match. `width` must be positive; `block` must come from FindBlocks(network).
NetworkDef WithBlockWidth(const NetworkDef& network, const Block& block, int width);

// What will be pruned together, for `netadapt explain`: one line per block ("block 3: layer1
// (3 layers: conv1, ...), width 64; also resizes 6 layers: ...") and one per conv or linear
// layer whose channels are not prunable, with the reason ("tied to the network output").
// InvalidArgument when `network` fails Validate().
absl::StatusOr<std::string> ExplainBlocks(const NetworkDef& network);

}  // namespace netadapt::common
