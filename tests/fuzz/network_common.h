#pragma once
// What every network-carrying fuzz target does with a network that parsed: the analyses the
// master and the workers run on user input (shapes, blocks, costs, tensors, JSON round trip).
// None may crash, whatever the network.

#include <vector>

#include "common/layer_shape.h"
#include "common/network_blocks.h"
#include "common/network_def.h"
#include "common/network_def_json.h"
#include "common/network_tensors.h"

namespace netadapt::fuzz {

inline void AnalyseNetwork(const common::NetworkDef& network) {
  absl::StatusOr<std::vector<common::TensorShape>> shapes = common::InferShapes(network);
  if (!shapes.ok()) return;
  const std::vector<common::Block> blocks = common::FindBlocks(network, *shapes);
  (void)common::CostedLayers(network, *shapes, common::CostContext());
  (void)common::NetworkTensors(network);
  // What the master does to propose: each block at half its width (at least 1).
  for (const common::Block& block : blocks) {
    const common::Layer& layer = network.layers[block.layer_index];
    const int width = layer.out_channels > 1 ? layer.out_channels / 2 : 1;
    const common::NetworkDef smaller = common::WithBlockWidth(network, block, width);
    (void)common::InferShapes(smaller);
  }
  absl::StatusOr<common::NetworkDef> again =
      common::NetworkDefFromJson(common::NetworkDefToJson(network));
  (void)again;
}

}  // namespace netadapt::fuzz
