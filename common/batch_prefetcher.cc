#include "common/batch_prefetcher.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/dataset_random.h"

namespace netadapt::common {

BatchPrefetcher::BatchPrefetcher(const ImageSource& source, int64_t num_batches, Plan plan,
                                 PrefetchOptions options)
    : source_(source),
      num_batches_(std::max<int64_t>(num_batches, 0)),
      plan_(std::move(plan)),
      image_elements_(int64_t{source.channels()} * source.height() * source.width()) {
  const int64_t ahead = std::max(options.batches_ahead, 1);
  capacity_ = ahead + 1;
  {
    absl::MutexLock lock(&mu_);
    slots_.resize(static_cast<size_t>(capacity_));
  }
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

BatchPrefetcher::~BatchPrefetcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void BatchPrefetcher::Work() {
  const int64_t ahead = capacity_ - 1;
  while (true) {
    Slot* slot = nullptr;
    int64_t image = 0;
    int64_t index = 0;
    bool augment = false;
    uint64_t seed = 0;
    float* out = nullptr;
    {
      absl::MutexLock lock(&mu_);
      // A thread may claim an image of batch claim_batch_ once that batch's slot is free:
      // the consumer holds batch consumed_ - 1, so batches up to consumed_ + ahead - 1 fit.
      // After a failure nothing past the failed batch is loaded.
      auto claimable = [this, ahead]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || claim_batch_ >= num_batches_ || claim_batch_ > failed_batch_ ||
               claim_batch_ < consumed_ + ahead;
      };
      mu_.Await(absl::Condition(&claimable));
      if (stopping_ || claim_batch_ >= num_batches_ || claim_batch_ > failed_batch_) return;
      slot = &SlotOf(claim_batch_);
      if (claim_image_ == 0) {
        slot->batch = claim_batch_;
        slot->request = plan_(claim_batch_);
        const size_t n = slot->request.indices.size();
        slot->images.assign(n * static_cast<size_t>(image_elements_), 0.0f);
        slot->labels.assign(n, 0);
        slot->loaded = 0;
        slot->skipped = 0;
        slot->failed_image = std::numeric_limits<int64_t>::max();
        slot->status = absl::OkStatus();
        if (n == 0) {
          ++claim_batch_;
          continue;
        }
      }
      image = claim_image_;
      index = slot->request.indices[static_cast<size_t>(image)];
      augment = slot->request.augment;
      seed = DeriveSeed(slot->request.seed, static_cast<uint64_t>(image));
      // The slot's buffers are not resized while any of its images is out: a slot is reset
      // only after the consumer has moved past its batch, which needs every image loaded.
      out = slot->images.data() + image * image_elements_;
      if (++claim_image_ == static_cast<int64_t>(slot->request.indices.size())) {
        ++claim_batch_;
        claim_image_ = 0;
      }
    }
    absl::StatusOr<int32_t> label = source_.Load(
        index, augment, seed, absl::MakeSpan(out, static_cast<size_t>(image_elements_)));
    absl::MutexLock lock(&mu_);
    if (label.ok()) {
      slot->labels[static_cast<size_t>(image)] = *label;
      if (*label == kSkippedLabel) ++slot->skipped;
    } else if (image < slot->failed_image) {
      // The lowest failed image of the batch wins, whatever the order threads finish in.
      slot->failed_image = image;
      slot->status = label.status();
      failed_batch_ = std::min(failed_batch_, slot->batch);
    }
    ++slot->loaded;
  }
}

absl::StatusOr<PrefetchedBatch> BatchPrefetcher::Next() {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  if (consumed_ >= num_batches_) {
    return absl::OutOfRangeError(
        absl::StrCat("all ", num_batches_, " batches of ", source_.name(), " were handed out"));
  }
  const int64_t batch = consumed_++;
  Slot& slot = SlotOf(batch);
  auto ready = [&slot, batch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return slot.batch == batch && slot.loaded == static_cast<int64_t>(slot.request.indices.size());
  };
  mu_.Await(absl::Condition(&ready));
  if (!slot.status.ok()) {
    failure_ = slot.status;
    return failure_;
  }
  PrefetchedBatch result;
  result.number = batch;
  result.images = slot.images;
  result.labels = slot.labels;
  result.skipped = slot.skipped;
  return result;
}

}  // namespace netadapt::common
