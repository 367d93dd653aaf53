#include "master/job_manager.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/dataset_spec.h"
#include "common/latency_table.h"
#include "common/latency_table_summary.h"
#include "common/logging.h"
#include "common/lut_interpolation.h"
#include "common/lut_latency_model.h"
#include "common/network_def_json.h"
#include "common/resource_model.h"
#include "common/resource_type_proto.h"
#include "common/status_macros.h"
#include "common/zoo.h"
#include "master/job_spec_groups.h"
#include "spdlog/spdlog.h"

namespace netadapt::master {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("spec.", field, ": ", problem));
}

absl::Status CheckRatio(absl::string_view field, double value) {
  if (!(value > 0 && value < 1)) {
    return Invalid(field, absl::StrCat(value, " is not in (0, 1)"));
  }
  return absl::OkStatus();
}

// Input shape and classes of a dataset spec, known without reading its files.
struct DatasetShape {
  int channels = 0;
  int size = 0;
  int classes = 0;
};

absl::StatusOr<DatasetShape> ShapeOf(const common::DatasetSpec& spec) {
  switch (spec.kind) {
    case common::DatasetKind::kCifar10:
      return DatasetShape{3, 32, 10};
    case common::DatasetKind::kMnist:
    case common::DatasetKind::kFashionMnist:
      return DatasetShape{1, 28, 10};
    case common::DatasetKind::kSynthetic:
      if (spec.synthetic.height != spec.synthetic.width) {
        return Invalid("dataset", "zoo models take square images; the synthetic shape is not");
      }
      return DatasetShape{spec.synthetic.channels, spec.synthetic.height,
                          spec.synthetic.num_classes};
    case common::DatasetKind::kImageFolder:
      // The folder is on the workers' disks: size and classes only as the spec states them
      // (0 when it does not; a zoo model then needs them, see Resolve).
      return DatasetShape{spec.image_folder.channels,
                          spec.image_folder.crop > 0 ? spec.image_folder.crop
                                                     : spec.image_folder.resize,
                          spec.image_folder.classes};
  }
  return absl::InternalError("unknown dataset kind");
}

// Drops the entries of `table` that cannot be trusted: those whose spread (p90/p10) exceeds
// the re-measure threshold (measured while other work shared the device, where every round was
// noisy) and bare numbers without statistics (saved by a master older than issue 15, which
// kept the median only: nothing tells a clean one from one measured 6x too high beside a
// training worker, as the demo's table of 2026-12-06 was). Dropped, they are measured again
// when a job needs them, with re-measuring. Returns how many.
int DropWideEntries(common::LatencyTable& table) {
  std::vector<common::LayerShape> wide;
  table.ForEach([&](const common::LayerShape& shape, const common::LatencyStats& stats) {
    const std::optional<double> spread = stats.Spread();
    if (!spread || *spread > common::RemeasurePolicy::kDefaultMaxSpread) wide.push_back(shape);
  });
  for (const common::LayerShape& shape : wide) table.Erase(shape);
  return static_cast<int>(wide.size());
}

