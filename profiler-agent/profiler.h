#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/latency_stats.h"
#include "common/layer_shape.h"
#include "common/network_def.h"
#include "netadapt/v1/latency.pb.h"

namespace netadapt::profiler {

struct ProfilerOptions {
  // Used for every field a request leaves unset.
  common::MeasureOptions default_measure;
  // Shapes one MeasureLayers request may carry.
  int max_batch_shapes = 256;
  // Bytes one measurement may allocate (estimated: input, weights, bias, output).
  int64_t max_memory_bytes = int64_t{2} << 30;
};

// One shape's result.
struct LayerResult {
  common::LayerShape shape;
  common::LatencyStats stats;
  bool cached = false;  // served from the cache, not measured for this request
};

// Set by the caller (e.g. when its client cancels) to stop a request's remaining work.
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

// Measures layer and network latencies on one device, transport-free (ProfilerServiceImpl is
// its gRPC adapter). Requests are queued and served by one measurement thread that the
// Profiler owns: one measurement runs at a time, and requests in the queue take turns one
// shape each, so a long batch does not starve a short one and concurrent clients never time
// their layers side by side. Layer results are cached for the Profiler's lifetime.
// Thread-safe. Callbacks run on the measurement thread (or inline in the calling thread when
// the request is rejected up front) and must not block.
class Profiler {
 public:
  using LayersDone = std::function<void(absl::StatusOr<std::vector<LayerResult>>)>;
  using NetworkDone = std::function<void(absl::StatusOr<common::LatencyStats>)>;

  // Starts the measurement thread. `factory` builds the runners (LibTorch in the agent, a
  // fake in tests); `fingerprint` describes the device (see HostFingerprint).
  Profiler(std::unique_ptr<common::RunnerFactory> factory, v1::DeviceFingerprint fingerprint,
           ProfilerOptions options);
  ~Profiler();  // Shutdown()

  // Queues `shapes` for measurement with `options` (unset fields from the defaults); `done`
  // gets one result per shape, in order. Cached results are returned without measuring
  // unless `force`, in which case the new result replaces the cached one. Rejected at once,
  // before anything is measured: ResourceExhausted for more than max_batch_shapes shapes or a
  // shape over the memory cap, InvalidArgument for an unsupported dtype, both naming
  // "shapes[i]" and the shape. Later errors: Cancelled once `cancelled` is set, the runner's
  // error (named as above), Unavailable when the Profiler shuts down.
  void MeasureLayers(std::vector<common::LayerShape> shapes, const common::MeasureOptions& options,
                     bool force, CancelFlag cancelled, LayersDone done)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Queues an end-to-end measurement of `network`'s forward pass at `batch`. InvalidArgument
  // for an invalid network or batch; ResourceExhausted over the memory cap; then as above.
  void MeasureNetwork(common::NetworkDef network, int batch, const common::MeasureOptions& options,
                      CancelFlag cancelled, NetworkDone done) ABSL_LOCKS_EXCLUDED(mu_);

  // Blocking forms of the above, for benchmarks and tests.
  absl::StatusOr<std::vector<LayerResult>> MeasureLayersSync(
      std::vector<common::LayerShape> shapes, const common::MeasureOptions& options = {},
      bool force = false) ABSL_LOCKS_EXCLUDED(mu_);

  const v1::DeviceFingerprint& fingerprint() const { return fingerprint_; }
  const ProfilerOptions& options() const { return options_; }
  std::string device() const { return factory_->device(); }

  // Estimated bytes a measurement of `shape` allocates (input, weights, bias, output).
  static double EstimatedBytes(const common::LayerShape& shape);

  // Fails queued requests with Unavailable, stops the running one at its next run, joins the
  // measurement thread. Idempotent.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Job;

  void Enqueue(std::shared_ptr<Job> job) ABSL_LOCKS_EXCLUDED(mu_);
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Measures the next shape of `job` (or the network); true when the job is finished.
  bool Step(Job& job) ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<common::RunnerFactory> factory_;  // used on the thread only
  const v1::DeviceFingerprint fingerprint_;
  const ProfilerOptions options_;

  absl::Mutex mu_;
  std::deque<std::shared_ptr<Job>> queue_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<common::LayerShape, common::LatencyStats> cache_ ABSL_GUARDED_BY(mu_);
  // Set on shutdown: stops the measurement in progress.
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace netadapt::profiler
