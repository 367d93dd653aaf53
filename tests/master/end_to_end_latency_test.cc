#include "master/end_to_end_latency.h"

#include <gtest/gtest.h>

#include <vector>

#include "absl/status/status.h"

namespace netadapt::master {
namespace {

// A measurer that answers `answers` in turn (a negative one fails) and counts its calls.
struct Scripted {
  std::vector<double> answers;
  int calls = 0;
  NetworkMeasurer Measurer() {
    return [this](const common::NetworkDef&) -> absl::StatusOr<double> {
      const double ms = answers[calls++ % answers.size()];
      if (ms < 0) return absl::UnavailableError("the agent is down");
      return ms;
    };
  }
};

TEST(EndToEndLatencyTest, StopsOnceTheTwoFastestAgree) {
  Scripted device{{2.0, 1.0, 1.04}};
  const EndToEndLatency m = MeasureUntilStable(device.Measurer(), {}, 2, 5, 0.05);
  EXPECT_EQ(device.calls, 3);
  EXPECT_EQ(m.runs, 3);
  EXPECT_EQ(m.fastest, 1.0);
  EXPECT_EQ(m.slowest, 2.0);
  EXPECT_TRUE(m.Stable(0.05));
  v1::ModelResult result;
  m.WriteTo(result, 0.05);
  EXPECT_EQ(result.measured_latency_ms(), 1.0);
  EXPECT_EQ(result.measured_latency_slowest_ms(), 2.0);
  EXPECT_EQ(result.measured_latency_runs(), 3);
  EXPECT_FALSE(result.measured_latency_unstable());
}

TEST(EndToEndLatencyTest, MeasuresAtLeastMinRoundsAndAtMostMaxRounds) {
  Scripted quiet{{1.0}};
  EXPECT_EQ(MeasureUntilStable(quiet.Measurer(), {}, 3, 5, 0.05).runs, 3);
  Scripted noisy{{1.0, 1.5, 2.0, 2.5, 3.0, 3.5}};
  const EndToEndLatency m = MeasureUntilStable(noisy.Measurer(), {}, 2, 5, 0.05);
  EXPECT_EQ(noisy.calls, 5);
  EXPECT_FALSE(m.Stable(0.05));
  v1::ModelResult result;
  m.WriteTo(result, 0.05);
  EXPECT_TRUE(result.measured_latency_unstable());
  EXPECT_EQ(result.measured_latency_slowest_ms(), 3.0);
}

TEST(EndToEndLatencyTest, FailuresAreNotRuns) {
  Scripted down{{-1}};
  const EndToEndLatency m = MeasureUntilStable(down.Measurer(), {}, 2, 4, 0.05);
  EXPECT_EQ(down.calls, 4);
  EXPECT_EQ(m.runs, 0);
  EXPECT_EQ(m.fastest, 0);
}

}  // namespace
}  // namespace netadapt::master
