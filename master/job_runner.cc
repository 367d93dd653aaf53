#include "master/job_runner.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/dataset_random.h"
#include "common/network_blocks.h"
#include "common/network_def_json.h"
#include "common/status_macros.h"
#include "common/uniform_thinning.h"
#include "common/logging.h"
#include "master/job_spec_groups.h"
#include "master/proposal_pipeline.h"
#include "spdlog/spdlog.h"

namespace netadapt::master {
namespace {

std::shared_ptr<spdlog::logger> Log() { return common::Logger("master"); }

// A proposal whose outcome is persisted and final: a resumed iteration keeps it.
// FAILED counts: a proposal fails only after its retries (a cancelled one is not marked), and
// an undisturbed run would have kept it failed.
bool IsFinished(const v1::Proposal& p) {
  return p.state() == v1::Proposal::SUCCEEDED || p.state() == v1::Proposal::TARGET_NOT_MET ||
         p.state() == v1::Proposal::FAILED;
}

}  // namespace

v1::ModelResult JobRunner::Result(const std::string& digest, const common::NetworkDef& network,
                                  double resource, double accuracy, bool measure) {
  v1::ModelResult result;
  result.set_model_digest(digest);
  result.set_resource(resource);
  result.set_accuracy(accuracy);
  for (int32_t width : common::Widths(network)) result.add_widths(width);
  common::AnalyticResourceModel weights(common::ResourceType::kWeights);
  common::AnalyticResourceModel macs(common::ResourceType::kFlops);
  const common::CostContext context;
  if (absl::StatusOr<double> w = common::NetworkResource(network, context, weights); w.ok()) {
    result.set_weights(static_cast<int64_t>(*w));
  }
  if (absl::StatusOr<double> m = common::NetworkResource(network, context, macs); m.ok()) {
    result.set_macs(static_cast<int64_t>(*m));
  }
  *result.mutable_network() = common::NetworkDefToProto(network);
  if (measure && options_.measure_network && spec_.resource_type() == v1::RESOURCE_TYPE_LATENCY) {
    const int rounds = spec_.budget_metric() == v1::BUDGET_METRIC_MEASURED
                           ? std::max(1, options_.budget_measurement_rounds)
                           : 2;
    const EndToEndLatency measured =
        MeasureUntilStable(options_.measure_network, network, rounds,
                           options_.max_measurement_rounds, options_.stable_tolerance);
    if (measured.runs > 0) {
      measured.WriteTo(result, options_.stable_tolerance);
    } else {
      Log()->warn("[job={}] measuring {} end to end failed", job_, common::WidthsString(network));
    }
  }
  return result;
}

int PickBestProposal(const std::vector<v1::Proposal>& proposals, double previous_accuracy,
                     double previous_resource) {
  int best = -1;
  double best_score = 0;
  for (int i = 0; i < static_cast<int>(proposals.size()); ++i) {
    const v1::Proposal& p = proposals[i];
    if (p.state() != v1::Proposal::SUCCEEDED || !(p.resource() < previous_resource)) continue;
    const double score = (previous_accuracy - p.accuracy() + 1e-6) /
                         (previous_resource - p.resource() + 1e-5);
    if (best < 0 || score < best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

// What the loop carries from one iteration to the next.
struct JobRunner::Current {
  common::NetworkDef network;
  std::string model_digest;
  double resource = 0;
  double accuracy = 0;
  double budget = 0;
  double reduction = 0;  // the first iteration's
  // Measured end to end (0: not measured), for a budget on measured latency.
  double measured = 0;
};

bool JobRunner::AboveBudget(const Current& current) const {
  if (spec_.budget_metric() == v1::BUDGET_METRIC_MEASURED && current.measured > 0) {
    return current.measured > current.budget;
  }
  // A network the device could not measure is held to the LUT's sum (which is below the
  // budget too only when the LUT agrees).
  return current.resource > current.budget;
}

JobRunner::JobRunner(std::string job, JobStore& store, WorkerPool& pool, TaskRunner& tasks,
                     common::ResourceModel& resources, Cancellation& cancellation,
                     JobRunnerOptions options)
    : job_(std::move(job)), tasks_(tasks), resources_(resources), cancellation_(cancellation),
      options_(options), dispatcher_(job_, pool, cancellation, options_),
      record_(job_, store, cancellation, options_) {}

void JobRunner::Run() {
  absl::StatusOr<v1::Job> job = record_.Get();
  if (!job.ok()) return;
  spec_ = job->spec();
  FillSpecGroups(spec_);  // a job stored before JobSpec had its groups
  absl::Status status = RunJob(*job);
  if (cancellation_.cancelled() && cancellation_.shutdown() && !status.ok()) {
    // The master is stopping: the job stays as persisted (RUNNING) and resumes at restart.
    Log()->info("[job={}] stopped by the master's shutdown; it resumes when the master restarts",
                job_);
    return;
  }
  if (const absl::Status failure = cancellation_.failure(); !failure.ok()) {
    Fail(failure);
    return;
  }
  if (cancellation_.cancelled() && !cancellation_.shutdown()) {
    (void)record_.Commit([](v1::Job& j) {
      j.set_state(v1::Job::CANCELLED);
      j.set_reason("cancelled by the user");
      j.set_phase(v1::Job::DONE);
    });
    Log()->info("[job={}] cancelled", job_);
    return;
  }
  if (!status.ok()) {
    Fail(status);
    return;
  }
  (void)record_.Commit([](v1::Job& j) {
    j.set_state(v1::Job::SUCCEEDED);
    j.set_phase(v1::Job::DONE);
    j.clear_proposals();
  });
  Log()->info("[job={}] succeeded", job_);
}

void JobRunner::Fail(const absl::Status& status) {
  Log()->error("[job={}] failed: {}", job_, status.ToString());
  (void)record_.Commit([&](v1::Job& j) {
    j.set_state(v1::Job::FAILED);
    j.set_reason(std::string(status.message()));
    j.set_phase(v1::Job::DONE);
  });
}

absl::Status JobRunner::RunJob(const v1::Job& job) {
  NETADAPT_ASSIGN_OR_RETURN(common::NetworkDef network,
                            common::NetworkDefFromProto(spec_.network()));
  Current current;
  current.network = network;
  int first_iteration = 1;
  std::vector<v1::Proposal> resumed;
  if (job.seed().model_digest().empty()) {
    NETADAPT_RETURN_IF_ERROR(record_.Commit([](v1::Job& j) {
                               j.set_state(v1::Job::RUNNING);
                               j.set_phase(v1::Job::PREPARING);
                             }));
    NETADAPT_RETURN_IF_ERROR(Prepare(current));
  } else {
    NETADAPT_RETURN_IF_ERROR(Restore(job, current, first_iteration, resumed));
  }
  for (int iteration = first_iteration;
       iteration <= spec_.max_iters() && AboveBudget(current); ++iteration) {
    if (cancellation_.cancelled()) return absl::CancelledError("cancelled");
    NETADAPT_RETURN_IF_ERROR(Iterate(current, iteration, resumed));
    resumed.clear();  // only the interrupted iteration has any
  }
  if (cancellation_.cancelled()) return absl::CancelledError("cancelled");
  return Finish(current);
}

absl::Status JobRunner::Restore(const v1::Job& job, Current& current, int& first_iteration,
                                std::vector<v1::Proposal>& resumed) {
  const v1::ModelResult& seed = job.seed();
  current.model_digest = seed.model_digest();
  current.resource = seed.resource();
  current.accuracy = seed.accuracy();
  current.measured = seed.measured_latency_ms();
  current.budget = job.budget();
  current.reduction = spec_.init_resource_reduction() > 0
                          ? spec_.init_resource_reduction()
                          : spec_.init_resource_reduction_ratio() * seed.resource();
  if (job.history_size() > 0) {
    const v1::ModelResult& last = job.history(job.history_size() - 1).result();
    NETADAPT_ASSIGN_OR_RETURN(current.network, common::NetworkDefFromProto(last.network()));
    current.model_digest = last.model_digest();
    current.resource = last.resource();
    current.accuracy = last.accuracy();
    current.measured = last.measured_latency_ms();
  }
  first_iteration = job.history_size() + 1;
  // The interrupted iteration's finished proposals (their outcomes were persisted) are kept.
  if (job.phase() == v1::Job::ITERATING && job.current_iteration() == first_iteration) {
    resumed.assign(job.proposals().begin(), job.proposals().end());
  }
  int kept = 0;
  for (const v1::Proposal& p : resumed) kept += IsFinished(p) ? 1 : 0;
  Log()->info("[job={}] resuming after {} iteration(s) (phase {}){}; resource={:.6g} "
              "budget={:.6g}",
              job_, job.history_size(), v1::Job::Phase_Name(job.phase()),
              resumed.empty() ? ""
                              : absl::StrCat(", keeping ", kept,
                                             " finished proposal(s) of iteration ",
                                             first_iteration),
              current.resource, current.budget);
  return record_.Commit(
              [](v1::Job& j) {
                j.set_state(v1::Job::RUNNING);
                if (j.phase() == v1::Job::PREPARING) j.set_phase(v1::Job::ITERATING);
                j.clear_activity();
                j.clear_activity_step();
                j.clear_activity_total();
              });
}

absl::StatusOr<double> JobRunner::Resource(const common::NetworkDef& network) {
  return common::NetworkResource(network, common::CostContext{}, resources_);
}

v1::TaskHeader JobRunner::Header(int iteration, int block, const std::string& kind,
                                 const Attempt& attempt) const {
  v1::TaskHeader header;
  header.set_job(job_);
  header.set_iteration(iteration);
  header.set_block(block);
  // Unique per attempt and per master incarnation, so logs and workers tell attempts apart.
  header.set_attempt_id(absl::StrCat(job_, "/", iteration, "/", block, "/", kind, "/",
                                     attempt.number, "@", options_.master_epoch));
  header.set_master_epoch(options_.master_epoch);
  // Seeds come from (job seed, iteration, block) only: a retried attempt reproduces its result.
  header.set_seed(common::DeriveSeed(common::DeriveSeed(spec_.seed(), iteration), block + 1));
  header.set_job_seed(spec_.seed());
  header.set_device(attempt.slot.device);
  return header;
}

v1::FineTuneTask JobRunner::TrainingTask(const std::string& digest, int64_t steps,
                                         int epochs) const {
  const v1::FineTuning& training = spec_.fine_tuning();
  v1::FineTuneTask task;
  task.set_model_digest(digest);
  task.set_dataset(spec_.dataset());
  task.set_holdout_size(spec_.holdout_size());
  task.set_steps(steps);
  task.set_epochs(epochs);
  task.set_learning_rate(training.learning_rate());
  task.set_momentum(training.momentum());
  task.set_weight_decay(training.weight_decay());
  task.set_batch_size(training.batch_size());
  return task;
}

absl::StatusOr<v1::TaskResult> JobRunner::RunTask(const std::string& kind,
                                                  const std::string& what,
                                                  const TaskFunction& task) {
  absl::StatusOr<v1::TaskResult> result = dispatcher_.Run(kind, what, task);
  if (result.ok()) record_.RecordSkipped(*result);
  return result;
}

absl::Status JobRunner::Prepare(Current& current) {
  v1::PretrainTask pretrain;
  pretrain.set_network_json(common::NetworkDefToJson(current.network));
  pretrain.set_model_digest(spec_.weights_digest());
  *pretrain.mutable_training() = TrainingTask("", 0, spec_.pretrain_epochs());
  pretrain.mutable_training()->set_learning_rate(0.05);  // from scratch: a higher rate
  const std::string preparing = spec_.pretrain_epochs() > 0
                                   ? absl::StrCat("pre-training the seed network (",
                                                  spec_.pretrain_epochs(), " epochs)")
                                   : "preparing the seed network";
  record_.SetActivity(preparing);
  NETADAPT_ASSIGN_OR_RETURN(
      v1::TaskResult seed, RunTask("pretrain", "prepare the seed network", [&](const Attempt& attempt) {
        v1::PretrainTask task = pretrain;
        *task.mutable_header() = Header(0, -1, "pretrain", attempt);
        *task.mutable_training()->mutable_header() = task.header();
        return tasks_.Pretrain(attempt.slot, task, record_.ActivityProgress(preparing), attempt.cancellation);
      }));
  record_.SetActivity("evaluating the seed network on the held-out images");
  current.model_digest = seed.model_digest();
  NETADAPT_ASSIGN_OR_RETURN(
      v1::TaskResult evaluated, RunTask("evaluate", "evaluate the seed network", [&](const Attempt& attempt) {
        v1::EvaluateTask task;
        *task.mutable_header() = Header(0, -1, "evaluate", attempt);
        task.set_model_digest(current.model_digest);
        task.set_dataset(spec_.dataset());
        task.set_holdout_size(spec_.holdout_size());
        task.set_split(v1::EvaluateTask::HELD_OUT);
        return tasks_.Evaluate(attempt.slot, task, nullptr, attempt.cancellation);
      }));
  current.accuracy = evaluated.accuracy();
  NETADAPT_ASSIGN_OR_RETURN(current.resource, Resource(current.network));
  const v1::ModelResult seed_result =
      Result(seed.model_digest(), current.network, current.resource, current.accuracy);
  current.measured = seed_result.measured_latency_ms();
  const bool on_measured = spec_.budget_metric() == v1::BUDGET_METRIC_MEASURED;
  if (on_measured && current.measured <= 0) {
    return absl::UnavailableError(
        "the budget is on measured latency, but the seed network could not be measured on the "
        "device");
  }
  const double base = on_measured ? current.measured : current.resource;
  current.budget = spec_.budget() > 0 ? spec_.budget() : spec_.budget_ratio() * base;
  current.reduction = spec_.init_resource_reduction() > 0
                          ? spec_.init_resource_reduction()
                          : spec_.init_resource_reduction_ratio() * current.resource;
  Log()->info("[job={}] seed: resource={:.6g} measured={:.6g} budget={:.6g}{} accuracy={:.4f}",
              job_, current.resource, current.measured, current.budget,
              on_measured ? " (measured)" : "", current.accuracy);
  return record_.Commit(
              [&](v1::Job& j) {
                *j.mutable_seed() = seed_result;
                if (current.measured > 0) {
                  j.set_lut_overhead_ms(current.measured - current.resource);
                }
                j.clear_activity();
                j.clear_activity_step();
                j.clear_activity_total();
                j.set_budget(current.budget);
                j.set_phase(v1::Job::ITERATING);
              });
}

absl::Status JobRunner::Iterate(Current& current, int iteration,
                                const std::vector<v1::Proposal>& resumed) {
  const absl::Time start = absl::Now();
  const double step_target =
      current.resource - current.reduction * std::pow(spec_.resource_reduction_decay(),
                                                      iteration - 1);
  // The last step aims at the budget, not past it: a full reduction below the budget overshoots
  // it (a job stopped at 0.41 of the seed for a 0.5 budget), and on a small network it can ask
  // for more than any block can give (no proposal reaches the target, the job fails) when the
  // budget itself is reachable. With a budget on measured latency the LUT's budget is only a
  // guide, so the steps stay whole there.
  const double target = spec_.budget_metric() == v1::BUDGET_METRIC_MEASURED
                            ? step_target
                            : std::max(step_target, current.budget);
  NETADAPT_ASSIGN_OR_RETURN(std::vector<common::Block> blocks,
                            common::FindBlocks(current.network));
  if (blocks.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(current.network.name, " has no prunable block"));
  }
  // A resumed iteration keeps the proposals that had finished before the master stopped.
  std::vector<bool> finished(blocks.size(), false);
  if (resumed.size() == blocks.size()) {
    for (size_t b = 0; b < blocks.size(); ++b) finished[b] = IsFinished(resumed[b]);
  }
  NETADAPT_RETURN_IF_ERROR(record_.Commit([&](v1::Job& j) {
                             j.set_current_iteration(iteration);
                             j.set_current_target(target);
                             j.clear_proposals();
                             for (int b = 0; b < static_cast<int>(blocks.size()); ++b) {
                               v1::Proposal& p = *j.add_proposals();
                               if (finished[b]) {
                                 p = resumed[b];
                                 continue;
                               }
                               p.set_block(b);
                               p.set_layer(blocks[b].Description(current.network));
                               p.set_state(v1::Proposal::PENDING);
                             }
                           }));
  Log()->info("[job={} iter={}] target={:.6g} blocks={}{}", job_, iteration, target,
              blocks.size(),
              resumed.empty() ? ""
                              : absl::StrCat(" (resumed: ",
                                             std::count(finished.begin(), finished.end(), true),
                                             " finished)"));

  // One thread per block: each waits for free workers, so the pool decides the parallelism.
  const ProposalPipeline pipeline(
      spec_, record_, tasks_, cancellation_, options_.progress_interval,
      ProposalJob{[this](const std::string& kind, const std::string& what,
                         const TaskFunction& task) { return RunTask(kind, what, task); },
                  [this](int iteration, int block, const std::string& kind,
                         const Attempt& attempt) {
                    return Header(iteration, block, kind, attempt);
                  },
                  [this](const std::string& digest, int64_t steps, int epochs) {
                    return TrainingTask(digest, steps, epochs);
                  }});
  std::vector<std::thread> threads;
  for (int b = 0; b < static_cast<int>(blocks.size()); ++b) {
    if (finished[b]) continue;
    // The outcome is in the job's proposal, which the choice below reads.
    threads.emplace_back([&, b] { pipeline.Run(iteration, b, current.model_digest, target); });
  }
  for (std::thread& thread : threads) thread.join();
  if (cancellation_.cancelled()) return absl::CancelledError("cancelled");

  NETADAPT_ASSIGN_OR_RETURN(v1::Job job, record_.Get());
  const std::vector<v1::Proposal> proposals(job.proposals().begin(), job.proposals().end());
  const int best = PickBestProposal(proposals, current.accuracy, current.resource);
  if (best < 0) {
    std::string reasons;
    for (const v1::Proposal& p : proposals) {
      absl::StrAppend(&reasons, "; block ", p.block(), " (", p.layer(), "): ",
                      v1::Proposal::State_Name(p.state()),
                      p.error().empty() ? "" : absl::StrCat(" ", p.error()));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "iteration ", iteration, ": no proposal reaches the target ", target, reasons));
  }
  const v1::Proposal& chosen = proposals[best];
  current.network = common::WithBlockWidth(current.network, blocks[best], chosen.width());
  current.model_digest = chosen.model_digest();
  current.resource = chosen.resource();
  current.accuracy = chosen.accuracy();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  Log()->info("[job={} iter={}] chose block {} ({}) width={} resource={:.6g} accuracy={:.4f} "
              "in {:.1f} s",
              job_, iteration, best, chosen.layer(), chosen.width(), current.resource,
              current.accuracy, seconds);
  const v1::ModelResult chosen_result =
      Result(current.model_digest, current.network, current.resource, current.accuracy);
  current.measured = chosen_result.measured_latency_ms();
  return record_.Commit(
              [&](v1::Job& j) {
                v1::Iteration& it = *j.add_history();
                it.set_iteration(iteration);
                it.set_target_resource(target);
                it.set_chosen_block(best);
                it.set_chosen_layer(chosen.layer());
                *it.mutable_result() = chosen_result;
                it.set_duration_seconds(seconds);
                *it.mutable_proposals() = j.proposals();
                for (const v1::Proposal& p : j.proposals()) {
                  it.set_simplify_seconds(std::max(it.simplify_seconds(), p.simplify_seconds()));
                  it.set_fine_tune_seconds(std::max(it.fine_tune_seconds(), p.fine_tune_seconds()));
                  it.set_evaluate_seconds(std::max(it.evaluate_seconds(), p.evaluate_seconds()));
                }
                j.set_best_iteration(j.history_size() - 1);
              });
}

namespace {

// Blocks in the headers of the finishing tasks (iteration max_iters + 1): each task has its own
// seed and attempt ids.
constexpr int kFinalBlock = -1;          // the final network: long-term fine-tune, test split
constexpr int kSeedTestBlock = -2;       // the seed on the test split
constexpr int kUniformBlock = -3;        // the uniform baseline
constexpr int kSeedFineTunedBlock = -4;  // the seed with the lineage's training budget

}  // namespace

// The lines of what the finishing tasks, which run in parallel, are doing: the job's activity
// joins them; its progress is the final network's. mu_ is held while the job is updated, so
// that the job shows the latest change (lock order: this, then the store's).
class JobRunner::FinishActivity {
 public:
  explicit FinishActivity(JobRunner& runner) : runner_(runner) {}

  void Set(int line, std::string text) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (text.empty()) {
      lines_.erase(line);
    } else {
      lines_[line] = std::move(text);
    }
    PublishLocked(/*persist=*/true);
  }

  // Progress of line 0's task (the final network's), at most every progress_interval.
  TaskRunner::Progress Progress() {
    return [this](const v1::TaskProgress& progress) {
      absl::MutexLock lock(&mu_);
      if (absl::Now() - last_ < runner_.options_.progress_interval) return;
      last_ = absl::Now();
      step_ = progress.step();
      total_ = progress.total_steps();
      PublishLocked(/*persist=*/false);
    };
  }

 private:
  void PublishLocked(bool persist) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<std::string> texts;
    for (const auto& [line, text] : lines_) texts.push_back(text);
    runner_.record_.SetActivity(absl::StrJoin(texts, "; "), lines_.count(0) > 0 ? step_ : 0,
                        lines_.count(0) > 0 ? total_ : 0, persist);
  }

