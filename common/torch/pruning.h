#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/torch/model.h"

namespace netadapt::engine {

struct PruneResult {
  Model model;
  // Indices (in the original layer) of the filters kept, ascending.
  std::vector<int> kept_filters;
};

// NetAdapt's ChooseWhichFilters: keeps the `width` output filters of block `block` (an index
// into common::FindBlocks(model.def())) whose weights have the largest L2 norm, and slices
// every tensor the block's output count touches: the layer's weight and bias, a following
// batchnorm (weight, bias, running statistics), a following depthwise conv (filters, bias,
// groups), and the consumer's input channels (after flatten: the H*W input features of each
// kept channel). Ties keep the lower index. The result is a smaller dense model on the same
// device, with the matching NetworkDef (common::WithBlockWidth).
// InvalidArgument when `block` is out of range or `width` is not in [1, current width].
absl::StatusOr<PruneResult> PruneBlock(const Model& model, int block, int width);

}  // namespace netadapt::engine
