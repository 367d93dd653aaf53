// JobManager while the profiler agent is down: a LATENCY job's latency look-ups wait (the
// job's activity says so) and continue when the agent is back; past the limit the job FAILS
// with a reason naming the agent. Fakes only: no gRPC, no torch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "master/job_manager.h"
#include "tests/master/seed_only_tasks.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

common::LayerShape AShape() {
  common::LayerShape shape;
  shape.in_channels = 3;
  shape.out_channels = 5;
  shape.kernel = {3, 3};
  shape.input_h = shape.input_w = 16;
  return shape;
}

using ::netadapt::master::testing::SeedOnlyTasks;

// A profiler that is down until told otherwise.
class SwitchedMeasurer final : public common::LatencyMeasurer {
 public:
  absl::StatusOr<std::vector<double>> MeasureMs(
      const std::vector<common::LayerShape>& shapes) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (down_) return absl::UnavailableError("failed to connect to all addresses");
    return std::vector<double>(shapes.size(), 1.0);
  }
  void SetDown(bool down) {
    absl::MutexLock lock(&mu_);
    down_ = down;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  bool down_ ABSL_GUARDED_BY(mu_) = true;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class JobManagerProfilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = ::testing::TempDir() + "/job_manager_profiler_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(directory_);
    store_ = *JobStore::Open(directory_);
    artifacts_ = *common::ArtifactStore::Open(directory_ + "/artifacts");
    pool_.Register("host:1", {"cpu"}, "i1");
  }

  void StartManager(absl::Duration wait_limit, JobRunnerOptions options = {}) {
    ProfilerWaitOptions wait;
    wait.agent = "jetson:50061";
    wait.initial_backoff = absl::Milliseconds(1);
    wait.max_backoff = absl::Milliseconds(20);
    wait.wait_limit = wait_limit;
    manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &measurer_,
                                            options, "", wait);
  }

  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.set_model("helloworld");
    spec.set_dataset("synthetic:classes=10,shape=3x16x16");
    spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
    spec.set_lut_mode(v1::LUT_MODE_MEASURE);
    spec.set_max_iters(1);
    return spec;
  }

  v1::Job WaitUntil(const std::string& name, const std::function<bool(const v1::Job&)>& done) {
    absl::StatusOr<v1::Job> job;
    for (int i = 0; i < 2000; ++i) {
      job = store_->Get(name);
      if (job.ok() && done(*job)) return *job;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << name << " never got there: " << job->DebugString();
    return *job;
  }
  static bool Waiting(const v1::Job& job) {
    return absl::StartsWith(job.activity(), ProfilerWait::kWaitingActivityPrefix);
  }

  std::string directory_;
  SeedOnlyTasks tasks_;
  SwitchedMeasurer measurer_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<common::ArtifactStore> artifacts_;
  WorkerPool pool_{absl::Seconds(60)};
  std::unique_ptr<JobManager> manager_;
};

TEST_F(JobManagerProfilerTest, TheJobShowsItWaitsAndContinuesWhenTheAgentIsBack) {
  StartManager(absl::InfiniteDuration());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  const v1::Job waiting = WaitUntil(created.name(), [](const v1::Job& job) {
    return Waiting(job) || JobStore::IsTerminal(job.state());
  });
  ASSERT_TRUE(Waiting(waiting)) << waiting.DebugString();
  EXPECT_EQ(waiting.state(), v1::Job::RUNNING);
  EXPECT_THAT(waiting.activity(), HasSubstr("at jetson:50061 (unreachable since"));
  EXPECT_THAT(waiting.activity(), HasSubstr("failed to connect"));
  // A worker's look-up for the same job waits too, and both continue when the agent is back.
  absl::StatusOr<std::vector<double>> from_worker;
  std::thread worker([&] {
    from_worker = manager_->LookupLatency(
        created.name(), {AShape()});
  });
  const int calls = measurer_.calls();
  WaitUntil(created.name(), [&](const v1::Job&) { return measurer_.calls() > calls + 5; });
  measurer_.SetDown(false);
  worker.join();
  ASSERT_TRUE(from_worker.ok()) << from_worker.status();
  EXPECT_EQ(*from_worker, std::vector<double>({1.0}));
  // The seed's latency was looked up: the job went on (its proposals fail in this test).
  const v1::Job done =
      WaitUntil(created.name(), [](const v1::Job& job) { return JobStore::IsTerminal(job.state()); });
  EXPECT_GT(done.seed().resource(), 0);
  EXPECT_FALSE(Waiting(done)) << done.activity();
  EXPECT_THAT(done.reason(), ::testing::Not(HasSubstr("profiler")));
  // The job counts the lookups it caused (the master's and the worker's) and what the device
  // measured for them: each shape once, 1 ms each by this fake (no samples: the median).
  const v1::LatencyMeasurements& total = done.measurements();
  EXPECT_GT(total.shapes_measured(), 0);
  EXPECT_GE(total.lookups(), total.shapes_measured());
  EXPECT_EQ(total.lut_hits() + total.shapes_measured(), total.lookups());
  EXPECT_DOUBLE_EQ(total.device_ms(), static_cast<double>(total.shapes_measured()));
  ASSERT_GE(done.iteration_measurements_size(), 1);
  int64_t lookups = 0;
  for (const v1::LatencyMeasurements& m : done.iteration_measurements()) lookups += m.lookups();
  EXPECT_EQ(lookups, total.lookups());
  EXPECT_EQ(done.iteration_measurements(0).iteration(), 0);  // the seed's, before iteration 1
}

