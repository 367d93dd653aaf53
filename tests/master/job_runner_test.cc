// The NetAdapt loop (JobManager + JobRunner) end to end through a fake TaskRunner that does
// the search for real (BlockSearch on FLOPS) and fakes training: accuracy is a fixed function
// of the widths. No gRPC, no torch.
#include "master/job_runner.h"

#include <sched.h>
#include <sys/mount.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <optional>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "common/filter_search.h"
#include "common/latency_table.h"
#include "common/lut_latency_model.h"
#include "common/network_def_json.h"
#include "common/resource_model.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/uniform_thinning.h"
#include "master/job_manager.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeTasks final : public TaskRunner {
 public:
  // Every Simplify attempt fails with DeadlineExceeded this many times first (a worker that
  // stalls; Unavailable would also take the worker out of the pool until it registers again,
  // which WorkerPoolTest covers).
  int simplify_failures_per_block = 0;
  // FineTune fails for every block with this status when set.
  absl::Status fine_tune_error;
  // FineTune of block `failing_block` (every iteration, every attempt) fails with this status.
  std::optional<int> failing_block;
  absl::Status failing_block_error;
  // The first attempt of FineTune (stall_iteration, stall_block) hangs until that attempt is
  // cancelled (a SIGSTOPped worker, a straggler), then ends as GrpcTaskRunner does: with the
  // cancellation's failure (its worker was declared lost) or Cancelled (another attempt won).
  // `stalled` is notified, and `stalled_slot` set, when it hangs.
  int stall_iteration = -1;
  int stall_block = -1;
  absl::Notification stalled;
  WorkerSlot stalled_slot;
  absl::Status stalled_outcome;
  // Called at the start of every FineTune (the disk-full test fills the disk from it).
  std::function<void(const v1::TaskHeader&)> before_fine_tune;
  // Every Evaluate result reports these files as left out (skip_corrupt), one read each.
  std::vector<std::string> evaluate_skipped_files;
  // FineTune waits for the job's cancellation when set (to test CancelJob).
  bool fine_tune_blocks = false;
  absl::Notification fine_tune_started;
  // FineTune of this (iteration, block) waits for the job's cancellation (a master stopped
  // mid-iteration); -1: none. `held` is notified when it waits.
  int hold_iteration = -1;
  int hold_block = -1;
  absl::Notification held;

  // Every FineTune and Evaluate task as it was asked for (successful or not).
  struct Asked {
    std::string job;
    int iteration = 0;
    int block = 0;
    std::string kind;  // "fine-tune" or "evaluate"
    int64_t steps = 0;
    int32_t epochs = 0;
    double learning_rate = 0;
    v1::EvaluateTask::Split split = v1::EvaluateTask::SPLIT_UNSPECIFIED;
    std::string model_digest;
  };
  std::vector<Asked> AskedTasks() {
    absl::MutexLock lock(&mu_);
    return asked_;
  }

  // The certify_tolerance of every searching Simplify task (-1: unset).
  std::set<double> CertifyTolerances() {
    absl::MutexLock lock(&mu_);
    return certify_tolerances_;
  }

  // How many times each task ran, by (job, iteration, block, kind).
  using Key = std::tuple<std::string, int, int, std::string>;
  int Calls(const std::string& job, int iteration, int block, const std::string& kind) {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(Key(job, iteration, block, kind));
    return it == calls_.end() ? 0 : it->second;
  }

  absl::StatusOr<v1::TaskResult> Pretrain(const WorkerSlot&, const v1::PretrainTask& task,
                                          const Progress&, Cancellation&) override {
    Count(task.header(), "pretrain");
    absl::StatusOr<common::NetworkDef> network = common::NetworkDefFromJson(task.network_json());
    if (!network.ok()) return network.status();
    v1::TaskResult result;
    result.set_model_digest(Remember(*network, "seed"));
    return result;
  }

  absl::StatusOr<v1::TaskResult> Simplify(const WorkerSlot&, const v1::SimplifyTask& task,
                                          const Progress&, Cancellation&) override {
    Count(task.header(), "simplify");
    {
      absl::MutexLock lock(&mu_);
      if (task.block_widths_size() == 0) {
        certify_tolerances_.insert(task.has_certify_tolerance() ? task.certify_tolerance() : -1);
      }
      if (failures_[task.block()]++ < simplify_failures_per_block) {
        return absl::DeadlineExceededError("the worker stalled");
      }
    }
    common::NetworkDef network = Lookup(task.model_digest());
    if (task.block_widths_size() > 0) {  // the uniform baseline: no search
      absl::StatusOr<common::NetworkDef> thinned = common::WithBlockWidths(
          network, std::vector<int>(task.block_widths().begin(), task.block_widths().end()));
      if (!thinned.ok()) return thinned.status();
      v1::TaskResult result;
      result.set_meets_target(true);
      for (int32_t width : Widths(*thinned)) result.add_widths(width);
      result.set_model_digest(Remember(*thinned, absl::StrCat(task.model_digest(), "/u")));
      return result;
    }
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

  absl::StatusOr<v1::TaskResult> FineTune(const WorkerSlot& slot, const v1::FineTuneTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override {
    const int calls = Count(task.header(), "fine-tune");
    {
      absl::MutexLock lock(&mu_);
      asked_.push_back({task.header().job(), task.header().iteration(), task.header().block(),
                        "fine-tune", task.steps(), task.epochs(), task.learning_rate(),
                        v1::EvaluateTask::SPLIT_UNSPECIFIED, task.model_digest()});
    }
    if (before_fine_tune) before_fine_tune(task.header());
    if (task.header().iteration() == stall_iteration && task.header().block() == stall_block &&
        calls == 1) {
      stalled_slot = slot;
      stalled.Notify();
      cancellation.SleepUnlessCancelled(absl::InfiniteDuration());
      stalled_outcome = cancellation.failure().ok() ? absl::CancelledError("cancelled")
                                                    : cancellation.failure();
      return stalled_outcome;
    }
    if (failing_block && task.header().block() == *failing_block) return failing_block_error;
    if (task.header().iteration() == hold_iteration && task.header().block() == hold_block) {
      held.Notify();
      cancellation.SleepUnlessCancelled(absl::InfiniteDuration());
      return absl::CancelledError("cancelled");
    }
    if (fine_tune_blocks) {
      {
        absl::MutexLock lock(&mu_);
        if (!fine_tune_started.HasBeenNotified()) fine_tune_started.Notify();
      }
      cancellation.SleepUnlessCancelled(absl::InfiniteDuration());
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
    Count(task.header(), "evaluate");
    {
      absl::MutexLock lock(&mu_);
      asked_.push_back({task.header().job(), task.header().iteration(), task.header().block(),
                        "evaluate", 0, 0, 0, task.split(), task.model_digest()});
    }
    const std::vector<int32_t> widths = Widths(Lookup(task.model_digest()));
    double accuracy = 0.9;
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      accuracy -= 0.05 * (widths.size() - i) * (1.0 - widths[i] / double(seed_widths_[i]));
    }
    v1::TaskResult result;
    result.set_accuracy(accuracy);
    for (const std::string& file : evaluate_skipped_files) result.add_skipped_files(file);
    result.set_skipped_images(static_cast<int64_t>(evaluate_skipped_files.size()));
    return result;
  }

 private:
  // Returns how many times the task ran, this call included.
  int Count(const v1::TaskHeader& header, const std::string& kind) {
    absl::MutexLock lock(&mu_);
    attempt_ids_.push_back(header.attempt_id());
    return ++calls_[Key(header.job(), header.iteration(), header.block(), kind)];
  }

 public:
  std::vector<std::string> AttemptIds() {
    absl::MutexLock lock(&mu_);
    return attempt_ids_;
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
  std::map<Key, int> calls_;
  std::vector<std::string> attempt_ids_;
  std::set<double> certify_tolerances_ ABSL_GUARDED_BY(mu_);
  std::vector<Asked> asked_;
  std::vector<int32_t> seed_widths_;
};

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = ::testing::TempDir() + "/job_runner_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(directory_);
    store_ = *JobStore::Open(directory_);
    artifacts_ = *common::ArtifactStore::Open(directory_ + "/artifacts");
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

  // A manager with other runner options, on the same store, pool and tasks.
  void Restart(const JobRunnerOptions& options) {
    manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, nullptr,
                                            options);
  }

  // Same iterations, each choosing the same block at the same width and resource, and each
  // iteration committed exactly once.
  static void ExpectSameDecisions(const v1::Job& job, const v1::Job& reference) {
    ASSERT_EQ(job.history_size(), reference.history_size());
    for (int i = 0; i < job.history_size(); ++i) {
      EXPECT_EQ(job.history(i).iteration(), i + 1);
      EXPECT_EQ(job.history(i).chosen_block(), reference.history(i).chosen_block());
      EXPECT_EQ(job.history(i).result().resource(), reference.history(i).result().resource());
      EXPECT_EQ(job.history(i).result().accuracy(), reference.history(i).result().accuracy());
      const auto& widths = job.history(i).result().widths();
      const auto& reference_widths = reference.history(i).result().widths();
      EXPECT_EQ(std::vector<int32_t>(widths.begin(), widths.end()),
                std::vector<int32_t>(reference_widths.begin(), reference_widths.end()))
          << "iteration " << i + 1;
    }
    EXPECT_EQ(job.final().resource(), reference.final().resource());
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

  std::string directory_;
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

// Infrastructure failures (here DeadlineExceeded: a stalled worker) are retried without using
// up max_task_attempts: 5 failures per block against 3 attempts.
TEST_F(JobRunnerTest, InfrastructureFailuresDoNotUseUpTheRetryBudget) {
  JobRunnerOptions options;
  options.infrastructure_backoff = absl::Milliseconds(1);
  Restart(options);
  tasks_.simplify_failures_per_block = 5;
  v1::JobSpec spec = Spec();
  spec.set_max_iters(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, ""));
  const v1::Job job = WaitForEnd(created.name());
  EXPECT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  ASSERT_EQ(job.history_size(), 1);
  EXPECT_EQ(tasks_.Calls(created.name(), 1, 0, "simplify"), 6);
  // Every attempt has its own id.
  std::vector<std::string> ids = tasks_.AttemptIds();
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

// ...but they are bounded: a task that takes down every worker it runs on fails its block.
TEST_F(JobRunnerTest, InfrastructureRetriesAreBounded) {
  JobRunnerOptions options;
  options.infrastructure_backoff = absl::Milliseconds(1);
  options.max_infrastructure_retries = 2;
  Restart(options);
  tasks_.simplify_failures_per_block = 1000;
  v1::JobSpec spec = Spec();
  spec.set_max_iters(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, ""));
  const v1::Job job = WaitForEnd(created.name());
  EXPECT_EQ(job.state(), v1::Job::FAILED);
  EXPECT_THAT(job.reason(), HasSubstr("its workers failed 3 times"));
  EXPECT_THAT(job.reason(), HasSubstr("the worker stalled"));
  EXPECT_EQ(tasks_.Calls(created.name(), 1, 0, "simplify"), 3);
}

// A task that fails by itself every time fails its block after max_task_attempts, with the
// reason; the other blocks go on and the job chooses among them.
TEST_F(JobRunnerTest, ATaskThatAlwaysFailsFailsItsBlockAndTheJobGoesOn) {
  v1::JobSpec spec = Spec();
  spec.set_max_iters(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job reference, manager_->Create(spec, "reference"));
  const v1::Job undisturbed = WaitForEnd(reference.name());
  ASSERT_EQ(undisturbed.state(), v1::Job::SUCCEEDED) << undisturbed.reason();
  // The block an undisturbed run chooses now fails every time.
  const int block = undisturbed.history(0).chosen_block();
  tasks_.failing_block = block;
  tasks_.failing_block_error = absl::InternalError("CUDA error: an illegal memory access");
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "disturbed"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  ASSERT_EQ(job.history_size(), 1);
  const v1::Proposal& failed = job.history(0).proposals(block);
  EXPECT_EQ(failed.state(), v1::Proposal::FAILED);
  EXPECT_THAT(failed.error(), HasSubstr("failed 3 times"));
  EXPECT_THAT(failed.error(), HasSubstr("illegal memory access"));
  EXPECT_EQ(tasks_.Calls(created.name(), 1, block, "fine-tune"), 3);
  EXPECT_NE(job.history(0).chosen_block(), block);
}

// A worker that stops answering mid-task (SIGSTOP keeps its connection open) is declared dead
// by the pool; its task is given up at once and retried elsewhere, without using up the retry
// budget (max_task_attempts 1 here), and the job decides as an undisturbed run.
TEST_F(JobRunnerTest, ALostWorkersTaskIsRetriedElsewhereToTheSameResult) {
  JobRunnerOptions options;
  options.max_task_attempts = 1;
  options.infrastructure_backoff = absl::Milliseconds(1);
  Restart(options);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job reference, manager_->Create(Spec(), "reference"));
  const v1::Job undisturbed = WaitForEnd(reference.name());
  ASSERT_EQ(undisturbed.state(), v1::Job::SUCCEEDED) << undisturbed.reason();

  tasks_.stall_iteration = 1;
  tasks_.stall_block = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), "disturbed"));
  ASSERT_TRUE(tasks_.stalled.WaitForNotificationWithTimeout(absl::Seconds(10)));
  pool_.MarkUnreachable(tasks_.stalled_slot);  // what missed heartbeats do
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_THAT(tasks_.stalled_outcome, StatusIs(absl::StatusCode::kUnavailable,
                                               HasSubstr("declared dead")));
  EXPECT_EQ(tasks_.Calls(created.name(), 1, 1, "fine-tune"), 2);
  ExpectSameDecisions(job, undisturbed);
}

