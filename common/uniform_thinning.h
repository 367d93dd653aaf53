#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "common/network_blocks.h"
#include "common/network_def.h"
#include "common/resource_model.h"

namespace netadapt::common {

// The uniform baseline NetAdapt is measured against (the paper's comparison with MobileNet's
// width multipliers): every prunable block of a network thinned by one multiplier.

// The width of a block of `width` channels under `multiplier`: multiplier x width rounded to
// the nearest multiple of `channel_step`, and kept among the widths the filter-count search
// could give the block (CandidateWidths(width, channel_step, min_width)): at least the
// smallest of them, at most `width` (which a multiplier >= 1 keeps).
int UniformWidth(int width, double multiplier, int channel_step, int min_width = 1);

// UniformWidth of every block (MinCandidateWidth of each as its lower bound).
std::vector<int> UniformWidths(const std::vector<Block>& blocks, double multiplier,
                               int channel_step);

// A copy of `network` with block b (FindBlocks order) at widths[b], as WithBlockWidth sets
// one block: blocks are found again after each change (a block's index does not change when
// another is resized). InvalidArgument when widths has not one entry per block, a width is
// not in [1, the block's width], or `network` is invalid; FailedPrecondition when a resize
// changes the blocks (a depthwise conv left with one channel).
absl::StatusOr<NetworkDef> WithBlockWidths(const NetworkDef& network,
                                           const std::vector<int>& widths);

struct UniformThinning {
  // A multiplier giving `widths` (the middle of the range of multipliers that give them).
  double multiplier = 1;
  std::vector<int> widths;  // per block, FindBlocks order
  NetworkDef network;
  double resource = 0;
};

// The uniform thinning of `seed` whose resource (`model`, `context`) is closest to `target`:
// the multipliers' width vectors are ordered (each multiplier range gives one), the last
// whose resource is at most `target` is found by bisection (the resource grows with the
// widths), and of it and the next one the closer to `target` is returned. So thinning every
// block by one step more goes at or below the target, one step less at or above it. A target
// below every thinning gives the narrowest, one at or above the seed's resource the seed.
// InvalidArgument for an invalid seed, a non-positive step or a network without blocks; the
// resource model's error.
absl::StatusOr<UniformThinning> MatchUniformThinning(const NetworkDef& seed, double target,
                                                     int channel_step, ResourceModel& model,
                                                     const CostContext& context = {});

}  // namespace netadapt::common
