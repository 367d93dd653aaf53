#include "common/zoo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/network_blocks.h"
#include "common/network_tensors.h"
#include "common/status_macros.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

NetworkDef Zoo(const std::string& name, int input_size = 0, double width = 1.0,
               int num_classes = 10) {
  ZooOptions options;
  options.input_size = input_size;
  options.width_multiplier = width;
  options.num_classes = num_classes;
  absl::StatusOr<NetworkDef> network = ZooNetwork(name, options);
  NETADAPT_CHECK(network.ok());
  return *std::move(network);
}

// What torchvision's sum(p.numel() for p in model.parameters()) counts: weights and biases,
// not batchnorm running statistics.
int64_t ParameterCount(const NetworkDef& network) {
  absl::StatusOr<std::vector<TensorSpec>> tensors = NetworkTensors(network);
  NETADAPT_CHECK(tensors.ok());
  int64_t count = 0;
  for (const TensorSpec& tensor : *tensors) {
    if (tensor.role != TensorRole::kParameter) continue;
    int64_t elements = 1;
    for (int64_t size : tensor.shape) elements *= size;
    count += elements;
  }
  return count;
}

// Each block's producer names, in FindBlocks order.
std::vector<std::vector<std::string>> BlockProducers(const NetworkDef& network) {
  absl::StatusOr<std::vector<Block>> blocks = FindBlocks(network);
  NETADAPT_CHECK(blocks.ok());
  std::vector<std::vector<std::string>> producers;
  for (const Block& block : *blocks) {
    producers.emplace_back();
    for (int index : block.producers) producers.back().push_back(network.layers[index].name);
  }
  return producers;
}

std::vector<std::string> LayerNames(const NetworkDef& network) {
  std::vector<std::string> names;
  for (const Layer& layer : network.layers) names.push_back(layer.name);
  return names;
}

TEST(ZooTest, EveryModelIsValidAtDefaultAndTinySizes) {
  for (const std::string& name : ZooNames()) {
    for (int size : {0, 32}) {
      for (double width : {1.0, 0.25, 0.125}) {
        ZooOptions options;
        options.input_size = size;
        options.width_multiplier = width;
        absl::StatusOr<NetworkDef> network = ZooNetwork(name, options);
        EXPECT_THAT(network, IsOk()) << name << " size " << size << " width " << width;
      }
    }
  }
}

TEST(ZooTest, AlexNetMatchesTorchvisionShapesAt224) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("alexnet", {}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_EQ(shapes[net.FindLayer("features.0")], (TensorShape{64, 55, 55}));
  EXPECT_EQ(shapes[net.FindLayer("features.12")], (TensorShape{256, 6, 6}));
  EXPECT_EQ(shapes[net.FindLayer("flatten")], (TensorShape{9216, 1, 1}));
  EXPECT_EQ(WidthsString(net), "64 192 384 256 256 4096 4096 10");
}

TEST(ZooTest, MobileNetHasThirteenDepthwiseSeparableBlocks) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("mobilenet", {}));
  int depthwise = 0;
  for (const Layer& layer : net.layers) depthwise += layer.IsDepthwise();
  EXPECT_EQ(depthwise, 13);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_EQ(shapes[net.FindLayer("model.13.5")], (TensorShape{1024, 7, 7}));
  EXPECT_EQ(shapes[net.FindLayer("model.14")], (TensorShape{1024, 1, 1}));
  EXPECT_EQ(net.layers.back().name, "fc");
}

TEST(ZooTest, WidthMultiplierScalesHiddenWidthsOnly) {
  ZooOptions options;
  options.width_multiplier = 0.25;
  options.num_classes = 7;
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("vgg16", options));
  EXPECT_EQ(net.layers.front().out_channels, 16);
  EXPECT_EQ(net.layers.back().out_channels, 7);
}

// The figures torchvision 0.14 reports (models' num_params metadata) at 1000 classes.
TEST(ZooTest, ParameterCountsMatchTorchvision) {
  EXPECT_EQ(ParameterCount(Zoo("resnet18", 0, 1.0, 1000)), 11689512);
  EXPECT_EQ(ParameterCount(Zoo("resnet34", 0, 1.0, 1000)), 21797672);
  EXPECT_EQ(ParameterCount(Zoo("resnet50", 0, 1.0, 1000)), 25557032);
  EXPECT_EQ(ParameterCount(Zoo("mobilenet_v2", 0, 1.0, 1000)), 3504872);
}

