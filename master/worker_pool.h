#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::master {

// One device of one worker: the unit a task occupies.
struct WorkerSlot {
  std::string worker;   // "workers/3"
  std::string address;  // host:port of its WorkerService
  std::string device;   // "cpu", "cuda:0"
  std::string incarnation;
};

// The workers that registered, their liveness and their free devices. Tasks take a slot with
// Acquire (first come, first served across all jobs, so concurrent jobs share the workers)
// and give it back with Release. A worker whose heartbeats stop for `heartbeat_timeout` is
// DEAD: its free slots leave the pool and its busy ones do not come back. Heartbeat ages and
// Acquire's polls follow `clock` (not owned, outlives the pool). Thread-safe.
class WorkerPool {
 public:
  explicit WorkerPool(absl::Duration heartbeat_timeout,
                      common::Clock* clock = common::RealClock())
      : heartbeat_timeout_(heartbeat_timeout), clock_(clock) {}

  // Registers (or re-registers) the worker at `address`; returns its name. A new incarnation
  // at a known address replaces the old one, whose tasks are lost (their RPCs fail and the
  // tasks are retried).
  std::string Register(const std::string& address, const std::vector<std::string>& devices,
                       const std::string& incarnation);
  // False when the master does not know this worker or incarnation: it must register again.
  bool Heartbeat(const std::string& name, const std::string& incarnation);

  // Waits for a free slot; nullopt once `cancelled` returns true (polled every 50 ms of the
  // clock's time).
  std::optional<WorkerSlot> Acquire(const std::function<bool()>& cancelled,
                                    const std::string& task);
  // A free slot now, on another worker than `other_than`, only when no Acquire is waiting
  // (a straggler's backup uses idle capacity and never delays a queued task).
  std::optional<WorkerSlot> TryAcquire(const std::string& task, const std::string& other_than);
  void Release(const WorkerSlot& slot);
  // Calls `on_lost` once when the worker of the held `slot` is declared dead (missed
  // heartbeats, a transport failure) or replaced by a new incarnation: the task on it will
  // not finish, so its caller stops waiting for it (a SIGSTOPped worker keeps its TCP
  // connection open; without this its task would wait for the task deadline). Runs under the
  // pool's lock: `on_lost` must not call into the pool. Returns an id for Unwatch; after
  // Unwatch returns, `on_lost` is not running and will not run.
  int64_t Watch(const WorkerSlot& slot, std::function<void()> on_lost);
  void Unwatch(int64_t id);
  // Marks the worker of a slot dead after a transport failure, so retries go elsewhere until
  // it registers again.
  void MarkUnreachable(const WorkerSlot& slot);

  // DEAD for every worker whose last heartbeat is older than the timeout.
  void ExpireSilentWorkers();
  std::vector<v1::Worker> List() const;
  int alive_devices() const;

 private:
  struct Entry {
    v1::Worker info;
    absl::Time last_heartbeat;
    std::vector<std::string> free_devices;
    std::map<std::string, std::string> busy;  // device -> task
  };
  bool HasFreeSlot() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WorkerSlot Take(Entry& entry, const std::string& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkDead(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fires the Watch callbacks of every slot of `worker` (an incarnation; empty: any).
  void LoseTasks(const std::string& worker, const std::string& incarnation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration heartbeat_timeout_;
  common::Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> workers_ ABSL_GUARDED_BY(mu_);  // by name
  int next_worker_ ABSL_GUARDED_BY(mu_) = 1;
  struct Watcher {
    WorkerSlot slot;
    std::function<void()> on_lost;
  };
  std::map<int64_t, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  int64_t next_watcher_ ABSL_GUARDED_BY(mu_) = 1;
  // FIFO of waiting Acquire calls (tickets); the head takes the next free slot.
  std::deque<int64_t> queue_ ABSL_GUARDED_BY(mu_);
  int64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace netadapt::master