// The shared LUT an earlier master saved at `path`, if it was measured where the profiler
// agent measures now (its wide entries dropped, see DropWideEntries); otherwise an empty table
// of `device`.
common::LatencyTable LoadSharedLut(const std::string& path,
                                   const std::optional<v1::DeviceFingerprint>& device) {
  const auto log = common::Logger("master");
  common::LatencyTable empty(device.value_or(v1::DeviceFingerprint()));
  if (!std::filesystem::exists(path)) return empty;
  absl::StatusOr<common::LatencyTable> loaded = common::ReadLatencyTable(path);
  if (!loaded.ok()) {
    // Not fatal: the entries are measured again (and the file rewritten).
    log->warn("ignoring the saved LUT: {}", loaded.status().ToString());
    return empty;
  }
  if (const int dropped = DropWideEntries(*loaded); dropped > 0) {
    log->info("the saved LUT {}: {} entries without statistics or with p90/p10 above {:.2f} "
              "dropped; measured again when a job needs them",
              path, dropped, common::RemeasurePolicy::kDefaultMaxSpread);
  }
  if (!device) {
    log->warn("using the saved LUT {} unchecked: the profiler agent did not describe its device "
              "at start", path);
    return *std::move(loaded);
  }
  if (loaded->device().device_name().empty()) {
    // Saved by a version that did not record the device: adopt the agent's from now on.
    v1::LatencyTable proto = loaded->ToProto();
    *proto.mutable_device() = *device;
    absl::StatusOr<common::LatencyTable> stamped = common::LatencyTable::FromProto(proto);
    if (stamped.ok()) return *std::move(stamped);
    return empty;
  }
  if (!common::SameDevice(loaded->device(), *device)) {
    const std::string aside =
        absl::StrCat(path, ".other-device-", absl::ToUnixSeconds(absl::Now()));
    std::error_code error;
    std::filesystem::rename(path, aside, error);
    log->warn("the saved LUT {} was measured on '{}' (power mode '{}'), the profiler agent is "
              "'{}' (power mode '{}'): set aside as {}{}; measuring afresh",
              path, loaded->device().device_name(), loaded->device().power_mode(),
              device->device_name(), device->power_mode(), aside,
              error ? absl::StrCat(" (rename failed: ", error.message(), ")") : "");
    return empty;
  }
  log->info("loaded the measured LUT {}: {}", path,
            common::FormatLatencyTableSummary(
                common::SummarizeLatencyTable(*loaded, common::RemeasurePolicy::kDefaultMaxSpread),
                loaded->device()));
  return *std::move(loaded);
}

}  // namespace

// Forwards to the profiler and adds every answer to a table written to `path` (atomically)
// after each batch: the shared LUT survives a restart of the master.
class JobManager::RecordingMeasurer final : public common::LatencyMeasurer {
 public:
  RecordingMeasurer(common::LatencyMeasurer* inner, std::string path, common::LatencyTable table)
      : inner_(inner), path_(std::move(path)), table_(std::move(table)) {}

  absl::StatusOr<std::vector<double>> MeasureMs(
      const std::vector<common::LayerShape>& shapes) override {
    NETADAPT_ASSIGN_OR_RETURN(std::vector<common::LatencyStats> stats,
                              Measure(shapes, /*force=*/false));
    std::vector<double> latencies;
    for (const common::LatencyStats& s : stats) latencies.push_back(s.median_ms);
    return latencies;
  }

  absl::StatusOr<std::vector<common::LatencyStats>> Measure(
      const std::vector<common::LayerShape>& shapes, bool force) override {
    NETADAPT_ASSIGN_OR_RETURN(std::vector<common::LatencyStats> stats,
                              inner_->Measure(shapes, force));
    // Written under the lock so that a later batch's file never loses to an earlier one;
    // batches are rare (each is a profiler round trip) and the table is small. The file keeps
    // the statistics and the agent's load, so the next master (or a user) can tell a noisy
    // entry from a clean one.
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < shapes.size() && i < stats.size(); ++i) {
      table_.Insert(shapes[i], stats[i]);
    }
    const absl::Status written =
        common::WriteLatencyTable(table_, path_, common::LatencyTableFormat::kBinary);
    if (!written.ok()) {
      common::Logger("master")->warn("saving the measured LUT: {}", written.ToString());
    }
    return stats;
  }

 private:
  common::LatencyMeasurer* const inner_;
  const std::string path_;
  absl::Mutex mu_;
  common::LatencyTable table_ ABSL_GUARDED_BY(mu_);
};

// Reports one lookup's wait for the profiler into its job (activity, abort at the limit).
class JobManager::JobWaitObserver final : public ProfilerWaitObserver {
 public:
  JobWaitObserver(JobManager& manager, const std::string& job, Running& running)
      : manager_(manager), job_(job), running_(running) {}

  void OnWaiting(const ProfilerOutage& outage) override {
    manager_.ShowWaiting(job_, running_, outage, /*first=*/!waited_);
    waited_ = true;
  }
  void OnAnswered(const ProfilerOutage& outage, absl::Duration waited) override {
    common::Logger("master")->info("[job={}] the profiler answers again; the lookup waited {} "
                                   "({} failed attempt(s) in the outage)",
                                   job_, absl::FormatDuration(waited), outage.failures);
  }
  void OnGaveUp(const absl::Status& reason) override { gave_up_ = reason; }

