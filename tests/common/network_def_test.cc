#include "common/network_def.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

#include <functional>
#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A network with one layer of every op, sized so each output shape is easy to work out by hand.
NetworkDef EveryOpNetwork() {
  NetworkDef net;
  net.name = "every_op";
  net.input = {3, 32, 32};
  net.layers = {
      Layer::Conv2d("conv1", 3, 8, {3, 3}, {2, 2}, {1, 1}),    // (32 + 2 - 3) / 2 + 1 = 16
      Layer::BatchNorm2d("bn1", 8),                             // unchanged
      Layer::Relu("relu1"),                                     // unchanged
      Layer::MaxPool2d("pool1", {3, 3}, {2, 2}),                // (16 - 3) / 2 + 1 = 7
      Layer::Conv2d("conv2", 8, 16, {3, 1}, {1, 1}, {0, 0}),    // h: 7 - 3 + 1 = 5, w: 7
      Layer::Relu6("relu2"),                                    // unchanged
      Layer::AvgPool2d("pool2", {2, 2}, {2, 2}),                // h: 2, w: 3
      Layer::AdaptiveAvgPool2d("adaptive", {1, 2}),             // 1 x 2
      Layer::Flatten("flatten"),                                // 16 * 1 * 2 = 32 features
      Layer::Dropout("dropout", 0.25),                          // unchanged
      Layer::Linear("fc", 32, 10),                              // 10 features
  };
  return net;
}

// A three-layer conv network whose layers[2] the error tests break in different ways.
NetworkDef SmallConvNet() {
  NetworkDef net;
  net.name = "small";
  net.input = {3, 16, 16};
  net.layers = {
      Layer::Conv2d("conv1", 3, 8, {3, 3}, {1, 1}, {1, 1}),
      Layer::Relu("relu1"),
      Layer::Conv2d("conv2", 8, 16, {3, 3}, {1, 1}, {1, 1}),
  };
  return net;
}

// Shapes of every op, including non-square kernels and a floor-mode max pool.
TEST(InferShapesTest, ComputesEveryLayerOutput) {
  const NetworkDef net = EveryOpNetwork();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_THAT(shapes, ElementsAre(TensorShape{8, 16, 16}, TensorShape{8, 16, 16},
                                  TensorShape{8, 16, 16}, TensorShape{8, 7, 7},
                                  TensorShape{16, 5, 7}, TensorShape{16, 5, 7},
                                  TensorShape{16, 2, 3}, TensorShape{16, 1, 2},
                                  TensorShape{32, 1, 1}, TensorShape{32, 1, 1},
                                  TensorShape{10, 1, 1}));
  EXPECT_THAT(Validate(net), IsOk());
}

// ceil_mode rounds the window count up: PyTorch's MaxPool2d(3, 2, ceil_mode=True) on 16x16
// gives 8x8 where floor mode gives 7x7.
TEST(InferShapesTest, MaxPoolCeilModeRoundsUp) {
  NetworkDef net;
  net.input = {4, 16, 16};
  net.layers = {Layer::MaxPool2d("pool", {3, 3}, {2, 2})};
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> floor_shapes, InferShapes(net));
  EXPECT_EQ(floor_shapes[0], (TensorShape{4, 7, 7}));

  net.layers[0].ceil_mode = true;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> ceil_shapes, InferShapes(net));
  EXPECT_EQ(ceil_shapes[0], (TensorShape{4, 8, 8}));
}

// PyTorch drops a ceil-mode window that would start in the right padding: MaxPool2d(2, 2,
// padding=1, ceil_mode=True) on 5x5 is 3x3 (a fourth window would start at 6 >= 5 + 1).
TEST(InferShapesTest, MaxPoolCeilModeDropsWindowStartingInRightPadding) {
  NetworkDef net;
  net.input = {1, 5, 5};
  net.layers = {Layer::MaxPool2d("pool", {2, 2}, {2, 2}, {1, 1})};
  net.layers[0].ceil_mode = true;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_EQ(shapes[0], (TensorShape{1, 3, 3}));
}

