// Property tests of the filter-count search on graph networks: random DAGs with residual adds,
// concats, squeeze-excite gates, depthwise convs, pools and flatten + linear heads. For every
// block of every network and targets across the whole range, the exact search returns what the
// linear scan returns (width and resource bit-for-bit) under FLOPS, WEIGHTS, a noisy synthetic
// latency and a LUT with bilinear interpolation; resizing a block keeps the network valid.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/filter_search.h"
#include "common/latency_table.h"
#include "common/lut_grid.h"
#include "common/lut_latency_model.h"
#include "common/network_blocks.h"
#include "common/network_def.h"
#include "common/resource_model.h"
#include "common/status_macros.h"
#include "common/synthetic_latency.h"
#include "tests/testing/graph_network.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;

// Builds a random valid DAG network layer by layer. Every layer's output is used (InferShapes
// rejects dead layers): each construct consumes what it creates, and the head ends the network.
class RandomGraph {
 public:
  struct Options {
    int min_width = 8;  // most widths in [min_width, max_width]; a few below 8
    int max_width = 48;
    int min_units = 2;
    int max_units = 6;
  };

  RandomGraph(std::mt19937& rng, Options options) : rng_(rng), options_(options) {}

  NetworkDef Build() {
    net_ = NetworkDef();
    net_.name = "random_graph";
    index_ = 0;
    const int size = Uniform(6, 14);
    net_.input = {Uniform(1, 4), size, size};
    Tensor x{std::string(kNetworkInputName), net_.input.channels, size};
    // Usually a stem; without one the first construct reads the network input (a residual on
    // it is not prunable).
    if (Chance(0.85)) x = ConvBnAct(x, Width(), Chance(0.5) ? 3 : 1, 1);
    const int units = Uniform(options_.min_units, options_.max_units);
    for (int u = 0; u < units; ++u) x = Unit(x);
    Head(x);
    return net_;
  }

 private:
  struct Tensor {
    std::string name;
    int channels = 0;
    int size = 0;  // height = width
  };

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  int Width() {
    return Chance(0.1) ? Uniform(2, 7) : Uniform(options_.min_width, options_.max_width);
  }
  std::string Name(absl::string_view what) { return absl::StrCat("n", index_++, ".", what); }

  // Appends `layer` reading `inputs`; a single input that is the previous layer is sometimes
  // left implicit (the sequential default).
  std::string Emit(Layer layer, const std::vector<std::string>& inputs) {
    const bool previous =
        inputs.size() == 1 && (net_.layers.empty() ? inputs[0] == kNetworkInputName
                                                   : inputs[0] == net_.layers.back().name);
    if (!(previous && Chance(0.5))) layer.inputs = inputs;
    net_.layers.push_back(std::move(layer));
    return net_.layers.back().name;
  }

  Tensor Conv(const Tensor& x, int out, int kernel, int stride, bool bias = true) {
    const Layer conv = Layer::Conv2d(Name("conv"), x.channels, out, {kernel, kernel},
                                     {stride, stride}, {kernel / 2, kernel / 2}, 1, bias);
    const int size = (x.size + 2 * (kernel / 2) - kernel) / stride + 1;
    return {Emit(conv, {x.name}), out, size};
  }

  Tensor Activation(const Tensor& x) {
    switch (Uniform(0, 3)) {
      case 0:
        return {Emit(Layer::Relu(Name("relu")), {x.name}), x.channels, x.size};
      case 1:
        return {Emit(Layer::Relu6(Name("relu6")), {x.name}), x.channels, x.size};
      case 2:
        return {Emit(Layer::Op(Name("hswish"), LayerOp::kHardswish), {x.name}), x.channels, x.size};
      default:
        return x;
    }
  }

  Tensor BatchNorm(const Tensor& x) {
    return {Emit(Layer::BatchNorm2d(Name("bn"), x.channels), {x.name}), x.channels, x.size};
  }

  Tensor ConvBnAct(const Tensor& x, int out, int kernel, int stride) {
    Tensor y = Conv(x, out, kernel, stride, /*bias=*/Chance(0.5));
    if (Chance(0.6)) y = BatchNorm(y);
    return Activation(y);
  }

  int Stride(const Tensor& x) { return x.size >= 6 && Chance(0.25) ? 2 : 1; }

  Tensor Depthwise(const Tensor& x, int stride) {
    const Layer dw = Layer::Conv2d(Name("dw"), x.channels, x.channels, {3, 3}, {stride, stride},
                                   {1, 1}, x.channels, false);
    Tensor y{Emit(dw, {x.name}), x.channels, (x.size - 1) / stride + 1};
    if (Chance(0.7)) y = BatchNorm(y);
    return Activation(y);
  }

