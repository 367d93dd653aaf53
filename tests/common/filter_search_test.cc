#include "common/filter_search.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/lut_latency_model.h"
#include "common/network_blocks.h"
#include "common/synthetic_latency.h"
#include "common/zoo.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// A random valid sequential network: conv stacks (some depthwise-separable, some with
// batchnorm and pools), then a classifier of one to three linear layers after a flatten.
// Widths go below the channel step now and then, to reach the one-candidate edge case.
NetworkDef RandomNetwork(std::mt19937& rng) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  NetworkDef net;
  net.name = "random";
  const int size = uniform(6, 20);
  net.input = {uniform(1, 4), size, size};
  int channels = net.input.channels;
  int spatial = size;
  int index = 0;
  auto name = [&] { return absl::StrCat("layers.", index++); };
  auto width = [&] { return chance(0.1) ? uniform(1, 7) : uniform(8, 96); };
  const int convs = uniform(1, 5);
  for (int c = 0; c < convs; ++c) {
    if (c > 0 && chance(0.3)) {  // depthwise conv ahead of the next (pointwise) conv
      net.layers.push_back(Layer::Conv2d(name(), channels, channels, {3, 3}, {1, 1}, {1, 1},
                                         channels, false));
      if (chance(0.5)) net.layers.push_back(Layer::BatchNorm2d(name(), channels));
      net.layers.push_back(Layer::Relu6(name()));
    }
    const int out = width();
    const int kernel = chance(0.5) ? 1 : 3;
    const int stride = spatial >= 8 && chance(0.3) ? 2 : 1;
    net.layers.push_back(Layer::Conv2d(name(), channels, out, {kernel, kernel}, {stride, stride},
                                       {kernel / 2, kernel / 2}));
    spatial = (spatial + 2 * (kernel / 2) - kernel) / stride + 1;
    channels = out;
    if (chance(0.5)) net.layers.push_back(Layer::BatchNorm2d(name(), channels));
    net.layers.push_back(Layer::Relu(name()));
    if (spatial >= 4 && chance(0.3)) {
      net.layers.push_back(Layer::MaxPool2d(name(), {2, 2}, {2, 2}));
      spatial /= 2;
    }
  }
  const int pooled = uniform(1, 3);
  net.layers.push_back(Layer::AdaptiveAvgPool2d(name(), {pooled, pooled}));
  net.layers.push_back(Layer::Flatten(name()));
  channels *= pooled * pooled;
  const int hidden = uniform(0, 2);
  for (int h = 0; h < hidden; ++h) {
    if (chance(0.5)) net.layers.push_back(Layer::Dropout(name()));
    const int out = width();
    net.layers.push_back(Layer::Linear(name(), channels, out));
    net.layers.push_back(Layer::Relu(name()));
    channels = out;
  }
  net.layers.push_back(Layer::Linear(name(), channels, uniform(2, 10)));
  return net;
}

SearchOptions Options(SearchStrategy strategy, int step = 8) {
  SearchOptions options;
  options.strategy = strategy;
  options.channel_step = step;
  options.binary_threshold = 16;
  return options;
}

