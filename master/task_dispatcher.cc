#include "master/task_dispatcher.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "master/task_runner.h"
#include "spdlog/spdlog.h"

namespace netadapt::master {
namespace {

std::shared_ptr<spdlog::logger> Log() { return common::Logger("master"); }

// Failures that the same task cannot escape by running again: fail at once.
bool IsDeterministicFailure(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

}  // namespace

TaskDispatcher::TaskDispatcher(std::string job, WorkerPool& pool, Cancellation& cancellation,
                               TaskDispatchOptions options)
    : job_(std::move(job)), pool_(pool), cancellation_(cancellation), options_(options) {}

void TaskDispatcher::SleepUnlessCancelled(absl::Duration duration) {
  absl::Mutex mu;
  bool cancelled = false;
  const int id = cancellation_.Add([&] {
    absl::MutexLock lock(&mu);
    cancelled = true;
  });
  {
    absl::MutexLock lock(&mu);
    options_.clock->AwaitWithTimeout(&mu, absl::Condition(&cancelled), duration);
  }
  cancellation_.Remove(id);
}

absl::Duration TaskDispatcher::StragglerThreshold(const std::string& kind) {
  if (options_.straggler_factor <= 0) return absl::InfiniteDuration();
  absl::MutexLock lock(&durations_mu_);
  std::vector<double> seconds = durations_[kind];
  // Fewer than 3 finished tasks say too little about how long one takes.
  if (seconds.size() < 3) return absl::InfiniteDuration();
  std::nth_element(seconds.begin(), seconds.begin() + seconds.size() / 2, seconds.end());
  return std::max(options_.straggler_min_duration,
                  absl::Seconds(options_.straggler_factor * seconds[seconds.size() / 2]));
}

absl::StatusOr<v1::TaskResult> TaskDispatcher::Run(const std::string& kind,
                                                   const std::string& what,
                                                   const TaskFunction& task) {
  int task_failures = 0;
  int infrastructure_failures = 0;
  int number = 0;
  while (true) {
    std::optional<WorkerSlot> slot =
        pool_.Acquire([&] { return cancellation_.cancelled(); }, absl::StrCat(job_, " ", what));
    if (!slot) return absl::CancelledError("cancelled");
    absl::StatusOr<v1::TaskResult> result = RunAttempts(kind, what, *slot, number, task);
    if (result.ok() || cancellation_.cancelled()) return result;
    const absl::Status& failure = result.status();
    if (IsInfrastructureFailure(failure)) {
      ++infrastructure_failures;
      Log()->warn("[job={}] {} attempt {}: infrastructure failure {} of at most {}, retried "
                  "elsewhere: {}",
                  job_, what, number, infrastructure_failures,
                  options_.max_infrastructure_retries, failure.ToString());
      if (infrastructure_failures > options_.max_infrastructure_retries) {
        return absl::Status(failure.code(),
                            absl::StrCat(what, ": its workers failed ", infrastructure_failures,
                                         " times (the task may crash them); last: ",
                                         failure.message()));
      }
      // Doubling to 5 s, so that the tasks of a dead worker do not all come back at once.
      static thread_local std::mt19937_64 random{std::random_device{}()};
      SleepUnlessCancelled(
          common::FullJitterBackoff(options_.infrastructure_backoff, absl::Seconds(5), 2,
                                    infrastructure_failures - 1, random));
      continue;
    }
    if (IsDeterministicFailure(failure)) return failure;
    ++task_failures;
    Log()->warn("[job={}] {} attempt {} failed ({} of {}): {}", job_, what, number,
                task_failures, options_.max_task_attempts, failure.ToString());
    if (task_failures >= options_.max_task_attempts) {
      return absl::Status(failure.code(), absl::StrCat(what, " failed ", task_failures,
                                                       " times; last: ", failure.message()));
    }
  }
}

absl::StatusOr<v1::TaskResult> TaskDispatcher::RunAttempts(const std::string& kind,
                                                           const std::string& what,
                                                           const WorkerSlot& primary, int& number,
                                                           const TaskFunction& task) {
  // Attempts run on their own threads; this one waits for the first result and, when the
  // first attempt straggles, starts a backup on an idle worker.
  struct Running {
    WorkerSlot slot;
    int number = 0;
    Cancellation cancellation;
    absl::Time start;
    std::optional<absl::StatusOr<v1::TaskResult>> result;  // guarded by mu
    std::thread thread;
  };
  absl::Mutex mu;
  std::vector<std::unique_ptr<Running>> attempts;
  auto launch = [&](const WorkerSlot& slot) {
    auto running = std::make_unique<Running>();
    running->slot = slot;
    running->number = ++number;
    running->start = options_.clock->Now();
    Running* r = running.get();
    r->thread = std::thread([this, r, &mu, &task] {
      // The attempt stops when the job is cancelled or its worker is lost.
      const int job_link = cancellation_.Add([r] { r->cancellation.Cancel(); });
      const int64_t watch = pool_.Watch(r->slot, [r] {
        r->cancellation.Abort(absl::UnavailableError(absl::StrCat(
            r->slot.worker, " was declared dead (missed heartbeats, unreachable or restarted) "
                            "while running the task")));
      });
      absl::StatusOr<v1::TaskResult> result = task(TaskAttempt{r->slot, r->number, r->cancellation});
      pool_.Unwatch(watch);
      cancellation_.Remove(job_link);
      pool_.Release(r->slot);
      if (absl::IsUnavailable(result.status())) pool_.MarkUnreachable(r->slot);
      absl::MutexLock lock(&mu);
      r->result = std::move(result);
    });
    attempts.push_back(std::move(running));
  };
  {
    absl::MutexLock lock(&mu);
    launch(primary);
  }
  std::optional<absl::StatusOr<v1::TaskResult>> outcome;
  Running* winner = nullptr;
  {
    absl::MutexLock lock(&mu);
    auto finished = [&] {
      for (const auto& a : attempts) {
        if (a->result && a->result->ok()) return true;
      }
      for (const auto& a : attempts) {
        if (!a->result) return false;
      }
      return true;  // all failed
    };
    while (!options_.clock->AwaitWithTimeout(&mu, absl::Condition(&finished), absl::Seconds(1))) {
      if (attempts.size() > 1 || cancellation_.cancelled()) continue;
      // Evaluated again each time: the job's other tasks finishing tell more about how long
      // one of this kind takes.
      const absl::Duration straggler_after = StragglerThreshold(kind);
      if (options_.clock->Now() - attempts[0]->start < straggler_after) continue;
      std::optional<WorkerSlot> backup = pool_.TryAcquire(
          absl::StrCat(job_, " ", what, " (backup)"), attempts[0]->slot.worker);
      if (!backup) continue;  // no idle worker yet: check again in a second
      Log()->warn("[job={}] {} on {} runs for {:.1f} s, over {:.1f} s: a backup attempt starts "
                  "on {}; the first result wins",
                  job_, what, attempts[0]->slot.worker,
                  absl::ToDoubleSeconds(options_.clock->Now() - attempts[0]->start),
                  absl::ToDoubleSeconds(straggler_after), backup->worker);
      launch(*backup);
    }
    for (const auto& a : attempts) {
      if (a->result && a->result->ok() && winner == nullptr) winner = a.get();
    }
    if (winner != nullptr) {
      outcome = *winner->result;
    } else {
      outcome = *attempts.back()->result;  // the latest failure
    }
  }
  // The losers are cancelled; a loser that finished anyway has its result refused: exactly
  // one result per task is committed.
  for (const auto& a : attempts) {
    if (a.get() != winner) a->cancellation.Cancel();
  }
  for (const auto& a : attempts) a->thread.join();
  for (const auto& a : attempts) {
    if (a.get() != winner && a->result->ok()) {
      Log()->info("[job={}] {}: refused the late result of attempt {} on {} (attempt {} on {} "
                  "was committed)",
                  job_, what, a->number, a->slot.worker, winner->number, winner->slot.worker);
    }
  }
  if (winner != nullptr) {
    absl::MutexLock lock(&durations_mu_);
    durations_[kind].push_back(absl::ToDoubleSeconds(options_.clock->Now() - winner->start));
  }
  return *outcome;
}

}  // namespace netadapt::master
