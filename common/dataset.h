#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace netadapt::common {

// A labelled set of same-sized 8-bit images, held in memory. Plain data: no torch, no I/O.
// Readers (idx_reader.h, cifar_reader.h, synthetic_dataset.h) fill it; batch_filler.h turns
// a span of its indices into float tensors.
struct ImageDataset {
  std::string name;  // For messages, e.g. "cifar10/train".
  int channels = 0;
  int height = 0;
  int width = 0;
  int num_classes = 0;
  // size() images of channels x height x width bytes, each in CHW order, one after another.
  std::vector<uint8_t> pixels;
  // One label per image, in [0, num_classes).
  std::vector<int32_t> labels;

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  // Bytes (values) per image: channels * height * width.
  int64_t ImageElements() const { return int64_t{channels} * height * width; }
  // The first byte of image `index`; the caller keeps index in [0, size()).
  const uint8_t* Image(int64_t index) const { return pixels.data() + index * ImageElements(); }
};

// The two sets a dataset ships with. The held-out validation set is carved from `train`
// with SplitHeldOut; `test` is kept for the final number.
struct DatasetSplits {
  ImageDataset train;
  ImageDataset test;
};

// Caps on how many images to load, so tests and demos can use subsets. Readers keep the
// *first* max_train / max_test images of the files, in file order. 0 means all.
struct DatasetLimits {
  int64_t max_train = 0;
  int64_t max_test = 0;
};

// InvalidArgument naming the dataset when its shape is not positive, num_classes < 1,
// pixels.size() != size() * ImageElements(), or a label is outside [0, num_classes).
absl::Status ValidateDataset(const ImageDataset& dataset);

// A copy of the images at `indices`, in that order (repeats allowed), keeping name and
// shape. InvalidArgument naming the dataset when an index is outside [0, size()).
absl::StatusOr<ImageDataset> SelectImages(const ImageDataset& dataset,
                                          absl::Span<const int64_t> indices);

// Keeps the first `max_images` images (all when max_images is 0 or >= size()).
void KeepFirst(int64_t max_images, ImageDataset* dataset);

// A partition of [0, train_size) into images to train on and a held-out validation set.
// Both lists are sorted ascending; together they hold every index exactly once.
struct HeldOutSplit {
  std::vector<int64_t> train_indices;
  std::vector<int64_t> held_out_indices;
};

// Picks `held_out_size` of the train_size indices uniformly at random, deterministically
// from `seed` (the same on every platform and standard library), as the original NetAdapt
// holds out e.g. 10,000 training images to measure accuracy during adaptation.
// InvalidArgument when train_size < 0, held_out_size < 0 or held_out_size > train_size.
absl::StatusOr<HeldOutSplit> SplitHeldOut(int64_t train_size, int64_t held_out_size, uint64_t seed);

}  // namespace netadapt::common
