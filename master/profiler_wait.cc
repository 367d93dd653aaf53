#include "master/profiler_wait.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "spdlog/spdlog.h"

namespace netadapt::master {
namespace {

std::string AgentName(absl::string_view agent) {
  return agent.empty() ? "the profiler agent" : absl::StrCat("the profiler agent at ", agent);
}

// "10m0s"-like: whole seconds, or milliseconds under a second.
std::string Seconds(absl::Duration d) {
  return absl::FormatDuration(
      absl::Trunc(d, d >= absl::Seconds(1) ? absl::Seconds(1) : absl::Milliseconds(1)));
}

}  // namespace

ProfilerWait::ProfilerWait(ProfilerWaitOptions options)
    : options_(std::move(options)),
      random_(options_.seed != 0 ? options_.seed : std::random_device()()) {}

bool ProfilerWait::IsRetryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

std::string ProfilerWait::Describe(const ProfilerOutage& outage, absl::string_view agent) {
  const std::string since =
      absl::FormatTime("%H:%M:%S UTC", outage.since, absl::UTCTimeZone());
  const std::string error = outage.last_error.ToString();
  return absl::StrCat(kWaitingActivityPrefix, agent.empty() ? "" : " at ", agent,
                      " (unreachable since ", since,
                      outage.failures > 1 ? absl::StrCat(", retry ", outage.failures - 1) : "",
                      ": ", error, ")");
}

absl::Duration ProfilerWait::Backoff(int retry) {
  absl::MutexLock lock(&mu_);
  return common::FullJitterBackoff(options_.initial_backoff, options_.max_backoff,
                                   options_.multiplier, retry, random_);
}

ProfilerOutage ProfilerWait::FailedLocked(absl::Time started, const absl::Status& error) {
  if (outage_.failures == 0) outage_.since = started;
  outage_.since = std::min(outage_.since, started);
  ++outage_.failures;
  outage_.last_error = error;
  return outage_;
}

absl::StatusOr<std::vector<double>> ProfilerWait::Run(const Attempt& attempt,
                                                      Cancellation* cancellation,
                                                      ProfilerWaitObserver* observer) {
  const std::shared_ptr<spdlog::logger> log = common::Logger("master");
  // Set by the cancellation's callback, read under mu_. Remove (below, before returning)
  // waits for a callback in progress, so the reference cannot dangle.
  bool cancelled = false;
  const int callback = cancellation == nullptr ? -1 : cancellation->Add([this, &cancelled] {
    absl::MutexLock lock(&mu_);
    cancelled = true;
  });
  bool waiting = false;  // counted in waiting_
  bool failed = false;   // an attempt of this call failed: it waited
  absl::Time first_failure;
  ProfilerOutage last;
  // Leaves the wait; the outage is forgotten when nobody waits for it any more (the next
  // lookup starts its own, with its own limit).
  auto leave = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!waiting) return;
    waiting = false;
    if (--waiting_ == 0 && outage_.failures > 0) {
      outage_ = ProfilerOutage();
      gave_up_logged_ = false;
    }
  };
  auto finish = [&](absl::StatusOr<std::vector<double>> result) {
    if (callback >= 0) cancellation->Remove(callback);
    return result;
  };

  for (int retry = 0;; ++retry) {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled) {
        leave();
        break;
      }
    }
    const absl::Time started = options_.clock->Now();
    absl::StatusOr<std::vector<double>> result = attempt();
    if (result.ok() || !IsRetryable(result.status())) {
      ProfilerOutage ended;
      {
        absl::MutexLock lock(&mu_);
        if (outage_.failures > 0) {
          ended = std::exchange(outage_, ProfilerOutage());
          ++answered_;
          gave_up_logged_ = false;
        }
        leave();
      }
      if (ended.failures > 0) {
        log->warn("{} answers again after {} ({} failed attempt(s))", AgentName(options_.agent),
                  Seconds(options_.clock->Now() - ended.since), ended.failures);
      }
      if (failed && observer != nullptr) {
        observer->OnAnswered(ended.failures > 0 ? ended : last,
                             options_.clock->Now() - first_failure);
      }
      return finish(std::move(result));
    }

    int64_t answered = 0;
    {
      absl::MutexLock lock(&mu_);
      if (!failed) first_failure = started;
      failed = true;
      if (!waiting) {
        waiting = true;
        ++waiting_;
      }
      last = FailedLocked(started, result.status());
      answered = answered_;
    }
    if (last.failures == 1) {
      log->warn("{} does not answer ({}); lookups wait for it (limit {})",
                AgentName(options_.agent), result.status().ToString(),
                absl::FormatDuration(options_.wait_limit));
    }
    const absl::Duration down = options_.clock->Now() - last.since;
    if (down >= options_.wait_limit) {
      const absl::Status reason = absl::FailedPreconditionError(
          absl::StrCat(AgentName(options_.agent), " has been unreachable for ", Seconds(down),
                       " (last error: ", last.last_error.ToString(), ")"));
      bool log_it = false;
      {
        absl::MutexLock lock(&mu_);
        log_it = !std::exchange(gave_up_logged_, true);
        leave();
      }
      if (log_it) log->error("giving up: {}", std::string(reason.message()));
      if (observer != nullptr) observer->OnGaveUp(reason);
      return finish(reason);
    }
    if (observer != nullptr) observer->OnWaiting(last);
    const absl::Duration wait =
        std::min(Backoff(retry), last.since + options_.wait_limit - options_.clock->Now());
    absl::MutexLock lock(&mu_);
    // Wakes early when another caller got an answer (the agent is back) or on cancellation.
    auto wake = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return cancelled || answered_ != answered;
    };
    options_.clock->AwaitWithTimeout(&mu_, absl::Condition(&wake), wait);
  }
  // Cancelled.
  absl::Status status =
      cancellation->failure().ok()
          ? absl::CancelledError(
                absl::StrCat("cancelled while waiting for ", AgentName(options_.agent)))
          : cancellation->failure();
  return finish(status);
}

}  // namespace netadapt::master
