#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "master/cancellation.h"
#include "master/worker_pool.h"
#include "netadapt/v1/worker_service.pb.h"

namespace netadapt::master {

// How a job's tasks are dispatched to workers: retries, backoff, stragglers.
struct TaskDispatchOptions {
  // Attempts of a task that fails by itself (INTERNAL, RESOURCE_EXHAUSTED, ... on a worker
  // that stays up) before its proposal fails with the reason. Failures that a retry cannot
  // change (INVALID_ARGUMENT, FAILED_PRECONDITION, NOT_FOUND, ...) fail it at once.
  int max_task_attempts = 3;
  // Infrastructure failures (the worker died, missed its heartbeats or was unreachable; the
  // task deadline passed) do not use up max_task_attempts: the task is retried on another
  // worker, after a jittered backoff from `infrastructure_backoff` doubling to 5 s, up to
  // this many times. The bound stops a task that kills every worker it runs on.
  int max_infrastructure_retries = 10;
  absl::Duration infrastructure_backoff = absl::Milliseconds(100);
  // A task running longer than straggler_factor x the median duration of the job's finished
  // tasks of its kind (and at least straggler_min_duration) gets a backup attempt on an idle
  // worker; the first result wins and the other attempt is cancelled. 0 turns it off.
  double straggler_factor = 3;
  absl::Duration straggler_min_duration = absl::Seconds(30);
  // What the straggler rule and the backoff measure time with.
  common::Clock* clock = common::RealClock();
};

// One attempt of a task: where it runs, its number among the task's attempts, and the
// cancellation its RPC must honour (the job's cancellation, the loss of its worker, or
// another attempt's result winning the race).
struct TaskAttempt {
  const WorkerSlot& slot;
  int number;
  Cancellation& cancellation;
};
using TaskFunction = std::function<absl::StatusOr<v1::TaskResult>(const TaskAttempt&)>;

// Runs one job's tasks on the pool's workers until each gives exactly one result.
// Thread-safe: a job runs the tasks of its proposals in parallel through one dispatcher.
class TaskDispatcher {
 public:
  // `job` names the job in logs and slot claims; `cancellation` is the job's.
  TaskDispatcher(std::string job, WorkerPool& pool, Cancellation& cancellation,
                 TaskDispatchOptions options);

  // Runs `task` on a free slot until one attempt succeeds: retries infrastructure failures
  // elsewhere (not counted against max_task_attempts), retries the task's own failures up to
  // max_task_attempts, and races a backup attempt against a straggler. Exactly one result is
  // returned; a late result of another attempt is refused (logged). `kind` groups durations
  // for the straggler rule; `what` names the task in errors. Cancelled when the job is.
  absl::StatusOr<v1::TaskResult> Run(const std::string& kind, const std::string& what,
                                     const TaskFunction& task);

 private:
  // One slot's attempt, raced against a backup when it straggles. `number` counts attempts.
  absl::StatusOr<v1::TaskResult> RunAttempts(const std::string& kind, const std::string& what,
                                             const WorkerSlot& slot, int& number,
                                             const TaskFunction& task);
  absl::Duration StragglerThreshold(const std::string& kind) ABSL_LOCKS_EXCLUDED(durations_mu_);
  // Waits `duration` on the clock, or less when the job is cancelled.
  void SleepUnlessCancelled(absl::Duration duration);

  const std::string job_;
  WorkerPool& pool_;
  Cancellation& cancellation_;
  const TaskDispatchOptions options_;
  absl::Mutex durations_mu_;
  // Seconds of the finished attempts, by task kind: what the straggler rule compares with.
  std::map<std::string, std::vector<double>> durations_ ABSL_GUARDED_BY(durations_mu_);
};

}  // namespace netadapt::master
