#include "common/cifar_reader.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/dataset_file.h"
#include "common/status_macros.h"

namespace netadapt::common {
namespace {

constexpr int kClasses = 10;
constexpr int kChannels = 3;
constexpr int kSide = 32;
constexpr size_t kImageBytes = kChannels * kSide * kSide;
constexpr size_t kRecordBytes = 1 + kImageBytes;

ImageDataset EmptyCifar(std::string name) {
  ImageDataset dataset;
  dataset.name = std::move(name);
  dataset.channels = kChannels;
  dataset.height = kSide;
  dataset.width = kSide;
  dataset.num_classes = kClasses;
  return dataset;
}

// Appends the records of one file to `dataset`, stopping once it holds `max_images`
// (0: no cap). The whole file is still checked for size and labels.
absl::Status AppendFile(const std::string& path, int64_t max_images, ImageDataset* dataset) {
  NETADAPT_ASSIGN_OR_RETURN(DatasetFile file, ReadDatasetFile(path));
  const absl::string_view content = file.content;
  if (content.empty() || content.size() % kRecordBytes != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        file.path, ": wrong size: ", content.size(), " bytes is not a positive multiple of the ",
        kRecordBytes, "-byte CIFAR-10 record (1 label byte + 3x32x32 pixels)"));
  }
  const size_t records = content.size() / kRecordBytes;
  size_t keep = records;
  if (max_images > 0) {
    keep = std::min<size_t>(keep, static_cast<size_t>(max_images - dataset->size()));
  }
  for (size_t i = 0; i < records; ++i) {
    const uint8_t label = static_cast<uint8_t>(content[i * kRecordBytes]);
    if (label >= kClasses) {
      return absl::InvalidArgumentError(absl::StrCat(
          file.path, ": label ", int{label}, " of record ", i, " is outside [0, ", kClasses, ")"));
    }
  }
  dataset->labels.reserve(dataset->labels.size() + keep);
  dataset->pixels.reserve(dataset->pixels.size() + keep * kImageBytes);
  for (size_t i = 0; i < keep; ++i) {
    const auto* record = reinterpret_cast<const uint8_t*>(content.data() + i * kRecordBytes);
    dataset->labels.push_back(record[0]);
    dataset->pixels.insert(dataset->pixels.end(), record + 1, record + kRecordBytes);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DatasetSplits> LoadCifar10(const std::string& dir, const DatasetLimits& limits) {
  NETADAPT_RETURN_IF_ERROR(CheckDatasetDirectory(dir, "cifar10"));
  const std::filesystem::path root(dir);
  DatasetSplits splits{EmptyCifar("cifar10/train"), EmptyCifar("cifar10/test")};
  for (int batch = 1; batch <= 5; ++batch) {
    if (limits.max_train > 0 && splits.train.size() >= limits.max_train) break;
    NETADAPT_RETURN_IF_ERROR(
        AppendFile((root / absl::StrCat("data_batch_", batch, ".bin")).string(), limits.max_train,
                   &splits.train));
  }
  NETADAPT_RETURN_IF_ERROR(
      AppendFile((root / "test_batch.bin").string(), limits.max_test, &splits.test));
  return splits;
}

}  // namespace netadapt::common
