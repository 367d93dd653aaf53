#include "common/network_blocks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/zoo.h"
#include "tests/testing/graph_network.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

using Kind = BlockMember::Kind;

// A chain block's members other than its producer, as the tests of the chain form see them.
struct Dependent {
  int layer_index;
  Kind kind;
  int features_per_channel;
};
std::vector<Dependent> Dependents(const Block& block) {
  std::vector<Dependent> deps;
  for (const BlockMember& m : block.members) {
    if (m.kind != Kind::kProducer) deps.push_back({m.layer_index, m.kind, m.per_width});
  }
  return deps;
}
int ConsumerIndex(const Block& block) { return Dependents(block).back().layer_index; }

// The names of the blocks' layers, in block order.
std::vector<std::string> BlockNames(const NetworkDef& net, const std::vector<Block>& blocks) {
  std::vector<std::string> names;
  for (const Block& block : blocks) names.push_back(net.layers[block.layer_index()].name);
  return names;
}

// The block whose layer is called `name`, or nullptr.
const Block* FindBlock(const NetworkDef& net, const std::vector<Block>& blocks,
                       const std::string& name) {
  for (const Block& block : blocks) {
    if (net.layers[block.layer_index()].name == name) return &block;
  }
  return nullptr;
}

TEST(FindBlocksTest, AlexNetHasSevenBlocks) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("alexnet", ZooOptions{}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  // classifier.6 outputs the classes: it is not a block.
  EXPECT_THAT(BlockNames(net, blocks),
              ElementsAre("features.0", "features.3", "features.6", "features.8", "features.10",
                          "classifier.1", "classifier.4"));

  // Between two convs only ReLUs and pools: the consumer is the only dependent.
  const Block* first = FindBlock(net, blocks, "features.0");
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(Dependents(*first).size(), 1u);
  EXPECT_EQ(Dependents(*first)[0].kind, Kind::kConsumer);
  EXPECT_EQ(ConsumerIndex(*first), net.FindLayer("features.3"));
  EXPECT_EQ(Dependents(*first)[0].features_per_channel, 1);

  // The last conv feeds the first linear layer through a 6x6 adaptive pool and a flatten.
  const Block* last_conv = FindBlock(net, blocks, "features.10");
  ASSERT_NE(last_conv, nullptr);
  ASSERT_EQ(Dependents(*last_conv).size(), 1u);
  EXPECT_EQ(ConsumerIndex(*last_conv), net.FindLayer("classifier.1"));
  EXPECT_EQ(Dependents(*last_conv).back().kind, Kind::kConsumer);
  EXPECT_EQ(Dependents(*last_conv).back().features_per_channel, 36);

  const Block* hidden = FindBlock(net, blocks, "classifier.4");
  ASSERT_NE(hidden, nullptr);
  EXPECT_EQ(ConsumerIndex(*hidden), net.FindLayer("classifier.6"));
  EXPECT_EQ(Dependents(*hidden).back().features_per_channel, 1);
}

TEST(FindBlocksTest, MobileNetBlocksAreTheFirstConvAndThePointwiseConvs) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("mobilenet", ZooOptions{}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  std::vector<std::string> expected = {"model.0.0"};
  for (int k = 1; k <= 13; ++k) expected.push_back(absl::StrCat("model.", k, ".3"));
  EXPECT_THAT(BlockNames(net, blocks), ElementsAreArray(expected));
}

