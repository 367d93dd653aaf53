// Fine-tuning, pre-training and evaluation: the loop of pytorch/examples' cpp/mnist, with
// batches filled by common::FillBatch (torch-free, reproducible) and the SGD update written
// out (torch.optim.SGD's arithmetic, in place), which keeps this file off the heavy
// torch/optim headers and lets the learning rate change every step.
#include "common/torch/training.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Generator.h>
#include <ATen/ops/argmax.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/GradMode.h>

#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/dataset_random.h"
#include "common/network_def.h"
#include "common/status_macros.h"
#include "common/torch/device.h"
#include "common/torch/internal/model_state.h"

namespace netadapt::engine {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What the loops need to know of a training or evaluation set.
struct DataShape {
  std::string name;
  int channels = 0;
  int height = 0;
  int width = 0;
  int num_classes = 0;
  int64_t size = 0;
};

DataShape ShapeOf(const common::ImageDataset& dataset) {
  return {dataset.name,   dataset.channels,    dataset.height,
          dataset.width,  dataset.num_classes, dataset.size()};
}

DataShape ShapeOf(const common::ImageSource& source) {
  return {source.name(),  source.channels(),    source.height(),
          source.width(), source.num_classes(), source.size()};
}

absl::Status CheckDatasetFits(const Model& model, const DataShape& dataset,
                              absl::Span<const int64_t> indices) {
  const common::NetworkDef& def = model.def();
  if (dataset.channels != def.input.channels || dataset.height != def.input.height ||
      dataset.width != def.input.width) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset: ", dataset.name, " has ", dataset.channels, "x", dataset.height, "x",
        dataset.width, " images but ", def.name, " takes ", def.input.channels, "x",
        def.input.height, "x", def.input.width));
  }
  NETADAPT_ASSIGN_OR_RETURN(std::vector<common::TensorShape> shapes, common::InferShapes(def));
  const common::TensorShape& output = shapes.back();
  if (output.height != 1 || output.width != 1 || output.channels < dataset.num_classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset: ", dataset.name, " has ", dataset.num_classes, " classes but ", def.name,
        " outputs ", output.channels, "x", output.height, "x", output.width, " logits"));
  }
  if (indices.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("indices: no images of ", dataset.name));
  }
  for (int64_t index : indices) {
    if (index < 0 || index >= dataset.size) {
      return absl::InvalidArgumentError(absl::StrCat("indices: ", index, " is outside [0, ",
                                                     dataset.size, ") of ", dataset.name));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSgdOptions(const SgdOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size: must be positive, got ", options.batch_size));
  }
  if (!(options.learning_rate > 0) || !std::isfinite(options.learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("learning_rate: must be positive and finite, got ", options.learning_rate));
  }
  if (options.momentum < 0 || options.momentum >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("momentum: must be in [0, 1), got ", options.momentum));
  }
  if (options.weight_decay < 0 || !std::isfinite(options.weight_decay)) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight_decay: must be >= 0, got ", options.weight_decay));
  }
  return absl::OkStatus();
}

// A reusable host buffer for one batch, handed to LibTorch without a copy on the CPU.
class BatchBuffer {
 public:
  BatchBuffer(const common::ImageDataset& dataset, int64_t capacity)
      : dataset_(dataset),
        images_(capacity * dataset.ImageElements()),
        labels_(capacity) {}

  // Fills the buffer with `indices` and returns (images, labels) on `device`. The CPU
  // tensors alias the buffer: they are valid until the next Load.
  absl::StatusOr<std::pair<at::Tensor, at::Tensor>> Load(absl::Span<const int64_t> indices,
                                                         const common::BatchOptions& options,
                                                         std::mt19937_64* rng,
                                                         c10::Device device) {
    const int64_t n = static_cast<int64_t>(indices.size());
    NETADAPT_RETURN_IF_ERROR(common::FillBatch(
        dataset_, indices, options, rng,
        absl::MakeSpan(images_.data(), n * dataset_.ImageElements()),
        absl::MakeSpan(labels_.data(), n)));
    at::Tensor images = at::from_blob(images_.data(),
                                      {n, dataset_.channels, dataset_.height, dataset_.width},
                                      at::TensorOptions(c10::kFloat));
    at::Tensor labels = at::from_blob(labels_.data(), {n}, at::TensorOptions(c10::kLong));
    if (!device.is_cpu()) {
      images = images.to(device);
      labels = labels.to(device);
    }
    return std::make_pair(images, labels);
  }

