#include "common/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "common/dataset_random.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Four 1x1x2 images whose bytes are {10i, 10i+1} and whose labels are i % 3.
ImageDataset SmallDataset() {
  ImageDataset dataset;
  dataset.name = "small";
  dataset.channels = 1;
  dataset.height = 1;
  dataset.width = 2;
  dataset.num_classes = 3;
  for (int i = 0; i < 4; ++i) {
    dataset.pixels.push_back(static_cast<uint8_t>(10 * i));
    dataset.pixels.push_back(static_cast<uint8_t>(10 * i + 1));
    dataset.labels.push_back(i % 3);
  }
  return dataset;
}

TEST(ImageDatasetTest, SizeAndImageAccess) {
  const ImageDataset dataset = SmallDataset();
  EXPECT_EQ(dataset.size(), 4);
  EXPECT_EQ(dataset.ImageElements(), 2);
  EXPECT_EQ(dataset.Image(2)[0], 20);
  EXPECT_EQ(dataset.Image(2)[1], 21);
  EXPECT_THAT(ValidateDataset(dataset), IsOk());
}

TEST(ImageDatasetTest, ValidateRejectsBadDatasets) {
  ImageDataset wrong_pixels = SmallDataset();
  wrong_pixels.pixels.pop_back();
  EXPECT_THAT(ValidateDataset(wrong_pixels),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("small: has 7 pixel")));
  ImageDataset bad_label = SmallDataset();
  bad_label.labels[1] = 3;
  EXPECT_THAT(ValidateDataset(bad_label),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label 3 of image 1")));
  ImageDataset bad_shape = SmallDataset();
  bad_shape.height = 0;
  EXPECT_THAT(ValidateDataset(bad_shape), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ImageDatasetTest, SelectImagesCopiesInOrder) {
  const std::vector<int64_t> indices = {3, 0, 3};
  NETADAPT_ASSERT_OK_AND_ASSIGN(ImageDataset selected, SelectImages(SmallDataset(), indices));
  EXPECT_EQ(selected.name, "small");
  EXPECT_THAT(selected.pixels, ElementsAre(30, 31, 0, 1, 30, 31));
  EXPECT_THAT(selected.labels, ElementsAre(0, 0, 0));
  const std::vector<int64_t> bad = {4};
  EXPECT_THAT(SelectImages(SmallDataset(), bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("index 4")));
}

TEST(ImageDatasetTest, KeepFirst) {
  ImageDataset dataset = SmallDataset();
  KeepFirst(0, &dataset);
  EXPECT_EQ(dataset.size(), 4);
  KeepFirst(10, &dataset);
  EXPECT_EQ(dataset.size(), 4);
  KeepFirst(2, &dataset);
  EXPECT_EQ(dataset.size(), 2);
  EXPECT_THAT(dataset.pixels, ElementsAre(0, 1, 10, 11));
  EXPECT_THAT(ValidateDataset(dataset), IsOk());
}

TEST(SplitHeldOutTest, PartitionsAllIndicesDisjointly) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(HeldOutSplit split, SplitHeldOut(1000, 100, 7));
  ASSERT_EQ(split.held_out_indices.size(), 100u);
  ASSERT_EQ(split.train_indices.size(), 900u);
  EXPECT_TRUE(std::is_sorted(split.held_out_indices.begin(), split.held_out_indices.end()));
  EXPECT_TRUE(std::is_sorted(split.train_indices.begin(), split.train_indices.end()));
  std::vector<int64_t> all = split.train_indices;
  all.insert(all.end(), split.held_out_indices.begin(), split.held_out_indices.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(all[i], i);
  // Random, not the first or last 100.
  EXPECT_LT(split.held_out_indices.front(), 100);
  EXPECT_GT(split.held_out_indices.back(), 900);
}

TEST(SplitHeldOutTest, DeterministicFromSeed) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(HeldOutSplit a, SplitHeldOut(500, 50, 1));
  NETADAPT_ASSERT_OK_AND_ASSIGN(HeldOutSplit b, SplitHeldOut(500, 50, 1));
  NETADAPT_ASSERT_OK_AND_ASSIGN(HeldOutSplit c, SplitHeldOut(500, 50, 2));
  EXPECT_EQ(a.held_out_indices, b.held_out_indices);
  EXPECT_EQ(a.train_indices, b.train_indices);
  EXPECT_NE(a.held_out_indices, c.held_out_indices);
}

TEST(SplitHeldOutTest, EdgeSizes) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(HeldOutSplit none, SplitHeldOut(10, 0, 1));
  EXPECT_TRUE(none.held_out_indices.empty());
  EXPECT_EQ(none.train_indices.size(), 10u);
  NETADAPT_ASSERT_OK_AND_ASSIGN(HeldOutSplit all, SplitHeldOut(10, 10, 1));
  EXPECT_TRUE(all.train_indices.empty());
  EXPECT_EQ(all.held_out_indices.size(), 10u);
  EXPECT_THAT(SplitHeldOut(10, 11, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("held-out size 11")));
  EXPECT_THAT(SplitHeldOut(10, -1, 1), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DatasetRandomTest, UniformIndexStaysInRangeAndCoversIt) {
  std::mt19937_64 rng(3);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t value = UniformIndex(rng, 7);
    ASSERT_LT(value, 7u);
    ++counts[value];
  }
  for (const int count : counts) EXPECT_GT(count, 800);
}

TEST(DatasetRandomTest, ShuffleIsAPermutationAndFixedForASeed) {
  std::vector<int64_t> a = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<int64_t> b = a;
  std::mt19937_64 rng_a(5);
  std::mt19937_64 rng_b(5);
  ShuffleInPlace(absl::MakeSpan(a), rng_a);
  ShuffleInPlace(absl::MakeSpan(b), rng_b);
  EXPECT_EQ(a, b);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_THAT(sorted, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
  EXPECT_NE(DeriveSeed(1, 0), DeriveSeed(1, 1));
  EXPECT_NE(DeriveSeed(1, 0), DeriveSeed(2, 0));
}

}  // namespace
}  // namespace netadapt::common
