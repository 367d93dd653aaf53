#include "common/latency_stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/profiler-agent/fake_runner.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::FakeRunner;
using ::netadapt::testing::StatusIs;
using ::testing::DoubleNear;

TEST(ComputeLatencyStatsTest, MatchesNumpyPercentilesAndPopulationStddev) {
  // numpy: percentile([1..10], [10, 50, 90]) = [1.9, 5.5, 9.1]; std = 2.8722813232690143.
  const LatencyStats stats = ComputeLatencyStats({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_EQ(stats.samples, 10);
  EXPECT_DOUBLE_EQ(stats.median_ms, 5.5);
  EXPECT_DOUBLE_EQ(stats.p10_ms, 1.9);
  EXPECT_DOUBLE_EQ(stats.p90_ms, 9.1);
  EXPECT_DOUBLE_EQ(stats.mean_ms, 5.5);
  EXPECT_THAT(stats.stddev_ms, DoubleNear(2.8722813232690143, 1e-12));
}

TEST(ComputeLatencyStatsTest, SingleAndNoSamples) {
  const LatencyStats one = ComputeLatencyStats({3});
  EXPECT_EQ(one.samples, 1);
  EXPECT_EQ(one.median_ms, 3);
  EXPECT_EQ(one.p10_ms, 3);
  EXPECT_EQ(one.p90_ms, 3);
  EXPECT_EQ(one.stddev_ms, 0);
  EXPECT_EQ(ComputeLatencyStats({}).samples, 0);
}

TEST(MeasureOptionsTest, WithDefaultsFillsUnsetFieldsAndKeepsMaxAtLeastMin) {
  MeasureOptions requested;
  requested.warmup_runs = 0;
  requested.min_runs = 50;
  requested.max_runs = 20;
  requested.relative_tolerance = 0;
  requested.max_time_ms = -1;
  const MeasureOptions defaults;
  const MeasureOptions o = MeasureOptions::WithDefaults(requested, defaults);
  EXPECT_EQ(o.warmup_runs, defaults.warmup_runs);
  EXPECT_EQ(o.min_runs, 50);
  EXPECT_EQ(o.max_runs, 50);
  EXPECT_EQ(o.relative_tolerance, defaults.relative_tolerance);
  EXPECT_EQ(o.max_time_ms, defaults.max_time_ms);
}

MeasureOptions Options(int min_runs, int max_runs, double tolerance, double max_time_ms) {
  MeasureOptions o;
  o.warmup_runs = 2;
  o.min_runs = min_runs;
  o.max_runs = max_runs;
  o.relative_tolerance = tolerance;
  o.max_time_ms = max_time_ms;
  return o;
}

TEST(StoppingRuleTest, ConstantTimingsStopAtMinRuns) {
  StoppingRule rule(Options(6, 100, 0.01, 1e9));
  int runs = 0;
  while (!rule.Add(1.0)) ++runs;
  EXPECT_EQ(runs + 1, 6);
  EXPECT_EQ(rule.reason(), "stable");
}

TEST(StoppingRuleTest, DriftingMedianRunsUntilTheCap) {
  // Every run is 10% slower than the previous: the median never settles.
  StoppingRule rule(Options(4, 25, 0.01, 1e9));
  double t = 1;
  int runs = 0;
  do {
    ++runs;
    t *= 1.1;
  } while (!rule.Add(t));
  EXPECT_EQ(runs, 25);
  EXPECT_EQ(rule.reason(), "max_runs");
}

TEST(StoppingRuleTest, TimeCapStopsSlowLayers) {
  StoppingRule rule(Options(10, 1000, 0.01, 100));
  int runs = 0;
  while (!rule.Add(30.0 + (runs % 2) * 20)) ++runs;  // unstable alternation, 40 ms average
  EXPECT_EQ(rule.reason(), "max_time");
  EXPECT_EQ(runs + 1, 3);  // 30 + 50 + 30 >= 100
}

TEST(StoppingRuleTest, OutliersDoNotMoveAStableMedian) {
  // One run in five is a 10x outlier: the median is stable, the mean is not.
  StoppingRule rule(Options(10, 1000, 0.01, 1e9));
  int runs = 0;
  while (!rule.Add(runs % 5 == 4 ? 10.0 : 1.0)) ++runs;
  EXPECT_EQ(rule.reason(), "stable");
  EXPECT_LE(runs + 1, 12);
  const LatencyStats stats = ComputeLatencyStats(rule.samples());
  EXPECT_EQ(stats.median_ms, 1.0);
  EXPECT_GT(stats.mean_ms, 1.0);
  EXPECT_LE(stats.p10_ms, stats.median_ms);
  EXPECT_LE(stats.median_ms, stats.p90_ms);
}

TEST(MeasureLatencyTest, WarmUpRunsAreNotTimed) {
  // The first two (warm-up) runs are 100x slower; they must not appear in the statistics.
  FakeRunner runner([](int run) { return run < 2 ? 100.0 : 1.0; });
  NETADAPT_ASSERT_OK_AND_ASSIGN(LatencyStats stats,
                                MeasureLatency(runner, Options(5, 50, 0.01, 1e9)));
  EXPECT_EQ(stats.samples, 5);
  EXPECT_EQ(stats.p90_ms, 1.0);
  EXPECT_EQ(runner.runs(), 7);
}

TEST(MeasureLatencyTest, CancelStopsBeforeTheNextRun) {
  bool cancel = false;
  FakeRunner runner([](int run) { return 1.0 + run; },  // never stable
                    [&cancel](int run) { cancel = run >= 4; });
  EXPECT_THAT(MeasureLatency(runner, Options(5, 1000, 0.01, 1e9), [&cancel] { return cancel; }),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(runner.runs(), 5);
}

// Runs during which the process lost its CPU are discarded: every third run is preempted and
// 100x slower, and none of them reaches the statistics.
TEST(MeasureLatencyTest, PreemptedRunsAreDiscarded) {
  int64_t switches = 0;
  FakeRunner runner([](int run) { return run >= 2 && run % 3 == 0 ? 100.0 : 1.0; },
                    [&switches](int run) {
                      if (run >= 2 && run % 3 == 0) ++switches;
                    });
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      LatencyStats stats,
      MeasureLatency(runner, Options(9, 50, 0.01, 1e9), {}, [&switches] { return switches; }));
  EXPECT_EQ(stats.samples, 9);
  EXPECT_EQ(stats.p90_ms, 1.0);
  EXPECT_GT(runner.runs(), 2 + 9);  // the preempted runs were run, then left out

  // Without the counter they are kept.
  FakeRunner again([](int run) { return run >= 2 && run % 3 == 0 ? 100.0 : 1.0; });
  NETADAPT_ASSERT_OK_AND_ASSIGN(stats, MeasureLatency(again, Options(9, 50, 0.01, 1e9)));
  EXPECT_EQ(stats.p90_ms, 100.0);
}

// A device preempted on every run is still measured: discarding stops at 3 x max_runs.
TEST(MeasureLatencyTest, AlwaysPreemptedStillEnds) {
  int64_t switches = 0;
  FakeRunner runner([](int) { return 2.0; }, [&switches](int) { ++switches; });
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      LatencyStats stats,
      MeasureLatency(runner, Options(5, 10, 0.01, 1e9), {}, [&switches] { return switches; }));
  EXPECT_EQ(stats.median_ms, 2.0);
  EXPECT_EQ(runner.runs(), 2 + 30 + 5);  // warm-up, 3 x max_runs discarded, then min_runs
}

TEST(MeasureLatencyTest, RunnerErrorsPropagate) {
  class Failing final : public TimedRunner {
    absl::StatusOr<double> RunOnceMs() override { return absl::InternalError("boom"); }
  } runner;
  EXPECT_THAT(MeasureLatency(runner, Options(5, 10, 0.01, 1e9)),
              StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace netadapt::common
