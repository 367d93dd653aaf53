#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::master {

// The jobs of the master, durable: each job is a file <state_dir>/jobs/<id>.pb (the Job
// message, replaced atomically on every change), so a restarted master shows the same jobs
// and history. Watchers get every change. Thread-safe; transport-free.
class JobStore {
 public:
  // Loads the jobs under `state_dir` (created if missing). Jobs that were still PENDING or
  // RUNNING when the previous master stopped are kept as they were persisted, for
  // JobManager::ResumeInterrupted to continue them. DataLoss naming the file when a job file
  // does not parse; Unavailable when the directory cannot be created.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& state_dir);

  // Creates a job from `job` (spec and request_id filled in), assigning its name
  // ("jobs/<n>"), state PENDING and times. When `request_id` is not empty and a job was
  // already created with it, returns that job and `created` false.
  absl::StatusOr<v1::Job> Create(v1::Job job, bool* created);

  // NotFound naming the job.
  absl::StatusOr<v1::Job> Get(absl::string_view name) const;
  // Newest first, from `offset`; `total` gets the number of jobs.
  std::vector<v1::Job> List(int offset, int limit, int* total) const;

  // Applies `mutate` to the stored job, stamps update_time, persists it, then notifies
  // watchers. NotFound for an unknown job; the write error when persisting fails (the change
  // is then not applied). With `persist` false the change is only in memory and reaches
  // watchers (progress, the worker a task runs on): it goes to disk with the next persisted
  // change, and each persisted change costs an fsync.
  absl::StatusOr<v1::Job> Update(absl::string_view name,
                                 const std::function<void(v1::Job&)>& mutate,
                                 bool persist = true);

  // Calls `on_change` with the job now and after each change, from the thread that made the
  // change (it must not block or call back into the store). Returns an id for Unsubscribe.
  absl::StatusOr<int64_t> Subscribe(absl::string_view name,
                                    std::function<void(const v1::Job&)> on_change);
  void Unsubscribe(int64_t id);

  static bool IsTerminal(v1::Job::State state);

 private:
  explicit JobStore(std::string directory) : directory_(std::move(directory)) {}
  absl::Status Persist(const v1::Job& job) const;
  void Notify(const v1::Job& job);

  const std::string directory_;
  mutable absl::Mutex mu_;
  std::map<int64_t, v1::Job> jobs_ ABSL_GUARDED_BY(mu_);  // by number
  std::map<std::string, int64_t> by_request_ ABSL_GUARDED_BY(mu_);
  int64_t next_number_ ABSL_GUARDED_BY(mu_) = 1;

  struct Watcher {
    std::string job;
    std::function<void(const v1::Job&)> on_change;
  };
  absl::Mutex watchers_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<int64_t, Watcher> watchers_ ABSL_GUARDED_BY(watchers_mu_);
  int64_t next_watcher_ ABSL_GUARDED_BY(watchers_mu_) = 1;
};

// Increments the master epoch kept in <state_dir>/epoch (0 when the file is missing), writes
// it atomically and returns it: each start of a master on `state_dir` gets a larger epoch,
// carried in task headers. DataLoss when the file is not a number; the write error otherwise.
absl::StatusOr<int64_t> BumpMasterEpoch(const std::string& state_dir);

// "jobs/12" -> 12. InvalidArgument naming `field` when malformed.
absl::StatusOr<int64_t> ParseJobName(absl::string_view name, absl::string_view field = "name");

}  // namespace netadapt::master
