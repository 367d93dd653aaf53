// netadapt-worker: executes NetAdapt tasks (simplify, fine-tune, evaluate,
// pretrain) for a master on one device.
//   netadapt-worker --master=localhost:50051 --port=50071 --device=cuda:0
// Registers with the master, heartbeats, and serves netadapt.v1.WorkerService
// (plus health and reflection) until SIGTERM or SIGINT.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/flags/usage.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/artifact_store.h"
#include "common/logging.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"
#include "common/rpc/server_flags.h"
#include "common/torch/device.h"
#include "worker/master_client.h"
#include "worker/task_executor.h"
#include "worker/worker_service.h"

ABSL_FLAG(std::string, master, "", "host:port of the master's CoordinatorService. Required.");
NETADAPT_SERVER_FLAGS(
    50071,
    "File holding the cluster token, presented to the master. Empty = no authentication "
    "(docs/SECURITY.md).",
    "PEM certificate chain of this worker: serve TLS.",
    "PEM CA certificates: TLS to the master, verified against them; with --tls_cert, "
    "callers must present a certificate they signed (mutual TLS).");
ABSL_FLAG(std::string, advertise_host, "127.0.0.1",
          "Host the master reaches this worker at (registered as host:port).");
ABSL_FLAG(std::string, device, "cpu", "LibTorch device to run tasks on: cpu, cuda, cuda:N.");
ABSL_FLAG(std::string, cache_dir, "",
          "Directory of the local artifact cache; empty = "
          "/tmp/netadapt-worker-cache-<uid>.");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 = one per core.");
ABSL_FLAG(int, loader_threads, 0,
          "Threads that decode image-folder datasets ahead of the training step; 0 = one per "
          "core.");
ABSL_FLAG(double, shutdown_grace_s, 5, "On SIGTERM, seconds running tasks may take to finish.");
ABSL_FLAG(double, lookup_timeout_s, 3600,
          "Deadline of one LookupLatency call to the master (plus 2 s per shape). The master "
          "holds a lookup while the profiler agent is down, up to its --profiler_wait_limit_s "
          "(1800 by default): keep this above that limit.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical, off.");
ABSL_FLAG(std::string, master_token_file, "",
          "File holding the master token: only calls bearing it may run tasks here (others get "
          "PERMISSION_DENIED or UNAUTHENTICATED). Empty = any --token_file holder may.");

namespace netadapt::worker {
namespace {

int Run() {
  const std::shared_ptr<spdlog::logger> log = common::Logger("worker");
  const std::string master = absl::GetFlag(FLAGS_master);
  if (master.empty()) {
    log->critical("--master is required (host:port of the master)");
    return 2;
  }
  const std::string device = absl::GetFlag(FLAGS_device);
  if (absl::Status s = engine::CheckDevice(device); !s.ok()) {
    log->critical("--device: {}", s.ToString());
    return 2;
  }
  engine::KeepFreedHostMemory();
  engine::SetIntraOpThreads(absl::GetFlag(FLAGS_threads));

  std::string cache_dir = absl::GetFlag(FLAGS_cache_dir);
  if (cache_dir.empty()) cache_dir = absl::StrCat("/tmp/netadapt-worker-cache-", getuid());
  absl::StatusOr<std::unique_ptr<common::ArtifactStore>> cache =
      common::ArtifactStore::Open(cache_dir);
  if (!cache.ok()) {
    log->critical("--cache_dir: {}", cache.status().ToString());
    return 2;
  }

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
  if (!absl::GetFlag(FLAGS_master_token_file).empty()) {
    absl::StatusOr<std::string> master_token =
        rpc::ReadTokenFile(absl::GetFlag(FLAGS_master_token_file));
    if (!master_token.ok()) {
      log->critical("--master_token_file: {}", master_token.status().ToString());
      return 2;
    }
    // Tasks come from the master only: the cluster token is known here (its holders are told
    // PERMISSION_DENIED), but WorkerService demands the master's.
    rpc::ServerSecurity& security = server_options->security;
    security.tokens.push_back({rpc::kMasterRole, *std::move(master_token)});
    security.service_roles[v1::WorkerService::service_full_name()] = {rpc::kMasterRole};
  } else if (!server_options->security.tokens.empty()) {
    log->warn("--token_file without --master_token_file: any holder of the cluster token may "
              "run tasks on this worker");
  }
  rpc::ChannelOptions master_channel;
  master_channel.security = *std::move(client_security);
  MasterClientOptions client_options;
  if (!(absl::GetFlag(FLAGS_lookup_timeout_s) > 0)) {
    log->critical("--lookup_timeout_s must be positive");
    return 2;
  }
  client_options.lookup_timeout_base = absl::Seconds(absl::GetFlag(FLAGS_lookup_timeout_s));
  MasterClient client(rpc::MakeChannel(master, master_channel), client_options);
  TaskExecutorOptions executor_options;
  executor_options.devices = {device};
  executor_options.intra_op_threads = absl::GetFlag(FLAGS_threads);
  executor_options.loader_threads = absl::GetFlag(FLAGS_loader_threads);
  executor_options.cache = cache->get();
  TaskExecutor executor(&client, executor_options);
  WorkerServiceImpl service(&executor, executor_options.devices);

  absl::StatusOr<std::unique_ptr<rpc::RpcServer>> server =
      rpc::RpcServer::Start(*server_options, {&service});
  if (!server.ok()) {
    log->critical("{}", server.status().ToString());
    return 1;
  }

  // Registration comes after the server runs, so the master can call back at
  // once.
  v1::RegisterWorkerRequest registration;
  registration.set_address(
      absl::StrCat(absl::GetFlag(FLAGS_advertise_host), ":", (*server)->port()));
  registration.add_devices(device);
  absl::BitGen bits;
  registration.set_incarnation(
      absl::StrFormat("%d-%016x", getpid(), absl::Uniform<uint64_t>(bits)));
  log->info("serving on port {} with {} ({}), cache {}; master {}", (*server)->port(), device,
            engine::TorchBuildDescription(), cache_dir, master);
  client.StartHeartbeats(registration);

  const std::optional<int> signal = rpc::WaitForTerminationSignal();
  log->info("signal {}: shutting down", signal.value_or(0));
  client.StopHeartbeats();
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s)));
  service.Shutdown();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace netadapt::worker

int main(int argc, char** argv) {
  // Before any thread starts, so that only the main thread receives
  // SIGTERM/SIGINT.
  netadapt::rpc::BlockTerminationSignals();
  absl::SetProgramUsageMessage("NetAdapt worker: serves netadapt.v1.WorkerService.");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built with mutex deadlock detection on: a graph update on every lock
  // (20 % of the filter search in perf). Our lock order is fixed by design (STYLE.md).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const absl::Status logging =
      netadapt::common::InitLogging("worker", absl::GetFlag(FLAGS_log_level));
  if (!logging.ok()) {
    std::fprintf(stderr, "--log_level: %s\n", std::string(logging.message()).c_str());
    return 2;
  }
  return netadapt::worker::Run();
}
