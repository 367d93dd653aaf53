#include "common/zoo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ZooTest, EveryModelIsValidAtDefaultAndTinySizes) {
  for (const std::string& name : ZooNames()) {
    for (int size : {0, 32}) {
      for (double width : {1.0, 0.125}) {
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

TEST(ZooTest, RejectsUnknownModelsAndBadOptions) {
  EXPECT_THAT(ZooNetwork("resnet50", {}),
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
