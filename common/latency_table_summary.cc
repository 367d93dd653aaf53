#include "common/latency_table_summary.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace netadapt::common {

LatencyTableSummary SummarizeLatencyTable(const LatencyTable& table, double max_spread) {
  LatencyTableSummary summary;
  summary.max_spread = max_spread;
  std::vector<double> spreads;
  table.ForEach([&](const LayerShape& /*shape*/, const LatencyStats& stats) {
    ++summary.entries;
    if (stats.samples > 0) ++summary.with_stats;
    if (std::optional<double> spread = stats.Spread()) {
      spreads.push_back(*spread);
      if (*spread > max_spread) ++summary.wide;
    }
    if (stats.conditions) {
      const MeasurementConditions& c = *stats.conditions;
      ++summary.with_conditions;
      summary.max_load_avg_1m = std::max(summary.max_load_avg_1m, c.load_avg_1m);
      summary.max_runnable_tasks = std::max(summary.max_runnable_tasks, c.runnable_tasks);
      summary.cpus_online = std::max(summary.cpus_online, c.cpus_online);
      summary.cpus_allowed = std::max(summary.cpus_allowed, c.cpus_allowed);
      if (c.involuntary_switches > 0) ++summary.preempted;
    }
  });
  if (!spreads.empty()) {
    std::sort(spreads.begin(), spreads.end());
    summary.median_spread = Quantile(spreads, 0.5);
    summary.widest_spread = spreads.back();
  }
  return summary;
}

std::string FormatLatencyTableSummary(const LatencyTableSummary& s,
                                      const v1::DeviceFingerprint& device) {
  std::string line = absl::StrCat(s.entries, " entries, ", s.with_stats, " with statistics");
  if (s.with_stats > 0) {
    absl::StrAppendFormat(&line, "; spread p90/p10 median %.2f, widest %.2f, %d above %.2f",
                          s.median_spread, s.widest_spread, s.wide, s.max_spread);
  }
  if (s.with_conditions > 0) {
    absl::StrAppendFormat(&line,
                          "; measured at load avg <= %.2f, <= %d runnable tasks, agent on %d "
                          "of %d CPUs, %d of %d entries preempted",
                          s.max_load_avg_1m, s.max_runnable_tasks, s.cpus_allowed,
                          s.cpus_online, s.preempted, s.with_conditions);
  } else {
    absl::StrAppend(&line, "; measuring conditions not recorded");
  }
  absl::StrAppend(&line, "; device '", device.device_name(), "'");
  if (!device.power_mode().empty()) absl::StrAppend(&line, ", power mode '", device.power_mode(), "'");
  return line;
}

}  // namespace netadapt::common
