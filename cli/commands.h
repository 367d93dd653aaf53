#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/command_context.h"
#include "cli/job_spec_builder.h"
#include "common/network_def.h"
#include "netadapt/v1/resources.pb.h"

namespace netadapt::cli {

// The `netadapt` commands. Each prints its result on ctx.out(), its errors on ctx.err(), and
// returns the process exit code (errors.h). Flags are parsed in app.cc.

// get JOB
int RunGet(CommandContext& ctx, absl::string_view job);
// list [--limit N]
int RunList(CommandContext& ctx, int limit);
// cancel JOB
int RunCancel(CommandContext& ctx, absl::string_view job);
// workers
int RunWorkers(CommandContext& ctx);

struct SubmitOptions {
  SpecFlags flags;
  // Files, "" when not given: a JobSpec in JSON, a NetworkDef in JSON, weights and a LUT to
  // upload first.
  std::string spec_file;
  std::string network_file;
  std::string weights_file;
  std::string lut_file;
  // An ONNX model (submit --onnx): imported here, its network sent as --network's and its
  // weights uploaded as --weights' (a checkpoint). flags.input_size is then the size to
  // import it at (0: the model's own), not a zoo option.
  std::string onnx_file;
  // "" = a new random one.
  std::string request_id;
  // Watch the job after creating it.
  bool wait = false;
};
// submit (JobKind::kAdapt) and pretrain (JobKind::kPretrain).
int RunSubmit(CommandContext& ctx, const SubmitOptions& options, JobKind kind);

enum class ProgressMode { kAuto, kLive, kLines };

struct WatchOptions {
  std::string job;
  ProgressMode progress = ProgressMode::kAuto;
  // Reconnects after a broken stream (UNAVAILABLE) wait a full-jitter backoff: uniform up to
  // initial_backoff at first, the ceiling doubling up to max_backoff; watch gives up (exit 2)
  // after `reconnect_for` without a message.
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(10);
  absl::Duration reconnect_for = absl::Minutes(10);
};
// watch JOB: 0 when the job SUCCEEDED, 3 when it FAILED or was CANCELLED.
int RunWatch(CommandContext& ctx, const WatchOptions& options);

struct ExportOptions {
  std::string job;
  // best | final | seed | K (an iteration number).
  std::string iteration = "best";
  std::string format = "checkpoint";
  std::string output_file;
};
// export JOB -o FILE
int RunExport(CommandContext& ctx, const ExportOptions& options);

// upload FILE: prints the digest.
int RunUpload(CommandContext& ctx, const std::string& file);

// The model `which` (best | final | seed | uniform | K) of `job` names, for export:
//   seed   the seed network;
//   uniform the uniform baseline (the seed thinned by one multiplier, fine-tuned alike);
//   final  the final network (the job must have one: it SUCCEEDED);
//   K      the network chosen in iteration K;
//   best   the final network when the job has one, else the most accurate iteration result
//          within the budget.
// Its digest and a description ("iteration 3"). InvalidArgument for a malformed `which`;
// FailedPrecondition when the job has no such model (yet).
struct ModelChoice {
  std::string digest;
  std::string description;
};
absl::StatusOr<ModelChoice> SelectModel(const v1::Job& job, absl::string_view which);

struct ReportCommandOptions {
  std::string job;
  // The HTML file to write (atomically); "-" = stdout.
  std::string output_file;
};
// report JOB -o FILE: the job as a self-contained HTML page with plots (cli/report.h).
int RunReport(CommandContext& ctx, const ReportCommandOptions& options);

struct ExplainOptions {
  // A zoo model (with its options) or a NetworkDef JSON file: exactly one.
  std::string model;
  int input_size = 0;
  int num_classes = 10;
  double width_multiplier = 1.0;
  std::string network_file;
};
// explain (--model NAME | --network FILE): the network's blocks (channel groups), what each
// resizes, and which conv and linear layers cannot be pruned and why. Local: no master.
int RunExplain(CommandContext& ctx, const ExplainOptions& options);

struct LutShowOptions {
  std::string file;
  // Entries whose p90/p10 exceeds this count as wide; <= 0: the re-measure threshold.
  double max_spread = 0;
  // How many of the widest entries to list.
  int widest = 10;
};
// lut show FILE: checks the file as the master would (InvalidArgument naming the entry) and
// prints its summary (entries, spread, the load it was measured under) and its widest entries.
// Runs locally.
int RunLutShow(CommandContext& ctx, const LutShowOptions& options);

struct ImportOptions {
  std::string onnx_file;
  // The NetworkDef JSON to write; the weights checkpoint too when weights_file is not "".
  std::string output_file;
  std::string weights_file;
  // Square input size for a model whose height and width are symbolic; 0 = the model's.
  int input_size = 0;
  // The network's name; "" = the file's name without its extension.
  std::string name;
};
// import MODEL.onnx -o NET.json [--weights-out W.ckpt]: the ONNX model as a NetworkDef and a
// checkpoint of its weights (common/onnx_import.h). Local: no master. Both files are written
// atomically; an error names the node (exit 1).
int RunImport(CommandContext& ctx, const ImportOptions& options);

// The import of the ONNX file at `path` (for `flag`'s messages: "import", "--onnx"): the
// network, its JSON and the checkpoint bytes of its weights. `input_size` 0 = the model's;
// `name` "" = the file's stem. Errors as common::ImportOnnx, prefixed with flag and path;
// LocalFileError when the file cannot be read.
struct OnnxFiles {
  common::NetworkDef def;
  std::string network_json;
  std::string checkpoint;
};
absl::StatusOr<OnnxFiles> ImportOnnxFile(absl::string_view flag, const std::string& path,
                                         int input_size, const std::string& name = "");

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class HealthState { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };
// The status of a HealthCheckResponse in the protobuf wire format; DataLoss when malformed.
absl::StatusOr<HealthState> DecodeHealthCheckResponse(absl::string_view bytes);
// "SERVING", "NOT_SERVING", ...
absl::string_view HealthStateName(HealthState state);
// health [--service NAME]: grpc.health.v1.Health/Check on --master (any netadapt server).
// Prints the state; exit 0 when SERVING, 2 when not serving or unreachable (healthchecks).
int RunHealth(CommandContext& ctx, const std::string& service);

}  // namespace netadapt::cli