 private:
  const common::ImageDataset& dataset_;
  std::vector<float> images_;
  std::vector<int64_t> labels_;
};

// Which images each training step reads: the step's slice of its epoch's order
// (common::EpochOrder), the last incomplete batch of an epoch dropped.
class EpochPlan {
 public:
  EpochPlan(absl::Span<const int64_t> indices, int64_t batch, uint64_t seed)
      : indices_(indices), batch_(batch), seed_(seed) {}

  int64_t batches_per_epoch() const { return static_cast<int64_t>(indices_.size()) / batch_; }
  int64_t EpochOf(int64_t step) const { return step / batches_per_epoch(); }

  // Valid until the next call with a step of another epoch.
  absl::Span<const int64_t> Step(int64_t step) {
    const int64_t epoch = EpochOf(step);
    if (epoch != order_epoch_) {
      order_ = common::EpochOrder(indices_, seed_, epoch);
      order_epoch_ = epoch;
    }
    const int64_t first = (step % batches_per_epoch()) * batch_;
    return absl::MakeConstSpan(order_).subspan(first, batch_);
  }

 private:
  absl::Span<const int64_t> indices_;
  int64_t batch_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  int64_t order_epoch_ = -1;
};

// One batch on the model's device.
struct DeviceBatch {
  at::Tensor images;
  at::Tensor labels;
  int64_t size = 0;
  int64_t skipped = 0;  // Labels that are common::kSkippedLabel.
};

// Where the training and evaluation loops get their batches: batch 0, 1, ... in turn. The
// tensors of a batch are valid until the next call.
class BatchFeed {
 public:
  virtual ~BatchFeed() = default;
  virtual absl::StatusOr<DeviceBatch> Next() = 0;
};

// Training batches of an in-memory dataset, filled on the calling thread by FillBatch with
// one augmentation generator for the run.
class MemoryTrainFeed final : public BatchFeed {
 public:
  MemoryTrainFeed(const common::ImageDataset& dataset, absl::Span<const int64_t> indices,
                  int64_t batch, const SgdOptions& options, c10::Device device)
      : plan_(indices, batch, options.seed),
        buffer_(dataset, batch),
        options_(options.batch),
        augment_rng_(common::DeriveSeed(options.seed, 1)),
        device_(device) {}

  absl::StatusOr<DeviceBatch> Next() override {
    const absl::Span<const int64_t> step_indices = plan_.Step(step_++);
    NETADAPT_ASSIGN_OR_RETURN(
        auto tensors,
        buffer_.Load(step_indices, options_, options_.augments() ? &augment_rng_ : nullptr,
                     device_));
    return DeviceBatch{tensors.first, tensors.second,
                       static_cast<int64_t>(step_indices.size()), 0};
  }

 private:
  EpochPlan plan_;
  BatchBuffer buffer_;
  const common::BatchOptions& options_;
  std::mt19937_64 augment_rng_;
  c10::Device device_;
  int64_t step_ = 0;
};

// Evaluation batches of an in-memory dataset: `indices` in order, in chunks of `batch`.
class MemoryEvalFeed final : public BatchFeed {
 public:
  MemoryEvalFeed(const common::ImageDataset& dataset, absl::Span<const int64_t> indices,
                 int64_t batch, const EvalOptions& options, c10::Device device)
      : indices_(indices), batch_(batch), buffer_(dataset, batch), device_(device) {
    options_.mean = options.mean;
    options_.std = options.std;
  }

  absl::StatusOr<DeviceBatch> Next() override {
    const auto chunk = indices_.subspan(first_, batch_);
    first_ += chunk.size();
    NETADAPT_ASSIGN_OR_RETURN(auto tensors, buffer_.Load(chunk, options_, nullptr, device_));
    return DeviceBatch{tensors.first, tensors.second, static_cast<int64_t>(chunk.size()), 0};
  }

