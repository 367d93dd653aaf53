// upload and export: artifacts to and from the master. Export converts checkpoints to ONNX
// or JSON here, torch-free (the CLI never links LibTorch).
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/job_spec_builder.h"
#include "common/checkpoint_format.h"
#include "common/file_util.h"
#include "common/network_def_json.h"
#include "common/onnx_export.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace netadapt::cli {

absl::StatusOr<ModelChoice> SelectModel(const v1::Job& job, absl::string_view which) {
  const std::string state = JobStateName(job.state());
  if (which == "seed") {
    if (job.seed().model_digest().empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(job.name(), " has no seed model yet (state ", state, ")"));
    }
    return ModelChoice{job.seed().model_digest(), "the seed"};
  }
  if (which == "final" || which == "best") {
    if (!job.final().model_digest().empty()) {
      return ModelChoice{job.final().model_digest(), "the final model"};
    }
    if (which == "final") {
      return absl::FailedPreconditionError(
          absl::StrCat(job.name(), " has no final model (state ", state, ")"));
    }
    // best without a final model: the most accurate iteration result within the budget.
    const v1::Iteration* best = nullptr;
    for (const v1::Iteration& it : job.history()) {
      if (it.result().model_digest().empty()) continue;
      if (job.budget() > 0 && it.result().resource() > job.budget()) continue;
      if (best == nullptr || it.result().accuracy() > best->result().accuracy()) best = &it;
    }
    if (best == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(job.name(), " has no model within its budget yet (state ", state,
                       "); use --iteration=K or --iteration=seed"));
    }
    return ModelChoice{best->result().model_digest(),
                       absl::StrCat("iteration ", best->iteration())};
  }
  if (which == "uniform") {
    // The baseline a user compares with, and may ship when it wins (docs/USER_GUIDE.md).
    const v1::UniformBaseline& uniform = job.uniform_baseline();
    if (uniform.result().model_digest().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          job.name(), " has no uniform baseline model (",
          !job.has_uniform_baseline()
              ? absl::StrCat("state ", state, "; jobs submitted with --no-uniform-baseline have none")
              : absl::StrCat("baseline ", v1::UniformBaseline::State_Name(uniform.state()),
                             uniform.reason().empty() ? "" : ": ", uniform.reason()),
          ")"));
    }
    return ModelChoice{uniform.result().model_digest(), "the uniform baseline"};
  }
  int iteration = 0;
  if (!absl::SimpleAtoi(which, &iteration) || iteration < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--iteration must be best, final, seed, uniform or an iteration number, got '", which,
        "'"));
  }
  for (const v1::Iteration& it : job.history()) {
    if (it.iteration() == iteration && !it.result().model_digest().empty()) {
      return ModelChoice{it.result().model_digest(), absl::StrCat("iteration ", iteration)};
    }
  }
  return absl::FailedPreconditionError(absl::StrCat(
      job.name(), " has no model for iteration ", iteration, " (", job.history_size(),
      " iterations done)"));
}

namespace {

// The file `format` asks for, converted locally from the checkpoint `content` (no LibTorch:
// the checkpoint is read with common/checkpoint_format.h). `source` names the model in
// messages.
absl::StatusOr<std::string> Convert(const std::string& content, absl::string_view format,
                                    absl::string_view source) {
  if (format == "checkpoint") return content;
  if (format == "onnx") return common::CheckpointToOnnx(content, source);
  NETADAPT_ASSIGN_OR_RETURN(common::CheckpointContents contents,
                            common::DecodeCheckpoint(content, source));
  return common::NetworkDefToJson(contents.def) + "\n";
}

}  // namespace

int RunExport(CommandContext& ctx, const ExportOptions& options) {
  if (options.format != "checkpoint" && options.format != "onnx" && options.format != "json") {
    return ctx.Fail(absl::InvalidArgumentError(absl::StrCat(
        "--format must be checkpoint, onnx or json, got '", options.format, "'")));
  }
  if (options.output_file.empty()) {
    return ctx.Fail(absl::InvalidArgumentError("-o/--output-file is required"));
  }
  absl::StatusOr<std::string> name = ParseJobName(options.job);
  if (!name.ok()) return ctx.Fail(name.status());
  // Checked before the job, so a typo costs no round trip.
  if (absl::StatusOr<ModelChoice> probe = SelectModel(v1::Job(), options.iteration);
      !probe.ok() && probe.status().code() == absl::StatusCode::kInvalidArgument) {
    return ctx.Fail(probe.status());
  }
  absl::StatusOr<v1::Job> job = ctx.client().GetJob(*name);
  if (!job.ok()) return ctx.Fail(job.status());
  absl::StatusOr<ModelChoice> choice = SelectModel(*job, options.iteration);
  if (!choice.ok()) return ctx.Fail(choice.status());
  // DownloadArtifact verifies the bytes against the digest before anything is written.
  absl::StatusOr<std::string> content = ctx.client().DownloadArtifact(choice->digest);
  if (!content.ok()) return ctx.Fail(content.status());
  absl::StatusOr<std::string> converted = Convert(
      *content, options.format, absl::StrCat(choice->description, " of ", job->name()));
  if (!converted.ok()) return ctx.Fail(converted.status());
  if (absl::Status written = common::WriteFileAtomically(options.output_file, *converted);
      !written.ok()) {
    return ctx.Fail(LocalFileError(absl::StrCat("-o ", options.output_file), written));
  }
  if (ctx.options().output == OutputFormat::kJson) {
    // The model exported: the checkpoint artifact it was converted from.
    v1::ArtifactRef ref;
    ref.set_digest(choice->digest);
    ref.set_size(static_cast<int64_t>(content->size()));
    return ctx.PrintJson(ref);
  }
  ctx.out() << "wrote " << options.output_file << ": " << choice->description << " of "
            << job->name();
  if (options.format == "onnx") {
    ctx.out() << " as ONNX (opset " << common::kOnnxOpsetVersion << ")";
  } else if (options.format == "json") {
    ctx.out() << " as a JSON NetworkDef";
  }
  ctx.out() << ", " << converted->size() << " bytes, "
            << (options.format == "checkpoint" ? "sha256 " : "from checkpoint sha256 ")
            << choice->digest << std::endl;
  return kExitOk;
}

int RunUpload(CommandContext& ctx, const std::string& file) {
  absl::StatusOr<std::string> content = common::ReadFile(file);
  if (!content.ok()) return ctx.Fail(LocalFileError("upload", content.status()));
  absl::StatusOr<v1::ArtifactRef> ref = ctx.client().UploadArtifact(*content);
  if (!ref.ok()) return ctx.Fail(ref.status());
  if (ctx.options().output == OutputFormat::kJson) return ctx.PrintJson(*ref);
  // The digest alone, for $(netadapt upload FILE).
  ctx.out() << ref->digest() << std::endl;
  return kExitOk;
}

}  // namespace netadapt::cli
