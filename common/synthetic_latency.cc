#include "common/synthetic_latency.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

// splitmix64: a fixed, platform-independent mix (absl::Hash is salted per process, and the
// table must be the same in every run).
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

double UnitNoise(const LayerShape& s, uint64_t seed) {
  uint64_t h = Mix(seed);
  for (int64_t v : {int64_t(s.op), int64_t(s.in_channels), int64_t(s.out_channels),
                    int64_t(s.kernel.h), int64_t(s.kernel.w), int64_t(s.stride.h),
                    int64_t(s.stride.w), int64_t(s.padding.h), int64_t(s.padding.w),
                    int64_t(s.groups), int64_t(s.input_h), int64_t(s.input_w), int64_t(s.batch)}) {
    h = Mix(h ^ static_cast<uint64_t>(v));
  }
  return static_cast<double>(h >> 11) * 0x1.0p-53 * 2 - 1;  // [-1, 1)
}

}  // namespace

double SyntheticLatencyMs(const LayerShape& shape, const SyntheticLatencyOptions& options) {
  const double compute = options.ms_per_gmac * static_cast<double>(shape.Macs()) * 1e-9;
  return options.overhead_ms + compute * (1 + options.noise * UnitNoise(shape, options.seed));
}

absl::StatusOr<double> SyntheticLatencyModel::LayerCost(const LayerShape& shape) {
  return SyntheticLatencyMs(shape, options_);
}

std::optional<double> SyntheticLatencyModel::LowerBound(const LayerShape& lo,
                                                        const LayerShape& hi) {
  (void)hi;
  // MACs are smallest at `lo`; the noise factor is at least 1 - noise.
  const double compute = options_.ms_per_gmac * static_cast<double>(lo.Macs()) * 1e-9;
  const double bound = options_.overhead_ms + compute * (1 - options_.noise);
  return bound - 1e-12 * bound;  // below the rounding of LayerCost's own arithmetic
}

absl::StatusOr<LatencyTable> BuildSyntheticTable(const NetworkDef& network,
                                                 const CostContext& context, const LutGrid& grid,
                                                 const SyntheticLatencyOptions& options) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<LayerShape> shapes, GridShapes(network, context, grid));
  v1::DeviceFingerprint device;
  device.set_device_name("synthetic");
  (*device.mutable_extra())["model"] =
      absl::StrCat("overhead_ms=", options.overhead_ms, " ms_per_gmac=", options.ms_per_gmac,
                   " noise=", options.noise, " seed=", options.seed);
  LatencyTable table(device);
  for (const LayerShape& shape : shapes) table.Insert(shape, SyntheticLatencyMs(shape, options));
  return table;
}

}  // namespace netadapt::common
