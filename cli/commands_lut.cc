// lut show: what a LUT file holds and how far to trust it, without a master. Users check a
// table here before `submit --lut` (the master refuses the same bad entries) and see whether
// it was measured on a quiet device.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "common/latency_measurer.h"
#include "common/latency_table.h"
#include "common/latency_table_summary.h"

namespace netadapt::cli {

int RunLutShow(CommandContext& ctx, const LutShowOptions& options) {
  absl::StatusOr<common::LatencyTable> table = common::ReadLatencyTable(options.file);
  if (!table.ok()) return ctx.Fail(table.status());
  const double max_spread = options.max_spread > 0 ? options.max_spread
                                                   : common::RemeasurePolicy::kDefaultMaxSpread;
  ctx.out() << options.file << ": "
            << common::FormatLatencyTableSummary(
                   common::SummarizeLatencyTable(*table, max_spread), table->device())
            << "\n";
  // The widest entries: the ones to measure again (netadapt-lut with --max_spread) or to
  // distrust.
  std::vector<std::pair<double, std::string>> wide;
  table->ForEach([&](const common::LayerShape& shape, const common::LatencyStats& stats) {
    const std::optional<double> spread = stats.Spread();
    if (!spread || *spread <= max_spread) return;
    std::string line = absl::StrFormat("  %s: %.4f ms (p10 %.4f, p90 %.4f, %d runs",
                                       shape.DebugString(), stats.median_ms, stats.p10_ms,
                                       stats.p90_ms, stats.samples);
    if (stats.conditions) {
      absl::StrAppendFormat(&line, ", load avg %.2f, preempted %d times",
                            stats.conditions->load_avg_1m,
                            stats.conditions->involuntary_switches);
    }
    wide.emplace_back(*spread, line + ")");
  });
  std::sort(wide.begin(), wide.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const size_t shown = std::min<size_t>(wide.size(), std::max(0, options.widest));
  if (shown > 0) {
    ctx.out() << "widest entries (p90/p10 above " << absl::StrFormat("%.2f", max_spread)
              << "):\n";
    for (size_t i = 0; i < shown; ++i) {
      ctx.out() << absl::StrFormat("  %.2f", wide[i].first) << wide[i].second << "\n";
    }
  }
  return kExitOk;
}

}  // namespace netadapt::cli
