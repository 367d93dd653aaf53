#include "common/idx_reader.h"

#include <algorithm>
#include <climits>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/dataset_file.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // Unsigned bytes, 3 dimensions.
constexpr uint32_t kLabelsMagic = 0x00000801;  // Unsigned bytes, 1 dimension.

uint32_t BigEndian32(absl::string_view content, size_t offset) {
  const auto* p = reinterpret_cast<const uint8_t*>(content.data() + offset);
  return (static_cast<uint32_t>(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}

// Checks the magic number and that the header fits; returns the `ndims` sizes.
absl::StatusOr<std::vector<uint32_t>> ParseHeader(absl::string_view content, absl::string_view path,
                                                  uint32_t magic, absl::string_view kind) {
  const size_t ndims = magic & 0xff;
  const size_t header_bytes = 4 + 4 * ndims;
  if (content.size() < 4) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated: ", content.size(),
                                                   " bytes, shorter than an IDX magic number"));
  }
  const uint32_t found = BigEndian32(content, 0);
  if (found != magic) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: bad magic number 0x%08x, expected 0x%08x for an IDX %s file", path,
                        found, magic, kind));
  }
  if (content.size() < header_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated: ", content.size(),
                                                   " bytes, shorter than the ", header_bytes,
                                                   "-byte IDX header"));
  }
  std::vector<uint32_t> sizes(ndims);
  for (size_t i = 0; i < ndims; ++i) sizes[i] = BigEndian32(content, 4 + 4 * i);
  return sizes;
}

// InvalidArgument unless the file holds exactly header + count * record_bytes bytes.
absl::Status CheckSize(absl::string_view content, absl::string_view path, size_t header_bytes,
                       uint64_t count, uint64_t record_bytes, absl::string_view what) {
  // count and record_bytes are below 2^32 each, so the product fits in 64 bits.
  const uint64_t expected = header_bytes + count * record_bytes;
  if (content.size() < expected) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated: the header declares ", what,
                                                   " (", expected, " bytes) but the file has ",
                                                   content.size(), " bytes"));
  }
  if (content.size() > expected) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": wrong size: ", content.size(),
                                                   " bytes, expected ", expected, " for ", what));
  }
  return absl::OkStatus();
}

int64_t Kept(int64_t count, int64_t max) { return max > 0 ? std::min(count, max) : count; }

}  // namespace

absl::StatusOr<IdxImages> ParseIdxImages(absl::string_view content, absl::string_view path,
                                         int64_t max_images) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<uint32_t> sizes,
                            ParseHeader(content, path, kImagesMagic, "image"));
  const uint64_t rows = sizes[1];
  const uint64_t cols = sizes[2];
  if (rows == 0 || cols == 0 || rows * cols > INT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": bad image size ", rows, "x", cols, " in the IDX header"));
  }
  IdxImages images;
  images.count = sizes[0];
  images.height = static_cast<int>(rows);
  images.width = static_cast<int>(cols);
  NETADAPT_RETURN_IF_ERROR(CheckSize(content, path, 16, sizes[0], rows * cols,
                                     absl::StrCat(sizes[0], " images of ", rows, "x", cols)));
  const size_t kept_bytes = static_cast<size_t>(Kept(images.count, max_images) * rows * cols);
  const auto* begin = reinterpret_cast<const uint8_t*>(content.data() + 16);
  images.pixels.assign(begin, begin + kept_bytes);
  return images;
}

absl::StatusOr<IdxLabels> ParseIdxLabels(absl::string_view content, absl::string_view path,
                                         int64_t max_labels) {
  NETADAPT_ASSIGN_OR_RETURN(std::vector<uint32_t> sizes,
                            ParseHeader(content, path, kLabelsMagic, "label"));
  IdxLabels labels;
  labels.count = sizes[0];
  NETADAPT_RETURN_IF_ERROR(
      CheckSize(content, path, 8, sizes[0], 1, absl::StrCat(sizes[0], " labels")));
  const auto* begin = reinterpret_cast<const uint8_t*>(content.data() + 8);
  labels.labels.assign(begin, begin + Kept(labels.count, max_labels));
  return labels;
}

absl::StatusOr<ImageDataset> ReadIdxDataset(const std::string& images_path,
                                            const std::string& labels_path, int num_classes,
                                            int64_t max_images, std::string name) {
  IdxImages images;
  std::string images_file;
  {
    // Scoped so the uncompressed file is freed once its pixels are copied.
    NETADAPT_ASSIGN_OR_RETURN(DatasetFile file, ReadDatasetFile(images_path));
    NETADAPT_ASSIGN_OR_RETURN(images, ParseIdxImages(file.content, file.path, max_images));
    images_file = file.path;
  }
  NETADAPT_ASSIGN_OR_RETURN(DatasetFile labels_file, ReadDatasetFile(labels_path));
  NETADAPT_ASSIGN_OR_RETURN(IdxLabels labels,
                            ParseIdxLabels(labels_file.content, labels_file.path, max_images));
  if (images.count != labels.count) {
    return absl::InvalidArgumentError(
        absl::StrCat("image/label count mismatch: ", images_file, " has ", images.count,
                     " images but ", labels_file.path, " has ", labels.count, " labels"));
  }
  for (size_t i = 0; i < labels.labels.size(); ++i) {
    if (labels.labels[i] >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(labels_file.path, ": label ", labels.labels[i],
                                                     " of image ", i, " is outside [0, ",
                                                     num_classes, ")"));
    }
  }
  ImageDataset dataset;
  dataset.name = std::move(name);
  dataset.channels = 1;
  dataset.height = images.height;
  dataset.width = images.width;
  dataset.num_classes = num_classes;
  dataset.pixels = std::move(images.pixels);
  dataset.labels = std::move(labels.labels);
  return dataset;
}

absl::StatusOr<DatasetSplits> LoadIdxDirectory(const std::string& dir, absl::string_view name,
                                               const DatasetLimits& limits) {
  NETADAPT_RETURN_IF_ERROR(CheckDatasetDirectory(dir, name));
  const std::filesystem::path root(dir);
  constexpr int kClasses = 10;
  DatasetSplits splits;
  NETADAPT_ASSIGN_OR_RETURN(splits.train,
                            ReadIdxDataset((root / "train-images-idx3-ubyte").string(),
                                           (root / "train-labels-idx1-ubyte").string(), kClasses,
                                           limits.max_train, absl::StrCat(name, "/train")));
  NETADAPT_ASSIGN_OR_RETURN(splits.test,
                            ReadIdxDataset((root / "t10k-images-idx3-ubyte").string(),
                                           (root / "t10k-labels-idx1-ubyte").string(), kClasses,
                                           limits.max_test, absl::StrCat(name, "/test")));
  if (splits.train.height != splits.test.height || splits.train.width != splits.test.width) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " directory ", dir, ": training images are ", splits.train.height, "x",
        splits.train.width, " but test images are ", splits.test.height, "x", splits.test.width));
  }
  return splits;
}

}  // namespace netadapt::common
