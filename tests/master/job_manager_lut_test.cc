// JobManager and LUTs: a job's uploaded LUT is checked when the job is submitted, and the
// shared measured LUT keeps what the profiler measured. Fakes only: no gRPC, no torch.
#include <google/protobuf/util/json_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "absl/time/clock.h"
#include "common/latency_table.h"
#include "master/job_manager.h"
#include "tests/master/seed_only_tasks.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

common::LayerShape Conv(int in, int out) {
  common::LayerShape shape;
  shape.in_channels = in;
  shape.out_channels = out;
  shape.kernel = {3, 3};
  shape.input_h = shape.input_w = 16;
  return shape;
}

using ::netadapt::master::testing::SeedOnlyTasks;

// A profiler agent's answers: statistics and the host's load, as GrpcLatencyMeasurer gives.
class StatsMeasurer final : public common::LatencyMeasurer {
 public:
  absl::StatusOr<std::vector<double>> MeasureMs(
      const std::vector<common::LayerShape>&) override {
    return absl::InternalError("the master's LUT asks for statistics");
  }
  absl::StatusOr<std::vector<common::LatencyStats>> Measure(
      const std::vector<common::LayerShape>& shapes, bool) override {
    std::vector<common::LatencyStats> out;
    for (const common::LayerShape& shape : shapes) {
      common::LatencyStats stats;
      stats.median_ms = 0.001 * shape.out_channels;
      stats.p10_ms = stats.median_ms * 0.95;
      stats.p90_ms = stats.median_ms * 1.1;
      stats.samples = 12;
      stats.conditions = common::MeasurementConditions{0.75, 2, 2, 1, 0};
      out.push_back(stats);
    }
    return out;
  }
};

class JobManagerLutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = ::testing::TempDir() + "/job_manager_lut_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(directory_);
    store_ = *JobStore::Open(directory_);
    artifacts_ = *common::ArtifactStore::Open(directory_ + "/artifacts");
    pool_.Register("host:1", {"cpu"}, "i1");
  }

  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.set_model("helloworld");
    spec.set_dataset("synthetic:classes=10,shape=3x16x16");
    spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
    spec.set_max_iters(1);
    return spec;
  }

  // A job spec that interpolates over `lut` (uploaded as an artifact, as `netadapt submit
  // --lut` does).
  v1::JobSpec WithLut(const std::string& lut) {
    v1::JobSpec spec = Spec();
    spec.set_lut_mode(v1::LUT_MODE_INTERPOLATE);
    spec.set_lut_digest(*artifacts_->Put(lut));
    return spec;
  }

  static v1::LatencyTable ValidLut() {
    common::LatencyTable table;
    table.Insert(Conv(3, 8), 0.5);
    table.Insert(Conv(8, 8), 0.75);
    return table.ToProto();
  }
  std::string directory_;
  SeedOnlyTasks tasks_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<common::ArtifactStore> artifacts_;
  WorkerPool pool_{absl::Seconds(60)};
  std::unique_ptr<JobManager> manager_;
};

