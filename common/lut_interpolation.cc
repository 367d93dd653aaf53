#include "common/lut_interpolation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

// Position of x among sorted `axis` values: the cell [axis[i], axis[i+1]] holding x (the edge
// cells beyond the ends) and x's position t in it: 0 at axis[i], 1 at axis[i+1], outside
// [0, 1] when extrapolating. A single value gives a constant (t = 0).
struct Cell {
  size_t i = 0;
  size_t next = 0;
  double t = 0;
};
Cell Locate(const std::vector<double>& axis, double x) {
  if (axis.size() == 1) return {0, 0, 0};
  size_t i = std::upper_bound(axis.begin(), axis.end(), x) - axis.begin();
  i = std::clamp<size_t>(i, 1, axis.size() - 1) - 1;
  return {i, i + 1, (x - axis[i]) / (axis[i + 1] - axis[i])};
}

// Range minima of a fixed sequence in O(1) after O(n log n) preparation (a sparse table).
class RangeMin {
 public:
  RangeMin() = default;
  explicit RangeMin(std::vector<double> values) {
    levels_.push_back(std::move(values));
    for (size_t width = 2; width <= levels_[0].size(); width *= 2) {
      const std::vector<double>& previous = levels_.back();
      std::vector<double> level(levels_[0].size() - width + 1);
      for (size_t i = 0; i < level.size(); ++i) {
        level[i] = std::min(previous[i], previous[i + width / 2]);
      }
      levels_.push_back(std::move(level));
    }
  }
  const std::vector<double>& values() const { return levels_[0]; }
  // min(values[first .. end - 1]); +infinity when the range is empty.
  double Min(size_t first, size_t end) const {
    if (first >= end) return std::numeric_limits<double>::infinity();
    size_t level = 0;
    while ((size_t{2} << level) <= end - first) ++level;
    return std::min(levels_[level][first], levels_[level][end - (size_t{1} << level)]);
  }

 private:
  std::vector<std::vector<double>> levels_;
};

// Indices of the sorted `axis` values strictly inside (lo, hi).
std::pair<size_t, size_t> Inside(const std::vector<double>& axis, double lo, double hi) {
  return {static_cast<size_t>(std::upper_bound(axis.begin(), axis.end(), lo) - axis.begin()),
          static_cast<size_t>(std::lower_bound(axis.begin(), axis.end(), hi) - axis.begin())};
}

// Linear interpolation between rows of the table: each row (one in_channels value) is
// piecewise linear in out_channels, and rows are blended linearly in in_channels; both
// extrapolate linearly beyond their ends. On a full (in, out) grid this is exactly bilinear
// interpolation; it also handles the union of several layers' grids that one shape family
// collects, and depthwise families (one point per row: linear along the channel count).
// Along a segment that keeps one coordinate fixed the surface is piecewise linear with
// breakpoints at table values, so its minimum there is at an end or a breakpoint: the bound
// is exact.
class BilinearInterpolator final : public ChannelInterpolator {
 public:
  static absl::StatusOr<std::unique_ptr<ChannelInterpolator>> Fit(
      const std::vector<ChannelPoint>& points) {
    auto self = std::unique_ptr<BilinearInterpolator>(new BilinearInterpolator());
    std::vector<ChannelPoint> sorted = points;
    std::sort(sorted.begin(), sorted.end(), [](const ChannelPoint& a, const ChannelPoint& b) {
      return std::tie(a.in_channels, a.out_channels) < std::tie(b.in_channels, b.out_channels);
    });
    for (const ChannelPoint& p : sorted) {
      if (self->in_axis_.empty() || self->in_axis_.back() != p.in_channels) {
        self->in_axis_.push_back(p.in_channels);
        self->rows_.emplace_back();
      }
      Row& row = self->rows_.back();
      if (!row.out.empty() && row.out.back() == p.out_channels) {
        return absl::InvalidArgumentError(absl::StrCat("duplicate point in_channels=",
                                                       p.in_channels, " out_channels=",
                                                       p.out_channels));
      }
      row.out.push_back(p.out_channels);
      row.latency.push_back(p.latency_ms);
    }
    for (Row& row : self->rows_) row.minima = RangeMin(row.latency);
    self->singleton_rows_ = std::all_of(self->rows_.begin(), self->rows_.end(),
                                        [](const Row& row) { return row.out.size() == 1; });
    // Columns: the surface along in_channels at each out value any row has. Between two
    // consecutive such values every row is linear in out_channels (and so is its linear
    // extrapolation), so the surface there is a convex combination of two columns and the
    // columns' range minima bound it in O(1). On a full grid these are the table's columns;
    // on the union of several layers' grids that one family collects (AlexNet's linear
    // layers: 13,376 points over rows of different lengths) they are interpolated, which
    // spares bounds along in_channels a pass over every row in range.
    if (!self->singleton_rows_) {
      std::vector<double> out_axis;
      for (const Row& row : self->rows_) out_axis.insert(out_axis.end(), row.out.begin(), row.out.end());
      std::sort(out_axis.begin(), out_axis.end());
      out_axis.erase(std::unique(out_axis.begin(), out_axis.end()), out_axis.end());
      if (out_axis.size() * self->rows_.size() <= kMaxColumnCells) {
        for (double out : out_axis) {
          std::vector<double> column;
          column.reserve(self->rows_.size());
          for (const Row& row : self->rows_) column.push_back(row.At(out));
          self->columns_.push_back({RangeMin(std::move(column))});
        }
        self->out_axis_ = std::move(out_axis);
      }
    }
    return std::unique_ptr<ChannelInterpolator>(std::move(self));
  }

