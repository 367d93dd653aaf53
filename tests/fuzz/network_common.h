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
    const int width = block.width > 1 ? block.width / 2 : 1;
    const common::NetworkDef smaller = common::WithBlockWidth(network, block, width);
    // A resized network must stay valid: the groups' rules are what keep it so.
    if (!common::InferShapes(smaller).ok()) __builtin_trap();
  }
  (void)common::ExplainBlocks(network);
  absl::StatusOr<common::NetworkDef> again =
      common::NetworkDefFromJson(common::NetworkDefToJson(network));
  (void)again;
}

}  // namespace netadapt::fuzz