// A straggling attempt gets a backup on an idle worker; the backup's result is committed, the
// straggler is cancelled, and the job decides as an undisturbed run.
TEST_F(JobRunnerTest, AStragglerGetsABackupAndTheFirstResultWins) {
  JobRunnerOptions options;
  options.straggler_factor = 2;
  options.straggler_min_duration = absl::Milliseconds(100);
  Restart(options);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job reference, manager_->Create(Spec(), "reference"));
  const v1::Job undisturbed = WaitForEnd(reference.name());
  ASSERT_EQ(undisturbed.state(), v1::Job::SUCCEEDED) << undisturbed.reason();

  // Iteration 2: iteration 1's fine-tunes tell how long one takes.
  tasks_.stall_iteration = 2;
  tasks_.stall_block = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), "disturbed"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  ASSERT_TRUE(tasks_.stalled.HasBeenNotified());
  EXPECT_THAT(tasks_.stalled_outcome, StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(tasks_.Calls(created.name(), 2, 1, "fine-tune"), 2);
  ExpectSameDecisions(job, undisturbed);
}

TEST_F(JobRunnerTest, FailsWithTheReasonWhenNoProposalSurvives) {
  tasks_.fine_tune_error = absl::FailedPreconditionError("dataset: /nope does not exist");
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  const v1::Job job = WaitForEnd(created.name());
  EXPECT_EQ(job.state(), v1::Job::FAILED);
  EXPECT_THAT(job.reason(), HasSubstr("no proposal reaches the target"));
  EXPECT_THAT(job.reason(), HasSubstr("/nope does not exist"));
  // A failure that running again cannot change is not retried.
  int fine_tuned = 0;
  for (int block = 0; block < 3; ++block) {
    const int calls = tasks_.Calls(created.name(), 1, block, "fine-tune");
    EXPECT_LE(calls, 1) << "block " << block;
    fine_tuned += calls;
  }
  EXPECT_GT(fine_tuned, 0);
}