  double Estimate(double in, double out) const override {
    const Cell cell = Locate(in_axis_, in);
    const double low = rows_[cell.i].At(out);
    if (cell.next == cell.i) return low;
    const double high = rows_[cell.next].At(out);
    return low + (high - low) * cell.t;
  }

  std::optional<double> SegmentLowerBound(double in0, double out0, double in1,
                                          double out1) const override {
    const bool in_varies = in0 != in1;
    // With one point per row the surface ignores out_channels.
    const bool out_varies = out0 != out1 && !singleton_rows_;
    if (in_varies && out_varies) return std::nullopt;  // not piecewise linear: no exact bound
    if (!in_varies && !out_varies) return Estimate(in0, out0);
    // The fast paths below include the segment's ends in the minima they combine, so they
    // need no separate Estimate of the ends (this is the hot path of the exact search).
    if (in_varies) {
      if (!columns_.empty()) {
        const Cell cell = Locate(out_axis_, out0);
        if (cell.t >= 0 && cell.t <= 1) {
          // Between two columns: a convex combination of them, bounded by the combination of
          // their exact minima.
          const double lo = std::min(in0, in1), hi = std::max(in0, in1);
          const Cell at_lo = Locate(in_axis_, lo);
          const Cell at_hi = Locate(in_axis_, hi);
          const auto [first, end] = Inside(in_axis_, lo, hi);
          const double a = ColumnMinOver(cell.i, at_lo, at_hi, first, end);
          if (cell.next == cell.i) return a;
          const double b = ColumnMinOver(cell.next, at_lo, at_hi, first, end);
          return a + (b - a) * cell.t;
        }
      }
      return ScanBreakpoints(in_axis_, in0, in1, [&](double in) { return Estimate(in, out0); },
                             std::min(Estimate(in0, out0), Estimate(in1, out0)));
    }
    const Cell cell = Locate(in_axis_, in0);
    if (cell.t >= 0 && cell.t <= 1) {
      // Between two rows (or on one): a convex combination of the rows, so the combination
      // of each row's exact minimum bounds it, in O(log n) with the rows' range-minimum
      // tables. Tight where the rows' minima sit at the same end (monotone tables).
      const double a = rows_[cell.i].MinOver(out0, out1);
      if (cell.next == cell.i) return a;
      const double b = rows_[cell.next].MinOver(out0, out1);
      return a + (b - a) * cell.t;
    }
    auto eval = [&](double out) { return Estimate(in0, out); };
    const double best = ScanBreakpoints(rows_[cell.i].out, out0, out1, eval,
                                        std::min(Estimate(in0, out0), Estimate(in0, out1)));
    return ScanBreakpoints(rows_[cell.next].out, out0, out1, eval, best);
  }

 private:
  struct Row {
    std::vector<double> out;  // sorted
    std::vector<double> latency;
    RangeMin minima;

    double At(double x) const {
      const Cell cell = Locate(out, x);
      return latency[cell.i] + (latency[cell.next] - latency[cell.i]) * cell.t;
    }
    // The exact minimum of the row over [x0, x1]: at an end or at a node in between.
    double MinOver(double x0, double x1) const {
      const double lo = std::min(x0, x1), hi = std::max(x0, x1);
      const auto [first, end] = Inside(out, lo, hi);
      return std::min({At(lo), At(hi), minima.Min(first, end)});
    }
  };

