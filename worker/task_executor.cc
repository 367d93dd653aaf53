#include "worker/task_executor.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/batch_filler.h"
#include "common/dataset.h"
#include "common/dataset_random.h"
#include "common/dataset_spec.h"
#include "common/image_folder.h"
#include "common/certified_search.h"
#include "common/file_util.h"
#include "common/filter_search.h"
#include "common/logging.h"
#include "common/network_blocks.h"
#include "common/network_def_json.h"
#include "common/resource_model.h"
#include "common/resource_type_proto.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/torch/checkpoint.h"
#include "common/torch/device.h"
#include "common/torch/model.h"
#include "common/torch/pruning.h"
#include "common/torch/state_dict_import.h"
#include "common/torch/training.h"

namespace netadapt::worker {

struct TaskExecutor::LoadedDataset {
  // In memory (every kind but imagefolder).
  common::DatasetSplits splits;
  // Of the whole training set: the same normalisation for every split and every
  // task.
  common::ChannelStats stats;
  // An image folder, decoded on demand with its own transforms (splits empty).
  std::unique_ptr<const common::ImageFolder> folder;

  int64_t train_size() const { return folder ? folder->train().size() : splits.train.size(); }
  const std::string& train_name() const {
    return folder ? folder->train().name() : splits.train.name;
  }
};

// One dataset spec's entry: loaded at most once; concurrent tasks wanting it
// wait on `mu` while one loads, tasks wanting other specs do not.
struct TaskExecutor::DatasetSlot {
  absl::Mutex mu;
  std::shared_ptr<const LoadedDataset> dataset ABSL_GUARDED_BY(mu);
};

namespace {

std::shared_ptr<spdlog::logger> Log() { return common::Logger("worker"); }

// At most this many skipped paths travel in a TaskResult: the count says how many there are,
// a user needs only a few names to find the problem.
constexpr size_t kMaxSkippedFiles = 1000;

// Records in `result` what an image folder left out as unreadable: `skipped` images during the
// task, and the distinct files the folder has left out so far. Nothing for in-memory datasets.
void RecordSkipped(const common::ImageFolder* folder, int64_t skipped, v1::TaskResult& result) {
  result.set_skipped_images(skipped);
  if (folder == nullptr) return;
  std::vector<std::string> paths = folder->skipped_paths();
  std::sort(paths.begin(), paths.end());
  if (paths.size() > kMaxSkippedFiles) paths.resize(kMaxSkippedFiles);
  for (std::string& path : paths) result.add_skipped_files(std::move(path));
}

// `status` with `prefix` before its message, same code.
absl::Status Prefixed(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

std::string TaskName(const v1::TaskHeader& header, absl::string_view kind) {
  return absl::StrCat(header.job(), " iteration ", header.iteration(), " block ", header.block(),
                      " ", kind, " (attempt ", header.attempt_id(), ")");
}

bool IsCancelled(const TaskContext& context) { return context.cancelled && context.cancelled(); }

absl::Status CheckCancelled(const TaskContext& context, absl::string_view what) {
  if (IsCancelled(context)) return absl::CancelledError(absl::StrCat(what, " cancelled"));
  return absl::OkStatus();
}

void Report(const TaskContext& context, int64_t step, int64_t total, std::string message) {
  if (!context.on_progress) return;
  v1::TaskProgress progress;
  progress.set_step(step);
  progress.set_total_steps(total);
  progress.set_message(std::move(message));
  context.on_progress(progress);
}

// LATENCY from the master's LUT for one task. Answers are cached for the task's
// life; Prefetch asks for many shapes in one round trip, so the search itself
// (hundreds of LayerCost calls) costs no RPC at all. No LowerBound: the exact
// search then evaluates candidates, which is free once they are cached. As a
// MeasuredLatencySource, each Measure or Estimate is one round trip (per
// max_shapes shapes).
class MasterLatencyModel final : public common::ResourceModel,
                                 public common::MeasuredLatencySource {
 public:
  MasterLatencyModel(MasterConnection* master, std::string job, int max_shapes)
      : master_(master), job_(std::move(job)), max_shapes_(std::max(1, max_shapes)) {}

  // Asks the master for every shape of `shapes` not cached yet.
  absl::Status Prefetch(const std::vector<common::LayerShape>& shapes) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<common::LayerShape> missing;
    {
      absl::MutexLock lock(&mu_);
      absl::flat_hash_set<common::LayerShape> seen;
      for (const common::LayerShape& shape : shapes) {
        if (!cache_.contains(shape) && seen.insert(shape).second) missing.push_back(shape);
      }
    }
    for (size_t begin = 0; begin < missing.size(); begin += max_shapes_) {
      const size_t end = std::min(missing.size(), begin + max_shapes_);
      std::vector<common::LayerShape> batch(missing.begin() + begin, missing.begin() + end);
      NETADAPT_ASSIGN_OR_RETURN(std::vector<double> latencies, Lookup(batch));
      absl::MutexLock lock(&mu_);
      for (size_t i = 0; i < batch.size(); ++i) cache_[batch[i]] = latencies[i];
    }
    return absl::OkStatus();
  }

  absl::StatusOr<double> LayerCost(const common::LayerShape& shape) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      auto it = cache_.find(shape);
      if (it != cache_.end()) return it->second;
    }
    NETADAPT_ASSIGN_OR_RETURN(std::vector<double> latency, Lookup({shape}));
    absl::MutexLock lock(&mu_);
    cache_[shape] = latency[0];
    return latency[0];
  }