  Tensor Add(std::vector<Tensor> parts) {
    std::shuffle(parts.begin(), parts.end(), rng_);
    std::vector<std::string> names;
    for (const Tensor& t : parts) names.push_back(t.name);
    Tensor y{Emit(Layer::Op(Name("add"), LayerOp::kAdd), names), parts[0].channels, parts[0].size};
    return Chance(0.5) ? Activation(y) : y;
  }

  Tensor Concat(const std::vector<Tensor>& parts) {
    std::vector<std::string> names;
    int channels = 0;
    for (const Tensor& t : parts) {
      names.push_back(t.name);
      channels += t.channels;
    }
    return {Emit(Layer::Op(Name("cat"), LayerOp::kConcat), names), channels, parts[0].size};
  }

  // A branch of one or two conv-bn-act ending at `out` channels.
  Tensor Branch(const Tensor& x, int out, int stride) {
    if (Chance(0.5)) return ConvBnAct(x, out, Chance(0.5) ? 3 : 1, stride);
    const Tensor mid = ConvBnAct(x, Width(), Chance(0.5) ? 3 : 1, stride);
    Tensor y = Conv(mid, out, Chance(0.5) ? 3 : 1, 1, Chance(0.5));
    return Chance(0.7) ? BatchNorm(y) : y;
  }

  Tensor Unit(const Tensor& x) {
    switch (Uniform(0, 10)) {
      case 0:  // plain conv-bn-act
        return ConvBnAct(x, Width(), Chance(0.5) ? 3 : 1, Stride(x));
      case 1: {  // identity residual, sometimes with a second branch (a three-way add)
        std::vector<Tensor> parts = {x, Branch(x, x.channels, 1)};
        if (Chance(0.3)) parts.push_back(Branch(x, x.channels, 1));
        return Add(parts);
      }
      case 2: {  // projection residual: the shortcut conv and the branch are tied
        const int out = Width();
        const int stride = Stride(x);
        Tensor shortcut = Conv(x, out, 1, stride, Chance(0.5));
        if (Chance(0.5)) shortcut = BatchNorm(shortcut);
        return Add({Branch(x, out, stride), shortcut});
      }
      case 3: {  // inverted residual (MobileNetV2): expand, depthwise, project
        const int stride = Stride(x);
        Tensor h = ConvBnAct(
            x, Chance(0.5) ? Width() : std::min(x.channels * Uniform(1, 3), 2 * options_.max_width),
            1, 1);
        if (h.channels < 2) h = ConvBnAct(h, 8, 1, 1);
        h = Depthwise(h, stride);
        if (Chance(0.4)) h = SqueezeExcite(h);
        if (stride == 1 && Chance(0.7)) {
          Tensor y = BatchNorm(Conv(h, x.channels, 1, 1, false));
          return Add({x, y});
        }
        return BatchNorm(Conv(h, Width(), 1, 1, false));
      }
      case 4: {  // inception: branches concatenated, sometimes with the input itself (dense)
        std::vector<Tensor> parts;
        const int branches = Uniform(2, 3);
        for (int b = 0; b < branches; ++b) {
          switch (Uniform(0, 2)) {
            case 0:
              parts.push_back(ConvBnAct(x, Width(), 1, 1));
              break;
            case 1:
              parts.push_back(Branch(x, Width(), 1));
              break;
            default: {
              const Tensor pooled{
                  Emit(Layer::MaxPool2d(Name("pool"), {3, 3}, {1, 1}, {1, 1}), {x.name}),
                  x.channels, x.size};
              parts.push_back(ConvBnAct(pooled, Width(), 1, 1));
            }
          }
        }
        if (Chance(0.3)) parts.insert(parts.begin() + Uniform(0, branches), x);
        const Tensor joined = Concat(parts);
        return Chance(0.3) ? Activation(BatchNorm(joined)) : joined;
      }
      case 10: {  // one group twice in a concat: x and a residual tied to it, or x itself
        const Tensor y = Chance(0.5) ? Add({x, Branch(x, x.channels, 1)}) : x;
        const Tensor joined = Chance(0.5) ? Concat({x, y}) : Concat({y, x});
        return Chance(0.5) ? BatchNorm(joined) : joined;
      }
      case 5:
        return SqueezeExcite(x);
      case 6:
        if (x.channels < 2) return ConvBnAct(x, Width(), 3, 1);
        return Depthwise(x, Stride(x));
      case 7: {  // pool (or dropout when too small to pool)
        if (x.size < 4) {
          return {Emit(Layer::Dropout(Name("drop"), 0.1), {x.name}), x.channels, x.size};
        }
        const Layer pool = Chance(0.5) ? Layer::MaxPool2d(Name("pool"), {2, 2}, {2, 2})
                                       : Layer::AvgPool2d(Name("pool"), {2, 2}, {2, 2});
        return {Emit(pool, {x.name}), x.channels, x.size / 2};
      }
      case 8: {  // gated linear unit: two convs of one width multiplied (tied, equal shapes)
        const int out = Width();
        const Tensor a = ConvBnAct(x, out, Chance(0.5) ? 3 : 1, 1);
        Tensor b = Conv(x, out, 1, 1);
        b = {Emit(Layer::Op(Name("sigmoid"), LayerOp::kSigmoid), {b.name}), out, b.size};
        std::vector<std::string> names = {a.name, b.name};
        if (Chance(0.5)) std::swap(names[0], names[1]);
        return {Emit(Layer::Op(Name("mul"), LayerOp::kMul), names), out, x.size};
      }
      default: {  // an add of two concats: aligned splits tie part by part, others are fixed
        const int w1 = Width();
        const int w2 = Width();
        const std::vector<Tensor> first = {ConvBnAct(x, w1, 1, 1), ConvBnAct(x, w2, 3, 1)};
        const std::vector<Tensor> second =
            Chance(0.6) ? std::vector<Tensor>{ConvBnAct(x, w1, 1, 1), ConvBnAct(x, w2, 1, 1)}
                        : std::vector<Tensor>{ConvBnAct(x, w2, 1, 1), ConvBnAct(x, w1, 1, 1)};
        const Tensor a = Concat(first);
        const Tensor b = Concat(second);
        return {Emit(Layer::Op(Name("add"), LayerOp::kAdd), {a.name, b.name}), w1 + w2, x.size};
      }
    }
  }

