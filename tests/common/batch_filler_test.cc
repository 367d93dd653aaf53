#include "common/batch_filler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::HasSubstr;
using ::testing::Pointwise;

// Image i (of `count`) is channels x height x width with byte (c, y, x) = 1 + i + 16c + 4y + x
// (never 0, so a 0 in a batch can only be padding); label i % num_classes.
ImageDataset PatternDataset(int count, int channels, int height, int width) {
  ImageDataset dataset;
  dataset.name = "pattern";
  dataset.channels = channels;
  dataset.height = height;
  dataset.width = width;
  dataset.num_classes = 3;
  for (int i = 0; i < count; ++i) {
    for (int c = 0; c < channels; ++c) {
      for (int y = 0; y < height; ++y) {
        for (int x = 0; x < width; ++x) {
          dataset.pixels.push_back(static_cast<uint8_t>(1 + i + 16 * c + 4 * y + x));
        }
      }
    }
    dataset.labels.push_back(i % 3);
  }
  return dataset;
}

// The expected output (no normalisation) of image `index` shifted so that output (y, x)
// reads source (y + dy, x' + dx), x' mirrored when `flip`, zero outside.
std::vector<float> Expected(const ImageDataset& dataset, int64_t index, int dy, int dx, bool flip) {
  const int h = dataset.height;
  const int w = dataset.width;
  std::vector<float> out;
  for (int c = 0; c < dataset.channels; ++c) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const int sy = y + dy;
        const int sx = (flip ? w - 1 - x : x) + dx;
        const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        out.push_back(inside ? dataset.Image(index)[(c * h + sy) * w + sx] / 255.0f : 0.0f);
      }
    }
  }
  return out;
}

TEST(FillBatchTest, ScalesToUnitRangeAndCopiesLabels) {
  const ImageDataset dataset = PatternDataset(4, 2, 2, 3);
  const std::vector<int64_t> indices = {3, 1};
  std::vector<float> images(2 * 12);
  std::vector<int64_t> labels(2);
  ASSERT_THAT(
      FillBatch(dataset, indices, {}, nullptr, absl::MakeSpan(images), absl::MakeSpan(labels)),
      IsOk());
  EXPECT_THAT(labels, ElementsAre(0, 1));
  std::vector<float> expected = Expected(dataset, 3, 0, 0, false);
  const std::vector<float> second = Expected(dataset, 1, 0, 0, false);
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_THAT(images, Pointwise(FloatEq(), expected));
  EXPECT_FLOAT_EQ(images[0], 4 / 255.0f);
}

TEST(FillBatchTest, NormalisesPerChannel) {
  ImageDataset dataset = PatternDataset(1, 2, 1, 2);
  dataset.pixels = {0, 255, 51, 102};  // Channel 0: 0, 1; channel 1: 0.2, 0.4.
  BatchOptions options;
  options.mean = {0.5f, 0.2f};
  options.std = {0.25f, 0.1f};
  const std::vector<int64_t> indices = {0};
  std::vector<float> images(4);
  std::vector<int64_t> labels(1);
  ASSERT_THAT(
      FillBatch(dataset, indices, options, nullptr, absl::MakeSpan(images), absl::MakeSpan(labels)),
      IsOk());
  EXPECT_THAT(images, Pointwise(FloatEq(), std::vector<float>{-2.0f, 2.0f, 0.0f, 2.0f}));
}

TEST(FillBatchTest, HorizontalFlipMirrorsRowsHalfTheTime) {
  const ImageDataset dataset = PatternDataset(1, 1, 2, 3);
  BatchOptions options;
  options.horizontal_flip = true;
  std::mt19937_64 rng(1);
  const std::vector<int64_t> indices = {0};
  std::vector<float> images(6);
  std::vector<int64_t> labels(1);
  int flipped = 0;
  for (int draw = 0; draw < 200; ++draw) {
    ASSERT_THAT(
        FillBatch(dataset, indices, options, &rng, absl::MakeSpan(images), absl::MakeSpan(labels)),
        IsOk());
    // Source rows are {1, 2, 3} and {5, 6, 7}.
    const std::vector<float> mirrored = {3 / 255.0f, 2 / 255.0f, 1 / 255.0f,
                                         7 / 255.0f, 6 / 255.0f, 5 / 255.0f};
    if (images == mirrored) {
      ++flipped;
    } else {
      ASSERT_THAT(images, Pointwise(FloatEq(), Expected(dataset, 0, 0, 0, false)));
    }
  }
  EXPECT_GT(flipped, 70);
  EXPECT_LT(flipped, 130);
}

TEST(FillBatchTest, CropWithPaddingShiftsContentAndFillsZeros) {
  const ImageDataset dataset = PatternDataset(1, 2, 4, 4);
  BatchOptions options;
  options.crop_padding = 1;
  options.horizontal_flip = true;
  std::mt19937_64 rng(2);
  const std::vector<int64_t> indices = {0};
  std::vector<float> images(32);
  std::vector<int64_t> labels(1);
  std::set<std::tuple<int, int, bool>> seen;
  for (int draw = 0; draw < 400; ++draw) {
    ASSERT_THAT(
        FillBatch(dataset, indices, options, &rng, absl::MakeSpan(images), absl::MakeSpan(labels)),
        IsOk());
    bool matched = false;
    for (int dy = -1; dy <= 1 && !matched; ++dy) {
      for (int dx = -1; dx <= 1 && !matched; ++dx) {
        for (const bool flip : {false, true}) {
          if (images == Expected(dataset, 0, dy, dx, flip)) {
            seen.insert({dy, dx, flip});
            matched = true;
            // Shifted crops have padding: zeros in a whole row or column.
            const int zeros = static_cast<int>(std::count(images.begin(), images.end(), 0.0f));
            EXPECT_EQ(zeros, 2 * (4 * (dy != 0) + 4 * (dx != 0) - (dy != 0 && dx != 0)));
            break;
          }
        }
      }
    }
    ASSERT_TRUE(matched) << "draw " << draw << " is no padded crop of the image";
  }
  EXPECT_EQ(seen.size(), 18u);  // Every offset in [-1, 1]^2, with and without flip.
}