TEST_F(JobRunnerTest, CancelStopsRunningTasks) {
  tasks_.fine_tune_blocks = true;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  ASSERT_TRUE(tasks_.fine_tune_started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(manager_->Cancel(created.name()).ok());
  const v1::Job job = WaitForEnd(created.name());
  EXPECT_EQ(job.state(), v1::Job::CANCELLED);
}

// A master stopped in the middle of iteration 2 (one block still fine-tuning, the others
// finished) and started again on the same state directory: the job resumes and ends with the
// same decisions as an undisturbed run, without re-running anything that had finished.
TEST_F(JobRunnerTest, RestartedMasterResumesTheJobToTheSameResult) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job reference_job, manager_->Create(Spec(), "reference"));
  const v1::Job reference = WaitForEnd(reference_job.name());
  ASSERT_EQ(reference.state(), v1::Job::SUCCEEDED) << reference.reason();
  ASSERT_GE(reference.history_size(), 3);

  tasks_.hold_iteration = 2;
  tasks_.hold_block = 1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), "interrupted"));
  const std::string name = created.name();
  ASSERT_TRUE(tasks_.held.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The other blocks of iteration 2 finish (their outcomes are persisted).
  std::vector<int> finished_blocks;
  for (int i = 0; i < 1000 && finished_blocks.empty(); ++i) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job job, store_->Get(name));
    bool others_done = job.proposals_size() > 1;
    std::vector<int> done;
    for (const v1::Proposal& p : job.proposals()) {
      const bool finished = p.state() == v1::Proposal::SUCCEEDED ||
                            p.state() == v1::Proposal::TARGET_NOT_MET;
      if (p.block() != 1 && !finished) others_done = false;
      if (finished) done.push_back(p.block());
    }
    if (others_done) finished_blocks = done;
    else absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(finished_blocks.empty());

  // The master stops: the job is not cancelled but stays RUNNING on disk.
  manager_.reset();
  store_.reset();
  tasks_.hold_iteration = -1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(store_, JobStore::Open(directory_));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job stopped, store_->Get(name));
  EXPECT_EQ(stopped.state(), v1::Job::RUNNING);
  EXPECT_EQ(stopped.history_size(), 1);
  EXPECT_EQ(stopped.current_iteration(), 2);

  JobRunnerOptions options;
  options.master_epoch = 2;
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, nullptr, options);
  EXPECT_EQ(manager_->ResumeInterrupted(), 1);
  const v1::Job resumed = WaitForEnd(name);
  ASSERT_EQ(resumed.state(), v1::Job::SUCCEEDED) << resumed.reason();

  // The same decisions as the undisturbed run.
  ASSERT_EQ(resumed.history_size(), reference.history_size());
  for (int i = 0; i < reference.history_size(); ++i) {
    const v1::Iteration& a = reference.history(i);
    const v1::Iteration& b = resumed.history(i);
    EXPECT_EQ(b.iteration(), a.iteration());
    EXPECT_EQ(b.target_resource(), a.target_resource()) << "iteration " << i + 1;
    EXPECT_EQ(b.chosen_block(), a.chosen_block()) << "iteration " << i + 1;
    EXPECT_EQ(b.result().resource(), a.result().resource()) << "iteration " << i + 1;
    EXPECT_EQ(b.result().accuracy(), a.result().accuracy()) << "iteration " << i + 1;
    EXPECT_EQ(b.result().model_digest(), a.result().model_digest()) << "iteration " << i + 1;
    EXPECT_THAT(b.result().widths(), ::testing::ElementsAreArray(a.result().widths()));
  }
  EXPECT_EQ(resumed.final().model_digest(), reference.final().model_digest());
  EXPECT_EQ(resumed.final().accuracy(), reference.final().accuracy());

  // Nothing finished ran twice: the seed, iteration 1, the finished blocks of iteration 2.
  EXPECT_EQ(tasks_.Calls(name, 0, -1, "pretrain"), 1);
  for (const std::string kind : {"simplify", "fine-tune", "evaluate"}) {
    for (int block = 0; block < reference.history(0).proposals_size(); ++block) {
      EXPECT_LE(tasks_.Calls(name, 1, block, kind), 1) << kind << " block " << block;
    }
    for (int block : finished_blocks) {
      EXPECT_LE(tasks_.Calls(name, 2, block, kind), 1) << kind << " block " << block;
    }
  }
  // The interrupted block ran again, once.
  EXPECT_EQ(tasks_.Calls(name, 2, 1, "simplify"), 2);
  EXPECT_EQ(tasks_.Calls(name, 2, 1, "fine-tune"), 2);
  EXPECT_EQ(tasks_.Calls(name, 2, 1, "evaluate"), 1);
}