  // Global pool, reduce, expand, gate; the gate multiplies x (as either operand).
  Tensor SqueezeExcite(const Tensor& x) {
    const Tensor pooled{Emit(Layer::AdaptiveAvgPool2d(Name("se.pool"), {1, 1}), {x.name}),
                        x.channels, 1};
    const Tensor reduced = Activation(Conv(pooled, Uniform(2, 12), 1, 1));
    const Tensor expanded = Conv(reduced, x.channels, 1, 1);
    const Layer gate = Chance(0.5) ? Layer::Op(Name("se.gate"), LayerOp::kSigmoid)
                                   : Layer::Op(Name("se.gate"), LayerOp::kHardsigmoid);
    const std::string gate_name = Emit(gate, {expanded.name});
    std::vector<std::string> names = {gate_name, x.name};
    if (Chance(0.5)) std::swap(names[0], names[1]);
    return {Emit(Layer::Op(Name("se.mul"), LayerOp::kMul), names), x.channels, x.size};
  }

  // Features after a flatten: channels = features.
  Tensor Flatten(const Tensor& x) {
    return {Emit(Layer::Flatten(Name("flatten")), {x.name}), x.channels * x.size * x.size, 1};
  }

  Tensor Linear(const Tensor& x, int out) {
    return {Emit(Layer::Linear(Name("fc"), x.channels, out, Chance(0.7)), {x.name}), out, 1};
  }

  void Head(Tensor x) {
    const int classes = Uniform(2, 10);
    switch (Uniform(0, 3)) {
      case 0: {  // global pool, flatten, linear layers
        const int pooled = x.size >= 2 && Chance(0.3) ? 2 : 1;
        x = {Emit(Layer::AdaptiveAvgPool2d(Name("gap"), {pooled, pooled}), {x.name}), x.channels,
             pooled};
        x = Flatten(x);
        if (Chance(0.4)) x = {Emit(Layer::Dropout(Name("drop"), 0.2), {x.name}), x.channels, 1};
        for (int h = Uniform(0, 2); h > 0; --h) {
          x = Linear(x, Width());
          x = {Emit(Layer::Relu(Name("relu")), {x.name}), x.channels, 1};
        }
        Linear(x, classes);
        return;
      }
      case 1: {  // pool down to at most 3x3, flatten straight into the classifier
        while (x.size > 3) {
          x = {Emit(Layer::MaxPool2d(Name("pool"), {2, 2}, {2, 2}), {x.name}), x.channels,
               x.size / 2};
        }
        Linear(Flatten(x), classes);
        return;
      }
      case 2: {  // a conv to the classes, then pool and flatten (the conv feeds the output)
        x = Conv(x, classes, 1, 1);
        x = {Emit(Layer::AdaptiveAvgPool2d(Name("gap"), {1, 1}), {x.name}), classes, 1};
        Flatten(x);
        return;
      }
      default: {  // graph ops on features: residuals, a gate or a concat of linear layers
        x = {Emit(Layer::AdaptiveAvgPool2d(Name("gap"), {1, 1}), {x.name}), x.channels, 1};
        x = Flatten(x);
        const int hidden = Width();
        const Tensor a = Linear(x, hidden);
        switch (Uniform(0, 3)) {
          case 3: {  // the pooled channels plus a linear layer: a group of a conv and a linear
            const Tensor b = Linear(x, x.channels);
            x = {Emit(Layer::Op(Name("add"), LayerOp::kAdd), {x.name, b.name}), x.channels, 1};
            x = Concat({x, a});
            break;
          }
          case 0: {
            const Tensor b = Linear(a, hidden);
            x = {Emit(Layer::Op(Name("add"), LayerOp::kAdd), {b.name, a.name}), hidden, 1};
            break;
          }
          case 1: {
            Tensor b = Linear(x, hidden);
            b = {Emit(Layer::Op(Name("sigmoid"), LayerOp::kSigmoid), {b.name}), hidden, 1};
            x = {Emit(Layer::Op(Name("mul"), LayerOp::kMul), {a.name, b.name}), hidden, 1};
            break;
          }
          default:
            x = Concat({a, Linear(x, Width())});
        }
        Linear(x, classes);
        return;
      }
    }
  }

