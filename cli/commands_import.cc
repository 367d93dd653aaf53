// import: an ONNX model becomes a NetworkDef JSON and a weights checkpoint, locally (no
// master), torch-free; submit --onnx does the same in memory (commands_submit.cc).
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "common/checkpoint_format.h"
#include "common/file_util.h"
#include "common/network_blocks.h"
#include "common/network_def_json.h"
#include "common/onnx_import.h"
#include "common/status_macros.h"

namespace netadapt::cli {
namespace {

// "resnet18" for "models/resnet18.onnx".
std::string FileStem(const std::string& path) {
  const size_t slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  if (dot != std::string::npos && dot > 0) name.resize(dot);
  return name.empty() ? std::string("onnx") : name;
}

}  // namespace

absl::StatusOr<OnnxFiles> ImportOnnxFile(absl::string_view flag, const std::string& path,
                                         int input_size, const std::string& name) {
  absl::StatusOr<std::string> bytes = common::ReadFile(path);
  if (!bytes.ok()) return LocalFileError(absl::StrCat(flag, " ", path), bytes.status());
  if (input_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--input-size must be positive, got ", input_size));
  }
  common::OnnxImportOptions options;
  options.name = name.empty() ? FileStem(path) : name;
  options.input_height = options.input_width = input_size;
  absl::StatusOr<common::OnnxModel> model = common::ImportOnnx(*bytes, options);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(flag, " ", path, ": ", model.status().message()));
  }
  OnnxFiles files;
  files.def = model->def;
  files.network_json = common::NetworkDefToJson(model->def);
  NETADAPT_ASSIGN_OR_RETURN(files.checkpoint,
                            common::EncodeCheckpoint(model->def, model->tensors));
  return files;
}

int RunImport(CommandContext& ctx, const ImportOptions& options) {
  absl::StatusOr<OnnxFiles> files =
      ImportOnnxFile("import", options.onnx_file, options.input_size, options.name);
  if (!files.ok()) return ctx.Fail(files.status());
  // Both files or neither: the JSON alone is of little use to a job that needs the weights.
  if (absl::Status s = common::WriteFileAtomically(options.output_file, files->network_json);
      !s.ok()) {
    return ctx.Fail(LocalFileError(absl::StrCat("-o ", options.output_file), s));
  }
  if (!options.weights_file.empty()) {
    if (absl::Status s = common::WriteFileAtomically(options.weights_file, files->checkpoint);
        !s.ok()) {
      return ctx.Fail(LocalFileError(absl::StrCat("--weights-out ", options.weights_file), s));
    }
  }
  const common::NetworkDef& def = files->def;
  absl::StatusOr<std::vector<common::TensorShape>> shapes = common::InferShapes(def);
  absl::StatusOr<std::vector<common::Block>> blocks = common::FindBlocks(def);
  if (!shapes.ok() || !blocks.ok()) {
    return ctx.Fail(!shapes.ok() ? shapes.status() : blocks.status());
  }
  ctx.out() << "imported " << def.name << ": " << def.layers.size() << " layers, input ["
            << def.input.channels << ", " << def.input.height << ", " << def.input.width
            << "], " << shapes->back().channels << " logits, " << blocks->size()
            << " prunable blocks (netadapt explain --network " << options.output_file
            << " lists them)\n"
            << "wrote " << options.output_file;
  if (!options.weights_file.empty()) ctx.out() << " and " << options.weights_file;
  ctx.out() << "\n" << std::flush;
  return kExitOk;
}

}  // namespace netadapt::cli
