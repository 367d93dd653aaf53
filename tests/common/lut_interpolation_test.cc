#include "common/lut_interpolation.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// The 4 x 3 grid that tests/common/rbf_golden.py (below) feeds to scipy.
std::vector<ChannelPoint> GoldenGrid() {
  std::vector<ChannelPoint> points;
  for (int in : {8, 24, 40, 56}) {
    for (int out : {16, 48, 80}) {
      const double latency = 0.01 + 1e-4 * in * out + 0.002 * ((in * 7 + out * 13) % 5);
      points.push_back({in, out, latency});
    }
  }
  return points;
}

// Reference values printed by Debian's python3-scipy 1.10.1 for
//   Rbf(in, out, latency, function='cubic')(q_in, q_out)
// over GoldenGrid(); docs/rbf_golden.py prints them.
TEST(RbfCubicTest, ReproducesScipyRbfCubic) {
  for (DenseSolver solver : AvailableDenseSolvers()) {
    SCOPED_TRACE(DenseSolverName(solver));
    NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit fit, FitRbfCubic(GoldenGrid(), solver));
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto rbf, RbfCubicSurface(std::move(fit)));
    struct Golden {
      double in, out, expected;
    };
    const Golden goldens[] = {
        {8, 16, 0.03079999999999994},   {16, 16, 0.044955902766380285},
        {30, 50, 0.1649811397983475},   {56, 80, 0.46199999999999997},
        {60, 90, 0.5215625146768038},   {1, 1, -0.13454844721564574},
        {33, 17, 0.07050975155183642},
    };
    for (const Golden& g : goldens) {
      EXPECT_NEAR(rbf->Estimate(g.in, g.out), g.expected, 1e-10) << g.in << "x" << g.out;
    }
  }
  // FitInterpolator: the build's default solver.
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto rbf, FitInterpolator(Interpolation::kRbfCubic, GoldenGrid()));
  EXPECT_NEAR(rbf->Estimate(30, 50), 0.1649811397983475, 1e-10);
}

// A noisy 8 x 8 table in insertion order other than sorted.
std::vector<ChannelPoint> NoisyTable() {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> noise(0.97, 1.03);
  std::vector<ChannelPoint> points;
  for (int in = 64; in >= 8; in -= 8) {
    for (int out = 16; out <= 128; out += 16) {
      points.push_back({in, out, (0.01 + 2e-5 * in * out) * noise(rng)});
    }
  }
  return points;
}

TEST(RbfCubicTest, LapackWeightsEqualTheEigenLuWeights) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit reference,
                                FitRbfCubic(NoisyTable(), DenseSolver::kEigenLu));
  ASSERT_EQ(reference.weights.size(), 64u);
  double largest = 0;
  for (double w : reference.weights) largest = std::max(largest, std::abs(w));
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto eigen, RbfCubicSurface(reference));
  for (DenseSolver solver : AvailableDenseSolvers()) {
    SCOPED_TRACE(DenseSolverName(solver));
    NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit fit, FitRbfCubic(NoisyTable(), solver));
    ASSERT_EQ(fit.weights.size(), reference.weights.size());
    for (size_t i = 0; i < fit.weights.size(); ++i) {
      EXPECT_NEAR(fit.weights[i], reference.weights[i], 1e-9 * largest) << i;
    }
    NETADAPT_ASSERT_OK_AND_ASSIGN(auto surface, RbfCubicSurface(std::move(fit)));
    for (double in : {4.0, 12.0, 30.0, 64.0, 70.0}) {
      for (double out : {16.0, 40.0, 100.0, 140.0}) {
        EXPECT_NEAR(surface->Estimate(in, out), eigen->Estimate(in, out), 1e-10)
            << in << "x" << out;
      }
    }
  }
  if (!HaveLapack()) {
    EXPECT_THAT(FitRbfCubic(NoisyTable(), DenseSolver::kLapackSymmetric),
                StatusIs(absl::StatusCode::kFailedPrecondition));
  }
}

TEST(RbfCubicTest, DuplicatePointsAreMergedInsteadOfASingularSystem) {
  // scipy's system has two equal rows here (LinAlgError: singular matrix). The duplicate is
  // merged: with the same latency the surface is the golden one, with another latency the
  // point takes the mean, and either way every estimate is finite.
  std::vector<ChannelPoint> same = GoldenGrid();
  same.push_back(same[4]);
  NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit fit, FitRbfCubic(same));
  EXPECT_EQ(fit.merged_duplicates, 1);
  EXPECT_EQ(fit.points.size(), GoldenGrid().size());
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto rbf, FitInterpolator(Interpolation::kRbfCubic, same));
  EXPECT_NEAR(rbf->Estimate(30, 50), 0.1649811397983475, 1e-10);

  std::vector<ChannelPoint> other = GoldenGrid();
  const ChannelPoint twin = {other[4].in_channels, other[4].out_channels,
                             other[4].latency_ms + 0.02};
  other.push_back(twin);
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto merged, FitInterpolator(Interpolation::kRbfCubic, other));
  EXPECT_NEAR(merged->Estimate(twin.in_channels, twin.out_channels), twin.latency_ms - 0.01,
              1e-9);
  for (double in : {1.0, 20.0, 60.0}) {
    for (double out : {1.0, 50.0, 90.0}) EXPECT_TRUE(std::isfinite(merged->Estimate(in, out)));
  }
}

