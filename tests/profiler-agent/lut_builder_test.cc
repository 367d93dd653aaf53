#include "profiler-agent/lut_builder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/lut_grid.h"
#include "common/zoo.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::profiler {
namespace {

using common::LayerShape;
using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// Latency = MACs / 1e6; fails (or raises `stop`) once `fail_after` shapes were measured.
class FakeMeasurer final : public common::LatencyMeasurer {
 public:
  absl::StatusOr<std::vector<double>> MeasureMs(const std::vector<LayerShape>& shapes) override {
    if (fail_after >= 0 && measured + static_cast<int>(shapes.size()) > fail_after) {
      if (stop != nullptr) stop->store(true);
      return absl::UnavailableError("agent went away");
    }
    std::vector<double> out;
    for (const LayerShape& s : shapes) out.push_back(static_cast<double>(s.Macs()) / 1e6);
    measured += static_cast<int>(shapes.size());
    return out;
  }
  int measured = 0;
  int fail_after = -1;
  std::atomic<bool>* stop = nullptr;
};

class LutBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(::testing::TempDir(), "/lut_builder_test_", getpid(), "_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".json");
    std::remove(path_.c_str());
    NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef net,
                                  common::ZooNetwork("helloworld", {16, 3, 10, 0.5}));
    NETADAPT_ASSERT_OK_AND_ASSIGN(shapes_, common::GridShapes(net, {}, {4, 64}));
    ASSERT_GT(shapes_.size(), 20u);
    device_.set_device_name("fake device");
  }
  void TearDown() override { std::remove(path_.c_str()); }

  LutBuildOptions Options() const {
    LutBuildOptions o;
    o.out_path = path_;
    o.chunk_shapes = 4;
    o.save_every = 8;
    return o;
  }

  std::string path_;
  std::vector<LayerShape> shapes_;
  v1::DeviceFingerprint device_;
};

TEST_F(LutBuilderTest, BuildsEveryGridEntryAndWritesTheFile) {
  FakeMeasurer measurer;
  std::vector<LutBuildProgress> reports;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      common::LatencyTable table,
      BuildLut(shapes_, device_, measurer, Options(), nullptr,
               [&](const LutBuildProgress& p) { reports.push_back(p); }));
  EXPECT_EQ(table.size(), shapes_.size());
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable written, common::ReadLatencyTable(path_));
  EXPECT_EQ(written.size(), shapes_.size());
  EXPECT_EQ(written.device().device_name(), "fake device");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().done, reports.back().total);
  EXPECT_THAT(ProgressLine(reports.back()), HasSubstr("100%"));
}

// The file keeps what the agent measured, not only the median: a later reader can tell a
// noisy entry from a clean one.
TEST_F(LutBuilderTest, TheFileKeepsTheStatisticsAndConditions) {
  class StatsMeasurer final : public common::LatencyMeasurer {
   public:
    absl::StatusOr<std::vector<double>> MeasureMs(const std::vector<LayerShape>&) override {
      return absl::InternalError("the builder asks for statistics");
    }
    absl::StatusOr<std::vector<common::LatencyStats>> Measure(
        const std::vector<LayerShape>& shapes, bool force) override {
      EXPECT_FALSE(force);
      std::vector<common::LatencyStats> out;
      for (const LayerShape& s : shapes) {
        common::LatencyStats stats;
        stats.median_ms = static_cast<double>(s.Macs()) / 1e6;
        stats.p10_ms = stats.median_ms * 0.9;
        stats.p90_ms = stats.median_ms * 1.2;
        stats.samples = 17;
        stats.conditions = common::MeasurementConditions{1.5, 2, 4, 1, 3};
        out.push_back(stats);
      }
      return out;
    }
  } measurer;
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable table,
                                BuildLut(shapes_, device_, measurer, Options()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable written, common::ReadLatencyTable(path_));
  ASSERT_EQ(written.size(), shapes_.size());
  const common::LatencyStats* stats = written.FindStats(shapes_[3]);
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->samples, 17);
  EXPECT_DOUBLE_EQ(stats->p90_ms, static_cast<double>(shapes_[3].Macs()) / 1e6 * 1.2);
  ASSERT_TRUE(stats->conditions.has_value());
  EXPECT_EQ(stats->conditions->involuntary_switches, 3);
}

TEST_F(LutBuilderTest, InterruptedBuildKeepsItsEntriesAndResumes) {
  std::atomic<bool> stop{false};
  FakeMeasurer first;
  first.fail_after = 10;  // two chunks of 4 succeed, the third "is interrupted"
  first.stop = &stop;
  EXPECT_THAT(BuildLut(shapes_, device_, first, Options(), &stop),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("run again to resume")));
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable partial, common::ReadLatencyTable(path_));
  EXPECT_EQ(partial.size(), 8u);

  FakeMeasurer second;
  LutBuildProgress last;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      common::LatencyTable table,
      BuildLut(shapes_, device_, second, Options(), nullptr,
               [&](const LutBuildProgress& p) { last = p; }));
  EXPECT_EQ(table.size(), shapes_.size());
  EXPECT_EQ(second.measured, static_cast<int>(shapes_.size()) - 8);
  EXPECT_EQ(last.resumed, 8);
}

TEST_F(LutBuilderTest, MeasurerErrorsSaveProgressAndPropagate) {
  FakeMeasurer measurer;
  measurer.fail_after = 5;
  EXPECT_THAT(BuildLut(shapes_, device_, measurer, Options()),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("4 of")));
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable partial, common::ReadLatencyTable(path_));
  EXPECT_EQ(partial.size(), 4u);
}

TEST_F(LutBuilderTest, RefusesToResumeAnotherDevicesTable) {
  FakeMeasurer measurer;
  ASSERT_THAT(BuildLut(shapes_, device_, measurer, Options()), IsOk());
  v1::DeviceFingerprint other = device_;
  other.set_power_mode("15W");
  EXPECT_THAT(BuildLut(shapes_, other, measurer, Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(path_)));
}

}  // namespace
}  // namespace netadapt::profiler
