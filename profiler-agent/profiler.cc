#include "profiler-agent/profiler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/logging.h"
#include "common/network_tensors.h"
#include "profiler-agent/device_info.h"

namespace netadapt::profiler {
namespace {

using common::LatencyStats;
using common::LayerShape;

double ElementBytes(absl::string_view dtype) { return dtype == "float16" ? 2 : 4; }

std::string Named(size_t index, const LayerShape& shape) {
  return absl::StrCat("shapes[", index, "] (", shape.DebugString(), ")");
}

std::string Mebibytes(double bytes) { return absl::StrFormat("%.0f MiB", bytes / (1 << 20)); }

}  // namespace

struct Profiler::Job {
  // Layers job: shapes, results so far, the next shape to measure.
  std::vector<LayerShape> shapes;
  std::vector<LayerResult> results;
  absl::flat_hash_set<LayerShape> fresh;  // measured by this job (force: measure once only)
  bool force = false;
  LayersDone layers_done;
  // Network job.
  std::optional<common::NetworkDef> network;
  int batch = 1;
  NetworkDone network_done;

  common::MeasureOptions options;
  CancelFlag cancelled;
  std::chrono::steady_clock::time_point queued = std::chrono::steady_clock::now();

  bool IsCancelled() const { return cancelled && cancelled->load(std::memory_order_relaxed); }
  void Fail(const absl::Status& status) {
    if (network) {
      network_done(status);
    } else {
      layers_done(status);
    }
  }
};

Profiler::Profiler(std::unique_ptr<common::RunnerFactory> factory,
                   v1::DeviceFingerprint fingerprint, ProfilerOptions options)
    : factory_(std::move(factory)),
      fingerprint_(std::move(fingerprint)),
      options_(std::move(options)),
      thread_([this] { Loop(); }) {}

Profiler::~Profiler() { Shutdown(); }

double Profiler::EstimatedBytes(const LayerShape& s) {
  // In doubles: absurd requests (2^31 channels) must not overflow the estimate.
  const double batch = s.batch;
  const double input = batch * s.in_channels * s.input_h * s.input_w;
  const double weights = double{1} * s.out_channels * (s.in_channels / std::max(1, s.groups)) *
                         s.kernel.h * s.kernel.w;
  const common::Pair out = s.Output();
  const double output = batch * s.out_channels * out.h * out.w;
  return (input + weights + (s.bias ? s.out_channels : 0) + output) * ElementBytes(s.dtype);
}

void Profiler::MeasureLayers(std::vector<LayerShape> shapes, const common::MeasureOptions& options,
                             bool force, CancelFlag cancelled, LayersDone done) {
  if (shapes.empty()) {
    done(std::vector<LayerResult>());
    return;
  }
  if (static_cast<int>(shapes.size()) > options_.max_batch_shapes) {
    done(absl::ResourceExhaustedError(
        absl::StrCat("shapes: ", shapes.size(), " shapes exceed the agent's limit of ",
                     options_.max_batch_shapes, " per request; split the batch")));
    return;
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const LayerShape& shape = shapes[i];
    if (shape.dtype != "float32" && shape.dtype != "float16") {
      done(absl::InvalidArgumentError(absl::StrCat(
          Named(i, shape), ": dtype '", shape.dtype, "' is not supported (float32, float16)")));
      return;
    }
    const double bytes = EstimatedBytes(shape);
    if (bytes > static_cast<double>(options_.max_memory_bytes)) {
      done(absl::ResourceExhaustedError(
          absl::StrCat(Named(i, shape), ": needs about ", Mebibytes(bytes),
                       ", more than the agent's cap of ",
                       Mebibytes(static_cast<double>(options_.max_memory_bytes)))));
      return;
    }
  }
  auto job = std::make_shared<Job>();
  job->results.reserve(shapes.size());
  job->shapes = std::move(shapes);
  job->force = force;
  job->layers_done = std::move(done);
  job->options = common::MeasureOptions::WithDefaults(options, options_.default_measure);
  job->cancelled = std::move(cancelled);
  Enqueue(std::move(job));
}

void Profiler::MeasureNetwork(common::NetworkDef network, int batch,
                              const common::MeasureOptions& options, CancelFlag cancelled,
                              NetworkDone done) {
  if (batch <= 0) {
    done(absl::InvalidArgumentError(absl::StrCat("batch must be positive, got ", batch)));
    return;
  }
  absl::StatusOr<std::vector<common::TensorShape>> shapes = common::InferShapes(network);
  if (!shapes.ok()) {
    done(shapes.status());
    return;
  }
  absl::StatusOr<std::vector<common::TensorSpec>> tensors = common::NetworkTensors(network);
  if (!tensors.ok()) {
    done(tensors.status());
    return;
  }
  // Weights, plus the largest consecutive pair of activations (input and output of a layer).
  double elements = 0;
  for (const common::TensorSpec& spec : *tensors) {
    double n = 1;
    for (int64_t d : spec.shape) n *= static_cast<double>(d);
    elements += n;
  }
  double widest = 0;
  double previous = static_cast<double>(network.input.Elements());
  for (const common::TensorShape& shape : *shapes) {
    const double current = static_cast<double>(shape.Elements());
    widest = std::max(widest, previous + current);
    previous = current;
  }
  const double bytes = (elements + widest * batch) * 4;
  if (bytes > static_cast<double>(options_.max_memory_bytes)) {
    done(absl::ResourceExhaustedError(absl::StrCat(
        "network ", network.name, " at batch ", batch, ": needs about ", Mebibytes(bytes),
        ", more than the agent's cap of ",
        Mebibytes(static_cast<double>(options_.max_memory_bytes)))));
    return;
  }
  auto job = std::make_shared<Job>();
  job->network = std::move(network);
  job->batch = batch;
  job->network_done = std::move(done);
  job->options = common::MeasureOptions::WithDefaults(options, options_.default_measure);
  job->cancelled = std::move(cancelled);
  Enqueue(std::move(job));
}

absl::StatusOr<std::vector<LayerResult>> Profiler::MeasureLayersSync(
    std::vector<LayerShape> shapes, const common::MeasureOptions& options, bool force) {
  absl::Notification finished;
  absl::StatusOr<std::vector<LayerResult>> result;
  MeasureLayers(std::move(shapes), options, force, nullptr,
                [&](absl::StatusOr<std::vector<LayerResult>> r) {
                  result = std::move(r);
                  finished.Notify();
                });
  finished.WaitForNotification();
  return result;
}

void Profiler::Enqueue(std::shared_ptr<Job> job) {
  {
    absl::MutexLock lock(&mu_);
    if (!shutting_down_) {
      queue_.push_back(std::move(job));
      return;
    }
  }
  job->Fail(absl::UnavailableError("the profiler is shutting down"));
}

void Profiler::Shutdown() {
  std::deque<std::shared_ptr<Job>> abandoned;
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return;
    shutting_down_ = true;
    abandoned.swap(queue_);
  }
  stop_.store(true);
  for (const auto& job : abandoned) {
    job->Fail(absl::UnavailableError("the profiler is shutting down"));
  }
  thread_.join();
}

