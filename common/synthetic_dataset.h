#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/dataset.h"

namespace netadapt::common {

// Options of a synthetic, learnable image dataset for tests and demos.
struct SyntheticDatasetOptions {
  int num_classes = 10;
  int channels = 1;
  int height = 28;
  int width = 28;
  int64_t train_size = 2000;
  int64_t test_size = 500;
  uint64_t seed = 1;
  // Noise amplitude as a fraction of the 0..255 range: each pixel is its class
  // prototype's value plus uniform noise in [-noise * 255, noise * 255], clamped.
  double noise = 0.4;
};

// Makes a dataset deterministically from options.seed (the same bytes on every platform).
// Each class has a fixed random prototype: a coarse grid of random grey levels per channel
// (cells of about a quarter of the smaller side, so it survives small crops and shifts,
// and small CNNs learn it in a few epochs); every image is its class prototype plus noise.
// Labels cycle through the classes (balanced) in a shuffled order. Train and test share the
// prototypes and use independent noise streams, so the test set does not depend on
// train_size. Names are "synthetic/train" and "synthetic/test".
// InvalidArgument naming the option when num_classes, channels, height or width < 1, a
// size < 0, noise outside [0, 1], or the images would take over 4 GiB.
absl::StatusOr<DatasetSplits> MakeSyntheticDataset(const SyntheticDatasetOptions& options);

}  // namespace netadapt::common
