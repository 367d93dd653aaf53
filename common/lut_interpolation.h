#pragma once

#include <memory>
#include <optional>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
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
//    LU solve. O(n^3) time and O(n^2) memory in the family's n points (9216 points, 680 MB,
//    for AlexNet's 9216 -> 4096 layer on the original's grid). FailedPrecondition when the
//    system is singular.
absl::StatusOr<std::unique_ptr<ChannelInterpolator>> FitInterpolator(
    Interpolation method, const std::vector<ChannelPoint>& points);

}  // namespace netadapt::common