  std::mt19937& rng_;
  Options options_;
  NetworkDef net_;
  int index_ = 0;
};

SearchOptions Options(SearchStrategy strategy, int step) {
  SearchOptions options;
  options.strategy = strategy;
  options.channel_step = step;
  return options;
}

// Targets across the whole range: met at once, met part way (twice), never met, and exactly
// at a random candidate's resource (the comparison is strict).
absl::StatusOr<std::vector<double>> Targets(const NetworkDef& net, const Block& block,
                                            ResourceModel& model, int step, std::mt19937& rng) {
  NETADAPT_ASSIGN_OR_RETURN(const double full, NetworkResource(net, {}, model));
  std::uniform_real_distribution<double> fraction(0.5, 1.02);
  std::vector<double> targets = {full * 1.5, fraction(rng) * full, fraction(rng) * full, 0.0};
  const std::vector<int> candidates = CandidateWidths(block.width, step, MinCandidateWidth(block));
  const int pick = std::uniform_int_distribution<int>(0, candidates.size() - 1)(rng);
  NETADAPT_ASSIGN_OR_RETURN(
      const double at_pick,
      NetworkResource(WithBlockWidth(net, block, candidates[pick]), {}, model));
  targets.push_back(at_pick);
  return targets;
}

// What the rows of a property test reached, so that a generator change cannot make the
// property pass vacuously.
struct Coverage {
  int networks = 0;
  int rows = 0;      // (block, target) problems checked
  int at_once = 0;   // met by the widest candidate
  int part_way = 0;  // met by a narrower one
  int never = 0;     // not met: the narrowest candidate, flagged
  int many = 0;      // 8 or more candidates (exact bounds ranges rather than scans them)
  int bounded = 0;   // exact asked the model for a bound
  int fewer = 0;     // exact computed fewer candidates than linear
  std::string Summary() const {
    return absl::StrCat(networks, " networks, ", rows, " rows: met at once ", at_once,
                        ", part way ", part_way, ", never ", never, "; 8+ candidates ", many,
                        ", exact bounded ", bounded, ", exact computed fewer candidates ", fewer);
  }
  // Every kind of row is reached often enough to mean something.
  void ExpectBroad() const {
    EXPECT_GT(rows, 3000) << Summary();
    for (int count : {at_once, part_way, never, many, bounded, fewer}) {
      EXPECT_GT(count, rows / 20) << Summary();
    }
  }
};

// For every block of `net` and every target of Targets(): exact's SimplifyBlock and, for each
// target, exact's SimplifyAllBlocks (which shares unchanged layers' costs between blocks)
// return linear's width, resource (bit-for-bit) and flag.
void CheckExactEqualsLinear(const NetworkDef& net, ResourceModel& model, int step,
                            std::mt19937& rng, const std::string& context, Coverage& coverage) {
  absl::StatusOr<BlockSearch> linear =
      BlockSearch::Create(net, Options(SearchStrategy::kLinear, step));
  absl::StatusOr<BlockSearch> exact =
      BlockSearch::Create(net, Options(SearchStrategy::kExact, step));
  ASSERT_TRUE(linear.ok() && exact.ok()) << context;
  const std::vector<Block> blocks = *FindBlocks(net);
  ASSERT_EQ(exact->num_blocks(), static_cast<int>(blocks.size())) << context;
  ++coverage.networks;
  std::vector<double> all_targets;
  for (int b = 0; b < exact->num_blocks(); ++b) {
    const CandidateRange candidates(blocks[b].width, step, MinCandidateWidth(blocks[b]));
    absl::StatusOr<std::vector<double>> targets = Targets(net, blocks[b], model, step, rng);
    ASSERT_THAT(targets, IsOk()) << context << " block " << b;
    for (double target : *targets) {
      const std::string where =
          absl::StrCat(context, " block ", b, " (", blocks[b].Description(net), ") step ", step,
                       " target ", target);
      absl::StatusOr<SearchResult> l = linear->SimplifyBlock(b, target, model);
      absl::StatusOr<SearchResult> e = exact->SimplifyBlock(b, target, model);
      ASSERT_THAT(l, IsOk()) << where;
      ASSERT_THAT(e, IsOk()) << where;
      EXPECT_EQ(e->width, l->width) << where;
      EXPECT_EQ(e->resource, l->resource) << where;  // bit-for-bit
      EXPECT_EQ(e->meets_target, l->meets_target) << where;
      ++coverage.rows;
      if (!l->meets_target) {
        ++coverage.never;
      } else if (l->width == candidates[0]) {
        ++coverage.at_once;
      } else {
        ++coverage.part_way;
      }
      if (candidates.size() >= 8) ++coverage.many;
      if (e->stats.bound_queries > 0) ++coverage.bounded;
      if (e->stats.resource_computations < l->stats.resource_computations) ++coverage.fewer;
      if (b == 0) all_targets.push_back(target);
    }
  }
  for (double target : all_targets) {
    absl::StatusOr<std::vector<SearchResult>> all = exact->SimplifyAllBlocks(target, model);
    ASSERT_THAT(all, IsOk()) << context;
    for (int b = 0; b < exact->num_blocks(); ++b) {
      const std::string where = absl::StrCat(context, " all blocks, block ", b, " target ", target);
      absl::StatusOr<SearchResult> l = linear->SimplifyBlock(b, target, model);
      ASSERT_THAT(l, IsOk()) << where;
      EXPECT_EQ((*all)[b].width, l->width) << where;
      EXPECT_EQ((*all)[b].resource, l->resource) << where;
      EXPECT_EQ((*all)[b].meets_target, l->meets_target) << where;
    }
  }
}

