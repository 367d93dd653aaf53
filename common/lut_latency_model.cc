#include "common/lut_latency_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/lut_fit_cache.h"
#include "common/status_macros.h"

namespace netadapt::common {

namespace {

struct FitOutcome {
  bool loaded = false;
  bool fell_back = false;
};

// The family's surface under `policy`: rbf-cubic from the fit cache when it holds a valid fit,
// else solved (and stored), else, when the system is singular, bilinear.
absl::StatusOr<std::unique_ptr<ChannelInterpolator>> FitFamily(
    const MissPolicy& policy, const LayerFamily& family, const std::vector<ChannelPoint>& points,
    FitOutcome& outcome) {
  if (policy.interpolation != Interpolation::kRbfCubic || points.empty()) {
    return FitInterpolator(policy.interpolation, points);
  }
  std::optional<LutFitCache> cache;
  if (!policy.fit_cache_dir.empty()) cache.emplace(policy.fit_cache_dir);
  if (cache && points.size() > 1) {
    absl::StatusOr<RbfCubicFit> stored = cache->Load(points);
    absl::StatusOr<std::unique_ptr<ChannelInterpolator>> surface =
        stored.ok() ? RbfCubicSurface(*std::move(stored)) : stored.status();
    if (surface.ok()) {
      outcome.loaded = true;
      return surface;
    }
    if (!absl::IsNotFound(surface.status())) {
      Logger("lut")->warn("{} family: ignoring its stored rbf-cubic fit ({}); fitting again",
                          family.representative.DebugString(), surface.status().ToString());
    }
  }
  absl::StatusOr<RbfCubicFit> fit = FitRbfCubic(points, policy.dense_solver);
  if (fit.ok()) {
    if (fit->merged_duplicates > 0) {
      Logger("lut")->warn("{} family: {} duplicate (in, out) points merged (mean latency) "
                          "before the rbf-cubic fit",
                          family.representative.DebugString(), fit->merged_duplicates);
    }
    if (cache) {
      if (absl::Status stored = cache->Store(*fit); !stored.ok()) {
        Logger("lut")->warn("{} family: the rbf-cubic fit is not persisted: {}",
                            family.representative.DebugString(), stored.ToString());
      }
    }
    return RbfCubicSurface(*std::move(fit));
  }
  if (!absl::IsFailedPrecondition(fit.status())) return fit.status();
  Logger("lut")->warn("{} family: {}; interpolating this family bilinearly instead",
                      family.representative.DebugString(), std::string(fit.status().message()));
  outcome.fell_back = true;
  return FitInterpolator(Interpolation::kBilinear, RbfCubicPoints(points));
}

}  // namespace

LutLatencyModel::LutLatencyModel(LatencyTable table, MissPolicy policy)
    : policy_(policy), table_(std::move(table)) {
  NETADAPT_CHECK(policy_.kind != MissPolicy::Kind::kMeasure || policy_.measurer != nullptr);
}

absl::StatusOr<std::shared_ptr<const ChannelInterpolator>> LutLatencyModel::Interpolator(
    const LayerFamily& family) {
  std::vector<ChannelPoint> points;
  {
    absl::MutexLock lock(&mu_);
    auto it = fitted_.find(family);
    if (it != fitted_.end()) return it->second;
    points = table_.FamilyPoints(family);
  }
  // Fitting can take seconds: never under the lock. Two threads may fit the same family at
  // once; the first result is kept, both are identical.
  // Wall time for the statistics only; nothing depends on it.
  const auto start = std::chrono::steady_clock::now();
  FitOutcome outcome;
  absl::StatusOr<std::unique_ptr<ChannelInterpolator>> fitted =
      FitFamily(policy_, family, points, outcome);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!fitted.ok()) {
    return absl::Status(fitted.status().code(),
                        absl::StrCat(family.representative.DebugString(), " family: ",
                                     fitted.status().message()));
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = fitted_.try_emplace(family, std::move(*fitted));
  if (inserted) {
    ++fit_stats_.families;
    fit_stats_.seconds += seconds;
    fit_stats_.loaded += outcome.loaded;
    fit_stats_.fallbacks += outcome.fell_back;
  }
  return it->second;
}

absl::StatusOr<double> LutLatencyModel::LayerCost(const LayerShape& shape) {
  // Under kInterpolate fitted surfaces are never dropped (only a measurement changes a
  // family), so a raw pointer stays valid for the model's lifetime and the hot path pays no
  // reference counting.
  const ChannelInterpolator* fitted = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<double> hit = table_.Find(shape)) return *hit;
    if (policy_.kind == MissPolicy::Kind::kInterpolate) {
      // The common miss, served under the same lock as the table lookup.
      auto it = fitted_.find(LayerFamily::Of(shape));
      if (it != fitted_.end()) fitted = it->second.get();
    }
  }
  if (fitted) return fitted->Estimate(shape.in_channels, shape.out_channels);
  switch (policy_.kind) {
    case MissPolicy::Kind::kFail:
      return absl::NotFoundError(
          absl::StrCat("no LUT entry for ", shape.DebugString(), " and interpolation is off"));
    case MissPolicy::Kind::kInterpolate: {
      NETADAPT_ASSIGN_OR_RETURN(std::shared_ptr<const ChannelInterpolator> interpolator,
                                Interpolator(LayerFamily::Of(shape)));
      return interpolator->Estimate(shape.in_channels, shape.out_channels);
    }
    case MissPolicy::Kind::kMeasure: {
      NETADAPT_ASSIGN_OR_RETURN(std::vector<LatencyStats> measured,
                                policy_.measurer->Measure({shape}, /*force=*/false));
      if (measured.size() != 1) {
        return absl::InternalError("the latency measurer returned the wrong number of results");
      }
      absl::MutexLock lock(&mu_);
      table_.Insert(shape, measured[0]);  // with its statistics: Snapshot's table keeps them
      fitted_.erase(LayerFamily::Of(shape));  // the family's surface changed
      return measured[0].median_ms;
    }
  }
  return absl::InternalError("unknown miss policy");
}

std::optional<double> LutLatencyModel::LowerBound(const LayerShape& lo, const LayerShape& hi) {
  // rbf-cubic certifies nothing; asking would also fit the family (seconds to minutes) even
  // when every candidate is a table hit.
  if (policy_.kind != MissPolicy::Kind::kInterpolate ||
      policy_.interpolation != Interpolation::kBilinear) {
    return std::nullopt;
  }
  const LayerFamily family = LayerFamily::Of(lo);
  const ChannelInterpolator* interpolator = nullptr;  // see LayerCost: valid under kInterpolate
  {
    absl::MutexLock lock(&mu_);
    auto it = fitted_.find(family);
    if (it != fitted_.end()) interpolator = it->second.get();
  }
  if (interpolator == nullptr) {
    absl::StatusOr<std::shared_ptr<const ChannelInterpolator>> fitted = Interpolator(family);
    if (!fitted.ok()) return std::nullopt;
    interpolator = fitted->get();
  }
  std::optional<double> bound = interpolator->SegmentLowerBound(
      lo.in_channels, lo.out_channels, hi.in_channels, hi.out_channels);
  if (!bound) return std::nullopt;
  // Table entries are returned as stored, and a fitted surface can miss them by a rounding
  // error at its grid nodes; a relative margin far above rounding keeps the bound a bound.
  return *bound - 1e-9 * std::abs(*bound);
}

LutLatencyModel::FitStats LutLatencyModel::fit_stats() const {
  absl::MutexLock lock(&mu_);
  return fit_stats_;
}

LatencyTable LutLatencyModel::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return table_;
}

}  // namespace netadapt::common
