#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/latency_stats.h"

namespace netadapt::testing {

// A runner whose "timings" come from a function of the run index: the fake timer of the
// measurement tests. `on_run` (optional) is called before every run, e.g. to cancel.
class FakeRunner final : public common::TimedRunner {
 public:
  explicit FakeRunner(std::function<double(int)> duration_ms,
                      std::function<void(int)> on_run = {})
      : duration_ms_(std::move(duration_ms)), on_run_(std::move(on_run)) {}

  absl::StatusOr<double> RunOnceMs() override {
    if (on_run_) on_run_(runs_);
    return duration_ms_(runs_++);
  }
  int runs() const { return runs_; }

 private:
  std::function<double(int)> duration_ms_;
  std::function<void(int)> on_run_;
  int runs_ = 0;
};

// Builds FakeRunners whose latency is a function of the shape (MACs / 1e6 ms by default, with
// a little deterministic noise). Records the shapes it was asked for. Thread-safe.
class FakeRunnerFactory final : public common::RunnerFactory {
 public:
  std::function<double(const common::LayerShape&, int)> latency = [](const common::LayerShape& s,
                                                                       int run) {
    return static_cast<double>(s.Macs()) / 1e6 + 0.001 * (run % 3);
  };
  // Called before every run of every runner, with the index of the shape's ForLayer call.
  std::function<void(int built, int run)> on_run;

  absl::StatusOr<std::unique_ptr<common::TimedRunner>> ForLayer(
      const common::LayerShape& shape) override {
    int index;
    {
      absl::MutexLock lock(&mu_);
      index = static_cast<int>(built_.size());
      built_.push_back(shape);
    }
    auto latency_fn = latency;
    auto on_run_fn = on_run;
    return std::make_unique<FakeRunner>(
        [latency_fn, shape](int run) { return latency_fn(shape, run); },
        [on_run_fn, index](int run) {
          if (on_run_fn) on_run_fn(index, run);
        });
  }
  absl::StatusOr<std::unique_ptr<common::TimedRunner>> ForNetwork(const common::NetworkDef&,
                                                                  int) override {
    return std::make_unique<FakeRunner>([](int) { return 2.0; });
  }
  std::string device() const override { return "cpu"; }
  std::vector<std::pair<std::string, std::string>> RuntimeVersions() const override {
    return {{"fake", "1"}};
  }
  std::string AcceleratorName() const override { return ""; }
  int Threads() const override { return 1; }

  std::vector<common::LayerShape> built() {
    absl::MutexLock lock(&mu_);
    return built_;
  }

 private:
  absl::Mutex mu_;
  std::vector<common::LayerShape> built_;
};

}  // namespace netadapt::testing
