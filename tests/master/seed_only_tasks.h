#pragma once
// A TaskRunner for tests about what the master does around the seed (its LUT look-ups, its
// measured table): the seed is prepared (Pretrain gives a digest, Evaluate an accuracy of
// 0.9) and every proposal's task fails at once.

#include <string>

#include "absl/status/status.h"
#include "master/task_runner.h"

namespace netadapt::master::testing {

class SeedOnlyTasks final : public TaskRunner {
 public:
  absl::StatusOr<v1::TaskResult> Simplify(const WorkerSlot&, const v1::SimplifyTask&,
                                          const Progress&, Cancellation&) override {
    return absl::FailedPreconditionError("not in this test");
  }
  absl::StatusOr<v1::TaskResult> FineTune(const WorkerSlot&, const v1::FineTuneTask&,
                                          const Progress&, Cancellation&) override {
    return absl::FailedPreconditionError("not in this test");
  }
  absl::StatusOr<v1::TaskResult> Evaluate(const WorkerSlot&, const v1::EvaluateTask&,
                                          const Progress&, Cancellation&) override {
    v1::TaskResult result;
    result.set_accuracy(0.9);
    return result;
  }
  absl::StatusOr<v1::TaskResult> Pretrain(const WorkerSlot&, const v1::PretrainTask&,
                                          const Progress&, Cancellation&) override {
    v1::TaskResult result;
    result.set_model_digest(std::string(64, 'a'));
    return result;
  }
};

}  // namespace netadapt::master::testing