  bool waited() const { return waited_; }
  const absl::Status& gave_up() const { return gave_up_; }

 private:
  JobManager& manager_;
  const std::string& job_;
  Running& running_;
  bool waited_ = false;
  absl::Status gave_up_;
};

// A measuring job's resource model for its runner: lookups wait for the profiler as the
// workers' do (JobManager::Lookup).
class JobManager::WaitingModel final : public common::ResourceModel {
 public:
  WaitingModel(JobManager& manager, std::string job, Running& running)
      : manager_(manager), job_(std::move(job)), running_(running) {}

  absl::StatusOr<double> LayerCost(const common::LayerShape& shape) override {
    NETADAPT_ASSIGN_OR_RETURN(std::vector<double> latency,
                              manager_.Lookup(job_, running_, {shape}));
    return latency[0];
  }

 private:
  JobManager& manager_;
  const std::string job_;
  Running& running_;
};

JobManager::JobManager(JobStore& store, WorkerPool& pool, TaskRunner& tasks,
                       common::ArtifactStore& artifacts, common::LatencyMeasurer* measurer,
                       JobRunnerOptions options, std::string lut_path,
                       ProfilerWaitOptions profiler_wait,
                       std::optional<v1::DeviceFingerprint> profiler_device)
    : store_(store), pool_(pool), tasks_(tasks), artifacts_(artifacts), measurer_(measurer),
      options_(options) {
  if (measurer_ == nullptr) return;
  profiler_wait_ = std::make_unique<ProfilerWait>(std::move(profiler_wait));
  if (lut_path.empty()) {
    shared_oracle_ = LatencyOracle::Measuring(common::LatencyTable(), measurer_);
    return;
  }
  common::LatencyTable table = LoadSharedLut(lut_path, profiler_device);
  recording_ = std::make_unique<RecordingMeasurer>(measurer_, lut_path, table);
  shared_oracle_ = LatencyOracle::Measuring(std::move(table), recording_.get());
}

JobManager::~JobManager() { Shutdown(); }

void JobManager::Shutdown() {
  std::map<std::string, std::unique_ptr<Running>> running;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    running.swap(running_);
  }
  for (auto& [name, job] : running) job->cancellation.Shutdown();
  for (auto& [name, job] : running) {
    if (job->thread.joinable()) job->thread.join();
  }
  // The lookups in flight hold pointers into `running`; their jobs are cancelled, so they end.
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return lookups_in_flight_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

namespace {

absl::Status ShuttingDown() { return absl::UnavailableError("the master is shutting down"); }

}  // namespace

void JobManager::LookupLatencyAsync(
    std::string job, std::vector<common::LayerShape> shapes,
    std::function<void(absl::StatusOr<std::vector<double>>)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      done(ShuttingDown());
      return;
    }
    ++lookups_in_flight_;  // counted before the thread starts: Shutdown waits for it
  }
  std::thread([this, job = std::move(job), shapes = std::move(shapes), done = std::move(done)] {
    absl::StatusOr<std::vector<double>> latencies = LookupLatency(job, shapes);
    done(std::move(latencies));
    absl::MutexLock lock(&mu_);
    --lookups_in_flight_;
  }).detach();
}

