#include "common/filter_search.h"

#include <cmath>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/network_blocks.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

// Counts what a search asks of the model.
class CountingModel final : public ResourceModel {
 public:
  CountingModel(ResourceModel& inner, SearchStats& stats) : inner_(inner), stats_(stats) {}
  absl::StatusOr<double> LayerCost(const LayerShape& shape) override {
    ++stats_.layer_lookups;
    return inner_.LayerCost(shape);
  }
  std::optional<double> LowerBound(const LayerShape& lo, const LayerShape& hi) override {
    ++stats_.bound_queries;
    return inner_.LowerBound(lo, hi);
  }

 private:
  ResourceModel& inner_;
  SearchStats& stats_;
};

// How the block's width reaches one costed layer (a conv may both consume and produce it).
struct Touch {
  bool any = false;
  bool outputs = false;                    // out_channels = width
  const BlockMember* inputs = nullptr;     // in_channels = Resized(width)
  const BlockMember* depthwise = nullptr;  // in = out = groups = Resized(width)
};

// Per costed layer, how `block`'s width reaches it (pointers into `block`).
std::vector<Touch> Touches(const Block& block, size_t num_layers,
                           const std::vector<int>& costed_position) {
  std::vector<Touch> touched(num_layers);
  for (const BlockMember& member : block.members) {
    const int j = costed_position[member.layer_index];
    if (j < 0) continue;  // batchnorm: costs nothing
    Touch& touch = touched[j];
    touch.any = true;
    switch (member.kind) {
      case BlockMember::Kind::kProducer:
        touch.outputs = true;
        break;
      case BlockMember::Kind::kDepthwiseConv:
        touch.depthwise = &member;
        break;
      case BlockMember::Kind::kConsumer:
        touch.inputs = &member;
        break;
      case BlockMember::Kind::kBatchNorm:
        break;
    }
  }
  return touched;
}

LayerShape ShapeAt(LayerShape shape, const Touch& touch, int width) {
  if (touch.outputs) shape.out_channels = width;
  if (touch.inputs != nullptr) shape.in_channels = touch.inputs->Resized(width);
  if (touch.depthwise != nullptr) {
    shape.in_channels = shape.out_channels = shape.groups = touch.depthwise->Resized(width);
  }
  return shape;
}

struct Problem {
  const NetworkDef& network;
  const std::vector<CostedLayer>& layers;
  const Block& block;
  const CandidateRange& candidates;
  double target;
  const SearchOptions& options;
  CountingModel& model;
  SearchStats& stats;
  // kExact: costs of layers at their unchanged shapes, filled on first use and shared by the
  // blocks of one SimplifyAllBlocks call.
  std::vector<std::optional<double>>& base_costs;
  // Per layer of the network: its index into `layers`, or -1 (it costs nothing).
  const std::vector<int>& costed_position;
};

// The whole-network resource of candidate `i`, recomputed from scratch as the original does.
absl::StatusOr<double> FullResource(const Problem& p, int i) {
  ++p.stats.resource_computations;
  return NetworkResource(WithBlockWidth(p.network, p.block, p.candidates[i]), p.options.context,
                         p.model);
}

// Scans candidates [first, last] widest first; the first one below the target, or the last one
// scanned. Returns {index, resource}.
absl::StatusOr<std::pair<int, double>> ScanFull(const Problem& p, int first, int last) {
  double resource = 0;
  for (int i = first; i <= last; ++i) {
    NETADAPT_ASSIGN_OR_RETURN(resource, FullResource(p, i));
    if (resource < p.target) return std::make_pair(i, resource);
  }
  return std::make_pair(last, resource);
}

absl::StatusOr<std::pair<int, double>> SearchLinear(const Problem& p) {
  return ScanFull(p, 0, static_cast<int>(p.candidates.size()) - 1);
}

// The paper's Fig. 5: bisect on "resource < target" while more than `threshold` candidates
// separate left and right, then scan candidates [left, right].
absl::StatusOr<std::pair<int, double>> SearchBinary(const Problem& p) {
  int left = 0;
  int right = static_cast<int>(p.candidates.size()) - 1;
  while (right - left > 1) {
    if (right - left <= p.options.binary_threshold) break;
    const int mid = (left + right) / 2;
    NETADAPT_ASSIGN_OR_RETURN(double resource, FullResource(p, mid));
    if (resource < p.target) {
      right = mid;
    } else {
      left = mid;
    }
  }
  return ScanFull(p, left, right);
}

// kExact. Only the layers the block touches change between candidates, so a candidate costs
// their lookups alone; the untouched layers are costed once. Ranges of candidates are skipped
// when the model certifies a lower bound of the resource over the range that is not below the
// target (branch and bound: this bisects where the resource is monotone and scans where it is
// not, or where the model has no bound). Ranges are visited widest first and only certified
// ranges are skipped, so the first candidate found is the one linear's scan finds. Resources
// are summed in layer order, like NetworkResource, so they equal linear's to the last bit.
class ExactSearch {
 public:
  explicit ExactSearch(const Problem& p) : p_(p), layers_(p.layers) {}