// Padded average pool and a strided conv with non-square stride and padding.
TEST(InferShapesTest, PaddedPoolAndAsymmetricConv) {
  NetworkDef net;
  net.input = {2, 10, 9};
  net.layers = {
      // h: (10 + 2 - 3) / 2 + 1 = 5; w: (9 + 0 - 3) / 1 + 1 = 7.
      Layer::Conv2d("conv", 2, 6, {3, 3}, {2, 1}, {1, 0}),
      // h: (5 + 2 - 3) / 2 + 1 = 3; w: (7 + 2 - 3) / 2 + 1 = 4.
      Layer::AvgPool2d("pool", {3, 3}, {2, 2}, {1, 1}),
  };
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_THAT(shapes, ElementsAre(TensorShape{6, 5, 7}, TensorShape{6, 3, 4}));
}

// A depthwise conv (groups = in = out) and a grouped conv are accepted.
TEST(InferShapesTest, AcceptsDepthwiseAndGroupedConvs) {
  NetworkDef net;
  net.input = {8, 12, 12};
  net.layers = {
      Layer::Conv2d("dw", 8, 8, {3, 3}, {2, 2}, {1, 1}, /*groups=*/8),
      Layer::Conv2d("grouped", 8, 12, {1, 1}, {1, 1}, {0, 0}, /*groups=*/4),
  };
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_THAT(shapes, ElementsAre(TensorShape{8, 6, 6}, TensorShape{12, 6, 6}));
}

TEST(InferShapesTest, RejectsBadInputShape) {
  NetworkDef net = SmallConvNet();
  net.input = {0, 16, 16};
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("input"), HasSubstr("must be positive"),
                             HasSubstr("[0, 16, 16]"))));
  net.input = {3, 16, -1};
  EXPECT_THAT(Validate(net), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input")));
}

TEST(InferShapesTest, RejectsEmptyNetwork) {
  NetworkDef net;
  net.input = {3, 8, 8};
  EXPECT_THAT(InferShapes(net), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("layers: must not be empty")));
}

TEST(InferShapesTest, RejectsEmptyAndDuplicateNames) {
  NetworkDef unnamed = SmallConvNet();
  unnamed.layers[1].name = "";
  EXPECT_THAT(InferShapes(unnamed),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[1] (<unnamed>, relu): name must not be empty")));

  NetworkDef duplicate = SmallConvNet();
  duplicate.layers[2].name = "conv1";
  EXPECT_THAT(InferShapes(duplicate),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv1, conv2d): name 'conv1' is used by an "
                                 "earlier layer")));
}

TEST(InferShapesTest, RejectsNonPositiveConvSizes) {
  NetworkDef net = SmallConvNet();
  net.layers[2].out_channels = 0;
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): out_channels must be positive, "
                                 "got 0")));

  net = SmallConvNet();
  net.layers[2].in_channels = -8;
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): in_channels must be positive, "
                                 "got -8")));

  net = SmallConvNet();
  net.layers[2].kernel = {0, 3};
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): kernel_size must be positive, "
                                 "got [0, 3]")));

  net = SmallConvNet();
  net.layers[2].stride = {1, 0};
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): stride must be positive, "
                                 "got [1, 0]")));
}

TEST(InferShapesTest, RejectsNegativePadding) {
  NetworkDef net = SmallConvNet();
  net.layers[2].padding = {-1, 0};
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): padding must not be negative, "
                                 "got [-1, 0]")));

  NetworkDef pool;
  pool.input = {1, 8, 8};
  pool.layers = {Layer::AvgPool2d("pool", {2, 2}, {2, 2}, {0, -2})};
  EXPECT_THAT(InferShapes(pool),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[0] (pool, avgpool2d): padding must not be negative")));
}

