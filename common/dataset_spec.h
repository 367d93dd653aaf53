#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/dataset.h"
#include "common/image_folder_options.h"
#include "common/synthetic_dataset.h"

namespace netadapt::common {

enum class DatasetKind { kCifar10, kMnist, kFashionMnist, kSynthetic, kImageFolder };

// Which dataset to load, as the CLI and tasks name it. Grammar: KIND:ARGS, ARGS a
// comma-separated list.
//   cifar10:DIR[,OPTION...]        data_batch_{1..5}.bin, test_batch.bin (cifar_reader.h)
//   mnist:DIR[,OPTION...]          {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//   fashion-mnist:DIR[,OPTION...]  same layout, e.g. /usr/share/datasets/fashion-mnist
//   synthetic:[KEY=VALUE,...]      keys classes, shape (CxHxW), train, test, seed, noise;
//                                  defaults as SyntheticDatasetOptions (synthetic_dataset.h)
//   imagefolder:DIR[,KEY=VALUE...] DIR/train and DIR/val (or DIR/test), one folder of JPEG
//                                  and PNG files per class (image_folder.h); keys resize,
//                                  crop, random_resized_crop (0|1), min_scale, flip (0|1),
//                                  mean and std (one value, or one per channel joined by
//                                  ':', e.g. mean=0.5:0.5:0.5), channels (1|3), classes,
//                                  skip_corrupt (0|1); defaults as ImageFolderOptions
//                                  (image_folder_options.h)
// Every kind also takes max_train=N and max_test=N: keep only the first N images of a set
// (0 = all), e.g. "cifar10:/data/cifar-10-batches-bin,max_train=2000"; an image folder,
// whose files are sorted by class, keeps N images drawn at random instead (a fixed seed, the
// same on every worker). DIR cannot contain a comma.
struct DatasetSpec {
  DatasetKind kind = DatasetKind::kSynthetic;
  std::string directory;              // File kinds only.
  SyntheticDatasetOptions synthetic;  // kSynthetic only.
  ImageFolderOptions image_folder;    // kImageFolder only.
  DatasetLimits limits;
};

// Parses a spec string. InvalidArgument naming the problem: unknown kind (listing the known
// ones), missing directory, unknown or repeated key, malformed number or shape, or a value
// out of range (sizes must be >= 0, classes and shape >= 1; an image folder's resize and
// crop in [1, 65536], min_scale in (0, 1], channels 1 or 3, mean and std with 1 or
// `channels` values, std > 0, booleans 0 or 1).
absl::StatusOr<DatasetSpec> ParseDatasetSpec(absl::string_view spec);

// The spec in the grammar above, with every synthetic and image-folder option spelled out;
// parsing it gives the same spec (noise, min_scale, mean and std up to 6 significant digits).
// For logs, task files and cache keys.
std::string FormatDatasetSpec(const DatasetSpec& spec);

// The kind's name in specs: "cifar10", "mnist", "fashion-mnist", "synthetic", "imagefolder".
absl::string_view DatasetKindName(DatasetKind kind);

// Loads (or generates) the train and test sets, with the limits applied. Errors as the
// readers return them (cifar_reader.h, idx_reader.h, synthetic_dataset.h). An image folder
// is not loaded into memory: InvalidArgument, open it with ImageFolder::Open (image_folder.h,
// target netadapt_images) instead.
absl::StatusOr<DatasetSplits> LoadDataset(const DatasetSpec& spec);

}  // namespace netadapt::common