  // A full grid's column `j` (out = out_axis_[j]) across rows, for bounds along in_channels.
  struct Column {
    RangeMin minima;
  };

  // The exact minimum of column j (piecewise linear in in_channels) over [lo, hi], given
  // lo's and hi's cells on in_axis_ and the nodes [first, end) strictly inside.
  double ColumnMinOver(size_t j, const Cell& at_lo, const Cell& at_hi, size_t first,
                       size_t end) const {
    const std::vector<double>& value = columns_[j].minima.values();
    auto at = [&](const Cell& c) { return value[c.i] + (value[c.next] - value[c.i]) * c.t; };
    return std::min({at(at_lo), at(at_hi), columns_[j].minima.Min(first, end)});
  }

  // min(best, eval(x)) over the `axis` values strictly between a and b.
  template <typename Eval>
  static double ScanBreakpoints(const std::vector<double>& axis, double a, double b, Eval eval,
                                double best) {
    const double lo = std::min(a, b), hi = std::max(a, b);
    for (auto it = std::upper_bound(axis.begin(), axis.end(), lo); it != axis.end() && *it < hi;
         ++it) {
      best = std::min(best, eval(*it));
    }
    return best;
  }

  BilinearInterpolator() = default;

  std::vector<double> in_axis_;  // sorted in_channels values, one per row
  std::vector<Row> rows_;
  // Bounds the memory of columns_ (8 bytes per cell, times ~log2(rows) for the range-minimum
  // levels); past it, bounds along in_channels scan the rows instead.
  static constexpr size_t kMaxColumnCells = size_t{1} << 20;

  std::vector<double> out_axis_;  // sorted out_channels values of all rows; columns_[j] is at out_axis_[j]
  std::vector<Column> columns_;   // empty for singleton rows or past kMaxColumnCells
  bool singleton_rows_ = false;
};

// scipy's Rbf(x, y, d, function='cubic'): f(p) = sum_j w_j |p - p_j|^3 with A w = d,
// A_ij = |p_i - p_j|^3.
double Phi(double din, double dout) {
  const double r = std::sqrt(din * din + dout * dout);
  return r * r * r;
}

class RbfCubicInterpolator final : public ChannelInterpolator {
 public:
  // `fit` checked by RbfCubicSurface.
  explicit RbfCubicInterpolator(const RbfCubicFit& fit) {
    if (fit.weights.empty()) {
      constant_ = fit.points[0].latency_ms;
      return;
    }
    in_.reserve(fit.points.size());
    out_.reserve(fit.points.size());
    for (const ChannelPoint& p : fit.points) {
      in_.push_back(p.in_channels);
      out_.push_back(p.out_channels);
    }
    weights_ = fit.weights;
  }

  double Estimate(double in, double out) const override {
    if (constant_) return *constant_;
    double sum = 0;
    const size_t n = weights_.size();
    for (size_t j = 0; j < n; ++j) sum += weights_[j] * Phi(in - in_[j], out - out_[j]);
    return sum;
  }

  // No useful certificate: a curvature bound (|g''| <= 6 sum_j |w_j| r_j along a segment)
  // is valid but, with the large alternating weights a cubic RBF fits to measured (noisy)
  // tables, far too loose to skip any candidate, and it costs three evaluations. Searches
  // evaluate rbf-cubic estimates instead.
  std::optional<double> SegmentLowerBound(double, double, double, double) const override {
    return std::nullopt;
  }

 private:
  std::optional<double> constant_;
  std::vector<double> in_;
  std::vector<double> out_;
  std::vector<double> weights_;
};

// |A w - d| for A_ij = Phi(p_i - p_j), without A (the solve overwrote it): each kernel value
// once, for both of its symmetric entries.
double Residual(const std::vector<ChannelPoint>& points, const std::vector<double>& w) {
  const size_t n = points.size();
  std::vector<double> r(n);
  for (size_t i = 0; i < n; ++i) r[i] = -points[i].latency_ms;
  for (size_t j = 0; j < n; ++j) {
    const double in = points[j].in_channels, out = points[j].out_channels;
    double rj = 0;
    for (size_t i = j + 1; i < n; ++i) {
      const double a = Phi(points[i].in_channels - in, points[i].out_channels - out);
      r[i] += a * w[j];
      rj += a * w[i];
    }
    r[j] += rj;
  }
  double sum = 0;
  for (double x : r) sum += x * x;
  return std::sqrt(sum);
}

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
  NETADAPT_ASSIGN_OR_RETURN(RbfCubicFit fit, FitRbfCubic(points));
  return RbfCubicSurface(std::move(fit));
}