// A conv's width runs through its batchnorm, the next depthwise conv and that conv's batchnorm
// before it reaches the next pointwise conv.
TEST(FindBlocksTest, MobileNetDependentsFollowTheDepthwiseConv) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("mobilenet", ZooOptions{}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  ASSERT_EQ(blocks.size(), 14u);

  const Block& first = blocks[0];
  EXPECT_EQ(first.layer_index(), net.FindLayer("model.0.0"));
  ASSERT_EQ(Dependents(first).size(), 4u);
  EXPECT_EQ(Dependents(first)[0].layer_index, net.FindLayer("model.0.1"));
  EXPECT_EQ(Dependents(first)[0].kind, Kind::kBatchNorm);
  EXPECT_EQ(Dependents(first)[1].layer_index, net.FindLayer("model.1.0"));
  EXPECT_EQ(Dependents(first)[1].kind, Kind::kDepthwiseConv);
  EXPECT_EQ(Dependents(first)[2].layer_index, net.FindLayer("model.1.1"));
  EXPECT_EQ(Dependents(first)[2].kind, Kind::kBatchNorm);
  EXPECT_EQ(Dependents(first)[3].layer_index, net.FindLayer("model.1.3"));
  EXPECT_EQ(Dependents(first)[3].kind, Kind::kConsumer);
  EXPECT_EQ(Dependents(first)[3].features_per_channel, 1);

  // Every pointwise block but the last has the same pattern, one stage further on.
  for (int k = 1; k <= 12; ++k) {
    SCOPED_TRACE(absl::StrCat("model.", k, ".3"));
    const Block& block = blocks[k];
    EXPECT_EQ(block.layer_index(), net.FindLayer(absl::StrCat("model.", k, ".3")));
    ASSERT_EQ(Dependents(block).size(), 4u);
    const std::string next = absl::StrCat("model.", k + 1, ".");
    EXPECT_EQ(Dependents(block)[0].layer_index, net.FindLayer(absl::StrCat("model.", k, ".4")));
    EXPECT_EQ(Dependents(block)[0].kind, Kind::kBatchNorm);
    EXPECT_EQ(Dependents(block)[1].layer_index, net.FindLayer(next + "0"));
    EXPECT_EQ(Dependents(block)[1].kind, Kind::kDepthwiseConv);
    EXPECT_EQ(Dependents(block)[2].layer_index, net.FindLayer(next + "1"));
    EXPECT_EQ(Dependents(block)[2].kind, Kind::kBatchNorm);
    EXPECT_EQ(ConsumerIndex(block), net.FindLayer(next + "3"));
  }

  // The last pointwise conv feeds fc through the average pool and flatten (1x1 map).
  const Block& last = blocks.back();
  EXPECT_EQ(last.layer_index(), net.FindLayer("model.13.3"));
  ASSERT_EQ(Dependents(last).size(), 2u);
  EXPECT_EQ(Dependents(last)[0].layer_index, net.FindLayer("model.13.4"));
  EXPECT_EQ(Dependents(last)[0].kind, Kind::kBatchNorm);
  EXPECT_EQ(ConsumerIndex(last), net.FindLayer("fc"));
  EXPECT_EQ(Dependents(last)[1].kind, Kind::kConsumer);
  EXPECT_EQ(Dependents(last)[1].features_per_channel, 1);
}

TEST(FindBlocksTest, HelloWorldLastConvOutputsTheClasses) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("helloworld", ZooOptions{}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  EXPECT_THAT(BlockNames(net, blocks), ElementsAre("features.0", "features.2", "features.4"));
  EXPECT_EQ(ConsumerIndex(blocks.back()), net.FindLayer("features.6"));
}

TEST(FindBlocksTest, Vgg16HasThirteenConvAndTwoLinearBlocks) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("vgg16", ZooOptions{}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  ASSERT_EQ(blocks.size(), 15u);
  for (size_t b = 0; b < 13; ++b) {
    EXPECT_EQ(net.layers[blocks[b].layer_index()].op, LayerOp::kConv2d) << b;
  }
  EXPECT_EQ(net.layers[blocks[13].layer_index()].name, "classifier.0");
  EXPECT_EQ(net.layers[blocks[14].layer_index()].name, "classifier.3");
  // The last conv reaches classifier.0 through a 7x7 adaptive pool.
  EXPECT_EQ(ConsumerIndex(blocks[12]), net.FindLayer("classifier.0"));
  EXPECT_EQ(Dependents(blocks[12]).back().features_per_channel, 49);
}

// A conv feeding a grouped (not depthwise) conv is not prunable on its own; the grouped conv
// itself is not a candidate either.
TEST(FindBlocksTest, ConvFeedingGroupedConvIsNotABlock) {
  NetworkDef net;
  net.input = {3, 8, 8};
  net.layers = {
      Layer::Conv2d("conv", 3, 8, {3, 3}, {1, 1}, {1, 1}),
      Layer::Conv2d("grouped", 8, 8, {3, 3}, {1, 1}, {1, 1}, /*groups=*/2),
      Layer::Conv2d("pointwise", 8, 16, {1, 1}),
      Layer::Conv2d("out", 16, 4, {1, 1}),
  };
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  EXPECT_THAT(BlockNames(net, blocks), ElementsAre("pointwise"));
}