// torchvision's mobilenet_v2(width_mult=w, num_classes=c), counted with torchvision 0.14.
TEST(ZooTest, MobileNetV2WidthsFollowTorchvisionWidthMult) {
  EXPECT_EQ(ParameterCount(Zoo("mobilenet_v2", 0, 0.25, 10)), 250922);
  EXPECT_EQ(ParameterCount(Zoo("mobilenet_v2", 0, 0.35, 10)), 408938);
  EXPECT_EQ(ParameterCount(Zoo("mobilenet_v2", 0, 0.75, 1000)), 2636424);
  EXPECT_EQ(ParameterCount(Zoo("mobilenet_v2", 0, 1.4, 1000)), 6108776);
  const NetworkDef quarter = Zoo("mobilenet_v2", 32, 0.25);
  // Multiples of 8, at least 8; the last conv keeps its 1280.
  EXPECT_EQ(quarter.layers[quarter.FindLayer("features.0.0")].out_channels, 8);
  EXPECT_EQ(quarter.layers[quarter.FindLayer("features.1.conv.1")].out_channels, 8);
  EXPECT_EQ(quarter.layers[quarter.FindLayer("features.18.0")].out_channels, 1280);
  // 32 * 0.25 and 16 * 0.25 both round to 8, so features.1 keeps its shape and, as in
  // torchvision (use_res_connect), gets a shortcut it lacks at full width.
  EXPECT_NE(quarter.FindLayer("features.1.add"), -1);
  EXPECT_EQ(Zoo("mobilenet_v2").FindLayer("features.1.add"), -1);
}

TEST(ZooTest, ResNetShapesMatchTorchvisionAt224) {
  const NetworkDef resnet18 = Zoo("resnet18");
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(resnet18));
  EXPECT_EQ(shapes[resnet18.FindLayer("maxpool")], (TensorShape{64, 56, 56}));
  EXPECT_EQ(shapes[resnet18.FindLayer("layer2.0.relu2")], (TensorShape{128, 28, 28}));
  EXPECT_EQ(shapes[resnet18.FindLayer("layer4.1.relu2")], (TensorShape{512, 7, 7}));
  EXPECT_EQ(resnet18.layers.back().name, "fc");
  EXPECT_EQ(resnet18.layers.back().in_channels, 512);

  const NetworkDef resnet50 = Zoo("resnet50");
  NETADAPT_ASSERT_OK_AND_ASSIGN(shapes, InferShapes(resnet50));
  // v1.5: layer2.0 strides in its 3x3 conv2, not in the 1x1 conv1.
  EXPECT_EQ(shapes[resnet50.FindLayer("layer2.0.conv1")], (TensorShape{128, 56, 56}));
  EXPECT_EQ(shapes[resnet50.FindLayer("layer2.0.conv2")], (TensorShape{128, 28, 28}));
  EXPECT_EQ(shapes[resnet50.FindLayer("layer4.2.relu3")], (TensorShape{2048, 7, 7}));
  // Every stage's first block has a downsample shortcut (layer1's widens 64 to 256).
  for (const char* name : {"layer1.0.downsample.0", "layer2.0.downsample.0",
                           "layer3.0.downsample.0", "layer4.0.downsample.0"}) {
    EXPECT_NE(resnet50.FindLayer(name), -1) << name;
  }
  EXPECT_EQ(resnet50.FindLayer("layer1.1.downsample.0"), -1);
  // resnet18's layer1 keeps 64 channels at stride 1: no downsample.
  EXPECT_EQ(resnet18.FindLayer("layer1.0.downsample.0"), -1);
  EXPECT_EQ(resnet18.layers[resnet18.FindLayer("layer2.0.downsample.0")].stride, (Pair{2, 2}));
}

// A residual stage is one channel group (the adds tie its blocks' outputs to the shortcut);
// each basic block's conv1 is a group of its own; fc is tied to the output.
TEST(ZooTest, ResNet18BlocksAreResidualStagesAndInnerConvs) {
  const NetworkDef net = Zoo("resnet18", 32, 0.25);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  EXPECT_THAT(
      BlockProducers(net),
      ElementsAre(
          ElementsAre("conv1", "layer1.0.conv2", "layer1.1.conv2"), ElementsAre("layer1.0.conv1"),
          ElementsAre("layer1.1.conv1"), ElementsAre("layer2.0.conv1"),
          ElementsAre("layer2.0.conv2", "layer2.0.downsample.0", "layer2.1.conv2"),
          ElementsAre("layer2.1.conv1"), ElementsAre("layer3.0.conv1"),
          ElementsAre("layer3.0.conv2", "layer3.0.downsample.0", "layer3.1.conv2"),
          ElementsAre("layer3.1.conv1"), ElementsAre("layer4.0.conv1"),
          ElementsAre("layer4.0.conv2", "layer4.0.downsample.0", "layer4.1.conv2"),
          ElementsAre("layer4.1.conv1")));
  EXPECT_EQ(blocks[0].Description(net), "layer1 (3 layers: conv1, layer1.0.conv2, layer1.1.conv2)");
  EXPECT_EQ(blocks[4].name, "layer2");
  EXPECT_EQ(blocks[4].width, 32);
  EXPECT_EQ(blocks[10].width, 128);
}

