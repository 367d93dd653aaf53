#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/torch/model.h"

namespace netadapt::engine {

struct PruneResult {
  Model model;
  // Indices (in the block's original channels) of the channels kept, ascending.
  std::vector<int> kept_filters;
};

// NetAdapt's ChooseWhichFilters over a channel group: keeps the `width` channels of block
// `block` (an index into common::FindBlocks(model.def())) with the largest group importance
// (the sum over the block's producers of each channel's squared filter L2 norm; with a single
// producer, its filters' L2 norms), and slices every tensor the block's channels touch: each
// producer's weight and bias, every batchnorm (weight, bias, running statistics) and depthwise
// conv (filters, bias, groups) they pass through, and every consumer's input channels (at
// their offset in a concat; after flatten, the H*W input features of each kept channel). Ties
// keep the lower index. The result is a smaller dense model on the same device, with the
// matching NetworkDef (common::WithBlockWidth).
// InvalidArgument when `block` is out of range or `width` is not in [1, current width].
absl::StatusOr<PruneResult> PruneBlock(const Model& model, int block, int width);

}  // namespace netadapt::engine
