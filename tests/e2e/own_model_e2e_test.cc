// Issue 13 end to end, on the real binaries (profiler agent, master, two workers) on loopback:
// a network defined in PyTorch (examples/residual_cnn.py) exported to ONNX by
// Debian's python3-torch at test time (random weights, batchnorm kept), `netadapt import`,
// `netadapt submit --onnx` on an image folder of PNG and JPEG files written here, adapted to
// half its latency, exported back to ONNX by `netadapt export`. The ONNX file passes the checker,
// and its output (NumPy reference, tests/common/torch/onnx_reference.py) and that of the PyTorch
// module rebuilt from it (ResidualCNN.from_state_dict) match our LibTorch forward of the final
// checkpoint. scripts/own-model-demo.sh is the same path at full size.
//
// LibTorch's forward runs through engine::Infer, so the test includes no ATen header. About
// 10 s on 2 cores.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/image_codec.h"
#include "common/network_def_json.h"
#include "common/rpc/channel.h"
#include "common/torch/checkpoint.h"
#include "common/torch/model.h"
#include "netadapt/v1/job_service.grpc.pb.h"
#include "tests/testing/server_process.h"
#include "tests/testing/status_matchers.h"

namespace netadapt {
namespace {

namespace fs = std::filesystem;
using ::netadapt::testing::IsOk;
using ::testing::HasSubstr;

constexpr char kPython[] = "/usr/bin/python3";  // Debian's, with python3-torch and -onnx.
constexpr int kClasses = 4;
constexpr int kSize = 28;

// `command` through sh, stdout and stderr captured; its exit status in *code.
std::string Capture(const std::string& command, int* code) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    *code = -1;
    return out;
  }
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

class OwnModelE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // CI installs these (scripts/install-deps.sh); a machine without them cannot export.
    if (std::system(absl::StrCat(kPython, " -c 'import torch, torchvision, onnx, numpy' "
                                          "> /dev/null 2>&1")
                        .c_str()) != 0) {
      GTEST_SKIP() << kPython << " lacks torch, torchvision, onnx or numpy (Debian's "
                   << "python3-torch, python3-torchvision, python3-onnx)";
    }
    dir_ = fs::path(::testing::TempDir()) / absl::StrCat("own_model_e2e_", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string error;
    std::optional<int> profiler = profiler_.Start(
        NETADAPT_PROFILER_BINARY, {"--threads=1", "--min_runs=5", "--max_time_ms=200"},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(profiler) << error;
    std::optional<int> master = master_.Start(
        NETADAPT_MASTER_BINARY,
        {absl::StrCat("--profiler=127.0.0.1:", *profiler),
         "--state_dir=" + (dir_ / "master").string(), "--heartbeat_interval_ms=200"},
        std::chrono::seconds(30), &error);
    ASSERT_TRUE(master) << error;
    master_address_ = absl::StrCat("127.0.0.1:", *master);
    for (int i = 0; i < 2; ++i) {
      std::optional<int> worker = workers_[i].Start(
          NETADAPT_WORKER_BINARY,
          {"--master=" + master_address_, "--device=cpu", "--threads=1",
           absl::StrCat("--cache_dir=", (dir_ / "worker").string(), i)},
          std::chrono::seconds(30), &error);
      ASSERT_TRUE(worker) << error;
    }
    auto jobs = v1::JobService::NewStub(rpc::MakeChannel(master_address_));
    for (int i = 0; i < 100; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::ListWorkersResponse workers;
      ASSERT_TRUE(jobs->ListWorkers(&context, {}, &workers).ok());
      if (workers.workers_size() == 2) return;
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "the workers did not register";
  }

  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) fs::remove_all(dir_);
  }

  // kClasses classes of kSize x kSize grey images: class k is a bright square in quadrant
  // k on a noisy background (10x10 in 28x28); train/ holds 24 per class, val/ 8; even images PNG, odd JPEG.
  void WriteImageFolder(const fs::path& root) {
    std::mt19937 random(7);
    std::uniform_int_distribution<int> noise(0, 60);
    for (const char* split : {"train", "val"}) {
      const int per_class = split == std::string("train") ? 24 : 8;
      for (int k = 0; k < kClasses; ++k) {
        const fs::path folder = root / split / absl::StrCat("class", k);
        fs::create_directories(folder);
        for (int i = 0; i < per_class; ++i) {
          common::Image image;
          image.width = image.height = kSize;
          image.channels = 1;
          image.pixels.resize(kSize * kSize);
          for (uint8_t& p : image.pixels) p = static_cast<uint8_t>(noise(random));
          const int x0 = (k % 2) * 14 + 2, y0 = (k / 2) * 14 + 2;
          for (int y = y0; y < y0 + 10; ++y) {
            for (int x = x0; x < x0 + 10; ++x) *image.Pixel(x, y) = 230;
          }
          absl::StatusOr<std::string> bytes =
              i % 2 == 0 ? common::EncodePng(image) : common::EncodeJpeg(image, 95);
          ASSERT_TRUE(bytes.ok()) << bytes.status();
          std::ofstream(folder / absl::StrCat(i, i % 2 == 0 ? ".png" : ".jpg"),
                        std::ios::binary)
              << *bytes;
        }
      }
    }
  }

