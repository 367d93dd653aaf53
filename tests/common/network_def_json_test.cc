#include "common/network_def_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/zoo.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Compares every field of two networks, layer by layer, so a failure names the field.
void ExpectSameNetwork(const NetworkDef& expected, const NetworkDef& actual) {
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.input, expected.input);
  ASSERT_EQ(actual.layers.size(), expected.layers.size());
  for (size_t i = 0; i < expected.layers.size(); ++i) {
    const Layer& e = expected.layers[i];
    const Layer& a = actual.layers[i];
    SCOPED_TRACE(absl::StrCat("layers[", i, "] (", e.name, ")"));
    EXPECT_EQ(a.name, e.name);
    EXPECT_EQ(a.op, e.op);
    EXPECT_EQ(a.in_channels, e.in_channels);
    EXPECT_EQ(a.out_channels, e.out_channels);
    EXPECT_EQ(a.bias, e.bias);
    EXPECT_EQ(a.kernel, e.kernel);
    EXPECT_EQ(a.stride, e.stride);
    EXPECT_EQ(a.padding, e.padding);
    EXPECT_EQ(a.groups, e.groups);
    EXPECT_EQ(a.num_features, e.num_features);
    EXPECT_EQ(a.eps, e.eps);
    EXPECT_EQ(a.ceil_mode, e.ceil_mode);
    EXPECT_EQ(a.output_size, e.output_size);
    EXPECT_EQ(a.p, e.p);
  }
}

// A valid network with a non-default value in every field JSON can carry.
NetworkDef UnusualNetwork() {
  NetworkDef net;
  net.name = "unusual";
  net.input = {4, 20, 18};
  Layer conv = Layer::Conv2d("conv", 4, 8, {3, 1}, {2, 1}, {1, 0}, /*groups=*/2,
                             /*bias=*/false);
  Layer bn = Layer::BatchNorm2d("bn", 8);
  bn.eps = 1e-3;
  Layer pool = Layer::MaxPool2d("pool", {3, 2}, {2, 1}, {1, 1});
  pool.ceil_mode = true;
  net.layers = {
      conv,
      bn,
      Layer::Relu6("relu6"),
      pool,
      Layer::AvgPool2d("avg", {2, 2}, {1, 1}),
      Layer::AdaptiveAvgPool2d("adaptive", {2, 3}),
      Layer::Flatten("flatten"),
      Layer::Dropout("drop", 0.0),
      Layer::Linear("fc", 48, 5, /*bias=*/false),
  };
  return net;
}

// Every zoo model survives NetworkDefToJson -> NetworkDefFromJson unchanged.
TEST(NetworkDefJsonTest, ZooModelsRoundTrip) {
  for (const std::string& name : ZooNames()) {
    SCOPED_TRACE(name);
    NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef network, ZooNetwork(name, ZooOptions{}));
    const std::string json = NetworkDefToJson(network);
    NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef parsed, NetworkDefFromJson(json));
    ExpectSameNetwork(network, parsed);
  }
}

// Non-square pairs, groups, bias false, a non-default eps, ceil_mode, pool padding and p = 0
// all survive the round trip (defaults are omitted from the JSON and must come back).
TEST(NetworkDefJsonTest, NonDefaultFieldsRoundTrip) {
  const NetworkDef network = UnusualNetwork();
  ASSERT_THAT(Validate(network), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef parsed,
                                NetworkDefFromJson(NetworkDefToJson(network)));
  ExpectSameNetwork(network, parsed);
}

// The proto form round-trips too.
TEST(NetworkDefJsonTest, ProtoRoundTrips) {
  const NetworkDef network = UnusualNetwork();
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef parsed,
                                NetworkDefFromProto(NetworkDefToProto(network)));
  ExpectSameNetwork(network, parsed);
}

// The hand-written form: a single value stands for both sides of a pair, unset fields take
// PyTorch's defaults, and a pool without a stride strides by its kernel.
TEST(NetworkDefJsonTest, ParsesHandWrittenJson) {
  constexpr absl::string_view kJson = R"json({
    "name": "tiny",
    "input": {"channels": 3, "height": 32, "width": 32},
    "layers": [
      {"name": "features.0", "op": "conv2d", "in_channels": 3, "out_channels": 16,
       "kernel_size": [3], "padding": [1]},
      {"name": "features.1", "op": "relu"},
      {"name": "features.2", "op": "maxpool2d", "kernel_size": [2]},
      {"name": "features.3", "op": "avgpool2d", "kernel_size": [3, 1], "stride": [1]},
      {"name": "avgpool", "op": "adaptive_avgpool2d", "output_size": [1]},
      {"name": "flatten", "op": "flatten"},
      {"name": "classifier", "op": "linear", "in_channels": 16, "out_channels": 10}
    ]
  })json";
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, NetworkDefFromJson(kJson));
  EXPECT_EQ(net.name, "tiny");
  EXPECT_EQ(net.input, (TensorShape{3, 32, 32}));
  ASSERT_EQ(net.layers.size(), 7u);

  const Layer& conv = net.layers[0];
  EXPECT_EQ(conv.op, LayerOp::kConv2d);
  EXPECT_EQ(conv.kernel, (Pair{3, 3}));
  EXPECT_EQ(conv.stride, (Pair{1, 1}));
  EXPECT_EQ(conv.padding, (Pair{1, 1}));
  EXPECT_EQ(conv.groups, 1);
  EXPECT_TRUE(conv.bias);

  const Layer& maxpool = net.layers[2];
  EXPECT_EQ(maxpool.kernel, (Pair{2, 2}));
  EXPECT_EQ(maxpool.stride, (Pair{2, 2}));  // defaults to the kernel
  EXPECT_EQ(maxpool.padding, (Pair{0, 0}));
  EXPECT_FALSE(maxpool.ceil_mode);

  const Layer& avgpool = net.layers[3];
  EXPECT_EQ(avgpool.kernel, (Pair{3, 1}));
  EXPECT_EQ(avgpool.stride, (Pair{1, 1}));  // given explicitly

  EXPECT_EQ(net.layers[4].output_size, (Pair{1, 1}));
  EXPECT_EQ(net.layers[6].op, LayerOp::kLinear);
  EXPECT_EQ(net.layers[6].in_channels, 16);
  EXPECT_EQ(net.layers[6].out_channels, 10);

  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<TensorShape> shapes, InferShapes(net));
  EXPECT_EQ(shapes[2], (TensorShape{16, 16, 16}));
  EXPECT_EQ(shapes[3], (TensorShape{16, 14, 16}));
}