TEST(FillBatchTest, PaddingIsZeroBeforeNormalisation) {
  const ImageDataset dataset = PatternDataset(1, 1, 2, 2);
  BatchOptions options;
  options.crop_padding = 2;
  options.mean = {0.5f};
  options.std = {0.5f};
  std::mt19937_64 rng(3);
  const std::vector<int64_t> indices = {0};
  std::vector<float> images(4);
  std::vector<int64_t> labels(1);
  bool saw_padding = false;
  for (int draw = 0; draw < 50; ++draw) {
    ASSERT_THAT(
        FillBatch(dataset, indices, options, &rng, absl::MakeSpan(images), absl::MakeSpan(labels)),
        IsOk());
    saw_padding |= std::count(images.begin(), images.end(), -1.0f) > 0;
  }
  EXPECT_TRUE(saw_padding);
}

TEST(FillBatchTest, SameSeedSameBatch) {
  const ImageDataset dataset = PatternDataset(5, 3, 6, 6);
  BatchOptions options;
  options.crop_padding = 2;
  options.horizontal_flip = true;
  const std::vector<int64_t> indices = {4, 0, 2, 2};
  std::vector<float> a(4 * 108), b(4 * 108), c(4 * 108);
  std::vector<int64_t> labels(4);
  std::mt19937_64 rng_a(9), rng_b(9), rng_c(10);
  ASSERT_THAT(
      FillBatch(dataset, indices, options, &rng_a, absl::MakeSpan(a), absl::MakeSpan(labels)),
      IsOk());
  ASSERT_THAT(
      FillBatch(dataset, indices, options, &rng_b, absl::MakeSpan(b), absl::MakeSpan(labels)),
      IsOk());
  ASSERT_THAT(
      FillBatch(dataset, indices, options, &rng_c, absl::MakeSpan(c), absl::MakeSpan(labels)),
      IsOk());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_THAT(labels, ElementsAre(1, 0, 2, 2));
}

TEST(FillBatchTest, RejectsBadArguments) {
  const ImageDataset dataset = PatternDataset(2, 2, 2, 2);
  const std::vector<int64_t> indices = {0, 1};
  std::vector<float> images(16);
  std::vector<int64_t> labels(2);
  auto fill = [&](const BatchOptions& options, std::mt19937_64* rng,
                  absl::Span<const int64_t> batch, size_t image_floats) {
    return FillBatch(dataset, batch, options, rng, absl::MakeSpan(images.data(), image_floats),
                     absl::MakeSpan(labels.data(), batch.size()));
  };
  EXPECT_THAT(fill({}, nullptr, indices, 15),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs 16 floats")));
  const std::vector<int64_t> bad_index = {0, 2};
  EXPECT_THAT(fill({}, nullptr, bad_index, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch index 2")));
  BatchOptions short_mean;
  short_mean.mean = {0.5f};
  EXPECT_THAT(fill(short_mean, nullptr, indices, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 mean values")));
  BatchOptions zero_std;
  zero_std.std = {1.0f, 0.0f};
  EXPECT_THAT(fill(zero_std, nullptr, indices, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("std of channel 1")));
  BatchOptions negative;
  negative.crop_padding = -1;
  EXPECT_THAT(fill(negative, nullptr, indices, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("crop_padding")));
  BatchOptions flip;
  flip.horizontal_flip = true;
  EXPECT_THAT(fill(flip, nullptr, indices, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs an rng")));
}

TEST(EpochOrderTest, DeterministicPermutationPerEpoch) {
  std::vector<int64_t> indices(100);
  for (int i = 0; i < 100; ++i) indices[i] = 3 * i;
  const std::vector<int64_t> epoch0 = EpochOrder(indices, 5, 0);
  EXPECT_EQ(epoch0, EpochOrder(indices, 5, 0));
  EXPECT_NE(epoch0, indices);
  EXPECT_NE(epoch0, EpochOrder(indices, 5, 1));
  EXPECT_NE(epoch0, EpochOrder(indices, 6, 0));
  std::vector<int64_t> sorted = epoch0;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, indices);
}

TEST(ChannelStatsTest, MeanAndStdPerChannel) {
  ImageDataset dataset = PatternDataset(2, 2, 1, 2);
  dataset.pixels = {0, 255, 51, 51,  // Image 0: channel 0 {0, 1}, channel 1 {0.2, 0.2}.
                    0, 255, 51, 51};
  const ChannelStats stats = ComputeChannelStats(dataset);
  EXPECT_THAT(stats.mean, Pointwise(FloatEq(), std::vector<float>{0.5f, 0.2f}));
  // Channel 1 is constant: std 1 keeps normalisation finite.
  EXPECT_THAT(stats.std, Pointwise(FloatEq(), std::vector<float>{0.5f, 1.0f}));
}

}  // namespace
}  // namespace netadapt::common