TEST(ZooTest, ResNet50BlocksAreResidualStagesAndInnerConvs) {
  const NetworkDef net = Zoo("resnet50", 32, 0.125);
  const std::vector<std::vector<std::string>> producers = BlockProducers(net);
  // The stem (its channels feed layer1.0's conv1 and downsample, and no add), the 4 stages and
  // the conv1 and conv2 of each of the 16 bottlenecks.
  ASSERT_EQ(producers.size(), 1u + 4 + 2 * 16);
  EXPECT_THAT(producers[0], ElementsAre("conv1"));
  EXPECT_THAT(producers[1], ElementsAre("layer1.0.conv1"));
  EXPECT_THAT(producers[2], ElementsAre("layer1.0.conv2"));
  EXPECT_THAT(producers[3], ElementsAre("layer1.0.conv3", "layer1.0.downsample.0",
                                        "layer1.1.conv3", "layer1.2.conv3"));
  EXPECT_THAT(producers, Contains(ElementsAre("layer3.0.conv3", "layer3.0.downsample.0",
                                              "layer3.1.conv3", "layer3.2.conv3",
                                              "layer3.3.conv3", "layer3.4.conv3",
                                              "layer3.5.conv3")));
  EXPECT_THAT(producers, Contains(ElementsAre("layer4.2.conv2")));
  EXPECT_THAT(producers, Not(Contains(ElementsAre("fc"))));
}

// Stages of more than one inverted residual are groups (their projections are tied by the
// adds); expansion convs are blocks of their own; depthwise convs and the classifier never
// produce a block.
TEST(ZooTest, MobileNetV2BlocksAreResidualStagesAndExpansions) {
  const NetworkDef net = Zoo("mobilenet_v2", 32, 0.5);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  std::vector<std::vector<std::string>> groups;
  for (const std::vector<std::string>& producers : BlockProducers(net)) {
    if (producers.size() > 1) groups.push_back(producers);
  }
  EXPECT_THAT(groups,
              ElementsAre(ElementsAre("features.2.conv.2", "features.3.conv.2"),
                          ElementsAre("features.4.conv.2", "features.5.conv.2",
                                      "features.6.conv.2"),
                          ElementsAre("features.7.conv.2", "features.8.conv.2",
                                      "features.9.conv.2", "features.10.conv.2"),
                          ElementsAre("features.11.conv.2", "features.12.conv.2",
                                      "features.13.conv.2"),
                          ElementsAre("features.14.conv.2", "features.15.conv.2",
                                      "features.16.conv.2")));
  const std::vector<std::vector<std::string>> producers = BlockProducers(net);
  for (int k = 2; k <= 17; ++k) {
    const std::string expand = "features." + std::to_string(k) + ".conv.0.0";
    EXPECT_THAT(producers, Contains(ElementsAre(expand)));
  }
  EXPECT_THAT(producers, Contains(ElementsAre("features.0.0")));
  EXPECT_THAT(producers, Contains(ElementsAre("features.18.0")));
  for (const Block& block : blocks) {
    for (int index : block.producers) {
      EXPECT_FALSE(net.layers[index].IsDepthwise()) << net.layers[index].name;
      EXPECT_NE(net.layers[index].name, "classifier.1");
    }
  }
  const NetworkDef full = Zoo("mobilenet_v2");
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(full));
  EXPECT_EQ(shapes[full.FindLayer("features.18.2")], (TensorShape{1280, 7, 7}));
}

// A width multiplier never changes the layer names (so state_dict keys and LUT entries stay
// torchvision's), even where it makes torchvision's distinct widths coincide.
TEST(ZooTest, ResNetLayerNamesDoNotDependOnWidth) {
  for (const char* name : {"resnet18", "resnet34", "resnet50"}) {
    EXPECT_EQ(LayerNames(Zoo(name, 32, 1.0 / 256)), LayerNames(Zoo(name))) << name;
    EXPECT_THAT(Validate(Zoo(name, 16, 1.0 / 256)), IsOk()) << name;
  }
  const NetworkDef narrow = Zoo("resnet50", 32, 0.25);
  EXPECT_EQ(narrow.layers[narrow.FindLayer("layer1.0.conv1")].out_channels, 16);
  EXPECT_EQ(narrow.layers[narrow.FindLayer("layer1.2.conv3")].out_channels, 64);
  EXPECT_EQ(narrow.layers.back().in_channels, 512);
  EXPECT_EQ(narrow.layers.back().out_channels, 10);
}

TEST(ZooTest, RejectsUnknownModelsAndBadOptions) {
  EXPECT_THAT(ZooNetwork("resnet101", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown model")));
  ZooOptions bad;
  bad.width_multiplier = -1;
  EXPECT_THAT(ZooNetwork("alexnet", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("width_multiplier")));
  ZooOptions too_small;
  too_small.input_size = 4;
  EXPECT_THAT(ZooNetwork("vgg16", too_small),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("goes to zero")));
}

}  // namespace
}  // namespace netadapt::common
