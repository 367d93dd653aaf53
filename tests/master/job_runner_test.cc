// The NetAdapt loop (JobManager + JobRunner) end to end through a fake TaskRunner that does
// the search for real (BlockSearch on FLOPS) and fakes training: accuracy is a fixed function
// of the widths. No gRPC, no torch.
#include "master/job_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "absl/synchronization/notification.h"
#include "common/filter_search.h"
#include "common/network_def_json.h"
#include "common/resource_model.h"
#include "common/sha256.h"
#include "master/job_manager.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

class FakeTasks final : public TaskRunner {
 public:
  // Every Simplify attempt fails with DeadlineExceeded this many times first (a worker that
  // stalls; Unavailable would also take the worker out of the pool until it registers again,
  // which WorkerPoolTest covers).
  int simplify_failures_per_block = 0;
  // FineTune fails for every block with this status when set.
  absl::Status fine_tune_error;
  // FineTune waits for the job's cancellation when set (to test CancelJob).
  bool fine_tune_blocks = false;
  absl::Notification fine_tune_started;

  absl::StatusOr<v1::TaskResult> Pretrain(const WorkerSlot&, const v1::PretrainTask& task,
                                          const Progress&, Cancellation&) override {
    absl::StatusOr<common::NetworkDef> network = common::NetworkDefFromJson(task.network_json());
    if (!network.ok()) return network.status();
    v1::TaskResult result;
    result.set_model_digest(Remember(*network, "seed"));
    return result;
  }

  absl::StatusOr<v1::TaskResult> Simplify(const WorkerSlot&, const v1::SimplifyTask& task,
                                          const Progress&, Cancellation&) override {
    {
      absl::MutexLock lock(&mu_);
      if (failures_[task.block()]++ < simplify_failures_per_block) {
        return absl::DeadlineExceededError("the worker stalled");
      }
    }
    common::NetworkDef network = Lookup(task.model_digest());
    common::SearchOptions options;
    options.channel_step = task.channel_step();
    absl::StatusOr<common::BlockSearch> search = common::BlockSearch::Create(network, options);
    if (!search.ok()) return search.status();
    common::AnalyticResourceModel flops(common::ResourceType::kFlops);
    absl::StatusOr<common::SearchResult> found =
        search->SimplifyBlock(task.block(), task.target_resource(), flops);
    if (!found.ok()) return found.status();
    v1::TaskResult result;
    result.set_width(found->width);
    result.set_resource(found->resource);
    result.set_meets_target(found->meets_target);
    result.set_model_digest(
        Remember(search->SimplifiedNetwork(*found), absl::StrCat(task.model_digest(), "/s")));
    return result;
  }

  absl::StatusOr<v1::TaskResult> FineTune(const WorkerSlot&, const v1::FineTuneTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override {
    if (fine_tune_blocks) {
      {
        absl::MutexLock lock(&mu_);
        if (!fine_tune_started.HasBeenNotified()) fine_tune_started.Notify();
      }
      absl::Notification cancelled;
      const int id = cancellation.Add([&] { cancelled.Notify(); });
      cancelled.WaitForNotification();
      cancellation.Remove(id);
      return absl::CancelledError("cancelled");
    }
    if (!fine_tune_error.ok()) return fine_tune_error;
    v1::TaskProgress p;
    p.set_step(task.steps());
    p.set_total_steps(task.steps());
    if (progress) progress(p);
    v1::TaskResult result;
    result.set_model_digest(
        Remember(Lookup(task.model_digest()), absl::StrCat(task.model_digest(), "/t")));
    return result;
  }

  // Accuracy falls with the share of filters removed, more for earlier layers, so the
  // proposals differ and the pick is meaningful.
  absl::StatusOr<v1::TaskResult> Evaluate(const WorkerSlot&, const v1::EvaluateTask& task,
                                          const Progress&, Cancellation&) override {
    const std::vector<int32_t> widths = Widths(Lookup(task.model_digest()));
    double accuracy = 0.9;
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      accuracy -= 0.05 * (widths.size() - i) * (1.0 - widths[i] / double(seed_widths_[i]));
    }
    v1::TaskResult result;
    result.set_accuracy(accuracy);
    return result;
  }

 private:
  std::string Remember(const common::NetworkDef& network, const std::string& salt) {
    absl::MutexLock lock(&mu_);
    const std::string digest = common::Sha256Hex(salt + common::NetworkDefToJson(network));
    networks_[digest] = network;
    if (seed_widths_.empty()) seed_widths_ = Widths(network);
    return digest;
  }
  common::NetworkDef Lookup(const std::string& digest) {
    absl::MutexLock lock(&mu_);
    return networks_.at(digest);
  }

  absl::Mutex mu_;
  std::map<std::string, common::NetworkDef> networks_;
  std::map<int, int> failures_;
  std::vector<int32_t> seed_widths_;
};

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string directory =
        ::testing::TempDir() + "/job_runner_" +
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(directory);
    store_ = *JobStore::Open(directory);
    artifacts_ = *common::ArtifactStore::Open(directory + "/artifacts");
    pool_.Register("host:1", {"cpu"}, "i1");
    pool_.Register("host:2", {"cpu"}, "i2");
    manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, nullptr,
                                            JobRunnerOptions{});
  }

  static v1::JobSpec Spec() {
    v1::JobSpec spec;
    spec.set_model("helloworld");
    spec.set_dataset("synthetic:classes=10,shape=3x16x16");
    spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
    spec.set_budget_ratio(0.5);
    spec.set_init_resource_reduction_ratio(0.1);
    spec.set_resource_reduction_decay(1.0);
    spec.set_short_term_fine_tune_iteration(10);
    return spec;
  }

  v1::Job WaitForEnd(const std::string& name) {
    for (int i = 0; i < 1000; ++i) {
      absl::StatusOr<v1::Job> job = store_->Get(name);
      if (job.ok() && JobStore::IsTerminal(job->state())) return *job;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << name << " did not end";
    return *store_->Get(name);
  }

  FakeTasks tasks_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<common::ArtifactStore> artifacts_;
  WorkerPool pool_{absl::Seconds(60)};
  std::unique_ptr<JobManager> manager_;
};

