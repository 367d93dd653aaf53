#include "master/end_to_end_latency.h"

#include <algorithm>

namespace netadapt::master {

void EndToEndLatency::Add(double ms) {
  ++runs;
  if (fastest == 0 || ms < fastest) {
    second_fastest = fastest;
    fastest = ms;
  } else if (second_fastest == 0 || ms < second_fastest) {
    second_fastest = ms;
  }
  slowest = std::max(slowest, ms);
}

bool EndToEndLatency::Stable(double tolerance) const {
  return runs >= 2 && second_fastest <= fastest * (1 + tolerance);
}

void EndToEndLatency::WriteTo(v1::ModelResult& result, double tolerance) const {
  result.set_measured_latency_ms(fastest);
  result.set_measured_latency_runs(runs);
  result.set_measured_latency_slowest_ms(slowest);
  result.set_measured_latency_unstable(!Stable(tolerance));
}

EndToEndLatency MeasureUntilStable(const NetworkMeasurer& measure,
                                   const common::NetworkDef& network, int min_rounds,
                                   int max_rounds, double tolerance) {
  EndToEndLatency measured;
  max_rounds = std::max(min_rounds, max_rounds);
  for (int round = 0; round < max_rounds; ++round) {
    if (round >= min_rounds && measured.Stable(tolerance)) break;
    absl::StatusOr<double> ms = measure(network);
    if (ms.ok()) measured.Add(*ms);
  }
  return measured;
}

}  // namespace netadapt::master
