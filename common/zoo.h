#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "common/network_def.h"

namespace netadapt::common {

// Options every zoo model takes, so tests can build tiny variants.
struct ZooOptions {
  // Square input size in pixels; 0 picks the model's default (224, or 32 for helloworld).
  int input_size = 0;
  int input_channels = 3;
  int num_classes = 10;
  // Scales every hidden width (conv filters and hidden linear features); the classifier's
  // output stays num_classes. Widths round to the nearest integer, at least 1.
  double width_multiplier = 1.0;
};

// The built-in models. Layer names are the PyTorch module names of the models the original
// NetAdapt implementation uses, so weights and LUT entries map one-to-one:
//   alexnet    torchvision AlexNet with a CIFAR-10 classifier: features.{0,3,6,8,10} convs with
//              max pools, avgpool (adaptive 6x6), flatten, classifier.{1,4,6} linear
//              (9216 -> 4096 -> 4096 -> classes, dropout before the first two). Inputs below 64
//              pixels (e.g. CIFAR's 32x32) would shrink to nothing through torchvision's
//              11x11/4 first conv, so there features.0 is a 3x3/2 conv (padding 1) instead.
//   mobilenet  MobileNet V1 as in the original: model.0 conv-bn-relu (3x3/2), model.1..13
//              depthwise-separable conv-bn-relu blocks (model.k.{0,1,2} depthwise, model.k.{3,4,5}
//              pointwise), model.14 average pool over the final feature map, flatten, fc.
//   helloworld the original's tiny example: features.{0,2,4,6} 3x3 convs with ReLUs (the last
//              one outputs the classes), avgpool over the whole map, flatten.
//   vgg16      torchvision VGG-16 (no batchnorm): 13 3x3 convs in features, avgpool (adaptive
//              7x7), classifier.{0,3,6} linear (25088 -> 4096 -> 4096 -> classes).
// InvalidArgument for an unknown name or options that give an invalid network.
absl::StatusOr<NetworkDef> ZooNetwork(absl::string_view name, const ZooOptions& options = {});

// The names ZooNetwork accepts.
std::vector<std::string> ZooNames();

}  // namespace netadapt::common