 private:
  absl::Span<const int64_t> indices_;
  int64_t batch_;
  size_t first_ = 0;
  BatchBuffer buffer_;
  common::BatchOptions options_;
  c10::Device device_;
};

// Batches of an ImageSource, loaded ahead on a pool of threads (common::BatchPrefetcher).
class PrefetchFeed final : public BatchFeed {
 public:
  PrefetchFeed(const common::ImageSource& source, int64_t num_batches,
               common::BatchPrefetcher::Plan plan, const common::PrefetchOptions& loader,
               c10::Device device)
      : source_(source), prefetcher_(source, num_batches, std::move(plan), loader),
        device_(device) {}

  absl::StatusOr<DeviceBatch> Next() override {
    NETADAPT_ASSIGN_OR_RETURN(common::PrefetchedBatch batch, prefetcher_.Next());
    const int64_t n = static_cast<int64_t>(batch.labels.size());
    // The tensors alias the prefetcher's slot, which stays untouched until the next Next.
    at::Tensor images = at::from_blob(const_cast<float*>(batch.images.data()),
                                      {n, source_.channels(), source_.height(), source_.width()},
                                      at::TensorOptions(c10::kFloat));
    at::Tensor labels = at::from_blob(const_cast<int64_t*>(batch.labels.data()), {n},
                                      at::TensorOptions(c10::kLong));
    if (!device_.is_cpu()) {
      images = images.to(device_);
      labels = labels.to(device_);
    }
    return DeviceBatch{images, labels, n, batch.skipped};
  }

 private:
  const common::ImageSource& source_;
  common::BatchPrefetcher prefetcher_;
  c10::Device device_;
};

// A stream of DeriveSeed(options.seed, .) for the augmentation of ImageSource batches (1 is
// the in-memory augmentation generator, 2 dropout).
constexpr uint64_t kSourceAugmentStream = 3;

// torch.optim.SGD(params, lr, momentum, weight_decay) with dampening 0, in place.
class Sgd {
 public:
  Sgd(internal::ModelState& model, const SgdOptions& options) : options_(options) {
    for (auto& [name, tensor] : model.tensors) {
      if (tensor.requires_grad()) params_.push_back(tensor);
    }
    momentum_.resize(params_.size());
  }

  // Zeroes gradients in place (torch 1.13's zero_grad default): dropping them instead would
  // make every backward allocate them afresh, which for large layers means page faults.
  void ZeroGrad() {
    for (at::Tensor& p : params_) {
      if (p.grad().defined()) p.mutable_grad().zero_();
    }
  }

  // The update in place, without temporaries: for AlexNet's 57 M parameters a temporary
  // d_p = grad + wd * p is 230 MB of fresh memory per step. The sums are those of
  // torch.optim.SGD, in a different order (equal up to rounding).
  void Step(double learning_rate) {
    c10::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) {
      at::Tensor& p = params_[i];
      if (!p.grad().defined()) continue;
      const at::Tensor& grad = p.grad();
      if (options_.momentum == 0) {
        if (options_.weight_decay != 0) p.mul_(1.0 - learning_rate * options_.weight_decay);
        p.add_(grad, -learning_rate);
        continue;
      }
      at::Tensor& buf = momentum_[i];
      if (!buf.defined()) {
        buf = grad.clone();  // the first step: buf = d_p
      } else {
        buf.mul_(options_.momentum).add_(grad);
      }
      if (options_.weight_decay != 0) buf.add_(p, options_.weight_decay);
      p.add_(buf, -learning_rate);
    }
  }

 private:
  const SgdOptions& options_;
  std::vector<at::Tensor> params_;
  std::vector<at::Tensor> momentum_;
};