// Pools follow PyTorch: padding at most half the kernel, positive kernel and stride.
TEST(InferShapesTest, RejectsBadPoolSizes) {
  NetworkDef net;
  net.input = {1, 8, 8};
  net.layers = {Layer::MaxPool2d("pool", {2, 2}, {2, 2}, {2, 0})};
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[0] (pool, maxpool2d): padding must be at most half "
                                 "of kernel_size")));
  net.layers = {Layer::MaxPool2d("pool", {2, 2}, {0, 0})};
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[0] (pool, maxpool2d): stride must be positive")));
  net.layers = {Layer::AdaptiveAvgPool2d("adaptive", {0, 1})};
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[0] (adaptive, adaptive_avgpool2d): output_size must "
                                 "be positive")));
}

TEST(InferShapesTest, RejectsGroupsThatDoNotDivideChannels) {
  NetworkDef net = SmallConvNet();
  net.layers[2].groups = 3;  // divides neither 8 nor 16
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): groups (3) must divide "
                                 "in_channels (8) and out_channels (16)")));

  net.layers[2].groups = 0;
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): groups must be positive")));

  net = SmallConvNet();
  net.layers[2].out_channels = 12;
  net.layers[2].groups = 8;  // divides in (8) but not out (12)
  EXPECT_THAT(InferShapes(net), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("layers[2] (conv2, conv2d): groups (8)")));
}

TEST(InferShapesTest, RejectsInputChannelsThatMismatchThePreviousLayer) {
  NetworkDef net = SmallConvNet();
  net.layers[2].in_channels = 16;
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[2] (conv2, conv2d): in_channels is 16 but the "
                                 "previous layer outputs 8 channels")));

  // The first layer is checked against the network input.
  net = SmallConvNet();
  net.input.channels = 1;
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[0] (conv1, conv2d): in_channels is 3 but the "
                                 "previous layer outputs 1 channels")));

  // Batchnorm's num_features and linear's in_channels are checked too.
  net = SmallConvNet();
  net.layers.push_back(Layer::BatchNorm2d("bn", 32));
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[3] (bn, batchnorm2d): num_features is 32 but the "
                                 "previous layer outputs 16 channels")));

  net = SmallConvNet();
  net.layers.push_back(Layer::Flatten("flatten"));
  net.layers.push_back(Layer::Linear("fc", 16, 10));  // needs 16 * 16 * 16 = 4096 inputs
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[4] (fc, linear): in_channels is 16 but the previous "
                                 "layer outputs 4096 channels")));
}

TEST(InferShapesTest, RejectsLinearWithoutFlatten) {
  NetworkDef net = SmallConvNet();
  net.layers.push_back(Layer::Linear("fc", 16, 10));
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("layers[3] (fc, linear): input is [16, 16, 16]"),
                             HasSubstr("add a flatten layer before linear"))));
}

TEST(InferShapesTest, RejectsLinearOnAOneByOneMapWithoutFlatten) {
  // PyTorch's Linear acts on the last dimension: [B, C, 1, 1] is not [B, C].
  NetworkDef net = SmallConvNet();
  net.layers.push_back(Layer::AdaptiveAvgPool2d("pool", {1, 1}));
  net.layers.push_back(Layer::Linear("fc", 16, 10));
  EXPECT_THAT(InferShapes(net), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("add a flatten layer before linear")));
}

TEST(InferShapesTest, RejectsSpatialLayersAfterFlatten) {
  for (Layer spatial : {Layer::BatchNorm2d("bn", 4096), Layer::Conv2d("conv", 4096, 8, {1, 1}),
                        Layer::MaxPool2d("pool", {1, 1}, {1, 1}), Layer::Flatten("again")}) {
    NetworkDef net = SmallConvNet();
    net.layers.push_back(Layer::Flatten("flatten"));
    net.layers.push_back(spatial);
    EXPECT_THAT(InferShapes(net),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(absl::StrCat("layers[4] (", spatial.name)),
                               HasSubstr("comes after flatten"))));
  }
}

