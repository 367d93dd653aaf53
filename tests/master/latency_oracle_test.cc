// LatencyOracle::Estimate: guesses from the measured table for the certified search, without
// the profiler.
#include "master/latency_oracle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A profiler that answers 1 ms per 1000 MACs and counts the shapes it measured.
class CountingMeasurer final : public common::LatencyMeasurer {
 public:
  absl::StatusOr<std::vector<double>> MeasureMs(
      const std::vector<common::LayerShape>& shapes) override {
    absl::MutexLock lock(&mu_);
    std::vector<double> latencies;
    for (const common::LayerShape& shape : shapes) {
      ++measured_;
      latencies.push_back(static_cast<double>(shape.Macs()) / 1000);
    }
    return latencies;
  }
  int measured() {
    absl::MutexLock lock(&mu_);
    return measured_;
  }

 private:
  absl::Mutex mu_;
  int measured_ ABSL_GUARDED_BY(mu_) = 0;
};

common::LayerShape Conv(int in, int out) {
  common::LayerShape shape;
  shape.in_channels = in;
  shape.out_channels = out;
  shape.kernel = {3, 3};
  shape.padding = {1, 1};
  shape.input_h = shape.input_w = 8;
  return shape;
}

TEST(LatencyOracleTest, EstimatesFromWhatWasMeasuredWithoutMeasuring) {
  CountingMeasurer measurer;
  std::unique_ptr<LatencyOracle> oracle =
      LatencyOracle::Measuring(common::LatencyTable(), &measurer);
  EXPECT_THAT(oracle->Estimate({Conv(8, 16)}), StatusIs(absl::StatusCode::kNotFound));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<double> measured,
                                oracle->Lookup({Conv(8, 16), Conv(8, 32)}));
  EXPECT_EQ(measurer.measured(), 2);
  // 8->16 and 8->32 as measured; 8->24 between them in MACs; 8->64 scaled from 8->32.
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      std::vector<double> estimates,
      oracle->Estimate({Conv(8, 16), Conv(8, 24), Conv(8, 32), Conv(8, 64)}));
  EXPECT_THAT(estimates, ElementsAre(measured[0], (measured[0] + measured[1]) / 2, measured[1],
                                     2 * measured[1]));
  EXPECT_EQ(measurer.measured(), 2);  // nothing more measured
  EXPECT_EQ(oracle->measured(), 2);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<double> none, oracle->Estimate({}));
  EXPECT_TRUE(none.empty());
}

TEST(LatencyOracleTest, CountsWhatEachLookupCost) {
  CountingMeasurer measurer;
  std::unique_ptr<LatencyOracle> oracle =
      LatencyOracle::Measuring(common::LatencyTable(), &measurer);
  LatencyOracle::LookupCounts counts;
  ASSERT_TRUE(oracle->Lookup({Conv(8, 16), Conv(8, 32), Conv(8, 16)}, &counts).ok());
  EXPECT_EQ(counts.lookups, 3);
  EXPECT_EQ(counts.measured, 2);
  EXPECT_EQ(counts.lut_hits, 1);  // the repeat: measured once
  // A measurer without samples: the device time is the medians' sum.
  EXPECT_DOUBLE_EQ(counts.device_ms, (Conv(8, 16).Macs() + Conv(8, 32).Macs()) / 1000.0);
  ASSERT_TRUE(oracle->Lookup({Conv(8, 32), Conv(8, 8)}, &counts).ok());
  EXPECT_EQ(counts.lookups, 2);
  EXPECT_EQ(counts.measured, 1);
  EXPECT_EQ(counts.lut_hits, 1);
  EXPECT_DOUBLE_EQ(counts.device_ms, Conv(8, 8).Macs() / 1000.0);
}

TEST(LatencyOracleTest, AnInterpolatedLutHasNothingToEstimate) {
  common::LatencyTable table;
  table.Insert(Conv(8, 16), 1.0);
  std::unique_ptr<LatencyOracle> oracle =
      LatencyOracle::Interpolating(std::move(table), common::Interpolation::kBilinear);
  EXPECT_THAT(oracle->Estimate({Conv(8, 16)}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("interpolated")));
}

}  // namespace
}  // namespace netadapt::master