// Runs linear and exact (and binary with a threshold covering every candidate) on one problem
// and checks they agree on the width, the resource to the last bit, the flag and the network.
void ExpectStrategiesAgree(const NetworkDef& net, int block, double target, ResourceModel& model,
                           int step, const std::string& context) {
  absl::StatusOr<BlockSearch> linear_search =
      BlockSearch::Create(net, Options(SearchStrategy::kLinear, step));
  absl::StatusOr<BlockSearch> exact_search =
      BlockSearch::Create(net, Options(SearchStrategy::kExact, step));
  ASSERT_TRUE(linear_search.ok() && exact_search.ok()) << context;
  absl::StatusOr<SearchResult> linear = linear_search->SimplifyBlock(block, target, model);
  ASSERT_TRUE(linear.ok()) << context << ": " << linear.status();
  absl::StatusOr<SearchResult> exact = exact_search->SimplifyBlock(block, target, model);
  ASSERT_TRUE(exact.ok()) << context << ": " << exact.status();
  EXPECT_EQ(exact->width, linear->width) << context;
  EXPECT_EQ(exact->resource, linear->resource) << context;  // bit-for-bit
  EXPECT_EQ(exact->meets_target, linear->meets_target) << context;
  EXPECT_EQ(WidthsString(exact_search->SimplifiedNetwork(*exact)),
            WidthsString(linear_search->SimplifiedNetwork(*linear)))
      << context;

  SearchOptions wide = Options(SearchStrategy::kBinary, step);
  wide.binary_threshold = 1 << 20;
  absl::StatusOr<SearchResult> binary = SimplifyBlock(net, block, target, model, wide);
  ASSERT_TRUE(binary.ok()) << context << ": " << binary.status();
  EXPECT_EQ(binary->width, linear->width) << context;
  EXPECT_EQ(binary->resource, linear->resource) << context;
}

// Targets across the whole range: met at once, met part way, never met, and exactly at a
// candidate's resource (the comparison is strict).
std::vector<double> Targets(const NetworkDef& net, int block, ResourceModel& model, int step,
                            std::mt19937& rng) {
  const double full = *NetworkResource(net, {}, model);
  std::uniform_real_distribution<double> fraction(0.3, 1.05);
  std::vector<double> targets = {full * 1.5, fraction(rng) * full, fraction(rng) * full, 0.0};
  const std::vector<Block> blocks = *FindBlocks(net);
  const std::vector<int> candidates =
      CandidateWidths(blocks[block].width, step);
  const int pick = std::uniform_int_distribution<int>(0, candidates.size() - 1)(rng);
  targets.push_back(
      *NetworkResource(WithBlockWidth(net, blocks[block], candidates[pick]), {}, model));
  return targets;
}

// SimplifyAllBlocks with kExact (which shares unchanged layers' costs between blocks) returns,
// block by block, what kLinear's SimplifyBlock returns.
void ExpectAllBlocksAgree(const NetworkDef& net, double target, ResourceModel& model, int step,
                          const std::string& context) {
  absl::StatusOr<BlockSearch> linear_search =
      BlockSearch::Create(net, Options(SearchStrategy::kLinear, step));
  absl::StatusOr<BlockSearch> exact_search =
      BlockSearch::Create(net, Options(SearchStrategy::kExact, step));
  ASSERT_TRUE(linear_search.ok() && exact_search.ok()) << context;
  absl::StatusOr<std::vector<SearchResult>> all = exact_search->SimplifyAllBlocks(target, model);
  ASSERT_TRUE(all.ok()) << context << ": " << all.status();
  ASSERT_EQ(static_cast<int>(all->size()), exact_search->num_blocks()) << context;
  for (int block = 0; block < exact_search->num_blocks(); ++block) {
    absl::StatusOr<SearchResult> linear = linear_search->SimplifyBlock(block, target, model);
    ASSERT_TRUE(linear.ok()) << context << ": " << linear.status();
    EXPECT_EQ((*all)[block].block, block) << context;
    EXPECT_EQ((*all)[block].width, linear->width) << context << " block " << block;
    EXPECT_EQ((*all)[block].resource, linear->resource) << context << " block " << block;
    EXPECT_EQ((*all)[block].meets_target, linear->meets_target) << context << " block " << block;
  }
}

// Checks every block of `net` at every target of Targets(), one by one and all blocks at once;
// returns the problems checked.
int CheckEveryBlock(const NetworkDef& net, ResourceModel& model, int step, std::mt19937& rng,
                    int trial) {
  int problems = 0;
  const int blocks = static_cast<int>(FindBlocks(net)->size());
  for (int block = 0; block < blocks; ++block) {
    for (double target : Targets(net, block, model, step, rng)) {
      ExpectStrategiesAgree(net, block, target, model, step,
                            absl::StrCat("trial ", trial, " block ", block, " target ", target));
      ++problems;
      if (block == 0) {
        ExpectAllBlocksAgree(net, target, model, step,
                             absl::StrCat("trial ", trial, " all blocks, target ", target));
      }
    }
  }
  return problems;
}

