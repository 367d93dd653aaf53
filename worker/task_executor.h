#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/artifact_store.h"
#include "common/layer_shape.h"
#include "netadapt/v1/worker_service.pb.h"

namespace netadapt::engine {
class Model;
}  // namespace netadapt::engine

namespace netadapt::worker {

// What a worker needs from the master while it runs tasks (CoordinatorService
// without the transport). Implementations are thread-safe: tasks on several
// devices call concurrently.
class MasterConnection {
 public:
  virtual ~MasterConnection() = default;

  // The bytes of artifact `digest`, verified against it. NotFound when the
  // master has no such artifact; Unavailable / DeadlineExceeded when it cannot
  // be reached.
  virtual absl::StatusOr<std::string> FetchArtifact(absl::string_view digest) = 0;

  // Stores `content` on the master; returns its digest (sha256, 64 lowercase
  // hex digits).
  virtual absl::StatusOr<std::string> PutArtifact(absl::string_view content) = 0;

  // Latency (ms) of each of `shapes`, in order, from job `job`'s LUT
  // ("jobs/{job}"); misses are measured or interpolated by the master as the
  // job says. NotFound for an unknown job.
  virtual absl::StatusOr<std::vector<double>> LookupLatency(
      absl::string_view job, const std::vector<common::LayerShape>& shapes) = 0;

  // A guess at the latency (ms) of each of `shapes`, in order, from job `job`'s
  // measured LUT without measuring anything (common::EstimateLatencyMs): what
  // the certified search needs to pick the candidates worth measuring.
  // Unimplemented from a master that predates it (the default here) and
  // FailedPrecondition for a job that does not measure its latencies: the
  // worker then asks for every candidate's latency as before.
  virtual absl::StatusOr<std::vector<double>> EstimateLatency(
      absl::string_view job, const std::vector<common::LayerShape>& shapes) {
    (void)job;
    (void)shapes;
    return absl::UnimplementedError("EstimateLatency: not offered by this master");
  }
};

// Stream of DeriveSeed(TaskHeader.job_seed, stream) that seeds the held-out
// split. Every task of a job (FineTune, Evaluate, Pretrain, on any worker) must
// carve the same held-out images from the training set, so the split depends on
// the job's seed only, never on the per-task header.seed (which is per (job,
// iteration, block)).
inline constexpr uint64_t kHeldOutSplitStream = 0x68656c646f7574;  // "heldout"

struct TaskExecutorOptions {
  // The worker's devices ("cpu", "cuda:0", ...). A task's header.device must be
  // one of them; empty header.device means devices[0]. Required: at least one.
  std::vector<std::string> devices = {"cpu"};
  // LibTorch intra-op threads while training and evaluating (process-wide in
  // LibTorch); 0 = one per core. Tests use 1 for bitwise reproducible results.
  int intra_op_threads = 0;
  // Threads that decode an image folder's images ahead of the training step
  // (common::BatchPrefetcher); 0 = one per core.
  int loader_threads = 0;
  // Training reports progress every this many steps (and after the last one).
  int64_t progress_every = 10;
  // Local cache of artifacts by digest (not owned; may be null: no cache).
  // Fetched and put artifacts are kept there, so the next task of a block on
  // this worker fetches nothing.
  common::ArtifactStore* cache = nullptr;
  // Most shapes one LookupLatency call asks for.
  int max_lookup_shapes = 4096;
  // LATENCY searches on a master that measures misses (common::CertifyOptions):
  // the relative noise around monotone latency the certificate assumes of the
  // device. In [0, 1).
  double latency_tolerance = 0.03;
};

// What one running task reports to and asks of its caller.
struct TaskContext {
  // Progress reports (may be null). Called on the task's thread; must not block
  // for long.
  std::function<void(const v1::TaskProgress&)> on_progress;
  // Polled between steps (may be null); true stops the task with Cancelled.
  std::function<bool()> cancelled;
};

// Executes worker tasks (DESIGN.md section 3) with the LibTorch engine,
// transport-free: models come from and go to the master as checkpoint artifacts
// (MasterConnection), datasets are read from this worker's disk. A task runs on
// the calling thread.
//
// Errors are the task's failure, never a crash: bad input is InvalidArgument
// naming the field (block out of range, malformed dataset spec, nothing to
// train), NotFound for an unknown artifact or a dataset path missing on this
// worker, FailedPrecondition for a device this worker does not have, the
// checkpoint's own error (DataLoss, InvalidArgument) prefixed with
// "model_digest", Cancelled when TaskContext::cancelled said so, and the
// master's error (Unavailable, ...) when it cannot be reached.
//
// Thread-safe: tasks on different devices may run concurrently (the dataset
// cache is shared and loads each spec once per process). Training results are
// reproducible only with intra_op_threads = 1 and one task at a time
// (LibTorch's thread count is process-wide).
class TaskExecutor {
 public:
  // `master` is not owned and must outlive this.
  TaskExecutor(MasterConnection* master, TaskExecutorOptions options);
  ~TaskExecutor();

