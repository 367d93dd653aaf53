#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/dataset.h"

namespace netadapt::common {

// Loads CIFAR-10 in its binary format (https://www.cs.toronto.edu/~kriz/cifar.html):
// dir/data_batch_1.bin .. data_batch_5.bin are the training set, in that order, and
// dir/test_batch.bin the test set (each file may be gzipped, see dataset_file.h). Every
// record is 1 label byte (0..9) then 3072 pixel bytes, 3x32x32 in CHW order, which is the
// order ImageDataset keeps. Training files past the ones needed for limits.max_train are
// not read.
// Errors name the file: NotFound for a missing directory or file; InvalidArgument for a
// file whose size is not a positive multiple of the 3073-byte record or a label above 9.
absl::StatusOr<DatasetSplits> LoadCifar10(const std::string& dir, const DatasetLimits& limits = {});

}  // namespace netadapt::common