// Resizing each block to every width from 1 to its own keeps the network valid, gives every
// producer the new width and resizes nothing outside the block's members. At every width a
// search may propose (from MinCandidateWidth up) the network keeps the same blocks: same
// producers and members, the resized block at the new width, the others as they were.
void CheckWithBlockWidth(const NetworkDef& net, const std::string& context) {
  const std::vector<Block> blocks = *FindBlocks(net);
  for (size_t b = 0; b < blocks.size(); ++b) {
    const Block& block = blocks[b];
    std::vector<bool> member(net.layers.size(), false);
    for (const BlockMember& m : block.members) member[m.layer_index] = true;
    for (int width = 1; width <= block.width; ++width) {
      const std::string where =
          absl::StrCat(context, " block ", b, " (", block.Description(net), ") width ", width);
      const NetworkDef resized = WithBlockWidth(net, block, width);
      ASSERT_THAT(InferShapes(resized), IsOk()) << where;
      for (int p : block.producers) {
        EXPECT_EQ(resized.layers[p].out_channels, width) << where << " producer " << p;
      }
      for (size_t i = 0; i < net.layers.size(); ++i) {
        if (member[i]) continue;
        const Layer& before = net.layers[i];
        const Layer& after = resized.layers[i];
        EXPECT_TRUE(before.in_channels == after.in_channels &&
                    before.out_channels == after.out_channels &&
                    before.num_features == after.num_features && before.groups == after.groups)
            << where << " changed layer " << before.name;
      }
      if (width < MinCandidateWidth(block)) continue;
      absl::StatusOr<std::vector<Block>> again = FindBlocks(resized);
      ASSERT_THAT(again, IsOk()) << where;
      ASSERT_EQ(again->size(), blocks.size()) << where;
      for (size_t c = 0; c < blocks.size(); ++c) {
        EXPECT_EQ((*again)[c].producers, blocks[c].producers) << where << " block " << c;
        EXPECT_EQ((*again)[c].width, c == b ? width : blocks[c].width) << where << " block " << c;
        ASSERT_EQ((*again)[c].members.size(), blocks[c].members.size()) << where;
        for (size_t m = 0; m < blocks[c].members.size(); ++m) {
          EXPECT_EQ((*again)[c].members[m].layer_index, blocks[c].members[m].layer_index) << where;
          EXPECT_EQ((*again)[c].members[m].kind, blocks[c].members[m].kind) << where;
        }
      }
    }
  }
}

// The networks of the property: GraphOpNetwork, then `count` random graphs.
std::vector<NetworkDef> Networks(uint32_t seed, int count, RandomGraph::Options options = {}) {
  std::mt19937 rng(seed);
  RandomGraph graph(rng, options);
  std::vector<NetworkDef> networks = {testing::GraphOpNetwork()};
  for (int i = 0; i < count; ++i) networks.push_back(graph.Build());
  return networks;
}

// Channel steps: 8 (the default), 4, 2 and 1 (more candidates, so the exact search bisects
// and bounds rather than scans; 1 reaches a depthwise conv's narrowest width).
int StepFor(int trial) { return 8 >> (trial % 4); }

constexpr int kNetworks = 120;

