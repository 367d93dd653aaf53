#include "master/master_server.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/artifact_store.h"
#include "common/logging.h"
#include "common/network_def_json.h"
#include "common/rpc/channel.h"
#include "common/rpc/profiler_client.h"
#include "common/status_macros.h"
#include "master/grpc_task_runner.h"
#include "master/job_manager.h"
#include "master/job_store.h"
#include "master/services.h"
#include "master/worker_pool.h"

namespace netadapt::master {

MasterServer::MasterServer(MasterServerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<MasterServer>> MasterServer::Open(MasterServerOptions options) {
  const std::shared_ptr<spdlog::logger> log = common::Logger("master");
  std::unique_ptr<MasterServer> master(new MasterServer(std::move(options)));
  const MasterServerOptions& o = master->options_;
  NETADAPT_ASSIGN_OR_RETURN(master->store_, JobStore::Open(o.state_dir));
  NETADAPT_ASSIGN_OR_RETURN(master->artifacts_,
                            common::ArtifactStore::Open(o.state_dir + "/artifacts"));
  master->pool_ = std::make_unique<WorkerPool>(o.heartbeat_interval * o.heartbeat_misses);

  rpc::ChannelOptions profiler_channel;
  profiler_channel.security = o.client_security;
  rpc::ChannelOptions worker_channel = profiler_channel;
  if (o.worker_token.has_value()) worker_channel.security.token = *o.worker_token;
  master->tasks_ = std::make_unique<GrpcTaskRunner>(o.task_timeout, worker_channel);

  std::optional<v1::DeviceFingerprint> profiler_device;  // checks the saved lut.bin
  if (!o.profiler.empty()) {
    master->profiler_ =
        std::make_unique<rpc::ProfilerClient>(rpc::MakeChannel(o.profiler, profiler_channel));
    absl::StatusOr<v1::DescribeDeviceResponse> device = master->profiler_->DescribeDevice();
    int max_batch = 64;
    if (device.ok()) {
      if (device->max_batch_shapes() > 0) max_batch = device->max_batch_shapes();
      profiler_device = device->fingerprint();
      log->info("profiler {}: {}", o.profiler, device->fingerprint().device_name());
    } else {
      log->warn("profiler {} not reachable yet ({}); lookups will retry it", o.profiler,
                device.status().ToString());
    }
    master->measurer_ =
        std::make_unique<rpc::GrpcLatencyMeasurer>(master->profiler_.get(), max_batch);
  }

  JobRunnerOptions& runner = master->options_.runner;
  NETADAPT_ASSIGN_OR_RETURN(runner.master_epoch, BumpMasterEpoch(o.state_dir));
  if (master->profiler_ != nullptr) {
    runner.measure_network = [client = master->profiler_.get()](
                                 const common::NetworkDef& network) -> absl::StatusOr<double> {
      v1::MeasureNetworkRequest request;
      *request.mutable_network() = common::NetworkDefToProto(network);
      absl::StatusOr<v1::MeasureNetworkResponse> response = client->MeasureNetwork(request);
      if (!response.ok()) return response.status();
      return response->latency().median_ms();
    };
  }
  ProfilerWaitOptions profiler_wait;
  profiler_wait.agent = o.profiler;  // named in the activity and the reason
  profiler_wait.wait_limit = o.profiler_wait_limit;
  master->manager_ = std::make_unique<JobManager>(
      *master->store_, *master->pool_, *master->tasks_, *master->artifacts_,
      master->measurer_.get(), runner, o.state_dir + "/lut.bin", profiler_wait, profiler_device);
  master->job_service_ = std::make_unique<JobServiceImpl>(*master->manager_, *master->store_,
                                                          *master->pool_, *master->artifacts_);
  master->coordinator_ = std::make_unique<CoordinatorServiceImpl>(
      *master->manager_, *master->pool_, *master->artifacts_,
      static_cast<int>(absl::ToInt64Milliseconds(o.heartbeat_interval)));
  return master;
}

absl::StatusOr<std::unique_ptr<MasterServer>> MasterServer::Start(MasterServerOptions options) {
  NETADAPT_ASSIGN_OR_RETURN(std::unique_ptr<MasterServer> master, Open(std::move(options)));
  NETADAPT_RETURN_IF_ERROR(master->Serve());
  return master;
}

absl::Status MasterServer::Serve() {
  const std::shared_ptr<spdlog::logger> log = common::Logger("master");
  NETADAPT_ASSIGN_OR_RETURN(server_, rpc::RpcServer::Start(options_.server,
                                                           {job_service_.get(), coordinator_.get()}));
  log->info("serving on port {} (state in {}, epoch {})", server_->port(), options_.state_dir,
            options_.runner.master_epoch);
  // Jobs the previous master left unfinished continue where they were persisted.
  if (const absl::Status damage = store_->damage(); !damage.ok()) {
    // Never proceed on garbage, never crash-loop: serve what was read, resume nothing.
    log->error("job state is damaged; serving it read-only and resuming no job: {}",
               damage.ToString());
  } else if (const int resumed = manager_->ResumeInterrupted(); resumed > 0) {
    log->info("resumed {} interrupted job(s)", resumed);
  }
  // Declares silent workers dead so their devices leave the pool.
  reaper_ = std::thread([this] {
    while (!stop_reaper_.WaitForNotificationWithTimeout(options_.heartbeat_interval)) {
      pool_->ExpireSilentWorkers();
    }
  });
  return absl::OkStatus();
}

void MasterServer::Shutdown() {
  if (std::exchange(shut_down_, true)) return;
  if (!stop_reaper_.HasBeenNotified()) stop_reaper_.Notify();
  if (reaper_.joinable()) reaper_.join();
  // Stops running jobs (their tasks on workers are cancelled too); they stay RUNNING in the
  // store and resume at the next start. The manager then answers Unavailable to calls that
  // still arrive, and is destroyed only once the server no longer calls it.
  if (manager_ != nullptr) manager_->Shutdown();
  if (server_ != nullptr) server_->Shutdown(options_.shutdown_grace);
  manager_.reset();
}

// The members then go in reverse order: the server before the services, the services before
// the stores they refer to.
MasterServer::~MasterServer() { Shutdown(); }

int MasterServer::port() const { return server_ == nullptr ? 0 : server_->port(); }

}  // namespace netadapt::master
