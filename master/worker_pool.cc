#include "master/worker_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

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
  entry.last_heartbeat = clock_->Now();
  entry.free_devices = devices;
  // The old incarnation's busy slots are gone: a restarted worker lost its tasks. (The same
  // incarnation registering again is a worker that was declared dead and came back; its
  // tasks were given up when it was declared dead.)
  auto old = workers_.find(name);
  if (old != workers_.end() && old->second.info.incarnation() != incarnation) {
    LoseTasks(name, old->second.info.incarnation());
  }
  workers_[name] = std::move(entry);
  return name;
}

bool WorkerPool::Heartbeat(const std::string& name, const std::string& incarnation) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(name);
  if (it == workers_.end() || it->second.info.incarnation() != incarnation ||
      it->second.info.state() != v1::Worker::ALIVE) {
    return false;
  }
  it->second.last_heartbeat = clock_->Now();
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
  auto ready = [&] {
    mu_.AssertHeld();  // Await evaluates the condition with mu_ held
    return queue_.front() == ticket && HasFreeSlot();
  };
  while (true) {
    if (clock_->AwaitWithTimeout(&mu_, absl::Condition(&ready), absl::Milliseconds(50))) break;
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
  return Take(*best, task);
}

std::optional<WorkerSlot> WorkerPool::TryAcquire(const std::string& task,
                                                 const std::string& other_than) {
  absl::MutexLock lock(&mu_);
  if (!queue_.empty()) return std::nullopt;
  Entry* best = nullptr;
  for (auto& [name, entry] : workers_) {
    if (name == other_than || entry.info.state() != v1::Worker::ALIVE ||
        entry.free_devices.empty()) {
      continue;
    }
    if (best == nullptr || entry.busy.size() < best->busy.size()) best = &entry;
  }
  if (best == nullptr) return std::nullopt;
  return Take(*best, task);
}

WorkerSlot WorkerPool::Take(Entry& entry, const std::string& task) {
  WorkerSlot slot{entry.info.name(), entry.info.address(), entry.free_devices.back(),
                  entry.info.incarnation()};
  entry.free_devices.pop_back();
  entry.busy[slot.device] = task;
  return slot;
}

int64_t WorkerPool::Watch(const WorkerSlot& slot, std::function<void()> on_lost) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(slot.worker);
  if (it == workers_.end() || it->second.info.incarnation() != slot.incarnation ||
      it->second.info.state() != v1::Worker::ALIVE) {
    on_lost();  // lost already
    return 0;
  }
  const int64_t id = next_watcher_++;
  watchers_[id] = Watcher{slot, std::move(on_lost)};
  return id;
}

void WorkerPool::Unwatch(int64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

void WorkerPool::LoseTasks(const std::string& worker, const std::string& incarnation) {
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if (it->second.slot.worker == worker &&
        (incarnation.empty() || it->second.slot.incarnation == incarnation)) {
      it->second.on_lost();
      it = watchers_.erase(it);
    } else {
      ++it;
    }
  }
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
  LoseTasks(entry.info.name(), entry.info.incarnation());
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
  const absl::Time now = clock_->Now();
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
