#pragma once

#include <cstdint>
#include <string>

#include "common/latency_table.h"

namespace netadapt::common {

// What tells a clean LUT from a noisy one at a glance: how many entries carry the profiler's
// statistics, their spread (p90 / p10), and the host's load while they were measured.
struct LatencyTableSummary {
  int64_t entries = 0;
  int64_t with_stats = 0;  // measured with statistics (samples > 0); the rest are bare numbers
  int64_t wide = 0;        // spread above the threshold given to SummarizeLatencyTable
  double max_spread = 0;   // the threshold
  double median_spread = 0;
  double widest_spread = 0;
  int64_t with_conditions = 0;  // entries that record the host's load
  double max_load_avg_1m = 0;
  int max_runnable_tasks = 0;
  int cpus_online = 0;   // the largest seen
  int cpus_allowed = 0;  // the largest seen: the agent's cores
  int64_t preempted = 0;  // entries whose runs were preempted (involuntary switches > 0)
};

// Summarises `table`, counting as wide the entries whose p90 / p10 exceeds `max_spread`.
LatencyTableSummary SummarizeLatencyTable(const LatencyTable& table, double max_spread);

// One line, e.g. "120 entries, 120 with statistics; spread p90/p10 median 1.04, widest 1.31,
// 2 above 1.25; measured at load avg <= 1.9, <= 3 runnable tasks, agent on 1 of 2 CPUs,
// 0 entries preempted; device 'X', power mode 'MAXN'".
std::string FormatLatencyTableSummary(const LatencyTableSummary& summary,
                                      const v1::DeviceFingerprint& device);

}  // namespace netadapt::common