// A proposal that failed for good (its retries used up) before the master stopped is kept
// FAILED by the resumed iteration, as an undisturbed run would keep it: not run again.
TEST_F(JobRunnerTest, RestartedMasterKeepsAProposalThatFailed) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job reference_job, manager_->Create(Spec(), "reference"));
  const v1::Job reference = WaitForEnd(reference_job.name());
  ASSERT_EQ(reference.state(), v1::Job::SUCCEEDED) << reference.reason();
  ASSERT_GE(reference.history_size(), 2);
  // Iteration 2: the block it chose fails every time; another block that fine-tunes is held
  // until the master stops.
  const int failing = reference.history(1).chosen_block();
  int held = -1;
  for (const v1::Proposal& p : reference.history(1).proposals()) {
    if (p.state() == v1::Proposal::SUCCEEDED && p.block() != failing) held = p.block();
  }
  ASSERT_GE(held, 0) << "iteration 2 needs two blocks that fine-tune";
  tasks_.failing_block = failing;
  tasks_.failing_block_error = absl::InternalError("illegal instruction");
  tasks_.hold_iteration = 2;
  tasks_.hold_block = held;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), "interrupted"));
  const std::string name = created.name();
  ASSERT_TRUE(tasks_.held.WaitForNotificationWithTimeout(absl::Seconds(10)));
  bool failed = false;
  for (int i = 0; i < 1000 && !failed; ++i) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job job, store_->Get(name));
    failed = job.current_iteration() == 2 && job.proposals_size() > failing &&
             job.proposals(failing).state() == v1::Proposal::FAILED;
    if (!failed) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(failed);
  manager_.reset();
  store_.reset();
  tasks_.hold_iteration = -1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(store_, JobStore::Open(directory_));
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, nullptr,
                                          JobRunnerOptions{});
  EXPECT_EQ(manager_->ResumeInterrupted(), 1);
  const v1::Job resumed = WaitForEnd(name);
  ASSERT_EQ(resumed.state(), v1::Job::SUCCEEDED) << resumed.reason();
  EXPECT_EQ(resumed.history(1).proposals(failing).state(), v1::Proposal::FAILED);
  EXPECT_THAT(resumed.history(1).proposals(failing).error(), HasSubstr("illegal instruction"));
  EXPECT_EQ(tasks_.Calls(name, 2, failing, "fine-tune"), 3);  // its 3 attempts, not 6
  // The held block was stopped by the shutdown, not failed: it ran again and finished.
  EXPECT_EQ(resumed.history(1).proposals(held).state(), v1::Proposal::SUCCEEDED);
  EXPECT_EQ(tasks_.Calls(name, 2, held, "fine-tune"), 2);
}

TEST_F(JobRunnerTest, RestartedMasterRedoesAnInterruptedFinish) {
  v1::JobSpec spec = Spec();
  spec.set_max_iters(2);
  spec.set_long_term_fine_tune_epochs(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job reference_job, manager_->Create(spec, "reference"));
  const v1::Job reference = WaitForEnd(reference_job.name());
  ASSERT_EQ(reference.state(), v1::Job::SUCCEEDED) << reference.reason();

  tasks_.hold_iteration = spec.max_iters() + 1;  // the long-term fine-tune's header
  tasks_.hold_block = -1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "interrupted"));
  ASSERT_TRUE(tasks_.held.WaitForNotificationWithTimeout(absl::Seconds(10)));
  manager_.reset();
  tasks_.hold_iteration = -1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job stopped, store_->Get(created.name()));
  EXPECT_EQ(stopped.state(), v1::Job::RUNNING);
  EXPECT_EQ(stopped.phase(), v1::Job::FINISHING);
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, nullptr,
                                          JobRunnerOptions{});
  EXPECT_EQ(manager_->ResumeInterrupted(), 1);
  const v1::Job resumed = WaitForEnd(created.name());
  ASSERT_EQ(resumed.state(), v1::Job::SUCCEEDED) << resumed.reason();
  EXPECT_EQ(resumed.history_size(), 2);
  EXPECT_EQ(resumed.final().model_digest(), reference.final().model_digest());
  EXPECT_EQ(tasks_.Calls(created.name(), 0, -1, "pretrain"), 1);
  for (int iteration = 1; iteration <= 2; ++iteration) {
    for (int block = 0; block < 3; ++block) {
      EXPECT_EQ(tasks_.Calls(created.name(), iteration, block, "simplify"), 1);
    }
  }
  EXPECT_EQ(tasks_.Calls(created.name(), spec.max_iters() + 1, -1, "fine-tune"), 2);
}

TEST_F(JobRunnerTest, RestartedMasterStartsAJobThatNeverRan) {
  v1::JobSpec spec = Spec();
  spec.set_max_iters(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::JobSpec resolved, manager_->Resolve(spec));
  v1::Job job;
  *job.mutable_spec() = resolved;
  bool created = false;
  NETADAPT_ASSERT_OK_AND_ASSIGN(job, store_->Create(job, &created));  // stored, not started
  EXPECT_EQ(manager_->ResumeInterrupted(), 1);
  EXPECT_EQ(manager_->ResumeInterrupted(), 0);  // already running or done
  const v1::Job done = WaitForEnd(job.name());
  EXPECT_EQ(done.state(), v1::Job::SUCCEEDED) << done.reason();
  EXPECT_EQ(done.history_size(), 1);
}

// Counts the shapes it is asked to measure; every layer costs 1 ms.
// A device that measures every shape at 1 ms, with the statistics of its runs as the profiler
// agent gives them (a master drops a saved LUT's bare numbers at start).
class CountingMeasurer final : public common::LatencyMeasurer {
 public:
  absl::StatusOr<std::vector<double>> MeasureMs(
      const std::vector<common::LayerShape>& shapes) override {
    absl::MutexLock lock(&mu_);
    measured_ += static_cast<int>(shapes.size());
    return std::vector<double>(shapes.size(), 1.0);
  }
  absl::StatusOr<std::vector<common::LatencyStats>> Measure(
      const std::vector<common::LayerShape>& shapes, bool) override {
    NETADAPT_ASSIGN_OR_RETURN(std::vector<double> ms, MeasureMs(shapes));
    std::vector<common::LatencyStats> stats(ms.size());
    for (size_t i = 0; i < ms.size(); ++i) {
      stats[i].median_ms = stats[i].p10_ms = stats[i].p90_ms = stats[i].mean_ms = ms[i];
      stats[i].samples = 10;
    }
    return stats;
  }
  int measured() {
    absl::MutexLock lock(&mu_);
    return measured_;
  }

 private:
  absl::Mutex mu_;
  int measured_ = 0;
};

