// TaskExecutor against an in-memory master, on a tiny CNN and the synthetic
// dataset.
#include "worker/task_executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/filter_search.h"
#include "common/image_codec.h"
#include "common/synthetic_dataset.h"
#include "common/network_def_json.h"
#include "common/resource_model.h"
#include "common/synthetic_latency.h"
#include "common/torch/checkpoint.h"
#include "common/torch/model.h"
#include "common/torch/pruning.h"
#include "tests/testing/status_matchers.h"
#include "tests/worker/fake_master.h"
#include "tests/worker/test_util.h"

namespace netadapt::worker {
namespace {

using ::netadapt::testing::IsOk;
using ::netadapt::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAreArray;
using testing::FakeMasterConnection;
using ::testing::HasSubstr;
using testing::Header;
using testing::kDataset;
using testing::SmallCnn;

std::vector<int32_t> WidthsOf(const common::NetworkDef& def) {
  std::vector<int32_t> widths;
  for (const common::Layer& layer : def.layers) {
    if (layer.IsWeighted()) widths.push_back(layer.out_channels);
  }
  return widths;
}

class TaskExecutorTest : public ::testing::Test {
 protected:
  TaskExecutorTest() : executor_(&master_, Options()) {}

  static TaskExecutorOptions Options() {
    TaskExecutorOptions options;
    options.devices = {"cpu"};
    options.intra_op_threads = 1;  // bitwise reproducible training
    options.progress_every = 5;
    return options;
  }

  // A freshly initialised SmallCnn stored on the master.
  std::string SeedModel(uint64_t seed = 1) {
    auto model = engine::Model::Create(SmallCnn(), {.device = "cpu", .seed = seed});
    EXPECT_THAT(model, IsOk());
    auto bytes = engine::SerializeCheckpoint(*model);
    EXPECT_THAT(bytes, IsOk());
    return master_.Add(*bytes);
  }

  absl::StatusOr<engine::Model> Load(const std::string& digest) {
    return engine::ParseCheckpoint(master_.Get(digest), "cpu");
  }

  v1::SimplifyTask SimplifyTask(const std::string& digest, int block, double target,
                                v1::ResourceType type) {
    v1::SimplifyTask task;
    *task.mutable_header() = Header(block);
    task.set_model_digest(digest);
    task.set_block(block);
    task.set_target_resource(target);
    task.set_resource_type(type);
    task.set_channel_step(4);
    return task;
  }

  v1::EvaluateTask EvaluateTask(const std::string& digest,
                                v1::EvaluateTask::Split split = v1::EvaluateTask::HELD_OUT) {
    v1::EvaluateTask task;
    *task.mutable_header() = Header();
    task.set_model_digest(digest);
    task.set_dataset(kDataset);
    task.set_holdout_size(64);
    task.set_split(split);
    return task;
  }

  FakeMasterConnection master_;
  TaskExecutor executor_;
};

TEST_F(TaskExecutorTest, SimplifyFlopsMatchesTheLocalSearch) {
  const std::string seed = SeedModel();
  const common::NetworkDef def = SmallCnn();
  common::AnalyticResourceModel flops(common::ResourceType::kFlops);
  common::SearchOptions options;
  options.channel_step = 4;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::BlockSearch search,
                                common::BlockSearch::Create(def, options));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const double full,
                                common::NetworkResource(def, options.context, flops));
  for (int block = 0; block < search.num_blocks(); ++block) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(common::SearchResult local,
                                  search.SimplifyBlock(block, 0.8 * full, flops));
    std::vector<v1::TaskProgress> progress;
    TaskContext context;
    context.on_progress = [&](const v1::TaskProgress& p) { progress.push_back(p); };
    NETADAPT_ASSERT_OK_AND_ASSIGN(
        v1::TaskResult result,
        executor_.Simplify(SimplifyTask(seed, block, 0.8 * full, v1::RESOURCE_TYPE_FLOPS),
                           context));
    EXPECT_EQ(result.width(), local.width) << "block " << block;
    EXPECT_DOUBLE_EQ(result.resource(), local.resource);
    EXPECT_EQ(result.meets_target(), local.meets_target);
    EXPECT_LT(result.width(), def.layers[block == 0 ? 0 : 3].out_channels);
    const common::NetworkDef expected = search.SimplifiedNetwork(local);
    EXPECT_THAT(result.widths(), ElementsAreArray(WidthsOf(expected)));
    NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model pruned, Load(result.model_digest()));
    EXPECT_THAT(WidthsOf(pruned.def()), ElementsAreArray(WidthsOf(expected)));
    EXPECT_FALSE(progress.empty());
  }
}

