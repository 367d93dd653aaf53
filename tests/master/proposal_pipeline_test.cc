// ProposalPipeline alone: one block's Simplify -> FineTune -> Evaluate through a fake
// TaskRunner, with the dispatcher replaced by a single attempt on one slot. The loop around
// it (retries, resumption, the choice of the best proposal) is job_runner_test's.
#include "master/proposal_pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "master/job_spec_groups.h"
#include "master/job_store.h"
#include "tests/testing/scratch_directory.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// Each task kind answers through a replaceable function; the tasks it was given are kept.
class FakeTaskRunner : public TaskRunner {
 public:
  std::function<absl::StatusOr<v1::TaskResult>(const v1::SimplifyTask&)> simplify =
      [](const v1::SimplifyTask& task) {
        v1::TaskResult result;
        result.set_model_digest("simplified");
        result.set_width(4);
        result.set_resource(task.target_resource() - 1);
        result.set_meets_target(true);
        return result;
      };
  std::function<absl::StatusOr<v1::TaskResult>(const v1::FineTuneTask&, const Progress&)>
      fine_tune = [](const v1::FineTuneTask&, const Progress&) {
        v1::TaskResult result;
        result.set_model_digest("tuned");
        return result;
      };
  std::function<absl::StatusOr<v1::TaskResult>(const v1::EvaluateTask&)> evaluate =
      [](const v1::EvaluateTask&) {
        v1::TaskResult result;
        result.set_accuracy(0.75);
        return result;
      };
  std::vector<v1::SimplifyTask> simplified;
  std::vector<v1::FineTuneTask> tuned;
  std::vector<v1::EvaluateTask> evaluated;

  absl::StatusOr<v1::TaskResult> Simplify(const WorkerSlot&, const v1::SimplifyTask& task,
                                          const Progress&, Cancellation&) override {
    simplified.push_back(task);
    return simplify(task);
  }
  absl::StatusOr<v1::TaskResult> FineTune(const WorkerSlot&, const v1::FineTuneTask& task,
                                          const Progress& progress, Cancellation&) override {
    tuned.push_back(task);
    return fine_tune(task, progress);
  }
  absl::StatusOr<v1::TaskResult> Evaluate(const WorkerSlot&, const v1::EvaluateTask& task,
                                          const Progress&, Cancellation&) override {
    evaluated.push_back(task);
    return evaluate(task);
  }
  absl::StatusOr<v1::TaskResult> Pretrain(const WorkerSlot&, const v1::PretrainTask&,
                                          const Progress&, Cancellation&) override {
    return absl::InternalError("no Pretrain in a proposal");
  }
};

class ProposalPipelineTest : public testing::ScratchDirectoryTest {
 protected:
  void SetUp() override {
    ScratchDirectoryTest::SetUp();
    NETADAPT_ASSERT_OK_AND_ASSIGN(store_, JobStore::Open(dir_.string()));
    spec_.set_resource_type(v1::RESOURCE_TYPE_FLOPS);
    spec_.set_channel_step(8);
    spec_.set_short_term_fine_tune_iteration(20);
    spec_.set_holdout_size(100);
    FillSpecGroups(spec_);  // resolved, as JobRunner's spec is
    v1::Job job;
    *job.mutable_spec() = spec_;
    job.add_proposals()->set_block(0);
    job.add_proposals()->set_block(1);
    bool created = false;
    NETADAPT_ASSERT_OK_AND_ASSIGN(const v1::Job stored, store_->Create(job, &created));
    record_ = std::make_unique<JobRecord>(stored.name(), *store_, cancellation_,
                                          JobRecordOptions{});
  }

  // A pipeline whose tasks run once, on slot workers/7.
  ProposalPipeline Pipeline() {
    ProposalJob job;
    job.run_task = [this](const std::string&, const std::string&, const TaskFunction& task) {
      return task(TaskAttempt{slot_, 1, attempt_cancellation_});
    };
    job.header = [](int iteration, int block, const std::string& kind, const TaskAttempt&) {
      v1::TaskHeader header;
      header.set_iteration(iteration);
      header.set_block(block);
      header.set_attempt_id(kind);
      return header;
    };
    job.training_task = [](const std::string& digest, int64_t steps, int epochs) {
      v1::FineTuneTask task;
      task.set_model_digest(digest);
      task.set_steps(steps);
      task.set_epochs(epochs);
      return task;
    };
    return ProposalPipeline(spec_, *record_, runner_, cancellation_, absl::ZeroDuration(),
                            std::move(job));
  }

  v1::Proposal Stored(int block) {
    absl::StatusOr<v1::Job> job = record_->Get();
    EXPECT_TRUE(job.ok());
    return job.ok() ? job->proposals(block) : v1::Proposal();
  }

  std::unique_ptr<JobStore> store_;
  v1::JobSpec spec_;
  Cancellation cancellation_;
  Cancellation attempt_cancellation_;
  std::unique_ptr<JobRecord> record_;
  WorkerSlot slot_{"workers/7", "127.0.0.1:1", "cpu", "i"};
  FakeTaskRunner runner_;
};