TEST(InferShapesTest, RejectsShapeThatGoesToZero) {
  NetworkDef net;
  net.input = {3, 4, 4};
  net.layers = {
      Layer::Conv2d("conv", 3, 8, {3, 3}),         // 2x2
      Layer::MaxPool2d("pool", {3, 3}, {1, 1}),    // the 3x3 window does not fit in 2x2
  };
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("layers[1] (pool, maxpool2d): output shape goes to zero"),
                             HasSubstr("[8, 0, 0]"))));

  net.layers = {Layer::Conv2d("big", 3, 8, {5, 1})};  // too tall, wide enough
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[0] (big, conv2d): output shape goes to zero")));
}

TEST(InferShapesTest, RejectsDropoutProbabilityOutsideZeroToOne) {
  for (double p : {-0.1, 1.0, 2.0}) {
    NetworkDef net = SmallConvNet();
    net.layers.push_back(Layer::Dropout("drop", p));
    EXPECT_THAT(InferShapes(net),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("layers[3] (drop, dropout): p must be in [0, 1)")))
        << "p = " << p;
  }
  NetworkDef zero = SmallConvNet();
  zero.layers.push_back(Layer::Dropout("drop", 0.0));
  EXPECT_THAT(InferShapes(zero), IsOk());
}

TEST(InferShapesTest, RejectsBadBatchNormEps) {
  NetworkDef net = SmallConvNet();
  net.layers.push_back(Layer::BatchNorm2d("bn", 16));
  net.layers.back().eps = 0;
  EXPECT_THAT(InferShapes(net),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers[3] (bn, batchnorm2d): eps must be positive")));
}

// Every op name parses back to its op.
TEST(LayerOpTest, NameRoundTrips) {
  const LayerOp ops[] = {LayerOp::kConv2d,    LayerOp::kLinear,    LayerOp::kBatchNorm2d,
                         LayerOp::kRelu,      LayerOp::kRelu6,     LayerOp::kMaxPool2d,
                         LayerOp::kAvgPool2d, LayerOp::kAdaptiveAvgPool2d,
                         LayerOp::kFlatten,   LayerOp::kDropout};
  for (LayerOp op : ops) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(LayerOp parsed, ParseLayerOp(LayerOpName(op)));
    EXPECT_EQ(parsed, op) << LayerOpName(op);
  }
  EXPECT_EQ(LayerOpName(LayerOp::kConv2d), "conv2d");
  EXPECT_EQ(LayerOpName(LayerOp::kAdaptiveAvgPool2d), "adaptive_avgpool2d");
}

