// WorkerService over a real gRPC server, in-process and over 127.0.0.1 TCP
// (STYLE.md section 8), with an in-memory master: streamed progress, results,
// errors and cancellation.
#include "worker/worker_service.h"

#include <gmock/gmock.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/rpc/channel.h"
#include "common/rpc/server.h"
#include "common/torch/checkpoint.h"
#include "common/torch/model.h"
#include "tests/testing/status_matchers.h"
#include "tests/worker/fake_master.h"
#include "tests/worker/test_util.h"

namespace netadapt::worker {
namespace {

using ::netadapt::testing::IsOk;
using testing::FakeMasterConnection;
using testing::Header;
using testing::SmallCnn;

// What one task call streamed.
struct Call {
  std::vector<v1::TaskProgress> progress;
  std::optional<v1::TaskResult> result;
  grpc::Status status;
  int updates_after_result = 0;
};

template <typename Task>
using Invoke = std::unique_ptr<grpc::ClientReader<v1::TaskUpdate>> (v1::WorkerService::Stub::*)(
    grpc::ClientContext*, const Task&);

class WorkerServiceTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    TaskExecutorOptions options;
    options.devices = {"cpu"};
    options.intra_op_threads = 1;
    options.progress_every = 2;
    executor_ = std::make_unique<TaskExecutor>(&master_, options);
    service_ = std::make_unique<WorkerServiceImpl>(executor_.get(), options.devices);
    rpc::ServerOptions server_options;
    server_options.address = "127.0.0.1:0";
    NETADAPT_ASSERT_OK_AND_ASSIGN(server_, rpc::RpcServer::Start(server_options, {service_.get()}));
    const bool tcp = GetParam();
    stub_ = v1::WorkerService::NewStub(
        tcp ? rpc::MakeChannel(absl::StrCat("127.0.0.1:", server_->port()))
            : server_->InProcessChannel());

    auto model = engine::Model::Create(SmallCnn(), {.device = "cpu", .seed = 1});
    ASSERT_THAT(model, IsOk());
    auto bytes = engine::SerializeCheckpoint(*model);
    ASSERT_THAT(bytes, IsOk());
    seed_digest_ = master_.Add(*bytes);
  }

  void TearDown() override {
    server_->Shutdown(absl::Seconds(1));
    service_->Shutdown();
  }

  // Reads a whole call; `on_progress` may cancel it.
  template <typename Task>
  Call Run(Invoke<Task> method, const Task& task,
           std::function<void(grpc::ClientContext&, const v1::TaskProgress&)> on_progress = {}) {
    Call call;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    std::unique_ptr<grpc::ClientReader<v1::TaskUpdate>> reader = ((*stub_).*method)(&context, task);
    v1::TaskUpdate update;
    while (reader->Read(&update)) {
      if (call.result.has_value()) ++call.updates_after_result;
      if (update.has_progress()) {
        call.progress.push_back(update.progress());
        if (on_progress) on_progress(context, update.progress());
      } else if (update.has_result()) {
        call.result = update.result();
      }
    }
    call.status = reader->Finish();
    return call;
  }

  v1::SimplifyTask Simplify(int block) {
    v1::SimplifyTask task;
    *task.mutable_header() = Header(block);
    task.set_model_digest(seed_digest_);
    task.set_block(block);
    task.set_target_resource(1e5);
    task.set_resource_type(v1::RESOURCE_TYPE_LATENCY);
    task.set_channel_step(4);
    return task;
  }

  FakeMasterConnection master_;
  std::unique_ptr<TaskExecutor> executor_;
  std::unique_ptr<WorkerServiceImpl> service_;
  std::unique_ptr<rpc::RpcServer> server_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::string seed_digest_;
};

TEST_P(WorkerServiceTest, SimplifyStreamsProgressThenTheResult) {
  v1::SimplifyTask task = Simplify(1);
  task.set_target_resource(0.5);  // ms; the synthetic latencies of the seed sum to more
  const Call call = Run(&v1::WorkerService::Stub::Simplify, task);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  ASSERT_TRUE(call.result.has_value());
  EXPECT_EQ(call.updates_after_result, 0);
  EXPECT_FALSE(call.progress.empty());
  EXPECT_GT(call.result->width(), 0);
  EXPECT_LE(call.result->width(), 32);
  EXPECT_EQ(call.result->widths_size(), 3);
  auto model = engine::ParseCheckpoint(master_.Get(call.result->model_digest()), "cpu");
  ASSERT_THAT(model, IsOk());
  EXPECT_EQ(model->def().layers[3].out_channels, call.result->width());
}

