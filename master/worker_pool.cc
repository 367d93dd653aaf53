#include "master/worker_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace netadapt::master {
namespace {

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp) {
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp->set_seconds(nanos / 1000000000);
  timestamp->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace

std::string WorkerPool::Register(const std::string& address,
                                 const std::vector<std::string>& devices,
                                 const std::string& incarnation) {
  absl::MutexLock lock(&mu_);
  std::string name;
  for (auto& [existing, entry] : workers_) {
    if (entry.info.address() == address) name = existing;
  }
  if (name.empty()) name = absl::StrCat("workers/", next_worker_++);
  Entry entry;
  entry.info.set_name(name);
  entry.info.set_address(address);
  for (const std::string& device : devices) entry.info.add_devices(device);
  entry.info.set_incarnation(incarnation);
  entry.info.set_state(v1::Worker::ALIVE);
  entry.last_heartbeat = absl::Now();
  entry.free_devices = devices;
  workers_[name] = std::move(entry);  // the old incarnation's busy slots are gone
  return name;
}

bool WorkerPool::Heartbeat(const std::string& name, const std::string& incarnation) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(name);
  if (it == workers_.end() || it->second.info.incarnation() != incarnation ||
      it->second.info.state() != v1::Worker::ALIVE) {
    return false;
  }
  it->second.last_heartbeat = absl::Now();
  return true;
}

bool WorkerPool::HasFreeSlot() const {
  for (const auto& [name, entry] : workers_) {
    if (entry.info.state() == v1::Worker::ALIVE && !entry.free_devices.empty()) return true;
  }
  return false;
}

std::optional<WorkerSlot> WorkerPool::Acquire(const std::function<bool()>& cancelled,
                                              const std::string& task) {
  absl::MutexLock lock(&mu_);
  const int64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  auto ready = [&] { return queue_.front() == ticket && HasFreeSlot(); };
  while (true) {
    if (mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(50))) break;
    if (cancelled()) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
      return std::nullopt;
    }
  }
  queue_.pop_front();
  // The least busy alive worker first, so tasks spread over hosts.
  Entry* best = nullptr;
  for (auto& [name, entry] : workers_) {
    if (entry.info.state() != v1::Worker::ALIVE || entry.free_devices.empty()) continue;
    if (best == nullptr || entry.busy.size() < best->busy.size()) best = &entry;
  }
  WorkerSlot slot{best->info.name(), best->info.address(), best->free_devices.back(),
                  best->info.incarnation()};
  best->free_devices.pop_back();
  best->busy[slot.device] = task;
  return slot;
}

void WorkerPool::Release(const WorkerSlot& slot) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(slot.worker);
  if (it == workers_.end() || it->second.info.incarnation() != slot.incarnation) return;
  if (it->second.busy.erase(slot.device) == 0) return;
  if (it->second.info.state() == v1::Worker::ALIVE) it->second.free_devices.push_back(slot.device);
}

void WorkerPool::MarkDead(Entry& entry) {
  entry.info.set_state(v1::Worker::DEAD);
  entry.free_devices.clear();
}

void WorkerPool::MarkUnreachable(const WorkerSlot& slot) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(slot.worker);
  if (it != workers_.end() && it->second.info.incarnation() == slot.incarnation) {
    MarkDead(it->second);
  }
}

void WorkerPool::ExpireSilentWorkers() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  for (auto& [name, entry] : workers_) {
    if (entry.info.state() == v1::Worker::ALIVE &&
        now - entry.last_heartbeat > heartbeat_timeout_) {
      MarkDead(entry);
    }
  }
}

std::vector<v1::Worker> WorkerPool::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Worker> workers;
  for (const auto& [name, entry] : workers_) {
    v1::Worker worker = entry.info;
    SetTimestamp(entry.last_heartbeat, worker.mutable_last_heartbeat());
    for (const auto& [device, task] : entry.busy) worker.add_tasks(absl::StrCat(device, ": ", task));
    workers.push_back(std::move(worker));
  }
  return workers;
}

int WorkerPool::alive_devices() const {
  absl::MutexLock lock(&mu_);
  int count = 0;
  for (const auto& [name, entry] : workers_) {
    if (entry.info.state() == v1::Worker::ALIVE) count += entry.info.devices_size();
  }
  return count;
}

}  // namespace netadapt::master
