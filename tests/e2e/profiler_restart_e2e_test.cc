// The profiler agent dies (SIGKILL) while a LATENCY job needs it: the real netadapt-profiler,
// netadapt-master and two netadapt-worker processes on loopback. The job waits and says so in
// its activity, continues when the agent is started again on the same port, and decides as an
// undisturbed run does; an agent that stays away past the master's limit fails the job with a
// reason naming the profiler (docs/RELIABILITY.md).
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/rpc/channel.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "tests/testing/e2e_jobs.h"
#include "tests/testing/server_process.h"

namespace netadapt {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kWaiting = "waiting for the profiler agent";

class ProfilerRestartE2eTest : public ::testing::Test {
 protected:
  // Profiler, master (with `master_flags`) and two workers.
  void StartCluster(const std::vector<std::string>& master_flags) {
    state_dir_ = absl::StrCat(::testing::TempDir(), "/e2e_profiler_restart_", getpid());
    const std::string clean = absl::StrCat("rm -rf '", state_dir_, "'");
    ASSERT_EQ(std::system(clean.c_str()), 0);
    std::string error;
    ASSERT_TRUE(StartProfiler(0, &error)) << error;
    std::vector<std::string> flags = {absl::StrCat("--profiler=127.0.0.1:", profiler_port_),
                                      "--state_dir=" + state_dir_ + "/master",
                                      "--heartbeat_interval_ms=200"};
    flags.insert(flags.end(), master_flags.begin(), master_flags.end());
    std::optional<int> master =
        master_.Start(NETADAPT_MASTER_BINARY, flags, std::chrono::seconds(30), &error);
    ASSERT_TRUE(master) << error;
    jobs_ = v1::JobService::NewStub(rpc::MakeChannel(absl::StrCat("127.0.0.1:", *master)));
    for (int i = 0; i < 2; ++i) {
      std::optional<int> worker = workers_[i].Start(
          NETADAPT_WORKER_BINARY,
          {absl::StrCat("--master=127.0.0.1:", *master), "--device=cpu", "--threads=1",
           absl::StrCat("--cache_dir=", state_dir_, "/worker", i)},
          std::chrono::seconds(30), &error);
      ASSERT_TRUE(worker) << error;
    }
    for (int i = 0; i < 200; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::ListWorkersResponse workers;
      if (jobs_->ListWorkers(&context, {}, &workers).ok() && workers.workers_size() == 2) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "the workers did not register";
  }

  // Quick measurements: this test is about the agent's absence, not its precision.
  bool StartProfiler(int port, std::string* error) {
    std::optional<int> bound = profiler_.Start(
        NETADAPT_PROFILER_BINARY,
        {"--threads=1", "--warmup_runs=1", "--min_runs=3", "--max_time_ms=50"},
        std::chrono::seconds(30), error, port);
    if (bound) profiler_port_ = *bound;
    return bound.has_value();
  }

  // conv(1->16) - pool - conv(16->32) - pool - linear on its measured latency: two blocks,
  // several iterations, each needing latencies of shapes the previous ones did not.
  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.set_dataset("synthetic:classes=4,shape=1x16x16,train=512,test=256,seed=3");
    *spec.mutable_network() = testing::TinyNetwork();
    spec.set_holdout_size(128);
    spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
    spec.set_lut_mode(v1::LUT_MODE_MEASURE);  // no LUT: every latency from the agent
    // 0.7 in steps of 0.1: at 0.5 in steps of 0.2 this 2-conv network was at the edge of its
    // reach, and a LUT that grows as the certified search needs it (issue 15) sometimes left
    // no single block able to reach the last target (1 run in 3).
    spec.set_budget_ratio(0.7);
    spec.set_init_resource_reduction_ratio(0.1);
    spec.set_resource_reduction_decay(1.0);
    spec.set_max_iters(10);
    spec.set_short_term_fine_tune_iteration(20);
    spec.set_finetune_lr(0.02);
    spec.set_batch_size(32);
    spec.set_channel_step(2);
    spec.set_seed(11);
    return spec;
  }

  std::optional<v1::Job> Create(const std::string& request_id) {
    return testing::CreateJob(*jobs_, Spec(), request_id);
  }

  std::optional<v1::Job> Get(const std::string& name) { return testing::GetJob(*jobs_, name); }

  std::optional<v1::Job> WaitFor(const std::string& name,
                                 const std::function<bool(const v1::Job&)>& done,
                                 absl::Duration timeout) {
    return testing::WaitForJob(*jobs_, name, done, timeout);
  }

  static bool Ended(const v1::Job& job) { return testing::JobEnded(job); }
  static bool Waiting(const v1::Job& job) {
    return absl::StartsWith(job.activity(), kWaiting);
  }

  // The state directory (journal, artifacts, worker caches: ~30 MB) goes with a passing
  // test and stays for a failed one's post-mortem. The processes stop first: a master still
  // writing would race the removal.
  void TearDown() override {
    workers_[0].Kill();
    workers_[1].Kill();
    master_.Kill();
    profiler_.Kill();
    if (!HasFailure() && !state_dir_.empty()) std::filesystem::remove_all(state_dir_);
  }

