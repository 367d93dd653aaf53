#pragma once

#include <functional>
#include <map>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace netadapt::master {

// A cancellation flag with callbacks, shared by a job's runner and its in-flight tasks:
// CancelJob sets it; each RPC in flight registers a callback that cancels its call.
// Three causes: the user's Cancel (the job ends CANCELLED), the master's Shutdown (the job
// stops where it is, stays RUNNING in the store and resumes when the master restarts) and
// Abort (something the job depends on gave up, e.g. the profiler stayed unreachable past its
// limit: the job ends FAILED with that reason).
class Cancellation {
 public:
  void Cancel() { CancelFor(/*shutdown=*/false); }
  // Cancels for the master's shutdown, unless the user cancelled first.
  void Shutdown() { CancelFor(/*shutdown=*/true); }
  // Stops the job so that it FAILS with `reason` (not OK), unless cancelled already.
  void Abort(absl::Status reason) {
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      failure_ = std::move(reason);
    }
    CancelFor(/*shutdown=*/false);
  }
  // The reason given to Abort; OK otherwise.
  absl::Status failure() const {
    absl::MutexLock lock(&mu_);
    return failure_;
  }
  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  // True when the cancellation came from Shutdown.
  bool shutdown() const {
    absl::MutexLock lock(&mu_);
    return shutdown_;
  }
  // Runs `callback` on Cancel (at once if already cancelled). Returns an id for Remove.
  int Add(std::function<void()> callback) {
    {
      absl::MutexLock lock(&mu_);
      if (!cancelled_) {
        callbacks_[next_id_] = std::move(callback);
        return next_id_++;
      }
    }
    callback();
    return -1;
  }
  // Sleeps for `timeout`, or less when cancelled meanwhile; true when cancelled.
  bool SleepUnlessCancelled(absl::Duration timeout) {
    absl::Notification cancelled;
    const int id = Add([&cancelled] { cancelled.Notify(); });
    const bool woken = cancelled.WaitForNotificationWithTimeout(timeout);
    Remove(id);
    return woken;
  }
  // After Remove returns, the callback `id` is not running and will not run.
  void Remove(int id) {
    absl::MutexLock running(&running_mu_);
    absl::MutexLock lock(&mu_);
    callbacks_.erase(id);
  }

 private:
  void CancelFor(bool shutdown) {
    // Held while callbacks run, so that Remove waits for a callback in progress: callers
    // destroy what their callback touches (an RPC's ClientContext) right after Remove.
    absl::MutexLock running(&running_mu_);
    std::map<int, std::function<void()>> callbacks;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      cancelled_ = true;
      shutdown_ = shutdown;
      callbacks.swap(callbacks_);
    }
    for (auto& [id, callback] : callbacks) callback();
  }

  absl::Mutex running_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace netadapt::master