TEST_F(JobManagerProfilerTest, PastTheLimitTheJobFailsNamingTheAgent) {
  StartManager(absl::Milliseconds(200));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  const v1::Job done =
      WaitUntil(created.name(), [](const v1::Job& job) { return JobStore::IsTerminal(job.state()); });
  EXPECT_EQ(done.state(), v1::Job::FAILED);
  EXPECT_THAT(done.reason(),
              HasSubstr("the profiler agent at jetson:50061 has been unreachable for"));
  EXPECT_THAT(done.reason(), HasSubstr("failed to connect"));
  EXPECT_FALSE(Waiting(done)) << done.activity();
  // A worker's look-up for the failed job does not wait any more.
  EXPECT_THAT(manager_->LookupLatency(created.name(),
                                      {AShape()})
                  .status(),
              ::netadapt::testing::StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(JobManagerProfilerTest, CancellingAWaitingJobEndsItsWait) {
  StartManager(absl::InfiniteDuration());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  WaitUntil(created.name(), [](const v1::Job& job) { return Waiting(job); });
  ASSERT_TRUE(manager_->Cancel(created.name()).ok());
  const v1::Job done =
      WaitUntil(created.name(), [](const v1::Job& job) { return JobStore::IsTerminal(job.state()); });
  EXPECT_EQ(done.state(), v1::Job::CANCELLED);
}

// The master stops while a worker's lookup waits for the profiler: Shutdown ends the wait
// (the job's cancellation) and returns only once that lookup is done with the manager; calls
// after it answer UNAVAILABLE without starting anything, and the job stays RUNNING to resume.
TEST_F(JobManagerProfilerTest, ShutdownWaitsForTheLookupsInFlightThenRefusesCalls) {
  StartManager(absl::InfiniteDuration());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  WaitUntil(created.name(), [](const v1::Job& job) { return Waiting(job); });
  absl::Notification answered;
  absl::StatusOr<std::vector<double>> from_worker;
  manager_->LookupLatencyAsync(created.name(), {AShape()},
                               [&](absl::StatusOr<std::vector<double>> latencies) {
                                 from_worker = std::move(latencies);
                                 answered.Notify();
                               });
  manager_->Shutdown();
  // Shutdown returned: the lookup answered before it did.
  ASSERT_TRUE(answered.HasBeenNotified());
  EXPECT_FALSE(from_worker.ok());
  EXPECT_THAT(manager_->Create(Spec(), ""), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(manager_->LookupLatency(created.name(), {AShape()}),
              StatusIs(absl::StatusCode::kUnavailable));
  absl::Notification refused;
  manager_->LookupLatencyAsync(created.name(), {AShape()},
                               [&](absl::StatusOr<std::vector<double>> latencies) {
                                 EXPECT_THAT(latencies, StatusIs(absl::StatusCode::kUnavailable));
                                 refused.Notify();
                               });
  EXPECT_TRUE(refused.HasBeenNotified());  // at once, on the caller's thread
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job stopped, store_->Get(created.name()));
  EXPECT_EQ(stopped.state(), v1::Job::RUNNING);
}

// The end-to-end measurement of the seed (MeasureNetwork) waits for the agent like the
// lookups: the job shows it, and the seed gets its measured latency once the agent is back.
TEST_F(JobManagerProfilerTest, TheEndToEndMeasurementWaitsForTheAgentToo) {
  measurer_.SetDown(false);  // layer lookups answer; only MeasureNetwork is down
  absl::Mutex mu;
  bool network_down = true;
  int network_calls = 0;
  JobRunnerOptions options;
  options.measure_network = [&](const common::NetworkDef&) -> absl::StatusOr<double> {
    absl::MutexLock lock(&mu);
    ++network_calls;
    if (network_down) return absl::UnavailableError("failed to connect to all addresses");
    return 2.5;
  };
  StartManager(absl::InfiniteDuration(), options);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  const v1::Job waiting = WaitUntil(created.name(), [](const v1::Job& job) {
    return Waiting(job) || JobStore::IsTerminal(job.state());
  });
  ASSERT_TRUE(Waiting(waiting)) << waiting.DebugString();
  WaitUntil(created.name(), [&](const v1::Job&) {
    absl::MutexLock lock(&mu);
    return network_calls > 3;  // retried while down
  });
  {
    absl::MutexLock lock(&mu);
    network_down = false;
  }
  const v1::Job done =
      WaitUntil(created.name(), [](const v1::Job& job) { return JobStore::IsTerminal(job.state()); });
  EXPECT_EQ(done.seed().measured_latency_ms(), 2.5);
  EXPECT_THAT(done.reason(), ::testing::Not(HasSubstr("profiler")));
}

}  // namespace
}  // namespace netadapt::master
