#include "profiler-agent/lut_builder.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace netadapt::profiler {
namespace {

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

}  // namespace

common::LatencyTableFormat LatencyTableFormatFor(const std::string& path) {
  return absl::EndsWith(path, ".json") ? common::LatencyTableFormat::kJson
                                       : common::LatencyTableFormat::kBinary;
}

absl::StatusOr<common::LatencyTable> BuildLut(
    const std::vector<common::LayerShape>& shapes, const v1::DeviceFingerprint& device,
    common::LatencyMeasurer& measurer, const LutBuildOptions& options,
    const std::atomic<bool>* stop, const std::function<void(const LutBuildProgress&)>& progress) {
  if (options.out_path.empty()) return absl::InvalidArgumentError("out: no path given");
  const common::LatencyTableFormat format = LatencyTableFormatFor(options.out_path);
  common::LatencyTable table(device);
  absl::StatusOr<common::LatencyTable> existing = common::ReadLatencyTable(options.out_path);
  if (existing.ok()) {
    if (!common::SameDevice(existing->device(), device)) {
      return absl::FailedPreconditionError(absl::StrCat(
          options.out_path, " was measured on another device or runtime ('",
          existing->device().device_name(), "'; the agent is '", device.device_name(),
          "'): choose another output file"));
    }
    table = *std::move(existing);
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }

  std::vector<common::LayerShape> missing;
  for (const common::LayerShape& shape : shapes) {
    if (!table.Find(shape)) missing.push_back(shape);
  }
  LutBuildProgress state;
  state.total = static_cast<int64_t>(shapes.size());
  state.done = state.total - static_cast<int64_t>(missing.size());
  state.resumed = state.done;
  const auto start = std::chrono::steady_clock::now();
  auto report = [&](int64_t measured) {
    state.elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (measured > 0) {
      state.eta_s = state.elapsed_s / measured * (state.total - state.done);
    }
    if (progress) progress(state);
  };
  auto save = [&] { return common::WriteLatencyTable(table, options.out_path, format); };

  report(0);
  const size_t chunk = static_cast<size_t>(std::max(1, options.chunk_shapes));
  int64_t measured = 0;
  int64_t unsaved = 0;
  for (size_t begin = 0; begin < missing.size(); begin += chunk) {
    if (stop != nullptr && stop->load()) {
      NETADAPT_RETURN_IF_ERROR(save());
      return absl::CancelledError(absl::StrCat("interrupted with ", state.done, " of ",
                                               state.total, " entries saved; run again to resume"));
    }
    const std::vector<common::LayerShape> batch(
        missing.begin() + begin, missing.begin() + std::min(missing.size(), begin + chunk));
    // The statistics too: the LUT file keeps each entry's spread and the agent's load.
    absl::StatusOr<std::vector<common::LatencyStats>> latencies =
        measurer.Measure(batch, /*force=*/false);
    if (!latencies.ok()) {
      NETADAPT_RETURN_IF_ERROR(save());
      if (stop != nullptr && stop->load()) {
        return absl::CancelledError(absl::StrCat("interrupted with ", state.done, " of ",
                                                 state.total,
                                                 " entries saved; run again to resume"));
      }
      return absl::Status(latencies.status().code(),
                          absl::StrCat(latencies.status().message(), " (", state.done, " of ",
                                       state.total, " entries saved; run again to resume)"));
    }
    for (size_t i = 0; i < batch.size(); ++i) table.Insert(batch[i], (*latencies)[i]);
    measured += static_cast<int64_t>(batch.size());
    unsaved += static_cast<int64_t>(batch.size());
    state.done += static_cast<int64_t>(batch.size());
    if (unsaved >= options.save_every) {
      NETADAPT_RETURN_IF_ERROR(save());
      unsaved = 0;
    }
    report(measured);
  }
  NETADAPT_RETURN_IF_ERROR(save());
  return table;
}

std::string ProgressLine(const LutBuildProgress& p, int width) {
  const double fraction = p.total > 0 ? static_cast<double>(p.done) / p.total : 1.0;
  const int filled = static_cast<int>(fraction * width);
  std::string bar = std::string(filled, '#') + std::string(width - filled, '.');
  const int64_t measured = p.done - p.resumed;
  std::string line = absl::StrFormat("[%s] %d/%d %3.0f%%", bar, p.done, p.total, fraction * 100);
  if (measured > 0 && p.elapsed_s > 0) {
    absl::StrAppendFormat(&line, "  %.1f shapes/s", measured / p.elapsed_s);
  }
  if (p.eta_s >= 0) absl::StrAppend(&line, "  ETA ", Duration(p.eta_s));
  absl::StrAppend(&line, "  elapsed ", Duration(p.elapsed_s));
  return line;
}

}  // namespace netadapt::profiler
