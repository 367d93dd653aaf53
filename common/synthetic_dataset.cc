#include "common/synthetic_dataset.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/dataset_random.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

// Streams derived from the seed, so each part is independent of the others' sizes.
constexpr uint64_t kPrototypeStream = 1;
constexpr uint64_t kTrainStream = 2;
constexpr uint64_t kTestStream = 3;

absl::Status Validate(const SyntheticDatasetOptions& options) {
  auto error = [](absl::string_view what, auto value, absl::string_view expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic dataset: ", what, " is ", value, ", expected ", expected));
  };
  if (options.num_classes < 1) return error("num_classes", options.num_classes, ">= 1");
  if (options.num_classes > 65536) return error("num_classes", options.num_classes, "<= 65536");
  if (options.channels < 1) return error("channels", options.channels, ">= 1");
  if (options.height < 1) return error("height", options.height, ">= 1");
  if (options.width < 1) return error("width", options.width, ">= 1");
  if (options.train_size < 0) return error("train_size", options.train_size, ">= 0");
  if (options.test_size < 0) return error("test_size", options.test_size, ">= 0");
  if (!(options.noise >= 0 && options.noise <= 1)) {
    return error("noise", options.noise, "in [0, 1]");
  }
  constexpr double kMaxBytes = 4.0 * (1 << 30);
  const double image_bytes = static_cast<double>(options.channels) * options.height * options.width;
  const double images =
      static_cast<double>(options.train_size) + options.test_size + options.num_classes;
  if (image_bytes * images > kMaxBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "synthetic dataset: ", options.train_size, " + ", options.test_size, " images of ",
        options.channels, "x", options.height, "x", options.width, " exceed 4 GiB"));
  }
  return absl::OkStatus();
}

// One prototype image per class, CHW, concatenated.
std::vector<uint8_t> MakePrototypes(const SyntheticDatasetOptions& options) {
  const int cell = std::max(1, std::min(options.height, options.width) / 4);
  const int grid_h = (options.height + cell - 1) / cell;
  const int grid_w = (options.width + cell - 1) / cell;
  const size_t image = static_cast<size_t>(options.channels) * options.height * options.width;
  std::mt19937_64 rng(DeriveSeed(options.seed, kPrototypeStream));
  std::vector<uint8_t> prototypes(image * options.num_classes);
  std::vector<uint8_t> grid(static_cast<size_t>(grid_h) * grid_w);
  for (int k = 0; k < options.num_classes; ++k) {
    for (int c = 0; c < options.channels; ++c) {
      for (uint8_t& level : grid) level = static_cast<uint8_t>(rng() >> 56);
      uint8_t* plane =
          prototypes.data() + k * image + static_cast<size_t>(c) * options.height * options.width;
      for (int y = 0; y < options.height; ++y) {
        for (int x = 0; x < options.width; ++x) {
          plane[y * options.width + x] = grid[(y / cell) * grid_w + x / cell];
        }
      }
    }
  }
  return prototypes;
}

ImageDataset MakeSplit(const SyntheticDatasetOptions& options,
                       const std::vector<uint8_t>& prototypes, int64_t size, uint64_t stream,
                       std::string name) {
  ImageDataset dataset;
  dataset.name = std::move(name);
  dataset.channels = options.channels;
  dataset.height = options.height;
  dataset.width = options.width;
  dataset.num_classes = options.num_classes;
  std::mt19937_64 rng(DeriveSeed(options.seed, stream));

  std::vector<int64_t> labels(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) labels[i] = i % options.num_classes;
  ShuffleInPlace(absl::MakeSpan(labels), rng);
  dataset.labels.assign(labels.begin(), labels.end());

  const size_t image = static_cast<size_t>(dataset.ImageElements());
  dataset.pixels.resize(image * static_cast<size_t>(size));
  // A noise byte b in 0..255 maps to (b - 127.5) * scale, in [-noise * 255, noise * 255].
  const double scale = options.noise * 255.0 / 127.5;
  uint64_t bits = 0;
  int bytes_left = 0;
  for (int64_t i = 0; i < size; ++i) {
    const uint8_t* prototype = prototypes.data() + dataset.labels[i] * image;
    uint8_t* out = dataset.pixels.data() + i * image;
    for (size_t p = 0; p < image; ++p) {
      if (bytes_left == 0) {
        bits = rng();
        bytes_left = 8;
      }
      const int noise_byte = static_cast<int>(bits & 0xff);
      bits >>= 8;
      --bytes_left;
      const double value = prototype[p] + (noise_byte - 127.5) * scale;
      out[p] = static_cast<uint8_t>(std::clamp(std::lround(value), 0L, 255L));
    }
  }
  return dataset;
}

}  // namespace

absl::StatusOr<DatasetSplits> MakeSyntheticDataset(const SyntheticDatasetOptions& options) {
  NETADAPT_RETURN_IF_ERROR(Validate(options));
  const std::vector<uint8_t> prototypes = MakePrototypes(options);
  DatasetSplits splits;
  splits.train =
      MakeSplit(options, prototypes, options.train_size, kTrainStream, "synthetic/train");
  splits.test = MakeSplit(options, prototypes, options.test_size, kTestStream, "synthetic/test");
  return splits;
}

}  // namespace netadapt::common
