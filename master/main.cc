// netadapt-master: runs NetAdapt jobs and dispatches their tasks to workers.
//   netadapt-master --port=50051 --state_dir=/var/lib/netadapt --profiler=jetson:50061
// Serves netadapt.v1.JobService (users) and netadapt.v1.CoordinatorService (workers), plus
// health and reflection, until SIGTERM or SIGINT.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/rpc/auth.h"
#include "common/rpc/server.h"
#include "common/rpc/server_flags.h"
#include "master/master_server.h"

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
  MasterServerOptions options;
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
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
  options.client_security = *std::move(client_security);
  options.server = *std::move(server_options);
  if (!absl::GetFlag(FLAGS_master_token_file).empty()) {
    absl::StatusOr<std::string> master_token =
        rpc::ReadTokenFile(absl::GetFlag(FLAGS_master_token_file));
    if (!master_token.ok()) {
      log->critical("--master_token_file: {}", master_token.status().ToString());
      return 2;
    }
    options.worker_token = *std::move(master_token);
  }
  if (!(absl::GetFlag(FLAGS_profiler_wait_limit_s) > 0)) {
    log->critical("--profiler_wait_limit_s must be positive");
    return 2;
  }
  options.profiler = absl::GetFlag(FLAGS_profiler);
  options.profiler_wait_limit = absl::Seconds(absl::GetFlag(FLAGS_profiler_wait_limit_s));
  options.heartbeat_interval = absl::Milliseconds(absl::GetFlag(FLAGS_heartbeat_interval_ms));
  options.heartbeat_misses = absl::GetFlag(FLAGS_heartbeat_misses);
  options.task_timeout = absl::Seconds(absl::GetFlag(FLAGS_task_timeout_s));
  options.runner.max_task_attempts = absl::GetFlag(FLAGS_max_task_attempts);
  options.runner.max_infrastructure_retries = absl::GetFlag(FLAGS_max_infrastructure_retries);
  options.runner.straggler_factor = absl::GetFlag(FLAGS_straggler_factor);
  options.runner.straggler_min_duration = absl::Seconds(absl::GetFlag(FLAGS_straggler_min_s));
  options.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s));

  absl::StatusOr<std::unique_ptr<MasterServer>> master = MasterServer::Open(std::move(options));
  if (!master.ok()) {
    log->critical("--state_dir: {}", master.status().ToString());
    return 2;
  }
  if (const absl::Status serving = (*master)->Serve(); !serving.ok()) {
    log->critical("{}", serving.ToString());
    return 1;
  }
  const std::optional<int> signal = rpc::WaitForTerminationSignal();
  log->info("signal {}: shutting down", signal.value_or(0));
  (*master)->Shutdown();
  master->reset();
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