// The shared training loop: `steps` steps on the feed's batches, the learning rate of each
// from `rate(step, epoch)`.
absl::StatusOr<TrainSummary> Train(Model& model, BatchFeed& feed, int64_t steps,
                                   int64_t batches_per_epoch, const SgdOptions& options,
                                   const std::function<double(int64_t, int64_t)>& rate) {
  internal::ModelState& state = model.state();
  at::Generator dropout = at::make_generator<at::CPUGeneratorImpl>(
      common::DeriveSeed(options.seed, 2));
  Sgd sgd(state, options);

  TrainSummary summary;
  const Clock::time_point start = Clock::now();
  Clock::time_point window_start = start;
  double window_loss = 0;
  int64_t window_steps = 0;
  int64_t window_examples = 0;
  for (int64_t step = 0; step < steps; ++step) {
    if (options.cancelled && options.cancelled()) {
      return absl::CancelledError(absl::StrCat("training cancelled after ", step, " of ", steps,
                                               " steps"));
    }
    const int64_t epoch = step / batches_per_epoch;
    NETADAPT_ASSIGN_OR_RETURN(DeviceBatch batch_tensors, feed.Next());
    const double learning_rate = rate(step, epoch);
    summary.skipped += batch_tensors.skipped;
    const int64_t examples = batch_tensors.size - batch_tensors.skipped;

    // A batch of skipped images only would give a NaN loss (a mean over nothing): no update.
    if (examples > 0) {
      sgd.ZeroGrad();
      const at::Tensor logits =
          internal::Forward(state, batch_tensors.images, /*training=*/true, &dropout);
      // Skipped images carry kSkippedLabel, cross_entropy's default ignore_index.
      at::Tensor loss = at::cross_entropy_loss(logits, batch_tensors.labels);
      loss.backward();
      sgd.Step(learning_rate);

      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "training diverged: loss is ", loss_value, " at step ", step + 1,
            " (learning_rate ", learning_rate, "); lower the learning rate"));
      }
      window_loss += loss_value;
      ++window_steps;
      window_examples += examples;
    }
    summary.steps = step + 1;
    summary.examples += examples;
    const bool last = step + 1 == steps;
    const bool report = options.progress_every > 0 &&
                        ((step + 1) % options.progress_every == 0 || last);
    if (report || last) {
      const double window_seconds = SecondsSince(window_start);
      summary.final_loss = window_steps > 0 ? window_loss / window_steps : 0;
      if (report && options.on_progress) {
        TrainProgress progress;
        progress.step = step + 1;
        progress.total_steps = steps;
        progress.epoch = epoch;
        progress.loss = summary.final_loss;
        progress.learning_rate = learning_rate;
        progress.examples_per_second =
            window_seconds > 0 ? window_examples / window_seconds : 0;
        options.on_progress(progress);
      }
      window_start = Clock::now();
      window_loss = 0;
      window_steps = 0;
      window_examples = 0;
    }
  }
  summary.seconds = SecondsSince(start);
  summary.examples_per_second = summary.seconds > 0 ? summary.examples / summary.seconds : 0;
  return summary;
}

// Checks shared by both kinds of data; the batch size of the run.
absl::StatusOr<int64_t> CheckTraining(const Model& model, const DataShape& shape,
                                      absl::Span<const int64_t> indices, int64_t steps,
                                      const SgdOptions& options) {
  NETADAPT_RETURN_IF_ERROR(CheckSgdOptions(options));
  NETADAPT_RETURN_IF_ERROR(CheckDatasetFits(model, shape, indices));
  if (steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat("steps: must be >= 0, got ", steps));
  }
  return std::min<int64_t>(options.batch_size, indices.size());
}

absl::StatusOr<TrainSummary> TrainOn(Model& model, const common::ImageDataset& dataset,
                                     absl::Span<const int64_t> indices, int64_t steps,
                                     const SgdOptions& options,
                                     const std::function<double(int64_t, int64_t)>& rate) {
  NETADAPT_ASSIGN_OR_RETURN(const int64_t batch,
                            CheckTraining(model, ShapeOf(dataset), indices, steps, options));
  SetIntraOpThreads(options.intra_op_threads);
  MemoryTrainFeed feed(dataset, indices, batch, options, model.state().device);
  return Train(model, feed, steps, static_cast<int64_t>(indices.size()) / batch, options, rate);
}

