#include "common/torch/model.h"

#include <ATen/ops/randn.h>
#include <c10/core/GradMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/network_tensors.h"
#include "common/zoo.h"
#include "common/torch/internal/model_state.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

using common::Layer;
using common::NetworkDef;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// Every op the NetworkDef supports, in one network.
NetworkDef EveryOp() {
  NetworkDef def;
  def.name = "every_op";
  def.input = {3, 20, 20};
  def.layers = {Layer::Conv2d("conv", 3, 8, {3, 3}, {1, 1}, {1, 1}),
                Layer::BatchNorm2d("bn", 8),
                Layer::Relu("relu"),
                Layer::Conv2d("dw", 8, 8, {3, 3}, {2, 2}, {1, 1}, /*groups=*/8, /*bias=*/false),
                Layer::Relu6("relu6"),
                Layer::MaxPool2d("maxpool", {2, 2}, {2, 2}),
                Layer::AvgPool2d("avgpool", {2, 2}, {1, 1}, {1, 1}),
                Layer::AdaptiveAvgPool2d("adaptive", {3, 3}),
                Layer::Flatten("flatten"),
                Layer::Dropout("dropout", 0.5),
                Layer::Linear("fc", 8 * 3 * 3, 5)};
  return def;
}

TEST(ModelTest, OutputShapeFollowsShapeInferenceForEveryOpAndZooModel) {
  std::vector<NetworkDef> defs = {EveryOp()};
  for (const std::string& name : common::ZooNames()) {
    common::ZooOptions options;
    options.input_size = 32;
    options.width_multiplier = 0.25;
    auto def = common::ZooNetwork(name, options);
    ASSERT_TRUE(def.ok()) << def.status();
    defs.push_back(*def);
  }
  for (const NetworkDef& def : defs) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(def, {}));
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<common::TensorShape> shapes,
                                  common::InferShapes(def));
    c10::NoGradGuard no_grad;
    const at::Tensor output = internal::Forward(
        model.state(), at::randn({2, def.input.channels, def.input.height, def.input.width}),
        /*training=*/false);
    const common::TensorShape& last = shapes.back();
    if (output.dim() == 2) {
      EXPECT_EQ(output.size(1), last.channels) << def.name;
    } else {
      ASSERT_EQ(output.dim(), 4) << def.name;
      EXPECT_EQ(output.size(1), last.channels) << def.name;
      EXPECT_EQ(output.size(2), last.height) << def.name;
      EXPECT_EQ(output.size(3), last.width) << def.name;
    }
    EXPECT_EQ(output.size(0), 2) << def.name;
  }
}

TEST(ModelTest, HoldsExactlyTheStateDictTensors) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(EveryOp(), {}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<common::TensorSpec> specs,
                                common::NetworkTensors(EveryOp()));
  ASSERT_EQ(model.state().tensors.size(), specs.size());
  int64_t parameters = 0;
  for (const common::TensorSpec& spec : specs) {
    const at::Tensor& tensor = model.state().tensors.at(spec.name);
    EXPECT_EQ(std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end()), spec.shape)
        << spec.name;
    EXPECT_EQ(tensor.requires_grad(), spec.role == common::TensorRole::kParameter) << spec.name;
    if (spec.role == common::TensorRole::kParameter) parameters += tensor.numel();
  }
  EXPECT_EQ(model.ParameterCount(), parameters);
  // PyTorch's defaults: batchnorm starts as the identity.
  EXPECT_TRUE(model.state().tensors.at("bn.running_var").eq(1).all().item<bool>());
  EXPECT_TRUE(model.state().tensors.at("bn.bias").eq(0).all().item<bool>());
}

TEST(ModelTest, InitialisationIsAFunctionOfTheSeed) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model a, Model::Create(EveryOp(), {.device = "cpu", .seed = 9}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model b, Model::Create(EveryOp(), {.device = "cpu", .seed = 9}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model c, Model::Create(EveryOp(), {.device = "cpu", .seed = 10}));
  for (const auto& [name, tensor] : a.state().tensors) {
    EXPECT_TRUE(tensor.equal(b.state().tensors.at(name))) << name;
  }
  EXPECT_FALSE(a.state().tensors.at("conv.weight").equal(c.state().tensors.at("conv.weight")));
  // nn.Conv2d's bound: 1/sqrt(fan_in), fan_in = 3 * 3 * 3.
  const double bound = 1.0 / std::sqrt(27.0);
  EXPECT_LE(a.state().tensors.at("conv.weight").abs().max().item<double>(), bound);
  EXPECT_GT(a.state().tensors.at("conv.weight").abs().max().item<double>(), 0.8 * bound);
}

TEST(ModelTest, CopyIsDeep) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(EveryOp(), {}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model copy, model.CopyTo("cpu"));
  EXPECT_EQ(copy.device(), "cpu");
  {
    c10::NoGradGuard no_grad;
    copy.state().tensors.at("fc.weight").zero_();
  }
  EXPECT_FALSE(model.state().tensors.at("fc.weight").eq(0).all().item<bool>());
}

TEST(ModelTest, RejectsBadDefinitionsDevicesAndTensors) {
  NetworkDef broken = EveryOp();
  broken.layers[1].num_features = 7;
  EXPECT_THAT(Model::Create(broken, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bn")));
  EXPECT_THAT(Model::Create(EveryOp(), {.device = "tpu"}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device")));

  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(EveryOp(), {}));
  internal::NamedTensors tensors = model.state().tensors;
  tensors["fc.weight"] = at::randn({5, 71});
  EXPECT_THAT(internal::MakeModel(EveryOp(), tensors, c10::kCPU, "test").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("fc.weight has shape [5, 71] but the network definition needs "
                                 "[5, 72]")));
  tensors = model.state().tensors;
  tensors.erase("conv.bias");
  tensors["extra.weight"] = at::randn({1});
  EXPECT_THAT(internal::MakeModel(EveryOp(), tensors, c10::kCPU, "test").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing tensors conv.bias")));
  tensors["conv.bias"] = model.state().tensors.at("conv.bias");
  EXPECT_THAT(internal::MakeModel(EveryOp(), tensors, c10::kCPU, "test").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("extra.weight")));
}

TEST(ModelTest, TrainingModeUpdatesBatchNormStatistics) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(EveryOp(), {}));
  const at::Tensor input = at::randn({4, 3, 20, 20});
  c10::NoGradGuard no_grad;
  internal::Forward(model.state(), input, /*training=*/false);
  EXPECT_TRUE(model.state().tensors.at("bn.running_mean").eq(0).all().item<bool>());
  internal::Forward(model.state(), input, /*training=*/true);
  EXPECT_FALSE(model.state().tensors.at("bn.running_mean").eq(0).all().item<bool>());
  EXPECT_EQ(model.state().tensors.at("bn.num_batches_tracked").item<int64_t>(), 1);
}

}  // namespace
}  // namespace netadapt::engine
