#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/layer_shape.h"
#include "common/network_def.h"

namespace netadapt::common {

// The channel grid a LUT is built over, as in the original build_lookup_table: for every conv
// and linear layer, in = C_in, C_in - step, ... (> 0) crossed with out = C_out, C_out - step,
// ... (depthwise layers: out = in). The original uses step 8 for convs and 64 for linear
// layers (a 9216 -> 4096 layer at step 8 would need 590k measurements).
struct LutGrid {
  int conv_step = 8;
  int linear_step = 64;
};

// Every distinct shape of the grid for `network`'s layers, in layer order. InvalidArgument for
// an invalid network or a non-positive step.
absl::StatusOr<std::vector<LayerShape>> GridShapes(const NetworkDef& network,
                                                   const CostContext& context,
                                                   const LutGrid& grid);

}  // namespace netadapt::common