  absl::StatusOr<std::vector<double>> Measure(const std::vector<common::LayerShape>& shapes)
      override ABSL_LOCKS_EXCLUDED(mu_) {
    NETADAPT_RETURN_IF_ERROR(Prefetch(shapes));
    absl::MutexLock lock(&mu_);
    std::vector<double> latencies;
    latencies.reserve(shapes.size());
    for (const common::LayerShape& shape : shapes) latencies.push_back(cache_.at(shape));
    return latencies;
  }

  // Estimates are not cached: the master's table grows as the search measures.
  absl::StatusOr<std::vector<double>> Estimate(const std::vector<common::LayerShape>& shapes)
      override ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<double> latencies(shapes.size(), -1);
    std::vector<common::LayerShape> unknown;
    std::vector<size_t> where;
    {
      absl::MutexLock lock(&mu_);
      for (size_t i = 0; i < shapes.size(); ++i) {
        auto it = cache_.find(shapes[i]);
        if (it != cache_.end()) {
          latencies[i] = it->second;
        } else {
          unknown.push_back(shapes[i]);
          where.push_back(i);
        }
      }
    }
    for (size_t begin = 0; begin < unknown.size(); begin += max_shapes_) {
      const size_t end = std::min(unknown.size(), begin + max_shapes_);
      std::vector<common::LayerShape> batch(unknown.begin() + begin, unknown.begin() + end);
      {
        absl::MutexLock lock(&mu_);
        ++round_trips_;
      }
      absl::StatusOr<std::vector<double>> estimates = master_->EstimateLatency(job_, batch);
      if (!estimates.ok()) return Prefixed(estimates.status(), "EstimateLatency");
      if (estimates->size() != batch.size()) {
        return absl::InternalError(absl::StrCat("EstimateLatency: asked for ", batch.size(),
                                                " shapes, got ", estimates->size(), " latencies"));
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!std::isfinite((*estimates)[i]) || (*estimates)[i] < 0) {
          return absl::InternalError(absl::StrCat("EstimateLatency: invalid latency ",
                                                  (*estimates)[i], " for ",
                                                  batch[i].DebugString()));
        }
        latencies[where[begin + i]] = (*estimates)[i];
      }
    }
    return latencies;
  }

  // Whether the master estimates for this job: false from an older master (Unimplemented)
  // and for a job whose LUT is interpolated rather than measured (FailedPrecondition). One
  // round trip with no shapes.
  absl::StatusOr<bool> EstimatesOffered() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      ++round_trips_;
    }
    absl::StatusOr<std::vector<double>> none = master_->EstimateLatency(job_, {});
    if (none.ok()) return true;
    if (none.status().code() == absl::StatusCode::kUnimplemented ||
        none.status().code() == absl::StatusCode::kFailedPrecondition) {
      return false;
    }
    return Prefixed(none.status(), "EstimateLatency");
  }

  int64_t round_trips() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return round_trips_;
  }

 private:
  absl::StatusOr<std::vector<double>> Lookup(const std::vector<common::LayerShape>& shapes)
      ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      ++round_trips_;
    }
    absl::StatusOr<std::vector<double>> latencies = master_->LookupLatency(job_, shapes);
    if (!latencies.ok()) return Prefixed(latencies.status(), "LookupLatency");
    if (latencies->size() != shapes.size()) {
      return absl::InternalError(absl::StrCat("LookupLatency: asked for ", shapes.size(),
                                              " shapes, got ", latencies->size(), " latencies"));
    }
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (!std::isfinite((*latencies)[i]) || (*latencies)[i] < 0) {
        return absl::InternalError(absl::StrCat("LookupLatency: invalid latency ", (*latencies)[i],
                                                " for ", shapes[i].DebugString()));
      }
    }
    return latencies;
  }

  MasterConnection* const master_;
  const std::string job_;
  const size_t max_shapes_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<common::LayerShape, double> cache_ ABSL_GUARDED_BY(mu_);
  int64_t round_trips_ ABSL_GUARDED_BY(mu_) = 0;
};