TEST(FindBlocksTest, RejectsInvalidNetwork) {
  NetworkDef net;
  net.input = {3, 8, 8};
  net.layers = {Layer::Conv2d("conv", 4, 8, {3, 3})};
  EXPECT_THAT(FindBlocks(net), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Resizing any block of any zoo model to any width keeps the network valid, and the block and
// its dependents take the new width.
TEST(WithBlockWidthTest, EveryZooBlockStaysValidAtNewWidths) {
  for (const std::string& name : ZooNames()) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork(name, ZooOptions{}));
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
    ASSERT_FALSE(blocks.empty()) << name;
    for (const Block& block : blocks) {
      for (int width : {8, 3, 1}) {
        SCOPED_TRACE(absl::StrCat(name, " ", net.layers[block.layer_index()].name, " width ",
                                  width));
        const NetworkDef resized = WithBlockWidth(net, block, width);
        EXPECT_THAT(Validate(resized), IsOk());
        EXPECT_EQ(resized.layers[block.layer_index()].out_channels, width);
        for (const Dependent& dep : Dependents(block)) {
          const Layer& layer = resized.layers[dep.layer_index];
          switch (dep.kind) {
            case Kind::kBatchNorm:
              EXPECT_EQ(layer.num_features, width);
              break;
            case Kind::kDepthwiseConv:
              EXPECT_EQ(layer.in_channels, width);
              EXPECT_EQ(layer.out_channels, width);
              EXPECT_EQ(layer.groups, width);
              break;
            case Kind::kConsumer:
              EXPECT_EQ(layer.in_channels, width * dep.features_per_channel);
              break;
          }
        }
        // The original is left alone.
        EXPECT_NE(net.layers[block.layer_index()].out_channels, width);
      }
    }
  }
}

// Only the block's own layers change.
TEST(WithBlockWidthTest, LeavesOtherLayersUnchanged) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef net, ZooNetwork("alexnet", ZooOptions{}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  const Block& features3 = blocks[1];
  const NetworkDef resized = WithBlockWidth(net, features3, 100);
  EXPECT_EQ(WidthsString(resized), "64 100 384 256 256 4096 4096 10");
  EXPECT_EQ(resized.layers[net.FindLayer("features.6")].in_channels, 100);
  EXPECT_EQ(resized.layers[net.FindLayer("features.3")].in_channels, 64);
}

// ---- Channel groups in graphs -----------------------------------------------------------

std::vector<std::string> ProducerNames(const NetworkDef& net, const Block& block) {
  std::vector<std::string> names;
  for (int p : block.producers) names.push_back(net.layers[p].name);
  return names;
}

// The members of `block` of one kind, by layer name.
std::vector<std::string> MemberNames(const NetworkDef& net, const Block& block, Kind kind) {
  std::vector<std::string> names;
  for (const BlockMember& m : block.members) {
    if (m.kind == kind) names.push_back(net.layers[m.layer_index].name);
  }
  return names;
}

const BlockMember* FindMember(const NetworkDef& net, const Block& block, const std::string& name,
                              Kind kind) {
  for (const BlockMember& m : block.members) {
    if (m.kind == kind && net.layers[m.layer_index].name == name) return &m;
  }
  return nullptr;
}