TEST(RbfCubicTest, NonFiniteLatencyIsFailedPreconditionNotNaNWeights) {
  std::vector<ChannelPoint> points = GoldenGrid();
  points[3].latency_ms = std::nan("");
  EXPECT_THAT(FitInterpolator(Interpolation::kRbfCubic, points),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not finite")));
}

TEST(RbfCubicTest, SurfaceRefusesWeightsThatDoNotMatch) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(RbfCubicFit fit, FitRbfCubic(GoldenGrid()));
  RbfCubicFit short_fit = fit;
  short_fit.weights.pop_back();
  EXPECT_THAT(RbfCubicSurface(short_fit), StatusIs(absl::StatusCode::kInvalidArgument));
  fit.weights[0] = std::numeric_limits<double>::infinity();
  EXPECT_THAT(RbfCubicSurface(fit), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RbfCubicTest, SinglePointIsConstant) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto rbf,
                                FitInterpolator(Interpolation::kRbfCubic, {{8, 8, 1.5}}));
  EXPECT_EQ(rbf->Estimate(100, 3), 1.5);
}

TEST(BilinearTest, ExactAtNodesLinearBetweenAndBeyond) {
  // latency = 1 + in + 10 * out is bilinear, so bilinear interpolation must reproduce it
  // everywhere, including linear extrapolation beyond the grid.
  std::vector<ChannelPoint> points;
  for (int in : {8, 16, 32}) {
    for (int out : {64, 128}) points.push_back({in, out, 1.0 + in + 10.0 * out});
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto bilinear,
                                FitInterpolator(Interpolation::kBilinear, points));
  for (double in : {1.0, 8.0, 12.0, 16.0, 31.0, 32.0, 40.0}) {
    for (double out : {8.0, 64.0, 100.0, 128.0, 200.0}) {
      EXPECT_NEAR(bilinear->Estimate(in, out), 1 + in + 10 * out, 1e-9) << in << "x" << out;
    }
  }
}

TEST(BilinearTest, DepthwiseFamilyInterpolatesAlongItsDiagonal) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      auto bilinear,
      FitInterpolator(Interpolation::kBilinear, {{8, 8, 1.0}, {16, 16, 3.0}, {24, 24, 4.0}}));
  EXPECT_DOUBLE_EQ(bilinear->Estimate(12, 12), 2.0);
  EXPECT_DOUBLE_EQ(bilinear->Estimate(20, 20), 3.5);
  EXPECT_DOUBLE_EQ(bilinear->Estimate(4, 4), 0.0);  // extrapolated from the first segment
}

TEST(BilinearTest, RowsOfDifferentGridsBlendLinearly) {
  // Two layers of one family measured on different out grids: row in=8 has out {8, 24},
  // row in=16 has out {16}. At in=12 the value is the mean of the two rows.
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      auto bilinear,
      FitInterpolator(Interpolation::kBilinear, {{8, 8, 1}, {8, 24, 3}, {16, 16, 10}}));
  EXPECT_DOUBLE_EQ(bilinear->Estimate(8, 16), 2.0);
  EXPECT_DOUBLE_EQ(bilinear->Estimate(16, 100), 10.0);  // a one-point row is constant
  EXPECT_DOUBLE_EQ(bilinear->Estimate(12, 16), 6.0);
}

TEST(BilinearTest, SegmentBoundIsValidAndExactOnGridLines) {
  // A noisy grid: the bound along any axis-parallel segment must not exceed the smallest
  // value sampled densely on it, and must equal it on a grid line (a row or a column of
  // the table, where the surface is piecewise linear with breakpoints at table values).
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> noise(0.5, 1.5);
  std::vector<ChannelPoint> points;
  for (int in = 8; in <= 64; in += 8) {
    for (int out = 16; out <= 128; out += 16) points.push_back({in, out, noise(rng)});
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(auto bilinear,
                                FitInterpolator(Interpolation::kBilinear, points));
  for (int trial = 0; trial < 200; ++trial) {
    std::uniform_int_distribution<int> channel(1, 160);
    const double fixed = channel(rng);
    double a = channel(rng), b = channel(rng);
    if (a > b) std::swap(a, b);
    const bool along_out = trial % 2 == 0;
    std::optional<double> bound = along_out ? bilinear->SegmentLowerBound(fixed, a, fixed, b)
                                            : bilinear->SegmentLowerBound(a, fixed, b, fixed);
    ASSERT_TRUE(bound.has_value());
    double sampled_min = 1e300;
    for (double x = a; x <= b; x += 1) {
      sampled_min = std::min(sampled_min, along_out ? bilinear->Estimate(fixed, x)
                                                    : bilinear->Estimate(x, fixed));
    }
    EXPECT_LE(*bound, sampled_min + 1e-12);
    // Breakpoints are at multiples of 8 and 16 and the ends are integers: the sampled minimum
    // hits the true one.
    const bool on_node_line = along_out ? static_cast<int>(fixed) % 8 == 0 && fixed <= 64
                                        : static_cast<int>(fixed) % 16 == 0 && fixed <= 128;
    if (on_node_line) {
      EXPECT_NEAR(*bound, sampled_min, 1e-12);
    }
  }
}

TEST(InterpolationTest, EmptyFamilyIsNotFoundAndNamesParse) {
  EXPECT_THAT(FitInterpolator(Interpolation::kBilinear, {}),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ParseInterpolation("rbf-cubic"), ::netadapt::testing::IsOk());
  EXPECT_EQ(InterpolationName(*ParseInterpolation("bilinear")), "bilinear");
  EXPECT_THAT(ParseInterpolation("nearest"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace netadapt::common
