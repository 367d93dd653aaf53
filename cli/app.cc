#include "cli/app.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <functional>
#include <tuple>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command_context.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "common/rpc/auth.h"

namespace netadapt::cli {
namespace {

constexpr char kExitCodes[] = R"(Exit codes:
  0  success
  1  bad input or usage: flags rejected here, or a request the master rejected
     (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS, OUT_OF_RANGE)
  2  the master is unreachable or did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED)
  3  the job FAILED or was CANCELLED (watch, submit --wait, pretrain --wait)
  4  any other error from the master (INTERNAL, UNIMPLEMENTED, DATA_LOSS, ...)
  5  the master refused the credentials (UNAUTHENTICATED, PERMISSION_DENIED)

The master is --master, else $NETADAPT_MASTER, else 127.0.0.1:50051.
The token is read from --token-file, else $NETADAPT_TOKEN_FILE, else taken from $NETADAPT_TOKEN.
)";

// "10s", "1m30s", "500ms", or a plain number of seconds.
absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view flag, const std::string& text) {
  absl::Duration duration;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &duration)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", text, "' is not a duration (e.g. 10s, 500ms, 2m)"));
  }
  if (duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " must be positive, got '", text, "'"));
  }
  return duration;
}

// Registers --NAME for an optional spec field: set only when given.
template <typename T>
CLI::Option* AddOptional(CLI::App* app, const std::string& name, std::optional<T>* field,
                         const std::string& help) {
  return app->add_option_function<T>(
      name, [field](const T& value) { *field = value; }, help);
}

// The JobSpec flags shared by submit and pretrain.
void AddModelFlags(CLI::App* sub, SubmitOptions& o) {
  AddOptional(sub, "--model", &o.flags.model,
              "Zoo model: alexnet, mobilenet, helloworld, vgg16, resnet18, resnet34, resnet50, "
              "mobilenet_v2.");
  sub->add_option("--network", o.network_file,
                  "Your own network instead of --model: a NetworkDef in JSON (docs/CLI.md).");
  AddOptional(sub, "--dataset", &o.flags.dataset,
              "Dataset as the workers read it, e.g. cifar10:/data/cifar-10-batches-bin, "
              "fashion-mnist:/usr/share/datasets/fashion-mnist, "
              "synthetic:classes=10,shape=3x32x32.");
  AddOptional(sub, "--input-size", &o.flags.input_size, "Square input size of a zoo model.");
  AddOptional(sub, "--width-multiplier", &o.flags.width_multiplier,
              "Width multiplier of a zoo model (default 1).");
  AddOptional(sub, "--display-name", &o.flags.display_name, "Free-form name shown by list.");
  AddOptional(sub, "--seed", &o.flags.seed, "Seed of every random choice of the job.");
  AddOptional(sub, "--finetune-lr", &o.flags.finetune_lr, "SGD learning rate (default 0.001).");
  AddOptional(sub, "--momentum", &o.flags.momentum, "SGD momentum (default 0.9).");
  AddOptional(sub, "--weight-decay", &o.flags.weight_decay, "SGD weight decay (default 1e-4).");
  AddOptional(sub, "--batch-size", &o.flags.batch_size, "Mini-batch size (default 128).");
  AddOptional(sub, "--holdout-size", &o.flags.holdout_size,
              "Training images held out to measure accuracy (default 10000).");
  sub->add_option("--spec", o.spec_file,
                  "A JobSpec in protobuf JSON (proto/netadapt/v1/resources.proto); flags given "
                  "as well override its fields.");
  sub->add_option("--request-id", o.request_id,
                  "Idempotency key: the same id returns the same job (default: random).");
  sub->add_flag("--wait", o.wait, "Watch the job until it ends (exit codes as watch).");
}

}  // namespace