  absl::StatusOr<std::pair<int, double>> Run() {
    touched_ = Touches(p_.block, layers_.size(), p_.costed_position);
    costs_.assign(layers_.size(), 0);
    for (size_t j = 0; j < layers_.size(); ++j) {
      if (touched_[j].any) continue;
      std::optional<double>& base = p_.base_costs[j];
      if (!base) {
        NETADAPT_ASSIGN_OR_RETURN(base, p_.model.LayerCost(layers_[j].shape));
      }
      costs_[j] = *base;
    }

    const int last = static_cast<int>(p_.candidates.size()) - 1;
    NETADAPT_ASSIGN_OR_RETURN(std::optional<int> found, Search(last));
    const int chosen = found ? *found : last;
    NETADAPT_ASSIGN_OR_RETURN(double resource, Resource(chosen));
    return std::make_pair(chosen, resource);
  }

 private:
  // Below this many candidates a scan is cheaper than bounding and splitting.
  static constexpr int kScanBelow = 8;

  LayerShape ShapeAt(size_t j, int width) const {
    return common::ShapeAt(layers_[j].shape, touched_[j], width);
  }

  absl::StatusOr<double> Resource(int i) {
    auto cached = resources_.find(i);
    if (cached != resources_.end()) return cached->second;
    ++p_.stats.resource_computations;
    double total = 0;
    for (size_t j = 0; j < layers_.size(); ++j) {
      if (!touched_[j].any) {
        total += costs_[j];
        continue;
      }
      NETADAPT_ASSIGN_OR_RETURN(double cost, p_.model.LayerCost(ShapeAt(j, p_.candidates[i])));
      total += cost;
    }
    resources_[i] = total;
    return total;
  }

  // A lower bound of the resource over candidates [first, last], or nullopt.
  std::optional<double> Bound(int first, int last) {
    double total = 0;
    for (size_t j = 0; j < layers_.size(); ++j) {
      if (!touched_[j].any) {
        total += costs_[j];
        continue;
      }
      // Candidates are widest first: `last` is the narrowest.
      std::optional<double> bound = p_.model.LowerBound(ShapeAt(j, p_.candidates[last]),
                                                        ShapeAt(j, p_.candidates[first]));
      if (!bound) return std::nullopt;
      total += *bound;
    }
    return total;
  }

  absl::StatusOr<std::optional<int>> Scan(int first, int last) {
    for (int i = first; i <= last; ++i) {
      NETADAPT_ASSIGN_OR_RETURN(double resource, Resource(i));
      if (resource < p_.target) return std::optional<int>(i);
    }
    return std::optional<int>();
  }

  // Guess, then certify. Where the resource falls monotonically with the width (the usual
  // case) a bisection on resources alone finds the first candidate below the target, and one
  // bound over the candidates before it proves that none of them is below: about log2(n)
  // incremental evaluations and one bound query. Where the guess cannot be certified, branch
  // and bound over the earlier candidates decides, so the answer is always linear's.
  absl::StatusOr<std::optional<int>> Search(int last) {
    NETADAPT_ASSIGN_OR_RETURN(double narrowest, Resource(last));
    if (narrowest >= p_.target) return FirstBelow(0, last);
    int lo = 0, hi = last;  // Resource(hi) < target
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      NETADAPT_ASSIGN_OR_RETURN(double resource, Resource(mid));
      if (resource < p_.target) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    if (hi == 0) return std::optional<int>(0);
    std::optional<double> bound = Bound(0, hi - 1);
    if (bound && *bound >= p_.target) return std::optional<int>(hi);  // certified
    NETADAPT_ASSIGN_OR_RETURN(std::optional<int> earlier, FirstBelow(0, hi - 1));
    return earlier ? earlier : std::optional<int>(hi);
  }

  absl::StatusOr<std::optional<int>> FirstBelow(int first, int last) {
    if (last - first + 1 < kScanBelow) return Scan(first, last);
    std::optional<double> bound = Bound(first, last);
    if (!bound) return Scan(first, last);
    if (*bound >= p_.target) return std::optional<int>();  // certified: none in range
    const int mid = first + (last - first) / 2;
    NETADAPT_ASSIGN_OR_RETURN(std::optional<int> found, FirstBelow(first, mid));
    if (found) return found;
    return FirstBelow(mid + 1, last);
  }

  const Problem& p_;
  const std::vector<CostedLayer>& layers_;
  std::vector<Touch> touched_;
  std::vector<double> costs_;  // untouched layers only
  absl::flat_hash_map<int, double> resources_;
};

}  // namespace

absl::string_view SearchStrategyName(SearchStrategy strategy) {
  switch (strategy) {
    case SearchStrategy::kLinear:
      return "linear";
    case SearchStrategy::kBinary:
      return "binary";
    case SearchStrategy::kExact:
      return "exact";
  }
  return "unknown";
}

