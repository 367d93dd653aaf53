#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/channel.h"
#include "master/task_runner.h"
#include "netadapt/v1/worker_service.grpc.pb.h"

namespace netadapt::master {

// TaskRunner over WorkerService: one stub per worker address, made on first use and reused;
// every call has a deadline of `task_timeout`. Progress updates go to `progress` as they come;
// the call's result is its last TaskUpdate.result. Errors: the worker's status, its message
// prefixed with the worker's name and address; Internal when the call ends OK without a
// result; on cancellation Cancelled, or the cancellation's failure when it was aborted.
// Thread-safe.
class GrpcTaskRunner final : public TaskRunner {
 public:
  // Makes the stub that reaches the worker at `address` (host:port).
  using StubFactory = std::function<std::unique_ptr<v1::WorkerService::StubInterface>(
      const std::string& address)>;

  // Stubs over rpc::MakeChannel(address, channel_options) (the master's token and TLS).
  explicit GrpcTaskRunner(absl::Duration task_timeout, rpc::ChannelOptions channel_options = {});
  // Stubs from `stubs` (tests pass fakes).
  GrpcTaskRunner(absl::Duration task_timeout, StubFactory stubs);

  absl::StatusOr<v1::TaskResult> Simplify(const WorkerSlot& slot, const v1::SimplifyTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;
  absl::StatusOr<v1::TaskResult> FineTune(const WorkerSlot& slot, const v1::FineTuneTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;
  absl::StatusOr<v1::TaskResult> Evaluate(const WorkerSlot& slot, const v1::EvaluateTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;
  absl::StatusOr<v1::TaskResult> Pretrain(const WorkerSlot& slot, const v1::PretrainTask& task,
                                          const Progress& progress,
                                          Cancellation& cancellation) override;

 private:
  v1::WorkerService::StubInterface& StubFor(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);
  template <typename Request, typename Call>
  absl::StatusOr<v1::TaskResult> Run(const WorkerSlot& slot, const Request& request,
                                     const Progress& progress, Cancellation& cancellation,
                                     Call call);

  const absl::Duration task_timeout_;
  const StubFactory make_stub_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::WorkerService::StubInterface>> stubs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace netadapt::master