TEST_F(JobRunnerTest, TheMeasuredLutSurvivesARestart) {
  const std::string lut = directory_ + "/lut.bin";
  v1::JobSpec spec = Spec();
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  spec.set_max_iters(1);
  CountingMeasurer first;
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &first,
                                          JobRunnerOptions{}, lut);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job a, manager_->Create(spec, "a"));
  const v1::Job done = WaitForEnd(a.name());
  EXPECT_GT(done.seed().resource(), 0);
  EXPECT_GT(first.measured(), 0);
  ASSERT_TRUE(std::filesystem::exists(lut));

  // A new master on the same file measures nothing for the same seed network.
  manager_.reset();
  CountingMeasurer second;
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &second,
                                          JobRunnerOptions{}, lut);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job b, manager_->Create(spec, "b"));
  const v1::Job again = WaitForEnd(b.name());
  EXPECT_EQ(again.seed().resource(), done.seed().resource());
  EXPECT_EQ(second.measured(), 0);
}

// The saved table carries the agent's fingerprint: a master whose agent is the same device
// uses it; one whose agent is another device (or power mode) sets it aside and measures
// afresh, never mixing two devices' latencies.
TEST_F(JobRunnerTest, TheSavedLutIsUsedOnlyOnTheDeviceThatMeasuredIt) {
  const std::string lut = directory_ + "/lut.bin";
  v1::JobSpec spec = Spec();
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  spec.set_max_iters(1);
  v1::DeviceFingerprint xavier;
  xavier.set_device_name("NVIDIA Jetson AGX Xavier");
  xavier.set_power_mode("MAXN");
  CountingMeasurer first;
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &first,
                                          JobRunnerOptions{}, lut, ProfilerWaitOptions{},
                                          xavier);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job a, manager_->Create(spec, "a"));
  // (The fake tasks simplify on FLOPs, so the job ends at iteration 1; its seed's latency
  // is what the master looks up.)
  EXPECT_EQ(WaitForEnd(a.name()).seed().resource(), 4.0);
  ASSERT_GT(first.measured(), 0);
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable saved, common::ReadLatencyTable(lut));
  EXPECT_TRUE(common::SameDevice(saved.device(), xavier));

  // The same device: nothing measured again.
  manager_.reset();
  CountingMeasurer same;
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &same,
                                          JobRunnerOptions{}, lut, ProfilerWaitOptions{},
                                          xavier);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job b, manager_->Create(spec, "b"));
  EXPECT_EQ(WaitForEnd(b.name()).seed().resource(), 4.0);
  EXPECT_EQ(same.measured(), 0);

  // Another power mode: the table is set aside and every latency measured again.
  manager_.reset();
  v1::DeviceFingerprint slower = xavier;
  slower.set_power_mode("15W");
  CountingMeasurer other;
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &other,
                                          JobRunnerOptions{}, lut, ProfilerWaitOptions{},
                                          slower);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job c, manager_->Create(spec, "c"));
  EXPECT_EQ(WaitForEnd(c.name()).seed().resource(), 4.0);
  EXPECT_EQ(other.measured(), static_cast<int>(saved.size()));  // every entry again
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::LatencyTable replaced, common::ReadLatencyTable(lut));
  EXPECT_TRUE(common::SameDevice(replaced.device(), slower));
  int set_aside = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory_)) {
    set_aside += absl::StartsWith(entry.path().filename().string(), "lut.bin.other-device-");
  }
  EXPECT_EQ(set_aside, 1);
}

TEST_F(JobRunnerTest, ShutdownLeavesTheJobRunning) {
  tasks_.fine_tune_blocks = true;
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), ""));
  ASSERT_TRUE(tasks_.fine_tune_started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  manager_.reset();
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job stopped, store_->Get(created.name()));
  EXPECT_EQ(stopped.state(), v1::Job::RUNNING);
}

// The certified search's tolerance reaches every Simplify task: the default, or the spec's.
TEST_F(JobRunnerTest, SimplifyTasksCarryTheCertifyTolerance) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job by_default, manager_->Create(Spec(), "default"));
  EXPECT_EQ(by_default.spec().certify_tolerance(), 0.03);
  ASSERT_EQ(WaitForEnd(by_default.name()).state(), v1::Job::SUCCEEDED);
  EXPECT_THAT(tasks_.CertifyTolerances(), ElementsAre(0.03));
  v1::JobSpec spec = Spec();
  spec.set_certify_tolerance(0);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job zero, manager_->Create(spec, "zero"));
  ASSERT_EQ(WaitForEnd(zero.name()).state(), v1::Job::SUCCEEDED);
  EXPECT_THAT(tasks_.CertifyTolerances(), ElementsAre(0, 0.03));
  spec.set_certify_tolerance(0.5);
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("spec.certify_tolerance"),
                                        HasSubstr("0.5 is not in [0, 0.5)"))));
}

// JobSpec's grouped form reaches the tasks as the flat one does, and a stored job's spec
// shows both forms.
TEST_F(JobRunnerTest, TheGroupedSpecFormReachesTheTasks) {
  v1::JobSpec spec = Spec();
  spec.clear_short_term_fine_tune_iteration();
  spec.mutable_fine_tuning()->set_short_term_steps(12);
  spec.mutable_fine_tuning()->set_learning_rate(0.02);
  spec.mutable_search_options()->set_certify_tolerance(0.01);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "grouped"));
  EXPECT_EQ(created.spec().short_term_fine_tune_iteration(), 12);
  EXPECT_EQ(created.spec().finetune_lr(), 0.02);
  EXPECT_EQ(created.spec().fine_tuning().batch_size(), 128);  // the default, in both forms
  ASSERT_EQ(WaitForEnd(created.name()).state(), v1::Job::SUCCEEDED);
  int fine_tunes = 0;
  for (const FakeTasks::Asked& asked : tasks_.AskedTasks()) {
    if (asked.kind != "fine-tune" || asked.iteration < 1 || asked.block < 0) continue;
    ++fine_tunes;
    EXPECT_EQ(asked.steps, 12);
    EXPECT_EQ(asked.learning_rate, 0.02);
  }
  EXPECT_GT(fine_tunes, 0);
  EXPECT_THAT(tasks_.CertifyTolerances(), ElementsAre(0.01));

  spec.set_short_term_fine_tune_iteration(10);  // both forms, different values
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("spec.fine_tuning.short_term_steps is 12"),
                                        HasSubstr("spec.short_term_fine_tune_iteration is 10"))));
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
  // The master does not see an image folder: a zoo model needs its size and classes.
  spec.set_dataset("imagefolder:/data/pets,crop=16");
  EXPECT_THAT(manager_->Create(spec, "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("spec.dataset"), HasSubstr("classes=N"))));
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

TEST_F(JobRunnerTest, ImageFolderSpecGivesTheZooModelItsShape) {
  v1::JobSpec spec = Spec();
  spec.set_dataset("imagefolder:/data/pets,crop=16,classes=7,channels=1");
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, ""));
  const v1::NetworkDef& network = created.spec().network();
  EXPECT_EQ(network.input().channels(), 1);
  EXPECT_EQ(network.input().height(), 16);
  int classes = 0;  // The last layer with output channels: the classifier.
  for (const v1::Layer& layer : network.layers()) {
    if (layer.out_channels() > 0) classes = layer.out_channels();
  }
  EXPECT_EQ(classes, 7);
}

