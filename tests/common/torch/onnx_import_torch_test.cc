// ONNX import against PyTorch: models that torch.onnx.export (Debian's python3-torch 1.13)
// writes, random-init torchvision resnet18, mobilenet_v2 and mobilenet_v3_small with
// batchnorm kept and folded, and a module of the other forms exporters write
// (tests/common/torch/make_onnx_models.py), import into networks whose LibTorch forward
// (internal::Forward, as a worker runs it) gives PyTorch's logits; the imported network
// exported back with ExportOnnx passes the ONNX checker (full_check) and, evaluated by
// onnx_reference.py (NumPy over the ONNX operator specifications), gives them too.
#include <ATen/core/Tensor.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/sub.h>
#include <c10/core/GradMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint_format.h"
#include "common/file_util.h"
#include "common/network_blocks.h"
#include "common/onnx_export.h"
#include "common/onnx_import.h"
#include "common/status_macros.h"
#include "common/torch/checkpoint.h"
#include "common/torch/internal/model_state.h"
#include "tests/testing/python_outputs.h"
#include "tests/testing/status_matchers.h"
#include "tests/common/torch/float_file.h"

namespace netadapt::engine {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// Must match CASES in make_onnx_models.py (input 64x64, a batch of 2, 10 classes).
struct OnnxCase {
  const char* name;
  // Batchnorm layers in the import: kept (with BatchNormalization nodes) or folded (none).
  bool batchnorm_kept;
  // The model's height and width are symbolic (dynamic axes): imported at --input-size 64.
  bool symbolic_size;
};
constexpr OnnxCase kCases[] = {
    {"resnet18_bn", true, false},
    {"resnet18_bn_training", true, false},
    {"resnet18_folded", false, false},
    {"mobilenet_v2_bn", true, false},
    {"mobilenet_v2_folded", false, true},
    {"mobilenet_v3_small_folded", false, false},
    {"every_form", true, false},
};
constexpr int kBatch = 2;
constexpr int kSize = 64;
constexpr int kClasses = 10;

// The logits' largest magnitude is 4 (the script scales the classifier). Both sides run
// float32 convolutions, but not the same ones: a folded export's convs carry
// weight * gamma / sqrt(var + eps), which PyTorch never multiplies out (it runs the conv, then
// the batchnorm), and ONNX's Gemm/MatMul forms are summed in another order. Those rounding
// differences grow with the activations' magnitude, so the bound is relative to the logits'
// scale (absolute below 1): 1e-4 of a logit of 4 is 4e-4. The figures printed are far below.
constexpr double kTolerance = 1e-4;

const OnnxCase& Case(absl::string_view name) {
  for (const OnnxCase& c : kCases) {
    if (c.name == name) return c;
  }
  NETADAPT_CHECK(false);
}

const testing::PythonOutputs& Files() {
  static const testing::PythonOutputs* const files = new testing::PythonOutputs(
      NETADAPT_TORCH_PYTHON, NETADAPT_MAKE_ONNX_MODELS, "netadapt_onnx_import",
      "torch, torchvision, onnx");
  return *files;
}

// max |got - want| / max(1, max |want|).
double RelativeError(const float* got, const float* want, int64_t n) {
  double error = 0;
  double scale = 1;
  for (int64_t i = 0; i < n; ++i) {
    error = std::max(error, std::abs(double{got[i]} - double{want[i]}));
    scale = std::max(scale, std::abs(double{want[i]}));
  }
  return error / scale;
}

class OnnxImportTorchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // The models are exported by PyTorch itself (Debian's python3-torch, python3-torchvision
    // and python3-onnx, which install-deps.sh installs and so CI has); without them there is
    // nothing to import.
    if (!Files().skip_reason().empty()) GTEST_SKIP() << Files().skip_reason();
    ASSERT_EQ(Files().error(), "");
  }
};

