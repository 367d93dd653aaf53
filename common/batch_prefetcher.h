#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/image_source.h"

namespace netadapt::common {

// What batch k of a run holds: which images, and whether to augment them. Image j of the
// batch is loaded with seed DeriveSeed(seed, j).
struct BatchRequest {
  std::vector<int64_t> indices;
  bool augment = false;
  uint64_t seed = 0;
};

struct PrefetchOptions {
  // Threads that load images; 0 = one per core (std::thread::hardware_concurrency).
  int threads = 0;
  // Batches loaded ahead of the one the consumer holds (>= 1). Memory: (batches_ahead + 1)
  // batches of floats.
  int batches_ahead = 2;
};

// One filled batch, valid until the next call to Next (or the prefetcher's destruction).
struct PrefetchedBatch {
  int64_t number = 0;              // k, counting from 0.
  absl::Span<const float> images;  // indices.size() x C x H x W, NCHW.
  absl::Span<const int64_t> labels;
  int64_t skipped = 0;  // Images with kSkippedLabel.
};

// Loads the batches of a run from an ImageSource on a pool of threads, ahead of the consumer
// (a training step on a GPU must not wait for JPEG decoding), and hands them out in order.
// Work is shared per image, not per batch, so every thread helps with the next batch and
// memory stays bounded by batches_ahead. The result is the same whatever the thread count or
// timing: each image's augmentation comes from its request's seed.
//
// Threads start in the constructor and are joined by the destructor (which stops loading
// early). Next is called by one consumer thread; `plan` is called by the pool threads, one
// call at a time, for k = 0, 1, ..., num_batches - 1 in order.
class BatchPrefetcher {
 public:
  using Plan = std::function<BatchRequest(int64_t batch)>;

  BatchPrefetcher(const ImageSource& source, int64_t num_batches, Plan plan,
                  PrefetchOptions options = {});
  ~BatchPrefetcher() ABSL_LOCKS_EXCLUDED(mu_);
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // The next batch, waiting for it to be loaded. OutOfRange after the last one; the error of
  // the first image of the batch that failed to load (the source's, naming the image), after
  // which every call returns that error.
  absl::StatusOr<PrefetchedBatch> Next() ABSL_LOCKS_EXCLUDED(mu_);

  // The number of pool threads.
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  struct Slot {
    int64_t batch = -1;
    BatchRequest request;
    std::vector<float> images;
    std::vector<int64_t> labels;
    int64_t loaded = 0;  // Images finished.
    int64_t skipped = 0;
    int64_t failed_image = 0;  // The lowest image that failed to load, if any.
    absl::Status status;       // Its error.
  };

  void Work() ABSL_LOCKS_EXCLUDED(mu_);
  Slot& SlotOf(int64_t batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return slots_[static_cast<size_t>(batch % slots_.size())];
  }

  const ImageSource& source_;
  const int64_t num_batches_;
  const Plan plan_;
  const int64_t image_elements_;

  absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  // The next image to hand to a pool thread: image claim_image_ of batch claim_batch_.
  int64_t claim_batch_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t claim_image_ ABSL_GUARDED_BY(mu_) = 0;
  // Batches the consumer has taken; batch consumed_ - 1 is the one it holds.
  int64_t consumed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t capacity_ = 0;  // Slots: batches_ahead + 1.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The first batch with an image that failed to load (max when none).
  int64_t failed_batch_ ABSL_GUARDED_BY(mu_) = std::numeric_limits<int64_t>::max();
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace netadapt::common