absl::StatusOr<SearchStrategy> ParseSearchStrategy(absl::string_view name) {
  for (SearchStrategy s : {SearchStrategy::kLinear, SearchStrategy::kBinary, SearchStrategy::kExact}) {
    if (name == SearchStrategyName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown search strategy '", name, "' (expected linear, binary or exact)"));
}

std::vector<int> CandidateWidths(int width, int step, int min_width) {
  const CandidateRange range(width, step, min_width);
  std::vector<int> candidates;
  candidates.reserve(range.size());
  for (int i = 0; i < range.size(); ++i) candidates.push_back(range[i]);
  return candidates;
}

int MinCandidateWidth(const Block& block) {
  for (const BlockMember& member : block.members) {
    if (member.kind == BlockMember::Kind::kDepthwiseConv && member.Resized(1) < 2) return 2;
  }
  return 1;
}

absl::StatusOr<BlockSearch> BlockSearch::Create(const NetworkDef& network,
                                                const SearchOptions& options) {
  if (options.channel_step <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel_step must be positive, got ", options.channel_step));
  }
  if (options.binary_threshold <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("binary_threshold must be positive, got ", options.binary_threshold));
  }
  BlockSearch search;
  NETADAPT_ASSIGN_OR_RETURN(std::vector<TensorShape> shapes, InferShapes(network));
  search.blocks_ = FindBlocks(network, shapes);
  search.layers_ = CostedLayers(network, shapes, options.context);
  search.costed_position_.assign(network.layers.size(), -1);
  for (size_t j = 0; j < search.layers_.size(); ++j) {
    search.costed_position_[search.layers_[j].layer_index] = static_cast<int>(j);
  }
  for (const Block& block : search.blocks_) {
    search.candidates_.push_back(
        CandidateRange(block.width, options.channel_step, MinCandidateWidth(block)));
  }
  search.network_ = network;
  search.options_ = options;
  return search;
}

absl::StatusOr<SearchResult> BlockSearch::SimplifyBlock(int block, double target,
                                                        ResourceModel& model) const {
  if (block < 0 || block >= num_blocks()) {
    return absl::InvalidArgumentError(absl::StrCat("block ", block, " is out of range: ",
                                                   network_.name, " has ", num_blocks(),
                                                   " blocks"));
  }
  BaseCosts base_costs(layers_.size());
  return Search(block, target, model, base_costs);
}

absl::StatusOr<std::vector<SearchResult>> BlockSearch::SimplifyAllBlocks(
    double target, ResourceModel& model) const {
  BaseCosts base_costs(layers_.size());
  std::vector<SearchResult> results;
  results.reserve(blocks_.size());
  for (int block = 0; block < num_blocks(); ++block) {
    NETADAPT_ASSIGN_OR_RETURN(SearchResult result, Search(block, target, model, base_costs));
    results.push_back(std::move(result));
  }
  return results;
}

absl::StatusOr<SearchResult> BlockSearch::Search(int block, double target, ResourceModel& model,
                                                 BaseCosts& base_costs) const {
  if (!std::isfinite(target)) {
    return absl::InvalidArgumentError(absl::StrCat("target must be finite, got ", target));
  }
  const Block& chosen_block = blocks_[block];
  const CandidateRange& candidates = candidates_[block];

  SearchResult result;
  result.block = block;
  CountingModel counting(model, result.stats);
  const Problem problem{network_,  layers_,      chosen_block, candidates,
                        target,    options_,     counting,     result.stats,
                        base_costs, costed_position_};
  absl::StatusOr<std::pair<int, double>> found;
  switch (options_.strategy) {
    case SearchStrategy::kLinear:
      found = SearchLinear(problem);
      break;
    case SearchStrategy::kBinary:
      found = SearchBinary(problem);
      break;
    case SearchStrategy::kExact:
      found = ExactSearch(problem).Run();
      break;
  }
  if (!found.ok()) return found.status();
  result.width = candidates[found->first];
  result.resource = found->second;
  result.meets_target = result.resource < target;
  return result;
}

std::vector<LayerShape> BlockSearch::LayerShapesAt(int block, int width) const {
  const std::vector<Touch> touched = Touches(blocks_[block], layers_.size(), costed_position_);
  std::vector<LayerShape> shapes;
  shapes.reserve(layers_.size());
  for (size_t j = 0; j < layers_.size(); ++j) {
    shapes.push_back(ShapeAt(layers_[j].shape, touched[j], width));
  }
  return shapes;
}

std::vector<bool> BlockSearch::TouchedLayers(int block) const {
  const std::vector<Touch> touched = Touches(blocks_[block], layers_.size(), costed_position_);
  std::vector<bool> any(touched.size());
  for (size_t j = 0; j < touched.size(); ++j) any[j] = touched[j].any;
  return any;
}

NetworkDef BlockSearch::SimplifiedNetwork(const SearchResult& result) const {
  return WithBlockWidth(network_, blocks_[result.block], result.width);
}

absl::StatusOr<SearchResult> SimplifyBlock(const NetworkDef& network, int block, double target,
                                           ResourceModel& model, const SearchOptions& options) {
  NETADAPT_ASSIGN_OR_RETURN(BlockSearch search, BlockSearch::Create(network, options));
  return search.SimplifyBlock(block, target, model);
}

}  // namespace netadapt::common
