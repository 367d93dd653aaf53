#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/batch_filler.h"
#include "common/batch_prefetcher.h"
#include "common/dataset.h"
#include "common/image_source.h"
#include "common/torch/model.h"

namespace netadapt::engine {

// One progress report of a training run.
struct TrainProgress {
  int64_t step = 0;         // steps done, 1-based at the first report
  int64_t total_steps = 0;
  int64_t epoch = 0;        // 0-based epoch the step belongs to
  double loss = 0;          // mean training loss over the steps since the previous report
  double learning_rate = 0;
  double examples_per_second = 0;  // since the previous report
};

// Options shared by fine-tuning and pre-training: SGD with momentum as PyTorch's
// torch.optim.SGD (dampening 0, no Nesterov), cross-entropy loss. Defaults are the original
// NetAdapt implementation's short-term fine-tuning (finetune_lr 0.001, momentum 0.9, weight
// decay 1e-4, batch 128).
struct SgdOptions {
  int batch_size = 128;
  double learning_rate = 0.001;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  // Data order (common::EpochOrder), augmentation and dropout masks come from this seed
  // only, so a retried task reproduces its result on the same hardware.
  uint64_t seed = 0;
  // Normalisation and augmentation of training batches from an ImageDataset (an ImageSource
  // brings its own transforms).
  common::BatchOptions batch;
  // The threads that load an ImageSource's images ahead of the steps (unused for an
  // ImageDataset, whose batches are filled on the training thread).
  common::PrefetchOptions loader;
  // LibTorch intra-op threads for the run; 0 = one per core. (Process-wide in LibTorch.)
  int intra_op_threads = 0;
  // Called every `progress_every` steps and after the last one (0 = never).
  int64_t progress_every = 0;
  std::function<void(const TrainProgress&)> on_progress;
  // Polled before every step; returning true stops the run with Cancelled. The model then
  // holds the weights of the last completed step.
  std::function<bool()> cancelled;
};

struct TrainSummary {
  int64_t steps = 0;
  int64_t examples = 0;
  double final_loss = 0;  // mean loss over the last reporting window (or the whole run)
  double seconds = 0;
  double examples_per_second = 0;
  // Images an ImageSource skipped (kSkippedLabel: unreadable, skip_corrupt); they are left
  // out of the loss and of `examples`.
  int64_t skipped = 0;
};

// NetAdapt's short-term fine-tuning: `steps` SGD steps on the images of `dataset` at
// `indices` (e.g. the training part of common::SplitHeldOut), batches of batch_size drawn in
// epoch order, the last incomplete batch of an epoch dropped (unless the set is smaller than
// one batch, which is then the batch). InvalidArgument for a dataset whose shape or classes
// do not match the model, empty indices, or non-positive sizes and rates.
absl::StatusOr<TrainSummary> FineTune(Model& model, const common::ImageDataset& dataset,
                                      absl::Span<const int64_t> indices, int64_t steps,
                                      const SgdOptions& options);

// How the learning rate moves during pre-training.
struct LearningRateSchedule {
  enum class Kind { kConstant, kCosine, kStep };
  Kind kind = Kind::kCosine;  // cosine: from learning_rate down to 0 over all steps
  // kStep: multiply by gamma at each of these epochs.
  std::vector<int64_t> milestones;
  double gamma = 0.1;
};

// Trains for `epochs` full passes over `indices` with `schedule` applied per step.
absl::StatusOr<TrainSummary> Pretrain(Model& model, const common::ImageDataset& dataset,
                                      absl::Span<const int64_t> indices, int64_t epochs,
                                      const LearningRateSchedule& schedule,
                                      const SgdOptions& options);

// The same on images loaded on demand (e.g. an image folder's files), on options.loader's
// threads, batches_ahead batches ahead of the step: the same batches in the same order as
// for an ImageDataset, each image augmented by the source's training transform with a seed
// from (options.seed, step, position in the batch), so the run does not depend on the number
// of loader threads. A batch whose images were all skipped makes no update. Errors as above,
// plus the source's for an image it cannot load (naming the file).
absl::StatusOr<TrainSummary> FineTune(Model& model, const common::ImageSource& source,
                                      absl::Span<const int64_t> indices, int64_t steps,
                                      const SgdOptions& options);
absl::StatusOr<TrainSummary> Pretrain(Model& model, const common::ImageSource& source,
                                      absl::Span<const int64_t> indices, int64_t epochs,
                                      const LearningRateSchedule& schedule,
                                      const SgdOptions& options);

struct EvalOptions {
  int batch_size = 256;
  // Normalisation only: augmentation is never applied when evaluating.
  std::vector<float> mean;
  std::vector<float> std;
  int intra_op_threads = 0;
  // Loader threads for an ImageSource (its own transforms replace mean and std).
  common::PrefetchOptions loader;
};

struct EvalResult {
  int64_t correct = 0;
  int64_t total = 0;
  double accuracy = 0;  // top-1, correct / total
  double loss = 0;      // mean cross-entropy
  double seconds = 0;
  double examples_per_second = 0;
  int64_t skipped = 0;  // Images an ImageSource skipped, not in `total`.
};

// Top-1 accuracy and mean loss on the images at `indices` (all of them, in order), in
// evaluation mode and without gradients. Same errors as FineTune.
absl::StatusOr<EvalResult> Evaluate(const Model& model, const common::ImageDataset& dataset,
                                    absl::Span<const int64_t> indices, const EvalOptions& options);
// The same on images loaded on demand (the source's evaluation transform), on
// options.loader's threads. Skipped images count in neither `correct` nor `total`;
// InvalidArgument when every image was skipped.
absl::StatusOr<EvalResult> Evaluate(const Model& model, const common::ImageSource& source,
                                    absl::Span<const int64_t> indices, const EvalOptions& options);

// 0, 1, ..., dataset.size() - 1: every image, for Evaluate on a test set.
std::vector<int64_t> AllIndices(const common::ImageDataset& dataset);

}  // namespace netadapt::engine
