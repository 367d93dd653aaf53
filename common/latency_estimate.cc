#include "common/latency_estimate.h"

#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"

namespace netadapt::common {
namespace {

LayerShape PointShape(const LayerFamily& family, const ChannelPoint& point) {
  LayerShape shape = family.representative;
  shape.in_channels = point.in_channels;
  shape.out_channels = point.out_channels;
  if (family.depthwise()) shape.groups = point.in_channels;
  return shape;
}

}  // namespace

absl::StatusOr<double> EstimateLatencyMs(const LatencyTable& table, const LayerShape& shape) {
  if (std::optional<double> known = table.Find(shape)) return *known;
  const LayerFamily family = LayerFamily::Of(shape);
  const std::vector<ChannelPoint>& points = table.FamilyPoints(family);
  if (points.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no measured entry of the family of ", shape.DebugString(), " to estimate from"));
  }
  const double macs = static_cast<double>(shape.Macs());
  // The nearest entries in MACs on each side; channel distance breaks ties (entries of one row
  // of the family are better neighbours than another row's with the same MACs).
  struct Side {
    const ChannelPoint* point = nullptr;
    double macs = 0;
    int64_t distance = 0;
  };
  Side below, above;
  for (const ChannelPoint& point : points) {
    const double point_macs = static_cast<double>(PointShape(family, point).Macs());
    const int64_t distance = std::abs(point.in_channels - shape.in_channels) +
                             std::abs(point.out_channels - shape.out_channels);
    auto better = [&](const Side& side, bool closer_macs) {
      return side.point == nullptr || closer_macs ||
             (point_macs == side.macs && distance < side.distance);
    };
    if (point_macs <= macs && better(below, point_macs > below.macs)) {
      below = {&point, point_macs, distance};
    }
    if (point_macs >= macs && better(above, point_macs < above.macs)) {
      above = {&point, point_macs, distance};
    }
  }
  if (below.point != nullptr && above.point != nullptr) {
    if (above.macs == below.macs) return below.point->latency_ms;
    const double t = (macs - below.macs) / (above.macs - below.macs);
    return below.point->latency_ms + t * (above.point->latency_ms - below.point->latency_ms);
  }
  const Side& nearest = below.point != nullptr ? below : above;
  if (nearest.macs <= 0) return nearest.point->latency_ms;
  return nearest.point->latency_ms * macs / nearest.macs;
}

}  // namespace netadapt::common
