#include "common/resource_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/layer_shape.h"
#include "common/resource_type_proto.h"
#include "common/zoo.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Optional;

// torchvision's AlexNet: 224x224 input, 1000 classes.
NetworkDef TorchvisionAlexNet() {
  ZooOptions options;
  options.input_size = 224;
  options.num_classes = 1000;
  absl::StatusOr<NetworkDef> net = ZooNetwork("alexnet", options);
  EXPECT_THAT(net, IsOk());
  return *net;
}

LayerShape Conv(int in, int out, int input, int groups = 1) {
  LayerShape s;
  s.op = LayerOp::kConv2d;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = {3, 3};
  s.padding = {1, 1};
  s.groups = groups;
  s.input_h = input;
  s.input_w = input;
  return s;
}

// A ResourceModel that fails on one shape, to check errors reach the caller.
class FailingModel : public ResourceModel {
 public:
  absl::StatusOr<double> LayerCost(const LayerShape& shape) override {
    if (shape.op == LayerOp::kLinear) return absl::NotFoundError("no latency for linear");
    return 1.0;
  }
};

// The figure the usual FLOPs counters give for torchvision's AlexNet (0.71 GMac).
TEST(NetworkResourceTest, AlexNetFlopsMatchTorchvision) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  NETADAPT_ASSERT_OK_AND_ASSIGN(double macs,
                                NetworkResource(TorchvisionAlexNet(), CostContext{}, flops));
  EXPECT_EQ(macs, 714188480.0);
}

// torchvision's AlexNet has 61,100,840 parameters; without its 10,344 biases, 61,090,496.
TEST(NetworkResourceTest, AlexNetWeightsMatchTorchvisionWithoutBiases) {
  AnalyticResourceModel weights(ResourceType::kWeights);
  NETADAPT_ASSERT_OK_AND_ASSIGN(double count,
                                NetworkResource(TorchvisionAlexNet(), CostContext{}, weights));
  EXPECT_EQ(count, 61100840.0 - 10344.0);
}

// MACs scale with the batch; weights do not.
TEST(NetworkResourceTest, BatchScalesMacsOnly) {
  const NetworkDef net = TorchvisionAlexNet();
  CostContext batch4;
  batch4.batch = 4;
  AnalyticResourceModel flops(ResourceType::kFlops);
  AnalyticResourceModel weights(ResourceType::kWeights);
  EXPECT_THAT(NetworkResource(net, batch4, flops), IsOk());
  EXPECT_EQ(*NetworkResource(net, batch4, flops), 4 * 714188480.0);
  EXPECT_EQ(*NetworkResource(net, batch4, weights), 61090496.0);
}