// A master without EstimateLatency (older, or a job with an interpolated LUT): every shape
// the search can need in one LookupLatency call, as before issue 15.
TEST_F(TaskExecutorTest, SimplifyLatencyMatchesTheLocalSearchInOneLookup) {
  master_.OfferEstimates(false);
  const std::string seed = SeedModel();
  const common::NetworkDef def = SmallCnn();
  common::SyntheticLatencyModel latency(common::SyntheticLatencyOptions{});
  for (v1::SearchStrategy strategy : {v1::SEARCH_STRATEGY_EXACT, v1::SEARCH_STRATEGY_LINEAR}) {
    common::SearchOptions options;
    options.channel_step = 4;
    NETADAPT_ASSERT_OK_AND_ASSIGN(const common::BlockSearch search,
                                  common::BlockSearch::Create(def, options));
    NETADAPT_ASSERT_OK_AND_ASSIGN(const double full,
                                  common::NetworkResource(def, options.context, latency));
    for (int block = 0; block < search.num_blocks(); ++block) {
      NETADAPT_ASSERT_OK_AND_ASSIGN(common::SearchResult local,
                                    search.SimplifyBlock(block, 0.9 * full, latency));
      const int64_t calls_before = master_.lookup_calls();
      v1::SimplifyTask task = SimplifyTask(seed, block, 0.9 * full, v1::RESOURCE_TYPE_LATENCY);
      task.set_search(strategy);
      NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult result, executor_.Simplify(task, {}));
      EXPECT_EQ(result.width(), local.width) << "block " << block;
      EXPECT_DOUBLE_EQ(result.resource(), local.resource);
      EXPECT_EQ(result.meets_target(), local.meets_target);
      EXPECT_EQ(master_.lookup_calls() - calls_before, 1) << "one round trip per task";
      NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model pruned, Load(result.model_digest()));
      EXPECT_THAT(WidthsOf(pruned.def()),
                  ElementsAreArray(WidthsOf(search.SimplifiedNetwork(local))));
    }
  }
}

// A measuring job's master: the certified search asks the device for a fraction of the
// shapes the prefetch did, and finds the same width and resource.
TEST_F(TaskExecutorTest, SimplifyLatencyMeasuresOnlyWhatCertifiesTheAnswer) {
  // SmallCnn with 4x the filters: 16 and 32 candidates per block at step 4.
  common::NetworkDef def = SmallCnn();
  def.layers[0].out_channels = 64;
  def.layers[3].in_channels = 64;
  def.layers[3].out_channels = 128;
  def.layers[7].in_channels = 128 * 4 * 4;
  NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model model,
                                engine::Model::Create(def, {.device = "cpu", .seed = 1}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string bytes, engine::SerializeCheckpoint(model));
  const std::string seed = master_.Add(bytes);
  common::SyntheticLatencyModel latency(common::SyntheticLatencyOptions{});
  common::SearchOptions options;
  options.channel_step = 4;
  NETADAPT_ASSERT_OK_AND_ASSIGN(const common::BlockSearch search,
                                common::BlockSearch::Create(def, options));
  NETADAPT_ASSERT_OK_AND_ASSIGN(const double full,
                                common::NetworkResource(def, options.context, latency));
  absl::flat_hash_set<common::LayerShape> prefetched;
  for (int block = 0; block < search.num_blocks(); ++block) {
    for (int i = 0; i < search.candidates(block).size(); ++i) {
      for (const common::LayerShape& shape :
           search.LayerShapesAt(block, search.candidates(block)[i])) {
        prefetched.insert(shape);
      }
    }
    for (double ratio : {0.98, 0.95}) {
      NETADAPT_ASSERT_OK_AND_ASSIGN(common::SearchResult local,
                                    search.SimplifyBlock(block, ratio * full, latency));
      v1::SimplifyTask task =
          SimplifyTask(seed, block, ratio * full, v1::RESOURCE_TYPE_LATENCY);
      const int64_t estimates_before = master_.estimate_calls();
      NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult result, executor_.Simplify(task, {}));
      EXPECT_EQ(result.width(), local.width) << "block " << block << " ratio " << ratio;
      EXPECT_EQ(result.resource(), local.resource);
      EXPECT_EQ(result.meets_target(), local.meets_target);
      EXPECT_GE(master_.estimate_calls() - estimates_before, 2);  // the probe and the search
    }
  }
  // Every candidate of every block would have been measured by the prefetch; the searches
  // above (two targets per block) measured far fewer distinct shapes.
  EXPECT_LT(master_.measured(), static_cast<int64_t>(prefetched.size()) / 2)
      << master_.measured() << " shapes measured, the prefetch asks for " << prefetched.size();
}

