#pragma once

#include <optional>
#include <cstdint>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "common/layer_shape.h"
#include "common/network_blocks.h"
#include "common/network_def.h"
#include "common/resource_model.h"

namespace netadapt::common {

// How SimplifyBlock looks for the filter count (the step the paper profiled).
enum class SearchStrategy {
  kLinear,  // the original: scan from the widest candidate, recomputing the whole network
  kBinary,  // the paper's: bisect until `binary_threshold` candidates remain, then scan them
  kExact,   // linear's answer, computed incrementally with certified bounds (the default)
};
absl::string_view SearchStrategyName(SearchStrategy strategy);  // "linear", "binary", "exact"
absl::StatusOr<SearchStrategy> ParseSearchStrategy(absl::string_view name);

struct SearchOptions {
  SearchStrategy strategy = SearchStrategy::kExact;
  // Candidates are multiples of this step (the original's min_feature_size, 8 for every block),
  // none below MinCandidateWidth.
  int channel_step = 8;
  // kBinary: stop bisecting once right - left <= threshold (the paper's default 16).
  int binary_threshold = 16;
  // Batch and dtype the resource model is asked about.
  CostContext context;
};

// What a search cost: the paper's figures of merit.
struct SearchStats {
  int64_t resource_computations = 0;  // candidate networks whose resource was computed
  int64_t layer_lookups = 0;          // ResourceModel::LayerCost calls
  int64_t bound_queries = 0;          // ResourceModel::LowerBound calls (kExact only)
  int64_t rounds = 0;  // batches asked of a MeasuredLatencySource (CertifiedSimplifyBlock)
};

struct SearchResult {
  int block = 0;
  int width = 0;             // the block's new output count
  double resource = 0;       // the simplified network's resource
  bool meets_target = false; // false: no candidate is below the target; `width` is the smallest
  SearchStats stats;
};

// Candidate output counts for a block of `width` outputs, widest first:
// floor(width / step) * step, ..., 2 * step, step; just {width} when width < step. None is
// below `min_width` (MinCandidateWidth), except that the widest is always a candidate.
std::vector<int> CandidateWidths(int width, int step, int min_width = 1);

// The narrowest width a search may give `block`: 2 when a depthwise conv would be left with
// one channel, else 1. At one channel that conv has groups = 1, which is an ordinary conv
// (IsDepthwiseConv): its shape belongs to another LUT family than the depthwise layer's (one the
// table usually lacks: NotFound, or a latency interpolated from unrelated convs), and FindBlocks
// would split the group there. Only a channel_step of 1 reaches such a width.
int MinCandidateWidth(const Block& block);

// The same sequence without materialising it (searches index it; a 4096-wide block has 512).
class CandidateRange {
 public:
  CandidateRange() = default;
  CandidateRange(int width, int step, int min_width = 1)
      : top_(width < step ? width : width / step * step),
        step_(step),
        size_(width < step ? 1 : width / step) {
    // Only a step below min_width can put a multiple of the step under it.
    if (size_ > 1 && (*this)[size_ - 1] < min_width) {
      size_ = top_ < min_width ? 1 : (top_ - min_width) / step_ + 1;
    }
  }
  int operator[](int i) const { return top_ - i * step_; }
  int size() const { return size_; }

 private:
  int top_ = 0;
  int step_ = 1;
  int size_ = 0;
};

// The searches of one network's blocks (what one NetAdapt iteration runs), sharing the
// analysis of the network: its blocks, layer shapes and candidate lists are computed once.
// Immutable after Create: SimplifyBlock may run concurrently for different blocks.
class BlockSearch {
 public:
  // InvalidArgument for an invalid network or non-positive options.
  static absl::StatusOr<BlockSearch> Create(const NetworkDef& network,
                                            const SearchOptions& options);

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  const Block& block(int block) const { return blocks_[block]; }
  // The candidate widths of `block` (0 <= block < num_blocks()), widest first.
  const CandidateRange& candidates(int block) const { return candidates_[block]; }
  // The network's conv2d and linear layers (CostedLayers order) at their current shapes.
  const std::vector<CostedLayer>& layers() const { return layers_; }
  // The shapes of those layers when `block` has `width` outputs, in the same order: what a
  // search costs for that candidate.
  std::vector<LayerShape> LayerShapesAt(int block, int width) const;
  // Per layer of layers(): whether its shape follows `block`'s width.
  std::vector<bool> TouchedLayers(int block) const;

  // The original implementation's simplify_network_def_based_on_constraint for block `block`
  // (an index into FindBlocks(network)): the first candidate, widest first, whose
  // whole-network resource is strictly below `target`; when none is, the smallest candidate
  // with meets_target = false. A candidate sets the block's outputs, any following depthwise
  // conv and the next layer's inputs (times H*W after a flatten).
  //
  // kLinear and kExact always return the same width and resource; kBinary does when the
  // resource is monotone in the candidates, or when binary_threshold >= the candidate count.
  // Errors: InvalidArgument for a block out of range or a non-finite target; whatever the
  // model returns for a layer it cannot cost.
  absl::StatusOr<SearchResult> SimplifyBlock(int block, double target,
                                             ResourceModel& model) const;

  // SimplifyBlock for every block with one target: one NetAdapt iteration's searches.
  // Results equal SimplifyBlock's one by one. kExact costs each layer's unchanged shape once
  // for all blocks instead of once per block; those shared lookups are counted in result[0]'s
  // stats.
  absl::StatusOr<std::vector<SearchResult>> SimplifyAllBlocks(double target,
                                                              ResourceModel& model) const;

  // The simplified network of a result of this search. Built on demand: an iteration keeps
  // one proposal per block but needs the definition of few (copying the network for every
  // block was a fifth of the exact search's time).
  NetworkDef SimplifiedNetwork(const SearchResult& result) const;

 private:
  BlockSearch() = default;

  // Cost of each layer of layers_ at its unchanged shape; nullopt where not (yet) known.
  using BaseCosts = std::vector<std::optional<double>>;
  absl::StatusOr<SearchResult> Search(int block, double target, ResourceModel& model,
                                      BaseCosts& base_costs) const;

  NetworkDef network_;
  SearchOptions options_;
  std::vector<Block> blocks_;
  std::vector<CostedLayer> layers_;  // the network's conv2d and linear layers
  std::vector<int> costed_position_;  // per network layer: its index into layers_, or -1
  std::vector<CandidateRange> candidates_;  // per block, widest first
};

// BlockSearch::Create(network, options) then SimplifyBlock(block, target, model).
absl::StatusOr<SearchResult> SimplifyBlock(const NetworkDef& network, int block, double target,
                                           ResourceModel& model, const SearchOptions& options);

}  // namespace netadapt::common
