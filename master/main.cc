// netadapt-master: runs NetAdapt jobs and dispatches their tasks to workers.
//   netadapt-master --port=50051 --state_dir=/var/lib/netadapt --profiler=jetson:50061
// Serves netadapt.v1.JobService (users) and netadapt.v1.CoordinatorService (workers), plus
// health and reflection, until SIGTERM or SIGINT.
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/artifact_store.h"
#include "common/logging.h"
#include "common/network_def_json.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "common/rpc/profiler_client.h"
#include "common/rpc/server.h"
#include "common/rpc/server_flags.h"
#include "master/grpc_task_runner.h"
#include "master/job_manager.h"
#include "master/job_store.h"
#include "master/services.h"
#include "master/worker_pool.h"

NETADAPT_SERVER_FLAGS(
    50051,
    "File holding the cluster token: every caller (CLI, workers) must present it, and the "
    "master presents it to the profiler. Empty = no authentication (docs/SECURITY.md).",
    "PEM certificate chain of this master: serve TLS.",
    "PEM CA certificates: TLS to the profiler and the workers, verified against them; with "
    "--tls_cert, clients must present a certificate they signed (mutual TLS).");
ABSL_FLAG(std::string, state_dir, "netadapt-state",
          "Directory of the durable job state and the artifact store.");
ABSL_FLAG(std::string, profiler, "",
          "host:port of the netadapt-profiler agent measuring LUT misses; empty = none (LATENCY "
          "jobs then need a LUT and lut_mode INTERPOLATE).");
ABSL_FLAG(double, profiler_wait_limit_s, 1800,
          "While the profiler agent is down or hung, jobs that measure latencies wait for it "
          "(jittered backoff; their activity says so); past this many seconds they FAIL with "
          "that reason. Keep the workers' --lookup_timeout_s above it.");
ABSL_FLAG(int, heartbeat_interval_ms, 1000, "How often workers heartbeat.");
ABSL_FLAG(int, heartbeat_misses, 5, "Missed heartbeats after which a worker is dead.");
ABSL_FLAG(double, task_timeout_s, 24 * 3600, "Deadline of one task on a worker.");
ABSL_FLAG(int, max_task_attempts, 3,
          "Attempts of a task that fails by itself (its worker stays up) before its proposal "
          "fails; failures a retry cannot change fail it at once.");
ABSL_FLAG(int, max_infrastructure_retries, 10,
          "Retries of a task whose worker died, was declared dead or unreachable, or passed the "
          "task deadline (not counted in --max_task_attempts); bounds a task that kills every "
          "worker it runs on.");
ABSL_FLAG(double, straggler_factor, 3,
          "A task running this many times longer than the median of the job's finished tasks of "
          "its kind gets a backup attempt on an idle worker (first result wins); 0 = never.");
ABSL_FLAG(double, straggler_min_s, 30, "No backup attempt for a task younger than this.");
ABSL_FLAG(double, shutdown_grace_s, 5, "On SIGTERM, seconds in-flight calls may take to finish.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical, off.");
ABSL_FLAG(std::string, master_token_file, "",
          "File holding the master token, presented to the workers (their --master_token_file); "
          "empty = present the cluster token.");