TEST(ChannelGroupsTest, GraphOpNetworkGroups) {
  const NetworkDef net = testing::GraphOpNetwork();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  ASSERT_EQ(blocks.size(), 6u);
  // The residual add and the squeeze-excite mul tie three producers.
  EXPECT_THAT(ProducerNames(net, blocks[0]), ElementsAre("stem.conv", "mix.conv", "se.expand"));
  EXPECT_EQ(blocks[0].width, 16);
  EXPECT_THAT(MemberNames(net, blocks[0], Kind::kBatchNorm),
              ElementsAre("stem.bn", "mix.bn", "dw.bn"));
  EXPECT_THAT(MemberNames(net, blocks[0], Kind::kDepthwiseConv), ElementsAre("dw"));
  EXPECT_THAT(MemberNames(net, blocks[0], Kind::kConsumer),
              ElementsAre("a.conv", "b.conv", "se.reduce", "pw"));
  EXPECT_THAT(ProducerNames(net, blocks[1]), ElementsAre("a.conv"));
  EXPECT_THAT(ProducerNames(net, blocks[2]), ElementsAre("b.conv"));
  EXPECT_THAT(ProducerNames(net, blocks[3]), ElementsAre("se.reduce"));
  EXPECT_THAT(ProducerNames(net, blocks[4]), ElementsAre("pw"));
  EXPECT_THAT(ProducerNames(net, blocks[5]), ElementsAre("fc1"));

  // The concat lays a.conv's channels at offset 0 and b.conv's at 8 of mix.conv's input.
  const BlockMember* a_in = FindMember(net, blocks[1], "mix.conv", Kind::kConsumer);
  ASSERT_NE(a_in, nullptr);
  ASSERT_EQ(a_in->layout.size(), 2u);
  EXPECT_EQ(a_in->layout[0], (ChannelSegment{1, 8, 1}));
  EXPECT_EQ(a_in->layout[1], (ChannelSegment{2, 8, 1}));
  EXPECT_EQ(a_in->fixed, 8);
  EXPECT_EQ(a_in->per_width, 1);
  EXPECT_EQ(a_in->Resized(4), 12);
  // pw reaches fc1 through a 2x2 pool and a flatten: 64 features per channel.
  const BlockMember* pw_in = FindMember(net, blocks[4], "fc1", Kind::kConsumer);
  ASSERT_NE(pw_in, nullptr);
  EXPECT_EQ(pw_in->per_width, 64);
  EXPECT_EQ(pw_in->fixed, 0);
  // fc2 outputs the logits: not a block.
  for (const Block& block : blocks) {
    EXPECT_NE(net.layers[block.layer_index()].name, "fc2");
  }
}

TEST(ChannelGroupsTest, ResizingAGroupResizesEveryMember) {
  const NetworkDef net = testing::GraphOpNetwork();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  const NetworkDef resized = WithBlockWidth(net, blocks[0], 8);
  ASSERT_THAT(Validate(resized), IsOk());
  EXPECT_EQ(resized.layers[resized.FindLayer("stem.conv")].out_channels, 8);
  EXPECT_EQ(resized.layers[resized.FindLayer("mix.conv")].out_channels, 8);
  EXPECT_EQ(resized.layers[resized.FindLayer("se.expand")].out_channels, 8);
  EXPECT_EQ(resized.layers[resized.FindLayer("dw")].groups, 8);
  EXPECT_EQ(resized.layers[resized.FindLayer("pw")].in_channels, 8);
  EXPECT_EQ(resized.layers[resized.FindLayer("se.reduce")].in_channels, 8);
  // Concat: b.conv shrinks, mix.conv's input follows; a.conv's part stays.
  const NetworkDef narrower_b = WithBlockWidth(net, blocks[2], 3);
  ASSERT_THAT(Validate(narrower_b), IsOk());
  EXPECT_EQ(narrower_b.layers[narrower_b.FindLayer("mix.conv")].in_channels, 11);
  // Flatten: fc1 takes 64 features per pw channel.
  const NetworkDef narrower_pw = WithBlockWidth(net, blocks[4], 5);
  ASSERT_THAT(Validate(narrower_pw), IsOk());
  EXPECT_EQ(narrower_pw.layers[narrower_pw.FindLayer("fc1")].in_channels, 5 * 64);
}