TEST_F(JobRunnerTest, ReachesTheBudgetWithDecreasingResourceAndTheOriginalsPick) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), "req"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_GT(job.seed().resource(), 0);
  EXPECT_DOUBLE_EQ(job.budget(), 0.5 * job.seed().resource());
  ASSERT_GE(job.history_size(), 3);
  double previous = job.seed().resource();
  double previous_accuracy = job.seed().accuracy();
  for (const v1::Iteration& iteration : job.history()) {
    EXPECT_LT(iteration.result().resource(), iteration.target_resource());
    EXPECT_LT(iteration.result().resource(), previous);
    // The chosen block is the original's pick among this iteration's proposals.
    const std::vector<v1::Proposal> proposals(iteration.proposals().begin(),
                                              iteration.proposals().end());
    EXPECT_EQ(PickBestProposal(proposals, previous_accuracy, previous), iteration.chosen_block());
    previous = iteration.result().resource();
    previous_accuracy = iteration.result().accuracy();
  }
  EXPECT_LE(previous, job.budget());
  EXPECT_EQ(job.final().resource(), previous);
  EXPECT_FALSE(job.final().model_digest().empty());
  EXPECT_EQ(job.phase(), v1::Job::DONE);
}

TEST_F(JobRunnerTest, SameSpecSameChoices) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job a, manager_->Create(Spec(), "a"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job b, manager_->Create(Spec(), "b"));
  const v1::Job first = WaitForEnd(a.name()), second = WaitForEnd(b.name());
  ASSERT_EQ(first.history_size(), second.history_size());
  for (int i = 0; i < first.history_size(); ++i) {
    EXPECT_EQ(first.history(i).chosen_block(), second.history(i).chosen_block());
    EXPECT_EQ(first.history(i).result().resource(), second.history(i).result().resource());
  }
}

TEST_F(JobRunnerTest, RetriesTasksWhoseWorkerFailed) {
  tasks_.simplify_failures_per_block = 2;  // below the default of 3 attempts
  v1::JobSpec spec = Spec();
  spec.set_max_iters(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, ""));
  const v1::Job job = WaitForEnd(created.name());
  EXPECT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_EQ(job.history_size(), 1);
}

TEST_F(JobRunnerTest, FailsWithTheReasonWhenNoProposalSurvives) {
  tasks_.fine_tune_error = absl::FailedPreconditionError("dataset: /nope does not exist");
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  const v1::Job job = WaitForEnd(created.name());
  EXPECT_EQ(job.state(), v1::Job::FAILED);
  EXPECT_THAT(job.reason(), HasSubstr("no proposal reaches the target"));
  EXPECT_THAT(job.reason(), HasSubstr("/nope does not exist"));
}

TEST_F(JobRunnerTest, CancelStopsRunningTasks) {
  tasks_.fine_tune_blocks = true;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  ASSERT_TRUE(tasks_.fine_tune_started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(manager_->Cancel(created.name()).ok());
  const v1::Job job = WaitForEnd(created.name());
  EXPECT_EQ(job.state(), v1::Job::CANCELLED);
}

TEST_F(JobRunnerTest, BadSpecsNameTheField) {
  v1::JobSpec spec = Spec();
  spec.set_model("resnet");
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.model")));
  spec = Spec();
  spec.set_budget_ratio(1.5);
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.budget_ratio")));
  spec = Spec();
  spec.set_dataset("imagenet:/data");
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.dataset")));
  spec = Spec();
  spec.set_weights_digest(std::string(64, 'a'));
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("spec.weights_digest")));
  spec = Spec();
  spec.set_short_term_fine_tune_iteration(-5);
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.short_term_fine_tune_iteration")));
  spec = Spec();
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);  // no profiler on this master
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("profiler")));
  int total = 0;
  store_->List(0, 10, &total);
  EXPECT_EQ(total, 0);  // nothing was stored or scheduled
}

TEST(PickBestProposalTest, SmallestAccuracyLossPerResourceSaved) {
  std::vector<v1::Proposal> proposals(4);
  for (auto& p : proposals) p.set_state(v1::Proposal::SUCCEEDED);
  proposals[0].set_resource(90);   // saves 10, loses 0.05: 0.005 per unit
  proposals[0].set_accuracy(0.85);
  proposals[1].set_resource(80);   // saves 20, loses 0.06: 0.003 per unit
  proposals[1].set_accuracy(0.84);
  proposals[2].set_resource(50);   // saves the most but did not finish
  proposals[2].set_accuracy(0.9);
  proposals[2].set_state(v1::Proposal::FAILED);
  proposals[3].set_resource(100);  // saves nothing
  proposals[3].set_accuracy(0.9);
  EXPECT_EQ(PickBestProposal(proposals, 0.9, 100), 1);
  proposals[1].set_state(v1::Proposal::TARGET_NOT_MET);
  EXPECT_EQ(PickBestProposal(proposals, 0.9, 100), 0);
  proposals[0].set_state(v1::Proposal::FAILED);
  EXPECT_EQ(PickBestProposal(proposals, 0.9, 100), -1);
}

}  // namespace
}  // namespace netadapt::master
