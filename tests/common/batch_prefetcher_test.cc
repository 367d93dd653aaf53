#include "common/batch_prefetcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/dataset_random.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// 2x1x2 images whose values encode (index, augment, seed); label index % 3. Image `fail`
// fails, image `skip` is skipped. Counts its loads.
class FakeSource final : public ImageSource {
 public:
  explicit FakeSource(int64_t size, int64_t fail = -1, int64_t skip = -1)
      : size_(size), fail_(fail), skip_(skip) {}

  const std::string& name() const override { return name_; }
  int channels() const override { return 2; }
  int height() const override { return 1; }
  int width() const override { return 2; }
  int num_classes() const override { return 3; }
  int64_t size() const override { return size_; }

  absl::StatusOr<int32_t> Load(int64_t index, bool augment, uint64_t seed,
                               absl::Span<float> out) const override {
    {
      absl::MutexLock lock(&mu_);
      ++loads_;
    }
    if (index == fail_) return absl::InvalidArgumentError(absl::StrCat("image ", index, " is bad"));
    if (index == skip_) {
      std::fill(out.begin(), out.end(), 0.0f);
      return kSkippedLabel;
    }
    out[0] = static_cast<float>(index);
    out[1] = augment ? 1.0f : 0.0f;
    out[2] = static_cast<float>(seed % 1000);
    out[3] = static_cast<float>(index) * 2;
    return static_cast<int32_t>(index % 3);
  }

  int loads() const {
    absl::MutexLock lock(&mu_);
    return loads_;
  }

  // Waits up to 10 s for `n` loads to have started.
  void AwaitLoads(int n) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return loads_ >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }

 private:
  std::string name_ = "fake";
  int64_t size_;
  int64_t fail_;
  int64_t skip_;
  mutable absl::Mutex mu_;
  mutable int loads_ ABSL_GUARDED_BY(mu_) = 0;
};

// Batch k: images 3k, 3k + 1, 3k + 2 (mod size), augmented, seed 100 + k.
BatchRequest Plan(int64_t k, int64_t size) {
  BatchRequest request;
  for (int64_t i = 0; i < 3; ++i) request.indices.push_back((3 * k + i) % size);
  request.augment = true;
  request.seed = 100 + static_cast<uint64_t>(k);
  return request;
}

std::vector<std::vector<float>> Drain(BatchPrefetcher& prefetcher, int64_t batches) {
  std::vector<std::vector<float>> all;
  for (int64_t k = 0; k < batches; ++k) {
    absl::StatusOr<PrefetchedBatch> batch = prefetcher.Next();
    EXPECT_THAT(batch, IsOk());
    if (!batch.ok()) break;
    EXPECT_EQ(batch->number, k);
    all.emplace_back(batch->images.begin(), batch->images.end());
    for (const int64_t label : batch->labels) all.back().push_back(static_cast<float>(label));
  }
  return all;
}

TEST(BatchPrefetcherTest, HandsOutBatchesInOrderWithPerImageSeeds) {
  FakeSource source(20);
  BatchPrefetcher prefetcher(source, 5, [](int64_t k) { return Plan(k, 20); }, {.threads = 3});
  EXPECT_EQ(prefetcher.threads(), 3);
  for (int64_t k = 0; k < 5; ++k) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(const PrefetchedBatch batch, prefetcher.Next());
    ASSERT_EQ(batch.number, k);
    ASSERT_EQ(batch.images.size(), 3u * 4);
    ASSERT_EQ(batch.labels.size(), 3u);
    EXPECT_EQ(batch.skipped, 0);
    for (int64_t j = 0; j < 3; ++j) {
      const int64_t index = (3 * k + j) % 20;
      EXPECT_EQ(batch.images[4 * j], index);
      EXPECT_EQ(batch.images[4 * j + 1], 1.0f);
      EXPECT_EQ(batch.images[4 * j + 2],
                static_cast<float>(DeriveSeed(100 + k, static_cast<uint64_t>(j)) % 1000));
      EXPECT_EQ(batch.labels[j], index % 3);
    }
  }
  EXPECT_THAT(prefetcher.Next(), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(BatchPrefetcherTest, ResultDoesNotDependOnTheThreadCount) {
  FakeSource source(50);
  BatchPrefetcher one(source, 12, [](int64_t k) { return Plan(k, 50); }, {.threads = 1});
  BatchPrefetcher many(source, 12, [](int64_t k) { return Plan(k, 50); },
                       {.threads = 7, .batches_ahead = 4});
  EXPECT_EQ(Drain(one, 12), Drain(many, 12));
}

TEST(BatchPrefetcherTest, LoadsAtMostBatchesAheadBeyondTheHeldBatch) {
  FakeSource source(100);
  BatchPrefetcher prefetcher(source, 30, [](int64_t k) { return Plan(k, 100); },
                             {.threads = 4, .batches_ahead = 2});
  NETADAPT_ASSERT_OK_AND_ASSIGN(const PrefetchedBatch first, prefetcher.Next());
  EXPECT_EQ(first.number, 0);
  // Holding batch 0, the pool may fill batches 1 and 2 only: wait for them, then check
  // that nothing beyond was loaded.
  NETADAPT_ASSERT_OK_AND_ASSIGN(const PrefetchedBatch second, prefetcher.Next());
  EXPECT_EQ(second.number, 1);
  // Now holding batch 1: batches up to 3 may be loaded, i.e. 4 batches of 3 images.
  source.AwaitLoads(12);
  EXPECT_EQ(source.loads(), 12);
}

TEST(BatchPrefetcherTest, FailureNamesTheLowestFailedImageOfTheBatch) {
  FakeSource source(30, /*fail=*/7);
  BatchPrefetcher prefetcher(source, 6, [](int64_t k) { return Plan(k, 30); }, {.threads = 4});
  ASSERT_THAT(prefetcher.Next(), IsOk());  // 0, 1, 2
  ASSERT_THAT(prefetcher.Next(), IsOk());  // 3, 4, 5
  EXPECT_THAT(prefetcher.Next(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image 7 is bad")));
  EXPECT_THAT(prefetcher.Next(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BatchPrefetcherTest, CountsSkippedImages) {
  FakeSource source(9, /*fail=*/-1, /*skip=*/4);
  BatchPrefetcher prefetcher(source, 3, [](int64_t k) { return Plan(k, 9); }, {.threads = 2});
  ASSERT_THAT(prefetcher.Next(), IsOk());
  NETADAPT_ASSERT_OK_AND_ASSIGN(const PrefetchedBatch batch, prefetcher.Next());
  EXPECT_EQ(batch.skipped, 1);
  EXPECT_EQ(batch.labels[1], kSkippedLabel);
}

TEST(BatchPrefetcherTest, StopsEarlyWhenDestroyed) {
  FakeSource source(1000);
  {
    BatchPrefetcher prefetcher(source, 1000, [](int64_t k) { return Plan(k, 1000); },
                               {.threads = 3, .batches_ahead = 1});
    ASSERT_THAT(prefetcher.Next(), IsOk());
  }
  EXPECT_LE(source.loads(), 2 * 3);  // Batch 0 and, once it was taken, batch 1.
}

TEST(BatchPrefetcherTest, EmptyRunHasNoBatches) {
  FakeSource source(4);
  BatchPrefetcher prefetcher(source, 0, [](int64_t k) { return Plan(k, 4); });
  EXPECT_THAT(prefetcher.Next(), StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace netadapt::common
