// profiler_bench: how fast the profiler agent measures, and how repeatable its medians are,
// on this machine (the Profiler with LibTorch runners, in process: no RPC in the figures).
//   profiler_bench                        a table
//   profiler_bench --json                 one JSON object: {"throughput": {...}, "spread": [...]}
// Throughput: distinct shapes of a small grid (helloworld at 32x32, conv step 4) measured
// with the agent's default options, shapes per second. Spread: a few layers measured
// --repeats times from scratch (force); the spread of their medians across repeats.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "common/latency_stats.h"
#include "common/lut_grid.h"
#include "common/torch/device.h"
#include "common/torch/layer_timer.h"
#include "common/zoo.h"
#include "profiler-agent/device_info.h"
#include "profiler-agent/profiler.h"

ABSL_FLAG(bool, json, false, "print one JSON object instead of a table");
ABSL_FLAG(std::string, device, "cpu", "LibTorch device");
ABSL_FLAG(int, threads, 1, "LibTorch intra-op threads (0 = one per core)");
ABSL_FLAG(int, repeats, 5, "measurements of each spread layer");
ABSL_FLAG(int, grid_step, 4, "conv channel step of the throughput grid");

namespace netadapt::profiler {
namespace {

using common::LayerOp;
using common::LayerShape;

LayerShape Conv(int in, int out, int k, int stride, int size) {
  LayerShape s;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = {k, k};
  s.stride = {stride, stride};
  s.padding = {k / 2, k / 2};
  s.input_h = s.input_w = size;
  return s;
}

LayerShape Depthwise(int channels, int size) {
  LayerShape s = Conv(channels, channels, 3, 1, size);
  s.groups = channels;
  return s;
}

LayerShape Linear(int in, int out) {
  LayerShape s;
  s.op = LayerOp::kLinear;
  s.in_channels = in;
  s.out_channels = out;
  return s;
}

struct SpreadRow {
  std::string layer;
  double mean_median_ms = 0;
  double min_median_ms = 0;
  double max_median_ms = 0;
  double cv_percent = 0;  // stddev / mean of the medians across repeats
  double mean_samples = 0;
  double seconds_per_measurement = 0;
};

int Run() {
  engine::SetIntraOpThreads(absl::GetFlag(FLAGS_threads));
  auto factory = engine::MakeTorchRunnerFactory(absl::GetFlag(FLAGS_device));
  if (!factory.ok()) {
    std::fprintf(stderr, "%s\n", factory.status().ToString().c_str());
    return 1;
  }
  v1::DeviceFingerprint fingerprint = HostFingerprint(**factory);
  ProfilerOptions options;
  options.max_batch_shapes = 1 << 20;
  Profiler profiler(*std::move(factory), fingerprint, options);
  const common::MeasureOptions& defaults = options.default_measure;

  // Throughput over a grid.
  auto net = common::ZooNetwork("helloworld", {32, 3, 10, 1.0});
  auto grid = common::GridShapes(*net, {}, {absl::GetFlag(FLAGS_grid_step), 64});
  if (!grid.ok()) {
    std::fprintf(stderr, "%s\n", grid.status().ToString().c_str());
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  auto results = profiler.MeasureLayersSync(*grid);
  const double grid_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!results.ok()) {
    std::fprintf(stderr, "%s\n", results.status().ToString().c_str());
    return 1;
  }
  double grid_samples = 0;
  for (const LayerResult& r : *results) grid_samples += r.stats.samples;
  grid_samples /= static_cast<double>(results->size());

  // Spread of the median across repeated measurements.
  const std::vector<LayerShape> layers = {
      Conv(3, 16, 3, 1, 32),   Conv(64, 64, 3, 1, 32), Conv(192, 384, 3, 1, 13),
      Depthwise(256, 14),      Conv(256, 256, 1, 1, 14), Linear(1024, 1024),
      Linear(9216, 512)};
  std::vector<SpreadRow> rows;
  for (const LayerShape& layer : layers) {
    std::vector<double> medians;
    double samples = 0;
    const auto layer_start = std::chrono::steady_clock::now();
    for (int r = 0; r < absl::GetFlag(FLAGS_repeats); ++r) {
      auto result = profiler.MeasureLayersSync({layer}, {}, /*force=*/true);
      if (!result.ok()) {
        std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
        return 1;
      }
      medians.push_back((*result)[0].stats.median_ms);
      samples += (*result)[0].stats.samples;
    }
    const common::LatencyStats spread = common::ComputeLatencyStats(medians);
    SpreadRow row;
    row.layer = layer.DebugString();
    row.mean_median_ms = spread.mean_ms;
    row.min_median_ms = *std::min_element(medians.begin(), medians.end());
    row.max_median_ms = *std::max_element(medians.begin(), medians.end());
    row.cv_percent = 100 * spread.stddev_ms / spread.mean_ms;
    row.mean_samples = samples / static_cast<double>(medians.size());
    row.seconds_per_measurement =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - layer_start).count() /
        static_cast<double>(medians.size());
    rows.push_back(row);
  }

