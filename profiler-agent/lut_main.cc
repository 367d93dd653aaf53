// netadapt-lut: builds a latency look-up table for a network ahead of time, over the channel
// grid (common/lut_grid.h), measured by a netadapt-profiler agent.
//   netadapt-lut --network=alexnet --agent=jetson:50061 --out=alexnet.lut
// Resumable: run the same command again after an interruption (Ctrl-C saves what was
// measured) and only the missing entries are measured.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "common/file_util.h"
#include "common/latency_table_summary.h"
#include "common/logging.h"
#include "common/lut_grid.h"
#include "common/network_def_json.h"
#include "common/rpc/auth.h"
#include "common/rpc/channel.h"
#include "common/rpc/profiler_client.h"
#include "common/rpc/server.h"
#include "common/zoo.h"
#include "profiler-agent/lut_builder.h"

ABSL_FLAG(std::string, network, "",
          "A zoo model (alexnet, mobilenet, helloworld, vgg16, resnet18, resnet34, resnet50, "
          "mobilenet_v2) or a NetworkDef JSON file (sequential or a graph).");
ABSL_FLAG(int, input_size, 0, "Zoo models: input size in pixels (0 = the model's default).");
ABSL_FLAG(double, width_multiplier, 1.0, "Zoo models: width multiplier.");
ABSL_FLAG(int, num_classes, 10, "Zoo models: classes.");
ABSL_FLAG(int, batch, 1, "Batch size the layers are measured at.");
ABSL_FLAG(std::string, agent, "", "host:port of a netadapt-profiler agent.");
ABSL_FLAG(std::string, out, "", "Output LUT (.json = JSON, otherwise binary). Resumed if it exists.");
ABSL_FLAG(int, conv_step, 8, "Channel step of the grid for conv layers.");
ABSL_FLAG(int, linear_step, 64, "Channel step of the grid for linear layers.");
ABSL_FLAG(int, chunk, 8, "Shapes per request to the agent.");
ABSL_FLAG(int, save_every, 32, "Save the output after this many new entries.");
ABSL_FLAG(int, min_runs, 0, "Timed runs before the stopping rule (0 = the agent's default).");
ABSL_FLAG(int, max_runs, 0, "Cap on timed runs per shape (0 = the agent's default).");
ABSL_FLAG(double, relative_tolerance, 0, "Median stability tolerance (0 = the agent's default).");
ABSL_FLAG(double, max_spread, netadapt::common::RemeasurePolicy::kDefaultMaxSpread,
          "Measure a shape again when its p90/p10 exceeds this (see docs/OPERATIONS.md).");
ABSL_FLAG(int, remeasure_rounds, 2,
          "Re-measurements of a wide shape at most; the tightest round is kept (0 = off).");
ABSL_FLAG(std::string, log_level, "info", "trace, debug, info, warn, error, critical, off.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the cluster token presented to the agent (docs/SECURITY.md).");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA certificates: talk TLS to the agent, verified by them.");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for an agent that requires mTLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");

