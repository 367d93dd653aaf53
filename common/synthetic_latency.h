#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/latency_table.h"
#include "common/lut_grid.h"
#include "common/resource_model.h"

namespace netadapt::common {

// A deterministic stand-in for measured latencies, for tests and benchmarks:
//   latency = overhead + ms_per_gmac * GMACs * (1 + noise * u(shape)),  u in [-1, 1]
// where u is a fixed hash of the shape and the seed. The noise makes latency curves
// non-monotone in the channel counts, as measured tables are.
struct SyntheticLatencyOptions {
  double overhead_ms = 0.02;
  double ms_per_gmac = 2.0;  // ~0.5 TMAC/s, a Jetson Xavier's order of magnitude in fp32
  double noise = 0.03;       // in [0, 1)
  uint64_t seed = 0;
};

double SyntheticLatencyMs(const LayerShape& shape, const SyntheticLatencyOptions& options);

// SyntheticLatencyMs as a resource model, with an exact certified bound.
class SyntheticLatencyModel final : public ResourceModel {
 public:
  explicit SyntheticLatencyModel(SyntheticLatencyOptions options) : options_(options) {}
  absl::StatusOr<double> LayerCost(const LayerShape& shape) override;
  std::optional<double> LowerBound(const LayerShape& lo, const LayerShape& hi) override;

 private:
  SyntheticLatencyOptions options_;
};

// A LUT over `grid` for `network` filled with synthetic latencies, with a fingerprint that
// says so (device "synthetic").
absl::StatusOr<LatencyTable> BuildSyntheticTable(const NetworkDef& network,
                                                 const CostContext& context, const LutGrid& grid,
                                                 const SyntheticLatencyOptions& options);

}  // namespace netadapt::common