TEST(ChannelGroupsTest, AResidualOnTheNetworkInputIsNotPrunable) {
  NetworkDef net;
  net.input = {4, 6, 6};
  net.layers = {
      Layer::Conv2d("conv", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Op("add", LayerOp::kAdd, {"conv", "input"}),
      Layer::Conv2d("head", 4, 8, {1, 1}),
      Layer::Conv2d("out", 8, 2, {1, 1}),
  };
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  EXPECT_THAT(BlockNames(net, blocks), ElementsAre("head"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string explained, ExplainBlocks(net));
  EXPECT_THAT(explained, ::testing::HasSubstr("not prunable: conv (tied to the network input)"));
  EXPECT_THAT(explained, ::testing::HasSubstr("not prunable: out (tied to the network output)"));
}

// An add of a concat and a single tensor would have to split one group across two: refused as
// not prunable (and said so), never resized into an invalid network.
TEST(ChannelGroupsTest, AnAddOfDifferentSplitsIsNotPrunable) {
  NetworkDef net;
  net.input = {3, 6, 6};
  net.layers = {
      Layer::Conv2d("a", 3, 4, {1, 1}),
      Layer::Conv2d("b", 3, 4, {1, 1}),
      Layer::Op("cat", LayerOp::kConcat, {"a", "b"}),
      Layer::Conv2d("c", 3, 8, {1, 1}),
      Layer::Op("add", LayerOp::kAdd, {"cat", "c"}),
      Layer::Conv2d("head", 8, 6, {1, 1}),
      Layer::Conv2d("out", 6, 2, {1, 1}),
  };
  net.layers[1].inputs = {"input"};
  net.layers[3].inputs = {"input"};
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  EXPECT_THAT(BlockNames(net, blocks), ElementsAre("head"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string explained, ExplainBlocks(net));
  EXPECT_THAT(explained, ::testing::HasSubstr("not prunable: a (tied by add add"));
}

// Two concats of the same pair of groups, then an add of them: aligned, so the groups stay
// prunable and the add's consumer sees both at their offsets.
TEST(ChannelGroupsTest, AnAddOfAlignedConcatsTiesThemPartByPart) {
  NetworkDef net;
  net.input = {3, 6, 6};
  net.layers = {
      Layer::Conv2d("a", 3, 4, {1, 1}),
      Layer::Conv2d("b", 3, 6, {1, 1}),
      Layer::Op("cat1", LayerOp::kConcat, {"a", "b"}),
      Layer::Conv2d("c", 3, 4, {1, 1}),
      Layer::Conv2d("d", 3, 6, {1, 1}),
      Layer::Op("cat2", LayerOp::kConcat, {"c", "d"}),
      Layer::Op("add", LayerOp::kAdd, {"cat1", "cat2"}),
      Layer::Conv2d("out", 10, 2, {1, 1}),
  };
  for (int i : {1, 3, 4}) net.layers[i].inputs = {"input"};
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_THAT(ProducerNames(net, blocks[0]), ElementsAre("a", "c"));
  EXPECT_THAT(ProducerNames(net, blocks[1]), ElementsAre("b", "d"));
  const NetworkDef resized = WithBlockWidth(net, blocks[1], 2);
  ASSERT_THAT(Validate(resized), IsOk());
  EXPECT_EQ(resized.layers.back().in_channels, 6);
}

TEST(ChannelGroupsTest, LabelsNameTheModuleTheProducersShare) {
  const NetworkDef net = testing::GraphOpNetwork();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  // stem.conv, mix.conv, se.expand share no module: the first producer names the group.
  EXPECT_EQ(blocks[0].name, "stem.conv");
  EXPECT_EQ(blocks[0].Description(net), "stem.conv (3 layers: stem.conv, mix.conv, se.expand)");
  EXPECT_EQ(blocks[1].Description(net), "a.conv");

  // layer1's group as in a ResNet: conv1 and two blocks' conv2 -> "layer1" (2 of 3).
  NetworkDef resnet_like;
  resnet_like.input = {3, 8, 8};
  resnet_like.layers = {
      Layer::Conv2d("conv1", 3, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Relu("relu"),
      Layer::Conv2d("layer1.0.conv1", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Conv2d("layer1.0.conv2", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Op("layer1.0.add", LayerOp::kAdd, {"layer1.0.conv2", "relu"}),
      Layer::Conv2d("layer1.1.conv1", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Conv2d("layer1.1.conv2", 4, 4, {3, 3}, {1, 1}, {1, 1}),
      Layer::Op("layer1.1.add", LayerOp::kAdd, {"layer1.1.conv2", "layer1.0.add"}),
      Layer::Conv2d("fc", 4, 2, {1, 1}),
  };
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> groups, FindBlocks(resnet_like));
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].Description(resnet_like),
            "layer1 (3 layers: conv1, layer1.0.conv2, layer1.1.conv2)");
  EXPECT_EQ(groups[1].Description(resnet_like), "layer1.0.conv1");
}

TEST(ChannelGroupsTest, ExplainListsEveryBlockAndWhatItResizes) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string explained,
                                ExplainBlocks(testing::GraphOpNetwork()));
  EXPECT_THAT(explained,
              ::testing::HasSubstr("block 0: stem.conv (3 layers: stem.conv, mix.conv, "
                                   "se.expand), width 16; also resizes 8 layers: stem.bn, "
                                   "a.conv, b.conv, mix.bn, se.reduce, dw, dw.bn, pw\n"));
  EXPECT_THAT(explained, ::testing::HasSubstr("block 5: fc1, width 12; also resizes 1 layer: fc2"));
  EXPECT_THAT(explained, ::testing::HasSubstr("not prunable: fc2 (tied to the network output)"));
}

}  // namespace
}  // namespace netadapt::common