namespace netadapt::profiler {
namespace {

absl::StatusOr<common::NetworkDef> LoadNetwork(const std::string& spec) {
  if (absl::EndsWith(spec, ".json")) {
    absl::StatusOr<std::string> text = common::ReadFile(spec);
    if (!text.ok()) return text.status();
    return common::NetworkDefFromJson(*text);
  }
  common::ZooOptions zoo;
  zoo.input_size = absl::GetFlag(FLAGS_input_size);
  zoo.width_multiplier = absl::GetFlag(FLAGS_width_multiplier);
  zoo.num_classes = absl::GetFlag(FLAGS_num_classes);
  return common::ZooNetwork(spec, zoo);
}

int Run() {
  const std::shared_ptr<spdlog::logger> log = common::Logger("lut");
  if (absl::GetFlag(FLAGS_network).empty() || absl::GetFlag(FLAGS_agent).empty() ||
      absl::GetFlag(FLAGS_out).empty()) {
    log->critical("--network, --agent and --out are required");
    return 2;
  }
  absl::StatusOr<common::NetworkDef> network = LoadNetwork(absl::GetFlag(FLAGS_network));
  if (!network.ok()) {
    log->critical("--network: {}", network.status().ToString());
    return 2;
  }
  common::CostContext context;
  context.batch = absl::GetFlag(FLAGS_batch);
  absl::StatusOr<std::vector<common::LayerShape>> shapes = common::GridShapes(
      *network, context, {absl::GetFlag(FLAGS_conv_step), absl::GetFlag(FLAGS_linear_step)});
  if (!shapes.ok()) {
    log->critical("{}", shapes.status().ToString());
    return 2;
  }

  absl::StatusOr<rpc::ClientSecurity> security = rpc::LoadClientSecurity(
      {absl::GetFlag(FLAGS_token_file), absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
       absl::GetFlag(FLAGS_tls_ca)});
  if (!security.ok()) {
    log->critical("{}", security.status().ToString());
    return 2;
  }
  rpc::ChannelOptions channel_options;
  channel_options.security = *std::move(security);
  rpc::ProfilerClient client(rpc::MakeChannel(absl::GetFlag(FLAGS_agent), channel_options));
  absl::StatusOr<v1::DescribeDeviceResponse> device = client.DescribeDevice();
  if (!device.ok()) {
    log->critical("agent {}: {}", absl::GetFlag(FLAGS_agent), device.status().ToString());
    return 1;
  }
  log->info("{} grid shapes for {}; agent {} measures on {} ({})", shapes->size(),
            network->name, absl::GetFlag(FLAGS_agent), device->fingerprint().device_name(),
            device->torch_device());
  v1::MeasureOptions measure;
  measure.set_min_runs(absl::GetFlag(FLAGS_min_runs));
  measure.set_max_runs(absl::GetFlag(FLAGS_max_runs));
  measure.set_relative_tolerance(absl::GetFlag(FLAGS_relative_tolerance));
  common::RemeasurePolicy remeasure;
  remeasure.max_spread = absl::GetFlag(FLAGS_max_spread);
  remeasure.max_extra_rounds = absl::GetFlag(FLAGS_remeasure_rounds);
  rpc::GrpcLatencyMeasurer measurer(&client, device->max_batch_shapes(), measure, remeasure);

  // SIGINT/SIGTERM: stop after saving. The watcher also cancels the call in flight, so the
  // agent stops measuring for us at once.
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished.load()) {
      if (rpc::WaitForTerminationSignal(absl::Milliseconds(200))) {
        stop.store(true);
        client.CancelAll();
        return;
      }
    }
  });

  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_line = std::chrono::steady_clock::now() - std::chrono::hours(1);
  LutBuildOptions options;
  options.out_path = absl::GetFlag(FLAGS_out);
  options.chunk_shapes = absl::GetFlag(FLAGS_chunk);
  options.save_every = absl::GetFlag(FLAGS_save_every);
  absl::StatusOr<common::LatencyTable> table = BuildLut(
      *shapes, device->fingerprint(), measurer, options, &stop,
      [&](const LutBuildProgress& progress) {
        const auto now = std::chrono::steady_clock::now();
        if (tty) {
          std::fprintf(stderr, "\r%s", ProgressLine(progress).c_str());
        } else if (now - last_line > std::chrono::seconds(5) || progress.done == progress.total) {
          std::fprintf(stderr, "%s\n", ProgressLine(progress).c_str());
          last_line = now;
        }
        std::fflush(stderr);
      });
  if (tty) std::fprintf(stderr, "\n");
  finished.store(true);
  watcher.join();
  if (!table.ok()) {
    log->error("{}", table.status().ToString());
    return table.status().code() == absl::StatusCode::kCancelled ? 130 : 1;
  }
  log->info("wrote {} entries to {}: {}", table->size(), options.out_path,
            common::FormatLatencyTableSummary(
                common::SummarizeLatencyTable(*table, remeasure.max_spread), table->device()));
  return 0;
}

}  // namespace
}  // namespace netadapt::profiler

int main(int argc, char** argv) {
  netadapt::rpc::BlockTerminationSignals();
  absl::SetProgramUsageMessage(
      "Builds a latency LUT over the channel grid through a netadapt-profiler agent.");
  absl::ParseCommandLine(argc, argv);
  const absl::Status logging = netadapt::common::InitLogging("lut", absl::GetFlag(FLAGS_log_level));
  if (!logging.ok()) {
    std::fprintf(stderr, "--log_level: %s\n", std::string(logging.message()).c_str());
    return 2;
  }
  return netadapt::profiler::Run();
}
