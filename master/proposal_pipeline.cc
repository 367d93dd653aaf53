#include "master/proposal_pipeline.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace netadapt::master {

ProposalPipeline::ProposalPipeline(const v1::JobSpec& spec, JobRecord& record, TaskRunner& tasks,
                                   const Cancellation& cancellation,
                                   absl::Duration progress_interval, ProposalJob job)
    : spec_(spec),
      record_(record),
      tasks_(tasks),
      cancellation_(cancellation),
      progress_interval_(progress_interval),
      job_(std::move(job)) {}

ProposalOutcome ProposalPipeline::Fail(int block, v1::Proposal::State state,
                                       const absl::Status& status) const {
  // A task stopped by the job's cancellation (or the master's shutdown) is no outcome: the
  // proposal stays unfinished, and a resumed iteration runs it again.
  if (cancellation_.cancelled()) return {v1::Proposal::PENDING, absl::CancelledError("cancelled")};
  record_.SetProposal(block, [&](v1::Proposal& p) {
    p.set_state(state);
    p.set_error(std::string(status.message()));
  });
  return {state, status};
}

ProposalOutcome ProposalPipeline::Run(int iteration, int block, const std::string& model_digest,
                                      double target) const {
  const int b = block;
  // Only a proposal's outcome is persisted: its intermediate states reach watchers from
  // memory (each persisted change is an fsync under the store's lock; with 8 parallel
  // blocks they were 2 % of an iteration of 1-second tasks, bench/orchestration_bench).
  record_.SetProposal(b, [](v1::Proposal& p) { p.set_state(v1::Proposal::SIMPLIFYING); }, false);
  absl::Time task_start = absl::Now();
  auto seconds_since = [&task_start] {
    const double seconds = absl::ToDoubleSeconds(absl::Now() - task_start);
    task_start = absl::Now();
    return seconds;
  };
  absl::StatusOr<v1::TaskResult> simplified = job_.run_task(
      "simplify", absl::StrCat("iteration ", iteration, " block ", b, " simplify"),
      [&](const TaskAttempt& attempt) {
        v1::SimplifyTask task;
        *task.mutable_header() = job_.header(iteration, b, "simplify", attempt);
        task.set_model_digest(model_digest);
        task.set_block(b);
        task.set_target_resource(target);
        task.set_resource_type(spec_.resource_type());
        const v1::SearchOptions& search = spec_.search_options();
        task.set_search(search.strategy());
        task.set_binary_threshold(search.binary_threshold());
        task.set_channel_step(search.channel_step());
        if (search.has_certify_tolerance()) task.set_certify_tolerance(search.certify_tolerance());
        record_.SetProposal(
            b, [&](v1::Proposal& p) { p.set_worker(attempt.slot.worker); }, false);
        return tasks_.Simplify(attempt.slot, task, nullptr, attempt.cancellation);
      });
  if (!simplified.ok()) return Fail(b, v1::Proposal::FAILED, simplified.status());
  const double simplify_seconds = seconds_since();
  record_.SetProposal(
      b,
      [&](v1::Proposal& p) {
        p.set_simplify_seconds(simplify_seconds);
        p.set_width(simplified->width());
        p.set_resource(simplified->resource());
      },
      false);
  if (!simplified->meets_target()) {
    return Fail(b, v1::Proposal::TARGET_NOT_MET,
                absl::FailedPreconditionError(absl::StrCat(
                    "even at width ", simplified->width(), " the network's resource ",
                    simplified->resource(), " is not below the target ", target)));
  }

  record_.SetProposal(
      b,
      [&](v1::Proposal& p) {
        p.set_state(v1::Proposal::FINE_TUNING);
        p.set_total_steps(spec_.short_term_fine_tune_iteration());
      },
      false);
  absl::Mutex progress_mu;  // a straggler's backup attempt reports progress too
  absl::Time last_progress = absl::InfinitePast();
  absl::StatusOr<v1::TaskResult> tuned = job_.run_task(
      "fine-tune", absl::StrCat("iteration ", iteration, " block ", b, " fine-tune"),
      [&](const TaskAttempt& attempt) {
        v1::FineTuneTask task = job_.training_task(simplified->model_digest(),
                                                   spec_.short_term_fine_tune_iteration(), 0);
        *task.mutable_header() = job_.header(iteration, b, "fine-tune", attempt);
        record_.SetProposal(
            b, [&](v1::Proposal& p) { p.set_worker(attempt.slot.worker); }, false);
        return tasks_.FineTune(
            attempt.slot, task,
            [&](const v1::TaskProgress& progress) {
              {
                absl::MutexLock lock(&progress_mu);
                if (absl::Now() - last_progress < progress_interval_) return;
                last_progress = absl::Now();
              }
              record_.SetProposal(
                  b,
                  [&](v1::Proposal& p) {
                    p.set_step(progress.step());
                    p.set_total_steps(progress.total_steps());
                  },
                  /*persist=*/false);
            },
            attempt.cancellation);
      });
  if (!tuned.ok()) return Fail(b, v1::Proposal::FAILED, tuned.status());
  const double fine_tune_seconds = seconds_since();
  record_.SetProposal(
      b,
      [&](v1::Proposal& p) {
        p.set_fine_tune_seconds(fine_tune_seconds);
        p.set_state(v1::Proposal::EVALUATING);
        p.set_step(p.total_steps());
      },
      false);

  absl::StatusOr<v1::TaskResult> evaluated = job_.run_task(
      "evaluate", absl::StrCat("iteration ", iteration, " block ", b, " evaluate"),
      [&](const TaskAttempt& attempt) {
        v1::EvaluateTask task;
        *task.mutable_header() = job_.header(iteration, b, "evaluate", attempt);
        task.set_model_digest(tuned->model_digest());
        task.set_dataset(spec_.dataset());
        task.set_holdout_size(spec_.holdout_size());
        task.set_split(v1::EvaluateTask::HELD_OUT);
        return tasks_.Evaluate(attempt.slot, task, nullptr, attempt.cancellation);
      });
  if (!evaluated.ok()) return Fail(b, v1::Proposal::FAILED, evaluated.status());
  const double evaluate_seconds = seconds_since();
  record_.SetProposal(b, [&](v1::Proposal& p) {
    p.set_evaluate_seconds(evaluate_seconds);
    p.set_state(v1::Proposal::SUCCEEDED);
    p.set_accuracy(evaluated->accuracy());
    p.set_model_digest(tuned->model_digest());
  });
  return {v1::Proposal::SUCCEEDED, absl::OkStatus()};
}

}  // namespace netadapt::master
