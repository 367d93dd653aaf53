#include "common/torch/training.h"

#include <ATen/core/Tensor.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/batch_filler.h"
#include "common/dataset.h"
#include "common/dataset_spec.h"
#include "common/synthetic_dataset.h"
#include "common/torch/internal/model_state.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::engine {
namespace {

using common::ImageDataset;
using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::HasSubstr;

// 1x16x16 images, 4 classes: a few hundred steps of a tiny CNN learn it.
common::DatasetSplits SmallSynthetic() {
  common::SyntheticDatasetOptions options;
  options.num_classes = 4;
  options.channels = 1;
  options.height = 16;
  options.width = 16;
  options.train_size = 512;
  options.test_size = 256;
  auto splits = common::MakeSyntheticDataset(options);
  EXPECT_TRUE(splits.ok()) << splits.status();
  return *std::move(splits);
}

// A small CNN that trains in seconds on two cores: conv-relu-pool twice, then a linear
// classifier (helloworld keeps full resolution through four convs: ~30x the work).
common::NetworkDef SmallCnn(int input_size, int channels, int classes) {
  using common::Layer;
  common::NetworkDef def;
  def.name = "small_cnn";
  def.input = {channels, input_size, input_size};
  const int pooled = input_size / 4;
  def.layers = {Layer::Conv2d("features.0", channels, 8, {3, 3}, {1, 1}, {1, 1}),
                Layer::Relu("features.1"),
                Layer::MaxPool2d("features.2", {2, 2}, {2, 2}),
                Layer::Conv2d("features.3", 8, 16, {3, 3}, {1, 1}, {1, 1}),
                Layer::Relu("features.4"),
                Layer::MaxPool2d("features.5", {2, 2}, {2, 2}),
                Layer::Flatten("flatten"),
                Layer::Linear("classifier", 16 * pooled * pooled, classes)};
  EXPECT_TRUE(common::Validate(def).ok());
  return def;
}

SgdOptions Sgd(uint64_t seed = 1) {
  SgdOptions options;
  options.batch_size = 32;
  options.learning_rate = 0.05;
  options.seed = seed;
  options.intra_op_threads = 1;  // bitwise reproducible
  return options;
}

TEST(TrainingTest, FineTuningLearnsTheSyntheticSet) {
  const common::DatasetSplits data = SmallSynthetic();
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model,
                                Model::Create(SmallCnn(16, 1, 4), {.device = "cpu", .seed = 1}));
  const std::vector<int64_t> test = AllIndices(data.test);
  NETADAPT_ASSERT_OK_AND_ASSIGN(EvalResult before, Evaluate(model, data.test, test, {}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(TrainSummary summary,
                                FineTune(model, data.train, AllIndices(data.train), 150, Sgd()));
  EXPECT_EQ(summary.steps, 150);
  EXPECT_EQ(summary.examples, 150 * 32);
  NETADAPT_ASSERT_OK_AND_ASSIGN(EvalResult after, Evaluate(model, data.test, test, {}));
  EXPECT_EQ(after.total, 256);
  EXPECT_GT(after.accuracy, 0.9) << "before: " << before.accuracy;  // chance is 0.25
  EXPECT_LT(after.loss, before.loss);
}

TEST(TrainingTest, SameSeedSameWeightsOtherSeedOtherWeights) {
  const common::DatasetSplits data = SmallSynthetic();
  const common::NetworkDef def = SmallCnn(16, 1, 4);
  SgdOptions options = Sgd(5);
  options.batch.crop_padding = 2;
  options.batch.horizontal_flip = true;
  auto train = [&](uint64_t seed) {
    auto model = Model::Create(def, {.device = "cpu", .seed = 3});
    EXPECT_TRUE(model.ok());
    options.seed = seed;
    EXPECT_THAT(FineTune(*model, data.train, AllIndices(data.train), 20, options).status(),
                IsOk());
    return *std::move(model);
  };
  const Model a = train(5), b = train(5), c = train(6);
  for (const auto& [name, tensor] : a.state().tensors) {
    EXPECT_TRUE(tensor.equal(b.state().tensors.at(name))) << name;
  }
  const std::string first_weight = def.layers[0].name + ".weight";
  EXPECT_FALSE(a.state().tensors.at(first_weight).equal(c.state().tensors.at(first_weight)));
}

TEST(TrainingTest, ReportsProgressAndStopsWhenCancelled) {
  const common::DatasetSplits data = SmallSynthetic();
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(SmallCnn(16, 1, 4), {}));
  SgdOptions options = Sgd();
  options.progress_every = 4;
  std::vector<TrainProgress> reports;
  options.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  ASSERT_THAT(FineTune(model, data.train, AllIndices(data.train), 10, options).status(), IsOk());
  ASSERT_EQ(reports.size(), 3u);  // steps 4, 8 and the last one
  EXPECT_EQ(reports[0].step, 4);
  EXPECT_EQ(reports[2].step, 10);
  EXPECT_EQ(reports[2].total_steps, 10);
  EXPECT_EQ(reports[2].epoch, 0);  // 16 batches per epoch
  for (const TrainProgress& p : reports) {
    EXPECT_GT(p.loss, 0);
    EXPECT_GT(p.examples_per_second, 0);
    EXPECT_DOUBLE_EQ(p.learning_rate, 0.05);
  }

  int polls = 0;
  options.on_progress = nullptr;
  options.cancelled = [&] { return ++polls > 3; };
  EXPECT_THAT(FineTune(model, data.train, AllIndices(data.train), 10, options).status(),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("after 3 of 10")));
}

