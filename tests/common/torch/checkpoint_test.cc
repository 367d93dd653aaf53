#include "common/torch/checkpoint.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>
#include <c10/core/GradMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/network_def_json.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/torch/device.h"
#include "common/torch/internal/model_state.h"
#include "common/zoo.h"
#include "netadapt/v1/network.pb.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr size_t kDigest = 32;

common::NetworkDef TinyMobileNet(double width = 0.125) {
  common::ZooOptions options;
  options.input_size = 32;
  options.width_multiplier = width;
  auto def = common::ZooNetwork("mobilenet", options);
  NETADAPT_CHECK(def.ok());
  return *def;
}

Model MakeTinyModel(uint64_t seed = 1) {
  ModelOptions options;
  options.seed = seed;
  auto model = Model::Create(TinyMobileNet(), options);
  NETADAPT_CHECK(model.ok());
  return *std::move(model);
}

std::string TempPath(absl::string_view name) {
  return absl::StrCat(::testing::TempDir(), "/checkpoint_test_", getpid(), "_", name);
}

void AppendLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

uint64_t ReadLe(absl::string_view in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

// Replaces the trailing digest so that only the content, not the checksum, is wrong.
std::string Reseal(std::string bytes) {
  bytes.resize(bytes.size() - kDigest);
  return bytes + common::Sha256(bytes);
}

void ExpectSameModel(const Model& a, const Model& b) {
  EXPECT_EQ(common::NetworkDefToJson(a.def()), common::NetworkDefToJson(b.def()));
  ASSERT_EQ(a.state().tensors.size(), b.state().tensors.size());
  for (const auto& [name, tensor] : a.state().tensors) {
    const at::Tensor& other = b.state().tensors.at(name);
    EXPECT_EQ(tensor.scalar_type(), other.scalar_type()) << name;
    EXPECT_EQ(tensor.requires_grad(), other.requires_grad()) << name;
    EXPECT_TRUE(at::equal(tensor.detach().cpu(), other.detach().cpu())) << name;
  }
}

TEST(CheckpointTest, SaveLoadRoundTrip) {
  Model model = MakeTinyModel();
  // Non-default buffers, so that they are known to travel too.
  {
    c10::NoGradGuard no_grad;
    model.state().tensors.at("model.1.1.running_mean").fill_(0.25);
    model.state().tensors.at("model.1.1.num_batches_tracked").fill_(42);
  }
  const std::string path = TempPath("roundtrip.ckpt");
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest, SaveCheckpoint(model, path));
  EXPECT_EQ(digest.size(), 64u);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, common::ReadFile(path));
  EXPECT_EQ(digest, common::Sha256Hex(bytes));  // what `sha256sum` prints
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string file_digest, CheckpointSha256(path));
  EXPECT_EQ(file_digest, digest);

  NETADAPT_ASSERT_OK_AND_ASSIGN(Model loaded, LoadCheckpoint(path, "cpu"));
  ExpectSameModel(model, loaded);
  EXPECT_EQ(loaded.state().tensors.at("model.1.1.num_batches_tracked").item<int64_t>(), 42);
  EXPECT_EQ(loaded.ParameterCount(), model.ParameterCount());

  c10::NoGradGuard no_grad;
  const at::Tensor input = at::randn({2, 3, 32, 32});
  EXPECT_TRUE(at::equal(internal::Forward(model.state(), input, false),
                        internal::Forward(loaded.state(), input, false)));
}

TEST(CheckpointTest, InMemoryFormIsDeterministicAndContentAddressed) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string a, SerializeCheckpoint(MakeTinyModel(1)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string b, SerializeCheckpoint(MakeTinyModel(1)));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string c, SerializeCheckpoint(MakeTinyModel(2)));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest_a, CheckpointDigest(a));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string digest_c, CheckpointDigest(c));
  EXPECT_EQ(digest_a, common::Sha256Hex(a));
  EXPECT_NE(digest_a, digest_c);
  EXPECT_EQ(a.substr(0, 8), std::string("NACKPT\0\1", 8));

  NETADAPT_ASSERT_OK_AND_ASSIGN(Model parsed, ParseCheckpoint(a, "cpu"));
  ExpectSameModel(MakeTinyModel(1), parsed);
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string again, SerializeCheckpoint(parsed));
  EXPECT_EQ(again, a);
}

