#include "common/synthetic_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace netadapt::common {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

SyntheticDatasetOptions SmallOptions() {
  SyntheticDatasetOptions options;
  options.num_classes = 4;
  options.channels = 3;
  options.height = 8;
  options.width = 6;
  options.train_size = 200;
  options.test_size = 100;
  options.seed = 11;
  return options;
}

// Mean image of each class, as doubles.
std::vector<std::vector<double>> ClassMeans(const ImageDataset& dataset) {
  const size_t elements = static_cast<size_t>(dataset.ImageElements());
  std::vector<std::vector<double>> means(dataset.num_classes, std::vector<double>(elements));
  std::vector<int> counts(dataset.num_classes, 0);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    ++counts[dataset.labels[i]];
    for (size_t p = 0; p < elements; ++p) means[dataset.labels[i]][p] += dataset.Image(i)[p];
  }
  for (int k = 0; k < dataset.num_classes; ++k) {
    for (double& value : means[k]) value /= counts[k];
  }
  return means;
}

TEST(SyntheticDatasetTest, ShapeSizesAndBalancedLabels) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits splits, MakeSyntheticDataset(SmallOptions()));
  EXPECT_EQ(splits.train.name, "synthetic/train");
  EXPECT_EQ(splits.test.name, "synthetic/test");
  for (const ImageDataset* dataset : {&splits.train, &splits.test}) {
    EXPECT_EQ(dataset->channels, 3);
    EXPECT_EQ(dataset->height, 8);
    EXPECT_EQ(dataset->width, 6);
    EXPECT_EQ(dataset->num_classes, 4);
    EXPECT_THAT(ValidateDataset(*dataset), IsOk());
  }
  EXPECT_EQ(splits.train.size(), 200);
  EXPECT_EQ(splits.test.size(), 100);
  std::vector<int> counts(4, 0);
  for (const int32_t label : splits.train.labels) ++counts[label];
  EXPECT_THAT(counts, ::testing::Each(50));
}

TEST(SyntheticDatasetTest, DeterministicFromSeed) {
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits a, MakeSyntheticDataset(SmallOptions()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits b, MakeSyntheticDataset(SmallOptions()));
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.train.labels, b.train.labels);
  EXPECT_EQ(a.test.pixels, b.test.pixels);
  SyntheticDatasetOptions other = SmallOptions();
  other.seed = 12;
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits c, MakeSyntheticDataset(other));
  EXPECT_NE(a.train.pixels, c.train.pixels);
}

TEST(SyntheticDatasetTest, TestSetDoesNotDependOnTrainSize) {
  SyntheticDatasetOptions more = SmallOptions();
  more.train_size = 50;
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits a, MakeSyntheticDataset(SmallOptions()));
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits b, MakeSyntheticDataset(more));
  EXPECT_EQ(a.test.pixels, b.test.pixels);
  EXPECT_EQ(a.test.labels, b.test.labels);
}

TEST(SyntheticDatasetTest, ClassesDifferAndNearestMeanClassifierLearnsThem) {
  SyntheticDatasetOptions options = SmallOptions();
  options.num_classes = 10;
  options.train_size = 1000;
  options.test_size = 500;
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits splits, MakeSyntheticDataset(options));
  const std::vector<std::vector<double>> means = ClassMeans(splits.train);
  // Class means are far apart (per-pixel RMS distance) ...
  for (int a = 0; a < 10; ++a) {
    for (int b = a + 1; b < 10; ++b) {
      double squares = 0;
      for (size_t p = 0; p < means[a].size(); ++p) {
        squares += (means[a][p] - means[b][p]) * (means[a][p] - means[b][p]);
      }
      EXPECT_GT(squares / means[a].size(), 20.0 * 20.0) << "classes " << a << " and " << b;
    }
  }
  // ... so the nearest training-set class mean labels the test images almost perfectly.
  int correct = 0;
  for (int64_t i = 0; i < splits.test.size(); ++i) {
    int best = -1;
    double best_distance = std::numeric_limits<double>::infinity();
    for (int k = 0; k < 10; ++k) {
      double distance = 0;
      for (size_t p = 0; p < means[k].size(); ++p) {
        const double d = splits.test.Image(i)[p] - means[k][p];
        distance += d * d;
      }
      if (distance < best_distance) {
        best_distance = distance;
        best = k;
      }
    }
    correct += best == splits.test.labels[i];
  }
  EXPECT_GT(correct, 0.95 * splits.test.size());
}

TEST(SyntheticDatasetTest, NoNoiseGivesThePrototypes) {
  SyntheticDatasetOptions options = SmallOptions();
  options.noise = 0;
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits splits, MakeSyntheticDataset(options));
  // Two images of the same class are identical.
  int64_t first_of_label0 = -1;
  for (int64_t i = 0; i < splits.train.size(); ++i) {
    if (splits.train.labels[i] != 0) continue;
    if (first_of_label0 < 0) {
      first_of_label0 = i;
      continue;
    }
    const int64_t elements = splits.train.ImageElements();
    EXPECT_TRUE(std::equal(splits.train.Image(i), splits.train.Image(i) + elements,
                           splits.train.Image(first_of_label0)));
  }
}

TEST(SyntheticDatasetTest, TinyAndOddShapesWork) {
  SyntheticDatasetOptions options = SmallOptions();
  options.channels = 2;
  options.height = 1;
  options.width = 5;
  options.num_classes = 1;
  options.train_size = 3;
  options.test_size = 0;
  NETADAPT_ASSERT_OK_AND_ASSIGN(DatasetSplits splits, MakeSyntheticDataset(options));
  EXPECT_EQ(splits.train.pixels.size(), 3u * 10);
  EXPECT_EQ(splits.test.size(), 0);
  EXPECT_THAT(ValidateDataset(splits.train), IsOk());
}

TEST(SyntheticDatasetTest, RejectsBadOptions) {
  SyntheticDatasetOptions options = SmallOptions();
  options.num_classes = 0;
  EXPECT_THAT(MakeSyntheticDataset(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_classes is 0")));
  options = SmallOptions();
  options.width = -1;
  EXPECT_THAT(MakeSyntheticDataset(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("width is -1")));
  options = SmallOptions();
  options.test_size = -5;
  EXPECT_THAT(MakeSyntheticDataset(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("test_size is -5")));
  options = SmallOptions();
  options.noise = 1.5;
  EXPECT_THAT(MakeSyntheticDataset(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("noise is 1.5")));
  options = SmallOptions();
  options.train_size = int64_t{1} << 40;
  EXPECT_THAT(MakeSyntheticDataset(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceed 4 GiB")));
}

}  // namespace
}  // namespace netadapt::common