absl::StatusOr<v1::JobSpec> JobManager::Resolve(const v1::JobSpec& input) const {
  v1::JobSpec spec = input;
  // The grouped options into their flat fields, which the checks and defaults below read.
  NETADAPT_RETURN_IF_ERROR(MergeSpecGroups(spec));
  // The dataset first: zoo models take their input shape and classes from it.
  if (spec.dataset().empty()) return Invalid("dataset", "is required");
  absl::StatusOr<common::DatasetSpec> dataset = common::ParseDatasetSpec(spec.dataset());
  if (!dataset.ok()) return Invalid("dataset", dataset.status().message());
  NETADAPT_ASSIGN_OR_RETURN(DatasetShape shape, ShapeOf(*dataset));

  const bool has_network = spec.network().layers_size() > 0;
  if (spec.model().empty() == !has_network) {
    return Invalid("model", "give exactly one of model (a zoo name) and network");
  }
  common::NetworkDef network;
  if (!spec.model().empty()) {
    common::ZooOptions zoo;
    zoo.input_size = spec.zoo().input_size() > 0 ? spec.zoo().input_size() : shape.size;
    zoo.input_channels = shape.channels;
    zoo.num_classes = shape.classes;
    zoo.width_multiplier = spec.zoo().width_multiplier() > 0 ? spec.zoo().width_multiplier() : 1;
    if (zoo.input_size <= 0 || zoo.num_classes <= 0) {
      return Invalid("dataset", "an image folder used with a zoo model needs crop=N (or "
                                "zoo.input_size) and classes=N in its spec: the master does not "
                                "see the folder");
    }
    absl::StatusOr<common::NetworkDef> built = common::ZooNetwork(spec.model(), zoo);
    if (!built.ok()) return Invalid("model", built.status().message());
    network = *std::move(built);
  } else {
    absl::StatusOr<common::NetworkDef> parsed = common::NetworkDefFromProto(spec.network());
    if (!parsed.ok()) return Invalid("network", parsed.status().message());
    network = *std::move(parsed);
  }
  if (network.input.channels != shape.channels || network.input.height != network.input.width) {
    return Invalid("network", absl::StrCat("takes ", network.input.channels, "x",
                                           network.input.height, "x", network.input.width,
                                           " inputs but the dataset has ", shape.channels,
                                           "-channel images"));
  }
  *spec.mutable_network() = common::NetworkDefToProto(network);

  if (!spec.weights_digest().empty()) {
    NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(spec.weights_digest(), "spec.weights_digest"));
    if (!artifacts_.Contains(spec.weights_digest())) {
      return absl::NotFoundError(absl::StrCat("spec.weights_digest: artifact ",
                                              spec.weights_digest(),
                                              " is not on the master (upload it first)"));
    }
  }
  if (spec.pretrain_epochs() < 0) return Invalid("pretrain_epochs", "must be >= 0");
  if (spec.holdout_size() < 0) return Invalid("holdout_size", "must be >= 0");
  if (spec.holdout_size() == 0) spec.set_holdout_size(10000);

  if (spec.resource_type() == v1::RESOURCE_TYPE_UNSPECIFIED) {
    spec.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
  }
  if (spec.budget() < 0) return Invalid("budget", "must be positive");
  if (spec.budget() == 0) {
    if (spec.budget_ratio() == 0) spec.set_budget_ratio(0.5);
    NETADAPT_RETURN_IF_ERROR(CheckRatio("budget_ratio", spec.budget_ratio()));
  }
  if (spec.init_resource_reduction() < 0) {
    return Invalid("init_resource_reduction", "must be positive");
  }
  if (spec.init_resource_reduction() == 0) {
    if (spec.init_resource_reduction_ratio() == 0) spec.set_init_resource_reduction_ratio(0.025);
    NETADAPT_RETURN_IF_ERROR(
        CheckRatio("init_resource_reduction_ratio", spec.init_resource_reduction_ratio()));
  }
  if (spec.resource_reduction_decay() == 0) spec.set_resource_reduction_decay(0.96);
  if (!(spec.resource_reduction_decay() > 0 && spec.resource_reduction_decay() <= 1)) {
    return Invalid("resource_reduction_decay",
                   absl::StrCat(spec.resource_reduction_decay(), " is not in (0, 1]"));
  }
  if (spec.max_iters() < 0) return Invalid("max_iters", "must be >= 0");
  if (spec.max_iters() == 0 && input.max_iters() == 0 && spec.pretrain_epochs() == 0) {
    spec.set_max_iters(30);
  }
  if (spec.short_term_fine_tune_iteration() < 0) {
    return Invalid("short_term_fine_tune_iteration", "must be positive");
  }
  if (spec.short_term_fine_tune_iteration() == 0) spec.set_short_term_fine_tune_iteration(500);
  if (spec.finetune_lr() < 0 || !std::isfinite(spec.finetune_lr())) {
    return Invalid("finetune_lr", "must be positive");
  }
  if (spec.finetune_lr() == 0) spec.set_finetune_lr(0.001);
  if (spec.momentum() < 0 || spec.momentum() >= 1) return Invalid("momentum", "must be in [0, 1)");
  if (spec.momentum() == 0 && input.momentum() == 0) spec.set_momentum(0.9);
  if (spec.weight_decay() < 0) return Invalid("weight_decay", "must be >= 0");
  if (spec.weight_decay() == 0) spec.set_weight_decay(1e-4);
  if (spec.batch_size() < 0) return Invalid("batch_size", "must be positive");
  if (spec.batch_size() == 0) spec.set_batch_size(128);
  if (spec.long_term_fine_tune_epochs() < 0) {
    return Invalid("long_term_fine_tune_epochs", "must be >= 0");
  }
  if (spec.search() == v1::SEARCH_STRATEGY_UNSPECIFIED) spec.set_search(v1::SEARCH_STRATEGY_EXACT);
  if (spec.binary_threshold() < 0) return Invalid("binary_threshold", "must be positive");
  if (spec.binary_threshold() == 0) spec.set_binary_threshold(16);
  if (spec.channel_step() < 0) return Invalid("channel_step", "must be positive");
  if (spec.channel_step() == 0) spec.set_channel_step(8);
  if (!spec.has_certify_tolerance()) spec.set_certify_tolerance(0.03);
  if (!(spec.certify_tolerance() >= 0 && spec.certify_tolerance() < 0.5)) {
    return Invalid("certify_tolerance",
                   absl::StrCat(spec.certify_tolerance(), " is not in [0, 0.5)"));
  }

  if (!spec.has_uniform_baseline()) spec.set_uniform_baseline(true);
  if (spec.budget_metric() == v1::BUDGET_METRIC_UNSPECIFIED) {
    spec.set_budget_metric(v1::BUDGET_METRIC_LUT);
  }
  if (!v1::BudgetMetric_IsValid(spec.budget_metric())) {
    return Invalid("budget_metric", absl::StrCat("unknown value ", spec.budget_metric()));
  }
  if (spec.budget_metric() == v1::BUDGET_METRIC_MEASURED) {
    if (spec.resource_type() != v1::RESOURCE_TYPE_LATENCY) {
      return Invalid("budget_metric", "MEASURED needs resource_type LATENCY");
    }
    if (!options_.measure_network) {
      return absl::FailedPreconditionError(
          "spec.budget_metric: MEASURED needs a profiler agent to measure networks, and this "
          "master has none (start it with --profiler)");
    }
  }

  if (spec.resource_type() == v1::RESOURCE_TYPE_LATENCY) {
    if (spec.lut_mode() == v1::LUT_MODE_UNSPECIFIED) spec.set_lut_mode(v1::LUT_MODE_MEASURE);
    if (spec.interpolation().empty()) spec.set_interpolation("bilinear");
    if (!common::ParseInterpolation(spec.interpolation()).ok()) {
      return Invalid("interpolation", "must be \"bilinear\" or \"rbf-cubic\"");
    }
    if (!spec.lut_digest().empty()) {
      NETADAPT_RETURN_IF_ERROR(common::ValidateDigest(spec.lut_digest(), "spec.lut_digest"));
      if (!artifacts_.Contains(spec.lut_digest())) {
        return absl::NotFoundError(absl::StrCat("spec.lut_digest: artifact ", spec.lut_digest(),
                                                " is not on the master (upload it first)"));
      }
      // Checked at submission, not when the job starts: an artifact is plain bytes when it is
      // uploaded, and a LUT with a negative, NaN or contradicting entry is the submitter's to
      // fix, with the entry named (index and shape), not a job that fails later.
      NETADAPT_ASSIGN_OR_RETURN(std::string bytes, artifacts_.Get(spec.lut_digest()));
      absl::StatusOr<common::LatencyTable> lut = common::ParseLatencyTable(
          bytes, absl::StrCat("spec.lut_digest: LUT ", spec.lut_digest().substr(0, 12)));
      if (!lut.ok()) return absl::InvalidArgumentError(lut.status().message());
    }
    if (spec.lut_mode() == v1::LUT_MODE_MEASURE && measurer_ == nullptr) {
      return absl::FailedPreconditionError(
          "spec.lut_mode: MEASURE needs a profiler agent, and this master has none "
          "(start it with --profiler, or use lut_mode INTERPOLATE with a LUT)");
    }
    if (spec.lut_mode() == v1::LUT_MODE_INTERPOLATE && spec.lut_digest().empty()) {
      return Invalid("lut_digest", "lut_mode INTERPOLATE needs a LUT to interpolate");
    }
  }
  FillSpecGroups(spec);
  return spec;
}

