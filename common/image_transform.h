#pragma once

#include <array>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/image_codec.h"

namespace netadapt::common {

// The transforms of torchvision's ImageNet recipe on decoded images (image_codec.h), as one
// resampling step each: RandomResizedCrop + RandomHorizontalFlip for training, Resize +
// CenterCrop for evaluation, then ToTensor + Normalize. Torch-free; part of netadapt_images.

// A rectangle of an image in full-resolution pixel coordinates.
struct CropBox {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;
};

// torchvision's RandomResizedCrop.get_params with scale (min_scale, 1) and ratio (3/4, 4/3):
// up to 10 tries at an area fraction uniform in [min_scale, 1] and a log-uniform aspect
// ratio, then the central crop at the nearest allowed ratio. An integer box inside the image.
// Draws from `rng` only (the same box on every platform); width and height must be >= 1 and
// min_scale in (0, 1].
CropBox RandomResizedCropBox(int width, int height, double min_scale, std::mt19937_64& rng);

// Resize(resize) then CenterCrop(crop), as the part of the original image that ends up in the
// crop x crop output: the shorter side scaled to `resize`, the central crop x crop pixels of
// that. When crop > resize, the box is larger than the scaled image would be, as if padded;
// the resampler then clamps at the edge (torchvision pads with zeros: keep crop <= resize).
CropBox CenterCropBox(int width, int height, int resize, int crop);

// Per-channel normalisation of a byte value v: (v / 255 - mean[c]) / std[c]. Resampled
// (float) values use v * scale[c] + bias[c]; bytes copied as they are use `table`, computed
// as FillBatch (batch_filler.h) does, so an image at its own size gives the same floats as an
// in-memory dataset. One entry per channel.
struct Normalization {
  std::vector<float> scale;
  std::vector<float> bias;
  std::vector<std::array<float, 256>> table;
};
// InvalidArgument unless mean and std have the same, positive length and every std > 0.
absl::StatusOr<Normalization> MakeNormalization(absl::Span<const float> mean,
                                                absl::Span<const float> std);

// Writes `box` of `image` (full-resolution coordinates, mapped through the image's scale and
// offset) resampled to out_width x out_height into `out` as CHW floats, mirrored left-right
// when `flip`, normalised by `norm`. The filter is PIL's BILINEAR: a triangle whose support
// widens with the downscaling ratio (antialiased, as torchvision's PIL path), taps clipped to
// the decoded pixels. A box whose size equals the output and that sits on whole pixels is
// copied exactly. Thread-safe (scratch memory is per thread). InvalidArgument when `out` has
// the wrong size, the normalisation has the wrong number of channels, or the box is empty.
absl::Status ResampleToTensor(const DecodedImage& image, const CropBox& box, int out_width,
                              int out_height, bool flip, const Normalization& norm,
                              absl::Span<float> out);

}  // namespace netadapt::common
