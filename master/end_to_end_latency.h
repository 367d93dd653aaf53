#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "common/network_def.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::master {

// Measures a network end to end on the target device (the profiler agent's MeasureNetwork):
// its median latency in ms. Empty when the master has no profiler.
using NetworkMeasurer = std::function<absl::StatusOr<double>(const common::NetworkDef&)>;

// End-to-end measurements of one network: the fastest (the figure a job reports: the least
// disturbed by anything else on the device), the slowest (with it, their spread) and how many
// succeeded.
struct EndToEndLatency {
  double fastest = 0;  // 0 when none succeeded
  double second_fastest = 0;
  double slowest = 0;
  int runs = 0;

  void Add(double ms);
  // The two fastest agree within `tolerance` (relative to the fastest).
  bool Stable(double tolerance) const;
  // measured_latency_ms, _runs, _slowest_ms and _unstable of `result`.
  void WriteTo(v1::ModelResult& result, double tolerance) const;
};

// Measures `network` at least `min_rounds` times, then until the two fastest agree within
// `tolerance` or `max_rounds` measurements were asked for. Failed measurements count as
// rounds but not as runs.
EndToEndLatency MeasureUntilStable(const NetworkMeasurer& measure,
                                   const common::NetworkDef& network, int min_rounds,
                                   int max_rounds, double tolerance);

}  // namespace netadapt::master
