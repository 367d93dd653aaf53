#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/latency_table.h"
#include "common/layer_shape.h"
#include "common/lut_latency_model.h"
#include "netadapt/v1/latency.pb.h"

namespace netadapt::profiler {

struct LutBuildOptions {
  // Required. The LUT file, written atomically; its format follows LatencyTableFormatFor.
  std::string out_path;
  // Shapes per measurer call: the granularity of progress and of an interruption's loss.
  int chunk_shapes = 8;
  // Newly measured entries between two saves of the output (a crash loses at most these).
  int save_every = 32;
};

struct LutBuildProgress {
  int64_t done = 0;     // entries in the table, resumed ones included
  int64_t total = 0;    // entries the grid asks for
  int64_t resumed = 0;  // entries the output file had at start
  double elapsed_s = 0;
  double eta_s = -1;    // estimated seconds left; -1 until something was measured
};

// Binary unless `path` ends in ".json".
common::LatencyTableFormat LatencyTableFormatFor(const std::string& path);

// Builds the LUT of `shapes` (e.g. common::GridShapes) measured on `device` through
// `measurer`, resumably: entries already in options.out_path are kept and not measured again
// (FailedPrecondition when that file was measured on another device), the table is saved
// atomically every options.save_every new entries and at the end, and when `stop` is set
// (checked between chunks; the caller may also cancel the measurer's call in flight) or the
// measurer fails, what was measured is saved before returning Cancelled or the measurer's
// error. `progress` (optional) is called after every chunk. Returns the complete table.
absl::StatusOr<common::LatencyTable> BuildLut(
    const std::vector<common::LayerShape>& shapes, const v1::DeviceFingerprint& device,
    common::LatencyMeasurer& measurer, const LutBuildOptions& options,
    const std::atomic<bool>* stop = nullptr,
    const std::function<void(const LutBuildProgress&)>& progress = {});

// "[########............] 120/480  25%  3.1 shapes/s  ETA 1m56s", `width` bar characters.
std::string ProgressLine(const LutBuildProgress& progress, int width = 30);

}  // namespace netadapt::profiler
