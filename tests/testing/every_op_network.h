#pragma once
// Small networks for exporters' tests (ONNX): every sequential op here, the graph ops in
// GraphOpNetwork (graph_network.h) and, below, the graph cases it does not cover.

#include "common/network_def.h"

namespace netadapt::testing {

// Every op, and the cases an exporter has to get right: relu6, a maxpool whose ceil_mode
// matters (13 -> 7 rows; floor mode gives 6), a padded avgpool, an adaptive pool that pools
// the rows (7 -> 1) and doubles the columns (6 -> 12), a grouped (not depthwise) conv, layers
// without bias, and dropout in the middle and at the end. Input 3x13x12, output 5 logits.
inline common::NetworkDef EveryOpNetwork() {
  using common::Layer;
  common::NetworkDef def;
  def.name = "every_op";
  def.input = {3, 13, 12};
  def.layers = {
      Layer::Conv2d("conv", 3, 8, {3, 3}, {1, 1}, {1, 1}),
      Layer::BatchNorm2d("bn", 8),
      Layer::Relu6("relu6"),
      Layer::MaxPool2d("maxpool", {2, 2}, {2, 2}),
      Layer::Conv2d("grouped", 8, 8, {3, 1}, {1, 1}, {1, 0}, /*groups=*/2, /*bias=*/false),
      Layer::Relu("relu"),
      Layer::AvgPool2d("avgpool", {3, 3}, {1, 1}, {1, 1}),
      Layer::AdaptiveAvgPool2d("adaptive", {1, 12}),
      Layer::Dropout("drop", 0.2),
      Layer::Flatten("flatten"),
      Layer::Linear("fc", 8 * 1 * 12, 5, /*bias=*/false),
      Layer::Dropout("out_drop", 0.1),
  };
  def.layers[3].ceil_mode = true;
  return def;
}

// An add of three inputs (an exporter whose Add takes two must chain them), one of them the
// network input and another also read by a relu: values read by several layers. Input 4x6x6,
// output 3 logits.
inline common::NetworkDef ThreeWayAddNetwork() {
  using common::Layer;
  using common::LayerOp;
  common::NetworkDef def;
  def.name = "three_way_add";
  def.input = {4, 6, 6};
  def.layers = {
      Layer::Conv2d("conv", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Relu("relu"),
      Layer::Op("sum", LayerOp::kAdd, {"conv", "relu", "input"}),
      Layer::AdaptiveAvgPool2d("pool", {1, 1}),
      Layer::Flatten("flatten"),
      Layer::Linear("fc", 4, 3),
  };
  return def;
}

// A network whose last layer is a dropout after a residual add: the output is the add's,
// [batch, 4, 5, 5]. Input 4x5x5.
inline common::NetworkDef DropoutAfterAddNetwork() {
  using common::Layer;
  using common::LayerOp;
  common::NetworkDef def;
  def.name = "dropout_after_add";
  def.input = {4, 5, 5};
  def.layers = {
      Layer::Conv2d("conv", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Op("act", LayerOp::kHardswish),
      Layer::Op("residual", LayerOp::kAdd, {"act", "input"}),
      Layer::Dropout("drop", 0.3),
  };
  return def;
}

}  // namespace netadapt::testing
