#include "common/torch/pruning.h"

#include <ATen/ops/rand.h>
#include <ATen/ops/randn.h>
#include <ATen/TensorOperators.h>
#include <c10/core/GradMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/network_blocks.h"
#include "common/zoo.h"
#include "common/torch/internal/model_state.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

using common::Block;
using common::BlockMember;
using common::Layer;
using common::LayerOp;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// Tiny zoo variants: every block of each model is pruned, so keep them small.
common::NetworkDef TinyZoo(const std::string& name) {
  common::ZooOptions options;
  options.input_size = 32;
  options.width_multiplier = name == "helloworld" ? 1.0 : (name == "mobilenet" ? 0.25 : 0.125);
  auto def = common::ZooNetwork(name, options);
  EXPECT_TRUE(def.ok()) << def.status();
  return *def;
}

// He-initialised weights (PyTorch's default init shrinks activations ~6x per layer, which would
// leave logits near 1e-7 and make any tolerance vacuous) and random batchnorm statistics and
// affine terms, so that slicing any tensor wrongly changes the logits visibly.
void RandomiseWeights(Model& model) {
  c10::NoGradGuard no_grad;
  auto& tensors = model.state().tensors;
  for (const Layer& layer : model.def().layers) {
    if (layer.IsWeighted()) {
      at::Tensor& weight = tensors.at(layer.name + ".weight");
      const double fan_in = static_cast<double>(weight.numel() / weight.size(0));
      weight.copy_(at::randn(weight.sizes()) * std::sqrt(2.0 / fan_in));
    }
    if (layer.op != LayerOp::kBatchNorm2d) continue;
    const int64_t n = layer.num_features;
    tensors.at(layer.name + ".weight").copy_(at::rand({n}) + 0.5);
    tensors.at(layer.name + ".bias").copy_(at::randn({n}) * 0.1);
    tensors.at(layer.name + ".running_mean").copy_(at::randn({n}) * 0.1);
    tensors.at(layer.name + ".running_var").copy_(at::rand({n}) + 0.5);
  }
}

void ZeroChannel(internal::NamedTensors& tensors, const Layer& layer, const char* field,
                 int64_t c) {
  auto it = tensors.find(absl::StrCat(layer.name, ".", field));
  if (it != tensors.end()) it->second.select(0, c).zero_();
}

// The original model with block `block`'s dropped channels silenced at every producer, and at
// every batchnorm and depthwise conv they pass through (their affine terms would make the
// channel non-zero again), at the channel's offset in each layer's input. Consumers are left
// alone: they then see zeros where the pruned model has no channel.
Model SilenceDroppedChannels(const Model& original, int b, const Block& block,
                             const std::vector<int>& kept) {
  auto copy = original.CopyTo(original.device());
  EXPECT_TRUE(copy.ok());
  Model silenced = std::move(copy).value();
  c10::NoGradGuard no_grad;
  auto& tensors = silenced.state().tensors;
  const auto& layers = silenced.def().layers;
  std::vector<bool> keep(block.width, false);
  for (int c : kept) keep[c] = true;
  for (const BlockMember& member : block.members) {
    if (member.kind == BlockMember::Kind::kConsumer) continue;
    const Layer& layer = layers[member.layer_index];
    int64_t offset = 0;
    for (const common::ChannelSegment& segment : member.layout) {
      if (segment.block == b) {
        for (int c = 0; c < block.width; ++c) {
          if (keep[c]) continue;
          ZeroChannel(tensors, layer, "weight", offset + c);
          ZeroChannel(tensors, layer, "bias", offset + c);
        }
      }
      offset += segment.channels;
    }
  }
  return silenced;
}

class PruningEquivalenceTest : public ::testing::TestWithParam<std::string> {};

// The proof: for every block, the pruned model computes what the original computes
// with the dropped filters zeroed.
TEST_P(PruningEquivalenceTest, PrunedModelMatchesSilencedOriginalForEveryBlock) {
  at::manual_seed(7);
  const common::NetworkDef def = TinyZoo(GetParam());
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(def, {.device = "cpu", .seed = 3}));
  RandomiseWeights(model);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, common::FindBlocks(def));
  ASSERT_FALSE(blocks.empty());
  const at::Tensor input =
      at::randn({4, def.input.channels, def.input.height, def.input.width});
  c10::NoGradGuard no_grad;
  for (int b = 0; b < static_cast<int>(blocks.size()); ++b) {
    const int width = blocks[b].width;
    const int new_width = std::max(1, width / 2 - 1);
    NETADAPT_ASSERT_OK_AND_ASSIGN(PruneResult pruned, PruneBlock(model, b, new_width));
    for (int producer : blocks[b].producers) {
      EXPECT_EQ(pruned.model.def().layers[producer].out_channels, new_width);
    }
    ASSERT_EQ(pruned.kept_filters.size(), static_cast<size_t>(new_width));
    const Model silenced = SilenceDroppedChannels(model, b, blocks[b], pruned.kept_filters);
    const at::Tensor expected = internal::Forward(silenced.state(), input, /*training=*/false);
    const at::Tensor actual = internal::Forward(pruned.model.state(), input, false);
    ASSERT_EQ(actual.sizes(), expected.sizes());
    ASSERT_GT(expected.abs().max().item<double>(), 0.1) << "logits too small to compare";
    EXPECT_LT((actual - expected).abs().max().item<double>(), 1e-5)
        << GetParam() << " block " << b << " (" << blocks[b].Description(def) << ")";
    // Sanity: the silenced channels mattered, so the comparison is not vacuous.
    const at::Tensor unpruned = internal::Forward(model.state(), input, false);
    EXPECT_GT((unpruned - expected).abs().max().item<double>(), 1e-3) << "block " << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, PruningEquivalenceTest,
                         ::testing::Values("alexnet", "mobilenet", "vgg16", "helloworld"));

TEST(PruningTest, KeepsTheLargestFiltersInOrder) {
  const common::NetworkDef def = TinyZoo("helloworld");
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(def, {}));
  auto& weight = model.state().tensors.at(def.layers[0].name + ".weight");
  {
    c10::NoGradGuard no_grad;
    weight.mul_(0.01);
    weight.select(0, 5).fill_(1.0);
    weight.select(0, 2).fill_(0.5);
    weight.select(0, 9).fill_(0.75);
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(PruneResult pruned, PruneBlock(model, 0, 3));
  EXPECT_THAT(pruned.kept_filters, ::testing::ElementsAre(2, 5, 9));
}

TEST(PruningTest, FullWidthIsTheSameModel) {
  const common::NetworkDef def = TinyZoo("helloworld");
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(def, {}));
  const int width = def.layers[0].out_channels;
  NETADAPT_ASSERT_OK_AND_ASSIGN(PruneResult pruned, PruneBlock(model, 0, width));
  const at::Tensor input = at::randn({2, 3, 32, 32});
  c10::NoGradGuard no_grad;
  EXPECT_TRUE(internal::Forward(pruned.model.state(), input, false)
                  .equal(internal::Forward(model.state(), input, false)));
}

TEST(PruningTest, BadBlockOrWidthNamesTheField) {
  const common::NetworkDef def = TinyZoo("helloworld");
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(def, {}));
  EXPECT_THAT(PruneBlock(model, 99, 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block: 99")));
  EXPECT_THAT(PruneBlock(model, -1, 1).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(PruneBlock(model, 0, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("width: 0")));
  EXPECT_THAT(PruneBlock(model, 0, 10000).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("width: 10000")));
}

}  // namespace
}  // namespace netadapt::engine