// Every layer shape the search for `block` can cost: the network's own shapes
// and those of every candidate width (the block's producers, the depthwise convs
// and consumers of its channels change).
std::vector<common::LayerShape> SearchShapes(const common::NetworkDef& network,
                                             const common::Block& block, int channel_step,
                                             const common::CostContext& context) {
  std::vector<common::LayerShape> shapes;
  absl::flat_hash_set<common::LayerShape> seen;
  auto add = [&](const common::NetworkDef& def) {
    absl::StatusOr<std::vector<common::CostedLayer>> layers = common::CostedLayers(def, context);
    if (!layers.ok()) return;  // the search reports it
    for (const common::CostedLayer& layer : *layers) {
      if (seen.insert(layer.shape).second) shapes.push_back(layer.shape);
    }
  };
  add(network);
  const int width = block.width;
  for (int candidate :
       common::CandidateWidths(width, channel_step, common::MinCandidateWidth(block))) {
    if (candidate != width) add(common::WithBlockWidth(network, block, candidate));
  }
  return shapes;
}

absl::StatusOr<common::SearchStrategy> StrategyOf(v1::SearchStrategy strategy) {
  switch (strategy) {
    case v1::SEARCH_STRATEGY_UNSPECIFIED:
    case v1::SEARCH_STRATEGY_EXACT:
      return common::SearchStrategy::kExact;
    case v1::SEARCH_STRATEGY_LINEAR:
      return common::SearchStrategy::kLinear;
    case v1::SEARCH_STRATEGY_BINARY:
      return common::SearchStrategy::kBinary;
    default:
      return absl::InvalidArgumentError(absl::StrCat("search: unknown strategy ", strategy));
  }
}

// The images a task trains on and the held-out ones. The split's seed derives
// from the JOB's seed (TaskHeader.job_seed), never from the per-task
// header.seed: all tasks of a job, on every worker, must hold out the same
// images, or accuracy would be measured on images another proposal was
// fine-tuned on.
absl::StatusOr<common::HeldOutSplit> Split(int64_t train_size, const std::string& train_name,
                                           int64_t holdout_size, uint64_t job_seed) {
  if (holdout_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("holdout_size: must be >= 0, got ", holdout_size));
  }
  if (train_size < 2) {
    return absl::InvalidArgumentError(absl::StrCat("holdout_size: ", train_name, " has ",
                                                   train_size, " images, too few to split"));
  }
  // The job's default (10,000, the original's) assumes CIFAR-sized sets: never hold out more
  // than half of the training images (JobSpec.holdout_size documents this).
  holdout_size = std::min(holdout_size, train_size / 2);
  return common::SplitHeldOut(train_size, holdout_size,
                              common::DeriveSeed(job_seed, kHeldOutSplitStream));
}

}  // namespace

TaskExecutor::TaskExecutor(MasterConnection* master, TaskExecutorOptions options)
    : master_(master), options_(std::move(options)) {
  NETADAPT_CHECK(!options_.devices.empty());
}

TaskExecutor::~TaskExecutor() = default;

absl::StatusOr<std::string> TaskExecutor::TaskDevice(const v1::TaskHeader& header) const {
  const std::string device = header.device().empty() ? options_.devices[0] : header.device();
  if (std::find(options_.devices.begin(), options_.devices.end(), device) ==
      options_.devices.end()) {
    return absl::FailedPreconditionError(absl::StrCat("header.device: this worker has no device ",
                                                      device, " (it has ",
                                                      absl::StrJoin(options_.devices, ", "), ")"));
  }
  NETADAPT_RETURN_IF_ERROR(Prefixed(engine::CheckDevice(device), "header.device"));
  return device;
}

absl::StatusOr<std::string> TaskExecutor::Fetch(absl::string_view digest, absl::string_view field) {
  NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(digest, field));
  if (options_.cache != nullptr && options_.cache->Contains(digest)) {
    absl::StatusOr<std::string> cached = options_.cache->Get(digest);
    if (cached.ok()) return cached;
    // A damaged cache entry is fetched again (and overwritten below).
    Log()->warn("artifact cache: {}; fetching {} again", cached.status().ToString(),
                std::string(digest));
  }
  absl::StatusOr<std::string> bytes = master_->FetchArtifact(digest);
  if (!bytes.ok()) return Prefixed(bytes.status(), absl::StrCat(field, " ", digest));
  if (common::Sha256Hex(*bytes) != digest) {
    return absl::DataLossError(absl::StrCat(field, " ", digest,
                                            ": the master sent bytes that "
                                            "hash to something else"));
  }
  if (options_.cache != nullptr) {
    absl::StatusOr<std::string> stored = options_.cache->Put(*bytes);
    if (!stored.ok()) Log()->warn("artifact cache: {}", stored.status().ToString());
  }
  return bytes;
}