absl::StatusOr<TrainSummary> TrainOn(Model& model, const common::ImageSource& source,
                                     absl::Span<const int64_t> indices, int64_t steps,
                                     const SgdOptions& options,
                                     const std::function<double(int64_t, int64_t)>& rate) {
  NETADAPT_ASSIGN_OR_RETURN(const int64_t batch,
                            CheckTraining(model, ShapeOf(source), indices, steps, options));
  SetIntraOpThreads(options.intra_op_threads);
  const uint64_t augment_seed = common::DeriveSeed(options.seed, kSourceAugmentStream);
  // The plan runs on the loader threads, one call at a time, in step order.
  auto plan = [epochs = EpochPlan(indices, batch, options.seed),
               augment_seed](int64_t step) mutable {
    const absl::Span<const int64_t> step_indices = epochs.Step(step);
    return common::BatchRequest{
        std::vector<int64_t>(step_indices.begin(), step_indices.end()), /*augment=*/true,
        common::DeriveSeed(augment_seed, static_cast<uint64_t>(step))};
  };
  PrefetchFeed feed(source, steps, std::move(plan), options.loader, model.state().device);
  return Train(model, feed, steps, static_cast<int64_t>(indices.size()) / batch, options, rate);
}

// The learning rate of `step` under `schedule`, from `base`, over `steps` steps.
double ScheduledRate(const LearningRateSchedule& schedule, double base, int64_t steps,
                     int64_t step, int64_t epoch) {
  switch (schedule.kind) {
    case LearningRateSchedule::Kind::kConstant:
      return base;
    case LearningRateSchedule::Kind::kCosine:
      return 0.5 * base * (1 + std::cos(M_PI * static_cast<double>(step) / steps));
    case LearningRateSchedule::Kind::kStep: {
      double lr = base;
      for (int64_t milestone : schedule.milestones) {
        if (epoch >= milestone) lr *= schedule.gamma;
      }
      return lr;
    }
  }
  return base;
}

// Pre-training on either kind of data: `epochs` passes with the schedule.
template <typename Data>
absl::StatusOr<TrainSummary> PretrainOn(Model& model, const Data& data,
                                        absl::Span<const int64_t> indices, int64_t epochs,
                                        const LearningRateSchedule& schedule,
                                        const SgdOptions& options) {
  if (epochs < 0) {
    return absl::InvalidArgumentError(absl::StrCat("epochs: must be >= 0, got ", epochs));
  }
  if (options.batch_size <= 0 || indices.empty()) {
    // Let the checks name the problem.
    return TrainOn(model, data, indices, 0, options, nullptr);
  }
  const int64_t batch = std::min<int64_t>(options.batch_size, indices.size());
  const int64_t steps = epochs * (static_cast<int64_t>(indices.size()) / batch);
  const double base = options.learning_rate;
  auto rate = [&](int64_t step, int64_t epoch) {
    return ScheduledRate(schedule, base, steps, step, epoch);
  };
  return TrainOn(model, data, indices, steps, options, rate);
}

// Top-1 accuracy and loss over `num_batches` batches of the feed.
absl::StatusOr<EvalResult> EvaluateFeed(const Model& model, BatchFeed& feed,
                                        int64_t num_batches) {
  const internal::ModelState& state = model.state();
  c10::NoGradGuard no_grad;
  EvalResult result;
  double loss_sum = 0;
  const Clock::time_point start = Clock::now();
  for (int64_t b = 0; b < num_batches; ++b) {
    NETADAPT_ASSIGN_OR_RETURN(DeviceBatch tensors, feed.Next());
    result.skipped += tensors.skipped;
    if (tensors.skipped == tensors.size) continue;
    const at::Tensor logits = internal::Forward(state, tensors.images, /*training=*/false);
    // Skipped images (kSkippedLabel, the ignore_index) add nothing to the sum, and their
    // label never equals an argmax.
    loss_sum += at::cross_entropy_loss(logits, tensors.labels, {}, at::Reduction::Sum)
                    .item<double>();
    result.correct += logits.argmax(1).eq(tensors.labels).sum().item<int64_t>();
    result.total += tensors.size - tensors.skipped;
  }
  result.seconds = SecondsSince(start);
  if (result.total > 0) {
    result.accuracy = static_cast<double>(result.correct) / result.total;
    result.loss = loss_sum / result.total;
  }
  result.examples_per_second = result.seconds > 0 ? result.total / result.seconds : 0;
  return result;
}

}  // namespace

