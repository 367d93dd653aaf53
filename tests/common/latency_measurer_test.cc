#include "common/latency_measurer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;

LayerShape Conv(int in, int out) {
  LayerShape s;
  s.op = LayerOp::kConv2d;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = {3, 3};
  s.padding = {1, 1};
  s.input_h = 16;
  s.input_w = 16;
  return s;
}

LatencyStats Stats(double p10, double median, double p90) {
  LatencyStats stats;
  stats.p10_ms = p10;
  stats.median_ms = median;
  stats.p90_ms = p90;
  stats.samples = 20;
  return stats;
}

// A device whose answers are scripted per shape (in channels), round after round; it records
// every call, so the tests see what was asked, when, and whether it was forced.
class ScriptedDevice {
 public:
  void Script(int in, std::vector<LatencyStats> rounds) {
    script_[in] = std::deque<LatencyStats>(rounds.begin(), rounds.end());
  }
  MeasureFn Fn() {
    return [this](const std::vector<LayerShape>& shapes,
                  bool force) -> absl::StatusOr<std::vector<LatencyStats>> {
      std::vector<int> ins;
      std::vector<LatencyStats> out;
      for (const LayerShape& shape : shapes) {
        ins.push_back(shape.in_channels);
        std::deque<LatencyStats>& rounds = script_[shape.in_channels];
        if (rounds.empty()) return absl::UnavailableError("no more scripted rounds");
        out.push_back(rounds.front());
        rounds.pop_front();
      }
      calls.push_back({ins, force});
      return out;
    };
  }
  std::vector<std::pair<std::vector<int>, bool>> calls;

 private:
  std::map<int, std::deque<LatencyStats>> script_;
};

// A tight shape is measured once; a wide one is measured again, forced, until it is tight.
TEST(MeasureWithinSpreadTest, RemeasuresOnlyWideShapesUntilTight) {
  ScriptedDevice device;
  device.Script(8, {Stats(1.0, 1.05, 1.1)});
  device.Script(16, {Stats(1.0, 1.6, 2.0), Stats(1.0, 1.1, 1.2)});
  RemeasureReport report;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      std::vector<LatencyStats> stats,
      MeasureWithinSpread(device.Fn(), {Conv(8, 8), Conv(16, 8)}, /*force=*/false,
                          RemeasurePolicy{1.25, 2}, &report));
  EXPECT_THAT(stats, ElementsAre(Stats(1.0, 1.05, 1.1), Stats(1.0, 1.1, 1.2)));
  ASSERT_EQ(device.calls.size(), 2u);
  EXPECT_EQ(device.calls[0], (std::pair<std::vector<int>, bool>{{8, 16}, false}));
  EXPECT_EQ(device.calls[1], (std::pair<std::vector<int>, bool>{{16}, true}));
  EXPECT_EQ(report.rounds, 1);
  EXPECT_EQ(report.remeasured, 1);
  EXPECT_EQ(report.still_wide, 0);
}

// A shape wide in every round is measured 1 + max_extra_rounds times and keeps its tightest
// round, not its last one.
TEST(MeasureWithinSpreadTest, BoundedRoundsKeepTheTightestRound) {
  ScriptedDevice device;
  device.Script(16, {Stats(1.0, 2.0, 3.0), Stats(1.0, 1.4, 1.5), Stats(1.0, 1.9, 2.5),
                     Stats(1.0, 1.0, 1.0)});
  RemeasureReport report;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      std::vector<LatencyStats> stats,
      MeasureWithinSpread(device.Fn(), {Conv(16, 8)}, /*force=*/false, RemeasurePolicy{1.25, 2},
                          &report));
  EXPECT_THAT(stats, ElementsAre(Stats(1.0, 1.4, 1.5)));
  EXPECT_EQ(device.calls.size(), 3u);  // the fourth scripted round is never asked for
  EXPECT_EQ(report.rounds, 2);
  EXPECT_EQ(report.remeasured, 2);
  EXPECT_EQ(report.still_wide, 1);
}

// Bare numbers (no statistics) cannot be judged and are never re-measured; a shape named
// twice in one batch is re-measured once; max_extra_rounds 0 turns re-measuring off.
TEST(MeasureWithinSpreadTest, BareNumbersDuplicatesAndOff) {
  ScriptedDevice device;
  device.Script(4, {LatencyStats::Bare(5.0)});
  device.Script(16, {Stats(1.0, 2.0, 3.0), Stats(1.0, 2.0, 3.0), Stats(1.0, 1.0, 1.1)});
  RemeasureReport report;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      std::vector<LatencyStats> stats,
      MeasureWithinSpread(device.Fn(), {Conv(4, 8), Conv(16, 8), Conv(16, 8)}, false,
                          RemeasurePolicy{1.25, 2}, &report));
  EXPECT_THAT(stats, ElementsAre(LatencyStats::Bare(5.0), Stats(1.0, 1.0, 1.1),
                                 Stats(1.0, 1.0, 1.1)));
  ASSERT_EQ(device.calls.size(), 2u);
  EXPECT_EQ(device.calls[1].first, std::vector<int>{16});

  ScriptedDevice off;
  off.Script(16, {Stats(1.0, 2.0, 3.0)});
  NETADAPT_ASSERT_OK_AND_ASSIGN(stats, MeasureWithinSpread(off.Fn(), {Conv(16, 8)}, false,
                                                           RemeasurePolicy{1.25, 0}, &report));
  EXPECT_THAT(stats, ElementsAre(Stats(1.0, 2.0, 3.0)));
  EXPECT_EQ(off.calls.size(), 1u);
  EXPECT_EQ(report.still_wide, 1);
}

// A failed re-measurement fails the call (the caller's retry logic applies), and a forced
// first call stays forced.
TEST(MeasureWithinSpreadTest, ErrorsAndForcePassThrough) {
  ScriptedDevice device;
  device.Script(16, {Stats(1.0, 2.0, 3.0)});  // no second round scripted: Unavailable
  EXPECT_THAT(MeasureWithinSpread(device.Fn(), {Conv(16, 8)}, false, RemeasurePolicy{}),
              StatusIs(absl::StatusCode::kUnavailable));
  ScriptedDevice forced;
  forced.Script(8, {Stats(1.0, 1.0, 1.0)});
  ASSERT_THAT(MeasureWithinSpread(forced.Fn(), {Conv(8, 8)}, /*force=*/true, RemeasurePolicy{}),
              IsOk());
  EXPECT_TRUE(forced.calls[0].second);
}

// The default Measure of a measurer that has only numbers: bare statistics.
TEST(LatencyMeasurerTest, DefaultMeasureWrapsMeasureMs) {
  class Numbers final : public LatencyMeasurer {
   public:
    absl::StatusOr<std::vector<double>> MeasureMs(const std::vector<LayerShape>& shapes) override {
      return std::vector<double>(shapes.size(), 0.5);
    }
  } numbers;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<LatencyStats> stats,
                                numbers.Measure({Conv(8, 8), Conv(16, 8)}, true));
  EXPECT_THAT(stats, ElementsAre(LatencyStats::Bare(0.5), LatencyStats::Bare(0.5)));
  EXPECT_EQ(stats[0].Spread(), std::nullopt);
}

}  // namespace
}  // namespace netadapt::common
