#pragma once

#include <map>
#include <memory>
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
  JobManager(JobStore& store, WorkerPool& pool, TaskRunner& tasks,
             common::ArtifactStore& artifacts, common::LatencyMeasurer* measurer,
             JobRunnerOptions options, std::string lut_path = "");
  // Stops every running job for the master's shutdown (Cancellation::Shutdown: they stay
  // RUNNING in the store, to resume at the next start) and joins their threads.
  ~JobManager();

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
  // Latencies for a running LATENCY job's workers.
  absl::StatusOr<std::vector<double>> LookupLatency(absl::string_view job,
                                                    const std::vector<common::LayerShape>& shapes);

  // Spec validation and defaults alone (also used by tests).
  absl::StatusOr<v1::JobSpec> Resolve(const v1::JobSpec& spec) const;

 private:
  struct Running {
    Cancellation cancellation;
    std::unique_ptr<common::ResourceModel> analytic;
    std::unique_ptr<LatencyOracle> own_oracle;
    LatencyOracle* oracle = nullptr;
    std::unique_ptr<JobRunner> runner;
    std::thread thread;
  };
  absl::StatusOr<std::unique_ptr<Running>> Prepare(const v1::Job& job);
  // Prepares and starts `job`'s runner; the job FAILED with the reason when it cannot.
  absl::StatusOr<v1::Job> Start(const v1::Job& job) ABSL_LOCKS_EXCLUDED(mu_);

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
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netadapt::master
