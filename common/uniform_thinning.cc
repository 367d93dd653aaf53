#include "common/uniform_thinning.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/filter_search.h"
#include "common/status_macros.h"

namespace netadapt::common {

int UniformWidth(int width, double multiplier, int channel_step, int min_width) {
  if (multiplier >= 1 || channel_step <= 0) return width;
  const std::vector<int> candidates = CandidateWidths(width, channel_step, min_width);
  const int lowest = candidates.empty() ? width : candidates.back();
  const int rounded =
      static_cast<int>(std::lround(multiplier * width / channel_step)) * channel_step;
  return std::clamp(rounded, std::min(lowest, width), width);
}

std::vector<int> UniformWidths(const std::vector<Block>& blocks, double multiplier,
                               int channel_step) {
  std::vector<int> widths;
  widths.reserve(blocks.size());
  for (const Block& block : blocks) {
    widths.push_back(UniformWidth(block.width, multiplier, channel_step, MinCandidateWidth(block)));
  }
  return widths;
}

absl::StatusOr<NetworkDef> WithBlockWidths(const NetworkDef& network,
                                           const std::vector<int>& widths) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<Block> blocks, FindBlocks(network));
  if (widths.size() != blocks.size()) {
    return absl::InvalidArgumentError(absl::StrCat("widths: ", widths.size(), " given for ",
                                                   blocks.size(), " blocks of ", network.name));
  }
  for (size_t b = 0; b < blocks.size(); ++b) {
    if (widths[b] < 1 || widths[b] > blocks[b].width) {
      return absl::InvalidArgumentError(absl::StrCat("widths[", b, "]: ", widths[b],
                                                     " is not in [1, ", blocks[b].width, "]"));
    }
  }
  NetworkDef result = network;
  for (size_t b = 0; b < widths.size(); ++b) {
    if (b > 0) {
      NETADAPT_ASSIGN_OR_RETURN(blocks, FindBlocks(result));
      if (blocks.size() != widths.size()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "resizing block ", b - 1, " of ", network.name, " to ", widths[b - 1],
            " changed its channel groups (", widths.size(), " blocks before, ", blocks.size(),
            " after)"));
      }
    }
    if (blocks[b].width != widths[b]) result = WithBlockWidth(result, blocks[b], widths[b]);
  }
  return result;
}

absl::StatusOr<UniformThinning> MatchUniformThinning(const NetworkDef& seed, double target,
                                                     int channel_step, ResourceModel& model,
                                                     const CostContext& context) {
  if (channel_step <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("channel_step must be positive, got ", channel_step));
  }
  NETADAPT_ASSIGN_OR_RETURN(std::vector<Block> blocks, FindBlocks(seed));
  if (blocks.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(seed.name, " has no prunable block"));
  }
  // The multipliers where some block's width changes: UniformWidth rounds m x width / step,
  // so block b changes at m = (k + 0.5) x step / width. Between two consecutive ones the
  // widths are constant; one multiplier per range stands for it (its middle).
  std::vector<double> breaks = {0.0, 1.0};
  for (const Block& block : blocks) {
    for (int k = 0; (k + 0.5) * channel_step < block.width; ++k) {
      breaks.push_back((k + 0.5) * channel_step / block.width);
    }
  }
  std::sort(breaks.begin(), breaks.end());
  breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());
  std::vector<double> multipliers;  // ascending; the last is 1 (the seed)
  std::vector<int> previous;
  for (size_t i = 0; i + 1 < breaks.size(); ++i) {
    const double m = (breaks[i] + breaks[i + 1]) / 2;
    std::vector<int> widths = UniformWidths(blocks, m, channel_step);
    if (widths == previous) continue;
    previous = std::move(widths);
    multipliers.push_back(m);
  }
  if (previous != UniformWidths(blocks, 1.0, channel_step)) multipliers.push_back(1.0);

  auto thinning = [&](size_t i) -> absl::StatusOr<UniformThinning> {
    UniformThinning t;
    t.multiplier = multipliers[i];
    t.widths = UniformWidths(blocks, t.multiplier, channel_step);
    NETADAPT_ASSIGN_OR_RETURN(t.network, WithBlockWidths(seed, t.widths));
    NETADAPT_ASSIGN_OR_RETURN(t.resource, NetworkResource(t.network, context, model));
    return t;
  };
  // Bisection for the last thinning at most `target`: lo's is (or lo = -1: none), hi's is
  // above (or hi = size: none is).
  int lo = -1;
  int hi = static_cast<int>(multipliers.size());
  std::vector<std::optional<UniformThinning>> seen(multipliers.size());
  auto at = [&](int i) -> absl::StatusOr<const UniformThinning*> {
    if (!seen[i]) {
      NETADAPT_ASSIGN_OR_RETURN(UniformThinning t, thinning(i));
      seen[i] = std::move(t);
    }
    return &*seen[i];
  };
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    NETADAPT_ASSIGN_OR_RETURN(const UniformThinning* t, at(mid));
    if (t->resource <= target) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  if (lo < 0) {
    NETADAPT_ASSIGN_OR_RETURN(const UniformThinning* t, at(0));
    return *t;
  }
  NETADAPT_ASSIGN_OR_RETURN(const UniformThinning* below, at(lo));
  if (hi >= static_cast<int>(multipliers.size())) return *below;
  NETADAPT_ASSIGN_OR_RETURN(const UniformThinning* above, at(hi));
  return target - below->resource <= above->resource - target ? *below : *above;
}

}  // namespace netadapt::common