TEST_F(TaskExecutorTest, SimplifyReportsAnUnreachableTarget) {
  const std::string seed = SeedModel();
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      v1::TaskResult result,
      executor_.Simplify(SimplifyTask(seed, 1, 1.0, v1::RESOURCE_TYPE_WEIGHTS), {}));
  EXPECT_FALSE(result.meets_target());
  EXPECT_EQ(result.width(), 4);  // the smallest candidate
  EXPECT_FALSE(result.model_digest().empty());
}

// Simplify with block_widths (the uniform baseline): no search; every block pruned in turn as
// PruneBlock prunes one, to exactly the model pruning block by block gives.
TEST_F(TaskExecutorTest, SimplifyToBlockWidthsPrunesBlockByBlock) {
  const std::string seed = SeedModel();
  v1::SimplifyTask task = SimplifyTask(seed, 0, 0, v1::RESOURCE_TYPE_FLOPS);
  task.add_block_widths(8);
  task.add_block_widths(12);
  std::vector<v1::TaskProgress> progress;
  TaskContext context;
  context.on_progress = [&](const v1::TaskProgress& p) { progress.push_back(p); };
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult result, executor_.Simplify(task, context));
  EXPECT_THAT(result.widths(), ElementsAreArray({8, 12, 4}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model expected, Load(seed));
  for (const auto& [block, width] : {std::pair{0, 8}, std::pair{1, 12}}) {
    NETADAPT_ASSERT_OK_AND_ASSIGN(engine::PruneResult pruned,
                                  engine::PruneBlock(expected, block, width));
    expected = std::move(pruned.model);
  }
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::string bytes, engine::SerializeCheckpoint(expected));
  EXPECT_EQ(master_.Get(result.model_digest()), bytes);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().step(), progress.back().total_steps());

  // A width equal to the block's leaves it as it is.
  task.set_block_widths(0, 16);
  task.set_block_widths(1, 32);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult same, executor_.Simplify(task, {}));
  EXPECT_THAT(same.widths(), ElementsAreArray({16, 32, 4}));

  task.set_block_widths(1, 33);
  EXPECT_THAT(executor_.Simplify(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block_widths[1]")));
  task.add_block_widths(4);
  EXPECT_THAT(executor_.Simplify(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 given for the 2 blocks")));
}

// A master (or a network path) that substitutes another valid checkpoint for the one asked
// for: the worker checks the bytes against the digest before LibTorch reads them.
TEST_F(TaskExecutorTest, ArtifactsWhoseBytesDoNotMatchTheDigestAreRefused) {
  class SubstitutingMaster final : public MasterConnection {
   public:
    SubstitutingMaster(FakeMasterConnection& real, std::string substitute)
        : real_(real), substitute_(std::move(substitute)) {}
    absl::StatusOr<std::string> FetchArtifact(absl::string_view) override { return substitute_; }
    absl::StatusOr<std::string> PutArtifact(absl::string_view content) override {
      return real_.PutArtifact(content);
    }
    absl::StatusOr<std::vector<double>> LookupLatency(
        absl::string_view job, const std::vector<common::LayerShape>& shapes) override {
      return real_.LookupLatency(job, shapes);
    }

   private:
    FakeMasterConnection& real_;
    const std::string substitute_;
  };
  const std::string asked = SeedModel(1);
  SubstitutingMaster substituting(master_, master_.Get(SeedModel(2)));
  TaskExecutor executor(&substituting, Options());
  EXPECT_THAT(executor.Simplify(SimplifyTask(asked, 0, 1e9, v1::RESOURCE_TYPE_FLOPS), {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("hash to something else")));
  EXPECT_THAT(executor.Evaluate(EvaluateTask(asked), {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("model_digest")));
}

TEST_F(TaskExecutorTest, SimplifyBadInputFailsTheTask) {
  const std::string seed = SeedModel();
  const std::string unknown(64, 'a');
  EXPECT_THAT(executor_.Simplify(SimplifyTask(unknown, 0, 1e9, v1::RESOURCE_TYPE_FLOPS), {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("model_digest")));
  EXPECT_THAT(executor_.Simplify(SimplifyTask("abc", 0, 1e9, v1::RESOURCE_TYPE_FLOPS), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model_digest")));
  const std::string garbage = master_.Add("not a checkpoint at all");
  EXPECT_THAT(executor_.Simplify(SimplifyTask(garbage, 0, 1e9, v1::RESOURCE_TYPE_FLOPS), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model_digest")));
  std::string damaged = master_.Get(seed);
  damaged[damaged.size() / 2] ^= 1;  // stored under its own digest: only the checksum sees it
  EXPECT_THAT(
      executor_.Simplify(SimplifyTask(master_.Add(damaged), 0, 1e9, v1::RESOURCE_TYPE_FLOPS), {}),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("model_digest")));
  EXPECT_THAT(executor_.Simplify(SimplifyTask(seed, 2, 1e9, v1::RESOURCE_TYPE_FLOPS), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block: 2")));
  v1::SimplifyTask other_job = SimplifyTask(seed, 0, 1e9, v1::RESOURCE_TYPE_LATENCY);
  other_job.mutable_header()->set_job("jobs/404");
  EXPECT_THAT(executor_.Simplify(other_job, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("jobs/404")));
  v1::SimplifyTask gpu = SimplifyTask(seed, 0, 1e9, v1::RESOURCE_TYPE_FLOPS);
  gpu.mutable_header()->set_device("cuda:0");
  EXPECT_THAT(executor_.Simplify(gpu, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("header.device")));
}

TEST_F(TaskExecutorTest, FineTuneReducesTheLossAndIsDeterministic) {
  const std::string seed = SeedModel();
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult before, executor_.Evaluate(EvaluateTask(seed), {}));
  std::vector<v1::TaskProgress> progress;
  TaskContext context;
  context.on_progress = [&](const v1::TaskProgress& p) { progress.push_back(p); };
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult tuned,
                                executor_.FineTune(testing::FineTuneTask(seed, 30), context));
  EXPECT_EQ(tuned.examples(), 30 * 32);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().step(), 30);
  EXPECT_EQ(progress.back().total_steps(), 30);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult after,
                                executor_.Evaluate(EvaluateTask(tuned.model_digest()), {}));
  EXPECT_LT(after.loss(), before.loss());
  EXPECT_GT(after.accuracy(), before.accuracy());

  // The same task again: the same bytes.
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult again,
                                executor_.FineTune(testing::FineTuneTask(seed, 30), {}));
  EXPECT_EQ(again.model_digest(), tuned.model_digest());
  // Another per-task seed: another data order, other weights.
  v1::FineTuneTask other = testing::FineTuneTask(seed, 30);
  other.mutable_header()->set_seed(8);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult other_result, executor_.FineTune(other, {}));
  EXPECT_NE(other_result.model_digest(), tuned.model_digest());
}

TEST_F(TaskExecutorTest, SimplifyIsDeterministic) {
  const std::string seed = SeedModel();
  const v1::SimplifyTask task = SimplifyTask(seed, 1, 1e5, v1::RESOURCE_TYPE_FLOPS);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult a, executor_.Simplify(task, {}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult b, executor_.Simplify(task, {}));
  EXPECT_EQ(a.model_digest(), b.model_digest());
}

TEST_F(TaskExecutorTest, EvaluateCountsTheSplit) {
  const std::string seed = SeedModel();
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult held_out,
                                executor_.Evaluate(EvaluateTask(seed), {}));
  EXPECT_EQ(held_out.examples(), 64);
  EXPECT_GE(held_out.accuracy(), 0);
  EXPECT_LE(held_out.accuracy(), 1);
  EXPECT_GT(held_out.loss(), 0);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult test,
                                executor_.Evaluate(EvaluateTask(seed, v1::EvaluateTask::TEST), {}));
  EXPECT_EQ(test.examples(), 128);
  v1::EvaluateTask no_holdout = EvaluateTask(seed);
  no_holdout.set_holdout_size(0);
  EXPECT_THAT(executor_.Evaluate(no_holdout, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holdout_size")));
}

TEST_F(TaskExecutorTest, FineTuneBadInputFailsTheTask) {
  const std::string seed = SeedModel();
  v1::FineTuneTask task = testing::FineTuneTask(seed, 5);
  task.set_dataset("cifar10:/nonexistent/cifar-10-batches-bin");
  EXPECT_THAT(executor_.FineTune(task, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset")));
  task.set_dataset("imagenet:/data");
  EXPECT_THAT(executor_.FineTune(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset")));
  task = testing::FineTuneTask(seed, 5);
  task.set_holdout_size(-1);
  EXPECT_THAT(executor_.FineTune(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holdout_size")));
  task = testing::FineTuneTask(seed, 0);
  EXPECT_THAT(executor_.FineTune(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("steps")));
  // A dataset whose images do not fit the model.
  task = testing::FineTuneTask(seed, 5);
  task.set_dataset("synthetic:classes=4,shape=3x16x16,train=64,test=16");
  task.set_holdout_size(16);
  EXPECT_THAT(executor_.FineTune(task, {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The synthetic set of kDataset written out as an image folder of PNG files.
class ImageFolderTaskTest : public TaskExecutorTest {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("task_executor_image_folder_", ::getpid());
    std::filesystem::remove_all(dir_);
    common::SyntheticDatasetOptions options;
    options.num_classes = 4;
    options.channels = 1;
    options.height = 16;
    options.width = 16;
    options.train_size = 192;
    options.test_size = 40;
    NETADAPT_ASSERT_OK_AND_ASSIGN(const common::DatasetSplits data,
                                  common::MakeSyntheticDataset(options));
    for (const auto& [split, images] :
         {std::pair<const char*, const common::ImageDataset*>{"train", &data.train},
          {"val", &data.test}}) {
      for (int64_t i = 0; i < images->size(); ++i) {
        const std::filesystem::path folder =
            dir_ / split / absl::StrCat("class", images->labels[i]);
        std::filesystem::create_directories(folder);
        common::Image image;
        image.width = 16;
        image.height = 16;
        image.channels = 1;
        image.pixels.assign(images->Image(i), images->Image(i) + 256);
        NETADAPT_ASSERT_OK_AND_ASSIGN(const std::string png, common::EncodePng(image));
        std::ofstream(folder / absl::StrCat(i, ".png"), std::ios::binary) << png;
      }
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Spec(absl::string_view extra = "") const {
    return absl::StrCat("imagefolder:", dir_.string(),
                        ",channels=1,random_resized_crop=0,flip=0,mean=0.5,std=0.25", extra);
  }

  std::filesystem::path dir_;
};

TEST_F(ImageFolderTaskTest, FineTunesAndEvaluatesOnTheFolder) {
  const std::string seed = SeedModel();
  v1::EvaluateTask evaluate = EvaluateTask(seed);
  evaluate.set_dataset(Spec());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult before, executor_.Evaluate(evaluate, {}));
  EXPECT_EQ(before.examples(), 64);

  v1::FineTuneTask task = testing::FineTuneTask(seed, 30);
  task.set_dataset(Spec());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult tuned, executor_.FineTune(task, {}));
  EXPECT_EQ(tuned.examples(), 30 * 32);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult again, executor_.FineTune(task, {}));
  EXPECT_EQ(again.model_digest(), tuned.model_digest());

  evaluate.set_model_digest(tuned.model_digest());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult after, executor_.Evaluate(evaluate, {}));
  EXPECT_LT(after.loss(), before.loss());
  EXPECT_GT(after.accuracy(), before.accuracy());
  evaluate.set_split(v1::EvaluateTask::TEST);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult test, executor_.Evaluate(evaluate, {}));
  EXPECT_EQ(test.examples(), 40);
}

TEST_F(ImageFolderTaskTest, BadFoldersAndCorruptFilesFailTheTaskNamingThem) {
  const std::string seed = SeedModel();
  v1::FineTuneTask task = testing::FineTuneTask(seed, 6);
  std::filesystem::create_directories(dir_ / "train" / "class9");
  task.set_dataset(Spec());
  EXPECT_THAT(executor_.FineTune(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("dataset"), HasSubstr("class9"))));
  std::filesystem::remove_all(dir_ / "train" / "class9");

  const std::string broken = (dir_ / "train" / "class0" / "0.png").string();
  std::ofstream(broken, std::ios::binary | std::ios::trunc) << "\x89PNG\r\n\x1a\n truncated";
  // The folder takes its size from this first training image: the task fails at once.
  EXPECT_THAT(executor_.FineTune(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(broken)));
  // Skipped: left out of training (6 steps of 32 cover the 128 training images) or of the
  // held-out evaluation, whichever split it fell in.
  task.set_dataset(Spec(",skip_corrupt=1"));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult tuned, executor_.FineTune(task, {}));
  v1::EvaluateTask evaluate = EvaluateTask(tuned.model_digest());
  evaluate.set_dataset(task.dataset());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult evaluated, executor_.Evaluate(evaluate, {}));
  EXPECT_GT((6 * 32 - tuned.examples()) + (64 - evaluated.examples()), 0);
  EXPECT_LE(tuned.examples(), 6 * 32);
  // The results say so, for the job: the reads left out and the file, by path.
  EXPECT_EQ(tuned.skipped_images() + evaluated.skipped_images(),
            (6 * 32 - tuned.examples()) + (64 - evaluated.examples()));
  EXPECT_THAT(evaluated.skipped_files(), ::testing::ElementsAre(broken));
}

TEST_F(TaskExecutorTest, FineTuneStopsWhenCancelled) {
  const std::string seed = SeedModel();
  int polls = 0;
  TaskContext context;
  context.cancelled = [&] { return ++polls > 3; };
  EXPECT_THAT(executor_.FineTune(testing::FineTuneTask(seed, 1000), context),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_LT(polls, 10);
}

TEST_F(TaskExecutorTest, PretrainFromJsonIsReproducible) {
  v1::PretrainTask task;
  *task.mutable_header() = Header();
  task.set_network_json(common::NetworkDefToJson(SmallCnn()));
  *task.mutable_training() = testing::FineTuneTask("", 0);
  task.mutable_training()->set_epochs(1);
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult a, executor_.Pretrain(task, {}));
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult b, executor_.Pretrain(task, {}));
  EXPECT_EQ(a.model_digest(), b.model_digest());
  EXPECT_EQ(a.examples(), (384 - 64) / 32 * 32);  // one epoch of full batches
  NETADAPT_ASSERT_OK_AND_ASSIGN(engine::Model model, Load(a.model_digest()));
  EXPECT_EQ(model.def().name, "small_cnn");

  // From a stored model instead.
  task.clear_network_json();
  task.set_model_digest(a.model_digest());
  NETADAPT_ASSERT_OK_AND_ASSIGN(v1::TaskResult c, executor_.Pretrain(task, {}));
  EXPECT_NE(c.model_digest(), a.model_digest());

  task.clear_model_digest();
  EXPECT_THAT(executor_.Pretrain(task, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  task.set_network_json("{\"name\": 3}");
  EXPECT_THAT(executor_.Pretrain(task, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("network_json")));
}

TEST_F(TaskExecutorTest, CachesArtifactsByDigest) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/worker_cache_", getpid());
  NETADAPT_ASSERT_OK_AND_ASSIGN(std::unique_ptr<common::ArtifactStore> cache,
                                common::ArtifactStore::Open(dir));
  TaskExecutorOptions options = Options();
  options.cache = cache.get();
  TaskExecutor executor(&master_, options);
  const std::string seed = SeedModel();
  NETADAPT_ASSERT_OK_AND_ASSIGN(
      v1::TaskResult simplified,
      executor.Simplify(SimplifyTask(seed, 0, 1e9, v1::RESOURCE_TYPE_FLOPS), {}));
  EXPECT_EQ(master_.fetches(), 1);
  ASSERT_THAT(executor.Evaluate(EvaluateTask(seed), {}), IsOk());
  // The simplified model was put, so it is cached too.
  ASSERT_THAT(executor.Evaluate(EvaluateTask(simplified.model_digest()), {}), IsOk());
  EXPECT_EQ(master_.fetches(), 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace netadapt::worker