// A LUT file with a negative, NaN or contradicting entry is refused when the job is submitted,
// naming the entry by index and shape; the same entry twice with equal values is accepted.
TEST_F(JobManagerLutTest, ABadLutIsRefusedAtSubmissionNamingTheEntry) {
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, nullptr,
                                          JobRunnerOptions{});
  auto json = [](const v1::LatencyTable& proto) {
    std::string text;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(proto, &text).ok());
    return text;
  };

  v1::LatencyTable negative = ValidLut();
  negative.mutable_entries(1)->set_latency_ms(-0.25);
  EXPECT_THAT(manager_->Create(WithLut(json(negative)), "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("spec.lut_digest"), HasSubstr("entries[1] (conv2d 8->8"),
                             HasSubstr("latency_ms must be a finite, non-negative number"))));

  v1::LatencyTable nan = ValidLut();
  nan.mutable_entries(0)->set_latency_ms(std::nan(""));
  EXPECT_THAT(manager_->Create(WithLut(json(nan)), "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("entries[0] (conv2d 3->8"), HasSubstr("got nan"))));

  v1::LatencyTable contradicting = ValidLut();
  *contradicting.add_entries() = contradicting.entries(0);
  contradicting.mutable_entries(2)->set_latency_ms(0.6);
  EXPECT_THAT(manager_->Create(WithLut(json(contradicting)), "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("entries[2] (conv2d 3->8"),
                             HasSubstr("already entries[0] with a different latency"))));

  // A corrupt binary file is the submitter's to fix too.
  std::string corrupt = common::SerializeLatencyTable(*common::LatencyTable::FromProto(ValidLut()),
                                                      common::LatencyTableFormat::kBinary);
  corrupt[20] ^= 0x40;
  EXPECT_THAT(manager_->Create(WithLut(corrupt), "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("checksum mismatch")));

  int jobs = -1;
  store_->List(0, 10, &jobs);
  EXPECT_EQ(jobs, 0) << "no job was created for a bad LUT";

  v1::LatencyTable repeated = ValidLut();
  *repeated.add_entries() = repeated.entries(0);
  EXPECT_THAT(manager_->Create(WithLut(json(repeated)), "").status(), IsOk());
}

// The shared measured LUT (lut.bin) keeps the profiler's statistics and the host's load.
TEST_F(JobManagerLutTest, TheSharedLutFileKeepsTheStatistics) {
  StatsMeasurer measurer;
  const std::string lut = directory_ + "/lut.bin";
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &measurer,
                                          JobRunnerOptions{}, lut);
  v1::JobSpec spec = Spec();
  spec.set_lut_mode(v1::LUT_MODE_MEASURE);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, ""));
  absl::StatusOr<v1::Job> job;
  for (int i = 0; i < 2000; ++i) {
    job = store_->Get(created.name());
    if (job.ok() && JobStore::IsTerminal(job->state())) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(job.ok() && JobStore::IsTerminal(job->state()));
  EXPECT_GT(job->seed().resource(), 0);
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable saved, common::ReadLatencyTable(lut));
  ASSERT_GT(saved.size(), 0u);
  int checked = 0;
  saved.ForEach([&](const common::LayerShape&, const common::LatencyStats& stats) {
    EXPECT_EQ(stats.samples, 12);
    EXPECT_DOUBLE_EQ(stats.p90_ms, stats.median_ms * 1.1);
    ASSERT_TRUE(stats.conditions.has_value());
    EXPECT_EQ(stats.conditions->cpus_allowed, 1);
    ++checked;
  });
  EXPECT_EQ(checked, static_cast<int>(saved.size()));
}

// A saved lut.bin's wide entries (measured while the device was shared) and bare numbers (an
// older master's, without statistics) are dropped at start and measured again when needed;
// tight entries are kept.
TEST_F(JobManagerLutTest, TheSavedLutsWideEntriesAreDroppedAtStart) {
  const std::string lut = directory_ + "/lut.bin";
  common::LatencyTable saved;
  common::LatencyStats tight;
  tight.median_ms = tight.p10_ms = tight.p90_ms = 1.0;
  tight.samples = 10;
  common::LatencyStats wide = tight;
  wide.p90_ms = 3.0;
  saved.Insert(Conv(7, 9), tight);
  saved.Insert(Conv(9, 7), wide);
  saved.Insert(Conv(7, 7), 2.5);  // a bare number
  ASSERT_THAT(common::WriteLatencyTable(saved, lut, common::LatencyTableFormat::kBinary), IsOk());

  StatsMeasurer measurer;
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &measurer,
                                          JobRunnerOptions{}, lut);
  v1::JobSpec spec = Spec();
  spec.set_lut_mode(v1::LUT_MODE_MEASURE);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, ""));
  for (int i = 0; i < 2000; ++i) {
    absl::StatusOr<v1::Job> job = store_->Get(created.name());
    if (job.ok() && JobStore::IsTerminal(job->state())) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  // The measurements of the job rewrote the file from the loaded table.
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable rewritten, common::ReadLatencyTable(lut));
  EXPECT_GT(rewritten.size(), 2u);
  EXPECT_NE(rewritten.Find(Conv(7, 9)), std::nullopt);
  EXPECT_EQ(rewritten.Find(Conv(9, 7)), std::nullopt);
  EXPECT_EQ(rewritten.Find(Conv(7, 7)), std::nullopt);
}

}  // namespace
}  // namespace netadapt::master
