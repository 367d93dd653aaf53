#include "common/dataset.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/dataset_random.h"

namespace netadapt::common {

absl::Status ValidateDataset(const ImageDataset& dataset) {
  if (dataset.channels <= 0 || dataset.height <= 0 || dataset.width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("dataset ", dataset.name, ": image shape ",
                                                   dataset.channels, "x", dataset.height, "x",
                                                   dataset.width, " is not positive"));
  }
  if (dataset.num_classes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("dataset ", dataset.name, ": num_classes is ",
                                                   dataset.num_classes, ", expected >= 1"));
  }
  const uint64_t expected =
      static_cast<uint64_t>(dataset.size()) * static_cast<uint64_t>(dataset.ImageElements());
  if (dataset.pixels.size() != expected) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", dataset.name, ": has ", dataset.pixels.size(),
                     " pixel bytes, expected ", expected, " for ", dataset.size(), " images of ",
                     dataset.channels, "x", dataset.height, "x", dataset.width));
  }
  for (size_t i = 0; i < dataset.labels.size(); ++i) {
    const int32_t label = dataset.labels[i];
    if (label < 0 || label >= dataset.num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("dataset ", dataset.name, ": label ", label,
                                                     " of image ", i, " is outside [0, ",
                                                     dataset.num_classes, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageDataset> SelectImages(const ImageDataset& dataset,
                                          absl::Span<const int64_t> indices) {
  ImageDataset selected;
  selected.name = dataset.name;
  selected.channels = dataset.channels;
  selected.height = dataset.height;
  selected.width = dataset.width;
  selected.num_classes = dataset.num_classes;
  const int64_t elements = dataset.ImageElements();
  selected.pixels.resize(indices.size() * static_cast<size_t>(elements));
  selected.labels.reserve(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t index = indices[i];
    if (index < 0 || index >= dataset.size()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset ", dataset.name, ": index ", index,
                                                     " is outside [0, ", dataset.size(), ")"));
    }
    std::copy_n(dataset.Image(index), elements, selected.pixels.data() + i * elements);
    selected.labels.push_back(dataset.labels[index]);
  }
  return selected;
}

void KeepFirst(int64_t max_images, ImageDataset* dataset) {
  if (max_images <= 0 || max_images >= dataset->size()) return;
  dataset->labels.resize(static_cast<size_t>(max_images));
  dataset->pixels.resize(static_cast<size_t>(max_images * dataset->ImageElements()));
  dataset->labels.shrink_to_fit();
  dataset->pixels.shrink_to_fit();
}

absl::StatusOr<HeldOutSplit> SplitHeldOut(int64_t train_size, int64_t held_out_size,
                                          uint64_t seed) {
  if (train_size < 0 || held_out_size < 0 || held_out_size > train_size) {
    return absl::InvalidArgumentError(absl::StrCat("held-out size ", held_out_size,
                                                   " must be in [0, ", train_size,
                                                   "] (the number of training images)"));
  }
  std::vector<int64_t> order(static_cast<size_t>(train_size));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::mt19937_64 rng(DeriveSeed(seed, /*stream=*/0));
  // A partial Fisher-Yates: the first held_out_size slots end up a uniform random subset.
  for (int64_t i = 0; i < held_out_size; ++i) {
    const int64_t j = i + static_cast<int64_t>(UniformIndex(rng, train_size - i));
    std::swap(order[i], order[j]);
  }
  HeldOutSplit split;
  split.held_out_indices.assign(order.begin(), order.begin() + held_out_size);
  split.train_indices.assign(order.begin() + held_out_size, order.end());
  std::sort(split.held_out_indices.begin(), split.held_out_indices.end());
  std::sort(split.train_indices.begin(), split.train_indices.end());
  return split;
}

}  // namespace netadapt::common
