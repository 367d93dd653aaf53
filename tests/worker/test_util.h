#pragma once

#include <string>

#include "common/network_def.h"
#include "netadapt/v1/worker_service.pb.h"

namespace netadapt::worker::testing {

// 1x16x16 images of 4 classes: a few dozen steps of SmallCnn learn something.
inline constexpr char kDataset[] = "synthetic:classes=4,shape=1x16x16,train=384,test=128";

// Two prunable convs (16 and 32 filters) and a linear classifier: trains in
// well under a second per few dozen steps on one core.
inline common::NetworkDef SmallCnn() {
  using common::Layer;
  common::NetworkDef def;
  def.name = "small_cnn";
  def.input = {1, 16, 16};
  def.layers = {Layer::Conv2d("features.0", 1, 16, {3, 3}, {1, 1}, {1, 1}),
                Layer::Relu("features.1"),
                Layer::MaxPool2d("features.2", {2, 2}, {2, 2}),
                Layer::Conv2d("features.3", 16, 32, {3, 3}, {1, 1}, {1, 1}),
                Layer::Relu("features.4"),
                Layer::MaxPool2d("features.5", {2, 2}, {2, 2}),
                Layer::Flatten("flatten"),
                Layer::Linear("classifier", 32 * 4 * 4, 4)};
  return def;
}

inline v1::TaskHeader Header(int block = 0) {
  v1::TaskHeader header;
  header.set_job("jobs/1");
  header.set_iteration(1);
  header.set_block(block);
  header.set_attempt_id("attempt-1");
  header.set_seed(7);
  header.set_job_seed(42);
  return header;
}

inline v1::FineTuneTask FineTuneTask(const std::string& model_digest, int64_t steps) {
  v1::FineTuneTask task;
  *task.mutable_header() = Header();
  task.set_model_digest(model_digest);
  task.set_dataset(kDataset);
  task.set_holdout_size(64);
  task.set_steps(steps);
  task.set_learning_rate(0.05);
  task.set_momentum(0.9);
  task.set_weight_decay(1e-4);
  task.set_batch_size(32);
  return task;
}

}  // namespace netadapt::worker::testing