TEST(FilterSearchPropertyTest, ExactEqualsLinearOnRandomNonMonotoneSyntheticModels) {
  std::mt19937 rng(20261129);
  int problems = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const NetworkDef net = RandomNetwork(rng);
    SyntheticLatencyOptions synthetic;
    synthetic.seed = trial;
    // Up to +-90% noise: the resource zig-zags between neighbouring candidates.
    synthetic.noise = std::uniform_real_distribution<double>(0.0, 0.9)(rng);
    SyntheticLatencyModel model(synthetic);
    const int step = trial % 3 == 0 ? 4 : 8;
    problems += CheckEveryBlock(net, model, step, rng, trial);
  }
  EXPECT_GT(problems, 2000);
}

TEST(FilterSearchPropertyTest, ExactEqualsLinearOnRandomLutsWithBilinearInterpolation) {
  std::mt19937 rng(42);
  int problems = 0;
  for (int trial = 0; trial < 150; ++trial) {
    const NetworkDef net = RandomNetwork(rng);
    SyntheticLatencyOptions synthetic;
    synthetic.seed = 1000 + trial;
    synthetic.noise = 0.5;
    // A coarse grid, so most candidates fall between grid points and are interpolated.
    const LutGrid grid{trial % 2 == 0 ? 8 : 16, trial % 2 == 0 ? 16 : 32};
    NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable table, BuildSyntheticTable(net, {}, grid, synthetic));
    LutLatencyModel model(std::move(table), MissPolicy::Interpolate(Interpolation::kBilinear));
    problems += CheckEveryBlock(net, model, 8, rng, trial);
  }
  EXPECT_GT(problems, 500);
}

TEST(FilterSearchPropertyTest, ExactEqualsLinearOnRandomLutsWithRbfCubicInterpolation) {
  std::mt19937 rng(7);
  int problems = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const NetworkDef net = RandomNetwork(rng);
    SyntheticLatencyOptions synthetic;
    synthetic.seed = 5000 + trial;
    synthetic.noise = 0.2;
    NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable table,
                                  BuildSyntheticTable(net, {}, LutGrid{16, 32}, synthetic));
    LutLatencyModel model(std::move(table), MissPolicy::Interpolate(Interpolation::kRbfCubic));
    problems += CheckEveryBlock(net, model, 8, rng, trial);
  }
  EXPECT_GT(problems, 200);
}

TEST(FilterSearchPropertyTest, ExactEqualsLinearOnFlops) {
  std::mt19937 rng(3);
  AnalyticResourceModel model(ResourceType::kFlops);
  int problems = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const NetworkDef net = RandomNetwork(rng);
    problems += CheckEveryBlock(net, model, 8, rng, trial);
  }
  EXPECT_GT(problems, 1000);
}

// A model that prices only the first conv, from a table indexed by its output count: the
// network's resource is then exactly the table, as in the paper's Fig. 6.
class TableModel final : public ResourceModel {
 public:
  explicit TableModel(absl::flat_hash_map<int, double> by_width) : by_width_(std::move(by_width)) {}
  absl::StatusOr<double> LayerCost(const LayerShape& shape) override {
    if (shape.op != LayerOp::kConv2d || shape.in_channels != 3) return 0.0;
    return by_width_.at(shape.out_channels);
  }

 private:
  absl::flat_hash_map<int, double> by_width_;
};

