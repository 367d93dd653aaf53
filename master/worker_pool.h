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
// DEAD: its free slots leave the pool and its busy ones do not come back. Thread-safe.
class WorkerPool {
 public:
  explicit WorkerPool(absl::Duration heartbeat_timeout) : heartbeat_timeout_(heartbeat_timeout) {}

  // Registers (or re-registers) the worker at `address`; returns its name. A new incarnation
  // at a known address replaces the old one, whose tasks are lost (their RPCs fail and the
  // tasks are retried).
  std::string Register(const std::string& address, const std::vector<std::string>& devices,
                       const std::string& incarnation);
  // False when the master does not know this worker or incarnation: it must register again.
  bool Heartbeat(const std::string& name, const std::string& incarnation);

  // Waits for a free slot; nullopt once `cancelled` returns true (polled every 50 ms).
  std::optional<WorkerSlot> Acquire(const std::function<bool()>& cancelled,
                                    const std::string& task);
  void Release(const WorkerSlot& slot);
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
  void MarkDead(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration heartbeat_timeout_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> workers_ ABSL_GUARDED_BY(mu_);  // by name
  int next_worker_ ABSL_GUARDED_BY(mu_) = 1;
  // FIFO of waiting Acquire calls (tickets); the head takes the next free slot.
  std::deque<int64_t> queue_ ABSL_GUARDED_BY(mu_);
  int64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace netadapt::master