  // The filter-count search for task.block towards task.target_resource, then
  // pruning to the found width (largest-L2-norm filters). Result: model_digest,
  // width, resource, meets_target (false: no candidate is below the target; the
  // model is pruned to the smallest candidate anyway), widths (output count of
  // every conv and linear layer). LATENCY on a job that measures its LUT (the
  // master answers EstimateLatency): common::CertifiedSimplifyBlock, a few
  // LookupLatency calls that measure only the candidates that certify the
  // answer (kExact and kLinear; kBinary as below). Otherwise (interpolated
  // LUTs, older masters) every shape the search can need in one LookupLatency
  // call (batch 1, float32 shapes) before searching. With task.block_widths, no search: every block is pruned to
  // its width in turn (InvalidArgument for a wrong count or a width out of
  // range); the result has model_digest and widths.
  absl::StatusOr<v1::TaskResult> Simplify(const v1::SimplifyTask& task, const TaskContext& context);

  // Short-term fine-tuning: `steps` SGD steps at a constant rate on the
  // training split minus the held-out images, or `epochs` with a cosine
  // schedule when epochs > 0. Result: model_digest, loss (the last reporting
  // window's mean), examples, seconds.
  absl::StatusOr<v1::TaskResult> FineTune(const v1::FineTuneTask& task, const TaskContext& context);

  // Top-1 accuracy and mean loss on the held-out split (default) or the test
  // split. Result: accuracy, loss, examples, seconds.
  absl::StatusOr<v1::TaskResult> Evaluate(const v1::EvaluateTask& task, const TaskContext& context);

  // A network from network_json (weights from header.seed) or model_digest,
  // trained as FineTune trains with task.training (epochs, cosine schedule).
  // Result as FineTune's.
  absl::StatusOr<v1::TaskResult> Pretrain(const v1::PretrainTask& task, const TaskContext& context);

 private:
  struct LoadedDataset;
  struct DatasetSlot;

  // The device a task runs on: header.device or devices[0]; FailedPrecondition
  // when this worker does not have it, the engine's error when it is unusable.
  absl::StatusOr<std::string> TaskDevice(const v1::TaskHeader& header) const;
  // The artifact's bytes, from the cache or the master (then cached).
  absl::StatusOr<std::string> Fetch(absl::string_view digest, absl::string_view field);
  // Puts `content` to the master (and the cache); its digest.
  absl::StatusOr<std::string> Put(absl::string_view content);
  // The dataset of `spec`, loaded once per process. Errors name `field`.
  absl::StatusOr<std::shared_ptr<const LoadedDataset>> Dataset(absl::string_view spec,
                                                               absl::string_view field)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Model `digest` (fetched, parsed) on `device`.
  absl::StatusOr<engine::Model> LoadModel(absl::string_view digest, absl::string_view field,
                                          const std::string& device);
  // Simplify with block_widths: every block pruned to its width, no search.
  absl::StatusOr<v1::TaskResult> PruneToWidths(const v1::SimplifyTask& task,
                                               const std::string& device,
                                               const TaskContext& context);
  // Trains `model` per `training` with the randomness of `header`, puts the
  // result (shared by FineTune and Pretrain).
  absl::StatusOr<v1::TaskResult> Train(const v1::TaskHeader& header,
                                       const v1::FineTuneTask& training, engine::Model& model,
                                       const TaskContext& context);

  MasterConnection* const master_;
  const TaskExecutorOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<DatasetSlot>> datasets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace netadapt::worker
