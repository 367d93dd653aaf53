#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/latency_measurer.h"
#include "common/latency_table.h"
#include "common/lut_interpolation.h"
#include "common/resource_model.h"

namespace netadapt::common {

// What a LutLatencyModel does when the table has no entry for a shape.
struct MissPolicy {
  enum class Kind {
    kFail,         // NotFound naming the shape
    kInterpolate,  // offline: `interpolation` over the shape's family
    kMeasure,      // ask `measurer` and add the result to the table
  };
  Kind kind = Kind::kFail;
  Interpolation interpolation = Interpolation::kBilinear;
  LatencyMeasurer* measurer = nullptr;  // not owned; required for kMeasure
  // rbf-cubic: where fitted weights persist (LutFitCache), so that a family of the same table
  // is solved once across models, jobs and processes; empty: nowhere (fitted per model).
  std::string fit_cache_dir;
  // rbf-cubic: the dense solver of the fit (the build's fastest unless a benchmark says).
  DenseSolver dense_solver = DefaultDenseSolver();

  static MissPolicy Fail() { return {}; }
  static MissPolicy Interpolate(Interpolation method, std::string fit_cache_dir = "") {
    MissPolicy policy;
    policy.kind = Kind::kInterpolate;
    policy.interpolation = method;
    policy.fit_cache_dir = std::move(fit_cache_dir);
    return policy;
  }
  static MissPolicy Measure(LatencyMeasurer* measurer) {
    MissPolicy policy;
    policy.kind = Kind::kMeasure;
    policy.measurer = measurer;
    return policy;
  }
};

// Latency from a look-up table: entries that are there are returned as they are; misses follow
// the policy. Interpolators are fitted once per family and cached (the original re-read the
// LUT file and re-fitted at every miss); rbf-cubic fits also persist in
// MissPolicy::fit_cache_dir when set. A family whose rbf-cubic system is singular is
// interpolated bilinearly instead (logged as a warning, counted in FitStats::fallbacks), never
// with non-finite weights. Thread-safe; fitting runs outside the lock.
class LutLatencyModel final : public ResourceModel {
 public:
  LutLatencyModel(LatencyTable table, MissPolicy policy);

  absl::StatusOr<double> LayerCost(const LayerShape& shape) override;
  // The exact minimum of bilinear interpolation along one channel axis (less a 1e-9 relative
  // margin); nullopt for rbf-cubic (no useful bound), and when misses are measured (unknown
  // until measured) or fail.
  std::optional<double> LowerBound(const LayerShape& lo, const LayerShape& hi) override;

  // A copy of the table (with measured entries added).
  LatencyTable Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

  // What interpolation has cost so far: families made ready (fitted or loaded) and the wall
  // time spent on them.
  struct FitStats {
    int families = 0;
    double seconds = 0;
    int loaded = 0;     // of `families`: rbf-cubic weights read from fit_cache_dir, not solved
    int fallbacks = 0;  // of `families`: rbf-cubic asked, bilinear used (singular system)
  };
  FitStats fit_stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<std::shared_ptr<const ChannelInterpolator>> Interpolator(
      const LayerFamily& family) ABSL_LOCKS_EXCLUDED(mu_);

  const MissPolicy policy_;
  mutable absl::Mutex mu_;
  LatencyTable table_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<LayerFamily, std::shared_ptr<const ChannelInterpolator>> fitted_
      ABSL_GUARDED_BY(mu_);
  FitStats fit_stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netadapt::common
