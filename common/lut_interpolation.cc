#include "common/lut_interpolation.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace netadapt::common {
namespace {

// Sorted distinct values.
std::vector<double> Axis(const std::vector<ChannelPoint>& points, bool in) {
  std::vector<double> axis;
  for (const ChannelPoint& p : points) axis.push_back(in ? p.in_channels : p.out_channels);
  std::sort(axis.begin(), axis.end());
  axis.erase(std::unique(axis.begin(), axis.end()), axis.end());
  return axis;
}

// The cell [axis[i], axis[i+1]] holding x (the edge cells beyond the ends) and x's position
// t in it: 0 at axis[i], 1 at axis[i+1], outside [0, 1] when extrapolating.
struct Cell {
  size_t i = 0;
  double t = 0;
};
Cell Locate(const std::vector<double>& axis, double x) {
  if (axis.size() == 1) return {0, 0};
  size_t i = std::upper_bound(axis.begin(), axis.end(), x) - axis.begin();
  i = std::clamp<size_t>(i, 1, axis.size() - 1) - 1;
  return {i, (x - axis[i]) / (axis[i + 1] - axis[i])};
}

// Piecewise bilinear surface on a full grid. Along any segment that keeps one coordinate fixed
// (or a depthwise family's diagonal) it is piecewise linear with breakpoints at the grid
// values, so its minimum there is at an end or a breakpoint: the bound is exact.
class BilinearInterpolator final : public ChannelInterpolator {
 public:
  static absl::StatusOr<std::unique_ptr<ChannelInterpolator>> Fit(
      const std::vector<ChannelPoint>& points) {
    auto self = std::unique_ptr<BilinearInterpolator>(new BilinearInterpolator());
    self->diagonal_ = std::all_of(points.begin(), points.end(), [](const ChannelPoint& p) {
      return p.in_channels == p.out_channels;
    }) && points.size() > 1;
    self->in_axis_ = Axis(points, /*in=*/true);
    self->out_axis_ = self->diagonal_ ? std::vector<double>{0} : Axis(points, /*in=*/false);
    absl::flat_hash_map<std::pair<int, int>, double> values;
    for (const ChannelPoint& p : points) {
      values[{p.in_channels, self->diagonal_ ? 0 : p.out_channels}] = p.latency_ms;
    }
    self->grid_.reserve(self->in_axis_.size() * self->out_axis_.size());
    for (double in : self->in_axis_) {
      for (double out : self->out_axis_) {
        auto it = values.find({static_cast<int>(in), static_cast<int>(out)});
        if (it == values.end()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "bilinear interpolation needs a full (in, out) grid; the table has no entry for "
              "in_channels=",
              in, " out_channels=", out));
        }
        self->grid_.push_back(it->second);
      }
    }
    return std::unique_ptr<ChannelInterpolator>(std::move(self));
  }

  double Estimate(double in, double out) const override {
    const Cell a = Locate(in_axis_, in);
    const Cell b = Locate(out_axis_, diagonal_ ? 0 : out);
    const size_t a1 = in_axis_.size() == 1 ? a.i : a.i + 1;
    const size_t b1 = out_axis_.size() == 1 ? b.i : b.i + 1;
    const double v00 = At(a.i, b.i), v01 = At(a.i, b1), v10 = At(a1, b.i), v11 = At(a1, b1);
    const double low = v00 + (v01 - v00) * b.t;
    const double high = v10 + (v11 - v10) * b.t;
    return low + (high - low) * a.t;
  }

  std::optional<double> SegmentLowerBound(double in0, double out0, double in1,
                                          double out1) const override {
    const bool in_varies = in0 != in1;
    const bool out_varies = !diagonal_ && out0 != out1;
    if (in_varies && out_varies) return std::nullopt;  // not piecewise linear: no exact bound
    double best = std::min(Estimate(in0, out0), Estimate(in1, out1));
    const std::vector<double>& axis = out_varies ? out_axis_ : in_axis_;
    const double lo = out_varies ? std::min(out0, out1) : std::min(in0, in1);
    const double hi = out_varies ? std::max(out0, out1) : std::max(in0, in1);
    for (auto it = std::upper_bound(axis.begin(), axis.end(), lo); it != axis.end() && *it < hi;
         ++it) {
      best = std::min(best, out_varies ? Estimate(in0, *it) : Estimate(*it, out0));
    }
    return best;
  }

 private:
  BilinearInterpolator() = default;
  double At(size_t i, size_t j) const { return grid_[i * out_axis_.size() + j]; }

  bool diagonal_ = false;  // depthwise family: one axis, in = out
  std::vector<double> in_axis_;
  std::vector<double> out_axis_;
  std::vector<double> grid_;  // row-major [in][out]
};

