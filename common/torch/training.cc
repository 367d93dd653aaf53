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

absl::Status CheckDatasetFits(const Model& model, const common::ImageDataset& dataset,
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
    if (index < 0 || index >= dataset.size()) {
      return absl::InvalidArgumentError(absl::StrCat("indices: ", index, " is outside [0, ",
                                                     dataset.size(), ") of ", dataset.name));
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

// The shared training loop: `steps` steps, the learning rate of each from `rate(step, epoch)`.
absl::StatusOr<TrainSummary> Train(Model& model, const common::ImageDataset& dataset,
                                   absl::Span<const int64_t> indices, int64_t steps,
                                   const SgdOptions& options,
                                   const std::function<double(int64_t, int64_t)>& rate) {
  NETADAPT_RETURN_IF_ERROR(CheckSgdOptions(options));
  NETADAPT_RETURN_IF_ERROR(CheckDatasetFits(model, dataset, indices));
  if (steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat("steps: must be >= 0, got ", steps));
  }
  SetIntraOpThreads(options.intra_op_threads);
  internal::ModelState& state = model.state();
  const int64_t batch = std::min<int64_t>(options.batch_size, indices.size());
  const int64_t batches_per_epoch = static_cast<int64_t>(indices.size()) / batch;

  std::mt19937_64 augment_rng(common::DeriveSeed(options.seed, 1));
  at::Generator dropout = at::make_generator<at::CPUGeneratorImpl>(
      common::DeriveSeed(options.seed, 2));
  BatchBuffer buffer(dataset, batch);
  Sgd sgd(state, options);

  TrainSummary summary;
  const Clock::time_point start = Clock::now();
  Clock::time_point window_start = start;
  double window_loss = 0;
  int64_t window_steps = 0;
  std::vector<int64_t> order;
  int64_t order_epoch = -1;
  for (int64_t step = 0; step < steps; ++step) {
    if (options.cancelled && options.cancelled()) {
      return absl::CancelledError(absl::StrCat("training cancelled after ", step, " of ", steps,
                                               " steps"));
    }
    const int64_t epoch = step / batches_per_epoch;
    if (epoch != order_epoch) {
      order = common::EpochOrder(indices, options.seed, epoch);
      order_epoch = epoch;
    }
    const int64_t first = (step % batches_per_epoch) * batch;
    NETADAPT_ASSIGN_OR_RETURN(
        auto batch_tensors,
        buffer.Load(absl::MakeConstSpan(order).subspan(first, batch), options.batch,
                    options.batch.augments() ? &augment_rng : nullptr, state.device));
    const double learning_rate = rate(step, epoch);

    sgd.ZeroGrad();
    const at::Tensor logits =
        internal::Forward(state, batch_tensors.first, /*training=*/true, &dropout);
    at::Tensor loss = at::cross_entropy_loss(logits, batch_tensors.second);
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
    summary.steps = step + 1;
    summary.examples += batch;
    const bool last = step + 1 == steps;
    const bool report = options.progress_every > 0 &&
                        ((step + 1) % options.progress_every == 0 || last);
    if (report || last) {
      const double window_seconds = SecondsSince(window_start);
      summary.final_loss = window_loss / window_steps;
      if (report && options.on_progress) {
        TrainProgress progress;
        progress.step = step + 1;
        progress.total_steps = steps;
        progress.epoch = epoch;
        progress.loss = summary.final_loss;
        progress.learning_rate = learning_rate;
        progress.examples_per_second =
            window_seconds > 0 ? window_steps * batch / window_seconds : 0;
        options.on_progress(progress);
      }
      window_start = Clock::now();
      window_loss = 0;
      window_steps = 0;
    }
  }
  summary.seconds = SecondsSince(start);
  summary.examples_per_second = summary.seconds > 0 ? summary.examples / summary.seconds : 0;
  return summary;
}

}  // namespace

absl::StatusOr<TrainSummary> FineTune(Model& model, const common::ImageDataset& dataset,
                                      absl::Span<const int64_t> indices, int64_t steps,
                                      const SgdOptions& options) {
  return Train(model, dataset, indices, steps, options,
               [&](int64_t, int64_t) { return options.learning_rate; });
}

absl::StatusOr<TrainSummary> Pretrain(Model& model, const common::ImageDataset& dataset,
                                      absl::Span<const int64_t> indices, int64_t epochs,
                                      const LearningRateSchedule& schedule,
                                      const SgdOptions& options) {
  if (epochs < 0) {
    return absl::InvalidArgumentError(absl::StrCat("epochs: must be >= 0, got ", epochs));
  }
  if (options.batch_size <= 0 || indices.empty()) {
    // Let Train name the problem.
    return Train(model, dataset, indices, 0, options, nullptr);
  }
  const int64_t batch = std::min<int64_t>(options.batch_size, indices.size());
  const int64_t steps = epochs * (static_cast<int64_t>(indices.size()) / batch);
  const double base = options.learning_rate;
  auto rate = [&](int64_t step, int64_t epoch) {
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
  };
  return Train(model, dataset, indices, steps, options, rate);
}

absl::StatusOr<EvalResult> Evaluate(const Model& model, const common::ImageDataset& dataset,
                                    absl::Span<const int64_t> indices,
                                    const EvalOptions& options) {
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size: must be positive, got ", options.batch_size));
  }
  NETADAPT_RETURN_IF_ERROR(CheckDatasetFits(model, dataset, indices));
  SetIntraOpThreads(options.intra_op_threads);
  const internal::ModelState& state = model.state();
  common::BatchOptions batch_options;
  batch_options.mean = options.mean;
  batch_options.std = options.std;
  const int64_t batch = std::min<int64_t>(options.batch_size, indices.size());
  BatchBuffer buffer(dataset, batch);

  c10::NoGradGuard no_grad;
  EvalResult result;
  double loss_sum = 0;
  const Clock::time_point start = Clock::now();
  for (size_t first = 0; first < indices.size(); first += batch) {
    const auto chunk = indices.subspan(first, batch);
    NETADAPT_ASSIGN_OR_RETURN(auto tensors,
                              buffer.Load(chunk, batch_options, nullptr, state.device));
    const at::Tensor logits = internal::Forward(state, tensors.first, /*training=*/false);
    loss_sum += at::cross_entropy_loss(logits, tensors.second, {}, at::Reduction::Sum)
                    .item<double>();
    result.correct += logits.argmax(1).eq(tensors.second).sum().item<int64_t>();
    result.total += static_cast<int64_t>(chunk.size());
  }
  result.seconds = SecondsSince(start);
  result.accuracy = static_cast<double>(result.correct) / result.total;
  result.loss = loss_sum / result.total;
  result.examples_per_second = result.seconds > 0 ? result.total / result.seconds : 0;
  return result;
}

std::vector<int64_t> AllIndices(const common::ImageDataset& dataset) {
  std::vector<int64_t> indices(dataset.size());
  for (int64_t i = 0; i < dataset.size(); ++i) indices[i] = i;
  return indices;
}

}  // namespace netadapt::engine
