#include "common/batch_filler.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/dataset_random.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

absl::Status ValidateOptions(const ImageDataset& dataset, const BatchOptions& options,
                             const std::mt19937_64* rng) {
  const size_t channels = static_cast<size_t>(dataset.channels);
  if (!options.mean.empty() && options.mean.size() != channels) {
    return absl::InvalidArgumentError(absl::StrCat("batch options: ", options.mean.size(),
                                                   " mean values for ", channels,
                                                   "-channel dataset ", dataset.name));
  }
  if (!options.std.empty() && options.std.size() != channels) {
    return absl::InvalidArgumentError(absl::StrCat("batch options: ", options.std.size(),
                                                   " std values for ", channels,
                                                   "-channel dataset ", dataset.name));
  }
  for (size_t c = 0; c < options.std.size(); ++c) {
    if (!(options.std[c] > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("batch options: std of channel ", c, " is ",
                                                     options.std[c], ", expected > 0"));
    }
  }
  if (options.crop_padding < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch options: crop_padding is ", options.crop_padding, ", expected >= 0"));
  }
  if (options.augments() && rng == nullptr) {
    return absl::InvalidArgumentError("batch options: augmentation needs an rng, got null");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FillBatch(const ImageDataset& dataset, absl::Span<const int64_t> indices,
                       const BatchOptions& options, std::mt19937_64* rng, absl::Span<float> images,
                       absl::Span<int64_t> labels) {
  NETADAPT_RETURN_IF_ERROR(ValidateOptions(dataset, options, rng));
  const int channels = dataset.channels;
  const int height = dataset.height;
  const int width = dataset.width;
  const size_t elements = static_cast<size_t>(dataset.ImageElements());
  if (images.size() != indices.size() * elements || labels.size() != indices.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", indices.size(), " images of dataset ", dataset.name, " needs ",
                     indices.size() * elements, " floats and ", indices.size(),
                     " labels, got buffers of ", images.size(), " and ", labels.size()));
  }
  for (const int64_t index : indices) {
    if (index < 0 || index >= dataset.size()) {
      return absl::InvalidArgumentError(absl::StrCat("batch index ", index, " is outside dataset ",
                                                     dataset.name, " [0, ", dataset.size(), ")"));
    }
  }

  // One table per channel maps each byte to its normalised float: cheaper than arithmetic
  // per pixel, and the zero padding is simply table[0].
  std::vector<std::array<float, 256>> table(static_cast<size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    const float mean = options.mean.empty() ? 0.0f : options.mean[c];
    const float std = options.std.empty() ? 1.0f : options.std[c];
    for (int v = 0; v < 256; ++v) table[c][v] = (static_cast<float>(v) / 255.0f - mean) / std;
  }

  const int padding = options.crop_padding;
  for (size_t n = 0; n < indices.size(); ++n) {
    const uint8_t* source = dataset.Image(indices[n]);
    float* out = images.data() + n * elements;
    labels[n] = dataset.labels[indices[n]];
    // Output pixel (y, x) reads source pixel (y + dy, x' + dx) where x' is x, mirrored when
    // flipping; positions outside the source are the zero padding.
    int dy = 0;
    int dx = 0;
    bool flip = false;
    if (padding > 0) {
      dy = static_cast<int>(UniformIndex(*rng, 2 * padding + 1)) - padding;
      dx = static_cast<int>(UniformIndex(*rng, 2 * padding + 1)) - padding;
    }
    if (options.horizontal_flip) flip = ((*rng)() >> 63) != 0;
    if (dy == 0 && dx == 0 && !flip) {
      for (int c = 0; c < channels; ++c) {
        const std::array<float, 256>& lookup = table[c];
        const size_t plane = static_cast<size_t>(c) * height * width;
        for (size_t p = 0; p < static_cast<size_t>(height) * width; ++p) {
          out[plane + p] = lookup[source[plane + p]];
        }
      }
      continue;
    }
    for (int c = 0; c < channels; ++c) {
      const std::array<float, 256>& lookup = table[c];
      const uint8_t* source_plane = source + static_cast<size_t>(c) * height * width;
      float* out_plane = out + static_cast<size_t>(c) * height * width;
      for (int y = 0; y < height; ++y) {
        const int sy = y + dy;
        float* out_row = out_plane + static_cast<size_t>(y) * width;
        if (sy < 0 || sy >= height) {
          std::fill(out_row, out_row + width, lookup[0]);
          continue;
        }
        const uint8_t* source_row = source_plane + static_cast<size_t>(sy) * width;
        for (int x = 0; x < width; ++x) {
          const int sx = (flip ? width - 1 - x : x) + dx;
          out_row[x] = (sx < 0 || sx >= width) ? lookup[0] : lookup[source_row[sx]];
        }
      }
    }
  }
  return absl::OkStatus();
}

std::vector<int64_t> EpochOrder(absl::Span<const int64_t> indices, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(indices.begin(), indices.end());
  std::mt19937_64 rng(DeriveSeed(seed, static_cast<uint64_t>(epoch)));
  ShuffleInPlace(absl::MakeSpan(order), rng);
  return order;
}

ChannelStats ComputeChannelStats(const ImageDataset& dataset) {
  const size_t channels = static_cast<size_t>(std::max(dataset.channels, 0));
  const size_t plane = static_cast<size_t>(dataset.height) * dataset.width;
  // Byte histograms per channel: exact sums without a float per pixel.
  std::vector<std::array<uint64_t, 256>> histogram(channels);
  for (auto& h : histogram) h.fill(0);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const uint8_t* image = dataset.Image(i);
    for (size_t c = 0; c < channels; ++c) {
      const uint8_t* p = image + c * plane;
      for (size_t k = 0; k < plane; ++k) ++histogram[c][p[k]];
    }
  }
  ChannelStats stats;
  for (size_t c = 0; c < channels; ++c) {
    double count = 0;
    double sum = 0;
    for (int v = 0; v < 256; ++v) {
      count += histogram[c][v];
      sum += histogram[c][v] * (v / 255.0);
    }
    const double mean = count > 0 ? sum / count : 0.0;
    double squares = 0;
    for (int v = 0; v < 256; ++v) {
      const double d = v / 255.0 - mean;
      squares += histogram[c][v] * d * d;
    }
    const double std = count > 0 ? std::sqrt(squares / count) : 0.0;
    stats.mean.push_back(static_cast<float>(mean));
    stats.std.push_back(std > 0 ? static_cast<float>(std) : 1.0f);
  }
  return stats;
}

}  // namespace netadapt::common