absl::StatusOr<std::string> TaskExecutor::Put(absl::string_view content) {
  absl::StatusOr<std::string> digest = master_->PutArtifact(content);
  if (!digest.ok()) return Prefixed(digest.status(), "PutArtifact");
  if (options_.cache != nullptr) {
    absl::StatusOr<std::string> stored = options_.cache->Put(content);
    if (!stored.ok()) Log()->warn("artifact cache: {}", stored.status().ToString());
  }
  return digest;
}

absl::StatusOr<engine::Model> TaskExecutor::LoadModel(absl::string_view digest,
                                                      absl::string_view field,
                                                      const std::string& device) {
  NETADAPT_ASSIGN_OR_RETURN(std::string bytes, Fetch(digest, field));
  return engine::ParseCheckpoint(bytes, device, absl::StrCat(field, " ", digest));
}

absl::StatusOr<std::shared_ptr<const TaskExecutor::LoadedDataset>> TaskExecutor::Dataset(
    absl::string_view spec_string, absl::string_view field) {
  absl::StatusOr<common::DatasetSpec> spec = common::ParseDatasetSpec(spec_string);
  if (!spec.ok()) return Prefixed(spec.status(), field);
  const std::string key = common::FormatDatasetSpec(*spec);
  std::shared_ptr<DatasetSlot> slot;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<DatasetSlot>& entry = datasets_[key];
    if (entry == nullptr) entry = std::make_shared<DatasetSlot>();
    slot = entry;
  }
  absl::MutexLock lock(&slot->mu);
  if (slot->dataset != nullptr) return slot->dataset;
  // A failed load is not remembered: the files may appear on this worker later.
  const absl::Time start = absl::Now();
  if (spec->kind == common::DatasetKind::kImageFolder) {
    // Scanned and checked now (classes, empty folders); images are decoded per batch.
    absl::StatusOr<std::unique_ptr<common::ImageFolder>> folder =
        common::ImageFolder::Open(spec->directory, spec->image_folder, spec->limits);
    if (!folder.ok()) return Prefixed(folder.status(), absl::StrCat(field, " ", spec_string));
    auto loaded = std::make_shared<LoadedDataset>();
    loaded->folder = *std::move(folder);
    Log()->info("opened image folder {}: {} classes, {} training and {} test images, {}x{}x{} "
                "inputs, in {:.2f} s",
                key, loaded->folder->classes().size(), loaded->folder->train().size(),
                loaded->folder->test().size(), loaded->folder->options().channels,
                loaded->folder->height(), loaded->folder->width(),
                absl::ToDoubleSeconds(absl::Now() - start));
    slot->dataset = loaded;
    return slot->dataset;
  }
  absl::StatusOr<common::DatasetSplits> splits = common::LoadDataset(*spec);
  if (!splits.ok()) return Prefixed(splits.status(), absl::StrCat(field, " ", spec_string));
  auto loaded = std::make_shared<LoadedDataset>();
  loaded->splits = *std::move(splits);
  loaded->stats = common::ComputeChannelStats(loaded->splits.train);
  Log()->info(
      "loaded dataset {}: {} training and {} test images of {}x{}x{} in {:.2f} "
      "s",
      key, loaded->splits.train.size(), loaded->splits.test.size(), loaded->splits.train.channels,
      loaded->splits.train.height, loaded->splits.train.width,
      absl::ToDoubleSeconds(absl::Now() - start));
  slot->dataset = loaded;
  return slot->dataset;
}

