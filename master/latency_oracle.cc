#include "master/latency_oracle.h"

#include "absl/strings/str_cat.h"
#include "common/latency_estimate.h"
#include "common/status_macros.h"

namespace netadapt::master {

std::unique_ptr<LatencyOracle> LatencyOracle::Measuring(common::LatencyTable table,
                                                        common::LatencyMeasurer* measurer) {
  auto oracle = std::unique_ptr<LatencyOracle>(new LatencyOracle());
  oracle->measurer_ = measurer;
  absl::MutexLock lock(&oracle->mu_);
  oracle->table_ = std::move(table);
  return oracle;
}

std::unique_ptr<LatencyOracle> LatencyOracle::Interpolating(common::LatencyTable table,
                                                            common::Interpolation interpolation,
                                                            std::string fit_cache_dir) {
  auto oracle = std::unique_ptr<LatencyOracle>(new LatencyOracle());
  oracle->interpolated_ = std::make_unique<common::LutLatencyModel>(
      std::move(table), common::MissPolicy::Interpolate(interpolation, std::move(fit_cache_dir)));
  return oracle;
}

absl::StatusOr<std::vector<double>> LatencyOracle::Lookup(
    const std::vector<common::LayerShape>& shapes, LookupCounts* counts) {
  LookupCounts ignored;
  if (counts == nullptr) counts = &ignored;
  *counts = LookupCounts{};
  counts->lookups = static_cast<int64_t>(shapes.size());
  std::vector<double> latencies(shapes.size());
  if (interpolated_ != nullptr) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      NETADAPT_ASSIGN_OR_RETURN(latencies[i], interpolated_->LayerCost(shapes[i]));
    }
    counts->lut_hits = counts->lookups;
    return latencies;
  }
  if (measurer_ == nullptr) {
    return absl::FailedPreconditionError(
        "no profiler agent is configured to measure missing LUT entries (start the master "
        "with --profiler, or give the job a LUT and lut_mode INTERPOLATE)");
  }
  // Claims the misses nobody measures yet; waits for those somebody else measures.
  std::vector<common::LayerShape> mine;
  {
    absl::MutexLock lock(&mu_);
    for (const common::LayerShape& shape : shapes) {
      if (table_.Find(shape) || in_flight_.contains(shape)) continue;
      if (std::find(mine.begin(), mine.end(), shape) == mine.end()) mine.push_back(shape);
    }
    for (const common::LayerShape& shape : mine) in_flight_.insert(shape);
  }
  if (!mine.empty()) {
    // With the statistics: the shared LUT keeps each entry's spread and the agent's load.
    absl::StatusOr<std::vector<common::LatencyStats>> measured =
        measurer_->Measure(mine, /*force=*/false);
    absl::MutexLock lock(&mu_);
    for (const common::LayerShape& shape : mine) in_flight_.erase(shape);
    if (!measured.ok()) {
      last_failure_ = measured.status();
      return measured.status();
    }
    if (measured->size() != mine.size()) {
      return absl::InternalError("the profiler returned the wrong number of latencies");
    }
    for (size_t i = 0; i < mine.size(); ++i) {
      table_.Insert(mine[i], (*measured)[i]);
      const common::LatencyStats& stats = (*measured)[i];
      counts->device_ms +=
          stats.samples > 0 ? stats.samples * stats.mean_ms : stats.median_ms;
    }
    measured_ += static_cast<int64_t>(mine.size());
    counts->measured = static_cast<int64_t>(mine.size());
  }
  // Repeats of a shape this call measured are hits too: the device measured it once.
  counts->lut_hits = counts->lookups - counts->measured;
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < shapes.size(); ++i) {
    auto measured_by_other = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !in_flight_.contains(shapes[i]);
    };
    mu_.Await(absl::Condition(&measured_by_other));
    std::optional<double> latency = table_.Find(shapes[i]);
    if (!latency) {
      // The caller that measured it failed; its error went to that caller. Same code here
      // (Unavailable / DeadlineExceeded when the profiler is down: the caller may retry).
      const absl::StatusCode code =
          last_failure_.ok() ? absl::StatusCode::kUnavailable : last_failure_.code();
      return absl::Status(code, absl::StrCat("measuring ", shapes[i].DebugString(),
                                             " failed in a concurrent lookup: ",
                                             last_failure_.message()));
    }
    latencies[i] = *latency;
  }
  return latencies;
}

absl::StatusOr<std::vector<double>> LatencyOracle::Estimate(
    const std::vector<common::LayerShape>& shapes) const {
  if (interpolated_ != nullptr) {
    return absl::FailedPreconditionError(
        "the job's LUT is interpolated, not measured: LookupLatency costs no device time");
  }
  std::vector<double> estimates;
  estimates.reserve(shapes.size());
  absl::MutexLock lock(&mu_);
  for (const common::LayerShape& shape : shapes) {
    NETADAPT_ASSIGN_OR_RETURN(double estimate, common::EstimateLatencyMs(table_, shape));
    estimates.push_back(estimate);
  }
  return estimates;
}

int64_t LatencyOracle::measured() const {
  absl::MutexLock lock(&mu_);
  return measured_;
}

absl::StatusOr<double> LatencyOracle::Adapter::LayerCost(const common::LayerShape& shape) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<double> latency, oracle_.Lookup({shape}));
  return latency[0];
}

}  // namespace netadapt::master
