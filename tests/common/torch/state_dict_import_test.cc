// Imports files written by real PyTorch (tests/common/torch/make_state_dicts.py, run here with the
// Python CMake names in NETADAPT_TORCH_PYTHON) and checks our forward pass against PyTorch's.
#include "common/torch/state_dict_import.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/sub.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/GradMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/torch/internal/model_state.h"
#include "common/zoo.h"
#include "tests/common/torch/float_file.h"
#include "tests/testing/python_outputs.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Must match MODELS in make_state_dicts.py.
struct ZooCase {
  const char* name;
  int input_size;
  double width;
};
constexpr ZooCase kModels[] = {
    {"helloworld", 16, 0.5},
    {"alexnet", 32, 0.0625},
    {"mobilenet", 32, 0.125},
    {"vgg16", 32, 0.0625},
};

common::NetworkDef Zoo(const ZooCase& c, double width = 0) {
  common::ZooOptions options;
  options.input_size = c.input_size;
  options.width_multiplier = width > 0 ? width : c.width;
  auto def = common::ZooNetwork(c.name, options);
  NETADAPT_CHECK(def.ok());
  return *def;
}

const ZooCase& Case(absl::string_view name) {
  for (const ZooCase& c : kModels) {
    if (c.name == name) return c;
  }
  NETADAPT_CHECK(false);
}

// The files make_state_dicts.py writes, made once per script version and interpreter and shared
// by every test process.
const testing::PythonOutputs& PyTorchFiles() {
  static const testing::PythonOutputs* const files = new testing::PythonOutputs(
      NETADAPT_TORCH_PYTHON, NETADAPT_MAKE_STATE_DICTS, "netadapt_state_dicts", "torch");
  return *files;
}

class StateDictImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const testing::PythonOutputs& files = PyTorchFiles();
    // The state_dict files are written by Debian's python3-torch (installed by install-deps.sh
    // and so on CI); without it there is nothing PyTorch-made to import.
    if (!files.skip_reason().empty()) GTEST_SKIP() << files.skip_reason();
    ASSERT_EQ(files.error(), "");
  }

  static std::string Path(absl::string_view name) { return PyTorchFiles().Path(name); }

  // Max |ours - PyTorch's| of the logits of `model` on the input saved for `zoo_name`.
  static float LogitError(const Model& model, absl::string_view zoo_name) {
    const ZooCase& c = Case(zoo_name);
    const at::Tensor input =
        ReadFloats(Path(absl::StrCat(zoo_name, ".input")), {2, 3, c.input_size, c.input_size});
    const at::Tensor expected = ReadFloats(Path(absl::StrCat(zoo_name, ".logits")), {2, 10});
    c10::NoGradGuard no_grad;
    const at::Tensor logits = internal::Forward(model.state(), input, /*training=*/false);
    EXPECT_EQ(logits.sizes(), expected.sizes());
    return at::sub(logits, expected).abs().max().item<float>();
  }
};

TEST_F(StateDictImportTest, EveryZooModelMatchesPyTorch) {
  for (const ZooCase& c : kModels) {
    SCOPED_TRACE(c.name);
    NETADAPT_ASSERT_OK_AND_ASSIGN(
        Model model, ImportStateDict(Zoo(c), Path(absl::StrCat(c.name, ".pt")), "cpu"));
    EXPECT_LE(LogitError(model, c.name), 1e-5);
  }
}

TEST_F(StateDictImportTest, KeepsBuffersAndMarksParameters) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      Model model, ImportStateDict(Zoo(Case("mobilenet")), Path("mobilenet.pt"), "cpu"));
  const internal::NamedTensors& t = model.state().tensors;
  EXPECT_EQ(t.at("model.3.4.num_batches_tracked").item<int64_t>(), 7);
  EXPECT_EQ(t.at("model.3.4.num_batches_tracked").scalar_type(), c10::kLong);
  EXPECT_FALSE(t.at("model.3.4.running_var").requires_grad());
  EXPECT_TRUE(t.at("model.3.4.weight").requires_grad());
  EXPECT_TRUE(t.at("fc.bias").requires_grad());
}

TEST_F(StateDictImportTest, AcceptsPlainDictsAndTrainingCheckpoints) {
  for (const char* file : {"helloworld_dict.pt", "helloworld_checkpoint.pt"}) {
    SCOPED_TRACE(file);
    NETADAPT_ASSERT_OK_AND_ASSIGN(Model model,
                                  ImportStateDict(Zoo(Case("helloworld")), Path(file), "cpu"));
    EXPECT_LE(LogitError(model, "helloworld"), 1e-5);
  }
}

