// The uniform baseline's thinning (common/uniform_thinning.h): one multiplier for every block,
// widths rounded to the channel step, matched to a target resource within one step per block.
#include "common/uniform_thinning.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "common/filter_search.h"
#include "common/zoo.h"
#include "tests/testing/graph_network.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

NetworkDef Zoo(const std::string& name, double width_multiplier, int input_size) {
  ZooOptions options;
  options.input_size = input_size;
  options.width_multiplier = width_multiplier;
  absl::StatusOr<NetworkDef> network = ZooNetwork(name, options);
  EXPECT_TRUE(network.ok()) << network.status();
  return *network;
}

double Flops(const NetworkDef& network) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  absl::StatusOr<double> resource = NetworkResource(network, CostContext{}, flops);
  EXPECT_TRUE(resource.ok()) << resource.status();
  return resource.ok() ? *resource : 0;
}

TEST(UniformWidthTest, RoundsToTheStepWithinTheSearchsWidths) {
  EXPECT_EQ(UniformWidth(64, 0.5, 8), 32);
  EXPECT_EQ(UniformWidth(64, 0.56, 8), 32);   // 35.8 -> 32
  EXPECT_EQ(UniformWidth(64, 0.57, 8), 40);   // 36.5 -> 40
  EXPECT_EQ(UniformWidth(64, 0.01, 8), 8);    // never below the smallest candidate
  EXPECT_EQ(UniformWidth(64, 1.0, 8), 64);
  EXPECT_EQ(UniformWidth(10, 0.99, 4), 8);    // 9.9 -> 8: a width not on the step's grid
  EXPECT_EQ(UniformWidth(14, 0.99, 8), 14);   // 13.86 -> 16, above the width: the width
  EXPECT_EQ(UniformWidth(6, 0.3, 8), 6);      // narrower than a step: kept
  EXPECT_EQ(UniformWidth(32, 0.2, 1, 2), 6);
  EXPECT_EQ(UniformWidth(32, 0.01, 1, 2), 2);  // a depthwise group keeps two channels
}

TEST(WithBlockWidthsTest, ResizesEveryBlockAsOneAtATime) {
  const NetworkDef seed = testing::GraphOpNetwork();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(seed));
  std::vector<int> widths;
  NetworkDef one_at_a_time = seed;
  for (size_t b = 0; b < blocks.size(); ++b) {
    widths.push_back(std::max(2, blocks[b].width / 2));
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> now, FindBlocks(one_at_a_time));
    one_at_a_time = WithBlockWidth(one_at_a_time, now[b], widths.back());
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef resized, WithBlockWidths(seed, widths));
  EXPECT_EQ(WidthsString(resized), WidthsString(one_at_a_time));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> after, FindBlocks(resized));
  ASSERT_EQ(after.size(), blocks.size());
  for (size_t b = 0; b < after.size(); ++b) EXPECT_EQ(after[b].width, widths[b]) << b;

  EXPECT_THAT(WithBlockWidths(seed, {1, 2}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 given for")));
  widths[0] = blocks[0].width + 1;
  EXPECT_THAT(WithBlockWidths(seed, widths).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("widths[0]")));
}