  testing::ServerProcess profiler_, master_, workers_[2];
  std::string state_dir_;
  int profiler_port_ = 0;
  std::unique_ptr<v1::JobService::Stub> jobs_;
};

// The agent is SIGKILLed once the job iterates (its seed's latency measured); the workers'
// look-ups for the iteration's search then wait in the master. The job shows it, continues
// once the agent is back on the same port, and ends SUCCEEDED.
//
// What is compared: a second, undisturbed job of the same spec afterwards on the same master
// reads the same shared measured LUT (a real CPU's latencies differ run to run, so two
// separately measured runs could decide differently for reasons that are not the outage's).
// With the same latencies, the same decisions mean the outage cost the disturbed job nothing:
// no proposal failed or was skipped while the agent was away (a lost proposal changes the
// pick, since the pick sees every proposal), and every iteration's choice meets its target.
TEST_F(ProfilerRestartE2eTest, JobWaitsForTheProfilerAndContinuesWhenItIsBack) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({}));
  std::optional<v1::Job> created = Create("disturbed");
  ASSERT_TRUE(created);
  const std::string name = created->name();
  std::optional<v1::Job> iterating = WaitFor(
      name, [](const v1::Job& job) { return job.phase() >= v1::Job::ITERATING || Ended(job); },
      absl::Seconds(60));
  ASSERT_TRUE(iterating && !Ended(*iterating)) << (iterating ? iterating->reason() : "no job");
  const int port = profiler_port_;
  ASSERT_TRUE(profiler_.Stop(SIGKILL, std::chrono::seconds(10)));
  const absl::Time killed = absl::Now();

  std::optional<v1::Job> waiting =
      WaitFor(name, [](const v1::Job& job) { return Waiting(job) || Ended(job); },
              absl::Seconds(60));
  ASSERT_TRUE(waiting && Waiting(*waiting)) << (waiting ? waiting->DebugString() : "no job");
  EXPECT_EQ(waiting->state(), v1::Job::RUNNING);
  EXPECT_THAT(waiting->activity(), HasSubstr("unreachable since"));
  const absl::Time seen_waiting = absl::Now();
  // Down a little longer: several retries, and the job keeps waiting (nothing fails).
  std::optional<v1::Job> still = WaitFor(
      name, [](const v1::Job& job) { return Ended(job); }, absl::Seconds(3));
  ASSERT_TRUE(still);
  ASSERT_FALSE(Ended(*still)) << still->reason();
  EXPECT_TRUE(Waiting(*still)) << still->activity();
  for (const v1::Proposal& p : still->proposals()) {
    EXPECT_NE(p.state(), v1::Proposal::FAILED) << p.error();
  }

  std::string error;
  ASSERT_TRUE(StartProfiler(port, &error)) << error;
  ASSERT_EQ(profiler_port_, port);
  const absl::Time restarted = absl::Now();
  std::optional<v1::Job> continued = WaitFor(
      name, [](const v1::Job& job) { return !Waiting(job); }, absl::Seconds(60));
  ASSERT_TRUE(continued && !Waiting(*continued));
  const absl::Time resumed = absl::Now();
  std::cerr << "profiler killed; the job showed it waits after "
            << absl::FormatDuration(seen_waiting - killed)
            << "; it continued " << absl::FormatDuration(resumed - restarted)
            << " after the agent served again\n";

  std::optional<v1::Job> done = WaitFor(name, Ended, absl::Seconds(180));
  ASSERT_TRUE(done);
  ASSERT_EQ(done->state(), v1::Job::SUCCEEDED) << done->reason();
  ASSERT_GE(done->history_size(), 1);
  for (const v1::Iteration& it : done->history()) {
    EXPECT_LE(it.result().resource(), it.target_resource()) << "iteration " << it.iteration();
    for (const v1::Proposal& p : it.proposals()) {
      EXPECT_NE(p.state(), v1::Proposal::FAILED)
          << "iteration " << it.iteration() << " block " << p.block() << ": " << p.error();
    }
  }

  created = Create("undisturbed");
  ASSERT_TRUE(created);
  std::optional<v1::Job> reference = WaitFor(created->name(), Ended, absl::Seconds(180));
  ASSERT_TRUE(reference);
  ASSERT_EQ(reference->state(), v1::Job::SUCCEEDED) << reference->reason();
  testing::ExpectSameDecisions(*reference, *done);
}

// The agent is down before the job starts and stays down past the master's limit (3 s): the
// job's own latency look-up (its seed's) waits, then the job FAILS with a reason naming the
// profiler (the master's --profiler_wait_limit_s).
TEST_F(ProfilerRestartE2eTest, ProfilerDownPastTheLimitFailsTheJob) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--profiler_wait_limit_s=3"}));
  ASSERT_TRUE(profiler_.Stop(SIGKILL, std::chrono::seconds(10)));
  std::optional<v1::Job> created = Create("abandoned");
  ASSERT_TRUE(created);
  std::optional<v1::Job> waiting = WaitFor(
      created->name(), [](const v1::Job& job) { return Waiting(job) || Ended(job); },
      absl::Seconds(60));
  ASSERT_TRUE(waiting);
  EXPECT_TRUE(Waiting(*waiting)) << waiting->DebugString();
  std::optional<v1::Job> done = WaitFor(created->name(), Ended, absl::Seconds(60));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::Job::FAILED);
  EXPECT_THAT(done->reason(), HasSubstr("profiler agent"));
  EXPECT_THAT(done->reason(), HasSubstr("unreachable for"));
  EXPECT_THAT(done->reason(), HasSubstr(absl::StrCat("127.0.0.1:", profiler_port_)));
}

}  // namespace
}  // namespace netadapt
