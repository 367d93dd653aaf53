// The torch-free checkpoint reader and writer. (tests/common/torch/onnx_export_torch_test.cc checks
// that it reads and writes exactly the bytes of engine::SerializeCheckpoint.)
#include "common/checkpoint_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/network_def_json.h"
#include "common/network_tensors.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/zoo.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

constexpr size_t kDigest = 32;

NetworkDef Tiny(absl::string_view model = "mobilenet") {
  ZooOptions options;
  options.input_size = 32;
  options.width_multiplier = 0.125;
  absl::StatusOr<NetworkDef> def = ZooNetwork(model, options);
  NETADAPT_CHECK(def.ok());
  return *def;
}

// Tensors of `def` with distinct bytes; `storage` owns them (a deque: views stay valid).
std::vector<CheckpointTensor> Tensors(const NetworkDef& def, std::deque<std::string>* storage) {
  absl::StatusOr<std::vector<TensorSpec>> specs = NetworkTensors(def);
  NETADAPT_CHECK(specs.ok());
  std::vector<CheckpointTensor> tensors;
  for (const TensorSpec& spec : *specs) {
    CheckpointTensor& t = tensors.emplace_back();
    t.name = spec.name;
    t.dtype = spec.dtype;
    t.shape = spec.shape;
    int64_t n = 1;
    for (int64_t s : spec.shape) n *= s;
    std::string& bytes = storage->emplace_back(n * ElementSize(spec.dtype), '\0');
    for (size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = static_cast<char>(i * 7 + spec.name.size());
    }
    t.data = bytes;
  }
  return tensors;
}

std::string Reseal(std::string bytes) {
  bytes.resize(bytes.size() - kDigest);
  return bytes + Sha256(bytes);
}

TEST(CheckpointFormatTest, RoundTrip) {
  const NetworkDef def = Tiny();
  std::deque<std::string> storage;
  const std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string bytes, EncodeCheckpoint(def, tensors));
  EXPECT_EQ(bytes.substr(0, 8), std::string("NACKPT\0\1", 8));
  EXPECT_THAT(CheckCheckpointFrame(bytes, "x"), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(const CheckpointContents contents, DecodeCheckpoint(bytes));
  EXPECT_EQ(NetworkDefToJson(contents.def), NetworkDefToJson(def));
  ASSERT_EQ(contents.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(contents.tensors[i].name, tensors[i].name);
    EXPECT_EQ(contents.tensors[i].dtype, tensors[i].dtype);
    EXPECT_EQ(contents.tensors[i].shape, tensors[i].shape);
    EXPECT_EQ(contents.tensors[i].data, tensors[i].data) << tensors[i].name;
  }
  EXPECT_THAT(CheckTensorsMatch(contents.def, contents.tensors, "x"), IsOk());
  ASSERT_NE(contents.Find("model.0.0.weight"), nullptr);
  EXPECT_EQ(contents.Find("nope"), nullptr);
  // Deterministic: the same model, the same bytes.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string again,
                                EncodeCheckpoint(contents.def, contents.tensors));
  EXPECT_EQ(again, bytes);
}

TEST(CheckpointFormatTest, EncodeChecksDataLengths) {
  const NetworkDef def = Tiny("helloworld");
  std::deque<std::string> storage;
  std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  tensors[0].data.remove_suffix(1);
  EXPECT_THAT(EncodeCheckpoint(def, tensors),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(tensors[0].name)));
}

TEST(CheckpointFormatTest, EveryTruncationAndCorruptionFailsCleanly) {
  const NetworkDef def = Tiny("helloworld");
  std::deque<std::string> storage;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string bytes,
                                EncodeCheckpoint(def, Tensors(def, &storage)));
  for (size_t size = 0; size < bytes.size(); size += 1 + size / 16) {
    EXPECT_THAT(DecodeCheckpoint(bytes.substr(0, size), "cut").status(),
                StatusIs(absl::StatusCode::kDataLoss)) << size;
  }
  for (size_t at = 8; at < bytes.size(); at += 1 + at / 8) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x40);
    EXPECT_THAT(DecodeCheckpoint(bad, "flip").status(), StatusIs(absl::StatusCode::kDataLoss))
        << at;
  }
  EXPECT_THAT(DecodeCheckpoint(bytes + "x", "long").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("long: ")));
}

TEST(CheckpointFormatTest, RejectsOtherFilesAndVersions) {
  EXPECT_THAT(DecodeCheckpoint("PK\3\4 a zip file, say", "f.pt").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("f.pt: not a netadapt")));
  const NetworkDef def = Tiny("helloworld");
  std::deque<std::string> storage;
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, EncodeCheckpoint(def, Tensors(def, &storage)));
  bytes[7] = 2;
  EXPECT_THAT(CheckCheckpointFrame(Reseal(bytes), "v2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version 2")));
}

TEST(CheckpointFormatTest, MalformedHeadersAreDataLoss) {
  const NetworkDef def = Tiny("helloworld");
  std::deque<std::string> storage;
  std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  tensors.push_back(tensors[0]);  // a repeated name
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string bytes, EncodeCheckpoint(def, tensors));
  EXPECT_THAT(DecodeCheckpoint(bytes, "dup").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("repeated")));
}

TEST(CheckpointFormatTest, CheckTensorsMatchNamesTheTensor) {
  const NetworkDef def = Tiny("helloworld");
  std::deque<std::string> storage;
  std::vector<CheckpointTensor> tensors = Tensors(def, &storage);
  std::vector<CheckpointTensor> wrong = tensors;
  wrong[0].shape[0] += 1;
  EXPECT_THAT(CheckTensorsMatch(def, wrong, "src"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat("src: tensor ", tensors[0].name, " has shape"))));
  std::vector<CheckpointTensor> missing(tensors.begin() + 1, tensors.end());
  EXPECT_THAT(CheckTensorsMatch(def, missing, "src"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing tensors")));
  std::vector<CheckpointTensor> extra = tensors;
  extra.back().name = "stray.weight";
  extra.push_back(tensors.back());
  EXPECT_THAT(CheckTensorsMatch(def, extra, "src"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stray.weight")));
  std::vector<CheckpointTensor> dtype = tensors;
  dtype[0].dtype = TensorDtype::kInt64;
  EXPECT_THAT(CheckTensorsMatch(def, dtype, "src"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dtype int64")));
}

}  // namespace
}  // namespace netadapt::common
