// libFuzzer target: ONNX models (common/onnx_import.h), the files `netadapt import` and
// `submit --onnx` read from users, parsed without LibTorch. Whatever the bytes: no crash, a
// refusal is INVALID_ARGUMENT (anything else is an importer bug), and an import that succeeds
// is a valid network whose tensors are exactly its own and which encodes as a checkpoint.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/checkpoint_format.h"
#include "common/onnx_export.h"
#include "common/onnx_import.h"
#include "tests/fuzz/network_common.h"

namespace {

void Import(absl::string_view bytes, const netadapt::common::OnnxImportOptions& options) {
  absl::StatusOr<netadapt::common::OnnxModel> model =
      netadapt::common::ImportOnnx(bytes, options);
  if (!model.ok()) {
    if (model.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return;
  }
  if (!netadapt::common::InferShapes(model->def).ok()) __builtin_trap();
  if (!netadapt::common::CheckTensorsMatch(model->def, model->tensors, "fuzz").ok()) {
    __builtin_trap();
  }
  if (!netadapt::common::EncodeCheckpoint(model->def, model->tensors).ok()) __builtin_trap();
  // May refuse (e.g. a layer named like another's tensor), must not crash.
  (void)netadapt::common::ExportOnnx(model->def, model->tensors);
  netadapt::fuzz::AnalyseNetwork(model->def);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  Import(bytes, {});
  // As `--input-size 16` does: the path of models with a symbolic height and width.
  netadapt::common::OnnxImportOptions sized;
  sized.input_height = sized.input_width = 16;
  Import(bytes, sized);
  return 0;
}