TEST_P(WorkerServiceTest, FineTuneStreamsStepsThenTheResult) {
  const Call call =
      Run(&v1::WorkerService::Stub::FineTune, testing::FineTuneTask(seed_digest_, 20));
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  ASSERT_TRUE(call.result.has_value());
  EXPECT_FALSE(master_.Get(call.result->model_digest()).empty());
  EXPECT_EQ(call.result->examples(), 20 * 32);
  int64_t last_step = -1;
  for (const v1::TaskProgress& p : call.progress) {
    EXPECT_GE(p.step(), last_step);  // only newer snapshots are sent
    last_step = p.step();
  }
  EXPECT_GT(last_step, 0);
}

TEST_P(WorkerServiceTest, EvaluateAndErrorsAsStatus) {
  v1::EvaluateTask evaluate;
  *evaluate.mutable_header() = Header();
  evaluate.set_model_digest(seed_digest_);
  evaluate.set_dataset(testing::kDataset);
  evaluate.set_holdout_size(64);
  Call call = Run(&v1::WorkerService::Stub::Evaluate, evaluate);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();
  EXPECT_EQ(call.result->examples(), 64);

  evaluate.set_model_digest(std::string(64, 'b'));
  call = Run(&v1::WorkerService::Stub::Evaluate, evaluate);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(call.status.error_message(), ::testing::HasSubstr("model_digest"));
  EXPECT_FALSE(call.result.has_value());

  v1::SimplifyTask bad_block = Simplify(5);
  call = Run(&v1::WorkerService::Stub::Simplify, bad_block);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::SimplifyTask gpu = Simplify(0);
  gpu.mutable_header()->set_device("cuda:3");
  call = Run(&v1::WorkerService::Stub::Simplify, gpu);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// Epoch fencing: once a task of a restarted master (a larger epoch) arrived, the master it
// replaced is refused, naming both epochs; the current one is still served.
TEST_P(WorkerServiceTest, TasksOfAnOlderMasterEpochAreRefused) {
  v1::EvaluateTask evaluate;
  *evaluate.mutable_header() = Header();
  evaluate.mutable_header()->set_master_epoch(7);
  evaluate.set_model_digest(seed_digest_);
  evaluate.set_dataset(testing::kDataset);
  evaluate.set_holdout_size(64);
  Call call = Run(&v1::WorkerService::Stub::Evaluate, evaluate);
  ASSERT_TRUE(call.status.ok()) << call.status.error_message();

  evaluate.mutable_header()->set_master_epoch(6);
  call = Run(&v1::WorkerService::Stub::Evaluate, evaluate);
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(call.status.error_message(), ::testing::HasSubstr("master epoch 6"));
  EXPECT_THAT(call.status.error_message(), ::testing::HasSubstr("older than epoch 7"));
  EXPECT_FALSE(call.result.has_value());

  evaluate.mutable_header()->set_master_epoch(7);
  call = Run(&v1::WorkerService::Stub::Evaluate, evaluate);
  EXPECT_TRUE(call.status.ok()) << call.status.error_message();
}

TEST_P(WorkerServiceTest, CancellingTheCallStopsTheTaskAndFreesTheDevice) {
  const Call call =
      Run(&v1::WorkerService::Stub::FineTune, testing::FineTuneTask(seed_digest_, 1000000),
          [](grpc::ClientContext& context, const v1::TaskProgress& p) {
            if (p.step() > 0) context.TryCancel();
          });
  EXPECT_EQ(call.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_FALSE(call.result.has_value());
  // The device is free again: the next task runs (it waited in the queue, if at
  // all, only until the cancelled one stopped at its next step).
  const Call next = Run(&v1::WorkerService::Stub::Simplify, Simplify(0));
  EXPECT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_TRUE(next.result.has_value());
}

TEST_P(WorkerServiceTest, ConcurrentTasksQueueOnTheDevice) {
  std::vector<std::thread> threads;
  std::vector<Call> calls(3);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back(
        [&, i] { calls[i] = Run(&v1::WorkerService::Stub::Simplify, Simplify(i % 2)); });
  }
  for (std::thread& t : threads) t.join();
  for (const Call& call : calls) {
    EXPECT_TRUE(call.status.ok()) << call.status.error_message();
    EXPECT_TRUE(call.result.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, WorkerServiceTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Tcp" : "InProcess";
                         });

}  // namespace
}  // namespace netadapt::worker
