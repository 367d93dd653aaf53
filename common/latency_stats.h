#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/layer_shape.h"
#include "common/network_def.h"

namespace netadapt::common {

// How one layer (or network) is timed: warm-up runs, then timed runs until the median is
// stable or a cap is reached. Zero or negative fields mean "use the default" (WithDefaults).
struct MeasureOptions {
  int warmup_runs = 5;
  // Timed runs before the stopping rule is consulted.
  int min_runs = 10;
  int max_runs = 200;
  // Stable when the median moved by at most this fraction over the last max(2, min_runs / 2)
  // runs.
  double relative_tolerance = 0.01;
  // Cap on the summed duration of the timed runs, in milliseconds.
  double max_time_ms = 2000;

  // `requested` with every non-positive field replaced by the matching field of `defaults`,
  // and max_runs raised to at least min_runs.
  static MeasureOptions WithDefaults(const MeasureOptions& requested,
                                     const MeasureOptions& defaults);
};

// The measuring host's state during one measurement (see v1::MeasurementConditions).
struct MeasurementConditions {
  double load_avg_1m = 0;
  int runnable_tasks = 0;  // host-wide, the measuring thread included
  int cpus_online = 0;
  int cpus_allowed = 0;  // the agent's affinity mask
  int64_t involuntary_switches = 0;  // of the agent's process during the timed runs

  bool operator==(const MeasurementConditions& o) const {
    return load_avg_1m == o.load_avg_1m && runnable_tasks == o.runnable_tasks &&
           cpus_online == o.cpus_online && cpus_allowed == o.cpus_allowed &&
           involuntary_switches == o.involuntary_switches;
  }
};

// Statistics of a set of timed runs, in milliseconds. Percentiles interpolate linearly
// between order statistics (numpy's default), so p10 <= median <= p90 always holds.
// samples == 0 marks a bare number: only median_ms is known.
struct LatencyStats {
  double median_ms = 0;
  double p10_ms = 0;
  double p90_ms = 0;
  double mean_ms = 0;
  double stddev_ms = 0;  // population standard deviation
  int samples = 0;
  // Where it was measured, when the measurer knows (the profiler agent does).
  std::optional<MeasurementConditions> conditions;

  // A bare number: `median_ms` with no statistics.
  static LatencyStats Bare(double median_ms) {
    LatencyStats stats;
    stats.median_ms = median_ms;
    return stats;
  }
  // p90 / p10, the spread the LUT's re-measurement bounds; nullopt without statistics or
  // when p10 is 0.
  std::optional<double> Spread() const {
    if (samples <= 0 || !(p10_ms > 0)) return std::nullopt;
    return p90_ms / p10_ms;
  }
  bool operator==(const LatencyStats& o) const {
    return median_ms == o.median_ms && p10_ms == o.p10_ms && p90_ms == o.p90_ms &&
           mean_ms == o.mean_ms && stddev_ms == o.stddev_ms && samples == o.samples &&
           conditions == o.conditions;
  }
};

// The statistics of `samples_ms` (all zero when empty).
LatencyStats ComputeLatencyStats(std::vector<double> samples_ms);

// The `q`-quantile (0..1) of sorted `values` with linear interpolation; 0 when empty.
double Quantile(const std::vector<double>& sorted_values, double q);

// The stopping rule of a measurement, fed one timed run at a time. Not thread-safe.
class StoppingRule {
 public:
  explicit StoppingRule(const MeasureOptions& options) : options_(options) {}

  // Records one run; returns true when measuring should stop: at least min_runs runs and the
  // median stable (every median of the window's runs within relative_tolerance of the
  // current one; the window is max(2, min_runs / 2) runs), or max_runs runs, or the runs' summed time reached max_time_ms.
  bool Add(double sample_ms);

  const std::vector<double>& samples() const { return samples_; }
  // Why Add returned true: "stable", "max_runs" or "max_time"; empty before.
  const std::string& reason() const { return reason_; }

 private:
  MeasureOptions options_;
  std::vector<double> samples_;
  std::vector<double> sorted_;   // samples_ kept sorted (insertion: runs are few)
  std::vector<double> medians_;  // median after each run
  double total_ms_ = 0;
  std::string reason_;
};

// One thing that can be run and timed on the device: a layer or a network with its input
// allocated once. Implementations synchronise with the device around each run, so the time
// returned covers the work done. Not thread-safe: one measurement uses it at a time.
class TimedRunner {
 public:
  virtual ~TimedRunner() = default;
  // Runs once and returns the elapsed wall time in milliseconds. Internal on a runtime error.
  virtual absl::StatusOr<double> RunOnceMs() = 0;
};

// Builds runners on one device. Implementations: engine::TorchRunnerFactory (LibTorch, in
// common/torch/layer_timer.h) and fakes in tests. Calls are serialised by the caller.
class RunnerFactory {
 public:
  virtual ~RunnerFactory() = default;
  // A runner for `shape` with random weights and input. InvalidArgument when the shape
  // (e.g. its dtype) is not supported on this device; ResourceExhausted when allocation fails.
  virtual absl::StatusOr<std::unique_ptr<TimedRunner>> ForLayer(const LayerShape& shape) = 0;
  // A runner for the forward pass of `network` at `batch`.
  virtual absl::StatusOr<std::unique_ptr<TimedRunner>> ForNetwork(const NetworkDef& network,
                                                                  int batch) = 0;
  // "cpu" or "cuda:N".
  virtual std::string device() const = 0;
  // Runtime versions for the fingerprint, e.g. {"libtorch", "1.13.1"}, {"cuda", "11.4"}.
  virtual std::vector<std::pair<std::string, std::string>> RuntimeVersions() const = 0;
  // A GPU's name when the device is one ("" on the CPU or when unknown).
  virtual std::string AcceleratorName() const = 0;
  // Intra-op threads the runtime uses.
  virtual int Threads() const = 0;
};

// Times `runner`: options.warmup_runs untimed runs, then timed runs until `StoppingRule`
// says stop. Cancelled as soon as `cancelled` (when given) returns true, which is checked
// before every run; a runner error is returned as is.
// `preemptions`, when given, counts the times the measuring process lost its CPU
// (getrusage's involuntary context switches): a run during which it grew is discarded, since
// its wall time includes time spent off the CPU, not on the device's work (a 5 us conv timed
// at 10 ms beside a compiler, CI 2026-12-06). Discarding stops after 3 x max_runs runs or
// max_time_ms of discarded time, so a device that is always preempted is still measured.
absl::StatusOr<LatencyStats> MeasureLatency(TimedRunner& runner, const MeasureOptions& options,
                                            const std::function<bool()>& cancelled = {},
                                            const std::function<int64_t()>& preemptions = {});

}  // namespace netadapt::common