TEST(RandomGraphTest, GeneratesValidNetworksWithGroupsOfEveryKind) {
  int groups = 0, concats = 0, flattened = 0, depthwise = 0, blocks = 0;
  for (const NetworkDef& net : Networks(1, kNetworks)) {
    ASSERT_THAT(InferShapes(net), IsOk()) << net.layers.size();
    NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> found, FindBlocks(net));
    for (const Block& block : found) {
      ++blocks;
      if (block.producers.size() > 1) ++groups;
      for (const BlockMember& m : block.members) {
        if (m.layout.size() > 1) ++concats;
        if (m.per_width > 1) ++flattened;
        if (m.kind == BlockMember::Kind::kDepthwiseConv) ++depthwise;
      }
    }
  }
  // The generator reaches every kind of member the search has to handle.
  EXPECT_GT(blocks, 5 * kNetworks);
  EXPECT_GT(groups, kNetworks / 2);
  EXPECT_GT(concats, kNetworks / 2);
  EXPECT_GT(flattened, kNetworks / 4);
  EXPECT_GT(depthwise, kNetworks / 4);
}

TEST(FilterSearchGraphPropertyTest, WithBlockWidthKeepsRandomGraphsValid) {
  int trial = 0;
  for (const NetworkDef& net : Networks(2, kNetworks)) {
    CheckWithBlockWidth(net, absl::StrCat("network ", trial++));
    if (HasFatalFailure()) return;
  }
}

TEST(FilterSearchGraphPropertyTest, ExactEqualsLinearOnFlops) {
  std::mt19937 rng(11);
  AnalyticResourceModel model(ResourceType::kFlops);
  Coverage coverage;
  int trial = 0;
  for (const NetworkDef& net : Networks(3, kNetworks)) {
    CheckExactEqualsLinear(net, model, StepFor(trial), rng, absl::StrCat("network ", trial),
                           coverage);
    ++trial;
  }
  std::printf("%s\n", coverage.Summary().c_str());
  coverage.ExpectBroad();
}

TEST(FilterSearchGraphPropertyTest, ExactEqualsLinearOnWeights) {
  std::mt19937 rng(12);
  AnalyticResourceModel model(ResourceType::kWeights);
  Coverage coverage;
  int trial = 0;
  for (const NetworkDef& net : Networks(4, kNetworks)) {
    CheckExactEqualsLinear(net, model, StepFor(trial), rng, absl::StrCat("network ", trial),
                           coverage);
    ++trial;
  }
  std::printf("%s\n", coverage.Summary().c_str());
  coverage.ExpectBroad();
}

// Noisy synthetic latencies: the resource zig-zags between neighbouring candidates.
TEST(FilterSearchGraphPropertyTest, ExactEqualsLinearOnNonMonotoneSyntheticLatency) {
  std::mt19937 rng(13);
  Coverage coverage;
  int trial = 0;
  for (const NetworkDef& net : Networks(5, kNetworks)) {
    SyntheticLatencyOptions synthetic;
    synthetic.seed = trial;
    synthetic.noise = std::uniform_real_distribution<double>(0.0, 0.9)(rng);
    SyntheticLatencyModel model(synthetic);
    CheckExactEqualsLinear(net, model, StepFor(trial), rng, absl::StrCat("network ", trial),
                           coverage);
    ++trial;
  }
  std::printf("%s\n", coverage.Summary().c_str());
  coverage.ExpectBroad();
}

// A LUT over a coarse grid, so most candidates (and every concat or flatten consumer's
// input, fixed + per_width * width) fall between grid points and are interpolated.
TEST(FilterSearchGraphPropertyTest, ExactEqualsLinearOnBilinearLuts) {
  std::mt19937 rng(14);
  Coverage coverage;
  int trial = 0;
  for (const NetworkDef& net : Networks(6, kNetworks)) {
    SyntheticLatencyOptions synthetic;
    synthetic.seed = 1000 + trial;
    synthetic.noise = 0.5;
    const LutGrid grid{trial % 2 == 0 ? 8 : 16, trial % 2 == 0 ? 16 : 32};
    NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable table,
                                  BuildSyntheticTable(net, {}, grid, synthetic));
    LutLatencyModel model(std::move(table), MissPolicy::Interpolate(Interpolation::kBilinear));
    CheckExactEqualsLinear(net, model, StepFor(trial), rng, absl::StrCat("network ", trial),
                           coverage);
    ++trial;
  }
  std::printf("%s\n", coverage.Summary().c_str());
  coverage.ExpectBroad();
}

// GraphOpNetwork at every channel step from 1 to its widest block, under every model.
TEST(FilterSearchGraphPropertyTest, GraphOpNetworkAtEveryStep) {
  const NetworkDef net = testing::GraphOpNetwork();
  CheckWithBlockWidth(net, "graph_ops");
  std::mt19937 rng(15);
  AnalyticResourceModel flops(ResourceType::kFlops);
  AnalyticResourceModel weights(ResourceType::kWeights);
  SyntheticLatencyOptions synthetic;
  synthetic.noise = 0.6;
  SyntheticLatencyModel latency(synthetic);
  NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable table,
                                BuildSyntheticTable(net, {}, LutGrid{4, 64}, synthetic));
  LutLatencyModel lut(std::move(table), MissPolicy::Interpolate(Interpolation::kBilinear));
  Coverage coverage;
  for (int step = 1; step <= 24; ++step) {
    for (ResourceModel* model : std::vector<ResourceModel*>{&flops, &weights, &latency, &lut}) {
      CheckExactEqualsLinear(net, *model, step, rng, absl::StrCat("graph_ops step ", step),
                             coverage);
    }
  }
  std::printf("%s\n", coverage.Summary().c_str());
  EXPECT_EQ(coverage.rows, 24 * 4 * 6 * 5);
}

