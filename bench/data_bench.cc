// data_bench: images per second of image-folder loading for 224x224 training batches
// (read the file, libjpeg-turbo decode at a reduced DCT scale where the crop allows it,
// RandomResizedCrop, flip, normalise into CHW floats) through common::BatchPrefetcher, per
// core and in total; then, with --model, the training step's own images/s on the same
// device with the folder's batches and with batches already in memory, to show whether the
// loader keeps up. The JPEGs (about 500x375, ImageNet's typical size, about 100 KB) are made
// at benchmark time with libjpeg in a temporary folder. Target: >= 400 images/s per core.
// Per core is reported twice: wall-clock images/s divided by the threads, and images per
// CPU-second of the process (the loader threads; the consumer only waits), which holds on a
// machine whose cores other work also uses.
//
//   build/bench/data_bench [--images=512] [--width=500] [--height=375] [--quality=90]
//                          [--threads=1,2] [--batch=128] [--batches=8] [--model=resnet18]
//                          [--device=cpu] [--train_batch=32] [--train_steps=4]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/batch_prefetcher.h"
#include "common/dataset.h"
#include "common/dataset_random.h"
#include "common/image_codec.h"
#include "common/image_folder.h"
#include "common/torch/device.h"
#include "common/torch/model.h"
#include "common/torch/training.h"
#include "common/zoo.h"

ABSL_FLAG(int, images, 512, "JPEGs to make (in 8 class folders)");
ABSL_FLAG(int, width, 500, "JPEG width");
ABSL_FLAG(int, height, 375, "JPEG height");
ABSL_FLAG(int, quality, 90, "JPEG quality");
ABSL_FLAG(std::string, threads, "",
          "loader thread counts to time, comma-separated; empty = 1 "
          "and the number of cores");
ABSL_FLAG(int, batch, 128, "images per loaded batch");
ABSL_FLAG(int, batches, 8, "timed batches per thread count (after one warm-up batch)");
ABSL_FLAG(int, crop, 224, "output size (crop=N; resize=N*8/7 for evaluation)");
ABSL_FLAG(std::string, model, "resnet18",
          "zoo model whose training step to time at crop x crop "
          "on --device; empty to skip");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda:N, for the training step");
ABSL_FLAG(int, train_batch, 32, "training batch size");
ABSL_FLAG(int, train_steps, 4, "timed training steps (after 1 warm-up step)");
ABSL_FLAG(int, intra_op_threads, 0, "LibTorch intra-op threads for the training step; 0 = all");
ABSL_FLAG(std::string, dir, "", "folder for the JPEGs; empty = a fresh temporary one, removed");

namespace netadapt {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const absl::Status& status) {
  std::cerr << "data_bench: " << status << "\n";
  std::exit(1);
}

template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) Fail(value.status());
  return *std::move(value);
}

// Amplitude of the per-value texture noise in MakePicture.
constexpr int kNoise = 36;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A photo-like picture: smooth colour fields (a few random waves per channel), edges
// (random rectangles) and fine texture (noise), tuned so that the JPEG's size at quality 90,
// about 100 KB, and so its decoding cost, resemble an ImageNet photo's (pure noise would be
// far larger, flat colour far cheaper).
common::Image MakePicture(int width, int height, std::mt19937_64& rng) {
  common::Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  std::vector<double> field(static_cast<size_t>(width) * height * 3, 128.0);
  for (int c = 0; c < 3; ++c) {
    for (int k = 0; k < 4; ++k) {
      const double fx = common::UniformUnit(rng) * 0.05;
      const double fy = common::UniformUnit(rng) * 0.05;
      const double phase = common::UniformUnit(rng) * 6.28;
      const double amplitude = 20 + 30 * common::UniformUnit(rng);
      // sin(a + b) = sin a cos b + cos a sin b: one sin and cos per row and per column.
      std::vector<double> sx(width), cx(width);
      for (int x = 0; x < width; ++x) {
        sx[x] = std::sin(fx * x + phase);
        cx[x] = std::cos(fx * x + phase);
      }
      for (int y = 0; y < height; ++y) {
        const double sy = std::sin(fy * y), cy = std::cos(fy * y);
        double* row = field.data() + (static_cast<size_t>(y) * width) * 3 + c;
        for (int x = 0; x < width; ++x) row[3 * x] += amplitude * (sx[x] * cy + cx[x] * sy);
      }
    }
  }
  for (int r = 0; r < 12; ++r) {
    const int x0 = static_cast<int>(rng() % width), y0 = static_cast<int>(rng() % height);
    const int x1 = std::min(width, x0 + 10 + static_cast<int>(rng() % 120));
    const int y1 = std::min(height, y0 + 10 + static_cast<int>(rng() % 120));
    const double colour[3] = {static_cast<double>(rng() % 256), static_cast<double>(rng() % 256),
                              static_cast<double>(rng() % 256)};
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        for (int c = 0; c < 3; ++c) field[(static_cast<size_t>(y) * width + x) * 3 + c] = colour[c];
      }
    }
  }
  for (size_t i = 0; i < field.size(); ++i) {
    const double v = field[i] + static_cast<double>(rng() % (2 * kNoise + 1)) - kNoise;
    image.pixels[i] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
  }
  return image;
}

