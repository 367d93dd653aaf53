#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "master/cancellation.h"

namespace netadapt::master {

struct ProfilerWaitOptions {
  // "host:port" of the agent, named in messages; may be empty.
  std::string agent;
  // Full-jitter exponential backoff between a caller's attempts: the n-th wait (n = 0, 1, ...)
  // is uniform in [0, min(max_backoff, initial_backoff * multiplier^n)].
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  double multiplier = 2;
  // How long an outage may last (from the start of the first attempt that failed) before the
  // waiting lookups give up with FailedPrecondition. InfiniteDuration: never.
  absl::Duration wait_limit = absl::Minutes(30);
  // Seed of the jitter (0: a random seed).
  uint64_t seed = 0;
  // The outage's times and the backoff waits follow this clock (not owned; outlives the
  // ProfilerWait).
  common::Clock* clock = common::RealClock();
};

// What callers know about the agent while it does not answer. One outage is shared by every
// caller: it starts with the first attempt that fails, and ends when any attempt gets an
// answer (a result or an error that is not Unavailable / DeadlineExceeded), or when the last
// caller waiting for it leaves without one.
struct ProfilerOutage {
  // Start of the first failed attempt of the outage.
  absl::Time since;
  // Failed attempts so far, of every caller (1 at the first failure).
  int64_t failures = 0;
  // The last failed attempt's error.
  absl::Status last_error;
};

// A caller's view of its own wait; called on the caller's thread, without ProfilerWait's lock
// held (so an observer may call anything but ProfilerWait::Run of the same call).
class ProfilerWaitObserver {
 public:
  virtual ~ProfilerWaitObserver() = default;
  // An attempt of this call failed and the call waits to retry: at its first failure and at
  // each failed retry.
  virtual void OnWaiting(const ProfilerOutage& outage) = 0;
  // This call got an answer after having waited (the agent is back).
  virtual void OnAnswered(const ProfilerOutage& outage, absl::Duration waited) = 0;
  // This call gives up: the outage lasted past wait_limit. `reason` is what Run returns.
  virtual void OnGaveUp(const absl::Status& reason) = 0;
};

// Waits for the profiler agent while it is down or hung (DESIGN.md section 6): retries a
// lookup that failed with Unavailable or DeadlineExceeded (every profiler call has a deadline,
// common/rpc/profiler_client.h) with jittered exponential backoff, until it gets an answer,
// its caller is cancelled, or the outage lasts past the limit. Callers share one outage:
// its start, its failure count and its limit; when one caller's attempt gets an answer, the
// others retry at once instead of finishing their backoff. Thread-safe.
class ProfilerWait {
 public:
  using Attempt = std::function<absl::StatusOr<std::vector<double>>()>;

  explicit ProfilerWait(ProfilerWaitOptions options);

  // Runs `attempt` until it returns OK or an error that is not retryable (returned as is),
  // `cancellation` (may be null) is cancelled (its failure() when Aborted, else Cancelled),
  // or the outage lasted past wait_limit: FailedPrecondition "the profiler agent at X has
  // been unreachable for 10m (last error: ...)". A retryable failure after the limit is
  // returned only once the attempt in flight ends, so a hung agent's call can overrun the
  // limit by its deadline. `observer` (may be null) hears about this call's wait.
  absl::StatusOr<std::vector<double>> Run(const Attempt& attempt, Cancellation* cancellation,
                                          ProfilerWaitObserver* observer)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The wait before a caller's `retry`-th retry (0-based): full jitter, in
  // [0, min(max_backoff, initial_backoff * multiplier^retry)].
  absl::Duration Backoff(int retry) ABSL_LOCKS_EXCLUDED(mu_);

  // Unavailable (cannot connect, connection lost) and DeadlineExceeded (hung or too slow).
  static bool IsRetryable(const absl::Status& status);

  // "waiting for the profiler agent at X (unreachable since 13:02:11 UTC, retry 4: <error>)",
  // the job's activity while it waits. Starts with kWaitingActivityPrefix.
  static std::string Describe(const ProfilerOutage& outage, absl::string_view agent);
  static constexpr absl::string_view kWaitingActivityPrefix = "waiting for the profiler agent";

  const ProfilerWaitOptions& options() const { return options_; }

 private:
  // Records a retryable failure of an attempt that started at `started`; the outage after it.
  ProfilerOutage FailedLocked(absl::Time started, const absl::Status& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ProfilerWaitOptions options_;
  absl::Mutex mu_;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
  // The current outage; failures == 0 when there is none.
  ProfilerOutage outage_ ABSL_GUARDED_BY(mu_);
  // Incremented when an outage ends with an answer: wakes the waiting callers.
  int64_t answered_ ABSL_GUARDED_BY(mu_) = 0;
  // Callers between their first failure and their return.
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  // The outage was already logged as given up.
  bool gave_up_logged_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace netadapt::master
