#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/dataset.h"

namespace netadapt::common {

// How FillBatch turns bytes into network inputs.
struct BatchOptions {
  // Per-channel normalisation of values scaled to [0, 1]: (v / 255 - mean[c]) / std[c].
  // Empty means mean 0 / std 1; otherwise one entry per channel, std > 0.
  std::vector<float> mean;
  std::vector<float> std;
  // Augmentation (training only). Random crop: pad each side with crop_padding zero pixels
  // (value 0 before normalisation, as torchvision's RandomCrop(padding=p) does), then take a
  // height x width window at a random offset in [0, 2 * crop_padding] on each axis.
  int crop_padding = 0;
  // Mirror left-right with probability 1/2, after the crop.
  bool horizontal_flip = false;

  bool augments() const { return crop_padding > 0 || horizontal_flip; }
};

// Fills `images` (indices.size() x C x H x W floats, NCHW) and `labels` (indices.size()) with
// the dataset images at `indices`, in order, normalised and augmented per `options`.
// Augmentation draws from `rng` in a fixed order per image (crop row offset, crop column
// offset, flip), so the same seed gives the same batch on every platform; `rng` may be null
// when options.augments() is false. Buffers belong to the caller (e.g. the storage behind
// torch::from_blob). Thread-compatible: concurrent calls need separate buffers and rngs.
// InvalidArgument, leaving the buffers unspecified, when a buffer has the wrong size, an index
// is outside [0, dataset.size()), mean/std have the wrong length or std <= 0, crop_padding < 0,
// or augmentation is asked for with a null rng.
absl::Status FillBatch(const ImageDataset& dataset, absl::Span<const int64_t> indices,
                       const BatchOptions& options, std::mt19937_64* rng, absl::Span<float> images,
                       absl::Span<int64_t> labels);

// `indices` in a random order that depends only on (seed, epoch), so a resumed run can
// rebuild epoch k's order without replaying earlier epochs. Same result on every platform.
std::vector<int64_t> EpochOrder(absl::Span<const int64_t> indices, uint64_t seed, int64_t epoch);

// Per-channel mean and (population) standard deviation of the dataset's values scaled to
// [0, 1], for BatchOptions (compute them on the training images). A channel with zero
// spread gets std 1. An empty dataset gives mean 0 and std 1 per channel.
struct ChannelStats {
  std::vector<float> mean;
  std::vector<float> std;
};
ChannelStats ComputeChannelStats(const ImageDataset& dataset);

}  // namespace netadapt::common