TEST(TrainingTest, PretrainFollowsTheSchedule) {
  const common::DatasetSplits data = SmallSynthetic();
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(SmallCnn(16, 1, 4), {}));
  SgdOptions options = Sgd();
  options.progress_every = 1;
  std::vector<TrainProgress> reports;
  options.on_progress = [&](const TrainProgress& p) { reports.push_back(p); };
  LearningRateSchedule step_schedule;
  step_schedule.kind = LearningRateSchedule::Kind::kStep;
  step_schedule.milestones = {1};
  step_schedule.gamma = 0.1;
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      TrainSummary summary, Pretrain(model, data.train, AllIndices(data.train), 2, step_schedule, options));
  EXPECT_EQ(summary.steps, 2 * (512 / 32));
  EXPECT_DOUBLE_EQ(reports.front().learning_rate, 0.05);
  EXPECT_EQ(reports.back().epoch, 1);
  EXPECT_NEAR(reports.back().learning_rate, 0.005, 1e-12);

  reports.clear();
  LearningRateSchedule cosine;  // the default
  ASSERT_THAT(Pretrain(model, data.train, AllIndices(data.train), 1, cosine, options).status(), IsOk());
  EXPECT_DOUBLE_EQ(reports.front().learning_rate, 0.05);
  EXPECT_LT(reports.back().learning_rate, 0.05 * 0.02);
  for (size_t i = 1; i < reports.size(); ++i) {
    EXPECT_LT(reports[i].learning_rate, reports[i - 1].learning_rate);
  }
}

TEST(TrainingTest, BadInputNamesTheField) {
  const common::DatasetSplits data = SmallSynthetic();
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model, Model::Create(SmallCnn(16, 1, 4), {}));
  const std::vector<int64_t> all = AllIndices(data.train);
  SgdOptions options = Sgd();
  options.batch_size = 0;
  EXPECT_THAT(FineTune(model, data.train, all, 1, options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size")));
  options = Sgd();
  options.learning_rate = -1;
  EXPECT_THAT(FineTune(model, data.train, all, 1, options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("learning_rate")));
  EXPECT_THAT(FineTune(model, data.train, {}, 1, Sgd()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("indices")));
  const std::vector<int64_t> outside = {0, 512};
  EXPECT_THAT(Evaluate(model, data.train, outside, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("512")));
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model wrong_input, Model::Create(SmallCnn(32, 3, 4), {}));
  EXPECT_THAT(FineTune(wrong_input, data.train, all, 1, Sgd()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset")));
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model too_few_classes, Model::Create(SmallCnn(16, 1, 2), {}));
  EXPECT_THAT(Evaluate(too_few_classes, data.train, all, {}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("4 classes")));
}

// The check on real data: a short run on 2,000 Fashion-MNIST images (Debian's
// dataset-fashion-mnist) reaches well above chance (10%) on 1,000 test images.
TEST(TrainingTest, FashionMnistSubsetReachesWellAboveChance) {
  const char* kDirectory = "/usr/share/datasets/fashion-mnist";
  // Real data from the Debian package, which install-deps.sh (and so CI) installs; the
  // synthetic-set training tests above run regardless.
  if (!std::filesystem::exists(kDirectory)) {
    GTEST_SKIP() << kDirectory << " missing: install the Debian package dataset-fashion-mnist";
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      common::DatasetSpec spec,
      common::ParseDatasetSpec(std::string("fashion-mnist:") + kDirectory +
                               ",max_train=2000,max_test=1000"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(common::DatasetSplits data, common::LoadDataset(spec));
  ASSERT_EQ(data.train.size(), 2000);
  const common::ChannelStats stats = common::ComputeChannelStats(data.train);
  NETADAPT_ASSERT_OK_AND_ASSIGN(Model model,
                                Model::Create(SmallCnn(28, 1, 10), {.device = "cpu", .seed = 2}));
  SgdOptions options = Sgd();
  options.batch_size = 50;
  options.batch.mean = stats.mean;
  options.batch.std = stats.std;
  ASSERT_THAT(FineTune(model, data.train, AllIndices(data.train), 160, options).status(), IsOk());
  EvalOptions eval;
  eval.mean = stats.mean;
  eval.std = stats.std;
  NETADAPT_ASSERT_OK_AND_ASSIGN(EvalResult result,
                                Evaluate(model, data.test, AllIndices(data.test), eval));
  EXPECT_EQ(result.total, 1000);
  EXPECT_GT(result.accuracy, 0.6);
}

}  // namespace
}  // namespace netadapt::engine