  JobRunner& runner_;
  absl::Mutex mu_;
  std::map<int, std::string> lines_ ABSL_GUARDED_BY(mu_);
  int64_t step_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

absl::StatusOr<JobRunner::Trained> JobRunner::TrainAndTest(const std::string& digest, int block,
                                                           const std::string& what,
                                                           int64_t steps, int epochs,
                                                           FinishActivity& activity, int line) {
  const int iteration = spec_.max_iters() + 1;
  // The line says what runs once a worker runs it; until then that the task waits for one.
  auto fine_tune = [&](int64_t task_steps, int task_epochs, const std::string& kind,
                       const std::string& digest_in,
                       const std::string& doing) -> absl::StatusOr<v1::TaskResult> {
    activity.Set(line, absl::StrCat(what, ": waiting for a worker to ", doing));
    return RunTask(kind, absl::StrCat(what, " ", kind), [&](const Attempt& attempt) {
      activity.Set(line, absl::StrCat(what, ": ", doing));
      v1::FineTuneTask task = TrainingTask(digest_in, task_steps, task_epochs);
      *task.mutable_header() = Header(iteration, block, kind, attempt);
      return tasks_.FineTune(attempt.slot, task, line == 0 ? activity.Progress() : nullptr,
                             attempt.cancellation);
    });
  };
  Trained trained;
  trained.digest = digest;
  if (steps > 0) {
    // Its own kind: longer than a proposal's fine-tune, it must not look like a straggler.
    NETADAPT_ASSIGN_OR_RETURN(
        v1::TaskResult tuned,
        fine_tune(steps, 0, "baseline fine-tune", trained.digest,
                  absl::StrCat("fine-tune ", steps, " steps")));
    trained.digest = tuned.model_digest();
  }
  if (epochs > 0) {
    NETADAPT_ASSIGN_OR_RETURN(
        v1::TaskResult tuned,
        fine_tune(0, epochs, "long-term fine-tune", trained.digest,
                  absl::StrCat("fine-tune long-term (", epochs,
                               epochs == 1 ? " epoch)" : " epochs)")));
    trained.digest = tuned.model_digest();
  }
  activity.Set(line, absl::StrCat(what, ": waiting for a worker to evaluate on the test split"));
  NETADAPT_ASSIGN_OR_RETURN(
      v1::TaskResult evaluated,
      RunTask("evaluate test", absl::StrCat(what, " evaluate on the test split"),
              [&](const Attempt& attempt) {
                activity.Set(line, absl::StrCat(what, ": evaluate on the test split"));
                v1::EvaluateTask task;
                *task.mutable_header() = Header(iteration, block, "evaluate test", attempt);
                task.set_model_digest(trained.digest);
                task.set_dataset(spec_.dataset());
                task.set_holdout_size(spec_.holdout_size());
                task.set_split(v1::EvaluateTask::TEST);
                return tasks_.Evaluate(attempt.slot, task, nullptr, attempt.cancellation);
              }));
  activity.Set(line, "");
  trained.accuracy = evaluated.accuracy();
  return trained;
}

absl::Status JobRunner::Finish(Current& current) {
  NETADAPT_RETURN_IF_ERROR(record_.Commit([](v1::Job& j) {
                             j.set_phase(v1::Job::FINISHING);
                             j.clear_proposals();
                           }));
  NETADAPT_ASSIGN_OR_RETURN(const v1::Job job, record_.Get());
  NETADAPT_ASSIGN_OR_RETURN(const common::NetworkDef seed_network,
                            common::NetworkDefFromProto(spec_.network()));
  const std::string seed_digest = job.seed().model_digest();
  const double seed_resource = job.seed().resource();

  // The uniform baseline's plan. Its widths come from the LUT before any training starts:
  // entries the profiler measures now are measured on an idle machine.
  const int iterations = job.history_size();
  const int64_t lineage_steps = iterations * spec_.short_term_fine_tune_iteration();
  const int lineage_epochs = spec_.long_term_fine_tune_epochs();
  const bool baseline = !spec_.has_uniform_baseline() || spec_.uniform_baseline();
  v1::UniformBaseline uniform;
  std::optional<common::UniformThinning> thinning;
  if (baseline) {
    uniform.set_fine_tune_steps(lineage_steps);
    uniform.set_fine_tune_epochs(lineage_epochs);
    if (iterations == 0) {
      uniform.set_state(v1::UniformBaseline::SKIPPED);
      uniform.set_reason("no iteration ran: the seed is the final network");
    } else {
      record_.SetActivity("uniform baseline: thinning every block by one multiplier to the final "
                  "network's resource");
      absl::StatusOr<common::UniformThinning> matched = common::MatchUniformThinning(
          seed_network, current.resource, spec_.channel_step(), resources_);
      if (cancellation_.cancelled()) return absl::CancelledError("cancelled");
      if (matched.ok()) {
        thinning = *std::move(matched);
        uniform.set_state(v1::UniformBaseline::RUNNING);
        uniform.set_width_multiplier(thinning->multiplier);
        for (int width : thinning->widths) uniform.add_block_widths(width);
        Log()->info("[job={}] uniform baseline: x{:.3f}, widths {}, resource {:.6g} (final {:.6g})",
                    job_, thinning->multiplier, common::WidthsString(thinning->network),
                    thinning->resource, current.resource);
      } else {
        uniform.set_state(v1::UniformBaseline::FAILED);
        uniform.set_reason(absl::StrCat("thinning the seed uniformly: ",
                                        matched.status().message()));
      }
    }
    NETADAPT_RETURN_IF_ERROR(record_.Commit([&](v1::Job& j) { *j.mutable_uniform_baseline() = uniform; }));
  }

  // In parallel, as workers are free: the final network (long-term fine-tune, test split), the
  // seed on the test split, and the baselines.
  FinishActivity activity(*this);
  absl::StatusOr<Trained> final_trained = absl::UnknownError("not run");
  absl::StatusOr<Trained> seed_tested = absl::UnknownError("not run");
  absl::StatusOr<Trained> uniform_trained = absl::UnknownError("not run");
  absl::StatusOr<Trained> seed_trained = absl::UnknownError("not run");
  std::vector<std::thread> chains;
  chains.emplace_back([&] {
    final_trained = TrainAndTest(current.model_digest, kFinalBlock, "final network", 0,
                                 lineage_epochs, activity, 0);
  });
  chains.emplace_back([&] {
    seed_tested = TrainAndTest(seed_digest, kSeedTestBlock, "seed", 0, 0, activity, 1);
  });
  if (thinning) {
    chains.emplace_back([&] {
      activity.Set(2, "uniform baseline: waiting for a worker to prune");
      absl::StatusOr<v1::TaskResult> pruned = RunTask(
          "simplify", "uniform baseline prune", [&](const Attempt& attempt) {
            activity.Set(2, "uniform baseline: prune");
            v1::SimplifyTask task;
            *task.mutable_header() =
                Header(spec_.max_iters() + 1, kUniformBlock, "simplify", attempt);
            task.set_model_digest(seed_digest);
            task.set_resource_type(spec_.resource_type());
            task.set_channel_step(spec_.channel_step());
            for (int width : thinning->widths) task.add_block_widths(width);
            return tasks_.Simplify(attempt.slot, task, nullptr, attempt.cancellation);
          });
      if (!pruned.ok()) {
        uniform_trained = pruned.status();
        activity.Set(2, "");
        return;
      }
      uniform_trained = TrainAndTest(pruned->model_digest(), kUniformBlock, "uniform baseline",
                                     lineage_steps, lineage_epochs, activity, 2);
    });
    chains.emplace_back([&] {
      seed_trained = TrainAndTest(seed_digest, kSeedFineTunedBlock, "seed with the same training",
                                  lineage_steps, lineage_epochs, activity, 3);
    });
  }
  for (std::thread& chain : chains) chain.join();
  if (cancellation_.cancelled()) return absl::CancelledError("cancelled");
  NETADAPT_RETURN_IF_ERROR(final_trained.status());
  current.model_digest = final_trained->digest;

  // The final measurement: the seed, the final network and the uniform baseline the same
  // number of times each, interleaved (each round in another order), after all training, each
  // keeping its fastest median. A burst of load on the device then hits them alike, and none
  // is favoured by more tries.
  v1::ModelResult final_result = Result(current.model_digest, current.network, current.resource,
                                        final_trained->accuracy, /*measure=*/false);
  final_result.set_test_accuracy(final_trained->accuracy);
  struct Measured {
    const common::NetworkDef* network;
    EndToEndLatency end_to_end;
  };
  std::vector<Measured> measured = {{&seed_network, {}}, {&current.network, {}}};
  if (thinning) measured.push_back({&thinning->network, {}});
  const bool measure =
      options_.measure_network && spec_.resource_type() == v1::RESOURCE_TYPE_LATENCY;
  if (measure) {
    record_.SetActivity(absl::StrCat("measuring the seed, the final network",
                             thinning ? " and the uniform baseline" : "", " on the device (",
                             options_.final_measurement_rounds, " times each, interleaved)"));
    for (int round = 0; round < options_.final_measurement_rounds; ++round) {
      for (size_t k = 0; k < measured.size(); ++k) {
        Measured& m = measured[(round + k) % measured.size()];
        absl::StatusOr<double> ms = options_.measure_network(*m.network);
        if (ms.ok()) m.end_to_end.Add(*ms);
      }
    }
    measured[1].end_to_end.WriteTo(final_result, options_.stable_tolerance);
  }

  if (thinning) {
    v1::ModelResult* result = uniform.mutable_result();
    if (uniform_trained.ok()) {
      *result = Result(uniform_trained->digest, thinning->network, thinning->resource,
                       uniform_trained->accuracy, /*measure=*/false);
      result->set_test_accuracy(uniform_trained->accuracy);
    } else {
      *result = Result("", thinning->network, thinning->resource, 0, /*measure=*/false);
      uniform.set_state(v1::UniformBaseline::FAILED);
      uniform.set_reason(std::string(uniform_trained.status().message()));
      Log()->warn("[job={}] the uniform baseline failed: {}", job_,
                  uniform_trained.status().ToString());
    }
    if (measure) measured[2].end_to_end.WriteTo(*result, options_.stable_tolerance);
    v1::ModelResult* seed_result = uniform.mutable_seed_fine_tuned();
    if (seed_trained.ok()) {
      *seed_result = Result(seed_trained->digest, seed_network, seed_resource,
                            seed_trained->accuracy, /*measure=*/false);
      seed_result->set_test_accuracy(seed_trained->accuracy);
    } else if (uniform.state() != v1::UniformBaseline::FAILED) {
      uniform.set_state(v1::UniformBaseline::FAILED);
      uniform.set_reason(absl::StrCat("the seed with the same training: ",
                                      seed_trained.status().message()));
      Log()->warn("[job={}] fine-tuning the seed with the lineage's budget failed: {}", job_,
                  seed_trained.status().ToString());
    }
    if (measure) measured[0].end_to_end.WriteTo(*seed_result, options_.stable_tolerance);
    if (uniform.state() == v1::UniformBaseline::RUNNING) {
      uniform.set_state(v1::UniformBaseline::SUCCEEDED);
      Log()->info("[job={}] adapted vs uniform at equal resource ({:.6g} vs {:.6g}), test split: "
                  "accuracy {:.4f} vs {:.4f} (the seed with the same training: {:.4f})",
                  job_, current.resource, thinning->resource, final_trained->accuracy,
                  uniform_trained->accuracy, seed_trained->accuracy);
    }
  }
  if (!seed_tested.ok()) {
    Log()->warn("[job={}] evaluating the seed on the test split failed: {}", job_,
                seed_tested.status().ToString());
  }
  return record_.Commit([&](v1::Job& j) {
    *j.mutable_final() = final_result;
    if (measure && measured[0].end_to_end.runs > 0) {
      measured[0].end_to_end.WriteTo(*j.mutable_seed(), options_.stable_tolerance);
    }
    if (seed_tested.ok()) j.mutable_seed()->set_test_accuracy(seed_tested->accuracy);
    if (baseline) *j.mutable_uniform_baseline() = uniform;
    j.clear_activity();
    j.clear_activity_step();
    j.clear_activity_total();
  });
}

}  // namespace netadapt::master