  std::string Cli() const {
    return absl::StrCat(NETADAPT_CLI_BINARY, " --master=", master_address_, " ");
  }

  fs::path dir_;
  testing::ServerProcess profiler_, master_, workers_[2];
  std::string master_address_;
};

// The float32 file `path` (raw little-endian), as the Python scripts write it.
std::vector<float> ReadFloats(const fs::path& path) {
  absl::StatusOr<std::string> bytes = common::ReadFile(path.string());
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  if (!bytes.ok()) return {};
  std::vector<float> values(bytes->size() / sizeof(float));
  std::memcpy(values.data(), bytes->data(), values.size() * sizeof(float));
  return values;
}

TEST_F(OwnModelE2eTest, APyTorchModelOnAnImageFolderIsAdaptedAndComesBackToPyTorch) {
  const fs::path images = dir_ / "images";
  WriteImageFolder(images);
  ASSERT_FALSE(HasFatalFailure());

  // 1. The PyTorch model, exported as a user would (random weights; batchnorm kept).
  const fs::path seed_onnx = dir_ / "seed.onnx";
  int code = 0;
  std::string out = Capture(
      absl::StrCat(kPython, " ", NETADAPT_EXAMPLES_DIR, "/train_and_export.py --random-weights ",
                   "--width 16 --classes ", kClasses, " --size ", kSize, " -o ",
                   seed_onnx.string()),
      &code);
  ASSERT_EQ(code, 0) << out;

  // 2. netadapt import: the module names survive, and the channel groups are found.
  out = Capture(absl::StrCat(NETADAPT_CLI_BINARY, " import ", seed_onnx.string(), " -o ",
                             (dir_ / "seed.json").string(), " --weights-out ",
                             (dir_ / "seed.ckpt").string()),
                &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("6 prunable blocks"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string json,
                                common::ReadFile((dir_ / "seed.json").string()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::NetworkDef seed, common::NetworkDefFromJson(json));
  std::vector<std::string> names;
  for (const common::Layer& layer : seed.layers) names.push_back(layer.name);
  EXPECT_THAT(names, ::testing::IsSupersetOf({"conv1", "layer2.0.conv1", "layer2.0.downsample.0",
                                               "layer3.0.bn2", "fc"}));

  // 3. submit --onnx on the image folder, to half the seed's latency.
  // One truncated PNG among the training images (not the first, which sets the folder's
  // size): skip_corrupt leaves it out and the job names it.
  const fs::path broken = images / "train" / "class1" / "zz_broken.png";
  std::ofstream(broken, std::ios::binary) << "\x89PNG\r\n\x1a\n truncated";
  const std::string dataset =
      absl::StrCat("imagefolder:", images.string(),
                   ",channels=1,mean=0.3,std=0.3,random_resized_crop=0,skip_corrupt=1");
  out = Capture(Cli() + absl::StrCat("submit --onnx ", seed_onnx.string(), " --dataset ",
                                     dataset,
                                     " --budget-ratio 0.5 --holdout-size 32 --batch-size 16 "
                                     "--finetune-lr 0.02 --reduction-ratio 0.1 --decay 1 "
                                     "--short-term-steps 10 --channel-step 2 --max-iters 12 "
                                     "--seed 3 --no-uniform-baseline --wait"),
                &code);
  ASSERT_EQ(code, 0) << out;
  out = Capture(Cli() + "--output json get jobs/1", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("\"state\": \"SUCCEEDED\""));
  const fs::path job_json = dir_ / "job.json";
  ASSERT_THAT(common::WriteFileAtomically(job_json.string(), out), IsOk());
  // Within budget, narrower, from the image folder (the dataset spec as given). One iteration
  // may be enough: a LUT entry measured while CI compiles beside the test can be several times
  // too high (issue 15), and the first iteration then drops it and lands below the budget.
  const std::string check_job = absl::StrCat(
      kPython, " -c 'import json, sys; j = json.load(open(sys.argv[1])); ",
      "assert j[\"final\"][\"resource\"] <= j[\"budget\"] <= 0.5 * j[\"seed\"][\"resource\"] + 1e-9, j; ",
      "assert j[\"spec\"][\"dataset\"].startswith(\"imagefolder:\"), j[\"spec\"][\"dataset\"]; ",
      "assert len(j[\"history\"]) >= 1, j[\"history\"]; ",
      "s = j[\"skipped_files\"]; assert len(s) == 1 and s[0].endswith(sys.argv[2]), s; ",
      "assert int(j[\"skipped_images\"]) >= 1, j[\"skipped_images\"]; ",
      "assert j[\"final\"][\"weights\"] < j[\"seed\"][\"weights\"], j[\"final\"]' ",
      job_json.string(), " train/class1/zz_broken.png");
  out = Capture(check_job, &code);
  EXPECT_EQ(code, 0) << out;

  // 4. Back to ONNX, and the checkpoint for LibTorch.
  const fs::path adapted_onnx = dir_ / "adapted.onnx", adapted_ckpt = dir_ / "adapted.ckpt";
  out = Capture(Cli() + absl::StrCat("export jobs/1 --iteration final --format onnx -o ",
                                     adapted_onnx.string()),
                &code);
  ASSERT_EQ(code, 0) << out;
  out = Capture(Cli() + absl::StrCat("export jobs/1 --iteration final -o ",
                                     adapted_ckpt.string()),
                &code);
  ASSERT_EQ(code, 0) << out;

  // 5. LibTorch's forward of the final checkpoint on random inputs ...
  NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model model,
                                engine::LoadCheckpoint(adapted_ckpt.string(), "cpu"));
  std::mt19937 random(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> input(4 * kSize * kSize);
  for (float& value : input) value = normal(random);
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::vector<float> expected,
                                engine::Infer(model, input, /*batch=*/4));
  ASSERT_EQ(expected.size(), static_cast<size_t>(4 * kClasses));
  ASSERT_THAT(common::WriteFileAtomically(
                  (dir_ / "input.bin").string(),
                  absl::string_view(reinterpret_cast<const char*>(input.data()),
                                    input.size() * sizeof(float))),
              IsOk());
  // ... against the ONNX graph (the checker with full_check, then NumPy) ...
  out = Capture(absl::StrCat(kPython, " ", NETADAPT_ONNX_REFERENCE, " ", adapted_onnx.string(),
                             " ", (dir_ / "input.bin").string(), " 4,1,", kSize, ",", kSize, " ",
                             (dir_ / "onnx.bin").string()),
                &code);
  ASSERT_EQ(code, 0) << out;
  // ... and against the PyTorch module rebuilt from the ONNX file, as docs/USER_GUIDE.md shows.
  out = Capture(
      absl::StrCat(
          kPython, " -c 'import sys, numpy, torch; sys.path.insert(0, sys.argv[1]); ",
          "from residual_cnn import ResidualCNN, load_onnx_weights; ",
          "m = ResidualCNN.from_state_dict(load_onnx_weights(sys.argv[2])).eval(); ",
          "x = torch.from_numpy(numpy.fromfile(sys.argv[3], numpy.float32).reshape(4, 1, ",
          kSize, ", ", kSize, ")); ",
          "m(x).detach().numpy().astype(numpy.float32).tofile(sys.argv[4])' ",
          NETADAPT_EXAMPLES_DIR, " ", adapted_onnx.string(), " ", (dir_ / "input.bin").string(),
          " ", (dir_ / "pytorch.bin").string()),
      &code);
  ASSERT_EQ(code, 0) << out;
  const float* want = expected.data();
  double scale = 0;
  for (float value : expected) scale = std::max(scale, std::abs(double{value}));
  for (const char* file : {"onnx.bin", "pytorch.bin"}) {
    const std::vector<float> got = ReadFloats(dir_ / file);
    ASSERT_EQ(got.size(), expected.size()) << file;
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      worst = std::max(worst, std::abs(double{got[i]} - double{want[i]}));
    }
    std::cout << file << ": largest difference from LibTorch " << worst << " (logits up to "
              << scale << ")" << std::endl;
    EXPECT_LE(worst, 1e-4 * std::max(1.0, scale)) << file;
  }
}

}  // namespace
}  // namespace netadapt
