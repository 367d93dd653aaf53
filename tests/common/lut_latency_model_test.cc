#include "common/lut_latency_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

LayerShape Linear(int in, int out) {
  LayerShape shape;
  shape.op = LayerOp::kLinear;
  shape.in_channels = in;
  shape.out_channels = out;
  return shape;
}

// latency = in + out on a 2 x 2 grid: bilinear reproduces it exactly between the nodes.
LatencyTable Grid() {
  LatencyTable table;
  for (int in : {64, 128}) {
    for (int out : {64, 128}) table.Insert(Linear(in, out), in + out);
  }
  return table;
}

// Measures latency = 1000 + in and counts how often it is asked.
class FakeMeasurer final : public LatencyMeasurer {
 public:
  absl::StatusOr<std::vector<double>> MeasureMs(const std::vector<LayerShape>& shapes) override {
    ++calls;
    if (!available) return absl::UnavailableError("profiler down");
    std::vector<double> out;
    for (const LayerShape& s : shapes) out.push_back(1000.0 + s.in_channels);
    return out;
  }
  int calls = 0;
  bool available = true;
};

TEST(LutLatencyModelTest, HitsAreReturnedAsStored) {
  LutLatencyModel model(Grid(), MissPolicy::Fail());
  EXPECT_EQ(*model.LayerCost(Linear(64, 128)), 192.0);
}

TEST(LutLatencyModelTest, FailPolicyNamesTheMissingShape) {
  LutLatencyModel model(Grid(), MissPolicy::Fail());
  EXPECT_THAT(model.LayerCost(Linear(96, 64)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("linear 96->64")));
}

TEST(LutLatencyModelTest, InterpolatesMissesAndFitsEachFamilyOnce) {
  LutLatencyModel model(Grid(), MissPolicy::Interpolate(Interpolation::kBilinear));
  EXPECT_DOUBLE_EQ(*model.LayerCost(Linear(96, 64)), 160.0);
  EXPECT_DOUBLE_EQ(*model.LayerCost(Linear(100, 100)), 200.0);
  EXPECT_EQ(model.fit_stats().families, 1);
}

TEST(LutLatencyModelTest, MissInAnEmptyFamilyIsNotFound) {
  LayerShape conv;  // a conv2d: no conv entries in the table
  conv.in_channels = conv.out_channels = 8;
  LutLatencyModel model(Grid(), MissPolicy::Interpolate(Interpolation::kBilinear));
  EXPECT_THAT(model.LayerCost(conv), StatusIs(absl::StatusCode::kNotFound));
}

TEST(LutLatencyModelTest, MeasuredMissesJoinTheTable) {
  FakeMeasurer measurer;
  LutLatencyModel model(Grid(), MissPolicy::Measure(&measurer));
  EXPECT_EQ(*model.LayerCost(Linear(96, 64)), 1096.0);
  EXPECT_EQ(*model.LayerCost(Linear(96, 64)), 1096.0);
  EXPECT_EQ(measurer.calls, 1);  // the second lookup is a hit
  EXPECT_EQ(model.Snapshot().Find(Linear(96, 64)), 1096.0);
  EXPECT_EQ(model.Snapshot().size(), 5u);
}

// A measurer with statistics (the profiler agent's): the table keeps them, Find the median.
TEST(LutLatencyModelTest, MeasuredMissesKeepTheirStatistics) {
  class StatsMeasurer final : public LatencyMeasurer {
   public:
    absl::StatusOr<std::vector<double>> MeasureMs(const std::vector<LayerShape>&) override {
      return absl::InternalError("the model asks for statistics");
    }
    absl::StatusOr<std::vector<LatencyStats>> Measure(const std::vector<LayerShape>& shapes,
                                                      bool) override {
      LatencyStats stats;
      stats.p10_ms = 2.0;
      stats.median_ms = 2.5;
      stats.p90_ms = 3.0;
      stats.samples = 11;
      return std::vector<LatencyStats>(shapes.size(), stats);
    }
  } measurer;
  LutLatencyModel model(Grid(), MissPolicy::Measure(&measurer));
  EXPECT_EQ(*model.LayerCost(Linear(96, 64)), 2.5);
  const LatencyTable snapshot = model.Snapshot();
  ASSERT_NE(snapshot.FindStats(Linear(96, 64)), nullptr);
  EXPECT_EQ(snapshot.FindStats(Linear(96, 64))->samples, 11);
  EXPECT_EQ(snapshot.FindStats(Linear(96, 64))->p90_ms, 3.0);
}

TEST(LutLatencyModelTest, UnreachableMeasurerIsReportedAndNothingIsStored) {
  FakeMeasurer measurer;
  measurer.available = false;
  LutLatencyModel model(Grid(), MissPolicy::Measure(&measurer));
  EXPECT_THAT(model.LayerCost(Linear(96, 64)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(model.Snapshot().size(), 4u);
}

TEST(LutLatencyModelTest, LowerBoundOnlyForBilinear) {
  LutLatencyModel bilinear(Grid(), MissPolicy::Interpolate(Interpolation::kBilinear));
  const std::optional<double> bound = bilinear.LowerBound(Linear(64, 64), Linear(64, 128));
  ASSERT_TRUE(bound.has_value());
  EXPECT_LE(*bound, 128.0);
  EXPECT_GT(*bound, 127.9);

  LutLatencyModel rbf(Grid(), MissPolicy::Interpolate(Interpolation::kRbfCubic));
  EXPECT_FALSE(rbf.LowerBound(Linear(64, 64), Linear(64, 128)).has_value());
  EXPECT_EQ(rbf.fit_stats().families, 0);  // asking for a bound fitted nothing
  LutLatencyModel fail(Grid(), MissPolicy::Fail());
  EXPECT_FALSE(fail.LowerBound(Linear(64, 64), Linear(64, 128)).has_value());
}

}  // namespace
}  // namespace netadapt::common