// The property the job's baseline rests on: for every target between the narrowest thinning
// and the seed, the chosen uniform widths cost within one channel step per block of the
// target: every block one step narrower is at or below it, one step wider at or above it.
TEST(MatchUniformThinningTest, MeetsTheTargetWithinOneStepPerBlock) {
  struct Case {
    std::string name;
    NetworkDef network;
    int step;
  };
  const std::vector<Case> cases = {
      {"helloworld", Zoo("helloworld", 1.0, 32), 8},
      {"alexnet x0.25", Zoo("alexnet", 0.25, 32), 4},
      {"resnet18 x0.25", Zoo("resnet18", 0.25, 32), 4},
      {"mobilenet_v2 x0.5", Zoo("mobilenet_v2", 0.5, 32), 8},
      {"graph ops", testing::GraphOpNetwork(), 2},
  };
  AnalyticResourceModel flops(ResourceType::kFlops);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(c.network));
    const double seed_flops = Flops(c.network);
    std::vector<int> lowest;
    for (const Block& block : blocks) {
      lowest.push_back(CandidateWidths(block.width, c.step, MinCandidateWidth(block)).back());
    }
    for (double ratio : {0.2, 0.35, 0.5, 0.62, 0.8, 0.95}) {
      SCOPED_TRACE(ratio);
      const double target = ratio * seed_flops;
      NETADAPT_ASSERT_OK_AND_ASSIGN(UniformThinning thinning,
                                    MatchUniformThinning(c.network, target, c.step, flops));
      // One multiplier for every block, and the network it describes.
      EXPECT_EQ(thinning.widths, UniformWidths(blocks, thinning.multiplier, c.step));
      NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef expected,
                                    WithBlockWidths(c.network, thinning.widths));
      EXPECT_EQ(WidthsString(thinning.network), WidthsString(expected));
      EXPECT_DOUBLE_EQ(thinning.resource, Flops(thinning.network));
      std::vector<int> narrower, wider;
      for (size_t b = 0; b < blocks.size(); ++b) {
        narrower.push_back(std::max(lowest[b], thinning.widths[b] - c.step));
        wider.push_back(std::min(blocks[b].width, thinning.widths[b] + c.step));
      }
      NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef below, WithBlockWidths(c.network, narrower));
      NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef above, WithBlockWidths(c.network, wider));
      if (narrower != thinning.widths) {
        EXPECT_LE(Flops(below), target);
      }
      if (wider != thinning.widths) {
        EXPECT_GE(Flops(above), target);
      }
      // Nearer the target than its neighbours in multiplier order.
      EXPECT_LT(std::abs(thinning.resource - target), 0.5 * seed_flops);
    }
    // Beyond the ends: the seed itself, the narrowest thinning.
    NETADAPT_ASSERT_OK_AND_ASSIGN(UniformThinning all,
                                  MatchUniformThinning(c.network, 2 * seed_flops, c.step, flops));
    EXPECT_EQ(WidthsString(all.network), WidthsString(c.network));
    NETADAPT_ASSERT_OK_AND_ASSIGN(UniformThinning none,
                                  MatchUniformThinning(c.network, 0, c.step, flops));
    EXPECT_EQ(none.widths, lowest);
  }
}

// Against brute force over a fine grid of multipliers: no uniform thinning is nearer the
// target than the one chosen.
TEST(MatchUniformThinningTest, NoUniformThinningIsNearerTheTarget) {
  for (const NetworkDef& seed : {Zoo("helloworld", 1.0, 32), Zoo("resnet18", 0.25, 32)}) {
    SCOPED_TRACE(seed.name);
    AnalyticResourceModel flops(ResourceType::kFlops);
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(seed));
    std::vector<double> resources;
    std::vector<int> previous;
    for (int i = 0; i <= 20000; ++i) {
      const std::vector<int> widths = UniformWidths(blocks, i / 20000.0, 4);
      if (widths == previous) continue;
      previous = widths;
      NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef network, WithBlockWidths(seed, widths));
      resources.push_back(Flops(network));
    }
    const double seed_flops = Flops(seed);
    for (double ratio = 0.1; ratio < 1; ratio += 0.037) {
      const double target = ratio * seed_flops;
      NETADAPT_ASSERT_OK_AND_ASSIGN(UniformThinning thinning,
                                    MatchUniformThinning(seed, target, 4, flops));
      double best = HUGE_VAL;
      for (double r : resources) best = std::min(best, std::abs(r - target));
      EXPECT_DOUBLE_EQ(std::abs(thinning.resource - target), best) << ratio;
    }
  }
}

TEST(MatchUniformThinningTest, Errors) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  EXPECT_THAT(MatchUniformThinning(Zoo("helloworld", 1.0, 32), 1, 0, flops).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("channel_step")));
}

}  // namespace
}  // namespace netadapt::common