std::vector<ChannelPoint> RbfCubicPoints(const std::vector<ChannelPoint>& points, int* merged) {
  std::vector<ChannelPoint> sorted = points;
  std::sort(sorted.begin(), sorted.end(), [](const ChannelPoint& a, const ChannelPoint& b) {
    return std::tie(a.in_channels, a.out_channels, a.latency_ms) <
           std::tie(b.in_channels, b.out_channels, b.latency_ms);
  });
  std::vector<ChannelPoint> unique;
  unique.reserve(sorted.size());
  for (size_t first = 0; first < sorted.size();) {
    size_t end = first + 1;
    double sum = sorted[first].latency_ms;
    while (end < sorted.size() && sorted[end].in_channels == sorted[first].in_channels &&
           sorted[end].out_channels == sorted[first].out_channels) {
      sum += sorted[end++].latency_ms;
    }
    unique.push_back({sorted[first].in_channels, sorted[first].out_channels,
                      end - first == 1 ? sorted[first].latency_ms : sum / (end - first)});
    first = end;
  }
  if (merged != nullptr) *merged = static_cast<int>(points.size() - unique.size());
  return unique;
}

absl::StatusOr<RbfCubicFit> FitRbfCubic(const std::vector<ChannelPoint>& points,
                                        DenseSolver solver) {
  if (points.empty()) {
    return absl::NotFoundError("cannot interpolate: the LUT has no entry of this layer family");
  }
  for (const ChannelPoint& p : points) {
    if (!std::isfinite(p.latency_ms)) {
      return absl::FailedPreconditionError(
          absl::StrCat("rbf-cubic fit: the latency at in_channels=", p.in_channels,
                       " out_channels=", p.out_channels, " is not finite"));
    }
  }
  RbfCubicFit fit;
  fit.points = RbfCubicPoints(points, &fit.merged_duplicates);
  const int64_t n = static_cast<int64_t>(fit.points.size());
  if (n == 1) return fit;  // A = [0]: scipy fails; a constant is the only sensible surface.
  // The lower triangle, column-major: what dsysv reads (the other solvers mirror it).
  std::vector<double> a(n * n);
  for (int64_t j = 0; j < n; ++j) {
    const ChannelPoint& pj = fit.points[j];
    for (int64_t i = j; i < n; ++i) {
      const ChannelPoint& pi = fit.points[i];
      a[j * n + i] = Phi(pi.in_channels - pj.in_channels, pi.out_channels - pj.out_channels);
    }
  }
  fit.weights.resize(n);
  double norm = 0;
  for (int64_t i = 0; i < n; ++i) {
    fit.weights[i] = fit.points[i].latency_ms;
    norm += fit.weights[i] * fit.weights[i];
  }
  norm = std::sqrt(norm);
  if (absl::Status solved = SolveSymmetricInPlace(solver, n, a, fit.weights); !solved.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rbf-cubic fit over ", n, " points: ", solved.message()));
  }
  a = std::vector<double>();  // 8 n^2 bytes: free before the O(n^2) residual
  const double residual = Residual(fit.points, fit.weights);
  if (!(residual <= 1e-6 * (1 + norm))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rbf-cubic fit over ", n, " points is singular (", DenseSolverName(solver),
        ": residual ", residual, ")"));
  }
  return fit;
}

absl::StatusOr<std::unique_ptr<ChannelInterpolator>> RbfCubicSurface(RbfCubicFit fit) {
  if (fit.points.empty() ||
      (fit.weights.empty() ? fit.points.size() != 1 : fit.weights.size() != fit.points.size())) {
    return absl::InvalidArgumentError(absl::StrCat("rbf-cubic fit: ", fit.weights.size(),
                                                   " weights for ", fit.points.size(),
                                                   " points"));
  }
  for (double w : fit.weights) {
    if (!std::isfinite(w)) return absl::InvalidArgumentError("rbf-cubic fit: non-finite weight");
  }
  return std::unique_ptr<ChannelInterpolator>(new RbfCubicInterpolator(fit));
}

}  // namespace netadapt::common