absl::StatusOr<v1::TaskResult> TaskExecutor::Simplify(const v1::SimplifyTask& task,
                                                      const TaskContext& context) {
  const std::string name = TaskName(task.header(), "simplify");
  constexpr int64_t kSteps = 4;  // fetch, search, prune, upload
  NETADAPT_ASSIGN_OR_RETURN(const std::string device, TaskDevice(task.header()));
  if (task.block_widths_size() > 0) return PruneToWidths(task, device, context);
  if (!std::isfinite(task.target_resource())) {
    return absl::InvalidArgumentError("target_resource: must be finite");
  }
  if (task.channel_step() < 0 || task.binary_threshold() < 0) {
    return absl::InvalidArgumentError("channel_step and binary_threshold: must be >= 0");
  }
  common::SearchOptions search_options;
  NETADAPT_ASSIGN_OR_RETURN(search_options.strategy, StrategyOf(task.search()));
  if (task.channel_step() > 0) search_options.channel_step = task.channel_step();
  if (task.binary_threshold() > 0) search_options.binary_threshold = task.binary_threshold();

  Report(context, 0, kSteps, "fetching the model");
  NETADAPT_ASSIGN_OR_RETURN(engine::Model model,
                            LoadModel(task.model_digest(), "model_digest", device));
  NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));
  const common::NetworkDef& network = model.def();
  NETADAPT_ASSIGN_OR_RETURN(const common::BlockSearch search,
                            common::BlockSearch::Create(network, search_options));
  if (task.block() < 0 || task.block() >= search.num_blocks()) {
    return absl::InvalidArgumentError(absl::StrCat("block: ", task.block(), " is out of range [0, ",
                                                   search.num_blocks(), ") for network ",
                                                   network.name));
  }

  Report(context, 1, kSteps, absl::StrCat("searching block ", task.block()));
  std::unique_ptr<common::ResourceModel> resource_model;
  MasterLatencyModel* latency_model = nullptr;
  NETADAPT_ASSIGN_OR_RETURN(const common::ResourceType resource_type,
                            common::ResourceTypeFromProto(task.resource_type()));
  if (resource_type == common::ResourceType::kLatency) {
    if (task.header().job().empty()) {
      return absl::InvalidArgumentError("header.job: required for LATENCY (LookupLatency)");
    }
    auto latency = std::make_unique<MasterLatencyModel>(master_, task.header().job(),
                                                        options_.max_lookup_shapes);
    latency_model = latency.get();
    resource_model = std::move(latency);
  } else {
    resource_model = std::make_unique<common::AnalyticResourceModel>(resource_type);
  }
  // A measured LUT: ask the device only for what certifies the answer (issue 15); each
  // measurement costs the profiler agent 10 ms to a second, a round trip milliseconds. The
  // search stays on the worker (DESIGN.md): the master only adds estimates from its table.
  std::optional<common::SearchResult> certified;
  if (latency_model != nullptr && search_options.strategy != common::SearchStrategy::kBinary) {
    NETADAPT_ASSIGN_OR_RETURN(const bool offered, latency_model->EstimatesOffered());
    if (offered) {
      NETADAPT_ASSIGN_OR_RETURN(certified, common::CertifiedSimplifyBlock(
                                               search, task.block(), task.target_resource(),
                                               *latency_model,
                                               common::CertifyOptions{
                                                   task.has_certify_tolerance()
                                                       ? task.certify_tolerance()
                                                       : options_.latency_tolerance}));
    }
  }
  if (latency_model != nullptr && !certified) {
    // Interpolated LUTs (no device to spare) and masters without EstimateLatency: every
    // shape the search can need, in one round trip.
    NETADAPT_ASSIGN_OR_RETURN(std::vector<common::Block> blocks, common::FindBlocks(network));
    NETADAPT_RETURN_IF_ERROR(latency_model->Prefetch(SearchShapes(
        network, blocks[task.block()], search_options.channel_step, search_options.context)));
  }
  NETADAPT_ASSIGN_OR_RETURN(
      const common::SearchResult found,
      certified ? absl::StatusOr<common::SearchResult>(*certified)
                : search.SimplifyBlock(task.block(), task.target_resource(), *resource_model));
  NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));

  Report(context, 2, kSteps, absl::StrCat("pruning block ", task.block(), " to ", found.width));
  NETADAPT_ASSIGN_OR_RETURN(engine::PruneResult pruned,
                            engine::PruneBlock(model, task.block(), found.width));
  NETADAPT_ASSIGN_OR_RETURN(const std::string bytes, engine::SerializeCheckpoint(pruned.model));
  NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));

  Report(context, 3, kSteps, "uploading the model");
  NETADAPT_ASSIGN_OR_RETURN(const std::string digest, Put(bytes));
  Report(context, kSteps, kSteps, "done");

  v1::TaskResult result;
  result.set_model_digest(digest);
  result.set_width(found.width);
  result.set_resource(found.resource);
  result.set_meets_target(found.meets_target);
  for (int32_t width : common::Widths(pruned.model.def())) result.add_widths(width);
  Log()->info("[{}] width {} resource {:.6g} (target {:.6g}{}){}", name, found.width,
              found.resource, task.target_resource(), found.meets_target ? "" : ", NOT met",
              latency_model == nullptr ? ""
              : certified
                  ? absl::StrCat(", ", latency_model->round_trips(), " latency round trips, ",
                                 found.stats.resource_computations, " candidates measured")
                  : absl::StrCat(", ", latency_model->round_trips(), " LookupLatency calls"));
  return result;
}

