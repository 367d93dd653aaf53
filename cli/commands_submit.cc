// submit and pretrain: build the spec, upload the files it needs, create the job.
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/job_format.h"
#include "common/file_util.h"

namespace netadapt::cli {
namespace {

// The content of the file a flag names; errors name the flag.
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path) {
  absl::StatusOr<std::string> content = common::ReadFile(path);
  if (!content.ok()) return LocalFileError(flag, content.status());
  return content;
}

}  // namespace

int RunSubmit(CommandContext& ctx, const SubmitOptions& options, JobKind kind) {
  // Everything local first: a bad flag or a missing file must not upload anything.
  std::string spec_json;
  std::string network_json;
  std::string weights;
  std::string lut;
  struct FileFlag {
    const char* flag;
    const std::string& path;
    std::string* content;
  };
  for (const FileFlag& file : {FileFlag{"--spec", options.spec_file, &spec_json},
                               FileFlag{"--network", options.network_file, &network_json},
                               FileFlag{"--weights", options.weights_file, &weights},
                               FileFlag{"--lut", options.lut_file, &lut}}) {
    if (file.path.empty()) continue;
    absl::StatusOr<std::string> content = ReadFlagFile(file.flag, file.path);
    if (!content.ok()) return ctx.Fail(content.status());
    *file.content = *std::move(content);
  }
  if (!options.weights_file.empty() && options.flags.weights_digest) {
    return ctx.Fail(absl::InvalidArgumentError("give --weights or --weights-digest, not both"));
  }
  // --onnx: the network and its weights, imported here (torch-free); they go out as --network
  // and --weights would.
  SpecFlags flags = options.flags;
  if (!options.onnx_file.empty()) {
    if (flags.model || !options.network_file.empty()) {
      return ctx.Fail(absl::InvalidArgumentError(
          "give --onnx or --model / --network, not both: the ONNX file is the network"));
    }
    if (!options.weights_file.empty() || flags.weights_digest) {
      return ctx.Fail(absl::InvalidArgumentError(
          "--onnx carries the weights; give no --weights or --weights-digest with it"));
    }
    absl::StatusOr<OnnxFiles> files =
        ImportOnnxFile("--onnx", options.onnx_file, flags.input_size.value_or(0));
    if (!files.ok()) return ctx.Fail(files.status());
    network_json = std::move(files->network_json);
    weights = std::move(files->checkpoint);
    flags.input_size.reset();  // the import's size, not a zoo option
  }
  if (!options.lut_file.empty() && options.flags.lut_digest) {
    return ctx.Fail(absl::InvalidArgumentError("give --lut or --lut-digest, not both"));
  }
  absl::StatusOr<v1::JobSpec> spec = BuildJobSpec(flags, spec_json, network_json, kind);
  if (!spec.ok()) return ctx.Fail(spec.status());

  if (!options.weights_file.empty() || !options.onnx_file.empty()) {
    absl::StatusOr<v1::ArtifactRef> ref = ctx.client().UploadArtifact(weights);
    if (!ref.ok()) return ctx.Fail(ref.status());
    spec->set_weights_digest(ref->digest());
    spec->set_weights_format(DetectWeightsFormat(weights));
  }
  if (!options.lut_file.empty()) {
    absl::StatusOr<v1::ArtifactRef> ref = ctx.client().UploadArtifact(lut);
    if (!ref.ok()) return ctx.Fail(ref.status());
    spec->set_lut_digest(ref->digest());
  }

  v1::CreateJobRequest request;
  *request.mutable_spec() = *std::move(spec);
  request.set_request_id(options.request_id.empty() ? NewRequestId() : options.request_id);
  absl::StatusOr<v1::Job> job = ctx.client().CreateJob(request);
  if (!job.ok()) return ctx.Fail(job.status());

  if (ctx.options().output == OutputFormat::kJson) {
    if (const int code = ctx.PrintJson(*job); code != kExitOk || !options.wait) return code;
  } else {
    ctx.out() << "created " << job->name() << " (" << JobStateName(job->state()) << ")\n";
    if (!options.wait) ctx.out() << "follow it with: netadapt watch " << job->name() << "\n";
    ctx.out() << std::flush;
    if (!options.wait) return kExitOk;
  }
  WatchOptions watch;
  watch.job = job->name();
  return RunWatch(ctx, watch);
}

}  // namespace netadapt::cli