// Writes the image folder; the mean JPEG size in bytes.
double MakeFolder(const std::filesystem::path& root) {
  const int images = absl::GetFlag(FLAGS_images);
  std::mt19937_64 rng(1);
  uint64_t bytes = 0;
  for (const char* split : {"train", "val"}) {
    const int count = split == std::string("train") ? images : 8;
    for (int i = 0; i < count; ++i) {
      const std::filesystem::path folder = root / split / absl::StrCat("class", i % 8);
      std::filesystem::create_directories(folder);
      const common::Image picture =
          MakePicture(absl::GetFlag(FLAGS_width), absl::GetFlag(FLAGS_height), rng);
      const std::string jpeg = OrDie(common::EncodeJpeg(picture, absl::GetFlag(FLAGS_quality)));
      if (split == std::string("train")) bytes += jpeg.size();
      std::ofstream(folder / absl::StrCat(i, ".jpg"), std::ios::binary) << jpeg;
    }
  }
  return static_cast<double>(bytes) / images;
}

// CPU seconds this process has used (all threads, user and system).
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
         usage.ru_stime.tv_usec * 1e-6;
}

struct LoaderRate {
  double wall = 0;  // images per second
  double cpu = 0;   // images per CPU-second: per core, whatever else runs on the machine
};

// Loader images/s with `threads` threads: training batches (random order, augmented).
LoaderRate TimeLoader(const common::ImageSource& source, int threads) {
  const int batch = absl::GetFlag(FLAGS_batch);
  const int batches = absl::GetFlag(FLAGS_batches) + 1;  // The first one warms up.
  auto plan = [&source, batch](int64_t k) {
    std::mt19937_64 rng(common::DeriveSeed(7, static_cast<uint64_t>(k)));
    common::BatchRequest request;
    request.augment = true;
    request.seed = common::DeriveSeed(11, static_cast<uint64_t>(k));
    for (int i = 0; i < batch; ++i) {
      request.indices.push_back(
          static_cast<int64_t>(common::UniformIndex(rng, static_cast<uint64_t>(source.size()))));
    }
    return request;
  };
  common::PrefetchOptions options;
  options.threads = threads;
  options.batches_ahead = 2;
  common::BatchPrefetcher prefetcher(source, batches, plan, options);
  OrDie(prefetcher.Next());
  // The pool is a batch or two ahead: time from here to the last batch, and count the CPU
  // time of everything loaded meanwhile (the consumer itself only waits).
  const Clock::time_point start = Clock::now();
  const double cpu_start = CpuSeconds();
  for (int k = 1; k < batches; ++k) OrDie(prefetcher.Next());
  const double images = (batches - 1) * static_cast<double>(batch);
  return {images / Seconds(start), images / (CpuSeconds() - cpu_start)};
}

// In-memory batches of the folder's shape (random bytes) for the training step without
// decoding.
common::ImageDataset RandomImages(int64_t n, int size, int classes) {
  common::ImageDataset data;
  data.name = "memory";
  data.channels = 3;
  data.height = data.width = size;
  data.num_classes = classes;
  std::mt19937_64 rng(0);
  data.pixels.resize(static_cast<size_t>(n * data.ImageElements()));
  for (uint8_t& p : data.pixels) p = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < n; ++i) data.labels.push_back(static_cast<int32_t>(rng() % classes));
  return data;
}

