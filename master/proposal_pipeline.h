#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "master/cancellation.h"
#include "master/job_record.h"
#include "master/task_dispatcher.h"
#include "master/task_runner.h"
#include "netadapt/v1/resources.pb.h"
#include "netadapt/v1/worker_service.pb.h"

namespace netadapt::master {

// How a proposal pipeline reaches its job (JobRunner supplies these).
struct ProposalJob {
  // Runs a task of kind `kind` ("simplify", "fine-tune", "evaluate"), named `what` in logs,
  // until one attempt gives its result (master/task_dispatcher.h); the job's dispatcher.
  std::function<absl::StatusOr<v1::TaskResult>(const std::string& kind, const std::string& what,
                                               const TaskFunction& task)>
      run_task;
  // The header of one attempt of task `kind` of (iteration, block).
  std::function<v1::TaskHeader(int iteration, int block, const std::string& kind,
                               const TaskAttempt& attempt)>
      header;
  // The job's FineTune task for `digest`: `steps` at the constant rate, then `epochs` with the
  // cosine schedule. Without a header.
  std::function<v1::FineTuneTask(const std::string& digest, int64_t steps, int epochs)>
      training_task;
};

// What became of one proposal.
struct ProposalOutcome {
  // SUCCEEDED, TARGET_NOT_MET or FAILED, as recorded (persisted) in the job's proposal.
  // PENDING when the job was cancelled: no outcome is recorded then.
  v1::Proposal::State state = v1::Proposal::PENDING;
  // OK for SUCCEEDED; CANCELLED for PENDING; else why (the proposal's error).
  absl::Status status;
};

// One block's proposal in one NetAdapt iteration (DESIGN.md section 3): Simplify the current
// model to the iteration's target (TARGET_NOT_MET when even the narrowest width misses it),
// fine-tune the result short-term, evaluate it on the held-out split. Each task goes through
// the job's dispatcher; the proposal in the JobRecord follows every step (state, worker,
// width, resource, fine-tuning progress at most every `progress_interval`, each step's
// seconds) and only its outcome is persisted. Thread-safe: an iteration runs one Run per block
// in parallel; the pipeline holds references only, which must outlive it.
class ProposalPipeline {
 public:
  // `spec` is resolved: both its flat fields and its groups filled (FillSpecGroups).
  ProposalPipeline(const v1::JobSpec& spec, JobRecord& record, TaskRunner& tasks,
                   const Cancellation& cancellation, absl::Duration progress_interval,
                   ProposalJob job);

  // Runs block `block`'s proposal of iteration `iteration` from `model_digest` (the current
  // network) towards `target` (the job's resource). Task errors end in a FAILED proposal
  // after the dispatcher's retries; a cancelled job leaves the proposal unfinished, so that a
  // resumed iteration runs it again.
  ProposalOutcome Run(int iteration, int block, const std::string& model_digest,
                      double target) const;

 private:
  // Records the outcome `state` with `status`'s message, unless the job was cancelled.
  ProposalOutcome Fail(int block, v1::Proposal::State state, const absl::Status& status) const;

  const v1::JobSpec& spec_;
  JobRecord& record_;
  TaskRunner& tasks_;
  const Cancellation& cancellation_;
  const absl::Duration progress_interval_;
  const ProposalJob job_;
};

}  // namespace netadapt::master