// The master's disk fills up in the middle of an iteration: the job PAUSES with the reason
// (nothing of the change that did not fit is applied), continues when space is freed, and
// ends as an undisturbed run; the state on disk reads back as the job in memory. The state
// directory is a real 8 MiB tmpfs in a private mount namespace (root only, as in CI), so
// the writes really fail with ENOSPC.
TEST_F(JobRunnerTest, AFullDiskPausesTheJobUntilSpaceIsFreed) {
  const std::string mount_point = directory_ + "/small-disk";
  std::filesystem::create_directories(mount_point);
  if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("tmpfs", mount_point.c_str(), "tmpfs", 0, "size=8m") != 0) {
    // Needs CAP_SYS_ADMIN; CI runs as root, where this runs.
    GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<JobStore> store, JobStore::Open(mount_point));
  JobRunnerOptions options;
  options.disk_full_retry_interval = absl::Milliseconds(20);
  auto manager =
      std::make_unique<JobManager>(*store, pool_, tasks_, *artifacts_, nullptr, options);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job reference_job, manager->Create(Spec(), "reference"));
  v1::Job reference;
  for (int i = 0; i < 1000 && !JobStore::IsTerminal(reference.state()); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    reference = *store->Get(reference_job.name());
  }
  ASSERT_EQ(reference.state(), v1::Job::SUCCEEDED) << reference.reason();

  // Iteration 2's first fine-tune fills the disk to the last byte.
  const std::string ballast = mount_point + "/ballast";
  absl::Notification full;
  std::atomic<bool> filling{false};  // blocks fine-tune in parallel: one of them fills
  tasks_.before_fine_tune = [&](const v1::TaskHeader& header) {
    if (header.job() == reference_job.name() || header.iteration() != 2 ||
        filling.exchange(true)) {
      return;
    }
    std::ofstream out(ballast, std::ios::binary);
    const std::string chunk(64 * 1024, 'x');
    while (out.write(chunk.data(), chunk.size())) out.flush();
    std::ofstream tail(ballast + ".tail", std::ios::binary);
    while (tail.put('x')) tail.flush();
    full.Notify();
  };
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager->Create(Spec(), "disturbed"));
  ASSERT_TRUE(full.WaitForNotificationWithTimeout(absl::Seconds(10)));
  v1::Job paused;
  for (int i = 0; i < 500 && paused.state() != v1::Job::PAUSED; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    paused = *store->Get(created.name());
  }
  ASSERT_EQ(paused.state(), v1::Job::PAUSED) << paused.DebugString();
  EXPECT_THAT(paused.reason(), HasSubstr("no space left on device"));
  EXPECT_THAT(paused.reason(), HasSubstr("continues when space is freed"));
  // It stays paused while the disk is full.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(store->Get(created.name())->state(), v1::Job::PAUSED);

  std::filesystem::remove(ballast);
  std::filesystem::remove(ballast + ".tail");
  v1::Job done;
  for (int i = 0; i < 1000 && !JobStore::IsTerminal(done.state()); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    done = *store->Get(created.name());
  }
  ASSERT_EQ(done.state(), v1::Job::SUCCEEDED) << done.reason();
  EXPECT_TRUE(done.reason().empty()) << done.reason();
  ExpectSameDecisions(done, reference);
  // What is on disk is what the master holds: nothing was lost or torn by the full disk.
  manager.reset();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<JobStore> reopened, JobStore::Open(mount_point));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job read_back, reopened->Get(created.name()));
  EXPECT_EQ(read_back.state(), v1::Job::SUCCEEDED);
  ExpectSameDecisions(read_back, reference);
}

double Flops(const common::NetworkDef& network) {
  common::AnalyticResourceModel flops(common::ResourceType::kFlops);
  return *common::NetworkResource(network, common::CostContext{}, flops);
}

