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
#include "common/torch/device.h"
#include "worker/master_client.h"
#include "worker/task_executor.h"
#include "worker/worker_service.h"

ABSL_FLAG(std::string, master, "", "host:port of the master's CoordinatorService. Required.");
ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on: loopback by default; 0.0.0.0 (all interfaces) needs --token_file "
          "or --insecure.");
ABSL_FLAG(bool, insecure, false,
          "Allow listening on a non-loopback --host without authentication (no --token_file, no "
          "client certificates): anyone who can reach the port may call every service.");
ABSL_FLAG(int, port, 50071, "Port to listen on; 0 picks a free one (see --port_file).");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file once serving.");
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
ABSL_FLAG(bool, reflection, true, "Serve gRPC server reflection.");
ABSL_FLAG(double, shutdown_grace_s, 5, "On SIGTERM, seconds running tasks may take to finish.");
ABSL_FLAG(double, lookup_timeout_s, 3600,
          "Deadline of one LookupLatency call to the master (plus 2 s per shape). The master "
          "holds a lookup while the profiler agent is down, up to its --profiler_wait_limit_s "
          "(1800 by default): keep this above that limit.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical, off.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the cluster token, presented to the master. Empty = no authentication "
          "(docs/SECURITY.md).");
ABSL_FLAG(std::string, master_token_file, "",
          "File holding the master token: only calls bearing it may run tasks here (others get "
          "PERMISSION_DENIED or UNAUTHENTICATED). Empty = any --token_file holder may.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain of this worker: serve TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates: TLS to the master, verified against them; with --tls_cert, "
          "callers must present a certificate they signed (mutual TLS).");

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

  const rpc::CredentialFiles credentials{
      absl::GetFlag(FLAGS_token_file), absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
      absl::GetFlag(FLAGS_tls_ca)};
  absl::StatusOr<rpc::ClientSecurity> client_security = rpc::LoadClientSecurity(credentials);
  absl::StatusOr<rpc::ServerSecurity> server_security = rpc::LoadServerSecurity(credentials);
  for (const absl::Status& s : {client_security.status(), server_security.status()}) {
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
    server_security->tokens.push_back({rpc::kMasterRole, *std::move(master_token)});
    server_security->service_roles[v1::WorkerService::service_full_name()] = {rpc::kMasterRole};
  } else if (!server_security->tokens.empty()) {
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

  rpc::ServerOptions server_options;
  server_options.address = absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port));
  server_options.port_file = absl::GetFlag(FLAGS_port_file);
  server_options.reflection = absl::GetFlag(FLAGS_reflection);
  server_options.security = *std::move(server_security);
  server_options.insecure = absl::GetFlag(FLAGS_insecure);
  absl::StatusOr<std::unique_ptr<rpc::RpcServer>> server =
      rpc::RpcServer::Start(server_options, {&service});
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
