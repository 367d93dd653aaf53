#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "master/cancellation.h"
#include "master/job_store.h"
#include "master/task_runner.h"
#include "netadapt/v1/resources.pb.h"
#include "netadapt/v1/worker_service.pb.h"

namespace netadapt::master {

struct JobRecordOptions {
  // When the master's disk is full the job is PAUSED (its reason says why) and tries to
  // write its state again this often; it continues when space is freed.
  absl::Duration disk_full_retry_interval = absl::Seconds(5);
  // Fine-tuning progress reaches the job (and its watchers) at most this often.
  absl::Duration progress_interval = absl::Milliseconds(500);
};

// One running job's writes to the JobStore: durable changes that wait out a full disk, and
// the transient ones (progress, the worker a task runs on) that need no fsync. Thread-safe
// (the store serialises the changes); proposals of one iteration write in parallel.
class JobRecord {
 public:
  JobRecord(std::string job, JobStore& store, Cancellation& cancellation,
            JobRecordOptions options);

  const std::string& job() const { return job_; }
  absl::StatusOr<v1::Job> Get() const { return store_.Get(job_); }

  // Applies `mutate` to the job and persists it. When the disk is full the job waits PAUSED
  // and retries until the write succeeds (or the master shuts down); other write errors
  // are returned.
  absl::Status Commit(const std::function<void(v1::Job&)>& mutate);
  // Changes proposal `block`; `persist` false for what need not survive a restart (the
  // worker a task runs on, progress), which spares an fsync per change.
  void SetProposal(int block, const std::function<void(v1::Proposal&)>& mutate,
                   bool persist = true);
  // Job.activity and its progress.
  void SetActivity(const std::string& activity, int64_t step = 0, int64_t total = 0,
                   bool persist = true);
  // A TaskRunner progress callback that reports into the activity, at most every
  // progress_interval (not persisted).
  TaskRunner::Progress ActivityProgress(const std::string& activity);
  // Adds what a task's dataset left out as unreadable (skip_corrupt) to the job; commits only
  // when there is something to add.
  void RecordSkipped(const v1::TaskResult& result);

  const JobRecordOptions& options() const { return options_; }

 private:
  const std::string job_;
  JobStore& store_;
  Cancellation& cancellation_;
  const JobRecordOptions options_;
};

}  // namespace netadapt::master
