#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/network_def.h"
#include "common/resource_model.h"
#include "master/end_to_end_latency.h"
#include "master/cancellation.h"
#include "master/job_record.h"
#include "master/job_store.h"
#include "master/task_dispatcher.h"
#include "master/task_runner.h"
#include "master/worker_pool.h"

namespace netadapt::master {

// The dispatch options (retries, backoff, stragglers: master/task_dispatcher.h), the record's
// (disk-full retries, progress throttling: master/job_record.h) and the job's own; one
// struct, so that callers set any of them alike.
struct JobRunnerOptions : TaskDispatchOptions, JobRecordOptions {
  // Identifies this master process in task headers (stale attempts are refused later).
  int64_t master_epoch = 0;
  // When set (LATENCY jobs), the seed, every chosen network and the final one are measured
  // end to end, so the history shows the LUT's prediction next to the device's answer.
  NetworkMeasurer measure_network;
  // At the end of a job the seed, the final network and the uniform baseline are measured
  // this many times each, interleaved; each keeps its fastest median.
  int final_measurement_rounds = 5;
  // Jobs whose budget is on measured latency (BUDGET_METRIC_MEASURED) measure the seed and
  // each chosen network this many times and keep the fastest.
  int budget_measurement_rounds = 3;
  // The seed and each chosen network are measured at least twice (budget_measurement_rounds
  // times for a budget on measured latency) and again until their two fastest measurements
  // agree within stable_tolerance, at most max_measurement_rounds times; the fastest is kept
  // and the slowest shown beside it.
  int max_measurement_rounds = 5;
  double stable_tolerance = 0.05;
};

// Runs one NetAdapt job to its end (DESIGN.md section 3), recording everything in the
// JobStore: prepares the seed network (a Pretrain task imports or initialises and optionally
// pre-trains it; an Evaluate task measures its held-out accuracy), then iterates: for every
// block, in parallel over the workers, Simplify -> FineTune -> Evaluate; picks the proposal
// with the smallest accuracy loss per resource saved; stops at the budget or max_iters;
// optionally fine-tunes the result long-term and evaluates it on the test split. Then, unless
// the spec turns it off, builds the uniform baseline (the seed thinned by one multiplier to the
// final network's resource) and fine-tunes it and the seed with the final network's training
// budget, in parallel with the final network's tasks; the seed is evaluated on the test split
// too, and the seed, the final network and the baseline are measured alike.
// Transport-free: tasks go through TaskRunner, workers through WorkerPool.
class JobRunner {
 public:
  // `job` must be stored already with its spec resolved (JobManager does): spec.network set,
  // defaults filled in. `resources` costs networks for the job's resource type.
  JobRunner(std::string job, JobStore& store, WorkerPool& pool, TaskRunner& tasks,
            common::ResourceModel& resources, Cancellation& cancellation,
            JobRunnerOptions options);

  // Runs to a terminal state (SUCCEEDED, FAILED with the reason, CANCELLED), or, when the
  // cancellation is the master's Shutdown, stops leaving the job RUNNING as persisted.
  // A job that already ran (its seed is stored) resumes where it was persisted: after its
  // last finished iteration, keeping the finished proposals (SUCCEEDED, TARGET_NOT_MET) of
  // the interrupted one and re-running the others, so that it ends as an undisturbed run
  // with the same seed would.
  void Run();

 private:
  struct Current;
  absl::Status RunJob(const v1::Job& job);
  absl::Status Prepare(Current& current);
  // Rebuilds `current` from the persisted seed and history; `first_iteration` is the next
  // one to run, `resumed` its persisted proposals when it was interrupted.
  absl::Status Restore(const v1::Job& job, Current& current, int& first_iteration,
                       std::vector<v1::Proposal>& resumed);
  // `resumed`: the persisted proposals of this iteration when it resumes (else empty).
  absl::Status Iterate(Current& current, int iteration,
                       const std::vector<v1::Proposal>& resumed);
  absl::Status Finish(Current& current);
  class FinishActivity;
  struct Trained {
    std::string digest;
    double accuracy = 0;  // on the test split
  };
  // Fine-tunes `digest` `steps` steps at the constant rate, then `epochs` epochs with the
  // cosine schedule (either may be 0), and evaluates the result on the test split; tasks have
  // header block `block` and are named after `what`; line `line` of `activity` shows them.
  absl::StatusOr<Trained> TrainAndTest(const std::string& digest, int block,
                                       const std::string& what, int64_t steps, int epochs,
                                       FinishActivity& activity, int line);
  // Whether `current` is still above the job's budget (the LUT's or the measured latency).
  bool AboveBudget(const Current& current) const;
  using Attempt = TaskAttempt;
  // The dispatcher's Run, and the files the task's dataset left out reach the job.
  absl::StatusOr<v1::TaskResult> RunTask(const std::string& kind, const std::string& what,
                                         const TaskFunction& task);
  v1::TaskHeader Header(int iteration, int block, const std::string& kind,
                        const Attempt& attempt) const;
  // A FineTune task of the job's training options (dataset, held-out split, rate, momentum,
  // weight decay, batch size): `steps` at the constant rate, then `epochs` with the cosine
  // schedule, from `digest`. Without a header.
  v1::FineTuneTask TrainingTask(const std::string& digest, int64_t steps, int epochs) const;
  absl::StatusOr<double> Resource(const common::NetworkDef& network);
  // The network's ModelResult: digest, resource, accuracy, widths, weights, MACs, definition
  // and, for LATENCY jobs with a profiler when `measure`, the latency measured end to end until
  // stable (at least budget_measurement_rounds times for a budget on measured latency, else
  // twice).
  v1::ModelResult Result(const std::string& digest, const common::NetworkDef& network,
                         double resource, double accuracy, bool measure = true);
  void Fail(const absl::Status& status);

  const std::string job_;
  TaskRunner& tasks_;
  common::ResourceModel& resources_;
  Cancellation& cancellation_;
  const JobRunnerOptions options_;
  v1::JobSpec spec_;
  TaskDispatcher dispatcher_;
  JobRecord record_;
};

// Defined in common/network_def.h; named here too for the callers that write master::Widths.
using common::Widths;

// The original implementation's rule for the best proposal: the smallest
// (acc_prev - acc + 1e-6) / (resource_prev - resource + 1e-5) among proposals whose resource
// is below resource_prev. Index into `proposals`, or -1 when none qualifies.
int PickBestProposal(const std::vector<v1::Proposal>& proposals, double previous_accuracy,
                     double previous_resource);

}  // namespace netadapt::master