absl::StatusOr<std::unique_ptr<JobManager::Running>> JobManager::Prepare(const v1::Job& job) {
  auto running = std::make_unique<Running>();
  const v1::JobSpec& spec = job.spec();
  common::ResourceModel* resources = nullptr;
  NETADAPT_ASSIGN_OR_RETURN(const common::ResourceType resource_type,
                            common::ResourceTypeFromProto(spec.resource_type()));
  if (resource_type == common::ResourceType::kLatency) {
    common::LatencyTable table;
    if (spec.lut_digest().empty() && spec.lut_mode() == v1::LUT_MODE_MEASURE) {
      running->oracle = shared_oracle_.get();
    } else if (!spec.lut_digest().empty()) {
      NETADAPT_ASSIGN_OR_RETURN(std::string bytes, artifacts_.Get(spec.lut_digest()));
      absl::StatusOr<common::LatencyTable> parsed =
          common::ParseLatencyTable(bytes, "spec.lut_digest");
      if (!parsed.ok()) return parsed.status();
      table = *std::move(parsed);
      // What the job's latencies rest on: a table measured on a busy device shows here.
      common::Logger("master")->info(
          "[job={}] LUT {}: {}", job.name(), spec.lut_digest().substr(0, 12),
          common::FormatLatencyTableSummary(
              common::SummarizeLatencyTable(table, common::RemeasurePolicy::kDefaultMaxSpread),
              table.device()));
    }
    if (running->oracle != nullptr) {
      // the shared table
    } else if (spec.lut_mode() == v1::LUT_MODE_INTERPOLATE) {
      NETADAPT_ASSIGN_OR_RETURN(common::Interpolation interpolation,
                                common::ParseInterpolation(spec.interpolation()));
      // rbf-cubic fits persist beside the LUTs: later jobs on the same table load them.
      running->own_oracle = LatencyOracle::Interpolating(std::move(table), interpolation,
                                                         artifacts_.directory() + "/lut-fits");
    } else {
      running->own_oracle = LatencyOracle::Measuring(std::move(table), measurer_);
    }
    if (running->oracle == nullptr) running->oracle = running->own_oracle.get();
    resources = &running->oracle->model();
    running->measures = spec.lut_mode() == v1::LUT_MODE_MEASURE && profiler_wait_ != nullptr;
    if (running->measures) {
      running->waiting_model = std::make_unique<WaitingModel>(*this, job.name(), *running);
      resources = running->waiting_model.get();
    }
  } else {
    running->analytic = std::make_unique<common::AnalyticResourceModel>(resource_type);
    resources = running->analytic.get();
  }
  JobRunnerOptions options = options_;
  if (options.measure_network && profiler_wait_ != nullptr) {
    // The end-to-end measurements of the seed, each chosen and the final network wait for a
    // profiler that is down like the lookups do (same outage, activity and limit), instead of
    // leaving the history without them.
    options.measure_network = [this, running = running.get(), name = job.name(),
                               measure = options_.measure_network](
                                  const common::NetworkDef& network) -> absl::StatusOr<double> {
      NETADAPT_ASSIGN_OR_RETURN(
          std::vector<double> measured,
          WaitForProfiler(name, *running, [&]() -> absl::StatusOr<std::vector<double>> {
            NETADAPT_ASSIGN_OR_RETURN(double ms, measure(network));
            return std::vector<double>{ms};
          }));
      return measured.front();
    };
  }
  running->runner = std::make_unique<JobRunner>(job.name(), store_, pool_, tasks_, *resources,
                                                running->cancellation, options);
  return running;
}

