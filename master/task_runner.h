#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "master/cancellation.h"
#include "master/worker_pool.h"
#include "netadapt/v1/worker_service.pb.h"

namespace netadapt::master {

// Runs one task on one worker slot and waits for its result; `progress` sees the task's
// progress messages. Cancelled (and the remote task stopped) when `cancellation` fires.
// Unavailable / DeadlineExceeded mean the worker or the network failed (the task may be
// retried elsewhere); other codes are the task's own failure. Implementations are
// thread-safe: many tasks run at once. The interface keeps the job logic free of gRPC.
class TaskRunner {
 public:
  using Progress = std::function<void(const v1::TaskProgress&)>;
  virtual ~TaskRunner() = default;
  virtual absl::StatusOr<v1::TaskResult> Simplify(const WorkerSlot& slot,
                                                  const v1::SimplifyTask& task,
                                                  const Progress& progress,
                                                  Cancellation& cancellation) = 0;
  virtual absl::StatusOr<v1::TaskResult> FineTune(const WorkerSlot& slot,
                                                  const v1::FineTuneTask& task,
                                                  const Progress& progress,
                                                  Cancellation& cancellation) = 0;
  virtual absl::StatusOr<v1::TaskResult> Evaluate(const WorkerSlot& slot,
                                                  const v1::EvaluateTask& task,
                                                  const Progress& progress,
                                                  Cancellation& cancellation) = 0;
  virtual absl::StatusOr<v1::TaskResult> Pretrain(const WorkerSlot& slot,
                                                  const v1::PretrainTask& task,
                                                  const Progress& progress,
                                                  Cancellation& cancellation) = 0;
};

// Failures of the worker or the network rather than of the task: worth retrying elsewhere.
inline bool IsInfrastructureFailure(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsAborted(status);
}

}  // namespace netadapt::master