absl::StatusOr<TrainSummary> FineTune(Model& model, const common::ImageDataset& dataset,
                                      absl::Span<const int64_t> indices, int64_t steps,
                                      const SgdOptions& options) {
  return TrainOn(model, dataset, indices, steps, options,
                 [&](int64_t, int64_t) { return options.learning_rate; });
}

absl::StatusOr<TrainSummary> FineTune(Model& model, const common::ImageSource& source,
                                      absl::Span<const int64_t> indices, int64_t steps,
                                      const SgdOptions& options) {
  return TrainOn(model, source, indices, steps, options,
                 [&](int64_t, int64_t) { return options.learning_rate; });
}

absl::StatusOr<TrainSummary> Pretrain(Model& model, const common::ImageDataset& dataset,
                                      absl::Span<const int64_t> indices, int64_t epochs,
                                      const LearningRateSchedule& schedule,
                                      const SgdOptions& options) {
  return PretrainOn(model, dataset, indices, epochs, schedule, options);
}

absl::StatusOr<TrainSummary> Pretrain(Model& model, const common::ImageSource& source,
                                      absl::Span<const int64_t> indices, int64_t epochs,
                                      const LearningRateSchedule& schedule,
                                      const SgdOptions& options) {
  return PretrainOn(model, source, indices, epochs, schedule, options);
}

absl::StatusOr<EvalResult> Evaluate(const Model& model, const common::ImageDataset& dataset,
                                    absl::Span<const int64_t> indices,
                                    const EvalOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size: must be positive, got ", options.batch_size));
  }
  NETADAPT_RETURN_IF_ERROR(CheckDatasetFits(model, ShapeOf(dataset), indices));
  SetIntraOpThreads(options.intra_op_threads);
  const int64_t batch = std::min<int64_t>(options.batch_size, indices.size());
  MemoryEvalFeed feed(dataset, indices, batch, options, model.state().device);
  const int64_t batches = (static_cast<int64_t>(indices.size()) + batch - 1) / batch;
  return EvaluateFeed(model, feed, batches);
}

absl::StatusOr<EvalResult> Evaluate(const Model& model, const common::ImageSource& source,
                                    absl::Span<const int64_t> indices,
                                    const EvalOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size: must be positive, got ", options.batch_size));
  }
  NETADAPT_RETURN_IF_ERROR(CheckDatasetFits(model, ShapeOf(source), indices));
  SetIntraOpThreads(options.intra_op_threads);
  const int64_t batch = std::min<int64_t>(options.batch_size, indices.size());
  const int64_t batches = (static_cast<int64_t>(indices.size()) + batch - 1) / batch;
  auto plan = [indices, batch](int64_t b) {
    const auto chunk = indices.subspan(static_cast<size_t>(b * batch), batch);
    return common::BatchRequest{std::vector<int64_t>(chunk.begin(), chunk.end()),
                                /*augment=*/false, 0};
  };
  PrefetchFeed feed(source, batches, std::move(plan), options.loader, model.state().device);
  NETADAPT_ASSIGN_OR_RETURN(EvalResult result, EvaluateFeed(model, feed, batches));
  if (result.total == 0) {
    return absl::InvalidArgumentError(absl::StrCat("evaluating ", source.name(), ": all ",
                                                   result.skipped,
                                                   " images were skipped as unreadable"));
  }
  return result;
}

std::vector<int64_t> AllIndices(const common::ImageDataset& dataset) {
  std::vector<int64_t> indices(dataset.size());
  for (int64_t i = 0; i < dataset.size(); ++i) indices[i] = i;
  return indices;
}

}  // namespace netadapt::engine