int RunApp(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
           const char* environment_master, bool out_is_tty, int terminal_width,
           const char* environment_token_file, const char* environment_token) {
  CLI::App app{"netadapt: adapt a CNN to a resource budget (NetAdapt) on a netadapt-master.",
               "netadapt"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  // Global options may also follow the subcommand: `netadapt get 7 --output=json`.
  app.fallthrough();

  std::string master = environment_master != nullptr && *environment_master != '\0'
                           ? environment_master
                           : "127.0.0.1:50051";
  std::string output = "table";
  std::string timeout = "10s";
  std::string transfer_timeout = "10m";
  app.add_option("--master", master, "host:port of netadapt-master ($NETADAPT_MASTER)")
      ->capture_default_str();
  app.add_option("--output", output, "table (for people) or json (protobuf JSON, for scripts)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", timeout, "Deadline of each call to the master (10s, 500ms, 2m)")
      ->capture_default_str();
  app.add_option("--transfer-timeout", transfer_timeout,
                 "Deadline of an artifact upload or download")
      ->capture_default_str();
  rpc::CredentialFiles credentials;
  app.add_option("--token-file,--token_file", credentials.token_file,
                 "File holding the cluster token ($NETADAPT_TOKEN_FILE; or the token itself in "
                 "$NETADAPT_TOKEN)");
  app.add_option("--tls-ca,--tls_ca", credentials.tls_ca,
                 "PEM CA certificates: talk TLS to the master, verified by them");
  app.add_option("--tls-cert,--tls_cert", credentials.tls_cert,
                 "PEM client certificate, for a master that requires mutual TLS");
  app.add_option("--tls-key,--tls_key", credentials.tls_key, "PEM private key of --tls-cert");

  // Each subcommand's arguments, and what runs when it was chosen.
  std::vector<std::pair<CLI::App*, std::function<int(CommandContext&)>>> commands;

  SubmitOptions submit;
  {
    CLI::App* sub = app.add_subcommand("submit", "Start a NetAdapt job.");
    AddModelFlags(sub, submit);
    sub->add_option("--weights", submit.weights_file,
                    "Seed weights to upload first: a netadapt checkpoint or a PyTorch "
                    "state_dict (detected from the file).");
    sub->add_option("--onnx", submit.onnx_file,
                    "Your own model as ONNX instead of --model/--network: imported here (as "
                    "netadapt import does), its weights uploaded as the seed. --input-size "
                    "sets its input size when the model's is symbolic.");
    AddOptional(sub, "--weights-digest", &submit.flags.weights_digest,
                "Seed weights already uploaded (netadapt upload).");
    AddOptional(sub, "--pretrain-epochs", &submit.flags.pretrain_epochs,
                "Pre-train the seed network this many epochs first.");
    AddOptional(sub, "--resource-type", &submit.flags.resource_type,
                "latency (default), flops or weights.");
    AddOptional(sub, "--budget-ratio", &submit.flags.budget_ratio,
                "Budget as a ratio of the seed's resource, in (0, 1) (default 0.5).");
    AddOptional(sub, "--budget", &submit.flags.budget,
                "Absolute budget (ms, MACs or weights) instead of --budget-ratio.");
    AddOptional(sub, "--budget-metric", &submit.flags.budget_metric,
                "What the budget bounds: lut (default, the LUT's sum) or measured (the "
                "network's latency measured end to end on the device).");
    sub->add_flag_function(
        "--no-uniform-baseline",
        [&submit](int64_t) { submit.flags.uniform_baseline = false; },
        "Skip the uniform baseline (the seed thinned by one multiplier to the final "
        "network's latency, trained alike) and the seed's retraining at the end of the job.");
    AddOptional(sub, "--reduction-ratio", &submit.flags.reduction_ratio,
                "First iteration's reduction as a ratio of the seed, in (0, 1) (default 0.025).");
    AddOptional(sub, "--reduction", &submit.flags.reduction,
                "Absolute first reduction instead of --reduction-ratio.");
    AddOptional(sub, "--decay", &submit.flags.decay,
                "Reduction decay per iteration, in (0, 1] (default 0.96).");
    AddOptional(sub, "--max-iters", &submit.flags.max_iters, "Most iterations (default 30).");
    AddOptional(sub, "--short-term-steps", &submit.flags.short_term_steps,
                "Fine-tuning mini-batches per proposal (default 500).");
    AddOptional(sub, "--long-term-epochs", &submit.flags.long_term_epochs,
                "Fine-tuning epochs of the final network (default 0).");
    AddOptional(sub, "--search", &submit.flags.search,
                "Filter-count search: exact (default), binary or linear.");
    AddOptional(sub, "--binary-threshold", &submit.flags.binary_threshold,
                "Candidates left when binary search switches to a scan (default 16).");
    AddOptional(sub, "--channel-step", &submit.flags.channel_step,
                "Step between candidate filter counts (default 8).");
    AddOptional(sub, "--certify-tolerance", &submit.flags.certify_tolerance,
                "Measured LUTs: how irregular the device may be while the search still "
                "certifies the full table's choice, in [0, 0.5) (default 0.03; smaller "
                "measures fewer shapes).");
    sub->add_option("--lut", submit.lut_file, "A latency table to upload and use.");
    AddOptional(sub, "--lut-digest", &submit.flags.lut_digest,
                "A latency table already uploaded (netadapt upload).");
    AddOptional(sub, "--lut-mode", &submit.flags.lut_mode,
                "LUT misses: measure (default, on the device) or interpolate (offline).");
    AddOptional(sub, "--interpolation", &submit.flags.interpolation,
                "bilinear (default) or rbf-cubic, with --lut-mode=interpolate.");
    commands.emplace_back(sub, [&](CommandContext& ctx) {
      return RunSubmit(ctx, submit, JobKind::kAdapt);
    });
  }

  SubmitOptions pretrain;
  {
    CLI::App* sub = app.add_subcommand(
        "pretrain", "Train a seed network from scratch (a job that only prepares the seed).");
    AddModelFlags(sub, pretrain);
    AddOptional(sub, "--epochs", &pretrain.flags.pretrain_epochs, "Training epochs (required).")
        ->required();
    commands.emplace_back(sub, [&](CommandContext& ctx) {
      return RunSubmit(ctx, pretrain, JobKind::kPretrain);
    });
  }

  std::string job;
  {
    CLI::App* sub = app.add_subcommand("get", "Show a job: state, history, proposals.");
    sub->add_option("job", job, "jobs/N or N")->required();
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunGet(ctx, job); });
  }
  int limit = 0;
  {
    CLI::App* sub = app.add_subcommand("list", "List jobs, newest first.");
    sub->add_option("--limit", limit, "At most this many (0 = all).");
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunList(ctx, limit); });
  }
  {
    CLI::App* sub = app.add_subcommand("cancel", "Cancel a job.");
    sub->add_option("job", job, "jobs/N or N")->required();
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunCancel(ctx, job); });
  }
  {
    CLI::App* sub = app.add_subcommand("workers", "List the workers and their tasks.");
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunWorkers(ctx); });
  }

  WatchOptions watch;
  std::string progress = "auto";
  std::string reconnect_for = "10m";
  std::string backoff = "500ms";
  {
    CLI::App* sub = app.add_subcommand(
        "watch", "Follow a job live until it ends: exit 0 if it SUCCEEDED, 3 otherwise.");
    sub->add_option("job", watch.job, "jobs/N or N")->required();
    sub->add_option("--progress", progress,
                    "auto: redraw in place on a terminal, one line per change otherwise; "
                    "live; lines")
        ->check(CLI::IsMember({"auto", "live", "lines"}))
        ->capture_default_str();
    sub->add_option("--reconnect-for", reconnect_for,
                    "Keep reconnecting a broken watch this long before giving up (exit 2).")
        ->capture_default_str();
    sub->add_option("--reconnect-backoff", backoff, "First wait before reconnecting.")
        ->capture_default_str();
    commands.emplace_back(sub, [&](CommandContext& ctx) {
      for (auto [flag, text, field] :
           {std::tuple{"--reconnect-for", &reconnect_for, &watch.reconnect_for},
            std::tuple{"--reconnect-backoff", &backoff, &watch.initial_backoff}}) {
        absl::StatusOr<absl::Duration> parsed = ParseDurationFlag(flag, *text);
        if (!parsed.ok()) return ctx.Fail(parsed.status());
        *field = *parsed;
      }
      watch.max_backoff = std::max(watch.max_backoff, watch.initial_backoff);
      watch.progress = progress == "live"    ? ProgressMode::kLive
                       : progress == "lines" ? ProgressMode::kLines
                                             : ProgressMode::kAuto;
      return RunWatch(ctx, watch);
    });
  }

  ExportOptions export_options;
  {
    CLI::App* sub = app.add_subcommand(
        "export",
        "Download a model of a job: a netadapt checkpoint, ONNX (opset 13) or its JSON "
        "NetworkDef.");
    sub->add_option("job", export_options.job, "jobs/N or N")->required();
    sub->add_option("--iteration", export_options.iteration,
                    "best (the final model, else the most accurate within the budget), final, "
                    "seed, uniform (the uniform baseline), or an iteration number K")
        ->capture_default_str();
    sub->add_option("--format", export_options.format,
                    "checkpoint (our format, for submit --weights), onnx (opset 13, for "
                    "TensorRT / ONNX Runtime) or json (the network definition only)")
        ->capture_default_str();
    sub->add_option("-o,--output-file", export_options.output_file,
                    "File to write (atomically, after the digest is verified)")
        ->required();
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunExport(ctx, export_options); });
  }

  std::string upload_file;
  {
    CLI::App* sub = app.add_subcommand(
        "upload", "Upload a file (weights, a LUT) as an artifact and print its sha256 digest.");
    sub->add_option("file", upload_file, "The file")->required()->check(CLI::ExistingFile);
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunUpload(ctx, upload_file); });
  }

  ReportCommandOptions report;
  {
    CLI::App* sub = app.add_subcommand(
        "report", "Write a job's report: a self-contained HTML page with plots.");
    sub->add_option("job", report.job, "jobs/N or N")->required();
    sub->add_option("-o,--output-file", report.output_file, "HTML file to write (- = stdout)")
        ->required();
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunReport(ctx, report); });
  }
  ExplainOptions explain;
  {
    CLI::App* sub = app.add_subcommand(
        "explain",
        "Show a network's blocks: the channel groups one proposal prunes together (residual "
        "adds, depthwise convs and gates tie layers), what each resizes, and what cannot be "
        "pruned. Runs locally.");
    sub->add_option("--model", explain.model, "A zoo model (see submit --model).");
    sub->add_option("--input-size", explain.input_size, "Square input size of the zoo model.");
    sub->add_option("--num-classes", explain.num_classes, "Classes of the zoo model.")
        ->capture_default_str();
    sub->add_option("--width-multiplier", explain.width_multiplier,
                    "Width multiplier of the zoo model.")
        ->capture_default_str();
    sub->add_option("--network", explain.network_file, "A NetworkDef in JSON.");
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunExplain(ctx, explain); });
  }
  LutShowOptions lut_show;
  {
    CLI::App* lut = app.add_subcommand("lut", "Inspect latency tables (LUT files). Runs locally.");
    lut->require_subcommand(1);
    CLI::App* sub = lut->add_subcommand(
        "show",
        "Check a LUT file (binary or JSON) as the master would at submit, and summarise it: "
        "entries, their spread (p90/p10), the load they were measured under, the widest ones.");
    sub->add_option("file", lut_show.file, "The LUT file")->required();
    sub->add_option("--max-spread", lut_show.max_spread,
                    "p90/p10 above which an entry counts as wide (default: the re-measure "
                    "threshold, 1.25)");
    sub->add_option("--widest", lut_show.widest, "How many of the widest entries to list")
        ->capture_default_str();
    commands.emplace_back(sub, [&](CommandContext& ctx) { return RunLutShow(ctx, lut_show); });
  }
  ImportOptions import_options;
  {
    CLI::App* sub = app.add_subcommand(
        "import",
        "Turn an ONNX model (e.g. torch.onnx.export's) into a NetworkDef JSON and a weights "
        "checkpoint for submit --network/--weights. Runs locally.");
    sub->add_option("model", import_options.onnx_file, "The .onnx file")
        ->required()
        ->check(CLI::ExistingFile);
    sub->add_option("-o,--output-file", import_options.output_file,
                    "NetworkDef JSON to write")
        ->required();
    sub->add_option("--weights-out", import_options.weights_file,
                    "Checkpoint of the weights to write (for submit --weights)");
    sub->add_option("--input-size", import_options.input_size,
                    "Square input size, for a model exported with dynamic height and width");
    sub->add_option("--name", import_options.name,
                    "The network's name (default: the file's name)");
    commands.emplace_back(sub,
                          [&](CommandContext& ctx) { return RunImport(ctx, import_options); });
  }
  std::string health_service;
  {
    CLI::App* sub = app.add_subcommand(
        "health", "Check that --master (or any netadapt server) is SERVING: exit 0, else 2.");
    sub->add_option("--service", health_service,
                    "A service name (e.g. netadapt.v1.JobService); default: the whole server.");
    commands.emplace_back(sub,
                          [&](CommandContext& ctx) { return RunHealth(ctx, health_service); });
  }

  // CLI11 reports parse errors as exceptions; they stop here.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports `netadapt frobnicate` as a missing subcommand; name the word instead.
    if (const std::vector<std::string> rest = app.remaining();
        !rest.empty() && app.get_subcommands().empty() && !rest.front().empty() &&
        rest.front()[0] != '-') {
      err << "error: unknown command '" << rest.front()
          << "' (commands: submit, pretrain, get, list, cancel, workers, watch, export, "
             "upload, report, explain, lut, import, health)\nRun with --help for more information."
          << std::endl;
      return kExitUsage;
    }
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }

  GlobalOptions options;
  options.master = master;
  options.output = output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  for (auto [flag, text, field] :
       {std::tuple{"--timeout", &timeout, &options.timeout},
        std::tuple{"--transfer-timeout", &transfer_timeout, &options.transfer_timeout}}) {
    absl::StatusOr<absl::Duration> parsed = ParseDurationFlag(flag, *text);
    if (!parsed.ok()) {
      err << FormatError(parsed.status(), master) << std::endl;
      return kExitUsage;
    }
    *field = *parsed;
  }
  if (credentials.token_file.empty() && environment_token_file != nullptr) {
    credentials.token_file = environment_token_file;
  }
  absl::StatusOr<rpc::ClientSecurity> security = rpc::LoadClientSecurity(credentials);
  if (!security.ok()) {
    err << FormatError(security.status(), master) << std::endl;
    return kExitUsage;
  }
  options.security = *std::move(security);
  if (options.security.token.empty() && environment_token != nullptr) {
    options.security.token = std::string(absl::StripAsciiWhitespace(environment_token));
    for (char c : options.security.token) {
      if (c <= ' ' || c >= 0x7f) {
        err << "error: $NETADAPT_TOKEN must be printable ASCII without spaces" << std::endl;
        return kExitUsage;
      }
    }
  }
  CommandContext ctx(options, out, err, out_is_tty, terminal_width);
  for (auto& [sub, run] : commands) {
    if (sub->parsed()) return run(ctx);
  }
  return ctx.Fail(absl::InvalidArgumentError("no command given (see --help)"));
}

}  // namespace netadapt::cli
