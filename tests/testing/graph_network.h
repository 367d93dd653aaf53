#pragma once
// A small graph network with every graph construct channel groups must handle, for the tests
// of groups, pruning, the search and the exporters.

#include "common/network_def.h"

namespace netadapt::testing {

// Input 3x16x16, output 5 logits. Channel groups (FindBlocks order):
//   0 stem: stem.conv, mix.conv and se.expand, tied by the residual add and the
//     squeeze-excite mul; touches stem.bn, mix.bn, dw (depthwise) and dw.bn, and is consumed
//     by a.conv, b.conv, se.reduce and pw;
//   1 a.conv and 2 b.conv: concatenated (offsets 0 and 8) into mix.conv;
//   3 se.reduce; 4 pw (reaches fc1 through a flatten: 64 features per channel); 5 fc1.
// The gate is mul's first operand, hardswish and sigmoid sit on group paths, and the add has
// the residual second.
inline common::NetworkDef GraphOpNetwork() {
  using common::Layer;
  using common::LayerOp;
  common::NetworkDef def;
  def.name = "graph_ops";
  def.input = {3, 16, 16};
  def.layers = {
      Layer::Conv2d("stem.conv", 3, 16, {3, 3}, {1, 1}, {1, 1}),
      Layer::BatchNorm2d("stem.bn", 16),
      Layer::Relu("stem.relu"),
      Layer::Conv2d("a.conv", 16, 8, {1, 1}),
      Layer::Relu("a.relu"),
      Layer::Conv2d("b.conv", 16, 8, {3, 3}, {1, 1}, {1, 1}),
      Layer::Op("b.act", LayerOp::kHardswish),
      Layer::Op("cat", LayerOp::kConcat, {"a.relu", "b.act"}),
      Layer::Conv2d("mix.conv", 16, 16, {1, 1}, {1, 1}, {0, 0}, 1, /*bias=*/false),
      Layer::BatchNorm2d("mix.bn", 16),
      Layer::AdaptiveAvgPool2d("se.pool", {1, 1}),
      Layer::Conv2d("se.reduce", 16, 4, {1, 1}),
      Layer::Relu("se.relu"),
      Layer::Conv2d("se.expand", 4, 16, {1, 1}),
      Layer::Op("se.gate", LayerOp::kHardsigmoid),
      Layer::Op("se.mul", LayerOp::kMul, {"se.gate", "mix.bn"}),
      Layer::Op("residual", LayerOp::kAdd, {"se.mul", "stem.relu"}),
      Layer::Conv2d("dw", 16, 16, {3, 3}, {1, 1}, {1, 1}, /*groups=*/16),
      Layer::BatchNorm2d("dw.bn", 16),
      Layer::Relu6("dw.relu"),
      Layer::Conv2d("pw", 16, 24, {1, 1}),
      Layer::Op("pw.act", LayerOp::kSigmoid),
      Layer::MaxPool2d("pool", {2, 2}, {2, 2}),
      Layer::Flatten("flatten"),
      Layer::Dropout("drop", 0.2),
      Layer::Linear("fc1", 24 * 8 * 8, 12),
      Layer::Relu("fc1.relu"),
      Layer::Linear("fc2", 12, 5),
  };
  def.layers[5].inputs = {"stem.relu"};  // b.conv: the second branch
  return def;
}

}  // namespace netadapt::testing