TEST(LayerOpTest, UnknownOpListsTheKnownOps) {
  EXPECT_THAT(ParseLayerOp("conv3d"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unknown op 'conv3d'"),
                             HasSubstr("conv2d, linear, batchnorm2d, relu, relu6, maxpool2d, "
                                       "avgpool2d, adaptive_avgpool2d, flatten, dropout"))));
  // Names are case-sensitive.
  EXPECT_THAT(ParseLayerOp("Conv2d"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseLayerOp(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Only conv2d and linear layers have widths.
TEST(WidthsStringTest, ListsWeightedLayerWidthsInOrder) {
  EXPECT_EQ(WidthsString(EveryOpNetwork()), "8 16 10");
  EXPECT_EQ(WidthsString(SmallConvNet()), "8 16");
  EXPECT_EQ(WidthsString(NetworkDef{}), "");
}

TEST(WidthsTest, ListsWeightedLayerWidthsInOrder) {
  EXPECT_THAT(Widths(EveryOpNetwork()), ElementsAre(8, 16, 10));
  EXPECT_THAT(Widths(NetworkDef{}), ::testing::IsEmpty());
}

TEST(LayerTest, IsDepthwise) {
  EXPECT_TRUE(Layer::Conv2d("dw", 8, 8, {3, 3}, {1, 1}, {1, 1}, 8).IsDepthwise());
  // Ordinary and grouped convs are not depthwise.
  EXPECT_FALSE(Layer::Conv2d("c", 8, 8, {3, 3}).IsDepthwise());
  EXPECT_FALSE(Layer::Conv2d("g", 8, 8, {3, 3}, {1, 1}, {0, 0}, 4).IsDepthwise());
  // A channel multiplier (out = 2 * in) is not depthwise.
  EXPECT_FALSE(Layer::Conv2d("m", 8, 16, {3, 3}, {1, 1}, {0, 0}, 8).IsDepthwise());
  // One channel with groups 1 is an ordinary conv.
  EXPECT_FALSE(Layer::Conv2d("one", 1, 1, {3, 3}, {1, 1}, {0, 0}, 1).IsDepthwise());
  EXPECT_FALSE(Layer::Linear("fc", 8, 8).IsDepthwise());
}

TEST(NetworkDefTest, FindLayer) {
  const NetworkDef net = SmallConvNet();
  EXPECT_EQ(net.FindLayer("conv1"), 0);
  EXPECT_EQ(net.FindLayer("conv2"), 2);
  EXPECT_EQ(net.FindLayer("missing"), -1);
}

// ---- Graph form -------------------------------------------------------------------------

// conv -> bn -> relu, then a second conv whose output is added back to the relu's: a residual.
NetworkDef ResidualNetwork() {
  NetworkDef net;
  net.name = "residual";
  net.input = {3, 8, 8};
  net.layers = {
      Layer::Conv2d("stem", 3, 8, {3, 3}, {1, 1}, {1, 1}),
      Layer::Relu("stem.relu"),
      Layer::Conv2d("branch", 8, 8, {3, 3}, {1, 1}, {1, 1}),
      Layer::Op("add", LayerOp::kAdd, {"branch", "stem.relu"}),
      Layer::Relu("relu"),
      Layer::AdaptiveAvgPool2d("pool", {1, 1}),
      Layer::Flatten("flatten"),
      Layer::Linear("fc", 8, 4),
  };
  return net;
}

TEST(GraphShapesTest, ResidualAddKeepsTheShape) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes,
                                InferShapes(ResidualNetwork()));
  EXPECT_EQ(shapes[3], (TensorShape{8, 8, 8}));
  EXPECT_EQ(shapes.back(), (TensorShape{4, 1, 1}));
  EXPECT_TRUE(IsGraph(ResidualNetwork()));
}

TEST(GraphShapesTest, ConcatSumsChannelsAndMulBroadcastsAGate) {
  NetworkDef net;
  net.input = {4, 6, 6};
  net.layers = {
      Layer::Conv2d("a", 4, 3, {1, 1}),
      Layer::Conv2d("b", 4, 5, {3, 3}, {1, 1}, {1, 1}, 1, true),
      Layer::Op("cat", LayerOp::kConcat, {"a", "b"}),
      Layer::AdaptiveAvgPool2d("squeeze", {1, 1}),
      Layer::Op("gate", LayerOp::kSigmoid),
      Layer::Op("scaled", LayerOp::kMul, {"cat", "gate"}),
      Layer::Op("act", LayerOp::kHardswish),
      Layer::Op("act2", LayerOp::kHardsigmoid),
  };
  net.layers[1].inputs = {"input"};  // both branches read the network input
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_EQ(shapes[2], (TensorShape{8, 6, 6}));
  EXPECT_EQ(shapes[4], (TensorShape{8, 1, 1}));
  EXPECT_EQ(shapes[5], (TensorShape{8, 6, 6}));
  EXPECT_EQ(shapes.back(), (TensorShape{8, 6, 6}));
  EXPECT_THAT(InputIndices(net)[1], ElementsAre(kNetworkInput));
  EXPECT_THAT(InputIndices(net)[5], ElementsAre(2, 4));
  EXPECT_THAT(InputIndices(net)[0], ElementsAre(kNetworkInput));
}

// Each bad graph is refused naming the layer and the problem.
struct BadGraph {
  std::string what;
  std::function<void(NetworkDef&)> mutate;
  std::vector<std::string> message;  // substrings
};

class BadGraphTest : public ::testing::TestWithParam<BadGraph> {};

TEST_P(BadGraphTest, IsRefusedNamingTheLayer) {
  NetworkDef net = ResidualNetwork();
  GetParam().mutate(net);
  absl::Status status = InferShapes(net).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  for (const std::string& part : GetParam().message) {
    EXPECT_THAT(std::string(status.message()), HasSubstr(part));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Graph, BadGraphTest,
    ::testing::Values(
        BadGraph{"unknown_input",
                 [](NetworkDef& n) { n.layers[3].inputs = {"branch", "nope"}; },
                 {"layers[3] (add, add)", "inputs[1]", "'nope' is not a layer"}},
        BadGraph{"later_input_is_a_cycle",
                 [](NetworkDef& n) { n.layers[2].inputs = {"relu"}; },
                 {"layers[2] (branch, conv2d)", "inputs[0]", "'relu' is layers[4]", "cycle"}},
        BadGraph{"self_input",
                 [](NetworkDef& n) { n.layers[3].inputs = {"add", "branch"}; },
                 {"layers[3] (add, add)", "not an earlier layer"}},
        BadGraph{"add_of_mismatched_shapes",
                 [](NetworkDef& n) {
                   n.layers[2] = Layer::Conv2d("branch", 8, 8, {3, 3}, {2, 2}, {1, 1});
                 },
                 {"layers[3] (add, add)", "one shape", "[8, 4, 4]", "[8, 8, 8]"}},
        BadGraph{"add_with_one_input",
                 [](NetworkDef& n) { n.layers[3].inputs = {"branch"}; },
                 {"layers[3] (add, add)", "at least 2"}},
        BadGraph{"add_without_inputs",
                 [](NetworkDef& n) { n.layers[3].inputs.clear(); },
                 {"layers[3] (add, add)", "must name at least 2"}},
        BadGraph{"relu_with_two_inputs",
                 [](NetworkDef& n) { n.layers[4].inputs = {"add", "branch"}; },
                 {"layers[4] (relu, relu)", "exactly 1"}},
        BadGraph{"concat_of_mismatched_spatial_sizes",
                 [](NetworkDef& n) {
                   n.layers[2] = Layer::Conv2d("branch", 8, 8, {3, 3}, {2, 2}, {1, 1});
                   n.layers[3] = Layer::Op("add", LayerOp::kConcat, {"branch", "stem.relu"});
                 },
                 {"layers[3] (add, concat)", "one spatial size"}},
        BadGraph{"mul_that_is_no_gate",
                 [](NetworkDef& n) {
                   n.layers[2] = Layer::Conv2d("branch", 8, 4, {3, 3}, {1, 1}, {1, 1});
                   n.layers[3] = Layer::Op("add", LayerOp::kMul, {"branch", "stem.relu"});
                 },
                 {"layers[3] (add, mul)", "[C, 1, 1] gate"}},
        BadGraph{"unused_layer",
                 [](NetworkDef& n) { n.layers[3].inputs = {"stem.relu", "stem.relu"}; },
                 {"layers[2] (branch, conv2d)", "used by no later layer"}},
        BadGraph{"reserved_name",
                 [](NetworkDef& n) {
                   n.layers[1].name = "input";
                   n.layers[3].inputs = {"branch", "input"};
                 },
                 {"layers[1] (input, relu)", "reserved"}},
        BadGraph{"channels_of_a_named_input",
                 [](NetworkDef& n) {
                   n.layers[2].inputs = {"input"};
                 },
                 {"layers[2] (branch, conv2d)", "its input 'input' outputs 3 channels"}}),
    [](const ::testing::TestParamInfo<BadGraph>& info) { return info.param.what; });

}  // namespace
}  // namespace netadapt::common