  if (absl::GetFlag(FLAGS_json)) {
    std::string json = absl::StrFormat(
        "{\"device\": \"%s\", \"threads\": %d, \"options\": {\"warmup_runs\": %d, "
        "\"min_runs\": %d, \"max_runs\": %d, \"relative_tolerance\": %g, \"max_time_ms\": %g},\n"
        " \"throughput\": {\"shapes\": %d, \"seconds\": %.3f, \"shapes_per_second\": %.2f, "
        "\"mean_samples\": %.1f},\n \"spread\": [",
        fingerprint.device_name(), absl::GetFlag(FLAGS_threads), defaults.warmup_runs,
        defaults.min_runs, defaults.max_runs, defaults.relative_tolerance, defaults.max_time_ms,
        results->size(), grid_seconds, results->size() / grid_seconds, grid_samples);
    for (size_t i = 0; i < rows.size(); ++i) {
      const SpreadRow& r = rows[i];
      absl::StrAppendFormat(
          &json,
          "%s\n  {\"layer\": \"%s\", \"mean_median_ms\": %.5f, \"min_median_ms\": %.5f, "
          "\"max_median_ms\": %.5f, \"cv_percent\": %.2f, \"mean_samples\": %.1f, "
          "\"seconds_per_measurement\": %.3f}",
          i == 0 ? "" : ",", r.layer, r.mean_median_ms, r.min_median_ms, r.max_median_ms,
          r.cv_percent, r.mean_samples, r.seconds_per_measurement);
    }
    json += "]}\n";
    std::fputs(json.c_str(), stdout);
    return 0;
  }
  std::printf("device: %s, %d thread(s); defaults: %d warm-up, %d..%d runs, tolerance %g, cap %g ms\n",
              fingerprint.device_name().c_str(), absl::GetFlag(FLAGS_threads),
              defaults.warmup_runs, defaults.min_runs, defaults.max_runs,
              defaults.relative_tolerance, defaults.max_time_ms);
  std::printf("throughput: %zu grid shapes (helloworld 32x32, step %d) in %.2f s = %.1f shapes/s, "
              "%.1f timed runs per shape\n\n",
              results->size(), absl::GetFlag(FLAGS_grid_step), grid_seconds,
              results->size() / grid_seconds, grid_samples);
  std::printf("%-56s %10s %10s %10s %7s %8s %8s\n", "layer", "median ms", "min", "max", "cv %",
              "runs", "s/meas");
  for (const SpreadRow& r : rows) {
    std::printf("%-56s %10.4f %10.4f %10.4f %7.2f %8.1f %8.3f\n", r.layer.c_str(),
                r.mean_median_ms, r.min_median_ms, r.max_median_ms, r.cv_percent, r.mean_samples,
                r.seconds_per_measurement);
  }
  return 0;
}

}  // namespace
}  // namespace netadapt::profiler

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return netadapt::profiler::Run();
}