absl::StatusOr<v1::TaskResult> TaskExecutor::PruneToWidths(const v1::SimplifyTask& task,
                                                           const std::string& device,
                                                           const TaskContext& context) {
  const std::string name = TaskName(task.header(), "simplify");
  const int64_t total = task.block_widths_size() + 2;  // fetch, each block, upload
  Report(context, 0, total, "fetching the model");
  NETADAPT_ASSIGN_OR_RETURN(engine::Model model,
                            LoadModel(task.model_digest(), "model_digest", device));
  NETADAPT_ASSIGN_OR_RETURN(std::vector<common::Block> blocks, common::FindBlocks(model.def()));
  if (task.block_widths_size() != static_cast<int>(blocks.size())) {
    return absl::InvalidArgumentError(absl::StrCat("block_widths: ", task.block_widths_size(),
                                                   " given for the ", blocks.size(),
                                                   " blocks of ", model.def().name));
  }
  for (int b = 0; b < task.block_widths_size(); ++b) {
    if (task.block_widths(b) < 1 || task.block_widths(b) > blocks[b].width) {
      return absl::InvalidArgumentError(absl::StrCat("block_widths[", b, "]: ",
                                                     task.block_widths(b), " is not in [1, ",
                                                     blocks[b].width, "]"));
    }
  }
  // Block by block, in order, each pruned as Simplify prunes one: its channels ranked on the
  // model as pruned so far. Indices of the other blocks do not move; a change of the groups
  // themselves (a depthwise conv left with one channel) is refused.
  for (int b = 0; b < task.block_widths_size(); ++b) {
    NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));
    Report(context, b + 1, total, absl::StrCat("pruning block ", b, " to ", task.block_widths(b)));
    if (blocks[b].width == task.block_widths(b)) continue;
    NETADAPT_ASSIGN_OR_RETURN(engine::PruneResult pruned,
                              engine::PruneBlock(model, b, task.block_widths(b)));
    model = std::move(pruned.model);
    NETADAPT_ASSIGN_OR_RETURN(blocks, common::FindBlocks(model.def()));
    if (static_cast<int>(blocks.size()) != task.block_widths_size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("block_widths[", b, "]: pruning block ", b, " to ", task.block_widths(b),
                       " changed the channel groups of ", model.def().name));
    }
  }
  NETADAPT_ASSIGN_OR_RETURN(const std::string bytes, engine::SerializeCheckpoint(model));
  NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));
  Report(context, total - 1, total, "uploading the model");
  NETADAPT_ASSIGN_OR_RETURN(const std::string digest, Put(bytes));
  Report(context, total, total, "done");
  v1::TaskResult result;
  result.set_model_digest(digest);
  result.set_meets_target(true);
  for (int32_t width : common::Widths(model.def())) result.add_widths(width);
  Log()->info("[{}] pruned to {}", name, common::WidthsString(model.def()));
  return result;
}

absl::StatusOr<v1::TaskResult> TaskExecutor::Train(const v1::TaskHeader& header,
                                                   const v1::FineTuneTask& training,
                                                   engine::Model& model,
                                                   const TaskContext& context) {
  const std::string name = TaskName(header, "training");
  if (training.epochs() < 0 || training.steps() < 0) {
    return absl::InvalidArgumentError("steps and epochs: must be >= 0");
  }
  if (training.epochs() == 0 && training.steps() == 0) {
    return absl::InvalidArgumentError("steps: must be positive (or epochs)");
  }
  if (training.batch_size() < 0 || training.learning_rate() < 0 || training.momentum() < 0 ||
      training.weight_decay() < 0) {
    return absl::InvalidArgumentError(
        "batch_size, learning_rate, momentum and weight_decay: must be >= 0");
  }
  NETADAPT_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedDataset> data,
                            Dataset(training.dataset(), "dataset"));
  NETADAPT_ASSIGN_OR_RETURN(const common::HeldOutSplit split,
                            Split(data->train_size(), data->train_name(), training.holdout_size(),
                                  header.job_seed()));
  NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));

  engine::SgdOptions sgd;
  // Zero means "unset" for batch size and rate (proto3): the spec's defaults.
  // Momentum and weight decay are taken as given (0 is meaningful); the master
  // fills the spec's defaults.
  if (training.batch_size() > 0) sgd.batch_size = training.batch_size();
  if (training.learning_rate() > 0) sgd.learning_rate = training.learning_rate();
  sgd.momentum = training.momentum();
  sgd.weight_decay = training.weight_decay();
  sgd.seed = header.seed();
  sgd.batch.mean = data->stats.mean;
  sgd.batch.std = data->stats.std;
  // Augmentation as the original's CIFAR-10 training: random crop with 4 pixels
  // of padding and horizontal flips, for 3-channel 32x32 images. None for
  // anything else (MNIST-like digits and garments must not be mirrored;
  // synthetic sets are learnt without it). An image folder's spec says its own.
  const common::ImageDataset& train = data->splits.train;
  if (!data->folder && train.channels == 3 && train.height == 32 && train.width == 32) {
    sgd.batch.crop_padding = 4;
    sgd.batch.horizontal_flip = true;
  }
  sgd.intra_op_threads = options_.intra_op_threads;
  sgd.loader.threads = options_.loader_threads;
  sgd.progress_every = options_.progress_every;
  sgd.on_progress = [&context](const engine::TrainProgress& p) {
    if (!context.on_progress) return;
    v1::TaskProgress progress;
    progress.set_step(p.step);
    progress.set_total_steps(p.total_steps);
    progress.set_loss(p.loss);
    progress.set_examples_per_second(p.examples_per_second);
    progress.set_message(absl::StrCat("epoch ", p.epoch, " lr ", p.learning_rate));
    context.on_progress(progress);
  };
  sgd.cancelled = [&context] { return IsCancelled(context); };

  absl::StatusOr<engine::TrainSummary> summary;
  if (training.epochs() > 0) {
    engine::LearningRateSchedule schedule;
    schedule.kind = engine::LearningRateSchedule::Kind::kCosine;
    summary = data->folder ? engine::Pretrain(model, data->folder->train(), split.train_indices,
                                              training.epochs(), schedule, sgd)
                           : engine::Pretrain(model, train, split.train_indices,
                                              training.epochs(), schedule, sgd);
  } else {
    summary = data->folder ? engine::FineTune(model, data->folder->train(), split.train_indices,
                                              training.steps(), sgd)
                           : engine::FineTune(model, train, split.train_indices,
                                              training.steps(), sgd);
  }
  if (!summary.ok()) {
    if (summary.status().code() == absl::StatusCode::kCancelled) return summary.status();
    return Prefixed(summary.status(), absl::StrCat("training on ", training.dataset()));
  }
  NETADAPT_ASSIGN_OR_RETURN(const std::string bytes, engine::SerializeCheckpoint(model));
  NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));
  NETADAPT_ASSIGN_OR_RETURN(const std::string digest, Put(bytes));

  v1::TaskResult result;
  result.set_model_digest(digest);
  result.set_loss(summary->final_loss);
  result.set_examples(summary->examples);
  result.set_seconds(summary->seconds);
  for (int32_t width : common::Widths(model.def())) result.add_widths(width);
  Log()->info("[{}] {} steps, loss {:.4f}, {:.0f} examples/s", name, summary->steps,
              summary->final_loss, summary->examples_per_second);
  if (summary->skipped > 0) {
    Log()->warn("[{}] {} images left out as corrupt (skip_corrupt); {} distinct files of {} so far",
                name, summary->skipped, data->folder->skipped_files(), training.dataset());
  }
  RecordSkipped(data->folder.get(), summary->skipped, result);
  return result;
}

