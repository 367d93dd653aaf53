// GrpcTaskRunner through a fake WorkerService stub (StubInterface): progress relayed, the
// result returned, one stub per worker address, the worker's errors named, cancellation.
#include "master/grpc_task_runner.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/testing/status_matchers.h"

namespace netadapt::master {
namespace {

using ::netadapt::testing::StatusIs;
using ::testing::ElementsAre;

// What a fake worker answers to every call: these updates, then this status. `on_read` runs
// at each Read (a test cancels the job from there, as if mid-task).
struct Script {
  std::vector<v1::TaskUpdate> updates;
  grpc::Status status;
  std::function<void()> on_read;
};

// Streams a Script's updates.
class ScriptedReader final : public grpc::ClientReaderInterface<v1::TaskUpdate> {
 public:
  explicit ScriptedReader(const Script& script) : script_(script) {}
  bool Read(v1::TaskUpdate* update) override {
    if (script_.on_read) script_.on_read();
    if (next_ >= script_.updates.size()) return false;
    *update = script_.updates[next_++];
    return true;
  }
  grpc::Status Finish() override { return script_.status; }
  bool NextMessageSize(uint32_t* size) override {
    *size = 1 << 20;
    return next_ < script_.updates.size();
  }
  void WaitForInitialMetadata() override {}

 private:
  const Script script_;
  size_t next_ = 0;
};

struct Call {
  std::string address;
  std::string method;
  std::string job;
  absl::Duration deadline_in;  // from the call's start
};

// Records every call (under a lock: the runner is used from many threads) and answers with
// the script.
class CallLog {
 public:
  void Add(Call call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
  }
  std::vector<Call> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

class FakeWorkerStub final : public v1::WorkerService::StubInterface {
 public:
  FakeWorkerStub(std::string address, const Script* script, CallLog* log)
      : address_(std::move(address)), script_(script), log_(log) {}

 private:
  grpc::ClientReaderInterface<v1::TaskUpdate>* Start(const char* method,
                                                     grpc::ClientContext* context,
                                                     const v1::TaskHeader& header) {
    log_->Add({address_, method, header.job(),
               absl::FromChrono(context->deadline()) - absl::Now()});
    return new ScriptedReader(*script_);
  }