// The uniform baseline of a job: the seed thinned by one multiplier to the final network's
// resource, within one channel step per block; fine-tuned with exactly the training the final
// network's lineage received (the steps of every iteration's chosen proposal at the same rate,
// then the long-term epochs), and so is the seed; all three evaluated on the test split.
TEST_F(JobRunnerTest, TheUniformBaselineMatchesTheFinalResourceAndTheLineagesTraining) {
  v1::JobSpec spec = Spec();
  spec.set_long_term_fine_tune_epochs(2);
  spec.set_channel_step(4);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "baseline"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_TRUE(job.spec().uniform_baseline());  // on by default
  const v1::UniformBaseline& uniform = job.uniform_baseline();
  ASSERT_EQ(uniform.state(), v1::UniformBaseline::SUCCEEDED) << uniform.reason();
  ASSERT_GE(job.history_size(), 2);

  // Widths: one multiplier, rounded to the step; the resource within one step per block.
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef seed,
                                common::NetworkDefFromProto(job.spec().network()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::vector<common::Block> blocks, common::FindBlocks(seed));
  const std::vector<int> widths(uniform.block_widths().begin(), uniform.block_widths().end());
  EXPECT_EQ(widths, common::UniformWidths(blocks, uniform.width_multiplier(), 4));
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef thinned, common::WithBlockWidths(seed, widths));
  EXPECT_THAT(uniform.result().widths(), ::testing::ElementsAreArray(Widths(thinned)));
  EXPECT_DOUBLE_EQ(uniform.result().resource(), Flops(thinned));
  const double final_resource = job.final().resource();
  std::vector<int> narrower, wider;
  for (size_t b = 0; b < blocks.size(); ++b) {
    narrower.push_back(std::max(4, widths[b] - 4));
    wider.push_back(std::min(blocks[b].width, widths[b] + 4));
  }
  EXPECT_LE(Flops(*common::WithBlockWidths(seed, narrower)), final_resource);
  EXPECT_GE(Flops(*common::WithBlockWidths(seed, wider)), final_resource);

  // Training: what the lineage got, task by task.
  int64_t lineage_steps = 0;
  std::vector<double> rates;
  int32_t long_term_epochs = 0;
  int64_t uniform_steps = 0, seed_steps = 0;
  int32_t uniform_epochs = 0, seed_epochs = 0;
  std::map<int, v1::EvaluateTask::Split> evaluated;  // by header block, iteration max_iters + 1
  const int last = job.spec().max_iters() + 1;
  for (const FakeTasks::Asked& asked : tasks_.AskedTasks()) {
    if (asked.job != job.name()) continue;
    if (asked.kind == "evaluate") {
      if (asked.iteration == last) evaluated[asked.block] = asked.split;
      continue;
    }
    rates.push_back(asked.learning_rate);
    if (asked.iteration >= 1 && asked.iteration <= job.history_size() &&
        asked.block == job.history(asked.iteration - 1).chosen_block()) {
      lineage_steps += asked.steps;
    } else if (asked.iteration == last && asked.block == -1) {
      long_term_epochs += asked.epochs;
      EXPECT_EQ(asked.steps, 0);
    } else if (asked.iteration == last && asked.block == -3) {
      uniform_steps += asked.steps;
      uniform_epochs += asked.epochs;
    } else if (asked.iteration == last && asked.block == -4) {
      seed_steps += asked.steps;
      seed_epochs += asked.epochs;
      if (asked.steps > 0) EXPECT_EQ(asked.model_digest, job.seed().model_digest());
    }
  }
  EXPECT_EQ(lineage_steps, job.history_size() * spec.short_term_fine_tune_iteration());
  EXPECT_EQ(long_term_epochs, 2);
  EXPECT_EQ(uniform_steps, lineage_steps);
  EXPECT_EQ(uniform_epochs, long_term_epochs);
  EXPECT_EQ(seed_steps, lineage_steps);
  EXPECT_EQ(seed_epochs, long_term_epochs);
  EXPECT_EQ(uniform.fine_tune_steps(), lineage_steps);
  EXPECT_EQ(uniform.fine_tune_epochs(), long_term_epochs);
  for (double rate : rates) EXPECT_EQ(rate, job.spec().finetune_lr());

  // Every comparison on the test split: the final network, the seed, both baselines.
  for (int block : {-1, -2, -3, -4}) {
    ASSERT_TRUE(evaluated.count(block)) << block;
    EXPECT_EQ(evaluated[block], v1::EvaluateTask::TEST) << block;
  }
  EXPECT_GT(job.seed().test_accuracy(), 0);
  EXPECT_EQ(job.final().test_accuracy(), job.final().accuracy());
  EXPECT_GT(uniform.result().test_accuracy(), 0);
  EXPECT_EQ(uniform.result().accuracy(), uniform.result().test_accuracy());
  EXPECT_GT(uniform.seed_fine_tuned().test_accuracy(), 0);
  EXPECT_EQ(uniform.seed_fine_tuned().resource(), job.seed().resource());
  EXPECT_FALSE(uniform.result().model_digest().empty());
  EXPECT_TRUE(job.activity().empty());
}

TEST_F(JobRunnerTest, TheUniformBaselineIsOffWithTheSpecField) {
  v1::JobSpec spec = Spec();
  spec.set_uniform_baseline(false);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "off"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_FALSE(job.has_uniform_baseline());
  for (const FakeTasks::Asked& asked : tasks_.AskedTasks()) {
    EXPECT_GE(asked.block, -2) << "iteration " << asked.iteration << " " << asked.kind;
  }
  EXPECT_GT(job.seed().test_accuracy(), 0);  // the seed's test accuracy does not depend on it
}

// Workers report the files their image folder left out (skip_corrupt); the job keeps their
// union, sorted, and the reads left out over every task.
TEST_F(JobRunnerTest, TheJobCollectsTheFilesItsWorkersLeftOut) {
  tasks_.evaluate_skipped_files = {"train/b/2.png", "train/a/1.jpg"};
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(Spec(), "skips"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_THAT(job.skipped_files(), ElementsAre("train/a/1.jpg", "train/b/2.png"));
  int evaluations = 0;
  for (const FakeTasks::Asked& asked : tasks_.AskedTasks()) evaluations += asked.kind == "evaluate";
  EXPECT_GT(evaluations, 1);
  EXPECT_EQ(job.skipped_images(), 2 * evaluations);
}

TEST_F(JobRunnerTest, TheUniformBaselineIsSkippedWhenNoIterationRan) {
  v1::JobSpec spec = Spec();
  spec.set_budget_ratio(0.99);
  spec.set_init_resource_reduction_ratio(0.5);
  spec.set_max_iters(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "skip"));
  const v1::Job first = WaitForEnd(created.name());
  ASSERT_EQ(first.state(), v1::Job::SUCCEEDED) << first.reason();
  ASSERT_EQ(first.history_size(), 1);
  // A budget the seed meets already: no iteration, nothing to compare.
  spec.clear_budget_ratio();
  spec.set_budget(2 * first.seed().resource());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job seed_only, manager_->Create(spec, "none"));
  const v1::Job job = WaitForEnd(seed_only.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  EXPECT_EQ(job.history_size(), 0);
  EXPECT_EQ(job.uniform_baseline().state(), v1::UniformBaseline::SKIPPED);
  EXPECT_THAT(job.uniform_baseline().reason(), HasSubstr("no iteration"));
}

// A LUT whose entries are the layers' MACs, so the master's resource and the fake search's
// agree; and an end-to-end measurement that adds a fixed overhead (unmodelled layers) to them.
class FlopsMeasurer final : public common::LatencyMeasurer {
 public:
  absl::StatusOr<std::vector<double>> MeasureMs(
      const std::vector<common::LayerShape>& shapes) override {
    common::AnalyticResourceModel flops(common::ResourceType::kFlops);
    std::vector<double> costs;
    for (const common::LayerShape& shape : shapes) {
      absl::StatusOr<double> cost = flops.LayerCost(shape);
      if (!cost.ok()) return cost.status();
      costs.push_back(*cost);
    }
    return costs;
  }
};

struct RecordingNetworkMeasurer {
  absl::Mutex mu;
  std::vector<std::string> measured;  // WidthsString of each network, in order
  double overhead = 0;
  // Multiplies the n-th measurement of a network (0-based) when set: a busy device.
  std::function<double(int n)> noise;
  std::map<std::string, int> calls;
  NetworkMeasurer Measurer() {
    return [this](const common::NetworkDef& network) -> absl::StatusOr<double> {
      absl::MutexLock lock(&mu);
      const std::string widths = common::WidthsString(network);
      measured.push_back(widths);
      const int n = calls[widths]++;
      return (Flops(network) + overhead) * (noise ? noise(n) : 1.0);
    };
  }
};

