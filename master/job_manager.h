#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/artifact_store.h"
#include "common/lut_latency_model.h"
#include "master/cancellation.h"
#include "master/job_runner.h"
#include "master/job_store.h"
#include "master/latency_oracle.h"
#include "master/profiler_wait.h"
#include "master/task_runner.h"
#include "master/worker_pool.h"

namespace netadapt::master {

// The master's jobs: validates and resolves specs, starts one JobRunner thread per job,
// cancels, answers latency lookups with each job's oracle. Transport-free; the gRPC services
// are thin adapters over it. Thread-safe.
class JobManager {
 public:
  // `measurer` (the profiler agent; may be null: LATENCY jobs then need a LUT and
  // lut_mode INTERPOLATE). None of the references is owned. When `lut_path` is not empty,
  // the table that measuring jobs share is loaded from it (when present) and written back
  // to it after each batch the profiler measured, so that a restarted master does not
  // measure a layer again (and resumed jobs see the latencies they saw before).
  // `profiler_wait`: while the profiler is down or hung, lookups of jobs that measure wait
  // for it (ProfilerWait: jittered backoff, the job's activity says so); a job whose lookup
  // waits past profiler_wait.wait_limit is aborted: it FAILS with that reason.
  // `profiler_device`: the agent's fingerprint (DescribeDevice), when it answered at start.
  // A saved table measured on another device or runtime is set aside (renamed
  // <lut_path>.other-device-<unix time>) and measuring starts afresh; unknown, the saved
  // table is used unchecked (logged).
  JobManager(JobStore& store, WorkerPool& pool, TaskRunner& tasks,
             common::ArtifactStore& artifacts, common::LatencyMeasurer* measurer,
             JobRunnerOptions options, std::string lut_path = "",
             ProfilerWaitOptions profiler_wait = {},
             std::optional<v1::DeviceFingerprint> profiler_device = std::nullopt);
  // Shutdown().
  ~JobManager();

  // Stops every running job for the master's shutdown (Cancellation::Shutdown: they stay
  // RUNNING in the store, to resume at the next start), joins their threads and waits for
  // the lookups in flight (their jobs' cancellation ends their waits). Afterwards Create,
  // ResumeInterrupted and lookups answer Unavailable without touching anything, so the
  // services may still call in until the server is down. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Starts a runner for every job of the store that is not finished (PENDING or RUNNING when
  // the previous master stopped): each resumes from its persisted state (JobRunner::Run).
  // Call once, after the services serve. A job that cannot be prepared again (its LUT
  // artifact is gone) is marked FAILED with the reason. Returns the number resumed.
  int ResumeInterrupted() ABSL_LOCKS_EXCLUDED(mu_);

  // Validates `spec` (InvalidArgument / NotFound / FailedPrecondition naming the field),
  // fills in defaults and resolves the network, stores the job and starts it. A request_id
  // seen before returns that job without starting another.
  absl::StatusOr<v1::Job> Create(const v1::JobSpec& spec, const std::string& request_id);
  // Cancels a running job (a finished one is returned unchanged).
  absl::StatusOr<v1::Job> Cancel(absl::string_view name);
  // Latencies for a running LATENCY job's workers. While the profiler is down or hung this
  // waits for it (see the constructor): it returns once the profiler answers, with Cancelled
  // (or the abort's reason) when the job is cancelled or stopped meanwhile, and with
  // FailedPrecondition naming the profiler when the wait passed its limit (the job is then
  // aborted: it ends FAILED with that reason). NotFound for a job not started on this master,
  // FailedPrecondition for a job without latencies.
  absl::StatusOr<std::vector<double>> LookupLatency(absl::string_view job,
                                                    const std::vector<common::LayerShape>& shapes)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Estimates for a running job's workers from its measured LUT, measuring nothing
  // (LatencyOracle::Estimate). NotFound for a job not started on this master,
  // FailedPrecondition for a job without latencies or whose LUT is interpolated.
  absl::StatusOr<std::vector<double>> EstimateLatency(
      absl::string_view job, const std::vector<common::LayerShape>& shapes)
      ABSL_LOCKS_EXCLUDED(mu_);
  // LookupLatency on a thread of its own (a lookup can wait minutes for the profiler: never
  // on a gRPC callback thread); `done` gets the answer on that thread. Shutdown waits for it.
  void LookupLatencyAsync(
      std::string job, std::vector<common::LayerShape> shapes,
      std::function<void(absl::StatusOr<std::vector<double>>)> done) ABSL_LOCKS_EXCLUDED(mu_);