// The JSON of a small network with `layer1` as its second layer (after a 3->8 conv on 8x8).
std::string WithSecondLayer(absl::string_view layer1) {
  return absl::StrCat(
      R"json({"input": {"channels": 3, "height": 8, "width": 8}, "layers": [
          {"name": "conv", "op": "conv2d", "in_channels": 3, "out_channels": 8,
           "kernel_size": [3], "padding": [1]}, )json",
      layer1, "]}");
}

TEST(NetworkDefJsonTest, RejectsUnknownOp) {
  EXPECT_THAT(NetworkDefFromJson(WithSecondLayer(R"({"name": "x", "op": "conv3d"})")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("layers[1]"), HasSubstr("unknown op 'conv3d'"),
                             HasSubstr("conv2d, linear"))));
}

TEST(NetworkDefJsonTest, RejectsFieldsThatDoNotApplyToTheOp) {
  EXPECT_THAT(
      NetworkDefFromJson(WithSecondLayer(R"({"name": "r", "op": "relu", "kernel_size": [3]})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("layers[1] (r, relu): kernel_size does not apply to this op")));
  EXPECT_THAT(
      NetworkDefFromJson(WithSecondLayer(R"({"name": "bn", "op": "batchnorm2d",
                                            "num_features": 8, "bias": false})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("layers[1] (bn, batchnorm2d): bias does not apply")));
  // Explicitly set optional fields count even at their default value.
  EXPECT_THAT(
      NetworkDefFromJson(WithSecondLayer(R"({"name": "d", "op": "dropout", "groups": 1})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("layers[1] (d, dropout): groups does not apply")));
}

TEST(NetworkDefJsonTest, RejectsPairWithThreeValues) {
  EXPECT_THAT(
      NetworkDefFromJson(
          WithSecondLayer(R"({"name": "pool", "op": "maxpool2d", "kernel_size": [2, 2, 2]})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("layers[1] (pool, maxpool2d): kernel_size must have 1 or 2 values, "
                         "got 3")));
}

TEST(NetworkDefJsonTest, RejectsMismatchedChannels) {
  EXPECT_THAT(
      NetworkDefFromJson(WithSecondLayer(R"({"name": "conv2", "op": "conv2d",
                                            "in_channels": 4, "out_channels": 8,
                                            "kernel_size": [1]})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("layers[1] (conv2, conv2d): in_channels is 4 but the previous layer "
                         "outputs 8 channels")));
}

TEST(NetworkDefJsonTest, RejectsNegativeSizes) {
  EXPECT_THAT(
      NetworkDefFromJson(WithSecondLayer(R"({"name": "conv2", "op": "conv2d",
                                            "in_channels": 8, "out_channels": -4,
                                            "kernel_size": [1]})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("layers[1] (conv2, conv2d): out_channels must be positive, got -4")));
  EXPECT_THAT(
      NetworkDefFromJson(WithSecondLayer(R"({"name": "pool", "op": "avgpool2d",
                                            "kernel_size": [2], "padding": [-1]})")),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("layers[1] (pool, avgpool2d): padding must not be negative")));
  EXPECT_THAT(NetworkDefFromJson(R"({"input": {"channels": 3, "height": -8, "width": 8},
                                     "layers": [{"name": "r", "op": "relu"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("input")));
}

TEST(NetworkDefJsonTest, RejectsMalformedJson) {
  EXPECT_THAT(NetworkDefFromJson(R"({"input": {"channels": 3)"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(NetworkDefFromJson("not json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  // A pair must be a list of integers.
  EXPECT_THAT(NetworkDefFromJson(WithSecondLayer(R"({"name": "p", "op": "maxpool2d",
                                                     "kernel_size": "two"})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
}

// A misspelt field must not be silently ignored.
TEST(NetworkDefJsonTest, RejectsUnknownJsonFields) {
  EXPECT_THAT(NetworkDefFromJson(WithSecondLayer(R"({"name": "p", "op": "maxpool2d",
                                                     "kernal_size": [2]})")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kernal_size")));
  EXPECT_THAT(NetworkDefFromJson(R"({"input": {"channels": 3, "height": 8, "width": 8},
                                     "layers": [{"name": "r", "op": "relu"}],
                                     "optimizer": "sgd"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("optimizer")));
}

TEST(NetworkDefJsonTest, RejectsEmptyNetwork) {
  EXPECT_THAT(NetworkDefFromJson(R"({"input": {"channels": 3, "height": 8, "width": 8}})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layers")));
}

}  // namespace
}  // namespace netadapt::common