// scipy's Rbf(x, y, d, function='cubic'): f(p) = sum_j w_j |p - p_j|^3 with A w = d,
// A_ij = |p_i - p_j|^3.
class RbfCubicInterpolator final : public ChannelInterpolator {
 public:
  static absl::StatusOr<std::unique_ptr<ChannelInterpolator>> Fit(
      const std::vector<ChannelPoint>& points) {
    auto self = std::unique_ptr<RbfCubicInterpolator>(new RbfCubicInterpolator());
    const Eigen::Index n = static_cast<Eigen::Index>(points.size());
    self->in_.resize(n);
    self->out_.resize(n);
    Eigen::VectorXd d(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      self->in_[i] = points[i].in_channels;
      self->out_[i] = points[i].out_channels;
      d[i] = points[i].latency_ms;
    }
    if (n == 1) {  // A = [0]: scipy fails; a constant is the only sensible surface.
      self->constant_ = d[0];
      return std::unique_ptr<ChannelInterpolator>(std::move(self));
    }
    Eigen::MatrixXd a(n, n);
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = 0; i < n; ++i) {
        a(i, j) = Phi(self->in_[i] - self->in_[j], self->out_[i] - self->out_[j]);
      }
    }
    Eigen::PartialPivLU<Eigen::MatrixXd> lu(a);
    self->weights_ = lu.solve(d);
    const Eigen::VectorXd residuals = a * self->weights_ - d;
    const double residual = residuals.norm();
    self->max_residual_ = residuals.cwiseAbs().maxCoeff();
    if (!self->weights_.allFinite() || !(residual <= 1e-6 * (1 + d.norm()))) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rbf-cubic fit over ", n, " points is singular (residual ", residual, ")"));
    }
    return std::unique_ptr<ChannelInterpolator>(std::move(self));
  }

  double Estimate(double in, double out) const override {
    if (constant_) return *constant_;
    double sum = 0;
    const Eigen::Index n = weights_.size();
    for (Eigen::Index j = 0; j < n; ++j) sum += weights_[j] * Phi(in - in_[j], out - out_[j]);
    return sum;
  }

  std::optional<double> SegmentLowerBound(double in0, double out0, double in1,
                                          double out1) const override {
    if (constant_) return *constant_;
    // Along p(t) = p0 + t e (|e| = 1, t in [0, L]), g(t) = f(p(t)) has |g''| <= K with
    // K = sum_j |w_j| 6 max_t |p(t) - p_j| (the Hessian of |v|^3 has norm <= 6|v|; the
    // distance to a point is largest at a segment end). A C^2 function lies at most K L^2 / 8
    // below the chord between its ends.
    const double length = std::hypot(in1 - in0, out1 - out0);
    double k = 0;
    const Eigen::Index n = weights_.size();
    for (Eigen::Index j = 0; j < n; ++j) {
      const double r0 = std::hypot(in0 - in_[j], out0 - out_[j]);
      const double r1 = std::hypot(in1 - in_[j], out1 - out_[j]);
      k += std::abs(weights_[j]) * 6 * std::max(r0, r1);
    }
    // The surface misses the table's own values by at most the solve's residual.
    return std::min(Estimate(in0, out0), Estimate(in1, out1)) - k * length * length / 8 -
           max_residual_;
  }

 private:
  RbfCubicInterpolator() = default;
  static double Phi(double din, double dout) {
    const double r = std::sqrt(din * din + dout * dout);
    return r * r * r;
  }

  std::optional<double> constant_;
  double max_residual_ = 0;
  Eigen::VectorXd in_;
  Eigen::VectorXd out_;
  Eigen::VectorXd weights_;
};

}  // namespace

absl::string_view InterpolationName(Interpolation method) {
  return method == Interpolation::kBilinear ? "bilinear" : "rbf-cubic";
}

absl::StatusOr<Interpolation> ParseInterpolation(absl::string_view name) {
  if (name == "bilinear") return Interpolation::kBilinear;
  if (name == "rbf-cubic") return Interpolation::kRbfCubic;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown interpolation '", name, "' (expected bilinear or rbf-cubic)"));
}

absl::StatusOr<std::unique_ptr<ChannelInterpolator>> FitInterpolator(
    Interpolation method, const std::vector<ChannelPoint>& points) {
  if (points.empty()) {
    return absl::NotFoundError("cannot interpolate: the LUT has no entry of this layer family");
  }
  if (method == Interpolation::kBilinear) return BilinearInterpolator::Fit(points);
  return RbfCubicInterpolator::Fit(points);
}

}  // namespace netadapt::common