// A depthwise conv that takes a group's channels one-to-one never drops to one channel: there
// it would have groups = 1, an ordinary conv of another LUT family. With channel_step 1 and a
// LUT of the network (which has no ordinary 3x3 conv), the exact search, which costs the
// narrowest candidate first, returned NotFound where linear's scan stopped at the widest; and
// linear failed the same way for a target it could not meet.
TEST(FilterSearchGraphTest, ADepthwiseConvKeepsTwoChannelsAtStepOne) {
  NetworkDef net;
  net.name = "depthwise";
  net.input = {3, 8, 8};
  net.layers = {
      Layer::Conv2d("pw1", 3, 6, {1, 1}),
      Layer::Conv2d("dw", 6, 6, {3, 3}, {1, 1}, {1, 1}, 6),
      Layer::Relu6("relu"),
      Layer::Conv2d("pw2", 6, 4, {1, 1}),
      Layer::AdaptiveAvgPool2d("pool", {1, 1}),
      Layer::Flatten("flatten"),
  };
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<Block> blocks, FindBlocks(net));
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(MinCandidateWidth(blocks[0]), 2);
  EXPECT_EQ(CandidateWidths(6, 1, 2), std::vector<int>({6, 5, 4, 3, 2}));
  // A depthwise conv that also takes another group's channels keeps them at width 1.
  EXPECT_EQ(MinCandidateWidth(*FindBlocks(testing::GraphOpNetwork())->begin()), 2);

  // Grid step 2: the depthwise entries are 6, 4 and 2 channels.
  NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyTable table,
                                BuildSyntheticTable(net, {}, LutGrid{2, 64}, {}));
  LutLatencyModel lut(std::move(table), MissPolicy::Interpolate(Interpolation::kBilinear));
  const double full = *NetworkResource(net, {}, lut);
  for (SearchStrategy strategy :
       {SearchStrategy::kLinear, SearchStrategy::kBinary, SearchStrategy::kExact}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(BlockSearch search,
                                  BlockSearch::Create(net, Options(strategy, 1)));
    NETADAPT_ASSERT_OK_AND_ASSIGN(SearchResult met, search.SimplifyBlock(0, 2 * full, lut));
    EXPECT_EQ(met.width, 6) << SearchStrategyName(strategy);
    NETADAPT_ASSERT_OK_AND_ASSIGN(SearchResult unmet, search.SimplifyBlock(0, 0.0, lut));
    EXPECT_EQ(unmet.width, 2) << SearchStrategyName(strategy);
    EXPECT_FALSE(unmet.meets_target);
    EXPECT_TRUE(search.SimplifiedNetwork(unmet).layers[1].IsDepthwise());
  }
}

// Candidate lists with a minimum width: the steps below it lose their narrow end, the others
// are unchanged, and the widest candidate always stays.
TEST(FilterSearchGraphTest, CandidateRangeWithAMinimumWidth) {
  for (int min_width : {1, 2, 3}) {
    for (int step : {1, 2, 3, 8}) {
      for (int width = 1; width <= 40; ++width) {
        const CandidateRange range(width, step, min_width);
        std::vector<int> expected;
        for (int c : CandidateWidths(width, step)) {
          if (c >= min_width) expected.push_back(c);
        }
        if (expected.empty()) expected.push_back(CandidateWidths(width, step).front());
        ASSERT_EQ(range.size(), static_cast<int>(expected.size()))
            << width << " " << step << " " << min_width;
        for (int i = 0; i < range.size(); ++i) EXPECT_EQ(range[i], expected[i]);
        EXPECT_EQ(CandidateWidths(width, step, min_width), expected);
      }
    }
  }
}

// Layer lookups of one NetAdapt iteration's searches (every block, one target), per strategy.
struct Lookups {
  int64_t exact = 0;
  int64_t linear = 0;
  double Ratio() const { return static_cast<double>(linear) / static_cast<double>(exact); }
  void Add(const Lookups& other) {
    exact += other.exact;
    linear += other.linear;
  }
};

