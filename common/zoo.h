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
  // output stays num_classes. Widths round to the nearest integer, at least 1 (mobilenet_v2
  // rounds as torchvision's width_mult does, see below).
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
//   mobilenet_v2
//              torchvision MobileNetV2 (its state_dict names): features.0.{0,1,2} conv-bn-relu6
//              (3x3/2), features.1..17 inverted residuals (features.k.conv.{0,1}.{0,1,2}
//              expansion 1x1 and depthwise 3x3 conv-bn-relu6, conv.2 linear 1x1, conv.3 bn;
//              features.1 has no expansion, so conv.0 is its depthwise and conv.{1,2} its
//              projection), features.k.add where the block keeps its shape, features.18.{0,1,2}
//              1x1 to 1280, avgpool (adaptive 1x1), flatten, classifier.0 dropout (p 0.2),
//              classifier.1 linear. Widths follow torchvision's width_mult exactly: each is
//              _make_divisible(c * width_multiplier, 8) (a multiple of 8, at least 8) and the
//              last conv's 1280 is never scaled down.
//   resnet18, resnet34, resnet50
//              torchvision ResNets (its state_dict names; resnet50 is v1.5, the stride in the
//              bottleneck's 3x3 conv2): conv1 (7x7/2), bn1, relu, maxpool (3x3/2), then
//              layer1..4 of blocks layerS.B: conv1, bn1, relu1, conv2, bn2 (resnet50: relu2,
//              conv3, bn3), downsample.{0,1} (1x1 conv, bn) on the first block of a stage that
//              changes the shape, add (body, shortcut), relu2 (resnet50: relu3); avgpool
//              (adaptive 1x1), flatten, fc. Every block of a stage outputs the stage's width.
//   vgg16      torchvision VGG-16 (no batchnorm): 13 3x3 convs in features, avgpool (adaptive
//              7x7), classifier.{0,3,6} linear (25088 -> 4096 -> 4096 -> classes).
// InvalidArgument for an unknown name or options that give an invalid network.
absl::StatusOr<NetworkDef> ZooNetwork(absl::string_view name, const ZooOptions& options = {});

// The names ZooNetwork accepts.
std::vector<std::string> ZooNames();

}  // namespace netadapt::common
