#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/dataset.h"

namespace netadapt::common {

// Readers for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
// a big-endian header (magic 0x00000803 and three uint32 sizes for images, 0x00000801 and
// one size for labels) followed by unsigned bytes. Files may be gzipped (see
// dataset_file.h: `path` falls back to `path`.gz). Every error names the file; content
// problems (bad magic number, truncated or oversized file) are InvalidArgument, a missing
// file is NotFound.

// Images of an IDX3 ubyte file.
struct IdxImages {
  int64_t count = 0;  // Images the header declares.
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // The first min(count, max_images) images, row-major.
};

// Labels of an IDX1 ubyte file.
struct IdxLabels {
  int64_t count = 0;            // Labels the header declares.
  std::vector<int32_t> labels;  // The first min(count, max_labels).
};

// Parse IDX content already in memory; `path` is for messages only. A max of 0 keeps all.
absl::StatusOr<IdxImages> ParseIdxImages(absl::string_view content, absl::string_view path,
                                         int64_t max_images = 0);
absl::StatusOr<IdxLabels> ParseIdxLabels(absl::string_view content, absl::string_view path,
                                         int64_t max_labels = 0);

// A one-channel dataset from an image file and its label file. Besides the file errors
// above, InvalidArgument when the two files declare different counts or a kept label is
// outside [0, num_classes).
absl::StatusOr<ImageDataset> ReadIdxDataset(const std::string& images_path,
                                            const std::string& labels_path, int num_classes,
                                            int64_t max_images, std::string name);

// The MNIST directory layout, used by MNIST and Fashion-MNIST alike:
// dir/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
// t10k-labels-idx1-ubyte, each possibly .gz. 10 classes. `name` ("mnist",
// "fashion-mnist") prefixes the dataset names ("mnist/train") and messages. NotFound
// naming the directory when it does not exist.
absl::StatusOr<DatasetSplits> LoadIdxDirectory(const std::string& dir, absl::string_view name,
                                               const DatasetLimits& limits = {});

}  // namespace netadapt::common