// The lookups of one iteration on `net` with a `delta` cut of its resource as the target.
Lookups IterationLookups(const NetworkDef& net, ResourceModel& model, double delta, int step) {
  const double target = (1 - delta) * *NetworkResource(net, {}, model);
  Lookups lookups;
  for (SearchStrategy strategy : {SearchStrategy::kExact, SearchStrategy::kLinear}) {
    absl::StatusOr<BlockSearch> search = BlockSearch::Create(net, Options(strategy, step));
    EXPECT_THAT(search, IsOk());
    if (!search.ok()) continue;
    absl::StatusOr<std::vector<SearchResult>> results = search->SimplifyAllBlocks(target, model);
    EXPECT_THAT(results, IsOk());
    if (!results.ok()) continue;
    int64_t& count = strategy == SearchStrategy::kExact ? lookups.exact : lookups.linear;
    for (const SearchResult& r : *results) count += r.stats.layer_lookups;
  }
  return lookups;
}

// The FLOPS and bilinear-LUT lookups of one iteration on each network, summed.
std::pair<Lookups, Lookups> IterationLookups(const std::vector<NetworkDef>& networks, double delta,
                                             int step) {
  AnalyticResourceModel flops(ResourceType::kFlops);
  Lookups flops_lookups, lut_lookups;
  for (size_t n = 0; n < networks.size(); ++n) {
    flops_lookups.Add(IterationLookups(networks[n], flops, delta, step));
    SyntheticLatencyOptions synthetic;
    synthetic.seed = n;
    absl::StatusOr<LatencyTable> table =
        BuildSyntheticTable(networks[n], {}, LutGrid{8, 64}, synthetic);
    EXPECT_THAT(table, IsOk());
    if (!table.ok()) continue;
    LutLatencyModel lut(*std::move(table), MissPolicy::Interpolate(Interpolation::kBilinear));
    lut_lookups.Add(IterationLookups(networks[n], lut, delta, step));
  }
  return {flops_lookups, lut_lookups};
}

// The exact search costs a fraction of linear's layer lookups on graph networks: untouched
// layers are costed once per iteration and a block's candidates are bisected and bounded,
// where the linear scan recomputes every layer of every candidate it passes. The ratio grows
// with the number of layers a block does not touch and with how far the scan has to go: it is
// smallest for a small cut under FLOPS (the widest candidates already meet it, so linear stops
// after one or two while exact still bisects) and for GraphOpNetwork, whose stem group touches
// 8 of its 10 weighted layers. Counted lookups, not time; printed and recorded per delta.
TEST(FilterSearchGraphLookupsTest, ExactCostsFarFewerLookupsThanLinear) {
  RandomGraph::Options wide;  // widths as in real networks: 16 to 256 channels
  wide.min_width = 16;
  wide.max_width = 256;
  wide.min_units = 4;
  wide.max_units = 8;
  std::vector<NetworkDef> random = Networks(16, 20, wide);
  random.erase(random.begin());  // GraphOpNetwork: reported on its own below
  const std::vector<NetworkDef> graph_ops = {testing::GraphOpNetwork()};
  Lookups all_flops, all_lut;
  for (double delta : {0.01, 0.025, 0.05, 0.1}) {
    const auto [flops, lut] = IterationLookups(random, delta, 8);
    // GraphOpNetwork's blocks are 4 to 24 wide: step 2 gives them 2 to 12 candidates.
    const auto [graph_flops, graph_lut] = IterationLookups(graph_ops, delta, 2);
    std::printf(
        "delta %.3f linear/exact layer lookups: 20 random graphs (step 8): flops %lld/%lld = "
        "%.1fx, bilinear lut %lld/%lld = %.1fx; graph_ops (step 2): flops %lld/%lld = %.1fx, "
        "bilinear lut %lld/%lld = %.1fx\n",
        delta, static_cast<long long>(flops.linear), static_cast<long long>(flops.exact),
        flops.Ratio(), static_cast<long long>(lut.linear), static_cast<long long>(lut.exact),
        lut.Ratio(), static_cast<long long>(graph_flops.linear),
        static_cast<long long>(graph_flops.exact), graph_flops.Ratio(),
        static_cast<long long>(graph_lut.linear), static_cast<long long>(graph_lut.exact),
        graph_lut.Ratio());
    RecordProperty(absl::StrCat("flops_ratio_delta_", delta), absl::StrCat(flops.Ratio()));
    RecordProperty(absl::StrCat("lut_ratio_delta_", delta), absl::StrCat(lut.Ratio()));
    // Seeded, so these are fixed numbers; the bounds sit below them with a margin.
    EXPECT_GT(flops.Ratio(), 2.5) << "delta " << delta;
    EXPECT_GT(lut.Ratio(), 6) << "delta " << delta;
    EXPECT_GT(graph_flops.Ratio(), 1.2) << "delta " << delta;
    EXPECT_GT(graph_lut.Ratio(), 3) << "delta " << delta;
    all_flops.Add(flops);
    all_lut.Add(lut);
  }
  std::printf("all deltas: flops %.1fx, bilinear lut %.1fx\n", all_flops.Ratio(), all_lut.Ratio());
  EXPECT_GT(all_flops.Ratio(), 4);
  EXPECT_GT(all_lut.Ratio(), 10);
}

}  // namespace
}  // namespace netadapt::common
