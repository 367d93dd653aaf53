#pragma once
// A small network using every op of NetworkDef, for exporters' tests (ONNX).

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

}  // namespace netadapt::testing