namespace netadapt::master {
namespace {

int Run() {
  const std::shared_ptr<spdlog::logger> log = common::Logger("master");
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(state_dir);
  if (!store.ok()) {
    log->critical("--state_dir: {}", store.status().ToString());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<common::ArtifactStore>> artifacts =
      common::ArtifactStore::Open(state_dir + "/artifacts");
  if (!artifacts.ok()) {
    log->critical("--state_dir: {}", artifacts.status().ToString());
    return 2;
  }
  const int heartbeat_ms = absl::GetFlag(FLAGS_heartbeat_interval_ms);
  WorkerPool pool(absl::Milliseconds(heartbeat_ms) * absl::GetFlag(FLAGS_heartbeat_misses));
  const rpc::ServerFlags server_flags = NETADAPT_SERVER_FLAG_VALUES();
  absl::StatusOr<rpc::ClientSecurity> client_security =
      rpc::LoadClientSecurity(server_flags.credentials);
  absl::StatusOr<rpc::ServerOptions> server_options = rpc::ServerOptionsFromFlags(server_flags);
  for (const absl::Status& s : {client_security.status(), server_options.status()}) {
    if (!s.ok()) {
      log->critical("{}", s.ToString());
      return 2;
    }
  }
  rpc::ChannelOptions profiler_channel;
  profiler_channel.security = *client_security;
  rpc::ChannelOptions worker_channel = profiler_channel;
  if (!absl::GetFlag(FLAGS_master_token_file).empty()) {
    absl::StatusOr<std::string> master_token =
        rpc::ReadTokenFile(absl::GetFlag(FLAGS_master_token_file));
    if (!master_token.ok()) {
      log->critical("--master_token_file: {}", master_token.status().ToString());
      return 2;
    }
    worker_channel.security.token = *master_token;
  }
  GrpcTaskRunner tasks(absl::Seconds(absl::GetFlag(FLAGS_task_timeout_s)), worker_channel);

  std::unique_ptr<rpc::ProfilerClient> profiler;
  std::unique_ptr<rpc::GrpcLatencyMeasurer> measurer;
  std::optional<v1::DeviceFingerprint> profiler_device;  // checks the saved lut.bin
  if (!absl::GetFlag(FLAGS_profiler).empty()) {
    profiler = std::make_unique<rpc::ProfilerClient>(
        rpc::MakeChannel(absl::GetFlag(FLAGS_profiler), profiler_channel));
    absl::StatusOr<v1::DescribeDeviceResponse> device = profiler->DescribeDevice();
    int max_batch = 64;
    if (device.ok()) {
      if (device->max_batch_shapes() > 0) max_batch = device->max_batch_shapes();
      profiler_device = device->fingerprint();
      log->info("profiler {}: {}", absl::GetFlag(FLAGS_profiler),
                device->fingerprint().device_name());
    } else {
      log->warn("profiler {} not reachable yet ({}); lookups will retry it",
                absl::GetFlag(FLAGS_profiler), device.status().ToString());
    }
    measurer = std::make_unique<rpc::GrpcLatencyMeasurer>(profiler.get(), max_batch);
  }

  JobRunnerOptions runner_options;
  runner_options.max_task_attempts = absl::GetFlag(FLAGS_max_task_attempts);
  runner_options.max_infrastructure_retries = absl::GetFlag(FLAGS_max_infrastructure_retries);
  runner_options.straggler_factor = absl::GetFlag(FLAGS_straggler_factor);
  runner_options.straggler_min_duration = absl::Seconds(absl::GetFlag(FLAGS_straggler_min_s));
  absl::StatusOr<int64_t> epoch = BumpMasterEpoch(state_dir);
  if (!epoch.ok()) {
    log->critical("--state_dir: {}", epoch.status().ToString());
    return 2;
  }
  runner_options.master_epoch = *epoch;
  if (profiler != nullptr) {
    runner_options.measure_network =
        [client = profiler.get()](const common::NetworkDef& network) -> absl::StatusOr<double> {
      v1::MeasureNetworkRequest request;
      *request.mutable_network() = common::NetworkDefToProto(network);
      absl::StatusOr<v1::MeasureNetworkResponse> response = client->MeasureNetwork(request);
      if (!response.ok()) return response.status();
      return response->latency().median_ms();
    };
  }
  if (!(absl::GetFlag(FLAGS_profiler_wait_limit_s) > 0)) {
    log->critical("--profiler_wait_limit_s must be positive");
    return 2;
  }
  ProfilerWaitOptions profiler_wait;
  profiler_wait.agent = absl::GetFlag(FLAGS_profiler);  // named in the activity and the reason
  profiler_wait.wait_limit = absl::Seconds(absl::GetFlag(FLAGS_profiler_wait_limit_s));
  auto manager = std::make_unique<JobManager>(**store, pool, tasks, **artifacts, measurer.get(),
                                              runner_options, state_dir + "/lut.bin",
                                              profiler_wait, profiler_device);
  JobServiceImpl job_service(*manager, **store, pool, **artifacts);
  CoordinatorServiceImpl coordinator(*manager, pool, **artifacts, heartbeat_ms);

  absl::StatusOr<std::unique_ptr<rpc::RpcServer>> server =
      rpc::RpcServer::Start(*server_options, {&job_service, &coordinator});
  if (!server.ok()) {
    log->critical("{}", server.status().ToString());
    return 1;
  }
  log->info("serving on port {} (state in {}, epoch {})", (*server)->port(), state_dir, *epoch);
  // Jobs the previous master left unfinished continue where they were persisted.
  if (const absl::Status damage = (*store)->damage(); !damage.ok()) {
    // Never proceed on garbage, never crash-loop: serve what was read, resume nothing.
    log->error("job state is damaged; serving it read-only and resuming no job: {}",
               damage.ToString());
  } else if (const int resumed = manager->ResumeInterrupted(); resumed > 0) {
    log->info("resumed {} interrupted job(s)", resumed);
  }

  // Declares silent workers dead so their devices leave the pool.
  absl::Notification stop;
  std::thread reaper([&] {
    while (!stop.WaitForNotificationWithTimeout(absl::Milliseconds(heartbeat_ms))) {
      pool.ExpireSilentWorkers();
    }
  });

  const std::optional<int> signal = rpc::WaitForTerminationSignal();
  log->info("signal {}: shutting down", signal.value_or(0));
  stop.Notify();
  reaper.join();
  // Stops running jobs (their tasks on workers are cancelled too); they stay RUNNING in the
  // store and resume at the next start. The manager then answers Unavailable to calls that
  // still arrive, and is destroyed only once the server no longer calls it.
  manager->Shutdown();
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s)));
  manager.reset();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace netadapt::master

int main(int argc, char** argv) {
  netadapt::rpc::BlockTerminationSignals();
  absl::SetProgramUsageMessage("NetAdapt master: serves netadapt.v1.JobService and "
                               "netadapt.v1.CoordinatorService.");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built with mutex deadlock detection on: a graph update on every lock.
  // Our lock order is fixed by design (STYLE.md); the tests run with detection on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const absl::Status logging =
      netadapt::common::InitLogging("master", absl::GetFlag(FLAGS_log_level));
  if (!logging.ok()) {
    std::fprintf(stderr, "--log_level: %s\n", std::string(logging.message()).c_str());
    return 2;
  }
  return netadapt::master::Run();
}