TEST_F(ProposalPipelineTest, SimplifiesFineTunesAndEvaluatesOneBlock) {
  const ProposalOutcome outcome = Pipeline().Run(/*iteration=*/3, /*block=*/1, "current", 50);
  EXPECT_EQ(outcome.state, v1::Proposal::SUCCEEDED);
  EXPECT_TRUE(outcome.status.ok());

  ASSERT_EQ(runner_.simplified.size(), 1u);
  const v1::SimplifyTask& simplify = runner_.simplified[0];
  EXPECT_EQ(simplify.header().attempt_id(), "simplify");
  EXPECT_EQ(simplify.header().iteration(), 3);
  EXPECT_EQ(simplify.model_digest(), "current");
  EXPECT_EQ(simplify.block(), 1);
  EXPECT_EQ(simplify.target_resource(), 50);
  EXPECT_EQ(simplify.resource_type(), v1::RESOURCE_TYPE_FLOPS);
  EXPECT_EQ(simplify.channel_step(), 8);
  ASSERT_EQ(runner_.tuned.size(), 1u);
  EXPECT_EQ(runner_.tuned[0].model_digest(), "simplified");
  EXPECT_EQ(runner_.tuned[0].steps(), 20);
  EXPECT_EQ(runner_.tuned[0].header().attempt_id(), "fine-tune");
  ASSERT_EQ(runner_.evaluated.size(), 1u);
  EXPECT_EQ(runner_.evaluated[0].model_digest(), "tuned");
  EXPECT_EQ(runner_.evaluated[0].split(), v1::EvaluateTask::HELD_OUT);
  EXPECT_EQ(runner_.evaluated[0].holdout_size(), 100);

  const v1::Proposal stored = Stored(1);
  EXPECT_EQ(stored.state(), v1::Proposal::SUCCEEDED);
  EXPECT_EQ(stored.worker(), "workers/7");
  EXPECT_EQ(stored.width(), 4);
  EXPECT_EQ(stored.resource(), 49);
  EXPECT_EQ(stored.accuracy(), 0.75);
  EXPECT_EQ(stored.model_digest(), "tuned");
  EXPECT_EQ(stored.total_steps(), 20);
  EXPECT_EQ(stored.step(), 20);
  // The other block's proposal is untouched.
  EXPECT_EQ(Stored(0).state(), v1::Proposal::STATE_UNSPECIFIED);
}

TEST_F(ProposalPipelineTest, FineTuningProgressReachesTheProposal) {
  std::vector<int64_t> seen;
  runner_.fine_tune = [&](const v1::FineTuneTask&, const TaskRunner::Progress& progress) {
    v1::TaskProgress step;
    step.set_step(7);
    step.set_total_steps(20);
    progress(step);
    const v1::Proposal now = Stored(0);
    seen.push_back(now.step());
    EXPECT_EQ(now.state(), v1::Proposal::FINE_TUNING);
    v1::TaskResult result;
    result.set_model_digest("tuned");
    return absl::StatusOr<v1::TaskResult>(result);
  };
  EXPECT_EQ(Pipeline().Run(1, 0, "current", 50).state, v1::Proposal::SUCCEEDED);
  EXPECT_THAT(seen, ::testing::ElementsAre(7));
}

TEST_F(ProposalPipelineTest, ATargetNotMetStopsBeforeFineTuning) {
  runner_.simplify = [](const v1::SimplifyTask&) {
    v1::TaskResult result;
    result.set_width(8);
    result.set_resource(60);
    result.set_meets_target(false);
    return absl::StatusOr<v1::TaskResult>(result);
  };
  const ProposalOutcome outcome = Pipeline().Run(1, 0, "current", 50);
  EXPECT_EQ(outcome.state, v1::Proposal::TARGET_NOT_MET);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kFailedPrecondition,
                                       HasSubstr("not below the target 50")));
  EXPECT_TRUE(runner_.tuned.empty());
  const v1::Proposal stored = Stored(0);
  EXPECT_EQ(stored.state(), v1::Proposal::TARGET_NOT_MET);
  EXPECT_EQ(stored.width(), 8);
  EXPECT_EQ(stored.resource(), 60);
  EXPECT_THAT(stored.error(), HasSubstr("even at width 8"));
}

TEST_F(ProposalPipelineTest, AFailedTaskFailsTheProposalWithItsReason) {
  runner_.evaluate = [](const v1::EvaluateTask&) {
    return absl::StatusOr<v1::TaskResult>(absl::InternalError("evaluation broke"));
  };
  const ProposalOutcome outcome = Pipeline().Run(1, 0, "current", 50);
  EXPECT_EQ(outcome.state, v1::Proposal::FAILED);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kInternal));
  const v1::Proposal stored = Stored(0);
  EXPECT_EQ(stored.state(), v1::Proposal::FAILED);
  EXPECT_EQ(stored.error(), "evaluation broke");
}

// A cancelled job records no outcome: a resumed iteration runs the proposal again.
TEST_F(ProposalPipelineTest, ACancelledJobLeavesTheProposalUnfinished) {
  runner_.fine_tune = [&](const v1::FineTuneTask&, const TaskRunner::Progress&) {
    cancellation_.Cancel();
    return absl::StatusOr<v1::TaskResult>(absl::CancelledError("cancelled"));
  };
  const ProposalOutcome outcome = Pipeline().Run(1, 0, "current", 50);
  EXPECT_EQ(outcome.state, v1::Proposal::PENDING);
  EXPECT_THAT(outcome.status, StatusIs(absl::StatusCode::kCancelled));
  const v1::Proposal stored = Stored(0);
  EXPECT_EQ(stored.state(), v1::Proposal::FINE_TUNING);
  EXPECT_TRUE(stored.error().empty());
}

}  // namespace
}  // namespace netadapt::master
