#include "common/latency_stats.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"

namespace netadapt::common {

MeasureOptions MeasureOptions::WithDefaults(const MeasureOptions& requested,
                                            const MeasureOptions& defaults) {
  MeasureOptions o = requested;
  // warmup_runs = 0 is a legitimate request only through the defaults: a request cannot tell
  // "none" from "unset" in proto3, and no warm-up gives first-run outliers anyway.
  if (o.warmup_runs <= 0) o.warmup_runs = defaults.warmup_runs;
  if (o.min_runs <= 0) o.min_runs = defaults.min_runs;
  if (o.max_runs <= 0) o.max_runs = defaults.max_runs;
  if (!(o.relative_tolerance > 0)) o.relative_tolerance = defaults.relative_tolerance;
  if (!(o.max_time_ms > 0)) o.max_time_ms = defaults.max_time_ms;
  o.max_runs = std::max(o.max_runs, o.min_runs);
  return o;
}

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double position = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + (sorted[above] - sorted[below]) * fraction;
}

LatencyStats ComputeLatencyStats(std::vector<double> samples) {
  LatencyStats stats;
  if (samples.empty()) return stats;
  std::sort(samples.begin(), samples.end());
  stats.samples = static_cast<int>(samples.size());
  stats.median_ms = Quantile(samples, 0.5);
  stats.p10_ms = Quantile(samples, 0.1);
  stats.p90_ms = Quantile(samples, 0.9);
  double sum = 0;
  for (double s : samples) sum += s;
  stats.mean_ms = sum / static_cast<double>(samples.size());
  double squares = 0;
  for (double s : samples) squares += (s - stats.mean_ms) * (s - stats.mean_ms);
  stats.stddev_ms = std::sqrt(squares / static_cast<double>(samples.size()));
  return stats;
}

bool StoppingRule::Add(double sample_ms) {
  samples_.push_back(sample_ms);
  sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), sample_ms), sample_ms);
  medians_.push_back(Quantile(sorted_, 0.5));
  total_ms_ += sample_ms;
  const int n = static_cast<int>(samples_.size());
  if (n >= options_.min_runs) {
    const int window = std::max(2, options_.min_runs / 2);
    const double current = medians_.back();
    bool stable = n >= window;
    for (int i = std::max(0, n - window); stable && i < n; ++i) {
      stable = std::abs(medians_[i] - current) <= options_.relative_tolerance * current;
    }
    if (stable) {
      reason_ = "stable";
      return true;
    }
  }
  if (n >= options_.max_runs) {
    reason_ = "max_runs";
    return true;
  }
  if (total_ms_ >= options_.max_time_ms) {
    reason_ = "max_time";
    return true;
  }
  return false;
}

absl::StatusOr<LatencyStats> MeasureLatency(TimedRunner& runner, const MeasureOptions& options,
                                            const std::function<bool()>& cancelled,
                                            const std::function<int64_t()>& preemptions) {
  auto is_cancelled = [&cancelled] { return cancelled && cancelled(); };
  for (int i = 0; i < options.warmup_runs; ++i) {
    if (is_cancelled()) return absl::CancelledError("measurement cancelled");
    absl::StatusOr<double> elapsed = runner.RunOnceMs();
    if (!elapsed.ok()) return elapsed.status();
  }
  StoppingRule rule(options);
  int discarded = 0;
  double discarded_ms = 0;
  while (true) {
    if (is_cancelled()) return absl::CancelledError("measurement cancelled");
    const int64_t before = preemptions ? preemptions() : 0;
    absl::StatusOr<double> elapsed = runner.RunOnceMs();
    if (!elapsed.ok()) return elapsed.status();
    if (preemptions && preemptions() != before && discarded < 3 * options.max_runs &&
        discarded_ms < options.max_time_ms) {
      ++discarded;
      discarded_ms += *elapsed;
      continue;
    }
    if (rule.Add(*elapsed)) break;
  }
  return ComputeLatencyStats(rule.samples());
}

}  // namespace netadapt::common