  grpc::ClientReaderInterface<v1::TaskUpdate>* SimplifyRaw(
      grpc::ClientContext* context, const v1::SimplifyTask& request) override {
    return Start("Simplify", context, request.header());
  }
  grpc::ClientReaderInterface<v1::TaskUpdate>* FineTuneRaw(
      grpc::ClientContext* context, const v1::FineTuneTask& request) override {
    return Start("FineTune", context, request.header());
  }
  grpc::ClientReaderInterface<v1::TaskUpdate>* EvaluateRaw(
      grpc::ClientContext* context, const v1::EvaluateTask& request) override {
    return Start("Evaluate", context, request.header());
  }
  grpc::ClientReaderInterface<v1::TaskUpdate>* PretrainRaw(
      grpc::ClientContext* context, const v1::PretrainTask& request) override {
    return Start("Pretrain", context, request.header());
  }
  // The runner uses the synchronous API only.
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* AsyncSimplifyRaw(
      grpc::ClientContext*, const v1::SimplifyTask&, grpc::CompletionQueue*, void*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* PrepareAsyncSimplifyRaw(
      grpc::ClientContext*, const v1::SimplifyTask&, grpc::CompletionQueue*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* AsyncFineTuneRaw(
      grpc::ClientContext*, const v1::FineTuneTask&, grpc::CompletionQueue*, void*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* PrepareAsyncFineTuneRaw(
      grpc::ClientContext*, const v1::FineTuneTask&, grpc::CompletionQueue*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* AsyncEvaluateRaw(
      grpc::ClientContext*, const v1::EvaluateTask&, grpc::CompletionQueue*, void*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* PrepareAsyncEvaluateRaw(
      grpc::ClientContext*, const v1::EvaluateTask&, grpc::CompletionQueue*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* AsyncPretrainRaw(
      grpc::ClientContext*, const v1::PretrainTask&, grpc::CompletionQueue*, void*) override {
    return nullptr;
  }
  grpc::ClientAsyncReaderInterface<v1::TaskUpdate>* PrepareAsyncPretrainRaw(
      grpc::ClientContext*, const v1::PretrainTask&, grpc::CompletionQueue*) override {
    return nullptr;
  }

  const std::string address_;
  const Script* const script_;
  CallLog* const log_;
};

v1::TaskUpdate Progress(int64_t step, int64_t total) {
  v1::TaskUpdate update;
  update.mutable_progress()->set_step(step);
  update.mutable_progress()->set_total_steps(total);
  return update;
}

v1::TaskUpdate Result(const std::string& digest) {
  v1::TaskUpdate update;
  update.mutable_result()->set_model_digest(digest);
  return update;
}

class GrpcTaskRunnerTest : public ::testing::Test {
 protected:
  GrpcTaskRunnerTest()
      : runner_(absl::Minutes(10), [this](const std::string& address) {
          made_.push_back(address);
          return std::make_unique<FakeWorkerStub>(address, &script_, &log_);
        }) {}

  static WorkerSlot Slot(const std::string& worker, const std::string& address) {
    return WorkerSlot{worker, address, "cpu", "i1"};
  }
  static v1::SimplifyTask SimplifyTask() {
    v1::SimplifyTask task;
    task.mutable_header()->set_job("jobs/7");
    return task;
  }

  Script script_;
  CallLog log_;
  std::vector<std::string> made_;  // addresses the factory was asked for (under the runner's lock)
  GrpcTaskRunner runner_;
  Cancellation cancellation_;
};

TEST_F(GrpcTaskRunnerTest, RelaysProgressAndReturnsTheResultWithADeadline) {
  script_.updates = {Progress(1, 3), Progress(2, 3), Result("digest-a")};
  std::vector<int64_t> steps;
  absl::StatusOr<v1::TaskResult> result = runner_.Simplify(
      Slot("workers/1", "host:1"), SimplifyTask(),
      [&](const v1::TaskProgress& progress) { steps.push_back(progress.step()); }, cancellation_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->model_digest(), "digest-a");
  EXPECT_THAT(steps, ElementsAre(1, 2));
  const std::vector<Call> calls = log_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].address, "host:1");
  EXPECT_EQ(calls[0].method, "Simplify");
  EXPECT_EQ(calls[0].job, "jobs/7");
  EXPECT_GT(calls[0].deadline_in, absl::Minutes(9));
  EXPECT_LE(calls[0].deadline_in, absl::Minutes(10));
}

TEST_F(GrpcTaskRunnerTest, OneStubPerWorkerAddressAndEachKindItsMethod) {
  script_.updates = {Result("d")};
  const WorkerSlot first = Slot("workers/1", "host:1");
  const WorkerSlot second = Slot("workers/2", "host:2");
  EXPECT_TRUE(runner_.Simplify(first, SimplifyTask(), nullptr, cancellation_).ok());
  EXPECT_TRUE(runner_.FineTune(first, v1::FineTuneTask(), nullptr, cancellation_).ok());
  EXPECT_TRUE(runner_.Evaluate(second, v1::EvaluateTask(), nullptr, cancellation_).ok());
  EXPECT_TRUE(runner_.Pretrain(second, v1::PretrainTask(), nullptr, cancellation_).ok());
  EXPECT_THAT(made_, ElementsAre("host:1", "host:2"));
  std::vector<std::string> methods;
  for (const Call& call : log_.calls()) methods.push_back(call.address + " " + call.method);
  EXPECT_THAT(methods, ElementsAre("host:1 Simplify", "host:1 FineTune", "host:2 Evaluate",
                                   "host:2 Pretrain"));
}

// The worker's status keeps its code (Unavailable is retried elsewhere, other codes fail the
// task) and names the worker.
TEST_F(GrpcTaskRunnerTest, AWorkersErrorKeepsItsCodeAndNamesTheWorker) {
  script_.updates = {Progress(1, 3)};
  script_.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset");
  EXPECT_THAT(runner_.Simplify(Slot("workers/3", "host:3"), SimplifyTask(), nullptr,
                               cancellation_)
                  .status(),
              StatusIs(absl::StatusCode::kUnavailable, "workers/3 (host:3): connection reset"));
  script_.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "");
  EXPECT_THAT(runner_.Simplify(Slot("workers/3", "host:3"), SimplifyTask(), nullptr,
                               cancellation_)
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "workers/3 (host:3): INVALID_ARGUMENT"));
}

TEST_F(GrpcTaskRunnerTest, EndingWithoutAResultIsInternal) {
  script_.updates = {Progress(1, 1)};
  EXPECT_THAT(
      runner_.Evaluate(Slot("workers/1", "host:1"), v1::EvaluateTask(), nullptr, cancellation_)
          .status(),
      StatusIs(absl::StatusCode::kInternal, "workers/1 ended the task without a result"));
}

// Cancelled mid-task: the job's cancellation wins over what the call returned; an abort
// (the worker was declared lost) carries its reason.
TEST_F(GrpcTaskRunnerTest, ACancelledTaskEndsCancelledOrWithTheAbortsReason) {
  script_.updates = {Progress(1, 3), Result("late")};
  script_.on_read = [this] { cancellation_.Cancel(); };
  EXPECT_THAT(
      runner_.FineTune(Slot("workers/1", "host:1"), v1::FineTuneTask(), nullptr, cancellation_)
          .status(),
      StatusIs(absl::StatusCode::kCancelled));

  Cancellation aborted;
  script_.on_read = [&aborted] {
    aborted.Abort(absl::UnavailableError("workers/1 missed its heartbeats"));
  };
  EXPECT_THAT(
      runner_.FineTune(Slot("workers/1", "host:1"), v1::FineTuneTask(), nullptr, aborted)
          .status(),
      StatusIs(absl::StatusCode::kUnavailable, "workers/1 missed its heartbeats"));
}

}  // namespace
}  // namespace netadapt::master
