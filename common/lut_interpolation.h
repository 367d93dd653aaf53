#pragma once

#include <memory>
#include <optional>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "common/dense_solve.h"
#include "common/latency_table.h"

namespace netadapt::common {

// How a LUT fills a missing entry offline, from the entries of the layer's family.
enum class Interpolation {
  kBilinear,  // piecewise bilinear over the (in, out) grid; linear beyond its edges
  kRbfCubic,  // the original implementation's scipy Rbf(function='cubic')
};
absl::string_view InterpolationName(Interpolation method);  // "bilinear", "rbf-cubic"
absl::StatusOr<Interpolation> ParseInterpolation(absl::string_view name);

// A latency surface over one family's (in, out) channel counts. Immutable once fitted, so
// safe to share between threads.
class ChannelInterpolator {
 public:
  virtual ~ChannelInterpolator() = default;

  // Estimated latency (ms) at (in, out).
  virtual double Estimate(double in, double out) const = 0;

  // A lower bound of Estimate over the segment from (in0, out0) to (in1, out1), or nullopt
  // when no useful bound exists (rbf-cubic).
  virtual std::optional<double> SegmentLowerBound(double in0, double out0, double in1,
                                                  double out1) const = 0;
};

// Fits `method` to a family's points (at least one). The fit is the expensive, one-time part:
// callers cache the result per family.
//  - kBilinear: linear along out_channels within each in_channels row of the table, then
//    linear across rows; bilinear on a full grid, and well defined on the union of several
//    layers' grids a family collects. Linear beyond the ends; an axis with one value is
//    constant. Depthwise families (in = out) interpolate along their channel count.
//  - kRbfCubic reproduces scipy.interpolate.Rbf(in, out, latency, function='cubic'):
//    phi(r) = r^3, Euclidean distance in channel units, no polynomial term, smooth = 0, a dense
//    symmetric solve (FitRbfCubic with DefaultDenseSolver()). O(n^3) time and O(n^2) memory in
//    the family's n points (9280 points, 690 MB, for AlexNet's linear family on the
//    original's grid). Duplicate (in, out) points, where scipy's system is singular, are
//    merged first (RbfCubicPoints). FailedPrecondition when the system is singular all the
//    same (LutLatencyModel then falls back to bilinear for the family).
absl::StatusOr<std::unique_ptr<ChannelInterpolator>> FitInterpolator(
    Interpolation method, const std::vector<ChannelPoint>& points);

// rbf-cubic's fitted state, what LutFitCache persists: the surface is
// f(p) = sum_j weights[j] * |p - points[j]|^3.
struct RbfCubicFit {
  std::vector<ChannelPoint> points;  // RbfCubicPoints of the family's points
  std::vector<double> weights;       // one per point; empty for a single point (a constant)
  int merged_duplicates = 0;         // points RbfCubicPoints merged away
};

// The points an rbf-cubic fit works on: sorted by (in, out), so that the fit does not depend
// on the table's insertion order, and points with equal (in, out) merged into one with their
// mean latency (scipy's matrix would have two equal rows: singular). `merged`, when given,
// gets the number of points merged away.
std::vector<ChannelPoint> RbfCubicPoints(const std::vector<ChannelPoint>& points,
                                         int* merged = nullptr);

// Solves the rbf-cubic system of `points` (at least one) with `solver`. FailedPrecondition
// naming the cause when it is singular or ill-posed (a zero pivot, non-finite weights, or a
// residual above 1e-6 (1 + |d|)); FailedPrecondition also for a LAPACK solver in a build
// without LAPACK; NotFound for no points.
absl::StatusOr<RbfCubicFit> FitRbfCubic(const std::vector<ChannelPoint>& points,
                                        DenseSolver solver = DefaultDenseSolver());

// The surface of a fit, without solving anything. InvalidArgument when the weights do not
// match the points (one per point, finite; none for a single point).
absl::StatusOr<std::unique_ptr<ChannelInterpolator>> RbfCubicSurface(RbfCubicFit fit);

}  // namespace netadapt::common