absl::StatusOr<v1::Job> JobManager::Create(const v1::JobSpec& input,
                                           const std::string& request_id) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return ShuttingDown();
  }
  NETADAPT_ASSIGN_OR_RETURN(v1::JobSpec spec, Resolve(input));
  v1::Job job;
  *job.mutable_spec() = spec;
  job.set_request_id(request_id);
  bool created = false;
  NETADAPT_ASSIGN_OR_RETURN(job, store_.Create(job, &created));
  if (!created) return job;
  return Start(job);
}

int JobManager::ResumeInterrupted() {
  int total = 0;
  const std::vector<v1::Job> jobs = store_.List(0, std::numeric_limits<int>::max(), &total);
  int resumed = 0;
  // Oldest first, as they were created.
  for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
    if (JobStore::IsTerminal(it->state())) continue;
    {
      absl::MutexLock lock(&mu_);
      if (running_.count(it->name()) > 0) continue;
    }
    common::Logger("master")->info("resuming {} ({}, {} iteration(s) done)", it->name(),
                                   v1::Job::State_Name(it->state()), it->history_size());
    if (absl::StatusOr<v1::Job> started = Start(*it);
        started.ok() && !JobStore::IsTerminal(started->state())) {
      ++resumed;
    }
  }
  return resumed;
}