void Profiler::Loop() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Profiler* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return p->shutting_down_ || !p->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // shutting down: Shutdown failed the queued jobs
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!Step(*job)) {
      absl::MutexLock lock(&mu_);
      if (!shutting_down_) {
        queue_.push_back(std::move(job));  // its next shape waits for the others' turns
        continue;
      }
    } else {
      continue;
    }
    job->Fail(absl::UnavailableError("the profiler is shutting down"));
  }
}

bool Profiler::Step(Job& job) {
  const std::shared_ptr<spdlog::logger> log = common::Logger("profiler");
  if (job.IsCancelled()) {
    log->debug("request cancelled after {} measurements", job.results.size());
    job.Fail(absl::CancelledError("the client cancelled the request"));
    return true;
  }
  auto cancelled = [&job, this] { return job.IsCancelled() || stop_.load(); };

  if (job.network) {
    absl::StatusOr<std::unique_ptr<common::TimedRunner>> runner =
        factory_->ForNetwork(*job.network, job.batch);
    absl::StatusOr<LatencyStats> stats =
        runner.ok() ? common::MeasureLatency(**runner, job.options, cancelled, InvoluntarySwitches)
                    : runner.status();
    if (stats.ok()) {
      log->info("network {} batch {}: median {:.3f} ms over {} runs", job.network->name, job.batch,
                stats->median_ms, stats->samples);
    }
    job.network_done(std::move(stats));
    return true;
  }

  const size_t index = job.results.size();
  const LayerShape& shape = job.shapes[index];
  std::optional<LatencyStats> cached;
  if (!job.force || job.fresh.contains(shape)) {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(shape);
    if (it != cache_.end()) cached = it->second;
  }
  if (cached) {
    job.results.push_back({shape, *cached, /*cached=*/!job.fresh.contains(shape)});
  } else {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<common::TimedRunner>> runner = factory_->ForLayer(shape);
    // The host's load as the runs start, and how often the agent lost its CPU during them:
    // what tells a noisy entry from a clean one in the LUT later.
    common::MeasurementConditions conditions = HostLoadNow();
    const int64_t switches = InvoluntarySwitches();
    absl::StatusOr<LatencyStats> stats =
        runner.ok() ? common::MeasureLatency(**runner, job.options, cancelled, InvoluntarySwitches)
                    : runner.status();
    if (stats.ok()) {
      conditions.involuntary_switches = InvoluntarySwitches() - switches;
      stats->conditions = conditions;
    }
    if (!stats.ok()) {
      if (stats.status().code() == absl::StatusCode::kCancelled) {
        log->debug("request cancelled during {}", Named(index, shape));
        job.Fail(stop_.load() ? absl::UnavailableError("the profiler is shutting down")
                              : absl::CancelledError("the client cancelled the request"));
      } else {
        log->error("{}: {}", Named(index, shape), stats.status().ToString());
        job.Fail(absl::Status(stats.status().code(),
                              absl::StrCat(Named(index, shape), ": ", stats.status().message())));
      }
      return true;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log->trace("{}: median {:.4f} ms p10 {:.4f} p90 {:.4f} runs {} in {:.2f} s",
               shape.DebugString(), stats->median_ms, stats->p10_ms, stats->p90_ms,
               stats->samples, seconds);
    {
      absl::MutexLock lock(&mu_);
      cache_[shape] = *stats;
    }
    job.fresh.insert(shape);
    job.results.push_back({shape, *stats, /*cached=*/false});
  }
  if (job.results.size() < job.shapes.size()) return false;
  log->debug("measured {} shapes in {:.2f} s since queued", job.results.size(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - job.queued).count());
  job.layers_done(std::move(job.results));
  return true;
}

}  // namespace netadapt::profiler
