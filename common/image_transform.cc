#include "common/image_transform.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/dataset_random.h"

namespace netadapt::common {
namespace {

// The taps of a 1-D resampling: output i reads input start[i] .. start[i] + count[i] - 1
// with weights weight[i * max_taps + k], which sum to 1.
struct Taps {
  std::vector<int> start;
  std::vector<int> count;
  std::vector<float> weight;
  int max_taps = 0;
};

// PIL's precompute_coeffs for its BILINEAR filter (a triangle of support 1, widened by the
// downscaling factor), on the window [begin, begin + length) of an axis of `in_size` pixels
// sampled at `out_size` points. Taps outside [0, in_size) are dropped (the weights are
// renormalised), which clamps at the decoded pixels' edge.
void ComputeTaps(double begin, double length, int in_size, int out_size, Taps* taps) {
  const double step = length / out_size;
  const double filter_scale = std::max(step, 1.0);
  const double support = filter_scale;  // The triangle's radius is 1 input pixel, scaled.
  taps->max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps->start.assign(out_size, 0);
  taps->count.assign(out_size, 0);
  taps->weight.assign(static_cast<size_t>(out_size) * taps->max_taps, 0.0f);
  for (int i = 0; i < out_size; ++i) {
    const double center = begin + (i + 0.5) * step;
    int lo = static_cast<int>(std::floor(center - support + 0.5));
    int hi = static_cast<int>(std::floor(center + support + 0.5));
    lo = std::clamp(lo, 0, in_size - 1);
    hi = std::clamp(hi, lo + 1, in_size);
    hi = std::min(hi, lo + taps->max_taps);
    float* w = taps->weight.data() + static_cast<size_t>(i) * taps->max_taps;
    double total = 0;
    for (int x = lo; x < hi; ++x) {
      const double d = std::abs((x + 0.5 - center) / filter_scale);
      const double value = d < 1 ? 1 - d : 0;
      w[x - lo] = static_cast<float>(value);
      total += value;
    }
    if (total <= 0) {
      // The centre lies outside the pixels (a box past the edge): nearest pixel.
      const int nearest = std::clamp(static_cast<int>(std::floor(center)), 0, in_size - 1);
      lo = nearest;
      hi = nearest + 1;
      std::fill(w, w + taps->max_taps, 0.0f);
      w[0] = 1;
      total = 1;
    }
    for (int k = 0; k < hi - lo; ++k) w[k] = static_cast<float>(w[k] / total);
    taps->start[i] = lo;
    taps->count[i] = hi - lo;
  }
}

// Scratch memory of one thread, reused from image to image: allocating the intermediate
// rows afresh costs page faults on every image.
struct Scratch {
  Taps horizontal;
  Taps vertical;
  std::vector<float> rows;  // planar: channel, row, column
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

template <int kChannels>
void HorizontalPass(const Image& image, const Taps& taps, int first_row, int rows, int out_width,
                    bool flip, float* planes) {
  const size_t plane = static_cast<size_t>(rows) * out_width;
  for (int r = 0; r < rows; ++r) {
    const uint8_t* source = image.Pixel(0, first_row + r);
    for (int x = 0; x < out_width; ++x) {
      const uint8_t* p = source + static_cast<size_t>(taps.start[x]) * kChannels;
      const float* w = taps.weight.data() + static_cast<size_t>(x) * taps.max_taps;
      std::array<float, kChannels> sum{};
      for (int k = 0; k < taps.count[x]; ++k) {
        for (int c = 0; c < kChannels; ++c) sum[c] += w[k] * p[k * kChannels + c];
      }
      const int column = flip ? out_width - 1 - x : x;
      for (int c = 0; c < kChannels; ++c) {
        planes[c * plane + static_cast<size_t>(r) * out_width + column] = sum[c];
      }
    }
  }
}

}  // namespace

CropBox RandomResizedCropBox(int width, int height, double min_scale, std::mt19937_64& rng) {
  const double area = static_cast<double>(width) * height;
  const double log_min_ratio = std::log(3.0 / 4.0);
  const double log_max_ratio = std::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * (min_scale + (1 - min_scale) * UniformUnit(rng));
    const double aspect =
        std::exp(log_min_ratio + (log_max_ratio - log_min_ratio) * UniformUnit(rng));
    // Python's round (half to even), as torchvision.
    const int w = static_cast<int>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int h = static_cast<int>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int y = static_cast<int>(UniformIndex(rng, static_cast<uint64_t>(height - h + 1)));
      const int x = static_cast<int>(UniformIndex(rng, static_cast<uint64_t>(width - w + 1)));
      return CropBox{static_cast<double>(x), static_cast<double>(y), static_cast<double>(w),
                     static_cast<double>(h)};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width;
  int h = height;
  if (in_ratio < 3.0 / 4.0) {
    h = static_cast<int>(std::nearbyint(w / (3.0 / 4.0)));
  } else if (in_ratio > 4.0 / 3.0) {
    w = static_cast<int>(std::nearbyint(h * (4.0 / 3.0)));
  }
  return CropBox{static_cast<double>((width - w) / 2), static_cast<double>((height - h) / 2),
                 static_cast<double>(w), static_cast<double>(h)};
}

CropBox CenterCropBox(int width, int height, int resize, int crop) {
  const double factor = static_cast<double>(resize) / std::min(width, height);
  const double side = crop / factor;
  return CropBox{(width - side) / 2, (height - side) / 2, side, side};
}

absl::StatusOr<Normalization> MakeNormalization(absl::Span<const float> mean,
                                                absl::Span<const float> std) {
  if (mean.empty() || mean.size() != std.size()) {
    return absl::InvalidArgumentError(absl::StrCat("normalisation: ", mean.size(), " means and ",
                                                   std.size(),
                                                   " standard deviations, expected the same "
                                                   "positive number"));
  }
  Normalization norm;
  for (size_t c = 0; c < mean.size(); ++c) {
    if (!(std[c] > 0) || !std::isfinite(std[c]) || !std::isfinite(mean[c])) {
      return absl::InvalidArgumentError(
          absl::StrCat("normalisation: std ", std[c], " of channel ", c, " is not positive"));
    }
    norm.scale.push_back(1.0f / (255.0f * std[c]));
    norm.bias.push_back(-mean[c] / std[c]);
    std::array<float, 256>& table = norm.table.emplace_back();
    for (int v = 0; v < 256; ++v) table[v] = (static_cast<float>(v) / 255.0f - mean[c]) / std[c];
  }
  return norm;
}

absl::Status ResampleToTensor(const DecodedImage& decoded, const CropBox& box, int out_width,
                              int out_height, bool flip, const Normalization& norm,
                              absl::Span<float> out) {
  const Image& image = decoded.image;
  const int channels = image.channels;
  if (out_width <= 0 || out_height <= 0 ||
      out.size() != static_cast<size_t>(channels) * out_width * out_height) {
    return absl::InvalidArgumentError(absl::StrCat("resample: output of ", out.size(),
                                                   " floats for ", channels, "x", out_height, "x",
                                                   out_width));
  }
  if (norm.scale.size() != static_cast<size_t>(channels) || norm.bias.size() != norm.scale.size()) {
    return absl::InvalidArgumentError(absl::StrCat("resample: normalisation of ", norm.scale.size(),
                                                   " channels for a ", channels, "-channel image"));
  }
  if (!(box.width > 0) || !(box.height > 0) || image.width <= 0 || image.height <= 0) {
    return absl::InvalidArgumentError("resample: empty box or image");
  }
  // The box in the decoded pixels' coordinates.
  const double bx = box.x * decoded.scale - decoded.offset_x;
  const double by = box.y * decoded.scale - decoded.offset_y;
  const double bw = box.width * decoded.scale;
  const double bh = box.height * decoded.scale;
  const size_t plane = static_cast<size_t>(out_width) * out_height;

  // One decoded pixel per output pixel: an exact copy (e.g. images already at the network's
  // size), no filtering.
  const bool whole_pixels = bx == std::floor(bx) && by == std::floor(by);
  if (bw == out_width && bh == out_height && whole_pixels && bx >= 0 && by >= 0 &&
      bx + bw <= image.width && by + bh <= image.height) {
    const int x0 = static_cast<int>(bx);
    const int y0 = static_cast<int>(by);
    if (norm.table.size() != static_cast<size_t>(channels)) {
      return absl::InvalidArgumentError("resample: normalisation without its byte table");
    }
    for (int c = 0; c < channels; ++c) {
      const std::array<float, 256>& table = norm.table[c];
      float* out_plane = out.data() + c * plane;
      for (int y = 0; y < out_height; ++y) {
        const uint8_t* source = image.Pixel(x0, y0 + y) + c;
        float* row = out_plane + static_cast<size_t>(y) * out_width;
        for (int x = 0; x < out_width; ++x) {
          const int sx = flip ? out_width - 1 - x : x;
          row[x] = table[source[static_cast<size_t>(sx) * channels]];
        }
      }
    }
    return absl::OkStatus();
  }

  Scratch& scratch = ThreadScratch();
  ComputeTaps(bx, bw, image.width, out_width, &scratch.horizontal);
  ComputeTaps(by, bh, image.height, out_height, &scratch.vertical);
  const Taps& vertical = scratch.vertical;
  const int first_row = vertical.start.front();
  int last_row = first_row;
  for (int y = 0; y < out_height; ++y) {
    last_row = std::max(last_row, vertical.start[y] + vertical.count[y]);
  }
  const int rows = last_row - first_row;
  const size_t rows_plane = static_cast<size_t>(rows) * out_width;
  scratch.rows.resize(rows_plane * channels);
  if (channels == 3) {
    HorizontalPass<3>(image, scratch.horizontal, first_row, rows, out_width, flip,
                      scratch.rows.data());
  } else if (channels == 1) {
    HorizontalPass<1>(image, scratch.horizontal, first_row, rows, out_width, flip,
                      scratch.rows.data());
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("resample: ", channels, "-channel images are not supported (1 or 3)"));
  }
  // Vertical pass, contiguous along x (vectorised), with the normalisation folded in.
  for (int c = 0; c < channels; ++c) {
    const float* planes = scratch.rows.data() + c * rows_plane;
    const float scale = norm.scale[c];
    const float bias = norm.bias[c];
    for (int y = 0; y < out_height; ++y) {
      float* row = out.data() + c * plane + static_cast<size_t>(y) * out_width;
      const float* w = vertical.weight.data() + static_cast<size_t>(y) * vertical.max_taps;
      const float* source = planes + static_cast<size_t>(vertical.start[y] - first_row) * out_width;
      for (int x = 0; x < out_width; ++x) row[x] = w[0] * source[x];
      for (int k = 1; k < vertical.count[y]; ++k) {
        const float weight = w[k];
        const float* s = source + static_cast<size_t>(k) * out_width;
        for (int x = 0; x < out_width; ++x) row[x] += weight * s[x];
      }
      for (int x = 0; x < out_width; ++x) row[x] = row[x] * scale + bias;
    }
  }
  return absl::OkStatus();
}

}  // namespace netadapt::common