TEST_F(StateDictImportTest, ReadsViewsOfSharedStorages) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      Model model,
      ImportStateDict(Zoo(Case("helloworld")), Path("helloworld_views.pt"), "cpu"));
  EXPECT_LE(LogitError(model, "helloworld"), 1e-5);
  EXPECT_TRUE(model.state().tensors.at("features.6.weight").is_contiguous());
}

TEST_F(StateDictImportTest, ConvertsFloat64ToFloat32) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      Model model,
      ImportStateDict(Zoo(Case("mobilenet")), Path("mobilenet_float64.pt"), "cpu"));
  EXPECT_EQ(model.state().tensors.at("fc.weight").scalar_type(), c10::kFloat);
  EXPECT_LE(LogitError(model, "mobilenet"), 1e-5);
}

TEST_F(StateDictImportTest, FillsAbsentNumBatchesTrackedWithZero) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      Model model, ImportStateDict(Zoo(Case("mobilenet")),
                                   Path("mobilenet_no_num_batches_tracked.pt"), "cpu"));
  EXPECT_EQ(model.state().tensors.at("model.0.1.num_batches_tracked").item<int64_t>(), 0);
  EXPECT_LE(LogitError(model, "mobilenet"), 1e-5);
}

TEST_F(StateDictImportTest, RejectsTensorsThatDoNotFitTheDefinition) {
  const common::NetworkDef def = Zoo(Case("helloworld"));
  const std::string wide = Path("helloworld_wide.pt");
  EXPECT_THAT(ImportStateDict(def, wide, "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(wide), HasSubstr("features.0.weight has shape [16, 3, 3, 3]"),
                             HasSubstr("needs [8, 3, 3, 3]"))));
  EXPECT_THAT(ImportStateDict(def, Path("helloworld_missing.pt"), "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("missing tensors features.4.weight")));
  EXPECT_THAT(ImportStateDict(def, Path("helloworld_unexpected.pt"), "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not in the network definition: features.7.weight")));
  EXPECT_THAT(ImportStateDict(def, Path("helloworld_int_weight.pt"), "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("features.0.weight has dtype Int"), HasSubstr("Float"))));
  EXPECT_THAT(ImportStateDict(def, Path("alexnet.pt"), "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(StateDictImportTest, RejectsOtherPyTorchFiles) {
  const common::NetworkDef def = Zoo(Case("helloworld"));
  EXPECT_THAT(ImportStateDict(def, Path("helloworld_legacy.pt"), "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("legacy"), HasSubstr("torch >= 1.6"))));
  EXPECT_THAT(ImportStateDict(def, Path("helloworld_module.pt"), "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported global")));
}

TEST_F(StateDictImportTest, TruncatedFilesFailCleanly) {
  const common::NetworkDef def = Zoo(Case("helloworld"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, common::ReadFile(Path("helloworld.pt")));
  const std::string cut = absl::StrCat(::testing::TempDir(), "/state_dict_cut_", getpid(), ".pt");
  for (size_t n : {size_t{0}, size_t{3}, size_t{4}, size_t{100}, bytes.size() / 2,
                   bytes.size() - 100, bytes.size() - 1}) {
    ASSERT_TRUE(common::WriteFileAtomically(cut, bytes.substr(0, n)).ok());
    EXPECT_THAT(ImportStateDict(def, cut, "cpu"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(cut)))
        << n;
  }
}

// These need no PyTorch.
TEST(StateDictImportFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(ImportStateDict(Zoo(Case("helloworld")), "/nonexistent/model.pt", "cpu"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(StateDictImportFileTest, GarbageIsInvalidArgument) {
  const common::NetworkDef def = Zoo(Case("helloworld"));
  const std::string path = absl::StrCat(::testing::TempDir(), "/state_dict_garbage_", getpid());
  std::string garbage;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1664525 + 1013904223;
    garbage.push_back(static_cast<char>(x >> 24));
  }
  for (const std::string& content : {garbage, std::string("PK\x03\x04", 4) + garbage,
                                     std::string("not a model\n")}) {
    ASSERT_TRUE(common::WriteFileAtomically(path, content).ok());
    EXPECT_THAT(ImportStateDict(def, path, "cpu"), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace netadapt::engine
