#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/latency_table.h"
#include "common/lut_interpolation.h"
#include "common/lut_latency_model.h"
#include "common/resource_model.h"

namespace netadapt::master {

// A LATENCY job's source of layer latencies: its LUT, with misses measured on the device
// through the profiler agent (the default) or interpolated offline. Lookups of many shapes go
// to the profiler as one batch, and concurrent lookups of the same missing shape share one
// measurement (the first caller measures, the others wait for its result). Thread-safe.
class LatencyOracle {
 public:
  // Measure mode. `measurer` (not owned) must outlive the oracle.
  static std::unique_ptr<LatencyOracle> Measuring(common::LatencyTable table,
                                                  common::LatencyMeasurer* measurer);
  // Interpolate mode: misses come from `interpolation` over the table's entries. rbf-cubic
  // fits persist in `fit_cache_dir` when not empty (common::LutFitCache).
  static std::unique_ptr<LatencyOracle> Interpolating(common::LatencyTable table,
                                                      common::Interpolation interpolation,
                                                      std::string fit_cache_dir = "");

  // What one Lookup cost, for the job that asked (a shared oracle serves several jobs).
  struct LookupCounts {
    int64_t lookups = 0;   // shapes asked, repeats included
    // Answered without measuring: from the table (interpolated in Interpolate mode) or by
    // another lookup's measurement.
    int64_t lut_hits = 0;
    int64_t measured = 0;  // shapes this lookup measured on the device
    // Device time of those measurements: samples x mean per shape (the median when the
    // measurer gives no samples).
    double device_ms = 0;
  };

  // One latency (ms) per shape, in order; `counts` (optional) gets what this call cost. Errors:
  // the measurer's (Unavailable or
  // DeadlineExceeded while the profiler is down or hung; no retry here, see ProfilerWait);
  // a lookup that waited for a shape another lookup was measuring gets that lookup's error
  // code.
  absl::StatusOr<std::vector<double>> Lookup(const std::vector<common::LayerShape>& shapes,
                                             LookupCounts* counts = nullptr);

  // Guesses (ms) at the shapes' latencies without measuring anything: the table's entry, else
  // common::EstimateLatencyMs over the measured entries (the workers' EstimateLatency).
  // FailedPrecondition in Interpolate mode; NotFound for a shape whose family has no entry.
  absl::StatusOr<std::vector<double>> Estimate(const std::vector<common::LayerShape>& shapes) const;

  // The oracle as a ResourceModel (for the network resource the master computes).
  common::ResourceModel& model() { return adapter_; }

  // Entries measured so far, for the job's report.
  int64_t measured() const;

 private:
  class Adapter final : public common::ResourceModel {
   public:
    explicit Adapter(LatencyOracle& oracle) : oracle_(oracle) {}
    absl::StatusOr<double> LayerCost(const common::LayerShape& shape) override;

   private:
    LatencyOracle& oracle_;
  };

  LatencyOracle() : adapter_(*this) {}

  Adapter adapter_;
  // Interpolate mode.
  std::unique_ptr<common::LutLatencyModel> interpolated_;
  // Measure mode.
  common::LatencyMeasurer* measurer_ = nullptr;
  mutable absl::Mutex mu_;
  common::LatencyTable table_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<common::LayerShape> in_flight_ ABSL_GUARDED_BY(mu_);
  int64_t measured_ ABSL_GUARDED_BY(mu_) = 0;
  // The last measurement's error, given to the lookups that waited for its shapes.
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netadapt::master