TEST_P(OnnxImportTorchTest, ForwardMatchesPyTorchAndExportsBack) {
  const OnnxCase& c = Case(GetParam());
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string bytes,
                                common::ReadFile(Files().Path(absl::StrCat(c.name, ".onnx"))));
  common::OnnxImportOptions options;
  options.name = c.name;
  if (c.symbolic_size) {
    // Exported with dynamic height and width: the size must be given.
    EXPECT_THAT(common::ImportOnnx(bytes, options).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("symbolic height")));
    options.input_height = options.input_width = kSize;
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::OnnxModel imported,
                                common::ImportOnnx(bytes, options));
  const common::NetworkDef& def = imported.def;
  EXPECT_EQ(def.input, (common::TensorShape{3, kSize, kSize}));
  int batchnorms = 0;
  for (const common::Layer& layer : def.layers) {
    batchnorms += layer.op == common::LayerOp::kBatchNorm2d ? 1 : 0;
  }
  if (c.batchnorm_kept) {
    EXPECT_GT(batchnorms, 0);
  } else {
    EXPECT_EQ(batchnorms, 0);
  }
  // The layers carry the modules' names, whether batchnorm was folded or not.
  if (absl::StartsWith(c.name, "resnet18")) {
    for (const char* name : {"conv1", "layer1.0.conv1", "layer4.1.conv2", "fc"}) {
      EXPECT_GE(def.FindLayer(name), 0) << name;
    }
    EXPECT_EQ(def.FindLayer("layer1.0.bn1") >= 0, c.batchnorm_kept);
    EXPECT_FALSE(def.layers[def.FindLayer("layer1.0.conv1")].bias == c.batchnorm_kept);
  }
  if (absl::StartsWith(c.name, "mobilenet_v2")) {
    EXPECT_GE(def.FindLayer("features.1.conv.0.0"), 0);
    EXPECT_GE(def.FindLayer("classifier.1"), 0);
  }
  // Prunable: the residual adds tie channel groups, which FindBlocks finds.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::vector<common::Block> blocks,
                                common::FindBlocks(def));
  EXPECT_FALSE(blocks.empty());

  // LibTorch's forward of our checkpoint of the import (what a worker loads).
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string checkpoint,
                                common::EncodeCheckpoint(def, imported.tensors));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const Model model, ParseCheckpoint(checkpoint, "cpu", c.name));
  const at::Tensor input = ReadFloats(Files().Path(absl::StrCat(c.name, ".input")),
                                      {kBatch, 3, kSize, kSize});
  const at::Tensor expected =
      ReadFloats(Files().Path(absl::StrCat(c.name, ".logits")), {kBatch, kClasses});
  at::Tensor logits;
  {
    c10::NoGradGuard no_grad;
    logits = internal::Forward(model.state(), input, /*training=*/false).contiguous();
  }
  ASSERT_EQ(logits.sizes(), expected.sizes());
  const double error =
      RelativeError(logits.data_ptr<float>(), expected.data_ptr<float>(), expected.numel());
  std::printf("%s: %zu layers (%d batchnorm), %zu blocks; max |LibTorch - PyTorch| / "
              "max(1, max |logit|) = %.3g (largest |logit| %.3g)\n",
              c.name, def.layers.size(), batchnorms, blocks.size(), error,
              expected.abs().max().item<double>());
  EXPECT_LE(error, kTolerance);

  // Exported back: the ONNX checker (full_check) and the NumPy reference evaluator.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string onnx,
                                common::ExportOnnx(def, imported.tensors));
  const std::string dir =
      absl::StrCat(::testing::TempDir(), "/onnx_import_torch_", getpid(), "_", c.name);
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  ASSERT_THAT(common::WriteFileAtomically(dir + "/model.onnx", onnx), IsOk());
  ASSERT_THAT(common::WriteFileAtomically(
                  dir + "/input.bin",
                  absl::string_view(static_cast<const char*>(input.data_ptr()),
                                    input.numel() * sizeof(float))),
              IsOk());
  const std::string command =
      absl::StrCat(NETADAPT_TORCH_PYTHON, " ", NETADAPT_ONNX_REFERENCE, " ", dir, "/model.onnx ",
                   dir, "/input.bin ", kBatch, ",3,", kSize, ",", kSize, " ", dir, "/output.bin");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string output, common::ReadFile(dir + "/output.bin"));
  ASSERT_EQ(output.size(), static_cast<size_t>(expected.numel()) * sizeof(float));
  const double exported_error = RelativeError(reinterpret_cast<const float*>(output.data()),
                                              expected.data_ptr<float>(), expected.numel());
  std::printf("%s: exported back, max |ONNX reference - PyTorch| / max(1, max |logit|) = %.3g\n",
              c.name, exported_error);
  EXPECT_LE(exported_error, kTolerance);
  std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
}

INSTANTIATE_TEST_SUITE_P(PyTorchExports, OnnxImportTorchTest,
                         ::testing::Values("resnet18_bn", "resnet18_bn_training",
                                           "resnet18_folded", "mobilenet_v2_bn",
                                           "mobilenet_v2_folded", "mobilenet_v3_small_folded",
                                           "every_form"));

}  // namespace
}  // namespace netadapt::engine
