#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/latency_stats.h"
#include "common/layer_shape.h"

namespace netadapt::common {

// Measures layer latencies on the target device; the hook through which the profiler agent
// fills LUT misses. Implementations are thread-safe.
class LatencyMeasurer {
 public:
  virtual ~LatencyMeasurer() = default;
  // Latency (ms) of each shape, in order: the median of the device's runs. Unavailable when
  // the device cannot be reached.
  virtual absl::StatusOr<std::vector<double>> MeasureMs(const std::vector<LayerShape>& shapes) = 0;
  // What the device measured of each shape, in order: the statistics of its runs and the
  // conditions it ran under, which a LUT keeps (MeasureMs is the medians of these). `force`
  // measures again where the device has a cached result (a re-measurement). Errors as
  // MeasureMs. This default suits measurers that have nothing but numbers (synthetic models,
  // fakes): MeasureMs's latencies as bare statistics (samples 0), `force` ignored.
  virtual absl::StatusOr<std::vector<LatencyStats>> Measure(const std::vector<LayerShape>& shapes,
                                                            bool force);
};

// When a measurement is too noisy to keep. The profiler's spread (p90 / p10 of one shape's
// timed runs) stays small on a core the agent has to itself and widens when other work shares
// it (docs/OPERATIONS.md, "Measuring LUT entries", has the figures this default comes from).
struct RemeasurePolicy {
  static constexpr double kDefaultMaxSpread = 1.25;
  // A shape whose p90 / p10 exceeds this is measured again.
  double max_spread = kDefaultMaxSpread;
  // Re-measurements of one call's wide shapes at most; 0 turns re-measuring off.
  int max_extra_rounds = 2;
};

// What MeasureWithinSpread did, for logs.
struct RemeasureReport {
  int64_t remeasured = 0;  // shape re-measurements (a shape re-measured twice counts twice)
  int64_t still_wide = 0;  // shapes still above max_spread after the last round
  int rounds = 0;          // extra rounds run
};

// One call to a device: the statistics of `shapes`, in order; `force` bypasses its cache.
using MeasureFn = std::function<absl::StatusOr<std::vector<LatencyStats>>(
    const std::vector<LayerShape>& shapes, bool force)>;

// Measures `shapes` through `measure` (with `force`), then measures the shapes whose spread
// exceeds policy.max_spread again (forced, all of a round's wide shapes in one call) up to
// policy.max_extra_rounds times, and keeps for each shape the round with the smallest spread:
// a burst of load during one round does not end up in the LUT, and a shape that is noisy in
// every round keeps its tightest measurement (its spread shows it). Shapes without
// statistics (samples 0) are never re-measured. Returns the first error of any round.
absl::StatusOr<std::vector<LatencyStats>> MeasureWithinSpread(
    const MeasureFn& measure, const std::vector<LayerShape>& shapes, bool force,
    const RemeasurePolicy& policy, RemeasureReport* report = nullptr);

}  // namespace netadapt::common