absl::StatusOr<v1::TaskResult> TaskExecutor::FineTune(const v1::FineTuneTask& task,
                                                      const TaskContext& context) {
  NETADAPT_ASSIGN_OR_RETURN(const std::string device, TaskDevice(task.header()));
  Report(context, 0, std::max(task.steps(), int64_t{0}), "fetching the model");
  NETADAPT_ASSIGN_OR_RETURN(engine::Model model,
                            LoadModel(task.model_digest(), "model_digest", device));
  return Train(task.header(), task, model, context);
}

absl::StatusOr<v1::TaskResult> TaskExecutor::Pretrain(const v1::PretrainTask& task,
                                                      const TaskContext& context) {
  NETADAPT_ASSIGN_OR_RETURN(const std::string device, TaskDevice(task.header()));
  std::optional<engine::Model> model;
  if (!task.model_digest().empty() && !task.network_json().empty()) {
    // A user's seed weights for the job's network: our checkpoint, or a PyTorch state_dict
    // saved with torch.save (told apart by the checkpoint's magic).
    absl::StatusOr<common::NetworkDef> network = common::NetworkDefFromJson(task.network_json());
    if (!network.ok()) return Prefixed(network.status(), "network_json");
    Report(context, 0, 0, "fetching the weights");
    NETADAPT_ASSIGN_OR_RETURN(std::string bytes, Fetch(task.model_digest(), "model_digest"));
    if (absl::StartsWith(bytes, "NACKPT")) {
      NETADAPT_ASSIGN_OR_RETURN(
          model, engine::ParseCheckpoint(bytes, device,
                                         absl::StrCat("weights ", task.model_digest())));
      if (common::WidthsString(model->def()) != common::WidthsString(*network)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "weights: the checkpoint's network (", common::WidthsString(model->def()),
            ") is not the job's (", common::WidthsString(*network), ")"));
      }
    } else {
      // ImportStateDict reads a file: the bytes go through a private temporary one.
      const std::string path = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                            "/netadapt-weights-", ::getpid(), "-",
                                            task.model_digest().substr(0, 16), ".pt");
      NETADAPT_RETURN_IF_ERROR(common::WriteFileAtomically(path, bytes));
      absl::StatusOr<engine::Model> imported = engine::ImportStateDict(*network, path, device);
      std::remove(path.c_str());
      if (!imported.ok()) return Prefixed(imported.status(), "weights");
      model = *std::move(imported);
    }
  } else if (!task.model_digest().empty()) {
    Report(context, 0, 0, "fetching the model");
    NETADAPT_ASSIGN_OR_RETURN(model, LoadModel(task.model_digest(), "model_digest", device));
  } else if (!task.network_json().empty()) {
    absl::StatusOr<common::NetworkDef> network = common::NetworkDefFromJson(task.network_json());
    if (!network.ok()) return Prefixed(network.status(), "network_json");
    engine::ModelOptions model_options;
    model_options.device = device;
    model_options.seed = task.header().seed();
    NETADAPT_ASSIGN_OR_RETURN(model, engine::Model::Create(*network, model_options));
  } else {
    return absl::InvalidArgumentError("network_json or model_digest: one is required");
  }
  if (task.training().epochs() == 0) {
    // No pre-training: the seed network as it is (initialised or imported), as a checkpoint.
    NETADAPT_ASSIGN_OR_RETURN(const std::string bytes, engine::SerializeCheckpoint(*model));
    NETADAPT_ASSIGN_OR_RETURN(const std::string digest, Put(bytes));
    v1::TaskResult result;
    result.set_model_digest(digest);
    for (int32_t width : common::Widths(model->def())) result.add_widths(width);
    return result;
  }
  return Train(task.header(), task.training(), *model, context);
}