TEST(NetworkResourceTest, PropagatesErrors) {
  FailingModel failing;
  EXPECT_THAT(NetworkResource(TorchvisionAlexNet(), CostContext{}, failing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no latency for linear")));

  NetworkDef invalid = TorchvisionAlexNet();
  invalid.layers[0].in_channels = 1;
  AnalyticResourceModel flops(ResourceType::kFlops);
  EXPECT_THAT(NetworkResource(invalid, CostContext{}, flops),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layers[0]")));
}

// A depthwise conv has one k x k filter per channel.
TEST(LayerShapeTest, DepthwiseMacsAndWeights) {
  const LayerShape dw = Conv(32, 32, 14, /*groups=*/32);
  ASSERT_TRUE(dw.IsDepthwise());
  EXPECT_EQ(dw.Output(), (Pair{14, 14}));
  EXPECT_EQ(dw.Weights(), 32 * 9);
  EXPECT_EQ(dw.Macs(), 32 * 9 * 14 * 14);

  LayerShape strided = dw;
  strided.stride = {2, 2};
  strided.batch = 3;
  EXPECT_EQ(strided.Output(), (Pair{7, 7}));
  EXPECT_EQ(strided.Macs(), 32 * 9 * 7 * 7 * 3);

  // The same channels as an ordinary conv cost 32 times more.
  EXPECT_EQ(Conv(32, 32, 14).Macs(), 32 * dw.Macs());
  // A grouped conv in between.
  EXPECT_EQ(Conv(32, 32, 14, /*groups=*/4).Weights(), 32 / 4 * 32 * 9);
}

TEST(LayerShapeTest, LinearMacsEqualWeights) {
  LayerShape fc;
  fc.op = LayerOp::kLinear;
  fc.in_channels = 9216;
  fc.out_channels = 4096;
  EXPECT_EQ(fc.Weights(), int64_t{9216} * 4096);
  EXPECT_EQ(fc.Macs(), fc.Weights());
}

// LowerBound(lo, hi) never exceeds the cost of a shape whose channels lie between lo's and
// hi's, for ordinary convs, depthwise convs (groups follow the channels) and linear layers.
TEST(AnalyticResourceModelTest, LowerBoundHoldsForEveryShapeInRange) {
  for (ResourceType type : {ResourceType::kFlops, ResourceType::kWeights}) {
    SCOPED_TRACE(ResourceTypeName(type));
    AnalyticResourceModel model(type);

    const LayerShape lo = Conv(3, 4, 10);
    const LayerShape hi = Conv(9, 12, 10);
    const std::optional<double> bound = model.LowerBound(lo, hi);
    ASSERT_TRUE(bound.has_value());
    for (int in = lo.in_channels; in <= hi.in_channels; ++in) {
      for (int out = lo.out_channels; out <= hi.out_channels; ++out) {
        NETADAPT_ASSERT_OK_AND_ASSIGN(double cost, model.LayerCost(Conv(in, out, 10)));
        EXPECT_LE(*bound, cost) << in << " -> " << out;
      }
    }
    // The bound is tight at lo.
    EXPECT_EQ(*bound, *model.LayerCost(lo));

    const std::optional<double> dw_bound =
        model.LowerBound(Conv(8, 8, 10, 8), Conv(32, 32, 10, 32));
    ASSERT_TRUE(dw_bound.has_value());
    for (int c = 8; c <= 32; ++c) {
      NETADAPT_ASSERT_OK_AND_ASSIGN(double cost, model.LayerCost(Conv(c, c, 10, c)));
      EXPECT_LE(*dw_bound, cost) << "depthwise " << c;
    }

    LayerShape fc_lo;
    fc_lo.op = LayerOp::kLinear;
    fc_lo.in_channels = 10;
    fc_lo.out_channels = 5;
    LayerShape fc_hi = fc_lo;
    fc_hi.in_channels = 20;
    fc_hi.out_channels = 15;
    const std::optional<double> fc_bound = model.LowerBound(fc_lo, fc_hi);
    ASSERT_TRUE(fc_bound.has_value());
    for (int in = 10; in <= 20; ++in) {
      for (int out = 5; out <= 15; ++out) {
        LayerShape fc = fc_lo;
        fc.in_channels = in;
        fc.out_channels = out;
        NETADAPT_ASSERT_OK_AND_ASSIGN(double cost, model.LayerCost(fc));
        EXPECT_LE(*fc_bound, cost) << in << " -> " << out;
      }
    }
  }
}

TEST(ResourceTypeTest, NamesRoundTrip) {
  for (ResourceType type : {ResourceType::kLatency, ResourceType::kFlops, ResourceType::kWeights}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(ResourceType parsed, ParseResourceType(ResourceTypeName(type)));
    EXPECT_EQ(parsed, type);
  }
  EXPECT_EQ(ResourceTypeName(ResourceType::kLatency), "LATENCY");
  EXPECT_EQ(ResourceTypeName(ResourceType::kFlops), "FLOPS");
  EXPECT_EQ(ResourceTypeName(ResourceType::kWeights), "WEIGHTS");
}

TEST(ResourceTypeTest, UnknownNameListsTheKnownOnes) {
  EXPECT_THAT(ParseResourceType("MACS"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unknown resource type 'MACS'"),
                             HasSubstr("LATENCY, FLOPS or WEIGHTS"))));
  EXPECT_THAT(ParseResourceType("flops"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseResourceType(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Only conv2d and linear layers are costed, each with the spatial size of its input.
TEST(CostedLayersTest, AlexNetConvAndLinearLayersWithTheirInputs) {
  const NetworkDef net = TorchvisionAlexNet();
  CostContext context;
  context.batch = 16;
  context.dtype = "float16";
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<CostedLayer> costed, CostedLayers(net, context));

  std::vector<std::string> names;
  for (const CostedLayer& layer : costed) names.push_back(net.layers[layer.layer_index].name);
  EXPECT_THAT(names, ::testing::ElementsAre("features.0", "features.3", "features.6",
                                            "features.8", "features.10", "classifier.1",
                                            "classifier.4", "classifier.6"));
  ASSERT_EQ(costed.size(), 8u);
  for (const CostedLayer& layer : costed) {
    EXPECT_EQ(layer.shape.batch, 16);
    EXPECT_EQ(layer.shape.dtype, "float16");
  }

  const LayerShape& first = costed[0].shape;  // reads the network input
  EXPECT_EQ(first.input_h, 224);
  EXPECT_EQ(first.input_w, 224);
  EXPECT_EQ(first.kernel, (Pair{11, 11}));
  EXPECT_EQ(first.stride, (Pair{4, 4}));
  EXPECT_EQ(first.padding, (Pair{2, 2}));

  const LayerShape& features3 = costed[1].shape;  // after the first max pool
  EXPECT_EQ(features3.op, LayerOp::kConv2d);
  EXPECT_EQ(features3.in_channels, 64);
  EXPECT_EQ(features3.out_channels, 192);
  EXPECT_EQ(features3.input_h, 27);
  EXPECT_EQ(features3.input_w, 27);
  EXPECT_EQ(features3.kernel, (Pair{5, 5}));

  EXPECT_EQ(costed[2].shape.input_h, 13);

  const LayerShape& fc = costed[5].shape;
  EXPECT_EQ(fc.op, LayerOp::kLinear);
  EXPECT_EQ(fc.in_channels, 9216);
  EXPECT_EQ(fc.out_channels, 4096);
  EXPECT_EQ(fc.input_h, 1);
  EXPECT_EQ(fc.input_w, 1);
  EXPECT_EQ(fc.kernel, (Pair{1, 1}));
}

TEST(CostedLayersTest, RejectsInvalidNetwork) {
  NetworkDef net;
  net.input = {3, 8, 8};
  EXPECT_THAT(CostedLayers(net, CostContext{}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The master and the worker share this mapping; UNSPECIFIED is the proto's default, LATENCY.
TEST(ResourceTypeFromProtoTest, MapsEveryValueAndRefusesUnknownOnes) {
  const auto type = [](v1::ResourceType proto) {
    absl::StatusOr<ResourceType> type = ResourceTypeFromProto(proto);
    EXPECT_THAT(type, IsOk());
    return type.value_or(ResourceType::kLatency);
  };
  EXPECT_EQ(type(v1::RESOURCE_TYPE_UNSPECIFIED), ResourceType::kLatency);
  EXPECT_EQ(type(v1::RESOURCE_TYPE_LATENCY), ResourceType::kLatency);
  EXPECT_EQ(type(v1::RESOURCE_TYPE_FLOPS), ResourceType::kFlops);
  EXPECT_EQ(type(v1::RESOURCE_TYPE_WEIGHTS), ResourceType::kWeights);
  EXPECT_THAT(ResourceTypeFromProto(static_cast<v1::ResourceType>(42)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("resource_type")));
}

}  // namespace
}  // namespace netadapt::common