// `loader_per_core`: the loader's images per CPU-second, to say how many cores keep the step
// fed.
void TimeTraining(const common::ImageFolder& folder, double loader_per_core) {
  const std::string model_name = absl::GetFlag(FLAGS_model);
  const int crop = absl::GetFlag(FLAGS_crop);
  const int batch = absl::GetFlag(FLAGS_train_batch);
  const int steps = absl::GetFlag(FLAGS_train_steps);
  common::ZooOptions zoo;
  zoo.input_size = crop;
  zoo.num_classes = static_cast<int>(folder.classes().size());
  const common::NetworkDef network = OrDie(common::ZooNetwork(model_name, zoo));
  engine::SgdOptions sgd;
  sgd.batch_size = batch;
  sgd.learning_rate = 0.01;
  sgd.intra_op_threads = absl::GetFlag(FLAGS_intra_op_threads);
  const std::string device = absl::GetFlag(FLAGS_device);

  // Folder batches: the loader uses every core, as a worker's does by default.
  engine::Model on_folder = OrDie(engine::Model::Create(network, {.device = device, .seed = 0}));
  std::vector<int64_t> indices(static_cast<size_t>(folder.train().size()));
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = static_cast<int64_t>(i);
  OrDie(engine::FineTune(on_folder, folder.train(), indices, 1, sgd));
  const engine::TrainSummary from_folder =
      OrDie(engine::FineTune(on_folder, folder.train(), indices, steps, sgd));

  // The same steps on batches already in memory.
  const common::ImageDataset memory =
      RandomImages(int64_t{batch} * (steps + 1), crop, zoo.num_classes);
  engine::Model in_memory = OrDie(engine::Model::Create(network, {.device = device, .seed = 0}));
  sgd.batch.mean = {0.5f, 0.5f, 0.5f};
  sgd.batch.std = {0.25f, 0.25f, 0.25f};
  const std::vector<int64_t> memory_indices = engine::AllIndices(memory);
  OrDie(engine::FineTune(in_memory, memory, memory_indices, 1, sgd));
  const engine::TrainSummary from_memory =
      OrDie(engine::FineTune(in_memory, memory, memory_indices, steps, sgd));

  std::printf("\ntraining step, %s at %dx%d on %s, batch %d, %d steps (%s):\n", model_name.c_str(),
              crop, crop, device.c_str(), batch, steps, engine::TorchBuildDescription().c_str());
  std::printf("  batches from the image folder  %8.1f images/s\n", from_folder.examples_per_second);
  std::printf("  batches already in memory      %8.1f images/s\n", from_memory.examples_per_second);
  std::printf("  ratio                          %8.2f\n",
              from_folder.examples_per_second / from_memory.examples_per_second);
  std::printf("  loader cores to keep up        %8.3f (at %.0f images per CPU-second)\n",
              from_memory.examples_per_second / loader_per_core, loader_per_core);
}

int Run() {
  namespace fs = std::filesystem;
  const bool temporary = absl::GetFlag(FLAGS_dir).empty();
  const fs::path root =
      temporary ? fs::temp_directory_path() / absl::StrCat("netadapt-data-bench-", ::getpid())
                : fs::path(absl::GetFlag(FLAGS_dir));
  const Clock::time_point made = Clock::now();
  const double mean_bytes = MakeFolder(root);
  std::printf("%d JPEGs of %dx%d (quality %d, mean %.0f KB) made in %.1f s in %s\n",
              absl::GetFlag(FLAGS_images), absl::GetFlag(FLAGS_width), absl::GetFlag(FLAGS_height),
              absl::GetFlag(FLAGS_quality), mean_bytes / 1024, Seconds(made),
              root.string().c_str());

  const int crop = absl::GetFlag(FLAGS_crop);
  common::ImageFolderOptions options;  // RandomResizedCrop + flip + ImageNet normalisation.
  options.crop = crop;
  options.resize = crop * 8 / 7;
  const std::unique_ptr<common::ImageFolder> folder =
      OrDie(common::ImageFolder::Open(root.string(), options));

  std::vector<int> thread_counts;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (absl::GetFlag(FLAGS_threads).empty()) {
    thread_counts = {1};
    if (cores > 1) thread_counts.push_back(cores);
  } else {
    for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_threads), ',')) {
      int n = 0;
      if (!absl::SimpleAtoi(part, &n) || n < 1) {
        Fail(absl::InvalidArgumentError(absl::StrCat("--threads: bad count ", part)));
      }
      thread_counts.push_back(n);
    }
  }
  std::printf("training batches of %d, %dx%d RandomResizedCrop + flip + normalise, %d cores:\n",
              absl::GetFlag(FLAGS_batch), crop, crop, cores);
  std::printf("%8s %12s %16s %18s\n", "threads", "images/s", "images/s/thread",
              "images/CPU-second");
  double per_core = 0;
  for (const int threads : thread_counts) {
    const LoaderRate rate = TimeLoader(folder->train(), threads);
    std::printf("%8d %12.1f %16.1f %18.1f\n", threads, rate.wall, rate.wall / threads, rate.cpu);
    if (threads == 1) per_core = rate.cpu;
  }
  if (per_core == 0) per_core = TimeLoader(folder->train(), 1).cpu;
  if (!absl::GetFlag(FLAGS_model).empty()) TimeTraining(*folder, per_core);
  if (temporary) fs::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace netadapt

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  netadapt::engine::KeepFreedHostMemory();
  return netadapt::Run();
}
