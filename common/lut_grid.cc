#include "common/lut_grid.h"

#include "absl/container/flat_hash_set.h"
#include "common/status_macros.h"

namespace netadapt::common {

absl::StatusOr<std::vector<LayerShape>> GridShapes(const NetworkDef& network,
                                                   const CostContext& context,
                                                   const LutGrid& grid) {
  if (grid.conv_step <= 0 || grid.linear_step <= 0) {
    return absl::InvalidArgumentError("LUT grid steps must be positive");
  }
  NETADAPT_ASSIGN_OR_RETURN(std::vector<CostedLayer> layers, CostedLayers(network, context));
  std::vector<LayerShape> shapes;
  absl::flat_hash_set<LayerShape> seen;
  for (const CostedLayer& layer : layers) {
    const LayerShape& full = layer.shape;
    const int step = full.op == LayerOp::kLinear ? grid.linear_step : grid.conv_step;
    const bool depthwise = full.IsDepthwise();
    for (int in = full.in_channels; in > 0; in -= step) {
      for (int out = depthwise ? in : full.out_channels; out > 0; out -= step) {
        LayerShape shape = full;
        shape.in_channels = in;
        shape.out_channels = out;
        if (depthwise) shape.groups = in;
        if (seen.insert(shape).second) shapes.push_back(shape);
        if (depthwise) break;
      }
    }
  }
  return shapes;
}

}  // namespace netadapt::common
