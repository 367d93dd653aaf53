#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/rpc/auth.h"
#include "common/rpc/server.h"
#include "master/job_runner.h"

namespace netadapt::common {
class ArtifactStore;
}  // namespace netadapt::common

namespace netadapt::rpc {
class GrpcLatencyMeasurer;
class ProfilerClient;
}  // namespace netadapt::rpc

namespace netadapt::master {

class CoordinatorServiceImpl;
class GrpcTaskRunner;
class JobManager;
class JobServiceImpl;
class JobStore;
class WorkerPool;

struct MasterServerOptions {
  // Directory of the durable job state (the journal), the artifact store (artifacts/), the
  // master epoch and the measured LUT (lut.bin).
  std::string state_dir;
  // The gRPC server: address (port 0 picks one), port file, reflection, who may call.
  rpc::ServerOptions server;
  // How the master calls the profiler agent and the workers (token, TLS).
  rpc::ClientSecurity client_security;
  // The token presented to the workers instead of client_security.token; nullopt: that one.
  std::optional<std::string> worker_token;
  // host:port of the profiler agent measuring LUT misses and whole networks; empty: none.
  std::string profiler;
  // How long jobs wait for a profiler agent that is down (ProfilerWaitOptions::wait_limit).
  absl::Duration profiler_wait_limit = absl::Minutes(30);
  // Workers heartbeat this often; one silent for `heartbeat_misses` intervals is dead.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  int heartbeat_misses = 5;
  // Deadline of one task on a worker.
  absl::Duration task_timeout = absl::Hours(24);
  // Retries and stragglers. master_epoch and measure_network are set by Open.
  JobRunnerOptions runner;
  // How long in-flight calls may take to finish at Shutdown.
  absl::Duration shutdown_grace = absl::Seconds(5);
};

// The master process as a library (what netadapt-master's main.cc used to wire by hand): the
// job store and artifact store in state_dir, the worker pool and its reaper thread (declares
// silent workers dead), the task runner over gRPC to the workers, the profiler client (probed
// once for its device and batch limit; lookups retry it while it is down), the end-to-end
// network measurement on the agent, the JobManager, and JobService + CoordinatorService on
// one gRPC server. Tests start it in-process on port 0. Not thread-safe: one owner calls
// Serve and Shutdown; the services it runs are.
class MasterServer {
 public:
  // Opens the state (job store, artifact store; bumps the master epoch so that an older
  // master's results are fenced) and builds everything but the gRPC server. Errors: the state
  // directory's (FailedPrecondition, DataLoss, the file system's), naming state_dir.
  static absl::StatusOr<std::unique_ptr<MasterServer>> Open(MasterServerOptions options);
  // Open, then Serve.
  static absl::StatusOr<std::unique_ptr<MasterServer>> Start(MasterServerOptions options);

  // Starts the gRPC server (RpcServer::Start's errors: a non-loopback address without
  // authentication, a port in use, bad TLS), resumes the jobs a previous master left
  // unfinished (none when the job state is damaged: it is served read-only), and starts the
  // reaper. Call once.
  absl::Status Serve();

  // Stops the reaper and the running jobs (they stay RUNNING in the store and resume at the
  // next start; their tasks on workers are cancelled), then the server, giving in-flight calls
  // shutdown_grace. Idempotent.
  void Shutdown();
  ~MasterServer();  // Shutdown()

  // The bound port, once serving.
  int port() const;
  int64_t epoch() const { return options_.runner.master_epoch; }

 private:
  explicit MasterServer(MasterServerOptions options);

  MasterServerOptions options_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<common::ArtifactStore> artifacts_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<GrpcTaskRunner> tasks_;
  std::unique_ptr<rpc::ProfilerClient> profiler_;
  std::unique_ptr<rpc::GrpcLatencyMeasurer> measurer_;
  std::unique_ptr<JobManager> manager_;
  std::unique_ptr<JobServiceImpl> job_service_;
  std::unique_ptr<CoordinatorServiceImpl> coordinator_;
  std::unique_ptr<rpc::RpcServer> server_;
  absl::Notification stop_reaper_;
  std::thread reaper_;
  bool shut_down_ = false;
};

}  // namespace netadapt::master
