// netadapt-profiler: the latency measurement agent that runs on the target device.
//   netadapt-profiler --port=50061 --device=cpu
// Serves netadapt.v1.ProfilerService (plus health and reflection) until SIGTERM or SIGINT.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/rpc/auth.h"
#include "common/rpc/server.h"
#include "common/rpc/server_flags.h"
#include "common/torch/device.h"
#include "common/torch/layer_timer.h"
#include "profiler-agent/device_info.h"
#include "profiler-agent/profiler.h"
#include "profiler-agent/profiler_service.h"

NETADAPT_SERVER_FLAGS(
    50061,
    "File holding the cluster token every caller must present. Empty = no authentication "
    "(docs/SECURITY.md).",
    "PEM certificate chain of this agent: serve TLS.",
    "With --tls_cert: PEM CA certificates that must have signed the callers' certificates "
    "(mutual TLS).");
ABSL_FLAG(std::string, device, "cpu", "LibTorch device to measure on: cpu, cuda, cuda:N.");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 = one per core.");
ABSL_FLAG(std::string, power_mode, "",
          "Power mode recorded in the fingerprint; empty = read `nvpmodel -q` where present.");
ABSL_FLAG(int, max_batch_shapes, 256, "Most shapes one MeasureLayers request may carry.");
ABSL_FLAG(int64_t, max_memory_mb, 2048, "Most memory (MiB) one measurement may allocate.");
ABSL_FLAG(int, warmup_runs, 5, "Default untimed runs per shape.");
ABSL_FLAG(int, min_runs, 10, "Default timed runs before the stopping rule applies.");
ABSL_FLAG(int, max_runs, 200, "Default cap on timed runs per shape.");
ABSL_FLAG(double, relative_tolerance, 0.01, "Default stability tolerance of the median.");
ABSL_FLAG(double, max_time_ms, 2000, "Default cap on the timed runs' total per shape (ms).");
ABSL_FLAG(uint64_t, seed, 0, "Seed of the random weights and inputs.");
ABSL_FLAG(double, shutdown_grace_s, 5, "On SIGTERM, seconds in-flight calls may take to finish.");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical, off.");

namespace netadapt::profiler {
namespace {

int Run() {
  const std::shared_ptr<spdlog::logger> log = common::Logger("profiler");
  if (absl::GetFlag(FLAGS_max_batch_shapes) <= 0 || absl::GetFlag(FLAGS_max_memory_mb) <= 0) {
    log->critical("--max_batch_shapes and --max_memory_mb must be positive");
    return 2;
  }
  engine::SetIntraOpThreads(absl::GetFlag(FLAGS_threads));
  absl::StatusOr<std::unique_ptr<common::RunnerFactory>> factory =
      engine::MakeTorchRunnerFactory(absl::GetFlag(FLAGS_device), absl::GetFlag(FLAGS_seed));
  if (!factory.ok()) {
    log->critical("--device: {}", factory.status().ToString());
    return 2;
  }
  v1::DeviceFingerprint fingerprint =
      HostFingerprint(**factory, absl::GetFlag(FLAGS_power_mode));

  ProfilerOptions options;
  options.max_batch_shapes = absl::GetFlag(FLAGS_max_batch_shapes);
  options.max_memory_bytes = absl::GetFlag(FLAGS_max_memory_mb) << 20;
  options.default_measure.warmup_runs = absl::GetFlag(FLAGS_warmup_runs);
  options.default_measure.min_runs = absl::GetFlag(FLAGS_min_runs);
  options.default_measure.max_runs = absl::GetFlag(FLAGS_max_runs);
  options.default_measure.relative_tolerance = absl::GetFlag(FLAGS_relative_tolerance);
  options.default_measure.max_time_ms = absl::GetFlag(FLAGS_max_time_ms);
  options.default_measure = common::MeasureOptions::WithDefaults(options.default_measure, {});
  absl::StatusOr<rpc::ServerOptions> server_options =
      rpc::ServerOptionsFromFlags(NETADAPT_SERVER_FLAG_VALUES());
  if (!server_options.ok()) {
    log->critical("{}", server_options.status().ToString());
    return 2;
  }
  Profiler profiler(*std::move(factory), fingerprint, options);
  ProfilerServiceImpl service(&profiler);

  absl::StatusOr<std::unique_ptr<rpc::RpcServer>> server =
      rpc::RpcServer::Start(*server_options, {&service});
  if (!server.ok()) {
    log->critical("{}", server.status().ToString());
    return 1;
  }
  log->info("measuring on {} ({}, {}; power mode '{}', {} threads)", profiler.device(),
            fingerprint.device_name(), engine::TorchBuildDescription(), fingerprint.power_mode(),
            fingerprint.extra().at("intra_op_threads"));

  const std::optional<int> signal = rpc::WaitForTerminationSignal();
  log->info("signal {}: shutting down", signal.value_or(0));
  (*server)->Shutdown(absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s)));
  profiler.Shutdown();
  log->info("stopped");
  return 0;
}

}  // namespace
}  // namespace netadapt::profiler

int main(int argc, char** argv) {
  // Before any thread starts, so that only the main thread receives SIGTERM/SIGINT.
  netadapt::rpc::BlockTerminationSignals();
  absl::SetProgramUsageMessage("Latency measurement agent: serves netadapt.v1.ProfilerService.");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built with mutex deadlock detection on: a graph update on every lock
  // (20 % of the filter search in perf). Our lock order is fixed by design (STYLE.md).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const absl::Status logging =
      netadapt::common::InitLogging("profiler", absl::GetFlag(FLAGS_log_level));
  if (!logging.ok()) {
    std::fprintf(stderr, "--log_level: %s\n", std::string(logging.message()).c_str());
    return 2;
  }
  return netadapt::profiler::Run();
}