NetworkDef TwoConvNet(int width) {
  NetworkDef net;
  net.name = "two-conv";
  net.input = {3, 8, 8};
  net.layers = {Layer::Conv2d("conv1", 3, width, {3, 3}, {1, 1}, {1, 1}), Layer::Relu("relu"),
                Layer::Conv2d("conv2", width, 10, {3, 3}, {1, 1}, {1, 1}),
                Layer::AvgPool2d("pool", {8, 8}, {8, 8}), Layer::Flatten("flatten")};
  return net;
}

TEST(FilterSearchTest, BinaryReproducesThePapersFigureSix) {
  // Fig. 6 of the paper: 12 candidates 96..8, constraint 0.5, threshold 1: bisection narrows
  // to (32, 24) in 3 evaluations and the scan evaluates both: 5 evaluations, width 24.
  const double latencies[] = {1.4, 1.12, 1, 0.9, 0.85, 0.8, 0.7, 0.61, 0.57, 0.48, 0.42, 0.29};
  absl::flat_hash_map<int, double> by_width;
  for (int i = 0; i < 12; ++i) by_width[96 - 8 * i] = latencies[i];
  TableModel model(by_width);
  SearchOptions options = Options(SearchStrategy::kBinary);
  options.binary_threshold = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(SearchResult binary,
                                SimplifyBlock(TwoConvNet(96), 0, 0.5, model, options));
  EXPECT_EQ(binary.width, 24);
  EXPECT_TRUE(binary.meets_target);
  EXPECT_EQ(binary.stats.resource_computations, 5);

  NETADAPT_ASSERT_OK_AND_ASSIGN(
      SearchResult linear, SimplifyBlock(TwoConvNet(96), 0, 0.5, model, Options(SearchStrategy::kLinear)));
  EXPECT_EQ(linear.width, 24);
  EXPECT_EQ(linear.stats.resource_computations, 10);
  EXPECT_EQ(linear.stats.layer_lookups, 20);  // two weighted layers per network
}

TEST(FilterSearchTest, BinaryCanDifferFromLinearWhenTheResourceIsNotMonotone) {
  // A dip at 88 that bisection steps over: linear finds it, exact too, binary does not.
  absl::flat_hash_map<int, double> by_width;
  for (int w = 8; w <= 96; w += 8) by_width[w] = w == 88 ? 0.1 : (w <= 24 ? 0.3 : 0.9);
  TableModel model(by_width);
  SearchOptions binary_options = Options(SearchStrategy::kBinary);
  binary_options.binary_threshold = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(SearchResult binary,
                                SimplifyBlock(TwoConvNet(96), 0, 0.5, model, binary_options));
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      SearchResult linear, SimplifyBlock(TwoConvNet(96), 0, 0.5, model, Options(SearchStrategy::kLinear)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      SearchResult exact, SimplifyBlock(TwoConvNet(96), 0, 0.5, model, Options(SearchStrategy::kExact)));
  EXPECT_EQ(linear.width, 88);
  EXPECT_EQ(exact.width, 88);
  EXPECT_EQ(binary.width, 24);
}

TEST(FilterSearchTest, TargetAlreadyMetKeepsTheWidestCandidate) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  const NetworkDef net = TwoConvNet(100);
  for (SearchStrategy s : {SearchStrategy::kLinear, SearchStrategy::kBinary, SearchStrategy::kExact}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(BlockSearch search, BlockSearch::Create(net, Options(s)));
    NETADAPT_ASSERT_OK_AND_ASSIGN(SearchResult r, search.SimplifyBlock(0, 1e12, flops));
    EXPECT_EQ(r.width, 96) << SearchStrategyName(s);  // floor(100 / 8) * 8
    EXPECT_TRUE(r.meets_target);
    EXPECT_EQ(search.SimplifiedNetwork(r).layers[2].in_channels, 96);
  }
}