// The seed and each chosen network are measured until their two fastest measurements agree;
// the spread is kept, and a network whose measurements never agree is marked unstable. The
// seed's measured-minus-LUT overhead is the job's calibration term.
TEST_F(JobRunnerTest, EndToEndMeasurementsRunUntilStableAndKeepTheirSpread) {
  RecordingNetworkMeasurer network_measurer;
  network_measurer.overhead = 1000;
  // Every other measurement twice as slow: the third agrees with the first.
  network_measurer.noise = [](int n) { return n % 2 == 0 ? 1.0 : 2.0; };
  FlopsMeasurer lut;
  JobRunnerOptions options;
  options.measure_network = network_measurer.Measurer();
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &lut, options);
  v1::JobSpec spec = Spec();
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  spec.set_uniform_baseline(false);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "stable"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  ASSERT_GE(job.history_size(), 1);
  for (const v1::Iteration& it : job.history()) {
    const v1::ModelResult& r = it.result();
    EXPECT_EQ(r.measured_latency_runs(), 3) << it.iteration();
    EXPECT_DOUBLE_EQ(r.measured_latency_ms(), r.resource() + 1000) << it.iteration();
    EXPECT_DOUBLE_EQ(r.measured_latency_slowest_ms(), 2 * r.measured_latency_ms());
    EXPECT_FALSE(r.measured_latency_unstable());
  }
  EXPECT_DOUBLE_EQ(job.lut_overhead_ms(), 1000);

  // Slower every time: never stable, given up after max_measurement_rounds.
  network_measurer.noise = [](int n) { return 1.0 + 0.2 * n; };
  {
    absl::MutexLock lock(&network_measurer.mu);
    network_measurer.calls.clear();
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job second, manager_->Create(spec, "unstable"));
  const v1::Job noisy = WaitForEnd(second.name());
  ASSERT_EQ(noisy.state(), v1::Job::SUCCEEDED) << noisy.reason();
  const v1::ModelResult& first = noisy.history(0).result();
  EXPECT_EQ(first.measured_latency_runs(), JobRunnerOptions{}.max_measurement_rounds);
  EXPECT_TRUE(first.measured_latency_unstable());
  EXPECT_DOUBLE_EQ(first.measured_latency_slowest_ms(),
                   (1.0 + 0.2 * (JobRunnerOptions{}.max_measurement_rounds - 1)) *
                       first.measured_latency_ms());
}

// The final measurement gives the seed, the final network and the uniform baseline the same
// number of end-to-end measurements, interleaved, after all training.
TEST_F(JobRunnerTest, TheFinalMeasurementIsTheSameForEveryModelAndInterleaved) {
  RecordingNetworkMeasurer network_measurer;
  FlopsMeasurer lut;
  JobRunnerOptions options;
  options.measure_network = network_measurer.Measurer();
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &lut, options);
  v1::JobSpec spec = Spec();
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "measured"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  ASSERT_EQ(job.uniform_baseline().state(), v1::UniformBaseline::SUCCEEDED)
      << job.uniform_baseline().reason();
  const int rounds = JobRunnerOptions{}.final_measurement_rounds;
  for (const v1::ModelResult* result :
       {&job.seed(), &job.final(), &job.uniform_baseline().result()}) {
    EXPECT_EQ(result->measured_latency_runs(), rounds);
    EXPECT_GT(result->measured_latency_ms(), 0);
  }
  EXPECT_EQ(job.uniform_baseline().seed_fine_tuned().measured_latency_ms(),
            job.seed().measured_latency_ms());
  // The last 3 x rounds measurements: each network `rounds` times, never twice in a row.
  absl::MutexLock lock(&network_measurer.mu);
  const std::vector<std::string>& all = network_measurer.measured;
  ASSERT_GE(all.size(), static_cast<size_t>(3 * rounds));
  const std::vector<std::string> last(all.end() - 3 * rounds, all.end());
  std::map<std::string, int> counts;
  for (size_t i = 0; i < last.size(); ++i) {
    ++counts[last[i]];
    if (i > 0) EXPECT_NE(last[i], last[i - 1]) << i;
  }
  ASSERT_EQ(counts.size(), 3u);
  for (const auto& [widths, count] : counts) EXPECT_EQ(count, rounds) << widths;
}

// A budget on measured latency: the job stops when the measured latency of the current
// network is within budget_ratio of the seed's measured latency, where the LUT alone would
// have stopped earlier (the measurement adds an overhead the LUT does not model).
TEST_F(JobRunnerTest, ABudgetOnMeasuredLatencyStopsWhenTheMeasurementMeetsIt) {
  RecordingNetworkMeasurer network_measurer;
  FlopsMeasurer lut;
  JobRunnerOptions options;
  options.measure_network = network_measurer.Measurer();
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &lut, options);
  v1::JobSpec spec = Spec();
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  spec.set_max_iters(30);
  spec.set_init_resource_reduction_ratio(0.05);
  spec.set_uniform_baseline(false);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job lut_created, manager_->Create(spec, "lut"));
  const v1::Job on_lut = WaitForEnd(lut_created.name());
  ASSERT_EQ(on_lut.state(), v1::Job::SUCCEEDED) << on_lut.reason();
  EXPECT_EQ(on_lut.spec().budget_metric(), v1::BUDGET_METRIC_LUT);  // the default

  const double seed_flops = on_lut.seed().resource();
  network_measurer.overhead = 0.25 * seed_flops;
  spec.set_budget_metric(v1::BUDGET_METRIC_MEASURED);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::Job created, manager_->Create(spec, "measured"));
  const v1::Job job = WaitForEnd(created.name());
  ASSERT_EQ(job.state(), v1::Job::SUCCEEDED) << job.reason();
  const double seed_measured = 1.25 * seed_flops;
  EXPECT_DOUBLE_EQ(job.budget(), 0.5 * seed_measured);
  ASSERT_GE(job.history_size(), 2);
  const v1::ModelResult& last = job.history(job.history_size() - 1).result();
  const v1::ModelResult& before = job.history(job.history_size() - 2).result();
  EXPECT_LE(last.measured_latency_ms(), job.budget());
  EXPECT_GT(before.measured_latency_ms(), job.budget());
  EXPECT_EQ(last.measured_latency_runs(), JobRunnerOptions{}.budget_measurement_rounds);
  // The LUT's sum is well below half the seed's there: the LUT budget stopped sooner.
  EXPECT_LT(last.resource(), 0.5 * seed_flops);
  EXPECT_GT(job.history_size(), on_lut.history_size());
  // Every iteration's target still comes from the LUT.
  double previous = job.seed().resource();
  for (const v1::Iteration& it : job.history()) {
    EXPECT_LT(it.target_resource(), previous);
    EXPECT_LT(it.result().resource(), it.target_resource());
    previous = it.result().resource();
  }

  // Refused where it cannot work.
  spec.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
  EXPECT_THAT(manager_->Create(spec, "flops").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.budget_metric")));
  manager_ = std::make_unique<JobManager>(*store_, pool_, tasks_, *artifacts_, &lut,
                                          JobRunnerOptions{});
  spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  EXPECT_THAT(manager_->Create(spec, "no profiler").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("budget_metric")));
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
