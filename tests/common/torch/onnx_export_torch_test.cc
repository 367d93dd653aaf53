// The torch-free checkpoint format and ONNX export against LibTorch:
// - common/checkpoint_format reads and writes exactly the bytes engine::SerializeCheckpoint
//   writes;
// - the ONNX model exported from a checkpoint computes what internal::Forward computes (zoo
//   models, every sequential op, and graphs: residual adds of two and three inputs, a concat,
//   a squeeze-excite gate, sigmoid, hardsigmoid, hardswish, a dropout after an add as the
//   output), run by onnx_reference.py (the ONNX checker, then a NumPy evaluator of the ONNX
//   operator specifications: Debian has no ONNX runtime) on random inputs, within 1e-4.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/core/GradMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/checkpoint_format.h"
#include "common/file_util.h"
#include "common/onnx_export.h"
#include "common/status_macros.h"
#include "common/torch/checkpoint.h"
#include "common/torch/internal/model_state.h"
#include "common/zoo.h"
#include "tests/testing/every_op_network.h"
#include "tests/testing/graph_network.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

using ::netadapt::testing::IsOk;

common::NetworkDef Network(const std::string& name) {
  if (name == "every_op") return netadapt::testing::EveryOpNetwork();
  if (name == "graph_ops") return netadapt::testing::GraphOpNetwork();
  if (name == "three_way_add") return netadapt::testing::ThreeWayAddNetwork();
  if (name == "dropout_after_add") return netadapt::testing::DropoutAfterAddNetwork();
  common::ZooOptions options;
  options.input_size = 32;
  options.width_multiplier = 0.125;
  absl::StatusOr<common::NetworkDef> def = common::ZooNetwork(name, options);
  NETADAPT_CHECK(def.ok());
  return *def;
}

// A model whose batchnorms are not the identity: random affine parameters and statistics.
Model RandomModel(const common::NetworkDef& def, uint64_t seed) {
  ModelOptions options;
  options.seed = seed;
  absl::StatusOr<Model> model = Model::Create(def, options);
  NETADAPT_CHECK(model.ok());
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed + 1);
  c10::NoGradGuard no_grad;
  for (auto& [name, tensor] : model->state().tensors) {
    const bool bn = def.layers[def.FindLayer(name.substr(0, name.rfind('.')))].op ==
                    common::LayerOp::kBatchNorm2d;
    if (!bn || tensor.scalar_type() != c10::kFloat) continue;
    if (absl::EndsWith(name, ".running_var") || absl::EndsWith(name, ".weight")) {
      tensor.uniform_(0.5, 2.0, generator);
    } else {
      tensor.uniform_(-0.5, 0.5, generator);
    }
  }
  return *std::move(model);
}

TEST(CheckpointFormatTorchTest, SameBytesAsSerializeCheckpoint) {
  for (const std::string& name : {std::string("mobilenet"), std::string("every_op")}) {
    const Model model = RandomModel(Network(name), 3);
    NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string bytes, SerializeCheckpoint(model));
    NETADAPT_ASSERT_OK_AND_ASSIGN(const common::CheckpointContents contents,
                                  common::DecodeCheckpoint(bytes, name));
    EXPECT_THAT(common::CheckTensorsMatch(contents.def, contents.tensors, name), IsOk());
    NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string again,
                                  common::EncodeCheckpoint(contents.def, contents.tensors));
    EXPECT_EQ(again, bytes) << name;
    NETADAPT_ASSERT_OK_AND_ASSIGN(const Model parsed, ParseCheckpoint(again, "cpu", name));
    for (const auto& [tensor_name, tensor] : model.state().tensors) {
      EXPECT_TRUE(tensor.detach().equal(parsed.state().tensors.at(tensor_name).detach()))
          << tensor_name;
    }
  }
}

class OnnxMatchesLibTorchTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxMatchesLibTorchTest, OnRandomInputs) {
  const std::string python = "/usr/bin/python3";
  // The reference evaluator is NumPy over onnx.numpy_helper (python3-onnx, installed by
  // install-deps.sh and so on CI); Debian ships no ONNX runtime to use instead.
  if (std::system((python + " -c 'import onnx, numpy' > /dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << python << " cannot import onnx and numpy (install Debian's python3-onnx)";
  }
  const common::NetworkDef def = Network(GetParam());
  const Model model = RandomModel(def, 11);
  // The CLI's path: our checkpoint, then the torch-free exporter.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string checkpoint, SerializeCheckpoint(model));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string onnx,
                                common::CheckpointToOnnx(checkpoint, GetParam()));

  const std::vector<int64_t> shape = {3, def.input.channels, def.input.height, def.input.width};
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
  // Wide inputs for every_op, so that its relu6 saturates (and the Clip's bounds count), and
  // for the graphs, so that hardsigmoid and hardswish reach both their flat parts.
  const double stddev = GetParam() == "every_op" || GetParam() == "graph_ops" ||
                                GetParam() == "dropout_after_add"
                            ? 8.0
                            : 1.0;
  const at::Tensor input = at::empty(shape).normal_(0.0, stddev, generator);
  at::Tensor expected;
  {
    c10::NoGradGuard no_grad;
    expected = internal::Forward(model.state(), input, /*training=*/false).contiguous();
  }

  const std::string dir = absl::StrCat(::testing::TempDir(), "/onnx_torch_test_", getpid(), "_",
                                       GetParam());
  ASSERT_EQ(std::system(absl::StrCat("mkdir -p '", dir, "'").c_str()), 0);
  ASSERT_THAT(common::WriteFileAtomically(dir + "/model.onnx", onnx), IsOk());
  ASSERT_THAT(common::WriteFileAtomically(
                  dir + "/input.bin",
                  absl::string_view(static_cast<const char*>(input.data_ptr()),
                                    input.numel() * sizeof(float))),
              IsOk());
  const std::string command = absl::StrCat(
      python, " ", NETADAPT_ONNX_REFERENCE, " ", dir, "/model.onnx ", dir, "/input.bin ",
      shape[0], ",", shape[1], ",", shape[2], ",", shape[3], " ", dir, "/output.bin");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string output, common::ReadFile(dir + "/output.bin"));
  ASSERT_EQ(output.size(), static_cast<size_t>(expected.numel()) * sizeof(float));

  // Within 1e-4, absolutely (relative above 1) and relative to the output's scale (tiny
  // networks at random init give small logits).
  const float* want = expected.data_ptr<float>();
  const float* got = reinterpret_cast<const float*>(output.data());
  double worst = 0, worst_abs = 0, scale = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double error = std::abs(double{got[i]} - double{want[i]});
    worst = std::max(worst, error / std::max(1.0, std::abs(double{want[i]})));
    worst_abs = std::max(worst_abs, error);
    scale = std::max(scale, std::abs(double{want[i]}));
  }
  std::cout << GetParam() << ": largest error " << worst << " (relative above 1), "
            << worst_abs / scale << " of the largest output " << scale << std::endl;
  EXPECT_LE(worst, 1e-4) << GetParam();
  EXPECT_LE(worst_abs, 1e-4 * scale) << GetParam();
  std::system(absl::StrCat("rm -rf '", dir, "'").c_str());
}

INSTANTIATE_TEST_SUITE_P(Models, OnnxMatchesLibTorchTest,
                         ::testing::Values("every_op", "graph_ops", "three_way_add",
                                           "dropout_after_add", "alexnet", "mobilenet",
                                           "helloworld", "vgg16", "resnet18", "resnet50",
                                           "mobilenet_v2"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace netadapt::engine