TEST(CheckpointTest, EveryTruncationFailsCleanly) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, SerializeCheckpoint(MakeTinyModel()));
  for (size_t n = 0; n < bytes.size(); n += (n < 256 ? 1 : 61)) {
    EXPECT_THAT(ParseCheckpoint(bytes.substr(0, n), "cpu", "cut.ckpt"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("cut.ckpt")))
        << n;
  }
  EXPECT_THAT(ParseCheckpoint(bytes.substr(0, bytes.size() - 1), "cpu"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  EXPECT_THAT(ParseCheckpoint(bytes + "x", "cpu"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("trailing bytes")));
  EXPECT_THAT(CheckpointDigest(bytes.substr(0, bytes.size() / 2)),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(CheckpointTest, EveryCorruptionIsDetected) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, SerializeCheckpoint(MakeTinyModel()));
  for (size_t i = 8; i < bytes.size(); i += (i < 512 ? 1 : 37)) {
    std::string corrupted = bytes;
    corrupted[i] = static_cast<char>(corrupted[i] ^ 0x10);
    // A flipped length byte reads as a truncation; any other byte as a checksum mismatch.
    EXPECT_THAT(ParseCheckpoint(corrupted, "cpu"), StatusIs(absl::StatusCode::kDataLoss)) << i;
  }
  std::string corrupted = bytes;
  corrupted[bytes.size() / 2] ^= 1;
  EXPECT_THAT(ParseCheckpoint(corrupted, "cpu"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("checksum mismatch")));
  EXPECT_THAT(CheckpointDigest(corrupted), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(CheckpointTest, RejectsOtherFiles) {
  EXPECT_THAT(ParseCheckpoint("hello world, this is not a checkpoint at all", "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a netadapt checkpoint")));
  EXPECT_THAT(ParseCheckpoint("PK", "cpu"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseCheckpoint("", "cpu"), StatusIs(absl::StatusCode::kDataLoss));
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, SerializeCheckpoint(MakeTinyModel()));
  bytes[7] = 2;  // a future format version
  EXPECT_THAT(ParseCheckpoint(Reseal(bytes), "cpu"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("format version 2 (this build reads version 1)")));
}

TEST(CheckpointTest, TensorsAreCheckedAgainstTheStoredDefinition) {
  // A well-formed, correctly sealed file whose definition (a wider network) disagrees with its
  // tensors: rebuild the frame around another NetworkDef.
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, SerializeCheckpoint(MakeTinyModel()));
  const uint64_t header_length = ReadLe(absl::string_view(bytes).substr(8), 8);
  const uint64_t def_length = ReadLe(absl::string_view(bytes).substr(16), 8);
  std::string wide_def;
  ASSERT_TRUE(common::NetworkDefToProto(TinyMobileNet(0.25)).SerializeToString(&wide_def));
  const std::string rest_of_header = bytes.substr(24 + def_length, header_length - 8 - def_length);
  std::string forged = bytes.substr(0, 8);
  AppendLe(&forged, 8 + wide_def.size() + rest_of_header.size(), 8);
  AppendLe(&forged, wide_def.size(), 8);
  forged += wide_def + rest_of_header;
  forged += bytes.substr(16 + header_length);  // data length, data, old digest
  EXPECT_THAT(ParseCheckpoint(Reseal(forged), "cpu", "forged.ckpt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("forged.ckpt"), HasSubstr("model.0.0.weight has shape [4, 3, 3, 3]"),
                             HasSubstr("needs [8, 3, 3, 3]"))));

  // A definition that is not a NetworkDef at all.
  std::string garbage_def = bytes;
  for (uint64_t i = 0; i < def_length; ++i) garbage_def[24 + i] = '\xff';
  EXPECT_THAT(ParseCheckpoint(Reseal(garbage_def), "cpu"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("network definition")));

  // A header that claims more tensor bytes than the data holds.
  std::string bad_header = bytes;
  bad_header[16 + header_length - 8] ^= 0x01;  // the last tensor's data length
  EXPECT_THAT(ParseCheckpoint(Reseal(bad_header), "cpu"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("malformed checkpoint header")));
}

TEST(CheckpointTest, FileErrors) {
  EXPECT_THAT(LoadCheckpoint(TempPath("does_not_exist.ckpt"), "cpu"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(CheckpointSha256(TempPath("does_not_exist.ckpt")),
              StatusIs(absl::StatusCode::kNotFound));
  const std::string path = TempPath("device.ckpt");
  ASSERT_THAT(SaveCheckpoint(MakeTinyModel(), path).status(), IsOk());
  EXPECT_THAT(LoadCheckpoint(path, "gpu7"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CheckpointTest, LoadsOntoCuda) {
  // Debian's LibTorch is CPU-only and CI machines have no GPU: this runs only on a CUDA
  // build with a GPU (the worker image), where it checks loading straight onto the device.
  if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
  Model model = MakeTinyModel();
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, SerializeCheckpoint(model));
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model on_gpu, ParseCheckpoint(bytes, "cuda:0"));
  EXPECT_EQ(on_gpu.device(), "cuda:0");
  ExpectSameModel(model, on_gpu);
  // Saving from the GPU gives the same bytes.
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string again, SerializeCheckpoint(on_gpu));
  EXPECT_EQ(again, bytes);
}

}  // namespace
}  // namespace netadapt::engine
