#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/dataset.h"
#include "common/synthetic_dataset.h"

namespace netadapt::common {

enum class DatasetKind { kCifar10, kMnist, kFashionMnist, kSynthetic };

// Which dataset to load, as the CLI and tasks name it. Grammar: KIND:ARGS, ARGS a
// comma-separated list.
//   cifar10:DIR[,OPTION...]        data_batch_{1..5}.bin, test_batch.bin (cifar_reader.h)
//   mnist:DIR[,OPTION...]          {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//   fashion-mnist:DIR[,OPTION...]  same layout, e.g. /usr/share/datasets/fashion-mnist
//   synthetic:[KEY=VALUE,...]      keys classes, shape (CxHxW), train, test, seed, noise;
//                                  defaults as SyntheticDatasetOptions (synthetic_dataset.h)
// Every kind also takes max_train=N and max_test=N: keep only the first N images of a set
// (0 = all), e.g. "cifar10:/data/cifar-10-batches-bin,max_train=2000". DIR cannot contain
// a comma.
struct DatasetSpec {
  DatasetKind kind = DatasetKind::kSynthetic;
  std::string directory;              // File kinds only.
  SyntheticDatasetOptions synthetic;  // kSynthetic only.
  DatasetLimits limits;
};

// Parses a spec string. InvalidArgument naming the problem: unknown kind (listing the known
// ones), missing directory, unknown or repeated key, malformed number or shape, or a value
// out of range (sizes must be >= 0, classes and shape >= 1).
absl::StatusOr<DatasetSpec> ParseDatasetSpec(absl::string_view spec);

// The spec in the grammar above, with every synthetic option spelled out; parsing it gives
// the same spec (noise up to 6 significant digits). For logs and task files.
std::string FormatDatasetSpec(const DatasetSpec& spec);

// The kind's name in specs: "cifar10", "mnist", "fashion-mnist", "synthetic".
absl::string_view DatasetKindName(DatasetKind kind);

// Loads (or generates) the train and test sets, with the limits applied. Errors as the
// readers return them (cifar_reader.h, idx_reader.h, synthetic_dataset.h).
absl::StatusOr<DatasetSplits> LoadDataset(const DatasetSpec& spec);

}  // namespace netadapt::common