TEST(FilterSearchTest, UnreachableTargetReturnsTheSmallestCandidateFlagged) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  const NetworkDef net = TwoConvNet(64);
  const double at_eight =
      *NetworkResource(WithBlockWidth(net, FindBlocks(net)->front(), 8), {}, flops);
  for (SearchStrategy s : {SearchStrategy::kLinear, SearchStrategy::kBinary, SearchStrategy::kExact}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(SearchResult r, SimplifyBlock(net, 0, 1.0, flops, Options(s)));
    EXPECT_EQ(r.width, 8) << SearchStrategyName(s);
    EXPECT_FALSE(r.meets_target);
    EXPECT_EQ(r.resource, at_eight);
  }
}

TEST(FilterSearchTest, BlockAtItsMinimumWidthHasOneCandidate) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  for (int width : {8, 5}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(SearchResult r,
                                  SimplifyBlock(TwoConvNet(width), 0, 1.0, flops, Options(SearchStrategy::kExact)));
    EXPECT_EQ(r.width, width);
    EXPECT_FALSE(r.meets_target);
  }
  EXPECT_EQ(CandidateWidths(5, 8), std::vector<int>({5}));
  EXPECT_EQ(CandidateWidths(20, 8), std::vector<int>({16, 8}));
}

TEST(FilterSearchTest, CandidateRangeIsCandidateWidths) {
  for (int step : {1, 3, 8, 64}) {
    for (int width = 1; width <= 300; ++width) {
      const std::vector<int> widths = CandidateWidths(width, step);
      const CandidateRange range(width, step);
      ASSERT_EQ(range.size(), static_cast<int>(widths.size())) << width << " " << step;
      for (int i = 0; i < range.size(); ++i) EXPECT_EQ(range[i], widths[i]);
    }
  }
}

TEST(FilterSearchTest, ExactBisectsOnMonotoneResources) {
  // FLOPs are monotone: on AlexNet's 4096-wide block (512 candidates) exact needs a handful of
  // evaluations where linear scans.
  AnalyticResourceModel flops(ResourceType::kFlops);
  NETADAPT_ASSERT_OK_AND_ASSIGN(NetworkDef alexnet, ZooNetwork("alexnet", {}));
  const double full = *NetworkResource(alexnet, {}, flops);
  const int block = 5;  // classifier.1
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      SearchResult exact, SimplifyBlock(alexnet, block, 0.97 * full, flops, Options(SearchStrategy::kExact)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      SearchResult linear, SimplifyBlock(alexnet, block, 0.97 * full, flops, Options(SearchStrategy::kLinear)));
  EXPECT_EQ(exact.width, linear.width);
  EXPECT_GT(linear.stats.resource_computations, 100);
  EXPECT_LT(exact.stats.resource_computations, 20);
  EXPECT_LT(exact.stats.layer_lookups * 20, linear.stats.layer_lookups);
}

TEST(FilterSearchTest, RejectsBadArguments) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  const NetworkDef net = TwoConvNet(16);
  EXPECT_THAT(SimplifyBlock(net, 1, 1.0, flops, Options(SearchStrategy::kExact)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block 1 is out of range")));
  EXPECT_THAT(SimplifyBlock(net, -1, 1.0, flops, Options(SearchStrategy::kExact)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SimplifyBlock(net, 0, NAN, flops, Options(SearchStrategy::kExact)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("target")));
  EXPECT_THAT(SimplifyBlock(net, 0, 1.0, flops, Options(SearchStrategy::kExact, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("channel_step")));
  NetworkDef broken = net;
  broken.layers[2].in_channels = 3;
  EXPECT_THAT(SimplifyBlock(broken, 0, 1.0, flops, Options(SearchStrategy::kExact)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layers[2]")));
  EXPECT_THAT(ParseSearchStrategy("ternary"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FilterSearchTest, MissingLutEntryIsReportedNotGuessed) {
  LutLatencyModel model(LatencyTable(), MissPolicy::Fail());
  EXPECT_THAT(SimplifyBlock(TwoConvNet(16), 0, 1.0, model, Options(SearchStrategy::kExact)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no LUT entry")));
}

}  // namespace
}  // namespace netadapt::common