  // Spec validation and defaults alone (also used by tests).
  absl::StatusOr<v1::JobSpec> Resolve(const v1::JobSpec& spec) const;

 private:
  struct Running {
    Cancellation cancellation;
    std::unique_ptr<common::ResourceModel> analytic;
    std::unique_ptr<LatencyOracle> own_oracle;
    LatencyOracle* oracle = nullptr;
    // The oracle measures misses on the profiler: lookups wait for it while it is down.
    bool measures = false;
    // The job's resource model for its runner: the oracle's, through Lookup (so that the
    // runner's own lookups wait for the profiler too).
    std::unique_ptr<common::ResourceModel> waiting_model;
    // This job's lookups now waiting for the profiler, and the activity to restore when the
    // last of them ends (guarded by JobManager::mu_).
    int waiting = 0;
    std::string activity_before;
    int64_t activity_step_before = 0;
    int64_t activity_total_before = 0;
    std::unique_ptr<JobRunner> runner;
    std::thread thread;
  };
  absl::StatusOr<std::unique_ptr<Running>> Prepare(const v1::Job& job);
  // Prepares and starts `job`'s runner; the job FAILED with the reason when it cannot.
  absl::StatusOr<v1::Job> Start(const v1::Job& job) ABSL_LOCKS_EXCLUDED(mu_);
  // Adds one lookup's counts to `job`'s measurements, in all and for its current iteration
  // (in memory: they reach disk with the runner's next persisted change).
  void RecordLookup(const std::string& job, const LatencyOracle::LookupCounts& counts);
  // `use` on the running LATENCY job `job`, counted among the lookups in flight (Shutdown
  // frees running_'s entries only after them). NotFound for a job not running here,
  // FailedPrecondition for one without latencies, Unavailable while shutting down.
  absl::StatusOr<std::vector<double>> WithLatencyJob(
      absl::string_view job,
      const std::function<absl::StatusOr<std::vector<double>>(Running&)>& use)
      ABSL_LOCKS_EXCLUDED(mu_);
  // `running`'s oracle lookup, waiting for the profiler when the job measures.
  absl::StatusOr<std::vector<double>> Lookup(const std::string& job, Running& running,
                                             const std::vector<common::LayerShape>& shapes)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `attempt` (a call to the profiler) through profiler_wait_ for `job`: its activity
  // shows the wait, and past the limit the job is aborted (it FAILS with the reason).
  absl::StatusOr<std::vector<double>> WaitForProfiler(const std::string& job, Running& running,
                                                      const ProfilerWait::Attempt& attempt)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Shows in the job's activity that one of its lookups waits for the profiler (`waiting`:
  // it started to), and restores the activity when the last such lookup of the job ends.
  void ShowWaiting(const std::string& job, Running& running, const ProfilerOutage& outage,
                   bool first) ABSL_LOCKS_EXCLUDED(mu_);
  void EndWaiting(const std::string& job, Running& running) ABSL_LOCKS_EXCLUDED(mu_);
  class JobWaitObserver;
  class WaitingModel;

  JobStore& store_;
  WorkerPool& pool_;
  TaskRunner& tasks_;
  common::ArtifactStore& artifacts_;
  common::LatencyMeasurer* measurer_;
  const JobRunnerOptions options_;
  // Wraps measurer_ for shared_oracle_ when the shared table is persisted.
  class RecordingMeasurer;
  std::unique_ptr<RecordingMeasurer> recording_;
  // LATENCY jobs measuring without a LUT of their own share one table of this master's
  // profiler: a layer is measured once for all jobs, and jobs with the same spec see the same
  // latencies (so they make the same choices).
  std::unique_ptr<LatencyOracle> shared_oracle_;
  // Shared by every job's lookups (one outage, one limit); null without a profiler.
  std::unique_ptr<ProfilerWait> profiler_wait_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // LookupLatency calls in progress: Shutdown frees the Running entries they use only after
  // they return.
  int lookups_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace netadapt::master