absl::StatusOr<v1::Job> JobManager::Start(const v1::Job& job) {
  absl::StatusOr<std::unique_ptr<Running>> running = Prepare(job);
  if (!running.ok()) {
    return store_.Update(job.name(), [&](v1::Job& j) {
      j.set_state(v1::Job::FAILED);
      j.set_reason(std::string(running.status().message()));
    });
  }
  absl::MutexLock lock(&mu_);
  // Stored but not started: it resumes at the master's next start.
  if (stopping_) return ShuttingDown();
  Running& started = *running_.emplace(job.name(), *std::move(running)).first->second;
  started.thread = std::thread([&started] { started.runner->Run(); });
  return job;
}

absl::StatusOr<v1::Job> JobManager::Cancel(absl::string_view name) {
  NETADAPT_ASSIGN_OR_RETURN(v1::Job job, store_.Get(name));
  {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(std::string(name));
    if (it != running_.end()) it->second->cancellation.Cancel();
  }
  return store_.Get(name);
}

absl::StatusOr<std::vector<double>> JobManager::WithLatencyJob(
    absl::string_view job,
    const std::function<absl::StatusOr<std::vector<double>>(Running&)>& use) {
  // Entries of running_ live until Shutdown, which waits for the lookups in flight.
  Running* running = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return ShuttingDown();
    ++lookups_in_flight_;
  }
  struct InFlight {
    JobManager* manager;
    ~InFlight() {
      absl::MutexLock lock(&manager->mu_);
      --manager->lookups_in_flight_;
    }
  } in_flight{this};
  {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(std::string(job));
    if (it == running_.end()) {
      return absl::NotFoundError(absl::StrCat("job: ", job, " is not running on this master"));
    }
    running = it->second.get();
  }
  if (running->oracle == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("job: ", job, " does not use latency"));
  }
  return use(*running);
}

absl::StatusOr<std::vector<double>> JobManager::LookupLatency(
    absl::string_view job, const std::vector<common::LayerShape>& shapes) {
  return WithLatencyJob(job, [&](Running& running) {
    return Lookup(std::string(job), running, shapes);
  });
}

absl::StatusOr<std::vector<double>> JobManager::EstimateLatency(
    absl::string_view job, const std::vector<common::LayerShape>& shapes) {
  return WithLatencyJob(
      job, [&](Running& running) -> absl::StatusOr<std::vector<double>> {
        if (!running.measures) {
          return absl::FailedPreconditionError(absl::StrCat(
              "job: ", job, " interpolates its LUT: nothing is measured to estimate from"));
        }
        return running.oracle->Estimate(shapes);
      });
}

