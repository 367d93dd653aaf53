// The zoo's torchvision models against torchvision itself: state_dicts of torchvision's own
// modules (tests/common/torch/make_torchvision_state_dicts.py, run with NETADAPT_TORCH_PYTHON)
// import into our definitions unchanged, and our forward pass gives torchvision's logits.
#include <ATen/core/Tensor.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/sub.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "common/torch/internal/model_state.h"
#include "common/torch/state_dict_import.h"
#include "common/zoo.h"
#include "tests/common/torch/float_file.h"
#include "tests/testing/python_outputs.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

// Must match CASES in make_torchvision_state_dicts.py (10 classes, a batch of 2).
struct TorchvisionCase {
  const char* file;   // the script's case name: <file>.pt, .input, .logits
  const char* model;  // the zoo's name
  int input_size;
  double width;
};
constexpr TorchvisionCase kCases[] = {
    {"resnet18", "resnet18", 64, 1.0},
    {"resnet50", "resnet50", 64, 1.0},
    {"mobilenet_v2", "mobilenet_v2", 64, 0.5},
    {"mobilenet_v2_quarter", "mobilenet_v2", 32, 0.25},
};
constexpr int kBatch = 2;
constexpr int kClasses = 10;

// Both sides run the same ATen kernels on the CPU, so the logits (largest |logit| 4, see the
// script) agree to float32 rounding; 1e-5 is a relative bound of 2.5e-6.
constexpr float kTolerance = 1e-5f;

const TorchvisionCase& Case(absl::string_view file) {
  for (const TorchvisionCase& c : kCases) {
    if (c.file == file) return c;
  }
  NETADAPT_CHECK(false);
}

const testing::PythonOutputs& Files() {
  static const testing::PythonOutputs* const files = new testing::PythonOutputs(
      NETADAPT_TORCH_PYTHON, NETADAPT_MAKE_TORCHVISION_STATE_DICTS, "netadapt_torchvision",
      "torch, torchvision");
  return *files;
}

class ZooTorchvisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The files are written by torchvision itself (Debian's python3-torchvision, which
    // install-deps.sh installs and so CI has); without it there is no reference to compare to.
    if (!Files().skip_reason().empty()) GTEST_SKIP() << Files().skip_reason();
    ASSERT_EQ(Files().error(), "");
  }

  // Imports torchvision's state_dict for `file` into the zoo's definition and expects our
  // eval-mode logits within kTolerance of torchvision's (the error is printed).
  static void ExpectMatchesTorchvision(absl::string_view file) {
    const TorchvisionCase& c = Case(file);
    common::ZooOptions options;
    options.input_size = c.input_size;
    options.width_multiplier = c.width;
    options.num_classes = kClasses;
    NETADAPT_ASSERT_OK_AND_ASSIGN(common::NetworkDef def, common::ZooNetwork(c.model, options));
    // Every tensor of the definition present with its shape, and no other: the layer names are
    // torchvision's state_dict keys.
    NETADAPT_ASSERT_OK_AND_ASSIGN(
        Model model, ImportStateDict(def, Files().Path(absl::StrCat(file, ".pt")), "cpu"));
    const at::Tensor input = ReadFloats(Files().Path(absl::StrCat(file, ".input")),
                                        {kBatch, 3, c.input_size, c.input_size});
    const at::Tensor expected =
        ReadFloats(Files().Path(absl::StrCat(file, ".logits")), {kBatch, kClasses});
    c10::NoGradGuard no_grad;
    const at::Tensor logits = internal::Forward(model.state(), input, /*training=*/false);
    ASSERT_EQ(logits.sizes(), expected.sizes());
    const float error = at::sub(logits, expected).abs().max().item<float>();
    const float largest = expected.abs().max().item<float>();
    std::printf("%s: max |ours - torchvision| = %g (largest |logit| %g)\n", c.file, error,
                largest);
    EXPECT_LE(error, kTolerance) << file;
  }
};

TEST_F(ZooTorchvisionTest, ResNet18MatchesTorchvision) { ExpectMatchesTorchvision("resnet18"); }

TEST_F(ZooTorchvisionTest, ResNet50MatchesTorchvision) { ExpectMatchesTorchvision("resnet50"); }

TEST_F(ZooTorchvisionTest, MobileNetV2MatchesTorchvision) {
  ExpectMatchesTorchvision("mobilenet_v2");
}

// At width 0.25 features.1 keeps its shape and torchvision adds its shortcut.
TEST_F(ZooTorchvisionTest, MobileNetV2AtQuarterWidthMatchesTorchvision) {
  ExpectMatchesTorchvision("mobilenet_v2_quarter");
}

}  // namespace
}  // namespace netadapt::engine