absl::StatusOr<v1::TaskResult> TaskExecutor::Evaluate(const v1::EvaluateTask& task,
                                                      const TaskContext& context) {
  const std::string name = TaskName(task.header(), "evaluate");
  NETADAPT_ASSIGN_OR_RETURN(const std::string device, TaskDevice(task.header()));
  Report(context, 0, 0, "fetching the model");
  NETADAPT_ASSIGN_OR_RETURN(engine::Model model,
                            LoadModel(task.model_digest(), "model_digest", device));
  NETADAPT_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedDataset> data,
                            Dataset(task.dataset(), "dataset"));
  NETADAPT_RETURN_IF_ERROR(CheckCancelled(context, name));

  const common::ImageDataset* images = nullptr;
  const common::ImageSource* source = nullptr;  // An image folder's split instead of `images`.
  std::vector<int64_t> indices;
  switch (task.split()) {
    case v1::EvaluateTask::SPLIT_UNSPECIFIED:
    case v1::EvaluateTask::HELD_OUT: {
      if (task.holdout_size() <= 0) {
        return absl::InvalidArgumentError(
            "holdout_size: must be positive to evaluate on the HELD_OUT split");
      }
      NETADAPT_ASSIGN_OR_RETURN(common::HeldOutSplit split,
                                Split(data->train_size(), data->train_name(), task.holdout_size(),
                                      task.header().job_seed()));
      images = &data->splits.train;
      if (data->folder) source = &data->folder->train();
      indices = std::move(split.held_out_indices);
      break;
    }
    case v1::EvaluateTask::TEST:
      images = &data->splits.test;
      indices = engine::AllIndices(data->splits.test);
      if (data->folder) {
        source = &data->folder->test();
        indices.resize(static_cast<size_t>(source->size()));
        std::iota(indices.begin(), indices.end(), int64_t{0});
      }
      if (indices.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("dataset ", task.dataset(), ": the test split is empty"));
      }
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("split: unknown value ", task.split()));
  }
  Report(context, 0, static_cast<int64_t>(indices.size()),
         absl::StrCat("evaluating on ", indices.size(), " images"));

  engine::EvalOptions eval;
  eval.mean = data->stats.mean;
  eval.std = data->stats.std;
  eval.intra_op_threads = options_.intra_op_threads;
  eval.loader.threads = options_.loader_threads;
  absl::StatusOr<engine::EvalResult> evaluated =
      source != nullptr ? engine::Evaluate(model, *source, indices, eval)
                        : engine::Evaluate(model, *images, indices, eval);
  if (!evaluated.ok()) {
    return Prefixed(evaluated.status(), absl::StrCat("evaluating on ", task.dataset()));
  }
  Report(context, evaluated->total, evaluated->total, "done");
  v1::TaskResult result;
  result.set_accuracy(evaluated->accuracy);
  result.set_loss(evaluated->loss);
  result.set_examples(evaluated->total);
  result.set_seconds(evaluated->seconds);
  for (int32_t width : common::Widths(model.def())) result.add_widths(width);
  Log()->info("[{}] accuracy {:.4f} loss {:.4f} on {} images", name, evaluated->accuracy,
              evaluated->loss, evaluated->total);
  if (evaluated->skipped > 0) {
    Log()->warn("[{}] {} images left out as corrupt (skip_corrupt); {} distinct files of {} so far",
                name, evaluated->skipped, data->folder->skipped_files(), task.dataset());
  }
  RecordSkipped(data->folder.get(), evaluated->skipped, result);
  return result;
}

}  // namespace netadapt::worker