absl::StatusOr<std::vector<double>> JobManager::Lookup(
    const std::string& job, Running& running, const std::vector<common::LayerShape>& shapes) {
  LatencyOracle* oracle = running.oracle;
  // The counts of the attempt that answered (each attempt starts them afresh): the oracle may
  // be shared with other jobs, so they are attributed here, per job.
  LatencyOracle::LookupCounts counts;
  absl::StatusOr<std::vector<double>> latencies;
  if (!running.measures) {
    latencies = oracle->Lookup(shapes, &counts);
  } else {
    // Concurrent lookups of several jobs share the oracle's measurements of the same shapes
    // and ProfilerWait's one outage (its start, its limit).
    latencies = WaitForProfiler(job, running,
                                [oracle, &shapes, &counts] { return oracle->Lookup(shapes, &counts); });
  }
  if (latencies.ok()) RecordLookup(job, counts);
  return latencies;
}

void JobManager::RecordLookup(const std::string& job, const LatencyOracle::LookupCounts& counts) {
  if (counts.lookups == 0) return;
  auto add = [&counts](v1::LatencyMeasurements& m) {
    m.set_lookups(m.lookups() + counts.lookups);
    m.set_lut_hits(m.lut_hits() + counts.lut_hits);
    m.set_shapes_measured(m.shapes_measured() + counts.measured);
    m.set_device_ms(m.device_ms() + counts.device_ms);
  };
  // Not persisted on its own: a lookup costs microseconds, a journal append an fsync.
  (void)store_.Update(
      job,
      [&](v1::Job& j) {
        add(*j.mutable_measurements());
        const int iteration = j.current_iteration();
        const int n = j.iteration_measurements_size();
        if (n == 0 || j.iteration_measurements(n - 1).iteration() != iteration) {
          j.add_iteration_measurements()->set_iteration(iteration);
        }
        add(*j.mutable_iteration_measurements(j.iteration_measurements_size() - 1));
      },
      /*persist=*/false);
}

absl::StatusOr<std::vector<double>> JobManager::WaitForProfiler(
    const std::string& job, Running& running, const ProfilerWait::Attempt& attempt) {
  JobWaitObserver observer(*this, job, running);
  absl::StatusOr<std::vector<double>> answer =
      profiler_wait_->Run(attempt, &running.cancellation, &observer);
  if (observer.waited()) EndWaiting(job, running);
  if (!observer.gave_up().ok()) {
    // The job FAILS with the reason (JobRunner::Run); its tasks in flight are cancelled.
    running.cancellation.Abort(observer.gave_up());
  }
  return answer;
}

void JobManager::ShowWaiting(const std::string& job, Running& running,
                             const ProfilerOutage& outage, bool first) {
  if (first) {
    absl::MutexLock lock(&mu_);
    ++running.waiting;
  }
  if (first) {
    common::Logger("master")->info("[job={}] a lookup waits for the profiler agent: {}", job,
                                   outage.last_error.ToString());
  }
  const std::string activity =
      ProfilerWait::Describe(outage, profiler_wait_->options().agent);
  bool saved = false;
  std::string before;
  int64_t step = 0, total = 0;
  (void)store_.Update(
      job,
      [&](v1::Job& j) {
        if (!absl::StartsWith(j.activity(), ProfilerWait::kWaitingActivityPrefix)) {
          saved = true;
          before = j.activity();
          step = j.activity_step();
          total = j.activity_total();
        }
        j.set_activity(activity);
        j.clear_activity_step();
        j.clear_activity_total();
      },
      /*persist=*/false);
  if (saved) {
    absl::MutexLock lock(&mu_);
    running.activity_before = std::move(before);
    running.activity_step_before = step;
    running.activity_total_before = total;
  }
}

void JobManager::EndWaiting(const std::string& job, Running& running) {
  std::string before;
  int64_t step = 0, total = 0;
  {
    absl::MutexLock lock(&mu_);
    if (--running.waiting > 0) return;
    before = running.activity_before;
    step = running.activity_step_before;
    total = running.activity_total_before;
  }
  // Unless the runner moved on to another activity meanwhile.
  (void)store_.Update(
      job,
      [&](v1::Job& j) {
        if (!absl::StartsWith(j.activity(), ProfilerWait::kWaitingActivityPrefix)) return;
        j.set_activity(before);
        j.set_activity_step(step);
        j.set_activity_total(total);
      },
      /*persist=*/false);
}

}  // namespace netadapt::master
