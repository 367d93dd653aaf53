#include "common/latency_measurer.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace netadapt::common {

absl::StatusOr<std::vector<LatencyStats>> LatencyMeasurer::Measure(
    const std::vector<LayerShape>& shapes, bool /*force*/) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<double> latencies, MeasureMs(shapes));
  std::vector<LatencyStats> stats;
  stats.reserve(latencies.size());
  for (double ms : latencies) stats.push_back(LatencyStats::Bare(ms));
  return stats;
}

absl::StatusOr<std::vector<LatencyStats>> MeasureWithinSpread(
    const MeasureFn& measure, const std::vector<LayerShape>& shapes, bool force,
    const RemeasurePolicy& policy, RemeasureReport* report) {
  RemeasureReport local;
  if (report == nullptr) report = &local;
  *report = {};
  NETADAPT_ASSIGN_OR_RETURN(std::vector<LatencyStats> best, measure(shapes, force));
  if (best.size() != shapes.size()) {
    return absl::InternalError(absl::StrCat("the latency measurer returned ", best.size(),
                                            " results for ", shapes.size(), " shapes"));
  }
  auto wide = [&](const LatencyStats& stats) {
    const std::optional<double> spread = stats.Spread();
    return spread && *spread > policy.max_spread;
  };
  for (int round = 0; round < policy.max_extra_rounds; ++round) {
    std::vector<LayerShape> again;  // distinct: a batch may name a shape twice
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (wide(best[i]) && std::find(again.begin(), again.end(), shapes[i]) == again.end()) {
        again.push_back(shapes[i]);
      }
    }
    if (again.empty()) break;
    // Forced: the device's cache holds the wide result, and asking again must run again.
    NETADAPT_ASSIGN_OR_RETURN(std::vector<LatencyStats> retry, measure(again, /*force=*/true));
    if (retry.size() != again.size()) {
      return absl::InternalError(absl::StrCat("the latency measurer returned ", retry.size(),
                                              " results for ", again.size(), " shapes"));
    }
    ++report->rounds;
    report->remeasured += static_cast<int64_t>(again.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (!wide(best[i])) continue;
      const size_t j = std::find(again.begin(), again.end(), shapes[i]) - again.begin();
      const std::optional<double> now = retry[j].Spread();
      if (now && *now < best[i].Spread().value_or(INFINITY)) best[i] = retry[j];
    }
  }
  for (const LatencyStats& stats : best) report->still_wide += wide(stats) ? 1 : 0;
  return best;
}

}  // namespace netadapt::common
