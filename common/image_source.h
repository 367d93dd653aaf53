#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace netadapt::common {

// The label an ImageSource gives an image it skipped (an unreadable file with skipping on):
// PyTorch's default ignore_index, so cross_entropy leaves it out of the loss and accuracy
// never counts it correct.
inline constexpr int32_t kSkippedLabel = -100;

// A labelled set of images that are made into network inputs one at a time, e.g. files
// decoded on demand (image_folder.h). BatchPrefetcher (batch_prefetcher.h) fills batches from
// one on a pool of threads. In-memory sets (ImageDataset) are filled by FillBatch instead.
// Implementations are thread-safe: Load is called concurrently.
class ImageSource {
 public:
  virtual ~ImageSource() = default;

  // For messages, e.g. "imagefolder/train".
  virtual const std::string& name() const = 0;
  // The shape of every image Load writes.
  virtual int channels() const = 0;
  virtual int height() const = 0;
  virtual int width() const = 0;
  virtual int num_classes() const = 0;
  virtual int64_t size() const = 0;

  // Writes image `index` (in [0, size())) to `out` (channels() x height() x width() floats,
  // CHW, normalised) and returns its label in [0, num_classes()), or kSkippedLabel (with
  // `out` zeroed) for an image the source is told to skip. `augment` selects the training
  // transform; its random choices come from `seed` alone, so the result never depends on
  // which thread runs it or when. Errors name the image (e.g. InvalidArgument for a corrupt
  // file, NotFound for a missing one).
  virtual absl::StatusOr<int32_t> Load(int64_t index, bool augment, uint64_t seed,
                                       absl::Span<float> out) const = 0;
};

}  // namespace netadapt::common
