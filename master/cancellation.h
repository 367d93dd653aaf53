#pragma once

#include <functional>
#include <map>

#include "absl/synchronization/mutex.h"

namespace netadapt::master {

// A cancellation flag with callbacks, shared by a job's runner and its in-flight tasks:
// CancelJob sets it; each RPC in flight registers a callback that cancels its call.
class Cancellation {
 public:
  void Cancel() {
    // Held while callbacks run, so that Remove waits for a callback in progress: callers
    // destroy what their callback touches (an RPC's ClientContext) right after Remove.
    absl::MutexLock running(&running_mu_);
    std::map<int, std::function<void()>> callbacks;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) return;
      cancelled_ = true;
      callbacks.swap(callbacks_);
    }
    for (auto& [id, callback] : callbacks) callback();
  }
  bool cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
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
  // After Remove returns, the callback `id` is not running and will not run.
  void Remove(int id) {
    absl::MutexLock running(&running_mu_);
    absl::MutexLock lock(&mu_);
    callbacks_.erase(id);
  }

 private:
  absl::Mutex running_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::map<int, std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace netadapt::master
